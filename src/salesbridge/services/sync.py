"""Keeping the workspace's copy of the CRM fresh: queueing imports ("Sync now", the schedule), claiming them one
per organization at a time, and saying how they went. Through the ports only.

A run is queued → running (under a lease the worker renews at every page) → succeeded or failed. A worker that
dies leaves an expired lease; the next look at the queue fails that run and queues a replacement at once (no
backoff wait), and the import engine resumes from the last committed page. Running a claimed import is
:func:`salesbridge.services.import_run.run_pending_import`. Failures are never silent: every admin page shows them
(:attr:`SyncStatus.failing`) and retries continue with backoff (:func:`next_run_due`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final

from salesbridge.crm.ports import RequestUsage
from salesbridge.domain.jobs import IMPORT_ORGANIZATION, import_queueing_lock, organization_lock
from salesbridge.domain.pipeline import won_value_columns
from salesbridge.domain.sync_runs import (
    STOPPED_WORKER_ERROR,
    ImportReport,
    ImportRun,
    ImportSettings,
    RunCounts,
    TableCheckpoint,
)
from salesbridge.domain.workspace import ConnectionState, CrmCredentials, ImportState
from salesbridge.errors import ImportCancelledError, InvalidRequestError
from salesbridge.message_ids import N_
from salesbridge.services.organizations import require_organization
from salesbridge.services.ports import Clock, StoreAccess, UnitOfWork

LEASE = timedelta(seconds=120)
"""How long a run may go without renewing its lease (it renews at every page) before another worker takes over:
the default of ``SALESBRIDGE_IMPORT_LEASE_SECONDS``; entry points pass the configured value."""
DEFAULT_INTERVAL = timedelta(minutes=15)
MAX_BACKOFF = timedelta(hours=6)
SYNC_NOW_REASON = "sync now"
SCHEDULED_REASON = "scheduled"
RETRY_REASON = "retry after the worker stopped"
NOT_CONNECTED_ERROR = "the organization is not connected to a CRM"


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended. ``stopped``: it ended failed because it was cancelled, taken over by another worker, or its
    organization disconnected (:class:`~salesbridge.errors.ImportCancelledError`): not a failure of the import."""

    run_id: uuid.UUID
    succeeded: bool
    report: ImportReport | None = None
    error: str | None = None
    stopped: bool = False


