"""The pipeline section of the CRM Settings page: at which stage an opportunity enters the pipeline, where a won
opportunity's value lives, auto-save and the sync interval (template ``_pipeline_settings.html``). Its form is
saved by :func:`salesbridge.web.ui.crm_settings.save_pipeline`."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import Request

from salesbridge.services.accounts import Principal
from salesbridge.services.crm_settings import (
    STAGE_SOURCE_LABELS,
    CrmSettingsService,
    SettingsChange,
    SettingsChoices,
    with_stage_label,
)
from salesbridge.web.context import ConsoleServices

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


def stage_change(stage_source: str, stage: str) -> SettingsChange:
    if stage == EVERY_OPEN_OPPORTUNITY or not stage:
        return SettingsChange(stage_source=stage_source, clear_stage=True)
    source, separator, value = stage.partition(":")
    if not separator:
        return SettingsChange(stage_source=stage_source, stage_threshold=stage)
    if source != stage_source:
        # The threshold list offers every source's stages: the chosen stage decides the source.
        stage_source = source
    return SettingsChange(stage_source=stage_source, stage_threshold=value)
