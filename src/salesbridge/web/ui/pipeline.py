"""The pipeline section of the CRM Settings page: at which stage an opportunity enters the pipeline, where a won
opportunity's value lives, auto-save and the sync interval (template ``_pipeline_settings.html``). Its form is
saved by :func:`salesbridge.web.ui.crm_settings.save_pipeline`. The same context feeds the profile-URL columns
section (``_profile_url_settings.html``, saved by :func:`salesbridge.web.ui.crm_settings.save_profile_url_columns`).

The stage is one control: a single list of every stage source's stages, grouped by source, whose value names both
(``<source>:<value>``), so the source and the stage can never disagree.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import Request

from salesbridge.message_ids import N_
from salesbridge.services.accounts import Principal
from salesbridge.services.crm_settings import STAGE_SOURCE_LABELS, SettingsChange, SettingsChoices
from salesbridge.web.context import ConsoleServices
from salesbridge.web.localized import label_text

EVERY_OPEN_OPPORTUNITY: Final = "all"
"""The stage form value meaning "every open opportunity is in the pipeline"."""

PROFILE_URL_TABLES: Final = (
    ("contact", N_("Contact column")),
    ("lead", N_("Lead column")),
    ("account", N_("Account column")),
)
"""The tables whose profile-URL column the page maps, and their fields' labels (message ids)."""


async def pipeline_choices(services: ConsoleServices, principal: Principal) -> SettingsChoices:
    """What the pipeline section offers, waiting at most ``services.crm_wait_s`` for Dynamics (then the standard
    choices, with the reason)."""
    return await services.crm_settings.choices(principal.organization_slug, wait_s=services.crm_wait_s)


def pipeline_section(
    request: Request, services: ConsoleServices, principal: Principal, choices: SettingsChoices
) -> dict[str, Any]:
    """What ``_pipeline_settings.html`` shows: the settings, the offered values, how a label reads in the
    principal's language (``label``), and an error of the last save (``request.state.pipeline_error``). Reads the
    store: call it off the event loop."""
    settings = services.crm_settings.settings(principal.organization_slug, choices=choices)
    return {
        "settings": settings,
        "choices": choices,
        "sources": list(STAGE_SOURCE_LABELS.items()),
        "every_open": EVERY_OPEN_OPPORTUNITY,
        "error": getattr(request.state, "pipeline_error", None),
        "profile_url_tables": PROFILE_URL_TABLES,
        "profile_url_error": getattr(request.state, "profile_url_error", None),
        "label": lambda label: label_text(label, principal.locale),
    }


def stage_change(stage: str) -> SettingsChange:
    """The change the stage control asks for: ``all`` (or nothing) clears the threshold; ``<source>:<value>``
    sets both the source and the threshold. A value without a source is checked against the current source."""
    if stage == EVERY_OPEN_OPPORTUNITY or not stage:
        return SettingsChange(clear_stage=True)
    source, separator, value = stage.partition(":")
    if not separator:
        return SettingsChange(stage_threshold=stage)
    return SettingsChange(stage_source=source, stage_threshold=value)