@dataclass(frozen=True)
class SyncStatus:
    """Where the organization's CRM sync stands.

    Attributes:
        last_sync_at: When the last successful import finished (the seed's "last sync date").
        running_since: When the running import started, if one runs.
        queued: Whether an import waits to run.
        failing_since: When the current streak of failed imports began (None when the last one succeeded).
        failure_reason: The last failure's reason while failing.
        next_run_at: When the scheduler starts the next import (with backoff while failing).
        throttled_until: While an import runs and Dynamics throttled it lately (within :data:`THROTTLE_SHOWN`):
            until when Dynamics asked it to wait (``Retry-After``), i.e. its next try; after an import that gave
            up throttled, the scheduler's next try.
    """

    organization: str
    connected: bool
    interval: timedelta
    last_sync_at: datetime | None
    running_since: datetime | None
    queued: bool
    failing_since: datetime | None
    failure_reason: str | None
    consecutive_failures: int
    next_run_at: datetime | None
    tables: tuple[TableCheckpoint, ...] = field(default_factory=tuple)
    throttled_until: datetime | None = None

    @property
    def failing(self) -> bool:
        """True while imports keep failing."""
        return self.failing_since is not None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping (values only: ``salesbridge.web.localized.sync_status_json`` adds the failure in
        words, in the reader's language)."""
        return {
            "organization": self.organization,
            "connected": self.connected,
            "interval_minutes": int(self.interval.total_seconds() // 60),
            "last_sync_at": _iso(self.last_sync_at),
            "running_since": _iso(self.running_since),
            "queued": self.queued,
            "failing": self.failing,
            "failing_since": _iso(self.failing_since),
            "failure_reason": self.failure_reason,
            "consecutive_failures": self.consecutive_failures,
            "next_run_at": _iso(self.next_run_at),
            "throttled_until": _iso(self.throttled_until),
            "tables": [table_json(table) for table in self.tables],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def table_json(table: TableCheckpoint) -> dict[str, Any]:
    """One table's import as JSON (the sync status's and Sync health's): ``updated_at`` is when its state last
    changed (Sync health's "Last change"), ``last_error`` the last failure as it came."""
    return {
        "table": table.table,
        "mode": table.mode.value,
        "last_success_at": _iso(table.last_success_at),
        "rows_imported": table.rows_imported,
        "rows_deleted": table.rows_deleted,
        "row_count": table.row_count,
        "consecutive_failures": table.consecutive_failures,
        "failing_since": _iso(table.failing_since),
        "last_error": table.last_error,
        "updated_at": table.updated_at.isoformat(),
    }


def queue_import(uow: UnitOfWork, *, reason: str, defer_job: bool = True) -> ImportRun:
    """Queue an import run of ``uow``'s organization (the one already queued, if any) and defer the job that runs
    it, in ``uow``'s transaction (the caller commits): the import job holds the organization's lock (never two
    imports of one organization at once) and its queueing lock (one waits at most: "Sync now" pressed ten times
    queues one job). ``defer_job=False`` queues the run only, for a caller that runs it itself (``sync run``): if
    it never does, the schedule defers its job (:func:`schedule_if_due`)."""
    run = uow.import_runs.enqueue(reason=reason)
    if not defer_job:
        return run
    organization_id = uow.organization_id
    uow.jobs.defer(
        IMPORT_ORGANIZATION,
        args={"organization_id": str(organization_id), "reason": reason},
        lock=organization_lock(organization_id),
        queueing_lock=import_queueing_lock(organization_id),
    )
    return run


def request_sync(
    store: StoreAccess, *, slug: str, actor: str, reason: str = SYNC_NOW_REASON, run_here: bool = False
) -> uuid.UUID:
    """Queue an import of ``slug`` ("Sync now") and defer its job; returns the queued run (the one already queued,
    if any). Audited. ``run_here``: the caller runs the import itself (``sync run``), so no job is deferred (a
    worker would otherwise race it for the run).

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        InvalidRequestError: the organization is not connected to a CRM.
    """
    organization_id = require_organization(store, slug)
    with store(organization_id) as uow:
        connection = uow.crm_connection.find()
        if connection is None or connection.state is not ConnectionState.CONNECTED:
            raise InvalidRequestError(N_("Connect to the CRM first, on the CRM Settings page."))
        run = queue_import(uow, reason=reason, defer_job=not run_here)
        uow.audit.record(actor=actor, action="crm.sync_requested", details={"run_id": str(run.id), "reason": reason})
        uow.commit()
        return run.id


def _interval(uow: UnitOfWork) -> timedelta:
    minutes = uow.crm_settings.import_settings().sync_interval_minutes
    return timedelta(minutes=minutes) if minutes else DEFAULT_INTERVAL


def _failure_streak(uow: UnitOfWork) -> tuple[int, datetime | None, str | None]:
    """Consecutive failed runs (newest first), when the streak began, and the newest failure's reason."""
    streak, since, reason = 0, None, None
    for run in uow.import_runs.recent(limit=50):
        if run.state in (ImportState.QUEUED, ImportState.RUNNING):
            continue
        if run.state is ImportState.SUCCEEDED:
            break
        streak += 1
        since = run.finished_at or since
        reason = reason or run.error
    return streak, since, reason


def next_run_due(
    *, last_finished_at: datetime | None, interval: timedelta, consecutive_failures: int
) -> datetime | None:
    """When the scheduler should start the next import: ``interval`` after the last run, doubled for each
    consecutive failure up to :data:`MAX_BACKOFF` (never slower than the interval); None means now."""
    if last_finished_at is None:
        return None
    wait = interval
    if consecutive_failures:
        wait = max(interval, min(interval * 2 ** (consecutive_failures - 1), MAX_BACKOFF))
    return last_finished_at + wait


def sync_status(store: StoreAccess, *, slug: str, clock: Clock) -> SyncStatus:
    """The sync status of ``slug``. Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
    """
    organization_id = require_organization(store, slug)
    with store(organization_id, read_only=True) as uow:
        connection = uow.crm_connection.find()
        connected = connection is not None and connection.state is ConnectionState.CONNECTED
        interval = _interval(uow)
        succeeded = uow.import_runs.last_finished(ImportState.SUCCEEDED)
        running = uow.import_runs.running()
        latest = uow.import_runs.recent(limit=5)
        queued = any(run.state is ImportState.QUEUED for run in latest)
        ended = next((run for run in latest if run.finished_at is not None), None)
        streak, since, reason = _failure_streak(uow)
        due = next_run_due(
            last_finished_at=uow.import_runs.last_finished_at(), interval=interval, consecutive_failures=streak
        )
        tables = tuple(uow.sync_states.all())
    return SyncStatus(
        organization=slug,
        connected=connected,
        interval=interval,
        last_sync_at=succeeded.finished_at if succeeded else None,
        running_since=running.started_at if running else None,
        queued=queued,
        # A deliberate disconnect cancels runs; that is not a failing sync.
        failing_since=since if streak and connected else None,
        failure_reason=reason if streak and connected else None,
        consecutive_failures=streak,
        next_run_at=(due or clock()) if connected else None,
        tables=tables,
        throttled_until=_throttled_until(running, ended, due, clock()) if connected else None,
    )


THROTTLE_SHOWN: Final = timedelta(minutes=1)
"""How long after Dynamics' last ``Retry-After`` ended the status still says the running import is throttled (a
storm answers some requests and throttles the next: the run goes on between its waits)."""


def _throttled_until(
    running: ImportRun | None, ended: ImportRun | None, due: datetime | None, now: datetime
) -> datetime | None:
    """The running import's end of Dynamics' last ``Retry-After``; when none runs and the last one failed
    throttled (it gave up waiting), the scheduler's next try, no earlier than Dynamics asked. None when Dynamics has
    not throttled lately (:data:`THROTTLE_SHOWN`)."""
    if running is not None:
        until = running.throttled_until
    elif ended is not None and ended.state is ImportState.FAILED and ended.throttled_until is not None:
        until = max(ended.throttled_until, due or now)
    else:
        until = None
    return until if until is not None and until >= now - THROTTLE_SHOWN else None


@dataclass(frozen=True)
class SyncFailure:
    """Imports keep failing: since when (the first failure of the streak), and the last failure's reason."""

    since: datetime
    reason: str | None


def sync_failure(store: StoreAccess, *, slug: str) -> SyncFailure | None:
    """Since when and why imports keep failing while connected (what every administrator page says), else None.
    Reads only the connection and the latest runs: cheap enough for every page."""
    organization_id = require_organization(store, slug)
    with store(organization_id, read_only=True) as uow:
        connection = uow.crm_connection.find()
        if connection is None or connection.state is not ConnectionState.CONNECTED:
            return None
        streak, since, reason = _failure_streak(uow)
    if not streak or since is None:
        return None
    return SyncFailure(since=since, reason=reason)


def _retry_stopped_runs(uow: UnitOfWork) -> bool:
    """Fail the runs whose worker died (lease expired) and queue a replacement at once, so that the import resumes
    without waiting for a backoff step. Returns whether one was queued.

    Once in a row only: when the run found dead was itself such a replacement, the usual backoff applies, so that
    a run that kills its worker (out of memory, say) does not restart in a tight loop.
    """
    if not uow.import_runs.fail_expired():
        return False
    connection = uow.crm_connection.find()
    if connection is None or connection.state is not ConnectionState.CONNECTED:
        return False
    dead = uow.import_runs.last_finished(ImportState.FAILED)
    if dead is None or dead.error != STOPPED_WORKER_ERROR or dead.reason == RETRY_REASON:
        return False
    queue_import(uow, reason=RETRY_REASON)
    return True


def schedule_if_due(store: StoreAccess, organization_id: uuid.UUID, *, clock: Clock) -> bool:
    """Queue a scheduled import when the organization is connected, nothing is queued or running, and the next
    run is due; a run whose worker died is failed and replaced at once (see :func:`_retry_stopped_runs`). Returns
    whether one was queued."""
    with store(organization_id) as uow:
        retried = _retry_stopped_runs(uow)
        uow.commit()
        if retried:
            return True
        connection = uow.crm_connection.find()
        if connection is None or connection.state is not ConnectionState.CONNECTED:
            return False
        if uow.import_runs.running() is not None:
            return False
        if uow.import_runs.queued():
            # Its job may have failed (a store outage in a worker): defer it again; with one waiting, nothing changes
            # (queueing lock; the embedded runner's queue is the run itself).
            queue_import(uow, reason=SCHEDULED_REASON)
            uow.commit()
            return False
        streak, _since, _reason = _failure_streak(uow)
        due = next_run_due(
            last_finished_at=uow.import_runs.last_finished_at(), interval=_interval(uow), consecutive_failures=streak
        )
        if due is not None and due > clock():
            return False
        queue_import(uow, reason=SCHEDULED_REASON)
        uow.commit()
        return True


@dataclass(frozen=True)
class ClaimedRun:
    """A run this worker holds the lease of, and what it needs to import.

    Attributes:
        credentials: The stored connection's, secret decrypted.
        extra_columns: Further columns to read per table (the won value's, the mapped profile-URL columns).
    """

    run_id: uuid.UUID
    credentials: CrmCredentials = field(repr=False)
    extra_columns: Mapping[str, tuple[str, ...]]


def claim_next_run(
    store: StoreAccess, organization_id: uuid.UUID, *, lease: timedelta
) -> ClaimedRun | RunOutcome | None:
    """Claim the organization's oldest queued run under ``lease``; None when nothing is queued or another run
    holds a live lease (at most one run per organization). A run whose worker died (lease expired) is failed and
    replaced first, and the replacement is the one claimed (see :func:`_retry_stopped_runs`). A run claimed while
    the organization is not connected ends failed at once (the returned :class:`RunOutcome`).

    Raises:
        UndecryptableSecretError: the stored secret was encrypted with another key.
    """
    with store(organization_id) as uow:
        _retry_stopped_runs(uow)
        run = uow.import_runs.claim(lease=lease)
        if run is None:
            uow.commit()  # an expired run may have been failed by the claim
            return None
        connection = uow.crm_connection.find()
        if connection is None or connection.state is not ConnectionState.CONNECTED:
            uow.import_runs.finish(run.id, error=NOT_CONNECTED_ERROR)
            uow.commit()
            return RunOutcome(run.id, succeeded=False, error="not connected")
        credentials = uow.crm_connection.credentials()
        settings = uow.crm_settings.import_settings()
        uow.commit()
    return ClaimedRun(run.id, credentials, extra_import_columns(settings))


def extra_import_columns(settings: ImportSettings) -> dict[str, tuple[str, ...]]:
    """The further columns an import reads per table: the won value's, and the mapped profile-URL columns."""
    columns = won_value_columns(settings.won_value_column, settings.won_value_base_currency)
    profile_urls = {table: (column,) for table, column in settings.profile_url_columns.items()}
    return {"opportunity": columns, **profile_urls}


def ensure_still_running(uow: UnitOfWork, run_id: uuid.UUID, *, lease: timedelta) -> None:
    """Renew the run's lease inside ``uow``'s transaction (a page's, or the one that ends the run).

    Raises:
        ImportCancelledError: the run was cancelled or taken over, or the organization was disconnected: nothing
            of this transaction must be committed.
    """
    if not uow.import_runs.renew(run_id, lease=lease):
        raise ImportCancelledError("The import was cancelled or taken over by another worker.")
    current = uow.crm_connection.find()
    if current is None or current.state is not ConnectionState.CONNECTED:
        raise ImportCancelledError("The organization was disconnected from the CRM.")


def end_failed(
    store: StoreAccess,
    organization_id: uuid.UUID,
    run_id: uuid.UUID,
    reason: str,
    *,
    counts: RunCounts | None = None,
) -> RunOutcome:
    """Mark the run failed with ``reason`` (and what it did, ``counts``, when known) and audit it
    (``crm.import_failed``)."""
    with store(organization_id) as uow:
        uow.import_runs.finish(run_id, error=reason, counts=counts)
        uow.audit.record(actor="sync", action="crm.import_failed", details={"run_id": str(run_id), "reason": reason})
        uow.commit()
    return RunOutcome(run_id, succeeded=False, error=reason)


def end_stopped(
    store: StoreAccess,
    organization_id: uuid.UUID,
    run_id: uuid.UUID,
    stopped: ImportCancelledError,
    *,
    counts: RunCounts | None = None,
) -> RunOutcome:
    """:func:`end_failed` for a run that stopped because it was cancelled, taken over or disconnected (a run no
    longer running keeps the error it was ended with); its outcome says ``stopped``."""
    return replace(end_failed(store, organization_id, run_id, str(stopped), counts=counts), stopped=True)


def record_success(
    uow: UnitOfWork,
    run_id: uuid.UUID,
    report: ImportReport,
    derived: Mapping[str, int] | None = None,
    *,
    usage: RequestUsage | None = None,
) -> RunOutcome:
    """Mark the run succeeded with its rows and, when given, the requests it sent and the 429s it met (``usage``),
    and audit it (``crm.imported``, with ``derived`` counts such as the auto-saved lists' changes), in ``uow``'s
    transaction (the caller commits)."""
    usage = usage or RequestUsage()
    uow.import_runs.finish(
        run_id,
        counts=RunCounts(
            rows_imported=report.rows_imported,
            rows_deleted=report.rows_deleted,
            requests_made=usage.requests,
            throttled=usage.throttled,
        ),
    )
    uow.audit.record(
        actor="sync",
        action="crm.imported",
        details={
            "run_id": str(run_id),
            "rows_imported": report.rows_imported,
            "rows_deleted": report.rows_deleted,
            **(derived or {}),
        },
    )
    return RunOutcome(run_id, succeeded=True, report=report)
