"""The import engine: reads an organization's CRM tables into the store, incrementally.

Per table, through change tracking when the table has it:

* the first run reads every row (a *full read*), later runs only the delta since the stored token;
* each page's rows, tombstones and checkpoint commit in one transaction: a crash replays at most one page, and
  replaying a page is harmless (rows are upserted by id, tombstones deleted by id);
* an interrupted read resumes from the stored ``resume`` link of its last committed page;
* an expired or refused delta token (:class:`ResyncRequiredError`) starts a new full read; rows the full read did
  not see are deleted only after it completed (by *generation*), never before, by a *sweep* of bounded steps
  (:data:`SWEEP_BATCH` rows looked at each, a transaction of its own), so that no transaction holds the store's
  write lock for the whole table; a sweep interrupted is done again from the start (a step repeated is harmless)
  before the table's next read;
* a table without change tracking is read by a closed-range ``modifiedon`` cursor (``modifiedon ≥ cursor``,
  skipping the ids already imported at exactly the cursor), with a full scan every
  :data:`FULL_SCAN_INTERVAL` to find deletions.

Fetching and storing overlap: the connector prefetches page n+1 while page n is written in a worker thread.
Before each page commits, ``guard`` runs inside the same transaction; it raises to stop the import (the
organization was disconnected, or the run was cancelled or taken over), so nothing is written after that.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Generic, NamedTuple, TypeVar

from salesbridge.crm.ports import (
    ChangeToken,
    Condition,
    CrmMetadata,
    CrmReader,
    LookupValue,
    RecordQuery,
    RowPage,
    SortKey,
)
from salesbridge.crm.ports import (
    CrmRecord as CrmRow,
)
from salesbridge.domain.clock import Clock as Clock
from salesbridge.domain.crm_changes import noticed_changes
from salesbridge.domain.crm_import import IMPORTED_TABLES, ImportSpec, field_reader, import_specs
from salesbridge.domain.currencies import CrmCurrencies
from salesbridge.domain.sync_runs import (
    CHANGE_LIMIT,
    RecordChange,
    RecordRow,
    SyncMode,
    TableCheckpoint,
    TableReport,
    record_changes,
)
from salesbridge.domain.sync_runs import ImportReport as ImportReport  # importers of the engine's report
from salesbridge.errors import RecordRefusedError, ResyncRequiredError
from salesbridge.sync.ports import ImportStore as ImportStore  # importers of the engine's store port
from salesbridge.sync.ports import ImportUnitOfWork

UnitOfWorkT = TypeVar("UnitOfWorkT", bound=ImportUnitOfWork)
Progress = Callable[[str, int], None]
"""Called with a table and how many of its rows were stored so far in this run."""

FULL_SCAN_INTERVAL = timedelta(hours=24)
SWEEP_BATCH = 5000
"""Records a step of a full read's sweep looks at (and at most deletes), in a transaction of its own: about as
long as a page's (a single transaction over a million rows held SQLite's write lock for seconds)."""
MODIFIED_ON = "modifiedon"
ORGANIZATION = "organization"
BASE_CURRENCY = "basecurrencyid"
CURRENCY = "transactioncurrency"
ISO_CODE = "isocurrencycode"


def _plain(value: Any) -> Any:
    if isinstance(value, LookupValue):
        return {"id": value.id, "table": value.table}
    return value


def record_row(spec: ImportSpec, row: CrmRow) -> RecordRow:
    """A CRM row as the store keeps it."""
    data = {column: _plain(value) for column, value in row.values.items()}
    return RecordRow(row.id, *field_reader(spec)(data), data)


class ImportEngine(Generic[UnitOfWorkT]):
    """Imports the CRM tables of one organization.

    Args:
        store: Opens units of work, and brackets the import's bulk writes.
        organization_id: The organization whose CRM is read.
        reader: Reads records and changes.
        metadata: Tells which tables are change-tracked and which optional columns exist.
        clock: Timezone-aware UTC now.
        tables: Tables to import, in order.
        extra_columns: Further columns per table (a custom won-value column).
        page_size: Rows per page, 1-5,000.
        guard: Runs inside each page's transaction (given its unit of work) before it commits; raises to stop the
            import.
        progress: Told after each page.
        change_limit: Changes a table's report lists one by one (:data:`CHANGE_LIMIT`); past it the run reports
            "everything changed" (the seller's home is still told of each change).
        sweep_batch: Records each step of a full read's sweep looks at (:data:`SWEEP_BATCH`).
    """

    def __init__(
        self,
        store: ImportStore[UnitOfWorkT],
        organization_id: uuid.UUID,
        reader: CrmReader,
        metadata: CrmMetadata,
        *,
        clock: Clock,
        tables: Sequence[str] = IMPORTED_TABLES,
        extra_columns: Mapping[str, tuple[str, ...]] | None = None,
        page_size: int = 5000,
        guard: Callable[[UnitOfWorkT], None] | None = None,
        progress: Progress | None = None,
        change_limit: int = CHANGE_LIMIT,
        sweep_batch: int = SWEEP_BATCH,
    ) -> None:
        self._store = store
        self._organization_id = organization_id
        self._reader = reader
        self._metadata = metadata
        self._clock = clock
        self._tables = tuple(tables)
        self._specs = import_specs(extra_columns)
        self._page_size = page_size
        self._guard = guard
        self._progress = progress
        self._change_limit = change_limit
        self._sweep_batch = sweep_batch

    async def run(self) -> ImportReport:
        """Import every table once.

        Raises:
            CrmError: a table could not be read (its failure is recorded on its state; tables before it stay
                imported, and the next run resumes where this one stopped).
            Exception: whatever ``guard`` raised.
        """
        report = ImportReport()
        currencies = await self._read_currencies()
        await asyncio.to_thread(self._save_currencies, currencies)
        with self._store.bulk_writes():
            for table in self._tables:
                try:
                    report.tables.append(await self._import_table(self._specs[table]))
                except Exception as error:
                    await asyncio.to_thread(self._record_failure, table, error)
                    raise
        return report

    async def _read_currencies(self) -> CrmCurrencies:
        """The organization's base currency (``organization.basecurrencyid``) and every currency's ISO code
        (``transactioncurrency.isocurrencycode``): two small reads a run, so amounts show with their currency."""
        base: str | None = None
        async for page in self._reader.query(RecordQuery(ORGANIZATION, columns=(BASE_CURRENCY,), page_size=1)):
            for organization in page.records[:1]:
                value = organization.values.get(BASE_CURRENCY)
                base = value.id.lower() if isinstance(value, LookupValue) else None
        codes: dict[str, str] = {}
        async for page in self._reader.query(RecordQuery(CURRENCY, columns=(ISO_CODE,))):
            for currency in page.records:
                code = currency.values.get(ISO_CODE)
                if isinstance(code, str) and code.strip():
                    codes[currency.id.lower()] = code.strip().upper()
        return CrmCurrencies(base, codes)

    def _save_currencies(self, currencies: CrmCurrencies) -> None:
        with self._store(self._organization_id) as uow:
            uow.crm_connection.save_currencies(currencies)
            self._check(uow)
            uow.commit()

    async def _columns(self, spec: ImportSpec) -> tuple[str, ...]:
        if not spec.optional_columns:
            return spec.columns
        present = {column.logical_name for column in await self._metadata.columns(spec.table)}
        return spec.columns + tuple(column for column in spec.optional_columns if column in present)

    async def _import_table(self, spec: ImportSpec) -> TableReport:
        info = await self._metadata.table(spec.table)
        mode = SyncMode.CHANGE_TRACKING if info.is_change_tracked else SyncMode.MODIFIED_ON
        columns = await self._columns(spec)
        report = TableReport(spec.table, mode, change_limit=self._change_limit)
        if mode is SyncMode.CHANGE_TRACKING:
            await self._read_changes(spec, columns, report)
        else:
            await self._read_modified(spec, columns, report)
        await asyncio.to_thread(self._finish_table, spec.table, report)
        return report

    # --------------------------------------------------------------------------------------- change tracking

    async def _read_changes(self, spec: ImportSpec, columns: tuple[str, ...], report: TableReport) -> None:
        # A full read whose last page committed but whose sweep was interrupted (a crash, a cancellation) completes
        # first: its delta token is where this read starts.
        report.rows_deleted += await asyncio.to_thread(self._complete_full_read, spec.table, SyncMode.CHANGE_TRACKING)
        state = await asyncio.to_thread(self._start_read, spec.table, SyncMode.CHANGE_TRACKING)
        try:
            await self._consume_changes(spec, columns, report, state)
        except ResyncRequiredError:
            if state.token is None and state.resume is None:
                raise  # a refused full read is not healed by reading again
            await asyncio.to_thread(self._forget_position, spec.table)
            report.resynced = True
            state = await asyncio.to_thread(self._start_read, spec.table, SyncMode.CHANGE_TRACKING)
            await self._consume_changes(spec, columns, report, state)

    async def _consume_changes(
        self, spec: ImportSpec, columns: tuple[str, ...], report: TableReport, state: _ReadStart
    ) -> None:
        report.full_read = report.full_read or state.reading_generation is not None
        pages = self._reader.read_change_rows(
            spec.table,
            columns=columns,
            since=state.token if state.resume is None else None,
            resume=state.resume,
            page_size=self._page_size,
        )
        # A two-stage pipeline: while page n is stored on a worker thread (SQLite works with the GIL released),
        # page n+1 is fetched and converted here. Pages still commit one after another, in order, so the
        # checkpoint of page n+1 is never committed before page n's.
        writing: asyncio.Future[_PageWrite] | None = None
        try:
            fields = field_reader(spec)
            async for page in pages:
                rows = [RecordRow(crm_id, *fields(data), data) for crm_id, data in page.rows]
                if writing is not None:
                    self._account(spec.table, report, await writing)
                follow = not report.changes_overflowed
                writing = asyncio.ensure_future(asyncio.to_thread(self._commit_change_page, spec, page, rows, follow))
            if writing is not None:
                self._account(spec.table, report, await writing)
                writing = None
        finally:
            if writing is not None:
                await asyncio.wait([writing])  # never leave a page half-written behind an error
        report.rows_deleted += await asyncio.to_thread(self._complete_full_read, spec.table, SyncMode.CHANGE_TRACKING)

    def _account(self, table: str, report: TableReport, written: _PageWrite) -> None:
        report.rows_imported += written.stored
        report.rows_deleted += written.deleted
        report.note_changes(written.changes)
        if self._progress is not None:
            self._progress(table, report.rows_imported)

    def _start_read(self, table: str, mode: SyncMode) -> _ReadStart:
        with self._store(self._organization_id) as uow:
            state = uow.sync_states.get_or_create(table, mode=mode)
            if state.resume_link is None and state.delta_token is None and state.reading_generation is None:
                state = replace(
                    state,
                    reading_generation=state.generation + 1,
                    reading_replaces_rows=uow.crm_records.any_stored(table),
                )
                uow.sync_states.save(state)
            start = _ReadStart(
                token=ChangeToken(state.delta_token) if state.delta_token else None,
                resume=ChangeToken(state.resume_link) if state.resume_link else None,
                reading_generation=state.reading_generation,
            )
            self._check(uow)
            uow.commit()
        return start

    def _forget_position(self, table: str) -> None:
        with self._store(self._organization_id) as uow:
            state = uow.sync_states.get_or_create(table, mode=SyncMode.CHANGE_TRACKING)
            uow.sync_states.save(replace(state, delta_token=None, resume_link=None, reading_generation=None))
            self._check(uow)
            uow.commit()

    def _commit_change_page(self, spec: ImportSpec, page: RowPage, rows: list[RecordRow], follow: bool) -> _PageWrite:
        return self._skipping_refused(
            spec.table, rows, lambda kept, skipped: self._write_change_page(spec, page, kept, follow, skipped)
        )

    def _write_change_page(
        self, spec: ImportSpec, page: RowPage, rows: list[RecordRow], follow: bool, skipped: Mapping[str, str]
    ) -> _PageWrite:
        table = spec.table
        with self._store(self._organization_id) as uow:
            state = uow.sync_states.get_or_create(table, mode=SyncMode.CHANGE_TRACKING)
            generation = state.reading_generation or state.generation
            known, changes = self._changes(uow, state, table, rows, page.deleted_ids)
            self._notice(uow, table, changes)
            stored = self._store_rows(
                uow,
                table,
                rows,
                generation=generation,
                new=_rows_are_new(state),
                gone=page.deleted_ids,
                skipped=skipped,
            )
            deleted = uow.crm_records.delete_ids(table, page.deleted_ids)
            state = replace(
                self._recount(state, new=stored - known, deleted=deleted),
                resume_link=page.resume.value if page.resume else None,
            )
            if page.token is not None:
                # A full read's last page: its sweep and completion follow (:meth:`_complete_full_read`).
                state = replace(state, delta_token=page.token.value)
            uow.sync_states.save(state)
            self._check(uow)
            uow.commit()
        return _PageWrite(stored, deleted, changes if follow else None)

    def _complete_full_read(self, table: str, mode: SyncMode) -> int:
        """Complete the full read of ``table`` whose every page committed, if one did: rows of older generations
        are gone from the CRM. They are deleted by a sweep of bounded steps, each a transaction of its own
        (:data:`SWEEP_BATCH`), then the table is counted and its generation switched in a last one. A sweep
        interrupted leaves the checkpoint as it was (the full read still completing), and is done again from the
        start. Returns how many rows were deleted; nothing to do (no full read completing), 0."""
        state = self._completing(table, mode)
        if state is None or state.reading_generation is None:
            return 0
        generation = state.reading_generation
        deleted = 0
        after: str | None = None
        while state.reading_replaces_rows:  # a read that started on no rows leaves nothing older behind
            with self._store(self._organization_id) as uow:
                gone, after = uow.crm_records.sweep_older_generations(
                    table, generation, after=after, limit=self._sweep_batch
                )
                self._check(uow)
                uow.commit()
            deleted += gone
            if after is None:
                break
        with self._store(self._organization_id) as uow:
            current = uow.sync_states.get_or_create(table, mode=mode)
            if current.reading_generation == generation:
                uow.sync_states.save(
                    replace(
                        current,
                        row_count=uow.crm_records.count(table),
                        generation=generation,
                        reading_generation=None,
                        last_full_read_at=self._clock(),
                    )
                )
            self._check(uow)
            uow.commit()
        return deleted

    def _completing(self, table: str, mode: SyncMode) -> TableCheckpoint | None:
        """The checkpoint of ``table`` when a full read of it has read every row and is not yet completed: in
        change tracking its delta token is stored while it still reads a generation (no page is left to read); a
        modifiedon table's full scan is completing once its pages are read (the caller knows). None otherwise."""
        with self._store(self._organization_id) as uow:
            state = uow.sync_states.get_or_create(table, mode=mode)
            uow.commit()  # a checkpoint created or reset for ``mode`` (as the read's start would)
        if state.reading_generation is None:
            return None
        if mode is SyncMode.CHANGE_TRACKING and (state.delta_token is None or state.resume_link is not None):
            return None
        return state

    # ------------------------------------------------------------------------------------ modifiedon cursor

    async def _read_modified(self, spec: ImportSpec, columns: tuple[str, ...], report: TableReport) -> None:
        """Read the table's rows modified since the cursor (all of them in a full scan), in ``(modifiedon, id)``
        order, by keyset: each page is the first page of a query starting after the last row read, never a
        ``nextLink``. Dataverse pages a query ordered by ``modifiedon`` by offset, so a row modified while the
        import pages moves to the end, every later row moves up one place, and the row that slides across the
        page boundary is never read (found with a team modified between pages: lost from the run, and a full
        scan then deleted it as gone). By keyset a row modified meanwhile is read again later (stored twice, the
        same), and none is skipped. It costs one more request a page (the rest of the rows at the page's last
        ``modifiedon``, usually none), on tables without change tracking only."""
        state = await asyncio.to_thread(self._start_modified_read, spec.table)
        full_scan = state.reading_generation is not None
        report.full_read = full_scan
        primary_key = f"{spec.table}id"
        stamp = None if full_scan else state.cursor
        seen = set() if full_scan else set(state.cursor_ids)
        after_id: str | None = None
        at_stamp = stamp is not None  # rows at exactly ``stamp`` may be left to read
        while True:
            if at_stamp and stamp is not None:
                # The rest of the rows at exactly ``stamp``, by id (a page boundary may have split them).
                conditions: tuple[Condition, ...] = (Condition(MODIFIED_ON, "eq", stamp),)
                if after_id is not None:
                    conditions += (Condition(primary_key, "gt", after_id),)
                order: tuple[SortKey, ...] = (SortKey(primary_key),)
            else:
                conditions = (Condition(MODIFIED_ON, "gt", stamp),) if stamp is not None else ()
                order = (SortKey(MODIFIED_ON), SortKey(primary_key))
            query = RecordQuery(
                table=spec.table,
                columns=(*columns, MODIFIED_ON),
                conditions=conditions,
                order_by=order,
                page_size=self._page_size,
            )
            records = await self._first_page(query)
            if records:
                fresh = [record for record in records if record.id not in seen]
                rows = [record_row(spec, record) for record in fresh]
                follow = not report.changes_overflowed
                written = await asyncio.to_thread(self._commit_modified_page, spec.table, fresh, rows, follow)
                self._account(spec.table, report, written)
                last = records[-1]
                last_stamp = _modified_on(last)
                if last_stamp != stamp:
                    stamp, seen = last_stamp, set()
                seen.update(record.id for record in records if _modified_on(record) == stamp)
                after_id = last.id
            if at_stamp:
                at_stamp = len(records) >= self._page_size  # a full page: more rows at ``stamp`` may follow
                if not at_stamp:
                    after_id = None
                continue
            if not records or stamp is None:
                break
            at_stamp = True
        if full_scan:
            report.rows_deleted += await asyncio.to_thread(self._complete_full_read, spec.table, SyncMode.MODIFIED_ON)

    async def _first_page(self, query: RecordQuery) -> list[CrmRow]:
        """The records of the first page of ``query`` (its next page is not asked for)."""
        pages = self._reader.query(query)
        try:
            async for page in pages:
                return list(page.records)
            return []
        finally:
            await pages.aclose()  # type: ignore[attr-defined]

    def _start_modified_read(self, table: str) -> _ModifiedStart:
        with self._store(self._organization_id) as uow:
            state = uow.sync_states.get_or_create(table, mode=SyncMode.MODIFIED_ON)
            now = self._clock()
            due = state.last_full_read_at is None or now - state.last_full_read_at >= FULL_SCAN_INTERVAL
            state = replace(
                state,
                reading_generation=state.generation + 1 if due else None,
                reading_replaces_rows=uow.crm_records.any_stored(table),
            )
            uow.sync_states.save(state)
            start = _ModifiedStart(state.cursor_modified_on, tuple(state.cursor_ids), state.reading_generation)
            self._check(uow)
            uow.commit()
        return start

    def _commit_modified_page(
        self, table: str, records: list[CrmRow], rows: list[RecordRow], follow: bool
    ) -> _PageWrite:
        return self._skipping_refused(
            table, rows, lambda kept, skipped: self._write_modified_page(table, records, kept, follow, skipped)
        )

    def _write_modified_page(
        self, table: str, records: list[CrmRow], rows: list[RecordRow], follow: bool, skipped: Mapping[str, str]
    ) -> _PageWrite:
        with self._store(self._organization_id) as uow:
            state = uow.sync_states.get_or_create(table, mode=SyncMode.MODIFIED_ON)
            known, changes = self._changes(uow, state, table, rows, ())
            self._notice(uow, table, changes)
            stored = self._store_rows(
                uow,
                table,
                rows,
                generation=state.reading_generation or state.generation,
                new=_rows_are_new(state),
                gone=(),
                skipped=skipped,
            )
            cursor, ids = _advance_cursor(state.cursor_modified_on, list(state.cursor_ids), records)
            state = replace(
                self._recount(state, new=stored - known, deleted=0), cursor_modified_on=cursor, cursor_ids=tuple(ids)
            )
            uow.sync_states.save(state)
            self._check(uow)
            uow.commit()
        return _PageWrite(stored, 0, changes if follow else None)

    # ---------------------------------------------------------------------------------------- skipped records

    def _skipping_refused(
        self,
        table: str,
        rows: list[RecordRow],
        write: Callable[[list[RecordRow], Mapping[str, str]], _PageWrite],
    ) -> _PageWrite:
        """``write`` the page; when the store refuses a value of one of its rows, write it again without the rows
        it refuses, each kept as a skipped record with the store's reason, in the same transaction.

        Raises:
            RecordRefusedError: no single row is refused on its own (the page's failure is not a record's).
        """
        try:
            return write(rows, {})
        except RecordRefusedError:
            refused = self._refused_rows(table, rows)
            if not refused:
                raise
            return write([row for row in rows if row.crm_id not in refused], refused)

    def _refused_rows(self, table: str, rows: Sequence[RecordRow]) -> dict[str, str]:
        """The rows the store refuses on their own, with its reason: each written in a transaction of its own that
        is rolled back (nothing is kept). Runs only after a page was refused."""
        refused: dict[str, str] = {}
        for row in rows:
            with self._store(self._organization_id) as probe:
                try:
                    probe.crm_records.upsert_many(table, [row], generation=0)
                except RecordRefusedError as error:
                    refused[row.crm_id] = str(error)
        return refused

    @staticmethod
    def _store_rows(
        uow: ImportUnitOfWork,
        table: str,
        rows: list[RecordRow],
        *,
        generation: int,
        new: bool,
        gone: Sequence[str],
        skipped: Mapping[str, str],
    ) -> int:
        """Store a page's ``rows``, keep the ``skipped`` ones' reasons, and forget the earlier errors of the rows
        stored or ``gone`` now (looked for only when the table has skipped records: one indexed read a page)."""
        stored = uow.crm_records.upsert_many(table, rows, generation=generation, new=new)
        errors = uow.import_record_errors
        if errors.any_in(table):
            errors.clear(table, [*(row.crm_id for row in rows), *gone])
        for crm_id, reason in skipped.items():
            errors.record(table, crm_id, code=None, message=reason)
        return stored

    # ------------------------------------------------------------------------------------------- bookkeeping

    @staticmethod
    def _changes(
        uow: ImportUnitOfWork,
        state: TableCheckpoint,
        table: str,
        rows: Sequence[RecordRow],
        deleted_ids: Sequence[str],
    ) -> tuple[int, list[RecordChange] | None]:
        """How many of ``rows`` are stored already, and what the page changes (read before it is written, by
        primary key, once): each written or deleted record as stored before and after. In a full read, nothing
        and None (it changes everything, and its completion counts the table). A run past CHANGE_LIMIT still reads
        them: the seller's home is told of every change (a mass reassignment of owners is one); only the run's
        report stops listing them (the page returns None to it)."""
        if state.reading_generation is not None:
            return 0, None
        before = uow.crm_records.stored_states(table, [*(row.crm_id for row in rows), *deleted_ids])
        return sum(1 for row in rows if row.crm_id in before), record_changes(before, rows, deleted_ids)

    def _notice(self, uow: ImportUnitOfWork, table: str, changes: Sequence[RecordChange] | None) -> None:
        """Store, with the page, the changes of its records a seller is told about (a new owner, a stage moved, a
        job change), pages of a run past CHANGE_LIMIT included. A full read's pages follow no change: nothing is
        noticed then."""
        if changes:
            uow.crm_record_changes.add_many(noticed_changes(table, changes), at=self._clock())

    @staticmethod
    def _recount(state: TableCheckpoint, *, new: int, deleted: int) -> TableCheckpoint:
        """Keep ``row_count`` with each delta page (a full read recounts the table when it completes), so that
        a small sync never counts a million rows."""
        if state.reading_generation is not None:
            return state
        return replace(state, row_count=max(0, state.row_count + new - deleted))

    def _check(self, uow: UnitOfWorkT) -> None:
        if self._guard is not None:
            self._guard(uow)

    def _finish_table(self, table: str, report: TableReport) -> None:
        with self._store(self._organization_id) as uow:
            state = uow.sync_states.get_or_create(table, mode=report.mode)
            now = self._clock()
            uow.sync_states.save(
                replace(
                    state,
                    last_success_at=now,
                    rows_imported=report.rows_imported,
                    rows_deleted=report.rows_deleted,
                    consecutive_failures=0,
                    failing_since=None,
                    last_error=None,
                    updated_at=now,
                )
            )
            self._check(uow)
            uow.commit()

    def _record_failure(self, table: str, error: BaseException) -> None:
        with self._store(self._organization_id) as uow:
            uow.sync_states.record_failure(table, error=str(error) or type(error).__name__)
            uow.commit()


class _PageWrite(NamedTuple):
    """What committing a page did: rows stored, rows deleted, and the records changed (None in a full read)."""

    stored: int
    deleted: int
    changes: list[RecordChange] | None


@dataclass(frozen=True)
class _ReadStart:
    token: ChangeToken | None
    resume: ChangeToken | None
    reading_generation: int | None


@dataclass(frozen=True)
class _ModifiedStart:
    cursor: datetime | None
    cursor_ids: tuple[str, ...]
    reading_generation: int | None


def _rows_are_new(state: TableCheckpoint) -> bool:
    """Whether a page read now holds only rows that are not stored: in a full read that started on no rows (the
    store may then write them without looking for conflicts)."""
    return state.reading_generation is not None and not state.reading_replaces_rows


def _modified_on(record: CrmRow) -> datetime | None:
    value = record.values.get(MODIFIED_ON)
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _advance_cursor(
    cursor: datetime | None, ids: list[str], records: Iterable[CrmRow]
) -> tuple[datetime | None, list[str]]:
    """The new closed-range cursor: the greatest ``modifiedon`` seen, with every id seen at exactly that instant
    (the next read starts at ``modifiedon ≥ cursor`` and skips those ids)."""
    for record in records:
        stamp = _modified_on(record)
        if stamp is None:
            continue
        if cursor is None or stamp > cursor:
            cursor, ids = stamp, [record.id]
        elif stamp == cursor and record.id not in ids:
            ids.append(record.id)
    return cursor, ids
