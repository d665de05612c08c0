"""The lists' and CRM settings' JSON (the API's and the CLI's ``--json``) translates the services' message ids into
the reader's language at the edge, and leaves what people named as it is."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from salesbridge.domain.lists import ListKind
from salesbridge.domain.pipeline import StageSource
from salesbridge.services.crm_settings import CrmSettingsView
from salesbridge.services.lists import ListItemView, ListView
from salesbridge.web.localized import list_json, settings_json

ADDED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_system_lists_name_and_reasons_are_translated_an_own_lists_name_is_not() -> None:
    item = ListItemView("account", "a1", "Contoso", "accounts_of_open_opportunities", ADDED)
    system = ListView(uuid.UUID(int=1), "My CRM accounts", ListKind.CRM_ACCOUNTS, (item,))
    own = ListView(uuid.UUID(int=2), "My CRM accounts", ListKind.MANUAL, ())

    assert list_json(system, "es") == {
        "id": "00000000-0000-0000-0000-000000000001",
        "name": "Mis cuentas del CRM",
        "kind": "crm_accounts",
        "items": [
            {
                "table": "account",
                "crm_id": "a1",
                "name": "Contoso",
                "reason": "accounts_of_open_opportunities",
                "reason_label": "Cuenta de una oportunidad abierta tuya",
                "added_at": "2026-03-02T09:00:00+00:00",
            }
        ],
    }
    assert list_json(own, "es")["name"] == "My CRM accounts"  # named by its owner: shown as named
    assert list_json(system, "en")["items"][0]["reason_label"] == "Account of an open opportunity of yours"


def test_the_stage_sources_name_is_translated() -> None:
    settings = CrmSettingsView(StageSource.SALES_STAGE, "2", "actualvalue", False, True, 15, False, None, "Propose")

    assert settings_json(settings, "es")["stage_source_label"] == "Fase de ventas"
    assert settings_json(settings, "en") == {**settings.to_json(), "stage_source_label": "Sales stage"}
