"""``salesbridge crm disconnect``: the real CLI on a SQLite file, filled through the store; confirmations are typed on
a real pseudo-terminal."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from tests.conftest import MigratedSqlite
from tests.integration.services.test_disconnect import Seeded, seed
from tests.integration.terminal import TerminalRun, run_in_terminal
from typer.testing import CliRunner

from salesbridge.cli import app
from salesbridge.services.crm_status import crm_status
from salesbridge.store import create_engine_for, create_session_factory
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory


@pytest.fixture
def key() -> SecretStr:
    return generate_key()


@pytest.fixture
def db_url(tmp_path: Path, migrated_sqlite: MigratedSqlite) -> str:
    return migrated_sqlite(tmp_path / "cli.db")


@pytest.fixture
def cli(db_url: str, key: SecretStr) -> CliRunner:
    return CliRunner(
        env={"SALESBRIDGE_DATABASE_URL": db_url, "SALESBRIDGE_CREDENTIAL_KEY": key.get_secret_value(), "COLUMNS": "200"}
    )


@pytest.fixture
def store(db_url: str, key: SecretStr) -> Iterator[UnitOfWorkFactory]:
    engine = create_engine_for(db_url)
    yield UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(key))
    engine.dispose()


@pytest.fixture
def acme(store: UnitOfWorkFactory) -> Seeded:
    return seed(store, "acme", org_url="https://acme.crm.dynamics.com")


def _in_terminal(db_url: str, key: SecretStr, *arguments: str, answer: str) -> TerminalRun:
    environment = {
        "PATH": "/usr/bin:/bin",
        "SALESBRIDGE_DATABASE_URL": db_url,
        "SALESBRIDGE_CREDENTIAL_KEY": key.get_secret_value(),
        "TERM": "xterm",
    }
    return run_in_terminal(
        [sys.executable, "-m", "salesbridge", "crm", "disconnect", *arguments],
        env=environment,
        prompt="[y/N]",
        answer=answer,
    )


def test_declining_the_confirmation_changes_nothing(
    db_url: str, key: SecretStr, store: UnitOfWorkFactory, acme: Seeded
) -> None:
    result = _in_terminal(db_url, key, "--org", "acme", "--purge", answer="n\n")

    assert result.exit_code == 1, result.output
    assert f"The connection to {acme.org_url} and its stored credentials will be deleted." in result.output
    assert "4 CRM records, 2 CRM users" in result.output
    assert "Queued or running imports to cancel: 2." in result.output
    assert "Disconnect CRM sync? [y/N]" in result.output
    assert "Nothing was changed." in result.output
    assert crm_status(store, slug="acme").state == "connected"


def test_confirmed_purge_in_spanish(db_url: str, key: SecretStr, store: UnitOfWorkFactory, acme: Seeded) -> None:
    result = _in_terminal(db_url, key, "--org", "acme", "--purge", "--lang", "es", answer="y\n")

    assert result.exit_code == 0, result.output
    assert "Se eliminarán todos los datos previamente importados del CRM" in result.output
    assert "se han limpiado todos los datos previamente importados del CRM" in result.output
    assert crm_status(store, slug="acme").state == "not_configured"
    with store(acme.id) as uow:
        assert uow.crm_records.count("account") == 0


def test_without_a_terminal_nor_yes_it_says_what_would_go_and_refuses(
    cli: CliRunner, store: UnitOfWorkFactory, acme: Seeded
) -> None:
    with store(acme.id) as uow:
        accounts = uow.crm_records.count("account")

    result = cli.invoke(app, ["crm", "disconnect", "--org", "acme", "--purge"], input="y\n")

    assert result.exit_code == 1, result.output
    assert "4 CRM records, 2 CRM users" in result.output
    assert "Nothing was changed: confirm in a terminal, or add --yes." in result.output
    assert "[y/N]" not in result.output, "a piped answer is not a confirmation"
    assert crm_status(store, slug="acme").state == "connected"
    with store(acme.id) as uow:
        assert uow.crm_records.count("account") == accounts > 0


def test_yes_and_json_without_purge_then_again(cli: CliRunner, store: UnitOfWorkFactory, acme: Seeded) -> None:
    result = cli.invoke(app, ["crm", "disconnect", "--org", "acme", "--yes", "--json"])

    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["purged"] is False
    assert shown["was_connected"] is True
    assert shown["cancelled_imports"] == 2
    assert shown["org_url"] == acme.org_url
    assert shown["deleted"]["crm_records"] == 0
    assert crm_status(store, slug="acme").state == "disconnected"
    again = cli.invoke(app, ["crm", "disconnect", "--org", "acme", "--yes", "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["was_connected"] is False


def test_an_unknown_organization_fails(cli: CliRunner) -> None:
    result = cli.invoke(app, ["crm", "disconnect", "--org", "nobody", "--yes"])

    assert result.exit_code == 1
    assert "nobody" in result.output
