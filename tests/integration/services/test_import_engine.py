"""The import engine against a demo sandbox over TLS, on SQLite and PostgreSQL: full import, deltas (changes,
deletions, owner changes), an expired delta token healing itself, resuming an interrupted read, and a table
without change tracking read through its modifiedon cursor."""

from __future__ import annotations

import gc
import sqlite3
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractContextManager, closing
from datetime import UTC, datetime

import httpx
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from tests.integration.services.conftest import RunningSandbox, _serve

from salesbridge.crm.dynamics import DynamicsConnector
from salesbridge.domain.crm_import import IMPORTED_TABLES
from salesbridge.domain.sync_runs import RecordRow
from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.catalogue.standard_tables import build_standard_catalogue
from salesbridge.sandbox.seeds.seeding import parse_seed
from salesbridge.services.connecting import create_organization
from salesbridge.services.ports import CrmSessionFactory
from salesbridge.store.tables import SyncMode
from salesbridge.store.uow import SqlAlchemyUnitOfWork, UnitOfWorkFactory, utc_now
from salesbridge.sync.engine import ImportEngine


@pytest.fixture
async def crm(fresh_demo: RunningSandbox, sessions: CrmSessionFactory) -> AsyncIterator[DynamicsConnector]:
    session = sessions(fresh_demo.connected_credentials())
    assert isinstance(session, DynamicsConnector)
    yield session
    await session.close()


@pytest.fixture
def org(store: UnitOfWorkFactory) -> uuid.UUID:
    return create_organization(store, slug="acme", seats=5)


def sandbox_count(sandbox: RunningSandbox, table: str) -> int:
    count: int = sandbox.sandbox.services.state.storage.scalar(f'SELECT count(*) FROM "{table}"')
    return count


def stored_count(store: UnitOfWorkFactory, org: uuid.UUID, table: str) -> int:
    with store(org) as uow:
        return uow.crm_records.count(table)


def engine(store: UnitOfWorkFactory, org: uuid.UUID, crm: DynamicsConnector, **options: object) -> ImportEngine:
    return ImportEngine(store, org, crm.reader, crm.metadata, clock=utc_now, page_size=50, **options)  # type: ignore[arg-type]


async def test_a_full_import_then_an_empty_delta(
    store: UnitOfWorkFactory, org: uuid.UUID, crm: DynamicsConnector, fresh_demo: RunningSandbox
) -> None:
    first = await engine(store, org, crm).run()

    for table in IMPORTED_TABLES:
        assert stored_count(store, org, table) == sandbox_count(fresh_demo, table), table
    assert all(report.full_read for report in first.tables)
    second = await engine(store, org, crm).run()
    assert (second.rows_imported, second.rows_deleted) == (0, 0)
    assert not any(report.full_read for report in second.tables)
    with store(org) as uow:
        states = {state.table_name: state for state in uow.sync_states.all()}
        opportunity = uow.crm_records.records("opportunity", limit=1)[0]
    assert all(state.delta_token and state.last_success_at for state in states.values())
    assert states["contact"].row_count == sandbox_count(fresh_demo, "contact")
    assert opportunity.owner_id is not None
    assert isinstance(opportunity.data["ownerid"], dict)


async def test_changes_deletions_and_owner_changes_arrive_with_the_next_sync(
    store: UnitOfWorkFactory, org: uuid.UUID, crm: DynamicsConnector, fresh_demo: RunningSandbox
) -> None:
    await engine(store, org, crm).run()
    with store(org) as uow:
        contact, gone = uow.crm_records.records("contact", limit=2)
        opportunity = uow.crm_records.records("opportunity", limit=1)[0]
        owners = {record.crm_id for record in uow.crm_records.records("systemuser")}
    new_owner = next(owner for owner in sorted(owners) if owner != opportunity.owner_id)
    await crm.writer.update("contact", contact.crm_id, {"jobtitle": "Chief Explorer"})
    await crm.writer.delete("contact", gone.crm_id)
    await crm.writer.update("opportunity", opportunity.crm_id, {"ownerid": _owner(new_owner)})
    added = str(uuid.uuid4())
    await crm.writer.create("contact", {"firstname": "Nora", "lastname": "New"}, record_id=added)

    report = await engine(store, org, crm).run()

    with store(org) as uow:
        changed = uow.crm_records.get("contact", contact.crm_id)
        moved = uow.crm_records.get("opportunity", opportunity.crm_id)
        assert uow.crm_records.get("contact", gone.crm_id) is None
    assert changed is not None
    assert changed.data["jobtitle"] == "Chief Explorer"
    assert moved is not None
    assert moved.owner_id == new_owner
    assert report.rows_deleted == 1
    assert stored_count(store, org, "contact") == sandbox_count(fresh_demo, "contact")
    with store(org) as uow:
        assert uow.crm_records.get("contact", added) is not None
        states = {state.table_name: state for state in uow.sync_states.all()}
    assert states["contact"].row_count == sandbox_count(fresh_demo, "contact"), "one added, one deleted, one changed"
    assert states["opportunity"].row_count == sandbox_count(fresh_demo, "opportunity")


