"""Activity writeback in the console (issue 14).

* The "Activity writeback" section of the CRM Settings page (template ``_writeback_settings.html``): where the
  CRM-side app stands in Dynamics (installed, outdated, not installed; what is missing; the privileges the
  application user lacks, by name) with "Get it now", which installs it. Its forms are saved by the routes in
  :mod:`salesbridge.web.ui.crm_settings`, which render the page with this section's context.

What the section reads from Dynamics is awaited at most ``ConsoleServices.crm_wait_s``, like the rest of the CRM
Settings page: then the section says it could not be read instead of holding the page.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from fastapi import Request

from salesbridge.domain.crm_app import AppState, MissingItem, MissingKind
from salesbridge.domain.writeback import (
    Activity,
    ActivityDraft,
    DataItem,
    Delivery,
    Direction,
)
from salesbridge.errors import CrmError, InvalidInputError, InvalidRequestError
from salesbridge.i18n import translate
from salesbridge.message_ids import N_
from salesbridge.services.accounts import Principal
from salesbridge.services.activities import delivery_reason, list_activities, log_activity
from salesbridge.services.crm_app import CrmAppStatus, crm_app_status
from salesbridge.web.context import ConsoleServices


class AppProblem(StrEnum):
    """Why the CRM-side app's state could not be read."""

    NOT_CONNECTED = "not_connected"
    SLOW = "slow"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"
    """This console was given no way to the app (``ConsoleServices.crm_app_sessions`` is None)."""


@dataclass(frozen=True)
class AppReading:
    """The CRM-side app's state as the page read it: ``status``, or the ``problem`` that kept it from reading."""

    status: CrmAppStatus | None
    problem: AppProblem | None = None

    @property
    def installed(self) -> bool:
        """The app is known to be installed (writeback may be enabled)."""
        return self.status is not None and self.status.state is AppState.INSTALLED


async def read_app_state(services: ConsoleServices, principal: Principal) -> AppReading:
    """Where the CRM-side app stands in the organization's Dynamics, waiting at most ``services.crm_wait_s``.
    Never raises for the CRM: a problem is returned instead."""
    if services.crm_app_sessions is None:
        return AppReading(None, AppProblem.UNAVAILABLE)
    try:
        async with asyncio.timeout(services.crm_wait_s):
            status = await crm_app_status(services.store, services.crm_app_sessions, slug=principal.organization_slug)
    except TimeoutError:
        return AppReading(None, AppProblem.SLOW)
    except CrmError:
        return AppReading(None, AppProblem.FAILED)
    except InvalidRequestError:  # not connected to a CRM
        return AppReading(None, AppProblem.NOT_CONNECTED)
    return AppReading(status)


_MISSING_TEXTS: Final[dict[MissingKind, str]] = {
    MissingKind.TABLE: N_("Table {table}"),
    MissingKind.COLUMN: N_("Column {name} of {table}"),
    MissingKind.KEY: N_("Alternate key {name} of {table}"),
    MissingKind.STANDARD_TABLE: N_("Standard table {table} (your Dynamics administrator must add it)"),
    MissingKind.ACTIVITIES: N_("Activities are not enabled on {table} (your Dynamics administrator must enable them)"),
    MissingKind.NOTES: N_("Notes are not enabled on {table} (your Dynamics administrator must enable them)"),
    MissingKind.KEY_NOT_ACTIVE: N_("Alternate key {name} of {table} is {state}, not Active yet"),
    MissingKind.NOT_AN_ACTIVITY: N_(
        "{table} exists but is not an activity table (your Dynamics administrator must rename or remove it)"
    ),
}


def missing_text(item: MissingItem, locale: str) -> str:
    """What the CRM lacks of the app, in words in ``locale``."""
    return translate(_MISSING_TEXTS[item.kind], locale).format(table=item.table, name=item.name, state=item.state)


_UNREACHABLE: Final = N_("This console cannot reach the salesbridge app: ask your salesbridge operator.")
_CRM_REFUSED: Final = N_("The app was not installed: Dynamics answered with an error ({error}). Try again later.")


def crm_app_error(error: CrmError | None, locale: str) -> str:
    """Why "Get it now" failed in the CRM (``error``; None: this console has no way to the app), in ``locale``.
    Dynamics' own message is quoted as it came."""
    if error is None:
        return translate(_UNREACHABLE, locale)
    detail = f"{error.code}: {error.message}" if error.code else error.message
    return translate(_CRM_REFUSED, locale).format(error=detail)


def writeback_section(request: Request, principal: Principal, reading: AppReading) -> dict[str, Any]:
    """What ``_writeback_settings.html`` shows: the app's state (``reading``), what is missing in the reader's
    words, and the error of the last "Get it now" or save (``request.state.writeback_error``). Reads the store:
    call it off the event loop."""
    status = reading.status
    return {
        "app": reading,
        "missing": [missing_text(item, principal.locale) for item in status.missing] if status else [],
        "error": getattr(request.state, "writeback_error", None),
    }


