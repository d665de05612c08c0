"""The in-memory FakeStore keeps the store's contracts that the services' fast tests rely on: the same checks run
against the fake and the real store on SQLite and PostgreSQL, so a rule tested on the fake holds on the store."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr
from sqlalchemy.exc import DBAPIError
from tests.fakes.store import FakeClock, FakeStore

from salesbridge.domain.csv_rows import CsvKind, LineProblem
from salesbridge.domain.lists import AutoSaveBasis, ListKind
from salesbridge.domain.match_links import LinkBand, LinkOrigin, MatchLink, TargetKind
from salesbridge.domain.people import Company, Person
from salesbridge.domain.pipeline import AutoSaveChoices, CrmSettings, StageSource
from salesbridge.domain.seat_matching import MatchOutcome
from salesbridge.domain.sync_runs import STOPPED_WORKER_ERROR, ImportSettings, RecordRow, SyncMode
from salesbridge.domain.uploads import UploadProgress, UploadState
from salesbridge.domain.workspace import CaBundle, ConnectionState, CrmUserValues, ImportState, SeatState
from salesbridge.domain.writeback import (
    ActivityDraft,
    DataItem,
    DeliveryState,
    Direction,
    FailureOutcome,
    Regarding,
    SeatHold,
)
from salesbridge.errors import (
    ActivityChangedError,
    InvalidInputError,
    RowNotFoundError,
    StoreError,
    UniqueConstraintError,
)
from salesbridge.services.ports import StoreAccess, UnitOfWork, UpsertCounts
from salesbridge.store import create_engine_for, create_session_factory, migrate
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["fake", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[StoreAccess]:
    """The fake, or the real store on a fresh migrated database."""
    if request.param == "fake":
        yield FakeStore(clock=clock)
        return
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        cluster = request.getfixturevalue("postgres_cluster")
        name = f"fake_contract_{uuid.uuid4().hex[:12]}"
        cluster.execute_autocommit(f'CREATE DATABASE "{name}"')
        url, drop = cluster.url(name), name
    migrate(url)
    engine = create_engine_for(url)
    yield UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()), clock=clock)
    engine.dispose()
    if drop is not None:
        with contextlib.suppress(psycopg.Error):
            cluster.execute_autocommit(f'DROP DATABASE "{drop}" WITH (FORCE)')


def organization(store: StoreAccess, slug: str = "acme") -> uuid.UUID:
    organization_id = uuid.uuid4()
    with store(organization_id) as uow:
        uow.organization.create(slug=slug, name=slug.title(), seats_purchased=5)
        uow.commit()
    return organization_id


def crm_user(crm_id: str, name: str, email: str | None = None) -> CrmUserValues:
    return CrmUserValues(crm_id, name, email, None, False, False, 0)


def test_emails_are_unique_ignoring_case_and_listed_in_order(store: StoreAccess) -> None:
    acme = organization(store)
    with store(acme) as uow:
        bea = uow.users.add(email="Bea@acme.test", display_name="Bea")
        ana = uow.users.add(email="ana@acme.test", display_name="Ana")
        with pytest.raises(UniqueConstraintError) as taken:
            uow.users.add(email="BEA@ACME.TEST", display_name="Bea again")
        with pytest.raises(UniqueConstraintError):
            uow.users.update(ana.id, email="bea@acme.test")
        renamed = uow.users.update(ana.id, display_name="Ana María", locale="es")
        uow.commit()

    assert taken.value.field == "email"
    assert (renamed.display_name, renamed.locale, renamed.email) == ("Ana María", "es", "ana@acme.test")
    with store(acme, read_only=True) as uow:
        assert [user.email for user in uow.users.list_all()] == ["ana@acme.test", "Bea@acme.test"]
        found = uow.users.find_by_email("bea@ACME.test")
        assert found is not None
        assert found.id == bea.id
        with pytest.raises(RowNotFoundError):
            uow.users.get(uuid.uuid4())


def test_a_user_holds_one_seat_changed_only_through_the_repository(store: StoreAccess) -> None:
    acme = organization(store)
    with store(acme) as uow:
        ana = uow.users.add(email="ana@acme.test", display_name="Ana")
        seat = uow.seats.add(user_id=ana.id, state=SeatState.INVITED, assigned_by="admin")
        with pytest.raises(UniqueConstraintError):
            uow.seats.add(user_id=ana.id, state=SeatState.ACTIVE, assigned_by="admin")
        with pytest.raises(RowNotFoundError):
            uow.seats.add(user_id=uuid.uuid4(), state=SeatState.ACTIVE, assigned_by="admin")
        uow.seats.set_state(seat.id, SeatState.ACTIVE)
        uow.seats.set_crm_sync(seat.id, False)
        uow.seats.set_matches({seat.id: (MatchOutcome.NO_CRM_USER, None), uuid.uuid4(): (MatchOutcome.EMAIL, None)})
        uow.commit()

    assert (seat.state, seat.match) == (SeatState.INVITED, MatchOutcome.NOT_IMPORTED), "a value is a snapshot"
    with store(acme, read_only=True) as uow:
        stored = uow.seats.get(seat.id)
        assert (stored.state, stored.crm_sync_enabled, stored.match) == (
            SeatState.ACTIVE,
            False,
            MatchOutcome.NO_CRM_USER,
        )
        assert uow.seats.find_by_user(ana.id) == stored
        assert uow.seats.count() == 1
        with pytest.raises(RowNotFoundError):
            uow.seats.set_state(uuid.uuid4(), SeatState.ACTIVE)


def test_replacing_crm_users_keeps_their_ids_and_unlinks_the_gone(store: StoreAccess) -> None:
    acme = organization(store)
    with store(acme) as uow:
        first = uow.crm_users.replace_all(
            [crm_user("AAAA", "zoe"), crm_user("bbbb", "Ana", "ana@acme.test"), crm_user("aaaa", "dup")]
        )
        ana = uow.users.add(email="ana@acme.test", display_name="Ana")
        seat = uow.seats.add(user_id=ana.id, state=SeatState.ACTIVE, assigned_by="admin")
        kept = uow.crm_users.find_by_crm_id("BBBB")
        assert kept is not None
        uow.seats.set_matches({seat.id: (MatchOutcome.EMAIL, kept.id)})
        uow.commit()
    with store(acme) as uow:
        zoe = uow.crm_users.find_by_crm_id("aaaa")
        second = uow.crm_users.replace_all([crm_user("aaaa", "Zoe"), crm_user("cccc", "Cal")])
        uow.commit()

    assert (first.added, first.updated, first.removed) == (2, 0, 0)
    assert (second.added, second.updated, second.removed) == (1, 1, 1)
    with store(acme, read_only=True) as uow:
        assert [(row.full_name, row.crm_id) for row in uow.crm_users.list_all()] == [("Cal", "cccc"), ("Zoe", "aaaa")]
        renamed = uow.crm_users.find_by_crm_id("aaaa")
        assert zoe is not None
        assert renamed is not None
        assert renamed.id == zoe.id
        assert uow.seats.get(seat.id).crm_user_id is None, "the seat of a CRM user no longer imported is unlinked"
        assert uow.crm_users.last_imported_at() is not None


def test_a_crm_user_is_found_by_our_id_within_its_organization_only(store: StoreAccess) -> None:
    """What a seat points at (``crm_user_id``) is read alone: capture and the drain need the seat's CRM user, not
    every CRM user of the organization."""
    acme, other = organization(store), organization(store, "other")
    with store(acme) as uow:
        uow.crm_users.replace_all([crm_user("aaaa", "Ana"), crm_user("bbbb", "Bea")])
        bea = uow.crm_users.find_by_crm_id("bbbb")
        uow.commit()
    assert bea is not None
    with store(acme, read_only=True) as uow:
        assert uow.crm_users.find(bea.id) == bea
        assert uow.crm_users.find(uuid.uuid4()) is None
    with store(other, read_only=True) as uow:
        assert uow.crm_users.find(bea.id) is None, "another organization's"


def test_tokens_sessions_and_invitations_expire_and_find_their_organization(
    store: StoreAccess, clock: FakeClock
) -> None:
    acme = organization(store)
    with store(acme) as uow:
        ana = uow.users.add(email="ana@acme.test", display_name="Ana")
        old = uow.api_tokens.add(user_id=ana.id, name="old", prefix="sb_old", token_hash="t1", expires_at=clock.now)
        clock.advance(timedelta(seconds=1))
        new = uow.api_tokens.add(
            user_id=ana.id, name="new", prefix="sb_new", token_hash="t2", expires_at=clock.now + timedelta(days=1)
        )
        uow.web_sessions.add(user_id=ana.id, token_hash="s1", csrf_token="c", expires_at=clock.now + timedelta(hours=1))
        invitation = uow.invitations.add(
            user_id=ana.id, token_hash="i1", invited_by="admin", expires_at=clock.now + timedelta(days=14)
        )
        uow.commit()

    assert [store.organization_of_api_token("t2"), store.organization_of_session("s1")] == [acme, acme]
    assert [store.organization_of_invitation("i1"), store.organization_of_session("nope")] == [acme, None]
    with store(acme) as uow:
        assert uow.api_tokens.find_active_by_hash("t1") is None, "expired"
        assert uow.api_tokens.touch(new.id, granularity=timedelta(minutes=5))
        assert not uow.api_tokens.touch(new.id, granularity=timedelta(minutes=5))
        revoked = uow.api_tokens.revoke(user_id=ana.id, token_id=new.id)
        assert uow.api_tokens.revoke(user_id=ana.id, token_id=new.id).revoked_at == revoked.revoked_at
        assert uow.api_tokens.find_active_by_hash("t2") is None, "revoked"
        assert [token.id for token in uow.api_tokens.list_for_user(ana.id)] == [new.id, old.id]
        accepted = uow.invitations.mark_accepted(invitation.id)
        assert not accepted.is_pending(clock.now)
        live = uow.web_sessions.find_live_by_hash("s1")
        assert live is not None
        uow.web_sessions.delete_by_hash("s1")
        uow.web_sessions.delete_by_hash("s1")
        assert uow.web_sessions.find_live_by_hash("s1") is None
        uow.commit()


def test_work_is_rolled_back_unless_committed_and_read_only_units_cannot_write(store: StoreAccess) -> None:
    acme, globex = organization(store, "acme"), organization(store, "globex")
    with store(acme) as uow:
        uow.users.add(email="ana@acme.test", display_name="Ana")
    with store(acme) as uow:
        uow.users.add(email="bea@acme.test", display_name="Bea")
        uow.audit.record(actor="admin", action="user.added", details={"email": "bea@acme.test"})
        uow.commit()

    def add_cal(uow: UnitOfWork) -> None:
        uow.users.add(email="cal@acme.test", display_name="Cal")
        uow.commit()

    with store(acme, read_only=True) as uow, pytest.raises((StoreError, DBAPIError)):
        add_cal(uow)

    with store(acme, read_only=True) as uow:
        assert [user.email for user in uow.users.list_all()] == ["bea@acme.test"]
        [entry] = uow.audit.recent()
        assert (entry.action, dict(entry.details)) == ("user.added", {"email": "bea@acme.test"})
    with store(globex, read_only=True) as uow:
        assert uow.users.list_all() == [], "another organization's users are not seen"
        assert uow.audit.recent() == []
    assert (store.organization_id("globex"), store.slug_of(acme), store.organization_id("initech")) == (
        globex,
        "acme",
        None,
    )


# ------------------------------------------------------------------------------------------ the import plane


LEASE = timedelta(minutes=2)


def test_the_import_queue_holds_one_queued_run_and_runs_one_under_a_live_lease(
    store: StoreAccess, clock: FakeClock
) -> None:
    acme = organization(store)
    with store(acme) as uow:
        first = uow.import_requests.enqueue(reason="initial")
        assert uow.import_runs.enqueue(reason="sync now") == first, "one queued run at most"
        uow.commit()
    with store(acme) as uow:
        claimed = uow.import_runs.claim(lease=LEASE)
        uow.commit()
    assert claimed is not None
    assert (claimed.id, claimed.state, claimed.lease_expires_at) == (first.id, ImportState.RUNNING, clock.now + LEASE)

    clock.advance(timedelta(minutes=1))
    with store(acme) as uow:
        second = uow.import_runs.enqueue(reason="sync now")
        assert uow.import_runs.claim(lease=LEASE) is None, "the first run's lease lives"
        assert uow.import_runs.renew(first.id, lease=LEASE)
        uow.commit()
    clock.advance(LEASE)  # the renewed lease has just run out: its worker died
    with store(acme) as uow:
        taken = uow.import_runs.claim(lease=LEASE)
        uow.commit()

    assert taken is not None
    assert taken.id == second.id
    with store(acme, read_only=True) as uow:
        dead = uow.import_runs.last_finished(ImportState.FAILED)
        running = uow.import_runs.running()
        assert [run.id for run in uow.import_runs.recent()] == [second.id, first.id]
        assert uow.import_runs.last_finished_at() == clock.now
        assert uow.import_runs.queued() == []
    assert dead is not None
    assert (dead.id, dead.error, dead.lease_expires_at) == (first.id, STOPPED_WORKER_ERROR, None)
    assert running is not None
    assert running.id == second.id
    with store(acme) as uow:
        uow.import_runs.finish(second.id)
        uow.import_runs.finish(second.id, error="too late")  # no longer running: left alone
        assert not uow.import_runs.renew(second.id, lease=LEASE)
        assert uow.import_runs.fail_expired() == 0
        uow.commit()
    with store(acme, read_only=True) as uow:
        succeeded = uow.import_runs.last_finished(ImportState.SUCCEEDED)
    assert succeeded is not None
    assert (succeeded.id, succeeded.error, succeeded.finished_at) == (second.id, None, clock.now)


def test_a_connection_is_saved_marked_and_deleted_through_the_repository(store: StoreAccess, clock: FakeClock) -> None:
    acme = organization(store)
    with store(acme) as uow:
        assert uow.crm_connection.find() is None
        saved = uow.crm_connection.save_credentials(
            org_url="https://acme.crm.dynamics.com",
            tenant_id="contoso.onmicrosoft.com",
            client_id="app-1",
            client_secret=SecretStr("first secret"),
            ca_bundle_pem="-----BEGIN CERTIFICATE-----",
            ca_bundle_name="corporate",
        )
        connected = uow.crm_connection.mark_connected(crm_user_id="u-1")
        uow.commit()

    assert saved.state is ConnectionState.DISCONNECTED
    assert (connected.state, connected.connected_crm_user_id, connected.connected_at) == (
        ConnectionState.CONNECTED,
        "u-1",
        clock.now,
    )
    with store(acme) as uow:
        credentials = uow.crm_connection.credentials()
        failed = uow.crm_connection.mark_failed(error="boom")
        replaced = uow.crm_connection.save_credentials(
            org_url="https://acme.crm.dynamics.com",
            tenant_id="contoso.onmicrosoft.com",
            client_id="app-2",
            client_secret=SecretStr("second secret"),
        )
        assert uow.crm_connection.credentials().client_secret.get_secret_value() == "second secret"
        assert uow.crm_connection.delete()
        assert not uow.crm_connection.delete(), "deleting again is harmless"
        with pytest.raises(RowNotFoundError):
            uow.crm_connection.mark_connected(crm_user_id="u-1")
        uow.commit()

    assert credentials.client_secret.get_secret_value() == "first secret"
    assert credentials.ca_bundle == CaBundle("-----BEGIN CERTIFICATE-----", "corporate")
    assert (failed.state, failed.last_error, failed.connected_crm_user_id) == (ConnectionState.FAILED, "boom", "u-1")
    assert (replaced.id, replaced.state, replaced.connected_crm_user_id, replaced.last_error) == (
        saved.id,
        ConnectionState.DISCONNECTED,
        None,
        None,
    )
    with store(acme, read_only=True) as uow:
        assert uow.crm_connection.find() is None


def test_imported_data_says_where_it_came_from_and_is_cancelled_and_purged(store: StoreAccess) -> None:
    acme = organization(store)
    with store(acme) as uow:
        assert not uow.imported_data.remains()
        assert uow.imported_data.origin_org_url() is None
        assert uow.crm_settings.import_settings() == ImportSettings(
            sync_interval_minutes=15, won_value_column="actualvalue", won_value_base_currency=False
        ), "the defaults, never saved"
        uow.crm_users.replace_all([crm_user("aaaa", "Zoe")])
        uow.import_requests.enqueue(reason="initial")
        uow.audit.record(actor="ana", action="crm.connected", details={"org_url": "https://one.crm.dynamics.com"})
        uow.audit.record(actor="ana", action="seat.assigned", details={"org_url": "https://not.an.origin"})
        uow.commit()
    with store(acme) as uow:
        assert uow.imported_data.remains()
        assert uow.imported_data.origin_org_url() == "https://one.crm.dynamics.com"
        assert uow.imported_data.active_imports() == 1
        counts = uow.imported_data.counts()
        assert (counts["crm_users"], counts["import_requests"], counts["crm_records"]) == (1, 1, 0)
        assert uow.imported_data.cancel_imports(error="disconnected") == 1
        assert uow.imported_data.cancel_imports(error="disconnected") == 0
        assert uow.imported_data.active_imports() == 0
        assert uow.imported_data.delete_crm_users() == 1
        assert uow.imported_data.delete_import_requests() == 1
        assert not uow.imported_data.remains()
        uow.commit()


def test_imported_records_and_checkpoints_are_written_as_the_import_engine_expects(
    store: StoreAccess, clock: FakeClock
) -> None:
    acme = organization(store)
    rows = [RecordRow(f"c{i}", f"Contact {i}", None, None, 0, {"fullname": f"Contact {i}"}) for i in range(3)]
    with store(acme) as uow:
        assert uow.crm_records.upsert_many("contact", rows, generation=1) == 3
        assert uow.crm_records.upsert_many("contact", rows[:1], generation=2) == 1, "replayed: upserted"
        checkpoint = uow.sync_states.get_or_create("contact", mode=SyncMode.CHANGE_TRACKING)
        uow.sync_states.save(dataclasses.replace(checkpoint, delta_token="t1", reading_generation=2))
        uow.commit()
    with store(acme) as uow:
        assert uow.crm_records.any_stored("contact")
        assert not uow.crm_records.any_stored("lead")
        assert uow.crm_records.count_stored("contact", ["c0", "c1", "nope", "c0"]) == 2
        assert uow.crm_records.delete_ids("contact", ["c1", "nope"]) == 1
        assert uow.crm_records.sweep_older_generations("contact", 2, after=None, limit=1) == (0, "c0"), "c0 seen"
        assert uow.crm_records.sweep_older_generations("contact", 2, after="c0", limit=1) == (1, "c2"), "c2 unseen"
        assert uow.crm_records.sweep_older_generations("contact", 2, after="c2", limit=1) == (0, None), "none left"
        assert [(record.crm_id, record.generation) for record in uow.crm_records.records("contact")] == [("c0", 2)]
        assert uow.crm_records.count("contact") == 1
        saved = uow.sync_states.get_or_create("contact", mode=SyncMode.CHANGE_TRACKING)
        moved = uow.sync_states.get_or_create("contact", mode=SyncMode.MODIFIED_ON)
        uow.sync_states.record_failure("contact", error="timed out")
        uow.sync_states.record_failure("lead", error="no checkpoint: ignored")
        with pytest.raises(RowNotFoundError):
            uow.sync_states.save(dataclasses.replace(saved, table_name="lead"))
        uow.commit()

    assert (saved.delta_token, saved.reading_generation) == ("t1", 2)
    assert (moved.delta_token, moved.reading_generation, moved.mode) == (None, None, SyncMode.MODIFIED_ON)
    with store(acme, read_only=True) as uow:
        [failed] = uow.sync_states.all()
    assert (failed.consecutive_failures, failed.failing_since, failed.last_error) == (1, clock.now, "timed out")


def test_crm_settings_and_auto_save_rules_have_defaults_until_saved(store: StoreAccess, clock: FakeClock) -> None:
    acme = organization(store)
    with store(acme) as uow:
        ana = uow.users.add(email="ana@acme.test", display_name="Ana")
        defaults = (uow.crm_settings.get(), uow.auto_save_rules.get(ana.id), uow.auto_save_rules.all_stored())
        saved = uow.crm_settings.save(
            stage_source=StageSource.PROCESS_STEP,
            stage_threshold="3-Propose",
            won_value_column="estimatedvalue",
            won_value_base_currency=True,
            auto_save_enabled=False,
            sync_interval_minutes=60,
        )
        rules = uow.auto_save_rules.save(
            ana.id,
            accounts_of_open_opportunities=False,
            accounts_owned=True,
            leads_of_open_opportunities=False,
            leads_of_owned_accounts=True,
        )
        with pytest.raises(RowNotFoundError):
            uow.auto_save_rules.save(
                uuid.uuid4(),
                accounts_of_open_opportunities=True,
                accounts_owned=True,
                leads_of_open_opportunities=True,
                leads_of_owned_accounts=True,
            )
        uow.commit()

    assert defaults == (CrmSettings(), AutoSaveChoices(), {})
    assert not defaults[0].is_saved
    assert saved == CrmSettings(
        stage_source=StageSource.PROCESS_STEP,
        stage_threshold="3-Propose",
        won_value_column="estimatedvalue",
        won_value_base_currency=True,
        auto_save_enabled=False,
        sync_interval_minutes=60,
        updated_at=clock.now,
    )
    with store(acme, read_only=True) as uow:
        assert uow.crm_settings.get() == saved
        assert uow.crm_settings.import_settings() == ImportSettings(
            sync_interval_minutes=60, won_value_column="estimatedvalue", won_value_base_currency=True
        )
        assert uow.auto_save_rules.all_stored() == {ana.id: rules}
        assert rules == AutoSaveChoices(False, True, False, True)


def test_the_mapped_profile_url_columns_are_replaced_when_given_and_kept_otherwise(store: StoreAccess) -> None:
    acme = organization(store)
    settings = {
        "stage_source": StageSource.SALES_STAGE,
        "stage_threshold": None,
        "won_value_column": "actualvalue",
        "won_value_base_currency": False,
        "auto_save_enabled": True,
        "sync_interval_minutes": 15,
    }
    with store(acme) as uow:
        mapped = uow.crm_settings.save(**settings, profile_url_columns={"contact": "new_li", "account": "new_co"})
        kept = uow.crm_settings.save(**{**settings, "sync_interval_minutes": 30})
        uow.commit()
    with store(acme) as uow:
        replaced = uow.crm_settings.save(**settings, profile_url_columns={"lead": "new_li"})
        uow.commit()
    with store(acme, read_only=True) as uow:
        stored = uow.crm_settings.get()
        read = uow.crm_settings.import_settings()

    assert mapped.profile_url_columns == {"contact": "new_li", "account": "new_co"}
    assert (mapped.contact_profile_url_column, mapped.lead_profile_url_column) == ("new_li", None)
    assert kept.profile_url_columns == mapped.profile_url_columns
    assert replaced.profile_url_columns == stored.profile_url_columns == {"lead": "new_li"}
    assert read.profile_url_columns == {"lead": "new_li"}


def test_lists_and_their_items_change_only_through_the_repository(store: StoreAccess) -> None:
    acme = organization(store)
    with store(acme) as uow:
        ana = uow.users.add(email="ana@acme.test", display_name="Ana")
        accounts = uow.lists.system_list(ana.id, ListKind.CRM_ACCOUNTS)
        again = uow.lists.system_list(ana.id, ListKind.CRM_ACCOUNTS)
        leads = uow.lists.system_list(ana.id, ListKind.CRM_LEADS)
        zeta = uow.lists.create_manual(ana.id, "zeta")
        alpha = uow.lists.create_manual(ana.id, "Alpha")
        with pytest.raises(ValueError, match="create_manual"):
            uow.lists.system_list(ana.id, ListKind.MANUAL)
        added = [
            uow.lists.add_item(alpha.id, "account", "A1"),
            uow.lists.add_item(alpha.id, "account", "a1"),
            uow.lists.add_item(alpha.id, "contact", "c1"),
        ]
        removed = [uow.lists.remove_item(alpha.id, "contact", "C1"), uow.lists.remove_item(alpha.id, "contact", "c1")]
        renamed = uow.lists.rename(alpha.id, "Alpha 2")
        diff = uow.lists.replace_items(accounts.id, [("account", "A1", "accounts_owned"), ("account", "a2", None)])
        changed = uow.lists.replace_items(accounts.id, [("account", "a1", "accounts_of_open_opportunities")])
        held = uow.lists.delete(zeta.id)
        with pytest.raises(RowNotFoundError):
            uow.lists.get(zeta.id)
        with pytest.raises(RowNotFoundError):
            uow.lists.add_item(zeta.id, "account", "a1")
        uow.commit()

    assert again == accounts
    assert (accounts.name, leads.name, accounts.is_system, alpha.is_system) == (
        "My CRM accounts",
        "My CRM leads and contacts",
        True,
        False,
    )
    assert (added, removed, held) == ([True, False, True], [True, False], 0)
    assert (diff.added, diff.removed, changed.added, changed.removed) == (2, 0, 0, 1)
    assert alpha.name == "Alpha", "a value is a snapshot"
    with store(acme, read_only=True) as uow:
        assert [saved.name for saved in uow.lists.lists_of(ana.id)] == [accounts.name, leads.name, "Alpha 2"]
        assert uow.lists.get(alpha.id) == renamed
        assert {saved.id for saved in uow.lists.system_lists()} == {accounts.id, leads.id}
        assert [(item.crm_table, item.crm_id, item.reason) for item in uow.lists.items(accounts.id)] == [
            ("account", "a1", "accounts_of_open_opportunities")
        ]
        assert [(item.crm_table, item.crm_id) for item in uow.lists.items(alpha.id)] == [("account", "a1")]
    globex = organization(store, "globex")
    with store(globex) as uow:
        bea = uow.users.add(email="bea@globex.test", display_name="Bea")
        uow.commit()
    with store(acme) as uow:
        for user_id in (uuid.uuid4(), bea.id):
            with pytest.raises(RowNotFoundError):
                uow.lists.create_manual(user_id, "Nobody's")
            with pytest.raises(RowNotFoundError):
                uow.lists.system_list(user_id, ListKind.CRM_LEADS)
        uow.commit()
    with store(acme, read_only=True) as uow:
        assert len(uow.lists.system_lists()) == 2


def test_imported_records_are_found_by_owner_parent_id_and_name(store: StoreAccess) -> None:
    acme = organization(store)
    owner = {"id": "u1", "table": "systemuser"}

    def account(crm_id: str, name: str) -> RecordRow:
        return RecordRow(crm_id, name, "u1", None, 0, {"name": name, "ownerid": owner, "statecode": 0})

    def contact(crm_id: str, name: str, parent: str) -> RecordRow:
        data = {"fullname": name, "parentcustomerid": {"id": parent, "table": "account"}, "statecode": 0}
        return RecordRow(crm_id, name, None, parent, 0, data)

    with store(acme) as uow:
        uow.crm_records.upsert_many("account", [account("a1", "Contoso"), account("a2", "Fabrikam 100%")], generation=1)
        uow.crm_records.upsert_many("contact", [contact("c1", "Carla Fab", "a1")], generation=1)
        opportunity = RecordRow("o1", "Deal", "u1", "a1", 0, {"name": "Deal", "stepname": "3-Propose"})
        uow.crm_records.upsert_many("opportunity", [opportunity], generation=1)
        uow.commit()

    with store(acme, read_only=True) as uow:
        queries = uow.crm_record_queries
        assert sorted(record.crm_id for record in queries.by_owners("account", ["U1"])) == ["a1", "a2"]
        assert [record.crm_id for record in queries.by_parents("contact", ["A1"])] == ["c1"]
        assert [record.crm_id for record in queries.by_ids("account", ["A2", "nope"])] == ["a2"]
        assert queries.names([("account", "a1"), ("contact", "c1"), ("lead", "l9")]) == {
            ("account", "a1"): "Contoso",
            ("contact", "c1"): "Carla Fab",
        }
        assert queries.search(("account", "contact"), "FAB") == [
            ("contact", "c1", "Carla Fab"),
            ("account", "a2", "Fabrikam 100%"),
        ]
        assert queries.search(("account",), "100%") == [("account", "a2", "Fabrikam 100%")]
        assert queries.search(("account",), "_") == []
        assert queries.distinct_step_names() == ["3-Propose"]


def test_what_incremental_auto_save_reads_and_writes_behaves_alike(store: StoreAccess) -> None:
    acme = organization(store)
    opportunity = {
        "name": "Deal",
        "statecode": 0,
        "ownerid": {"id": "u1", "table": "systemuser"},
        "parentcontactid": {"id": "C1", "table": "contact"},
        "originatingleadid": {"id": "l1", "table": "lead"},
    }
    with store(acme) as uow:
        uow.crm_records.upsert_many("opportunity", [RecordRow("o1", "Deal", "u1", None, 0, opportunity)], generation=1)
        uow.crm_records.upsert_many(
            "account",
            [RecordRow("a1", "Contoso", "u1", None, 1, {"statecode": 1, "ownerid": opportunity["ownerid"]})],
            generation=1,
        )
        user = uow.users.add(email="ana@acme.test", display_name="Ana")
        saved = uow.lists.system_list(user.id, ListKind.CRM_ACCOUNTS)
        uow.lists.replace_items(saved.id, [("account", "a1", "accounts_owned"), ("account", "a2", "accounts_owned")])
        uow.commit()

    with store(acme) as uow:
        queries = uow.crm_record_queries
        assert [o.crm_id for o in queries.naming("opportunity", ("parentcontactid",), ["c1"])] == ["o1"]
        assert [o.crm_id for o in queries.naming("opportunity", ("customerid", "originatingleadid"), ["L1"])] == ["o1"]
        assert queries.naming("opportunity", ("customerid",), ["c1"]) == []
        (account,) = queries.by_ids("account", ["a1"], data=False)
        assert (account.owner_id, dict(account.data)) == ("u1", {"statecode": 1})
        assert dict(queries.by_ids("opportunity", ["o1"])[0].data) == opportunity
        states = uow.crm_records.stored_states("opportunity", ["o1", "gone"])
        assert list(states) == ["o1"]
        assert (states["o1"].owner_id, dict(states["o1"].data)) == ("u1", opportunity)
        diff = uow.lists.update_items(
            saved.id,
            {("account", "A1"): None, ("account", "a2"): "accounts_of_open_opportunities", ("lead", "l1"): "x"},
        )
        assert (diff.added, diff.removed) == (1, 1)
        assert [(i.crm_table, i.crm_id, i.reason) for i in uow.lists.items(saved.id)] == [
            ("account", "a2", "accounts_of_open_opportunities"),
            ("lead", "l1", "x"),
        ]
        assert uow.lists.auto_save_basis() is None
        uow.lists.save_auto_save_basis(AutoSaveBasis("settings", {str(user.id): "digest"}))
        uow.commit()
    with store(acme, read_only=True) as uow:
        assert uow.lists.auto_save_basis() == AutoSaveBasis("settings", {str(user.id): "digest"})


@pytest.fixture(params=["fake", "sqlite-embedded", "postgresql-procrastinate"])
def job_store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[StoreAccess]:
    """The fake, or the real store with each job engine: the embedded runner's (its import runs, SQLite) and
    procrastinate's (its tables, PostgreSQL)."""
    from salesbridge.store.jobs import JobEngine

    if request.param == "fake":
        yield FakeStore(clock=clock)
        return
    cluster = None
    if request.param == "sqlite-embedded":
        url, engine_kind = f"sqlite:///{tmp_path / 'store.db'}", JobEngine.EMBEDDED
    else:
        cluster = request.getfixturevalue("postgres_cluster")
        name = f"fake_jobs_{uuid.uuid4().hex[:12]}"
        cluster.execute_autocommit(f'CREATE DATABASE "{name}"')
        url, engine_kind = cluster.url(name), JobEngine.PROCRASTINATE
    migrate(url)
    engine = create_engine_for(url)
    yield UnitOfWorkFactory(
        create_session_factory(engine), cipher=CredentialCipher(generate_key()), clock=clock, job_engine=engine_kind
    )
    engine.dispose()
    if cluster is not None:
        with contextlib.suppress(psycopg.Error):
            cluster.execute_autocommit(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_import_jobs_are_deferred_in_the_transaction_one_waits_and_they_are_cancelled_and_retried(
    job_store: StoreAccess,
) -> None:
    from salesbridge.domain.jobs import IMPORT_ORGANIZATION, JobState, import_queueing_lock, organization_lock

    store = job_store
    acme, globex = organization(store, "acme"), organization(store, "globex")

    def defer(uow: UnitOfWork) -> None:
        uow.import_runs.enqueue(reason="sync now")
        uow.jobs.defer(
            IMPORT_ORGANIZATION,
            args={"organization_id": str(uow.organization_id), "reason": "sync now"},
            lock=organization_lock(uow.organization_id),
            queueing_lock=import_queueing_lock(uow.organization_id),
        )

    with store(acme) as uow:
        defer(uow)  # never committed
    with store(acme, read_only=True) as uow:
        assert uow.jobs.list() == []
    for _ in range(3):
        with store(acme) as uow:
            defer(uow)
            uow.commit()
    with store(globex) as uow:
        defer(uow)
        uow.commit()

    with store(acme, read_only=True) as uow:
        [job] = uow.jobs.list()
        assert uow.jobs.get(job.id) == job
    assert (job.task, job.state, job.organization_id) == (IMPORT_ORGANIZATION, JobState.QUEUED, acme)
    assert store.jobs.find(job.id) == job
    assert {found.organization_id for found in store.jobs.list()} == {acme, globex}
    assert [found.organization_id for found in store.jobs.list(organization_id=globex)] == [globex]
    with store(globex) as uow:
        assert uow.jobs.get(job.id) is None, "another organization's job is not there"
        assert not uow.jobs.cancel(job.id)

    with store(acme) as uow:
        assert uow.jobs.cancel(job.id)
        uow.commit()
    with store(acme) as uow:
        assert not uow.jobs.cancel(job.id), "ended already"
        cancelled = uow.jobs.get(job.id)
        assert cancelled is not None
        assert cancelled.state is JobState.CANCELLED
        retried = uow.jobs.retry(job.id)
        uow.commit()
    assert retried is not None
    assert (retried.task, retried.state) == (IMPORT_ORGANIZATION, JobState.QUEUED)
    assert [found.state for found in store.jobs.list(organization_id=acme, states=[JobState.QUEUED])] == [
        JobState.QUEUED
    ]


# ------------------------------------------------------------------ the workspace's own people and companies


def test_people_and_companies_are_upserted_by_external_id_idempotently_and_seen_by_their_organization_only(
    store: StoreAccess, clock: FakeClock
) -> None:
    acme, globex = organization(store), organization(store, "globex")
    with store(acme) as uow:
        counts = uow.companies.upsert_many(
            [Company("c1", "Contoso", domain="Contoso.com"), Company("c2", "Fabrikam", employee_count=40)]
        )
        contoso = uow.companies.get_by_external_id("c1")
        uow.commit()
    assert counts == UpsertCounts(inserted=2)
    assert contoso is not None
    assert contoso.id is not None
    assert contoso.domain == "contoso.com"
    people = [
        Person("p1", first_name="Ana", last_name="López", company_id=contoso.id, company_name="Contoso",
               emails=("ana@contoso.com",), past_companies=("Fabrikam",)),
        Person("p2", "Bob Smith", headline="CTO", phones=("+44 20 7946 0000",)),
        Person("p3", "Carla Díaz", source="csv"),
    ]  # fmt: skip
    with store(acme) as uow:
        assert uow.people.upsert_many(people) == UpsertCounts(inserted=3)
        uow.commit()
    first_stamp = clock()
    clock.advance(timedelta(minutes=5))
    with store(acme) as uow:
        assert uow.people.upsert_many(people) == UpsertCounts(unchanged=3)
        changed = [dataclasses.replace(people[1], headline="CEO"), Person("p4", "Dan Wu"), people[2], people[2]]
        assert uow.people.upsert_many(changed) == UpsertCounts(inserted=1, updated=1, unchanged=1)
        uow.commit()
    with store(acme, read_only=True) as uow:
        ana, bob = uow.people.get_by_external_id("p1"), uow.people.get_by_external_id("p2")
        assert ana is not None
        assert ana.id is not None
        assert bob is not None
        assert ana == people[0]
        assert ana.full_name == "Ana López"
        assert ana.emails == ("ana@contoso.com",)
        assert ana.updated_at == first_stamp
        assert bob.headline == "CEO"
        assert bob.updated_at == clock()
        assert uow.people.get(ana.id) == ana
        assert uow.companies.get(contoso.id) == contoso
        assert uow.people.count() == 4
        assert uow.companies.count() == 2
    with store(globex) as uow:
        assert uow.people.get(ana.id) is None
        assert uow.people.get_by_external_id("p1") is None
        assert uow.companies.get(contoso.id) is None
        assert uow.companies.search("contoso") == []
        assert uow.people.search() == []
        assert uow.people.count() == 0
        # Another organization's company cannot be a person's company: nothing of the batch is written.
        with pytest.raises(InvalidInputError) as refused:
            uow.people.upsert_many([Person("p9", "Eve"), Person("p1", "Ana", company_id=contoso.id)])
        assert refused.value.field == "company_id"
        assert uow.people.count() == 0
        # The same external ids are free in another organization.
        assert uow.people.upsert_many(people[1:]) == UpsertCounts(inserted=2)
        uow.commit()
    with store(acme, read_only=True) as uow:
        assert uow.people.count() == 4


def test_company_ids_are_found_by_external_id_within_the_organization_only(store: StoreAccess) -> None:
    acme, globex = organization(store), organization(store, "globex")
    with store(acme) as uow:
        uow.companies.upsert_many([Company(f"c{n}", f"Company {n}") for n in range(1_200)])
        uow.commit()
    with store(globex) as uow:
        uow.companies.upsert_many([Company("g1", "Globex")])
        uow.commit()

    with store(acme, read_only=True) as uow:
        found = uow.companies.ids_by_external_ids([f"c{n}" for n in range(0, 1_200, 3)] + ["g1", "nobody", "c0"])
        contoso = uow.companies.get_by_external_id("c0")
    with store(globex, read_only=True) as uow:
        theirs = uow.companies.ids_by_external_ids(["c0", "g1"])

    assert set(found) == {f"c{n}" for n in range(0, 1_200, 3)}
    assert contoso is not None
    assert found["c0"] == contoso.id
    assert set(theirs) == {"g1"}


def test_an_upload_keeps_its_file_until_its_load_ends_and_is_taken_once(store: StoreAccess, clock: FakeClock) -> None:
    acme, globex = organization(store), organization(store, "globex")
    with store(acme) as uow:
        first = uow.uploads.add(kind=CsvKind.PEOPLE, file_name="a.csv", content=b"id\n1\n", created_by="ada")
        uow.commit()
    clock.advance(timedelta(seconds=1))
    with store(acme) as uow:
        second = uow.uploads.add(kind=CsvKind.COMPANIES, file_name="b.csv", content=b"id\n2\n", created_by="ada")
        uow.commit()
    assert store.queued_uploads() == [(acme, first.id), (acme, second.id)]

    with store(acme) as uow:
        assert uow.uploads.start(first.id)
        assert not uow.uploads.start(first.id)  # taken once
        assert uow.uploads.content(first.id) == b"id\n1\n"
        uow.uploads.record_progress(first.id, UploadProgress(bytes_read=7, lines_read=2, rows_read=1, inserted=1))
        uow.commit()
    with store(acme) as uow:
        problem = LineProblem(3, "The line has no id.")
        uow.uploads.finish(
            first.id, progress=UploadProgress(bytes_read=7, inserted=1, refused=1), problems=[problem], warnings=[]
        )
        uow.commit()
    with store(globex, read_only=True) as uow:
        assert uow.uploads.get(first.id) is None
        assert uow.uploads.recent() == []
        assert not uow.uploads.content(second.id)

    with store(acme, read_only=True) as uow:
        done = uow.uploads.get(first.id)
        assert done is not None
        assert (done.state, done.progress.inserted, done.progress.refused) == (UploadState.SUCCEEDED, 1, 1)
        assert done.problems == (problem,)
        assert done.started_at is not None
        assert done.finished_at == clock()
        assert uow.uploads.content(first.id) is None  # emptied once its load ended
        assert [upload.id for upload in uow.uploads.recent()] == [second.id, first.id]
        assert (uow.uploads.get(second.id) or first).kind is CsvKind.COMPANIES
    assert store.queued_uploads() == [(acme, second.id)]


def test_people_and_companies_are_searched_by_name_company_title_and_place_in_a_stable_order(
    store: StoreAccess,
) -> None:
    acme = organization(store)
    with store(acme) as uow:
        uow.people.upsert_many(
            [
                Person("p1", "Ana López", headline="Head of Sales", company_name="Contoso", city="Madrid"),
                Person("p2", "Bob Smith", headline="CTO", company_name="Fabrikam", city="London", country="UK"),
                Person("p3", "Carla Díaz", headline="Sales manager", company_name="Contoso Ltd.", region="Andalucía"),
                Person("p4", "Dan 100% Wu", past_companies=("Contoso",)),
            ]
        )
        uow.companies.upsert_many(
            [
                Company("c1", "Contoso", domain="contoso.com", industry="Software", city="Seattle"),
                Company("c2", "Fabrikam", domain="fabrikam.example", industry="Manufacturing"),
            ]
        )
        uow.commit()

    def names(found: list[Person]) -> list[str]:
        return [person.full_name for person in found]

    with store(acme, read_only=True) as uow:
        assert names(uow.people.search("contoso")) == ["Ana López", "Carla Díaz", "Dan 100% Wu"]
        assert names(uow.people.search("SALES  madrid")) == ["Ana López"]
        assert names(uow.people.search("LÓPEZ")) == ["Ana López"]
        assert names(uow.people.search("andalucía manager")) == ["Carla Díaz"]
        assert names(uow.people.search("uk cto")) == ["Bob Smith"]
        assert names(uow.people.search("100%")) == ["Dan 100% Wu"]
        assert names(uow.people.search("_")) == []
        assert names(uow.people.search("sales london")) == []
        assert uow.people.count("contoso") == 3
        assert uow.people.count() == 4
        pages = [names(uow.people.search(limit=3, offset=offset)) for offset in (0, 3)]
        assert pages == [["Ana López", "Bob Smith", "Carla Díaz"], ["Dan 100% Wu"]]
        assert [company.name for company in uow.companies.search("software seattle")] == ["Contoso"]
        assert [company.name for company in uow.companies.search("fabrikam.example")] == ["Fabrikam"]
        assert [company.name for company in uow.companies.search(limit=1, offset=1)] == ["Fabrikam"]
        assert uow.companies.count("manufacturing") == 1


def test_ten_thousand_people_are_upserted_in_one_transaction_and_nothing_is_kept_without_a_commit(
    store: StoreAccess,
) -> None:
    acme = organization(store)
    people = [Person(f"p{index}", f"Person {index}", emails=(f"p{index}@example.com",)) for index in range(10_000)]
    with store(acme) as uow:
        assert uow.people.upsert_many(people) == UpsertCounts(inserted=10_000)
    with store(acme) as uow:
        assert uow.people.count() == 0
        assert uow.people.upsert_many(people) == UpsertCounts(inserted=10_000)
        uow.commit()
    with store(acme) as uow:
        assert uow.people.upsert_many(people) == UpsertCounts(unchanged=10_000)
        assert uow.people.count("person 9999") == 1


def test_activities_are_captured_once_claimed_under_a_lease_and_requeued_by_state(
    store: StoreAccess, clock: FakeClock
) -> None:
    acme = organization(store)
    with store(acme) as uow:
        ana = uow.users.add(email="ana@acme.test", display_name="Ana").id
        uow.people.upsert_many([Person(external_id="p1", first_name="Pat", last_name="Lee")])
        person = uow.people.get_by_external_id("p1")
        assert person is not None

        def draft(client_id: str) -> ActivityDraft:
            return ActivityDraft(
                client_id=client_id,
                item=DataItem.NOTE,
                person_id=person.id,
                company_id=None,
                subject=None,
                body="Met at the fair",
                direction=Direction.OUTGOING,
                occurred_at=clock(),
            )

        first, created = uow.activities.add(ana, draft("a"), state=DeliveryState.QUEUED, hold=None)
        again, created_again = uow.activities.add(ana, draft("a"), state=DeliveryState.QUEUED, hold=None)
        clock.advance(timedelta(seconds=1))
        second, _ = uow.activities.add(ana, draft("b"), state=DeliveryState.QUEUED, hold=None)
        held, _ = uow.activities.add(ana, draft("c"), state=DeliveryState.WAITING_FOR_SEAT, hold=SeatHold.CRM_SYNC_OFF)
        uow.commit()
    assert (created, created_again, again.id) == (True, False, first.id)

    lease = timedelta(minutes=5)
    with store(acme) as uow:
        assert [a.id for a in uow.activities.claim(now=clock(), lease=lease, limit=10)] == [first.id, second.id]
        uow.commit()
    with store(acme) as uow:
        assert uow.activities.claim(now=clock(), lease=lease, limit=10) == [], "leased"
        retry_at = clock() + timedelta(seconds=30)
        outcome = FailureOutcome(DeliveryState.FAILING, retry_at)
        uow.activities.mark_failed(first.id, outcome=outcome, error_code="0x80040216", error_message="down")
        uow.activities.mark_delivered({second.id: (1, Regarding("contact", "c1"))}, now=clock())
        assert uow.activities.requeue(states=(DeliveryState.WAITING_FOR_SEAT,)) == 1
        uow.commit()
    with store(acme) as uow:
        assert [a.id for a in uow.activities.claim(now=clock(), lease=lease, limit=10)] == [held.id]
        assert [a.id for a in uow.activities.claim(now=retry_at, lease=lease, limit=10)] == [first.id]
        uow.commit()
        failed, delivered = uow.activities.get(first.id).delivery, uow.activities.get(second.id).delivery
    assert (failed.state, failed.attempts, failed.error_code) == (DeliveryState.FAILING, 1, "0x80040216")
    assert (delivered.state, delivered.regarding, delivered.delivered_version) == (
        DeliveryState.DELIVERED,
        Regarding("contact", "c1"),
        1,
    )


def test_the_activities_failing_with_a_code_are_found_due_and_put_off_exactly_and_what_is_due_is_told(
    store: StoreAccess, clock: FakeClock
) -> None:
    acme = organization(store)
    later = clock() + timedelta(minutes=1)
    company = uuid.uuid4()
    with store(acme) as uow:
        ana = uow.users.add(email="ana@acme.test", display_name="Ana").id

        def add(client_id: str, item: DataItem) -> uuid.UUID:
            draft = ActivityDraft(
                client_id=client_id,
                item=item,
                person_id=None,
                company_id=company,
                subject=None,
                body="…",
                direction=Direction.OUTGOING,
                occurred_at=clock(),
            )
            return uow.activities.add(ana, draft, state=DeliveryState.QUEUED, hold=None)[0].id

        inmail, message, other, parked = (
            add("i", DataItem.INMAIL),
            add("m", DataItem.MESSAGE),
            add("o", DataItem.NOTE),
            add("p", DataItem.MESSAGE),
        )
        assert uow.activities.any_due(now=clock()), "queued"
        assert not uow.activities.failing_with("crm_app_missing")
        assert uow.activities.most_attempts("crm_app_missing") == 0
        for activity_id in (inmail, message, inmail):
            outcome = FailureOutcome(DeliveryState.FAILING, later)
            uow.activities.mark_failed(activity_id, outcome=outcome, error_code="crm_app_missing", error_message="")
        uow.activities.mark_failed(
            other, outcome=FailureOutcome(DeliveryState.FAILING, clock()), error_code="0x1", error_message=""
        )
        uow.activities.mark_failed(
            parked, outcome=FailureOutcome(DeliveryState.PARKED, None), error_code="crm_app_missing", error_message=""
        )
        uow.commit()
    with store(acme) as uow:
        assert uow.activities.any_due(now=clock()), "the other one's attempt came"
        assert uow.activities.failing_with("crm_app_missing")
        assert not uow.activities.failing_with("crm_app_missing", due_by=clock())
        assert uow.activities.failing_with("crm_app_missing", due_by=later)
        assert uow.activities.most_attempts("crm_app_missing") == 2
        assert uow.activities.failing_items("crm_app_missing") == {DataItem.INMAIL, DataItem.MESSAGE}
        assert uow.activities.reschedule_failing("crm_app_missing", next_attempt_at=later, attempts=5) == 2
        assert uow.activities.reschedule_failing("0x1", next_attempt_at=later + timedelta(minutes=1)) == 1
        uow.commit()
    with store(acme, read_only=True) as uow:
        assert not uow.activities.any_due(now=clock()), "nothing queued, no attempt come"
        assert uow.activities.any_due(now=later)
        moved = {i: uow.activities.get(i).delivery for i in (inmail, message, other, parked)}
    assert [(moved[i].next_attempt_at, moved[i].attempts) for i in (inmail, message)] == [(later, 5)] * 2
    assert (moved[other].next_attempt_at, moved[other].attempts) == (later + timedelta(minutes=1), 1)
    assert (moved[parked].state, moved[parked].next_attempt_at) == (DeliveryState.PARKED, None)
    other_organization = organization(store, "globex")
    with store(other_organization, read_only=True) as uow:
        assert not uow.activities.failing_with("crm_app_missing")
        assert not uow.activities.any_due(now=later)


def test_after_matching_only_the_activities_whose_person_or_company_is_tied_now_go_back_in_the_queue(
    store: StoreAccess, clock: FakeClock
) -> None:
    """What a waiting activity needs, as the drainer regards it: its person tied (a contact or lead), else its
    person's company tied (an account), or its company tied. The others stay waiting: a matching run does not make
    the drain decide again every activity on people the CRM lacks."""
    acme = organization(store)
    with store(acme) as uow:
        ana = uow.users.add(email="ana@acme.test", display_name="Ana").id
        uow.companies.upsert_many(
            [Company(external_id="k1", name="Fabrikam"), Company(external_id="k2", name="Contoso")]
        )
        fabrikam, contoso = uow.companies.get_by_external_id("k1"), uow.companies.get_by_external_id("k2")
        assert fabrikam is not None
        assert contoso is not None
        uow.people.upsert_many(
            [
                Person(external_id="tied", first_name="Tia", last_name="Tied"),
                Person(external_id="via", first_name="Via", last_name="Company", company_id=fabrikam.id),
                Person(external_id="none", first_name="No", last_name="Match", company_id=contoso.id),
                Person(external_id="review", first_name="In", last_name="Review"),
            ]
        )
        people = {key: uow.people.get_by_external_id(key) for key in ("tied", "via", "none", "review")}
        waiting: dict[str, uuid.UUID] = {}
        for key, person_id, company_id in [
            *((key, person.id, None) for key, person in people.items() if person is not None),
            ("fabrikam", None, fabrikam.id),
            ("contoso", None, contoso.id),
        ]:
            draft = ActivityDraft(
                client_id=key,
                item=DataItem.NOTE,
                person_id=person_id,
                company_id=company_id,
                subject=None,
                body="Met at the fair",
                direction=Direction.OUTGOING,
                occurred_at=clock(),
            )
            activity, _ = uow.activities.add(ana, draft, state=DeliveryState.WAITING_FOR_MATCH, hold=None)
            waiting[key] = activity.id
        tied_person = people["tied"]
        review_person = people["review"]
        assert tied_person is not None
        assert review_person is not None

        def link(crm_table: str, crm_id: str, target: uuid.UUID | None, band: LinkBand) -> MatchLink:
            return MatchLink(
                crm_table=crm_table,
                crm_id=crm_id,
                target_kind=TargetKind.COMPANY if crm_table == "account" else TargetKind.PERSON,
                target_id=target,
                band=band,
                probability=0.9,
                decision=None,
                origin=LinkOrigin.SCORER,
                decided_by=None,
                decided_at=clock(),
            )

        uow.matches.put(
            [
                link("contact", "c1", tied_person.id, LinkBand.MATCH),
                link("account", "a1", fabrikam.id, LinkBand.MATCH),
                link("contact", "c2", review_person.id, LinkBand.REVIEW),
                link("account", "a2", contoso.id, LinkBand.NO_MATCH),
            ]
        )
        uow.commit()

    with store(acme) as uow:
        assert uow.activities.requeue_matched() == 3
        uow.commit()
    with store(acme, read_only=True) as uow:
        states = {key: uow.activities.get(activity_id).delivery.state for key, activity_id in waiting.items()}
    queued, still = DeliveryState.QUEUED, DeliveryState.WAITING_FOR_MATCH
    assert states == {
        "tied": queued,
        "via": queued,
        "fabrikam": queued,
        "none": still,
        "review": still,
        "contoso": still,
    }


def test_an_activity_edited_while_delivered_goes_out_again_and_a_stale_edit_changes_nothing(
    store: StoreAccess, clock: FakeClock
) -> None:
    acme = organization(store)
    author = uuid.uuid4()
    draft = ActivityDraft(
        client_id="a",
        item=DataItem.INMAIL,
        person_id=uuid.uuid4(),
        company_id=None,
        subject="Hello",
        body="First text",
        direction=Direction.INCOMING,
        occurred_at=clock(),
    )
    contact = Regarding("contact", "c1")
    with store(acme) as uow:
        activity, _ = uow.activities.add(author, draft, state=DeliveryState.QUEUED, hold=None)
        (claimed,) = uow.activities.claim(now=clock(), lease=timedelta(minutes=5), limit=10)
        edited = uow.activities.edit(activity.id, subject=None, body="Second text", expected_version=1)
        uow.activities.mark_delivered({activity.id: (claimed.version, contact)}, now=clock())
        uow.commit()
    assert edited.version == 2
    with store(acme) as uow:
        after_race = uow.activities.get(activity.id)
        with pytest.raises(ActivityChangedError):
            uow.activities.edit(activity.id, subject=None, body="Stale", expected_version=1)
        uow.activities.mark_delivered({activity.id: (2, contact)}, now=clock())
        uow.activities.edit(activity.id, subject="Again", body="Third text", expected_version=2)
        uow.commit()
    assert (after_race.delivery.state, after_race.delivery.delivered_version) == (DeliveryState.QUEUED, 1)
    with store(acme, read_only=True) as uow:
        now = uow.activities.get(activity.id)
        (count,) = uow.activities.status()
    assert (now.version, now.subject, now.body, now.delivery.state) == (3, "Again", "Third text", DeliveryState.QUEUED)
    assert (count.item, count.author_user_id, count.state, count.count) == (
        DataItem.INMAIL,
        author,
        DeliveryState.QUEUED,
        1,
    )


def test_an_edit_queues_a_parked_activity_again_with_its_attempts_reset_and_leaves_a_failing_one_be(
    store: StoreAccess, clock: FakeClock
) -> None:
    acme = organization(store)
    author = uuid.uuid4()

    def draft(client_id: str) -> ActivityDraft:
        return ActivityDraft(
            client_id=client_id,
            item=DataItem.CALL,
            person_id=uuid.uuid4(),
            company_id=None,
            subject=None,
            body="Called",
            direction=Direction.OUTGOING,
            occurred_at=clock(),
        )

    with store(acme) as uow:
        parked, _ = uow.activities.add(author, draft("p"), state=DeliveryState.QUEUED, hold=None)
        failing, _ = uow.activities.add(author, draft("f"), state=DeliveryState.QUEUED, hold=None)
        later = clock() + timedelta(minutes=5)
        for _ in range(2):
            uow.activities.mark_failed(
                parked.id, outcome=FailureOutcome(DeliveryState.PARKED, None), error_code="E", error_message="No"
            )
        uow.activities.mark_failed(
            failing.id, outcome=FailureOutcome(DeliveryState.FAILING, later), error_code="E", error_message="Busy"
        )
        uow.commit()
    with store(acme) as uow:
        edited = uow.activities.edit(parked.id, subject=None, body="Shorter", expected_version=1)
        still = uow.activities.edit(failing.id, subject=None, body="Also", expected_version=1)
        uow.commit()
    assert (edited.delivery.state, edited.delivery.attempts, edited.delivery.next_attempt_at) == (
        DeliveryState.QUEUED,
        0,
        clock(),
    )
    assert (still.delivery.state, still.delivery.attempts, still.delivery.next_attempt_at) == (
        DeliveryState.FAILING,
        1,
        later,
    )
