"""``/api/v1/orgs/{org}/seats``: seat management for administrators, and assigning seats from the CRM's users."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from pydantic import Field

from salesbridge.domain.seat_matching import MatchOutcome
from salesbridge.domain.workspace import SeatState
from salesbridge.services.accounts import Principal
from salesbridge.web.api.schemas import ORGANIZATION_ERRORS, ApiInput, ApiModel, IsoTime, SeatLimitErrorOut, errors
from salesbridge.web.context import console_config
from salesbridge.web.localized import seat_json, seat_overview_json
from salesbridge.web.security import AdminPrincipal, Services

router = APIRouter(prefix="/api/v1/orgs/{org}", tags=["seats"], responses=ORGANIZATION_ERRORS)


class SeatSyncIn(ApiInput):
    """A seat's own CRM sync switch (counts only while automatic sync for all seats is off)."""

    enabled: bool


class SeatEmailIn(ApiInput):
    """The corrected email of a seat's holder; the seat is matched again at once."""

    email: str = Field(min_length=3, max_length=320)


class SyncAllIn(ApiInput):
    """ "Sync CRM for all seats automatically"."""

    sync_all_seats: bool


class AssignIn(ApiInput):
    """The CRM users (ids from ``GET /crm/users?assignable=true``) to give a seat to."""

    crm_user_ids: list[uuid.UUID] = Field(min_length=1, max_length=10_000)


class CrmUserOut(ApiModel):
    """A CRM user imported from Dynamics 365."""

    id: uuid.UUID
    crm_id: str = Field(description="The systemuser id in Dynamics 365.")
    full_name: str
    email: str | None
    is_disabled: bool
    is_application: bool = Field(description="An application user, not a person.")
    is_assignable: bool = Field(description="An active person holding no seat.")


class SeatOut(ApiModel):
    """A seat, its holder and its CRM match."""

    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    display_name: str
    is_admin: bool
    state: SeatState
    crm_sync_enabled: bool = Field(description="The seat's own switch (counts while sync for all seats is off).")
    crm_sync_active: bool = Field(description="CRM sync is on for this seat, whichever switch decides.")
    match: MatchOutcome
    match_label: str
    match_reason: str | None = Field(description="Why the seat is not matched; null when it is.")
    match_fix: str | None = Field(description="How to fix an unmatched seat; null when it is matched.")
    crm_user: CrmUserOut | None
    in_crm: bool = Field(description='The seat shows the "In CRM" badge.')


class SeatOverviewOut(ApiModel):
    """The contract, the automatic-sync setting and every seat."""

    organization: str
    seats_purchased: int
    seats_assigned: int
    seats_left: int
    sync_all_seats: bool
    crm_connected: bool
    crm_users_imported_at: IsoTime | None
    seats: list[SeatOut]


class InvitationOut(ApiModel):
    """A seat given and its invitation; ``invitation_url`` is shown once and never again. ``emailed``: the
    invitation also went to ``email`` through the deployment's SMTP server."""

    seat_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    display_name: str
    expires_at: datetime
    invitation_url: str
    emailed: bool = False


class CrmUsersImportOut(ApiModel):
    """What an import of the CRM's users changed."""

    added: int
    updated: int
    removed: int
    total: int
    assignable: int


def _actor(principal: Principal) -> str:
    return principal.email


@router.get("/seats", summary="Seats, their CRM match and the In CRM badge")
def list_seats(org: str, principal: AdminPrincipal, services: Services) -> SeatOverviewOut:  # noqa: ARG001
    """The contract (seats purchased, assigned, left), the automatic-sync setting and every seat with its CRM
    user match (or why not, and how to fix it) and whether it shows "In CRM"."""
    return SeatOverviewOut.model_validate(
        seat_overview_json(services.seats.overview(principal.organization_slug), principal.locale)
    )


