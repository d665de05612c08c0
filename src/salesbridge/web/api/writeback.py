"""``/api/v1/orgs/{org}/writeback``: activity writeback's administration (administrators only).

* Settings: "Enable syncing workspace data back to your CRM?" and the data items written back (``"all"`` or a
  list). Turning writeback on asks Dynamics first and is refused (422) until the CRM-side app is installed.
* Status: activities per delivery state, per type and per seller, why activities wait, the failing and parked
  ones with Dynamics' error, whether activities wait for the CRM-side app (its tables removed from Dynamics), and
  whether Dynamics throttles the drain (until when, in words): what ``salesbridge writeback status --json`` gives.
* Retry (failing and parked activities, all or those named) and backfill (earlier activity kept in the workspace,
  since a date), each queueing the organization's drain.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from typing import Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, Field

from salesbridge.domain.workspace import CrmCredentials
from salesbridge.domain.writeback import ALL_ITEMS, WritebackSettings, parse_items
from salesbridge.errors import InvalidRequestError
from salesbridge.message_ids import N_
from salesbridge.services.ports import CrmAppSession
from salesbridge.services.writeback import (
    WritebackStatus,
    backfill,
    retry_activities,
    set_writeback_settings,
    writeback_settings,
    writeback_status,
)
from salesbridge.web.api.activities import ActivityType, StateName
from salesbridge.web.api.schemas import ORGANIZATION_ERRORS, ApiInput, ApiModel, IsoTime, errors
from salesbridge.web.localized import writeback_status_json
from salesbridge.web.security import AdminPrincipal, Services

router = APIRouter(prefix="/api/v1/orgs/{org}/writeback", tags=["writeback"], responses=ORGANIZATION_ERRORS)

NO_APP_SESSIONS = N_("This console cannot reach the CRM-side app: use salesbridge writeback settings set.")


class WritebackSettingsIO(ApiInput, ApiModel):
    """The organization's writeback settings."""

    enabled: bool = Field(description="Enable syncing workspace data back to your CRM.")
    items: Literal["all"] | list[ActivityType] = Field(
        default="all", description='`"all"` (every data item), or some of `inmail`, `message`, `note`, `call`.'
    )


class SellerStatusOut(ApiModel):
    """One seller's activities per delivery state, and why those waiting for the seat wait."""

    user_id: uuid.UUID
    name: str | None = Field(description="Null when the user no longer exists.")
    email: str | None
    states: dict[StateName, int]
    holds: dict[str, int] = Field(description="Waiting for the seat, per reason (`crm_sync_off`, `no_crm_user`…).")


class ProblemOut(ApiModel):
    """A failing or parked activity."""

    activity_id: uuid.UUID
    type: ActivityType
    title: str
    author_user_id: uuid.UUID
    author_name: str | None
    occurred_at: IsoTime
    state: StateName
    reason: str = Field(description="In the caller's language, with Dynamics' error.")
    error_code: str | None
    error_message: str | None
    attempts: int
    next_attempt_at: IsoTime | None


class WritebackStatusOut(ApiModel):
    """Where the organization's writeback stands."""

    settings: WritebackSettingsIO
    totals: dict[StateName, int]
    by_type: dict[ActivityType, dict[StateName, int]]
    by_seller: list[SellerStatusOut]
    waiting: dict[str, int] = Field(
        description="Why activities wait: `waiting_for_match`, or the seat's reason (`crm_sync_off`…)."
    )
    waiting_labels: dict[str, str] = Field(
        description="Each reason of `waiting` in words, in the caller's language, as the Writeback page lists it."
    )
    problems: list[ProblemOut] = Field(description="The newest failing and parked activities (at most 200).")
    crm_app_missing: bool = Field(
        description="Activities wait because the CRM-side app's tables were removed from Dynamics (they fail with "
        "`crm_app_missing` and are delivered by themselves once the app is installed again)."
    )
    crm_app_missing_message: str | None = Field(
        description="That in words, with what to do, in the caller's language, as the console and `salesbridge "
        "writeback status` say it. Null while the app's tables are there."
    )
    throttled_until: IsoTime | None = Field(
        default=None,
        description="While Dynamics throttles the drain (429 with `Retry-After`, and for a minute after): until when "
        "it asked to wait, i.e. the next try. Null otherwise.",
    )
    throttled_message: str | None = Field(
        default=None,
        description="That throttling in words, with the next try, in the caller's language, as the console and "
        "`salesbridge writeback status` say it. Null when Dynamics does not throttle the drain.",
    )


class RetryIn(ApiInput):
    """What to retry."""

    activity_ids: list[uuid.UUID] = Field(
        default_factory=list, description="Those failing or parked activities; empty: all of them."
    )