# ------------------------------------------------------------------------------------------------ the activities

LOGGED_IN_CONSOLE: Final = (DataItem.NOTE, DataItem.CALL, DataItem.MESSAGE)
"""What a seat holder logs from a person's or company's page ("Log a note", "Log a call", "Log a message"); InMail
arrives through the API from the clients that send it."""

ITEM_LABELS: Final[dict[DataItem, str]] = {
    DataItem.INMAIL: N_("InMail"),
    DataItem.MESSAGE: N_("Message"),
    DataItem.NOTE: N_("Note"),
    DataItem.CALL: N_("Call"),
}
"""An activity's type, in words (message ids)."""


def reason_text(delivery: Delivery, locale: str) -> str:
    """Where a delivery stands and why (:func:`~salesbridge.services.activities.delivery_reason`), in ``locale``."""
    return delivery_reason(delivery).read(lambda text: translate(text, locale))


@dataclass(frozen=True)
class ActivityLine:
    """One activity as a person's or company's page lists it."""

    activity: Activity
    item_label: str
    reason: str
    mine: bool


@dataclass(frozen=True)
class ActivityForm:
    """What a "Log a …" form holds; ``error``: why it was refused (it is shown again with it)."""

    item: str
    client_id: str
    subject: str
    body: str
    direction: str
    error: str | None = None


def activities_section(
    services: ConsoleServices,
    principal: Principal,
    *,
    action: str,
    person_id: uuid.UUID | None = None,
    company_id: uuid.UUID | None = None,
    refused: ActivityForm | None = None,
) -> dict[str, Any]:
    """What ``_activities.html`` shows on the page of ``person_id`` or ``company_id``: their activities (newest
    first, 50 at most) with each delivery's state and reason in the reader's words, and the "Log a …" forms posting
    to ``action``, each with a new client id (so a form sent twice logs one activity); ``refused``: a form shown
    again with its error. Reads the store: call it off the event loop."""
    locale = principal.locale
    found = list_activities(
        services.store, principal.organization_id, person_id=person_id, company_id=company_id, limit=50, offset=0
    )
    lines = [
        ActivityLine(
            activity=activity,
            item_label=translate(ITEM_LABELS[activity.item], locale),
            reason=reason_text(activity.delivery, locale),
            mine=activity.author_user_id == principal.user_id,
        )
        for activity in found
    ]
    client_ids = {item.value: str(uuid.uuid4()) for item in LOGGED_IN_CONSOLE}
    if refused is not None and refused.item in client_ids:
        client_ids[refused.item] = refused.client_id
    return {"lines": lines, "client_ids": client_ids, "action": action, "refused": refused}


def activity_draft(
    *,
    client_id: str,
    item: str,
    subject: str,
    body: str,
    direction: str,
    person_id: uuid.UUID | None = None,
    company_id: uuid.UUID | None = None,
    now: datetime,
) -> ActivityDraft:
    """The activity a "Log a …" form describes, held ``now``.

    Raises:
        InvalidInputError: an item the console does not log, a direction that is neither, or a value the activity
            refuses (:class:`ActivityDraft`).
    """
    try:
        chosen = DataItem(item)
        way = Direction(direction or Direction.OUTGOING.value)
    except ValueError:
        raise InvalidInputError(N_("Choose a note, a call or a message."), field="item") from None
    if chosen not in LOGGED_IN_CONSOLE:
        raise InvalidInputError(N_("Choose a note, a call or a message."), field="item")
    return ActivityDraft(
        client_id=client_id,
        item=chosen,
        person_id=person_id,
        company_id=company_id,
        subject=subject,
        body=body,
        direction=Direction.OUTGOING if chosen is DataItem.NOTE else way,
        occurred_at=now,
    )


def log_from_form(
    services: ConsoleServices,
    principal: Principal,
    *,
    form: ActivityForm,
    person_id: uuid.UUID | None = None,
    company_id: uuid.UUID | None = None,
) -> Activity:
    """Log what a "Log a …" form holds as the principal's activity on the person or company (the same client id
    again returns the activity already logged).

    Raises:
        InvalidRequestError: the form's values are refused.
        RowNotFoundError: no such person or company in the organization.
    """
    draft = activity_draft(
        client_id=form.client_id,
        item=form.item,
        subject=form.subject,
        body=form.body,
        direction=form.direction,
        person_id=person_id,
        company_id=company_id,
        now=services.clock(),
    )
    activity, _created = log_activity(
        services.store, principal.organization_id, principal.user_id, draft, clock=services.clock
    )
    return activity
