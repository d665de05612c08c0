"""Running an import, on the in-memory store with the CRM faked at its edge: every table is read through change
tracking, the CRM users and seats follow the imported systemusers, the next run reads only the changes, and a
CRM failure or a disconnect ends the run failed with nothing written after it. (The same against SQLite,
PostgreSQL and the sandbox: tests/integration/services/test_sync.py, test_import_engine.py.)"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence

import pytest
from tests.fakes.store import FakeClock, FakeStore

from salesbridge.crm.ports import (
    ChangeToken,
    ColumnInfo,
    CrmRecord,
    RecordPage,
    RecordQuery,
    RequestUsage,
    RowPage,
    TableInfo,
)
from salesbridge.domain.crm_import import IMPORTED_TABLES
from salesbridge.domain.seat_matching import MatchOutcome
from salesbridge.domain.workspace import CrmCredentials, ImportState, SeatState
from salesbridge.errors import TransientError
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.sync import LEASE, request_sync, sync_status

ANA_CRM_ID = "00000000-0000-0000-0000-0000000000a1"
SYSTEMUSERS = [(ANA_CRM_ID, {"fullname": "Ana", "internalemailaddress": "ana@acme.test", "isdisabled": False})]
CONTACTS = [(f"c{i}", {"fullname": f"Contact {i}", "statecode": 0}) for i in range(3)]


class FakeDynamics:
    """The CRM as a session factory (its edge, faked): every table change-tracked; a full read returns ``rows``,
    a read since a token returns ``changes``; ``on_read`` runs before a table is read (to fail it, or to change the
    store meanwhile)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[str, dict[str, object]]]] = {"systemuser": SYSTEMUSERS, "contact": CONTACTS}
        self.changes: dict[str, tuple[list[tuple[str, dict[str, object]]], list[str]]] = {}
        self.on_read: Callable[[str], None] = lambda table: None
        self.reads: list[tuple[str, str | None]] = []
        self.closed = 0

    def __call__(self, credentials: CrmCredentials) -> FakeDynamics:
        return self

    @property
    def metadata(self) -> FakeDynamics:
        return self

    @property
    def reader(self) -> FakeDynamics:
        return self

    async def close(self) -> None:
        self.closed += 1

    def usage(self) -> RequestUsage:
        return RequestUsage(requests=len(self.reads))

    async def table(self, table: str) -> TableInfo:
        return TableInfo(table, f"{table}s", f"{table}id", is_change_tracked=True)

    async def columns(self, table: str) -> list[ColumnInfo]:
        return []

    async def query(self, query: RecordQuery) -> AsyncIterator[RecordPage]:
        """A plain read (the import's of the organization and its currencies): ``rows`` of the table, if any."""
        yield RecordPage(
            tuple(CrmRecord(query.table, crm_id, values) for crm_id, values in self.rows.get(query.table, []))
        )

    async def read_change_rows(
        self,
        table: str,
        *,
        columns: Sequence[str],
        since: ChangeToken | None = None,
        page_size: int = 5000,
        resume: ChangeToken | None = None,
    ) -> AsyncIterator[RowPage]:
        self.reads.append((table, since.value if since else None))
        self.on_read(table)
        rows, deleted = (self.rows.get(table, []), []) if since is None else self.changes.get(table, ([], []))
        yield RowPage(list(rows), list(deleted), token=ChangeToken(f"{table}-{len(self.reads)}"))


@pytest.fixture
def acme(store: FakeStore) -> uuid.UUID:
    organization_id = store.add_organization("acme")
    store.connect(organization_id)
    with store(organization_id) as uow:
        ana = uow.users.add(email="ana@acme.test", display_name="Ana")
        uow.seats.add(user_id=ana.id, state=SeatState.ACTIVE, assigned_by="admin")
        uow.commit()
    return organization_id


async def run(store: FakeStore, crm: FakeDynamics, acme: uuid.UUID, clock: FakeClock) -> tuple[bool, str | None]:
    request_sync(store, slug="acme", actor="ana@acme.test")
    outcome = await run_pending_import(store, crm, acme, clock=clock, page_size=50, lease=LEASE)
    assert outcome is not None
    return outcome.succeeded, outcome.error


