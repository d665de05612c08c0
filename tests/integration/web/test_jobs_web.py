"""The Background jobs page and ``/api/v1/orgs/{org}/jobs`` on the embedded runner (SQLite and PostgreSQL): the
organization's import runs are its jobs, shown in words in the reader's language, cancelled and retried by its
administrators only; another organization's jobs are never shown nor touched."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta

from tests.integration.jobs.conftest import (
    CONTACTS_REFUSED,
    SandboxFactory,
    connect_to,
    refuse_contacts,
    serve_sandbox,  # noqa: F401 - a fixture of these tests
)
from tests.integration.web.conftest import ACME_ADMIN, ACME_SELLER, GLOBEX_ADMIN, Browser, Console, Person
from typer.testing import CliRunner

from salesbridge.bootstrap import dynamics_session
from salesbridge.cli import app as cli_app
from salesbridge.domain.sync_runs import STOPPED_WORKER_ERROR
from salesbridge.jobs.runner import EmbeddedRunner
from salesbridge.store.secrets import generate_key

OpenBrowser = Callable[[Person | None], Browser]
CRM_REFUSAL = "Principal user is missing prvReadContact privilege."


def seed_jobs(console: Console, slug: str, *, error: str = CRM_REFUSAL) -> dict[str, str]:
    """Three import runs of ``slug``: one failed (``error``), one running, one waiting; their ids by state."""
    organization_id = console.store.organization_id(slug)
    assert organization_id is not None
    with console.store(organization_id) as uow:
        failed = uow.import_runs.enqueue(reason="scheduled")
        assert uow.import_runs.claim(lease=timedelta(minutes=2)) is not None
        uow.import_runs.finish(failed.id, error=error)
        uow.commit()
    console.clock.advance(timedelta(minutes=1))
    with console.store(organization_id) as uow:
        running = uow.import_runs.enqueue(reason="sync now")
        assert uow.import_runs.claim(lease=timedelta(minutes=2)) is not None
        uow.commit()
    console.clock.advance(timedelta(seconds=30))
    with console.store(organization_id) as uow:
        waiting = uow.import_runs.enqueue(reason="initial import after connect")
        uow.commit()
    return {"failed": str(failed.id), "running": str(running.id), "queued": str(waiting.id)}


def rows(html: str) -> dict[str, str]:
    """Each job row's state, by job id."""
    return dict(re.findall(r'data-testid="job-row" data-job-id="([^"]+)" data-state="([^"]+)"', html))


def test_the_page_shows_waiting_running_and_failed_jobs_in_words(console: Console, browser: OpenBrowser) -> None:
    ids = seed_jobs(console, "acme")
    admin = browser(ACME_ADMIN)

    page = admin.client.get("/admin/jobs")

    assert page.status_code == 200
    assert rows(page.text) == {ids["failed"]: "failed", ids["running"]: "running", ids["queued"]: "queued"}
    assert list(rows(page.text)) == [ids["queued"], ids["running"], ids["failed"]]  # newest first
    assert page.text.count("<strong>CRM import</strong>") == 3
    assert "First import after connecting to the CRM" in page.text
    assert "Sync now was pressed" in page.text
    assert CRM_REFUSAL in page.text  # Dynamics' own reason, as it came
    assert "Mar 2, 2026, 9:01:00\u202fAM UTC" in page.text  # when the running one started (in English)
    assert page.text.count('data-testid="job-cancel"') == 2  # the waiting and the running one
    assert page.text.count('data-testid="job-retry"') == 1
    assert 'href="/admin/jobs" data-testid="nav-jobs" aria-current="page"' in page.text

    admin.client.post("/account/locale", data={**admin.csrf_data(), "locale": "es"})
    spanish = admin.client.get("/admin/jobs").text
    assert "Tareas en segundo plano" in spanish
    assert spanish.count("<strong>Importación del CRM</strong>") == 3
    assert "Primera importación tras conectar con el CRM" in spanish
    assert "Se pulsó «Sincronizar ahora»" in spanish
    assert sorted(re.findall(r'data-testid="job-state">([^<]+)<', spanish)) == ["En curso", "En espera", "Fallida"]


def test_a_worker_that_stopped_is_explained_not_quoted(console: Console, browser: OpenBrowser) -> None:
    seed_jobs(console, "acme", error=STOPPED_WORKER_ERROR)
    page = browser(ACME_ADMIN).client.get("/admin/jobs").text
    assert "The worker running it stopped; the next run resumes from the last page saved." in page
    assert STOPPED_WORKER_ERROR not in page


