"""Background jobs as the use cases see them, whichever engine runs them (the embedded runner or procrastinate):
the tasks' names, a job's state, the view of a job, and how a task is retried. Pure; no I/O.

A job is one deferred call of a task (a plain function of :mod:`salesbridge.jobs.tasks`) with JSON arguments. Jobs
of one organization carry its lock (:func:`organization_lock`), so the engine never runs two of them at once.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

IMPORT_ORGANIZATION: Final = "import_organization"
"""Run the organization's queued CRM import (args: ``organization_id``)."""

SCHEDULE_DUE_IMPORTS: Final = "schedule_due_imports"
"""Queue the imports that are due, for every connected organization (periodic; no args)."""


def organization_lock(organization_id: uuid.UUID) -> str:
    """The lock every job of the organization holds: the engine runs at most one job per lock at a time."""
    return f"org:{organization_id}"


def import_queueing_lock(organization_id: uuid.UUID) -> str:
    """The queueing lock of the organization's import job: at most one waits ("Sync now" pressed ten times queues
    one job)."""
    return f"import:{organization_id}"


class JobState(enum.StrEnum):
    """Where a job stands: queued → running → succeeded | failed; a queued job may be cancelled (it never runs),
    a running one asked to stop (it ends failed or cancelled at its next step)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self in (JobState.QUEUED, JobState.RUNNING)


@dataclass(frozen=True, kw_only=True)
class Job:
    """One deferred task, as the operations view shows it.

    Attributes:
        id: The engine's id of the job, opaque (the import run's id in the embedded runner, procrastinate's job
            number otherwise): pass it back to retry or cancel.
        task: The task's name (:data:`IMPORT_ORGANIZATION`, …).
        organization_id: Whose job it is; None for deployment-wide jobs (the periodic scheduler).
        attempts: How many times it started (retries included).
        scheduled_at: Not to start before (None: as soon as a worker is free).
        queued_at: When it was deferred, if known.
        started_at: When its current (or last) attempt started.
        finished_at: When it ended.
        reason: Why it was deferred (``sync now``, ``scheduled``…), when known.
        error: Why it failed or was cancelled.
    """

    id: str
    task: str
    organization_id: uuid.UUID | None
    state: JobState
    attempts: int
    scheduled_at: datetime | None = None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    reason: str | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class RetryStrategy:
    """How a task that raised is retried: up to ``max_attempts`` attempts in all, waiting ``initial_wait`` before
    the second, multiplied by ``backoff`` each time, at most ``max_wait``.

    A task's retry strategy belongs to its definition (the engine applies it when an attempt raises), not to each
    deferral.
    """

    max_attempts: int = 5
    initial_wait: timedelta = timedelta(seconds=5)
    backoff: float = 2.0
    max_wait: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.backoff < 1 or self.initial_wait < timedelta(0):
            raise ValueError("a retry strategy needs max_attempts >= 1, backoff >= 1 and a non-negative wait")

    def wait_before(self, attempt: int) -> timedelta | None:
        """How long to wait before attempt number ``attempt + 1`` after attempt ``attempt`` (1-based) failed; None
        when no attempt is left."""
        if attempt >= self.max_attempts:
            return None
        return min(self.initial_wait * self.backoff ** (attempt - 1), self.max_wait)


NO_RETRY: Final = RetryStrategy(max_attempts=1)
"""A task that is never retried automatically (its next period defers it again)."""


CANCELLED_IMPORT_ERROR: Final = "cancelled by an administrator"
"""The error of an import run ended because its job was cancelled (shown as a cancelled job, not a failure)."""


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """What every engine knows of a task besides its function: its name, the queue it runs on (workers may serve
    some queues only) and how it is retried when an attempt raises."""

    name: str
    queue: str = "default"
    retry: RetryStrategy = NO_RETRY


TASK_SPECS: Final[dict[str, TaskSpec]] = {
    spec.name: spec
    for spec in (
        # Retried while another worker's run still holds the lease (ImportBusyError): a dead worker's lease
        # expires within SALESBRIDGE_IMPORT_LEASE_SECONDS, then the retry resumes its run. CRM failures never
        # raise: they end the run failed, and the schedule retries it with its own backoff.
        TaskSpec(
            name=IMPORT_ORGANIZATION,
            queue="imports",
            retry=RetryStrategy(max_attempts=12, initial_wait=timedelta(seconds=1), max_wait=timedelta(minutes=2)),
        ),
        # Periodic: the next period defers it again.
        TaskSpec(name=SCHEDULE_DUE_IMPORTS, queue="schedule"),
    )
}
"""Every task, by name. Adding a task: a name here, a spec, and its function in :mod:`salesbridge.jobs.tasks`."""
