"""``salesbridge user create`` and ``salesbridge token create`` end to end: the real CLI on a SQLite file it
migrates itself — the password rule where passwords are set, and the expiry of the tokens it issues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from salesbridge.cli import app
from salesbridge.store.secrets import generate_key


@pytest.fixture
def cli(tmp_path: Path) -> CliRunner:
    runner = CliRunner(
        env={
            "SALESBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "SALESBRIDGE_CREDENTIAL_KEY": generate_key().get_secret_value(),
            "COLUMNS": "200",
        }
    )
    assert runner.invoke(app, ["org", "create", "acme", "--seats", "2"]).exit_code == 0
    return runner


def _create_user(cli: CliRunner, tmp_path: Path, password: str) -> tuple[int, str]:
    password_file = tmp_path / "password.txt"
    password_file.write_text(password + "\n", encoding="utf-8")
    arguments = ["user", "create", "--org", "acme", "--email", "ana@acme.test", "--name", "Ana García", "--admin"]
    result = cli.invoke(app, [*arguments, "--password-file", str(password_file)])
    return result.exit_code, result.output


def test_user_create_refuses_a_trivial_password_and_says_why(cli: CliRunner, tmp_path: Path) -> None:
    refused = _create_user(cli, tmp_path, "aaaaaaaaaaaa")

    assert refused[0] == 2  # a bad parameter, like any refused option
    assert "too easy to guess" in refused[1]
    assert "repeats characters" in refused[1]
    assert _create_user(cli, tmp_path, "tulip harbour violin seventeen")[0] == 0


def test_token_create_offers_an_expiry(cli: CliRunner, tmp_path: Path) -> None:
    assert _create_user(cli, tmp_path, "tulip harbour violin seventeen")[0] == 0
    before = datetime.now(UTC)

    created = cli.invoke(
        app, ["token", "create", "--org", "acme", "--email", "ana@acme.test", "--name", "ci", "--expires-days", "7"]
    )

    assert created.exit_code == 0, created.output
    expected = before + timedelta(days=7)
    assert f"expires {expected:%Y-%m-%d}" in created.output
    assert created.output.strip().splitlines()[-1].startswith("sb_")
    too_long = cli.invoke(
        app, ["token", "create", "--org", "acme", "--email", "ana@acme.test", "--name", "x", "--expires-days", "999"]
    )
    assert too_long.exit_code == 2


@pytest.mark.parametrize("slug", ["Acme Corp", "acme/corp", "<b>acme</b>", "acme\x00"])
def test_org_create_refuses_a_slug_that_is_not_one(cli: CliRunner, slug: str) -> None:
    """Issue 10, item 10: slugs sit in URLs and commands; spaces, slashes and markup were accepted."""
    refused = cli.invoke(app, ["org", "create", slug])

    assert refused.exit_code == 2, refused.output
    assert "lowercase letters, digits and hyphens" in " ".join(refused.output.split())
    assert cli.invoke(app, ["org", "create", "acme-corp"]).exit_code == 0


def test_user_and_token_create_refuse_control_characters(cli: CliRunner, tmp_path: Path) -> None:
    """Issue 10, item 10: a NUL in an email broke its owner's CRM match; control characters in names were stored."""
    password_file = tmp_path / "password.txt"
    password_file.write_text("tulip harbour violin seventeen\n", encoding="utf-8")
    user = ["user", "create", "--org", "acme", "--name", "Ana", "--password-file", str(password_file)]
    assert cli.invoke(app, [*user, "--email", "ana\x00@acme.test"]).exit_code == 2
    assert cli.invoke(app, [*user, "--email", "ana@acme.test"]).exit_code == 0

    token = ["token", "create", "--org", "acme", "--email", "ana@acme.test"]
    refused = cli.invoke(app, [*token, "--name", "ci\x07"])

    assert refused.exit_code == 2, refused.output
    assert "control characters" in refused.output
    assert cli.invoke(app, [*token, "--name", "ci"]).exit_code == 0
