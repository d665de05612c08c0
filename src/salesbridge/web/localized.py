"""Use-case values in the reader's language: the JSON of lists and CRM settings that the API returns and the CLI
prints (``--json``). The services give message ids (a system list's name, why auto-save saved a record, the stage
source's name); they are translated here, at the edge. No web framework is imported, so the CLI may use it."""

from __future__ import annotations

from typing import Any

from salesbridge.i18n import translate
from salesbridge.services.crm_settings import CrmSettingsView
from salesbridge.services.lists import ListView


def list_json(view: ListView, locale: str) -> dict[str, Any]:
    """``view`` as JSON: a system list's name, and why auto-save saved each record, in ``locale``."""
    return {
        "id": str(view.id),
        "name": translate(view.name, locale) if view.is_system else view.name,
        "kind": view.kind.value,
        "items": [
            {
                "table": item.table,
                "crm_id": item.crm_id,
                "name": item.name,
                "reason": item.reason,
                "reason_label": translate(item.reason_label, locale) if item.reason_label else None,
                "added_at": item.added_at.isoformat(),
            }
            for item in view.items
        ],
    }


def settings_json(settings: CrmSettingsView, locale: str) -> dict[str, Any]:
    """``settings`` as JSON, the stage source's name in ``locale``."""
    return {**settings.to_json(), "stage_source_label": translate(settings.stage_source_label, locale)}