def test_cancel_and_retry_from_the_page_are_audited(console: Console, browser: OpenBrowser) -> None:
    ids = seed_jobs(console, "acme")
    admin = browser(ACME_ADMIN)

    no_token = admin.client.post(f"/admin/jobs/{ids['running']}/cancel", follow_redirects=False)
    assert no_token.status_code == 403
    cancelled = admin.client.post(
        f"/admin/jobs/{ids['running']}/cancel", data=admin.csrf_data(), follow_redirects=False
    )
    assert (cancelled.status_code, cancelled.headers["location"]) == (303, "/admin/jobs?notice=cancelled")

    page = admin.client.get("/admin/jobs?notice=cancelled").text
    assert rows(page)[ids["running"]] == "cancelled"  # its import stops at its next page
    assert "Cancelled by an administrator." in page
    assert 'data-testid="notice"' in page

    again = admin.client.post(f"/admin/jobs/{ids['running']}/cancel", data=admin.csrf_data())
    assert again.status_code == 422
    assert "This job has already ended." in again.text

    retried = admin.client.post(f"/admin/jobs/{ids['failed']}/retry", data=admin.csrf_data(), follow_redirects=False)
    assert (retried.status_code, retried.headers["location"]) == (303, "/admin/jobs?notice=retried")
    after = rows(admin.client.get("/admin/jobs").text)
    assert list(after.values()).count("queued") == 1
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        actions = [entry.action for entry in uow.audit.recent(limit=10)]
    assert actions.count("job.cancelled") == 1
    assert "job.retried" in actions
    audit = admin.client.get("/admin/audit").text
    assert "Background job cancelled" in audit
    assert ids["running"] not in audit  # the job's id is internal


def test_another_organizations_jobs_are_never_shown_nor_touched(console: Console, browser: OpenBrowser) -> None:
    acme = seed_jobs(console, "acme", error="acme's private failure")
    globex = seed_jobs(console, "globex", error="globex's private failure")
    outsider = browser(GLOBEX_ADMIN)

    page = outsider.client.get("/admin/jobs").text
    assert set(rows(page)) == set(globex.values())
    assert "acme's private failure" not in page
    api = outsider.client.get("/api/v1/orgs/globex/jobs").json()
    assert {job["id"] for job in api["jobs"]} == set(globex.values())
    assert outsider.client.get("/api/v1/orgs/acme/jobs").status_code == 404

    for action in ("cancel", "retry"):
        job_id = acme["queued"] if action == "cancel" else acme["failed"]
        on_page = outsider.client.post(f"/admin/jobs/{job_id}/{action}", data=outsider.csrf_data())
        through_own_org = outsider.client.post(
            f"/api/v1/orgs/globex/jobs/{job_id}/{action}", headers=outsider.csrf_headers()
        )
        through_acme = outsider.client.post(
            f"/api/v1/orgs/acme/jobs/{job_id}/{action}", headers=outsider.csrf_headers()
        )
        assert (on_page.status_code, through_own_org.status_code, through_acme.status_code) == (404, 404, 404)
    admin = browser(ACME_ADMIN)
    assert rows(admin.client.get("/admin/jobs").text) == {
        acme["failed"]: "failed",
        acme["running"]: "running",
        acme["queued"]: "queued",
    }


def test_only_administrators_see_the_page_and_the_link(console: Console, browser: OpenBrowser) -> None:
    seed_jobs(console, "acme")
    seller = browser(ACME_SELLER)
    assert seller.client.get("/admin/jobs").status_code == 403
    assert seller.client.get("/api/v1/orgs/acme/jobs").status_code == 403
    assert 'data-testid="nav-jobs"' not in seller.client.get("/").text
    assert browser(None).client.get("/admin/jobs", follow_redirects=False).status_code == 303
    assert browser(None).client.get("/api/v1/orgs/acme/jobs").status_code == 401


