"""Repositories of the import plane: imported CRM records, per-table sync state, and import runs.

Scoped by organization like every repository. Records are written in bulk with the dialect's upsert
(``INSERT … ON CONFLICT DO UPDATE``, SQLite and PostgreSQL alike), one page at a time: on SQLite an
``executemany`` of tuples in SQLite's own formats; on PostgreSQL a binary ``COPY`` of the page into a temporary
table followed by one ``INSERT … SELECT … ON CONFLICT``, or, for rows the caller knows are new (a first full read),
a binary ``COPY`` straight into the table.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, func, select, update
from sqlalchemy.sql.dml import Update

from salesbridge.domain.reports import named_records, report_facts
from salesbridge.domain.sync_runs import STOPPED_WORKER_ERROR as STOPPED_WORKER_ERROR
from salesbridge.domain.sync_runs import ImportedRecord, ImportRun, RecordState, RunCounts, TableCheckpoint
from salesbridge.domain.sync_runs import RecordRow as RecordRow  # importers of the store's record rows
from salesbridge.errors import RecordRefusedError, RowNotFoundError
from salesbridge.store.repositories import ImportRequestRepository, _ScopedRepository, import_run_value
from salesbridge.store.tables import (
    CrmOpportunityFacts,
    CrmOpportunityRecord,
    CrmRecord,
    ImportRequest,
    ImportState,
    SyncMode,
    TableSyncState,
)

_UPDATED_COLUMNS = ("name", "owner_id", "parent_id", "state_code", "data", "generation", "imported_at")
_COLUMNS = "organization_id, table_name, crm_id, name, owner_id, parent_id, state_code, data, generation, imported_at"
_SQLITE_UPSERT = (
    f"INSERT INTO crm_records ({_COLUMNS}) VALUES ({', '.join('?' * len(_COLUMNS.split(',')))}) "
    "ON CONFLICT (organization_id, table_name, crm_id) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in _UPDATED_COLUMNS)
)


# PostgreSQL. The page's own columns travel in COPY's binary format (no text escaping on the client, no number or
# UUID parsing on the server); the columns every row of a page shares are parameters of the statement that moves
# it. A json value's binary form is its text, so the JSON goes as orjson's text through psycopg's text dumper (in
# C; its bytea dumper is Python and cost more than the decoding) and PostgreSQL validates it once, on the way in.
_PAGE_COLUMNS = "crm_id, name, owner_id, parent_id, state_code, data"
_PAGE_TYPES = ("text", "text", "text", "text", "int4", "text")
_POSTGRESQL_PAGE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS crm_records_page "
    "(crm_id text, name text, owner_id text, parent_id text, state_code integer, data json) ON COMMIT DELETE ROWS"
)
_POSTGRESQL_COPY_PAGE = f"COPY crm_records_page ({_PAGE_COLUMNS}) FROM STDIN (FORMAT BINARY)"
_POSTGRESQL_MOVE = (
    f"INSERT INTO crm_records ({_COLUMNS}) SELECT %(organization)s, %(table)s, {_PAGE_COLUMNS}, %(generation)s, "
    "%(stamp)s FROM crm_records_page ON CONFLICT (organization_id, table_name, crm_id) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in _UPDATED_COLUMNS)
)
_POSTGRESQL_COPY_NEW = f"COPY crm_records ({_COLUMNS}) FROM STDIN (FORMAT BINARY)"
_NEW_TYPES = ("uuid", "text", *_PAGE_TYPES, "int4", "timestamptz")

_NAMED = "crm_opportunity_records (organization_id, opportunity_id, record_table, record_id)"
_SQLITE_DELETE_NAMED = "DELETE FROM crm_opportunity_records WHERE organization_id = ? AND opportunity_id = ?"
_SQLITE_INSERT_NAMED = f"INSERT INTO {_NAMED} VALUES (?, ?, ?, ?)"
_POSTGRESQL_DELETE_NAMED = (
    "DELETE FROM crm_opportunity_records WHERE organization_id = %s AND opportunity_id = ANY(%s::varchar[])"
)
_POSTGRESQL_COPY_NAMED = f"COPY {_NAMED} FROM STDIN (FORMAT BINARY)"
_FACTS = "crm_opportunity_facts (organization_id, opportunity_id, name, facts)"
_SQLITE_DELETE_FACTS = "DELETE FROM crm_opportunity_facts WHERE organization_id = ? AND opportunity_id = ?"
_SQLITE_INSERT_FACTS = f"INSERT INTO {_FACTS} VALUES (?, ?, ?, ?)"
_POSTGRESQL_DELETE_FACTS = (
    "DELETE FROM crm_opportunity_facts WHERE organization_id = %s AND opportunity_id = ANY(%s::varchar[])"
)
_POSTGRESQL_COPY_FACTS = f"COPY {_FACTS} FROM STDIN (FORMAT BINARY)"

_OPPORTUNITY = "opportunity"
"""The table whose records' named records are kept beside them (``crm_opportunity_records``, migration 0032)."""
_NAMED_CHUNK = 500
"""Opportunity ids per statement that deletes their named records."""