async def test_the_engine_leaves_the_process_wide_collector_threshold_to_the_entry_point(
    store: UnitOfWorkFactory, org: uuid.UUID, crm: DynamicsConnector
) -> None:
    before = gc.get_threshold()
    seen: set[tuple[int, int, int]] = set()

    report = await engine(store, org, crm, progress=lambda table, rows: seen.add(gc.get_threshold())).run()

    assert report.rows_imported > 0
    assert seen == {before}, "the threshold is process-wide: bootstrap.fewer_collections is the entry point's call"


def _owner(systemuser_id: str) -> object:
    from salesbridge.crm.ports import LookupValue

    return LookupValue(systemuser_id, "systemuser")


async def test_an_expired_delta_token_heals_with_a_full_read_that_removes_what_vanished(
    store: UnitOfWorkFactory, org: uuid.UUID, crm: DynamicsConnector, fresh_demo: RunningSandbox
) -> None:
    await engine(store, org, crm, tables=("contact",)).run()
    with store(org) as uow:
        gone = uow.crm_records.records("contact", limit=1)[0].crm_id
    await crm.writer.delete("contact", gone)
    admin = {"X-Sandbox-Admin-Token": fresh_demo.sandbox.services.admin_token}
    with httpx.Client(verify=ssl.create_default_context(cafile=str(fresh_demo.ca_bundle))) as client:
        shifted = client.post(f"{fresh_demo.org_url}/_sandbox/shift-clock", json={"days": 120}, headers=admin)
    assert shifted.status_code < 300, shifted.text

    report = await engine(store, org, crm, tables=("contact",)).run()

    assert report.tables[0].resynced
    assert report.tables[0].full_read
    assert stored_count(store, org, "contact") == sandbox_count(fresh_demo, "contact")
    with store(org) as uow:
        assert uow.crm_records.get("contact", gone) is None
        assert uow.sync_states.all()[0].reading_replaces_rows, "the re-read started over stored rows"


class _RecordingRecords:
    """The real store's records, noting what the engine says of each page it writes."""

    def __init__(self, records: object, notes: list[tuple[str, bool]]) -> None:
        self._records, self._notes = records, notes

    def upsert_many(self, table: str, rows: Sequence[RecordRow], *, generation: int, new: bool = False) -> int:
        self._notes.append((table, new))
        written: int = self._records.upsert_many(table, rows, generation=generation, new=new)  # type: ignore[attr-defined]
        return written

    def __getattr__(self, name: str) -> object:
        return getattr(self._records, name)


class _RecordingUnitOfWork:
    def __init__(self, uow: SqlAlchemyUnitOfWork, notes: list[tuple[str, bool]]) -> None:
        self._uow, self._notes = uow, notes

    def __enter__(self) -> _RecordingUnitOfWork:
        self._uow.__enter__()
        self.crm_records = _RecordingRecords(self._uow.crm_records, self._notes)
        return self

    def __exit__(self, *exc: object) -> None:
        self._uow.__exit__(*exc)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self._uow, name)


class RecordingStore:
    """The real store (injected into the engine), recording ``(table, new)`` for every page upserted."""

    def __init__(self, store: UnitOfWorkFactory) -> None:
        self._store = store
        self.notes: list[tuple[str, bool]] = []

    def bulk_writes(self) -> AbstractContextManager[None]:
        return self._store.bulk_writes()

    def __call__(self, organization_id: uuid.UUID, *, read_only: bool = False) -> _RecordingUnitOfWork:
        return _RecordingUnitOfWork(self._store(organization_id, read_only=read_only), self.notes)


