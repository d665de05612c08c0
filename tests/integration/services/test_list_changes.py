"""Auto-save after an import follows what the import changed, on SQLite and PostgreSQL: the incremental recompute
leaves exactly the lists the full recompute makes, after random changes written through the store's repositories
(tests/auto_save_changes.py), and after changes made in the sandbox's CRM and brought by the import engine over
HTTPS (an opportunity given away and moved back a stage, an opportunity deleted, an account deleted with its
contacts, a contact deactivated)."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from tests.auto_save_changes import AutoSaveScenario, check_incremental_equals_full, lists_of
from tests.integration.services.conftest import SANDBOX_TARGETS, RunningSandbox

from salesbridge.crm.dynamics import DynamicsConnector
from salesbridge.crm.ports import LookupValue
from salesbridge.domain.pipeline import StageSource
from salesbridge.services.accounts import AccountService
from salesbridge.services.connecting import connect_crm, create_organization
from salesbridge.services.disconnect import disconnect_crm
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.lists import ListRecompute, recompute_in
from salesbridge.services.ports import CrmSessionFactory
from salesbridge.services.sync import request_sync
from salesbridge.store.uow import UnitOfWorkFactory, utc_now


@pytest.mark.parametrize("seed", [5, 6])
def test_after_random_changes_the_incremental_recompute_equals_the_full_one(
    store: UnitOfWorkFactory, seed: int
) -> None:
    scenario = AutoSaveScenario(store, create_organization(store, slug="acme", seats=5), random.Random(seed))
    scenario.set_up()

    changed, unchanged = check_incremental_equals_full(scenario, imports=12)

    assert changed, "the seed changed some list"
    assert unchanged, "the seed left the lists alone sometimes"


async def test_changes_made_in_the_crm_leave_the_lists_the_full_recompute_makes(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, fresh_demo: RunningSandbox
) -> None:
    acme = create_organization(store, slug="acme", seats=10)
    connected = await connect_crm(
        store, sessions, slug="acme", credentials=fresh_demo.credentials(), targets=SANDBOX_TARGETS
    )
    assert connected.is_connected

    async def sync() -> None:
        request_sync(store, slug="acme", actor="admin")
        outcome = await run_pending_import(store, sessions, acme, clock=utc_now)
        assert outcome is not None
        assert outcome.succeeded, outcome.error

    await sync()
    with store(acme) as uow:
        uow.crm_settings.save(
            stage_source=StageSource.SALES_STAGE,
            stage_threshold="1",
            won_value_column="actualvalue",
            won_value_base_currency=False,
            auto_save_enabled=True,
            sync_interval_minutes=15,
        )
        owners = {record.owner_id for record in uow.crm_records.records("opportunity") if record.owner_id}
        emails = [user.email for user in uow.crm_users.list_all() if user.crm_id in owners and user.email]
        uow.commit()
    accounts = AccountService(store, clock=utc_now)
    for email in emails[:3]:
        accounts.create_user(
            "acme", email=email, display_name=email, password=None, is_admin=False, with_seat=True, actor="admin"
        )
        with store(acme) as uow:
            uow.auto_save_rules.save(
                uow.users.find_by_email(email).id,  # type: ignore[union-attr]
                accounts_of_open_opportunities=True,
                accounts_owned=True,
                leads_of_open_opportunities=True,
                leads_of_owned_accounts=True,
            )
            uow.commit()
    await sync()  # the seats and the threshold changed between imports: their lists are computed
    with store(acme) as uow:
        assert any(lists_of(uow).values())
        opportunities = [r for r in uow.crm_records.records("opportunity") if r.state_code == 0 and r.owner_id]
        contacts = uow.crm_records.records("contact")
    rng = random.Random(9)
    given, stage, deleted = rng.sample(opportunities, 3)
    account = next(o.parent_id for o in opportunities if o.parent_id and o not in (given, stage, deleted))
    new_owner = next(owner for owner in sorted(owners) if owner != given.owner_id)
    session = sessions(fresh_demo.connected_credentials())
    assert isinstance(session, DynamicsConnector)
    try:
        await session.writer.update("opportunity", given.crm_id, {"ownerid": LookupValue(new_owner, "systemuser")})
        await session.writer.update("opportunity", stage.crm_id, {"salesstage": 0})
        await session.writer.delete("opportunity", deleted.crm_id)
        for contact in contacts:
            if contact.parent_id == account:
                await session.writer.delete("contact", contact.crm_id)
        await session.writer.delete("account", account)
        await session.writer.update("contact", rng.choice(contacts).crm_id, {"statecode": 1, "statuscode": 2})
    finally:
        await session.close()
    with store(acme) as uow:
        before = lists_of(uow)

    await sync()

    with store(acme) as uow:
        after = lists_of(uow)
        assert recompute_in(uow) == ListRecompute(added=0, removed=0)
        assert lists_of(uow) == after
        [imported] = uow.audit.recent(limit=1, action="crm.imported")
        assert uow.crm_records.get("opportunity", deleted.crm_id) is None
    assert imported.details["derived_from_every_row"] is False, "the lists followed the run's changes"
    assert after != before, "the changes changed some list"


def test_a_purge_forgets_what_the_lists_were_computed_from(store: UnitOfWorkFactory) -> None:
    scenario = AutoSaveScenario(store, create_organization(store, slug="acme", seats=5), random.Random(1))
    scenario.set_up()
    with store(scenario.org) as uow:
        assert uow.lists.auto_save_basis() is not None

    disconnect_crm(store, slug="acme", purge=True, actor="admin@acme.test")

    with store(scenario.org) as uow:
        assert uow.lists.auto_save_basis() is None


async def test_a_sync_with_nothing_changed_reads_no_imported_record_and_no_list(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, fresh_demo: RunningSandbox
) -> None:
    acme = create_organization(store, slug="acme", seats=10)
    connected = await connect_crm(
        store, sessions, slug="acme", credentials=fresh_demo.credentials(), targets=SANDBOX_TARGETS
    )
    assert connected.is_connected
    with store(acme) as uow:
        email = next(user.email for user in uow.crm_users.list_all() if user.email)
    AccountService(store, clock=utc_now).create_user(
        "acme", email=email, display_name=email, password=None, is_admin=False, with_seat=True, actor="admin"
    )
    request_sync(store, slug="acme", actor="admin")
    assert (await run_pending_import(store, sessions, acme, clock=utc_now)).succeeded  # type: ignore[union-attr]
    statements: list[str] = []

    def seen(_connection: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        request_sync(store, slug="acme", actor="admin")
        outcome = await run_pending_import(store, sessions, acme, clock=utc_now)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)

    assert outcome is not None
    assert outcome.succeeded
    assert statements, "the listener saw the run's statements"
    # The CRM users (a small table) are read to know the synced sellers; no imported record, no list item.
    assert [s for s in statements if "crm_records" in s or "list_items" in s] == []
