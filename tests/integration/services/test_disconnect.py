"""Disconnect CRM sync, with and without "Yes, clean up all previously imported CRM data" (SQLite and PostgreSQL).

Two organizations are filled through the store with everything an import and the workspace leave behind; the
purge of one is then checked against every table of the store's metadata, so a table added later must be
classified in :mod:`salesbridge.sync.purge` before this passes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, Table, select
from tests.integration.services.conftest import SANDBOX_TARGETS, RunningSandbox

from salesbridge.domain.people import Company, Person
from salesbridge.domain.seat_matching import MatchOutcome
from salesbridge.errors import DifferentCrmOrganizationError
from salesbridge.services.connecting import connect_crm, create_organization
from salesbridge.services.crm_status import crm_status
from salesbridge.services.crm_users import rematch_seats
from salesbridge.services.disconnect import disconnect_crm, disconnect_preview
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.ports import CrmSessionFactory
from salesbridge.services.preflight import OutcomeKind
from salesbridge.store.imports import RecordRow
from salesbridge.store.tables import Base, ImportState, ListKind, SeatState, StageSource, SyncMode
from salesbridge.store.uow import UnitOfWorkFactory, utc_now
from salesbridge.store.workspace import CrmUserValues
from salesbridge.sync.purge import KEPT_TABLES, PARTLY_PURGED_TABLES, PURGED_TABLES
from salesbridge.web.localized import crm_state, disconnect_lines

LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class Seeded:
    """An organization filled with CRM data and workspace data."""

    slug: str
    id: uuid.UUID
    org_url: str
    queued_run: uuid.UUID
    running_run: uuid.UUID
    manual_list: uuid.UUID


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def seed(store: UnitOfWorkFactory, slug: str, *, org_url: str) -> Seeded:
    """``slug`` connected to ``org_url`` with imported records, checkpoints, CRM users (both seats matched), system
    lists and a manual list with items, a succeeded, a running and a queued import, settings, rules, a token, an
    invitation, a session and audit entries."""
    organization_id = create_organization(store, slug=slug, seats=5)
    now = datetime.now(UTC)
    with store(organization_id) as uow:
        admin = uow.users.add(email=f"admin@{slug}.test", display_name="Admin", is_admin=True)
        seller = uow.users.add(email=f"seller@{slug}.test", display_name="Seller")
        for user in (admin, seller):
            uow.seats.add(user_id=user.id, state=SeatState.ACTIVE, assigned_by="test")
        uow.crm_connection.save_credentials(
            org_url=org_url, tenant_id="tenant", client_id="client", client_secret=SecretStr("s" * 32)
        )
        uow.crm_connection.mark_connected(crm_user_id=f"{slug}-admin")
        uow.crm_users.replace_all(
            [
                CrmUserValues(f"{slug}-admin", "Admin", admin.email, None, False, False, 0),
                CrmUserValues(f"{slug}-seller", "Seller", seller.email, None, False, False, 0),
            ]
        )
        rematch_seats(uow)
        uow.crm_records.upsert_many(
            "account",
            [RecordRow(f"{slug}-a{i}", f"Account {i}", f"{slug}-seller", None, 0, {}) for i in range(3)],
            generation=1,
        )
        uow.crm_records.upsert_many(
            "contact", [RecordRow(f"{slug}-c1", "Carla", None, f"{slug}-a1", 0, {})], generation=1
        )
        for table in ("account", "contact"):
            state = uow.sync_states.get_or_create(table, mode=SyncMode.CHANGE_TRACKING)
            uow.sync_states.save(dataclasses.replace(state, delta_token="token"))
        accounts = uow.lists.system_list(seller.id, ListKind.CRM_ACCOUNTS)
        leads = uow.lists.system_list(seller.id, ListKind.CRM_LEADS)
        uow.lists.add_item(accounts.id, "account", f"{slug}-a0", reason="accounts_owned")
        uow.lists.add_item(accounts.id, "account", f"{slug}-a1", reason="accounts_owned")
        uow.lists.add_item(leads.id, "contact", f"{slug}-c1", reason="leads_of_owned_accounts")
        manual = uow.lists.create_manual(seller.id, "My picks")
        uow.lists.add_item(manual.id, "account", f"{slug}-a2")
        uow.crm_settings.save(
            stage_source=StageSource.SALES_STAGE,
            stage_threshold="1",
            won_value_column="actualvalue",
            won_value_base_currency=False,
            auto_save_enabled=True,
            sync_interval_minutes=30,
        )
        uow.auto_save_rules.save(
            seller.id,
            accounts_of_open_opportunities=True,
            accounts_owned=True,
            leads_of_open_opportunities=False,
            leads_of_owned_accounts=True,
        )
        uow.api_tokens.add(
            user_id=seller.id,
            name="laptop",
            prefix="sb_" + slug[:4],
            token_hash=_hash(slug + "token"),
            expires_at=now + timedelta(days=90),
        )
        uow.invitations.add(
            user_id=seller.id, token_hash=_hash(slug + "invite"), invited_by="test", expires_at=now + timedelta(days=7)
        )
        uow.web_sessions.add(
            user_id=admin.id,
            token_hash=_hash(slug + "session"),
            csrf_token="c" * 32,
            expires_at=now + timedelta(hours=8),
        )
        uow.import_runs.enqueue(reason="initial import after connect")
        done = uow.import_runs.claim(lease=LEASE)
        assert done is not None
        uow.import_runs.finish(done.id)
        uow.import_runs.enqueue(reason="scheduled")
        running = uow.import_runs.claim(lease=LEASE)
        assert running is not None
        queued = uow.import_runs.enqueue(reason="sync now")
        uow.audit.record(actor="test", action="crm.connected", details={"org_url": org_url})
        uow.companies.upsert_many([Company(f"{slug}-co1", "Contoso")])
        uow.people.upsert_many([Person(f"{slug}-p1", "Ana López", company_name="Contoso")])
        uow.commit()
        return Seeded(slug, organization_id, org_url, queued.id, running.id, manual.id)


def _rows(engine: Engine, table: Table, organization_id: uuid.UUID) -> list[dict[str, Any]]:
    column = table.c.id if table.name == "organizations" else table.c.organization_id
    with engine.connect() as connection:
        result = connection.execute(select(table).where(column == organization_id))
        return sorted((dict(row._mapping) for row in result), key=repr)


def snapshot(engine: Engine, organization_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    """Every row of the organization, per table of the store's metadata (those that carry an organization)."""
    return {
        table.name: _rows(engine, table, organization_id)
        for table in Base.metadata.sorted_tables
        if table.name == "organizations" or "organization_id" in table.c
    }


