"""Deferring through the job API on procrastinate's tables (PostgreSQL): jobs commit with the business change that
causes them or not at all, the queueing lock keeps one import waiting, and cancel and the operations view work on
the real tables. No worker runs here (tests/integration/jobs/test_workers.py runs them)."""

from __future__ import annotations

from tests.integration.jobs.conftest import JobsStore, SandboxFactory, connect_organization

from salesbridge.domain.jobs import CANCELLED_IMPORT_ERROR, IMPORT_ORGANIZATION, JobState
from salesbridge.domain.workspace import ImportState
from salesbridge.services.jobs import cancel_job, deployment_jobs, organization_jobs
from salesbridge.services.sync import SYNC_NOW_REASON, queue_import, request_sync


def test_connecting_defers_the_first_import_and_sync_now_pressed_ten_times_queues_one_job(
    jobs_store: JobsStore, serve_sandbox: SandboxFactory
) -> None:
    store = jobs_store.store
    acme = connect_organization(store, "acme", serve_sandbox())

    first = organization_jobs(store, slug="acme")
    assert [(job.task, job.state) for job in first] == [(IMPORT_ORGANIZATION, JobState.QUEUED)]
    assert first[0].organization_id == acme

    run_ids = {request_sync(store, slug="acme", actor="ana@example.com") for _ in range(10)}

    assert len(run_ids) == 1, "one import run queued"
    queued = jobs_store.sql(
        f"SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo' AND args->>'organization_id' = '{acme}'"
    )
    assert queued == [(1,)], "one import job queued"
    locks = jobs_store.sql("SELECT lock, queueing_lock FROM procrastinate_jobs")
    assert locks == [(f"org:{acme}", f"import:{acme}")]


def test_a_job_deferred_in_a_unit_of_work_that_does_not_commit_is_not_queued(
    jobs_store: JobsStore, serve_sandbox: SandboxFactory
) -> None:
    store = jobs_store.store
    acme = connect_organization(store, "acme", serve_sandbox())
    cancel_job(store, organization_jobs(store, slug="acme")[0].id, actor="ops")

    with store(acme) as uow:
        queue_import(uow, reason=SYNC_NOW_REASON)
        assert [job.state for job in uow.jobs.list(states=[JobState.QUEUED])] == [JobState.QUEUED]
        uow.rollback()

    assert organization_jobs(store, slug="acme", states=[JobState.QUEUED]) == []
    with store(acme) as uow:
        assert uow.import_runs.queued() == []


def test_cancelling_a_queued_import_job_ends_its_run_and_the_view_says_so(
    jobs_store: JobsStore, serve_sandbox: SandboxFactory
) -> None:
    store = jobs_store.store
    served = serve_sandbox()
    acme = connect_organization(store, "acme", served)
    connect_organization(store, "globex", served)
    job = organization_jobs(store, slug="acme")[0]

    cancelled = cancel_job(store, job.id, actor="ops")

    assert cancelled.state is JobState.CANCELLED
    with store(acme) as uow:
        run = uow.import_runs.recent()[0]
        assert "job.cancelled" in [entry.action for entry in uow.audit.recent(limit=5)]
    assert (run.state, run.error) == (ImportState.FAILED, CANCELLED_IMPORT_ERROR)
    everyone = deployment_jobs(store)
    assert sorted(job.state for job in everyone) == [JobState.CANCELLED, JobState.QUEUED]
    assert [job.state for job in deployment_jobs(store, slug="globex")] == [JobState.QUEUED]
