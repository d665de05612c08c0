"""The Background jobs page and API when procrastinate runs the jobs (PostgreSQL only): the organization's jobs are
rows of procrastinate's tables, deferred through the job API and moved along by procrastinate's own SQL functions
(as its workers call them); another organization's jobs are never shown nor touched."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from sqlalchemy import text
from tests.integration.conftest import PostgresCluster
from tests.integration.web.conftest import ACME_ADMIN, BASE_URL, GLOBEX_ADMIN, Browser, Console, Person

from salesbridge.domain.jobs import IMPORT_ORGANIZATION, import_queueing_lock, organization_lock
from salesbridge.store.jobs import JobEngine
from salesbridge.store.secrets import CredentialCipher
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
