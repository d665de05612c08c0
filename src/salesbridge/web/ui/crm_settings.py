"""The CRM Settings page: the connection's state, the Connect to CRM form with its outcome inline,
"Sync CRM for all seats automatically", and Activity writeback (the CRM-side app and "Get it now";
:mod:`salesbridge.web.ui.writeback` builds that section).

The page always renders: what it reads from Dynamics (the pipeline section's stages and money columns, the CRM-side
app's state) is awaited at most ``ConsoleServices.crm_wait_s``, then the page says what it could not load. Routes are
async; the store is read and the page rendered on a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import SecretStr

from salesbridge.domain.crm_app import AppState
from salesbridge.domain.workspace import MAX_PEM_CHARS, CrmCredentials
from salesbridge.errors import CrmError, DifferentCrmOrganizationError, InvalidRequestError
from salesbridge.services.accounts import Principal
from salesbridge.services.connecting import chosen_ca_bundle, connect_crm
from salesbridge.services.crm_app import install_crm_app
from salesbridge.services.crm_settings import SettingsChange, SettingsChoices
from salesbridge.services.crm_status import crm_status
from salesbridge.services.preflight import ConnectOutcome
from salesbridge.services.sync import sync_status
from salesbridge.services.writeback import set_writeback_settings
from salesbridge.web.context import ConsoleServices
from salesbridge.web.localized import (
    connect_message,
    crm_last_error,
    kept_connection_notice,
    label_reader,
    sync_throttled_message,
)
from salesbridge.web.security import AdminPrincipal, Services
from salesbridge.web.templating import render
from salesbridge.web.ui.pipeline import pipeline_choices, pipeline_section, stage_change
from salesbridge.web.ui.writeback import (
    AppReading,
    crm_app_error,
    read_app_state,
    writeback_choice,
    writeback_section,
)

router = APIRouter(include_in_schema=False)

FormText = Annotated[str, Form()]


async def _page(
    request: Request,
    principal: Principal,
    services: ConsoleServices,
    *,
    outcome: ConnectOutcome | None = None,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    """The page, within ``crm_wait_s`` of waiting for Dynamics plus the store's own time."""
    choices, app = await asyncio.gather(pipeline_choices(services, principal), read_app_state(services, principal))
    return await run_in_threadpool(
        _render_page, request, principal, services, choices, app, outcome, form, error, status_code
    )


def _render_page(
    request: Request,
    principal: Principal,
    services: ConsoleServices,
    choices: SettingsChoices,
    app: AppReading,
    outcome: ConnectOutcome | None,
    form: dict[str, str] | None,
    error: str | None,
    status_code: int,
) -> Response:
    status = crm_status(services.store, slug=principal.organization_slug)
    overview = services.seats.overview(principal.organization_slug)
    sync = sync_status(services.store, slug=principal.organization_slug, clock=services.clock)
    context: dict[str, Any] = {
        "sync": sync,
        "sync_throttled": sync_throttled_message(sync.throttled_until, principal.locale),
        "status": status,
        "sync_all_seats": overview.sync_all_seats,
        "outcome": outcome,
        "form": form or {"org_url": status.org_url or "", "ca_bundle_name": status.ca_bundle_name or ""},
        "ca_bundles": services.crm_targets.ca_bundle_names(),
        "kept_connection_notice": kept_connection_notice(principal.locale),
        "error": error,
        "notice": request.query_params.get("notice"),
        "pipeline": pipeline_section(request, services, principal, choices),
        "writeback": writeback_section(request, services, principal, app),
        "crm_last_error": crm_last_error,
        "connect_message": connect_message,
    }
    return render(request, "crm_settings.html", context, principal=principal, status_code=status_code)


@router.get("/settings/crm")
async def crm_settings_page(request: Request, principal: AdminPrincipal, services: Services) -> Response:
    """The connection's state and the Connect to CRM form."""
    return await _page(request, principal, services)


@router.post("/settings/crm/connection")
async def connect_page(
    request: Request,
    principal: AdminPrincipal,
    services: Services,
    org_url: FormText,
    client_id: FormText,
    client_secret: FormText,
    tenant_id: Annotated[str, Form(max_length=256)] = "",
    authority: Annotated[str, Form(max_length=2048)] = "",
    ca_bundle_name: Annotated[str, Form(max_length=100)] = "",
    ca_bundle_pem: Annotated[str, Form(max_length=MAX_PEM_CHARS)] = "",
) -> Response:
    """Check the address, discover the tenant, run the pre-flight and connect; the outcome (connected, one of the
    four errors, a rejected sign-in, a tenant that does not match, or an address or CA bundle refused) is shown on
    the page as one sentence. A failed attempt leaves a working connection as it was. The secret is never echoed
    back."""
    form = {
        "org_url": org_url.strip(),
        "tenant_id": tenant_id.strip(),
        "client_id": client_id.strip(),
        "authority": authority.strip(),
        "ca_bundle_name": ca_bundle_name.strip(),
    }
    locale = principal.locale
    try:
        credentials = CrmCredentials(
            org_url=form["org_url"],
            tenant_id=form["tenant_id"] or None,
            client_id=form["client_id"],
            client_secret=SecretStr(client_secret),
            ca_bundle=chosen_ca_bundle(services.crm_targets, name=form["ca_bundle_name"], pem=ca_bundle_pem),
            authority=form["authority"] or None,
        )
        outcome = await connect_crm(
            services.store,
            services.crm_sessions,
            slug=principal.organization_slug,
            credentials=credentials,
            targets=services.crm_targets,
            actor=principal.email,
        )
    except DifferentCrmOrganizationError as refused:
        return await _page(request, principal, services, form=form, error=refused.localized(locale), status_code=409)
    except InvalidRequestError as refused:
        return await _page(request, principal, services, form=form, error=refused.localized(locale), status_code=422)
    if outcome.is_connected and services.wake_importer is not None:
        services.wake_importer()  # the first import is queued; start it now
    return await _page(
        request, principal, services, outcome=outcome, form=form, status_code=200 if outcome.is_connected else 422
    )


