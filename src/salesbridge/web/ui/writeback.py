"""Activity writeback in the console (issue 14).

* The "Activity writeback" section of the CRM Settings page (template ``_writeback_settings.html``): where the
  CRM-side app stands in Dynamics (installed, outdated, not installed; what is missing; the privileges the
  application user lacks, by name) with "Get it now", which installs it; "Enable syncing workspace data back to
  your CRM?" and the data items written back. Its forms are saved by the routes in
  :mod:`salesbridge.web.ui.crm_settings`, which render the page with this section's context.
* The administrators' Writeback page (``/admin/writeback``, template ``admin_writeback.html``): where delivery
  stands per type and per seller, why activities wait, the failing and parked ones with Dynamics' error and Retry,
  and Backfill since a date.
* The activities of a person's or company's page (template ``_activities.html``) and its "Log a note / call /
  message" forms (the routes are in :mod:`salesbridge.web.ui.people`).

What the section reads from Dynamics is awaited at most ``ConsoleServices.crm_wait_s``, like the rest of the CRM
Settings page: then the section says it could not be read instead of holding the page.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from salesbridge.domain.crm_app import AppState
from salesbridge.domain.writeback import (
    ALL_ITEMS,
    MAX_BODY_LENGTH,
    MAX_CALL_BODY_LENGTH,
    MAX_SUBJECT_LENGTH,
    Activity,
    ActivityDraft,
    DataItem,
    Delivery,
    DeliveryState,
    Direction,
    WritebackSettings,
    parse_items,
)
from salesbridge.errors import CrmError, InvalidInputError, InvalidRequestError, RowNotFoundError
from salesbridge.i18n import translate
from salesbridge.message_ids import N_
from salesbridge.services.accounts import Principal
from salesbridge.services.activities import (
    delivery_reason,
    edit_activity,
    get_activity,
    list_activities,
    log_activity,
    waiting_reason,
)
from salesbridge.services.crm_app import CrmAppStatus, crm_app_status
from salesbridge.services.home import author_names
from salesbridge.services.writeback import (
    Problem,
    backfill,
    retry_activities,
    writeback_settings,
    writeback_status,
)
from salesbridge.web.context import ConsoleServices
from salesbridge.web.localized import missing_text, writeback_app_missing_message, writeback_throttled_message
from salesbridge.web.security import AdminPrincipal, Services
from salesbridge.web.templating import render


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


_UNREACHABLE: Final = N_("This console cannot reach the salesbridge app: ask your salesbridge operator.")
_CRM_REFUSED: Final = N_("The app was not installed: Dynamics answered with an error ({error}). Try again later.")
_CRM_UNREAD: Final = N_(
    "Nothing was saved: the app's state could not be read, Dynamics answered with an error ({error}). Try again later."
)


def crm_app_error(error: CrmError | None, locale: str, *, installing: bool = True) -> str:
    """Why "Get it now" (``installing``) or saving the settings failed in the CRM (``error``; None: this console
    has no way to the app), in ``locale``. Dynamics' own message is quoted as it came."""
    if error is None:
        return translate(_UNREACHABLE, locale)
    detail = f"{error.code}: {error.message}" if error.code else error.message
    return translate(_CRM_REFUSED if installing else _CRM_UNREAD, locale).format(error=detail)


ITEM_CHOICES: Final[tuple[tuple[DataItem, str], ...]] = (
    (DataItem.INMAIL, N_("InMail")),
    (DataItem.MESSAGE, N_("Messages")),
    (DataItem.NOTE, N_("Notes")),
    (DataItem.CALL, N_("Call logs")),
)
"""The data items an administrator chooses, in the seed's order, with their labels (message ids)."""


def writeback_choice(*, enabled: str, items_mode: str, items: Collection[str]) -> WritebackSettings:
    """The settings the form asks for: ``enabled`` ``yes`` or ``no``; ``items_mode`` ``all`` ("Sync back all data
    items") or ``some`` (the ``items`` ticked).

    Raises:
        InvalidInputError: ``some`` with no item ticked, or an unknown item.
    """
    chosen = ALL_ITEMS if items_mode != "some" else parse_items(items)
    return WritebackSettings(enabled=enabled == "yes", items=chosen)


