"""The in-memory FakeStore keeps the store's contracts that the services' fast tests rely on: the same checks run
against the fake and the real store on SQLite and PostgreSQL, so a rule tested on the fake holds on the store."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr
from sqlalchemy.exc import DBAPIError
from tests.fakes.store import FakeClock, FakeStore

from salesbridge.domain.seat_matching import MatchOutcome
from salesbridge.domain.sync_runs import STOPPED_WORKER_ERROR, ImportSettings
from salesbridge.domain.workspace import CaBundle, ConnectionState, CrmUserValues, ImportState, SeatState
from salesbridge.errors import RowNotFoundError, StoreError, UniqueConstraintError
from salesbridge.services.ports import StoreAccess, UnitOfWork
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
