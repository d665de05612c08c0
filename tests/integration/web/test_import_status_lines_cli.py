"""The import lines of ``salesbridge sync status`` and ``salesbridge crm status`` (SQLite and PostgreSQL): the running
and the queued import in the reader's language, their times as the other status lines give them, and why an import
was queued in words, as the Background jobs page says it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.web.conftest import Console
from typer.testing import CliRunner

from salesbridge.cli import app as cli_app
from salesbridge.store.secrets import generate_key


def _cli(database_url: str, *args: str) -> str:
    """``salesbridge *args`` on the console's own database (it reads no secret: any key opens it)."""
    runner = CliRunner(
        env={
            "SALESBRIDGE_DATABASE_URL": database_url,
            "SALESBRIDGE_CREDENTIAL_KEY": generate_key().get_secret_value(),
            "COLUMNS": "200",
        }
    )
    result = runner.invoke(cli_app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_running_and_the_queued_import_read_in_spanish(console: Console, migrated_url: str) -> None:
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    # The CLI reads with the real clock, to which the running import's lease (two days) must be live: seed today.
    started = console.clock.now = datetime.now(UTC).replace(hour=9, minute=0, second=15, microsecond=0)
    with console.store(organization_id) as uow:
        running = uow.import_runs.enqueue(reason="scheduled")
        assert uow.import_runs.claim(lease=timedelta(days=2)) is not None
        uow.commit()
    console.clock.advance(timedelta(minutes=1, seconds=30))
    with console.store(organization_id) as uow:
        uow.import_runs.enqueue(reason="sync now")
        uow.commit()
    day = started.strftime("%Y-%m-%d")

    sync_es = _cli(migrated_url, "sync", "status", "--org", "acme", "--lang", "es")
    crm_es = _cli(migrated_url, "crm", "status", "--org", "acme", "--lang", "es")
    crm_en = _cli(migrated_url, "crm", "status", "--org", "acme")

    assert f"Importación en curso desde {day} 09:00 UTC" in sync_es
    assert "running since" not in sync_es
    assert f"En cola desde {day} 09:01 UTC (Se pulsó «Sincronizar ahora»)" in crm_es
    assert "queued since" not in crm_es
    assert f"Queued since {day} 09:01 UTC (Sync now was pressed)" in crm_en

    with console.store(organization_id) as uow:
        uow.import_runs.finish(running.id, error=None)
        uow.commit()
    assert "Importación en cola" in _cli(migrated_url, "sync", "status", "--org", "acme", "--lang", "es")
    assert "Import queued" in _cli(migrated_url, "sync", "status", "--org", "acme")