@pytest.fixture
def two_orgs(store: UnitOfWorkFactory) -> tuple[Seeded, Seeded]:
    return (
        seed(store, "acme", org_url="https://acme.crm.dynamics.com"),
        seed(store, "globex", org_url="https://globex.crm4.dynamics.com"),
    )


def test_every_table_of_the_store_is_classified_once() -> None:
    names = [table.name for table in Base.metadata.sorted_tables]
    classified = [*PURGED_TABLES, *PARTLY_PURGED_TABLES, *KEPT_TABLES]
    assert sorted(classified) == sorted(set(classified)), "a table is classified twice"
    unclassified = set(names) - set(classified)
    assert not unclassified, f"decide in salesbridge.sync.purge whether the purge deletes {sorted(unclassified)}"
    assert not set(classified) - set(names), "a classified table no longer exists"


def test_purge_leaves_no_crm_origin_row_and_keeps_the_workspace(
    store: UnitOfWorkFactory, engine: Engine, two_orgs: tuple[Seeded, Seeded]
) -> None:
    acme, globex = two_orgs
    acme_before = snapshot(engine, acme.id)
    globex_before = snapshot(engine, globex.id)

    outcome = disconnect_crm(store, slug="acme", purge=True, actor="admin@acme.test")

    after = snapshot(engine, acme.id)
    for table in Base.metadata.sorted_tables:
        name = table.name
        if name in PURGED_TABLES or name == "crm_connections":
            assert after[name] == [], f"{name} still holds rows of the purged organization"
    manual_lists = [row for row in acme_before["saved_lists"] if row["kind"] == ListKind.MANUAL]
    assert after["saved_lists"] == manual_lists
    assert [row["list_id"] for row in after["list_items"]] == [acme.manual_list]
    kept = (
        "organizations",
        "users",
        "invitations",
        "api_tokens",
        "web_sessions",
        "crm_settings",
        "people",
        "companies",
    )
    for name in kept:
        assert after[name] == acme_before[name], name
    assert len(after["people"]) == len(after["companies"]) == 1
    assert after["auto_save_rules"] == acme_before["auto_save_rules"]
    assert len(after["audit_entries"]) == len(acme_before["audit_entries"]) + 1
    assert {row["id"] for row in after["seats"]} == {row["id"] for row in acme_before["seats"]}
    assert {(row["match"], row["crm_user_id"]) for row in after["seats"]} == {(MatchOutcome.NOT_IMPORTED, None)}
    assert {row["match"] for row in acme_before["seats"]} == {MatchOutcome.EMAIL}
    assert snapshot(engine, globex.id) == globex_before

    assert outcome.was_connected
    assert outcome.purged
    assert outcome.org_url == acme.org_url
    assert outcome.cancelled_imports == 2
    assert outcome.seats_reset == 2
    assert outcome.deleted.counts() == {
        "crm_records": 4,
        "table_sync_states": 2,
        "crm_users": 2,
        "import_requests": 3,
        "system_list_items": 3,
        "system_lists": 2,
    }
    status = crm_status(store, slug="acme")
    assert (status.state, crm_state(status, "en"), status.org_url) == ("not_configured", "No CRM connection", None)
    with store(acme.id) as uow:
        entry = uow.audit.recent(limit=1)[0]
    assert entry.action == "crm.disconnected"
    assert entry.actor == "admin@acme.test"
    assert entry.details["purge"] is True
    assert entry.details["deleted"]["crm_records"] == 4
    assert entry.details["org_url"] == acme.org_url
    assert "s" * 32 not in repr(entry.details)


