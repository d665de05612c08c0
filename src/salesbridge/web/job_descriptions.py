"""Background jobs in the reader's language, for the Background jobs page and its API: the task in words, its
state, why it was queued and why it failed, and what an administrator may do with it (cancel, retry).

The job API gives codes and the engines' English reasons (:class:`salesbridge.domain.jobs.Job`); the ones
salesbridge writes itself are translated here, at the edge. A reason that came from Dynamics 365 (its own error
message) is shown as it came. No web framework is imported, so the CLI may use it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from salesbridge.domain.jobs import (
    CANCELLED_IMPORT_ERROR,
    EVALUATE_ALERTS,
    IMPORT_ORGANIZATION,
    LOAD_PEOPLE_UPLOAD,
    MATCH_ORGANIZATION,
    SCHEDULE_DUE_IMPORTS,
    SCHEDULE_DUE_WRITEBACK,
    TASK_RAISED_ERROR,
    WRITE_BACK_ORGANIZATION,
    Job,
    JobState,
)
from salesbridge.domain.sync_runs import STOPPED_WORKER_ERROR
from salesbridge.i18n import N_, translate
from salesbridge.services import jobs as job_use_cases
from salesbridge.services import matching, sync, writeback_outbox
from salesbridge.services.connecting import INITIAL_IMPORT_REASON
from salesbridge.services.disconnect import DISCONNECTED_ERROR

SHOWN_STATES: Final = (JobState.QUEUED, JobState.RUNNING, JobState.FAILED, JobState.CANCELLED)
"""What the page lists: what waits, what runs, and what did not finish (succeeded jobs are the sync status's)."""

TASK_NAMES: Final = {
    IMPORT_ORGANIZATION: N_("CRM import"),
    SCHEDULE_DUE_IMPORTS: N_("Scheduling the imports that are due"),
    LOAD_PEOPLE_UPLOAD: N_("Loading an uploaded CSV of people or companies"),
    MATCH_ORGANIZATION: N_("Matching CRM records with people and companies"),
    WRITE_BACK_ORGANIZATION: N_("Writing activity back to the CRM"),
    SCHEDULE_DUE_WRITEBACK: N_("Scheduling the activity writeback that is due"),
    EVALUATE_ALERTS: N_("Checking the alerts and emailing administrators"),
}
"""Each task's name (English message id); a task missing here is shown by its code."""

STATE_NAMES: Final = {
    JobState.QUEUED: N_("Waiting"),
    JobState.RUNNING: N_("Running"),
    JobState.SUCCEEDED: N_("Done"),
    JobState.FAILED: N_("Failed"),
    JobState.CANCELLED: N_("Cancelled"),
}

CANCELLING: Final = N_("Cancelling")
"""A running job asked to stop (:attr:`~salesbridge.domain.jobs.Job.cancel_requested`): it ends at its next step."""

REASONS: Final = {
    sync.SYNC_NOW_REASON: N_("Sync now was pressed"),
    sync.SCHEDULED_REASON: N_("On schedule"),
    sync.RETRY_REASON: N_("Started again after a worker stopped"),
    INITIAL_IMPORT_REASON: N_("First import after connecting to the CRM"),
    job_use_cases.RETRY_REASON: N_("Retried by an administrator"),
    "upload": N_("A CSV file was uploaded"),
    matching.IMPORT_REASON: N_("A CRM import changed accounts, contacts or leads"),
    matching.CORRECTED_REASON: N_("An account's match was edited"),
    matching.REVIEW_REJECTED_REASON: N_("A candidate match was rejected in review"),
    "people.imported": N_("People were loaded from a CSV file"),
    "companies.imported": N_("Companies were loaded from a CSV file"),
    "people.upserted": N_("People were loaded through the API"),
    "companies.upserted": N_("Companies were loaded through the API"),
    "person.deleted": N_("A person was deleted"),
    "company.deleted": N_("A company was deleted"),
    writeback_outbox.LOGGED_REASON: N_("An activity was logged"),
    writeback_outbox.EDITED_REASON: N_("A written-back activity was edited"),
    writeback_outbox.RETRIED_REASON: N_("Writeback was retried by an administrator"),
    writeback_outbox.BACKFILL_REASON: N_("An administrator asked for earlier activity to be written back"),
    writeback_outbox.MATCHED_REASON: N_("Matching may have found the CRM record of waiting activities"),
    writeback_outbox.SEATS_REASON: N_("A seat's CRM sync or CRM user changed"),
    writeback_outbox.SCHEDULED_REASON: N_("Activities were due for delivery (or a retry)"),
}
"""Why a job was queued, by the reason salesbridge recorded (English message id)."""

ERRORS: Final = {
    STOPPED_WORKER_ERROR: N_("The worker running it stopped; the next run resumes from the last page saved."),
    CANCELLED_IMPORT_ERROR: N_("Cancelled by an administrator."),
    sync.NOT_CONNECTED_ERROR: N_("The organization is not connected to a CRM."),
    DISCONNECTED_ERROR: N_("The organization was disconnected from the CRM."),
    "The import was cancelled or taken over by another worker.": N_(
        "The import was cancelled, or another worker took it over."
    ),
    "The organization was disconnected from the CRM.": N_("The organization was disconnected from the CRM."),
    TASK_RAISED_ERROR: N_("The task stopped with an error; the worker's log has the details."),
}
"""Failures salesbridge describes itself, by the English text the engine stored (English message id). Anything
else is Dynamics 365's own message, shown as it came."""


@dataclass(frozen=True)
class JobLine:
    """One job as the page and the API show it.

    Attributes:
        when: The time that matters for its state: when it finished (ended jobs), started (running), or is due
            to start (waiting).
        can_cancel: Waiting or running, and not asked to stop yet: an administrator may cancel it.
        can_retry: Failed or cancelled: an administrator may queue it again.
    """

    job: Job
    task_name: str
    state_name: str
    reason: str | None
    error: str | None
    when: datetime | None
    can_cancel: bool
    can_retry: bool

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping (times as ISO-8601 with their offset): the one shape of a job in the API
        (``/api/v1/orgs/{org}/jobs``) and in ``salesbridge jobs list --json``. ``organization_id`` is null for a
        deployment-wide job (the periodic schedulers)."""
        job = self.job
        return {
            "id": job.id,
            "task": job.task,
            "organization_id": str(job.organization_id) if job.organization_id else None,
            "task_name": self.task_name,
            "state": job.state.value,
            "state_name": self.state_name,
            "attempts": job.attempts,
            "queued_at": _iso(job.queued_at),
            "scheduled_at": _iso(job.scheduled_at),
            "started_at": _iso(job.started_at),
            "finished_at": _iso(job.finished_at),
            "reason": job.reason,
            "reason_text": self.reason,
            "error": job.error,
            "error_text": self.error,
            "cancel_requested": job.cancel_requested,
            "can_cancel": self.can_cancel,
            "can_retry": self.can_retry,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def describe(job: Job, locale: str) -> JobLine:
    """``job`` in ``locale``."""
    task = TASK_NAMES.get(job.task)
    reason = REASONS.get(job.reason) if job.reason else None
    error = ERRORS.get(job.error) if job.error else None
    if job.state.active:
        when = job.started_at if job.state is JobState.RUNNING else (job.scheduled_at or job.queued_at)
    else:
        when = job.finished_at or job.started_at or job.queued_at
    return JobLine(
        job=job,
        task_name=translate(task, locale) if task else job.task,
        state_name=translate(CANCELLING if job.cancel_requested else STATE_NAMES[job.state], locale),
        reason=translate(reason, locale) if reason else job.reason,
        error=translate(error, locale) if error else job.error,
        when=when,
        can_cancel=job.state.active and not job.cancel_requested,
        can_retry=job.state in (JobState.FAILED, JobState.CANCELLED),
    )
