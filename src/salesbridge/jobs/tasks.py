"""The background tasks: plain functions, run alike by the embedded runner (:mod:`salesbridge.jobs.runner`) and by
procrastinate workers (:mod:`salesbridge.jobs.procrastinate_app`). Each takes a :class:`TaskContext` (what the
composition root built for this process) and its job's arguments (JSON scalars: ids as strings); an engine that
numbers its jobs also passes the running job's id (``job_id``).

Adding a task: a name and a :class:`~salesbridge.domain.jobs.TaskSpec` in :mod:`salesbridge.domain.jobs`, the
function here, and an entry in :data:`TASKS`; a use case defers it with ``uow.jobs.defer(name, args=…)``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from salesbridge.domain.jobs import IMPORT_ORGANIZATION, LOAD_PEOPLE_UPLOAD, MATCH_ORGANIZATION, SCHEDULE_DUE_IMPORTS
from salesbridge.errors import ImportBusyError, ImportFailedError
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.matching import run_matching
from salesbridge.services.people_upload import run_upload
from salesbridge.services.ports import Clock, CrmSessionFactory, StoreAccess
from salesbridge.services.sync import LEASE, RunOutcome, schedule_if_due


@dataclass(frozen=True)
class TaskContext:
    """What every task may use, built once per process by :mod:`salesbridge.bootstrap`.

    Attributes:
        store: The store.
        sessions: Opens CRM sessions.
        clock: Timezone-aware UTC now.
        lease: How long an import may go without finishing a page (``SALESBRIDGE_IMPORT_LEASE_SECONDS``).
    """

    store: StoreAccess
    sessions: CrmSessionFactory
    clock: Clock
    lease: timedelta = LEASE


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


Task = Callable[..., Any]

TASKS: Mapping[str, Task] = {
    IMPORT_ORGANIZATION: import_organization,
    SCHEDULE_DUE_IMPORTS: schedule_due_imports,
    MATCH_ORGANIZATION: match_organization,
    LOAD_PEOPLE_UPLOAD: load_people_upload,
}
"""Every task's function, by the task's name (:data:`salesbridge.domain.jobs.TASK_SPECS` holds the rest)."""