async def test_only_a_first_read_of_a_table_without_rows_tells_the_store_its_rows_are_new(
    store: UnitOfWorkFactory, org: uuid.UUID, crm: DynamicsConnector, fresh_demo: RunningSandbox
) -> None:
    recording = RecordingStore(store)
    reads = ImportEngine(recording, org, crm.reader, crm.metadata, clock=utc_now, page_size=50, tables=("contact",))  # type: ignore[arg-type]
    await reads.run()
    first = list(recording.notes)
    await crm.writer.update("contact", stored_ids(store, org)[0], {"jobtitle": "Changed"})
    recording.notes.clear()
    await reads.run()
    delta = list(recording.notes)
    admin = {"X-Sandbox-Admin-Token": fresh_demo.sandbox.services.admin_token}
    with httpx.Client(verify=ssl.create_default_context(cafile=str(fresh_demo.ca_bundle))) as client:
        shifted = client.post(f"{fresh_demo.org_url}/_sandbox/shift-clock", json={"days": 120}, headers=admin)
    assert shifted.status_code < 300, shifted.text
    recording.notes.clear()
    report = await reads.run()

    assert len(first) > 1
    assert first == [("contact", True)] * len(first), "a first read on no rows: every page new"
    assert delta == [("contact", False)], "a delta page may meet stored rows"
    assert report.tables[0].resynced
    assert recording.notes == [("contact", False)] * len(first), "a re-read over stored rows upserts"
    assert stored_count(store, org, "contact") == sandbox_count(fresh_demo, "contact")


def stored_ids(store: UnitOfWorkFactory, org: uuid.UUID) -> list[str]:
    with store(org) as uow:
        return [record.crm_id for record in uow.crm_records.records("contact")]


class SimulatedCrashError(Exception):
    """Stands for a crash between two pages."""


async def test_an_interrupted_full_read_resumes_from_its_last_committed_page(
    store: UnitOfWorkFactory, org: uuid.UUID, crm: DynamicsConnector, fresh_demo: RunningSandbox
) -> None:
    crashed: list[bool] = []

    def crash_on_third_page(uow: SqlAlchemyUnitOfWork) -> None:
        if not crashed and uow.crm_records.count("contact") > 100:  # the third page of 50 is in this transaction
            crashed.append(True)
            # Fail slowly: the next page (a few milliseconds away) is queued for the writer behind this one by
            # then, and must be skipped, or its checkpoint would commit past the rows of this page.
            time.sleep(0.5)
            raise SimulatedCrashError

    with pytest.raises(SimulatedCrashError):
        await engine(store, org, crm, tables=("contact",), guard=crash_on_third_page).run()
    assert stored_count(store, org, "contact") == 100, "two pages of 50 committed, the third rolled back"
    with store(org) as uow:
        state = uow.sync_states.all()[0]
        assert state.resume_link is not None
        assert state.consecutive_failures == 1
        assert not state.reading_replaces_rows, "a first read has nothing older to delete when it completes"

    report = await engine(store, org, crm, tables=("contact",)).run()

    assert report.rows_imported == sandbox_count(fresh_demo, "contact") - 100
    assert stored_count(store, org, "contact") == sandbox_count(fresh_demo, "contact")
    with store(org) as uow:
        assert uow.sync_states.all()[0].consecutive_failures == 0


@pytest.fixture
def untracked(
    tmp_path_factory: pytest.TempPathFactory, sandbox_signing_key: rsa.RSAPrivateKey
) -> Iterator[RunningSandbox]:
    catalogue = build_standard_catalogue()
    catalogue.entity("team").change_tracking_enabled = False
    yield from _serve(
        build_sandbox(signing_key=sandbox_signing_key, seed=parse_seed("demo"), catalogue=catalogue),
        tmp_path_factory.mktemp("tls"),
    )


async def test_a_table_without_change_tracking_is_read_by_its_modifiedon_cursor(
    store: UnitOfWorkFactory, org: uuid.UUID, sessions: CrmSessionFactory, untracked: RunningSandbox
) -> None:
    session = sessions(untracked.connected_credentials())
    assert isinstance(session, DynamicsConnector)
    try:
        first = await engine(store, org, session, tables=("team",)).run()
        again = await engine(store, org, session, tables=("team",)).run()
    finally:
        await session.close()

    assert first.tables[0].mode is SyncMode.MODIFIED_ON
    assert stored_count(store, org, "team") == sandbox_count(untracked, "team") == first.rows_imported
    assert again.rows_imported == 0, "rows at exactly the cursor are not imported twice"
    with store(org) as uow:
        state = uow.sync_states.all()[0]
    assert state.cursor_modified_on is not None
    assert state.cursor_modified_on <= datetime.now(UTC)


