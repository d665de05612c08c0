"""``salesbridge seats list|enable|disable|sync-all|assign-from-crm|import-crm-users`` end to end: the real CLI on
a SQLite file it migrates itself, connected to the demo sandbox over TLS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.integration.services.conftest import RunningSandbox, connected_cli
from typer.testing import CliRunner

from salesbridge.cli import app


@pytest.fixture
def cli(tmp_path: Path, demo: RunningSandbox) -> CliRunner:
    return connected_cli(tmp_path, demo, seats=3)


def test_assign_from_crm_then_switch_one_seat_off(cli: CliRunner) -> None:
    listed = cli.invoke(app, ["seats", "assign-from-crm", "--org", "acme", "--json"])
    assert listed.exit_code == 0, listed.output
    offered = json.loads(listed.output)
    emails = [user["email"] for user in offered[:2]]

    assigned = cli.invoke(
        app, ["seats", "assign-from-crm", "--org", "acme", "--email", emails[0], "--email", emails[1], "--json"]
    )

    assert assigned.exit_code == 0, assigned.output
    links = json.loads(assigned.output)
    assert [link["email"] for link in links] == emails
    assert all(link["invitation_url"].startswith("http://127.0.0.1:8000/invitations/") for link in links)

    refused = cli.invoke(app, ["seats", "disable", "--org", "acme", "--email", emails[0]])
    assert refused.exit_code == 1
    assert "automatic for all seats" in refused.output
    assert cli.invoke(app, ["seats", "sync-all", "--org", "acme", "--off"]).exit_code == 0
    disabled = cli.invoke(app, ["seats", "disable", "--org", "acme", "--email", emails[0], "--json"])
    assert disabled.exit_code == 0, disabled.output
    assert json.loads(disabled.output)["in_crm"] is False

    overview = json.loads(cli.invoke(app, ["seats", "list", "--org", "acme", "--json"]).output)
    badges = {seat["email"]: seat["in_crm"] for seat in overview["seats"]}
    assert badges == {emails[0]: False, emails[1]: True}
    assert (overview["seats_assigned"], overview["seats_left"]) == (2, 1)
    table = cli.invoke(app, ["seats", "list", "--org", "acme", "--lang", "es"])
    assert table.exit_code == 0
    assert "En el CRM" in table.output


def test_the_seat_limit_is_explained_in_the_chosen_language(cli: CliRunner) -> None:
    refused = cli.invoke(app, ["seats", "assign-from-crm", "--org", "acme", "--all", "--lang", "es"])

    assert refused.exit_code == 1
    assert "solo quedan 3 licencias" in refused.output
    assert json.loads(cli.invoke(app, ["seats", "list", "--org", "acme", "--json"]).output)["seats"] == []


def test_importing_crm_users_on_demand(cli: CliRunner) -> None:
    imported = cli.invoke(app, ["seats", "import-crm-users", "--org", "acme"])

    assert imported.exit_code == 0, imported.output
    assert "0 added" in imported.output


def test_invitation_links_start_with_the_public_base_url(cli: CliRunner) -> None:
    """Issue 10, item 8: the links the CLI prints start with SALESBRIDGE_PUBLIC_BASE_URL."""
    offered = json.loads(cli.invoke(app, ["seats", "assign-from-crm", "--org", "acme", "--json"]).output)

    assigned = cli.invoke(
        app,
        ["seats", "assign-from-crm", "--org", "acme", "--email", offered[0]["email"], "--json"],
        env={"SALESBRIDGE_PUBLIC_BASE_URL": "https://console.example.com/"},
    )

    assert assigned.exit_code == 0, assigned.output
    assert json.loads(assigned.output)[0]["invitation_url"].startswith("https://console.example.com/invitations/")