class RetryOut(ApiModel):
    """How many activities went back to the queue."""

    retried: int


class BackfillIn(ApiInput):
    """Deliver earlier activity."""

    since: AwareDatetime | date = Field(description="A date (from its start, UTC) or a time with its UTC offset.")
    include_delivered: bool = Field(
        default=False,
        description="Write the delivered ones again too (their rows were deleted in Dynamics, e.g. the CRM-side app "
        "was removed and installed again); rows still there are rewritten in place, never doubled.",
    )


class BackfillOut(ApiModel):
    """How many activities went to the queue."""

    queued: int


def _settings_io(settings: WritebackSettings) -> WritebackSettingsIO:
    items = "all" if settings.all_items else sorted(item.value for item in settings.items)
    return WritebackSettingsIO(enabled=settings.enabled, items=items)  # type: ignore[arg-type]


def no_app_sessions(credentials: CrmCredentials) -> CrmAppSession:  # noqa: ARG001
    """Stands for the CRM app's sessions in a console given none: refuses (422) saying so."""
    raise InvalidRequestError(NO_APP_SESSIONS)


def status_out(status: WritebackStatus, locale: str) -> WritebackStatusOut:
    """The status as the API gives it: ``salesbridge writeback status --json``'s body, in ``locale``, with the
    settings as ``PUT /settings`` takes them and ``by_item`` named ``by_type``. Every field of the CLI's body is
    the API's too: the model forbids fields it does not describe."""
    data = writeback_status_json(status, locale)
    data["settings"] = _settings_io(status.settings)
    data["by_type"] = data.pop("by_item")
    return WritebackStatusOut.model_validate(data)


@router.get("/settings", summary="Writeback settings")
def get_settings(org: str, principal: AdminPrincipal, services: Services) -> WritebackSettingsIO:  # noqa: ARG001
    """Whether writeback is on, and which data items it writes (off, all items, until set)."""
    return _settings_io(writeback_settings(services.store, principal.organization_id))


@router.put("/settings", summary="Change the writeback settings", responses=errors(502))
async def put_settings(
    org: str,  # noqa: ARG001
    body: WritebackSettingsIO,
    principal: AdminPrincipal,
    services: Services,
) -> WritebackSettingsIO:
    """Replaces the settings. Turning writeback on is refused (422, nothing changed) until the CRM-side app is
    installed in Dynamics 365 (or while the organization is not connected); 502 when Dynamics cannot be asked. An
    item turned on applies to activity logged from then on (backfill delivers earlier activity). Audited."""
    items = ALL_ITEMS if body.items == "all" else parse_items(body.items)
    saved = await set_writeback_settings(
        services.store,
        services.crm_app_sessions or no_app_sessions,
        principal.organization_id,
        WritebackSettings(enabled=body.enabled, items=items),
        actor=principal.email,
    )
    return _settings_io(saved)


@router.get("/status", summary="Writeback status")
def get_status(org: str, principal: AdminPrincipal, services: Services) -> WritebackStatusOut:  # noqa: ARG001
    """Activities per delivery state, per type and per seller; why activities wait; the failing and parked ones
    with Dynamics' error code and message; whether activities wait for the CRM-side app (removed from Dynamics)
    and what to do, in words; while Dynamics throttles the drain, until when and that in words."""
    status = writeback_status(services.store, principal.organization_id, clock=services.clock)
    return status_out(status, principal.locale)


@router.post("/retry", summary="Retry failing and parked activities")
async def retry(org: str, body: RetryIn, principal: AdminPrincipal, services: Services) -> RetryOut:  # noqa: ARG001
    """Puts the failing and parked activities (those named, else all) back in the queue, attempts reset, and
    queues the drain. Audited."""
    retried = await run_in_threadpool(
        retry_activities, services.store, principal.organization_id, body.activity_ids, actor=principal.email
    )
    return RetryOut(retried=retried)


@router.post("/backfill", summary="Deliver earlier activity")
async def backfill_route(org: str, body: BackfillIn, principal: AdminPrincipal, services: Services) -> BackfillOut:  # noqa: ARG001
    """Queues the activities kept in the workspace (logged while writeback or their type was off) that occurred
    since ``since`` and whose type writeback now writes (and, with ``include_delivered``, the delivered ones, to be
    written again). 422 while writeback is off. Audited."""
    since = body.since
    if not isinstance(since, datetime):
        since = datetime.combine(since, time(), tzinfo=UTC)
    queued = await run_in_threadpool(
        backfill,
        services.store,
        principal.organization_id,
        since=since,
        actor=principal.email,
        include_delivered=body.include_delivered,
    )
    return BackfillOut(queued=queued)