async def test_the_import_keeps_the_base_currency_and_each_currencys_iso_code(
    store: UnitOfWorkFactory, org: uuid.UUID, crm: DynamicsConnector, fresh_demo: RunningSandbox
) -> None:
    # Dataverse: organization.basecurrencyid names a transactioncurrency, whose isocurrencycode is the ISO code.
    with store(org) as uow:
        before = uow.crm_connection.currencies()
        uow.crm_connection.save_credentials(
            org_url=fresh_demo.org_url, tenant_id="tenant", client_id="client", client_secret=SecretStr("secret")
        )
        uow.commit()
    euro = str(uuid.uuid4())
    euro_values = {"currencyname": "Euro", "isocurrencycode": "EUR", "currencysymbol": "€", "exchangerate": 0.9}
    await crm.writer.create("transactioncurrency", euro_values, record_id=euro)

    await engine(store, org, crm, tables=("opportunity",)).run()

    with store(org) as uow:
        currencies = uow.crm_connection.currencies()
        opportunity = uow.crm_records.records("opportunity", limit=1)[0]
    assert currencies.code_of(opportunity.data["transactioncurrencyid"]) == "USD"
    assert (before.base, before.codes) == (None, {})
    assert currencies.base == "USD"
    assert currencies.code_of({"id": euro, "table": "transactioncurrency"}) == "EUR"
    assert currencies.code_of(euro.upper()) == "EUR"
    assert sorted(currencies.codes.values()) == ["EUR", "USD"]


class _SweepingRecords(_RecordingRecords):
    """The real store's records, counting the sweep's steps; one of them may fail (a crash between steps)."""

    def __init__(self, records: object, store: SweepWatchingStore) -> None:
        super().__init__(records, store.notes)
        self._store = store

    def sweep_older_generations(
        self, table: str, generation: int, *, after: str | None, limit: int
    ) -> tuple[int, str | None]:
        self._store.steps += 1
        if self._store.steps == self._store.crash_at_step:
            raise SimulatedCrashError
        self._store.sweeping = True
        step: tuple[int, str | None] = self._records.sweep_older_generations(  # type: ignore[attr-defined]
            table, generation, after=after, limit=limit
        )
        return step


class _SweepWatchingUnitOfWork(_RecordingUnitOfWork):
    def __init__(self, uow: SqlAlchemyUnitOfWork, store: SweepWatchingStore) -> None:
        super().__init__(uow, store.notes)
        self._store = store

    def __enter__(self) -> _SweepWatchingUnitOfWork:
        self._uow.__enter__()
        self.crm_records = _SweepingRecords(self._uow.crm_records, self._store)
        return self

    def commit(self) -> None:
        self._uow.commit()
        if self._store.sweeping:  # a step of the sweep committed: another writer may write before the next one
            self._store.sweeping = False
            self._store.between_steps()


class SweepWatchingStore(RecordingStore):
    """The real store, counting the steps of a full read's sweep; after each step commits, ``between_steps`` writes
    through a connection of its own; step ``crash_at_step`` (1-based) fails."""

    def __init__(self, store: UnitOfWorkFactory, between_steps: Callable[[], None], crash_at_step: int = 0) -> None:
        super().__init__(store)
        self.between_steps, self.crash_at_step = between_steps, crash_at_step
        self.steps = 0
        self.sweeping = False

    def __call__(self, organization_id: uuid.UUID, *, read_only: bool = False) -> _SweepWatchingUnitOfWork:
        return _SweepWatchingUnitOfWork(self._store(organization_id, read_only=read_only), self)


def _other_writer(url: str, org: uuid.UUID, crm_id: str, names: list[str]) -> Callable[[], None]:
    """A writer on a connection of its own that does not wait for the write lock (SQLite busy timeout 0;
    PostgreSQL ``lock_timeout``): renames the contact ``crm_id`` to the next of ``names`` each time."""
    database = make_url(url)

    def write() -> None:
        name = f"written between steps {len(names)}"
        if database.get_backend_name() == "sqlite":
            with closing(sqlite3.connect(str(database.database), timeout=0, isolation_level=None)) as connection:
                connection.execute("BEGIN IMMEDIATE")  # fails at once ("database is locked") while a writer holds it
                connection.execute(
                    "UPDATE crm_records SET name = ? WHERE organization_id = ? AND table_name = 'contact' "
                    "AND crm_id = ?",
                    (name, org.hex, crm_id),
                )
                connection.execute("COMMIT")
        else:
            with psycopg.connect(database.set(drivername="postgresql").render_as_string(hide_password=False)) as pg:
                pg.execute("SET lock_timeout = '1ms'")
                pg.execute(
                    "UPDATE crm_records SET name = %s WHERE organization_id = %s AND table_name = 'contact' "
                    "AND crm_id = %s",
                    (name, org, crm_id),
                )
        names.append(name)

    return write


