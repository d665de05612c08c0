"""``salesbridge crm settings set --profile-url-column TABLE=COLUMN`` and ``show`` against the demo sandbox, whose
contact, lead and account carry the custom text column ``new_linkedinurl``: the real CLI on a SQLite file, in
English and Spanish."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.integration.services.conftest import RunningSandbox, connected_cli
from typer.testing import CliRunner

from salesbridge.cli import app

SETTINGS = ["crm", "settings"]


@pytest.fixture
def cli(tmp_path: Path, demo: RunningSandbox) -> CliRunner:
    return connected_cli(tmp_path, demo, seats=5)


def test_the_cli_offers_maps_shows_and_clears_profile_url_columns(cli: CliRunner) -> None:
    shown = json.loads(cli.invoke(app, [*SETTINGS, "show", "--org", "acme", "--json"]).output)
    assert "new_linkedinurl" in [choice["value"] for choice in shown["choices"]["text_columns"]["lead"]]
    assert shown["profile_url_columns"] == {"contact": None, "lead": None, "account": None}

    columns = ["--profile-url-column", "contact=new_linkedinurl", "--profile-url-column", "account=new_linkedinurl"]
    mapped = cli.invoke(app, [*SETTINGS, "set", "--org", "acme", "--json", *columns])

    assert mapped.exit_code == 0, mapped.output
    assert json.loads(mapped.output)["profile_url_columns"] == {
        "contact": "new_linkedinurl",
        "lead": None,
        "account": "new_linkedinurl",
    }
    table = cli.invoke(app, [*SETTINGS, "show", "--org", "acme", "--lang", "es"])
    assert "Columna de URL de perfil de LinkedIn de contact" in table.output
    assert "new_linkedinurl" in table.output
    cleared = cli.invoke(app, [*SETTINGS, "set", "--org", "acme", "--profile-url-column", "account=", "--json"])
    assert json.loads(cleared.output)["profile_url_columns"]["account"] is None


def test_the_cli_refuses_a_column_that_is_not_text_in_the_readers_language(cli: CliRunner) -> None:
    refused = cli.invoke(
        app, [*SETTINGS, "set", "--org", "acme", "--profile-url-column", "account=numberofemployees", "--lang", "es"]
    )
    malformed = cli.invoke(app, [*SETTINGS, "set", "--org", "acme", "--profile-url-column", "contact"])

    assert refused.exit_code == 1
    assert "numberofemployees no es una columna de texto de account en tu CRM" in " ".join(refused.output.split())
    assert malformed.exit_code != 0
    assert "TABLE=COLUMN" in malformed.output
