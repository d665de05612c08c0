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

from salesbridge.errors import ImportBusyError

IMPORT_ORGANIZATION: Final = "import_organization"
"""Run the organization's queued CRM import (args: ``organization_id``)."""

SCHEDULE_DUE_IMPORTS: Final = "schedule_due_imports"
"""Queue the imports that are due, for every connected organization (periodic; no args)."""

LOAD_PEOPLE_UPLOAD: Final = "load_people_upload"
"""Load a CSV of people or companies uploaded on the console (args: ``organization_id``, ``upload_id``). In the
embedded engine the queued upload is its own job: the embedded runner loads it."""


MATCH_ORGANIZATION: Final = "match_organization"
"""Match the organization's CRM records with its people and companies, incrementally (args: ``organization_id``,
``reason``): deferred with an import's end and with every people or company load."""


WRITE_BACK_ORGANIZATION: Final = "write_back_organization"
"""Deliver the organization's due activities to the CRM (the writeback outbox's drainer; args: ``organization_id``,
``reason``): deferred with each activity logged, edited, retried or backfilled, and when what waiting activities
wait for changes (a matching run, a seat's CRM sync)."""

SCHEDULE_DUE_WRITEBACK: Final = "schedule_due_writeback"
"""Defer the drain of every connected organization whose outbox has entries to deliver (failing ones whose next
attempt came, queued ones a killed drainer left leased); periodic, no args."""


EVALUATE_ALERTS: Final = "evaluate_alerts"
"""Evaluate every connected organization's alerts and email the episodes that started
(:func:`salesbridge.services.notifications.evaluate_alerts`); periodic, no args."""


def writeback_lock(organization_id: uuid.UUID) -> str:
    """The lock and queueing lock of the organization's drain job: one drain of an organization runs at a time and
    at most one waits (a drain delivers everything due when it claims). Not the organization's lock: delivery never
    waits for an import or a matching run to end."""
    return f"writeback:{organization_id}"


def match_queueing_lock(organization_id: uuid.UUID) -> str:
    """The queueing lock of the organization's matching job: at most one waits (a run covers every change since
    the last one)."""
    return f"match:{organization_id}"


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
        error: Why it failed or was cancelled: for an import job, its import run's reason (Dynamics' own message,
            or one of salesbridge's); for another failed job of procrastinate, :data:`TASK_RAISED_ERROR`.
        cancel_requested: Running, and asked to stop: it ends at its next step (procrastinate's workers abort it);
            not to be cancelled again.
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
    cancel_requested: bool = False


@dataclass(frozen=True, kw_only=True)
class RetryStrategy:
    """How a task that raised one of ``retry_on`` is retried: up to ``max_attempts`` attempts in all, waiting
    ``initial_wait`` before the second, multiplied by ``backoff`` each time, at most ``max_wait``. Any other
    exception fails the job at once.

    A task's retry strategy belongs to its definition (the engine applies it when an attempt raises), not to each
    deferral.
    """

    max_attempts: int = 5
    initial_wait: timedelta = timedelta(seconds=5)
    backoff: float = 2.0
    max_wait: timedelta = timedelta(minutes=10)
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.backoff < 1 or self.initial_wait < timedelta(0):
            raise ValueError("a retry strategy needs max_attempts >= 1, backoff >= 1 and a non-negative wait")

    def wait_before(self, attempt: int, error: BaseException | None = None) -> timedelta | None:
        """How long to wait before attempt number ``attempt + 1`` after attempt ``attempt`` (1-based) raised
        ``error``; None when no attempt is left, or ``error`` is not retried."""
        if attempt >= self.max_attempts or (error is not None and not isinstance(error, self.retry_on)):
            return None
        return min(self.initial_wait * self.backoff ** (attempt - 1), self.max_wait)


NO_RETRY: Final = RetryStrategy(max_attempts=1)
"""A task that is never retried automatically (its next period defers it again)."""


CANCELLED_IMPORT_ERROR: Final = "cancelled by an administrator"
"""The error of an import run ended because its job was cancelled (shown as a cancelled job, not a failure)."""

TASK_RAISED_ERROR: Final = "the task raised: see the worker's log"
"""The error of a failed procrastinate job whose task raised (procrastinate keeps no exception text; the worker
logs it). A failed import job shows its import run's reason instead."""


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """What every engine knows of a task besides its function: its name, the queue it runs on (workers may serve
    some queues only), how it is retried when an attempt raises, and, for a periodic task, the locks every one of
    its jobs holds (``lock``: never two at once; ``queueing_lock``: at most one waiting). An organization's jobs take
    their locks when deferred (:func:`organization_lock`)."""

    name: str
    queue: str = "default"
    retry: RetryStrategy = NO_RETRY
    lock: str | None = None
    queueing_lock: str | None = None


TASK_SPECS: Final[dict[str, TaskSpec]] = {
    spec.name: spec
    for spec in (
        # Retried while another worker's run still holds the lease (ImportBusyError): a dead worker's lease
        # expires within SALESBRIDGE_IMPORT_LEASE_SECONDS, then the retry resumes its run. A CRM failure ends the
        # run failed, then raises ImportFailedError so that the job fails too (showing the run's reason); it is not
        # retried here: the schedule retries failed imports with its own backoff. Anything else (a bug, a store
        # outage) fails the job: the scheduler defers the queued run's job again (schedule_if_due).
        TaskSpec(
            name=IMPORT_ORGANIZATION,
            queue="imports",
            retry=RetryStrategy(
                max_attempts=12,
                initial_wait=timedelta(seconds=1),
                max_wait=timedelta(minutes=2),
                retry_on=(ImportBusyError,),
            ),
        ),
        # Periodic: the next period defers it again. One sweep at a time: two overlapping sweeps could both find an
        # organization due (each reading before the other's import ran) and import it twice.
        TaskSpec(
            name=SCHEDULE_DUE_IMPORTS, queue="schedule", lock=SCHEDULE_DUE_IMPORTS, queueing_lock=SCHEDULE_DUE_IMPORTS
        ),
        # Matching runs on the imports' queue, under the organization's lock: never beside its import. Not retried:
        # the next import or load defers it again, and a run re-reads everything since the last successful one.
        TaskSpec(name=MATCH_ORGANIZATION, queue="imports"),
        # Not retried: a load that broke off is recorded failed on its upload (the rows loaded stay; the
        # administrator uploads the file again, which is idempotent by external id).
        TaskSpec(name=LOAD_PEOPLE_UPLOAD, queue="uploads"),
        # Not retried: a drain records every outcome on the activities themselves (failing entries carry their own
        # backoff); if it broke off, its claimed entries' lease expires and the periodic sweep defers it again.
        TaskSpec(name=WRITE_BACK_ORGANIZATION, queue="writeback"),
        # Periodic: the next period defers it again. One sweep at a time.
        TaskSpec(
            name=SCHEDULE_DUE_WRITEBACK,
            queue="schedule",
            lock=SCHEDULE_DUE_WRITEBACK,
            queueing_lock=SCHEDULE_DUE_WRITEBACK,
        ),
        # Periodic: the next period evaluates again (an email that failed is tried then). One at a time: two
        # overlapping rounds could both see an episode start and email it twice.
        TaskSpec(name=EVALUATE_ALERTS, queue="schedule", lock=EVALUATE_ALERTS, queueing_lock=EVALUATE_ALERTS),
    )
}
"""Every task, by name. Adding a task: a name here, a spec, and its function in :mod:`salesbridge.jobs.tasks`."""