async def test_a_run_imports_every_table_and_the_crm_users_follow(
    store: FakeStore, acme: uuid.UUID, clock: FakeClock
) -> None:
    crm = FakeDynamics()

    assert await run(store, crm, acme, clock) == (True, None)

    assert [table for table, _since in crm.reads] == list(IMPORTED_TABLES)
    assert crm.closed == 1
    with store(acme, read_only=True) as uow:
        assert [record.crm_id for record in uow.crm_records.records("contact")] == ["c0", "c1", "c2"]
        assert [user.crm_id for user in uow.crm_users.list_all()] == [ANA_CRM_ID]
        [(seat, _user)] = uow.seats.list_with_users()
        checkpoints = {checkpoint.table_name: checkpoint for checkpoint in uow.sync_states.all()}
        [done] = uow.import_runs.recent()
    assert seat.match is MatchOutcome.EMAIL, "seats are matched again against the imported systemusers"
    assert checkpoints["contact"].row_count == 3
    assert checkpoints["contact"].delta_token is not None
    assert done.state is ImportState.SUCCEEDED
    assert store.audit_actions(acme)[-1] == "crm.imported"
    assert sync_status(store, slug="acme", clock=clock).last_sync_at == clock.now


async def test_the_next_run_reads_only_the_changes(store: FakeStore, acme: uuid.UUID, clock: FakeClock) -> None:
    crm = FakeDynamics()
    await run(store, crm, acme, clock)
    crm.changes = {"contact": ([("c3", {"fullname": "Contact 3"})], ["c0"])}
    crm.reads.clear()

    assert await run(store, crm, acme, clock) == (True, None)

    assert all(since is not None for _table, since in crm.reads), "every table resumed from its delta token"
    with store(acme, read_only=True) as uow:
        assert [record.crm_id for record in uow.crm_records.records("contact")] == ["c1", "c2", "c3"]
        contact = next(checkpoint for checkpoint in uow.sync_states.all() if checkpoint.table_name == "contact")
    assert (contact.rows_imported, contact.rows_deleted, contact.row_count) == (1, 1, 3)


async def test_a_crm_failure_ends_the_run_failed_and_the_sync_says_so(
    store: FakeStore, acme: uuid.UUID, clock: FakeClock
) -> None:
    crm = FakeDynamics()

    def unavailable(table: str) -> None:
        if table == "contact":
            raise TransientError("the CRM is unavailable")

    crm.on_read = unavailable

    assert await run(store, crm, acme, clock) == (False, "the CRM is unavailable")

    status = sync_status(store, slug="acme", clock=clock)
    assert status.failing
    assert status.failure_reason == "the CRM is unavailable"
    contact = next(table for table in status.tables if table.table == "contact")
    assert (contact.consecutive_failures, contact.last_error) == (1, "the CRM is unavailable")
    assert store.audit_actions(acme)[-1] == "crm.import_failed"
    assert crm.closed == 1


async def test_a_disconnect_during_the_run_stops_it_before_its_next_page(
    store: FakeStore, acme: uuid.UUID, clock: FakeClock
) -> None:
    crm = FakeDynamics()

    def disconnect_meanwhile(table: str) -> None:
        if table == "contact":
            with store(acme) as uow:
                uow.imported_data.cancel_imports(error="disconnected")
                uow.crm_connection.delete()
                uow.commit()

    crm.on_read = disconnect_meanwhile

    succeeded, _error = await run(store, crm, acme, clock)

    assert not succeeded
    with store(acme, read_only=True) as uow:
        assert uow.crm_records.records("contact") == [], "the page read after the disconnect was not written"
        assert [record.crm_id for record in uow.crm_records.records("systemuser")] == [ANA_CRM_ID]
        [cancelled] = uow.import_runs.recent()
    assert (cancelled.state, cancelled.error) == (ImportState.FAILED, "disconnected")
