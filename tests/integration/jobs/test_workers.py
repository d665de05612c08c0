"""procrastinate workers as real processes (``python -m salesbridge worker``) on a real PostgreSQL, importing from
the sandbox over TLS: many organizations on schedule across three workers, a worker killed with SIGKILL in the
middle of an import, a running import cancelled, a failed job retried."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime

from tests.integration.jobs.conftest import (
    EVERY_SECOND,
    EVERY_THREE_SECONDS,
    JobsStore,
    SandboxFactory,
    connect_organization,
    connected_like,
    wait_until,
)

from salesbridge.domain.jobs import CANCELLED_IMPORT_ERROR, IMPORT_ORGANIZATION, SCHEDULE_DUE_IMPORTS, JobState
from salesbridge.domain.sync_runs import STOPPED_WORKER_ERROR
from salesbridge.domain.workspace import ImportState
from salesbridge.sandbox.server.faults import FaultConfig
from salesbridge.services.jobs import cancel_job, organization_jobs
from salesbridge.services.sync import RETRY_REASON, SCHEDULED_REASON, request_sync

ORGANIZATIONS = 50


def _settled(jobs_store: JobsStore) -> bool:
    """Every organization imported at least once, and no import run or import job left queued or running (one
    query: polling must not starve the workers of the machine's cores)."""
    [(imported, active, pending)] = jobs_store.sql(
        "SELECT (SELECT count(DISTINCT organization_id) FROM import_requests WHERE state = 'succeeded'), "
        "(SELECT count(*) FROM import_requests WHERE state IN ('queued', 'running')), "
        f"(SELECT count(*) FROM procrastinate_jobs WHERE task_name = '{IMPORT_ORGANIZATION}' "
        "AND status IN ('todo', 'doing'))"
    )
    return imported == ORGANIZATIONS and active == 0 and pending == 0


def _started(jobs_store: JobsStore, organization_id: uuid.UUID) -> bool:
    [(started,)] = jobs_store.sql(
        f"SELECT count(*) FROM import_requests WHERE organization_id = '{organization_id}' AND started_at IS NOT NULL"
    )
    return bool(started)


def test_fifty_organizations_on_schedule_with_three_workers_never_overlap_and_lose_nothing(
    jobs_store: JobsStore, serve_sandbox: SandboxFactory
) -> None:
    store = jobs_store.store
    served = serve_sandbox(contacts=10)
    first = connect_organization(store, "org-00", served)  # its first import is deferred by connecting
    organizations = [first] + [connected_like(store, f"org-{n:02}", first) for n in range(1, ORGANIZATIONS)]

    for _ in range(3):
        jobs_store.start_worker(SALESBRIDGE_JOBS_SCHEDULE_CRON=EVERY_THREE_SECONDS)
    # "Sync now" on ten organizations, pressed three times each once their scheduled import has started: the next
    # import waits for the organization's lock.
    for n in range(1, 11):
        wait_until(
            lambda n=n: _started(jobs_store, organizations[n]),
            seconds=60,
            what=f"org-{n:02}'s import",
            logs=jobs_store.logs,
        )
        for _ in range(3):
            request_sync(store, slug=f"org-{n:02}", actor="ana@example.com")

    wait_until(
        lambda: _settled(jobs_store),
        seconds=150,
        what="every organization imported",
        logs=jobs_store.logs,
    )

    storage = served.sandbox.services.state.storage
    contacts = storage.scalar('SELECT count(*) FROM "contact"')
    for number, organization_id in enumerate(organizations):
        with store(organization_id, read_only=True) as uow:
            runs = sorted(
                uow.import_runs.recent(limit=50), key=lambda run: run.started_at or datetime.max.replace(tzinfo=UTC)
            )
            stored = uow.crm_records.count("contact")
        assert all(run.state is ImportState.SUCCEEDED for run in runs), (number, runs)
        assert stored == contacts, f"org-{number:02}: nothing lost"
        for earlier, later in itertools.pairwise(runs):
            assert earlier.finished_at is not None
            assert later.started_at is not None
            assert earlier.finished_at <= later.started_at, f"org-{number:02}: two imports at once"
        if number == 0 or number > 10:  # connecting or the schedule imported it, once: not due again for 15 minutes
            assert len(runs) == 1, f"org-{number:02}: {runs}"
        if 1 <= number <= 10:  # scheduled, then three presses once it had started: one more import
            assert [run.reason for run in runs] == [SCHEDULED_REASON, "sync now"], f"org-{number:02}"

    # Every period's scheduling job was deferred once, however many workers ran the periodic deferrer.
    duplicated = jobs_store.sql(
        f"SELECT args->>'timestamp', count(*) FROM procrastinate_jobs WHERE task_name = '{SCHEDULE_DUE_IMPORTS}' "
        "GROUP BY 1 HAVING count(*) > 1"
    )
    assert duplicated == []
    workers = jobs_store.sql(
        f"SELECT count(DISTINCT worker_id) FROM procrastinate_jobs WHERE task_name = '{IMPORT_ORGANIZATION}'"
    )
    assert workers == [(3,)], "the three workers shared the imports"


def _contacts(jobs_store: JobsStore, organization_id: uuid.UUID) -> int:
    with jobs_store.store(organization_id, read_only=True) as uow:
        return uow.crm_records.count("contact")


CONTACTS = 12000


def test_a_worker_killed_mid_import_another_worker_finishes_the_run_from_the_last_committed_page(
    jobs_store: JobsStore, serve_sandbox: SandboxFactory
) -> None:
    served = serve_sandbox(contacts=CONTACTS, latency_ms=200)
    acme = connect_organization(jobs_store.store, "acme", served)
    first = jobs_store.start_worker()
    wait_until(lambda: _contacts(jobs_store, acme) > 0, seconds=120, what="a page of contacts", logs=jobs_store.logs)

    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    interrupted_at = _contacts(jobs_store, acme)
    assert 0 < interrupted_at < CONTACTS, "killed in the middle of the contacts"
    # The latency only had to keep the first import going until the kill: the resumed and the next import run at
    # full speed (each makes dozens of requests).
    served.sandbox.services.faults.configure(FaultConfig())

    # A second worker: it finds the dead worker's job stalled (no heartbeat), retries it, and the job resumes the
    # run once the dead worker's lease has expired.
    jobs_store.start_worker(SALESBRIDGE_JOBS_SCHEDULE_CRON=EVERY_SECOND)

    def resumed() -> bool:
        with jobs_store.store(acme, read_only=True) as uow:
            return uow.import_runs.recent()[0].state is ImportState.SUCCEEDED

    wait_until(resumed, seconds=150, what="the import finished by the second worker", logs=jobs_store.logs)
    with jobs_store.store(acme, read_only=True) as uow:
        runs = uow.import_runs.recent()
        contact_state = next(state for state in uow.sync_states.all() if state.table_name == "contact")
    assert [(run.state, run.reason) for run in runs[:2]] == [
        (ImportState.SUCCEEDED, RETRY_REASON),
        (ImportState.FAILED, runs[1].reason),
    ]
    assert runs[1].error == STOPPED_WORKER_ERROR
    storage = served.sandbox.services.state.storage
    assert _contacts(jobs_store, acme) == storage.scalar('SELECT count(*) FROM "contact"')
    assert contact_state.rows_imported <= CONTACTS - interrupted_at + 5000, "resumed, at most one page replayed"
    # The dead worker's job does not hold the organization's lock for ever: the next "Sync now" runs.
    request_sync(jobs_store.store, slug="acme", actor="ana@example.com")
    wait_until(resumed, seconds=60, what="the next import", logs=jobs_store.logs)
    with jobs_store.store(acme, read_only=True) as uow:
        assert len(uow.import_runs.recent()) == 3
    wait_until(
        lambda: not organization_jobs(jobs_store.store, slug="acme", states=[JobState.QUEUED, JobState.RUNNING]),
        seconds=30,
        what="the import jobs ended",
        logs=jobs_store.logs,
    )


def test_cancelling_a_running_import_stops_it_at_its_next_page(
    jobs_store: JobsStore, serve_sandbox: SandboxFactory
) -> None:
    served = serve_sandbox(contacts=CONTACTS, latency_ms=200)
    acme = connect_organization(jobs_store.store, "acme", served)
    jobs_store.start_worker()
    wait_until(lambda: _contacts(jobs_store, acme) > 0, seconds=120, what="a page of contacts", logs=jobs_store.logs)
    running = organization_jobs(jobs_store.store, slug="acme", states=[JobState.RUNNING])
    assert [job.task for job in running] == [IMPORT_ORGANIZATION]

    cancel_job(jobs_store.store, running[0].id, actor="ops", organization_id=acme)
    at_cancel = _contacts(jobs_store, acme)

    def stopped() -> bool:
        job = organization_jobs(jobs_store.store, slug="acme")[0]
        return not job.state.active

    wait_until(stopped, seconds=60, what="the job stopped", logs=jobs_store.logs)
    with jobs_store.store(acme, read_only=True) as uow:
        runs = uow.import_runs.recent()
    assert [(run.state, run.error) for run in runs] == [(ImportState.FAILED, CANCELLED_IMPORT_ERROR)]
    assert organization_jobs(jobs_store.store, slug="acme")[0].state is JobState.CANCELLED
    assert _contacts(jobs_store, acme) <= at_cancel + 5000, "at most the page in flight"
    assert _contacts(jobs_store, acme) < CONTACTS


def _cli(jobs_store: JobsStore, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "salesbridge", *args],
        capture_output=True,
        text=True,
        env=jobs_store.env(COLUMNS="200"),
        timeout=60,
        check=False,
    )


