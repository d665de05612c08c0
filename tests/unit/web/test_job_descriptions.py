"""Jobs in words (web/job_descriptions.py): the reasons salesbridge records are described in English and Spanish,
Dynamics' own messages pass through as they came, and each state's time and actions are the right ones."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from salesbridge.domain.jobs import CANCELLED_IMPORT_ERROR, IMPORT_ORGANIZATION, TASK_RAISED_ERROR, Job, JobState
from salesbridge.domain.sync_runs import STOPPED_WORKER_ERROR
from salesbridge.i18n import translate
from salesbridge.services import jobs, sync
from salesbridge.services.connecting import INITIAL_IMPORT_REASON
from salesbridge.web.job_descriptions import CANCELLING, ERRORS, REASONS, STATE_NAMES, TASK_NAMES, describe

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _job(
    state: JobState,
    *,
    task: str = IMPORT_ORGANIZATION,
    reason: str | None = None,
    error: str | None = None,
    scheduled_at: datetime | None = None,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
) -> Job:
    return Job(
        id="42",
        task=task,
        organization_id=uuid.uuid4(),
        state=state,
        attempts=1,
        queued_at=NOW,
        scheduled_at=scheduled_at,
        started_at=started_at,
        finished_at=finished_at,
        reason=reason,
        error=error,
    )


def test_every_reason_salesbridge_records_is_described_in_both_languages() -> None:
    recorded = {
        sync.SYNC_NOW_REASON,
        sync.SCHEDULED_REASON,
        sync.RETRY_REASON,
        INITIAL_IMPORT_REASON,
        jobs.RETRY_REASON,
    }
    assert recorded <= REASONS.keys()
    assert {STOPPED_WORKER_ERROR, CANCELLED_IMPORT_ERROR, sync.NOT_CONNECTED_ERROR, TASK_RAISED_ERROR} <= ERRORS.keys()
    for message in [*REASONS.values(), *ERRORS.values(), *STATE_NAMES.values(), *TASK_NAMES.values(), CANCELLING]:
        assert translate(message, "es") != message, f"no Spanish for {message!r}"


def test_dynamics_own_message_passes_through_and_salesbridges_is_translated() -> None:
    refusal = "Principal user is missing prvReadContact privilege."
    failed = describe(_job(JobState.FAILED, error=refusal, reason="scheduled", finished_at=NOW), "es")
    assert failed.error == refusal
    assert failed.reason == "Según la programación"
    stopped = describe(_job(JobState.FAILED, error=STOPPED_WORKER_ERROR, finished_at=NOW), "es")
    assert stopped.error is not None
    assert stopped.error.startswith("El proceso que la ejecutaba se detuvo")


@pytest.mark.parametrize(
    ("state", "when", "can_cancel", "can_retry"),
    [
        (JobState.QUEUED, NOW + timedelta(minutes=5), True, False),  # when it is due
        (JobState.RUNNING, NOW + timedelta(minutes=1), True, False),  # when it started
        (JobState.FAILED, NOW + timedelta(minutes=2), False, True),  # when it ended
        (JobState.CANCELLED, NOW + timedelta(minutes=2), False, True),
        (JobState.SUCCEEDED, NOW + timedelta(minutes=2), False, False),
    ],
)
def test_the_time_shown_and_the_actions_follow_the_state(
    state: JobState, when: datetime, can_cancel: bool, can_retry: bool
) -> None:
    job = _job(
        state,
        scheduled_at=NOW + timedelta(minutes=5) if state is JobState.QUEUED else None,
        started_at=NOW + timedelta(minutes=1) if state is not JobState.QUEUED else None,
        finished_at=NOW + timedelta(minutes=2) if not state.active else None,
    )
    line = describe(job, "en")
    assert (line.when, line.can_cancel, line.can_retry) == (when, can_cancel, can_retry)


def test_a_running_job_asked_to_stop_is_cancelling_and_cannot_be_cancelled_again() -> None:
    job = replace(_job(JobState.RUNNING, started_at=NOW), cancel_requested=True)
    line = describe(job, "en")
    assert (line.state_name, line.can_cancel, line.can_retry) == ("Cancelling", False, False)
    assert line.to_json()["cancel_requested"] is True
    assert describe(job, "es").state_name == "Cancelando"
    assert describe(_job(JobState.RUNNING, started_at=NOW), "en").state_name == "Running"


def test_a_task_without_a_name_is_shown_by_its_code() -> None:
    line = describe(_job(JobState.QUEUED, task="refresh_reports"), "es")
    assert line.task_name == "refresh_reports"
    assert describe(_job(JobState.QUEUED), "es").task_name == "Importación del CRM"


def test_every_task_and_the_writeback_drains_reasons_are_named_in_both_languages() -> None:
    from salesbridge.domain.jobs import TASK_SPECS
    from salesbridge.services import writeback_outbox

    assert TASK_SPECS.keys() <= TASK_NAMES.keys()
    drain_reasons = {
        writeback_outbox.LOGGED_REASON,
        writeback_outbox.EDITED_REASON,
        writeback_outbox.RETRIED_REASON,
        writeback_outbox.BACKFILL_REASON,
        writeback_outbox.MATCHED_REASON,
        writeback_outbox.SEATS_REASON,
        writeback_outbox.SCHEDULED_REASON,
    }
    assert drain_reasons <= REASONS.keys()
    for reason in drain_reasons:
        assert translate(REASONS[reason], "es") != REASONS[reason], f"no Spanish for {reason!r}"