async def _expire_delta_token(sandbox: RunningSandbox) -> None:
    admin = {"X-Sandbox-Admin-Token": sandbox.sandbox.services.admin_token}
    with httpx.Client(verify=ssl.create_default_context(cafile=str(sandbox.ca_bundle))) as client:
        shifted = client.post(f"{sandbox.org_url}/_sandbox/shift-clock", json={"days": 120}, headers=admin)
    assert shifted.status_code < 300, shifted.text


def _ghosts(store: UnitOfWorkFactory, org: uuid.UUID, count: int) -> list[str]:
    """``count`` stored contacts the CRM does not hold (of the first full read's generation): a re-read's sweep
    deletes them. GUIDs, so that they lie among the real ones by id."""
    ids = sorted(str(uuid.uuid4()) for _ in range(count))
    with store(org) as uow:
        uow.crm_records.upsert_many(
            "contact", [RecordRow(crm_id, "Ghost", None, None, 0, {}) for crm_id in ids], generation=1
        )
        uow.commit()
    return ids


SWEEP_BATCH = 20


def sweeping(into: RecordingStore, org: uuid.UUID, crm: DynamicsConnector) -> ImportEngine:
    """An engine of the contacts into ``into`` whose sweep steps look at :data:`SWEEP_BATCH` rows each."""
    return ImportEngine(
        into,  # type: ignore[arg-type]
        org,
        crm.reader,
        crm.metadata,
        clock=utc_now,
        page_size=50,
        tables=("contact",),
        sweep_batch=SWEEP_BATCH,
    )


async def test_a_full_reads_sweep_commits_in_bounded_steps_and_another_writer_writes_between_them(
    store: UnitOfWorkFactory, org: uuid.UUID, crm: DynamicsConnector, fresh_demo: RunningSandbox, migrated_url: str
) -> None:
    await engine(store, org, crm, tables=("contact",)).run()
    kept = stored_ids(store, org)[0]
    ghosts = _ghosts(store, org, 30)
    names: list[str] = []
    watching = SweepWatchingStore(store, _other_writer(migrated_url, org, kept, names))
    await _expire_delta_token(fresh_demo)

    report = await sweeping(watching, org, crm).run()

    contacts = sandbox_count(fresh_demo, "contact")
    assert report.tables[0].resynced
    assert watching.steps == (contacts + len(ghosts)) // SWEEP_BATCH + 1, "every stored row looked at, once"
    assert len(names) == watching.steps > 3, "another writer committed after every step"
    assert report.rows_deleted == len(ghosts)
    # The end result of the one-transaction sweep: the CRM's rows, none of the ghosts, the table counted.
    assert stored_count(store, org, "contact") == contacts
    with store(org) as uow:
        assert all(uow.crm_records.get("contact", ghost) is None for ghost in ghosts)
        written = uow.crm_records.get("contact", kept)
        state = uow.sync_states.all()[0]
    assert written is not None
    assert written.name == names[-1], "the other writer's commits stand"
    assert (state.generation, state.reading_generation, state.row_count) == (2, None, contacts)
    assert state.delta_token is not None


async def test_a_sweep_interrupted_between_steps_completes_with_the_next_run(
    store: UnitOfWorkFactory, org: uuid.UUID, crm: DynamicsConnector, fresh_demo: RunningSandbox, migrated_url: str
) -> None:
    await engine(store, org, crm, tables=("contact",)).run()
    ghosts = _ghosts(store, org, 30)
    crashing = SweepWatchingStore(store, lambda: None, crash_at_step=4)
    await _expire_delta_token(fresh_demo)

    with pytest.raises(SimulatedCrashError):
        await sweeping(crashing, org, crm).run()
    contacts = sandbox_count(fresh_demo, "contact")
    with store(org) as uow:
        state = uow.sync_states.all()[0]
        left = sum(1 for ghost in ghosts if uow.crm_records.get("contact", ghost) is not None)
    assert 0 < left < len(ghosts), "three steps committed, then the crash"
    assert (state.generation, state.reading_generation) == (1, 2), "the full read is still completing"
    assert state.delta_token is not None
    assert state.consecutive_failures == 1

    again = SweepWatchingStore(store, lambda: None)
    report = await sweeping(again, org, crm).run()

    assert again.steps > 1, "the sweep is done again from the start, step by step"
    assert report.rows_deleted == left
    assert stored_count(store, org, "contact") == contacts
    with store(org) as uow:
        state = uow.sync_states.all()[0]
        assert all(uow.crm_records.get("contact", ghost) is None for ghost in ghosts)
    assert (state.generation, state.reading_generation, state.row_count) == (2, None, contacts)
    assert state.consecutive_failures == 0
