"""Email: invitations, and alerts to administrators (sync failing for more than an hour, writeback failures piling
up, the CRM-side app missing), evaluated by a periodic job; each administrator's choice of alerts.

What each alert watches and its thresholds: :mod:`salesbridge.domain.alerts`. An alert's episode is kept in the
store (``uow.alerts``) so that each episode is emailed once, whichever process evaluates it, and again only after
it ended and a new one started; an episode that was emailed is emailed once more when it ends ("resolved"), to the
administrators who chose the alert. Messages go through the :class:`~salesbridge.services.ports.Mailer` port, outside
any unit of work; the mail adapter writes them in each recipient's language.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final

from salesbridge.domain.alerts import (
    AlertKind,
    AlertState,
    crm_app_check_due,
    observed,
    sync_failing,
    sync_failing_since,
    writeback_failing,
)
from salesbridge.domain.crm_app import AppState
from salesbridge.domain.mail import MailKind, OutgoingMail
from salesbridge.domain.workspace import ImportState
from salesbridge.domain.writeback import DeliveryState
from salesbridge.errors import CrmError, ForbiddenError, InvalidRequestError, MailDeliveryError
from salesbridge.services.account_rules import Principal
from salesbridge.services.crm_app import crm_app_status
from salesbridge.services.ports import Clock, CrmAppSessionFactory, Mailer, StoreAccess
from salesbridge.services.writeback_outbox import requeue_after_app_found

logger = logging.getLogger(__name__)

RECENT_RUNS: Final = 50
"""How many of the latest import runs ``sync_failing`` looks at (a longer failing streak is older still)."""

ALERT_LINKS: Final[Mapping[AlertKind, str]] = {
    AlertKind.SYNC_FAILING: "/settings/crm",
    AlertKind.WRITEBACK_FAILING: "/admin/writeback",
    AlertKind.CRM_APP_MISSING: "/settings/crm",
}
"""The console page each alert's email links to."""


# ------------------------------------------------------------------------------------------------- preferences


def alert_preferences(store: StoreAccess, principal: Principal) -> dict[AlertKind, bool]:
    """The alerts the administrator ``principal`` gets by email (every kind; on unless turned off). Reads only.

    Raises:
        ForbiddenError: ``principal`` is not an administrator (only administrators get alerts).
    """
    _require_admin(principal)
    with store(principal.organization_id, read_only=True) as uow:
        return uow.alerts.preferences(principal.user_id)


def set_alert_preferences(store: StoreAccess, principal: Principal, chosen: Iterable[AlertKind]) -> None:
    """Send the administrator ``principal`` the alerts of ``chosen`` and no other. Idempotent; audited
    (``alert.preferences_changed``) when something changed.

    Raises:
        ForbiddenError: ``principal`` is not an administrator.
    """
    _require_admin(principal)
    wanted = {kind: kind in set(chosen) for kind in AlertKind}
    with store(principal.organization_id) as uow:
        before = uow.alerts.preferences(principal.user_id)
        if before == wanted:
            return
        uow.alerts.set_preferences(principal.user_id, wanted)
        uow.audit.record(
            actor=principal.email,
            action="alert.preferences_changed",
            details={"alerts": [kind.value for kind in AlertKind if wanted[kind]]},
        )
        uow.commit()


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise ForbiddenError()


# ------------------------------------------------------------------------------------------------- invitations


@dataclass(frozen=True)
class InvitationMail:
    """An invitation to email: to whom (``email``, ``locale``), the link that accepts it, and when it expires."""

    email: str
    locale: str
    link: str
    expires_at: datetime


def send_invitations(
    mailer: Mailer, invitations: Sequence[InvitationMail], *, organization: str, inviter: str
) -> list[bool]:
    """Email each invitation (in its recipient's language); per invitation, whether it was sent (never, with a
    mailer that only prints). A failure is logged (without the link, a secret) and does not stop the others: the
    console still shows the links once."""
    sent: list[bool] = []
    for invitation in invitations:
        mail = OutgoingMail(
            to=invitation.email,
            locale=invitation.locale,
            kind=MailKind.INVITATION,
            values={
                "organization": organization,
                "inviter": inviter,
                "link": invitation.link,
                "expires_at": invitation.expires_at.isoformat(),
            },
        )
        try:
            mailer.send(mail)
        except MailDeliveryError as exc:
            logger.warning("the invitation of %s was not emailed: %s", invitation.email, exc)
            sent.append(False)
        else:
            sent.append(mailer.sends)
    return sent


