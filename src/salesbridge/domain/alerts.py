"""Alerts to administrators: what each alert watches, its thresholds, and when an email goes out. Pure; no I/O.

An alert is about one organization and one :class:`AlertKind`. Its condition is evaluated every round of the
periodic job (:data:`salesbridge.domain.jobs.EVALUATE_ALERTS`); an **episode** starts when the condition starts to
hold and ends when it stops holding (recovery). Each episode sends one email to each administrator who chose the
alert, however many rounds it lasts; a new email goes out only for a new episode (after a recovery). An episode
whose email went out sends one more when it ends ("resolved"), to the administrators who (still) chose the alert.

Thresholds (documented in docs/admin.md § Alerts):

- ``sync_failing``: the organization's CRM import has failed without a success since for more than
  :data:`SYNC_FAILING_AFTER` (counted from the end of the first failed run after the last success). Recovers with
  the next successful import.
- ``writeback_failing``: at least :data:`WRITEBACK_FAILURES_THRESHOLD` activities are failing (retrying with
  backoff) or parked (given up, waiting for a retry by hand). Recovers when fewer than
  :data:`WRITEBACK_RECOVERED_BELOW` are left, so a count wavering around the threshold does not send again.
- ``crm_app_missing``: writeback is on while the CRM-side app is not installed, or parts of it are missing
  (removed in Dynamics after it was installed). Checked at most every :data:`CRM_APP_CHECK_INTERVAL` (it reads
  Dynamics' metadata); a check that cannot reach the CRM changes nothing. Recovers when the app is complete again
  or writeback is turned off.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from salesbridge.domain.mail import MailKind
from salesbridge.domain.sync_runs import ImportRun
from salesbridge.domain.workspace import ImportState

SYNC_FAILING_AFTER: Final = timedelta(hours=1)
"""How long imports must have been failing, without a success, before ``sync_failing`` starts."""

WRITEBACK_FAILURES_THRESHOLD: Final = 10
"""How many activities failing or parked start ``writeback_failing``."""

WRITEBACK_RECOVERED_BELOW: Final = 5
"""``writeback_failing`` ends when fewer activities than this are failing or parked."""

CRM_APP_CHECK_INTERVAL: Final = timedelta(minutes=15)
"""The least time between two checks of the CRM-side app for ``crm_app_missing``."""


class AlertKind(enum.StrEnum):
    """The alerts an administrator may choose to receive."""

    SYNC_FAILING = MailKind.SYNC_FAILING.value
    WRITEBACK_FAILING = MailKind.WRITEBACK_FAILING.value
    CRM_APP_MISSING = MailKind.CRM_APP_MISSING.value

    @property
    def mail_kind(self) -> MailKind:
        """The message this alert sends."""
        return MailKind(self.value)

    @property
    def resolved_mail_kind(self) -> MailKind:
        """The message this alert sends when its episode ends."""
        return _RESOLVED_MAIL_KINDS[self]


_RESOLVED_MAIL_KINDS: Final = {
    AlertKind.SYNC_FAILING: MailKind.SYNC_RESOLVED,
    AlertKind.WRITEBACK_FAILING: MailKind.WRITEBACK_RESOLVED,
    AlertKind.CRM_APP_MISSING: MailKind.CRM_APP_RESOLVED,
}


@dataclass(frozen=True)
class AlertState:
    """Where an organization's alert of one kind stands.

    Attributes:
        kind: Which alert.
        active: An episode is in progress (the condition holds).
        started_at: When the episode in progress (or the last one) started.
        notified_at: When the episode in progress was emailed; None while it has still to be (or none is active).
        ended_at: When the last episode ended.
        checked_at: When the condition was last evaluated.
        detail: What the condition saw when the episode started (an error, a count, the app's state).
        resolved_notified_at: When the end of the last episode was emailed ("resolved"); None while it has still to
            be (an episode that ended after its alert went out), and from the start of a new episode.
    """

    kind: AlertKind
    active: bool = False
    started_at: datetime | None = None
    notified_at: datetime | None = None
    ended_at: datetime | None = None
    checked_at: datetime | None = None
    detail: str | None = None
    resolved_notified_at: datetime | None = None

    @property
    def to_notify(self) -> bool:
        """An episode is in progress and its email has not gone out yet."""
        return self.active and self.notified_at is None

    @property
    def to_notify_resolved(self) -> bool:
        """The last episode ended after its alert was emailed, and its end ("resolved") has not been emailed yet.
        An episode that ended before its alert went out sends no "resolved" either."""
        return (
            not self.active
            and self.ended_at is not None
            and self.notified_at is not None
            and self.resolved_notified_at is None
        )


def observed(
    state: AlertState, *, holds: bool, now: datetime, since: datetime | None = None, detail: str | None = None
) -> AlertState:
    """``state`` after the condition was seen to hold (``holds``) or not at ``now``: an episode starts (to be
    notified; started ``since``, else ``now``) when it starts holding, ends when it stops; otherwise only
    ``checked_at`` moves. Idempotent for the same observation."""
    if holds and not state.active:
        started = since or now
        return replace(
            state,
            active=True,
            started_at=started,
            notified_at=None,
            resolved_notified_at=None,
            checked_at=now,
            detail=detail,
        )
    if not holds and state.active:
        return replace(state, active=False, ended_at=now, checked_at=now)
    return replace(state, checked_at=now)


def sync_failing_since(runs: list[ImportRun]) -> datetime | None:
    """When the import started failing, counted from the end of the first failed run after the last success;
    None when the last finished run succeeded or none finished. ``runs``: the most recent runs, in any order (runs
    still queued or running are ignored)."""
    finished = sorted(
        (
            run
            for run in runs
            if run.finished_at is not None and run.state in (ImportState.SUCCEEDED, ImportState.FAILED)
        ),
        key=lambda run: run.finished_at or run.requested_at,
        reverse=True,
    )
    since: datetime | None = None
    for run in finished:
        if run.state is ImportState.SUCCEEDED:
            break
        since = run.finished_at
    return since


def sync_failing(runs: list[ImportRun], now: datetime) -> bool:
    """Whether imports have been failing for more than :data:`SYNC_FAILING_AFTER` at ``now``."""
    since = sync_failing_since(runs)
    return since is not None and now - since > SYNC_FAILING_AFTER


def writeback_failing(state: AlertState, failing_or_parked: int) -> bool:
    """Whether ``writeback_failing`` holds with ``failing_or_parked`` activities, given its ``state`` (hysteresis:
    an episode in progress lasts until fewer than :data:`WRITEBACK_RECOVERED_BELOW` are left)."""
    if state.active:
        return failing_or_parked >= WRITEBACK_RECOVERED_BELOW
    return failing_or_parked >= WRITEBACK_FAILURES_THRESHOLD


def crm_app_check_due(state: AlertState, now: datetime) -> bool:
    """Whether the CRM-side app is to be checked at ``now`` (never checked, or :data:`CRM_APP_CHECK_INTERVAL` has
    passed since)."""
    return state.checked_at is None or now - state.checked_at >= CRM_APP_CHECK_INTERVAL
