"""The CLI never creates a store or a credential key from a command that works on an organization: a missing store
or key file is reported with the URL or path it looked for, and nothing is written. Only ``org create`` creates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.integration.conftest import PostgresCluster
from typer.testing import CliRunner

from salesbridge.cli import app
from salesbridge.store.database import store_exists

ORGANIZATION_COMMANDS = {
    "crm status": ["crm", "status", "--org", "acme"],
    "crm settings show": ["crm", "settings", "show", "--org", "acme"],
    "seats list": ["seats", "list", "--org", "acme"],
    "sync status": ["sync", "status", "--org", "acme"],
    "lists show": ["lists", "show", "--org", "acme", "--user", "ana@acme.example"],
    "crm disconnect": ["crm", "disconnect", "--org", "acme", "--yes"],
    "token create": ["token", "create", "--org", "acme", "--email", "ana@acme.example", "--name", "ci"],
}


def _cli(database_url: str, key_file: Path) -> CliRunner:
    return CliRunner(
        env={
            "SALESBRIDGE_DATABASE_URL": database_url,
            "SALESBRIDGE_CREDENTIAL_KEY": None,
            "SALESBRIDGE_CREDENTIAL_KEY_FILE": str(key_file),
            "COLUMNS": "400",
        }
    )


def _unwrapped(output: str) -> str:
    return " ".join(output.split())


@pytest.mark.parametrize("command", ORGANIZATION_COMMANDS.values(), ids=ORGANIZATION_COMMANDS.keys())
def test_without_a_store_nothing_is_created_and_the_url_is_named(
    database_url: str, tmp_path: Path, command: list[str]
) -> None:
    key_file = tmp_path / "credential.key"

    result = _cli(database_url, key_file).invoke(app, command)

    assert result.exit_code == 1, result.output
    assert f"No salesbridge store at {database_url}." in _unwrapped(result.output)
    assert "salesbridge org create" in result.output
    assert not store_exists(database_url)
    assert not Path(database_url.removeprefix("sqlite:///")).exists()
    assert not key_file.exists()


def test_a_store_without_its_key_file_is_refused_naming_the_key_file(migrated_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "elsewhere" / "credential.key"

    result = _cli(migrated_url, key_file).invoke(app, ["crm", "status", "--org", "acme"])

    assert result.exit_code == 1, result.output
    shown = _unwrapped(result.output)
    assert f"No credential key file at {key_file}" in shown
    assert "SALESBRIDGE_CREDENTIAL_KEY_FILE" in shown
    assert not key_file.exists()


def test_org_create_creates_the_store_and_its_key_then_the_others_find_them(database_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "credential.key"
    cli = _cli(database_url, key_file)

    created = cli.invoke(app, ["org", "create", "acme"])

    assert created.exit_code == 0, created.output
    assert store_exists(database_url)
    assert key_file.exists()
    status = cli.invoke(app, ["crm", "status", "--org", "acme", "--json"])
    assert status.exit_code == 0, status.output


def test_the_url_shown_hides_the_password(postgres_cluster: PostgresCluster, tmp_path: Path) -> None:
    url = postgres_cluster.url("no_such_store").replace("postgres@", "postgres:hunter2@")

    result = _cli(url, tmp_path / "credential.key").invoke(app, ["crm", "status", "--org", "acme"])

    assert result.exit_code == 1
    assert "hunter2" not in result.output
    assert "postgres:***@127.0.0.1" in result.output


def test_with_no_settings_a_status_creates_nothing_in_the_current_folder(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "salesbridge", "crm", "status", "--org", "demo"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "No salesbridge store at sqlite:///salesbridge.db." in _unwrapped(result.stdout)
    assert list(tmp_path.iterdir()) == []


def test_an_invalid_setting_is_named_and_nothing_is_created(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'store.db'}"
    cli = CliRunner(env={"SALESBRIDGE_DATABASE_URL": database_url, "SALESBRIDGE_IMPORT_LEASE_SECONDS": "0"})

    result = cli.invoke(app, ["org", "create", "acme"])

    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit), "no traceback"
    assert "Invalid settings: SALESBRIDGE_IMPORT_LEASE_SECONDS" in _unwrapped(result.output)
    assert not (tmp_path / "store.db").exists()


def test_org_create_refuses_a_bad_slug_before_creating_the_store(database_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "credential.key"

    result = _cli(database_url, key_file).invoke(app, ["org", "create", "Acme Corp!"])

    assert result.exit_code == 2, result.output
    assert "lowercase letters, digits and hyphens" in _unwrapped(result.output)
    assert not store_exists(database_url)
    assert not Path(database_url.removeprefix("sqlite:///")).exists()
    assert not key_file.exists()
