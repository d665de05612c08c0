"""The import engine against a demo sandbox over TLS, on SQLite and PostgreSQL: full import, deltas (changes,
deletions, owner changes), an expired delta token healing itself, resuming an interrupted read, and a table
without change tracking read through its modifiedon cursor."""

from __future__ import annotations

import gc
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
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
