"""The alerts' rules (pure): when sync has been failing long enough, the writeback threshold with its hysteresis,
an episode's start and end, and the pace of the CRM-side app check."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from salesbridge.domain.alerts import (
    AlertKind,
    AlertState,
    crm_app_check_due,
    observed,
    sync_failing,
    sync_failing_since,
    writeback_failing,
)
from salesbridge.domain.sync_runs import ImportRun
from salesbridge.domain.workspace import ImportState

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def _run(state: ImportState, finished_minutes: int | None) -> ImportRun:
    finished = T0 + timedelta(minutes=finished_minutes) if finished_minutes is not None else None
    return ImportRun(
        id=uuid.uuid4(),
        requested_at=T0,
        reason="scheduled",
        state=state,
        started_at=T0,
        finished_at=finished,
        lease_expires_at=None,
        error="boom" if state is ImportState.FAILED else None,
    )


def test_sync_failing_counts_from_the_first_failure_after_the_last_success() -> None:
    runs = [
        _run(ImportState.SUCCEEDED, 0),
        _run(ImportState.FAILED, 10),
        _run(ImportState.FAILED, 40),
        _run(ImportState.QUEUED, None),  # queued and running runs are ignored
    ]
    assert sync_failing_since(runs) == T0 + timedelta(minutes=10)
    assert not sync_failing(runs, T0 + timedelta(minutes=70))  # exactly an hour: not more
    assert sync_failing(runs, T0 + timedelta(minutes=71))


def test_sync_is_not_failing_once_the_latest_run_succeeded_or_none_finished() -> None:
    assert sync_failing_since([_run(ImportState.FAILED, 0), _run(ImportState.SUCCEEDED, 5)]) is None
    assert sync_failing_since([_run(ImportState.RUNNING, None)]) is None
    assert not sync_failing([], T0 + timedelta(days=3))


def test_writeback_starts_at_ten_and_ends_below_five() -> None:
    idle = AlertState(AlertKind.WRITEBACK_FAILING)
    assert not writeback_failing(idle, 9)
    assert writeback_failing(idle, 10)
    on = AlertState(AlertKind.WRITEBACK_FAILING, active=True, started_at=T0)
    assert writeback_failing(on, 5)
    assert not writeback_failing(on, 4)


def test_an_episode_starts_once_is_to_be_notified_and_ends() -> None:
    state = AlertState(AlertKind.SYNC_FAILING)
    started = observed(state, holds=True, now=T0, since=T0 - timedelta(hours=2), detail="boom")
    assert started.active
    assert started.to_notify
    assert started.started_at == T0 - timedelta(hours=2)
    assert started.detail == "boom"
    notified = replace(started, notified_at=T0)
    again = observed(notified, holds=True, now=T0 + timedelta(minutes=1), detail="other")
    assert again.started_at == started.started_at  # the same episode
    assert not again.to_notify
    assert again.detail == "boom"
    ended = observed(again, holds=False, now=T0 + timedelta(hours=1))
    assert not ended.active
    assert ended.ended_at == T0 + timedelta(hours=1)
    assert observed(ended, holds=True, now=T0 + timedelta(hours=2)).to_notify  # a new episode


def test_an_emailed_episode_that_ended_is_to_be_notified_resolved_once() -> None:
    started = observed(AlertState(AlertKind.SYNC_FAILING), holds=True, now=T0)
    assert not started.to_notify_resolved  # in progress
    notified = replace(started, notified_at=T0)
    ended = observed(notified, holds=False, now=T0 + timedelta(hours=1))
    assert ended.to_notify_resolved
    assert not ended.to_notify
    told = replace(ended, resolved_notified_at=T0 + timedelta(hours=1))
    assert not told.to_notify_resolved
    assert not observed(told, holds=False, now=T0 + timedelta(hours=2)).to_notify_resolved  # the same end
    again = observed(told, holds=True, now=T0 + timedelta(hours=3))
    assert again.resolved_notified_at is None  # a new episode: its own end is to be told, once it was alerted
    assert not observed(again, holds=False, now=T0 + timedelta(hours=4)).to_notify_resolved  # never alerted
    assert AlertKind.WRITEBACK_FAILING.resolved_mail_kind.value == "writeback_resolved"


def test_the_crm_app_is_checked_at_most_every_fifteen_minutes() -> None:
    never = AlertState(AlertKind.CRM_APP_MISSING)
    assert crm_app_check_due(never, T0)
    checked = AlertState(AlertKind.CRM_APP_MISSING, checked_at=T0)
    assert not crm_app_check_due(checked, T0 + timedelta(minutes=14))
    assert crm_app_check_due(checked, T0 + timedelta(minutes=15))
