"""``/api/v1/orgs/{org}/activities``: the activities sellers log (InMail, messages, notes, calls) from desktop and
mobile clients with their bearer token, or from the console's session, and where each one's delivery to the CRM
stands.

* Logging: any seat holder (or administrator), always as themselves (the token's user is the author). The
  client chooses ``client_id``: sending the same one again stores nothing and answers the stored activity (200
  instead of 201), so a retried request never makes two.
* Reading: every seat holder of the organization sees its activities (the CRM shows them to all alike).
* Editing: the author, or an administrator; ``expected_version`` refuses an edit made on a stale copy (409).
Another organization's activity is not found (404), whoever asks.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, ConfigDict, Field

from salesbridge.domain.writeback import (
    MAX_BODY_LENGTH,
    MAX_CALL_BODY_LENGTH,
    MAX_CLIENT_ID_LENGTH,
    MAX_PARTICIPANTS,
    MAX_SUBJECT_LENGTH,
    Activity,
    ActivityDraft,
    DataItem,
    DeliveryState,
    Direction,
)
from salesbridge.errors import ActivityChangedError, ClientIdReusedError
from salesbridge.i18n import translate
from salesbridge.services.activities import (
    MAX_PAGE,
    delivery_reason,
    edit_activity,
    get_activity,
    list_activities,
    log_activity,
)
from salesbridge.web.api.people import Offset
from salesbridge.web.api.schemas import ORGANIZATION_ERRORS, ApiInput, ApiModel, IsoTime, errors
from salesbridge.web.security import SeatHolderPrincipal, Services

router = APIRouter(prefix="/api/v1/orgs/{org}", tags=["activities"], responses=ORGANIZATION_ERRORS)

ActivityType = Literal["inmail", "message", "note", "call"]
DirectionName = Literal["outgoing", "incoming"]
StateName = Literal[
    "queued", "waiting_for_match", "waiting_for_seat", "not_written_back", "failing", "parked", "delivered"
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"At most {MAX_PAGE}.")]


class ActivityIn(ApiInput):
    """An activity a seller logs, on exactly one person or one company of the workspace. A field the API does not
    know is refused (422 naming it), not ignored: a client sending one believes it is stored."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(
        description=f"The client's own id of the activity (at most {MAX_CLIENT_ID_LENGTH} characters): the same "
        "author sending it again gets the stored activity, nothing new; sending it with another activity, 409."
    )
    type: ActivityType
    person_id: uuid.UUID | None = Field(default=None, description="The person it concerns (or `company_id`).")
    company_id: uuid.UUID | None = Field(default=None, description="The company it concerns (or `person_id`).")
    subject: str | None = Field(
        default=None,
        description=f"At most {MAX_SUBJECT_LENGTH} characters; default: the first line of the body.",
    )
    body: str = Field(
        description=f"The text (at most {MAX_BODY_LENGTH:,} characters; a call's at most {MAX_CALL_BODY_LENGTH:,}, "
        "as Dynamics' phone call description)."
    )
    direction: DirectionName = Field(default="outgoing", description="Sent (outgoing) or received (incoming).")
    occurred_at: AwareDatetime = Field(
        description="When it was sent, written or held, with its UTC offset (1753 or later, as Dynamics holds)."
    )
    conversation_id: str | None = Field(default=None, description="The conversation an InMail or message is in.")
    participants: list[uuid.UUID] = Field(
        default_factory=list,
        description=f"Other people of the workspace it involves (at most {MAX_PARTICIPANTS}, each once, not the "
        "person it concerns): each one's matched contact, else lead, is written to Dynamics as a further activity "
        "party (recipient of an outgoing InMail, message or call, sender of an incoming one); one with no match yet "
        "is left out. A person id the organization does not have: 422 naming it.",
    )


class ActivityEditIn(ApiInput):
    """New subject and body for an activity (its other fields do not change). A field the API does not know is
    refused (422 naming it)."""

    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, description="Left out: kept as it is; null or empty: none.")
    body: str
    expected_version: int | None = Field(
        default=None, description="The version you edited: when the activity has another one now, 409."
    )


class RegardingOut(ApiModel):
    """The CRM record the activity was written on."""

    table: str = Field(description="`contact`, `lead` or `account`.")
    crm_id: str


class DeliveryOut(ApiModel):
    """Where the activity's delivery to the CRM stands."""

    state: StateName
    reason: str = Field(description="The state in words, in the caller's language.")
    error_code: str | None = Field(description="Dynamics' error code of the last failed attempt.")
    error_message: str | None = Field(description="Dynamics' error message of the last failed attempt.")
    attempts: int = Field(description="Failed attempts in a row.")
    next_attempt_at: IsoTime | None = Field(description="When a queued or failing activity is tried (again).")
    regarding: RegardingOut | None
    delivered_at: IsoTime | None


class ActivityOut(ApiModel):
    """An activity and its delivery."""

    id: uuid.UUID
    client_id: str
    type: ActivityType
    person_id: uuid.UUID | None
    company_id: uuid.UUID | None
    subject: str | None
    body: str
    direction: DirectionName
    occurred_at: IsoTime
    conversation_id: str | None
    participants: list[uuid.UUID] = Field(description="Other people of the workspace it involves.")
    version: int = Field(description="1 when logged, raised by each edit.")
    author_user_id: uuid.UUID
    delivery: DeliveryOut