# ------------------------------------------------------------------------------------------------------ alerts


@dataclass(frozen=True)
class AlertRound:
    """What one evaluation of an organization's alerts did.

    Attributes:
        active: The alerts whose episode is in progress after it.
        emailed: Per alert emailed this round, to whom.
        resolved: Per alert whose end ("resolved") was emailed this round, to whom.
    """

    active: tuple[AlertKind, ...]
    emailed: Mapping[AlertKind, tuple[str, ...]]
    resolved: Mapping[AlertKind, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "active": [kind.value for kind in self.active],
            "emailed": {kind.value: list(to) for kind, to in self.emailed.items()},
            "resolved": {kind.value: list(to) for kind, to in self.resolved.items()},
        }


@dataclass(frozen=True)
class _Observation:
    slug: str
    name: str
    connected: bool
    writeback_enabled: bool
    states: dict[AlertKind, AlertState]
    failing_since: datetime | None
    sync_is_failing: bool
    last_error: str | None
    failing_activities: int


async def evaluate_alerts(
    store: StoreAccess,
    organization_id: uuid.UUID,
    *,
    mailer: Mailer,
    clock: Clock,
    console_url: str,
    app_sessions: CrmAppSessionFactory | None = None,
) -> AlertRound:
    """Evaluate the organization's alerts at ``clock()`` and email each episode that started (or whose email
    failed before) to the administrators who chose it, in their language, linking to ``console_url``'s pages; and
    each emailed episode that ended, as "resolved", to the administrators who chose the alert then.

    An episode is emailed once: its ``notified_at`` is stored after at least one administrator's email went out
    (or when none chose the alert); while every send fails it is tried again next round. Its end likewise, once
    (``resolved_notified_at``); an episode that ended before its alert went out sends no "resolved" either, and
    one whose "resolved" still failed when a new episode started sends none (the new alert says more). The
    CRM-side app is checked through ``app_sessions`` (not when None) only while writeback is on, at most every
    :data:`~salesbridge.domain.alerts.CRM_APP_CHECK_INTERVAL`; a check that cannot reach the CRM changes nothing,
    one that finds it whole puts the activities waiting for its tables back in the queue
    (:func:`~salesbridge.services.writeback_outbox.requeue_after_app_found`).
    Store work runs on worker threads.
    """
    now = clock()
    seen = await asyncio.to_thread(_observe, store, organization_id, now)
    states = dict(seen.states)
    sync = states[AlertKind.SYNC_FAILING]
    states[AlertKind.SYNC_FAILING] = observed(
        sync,
        holds=seen.sync_is_failing,
        now=now,
        since=seen.failing_since,
        detail=seen.last_error,
    )
    writeback = states[AlertKind.WRITEBACK_FAILING]
    states[AlertKind.WRITEBACK_FAILING] = observed(
        writeback,
        holds=writeback_failing(writeback, seen.failing_activities),
        now=now,
        detail=str(seen.failing_activities),
    )
    app = states[AlertKind.CRM_APP_MISSING]
    if not (seen.connected and seen.writeback_enabled):
        states[AlertKind.CRM_APP_MISSING] = observed(app, holds=False, now=now)
    elif app_sessions is not None and crm_app_check_due(app, now):
        missing = await _app_missing(store, app_sessions, seen.slug)
        if missing is not None:
            states[AlertKind.CRM_APP_MISSING] = observed(app, holds=missing[0], now=now, detail=missing[1])
            if not missing[0]:
                # Whole: activities still waiting for its tables (reinstalled in Dynamics since the drain's last
                # check of the app) go now, not at the drain's next check.
                await asyncio.to_thread(_app_found, store, organization_id)
    await asyncio.to_thread(_save, store, organization_id, states.values())
    emailed: dict[AlertKind, tuple[str, ...]] = {}
    resolved: dict[AlertKind, tuple[str, ...]] = {}
    for state in states.values():
        if state.to_notify or state.to_notify_resolved:
            sent = await asyncio.to_thread(_notify, store, organization_id, mailer, seen, state, console_url, now)
            if sent is not None:
                (emailed if state.active else resolved)[state.kind] = sent
    active = tuple(kind for kind, state in states.items() if state.active)
    return AlertRound(active=active, emailed=emailed, resolved=resolved)


