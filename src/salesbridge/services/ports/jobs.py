"""The job API: background work deferred, listed, retried and cancelled through one port, whichever engine runs
it (``SALESBRIDGE_JOBS``: the embedded runner, or procrastinate workers on PostgreSQL).

Deferring happens inside a unit of work (``uow.jobs``), so a job is queued in the same transaction as the business
change that causes it: commit both or neither::

    with store(organization_id) as uow:
        run = uow.import_runs.enqueue(reason="sync now")
        uow.jobs.defer(
            IMPORT_ORGANIZATION,
            args={"organization_id": str(organization_id)},
            lock=organization_lock(organization_id),
            queueing_lock=import_queueing_lock(organization_id),
        )
        uow.commit()

The deployment-wide view (every organization's jobs, for the operators' ``salesbridge jobs``) is
:attr:`StoreAccess.jobs <salesbridge.services.ports.StoreAccess.jobs>`, a :class:`JobOverview`.

Task names, :class:`~salesbridge.domain.jobs.Job`, :class:`~salesbridge.domain.jobs.JobState` and
:class:`~salesbridge.domain.jobs.RetryStrategy` are domain values (:mod:`salesbridge.domain.jobs`); the tasks
themselves are plain functions in :mod:`salesbridge.jobs.tasks`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Protocol

from salesbridge.domain.jobs import Job, JobState

JobArgument = str | int | float | bool | None
"""A task argument: JSON scalars only (ids as strings), so that every engine stores them alike."""


class JobQueue(Protocol):
    """The organization's jobs, inside its unit of work (``uow.jobs``). Every change is part of the unit of
    work's transaction: nothing is queued, cancelled or retried until it commits."""

    def defer(
        self,
        task: str,
        *,
        args: Mapping[str, JobArgument],
        lock: str | None = None,
        queueing_lock: str | None = None,
        schedule_at: datetime | None = None,
    ) -> Job | None:
        """Queue ``task(**args)`` for this organization.

        Args:
            task: A task's name (:mod:`salesbridge.domain.jobs`).
            args: Its keyword arguments.
            lock: Jobs sharing a lock never run at the same time (use
                :func:`~salesbridge.domain.jobs.organization_lock`); they run in the order deferred.
            queueing_lock: At most one job with this queueing lock waits at a time: deferring another while one
                waits queues nothing and returns None (a running one does not count).
            schedule_at: Not to start before this time (timezone-aware UTC); None: as soon as possible.

        Returns:
            The queued job, or None when ``queueing_lock`` already had one waiting.

        Raises:
            UnsupportedJobError: the engine cannot run ``task`` (the embedded runner runs imports only).
        """
        ...

    def list(self, *, states: Collection[JobState] | None = None, limit: int = 50) -> list[Job]:
        """This organization's jobs in ``states`` (all when None), newest first, at most ``limit``."""
        ...

    def get(self, job_id: str) -> Job | None:
        """This organization's job ``job_id``, or None (another organization's is None too)."""
        ...

    def cancel(self, job_id: str) -> bool:
        """Cancel the job: a queued one never runs; a running one is asked to stop (its
        :attr:`~salesbridge.domain.jobs.Job.cancel_requested` until it does). An import job's import run ends with
        it (:data:`~salesbridge.domain.jobs.CANCELLED_IMPORT_ERROR`; a running import stops at its next page), and
        no other run: a waiting import job's run is the organization's queued run, a running one's its running run
        (the organization's lock runs one import job at a time, its queueing lock lets one wait). Returns whether
        there was a queued or running job of this organization to cancel."""
        ...

    def record_import_run(self, job_id: str, run_id: uuid.UUID) -> None:
        """Record that import job ``job_id`` ran import run ``run_id``: a failed job then shows the run's reason
        (:attr:`~salesbridge.domain.jobs.Job.error`). Nothing to do where the job is its run (the embedded
        runner); a job of another organization is left alone. Idempotent."""
        ...

    def retry(self, job_id: str) -> Job | None:
        """Queue a failed (or cancelled) job again, now; returns it, or None when ``job_id`` names no finished job
        of this organization that can be retried."""
        ...


class JobOverview(Protocol):
    """Every organization's jobs: the deployment's operators' view. Reads only; changes go through the job's
    organization's unit of work (:class:`JobQueue`)."""

    def list(
        self,
        *,
        organization_id: uuid.UUID | None = None,
        states: Collection[JobState] | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """Jobs of ``organization_id`` (every organization's, and the deployment-wide ones, when None) in
        ``states`` (all when None), newest first, at most ``limit``."""
        ...

    def find(self, job_id: str) -> Job | None:
        """The job ``job_id`` (its ``organization_id`` says whose), or None."""
        ...