def writeback_section(
    request: Request, services: ConsoleServices, principal: Principal, reading: AppReading
) -> dict[str, Any]:
    """What ``_writeback_settings.html`` shows: the app's state (``reading``), what is missing in the reader's
    words, the settings (those of a refused form, ``request.state.writeback_choice``, else the stored ones), and
    the error of the last "Get it now" or save (``request.state.writeback_error``). Reads the store: call it off
    the event loop."""
    status = reading.status
    refused: WritebackSettings | None = getattr(request.state, "writeback_choice", None)
    return {
        "app": reading,
        "missing": [missing_text(item, principal.locale) for item in status.missing] if status else [],
        "settings": refused or writeback_settings(services.store, principal.organization_id),
        "item_choices": ITEM_CHOICES,
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


PROBLEM_STATES: Final = {
    DeliveryState.FAILING: N_("Failing, retried automatically"),
    DeliveryState.PARKED: N_("Not delivered (retry it once fixed)"),
}
"""A failing or parked activity's state as its row says it (Dynamics' error is in a column of its own)."""


def problem_rows(problems: Iterable[Problem], locale: str) -> list[tuple[Problem, str, str]]:
    """The failing and parked activities as rows of the table the Writeback page and Sync health share
    (``_writeback_errors.html``): each with its state and its type's name, in ``locale``."""
    return [
        (
            problem,
            _problem_state(problem.activity.delivery, locale),
            translate(ITEM_LABELS[problem.activity.item], locale),
        )
        for problem in problems
    ]


def _problem_state(delivery: Delivery, locale: str) -> str:
    state = PROBLEM_STATES.get(delivery.state)
    return translate(state, locale) if state else reason_text(delivery, locale)


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
    can_edit: bool
    author: str | None = None
    """Who logged it, when a teammate did (None for the reader's own, or a user since deleted)."""


@dataclass(frozen=True)
class ActivityForm:
    """What a "Log a …" form (or an activity's Edit form: ``activity_id``) holds; ``error``: why it was refused
    (it is shown again with it)."""

    item: str
    client_id: str
    subject: str
    body: str
    direction: str
    error: str | None = None
    activity_id: uuid.UUID | None = None


ACTIVITIES_PER_PAGE: Final = 20
"""Activities shown a page on a person's or company's page."""
MAX_ACTIVITIES_PAGE: Final = 100_000
"""The furthest page asked for that is read (a larger number reads this one: an empty page with "Newer")."""


def activities_page(raw: str | None) -> int:
    """The activities page a query parameter asks for: 0 (the newest) when missing or not a number."""
    try:
        return max(0, min(int(raw or "0"), MAX_ACTIVITIES_PAGE))
    except ValueError:
        return 0


def activities_section(
    services: ConsoleServices,
    principal: Principal,
    *,
    action: str,
    person_id: uuid.UUID | None = None,
    company_id: uuid.UUID | None = None,
    refused: ActivityForm | None = None,
    page: int = 0,
) -> dict[str, Any]:
    """What ``_activities.html`` shows on the page of ``person_id`` or ``company_id``: their activities, newest
    first, :data:`ACTIVITIES_PER_PAGE` a page (``page`` 0 is the newest; "Older activities" and "Newer activities"
    link to the next and previous ones, so a person with hundreds stays a short page on a phone), with each
    delivery's state and reason in the reader's words, and the "Log a …" forms posting to ``action``, each with a
    new client id (so a form sent twice logs one activity); ``refused``: a form shown again with its error. Reads
    the store: call it off the event loop."""
    locale = principal.locale
    page = max(0, min(page, MAX_ACTIVITIES_PAGE))
    found = list_activities(
        services.store,
        principal.organization_id,
        person_id=person_id,
        company_id=company_id,
        limit=ACTIVITIES_PER_PAGE + 1,  # one more than shown: whether older ones exist
        offset=page * ACTIVITIES_PER_PAGE,
    )
    older = len(found) > ACTIVITIES_PER_PAGE
    found = found[:ACTIVITIES_PER_PAGE]
    authors = author_names(
        services.store,
        principal.organization_id,
        {activity.author_user_id for activity in found if activity.author_user_id != principal.user_id},
    )
    lines = [
        ActivityLine(
            activity=activity,
            item_label=translate(ITEM_LABELS[activity.item], locale),
            reason=reason_text(activity.delivery, locale),
            mine=activity.author_user_id == principal.user_id,
            can_edit=activity.author_user_id == principal.user_id or principal.is_admin,
            author=authors.get(activity.author_user_id),
        )
        for activity in found
    ]
    client_ids = {item.value: str(uuid.uuid4()) for item in LOGGED_IN_CONSOLE}
    if refused is not None and refused.item in client_ids:
        client_ids[refused.item] = refused.client_id
    return {
        "lines": lines,
        "client_ids": client_ids,
        "action": action,
        "refused": refused,
        "body_max": {item.value: body_limit(item) for item in DataItem},
        "subject_max": MAX_SUBJECT_LENGTH,
        "page": page,
        "older_page": page + 1 if older else None,
        "newer_page": page - 1 if page > 0 else None,
    }


def body_limit(item: DataItem) -> int:
    """The most characters (UTF-16 units, as Dataverse and a browser's ``maxlength`` count) an activity of ``item``
    holds: its form's textarea carries it so the browser stops the seller before the server refuses."""
    return MAX_CALL_BODY_LENGTH if item is DataItem.CALL else MAX_BODY_LENGTH


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


def edit_from_form(
    services: ConsoleServices,
    principal: Principal,
    activity_id: uuid.UUID,
    *,
    subject: str,
    body: str,
    expected_version: int | None,
    person_id: uuid.UUID | None = None,
    company_id: uuid.UUID | None = None,
) -> Activity:
    """Edit the subject and body of an activity of the person or company (its author, or an administrator); a
    delivered one is written to the CRM again.

    Raises:
        RowNotFoundError: no such activity of that person or company in the organization.
        InvalidRequestError: the text is refused, the editor is neither its author nor an administrator, or the
            activity changed since ``expected_version`` (:class:`~salesbridge.errors.ActivityChangedError`).
    """
    stored = get_activity(services.store, principal.organization_id, activity_id)
    if (stored.person_id, stored.company_id) != (person_id, company_id):
        raise RowNotFoundError(N_("No such activity here."))
    return edit_activity(
        services.store,
        principal.organization_id,
        principal.user_id,
        activity_id,
        subject=subject,
        body=body,
        expected_version=expected_version,
    )


# ------------------------------------------------------------------------------------------------ the Writeback page

router = APIRouter(include_in_schema=False)

PAGE: Final = "/admin/writeback"

STATE_COLUMNS: Final[tuple[tuple[DeliveryState, str], ...]] = (
    (DeliveryState.DELIVERED, N_("In your CRM")),
    (DeliveryState.QUEUED, N_("Queued")),
    (DeliveryState.WAITING_FOR_MATCH, N_("Waiting for a match")),
    (DeliveryState.WAITING_FOR_SEAT, N_("Waiting for a seat")),
    (DeliveryState.FAILING, N_("Failing")),
    (DeliveryState.PARKED, N_("Parked")),
    (DeliveryState.NOT_WRITTEN_BACK, N_("Workspace only")),
)
"""The status tables' columns: each delivery state and its heading (message ids)."""

_BAD_DATE: Final = N_("Give the date as year-month-day, for example 2026-01-31.")


def _waiting_reason(key: str, locale: str) -> str:
    """A waiting reason of the status (``waiting_for_match`` or a seat hold's name) in words."""
    return waiting_reason(key).read(lambda text: translate(text, locale))


def _writeback_page(
    request: Request,
    principal: Principal,
    services: ConsoleServices,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    locale = principal.locale
    status = writeback_status(services.store, principal.organization_id, clock=services.clock)
    context = {
        "status": status,
        "columns": STATE_COLUMNS,
        "items": [(item, translate(label, locale)) for item, label in ITEM_CHOICES],
        "waiting": [(_waiting_reason(key, locale), count) for key, count in sorted(status.waiting.items())],
        "problems": problem_rows(status.problems, locale),
        "crm_app_missing": writeback_app_missing_message(status.crm_app_missing, locale),
        "throttled": writeback_throttled_message(status.throttled_until, locale),
        "error": error,
        "notice": request.query_params.get("notice"),
        "count": request.query_params.get("count", ""),
        "today": services.clock().date().isoformat(),
    }
    return render(request, "admin_writeback.html", context, principal=principal, status_code=status_code)


@router.get(PAGE)
def writeback_page(request: Request, principal: AdminPrincipal, services: Services) -> Response:
    """Where the organization's writeback stands: its settings, activities per delivery state, per type and per
    seller, why activities wait, and the failing and parked ones with Dynamics' error, each with Retry; Backfill
    since a date."""
    return _writeback_page(request, principal, services)


@router.post(PAGE + "/retry")
def retry(
    principal: AdminPrincipal,
    services: Services,
    activity_id: Annotated[uuid.UUID | None, Form()] = None,
) -> Response:
    """Put a failing or parked activity (``activity_id``), else all of them, back in the queue, attempts reset
    (audited); back to the page saying how many."""
    ids = (activity_id,) if activity_id is not None else ()
    retried = retry_activities(services.store, principal.organization_id, ids, actor=principal.email)
    return RedirectResponse(f"{PAGE}?notice=retried&count={retried}", status_code=303)


@router.post(PAGE + "/backfill")
def backfill_since(
    request: Request,
    principal: AdminPrincipal,
    services: Services,
    since: Annotated[str, Form(max_length=20)],
    include_delivered: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Deliver earlier activity: what stayed in the workspace since ``since`` (a date, from its start in UTC) of
    the items writeback writes now goes to the queue (audited); back to the page saying how many. With
    ``include_delivered`` ("Also write delivered activity again", ticked after the CRM-side app was removed and
    installed again) what was delivered since then is written again too. Refused, with the reason, while
    writeback is off."""
    try:
        try:
            start = datetime.combine(date.fromisoformat(since.strip()), time(), tzinfo=UTC)
        except ValueError:
            raise InvalidInputError(_BAD_DATE, field="since") from None
        queued = backfill(
            services.store,
            principal.organization_id,
            since=start,
            actor=principal.email,
            include_delivered=bool(include_delivered),
        )
    except InvalidRequestError as refused:
        return _writeback_page(request, principal, services, error=refused.localized(principal.locale), status_code=422)
    return RedirectResponse(f"{PAGE}?notice=backfill&count={queued}", status_code=303)
