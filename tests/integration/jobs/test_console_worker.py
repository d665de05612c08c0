"""``salesbridge serve`` with ``SALESBRIDGE_JOBS=procrastinate`` runs a procrastinate worker on a thread of the
console's process (unless ``--no-worker``): the import deferred when the organization connected runs there, and
the worker stops with the console; the console's own calls to Dynamics draw on the request budget the workers share
in PostgreSQL."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient
from tests.integration.jobs.conftest import NEVER, JobsStore, SandboxFactory, connect_organization, wait_until

from salesbridge.bootstrap import console_app
from salesbridge.crm.budget import BudgetKey
from salesbridge.crm.dynamics.endpoints import DynamicsTargets, EndpointPolicy
from salesbridge.domain.jobs import JobState
from salesbridge.domain.workspace import ImportState
from salesbridge.services.connecting import connect_crm, create_organization
from salesbridge.services.jobs import organization_jobs
from salesbridge.settings import Settings
from salesbridge.store import create_engine_for
from salesbridge.store.request_budget import DatabaseBudgetLedger
from salesbridge.web.context import ConsoleServices


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


def test_the_consoles_own_dynamics_calls_draw_on_the_workers_shared_budget(
    jobs_store: JobsStore, serve_sandbox: SandboxFactory
) -> None:
    served = serve_sandbox()
    create_organization(jobs_store.store, slug="acme", seats=5)
    settings = Settings(
        database_url=jobs_store.url, credential_key=jobs_store.key, jobs="procrastinate", jobs_schedule_cron=NEVER
    )
    app = console_app(jobs_store.store, settings, secure_cookies=False, run_imports=False, db_url=jobs_store.url)
    services: ConsoleServices = app.state.services

    outcome = asyncio.run(  # the connect pre-flight, as the console's CRM Settings page runs it
        connect_crm(
            jobs_store.store,
            services.crm_sessions,
            slug="acme",
            credentials=served.credentials,
            targets=DynamicsTargets(EndpointPolicy(["127.0.0.1"])),
        )
    )

    assert outcome.is_connected, outcome
    key = BudgetKey.of(served.credentials.org_url, served.credentials.client_id)
    engine = create_engine_for(jobs_store.url)
    try:
        assert DatabaseBudgetLedger(engine).requests_in_window(key) > 0, "counted in the database"
    finally:
        engine.dispose()
