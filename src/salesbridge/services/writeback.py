"""Writeback's administration (issue 14): the organization's settings ("Enable syncing workspace data back to your
CRM?", all data items or some), where delivery stands, and the administrator's retry and backfill. Shared by the
API, the console and ``salesbridge writeback``.

Turning writeback (or an item) on applies to activities logged from then on: earlier ones stay in the workspace
until a backfill delivers them. Turning it off stops delivery at the next drain (queued activities are then kept,
``not_written_back``); nothing written to the CRM is ever deleted.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from salesbridge.domain.clock import Clock
from salesbridge.domain.crm_app import AppState
from salesbridge.domain.writeback import (
    ALL_ITEMS,
    CRM_APP_MISSING_CODE,
    Activity,
    DataItem,
    DeliveryState,
    SeatHold,
    WritebackSettings,
)
from salesbridge.errors import (
    CrmAppRequiredError,
    InvalidRequestError,
    UnknownOrganizationError,
    WritebackPrivilegesError,
)
from salesbridge.message_ids import N_
from salesbridge.services.activities import delivery_reason
from salesbridge.services.crm_app import crm_app_status
from salesbridge.services.ports import CrmAppSessionFactory, StoreAccess
from salesbridge.services.sync import THROTTLE_SHOWN
from salesbridge.services.writeback_outbox import BACKFILL_REASON, RETRIED_REASON, request_drain

WRITEBACK_OFF: Final = N_("Writeback is off: enable it first, then deliver earlier activity.")
CRM_APP_MISSING_STATUS: Final = N_(
    "Writeback of InMail and messages is paused: the CRM app is missing in Dynamics 365 (its tables were removed). "
    "Reinstall it (CRM Settings, Get it now; or salesbridge crm app install): the waiting activities are then "
    "delivered by themselves, none is lost."
)
"""What the status says while activities wait for the CRM app's tables."""
MAX_PROBLEMS: Final = 200
"""The most failing or parked activities the status lists (the newest); the counts cover them all."""


def writeback_settings(store: StoreAccess, organization_id: uuid.UUID) -> WritebackSettings:
    """The organization's writeback settings (off, all items, until set). Reads only."""
    with store(organization_id, read_only=True) as uow:
        return uow.writeback_settings.get()


def _slug(store: StoreAccess, organization_id: uuid.UUID) -> str:
    slug = store.slug_of(organization_id)
    if slug is None:
        raise UnknownOrganizationError("No such organization.")
    return slug


async def set_writeback_settings(
    store: StoreAccess,
    app_sessions: CrmAppSessionFactory,
    organization_id: uuid.UUID,
    settings: WritebackSettings,
    *,
    actor: str,
) -> WritebackSettings:
    """Replace the organization's writeback settings. Audited (``writeback.settings_changed``, before and after).

    Turning writeback on asks Dynamics where the CRM-side app stands first, and refuses unless it is installed
    and the application user holds the privileges writing back needs
    (changing the items of writeback already on does not ask again). An item turned on delivers what is logged
    from then on; :func:`backfill` delivers earlier activity.

    Raises:
        CrmAppRequiredError: writeback turned on while the app is not installed, or outdated.
        WritebackPrivilegesError: writeback turned on while the application user lacks privileges writing back
            needs (named).
        InvalidRequestError: writeback turned on while the organization is not connected to a CRM.
        CrmError: Dynamics could not be asked.
    """
    before = await asyncio.to_thread(writeback_settings, store, organization_id)
    if settings.enabled and not before.enabled:
        slug = await asyncio.to_thread(_slug, store, organization_id)
        status = await crm_app_status(store, app_sessions, slug=slug)
        if status.state is not AppState.INSTALLED:
            raise CrmAppRequiredError(state=status.state.value)
        if status.missing_privileges:  # every delivery would be refused (impersonation, create): say which now
            raise WritebackPrivilegesError(status.missing_privileges)
    return await asyncio.to_thread(_save_settings, store, organization_id, before, settings, actor)


def _items_json(settings: WritebackSettings) -> str | list[str]:
    return "all" if settings.all_items else sorted(item.value for item in settings.items)


def _save_settings(
    store: StoreAccess, organization_id: uuid.UUID, before: WritebackSettings, settings: WritebackSettings, actor: str
) -> WritebackSettings:
    with store(organization_id) as uow:
        uow.writeback_settings.set(settings, actor=actor)
        uow.audit.record(
            actor=actor,
            action="writeback.settings_changed",
            details={
                "enabled": settings.enabled,
                "items": _items_json(settings),
                "before": {"enabled": before.enabled, "items": _items_json(before)},
            },
        )
        uow.commit()
        return uow.writeback_settings.get()