def test_without_purge_only_the_credentials_go(
    store: UnitOfWorkFactory, engine: Engine, two_orgs: tuple[Seeded, Seeded]
) -> None:
    acme, _globex = two_orgs
    before = snapshot(engine, acme.id)

    outcome = disconnect_crm(store, slug="acme", purge=False, actor="admin@acme.test")

    after = snapshot(engine, acme.id)
    assert after["crm_connections"] == []
    for name in ("crm_records", "table_sync_states", "crm_users", "saved_lists", "list_items", "seats"):
        assert after[name] == before[name], name
    runs = {row["id"]: row for row in after["import_requests"]}
    for run_id in (acme.queued_run, acme.running_run):
        assert (runs[run_id]["state"], runs[run_id]["error"]) == (ImportState.FAILED, "disconnected")
    assert sorted(row["state"] for row in after["import_requests"]) == [
        ImportState.FAILED,
        ImportState.FAILED,
        ImportState.SUCCEEDED,
    ]
    assert (outcome.was_connected, outcome.purged, outcome.cancelled_imports) == (True, False, 2)
    assert outcome.deleted.total == 0
    status = crm_status(store, slug="acme")
    assert (status.state, crm_state(status, "en"), crm_state(status, "es")) == (
        "disconnected",
        "Not connected",
        "Sin conectar",
    )
    assert status.org_url == acme.org_url
    assert status.queued_imports == ()


def test_a_running_import_can_no_longer_commit_a_page(
    store: UnitOfWorkFactory, two_orgs: tuple[Seeded, Seeded]
) -> None:
    acme, globex = two_orgs

    disconnect_crm(store, slug="acme", purge=False, actor="test")

    with store(acme.id) as uow:
        assert uow.import_runs.renew(acme.running_run, lease=LEASE) is False
        assert uow.crm_connection.find() is None
    with store(globex.id) as uow:
        assert uow.import_runs.renew(globex.running_run, lease=LEASE) is True


def test_disconnecting_twice_is_fine_and_a_later_purge_finishes_the_job(
    store: UnitOfWorkFactory, engine: Engine, two_orgs: tuple[Seeded, Seeded]
) -> None:
    acme, _globex = two_orgs
    disconnect_crm(store, slug="acme", purge=False, actor="test")
    audited = len(snapshot(engine, acme.id)["audit_entries"])

    again = disconnect_crm(store, slug="acme", purge=False, actor="test")

    assert not again.changed_anything
    assert len(snapshot(engine, acme.id)["audit_entries"]) == audited  # nothing to do, nothing audited
    purged = disconnect_crm(store, slug="acme", purge=True, actor="test")
    assert not purged.was_connected
    assert purged.org_url == acme.org_url  # from the audit of the first disconnect
    assert purged.deleted.crm_records == 4
    assert crm_status(store, slug="acme").state == "not_configured"
    once_more = disconnect_crm(store, slug="acme", purge=True, actor="test")
    assert once_more.deleted.total == 0
    assert not once_more.changed_anything


