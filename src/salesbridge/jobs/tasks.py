"""The background tasks: plain functions, run alike by the embedded runner (:mod:`salesbridge.jobs.runner`) and by
procrastinate workers (:mod:`salesbridge.jobs.procrastinate_app`). Each takes a :class:`TaskContext` (what the
composition root built for this process) and its job's arguments (JSON scalars: ids as strings); an engine that
numbers its jobs also passes the running job's id (``job_id``).

Adding a task: a name and a :class:`~salesbridge.domain.jobs.TaskSpec` in :mod:`salesbridge.domain.jobs`, the
function here, and an entry in :data:`TASKS`; a use case defers it with ``uow.jobs.defer(name, args=…)``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from salesbridge.domain.jobs import (
    EVALUATE_ALERTS,
    IMPORT_ORGANIZATION,
    LOAD_PEOPLE_UPLOAD,
    MATCH_ORGANIZATION,
    SCHEDULE_DUE_IMPORTS,
    SCHEDULE_DUE_WRITEBACK,
    WRITE_BACK_ORGANIZATION,
)
from salesbridge.domain.writeback import FIRST_RETRY
from salesbridge.errors import ConfigError, ImportBusyError, ImportFailedError
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.matching import run_matching, run_requested_matching
from salesbridge.services.notifications import evaluate_alerts
from salesbridge.services.people_upload import run_upload
from salesbridge.services.ports import (
    Clock,
    CrmAppSessionFactory,
    CrmSessionFactory,
    Mailer,
    StoreAccess,
    WritebackSessionFactory,
)
from salesbridge.services.sync import LEASE, RunOutcome, schedule_if_due
from salesbridge.services.writeback_outbox import SCHEDULED_REASON, request_drain
from salesbridge.sync.writeback import DEFAULT_LEASE, drain_organization, has_due

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskContext:
    """What every task may use, built once per process by :mod:`salesbridge.bootstrap`.

    Attributes:
        store: The store.
        sessions: Opens CRM sessions.
        clock: Timezone-aware UTC now.
        lease: How long an import may go without finishing a page (``SALESBRIDGE_IMPORT_LEASE_SECONDS``).
        writeback_sessions: Opens CRM sessions able to write activities back (the drain's); None where this
            process delivers no activity.
        writeback_lease: How long a drain reserves a claimed batch of activities.
        writeback_first_retry: How long an activity whose delivery failed transiently waits before its first retry.
        mailer: Sends the alerts' email; None where this process evaluates no alert.
        console_url: The console's public address, for the links in alert emails.
        app_sessions: Opens CRM sessions that can check the CRM-side app (the ``crm_app_missing`` alert); None:
            that alert is not checked.
    """

    store: StoreAccess
    sessions: CrmSessionFactory
    clock: Clock
    lease: timedelta = LEASE
    writeback_sessions: WritebackSessionFactory | None = None
    writeback_lease: timedelta = DEFAULT_LEASE
    writeback_first_retry: timedelta = FIRST_RETRY
    mailer: Mailer | None = None
    console_url: str = "http://127.0.0.1:8000"
    app_sessions: CrmAppSessionFactory | None = None


async def import_organization(
    context: TaskContext, *, organization_id: str, job_id: str | None = None, **_: Any
) -> RunOutcome | None:
    """Run the organization's queued import (:func:`~salesbridge.services.import_run.run_pending_import`); its
    outcome (succeeded, or stopped: cancelled, taken over or disconnected meanwhile), None when nothing was queued.
    ``job_id``: the engine's id of the job running this call (procrastinate's), on which a failed run is recorded
    (:meth:`~salesbridge.services.ports.JobQueue.record_import_run`) so that the job shows the run's reason. Extra
    arguments (``reason``) are informational.

    Raises:
        ImportBusyError: a run of the organization still holds a live lease (another worker's; after a worker was
            killed, until its lease expires): retry the job later, and it then resumes that run from its last
            committed page.
        ImportFailedError: the run ended failed (Dynamics refused or failed, or the organization is not connected),
            recorded so before this is raised: the job fails with it, and is not retried (the schedule retries
            failed imports with its own backoff).
    """
    organization = uuid.UUID(organization_id)
    outcome = await run_pending_import(
        context.store, context.sessions, organization, clock=context.clock, lease=context.lease
    )
    if outcome is None and await asyncio.to_thread(_held_by_another, context.store, organization):
        raise ImportBusyError(f"An import of organization {organization_id} holds its lease.")
    if outcome is not None and not outcome.succeeded and not outcome.stopped:
        if job_id is not None:
            await asyncio.to_thread(_record_run, context.store, organization, job_id, outcome.run_id)
        raise ImportFailedError(outcome.run_id, outcome.error or "")
    return outcome


def import_and_match(context: TaskContext, organization_id: uuid.UUID) -> RunOutcome | None:
    """The embedded engine's import step for one organization: its queued import
    (:func:`import_organization`), then the matching run an import or a load asked for (this engine defers imports
    only, so a requested run is marked on the matching state). The import's outcome; None when none ran (nothing
    queued, or another process holds the lease). A failed run is an outcome, recorded on the run; matching's
    trouble is logged and does not stop the import's outcome from being reported."""
    try:
        outcome = asyncio.run(import_organization(context, organization_id=str(organization_id)))
    except ImportBusyError:  # another process runs this organization's import: its turn next round
        outcome = None
    except ImportFailedError as failed:  # recorded on its run
        outcome = RunOutcome(failed.run_id, succeeded=False, error=failed.reason)
    try:
        run_requested_matching(context.store, organization_id, clock=context.clock)
    except Exception:  # one organization's matching must not stop the others' imports
        logger.exception("matching of organization %s failed", organization_id)
    return outcome


