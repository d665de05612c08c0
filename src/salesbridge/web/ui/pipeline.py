"""The pipeline section of the CRM Settings page: at which stage an opportunity enters the pipeline, where a won
opportunity's value lives, auto-save and the sync interval (template ``_pipeline_settings.html``)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from salesbridge.errors import InvalidRequestError
from salesbridge.services.accounts import Principal
from salesbridge.services.crm_settings import (
    STAGE_SOURCE_LABELS,
    CrmSettingsService,
    SettingsChange,
    SettingsChoices,
    with_stage_label,
)
from salesbridge.web.context import ConsoleServices
from salesbridge.web.security import AdminPrincipal, Services

router = APIRouter(include_in_schema=False)

EVERY_OPEN_OPPORTUNITY = "all"
"""The threshold form value meaning "every open opportunity is in the pipeline"."""

_CHOICES_TIMEOUT_S = 30.0


def settings_service(services: ConsoleServices) -> CrmSettingsService:
    """The CRM settings use cases on the console's store and CRM sessions."""
    return CrmSettingsService(services.store, services.crm_sessions)


def _choices_now(services: ConsoleServices, principal: Principal) -> SettingsChoices:
    # Pages are rendered from sync and async routes alike: read the CRM's choices on a thread of our own, with its
    # own event loop, so this works whichever called it.
    service = settings_service(services)
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(asyncio.run, service.choices(principal.organization_slug, principal.locale))
        return future.result(timeout=_CHOICES_TIMEOUT_S)


def pipeline_section(request: Request, services: ConsoleServices, principal: Principal) -> dict[str, Any]:
    """What ``_pipeline_settings.html`` shows: the settings, the offered values, and an error of the last save
    (``request.state.pipeline_error``)."""
    choices = _choices_now(services, principal)
    settings = with_stage_label(settings_service(services).settings(principal.organization_slug), choices)
    return {
        "settings": settings,
        "choices": choices,
        "sources": [(source, label) for source, label in STAGE_SOURCE_LABELS.items()],
        "every_open": EVERY_OPEN_OPPORTUNITY,
        "error": getattr(request.state, "pipeline_error", None),
    }


def _stage_change(stage_source: str, stage: str) -> SettingsChange:
    if stage == EVERY_OPEN_OPPORTUNITY or not stage:
        return SettingsChange(stage_source=stage_source, clear_stage=True)
    source, separator, value = stage.partition(":")
    if not separator:
        return SettingsChange(stage_source=stage_source, stage_threshold=stage)
    if source != stage_source:
        # The threshold list offers every source's stages: the chosen stage decides the source.
        stage_source = source
    return SettingsChange(stage_source=stage_source, stage_threshold=value)


@router.post("/settings/crm/pipeline")
async def save_pipeline(
    request: Request,
    principal: AdminPrincipal,
    services: Services,
    stage_source: Annotated[str, Form()],
    stage: Annotated[str, Form()],
    won_value_column: Annotated[str, Form()],
    auto_save: Annotated[str, Form()],
    sync_interval_minutes: Annotated[int, Form()],
    base_currency: Annotated[str, Form()] = "",
) -> Response:
    """Validate and save the pipeline settings; a pipeline change recomputes the lists. Errors are shown on the
    CRM Settings page."""
    change = _stage_change(stage_source, stage)
    change = SettingsChange(
        stage_source=change.stage_source,
        stage_threshold=change.stage_threshold,
        clear_stage=change.clear_stage,
        won_value_column=won_value_column,
        won_value_base_currency=base_currency == "on",
        auto_save_enabled=auto_save == "yes",
        sync_interval_minutes=sync_interval_minutes,
    )
    try:
        await settings_service(services).update(
            principal.organization_slug, change, actor=principal.email, locale=principal.locale
        )
    except InvalidRequestError as refused:
        from salesbridge.web.ui.crm_settings import _page  # the page this section belongs to

        request.state.pipeline_error = refused.localized(principal.locale)
        return _page(request, principal, services, status_code=422)
    return RedirectResponse("/settings/crm?notice=saved", status_code=303)
