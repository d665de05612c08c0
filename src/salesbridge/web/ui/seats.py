"""Seat management pages: the seats with their CRM match and "In CRM" badge, each seat's "…" menu (CRM sync,
correct the email), and "Assign seats from CRM" with a checkbox per CRM user and a select-all at the top left."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from salesbridge.errors import CrmError, InvalidRequestError
from salesbridge.services.accounts import Principal
from salesbridge.web.context import ConsoleServices, console_config
from salesbridge.web.localized import seat_match
from salesbridge.web.security import AdminPrincipal, Services
from salesbridge.web.templating import render

router = APIRouter(include_in_schema=False)


def _seats_page(
    request: Request, principal: Principal, services: ConsoleServices, *, status_code: int = 200, **context: Any
) -> Response:
    overview = services.seats.overview(principal.organization_slug)
    return render(
        request,
        "seats.html",
        {"overview": overview, "notice": request.query_params.get("notice"), "seat_match": seat_match, **context},
        principal=principal,
        status_code=status_code,
    )


@router.get("/seats")
def seats_page(request: Request, principal: AdminPrincipal, services: Services) -> Response:
    """Every seat: holder, state, CRM user (or why not and how to fix it), CRM sync, "In CRM"."""
    return _seats_page(request, principal, services)


@router.post("/seats/{seat_id}/crm-sync")
def switch_seat_sync(
    request: Request,
    seat_id: uuid.UUID,
    enabled: Annotated[bool, Form()],
    principal: AdminPrincipal,
    services: Services,
) -> Response:
    """Enable or disable CRM sync for one seat (the seat's "…" menu); back to the seats."""
    try:
        services.seats.set_seat_crm_sync(principal.organization_slug, seat_id, enabled=enabled, actor=principal.email)
    except InvalidRequestError as refused:
        return _seats_page(request, principal, services, status_code=422, error=refused.localized(principal.locale))
    return RedirectResponse(f"/seats#seat-{seat_id}", status_code=303)


@router.post("/seats/{seat_id}/email")
def correct_seat_email(
    request: Request,
    seat_id: uuid.UUID,
    email: Annotated[str, Form()],
    principal: AdminPrincipal,
    services: Services,
) -> Response:
    """Correct a seat holder's email; the seat is matched again at once."""
    try:
        services.seats.change_seat_email(principal.organization_slug, seat_id, email=email, actor=principal.email)
    except InvalidRequestError as refused:
        return _seats_page(request, principal, services, status_code=422, error=refused.localized(principal.locale))
    return RedirectResponse(f"/seats#seat-{seat_id}", status_code=303)


@router.post("/seats/import-crm-users")
async def import_crm_users(request: Request, principal: AdminPrincipal, services: Services) -> Response:
    """Import the CRM's users now and match every seat again."""
    try:
        await services.seats.refresh_crm_users(
            principal.organization_slug, services.crm_sessions, actor=principal.email
        )
    except InvalidRequestError as refused:
        error = refused.localized(principal.locale)
        return await run_in_threadpool(_seats_page, request, principal, services, status_code=422, error=error)
    except CrmError as failed:
        return await run_in_threadpool(_seats_page, request, principal, services, status_code=502, error=failed.message)
    return RedirectResponse("/seats?notice=crm-users-imported", status_code=303)


def _assign_page(
    request: Request,
    principal: Principal,
    services: ConsoleServices,
    *,
    selected: frozenset[uuid.UUID] = frozenset(),
    status_code: int = 200,
    **context: Any,
) -> Response:
    return render(
        request,
        "seats_assign.html",
        {
            "overview": services.seats.overview(principal.organization_slug),
            "crm_users": services.seats.assignable_crm_users(principal.organization_slug),
            "selected": selected,
            **context,
        },
        principal=principal,
        status_code=status_code,
    )


@router.get("/seats/assign-from-crm")
def assign_page(request: Request, principal: AdminPrincipal, services: Services) -> Response:
    """Active human CRM users holding no seat, one checkbox each and a select-all checkbox at the top left."""
    return _assign_page(request, principal, services)


@router.post("/seats/assign-from-crm")
async def assign(request: Request, principal: AdminPrincipal, services: Services) -> Response:
    """Give the chosen CRM users a seat each and show their invitation links once. All or nothing: when the
    contract has too few seats left, nothing is assigned and the page says how many are left."""
    form = await request.form()
    chosen: list[uuid.UUID] = []
    for value in form.getlist("crm_user_id"):
        try:
            chosen.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    try:
        # The form is read on the event loop; the store is written and read on a worker thread.
        invitations = await run_in_threadpool(
            services.seats.assign_from_crm, principal.organization_slug, chosen, actor=principal.email
        )
    except InvalidRequestError as refused:
        return await run_in_threadpool(
            _assign_page,
            request,
            principal,
            services,
            selected=frozenset(chosen),
            status_code=422,
            error=refused.localized(principal.locale),
        )
    # The configured public address, never the request's Host (which the client chooses).
    config = console_config(request)
    links = [(invitation, config.absolute_url(invitation.path)) for invitation in invitations]
    return await run_in_threadpool(_seats_page, request, principal, services, status_code=201, invitations=links)