def _observe(store: StoreAccess, organization_id: uuid.UUID, now: datetime) -> _Observation:
    with store(organization_id, read_only=True) as uow:
        organization = uow.organization.get()
        connection = uow.crm_connection.find()
        runs = list(uow.import_runs.recent(limit=RECENT_RUNS))
        failed = [run for run in runs if run.state is ImportState.FAILED and run.finished_at is not None]
        last_failed = max(failed, key=lambda run: run.finished_at or now) if failed else None
        failing = uow.activities.count_in((DeliveryState.FAILING, DeliveryState.PARKED))
        return _Observation(
            slug=organization.slug,
            name=organization.name,
            connected=connection is not None and connection.is_connected,
            writeback_enabled=uow.writeback_settings.get().enabled,
            states=uow.alerts.states(),
            failing_since=sync_failing_since(runs),
            sync_is_failing=sync_failing(runs, now),
            last_error=last_failed.error if last_failed else None,
            failing_activities=failing,
        )


async def _app_missing(store: StoreAccess, sessions: CrmAppSessionFactory, slug: str) -> tuple[bool, str] | None:
    """Whether the CRM-side app is missing or incomplete, and its state's words; None when the CRM could not
    tell."""
    try:
        status = await crm_app_status(store, sessions, slug=slug)
    except (CrmError, InvalidRequestError) as exc:
        logger.warning("the CRM-side app of %s could not be checked: %s", slug, exc)
        return None
    return status.state is not AppState.INSTALLED, status.state_label


def _app_found(store: StoreAccess, organization_id: uuid.UUID) -> None:
    with store(organization_id) as uow:
        if requeue_after_app_found(uow):
            uow.commit()


def _save(store: StoreAccess, organization_id: uuid.UUID, states: Iterable[AlertState]) -> None:
    with store(organization_id) as uow:
        for state in states:
            uow.alerts.save(state)
        uow.commit()


def _notify(
    store: StoreAccess,
    organization_id: uuid.UUID,
    mailer: Mailer,
    seen: _Observation,
    state: AlertState,
    console_url: str,
    now: datetime,
) -> tuple[str, ...] | None:
    """Email ``state``'s episode that started (:attr:`~AlertState.to_notify`), or the end of the last one
    (:attr:`~AlertState.to_notify_resolved`, "resolved"), to the administrators who chose the alert; who got it,
    or None when every send failed (it stays to be notified)."""
    ending = not state.active
    values = {
        "organization": seen.name,
        "since": (state.started_at or now).isoformat(),
        "link": console_url + ALERT_LINKS[state.kind],
        "account_link": console_url + "/account",
    }
    values |= {"until": (state.ended_at or now).isoformat()} if ending else {"detail": state.detail or "—"}
    kind = state.kind.resolved_mail_kind if ending else state.kind.mail_kind
    sent = _send_to_chosen(store, organization_id, mailer, state.kind, kind, values)
    if sent is None:
        return None
    with store(organization_id) as uow:
        current = uow.alerts.states()[state.kind]
        if ending and not current.active and current.ended_at == state.ended_at:
            uow.alerts.save(replace(current, resolved_notified_at=now))
        elif not ending and current.active and current.started_at == state.started_at:
            uow.alerts.save(replace(current, notified_at=now))
        action = "alert.resolved_sent" if ending else "alert.sent"
        uow.audit.record(actor="alerts", action=action, details={"alert": state.kind.value, "recipients": sent})
        uow.commit()
    return sent


def _send_to_chosen(
    store: StoreAccess,
    organization_id: uuid.UUID,
    mailer: Mailer,
    alert: AlertKind,
    kind: MailKind,
    values: Mapping[str, str],
) -> tuple[str, ...] | None:
    """Send ``kind`` with ``values`` to each administrator who chose ``alert``, in their language; who got it
    (empty when nobody chose it), or None when every send failed."""
    with store(organization_id, read_only=True) as uow:
        recipients = [
            (user.email, user.locale)
            for user in uow.users.list_all()
            if user.is_admin and uow.alerts.preferences(user.id)[alert]
        ]
    sent: list[str] = []
    for email, locale in recipients:
        try:
            mailer.send(OutgoingMail(to=email, locale=locale, kind=kind, values=values))
        except MailDeliveryError as exc:
            logger.warning("the %s email (%s) was not sent to %s: %s", kind.value, alert.value, email, exc)
        else:
            sent.append(email)
    if recipients and not sent:
        return None
    return tuple(sent)
