"""The lists', CRM settings' and sync status's JSON (the API's and the CLI's ``--json``) translates the services'
message ids into the reader's language at the edge, and leaves what people (or the CRM) named as it is."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from salesbridge.domain.crm_app import MissingItem, MissingKind
from salesbridge.domain.lists import ListKind
from salesbridge.domain.pipeline import StageSource
from salesbridge.message_ids import Label
from salesbridge.services.crm_settings import Choice, CrmReadProblem, CrmSettingsView, SettingsChoices
from salesbridge.services.lists import ListItemView, ListView
from salesbridge.services.sync import SyncStatus
from salesbridge.web.localized import (
    certainty_percent,
    choices_json,
    crm_table,
    list_json,
    missing_text,
    settings_json,
    sync_failure_message,
    sync_status_json,
)

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
        "people": [],
        "companies": [],
        "unmatched": 0,
        "unmatched_label": None,
        "size": 1,  # every item is in ``items``
    }
    assert list_json(replace(system, size=5_000), "es")["size"] == 5_000  # a preview: the whole list's size
    assert list_json(own, "es")["name"] == "My CRM accounts"  # named by its owner: shown as named
    assert list_json(system, "en")["items"][0]["reason_label"] == "Account of an open opportunity of yours"


def test_the_stage_sources_name_is_translated() -> None:
    propose = Label("Propose", is_message_id=True)
    settings = CrmSettingsView(StageSource.SALES_STAGE, "2", "actualvalue", False, True, 15, False, None, propose)

    assert settings_json(settings, "es")["stage_source_label"] == "Fase de ventas"
    assert settings_json(settings, "es")["stage_label"] == "Proponer"
    assert settings_json(settings, "en") == {**settings.to_json(), "stage_source_label": "Sales stage"}


def test_the_standard_labels_of_the_choices_are_translated_the_crms_own_are_not() -> None:
    choices = SettingsChoices(
        stages={
            StageSource.SALES_STAGE: (
                Choice("0", Label("Qualify", is_message_id=True)),
                Choice("7", Label("Negotiate")),
            ),
            StageSource.PROCESS_CODE: (),
            StageSource.PROCESS_STEP: (Choice("1-Qualify", Label("1-Qualify")),),
        },
        money_columns=(Choice("estimatedvalue", Label("Est. Revenue", is_message_id=True)),),
        from_crm=False,
        problem=CrmReadProblem.SLOW,
        text_columns={"contact": (Choice("new_linkedinurl", Label("LinkedIn profile")),)},
    )

    assert choices_json(choices, "es") == {
        "stages": {
            "salesstage": [{"value": "0", "label": "Calificar"}, {"value": "7", "label": "Negotiate"}],
            "salesstagecode": [],
            "stepname": [{"value": "1-Qualify", "label": "1-Qualify"}],
        },
        "money_columns": [{"value": "estimatedvalue", "label": "Ingresos estimados"}],
        "from_crm": False,
        "crm_problem": "slow",
        "text_columns": {"contact": [{"value": "new_linkedinurl", "label": "LinkedIn profile"}]},
    }


def test_the_sync_failure_is_put_in_words_where_the_json_has_always_had_it() -> None:
    status = SyncStatus("acme", True, timedelta(minutes=15), None, None, False, ADDED, "Timeout.", 2, ADDED)

    english = sync_status_json(status, "en")

    keys = list(status.to_json())
    assert list(english) == [*keys[:9], "failure_message", *keys[9:12], "throttled_message", *keys[12:]]
    assert keys[11] == "throttled_until"
    assert english["throttled_message"] is None, "not throttled"
    assert english["failure_message"] == (
        "CRM sync has been failing since 2026-03-02 09:00 UTC: Timeout. salesbridge keeps retrying automatically."
    )
    assert sync_status_json(status, "es")["failure_message"] == sync_failure_message(ADDED, "Timeout.", "es")
    assert sync_failure_message(ADDED, "Timeout.", "es") != english["failure_message"]
    assert sync_failure_message(None, None, "en") is None


@pytest.mark.parametrize(
    ("probability", "locale", "shown"),
    [
        (0.996, "en", "99.6"),  # QA item 5: a review pair read "100 % sure"
        (0.996, "es", "99,6"),
        (0.99999, "en", "99.9"),
        (1.0, "en", "100"),
        (0.874, "en", "87"),
        (0.0004, "es", "0,1"),
        (0.0, "en", "0"),
    ],
)
def test_a_probability_below_one_never_reads_as_100_percent(probability: float, locale: str, shown: str) -> None:
    assert certainty_percent(probability, locale) == shown


@pytest.mark.parametrize(
    ("table", "locale", "plural", "shown"),
    [
        ("lead", "en", True, "Leads"),
        ("lead", "en", False, "Lead"),
        ("lead", "es", True, "Clientes potenciales"),
        ("lead", "es", False, "Cliente potencial"),
        ("account", "es", True, "Cuentas"),
        ("contact", "es", False, "Contacto"),
        ("opportunity", "en", False, "Opportunity"),
        ("opportunity", "es", True, "Oportunidades"),
        ("systemuser", "es", False, "Usuario del CRM"),
        ("team", "es", False, "Equipo"),
        ("new_project", "es", True, "new_project"),  # a table salesbridge does not name: as the CRM names it
    ],
)
def test_a_crm_table_is_named_in_the_readers_language(table: str, locale: str, plural: bool, shown: str) -> None:
    assert crm_table(table, locale, plural=plural) == shown


def test_every_crm_table_has_a_name_and_a_record_kind_in_english_and_spanish() -> None:
    tables = ("account", "contact", "lead", "opportunity", "systemuser", "team", "connection")
    for plural in (True, False):
        english = [crm_table(table, "en", plural=plural) for table in tables]
        spanish = [crm_table(table, "es", plural=plural) for table in tables]
        assert all(name not in tables for name in english)  # every table is named, not shown by its logical name
        assert len(set(spanish)) == len(tables)
        assert all(es != en for es, en in zip(spanish, english, strict=True))  # each one translated


def test_every_kind_of_missing_crm_app_part_is_put_in_words_in_english_and_spanish() -> None:
    """CRM Settings, ``crm app status --json`` and the API's ``GET …/crm/app`` say each missing part in words."""
    for kind in MissingKind:
        item = MissingItem(kind, "sbr_inmail", "sbr_externalid", "Pending")
        english, spanish = missing_text(item, "en"), missing_text(item, "es")
        assert "sbr_inmail" in english, kind
        assert spanish != english, kind
