"""The command line of the job API: ``salesbridge jobs list|cancel|retry`` on the embedded runner's jobs (the import
runs, SQLite), ``salesbridge worker`` refused without procrastinate, and ``salesbridge sync run`` with procrastinate
running its import in the terminal without deferring a job a worker would race it for."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.conftest import MigratedSqlite
from tests.integration.jobs.conftest import (
    JobsStore,
    SandboxFactory,
    connect_organization,
    connected_like,
)
from typer.testing import CliRunner

from salesbridge.cli import app
from salesbridge.domain.jobs import IMPORT_ORGANIZATION, MATCH_ORGANIZATION
from salesbridge.domain.workspace import ImportState
from salesbridge.services.connecting import create_organization
from salesbridge.services.sync import request_sync
from salesbridge.store import create_engine_for, create_session_factory
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory


def test_operators_list_cancel_and_retry_the_embedded_runners_jobs(
    tmp_path: Path, migrated_sqlite: MigratedSqlite
) -> None:
    url = migrated_sqlite(tmp_path / "store.db")
    key = generate_key()
    engine = create_engine_for(url)
    store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(key))
    acme = create_organization(store, slug="acme", seats=5)
    with store(acme) as uow:
        uow.crm_connection.save_credentials(
            org_url="https://acme.crm.dynamics.com", tenant_id="t", client_id="c", client_secret=key
        )
        uow.crm_connection.mark_connected(crm_user_id=str(uuid.uuid4()))
        uow.commit()
    request_sync(store, slug="acme", actor="ana@acme.test")
    runner = CliRunner(env={"SALESBRIDGE_DATABASE_URL": url, "SALESBRIDGE_CREDENTIAL_KEY": key.get_secret_value(),
                            "SALESBRIDGE_JOBS": "embedded", "COLUMNS": "200"})  # fmt: skip

    listed = runner.invoke(app, ["jobs", "list", "--org", "acme", "--json"])
    assert listed.exit_code == 0, listed.output
    [job] = json.loads(listed.output)
    assert (job["task"], job["state"], job["reason"]) == (IMPORT_ORGANIZATION, "queued", "sync now")

    cancelled = runner.invoke(app, ["jobs", "cancel", job["id"]])
    assert cancelled.exit_code == 0, cancelled.output
    assert "cancelled" in cancelled.output
    again = runner.invoke(app, ["jobs", "cancel", job["id"]])
    assert again.exit_code == 1
    assert "already ended" in again.output
    retried = runner.invoke(app, ["jobs", "retry", job["id"]])
    assert retried.exit_code == 0, retried.output
    with store(acme, read_only=True) as uow:
        assert [run.state for run in uow.import_runs.recent()] == [ImportState.QUEUED, ImportState.FAILED]
    table = runner.invoke(app, ["jobs", "list"])
    assert "acme" in table.output
    assert "cancelled" in table.output

    worker = runner.invoke(app, ["worker"])
    assert worker.exit_code == 1
    assert "SALESBRIDGE_JOBS=procrastinate" in worker.output
    engine.dispose()


def test_sync_run_with_procrastinate_imports_here_and_defers_no_job(
    jobs_store: JobsStore, serve_sandbox: SandboxFactory
) -> None:
    first = connect_organization(jobs_store.store, "first", serve_sandbox())
    acme = connected_like(jobs_store.store, "acme", first)
    runner = CliRunner(env=jobs_store.env(COLUMNS="200"))

    ran = runner.invoke(app, ["sync", "run", "--org", "acme"])

    assert ran.exit_code == 0, ran.output
    with jobs_store.store(acme, read_only=True) as uow:
        assert [run.state for run in uow.import_runs.recent()] == [ImportState.SUCCEEDED]
        # The import's end asks for matching (a job for the workers, as after any import); no import job.
        assert [job.task for job in uow.jobs.list()] == [MATCH_ORGANIZATION], "no import job to race the terminal"
