"""``salesbridge org create`` and ``salesbridge crm connect|status`` end to end: the real CLI, a real SQLite file
migrated by the CLI itself, and the sandbox over TLS."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.integration.services.conftest import RunningSandbox
from typer.testing import CliRunner, Result

from salesbridge.cli import app
from salesbridge.store.secrets import generate_key


@pytest.fixture
def cli(tmp_path: Path) -> CliRunner:
    return CliRunner(
        env={
            "SALESBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "SALESBRIDGE_CREDENTIAL_KEY": generate_key().get_secret_value(),
            "SALESBRIDGE_CRM_ALLOWED_HOSTS": "127.0.0.1",
            "COLUMNS": "200",
        }
    )


def _secret_file(tmp_path: Path, secret: str) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(secret + "\n", encoding="utf-8")
    return path


def _connect(cli: CliRunner, running: RunningSandbox, secret_file: Path, *extra: str) -> Result:
    return cli.invoke(
        app,
        [
            "crm",
            "connect",
            "--org",
            "acme",
            "--url",
            running.org_url,
            "--client-id",
            running.client_id,
            "--client-secret-file",
            str(secret_file),
            "--ca-bundle",
            str(running.ca_bundle),
            *extra,
        ],
    )


def test_connect_then_status_in_spanish_and_json(cli: CliRunner, running: RunningSandbox, tmp_path: Path) -> None:
    created = cli.invoke(app, ["org", "create", "acme", "--name", "Acme", "--seats", "5"])
    assert created.exit_code == 0, created.output

    connected = _connect(cli, running, _secret_file(tmp_path, running.client_secret), "--lang", "es")

    assert connected.exit_code == 0, connected.output
    assert "Conectado a Microsoft Dynamics" in connected.output
    assert "Conexión realizada, sincronización en curso" in connected.output
    assert running.client_secret not in connected.output
    status = cli.invoke(app, ["crm", "status", "--org", "acme", "--json"])
    assert status.exit_code == 0, status.output
    shown = json.loads(status.output)
    assert shown["state"] == "connected"
    assert shown["state_label"] == "Connected to Microsoft Dynamics"
    assert shown["org_url"] == running.org_url
    assert shown["crm_user_id"] == running.sandbox.application.systemuser_id
    assert shown["connected_since"] is not None
    assert shown["last_error"] is None
    assert [queued["state"] for queued in shown["queued_imports"]] == ["queued"]
    table = cli.invoke(app, ["crm", "status", "--org", "acme"])
    assert table.exit_code == 0
    assert "Connected to Microsoft Dynamics" in table.output
    spanish = cli.invoke(app, ["crm", "status", "--org", "acme", "--lang", "es"])
    assert spanish.exit_code == 0, spanish.output
    # A row's first line starts with its label (a value too long for the terminal goes on under it, indented).
    labels = re.findall(r"^ (\S.*?)  ", spanish.output, re.M)
    assert labels == [
        "Estado",
        "URL de la organización",
        "Usuario del CRM",
        "Conectado desde",
        "Último error",
        "Importación",
    ], spanish.output


def test_a_rejected_sign_in_exits_1_naming_the_client_secret(
    cli: CliRunner, running: RunningSandbox, tmp_path: Path
) -> None:
    cli.invoke(app, ["org", "create", "acme"])

    result = _connect(cli, running, _secret_file(tmp_path, "not-the-secret"))

    assert result.exit_code == 1, result.output
    assert "check the client secret" in result.output
    assert "not-the-secret" not in result.output
    status = json.loads(cli.invoke(app, ["crm", "status", "--org", "acme", "--json"]).output)
    assert status["state"] == "failed"
    assert "client secret" in status["last_error"]
    spanish = json.loads(cli.invoke(app, ["crm", "status", "--org", "acme", "--json", "--lang", "es"]).output)
    table = cli.invoke(app, ["crm", "status", "--org", "acme", "--lang", "es"])
    assert table.exit_code == 0, table.output
    assert spanish["last_error"].startswith("Microsoft Entra ID ha rechazado el inicio de sesión")
    assert " ".join(spanish["last_error"].split()) in " ".join(table.output.split()), "the JSON's and API's words"


def test_bad_usage_exits_2(cli: CliRunner, running: RunningSandbox, tmp_path: Path) -> None:
    result = _connect(cli, running, _secret_file(tmp_path, "x"), "--lang", "fr")

    assert result.exit_code == 2


def test_an_unknown_organization_exits_1(cli: CliRunner) -> None:
    assert cli.invoke(app, ["org", "create", "acme"]).exit_code == 0

    result = cli.invoke(app, ["crm", "status", "--org", "nobody"])

    assert result.exit_code == 1
    assert "salesbridge org create nobody" in result.output


def test_a_host_the_operator_does_not_allow_is_refused_before_anything_is_sent(
    running: RunningSandbox, tmp_path: Path
) -> None:
    strict = CliRunner(
        env={
            "SALESBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "SALESBRIDGE_CREDENTIAL_KEY": generate_key().get_secret_value(),
            "COLUMNS": "200",
        }
    )
    strict.invoke(app, ["org", "create", "acme"])

    result = _connect(strict, running, _secret_file(tmp_path, running.client_secret))

    assert result.exit_code == 1, result.output
    assert "must be a Dynamics 365 address" in result.output
    status = json.loads(strict.invoke(app, ["crm", "status", "--org", "acme", "--json"]).output)
    assert status["state"] == "not_configured"


def test_a_tenant_id_that_disagrees_is_refused(cli: CliRunner, running: RunningSandbox, tmp_path: Path) -> None:
    cli.invoke(app, ["org", "create", "acme"])

    result = _connect(
        cli,
        running,
        _secret_file(tmp_path, running.client_secret),
        "--tenant-id",
        "00000000-0000-4000-8000-000000000001",
    )

    assert result.exit_code == 1, result.output
    assert "does not match this Dynamics organization" in result.output


def test_another_credential_key_is_named_when_the_secret_is_needed(
    cli: CliRunner, running: RunningSandbox, tmp_path: Path
) -> None:
    assert cli.invoke(app, ["org", "create", "acme"]).exit_code == 0
    assert _connect(cli, running, _secret_file(tmp_path, running.client_secret)).exit_code == 0
    other_key = CliRunner(env={**cli.env, "SALESBRIDGE_CREDENTIAL_KEY": generate_key().get_secret_value()})

    result = other_key.invoke(app, ["seats", "import-crm-users", "--org", "acme"])

    assert result.exit_code == 1, result.output
    shown = " ".join(result.output.split())
    assert "could not be decrypted" in shown
    assert "SALESBRIDGE_CREDENTIAL_KEY_FILE" in shown