class CrmRecordRepository(_ScopedRepository):
    """Imported CRM rows of the organization."""

    def upsert_many(self, table: str, rows: Sequence[RecordRow], *, generation: int, new: bool = False) -> int:
        """Insert or replace ``rows`` of ``table`` stamped with ``generation``. Idempotent. Returns len(rows).

        Raises:
            RecordRefusedError: a value of one of ``rows`` cannot be kept (PostgreSQL: a NUL character in text);
                the unit of work must be rolled back.

        ``new`` says the caller knows none of ``rows`` is stored (a full read of a table that held no rows when it
        started): PostgreSQL then copies them straight into the table, and should one be stored after all, the
        page is written by the upsert instead (same result, slower).
        """
        if not rows:
            return 0
        now = self._clock()
        if self._session.get_bind().dialect.name == "sqlite":
            if table == _OPPORTUNITY:
                self._replace_named_records(rows)
            # Tuples in SQLite's storage formats (a UUID as 32 hex digits, a UTC timestamp as text, JSON as text)
            # go straight to the driver's executemany, which runs in C with the GIL released, so fetching the
            # next page overlaps with storing this one.
            stamp = now.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
            parameters = list(self._stored(self._organization_id.hex, table, rows, generation, stamp))
            self._session.connection().exec_driver_sql(_SQLITE_UPSERT, parameters)
            return len(rows)
        # Imported here: only a PostgreSQL store needs the driver, and every command of the CLI imports this module.
        from psycopg.errors import DataError

        try:
            if table == _OPPORTUNITY:
                self._replace_named_records(rows)  # an opportunity's name is copied there too: inside the try
            return self._upsert_postgresql(table, rows, generation, new, now)
        except DataError as refused:
            # A value PostgreSQL cannot keep (a NUL character in text): the page's transaction is aborted.
            reason = str(refused).splitlines()[0] if str(refused) else type(refused).__name__
            raise RecordRefusedError(f"The store refused a value of this record: {reason}") from refused

    def _upsert_postgresql(
        self, table: str, rows: Sequence[RecordRow], generation: int, new: bool, now: datetime
    ) -> int:
        # The driver connection is the session's: whatever happens here is inside the unit of work's transaction.
        driver: Any = self._session.connection().connection.driver_connection
        if new and self._copy_new(driver, table, rows, generation, now):
            return len(rows)
        # A binary COPY of the page to a temporary table of the session, then one INSERT … SELECT … ON CONFLICT
        # (about twice the rows per second of an executemany of the upsert).
        with driver.cursor() as cursor:
            cursor.execute(_POSTGRESQL_PAGE)
            with cursor.copy(_POSTGRESQL_COPY_PAGE) as copy:
                copy.set_types(_PAGE_TYPES)
                write = copy.write_row
                dumps = orjson.dumps
                for row in rows:
                    write((row.crm_id, row.name, row.owner_id, row.parent_id, row.state_code, dumps(row.data).decode()))
            arguments = {"organization": self._organization_id, "table": table, "generation": generation, "stamp": now}
            cursor.execute(_POSTGRESQL_MOVE, arguments)
            cursor.execute("TRUNCATE crm_records_page")  # the next page of the same transaction starts empty
        return len(rows)

    def _copy_new(self, driver: Any, table: str, rows: Sequence[RecordRow], generation: int, now: datetime) -> bool:
        """COPY ``rows`` straight into ``crm_records`` (no staging table, no conflict handling: half the server's
        work of the upsert). False, with nothing written, when one of them was stored after all (the caller
        upserts the page instead): the COPY runs in a savepoint, so its failure leaves the transaction usable."""
        # Imported here: only a PostgreSQL store needs the driver, and every command of the CLI imports this module.
        from psycopg.errors import UniqueViolation

        stored = self._stored(self._organization_id, table, rows, generation, now)
        with driver.cursor() as cursor:
            # A savepoint of the driver's connection, inside the unit of work's transaction (the driver begins it
            # if this is its first statement). Neither psycopg's transaction() (a first statement makes it BEGIN
            # and COMMIT a transaction of its own) nor the session's begin_nested() (it emits SAVEPOINT only when
            # the session itself next runs a statement) would do.
            cursor.execute("SAVEPOINT crm_records_new")
            try:
                with cursor.copy(_POSTGRESQL_COPY_NEW) as copy:
                    copy.set_types(_NEW_TYPES)
                    write = copy.write_row
                    for values in stored:
                        write(values)
            except UniqueViolation:
                cursor.execute("ROLLBACK TO SAVEPOINT crm_records_new")
                return False
            cursor.execute("RELEASE SAVEPOINT crm_records_new")
        return True

    @staticmethod
    def _stored(
        organization: object, table: str, rows: Sequence[RecordRow], generation: int, stamp: object
    ) -> Iterator[tuple[object, ...]]:
        """The column values of each row, in :data:`_COLUMNS` order (the JSON serialised by orjson)."""
        dumps = orjson.dumps
        for row in rows:
            yield (
                organization,
                table,
                row.crm_id,
                row.name,
                row.owner_id,
                row.parent_id,
                row.state_code,
                dumps(row.data).decode(),
                generation,
                stamp,
            )

    def _replace_named_records(self, rows: Sequence[RecordRow]) -> None:
        """Replace the named records (:func:`~salesbridge.domain.reports.named_records`) and the report's facts
        (:func:`~salesbridge.domain.reports.report_facts`) of the opportunities ``rows``: whatever an earlier
        version of each named goes, what it names now is written, and its facts as they now are (in the caller's
        transaction, with the opportunities themselves). Through the driver, as the records themselves (the ORM's
        bulk insert cost three times the opportunities' own upsert)."""
        ids = [row.crm_id for row in rows]
        dumps = orjson.dumps
        facts = [(row.crm_id, row.name, dumps(report_facts(row.data)).decode()) for row in rows]
        named = [
            (row.crm_id, table, crm_id)
            for row in rows
            for table, crm_id in named_records(row.data)
            if "\x00" not in crm_id  # PostgreSQL keeps no NUL in text; no stored record's id has one
        ]
        if self._session.get_bind().dialect.name == "sqlite":
            organization = self._organization_id.hex  # SQLite's storage format of a UUID
            connection = self._session.connection()
            keys = [(organization, crm_id) for crm_id in ids]
            connection.exec_driver_sql(_SQLITE_DELETE_NAMED, keys)
            if named:
                connection.exec_driver_sql(_SQLITE_INSERT_NAMED, [(organization, *values) for values in named])
            connection.exec_driver_sql(_SQLITE_DELETE_FACTS, keys)
            connection.exec_driver_sql(_SQLITE_INSERT_FACTS, [(organization, *values) for values in facts])
            return
        driver: Any = self._session.connection().connection.driver_connection
        with driver.cursor() as cursor:
            cursor.execute(_POSTGRESQL_DELETE_NAMED, (self._organization_id, ids))
            if named:
                with cursor.copy(_POSTGRESQL_COPY_NAMED) as copy:
                    copy.set_types(("uuid", "text", "text", "text"))
                    for values in named:
                        copy.write_row((self._organization_id, *values))
            cursor.execute(_POSTGRESQL_DELETE_FACTS, (self._organization_id, ids))
            with cursor.copy(_POSTGRESQL_COPY_FACTS) as copy:
                copy.set_types(("uuid", "text", "text", "text"))  # the JSON as its text (see _upsert_postgresql)
                for crm_id, name, text in facts:
                    copy.write_row((self._organization_id, crm_id, name, text))

    def _delete_named_records(self, opportunity_ids: Sequence[str]) -> None:
        for start in range(0, len(opportunity_ids), _NAMED_CHUNK):
            chunk = opportunity_ids[start : start + _NAMED_CHUNK]
            for derived in (CrmOpportunityRecord, CrmOpportunityFacts):
                self._session.execute(
                    delete(derived).where(
                        derived.organization_id == self._organization_id, derived.opportunity_id.in_(chunk)
                    )
                )

    def delete_ids(self, table: str, crm_ids: Iterable[str]) -> int:
        """Delete the records ``crm_ids`` of ``table`` (unknown ids are ignored), an opportunity's named records
        and facts with it. Returns how many went."""
        ids = list(crm_ids)
        if not ids:
            return 0
        if table == _OPPORTUNITY:
            self._delete_named_records(ids)
        result = self._session.execute(
            delete(CrmRecord).where(
                CrmRecord.organization_id == self._organization_id,
                CrmRecord.table_name == table,
                CrmRecord.crm_id.in_(ids),
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def sweep_older_generations(
        self, table: str, generation: int, *, after: str | None, limit: int
    ) -> tuple[int, str | None]:
        """One bounded step of a full read's sweep: of the next ``limit`` records of ``table`` by id after ``after``
        (from the first when None), delete those a full read of ``generation`` did not see (older generations; an
        opportunity's named records and facts with them). Returns how many went and the id to continue after, None
        when no record is left to look at. Reads and deletes at most ``limit`` rows, so the caller's transaction
        stays short however large the table; repeating a step is harmless."""
        statement = select(CrmRecord.crm_id, CrmRecord.generation).where(
            CrmRecord.organization_id == self._organization_id, CrmRecord.table_name == table
        )
        if after is not None:
            statement = statement.where(CrmRecord.crm_id > after)
        rows = self._session.execute(statement.order_by(CrmRecord.crm_id).limit(limit)).all()
        deleted = self.delete_ids(table, [row.crm_id for row in rows if row.generation < generation])
        return deleted, rows[-1].crm_id if len(rows) == limit else None

    def any_stored(self, table: str) -> bool:
        """Whether any record of ``table`` is stored."""
        statement = (
            select(CrmRecord.crm_id)
            .where(CrmRecord.organization_id == self._organization_id, CrmRecord.table_name == table)
            .limit(1)
        )
        return self._session.scalar(statement) is not None

    def count_stored(self, table: str, crm_ids: Iterable[str]) -> int:
        """How many of ``crm_ids`` are stored records of ``table`` (by primary key, 500 ids per statement)."""
        ids = sorted(set(crm_ids))
        found = 0
        for start in range(0, len(ids), 500):
            statement = select(func.count()).where(
                CrmRecord.organization_id == self._organization_id,
                CrmRecord.table_name == table,
                CrmRecord.crm_id.in_(ids[start : start + 500]),
            )
            found += self._session.scalar(statement) or 0
        return found

    def stored_states(self, table: str, crm_ids: Iterable[str]) -> dict[str, RecordState]:
        """The owner, parent, ``statecode`` and columns of the stored records of ``table`` among ``crm_ids``, by id
        (by primary key, 500 ids per statement)."""
        ids = sorted(set(crm_ids))
        found: dict[str, RecordState] = {}
        for start in range(0, len(ids), 500):
            statement = select(
                CrmRecord.crm_id, CrmRecord.owner_id, CrmRecord.parent_id, CrmRecord.state_code, CrmRecord.data
            ).where(
                CrmRecord.organization_id == self._organization_id,
                CrmRecord.table_name == table,
                CrmRecord.crm_id.in_(ids[start : start + 500]),
            )
            for row in self._session.execute(statement):
                found[row.crm_id] = RecordState(row.owner_id, row.parent_id, row.state_code, row.data or {})
        return found

    def count(self, table: str) -> int:
        """How many records of ``table`` are stored."""
        statement = select(func.count()).where(
            CrmRecord.organization_id == self._organization_id, CrmRecord.table_name == table
        )
        return self._session.scalar(statement) or 0

    def get(self, table: str, crm_id: str) -> ImportedRecord | None:
        """The stored record, or None."""
        row = self._session.get(CrmRecord, (self._organization_id, table, crm_id))
        return record_value(row) if row is not None else None

    def records(self, table: str, *, limit: int | None = None) -> list[ImportedRecord]:
        """Records of ``table`` by id (``limit`` first ones)."""
        statement = (
            select(CrmRecord)
            .where(CrmRecord.organization_id == self._organization_id, CrmRecord.table_name == table)
            .order_by(CrmRecord.crm_id)
        )
        if limit is not None:
            statement = statement.limit(limit)
        return [record_value(row) for row in self._session.scalars(statement)]


_CHECKPOINT_COLUMNS = tuple(item.name for item in dataclasses.fields(TableCheckpoint) if item.name != "table_name")
"""The columns a saved checkpoint sets: every field of the value but the key."""


class TableSyncStateRepository(_ScopedRepository):
    """The checkpoint and health of each imported table."""

    def get_or_create(self, table: str, *, mode: SyncMode) -> TableCheckpoint:
        """The checkpoint of ``table``, created empty in ``mode`` when new; a changed mode restarts from a full
        read."""
        state = self._session.get(TableSyncState, (self._organization_id, table))
        if state is None:
            state = TableSyncState(
                organization_id=self._organization_id,
                table_name=table,
                mode=mode,
                generation=0,
                cursor_ids=[],
                rows_imported=0,
                rows_deleted=0,
                row_count=0,
                consecutive_failures=0,
                updated_at=self._clock(),
            )
            self._session.add(state)
            self._session.flush()
        elif state.mode is not mode:
            state.mode = mode
            state.delta_token = state.resume_link = None
            state.reading_generation = None
            state.cursor_modified_on = None
            state.cursor_ids = []
            state.last_full_read_at = None
        return checkpoint_value(state)

    def save(self, checkpoint: TableCheckpoint) -> None:
        """Store ``checkpoint`` as its table's (created by :meth:`get_or_create`), in the unit of work's
        transaction.

        Raises:
            RowNotFoundError: the table has no checkpoint in this organization.
        """
        state = self._session.get(TableSyncState, (self._organization_id, checkpoint.table_name))
        if state is None:
            raise RowNotFoundError(f"The table {checkpoint.table_name!r} has no import checkpoint.")
        for column in _CHECKPOINT_COLUMNS:
            value = getattr(checkpoint, column)
            setattr(state, column, list(value) if column == "cursor_ids" else value)

    def all(self) -> list[TableCheckpoint]:
        """Every table's checkpoint, by name."""
        statement = (
            select(TableSyncState)
            .where(TableSyncState.organization_id == self._organization_id)
            .order_by(TableSyncState.table_name)
        )
        return [checkpoint_value(state) for state in self._session.scalars(statement)]

    def record_failure(self, table: str, *, error: str) -> None:
        """Count a failed import of ``table`` (the checkpoint is left as it was)."""
        state = self._session.get(TableSyncState, (self._organization_id, table))
        if state is None:
            return
        now = self._clock()
        state.consecutive_failures += 1
        state.failing_since = state.failing_since or now
        state.last_error = error
        state.updated_at = now


class ImportRunRepository(ImportRequestRepository):
    """Import requests as runs: queued (:meth:`enqueue`, the queue's own) → running (leased) → succeeded | failed.
    At most one runs per organization."""

    def running(self) -> ImportRun | None:
        """The run holding a live lease, or None."""
        return _value(
            self._session.scalar(
                select(ImportRequest).where(
                    ImportRequest.organization_id == self._organization_id,
                    ImportRequest.state == ImportState.RUNNING,
                    ImportRequest.lease_expires_at > self._clock(),
                )
            )
        )

    def fail_expired(self) -> int:
        """Fail the running runs whose lease expired (their worker died) with :data:`STOPPED_WORKER_ERROR`;
        returns how many. Idempotent."""
        now = self._clock()
        result = self._session.execute(
            update(ImportRequest)
            .where(
                ImportRequest.organization_id == self._organization_id,
                ImportRequest.state == ImportState.RUNNING,
                ImportRequest.lease_expires_at <= now,
            )
            .values(state=ImportState.FAILED, finished_at=now, lease_expires_at=None, error=STOPPED_WORKER_ERROR)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def claim(self, *, lease: timedelta) -> ImportRun | None:
        """Start the oldest queued run unless another holds a live lease; a run whose lease expired (its worker
        died) is failed first (:meth:`fail_expired`). Returns the claimed run, or None."""
        now = self._clock()
        self.fail_expired()
        if self.running() is not None:
            return None
        queued = self._session.scalar(
            select(ImportRequest)
            .where(ImportRequest.organization_id == self._organization_id, ImportRequest.state == ImportState.QUEUED)
            .order_by(ImportRequest.requested_at)
            .limit(1)
        )
        if queued is None:
            return None
        # Compare-and-set on the state, so two workers cannot both claim it.
        result = self._session.execute(
            update(ImportRequest)
            .where(ImportRequest.id == queued.id, ImportRequest.state == ImportState.QUEUED)
            .values(state=ImportState.RUNNING, started_at=now, lease_expires_at=now + lease)
        )
        if not getattr(result, "rowcount", 0):
            return None
        self._session.refresh(queued)
        return import_run_value(queued)

    def get(self, run_id: uuid.UUID) -> ImportRun | None:
        """The run ``run_id`` of this organization, or None."""
        return _value(
            self._session.scalar(
                select(ImportRequest).where(
                    ImportRequest.organization_id == self._organization_id, ImportRequest.id == run_id
                )
            )
        )

    def _update_running(self, run_id: uuid.UUID) -> Update:
        """An UPDATE of the run ``run_id`` of this organization while it runs (a run ended meanwhile is left alone)."""
        return update(ImportRequest).where(
            ImportRequest.organization_id == self._organization_id,
            ImportRequest.id == run_id,
            ImportRequest.state == ImportState.RUNNING,
        )

    def renew(self, run_id: uuid.UUID, *, lease: timedelta) -> bool:
        """Extend the lease of a running run; False when it is no longer running (cancelled or taken over)."""
        result = self._session.execute(self._update_running(run_id).values(lease_expires_at=self._clock() + lease))
        return bool(getattr(result, "rowcount", 0))

    def note_throttled(self, run_id: uuid.UUID, *, until: datetime) -> None:
        """Record that Dynamics throttles the running run until ``until``; a run no longer running is left alone."""
        self._session.execute(self._update_running(run_id).values(throttled_until=until))

    def finish(self, run_id: uuid.UUID, *, error: str | None = None, counts: RunCounts | None = None) -> None:
        """Mark a running run succeeded (``error`` None) or failed, with what it did (``counts``) when known."""
        done = {} if counts is None else dataclasses.asdict(counts)
        self._session.execute(
            self._update_running(run_id).values(
                state=ImportState.FAILED if error else ImportState.SUCCEEDED,
                finished_at=self._clock(),
                lease_expires_at=None,
                error=error,
                **done,
            )
        )

    def recent(self, *, limit: int = 20) -> list[ImportRun]:
        """The newest runs, newest first."""
        statement = (
            select(ImportRequest)
            .where(ImportRequest.organization_id == self._organization_id)
            .order_by(ImportRequest.requested_at.desc())
            .limit(limit)
        )
        return [import_run_value(row) for row in self._session.scalars(statement)]

    def last_finished(self, state: ImportState) -> ImportRun | None:
        """The newest run that ended in ``state``."""
        return _value(
            self._session.scalar(
                select(ImportRequest)
                .where(ImportRequest.organization_id == self._organization_id, ImportRequest.state == state)
                .order_by(ImportRequest.finished_at.desc())
                .limit(1)
            )
        )

    def last_finished_at(self) -> datetime | None:
        """When the newest finished run ended (success or failure), or None. One probe per state of the
        (organization, state, finished at) index (migration 0043): the latest of all the runs' ends without reading
        every run, as one maximum over the organization did."""
        ends = [
            self._session.scalar(
                select(func.max(ImportRequest.finished_at)).where(
                    ImportRequest.organization_id == self._organization_id, ImportRequest.state == state
                )
            )
            for state in ImportState
        ]
        return max((end for end in ends if end is not None), default=None)


def _value(row: ImportRequest | None) -> ImportRun | None:
    return import_run_value(row) if row is not None else None


def checkpoint_value(state: TableSyncState) -> TableCheckpoint:
    """The table sync state row as a value."""
    return TableCheckpoint(
        table_name=state.table_name,
        mode=state.mode,
        delta_token=state.delta_token,
        resume_link=state.resume_link,
        generation=state.generation,
        reading_generation=state.reading_generation,
        reading_replaces_rows=state.reading_replaces_rows,
        cursor_modified_on=state.cursor_modified_on,
        cursor_ids=tuple(state.cursor_ids or ()),
        last_full_read_at=state.last_full_read_at,
        last_success_at=state.last_success_at,
        rows_imported=state.rows_imported,
        rows_deleted=state.rows_deleted,
        row_count=state.row_count,
        consecutive_failures=state.consecutive_failures,
        failing_since=state.failing_since,
        last_error=state.last_error,
        updated_at=state.updated_at,
    )


def record_value(row: CrmRecord) -> ImportedRecord:
    """The imported record row as a value."""
    return ImportedRecord(
        crm_id=row.crm_id,
        name=row.name,
        owner_id=row.owner_id,
        parent_id=row.parent_id,
        state_code=row.state_code,
        data=row.data,
        generation=row.generation,
        imported_at=row.imported_at,
    )
