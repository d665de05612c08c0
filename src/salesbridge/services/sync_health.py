"""Sync health (issue 15, CRM Settings): how each imported table stands (rows, last change, last error), the records
the import skipped and the activities writeback could not deliver (with Dynamics' error code and message; retry one
or all), and the history of import runs (duration, rows, requests, 429s met).

Retrying a writeback error is :func:`salesbridge.services.writeback.retry_activities` (the queue takes it again).
The import skips a record the store refuses (a value it cannot keep, such as a NUL character on PostgreSQL) and
stores the rest of its page (:mod:`salesbridge.sync.engine`). Retrying a skipped record reads it from Dynamics by id
and stores it as the import would, now: a record that is gone from Dynamics is deleted here too; one that fails
again (Dynamics' error, or the store refusing it still) keeps its error, one attempt more.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from salesbridge.domain.clock import Clock
from salesbridge.domain.crm_import import import_specs
from salesbridge.domain.sync_health import SkippedRecord
from salesbridge.domain.sync_runs import ImportRun, RecordRow, TableCheckpoint
from salesbridge.domain.workspace import ConnectionState, CrmCredentials, ImportState
from salesbridge.domain.writeback import DeliveryState
from salesbridge.errors import CrmError, InvalidRequestError, NotFoundError, RecordRefusedError
from salesbridge.message_ids import N_
from salesbridge.services.ports import CrmSessionFactory, StoreAccess
from salesbridge.services.sync import extra_import_columns
from salesbridge.services.writeback import MAX_PROBLEMS, Problem, retry_activities, writeback_status
from salesbridge.sync.engine import record_row

MAX_RUNS: Final = 30
"""The most runs the history shows (the newest)."""
MAX_IMPORT_ERRORS: Final = 200
"""The most skipped records the page lists (the most recent failures); the count covers them all."""
NOT_CONNECTED: Final = N_("Connect to the CRM first, on the CRM Settings page.")


@dataclass(frozen=True)
class RunLine:
    """One finished import run of the history."""

    run: ImportRun

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end; None for a run that never started."""
        run = self.run
        if run.started_at is None or run.finished_at is None:
            return None
        return max(0.0, (run.finished_at - run.started_at).total_seconds())

    @property
    def rows(self) -> int | None:
        """Rows stored and deleted, every table; None when the run did not count them."""
        if self.run.rows_imported is None:
            return None
        return self.run.rows_imported + (self.run.rows_deleted or 0)

    @property
    def succeeded(self) -> bool:
        """Whether the run ended well."""
        return self.run.state is ImportState.SUCCEEDED


@dataclass(frozen=True)
class SyncHealth:
    """Where the organization's sync stands.

    Attributes:
        tables: Each imported table's state (rows, last change ``updated_at``, last error), by name.
        import_errors: The records the import skipped (at most :data:`MAX_IMPORT_ERRORS`, most recent first).
        import_error_count: All of them.
        writeback_errors: The failing and parked activities with Dynamics' error (at most
            :data:`~salesbridge.services.writeback.MAX_PROBLEMS`, newest first).
        writeback_error_count: All of them.
        runs: The newest finished runs (at most :data:`MAX_RUNS`), oldest first (as a chart reads them).
        record_names: The name of each skipped record the store knows (imported before it failed), by
            ``(table, crm id)``: an id alone tells an administrator nothing.
    """

    tables: tuple[TableCheckpoint, ...]
    import_errors: list[SkippedRecord]
    import_error_count: int
    writeback_errors: list[Problem]
    writeback_error_count: int
    runs: list[RunLine]
    record_names: dict[tuple[str, str], str | None] = field(default_factory=dict)
    crm_app_missing: bool = False
    """Activities wait for the CRM app's tables, removed from Dynamics
    (:data:`~salesbridge.services.writeback.CRM_APP_MISSING_STATUS` says what to do)."""
    writeback_throttled_until: datetime | None = None
    """While Dynamics throttles the writeback drain: its next try
    (:attr:`~salesbridge.services.writeback.WritebackStatus.throttled_until`)."""


def sync_health(store: StoreAccess, organization_id: uuid.UUID, *, clock: Clock | None = None) -> SyncHealth:
    """Where the organization's sync stands (see :class:`SyncHealth`), by ``clock`` (the system's by default).
    Reads only."""
    with store(organization_id, read_only=True) as uow:
        tables = tuple(uow.sync_states.all())
        import_errors = uow.import_record_errors.newest(limit=MAX_IMPORT_ERRORS)
        import_error_count = uow.import_record_errors.count()
        recent = uow.import_runs.recent(limit=MAX_RUNS + 2)  # a queued and a running one may come first
        record_names = uow.crm_record_queries.names([(error.table, error.crm_id) for error in import_errors])
    writeback = writeback_status(store, organization_id, clock=clock)
    finished = [run for run in recent if run.finished_at is not None][:MAX_RUNS]
    finished.sort(key=lambda run: run.finished_at or run.requested_at)
    return SyncHealth(
        tables=tables,
        import_errors=import_errors,
        import_error_count=import_error_count,
        writeback_errors=writeback.problems,
        writeback_error_count=sum(writeback.totals[problem] for problem in _PROBLEM_STATES),
        runs=[RunLine(run) for run in finished],
        record_names=record_names,
        crm_app_missing=writeback.crm_app_missing,
        writeback_throttled_until=writeback.throttled_until,
    )