def test_the_api_lists_filters_cancels_and_retries(console: Console, browser: OpenBrowser) -> None:
    ids = seed_jobs(console, "acme")
    admin = browser(ACME_ADMIN)
    api = "/api/v1/orgs/acme/jobs"

    listed = admin.client.get(api).json()
    assert listed["organization"] == "acme"
    jobs = {job["id"]: job for job in listed["jobs"]}
    assert set(jobs) == set(ids.values())
    failed = jobs[ids["failed"]]
    assert failed["task"] == "import_organization"
    assert failed["task_name"] == "CRM import"
    assert failed["state"] == "failed"
    assert failed["error"] == failed["error_text"] == CRM_REFUSAL
    assert failed["attempts"] == 1
    assert (failed["can_retry"], failed["can_cancel"]) == (True, False)
    assert jobs[ids["queued"]]["attempts"] == 0
    assert jobs[ids["queued"]]["reason"] == "initial import after connect"
    only_failed = admin.client.get(api, params={"state": "failed"}).json()["jobs"]
    assert [job["id"] for job in only_failed] == [ids["failed"]]
    assert admin.client.get(api, params={"state": "lost"}).status_code == 422

    assert admin.client.post(f"{api}/{ids['running']}/retry", headers=admin.csrf_headers()).status_code == 422
    cancelled = admin.client.post(f"{api}/{ids['queued']}/cancel", headers=admin.csrf_headers())
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    assert admin.client.post(f"{api}/{ids['queued']}/cancel", headers=admin.csrf_headers()).status_code == 422
    assert admin.client.post(f"{api}/not-a-job/cancel", headers=admin.csrf_headers()).status_code == 404
    retried = admin.client.post(f"{api}/{ids['failed']}/retry", headers=admin.csrf_headers())
    assert retried.status_code == 200
    assert retried.json()["state"] == "queued"

    admin.client.put("/api/v1/me/locale", json={"locale": "es"}, headers=admin.csrf_headers())
    spanish = {job["id"]: job for job in admin.client.get(api).json()["jobs"]}
    assert spanish[ids["queued"]]["state_name"] == "Cancelada"
    assert spanish[ids["queued"]]["error_text"] == "Cancelada por un administrador."


def test_cancelling_the_waiting_import_leaves_the_running_one_alone(console: Console, browser: OpenBrowser) -> None:
    ids = seed_jobs(console, "acme")
    admin = browser(ACME_ADMIN)

    cancelled = admin.client.post(f"/admin/jobs/{ids['queued']}/cancel", data=admin.csrf_data(), follow_redirects=False)

    assert cancelled.status_code == 303
    after = rows(admin.client.get("/admin/jobs").text)
    assert (after[ids["queued"]], after[ids["running"]]) == ("cancelled", "running")
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id, read_only=True) as uow:
        running = uow.import_runs.running()
    assert running is not None
    assert str(running.id) == ids["running"], "still leased: its import goes on"


def test_a_failed_import_shows_failed_with_dynamics_reason(
    console: Console,
    browser: OpenBrowser,
    serve_sandbox: SandboxFactory,  # noqa: F811 - the fixture imported above
) -> None:
    served = serve_sandbox()
    connect_to(console.store, "acme", served)
    refuse_contacts(console.store, "acme", served)
    runner = EmbeddedRunner(
        console.store, dynamics_session, console.store.connected_organization_ids, clock=console.clock
    )

    [outcome] = runner.run_once()

    assert not outcome.succeeded
    page = browser(ACME_ADMIN).client.get("/admin/jobs").text
    assert list(rows(page).values()) == ["failed"]
    assert CONTACTS_REFUSED in re.findall(r'data-testid="job-error">([^<]*)<', page)[0]


def test_the_clis_json_gives_each_job_as_the_api_does(
    console: Console, browser: OpenBrowser, migrated_url: str
) -> None:
    ids = seed_jobs(console, "acme")
    admin = browser(ACME_ADMIN)
    admin.client.put("/api/v1/me/locale", json={"locale": "es"}, headers=admin.csrf_headers())
    api = admin.client.get("/api/v1/orgs/acme/jobs").json()["jobs"]
    runner = CliRunner(
        env={
            "SALESBRIDGE_DATABASE_URL": migrated_url,
            "SALESBRIDGE_CREDENTIAL_KEY": generate_key().get_secret_value(),  # reads no secret: any key opens it
            "SALESBRIDGE_JOBS": "embedded",
        }
    )

    listed = runner.invoke(cli_app, ["jobs", "list", "--org", "acme", "--json", "--lang", "es"])

    assert listed.exit_code == 0, listed.output
    cli = json.loads(listed.output)
    assert [job["id"] for job in cli] == [job["id"] for job in api] == [ids["queued"], ids["running"], ids["failed"]]
    assert [sorted(job) for job in cli] == [sorted(job) for job in api]  # the same fields, by the same names
    assert cli == api  # and the same values, formats and words (in Spanish)
    assert {job["organization_id"] for job in cli} == {str(console.store.organization_id("acme"))}
    assert cli[-1]["state_name"] == "Fallida"
    table = runner.invoke(cli_app, ["jobs", "list", "--org", "acme", "--lang", "es"], env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    assert "Motivo / error" in table.output
    assert "Primera importación tras conectar con el CRM" in table.output  # why the waiting one was queued
    assert "queued" in table.output, "the state stays the code --state takes"