# ------------------------------------------------------------------------------------------------- status


@dataclass(frozen=True)
class SellerStatus:
    """One seller's activities per delivery state, and why those waiting for their seat wait.

    Attributes:
        name: The seller's display name; None when the user no longer exists.
    """

    user_id: uuid.UUID
    name: str | None
    email: str | None
    states: dict[DeliveryState, int]
    holds: dict[SeatHold, int]


@dataclass(frozen=True)
class Problem:
    """A failing or parked activity, with Dynamics' error."""

    activity: Activity
    author_name: str | None


@dataclass(frozen=True)
class WritebackStatus:
    """Where the organization's writeback stands.

    Attributes:
        settings: The settings now.
        totals: Activities per delivery state (every state present, 0 included).
        by_item: Per data item, activities per state.
        by_seller: Per author, by name.
        waiting: Why activities wait: ``waiting_for_match`` and each seat hold's name, with counts.
        problems: The newest failing and parked activities (at most :data:`MAX_PROBLEMS`), newest first.
        throttled_until: While Dynamics throttles the drain (its last ``Retry-After`` ended at most
            :data:`~salesbridge.services.sync.THROTTLE_SHOWN` ago): until when it asked to wait, i.e. the next try.
    """

    settings: WritebackSettings
    totals: dict[DeliveryState, int]
    by_item: dict[DataItem, dict[DeliveryState, int]]
    by_seller: list[SellerStatus]
    waiting: dict[str, int]
    problems: list[Problem]
    throttled_until: datetime | None = None
    crm_app_missing: bool = False
    """Whether activities wait for the CRM app's tables (removed from Dynamics): any activity of the organization
    failing with :data:`~salesbridge.domain.writeback.CRM_APP_MISSING_CODE`, asked exactly (not among
    ``problems`` only). The status says to install the app again (:data:`CRM_APP_MISSING_STATUS`); the drain
    delivers them by itself once it sees the app back."""

    def to_json(self, translate: Callable[[str], str] | None = None) -> dict[str, Any]:
        """A JSON-ready mapping. Each problem's ``reason`` is read with ``translate`` (a message id into the
        reader's language) when given; otherwise it is the English message id, with its ``reason_fields``."""
        return {
            "settings": {"enabled": self.settings.enabled, "items": _items_json(self.settings)},
            "totals": {state.value: count for state, count in self.totals.items()},
            "by_item": {
                item.value: {state.value: count for state, count in states.items()}
                for item, states in self.by_item.items()
            },
            "by_seller": [
                {
                    "user_id": str(seller.user_id),
                    "name": seller.name,
                    "email": seller.email,
                    "states": {state.value: count for state, count in seller.states.items()},
                    "holds": {hold.value: count for hold, count in seller.holds.items()},
                }
                for seller in self.by_seller
            ],
            "waiting": dict(self.waiting),
            "problems": [problem_json(problem, translate) for problem in self.problems],
            "crm_app_missing": self.crm_app_missing,
            "throttled_until": self.throttled_until.isoformat() if self.throttled_until else None,
        }


def problem_json(problem: Problem, translate: Callable[[str], str] | None = None) -> dict[str, Any]:
    """A failing or parked activity as JSON: its reason read with ``translate``, or, without it, the English
    message id and its fields."""
    activity = problem.activity
    delivery = activity.delivery
    reason = delivery_reason(delivery)
    said: dict[str, Any] = (
        {"reason": reason.read(translate)}
        if translate is not None
        else {"reason": reason.message, "reason_fields": dict(reason.fields)}
    )
    return {
        "activity_id": str(activity.id),
        "type": activity.item.value,
        "title": activity.title,
        "author_user_id": str(activity.author_user_id),
        "author_name": problem.author_name,
        "occurred_at": activity.occurred_at.isoformat(),
        "state": delivery.state.value,
        **said,
        "error_code": delivery.error_code,
        "error_message": delivery.error_message,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at.isoformat() if delivery.next_attempt_at else None,
    }


def _zeroed() -> dict[DeliveryState, int]:
    return dict.fromkeys(DeliveryState, 0)