@router.put("/seats/{seat_id}/crm-sync", summary="Enable or disable CRM sync for one seat")
def set_seat_crm_sync(
    org: str,  # noqa: ARG001
    seat_id: uuid.UUID,
    body: SeatSyncIn,
    principal: AdminPrincipal,
    services: Services,
) -> SeatOut:
    """Idempotent. 422 while automatic sync for all seats is on; 404 for a seat of another organization."""
    seat = services.seats.set_seat_crm_sync(
        principal.organization_slug, seat_id, enabled=body.enabled, actor=_actor(principal)
    )
    return SeatOut.model_validate(seat_json(seat, principal.locale))


@router.put("/seats/{seat_id}/email", summary="Correct a seat holder's email")
def change_seat_email(
    org: str,  # noqa: ARG001
    seat_id: uuid.UUID,
    body: SeatEmailIn,
    principal: AdminPrincipal,
    services: Services,
) -> SeatOut:
    """The seat is matched against the CRM users again at once. 422 for an invalid or taken email."""
    seat = services.seats.change_seat_email(
        principal.organization_slug, seat_id, email=body.email, actor=_actor(principal)
    )
    return SeatOut.model_validate(seat_json(seat, principal.locale))


@router.put("/crm/settings/sync-all-seats", summary="Sync CRM for all seats automatically")
def set_sync_all_seats(
    org: str,  # noqa: ARG001
    body: SyncAllIn,
    principal: AdminPrincipal,
    services: Services,
) -> SeatOverviewOut:
    """Turn automatic CRM sync for all seats on or off. Idempotent; returns the seat overview."""
    overview = services.seats.set_sync_all_seats(
        principal.organization_slug, enabled=body.sync_all_seats, actor=_actor(principal)
    )
    return SeatOverviewOut.model_validate(seat_overview_json(overview, principal.locale))


@router.get("/crm/users", summary="CRM users imported from Dynamics 365")
def list_crm_users(
    org: str,  # noqa: ARG001
    principal: AdminPrincipal,
    services: Services,
    assignable: Annotated[bool, Query(description="Only active people holding no seat.")] = True,
) -> list[CrmUserOut]:
    """With ``assignable=true`` (the default): the active human CRM users holding no seat, which "Assign seats
    from CRM" offers."""
    if assignable:
        users = services.seats.assignable_crm_users(principal.organization_slug)
    else:
        users = services.seats.crm_users(principal.organization_slug)
    return [CrmUserOut.model_validate(user.to_json()) for user in users]


@router.post("/crm/users/import", summary="Import the CRM's users now", responses=errors(502))
async def import_crm_users(
    org: str,  # noqa: ARG001
    principal: AdminPrincipal,
    services: Services,
) -> CrmUsersImportOut:
    """Reads every systemuser through the stored connection and matches every seat again. 422 when the
    organization is not connected; 502 when the CRM cannot be read."""
    result = await services.seats.refresh_crm_users(
        principal.organization_slug, services.crm_sessions, actor=_actor(principal)
    )
    return CrmUsersImportOut(**vars(result))


@router.post(
    "/seats/assign-from-crm",
    status_code=201,
    summary="Assign seats from CRM",
    responses={409: {"model": SeatLimitErrorOut, "description": "The contract has fewer seats left than asked for."}},
)
def assign_from_crm(
    org: str,  # noqa: ARG001
    request: Request,
    principal: AdminPrincipal,
    services: Services,
    body: Annotated[AssignIn, Body()],
) -> list[InvitationOut]:
    """Gives each CRM user a seat and an invitation, all or nothing. 409 with ``seats_left`` when the contract
    has fewer seats left than asked for; 422 when a CRM user cannot be given a seat."""
    invitations = services.seats.assign_from_crm(
        principal.organization_slug, body.crm_user_ids, actor=_actor(principal)
    )
    # The configured public address, never the request's Host (which the client chooses).
    config = console_config(request)
    return [
        InvitationOut(
            seat_id=invitation.seat_id,
            user_id=invitation.user_id,
            email=invitation.email,
            display_name=invitation.display_name,
            expires_at=invitation.expires_at,
            invitation_url=config.absolute_url(invitation.path),
            emailed=invitation.emailed,
        )
        for invitation in invitations
    ]