@router.post("/settings/crm/sync-all-seats")
def sync_all_seats(
    request: Request,  # noqa: ARG001
    principal: AdminPrincipal,
    services: Services,
    sync_all_seats: Annotated[str, Form()],
) -> Response:
    """Save "Sync CRM for all seats automatically" (Yes / No)."""
    services.seats.set_sync_all_seats(
        principal.organization_slug, enabled=sync_all_seats == "yes", actor=principal.email
    )
    return RedirectResponse("/settings/crm?notice=saved", status_code=303)


@router.post("/settings/crm/pipeline")
async def save_pipeline(
    request: Request,
    principal: AdminPrincipal,
    services: Services,
    stage: Annotated[str, Form()],
    won_value_column: Annotated[str, Form()],
    auto_save: Annotated[str, Form()],
    sync_interval_minutes: Annotated[int, Form()],
    base_currency: Annotated[str, Form()] = "",
) -> Response:
    """Validate and save the pipeline settings; a pipeline change recomputes the lists. Errors are shown on the
    CRM Settings page."""
    change = replace(
        stage_change(stage),
        won_value_column=won_value_column,
        won_value_base_currency=base_currency == "on",
        auto_save_enabled=auto_save == "yes",
        sync_interval_minutes=sync_interval_minutes,
    )
    try:
        await services.crm_settings.update(
            principal.organization_slug,
            change,
            actor=principal.email,
            reads=label_reader(principal.locale),
            wait_s=services.crm_wait_s,
        )
    except InvalidRequestError as refused:
        request.state.pipeline_error = refused.localized(principal.locale)
        return await _page(request, principal, services, status_code=422)
    return RedirectResponse("/settings/crm?notice=saved", status_code=303)


@router.post("/settings/crm/profile-url-columns")
async def save_profile_url_columns(
    request: Request,
    principal: AdminPrincipal,
    services: Services,
    contact: Annotated[str, Form(max_length=100)] = "",
    lead: Annotated[str, Form(max_length=100)] = "",
    account: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Validate and save the column of each of contact, lead and account holding a LinkedIn profile URL (empty:
    none); each must be a text column of its table in the CRM. Errors are shown on the CRM Settings page."""
    change = SettingsChange(profile_url_columns={"contact": contact, "lead": lead, "account": account})
    try:
        await services.crm_settings.update(
            principal.organization_slug, change, actor=principal.email, wait_s=services.crm_wait_s
        )
    except InvalidRequestError as refused:
        request.state.profile_url_error = refused.localized(principal.locale)
        return await _page(request, principal, services, status_code=422)
    return RedirectResponse("/settings/crm?notice=saved", status_code=303)


@router.post("/settings/crm/writeback/app")
async def install_app(request: Request, principal: AdminPrincipal, services: Services) -> Response:
    """ "Get it now": install the CRM-side app in the organization's Dynamics 365 (what it lacks, nothing else;
    audited). Back to the page saying so; a refusal (privileges the application user lacks, by name; what only a
    Dynamics administrator can add; not connected; the CRM's error) is shown in the writeback section."""
    if services.crm_app_sessions is None:
        request.state.writeback_error = crm_app_error(None, principal.locale)
        return await _page(request, principal, services, status_code=503)
    try:
        done = await install_crm_app(
            services.store, services.crm_app_sessions, slug=principal.organization_slug, actor=principal.email
        )
    except InvalidRequestError as refused:
        request.state.writeback_error = refused.localized(principal.locale)
        return await _page(request, principal, services, status_code=422)
    except CrmError as failed:
        request.state.writeback_error = crm_app_error(failed, principal.locale)
        return await _page(request, principal, services, status_code=502)
    # Something only a Dynamics administrator fixes can remain (a key still being built): the page shows it.
    notice = "app-installed" if done.created else "app-current"
    if done.status.state is not AppState.INSTALLED:
        notice = "app-incomplete"
    return RedirectResponse(f"/settings/crm?notice={notice}#writeback", status_code=303)


@router.post("/settings/crm/writeback")
async def save_writeback(
    request: Request,
    principal: AdminPrincipal,
    services: Services,
    enabled: Annotated[str, Form(max_length=10)],
    items_mode: Annotated[str, Form(max_length=10)] = "all",
    items: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Save "Enable syncing workspace data back to your CRM?" (``yes`` / ``no``) and the data items written back
    (``items_mode`` ``all``, or ``some`` with the ``items`` ticked); audited. Turning it on is refused, with the
    reason, while the CRM-side app is not installed. An item turned on applies to what is logged from then on (a
    backfill on the Writeback page delivers earlier activity). Errors are shown in the writeback section."""
    try:
        chosen = writeback_choice(enabled=enabled, items_mode=items_mode, items=items or ())
        request.state.writeback_choice = chosen
        if services.crm_app_sessions is None:
            request.state.writeback_error = crm_app_error(None, principal.locale)
            return await _page(request, principal, services, status_code=503)
        await set_writeback_settings(
            services.store, services.crm_app_sessions, principal.organization_id, chosen, actor=principal.email
        )
    except InvalidRequestError as refused:
        request.state.writeback_error = refused.localized(principal.locale)
        return await _page(request, principal, services, status_code=422)
    except CrmError as failed:
        request.state.writeback_error = crm_app_error(failed, principal.locale, installing=False)
        return await _page(request, principal, services, status_code=502)
    return RedirectResponse("/settings/crm?notice=writeback-saved#writeback", status_code=303)