class ActivitiesOut(ApiModel):
    """A page of activities, newest first."""

    limit: int
    offset: int
    items: list[ActivityOut]


def activity_out(activity: Activity, locale: str) -> ActivityOut:
    """An activity as the API gives it (its delivery reason in ``locale``)."""
    delivery = activity.delivery
    regarding = delivery.regarding
    return ActivityOut(
        id=activity.id,
        client_id=activity.client_id,
        type=activity.item.value,
        person_id=activity.person_id,
        company_id=activity.company_id,
        subject=activity.subject,
        body=activity.body,
        direction=activity.direction.value,
        occurred_at=activity.occurred_at.isoformat(),
        conversation_id=activity.conversation_id,
        participants=list(activity.participants),
        version=activity.version,
        author_user_id=activity.author_user_id,
        delivery=DeliveryOut(
            state=delivery.state.value,
            reason=delivery_reason(delivery).read(lambda message: translate(message, locale)),
            error_code=delivery.error_code,
            error_message=delivery.error_message,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at.isoformat() if delivery.next_attempt_at else None,
            regarding=RegardingOut(table=regarding.table, crm_id=regarding.crm_id) if regarding else None,
            delivered_at=delivery.delivered_at.isoformat() if delivery.delivered_at else None,
        ),
    )


@router.post(
    "/activities",
    status_code=201,
    summary="Log an activity",
    responses={**errors(404, 409), 200: {"model": ActivityOut, "description": "Logged before with this client id."}},
)
def log_activity_route(
    org: str,  # noqa: ARG001
    body: ActivityIn,
    principal: SeatHolderPrincipal,
    services: Services,
    response: Response,
) -> ActivityOut:
    """Stores the activity, authored by the caller, and queues it for the CRM when writeback writes its type and
    the caller's seat may write back (otherwise it stays in the workspace and its delivery says why). 201 when
    stored; 200 with the stored one when the caller already logged this ``client_id``; 409 (nothing stored) when
    the caller used this ``client_id`` for a different activity (another type, person, company, time, direction,
    conversation or participants); 404 when the person or company is not the organization's; 422 for a value the
    workspace refuses (``detail`` names it: a participant the organization does not have, by its id)."""
    draft = ActivityDraft(
        client_id=body.client_id,
        item=DataItem(body.type),
        person_id=body.person_id,
        company_id=body.company_id,
        subject=body.subject,
        body=body.body,
        direction=Direction(body.direction),
        occurred_at=body.occurred_at,
        conversation_id=body.conversation_id,
        participants=tuple(body.participants),
    )
    try:
        activity, created = log_activity(
            services.store, principal.organization_id, principal.user_id, draft, clock=services.clock
        )
    except ClientIdReusedError as reused:
        raise HTTPException(status_code=409, detail=reused.localized(principal.locale)) from reused
    response.status_code = 201 if created else 200
    return activity_out(activity, principal.locale)


@router.get("/activities", summary="List activities")
def list_activities_route(
    org: str,  # noqa: ARG001
    principal: SeatHolderPrincipal,
    services: Services,
    person_id: uuid.UUID | None = None,
    company_id: uuid.UUID | None = None,
    author_user_id: uuid.UUID | None = None,
    state: Annotated[list[StateName] | None, Query(description="Any of these states (repeat the parameter).")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ActivitiesOut:
    """The organization's activities on a person, a company, by an author, in some delivery states (every filter
    given must hold), newest ``occurred_at`` first, a page at a time."""
    found = list_activities(
        services.store,
        principal.organization_id,
        person_id=person_id,
        company_id=company_id,
        author_user_id=author_user_id,
        states=[DeliveryState(name) for name in state or ()],
        limit=limit,
        offset=offset,
    )
    return ActivitiesOut(
        limit=limit, offset=offset, items=[activity_out(activity, principal.locale) for activity in found]
    )


@router.get("/activities/{activity_id}", summary="An activity", responses=errors(404))
def get_activity_route(
    org: str,  # noqa: ARG001
    activity_id: uuid.UUID,
    principal: SeatHolderPrincipal,
    services: Services,
) -> ActivityOut:
    """The activity and its delivery; 404 when the organization has none with this id."""
    return activity_out(get_activity(services.store, principal.organization_id, activity_id), principal.locale)


@router.patch("/activities/{activity_id}", summary="Edit an activity", responses=errors(404, 409))
async def edit_activity_route(
    org: str,  # noqa: ARG001
    activity_id: uuid.UUID,
    body: ActivityEditIn,
    principal: SeatHolderPrincipal,
    services: Services,
) -> ActivityOut:
    """Changes the body, and the subject when given (the author, or an administrator: 403 for another seller). A
    delivered activity is queued again and its CRM record updated. 409 (nothing changed) when ``expected_version``
    is not the activity's version any more; 404 when the organization has no such activity."""
    try:
        edited = await run_in_threadpool(
            edit_activity,
            services.store,
            principal.organization_id,
            principal.user_id,
            activity_id,
            subject=body.subject,
            body=body.body,
            expected_version=body.expected_version,
            # Read in the edit's transaction: a subject read before it could undo another edit made meanwhile.
            keep_subject="subject" not in body.model_fields_set,
        )
    except ActivityChangedError as stale:
        raise HTTPException(status_code=409, detail=stale.localized(principal.locale)) from stale
    return activity_out(edited, principal.locale)