def test_preview_says_what_will_be_deleted(store: UnitOfWorkFactory, two_orgs: tuple[Seeded, Seeded]) -> None:
    acme, _globex = two_orgs

    preview = disconnect_preview(store, slug="acme")

    assert (preview.connected, preview.org_url, preview.active_imports) == (True, acme.org_url, 2)
    assert preview.purge.crm_records == 4
    lines = disconnect_lines(preview, purge=True, locale="en")
    assert lines[0] == f"The connection to {acme.org_url} and its stored credentials will be deleted."
    assert (
        "4 CRM records, 2 CRM users, 2 table checkpoints, 3 import runs, and 2 auto-saved lists with 3 items"
        in (lines[2])
    )
    assert "Se conservan los datos" in disconnect_lines(preview, purge=False, locale="es")[-1]
    assert crm_status(store, slug="acme").state == "connected"  # a preview changes nothing


async def test_a_different_org_is_refused_until_the_data_is_purged(
    store: UnitOfWorkFactory,
    sessions: CrmSessionFactory,
    running: RunningSandbox,
    customised: RunningSandbox,
) -> None:
    create_organization(store, slug="initech", seats=2)
    connected = await connect_crm(
        store, sessions, slug="initech", credentials=running.credentials(), targets=SANDBOX_TARGETS
    )
    assert connected.is_connected
    disconnect_crm(store, slug="initech", purge=False, actor="test")
    assert crm_status(store, slug="initech").org_url == running.org_url

    with pytest.raises(DifferentCrmOrganizationError) as refused:
        await connect_crm(
            store, sessions, slug="initech", credentials=customised.credentials(), targets=SANDBOX_TARGETS
        )

    assert refused.value.org_url == running.org_url
    assert "Yes, clean up all previously imported CRM data" in str(refused.value)
    assert "Sí, limpiar todos los datos previamente importados del CRM" in refused.value.localized("es")
    again = await connect_crm(
        store, sessions, slug="initech", credentials=running.credentials(), targets=SANDBOX_TARGETS
    )
    assert again.is_connected  # the same Dynamics organization may come back to its data
    disconnect_crm(store, slug="initech", purge=True, actor="test")
    other = await connect_crm(
        store, sessions, slug="initech", credentials=customised.credentials(), targets=SANDBOX_TARGETS
    )
    assert other.kind is OutcomeKind.MISSING_OBJECTS  # no longer refused: the pre-flight ran against it


async def test_a_failed_attempt_that_imported_nothing_does_not_block_another_org(
    store: UnitOfWorkFactory,
    sessions: CrmSessionFactory,
    running: RunningSandbox,
    customised: RunningSandbox,
) -> None:
    create_organization(store, slug="hooli", seats=2)
    failed = await connect_crm(
        store, sessions, slug="hooli", credentials=customised.credentials(), targets=SANDBOX_TARGETS
    )
    assert failed.kind is OutcomeKind.MISSING_OBJECTS

    connected = await connect_crm(
        store, sessions, slug="hooli", credentials=running.credentials(), targets=SANDBOX_TARGETS
    )

    assert connected.is_connected
    assert crm_status(store, slug="hooli").org_url == running.org_url


async def test_a_purge_during_an_import_leaves_nothing_behind(
    store: UnitOfWorkFactory, engine: Engine, sessions: CrmSessionFactory, demo: RunningSandbox
) -> None:
    organization_id = create_organization(store, slug="umbrella", seats=2)
    connected = await connect_crm(
        store, sessions, slug="umbrella", credentials=demo.credentials(), targets=SANDBOX_TARGETS
    )
    assert connected.is_connected
    pages: list[int] = []

    def purge_after_first_page(_table: str, rows: int) -> None:
        pages.append(rows)
        if len(pages) == 1:
            disconnect_crm(store, slug="umbrella", purge=True, actor="admin")

    outcome = await run_pending_import(
        store, sessions, organization_id, clock=utc_now, progress=purge_after_first_page, page_size=5
    )

    assert outcome is not None
    assert not outcome.succeeded
    assert len(pages) == 1, "no page committed after the purge"
    after = snapshot(engine, organization_id)
    for name in [*PURGED_TABLES, "crm_connections", "saved_lists", "list_items"]:
        assert after[name] == [], f"{name} holds rows after a purge during an import"