def writeback_status(store: StoreAccess, organization_id: uuid.UUID, *, clock: Clock | None = None) -> WritebackStatus:
    """Where the organization's writeback stands: counts per state, per data item and per seller (with names),
    why activities wait, the failing and parked ones with Dynamics' error, and whether Dynamics throttles the drain
    now (by ``clock``, the system's by default). Reads only."""
    now = clock() if clock is not None else datetime.now(UTC)
    with store(organization_id, read_only=True) as uow:
        throttled_until = uow.activities.throttled_until()
        settings = uow.writeback_settings.get()
        counts = uow.activities.status()
        users = {user.id: user for user in uow.users.list_all()}
        problems = uow.activities.search(states=(DeliveryState.FAILING, DeliveryState.PARKED), limit=MAX_PROBLEMS)
        app_missing = uow.activities.failing_with(CRM_APP_MISSING_CODE)
    totals = _zeroed()
    by_item = {item: _zeroed() for item in sorted(ALL_ITEMS)}
    sellers: dict[uuid.UUID, tuple[dict[DeliveryState, int], Counter[SeatHold]]] = {}
    waiting: Counter[str] = Counter()
    for count in counts:
        totals[count.state] += count.count
        by_item[count.item][count.state] += count.count
        states, holds = sellers.setdefault(count.author_user_id, (_zeroed(), Counter()))
        states[count.state] += count.count
        if count.state is DeliveryState.WAITING_FOR_MATCH:
            waiting[DeliveryState.WAITING_FOR_MATCH.value] += count.count
        if count.state is DeliveryState.WAITING_FOR_SEAT and count.hold is not None:
            holds[count.hold] += count.count
            waiting[count.hold.value] += count.count

    def name_of(user_id: uuid.UUID) -> str | None:
        user = users.get(user_id)
        return user.display_name if user is not None else None

    by_seller = [
        SellerStatus(
            user_id=user_id,
            name=name_of(user_id),
            email=users[user_id].email if user_id in users else None,
            states=states,
            holds=dict(holds),
        )
        for user_id, (states, holds) in sellers.items()
    ]
    by_seller.sort(key=lambda seller: ((seller.name or "").casefold(), str(seller.user_id)))
    return WritebackStatus(
        settings=settings,
        totals=totals,
        by_item=by_item,
        by_seller=by_seller,
        waiting=dict(waiting),
        problems=[Problem(activity, name_of(activity.author_user_id)) for activity in problems],
        throttled_until=throttled_until if throttled_until and throttled_until >= now - THROTTLE_SHOWN else None,
        crm_app_missing=app_missing,
    )


# --------------------------------------------------------------------------------------- retry and backfill


def retry_activities(
    store: StoreAccess, organization_id: uuid.UUID, activity_ids: Sequence[uuid.UUID] = (), *, actor: str = "cli"
) -> int:
    """Put failing and parked activities back in the queue (those named, else all of them), attempts reset, and
    defer the drain. Audited (``writeback.retried``). Returns how many."""
    with store(organization_id) as uow:
        retried = uow.activities.requeue(
            states=(DeliveryState.FAILING, DeliveryState.PARKED), activity_ids=list(activity_ids)
        )
        if retried:
            request_drain(uow, reason=RETRIED_REASON)
        uow.audit.record(
            actor=actor,
            action="writeback.retried",
            details={"retried": retried, "activity_ids": [str(i) for i in activity_ids] or "all"},
        )
        uow.commit()
    return retried


def backfill(
    store: StoreAccess,
    organization_id: uuid.UUID,
    *,
    since: datetime,
    actor: str = "cli",
    include_delivered: bool = False,
) -> int:
    """Deliver earlier activity: the activities kept in the workspace (``not_written_back``) that occurred at or
    after ``since`` and whose data item the settings now write back go to the queue, and the drain is deferred.
    Audited (``writeback.backfill``). Returns how many.

    ``include_delivered`` queues the delivered ones too: after their rows were deleted in Dynamics (the CRM-side
    app removed and installed again drops its tables' rows), they are written again; rows still there are
    rewritten in place (fixed ids), never doubled.

    Raises:
        InvalidRequestError: writeback is off.
        ValueError: ``since`` has no time zone.
    """
    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    states = (
        (DeliveryState.NOT_WRITTEN_BACK, DeliveryState.DELIVERED)
        if include_delivered
        else (DeliveryState.NOT_WRITTEN_BACK,)
    )
    with store(organization_id) as uow:
        settings = uow.writeback_settings.get()
        if not settings.enabled:
            raise InvalidRequestError(WRITEBACK_OFF)
        queued = uow.activities.requeue(states=states, since=since, items=sorted(settings.items))
        if queued:
            request_drain(uow, reason=BACKFILL_REASON)
        details: dict[str, Any] = {"since": since.isoformat(), "queued": queued}
        if include_delivered:
            details["include_delivered"] = True
        uow.audit.record(actor=actor, action="writeback.backfill", details=details)
        uow.commit()
    return queued
