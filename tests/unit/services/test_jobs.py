"""The operations view of jobs on the in-memory store: "Sync now" queues one import job however often it is
pressed, cancelling an import job ends its run, retrying a failed one queues a run for it, and a console's
principal reaches its own organization's jobs only. (The same on procrastinate's tables and the embedded runner's:
tests/integration/jobs/, tests/integration/store/test_fake_store_contract.py.)"""

from __future__ import annotations

import pytest
from tests.fakes.store import FakeStore

from salesbridge.domain.jobs import CANCELLED_IMPORT_ERROR, IMPORT_ORGANIZATION, JobState
from salesbridge.domain.workspace import ImportState
from salesbridge.errors import InvalidRequestError, JobNotFoundError
from salesbridge.services.jobs import (
    RETRY_REASON,
    cancel_job,
    deployment_jobs,
    organization_jobs,
    retry_job,
)
from salesbridge.services.sync import request_sync


def connected(store: FakeStore, slug: str) -> None:
    organization_id = store.add_organization(slug)
    store.connect(organization_id)


def test_sync_now_pressed_ten_times_queues_one_import_job(store: FakeStore) -> None:
    connected(store, "acme")

    for _ in range(10):
        request_sync(store, slug="acme", actor="ana@acme.test")

    [job] = organization_jobs(store, slug="acme")
    assert (job.task, job.state, job.reason) == (IMPORT_ORGANIZATION, JobState.QUEUED, "sync now")


def test_cancelling_an_import_job_ends_its_run_and_is_audited(store: FakeStore) -> None:
    connected(store, "acme")
    request_sync(store, slug="acme", actor="ana@acme.test")
    [job] = organization_jobs(store, slug="acme")
    acme = store.organization_id("acme")
    assert acme is not None

    cancelled = cancel_job(store, job.id, actor="ana@acme.test", organization_id=acme)

    assert cancelled.state is JobState.CANCELLED
    [run] = store.tables(acme).import_runs.values()
    assert (run.state, run.error) == (ImportState.FAILED, CANCELLED_IMPORT_ERROR)
    assert store.audit_actions(acme)[-1] == "job.cancelled"
    with pytest.raises(InvalidRequestError, match="already ended"):
        cancel_job(store, job.id, actor="ana@acme.test")


def test_a_failed_import_job_is_retried_with_a_run_to_claim(store: FakeStore) -> None:
    connected(store, "acme")
    request_sync(store, slug="acme", actor="ana@acme.test")
    acme = store.organization_id("acme")
    assert acme is not None
    [job] = organization_jobs(store, slug="acme")
    with pytest.raises(InvalidRequestError, match="failed or cancelled"):
        retry_job(store, job.id, actor="ops")
    cancel_job(store, job.id, actor="ops")  # its run ends too
    store.end_job(job.id, JobState.FAILED)

    retried = retry_job(store, job.id, actor="ops")

    assert retried.state is JobState.QUEUED
    with store(acme, read_only=True) as uow:
        assert [run.reason for run in uow.import_runs.queued()] == [RETRY_REASON]
    assert store.audit_actions(acme)[-1] == "job.retried"


def test_a_console_principal_reaches_its_own_organizations_jobs_only(store: FakeStore) -> None:
    connected(store, "acme")
    connected(store, "globex")
    request_sync(store, slug="globex", actor="gus@globex.test")
    [theirs] = organization_jobs(store, slug="globex")
    acme = store.organization_id("acme")

    with pytest.raises(JobNotFoundError):
        cancel_job(store, theirs.id, actor="ana@acme.test", organization_id=acme)
    with pytest.raises(JobNotFoundError):
        retry_job(store, "no-such-job", actor="ops")

    assert organization_jobs(store, slug="acme") == []
    assert [job.id for job in deployment_jobs(store)] == [theirs.id]
    assert deployment_jobs(store, slug="globex", states=[JobState.FAILED]) == []
