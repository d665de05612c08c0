"""The Background jobs page and API when procrastinate runs the jobs (PostgreSQL only): the organization's jobs are
rows of procrastinate's tables, deferred through the job API and moved along by procrastinate's own SQL functions
(as its workers call them); another organization's jobs are never shown nor touched."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from tests.integration.conftest import PostgresCluster
from tests.integration.jobs.conftest import (
    CONTACTS_REFUSED,
    JobsStore,
    SandboxFactory,
    connect_to,
    refuse_contacts,
    serve_sandbox,  # noqa: F401 - a fixture of these tests
    wait_until,
)
from tests.integration.web.conftest import ACME_ADMIN, BASE_URL, GLOBEX_ADMIN, Browser, Console, Person

from salesbridge.domain.jobs import (
    CANCELLED_IMPORT_ERROR,
    IMPORT_ORGANIZATION,
    JobState,
    import_queueing_lock,
    organization_lock,
)
from salesbridge.domain.workspace import ImportState
from salesbridge.services.jobs import organization_jobs
from salesbridge.services.sync import queue_import
from salesbridge.store.jobs import JobEngine
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory
from salesbridge.web.app import create_app

OpenBrowser = Callable[[Person | None], Browser]


@pytest.fixture
def database_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh PostgreSQL database (procrastinate needs PostgreSQL): overrides the SQLite-or-PostgreSQL one."""
    name = f"store_{uuid.uuid4().hex[:12]}"
    postgres_cluster.execute_autocommit(f'CREATE DATABASE "{name}"')
    yield postgres_cluster.url(name)
    with contextlib.suppress(psycopg.Error):
        postgres_cluster.execute_autocommit(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def credential_key() -> SecretStr:
    """The console's credential key (a worker process is given it)."""
    return generate_key()


@pytest.fixture
def cipher(credential_key: SecretStr) -> CredentialCipher:
    """The cipher of :func:`credential_key`: overrides the one with a key nobody else knows."""
    return CredentialCipher(credential_key)


@pytest.fixture
def workers(console: Console, database_url: str, credential_key: SecretStr, tmp_path: Path) -> Iterator[JobsStore]:
    """Starts real ``salesbridge worker`` processes on the console's store; they are killed afterwards."""
    context = JobsStore(url=database_url, key=credential_key, store=console.store, tmp_path=tmp_path)
    yield context
    context.kill_workers()


@pytest.fixture
def console(console: Console, cipher: CredentialCipher) -> Console:
    """The console whose store defers jobs into procrastinate's tables (``SALESBRIDGE_JOBS=procrastinate``)."""
    store = UnitOfWorkFactory(
        console.session_factory, cipher=cipher, clock=console.clock, job_engine=JobEngine.PROCRASTINATE
    )
    services = dataclasses.replace(console.services, store=store)
    app = create_app(services, public_base_url=BASE_URL, allowed_hosts=["127.0.0.1"])
    return dataclasses.replace(console, app=app, services=services, store=store)


def _defer_import(console: Console, slug: str, reason: str) -> str:
    organization_id = console.store.organization_id(slug)
    assert organization_id is not None
    with console.store(organization_id) as uow:
        job = uow.jobs.defer(
            IMPORT_ORGANIZATION,
            args={"reason": reason},
            lock=organization_lock(organization_id),
            queueing_lock=import_queueing_lock(organization_id),
        )
        uow.commit()
    assert job is not None
    return job.id


def _worker_takes(console: Console, job_id: str, *, then: str | None = None) -> None:
    """What a procrastinate worker does with its own SQL functions: fetch the job (it is then running) and, when
    ``then`` is given, finish it so."""
    with console.session_factory() as session:
        worker = session.execute(text("SELECT worker_id FROM procrastinate_register_worker_v1()")).scalar_one()
        fetched = session.execute(
            text("SELECT id FROM procrastinate_fetch_job_v2(ARRAY['imports']::varchar[], :worker)"), {"worker": worker}
        ).scalar_one()
        assert str(fetched) == job_id
        if then is not None:
            session.execute(
                text("SELECT procrastinate_finish_job_v1(:id, CAST(:status AS procrastinate_job_status), false)"),
                {"id": fetched, "status": then},
            )
        session.commit()


def seed_jobs(console: Console, slug: str) -> dict[str, str]:
    """Three import jobs of ``slug``: one failed, one running, one waiting; their ids by state."""
    failed = _defer_import(console, slug, "scheduled")
    _worker_takes(console, failed, then="failed")
    running = _defer_import(console, slug, "sync now")
    _worker_takes(console, running)
    waiting = _defer_import(console, slug, "sync now")
    return {"failed": failed, "running": running, "queued": waiting}


def rows(html: str) -> dict[str, str]:
    """Each job row's state, by job id."""
    return dict(re.findall(r'data-testid="job-row" data-job-id="([^"]+)" data-state="([^"]+)"', html))


def test_procrastinate_jobs_are_shown_in_words_and_cancelled_or_retried(console: Console, browser: OpenBrowser) -> None:
    ids = seed_jobs(console, "acme")
    admin = browser(ACME_ADMIN)

    page = admin.client.get("/admin/jobs").text
    assert rows(page) == {ids["failed"]: "failed", ids["running"]: "running", ids["queued"]: "queued"}
    assert page.count("<strong>CRM import</strong>") == 3
    assert "The task stopped with an error; the worker&#39;s log has the details." in page
    assert "Sync now was pressed" in page
    jobs = {job["id"]: job for job in admin.client.get("/api/v1/orgs/acme/jobs").json()["jobs"]}
    assert jobs[ids["failed"]]["attempts"] == 1
    assert jobs[ids["queued"]]["attempts"] == 0

    cancelled = admin.client.post(f"/admin/jobs/{ids['queued']}/cancel", data=admin.csrf_data(), follow_redirects=False)
    assert cancelled.status_code == 303
    retried = admin.client.post(f"/admin/jobs/{ids['failed']}/retry", data=admin.csrf_data(), follow_redirects=False)
    assert retried.status_code == 303

    after = rows(admin.client.get("/admin/jobs").text)
    assert after[ids["queued"]] == "cancelled"
    assert after[ids["failed"]] == "queued"  # procrastinate queues the same job again


def test_another_organizations_procrastinate_jobs_are_never_shown_nor_touched(
    console: Console, browser: OpenBrowser
) -> None:
    acme = seed_jobs(console, "acme")
    globex_job = _defer_import(console, "globex", "sync now")
    outsider = browser(GLOBEX_ADMIN)

    assert set(rows(outsider.client.get("/admin/jobs").text)) == {globex_job}
    assert [job["id"] for job in outsider.client.get("/api/v1/orgs/globex/jobs").json()["jobs"]] == [globex_job]
    assert outsider.client.get("/api/v1/orgs/acme/jobs").status_code == 404
    assert outsider.client.post(f"/admin/jobs/{acme['queued']}/cancel", data=outsider.csrf_data()).status_code == 404
    assert outsider.client.post(f"/admin/jobs/{acme['failed']}/retry", data=outsider.csrf_data()).status_code == 404
    api = outsider.client.post(f"/api/v1/orgs/globex/jobs/{acme['queued']}/cancel", headers=outsider.csrf_headers())
    assert api.status_code == 404
    assert rows(browser(ACME_ADMIN).client.get("/admin/jobs").text)[acme["queued"]] == "queued"


def seed_imports(console: Console, slug: str) -> tuple[uuid.UUID, dict[str, str]]:
    """Two imports of ``slug`` queued as the product queues them (:func:`queue_import`: a run and its job): one a
    worker took and runs, one waiting behind it; the organization's id, and the jobs' ids by state."""
    organization_id = console.store.organization_id(slug)
    assert organization_id is not None
    with console.store(organization_id) as uow:
        queue_import(uow, reason="sync now")
        uow.commit()
    [running] = organization_jobs(console.store, slug=slug)
    _worker_takes(console, running.id)
    with console.store(organization_id) as uow:
        assert uow.import_runs.claim(lease=timedelta(minutes=2)) is not None
        queue_import(uow, reason="scheduled")
        uow.commit()
    waiting = organization_jobs(console.store, slug=slug, states=[JobState.QUEUED])[0]
    return organization_id, {"running": running.id, "queued": waiting.id}


def _runs(console: Console, organization_id: uuid.UUID) -> dict[str, tuple[ImportState, str | None]]:
    """The organization's import runs' state and error, by reason."""
    with console.store(organization_id, read_only=True) as uow:
        return {run.reason: (run.state, run.error) for run in uow.import_runs.recent()}


def test_cancelling_the_waiting_import_job_leaves_the_running_import_alone(
    console: Console, browser: OpenBrowser
) -> None:
    acme, ids = seed_imports(console, "acme")
    admin = browser(ACME_ADMIN)

    cancelled = admin.client.post(f"/admin/jobs/{ids['queued']}/cancel", data=admin.csrf_data(), follow_redirects=False)

    assert cancelled.status_code == 303
    after = rows(admin.client.get("/admin/jobs").text)
    assert (after[ids["queued"]], after[ids["running"]]) == ("cancelled", "running")
    assert _runs(console, acme) == {
        "scheduled": (ImportState.FAILED, CANCELLED_IMPORT_ERROR),
        "sync now": (ImportState.RUNNING, None),
    }


def test_a_running_job_asked_to_stop_shows_cancelling_until_its_worker_aborts_it(
    console: Console, browser: OpenBrowser
) -> None:
    acme, ids = seed_imports(console, "acme")
    admin = browser(ACME_ADMIN)

    cancelled = admin.client.post(
        f"/admin/jobs/{ids['running']}/cancel", data=admin.csrf_data(), follow_redirects=False
    )

    assert cancelled.status_code == 303
    page = admin.client.get("/admin/jobs").text
    row = page.split(f'data-job-id="{ids["running"]}"')[1].split("</tr>")[0]
    assert 'data-testid="job-state" data-cancel-requested="true">Cancelling<' in row
    assert 'data-testid="job-cancel"' not in row, "no second Cancel"
    assert page.count('data-testid="job-cancel"') == 1, "the waiting one's"
    again = admin.client.post(f"/admin/jobs/{ids['running']}/cancel", data=admin.csrf_data())
    assert again.status_code == 422
    assert "This job is already being cancelled." in again.text
    api = {job["id"]: job for job in admin.client.get("/api/v1/orgs/acme/jobs").json()["jobs"]}
    assert (api[ids["running"]]["state"], api[ids["running"]]["cancel_requested"]) == ("running", True)
    assert _runs(console, acme) == {  # its run ends (it stops at its next page), the waiting one stays
        "scheduled": (ImportState.QUEUED, None),
        "sync now": (ImportState.FAILED, CANCELLED_IMPORT_ERROR),
    }
    admin.client.post("/account/locale", data={**admin.csrf_data(), "locale": "es"})
    assert ">Cancelando<" in admin.client.get("/admin/jobs").text

    with console.session_factory() as session:  # its worker aborts it, as procrastinate's workers do
        session.execute(text("SELECT procrastinate_finish_job_v1(:id, 'aborted', false)"), {"id": int(ids["running"])})
        session.commit()
    assert rows(admin.client.get("/admin/jobs").text)[ids["running"]] == "cancelled"


def test_a_failed_import_shows_failed_with_dynamics_reason(
    console: Console,
    browser: OpenBrowser,
    workers: JobsStore,
    serve_sandbox: SandboxFactory,  # noqa: F811 - the fixture imported above
) -> None:
    served = serve_sandbox()
    connect_to(console.store, "acme", served)  # queues the first import and defers its job
    refuse_contacts(console.store, "acme", served)
    workers.start_worker()

    wait_until(
        lambda: not organization_jobs(console.store, slug="acme")[0].state.active,
        seconds=60,
        what="the import job's end",
        logs=workers.logs,
    )

    page = browser(ACME_ADMIN).client.get("/admin/jobs").text
    assert list(rows(page).values()) == ["failed"], workers.logs()
    [error] = re.findall(r'data-testid="job-error">([^<]*)<', page)
    assert CONTACTS_REFUSED in error, error
    assert workers.sql(f"SELECT attempts FROM procrastinate_jobs WHERE task_name = '{IMPORT_ORGANIZATION}'") == [
        (1,)
    ], "not retried by the job engine: the schedule's backoff retries failed imports"
