"""The operations view of background jobs: list an organization's (the console's jobs page) or every one's (the
operators' ``salesbridge jobs``), retry a failed job, cancel a queued or running one. Through the job API's ports
(:mod:`salesbridge.services.ports.jobs`), whichever engine runs the jobs.

An import job and its import run go together: cancelling the job also ends its import run, and no other (a running
import stops at its next page: its lease can no longer be renewed), and retrying a failed import job queues an
import run for it to claim.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from salesbridge.domain.jobs import IMPORT_ORGANIZATION, Job, JobState
from salesbridge.errors import InvalidRequestError, JobNotFoundError
from salesbridge.message_ids import N_
from salesbridge.services.organizations import require_organization
from salesbridge.services.ports import StoreAccess

RETRY_REASON = "retried by an administrator"
"""The reason of an import run queued by retrying its failed job."""


def organization_jobs(
    store: StoreAccess, *, slug: str, states: Collection[JobState] | None = None, limit: int = 50
) -> list[Job]:
    """The organization's jobs in ``states`` (all when None), newest first, at most ``limit``. Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
    """
    organization_id = require_organization(store, slug)
    with store(organization_id, read_only=True) as uow:
        return uow.jobs.list(states=states, limit=limit)


def deployment_jobs(
    store: StoreAccess,
    *,
    slug: str | None = None,
    states: Collection[JobState] | None = None,
    limit: int = 100,
) -> list[Job]:
    """Every organization's jobs (only ``slug``'s when given) in ``states``, newest first. Reads only.

    Raises:
        UnknownOrganizationError: ``slug`` names no organization.
    """
    organization_id = require_organization(store, slug) if slug is not None else None
    return store.jobs.list(organization_id=organization_id, states=states, limit=limit)


def _owner(store: StoreAccess, job_id: str, organization_id: uuid.UUID | None) -> tuple[uuid.UUID, Job]:
    job = store.jobs.find(job_id)
    if job is None or job.organization_id is None:
        raise JobNotFoundError(f"No job {job_id}.")
    if organization_id is not None and job.organization_id != organization_id:
        raise JobNotFoundError(f"No job {job_id}.")  # another organization's: not there for this caller
    return job.organization_id, job


def cancel_job(store: StoreAccess, job_id: str, *, actor: str, organization_id: uuid.UUID | None = None) -> Job:
    """Cancel job ``job_id``, and no other: a queued job never runs; a running one is asked to stop (shown as
    such until it does), an import at its next page. An import job's run ends failed
    (:data:`~salesbridge.domain.jobs.CANCELLED_IMPORT_ERROR`); the organization's other runs go on. Audited
    (``job.cancelled``). Pass ``organization_id`` when the caller may act on that organization's jobs only (the
    console); operators pass None. Returns the job as it now stands.

    Raises:
        JobNotFoundError: no such job (for ``organization_id``), or a deployment-wide one.
        InvalidRequestError: the job already ended, or was already asked to stop.
    """
    owner, job = _owner(store, job_id, organization_id)
    if job.cancel_requested:
        raise InvalidRequestError(N_("This job is already being cancelled."))
    with store(owner) as uow:
        if not uow.jobs.cancel(job_id):
            raise InvalidRequestError(N_("This job has already ended."))
        uow.audit.record(actor=actor, action="job.cancelled", details={"job_id": job_id, "task": job.task})
        uow.commit()
        return uow.jobs.get(job_id) or job


def retry_job(store: StoreAccess, job_id: str, *, actor: str, organization_id: uuid.UUID | None = None) -> Job:
    """Queue the failed (or cancelled) job ``job_id`` again, now; a retried import queues an import run
    (:data:`RETRY_REASON`) unless one is queued. Audited (``job.retried``). ``organization_id`` as for
    :func:`cancel_job`. Returns the job queued.

    Raises:
        JobNotFoundError: no such job (for ``organization_id``), or a deployment-wide one.
        InvalidRequestError: the job is queued, running or succeeded.
    """
    owner, job = _owner(store, job_id, organization_id)
    if job.state not in (JobState.FAILED, JobState.CANCELLED):
        raise InvalidRequestError(N_("Only a failed or cancelled job can be retried."))
    with store(owner) as uow:
        if job.task == IMPORT_ORGANIZATION and not uow.import_runs.queued():
            uow.import_runs.enqueue(reason=RETRY_REASON)
        retried = uow.jobs.retry(job_id)
        if retried is None:
            raise InvalidRequestError(N_("Only a failed or cancelled job can be retried."))
        uow.audit.record(actor=actor, action="job.retried", details={"job_id": job_id, "task": job.task})
        uow.commit()
        return retried
