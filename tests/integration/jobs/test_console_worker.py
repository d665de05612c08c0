"""``salesbridge serve`` with ``SALESBRIDGE_JOBS=procrastinate`` runs a procrastinate worker on a thread of the
console's process (unless ``--no-worker``): the import deferred when the organization connected runs there, and
the worker stops with the console."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.integration.jobs.conftest import NEVER, JobsStore, SandboxFactory, connect_organization, wait_until

from salesbridge.bootstrap import console_app
from salesbridge.domain.jobs import JobState
from salesbridge.domain.workspace import ImportState
from salesbridge.services.jobs import organization_jobs
from salesbridge.settings import Settings


def test_the_console_runs_its_own_worker_with_procrastinate(
    jobs_store: JobsStore, serve_sandbox: SandboxFactory
) -> None:
    acme = connect_organization(jobs_store.store, "acme", serve_sandbox())
    settings = Settings(
        database_url=jobs_store.url,
        credential_key=jobs_store.key,
        jobs="procrastinate",
        jobs_schedule_cron=NEVER,
        worker_heartbeat_seconds=0.5,
        worker_stalled_seconds=2,
    )
    app = console_app(jobs_store.store, settings, secure_cookies=False, db_url=jobs_store.url)

    def imported() -> bool:
        with jobs_store.store(acme, read_only=True) as uow:
            return uow.import_runs.recent()[0].state is ImportState.SUCCEEDED

    with TestClient(app, base_url="http://127.0.0.1"):
        wait_until(imported, seconds=60, what="the import on the console's worker", logs=lambda: "")
        wait_until(
            lambda: organization_jobs(jobs_store.store, slug="acme")[0].state is JobState.SUCCEEDED,
            seconds=30,
            what="the job's end",
            logs=lambda: "",
        )
    assert jobs_store.sql("SELECT count(*) FROM procrastinate_workers") == [(0,)], "the worker stopped with the app"