_PROBLEM_STATES: Final = (DeliveryState.FAILING, DeliveryState.PARKED)


def retry_writeback_errors(
    store: StoreAccess, organization_id: uuid.UUID, activity_ids: Sequence[uuid.UUID] = (), *, actor: str
) -> int:
    """Put the failing and parked activities named (else all of them) back in the writeback queue; how many.
    Audited (``writeback.retried``). See :func:`salesbridge.services.writeback.retry_activities`."""
    return retry_activities(store, organization_id, activity_ids, actor=actor)


@dataclass(frozen=True)
class ImportRetry:
    """What retrying skipped records did: stored now, gone from Dynamics (deleted here too), failed again."""

    stored: int = 0
    gone: int = 0
    failed: int = 0


async def retry_import_errors(
    store: StoreAccess,
    sessions: CrmSessionFactory,
    organization_id: uuid.UUID,
    records: Sequence[tuple[str, str]] = (),
    *,
    actor: str,
) -> ImportRetry:
    """Read the skipped records named (``(table, crm id)`` pairs; else every one, at most
    :data:`MAX_IMPORT_ERRORS`) from Dynamics again and store each as the import would; a stored or gone record's
    error is cleared, a failing one's is updated. Audited (``crm.import_records_retried``).

    Store work is short transactions; call it from a worker thread's event loop or the app's (it awaits Dynamics).

    Raises:
        InvalidRequestError: the organization is not connected to a CRM.
    """
    wanted = {(table, crm_id) for table, crm_id in records}

    def prepare() -> tuple[CrmCredentials, dict[str, tuple[str, ...]], list[SkippedRecord]]:
        with store(organization_id, read_only=True) as uow:
            connection = uow.crm_connection.find()
            if connection is None or connection.state is not ConnectionState.CONNECTED:
                raise InvalidRequestError(NOT_CONNECTED)
            credentials = uow.crm_connection.credentials()
            extra = extra_import_columns(uow.crm_settings.import_settings())
            errors = uow.import_record_errors.newest(limit=MAX_IMPORT_ERRORS)
        chosen = [error for error in errors if not wanted or (error.table, error.crm_id) in wanted]
        return credentials, extra, chosen

    credentials, extra, chosen = await asyncio.to_thread(prepare)
    specs = import_specs(extra)
    stored = gone = failed = 0
    session = sessions(credentials)
    try:
        for error in chosen:
            spec = specs.get(error.table)
            if spec is None:
                continue
            try:
                present = {column.logical_name for column in await session.metadata.columns(spec.table)}
                columns = spec.columns + tuple(c for c in spec.optional_columns if c in present)
                record = await session.reader.get(spec.table, error.crm_id, columns=columns)
            except NotFoundError:
                await asyncio.to_thread(_forget_gone, store, organization_id, error)
                gone += 1
            except CrmError as failure:
                await asyncio.to_thread(_note_failure, store, organization_id, error, failure)
                failed += 1
            else:
                row = record_row(spec, record)
                try:
                    await asyncio.to_thread(_store_again, store, organization_id, error, row)
                except RecordRefusedError as refused:
                    await asyncio.to_thread(_note_refusal, store, organization_id, error, str(refused))
                    failed += 1
                else:
                    stored += 1
    finally:
        await session.close()
    outcome = ImportRetry(stored=stored, gone=gone, failed=failed)
    await asyncio.to_thread(_audit_retry, store, organization_id, actor, outcome, len(wanted))
    return outcome


def _store_again(store: StoreAccess, organization_id: uuid.UUID, error: SkippedRecord, row: RecordRow) -> None:
    with store(organization_id) as uow:
        # The table's current generation (never get_or_create: a wrong mode would restart the table's read).
        generation = next((state.generation for state in uow.sync_states.all() if state.table_name == error.table), 0)
        uow.crm_records.upsert_many(error.table, [row], generation=generation)
        uow.import_record_errors.clear(error.table, [error.crm_id])
        uow.commit()


def _forget_gone(store: StoreAccess, organization_id: uuid.UUID, error: SkippedRecord) -> None:
    with store(organization_id) as uow:
        uow.crm_records.delete_ids(error.table, [error.crm_id])
        uow.import_record_errors.clear(error.table, [error.crm_id])
        uow.commit()


def _note_refusal(store: StoreAccess, organization_id: uuid.UUID, error: SkippedRecord, reason: str) -> None:
    with store(organization_id) as uow:
        uow.import_record_errors.record(error.table, error.crm_id, code=None, message=reason)
        uow.commit()


def _note_failure(store: StoreAccess, organization_id: uuid.UUID, error: SkippedRecord, failure: CrmError) -> None:
    with store(organization_id) as uow:
        uow.import_record_errors.record(error.table, error.crm_id, code=failure.code, message=failure.message)
        uow.commit()


def _audit_retry(store: StoreAccess, organization_id: uuid.UUID, actor: str, outcome: ImportRetry, named: int) -> None:
    with store(organization_id) as uow:
        uow.audit.record(
            actor=actor,
            action="crm.import_records_retried",
            details={"stored": outcome.stored, "gone": outcome.gone, "failed": outcome.failed, "named": named or "all"},
        )
        uow.commit()


__all__ = [
    "MAX_IMPORT_ERRORS",
    "MAX_PROBLEMS",
    "MAX_RUNS",
    "ImportRetry",
    "RunLine",
    "SyncHealth",
    "retry_import_errors",
    "retry_writeback_errors",
    "sync_health",
]
