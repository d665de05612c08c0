"""Running a claimed CRM import: the import engine reads the CRM into the store page by page, then, in the
transaction that marks the run succeeded, what derives from the imported records follows what the run changed
(:attr:`salesbridge.domain.sync_runs.ImportReport.changes`): the CRM users are refreshed from the imported
``systemuser`` records and seats matched again when a ``systemuser`` changed, and the auto-saved lists of the
sellers whose records changed are recomputed (every list after a full read; none when nothing changed), and a
matching run is requested when an account, contact or lead changed (:mod:`salesbridge.services.matching`).

The run's bookkeeping (claim, lease, failure, success) is :mod:`salesbridge.services.sync`'s; the engine writes
through its own ports (:mod:`salesbridge.sync.ports`), which the services' unit of work includes.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta

from salesbridge.crm.ports import CrmRecord, RequestUsage
from salesbridge.domain.match_links import TARGET_KINDS
from salesbridge.domain.sync_runs import ImportChanges, ImportReport, RunCounts
from salesbridge.domain.workspace import ImportState
from salesbridge.errors import CrmError, ImportCancelledError, RateLimitedError
from salesbridge.services.crm_users import refresh_crm_users_from_import
from salesbridge.services.lists import recompute_changed_in
from salesbridge.services.matching import IMPORT_REASON, request_matching
from salesbridge.services.ports import Clock, CrmSessionFactory, StoreAccess, UnitOfWork
from salesbridge.services.sync import (
    LEASE,
    ClaimedRun,
    RunOutcome,
    claim_next_run,
    end_failed,
    end_stopped,
    ensure_still_running,
    record_success,
)
from salesbridge.sync.engine import ImportEngine, Progress
from salesbridge.sync.throttle_watch import ThrottleWatch

logger = logging.getLogger(__name__)


async def run_pending_import(
    store: StoreAccess,
    sessions: CrmSessionFactory,
    organization_id: uuid.UUID,
    *,
    clock: Clock,
    progress: Progress | None = None,
    page_size: int = 5000,
    lease: timedelta = LEASE,
    full_recompute: bool = False,
) -> RunOutcome | None:
    """Claim the organization's oldest queued import and run it under ``lease`` (pass the configured
    ``SALESBRIDGE_IMPORT_LEASE_SECONDS``); None when nothing is queued or another run holds the lease (at most one
    import per organization at a time). A run whose worker died is failed and replaced first, and the replacement
    runs now (see :func:`salesbridge.services.sync.claim_next_run`). The store work runs on worker threads, never on
    the event loop.

    ``full_recompute`` derives CRM users, seats and every auto-saved list from every imported row, whatever the
    run changed (the results are the same; benchmarks and tests compare the two).

    Never raises for CRM failures: they end the run as failed (audited, shown by
    :func:`salesbridge.services.sync.sync_status`); a run cancelled, taken over or disconnected meanwhile ends
    failed too, its outcome ``stopped``.
    """
    claimed = await asyncio.to_thread(claim_next_run, store, organization_id, lease=lease)
    if not isinstance(claimed, ClaimedRun):
        return claimed
    run_id = claimed.run_id
    session = sessions(claimed.credentials)
    try:
        engine = ImportEngine(
            store,
            organization_id,
            session.reader,
            session.metadata,
            clock=clock,
            extra_columns=claimed.extra_columns,
            page_size=page_size,
            guard=lambda page_uow: ensure_still_running(page_uow, run_id, lease=lease),
            progress=progress,
        )
        # While the run goes, the status says Dynamics throttles it while it waits rather than after.
        throttles = ThrottleWatch(
            session.usage,
            clock,
            lambda until: _note_throttled(store, organization_id, run_id, until),
            subject=f"import {run_id}",
        )
        watching = asyncio.ensure_future(throttles.watch())
        try:
            report = await engine.run()
        except CrmError as error:
            counts = _counts(None, session.usage())
            if isinstance(error, RateLimitedError):  # throttled until it gave up: the status says so, not only "failed"
                waited = timedelta(seconds=error.retry_after_s or session.usage().paused_s)
                await asyncio.to_thread(_note_throttled, store, organization_id, run_id, clock() + waited)
            return await asyncio.to_thread(end_failed, store, organization_id, run_id, error.message, counts=counts)
        except ImportCancelledError as error:
            counts = _counts(None, session.usage())
            return await asyncio.to_thread(end_stopped, store, organization_id, run_id, error, counts=counts)
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
        usage = session.usage()
    finally:
        await session.close()
    changes = ImportChanges.all() if full_recompute else report.changes
    return await asyncio.to_thread(_finish, store, organization_id, run_id, report, changes, lease, usage)


def _note_throttled(store: StoreAccess, organization_id: uuid.UUID, run_id: uuid.UUID, until: datetime) -> None:
    with store(organization_id) as uow:
        uow.import_runs.note_throttled(run_id, until=until)
        uow.commit()


def _counts(report: ImportReport | None, usage: RequestUsage) -> RunCounts:
    """What a run did: its rows (None when it failed before reporting them), requests and 429s."""
    return RunCounts(
        rows_imported=report.rows_imported if report is not None else None,
        rows_deleted=report.rows_deleted if report is not None else None,
        requests_made=usage.requests,
        throttled=usage.throttled,
    )


def _finish(
    store: StoreAccess,
    organization_id: uuid.UUID,
    run_id: uuid.UUID,
    report: ImportReport,
    changes: ImportChanges,
    lease: timedelta,
    usage: RequestUsage,
) -> RunOutcome:
    """Derive from what the import changed and mark the run succeeded, in one transaction; a run cancelled or
    disconnected since its last page (perhaps purged) derives nothing and ends failed."""
    with store(organization_id) as uow:
        try:
            ensure_still_running(uow, run_id, lease=lease)
        except ImportCancelledError as error:
            uow.rollback()
            return end_stopped(store, organization_id, run_id, error, counts=_counts(report, usage))
        changes = _unfollowed_included(uow, changes)
        if changes.touches("systemuser"):
            systemusers = uow.crm_records.records("systemuser")
            refresh_crm_users_from_import(uow, (CrmRecord("systemuser", row.crm_id, row.data) for row in systemusers))
        lists = recompute_changed_in(uow, changes)
        derived = {
            "list_items_added": lists.added,
            "list_items_removed": lists.removed,
            "derived_from_every_row": changes.everything,
        }
        outcome = record_success(uow, run_id, report, derived, usage=usage)
        if any(changes.touches(table) for table in TARGET_KINDS):
            request_matching(uow, reason=IMPORT_REASON)
        uow.commit()
    # A first import fills tables PostgreSQL has no statistics of yet: plan the next reads from what they hold.
    store.refresh_statistics()
    return outcome


def _unfollowed_included(uow: UnitOfWork, changes: ImportChanges) -> ImportChanges:
    """``changes``, or everything when a run failed since the last successful one: the pages a failed run
    committed (a worker killed, a CRM failure at a later table, a cancellation) changed records no derivation
    followed, and the runs after it resume past them."""
    if changes.everything:
        return changes
    failed = uow.import_runs.last_finished(ImportState.FAILED)
    if failed is None or failed.finished_at is None:
        return changes
    succeeded = uow.import_runs.last_finished(ImportState.SUCCEEDED)
    if succeeded is None or succeeded.finished_at is None or succeeded.finished_at <= failed.finished_at:
        return ImportChanges.all()
    return changes


def import_or_matching_waiting(store: StoreAccess, organization_id: uuid.UUID) -> bool:
    """Whether the organization has background work for the embedded runner: an import to claim (queued, and no
    run holds a live lease) or a requested matching run. One read-only transaction; a runner that starts a process
    per run asks this first, so that an idle round starts none."""
    with store(organization_id, read_only=True) as uow:
        if uow.import_runs.queued() and uow.import_runs.running() is None:
            return True
        return uow.matches.state().requested_at is not None