def test_a_failed_job_is_listed_with_its_state_and_retried_from_the_command_line(
    jobs_store: JobsStore, serve_sandbox: SandboxFactory
) -> None:
    acme = connect_organization(jobs_store.store, "acme", serve_sandbox())
    # A worker holding another credential key cannot read the stored secret: the job fails.
    from salesbridge.store.secrets import generate_key

    wrong = jobs_store.start_worker(SALESBRIDGE_CREDENTIAL_KEY=generate_key().get_secret_value())

    def failed() -> bool:
        return organization_jobs(jobs_store.store, slug="acme")[0].state is JobState.FAILED

    wait_until(failed, seconds=60, what="the job failed", logs=jobs_store.logs)
    wrong.send_signal(signal.SIGTERM)
    wrong.wait(timeout=30)
    listed = _cli(jobs_store, "jobs", "list", "--org", "acme", "--state", "failed", "--json")
    assert listed.returncode == 0, listed.stderr
    [job] = json.loads(listed.stdout)
    assert (job["task"], job["state"], job["organization_id"]) == (IMPORT_ORGANIZATION, "failed", str(acme))

    retried = _cli(jobs_store, "jobs", "retry", job["id"])
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "queued" in retried.stdout
    jobs_store.start_worker()

    def succeeded() -> bool:
        with jobs_store.store(acme, read_only=True) as uow:
            return uow.import_runs.recent()[0].state is ImportState.SUCCEEDED

    wait_until(succeeded, seconds=60, what="the retried import", logs=jobs_store.logs)

    # The worker marks the job succeeded once the task has returned, in a transaction after the run's own.
    def job_succeeded() -> bool:
        return organization_jobs(jobs_store.store, slug="acme")[0].state is JobState.SUCCEEDED

    wait_until(job_succeeded, seconds=30, what="the retried job marked succeeded", logs=jobs_store.logs)
    table = _cli(jobs_store, "jobs", "list")
    assert table.returncode == 0, table.stderr
    assert "import_organization" in table.stdout, table.stdout
    assert "acme" in table.stdout, table.stdout