def _held_by_another(store: StoreAccess, organization_id: uuid.UUID) -> bool:
    with store(organization_id, read_only=True) as uow:
        return uow.import_runs.running() is not None


def _record_run(store: StoreAccess, organization_id: uuid.UUID, job_id: str, run_id: uuid.UUID) -> None:
    with store(organization_id) as uow:
        uow.jobs.record_import_run(job_id, run_id)
        uow.commit()


def schedule_due_imports(context: TaskContext, **_: Any) -> int:
    """Queue the due import of every connected organization (:func:`~salesbridge.services.sync.schedule_if_due`:
    each deferred with its job in the same transaction); returns how many were queued. Periodic."""
    return sum(
        schedule_organization(context, organization_id)
        for organization_id in context.store.connected_organization_ids()
    )


def schedule_organization(context: TaskContext, organization_id: uuid.UUID) -> bool:
    """:func:`schedule_due_imports` for one organization (the embedded runner's step); whether one was queued."""
    return schedule_if_due(context.store, organization_id, clock=context.clock)


async def load_people_upload(context: TaskContext, *, organization_id: str, upload_id: str, **_: Any) -> bool:
    """Load the organization's queued upload (:func:`~salesbridge.services.people_upload.run_upload`, on a worker
    thread: the load is blocking store work); whether it was loaded (False: another worker took it, or it ended).
    Extra arguments (``reason``, ``job_id``) are informational.

    Raises:
        Exception: the load broke off (recorded failed on the upload first).
    """
    uploaded = await asyncio.to_thread(run_upload, context.store, uuid.UUID(organization_id), uuid.UUID(upload_id))
    return uploaded is not None


async def match_organization(context: TaskContext, *, organization_id: str, **_: Any) -> dict[str, Any]:
    """Match the organization's CRM records with its people and companies, incrementally
    (:func:`~salesbridge.services.matching.run_matching`, on a worker thread); the run's summary. Extra arguments
    (``reason``, ``job_id``) are informational."""
    summary = await asyncio.to_thread(run_matching, context.store, uuid.UUID(organization_id), clock=context.clock)
    return summary.to_dict()


async def write_back_organization(context: TaskContext, *, organization_id: str, **_: Any) -> dict[str, Any]:
    """Deliver the organization's due activities to the CRM (:func:`~salesbridge.sync.writeback.drain_organization`);
    the drain's summary. Extra arguments (``reason``, ``job_id``) are informational.

    Raises:
        ConfigError: this process was given no writeback sessions.
        StoreError: the store failed (the periodic sweep defers the drain again).
    """
    if context.writeback_sessions is None:
        raise ConfigError("This process cannot write activities back: it was built without writeback sessions.")
    summary = await drain_organization(
        context.store,
        context.writeback_sessions,
        uuid.UUID(organization_id),
        clock=context.clock,
        lease=context.writeback_lease,
        first_retry=context.writeback_first_retry,
    )
    return summary.to_dict()


def schedule_due_writeback(context: TaskContext, **_: Any) -> int:
    """Defer the drain of every connected organization with activities to deliver (queued: a drain killed
    mid-delivery left its batch queued under a lease that expires; or failing, their next attempt come); how many
    were deferred (one waits per organization at most). Periodic."""
    deferred = 0
    for organization_id in context.store.connected_organization_ids():
        if has_due(context.store, organization_id, now=context.clock()):
            with context.store(organization_id) as uow:
                request_drain(uow, reason=SCHEDULED_REASON)
                uow.commit()
            deferred += 1
    return deferred


async def evaluate_all_alerts(context: TaskContext, **_: Any) -> dict[str, Any]:
    """Evaluate the alerts of every connected organization and email the episodes that started and those that
    ended (:func:`~salesbridge.services.notifications.evaluate_alerts`); per organization that emailed anything, the
    alerts emailed and the ends ("resolved") emailed, each to whom. One
    organization's failure (its store work) is logged and does not stop the others. Periodic.

    Raises:
        ConfigError: this process was given no mailer.
    """
    if context.mailer is None:
        raise ConfigError("This process cannot send alerts: it was built without a mailer.")
    emailed: dict[str, Any] = {}
    for organization_id in await asyncio.to_thread(context.store.connected_organization_ids):
        try:
            done = await evaluate_alerts(
                context.store,
                organization_id,
                mailer=context.mailer,
                clock=context.clock,
                console_url=context.console_url,
                app_sessions=context.app_sessions,
            )
        except Exception:  # one organization's trouble must not keep the others' alerts from going out
            logger.exception("the alerts of organization %s could not be evaluated", organization_id)
            continue
        if done.emailed or done.resolved:
            summary = done.to_dict()
            emailed[str(organization_id)] = {"emailed": summary["emailed"], "resolved": summary["resolved"]}
    return emailed


Task = Callable[..., Any]

TASKS: Mapping[str, Task] = {
    IMPORT_ORGANIZATION: import_organization,
    SCHEDULE_DUE_IMPORTS: schedule_due_imports,
    MATCH_ORGANIZATION: match_organization,
    LOAD_PEOPLE_UPLOAD: load_people_upload,
    WRITE_BACK_ORGANIZATION: write_back_organization,
    SCHEDULE_DUE_WRITEBACK: schedule_due_writeback,
    EVALUATE_ALERTS: evaluate_all_alerts,
}
"""Every task's function, by the task's name (:data:`salesbridge.domain.jobs.TASK_SPECS` holds the rest)."""
