"""``salesbridge sync run|status``, ``crm settings show|set`` and ``lists show`` end to end: the real CLI on a
SQLite file it migrates itself, connected to the demo sandbox over TLS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.integration.services.conftest import RunningSandbox, connected_cli
from typer.testing import CliRunner

from salesbridge.cli import app


@pytest.fixture
def cli(tmp_path: Path, demo: RunningSandbox) -> CliRunner:
    return connected_cli(tmp_path, demo, seats=5)


def test_sync_run_then_status_settings_and_a_sellers_lists(cli: CliRunner) -> None:
    ran = cli.invoke(app, ["sync", "run", "--org", "acme"])
    assert ran.exit_code == 0, ran.output
    assert "Imported" in ran.output

    status = json.loads(cli.invoke(app, ["sync", "status", "--org", "acme", "--json"]).output)
    assert status["last_sync_at"] is not None
    assert status["failing"] is False
    assert {table["table"] for table in status["tables"]} >= {"account", "contact", "opportunity"}
    spanish = cli.invoke(app, ["sync", "status", "--org", "acme", "--lang", "es"])
    assert spanish.exit_code == 0, spanish.output
    assert "Última sincronización: " in spanish.output
    header = next(line for line in spanish.output.splitlines() if "┃" in line)
    assert [cell.strip() for cell in header.split("┃")[1:-1]] == [
        "Tabla",
        "Modo",
        "Último éxito",
        "Filas",
        "Importadas",
        "Eliminadas",
        "Errores",
    ], header

    refused = cli.invoke(app, ["crm", "settings", "set", "--org", "acme", "--won-value-column", "name"])
    assert refused.exit_code == 1
    changed = cli.invoke(
        app, ["crm", "settings", "set", "--org", "acme", "--won-value-column", "estimatedvalue", "--json"]
    )
    assert changed.exit_code == 0, changed.output
    shown = json.loads(cli.invoke(app, ["crm", "settings", "show", "--org", "acme", "--json"]).output)
    assert "estimatedvalue" in json.dumps(shown)

    offered = json.loads(cli.invoke(app, ["seats", "assign-from-crm", "--org", "acme", "--json"]).output)
    seller = next(user["email"] for user in offered)
    assert cli.invoke(app, ["seats", "assign-from-crm", "--org", "acme", "--email", seller]).exit_code == 0
    assert cli.invoke(app, ["sync", "run", "--org", "acme"]).exit_code == 0
    lists = cli.invoke(app, ["lists", "show", "--org", "acme", "--user", seller, "--json"])
    assert lists.exit_code == 0, lists.output
    kinds = {entry["kind"] for entry in json.loads(lists.output)}
    assert kinds == {"crm_accounts", "crm_leads"}


def test_sync_run_needs_a_connection(cli: CliRunner) -> None:
    assert cli.invoke(app, ["org", "create", "globex"]).exit_code == 0

    refused = cli.invoke(app, ["sync", "run", "--org", "globex"])

    assert refused.exit_code == 1
    assert "Connect to the CRM first" in refused.output


def test_crm_settings_in_spanish_offer_and_take_a_stage_by_its_spanish_label(cli: CliRunner) -> None:
    settings = ["crm", "settings"]
    typed = cli.invoke(app, [*settings, "set", "--org", "acme", "--stage", "proponer", "--lang", "es", "--json"])
    refused = cli.invoke(app, [*settings, "set", "--org", "acme", "--stage", "Propose", "--lang", "es"])
    shown = cli.invoke(app, [*settings, "show", "--org", "acme", "--lang", "es", "--json"])
    table = cli.invoke(app, [*settings, "show", "--org", "acme", "--lang", "es"])

    assert typed.exit_code == 0, typed.output
    assert (json.loads(typed.output)["stage_threshold"], json.loads(typed.output)["stage_label"]) == ("2", "Proponer")
    assert refused.exit_code == 1
    assert (
        "Propose no es una fase de salesstage. Elige una de estas: Calificar (0), Desarrollar (1), Proponer (2), "
        "Cerrar (3)." in " ".join(refused.output.split())
    )
    choices = json.loads(shown.output)["choices"]
    assert [choice["label"] for choice in choices["stages"]["salesstage"]] == [
        "Calificar",
        "Desarrollar",
        "Proponer",
        "Cerrar",
    ]
    assert {"value": "estimatedvalue", "label": "Ingresos estimados"} in choices["money_columns"]
    assert "Proponer" in table.output
