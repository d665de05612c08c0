"""The task functions on the in-memory store, with the CRM faked at its edge: the scheduling task queues each due
import with its job (the organization's locks), an import job runs the queued run, one whose CRM refuses fails
with its run's reason (not retried), and one that finds another worker's run still leased asks to be retried
(procrastinate and the embedded runner run these same functions)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from tests.fakes.store import FakeClock, FakeStore
from tests.unit.services.test_import_runs import FakeDynamics

from salesbridge.domain.jobs import (
    CANCELLED_IMPORT_ERROR,
    IMPORT_ORGANIZATION,
    TASK_SPECS,
    Job,
    JobState,
    RetryStrategy,
    import_queueing_lock,
    organization_lock,
)
from salesbridge.domain.workspace import CrmCredentials, ImportState
from salesbridge.errors import AuthError, ImportBusyError, ImportFailedError, UndecryptableSecretError
from salesbridge.jobs.tasks import TASKS, TaskContext, import_organization, schedule_due_imports
from salesbridge.services.jobs import cancel_job
from salesbridge.services.ports import CrmSession, CrmSessionFactory
from salesbridge.services.sync import SCHEDULED_REASON

REFUSAL = "Principal user is missing prvReadContact privilege."


def no_crm(credentials: CrmCredentials) -> CrmSession:
    raise AssertionError("no CRM session is opened")


def test_the_schedule_queues_each_connected_organizations_due_import_with_its_job_once() -> None:
    clock = FakeClock()
    store = FakeStore(clock=clock)
    acme, globex, initech = (store.add_organization(slug) for slug in ("acme", "globex", "initech"))
    store.connect(acme)
    store.connect(globex)
    context = TaskContext(store, no_crm, clock)

    assert schedule_due_imports(context) == 2
    assert schedule_due_imports(context) == 0, "queued already: nothing more"

    for organization_id in (acme, globex):
        [run] = store.tables(organization_id).import_runs.values()
        assert (run.state, run.reason) == (ImportState.QUEUED, SCHEDULED_REASON)
        [row] = store.tables(organization_id).jobs.values()
        assert (row.job.task, row.job.state) == (IMPORT_ORGANIZATION, JobState.QUEUED)
        assert (row.lock, row.queueing_lock) == (
            organization_lock(organization_id),
            import_queueing_lock(organization_id),
        )
    assert store.tables(initech).jobs == {}, "not connected: not scheduled"


def test_the_schedule_defers_a_queued_runs_job_again_when_its_job_ended() -> None:
    store, acme, context, failed = _started_import(no_crm)
    store.end_job(failed.id, JobState.FAILED)  # a store outage in the worker, say

    assert schedule_due_imports(context) == 0, "the run is queued already"

    assert [job.state for job in store.jobs.list(organization_id=acme)] == [JobState.QUEUED, JobState.FAILED]
    assert len(store.tables(acme).import_runs) == 1


def test_an_import_job_runs_the_queued_run() -> None:
    clock = FakeClock()
    store = FakeStore(clock=clock)
    acme = store.add_organization("acme")
    store.connect(acme)
    context = TaskContext(store, FakeDynamics(), clock)
    schedule_due_imports(context)

    outcome = asyncio.run(TASKS[IMPORT_ORGANIZATION](context, organization_id=str(acme), reason=SCHEDULED_REASON))

    assert outcome is not None
    assert outcome.succeeded
    assert asyncio.run(import_organization(context, organization_id=str(acme))) is None, "nothing queued"


def test_an_import_job_finding_another_workers_run_leased_asks_to_be_retried() -> None:
    clock = FakeClock()
    store = FakeStore(clock=clock)
    acme = store.add_organization("acme")
    store.connect(acme)
    with store(acme) as uow:
        uow.import_runs.enqueue(reason="sync now")
        uow.import_runs.claim(lease=timedelta(seconds=120))  # a worker that died holds it
        uow.import_runs.enqueue(reason="sync now")
        uow.commit()
    context = TaskContext(store, no_crm, clock)

    with pytest.raises(ImportBusyError):
        asyncio.run(import_organization(context, organization_id=str(acme)))

    assert TASK_SPECS[IMPORT_ORGANIZATION].retry.wait_before(1, ImportBusyError("busy")) is not None


def test_retries_back_off_exponentially_up_to_a_cap_and_only_for_the_errors_named() -> None:
    strategy = RetryStrategy(
        max_attempts=5, initial_wait=timedelta(seconds=2), backoff=3, max_wait=timedelta(seconds=30)
    )

    waits = [strategy.wait_before(attempt) for attempt in range(1, 6)]

    assert waits == [timedelta(seconds=2), timedelta(seconds=6), timedelta(seconds=18), timedelta(seconds=30), None]
    imports = TASK_SPECS[IMPORT_ORGANIZATION].retry
    assert imports.wait_before(1, UndecryptableSecretError("another key")) is None, "a bug or a bad key: no retry"
    with pytest.raises(ValueError, match="max_attempts"):
        RetryStrategy(max_attempts=0)


def _started_import(crm: CrmSessionFactory) -> tuple[FakeStore, uuid.UUID, TaskContext, Job]:
    """A connected organization whose scheduled import job a worker has started, its CRM ``crm``."""
    clock = FakeClock()
    store = FakeStore(clock=clock)
    acme = store.add_organization("acme")
    store.connect(acme)
    context = TaskContext(store, crm, clock)
    schedule_due_imports(context)
    [job] = store.jobs.list(organization_id=acme)
    store.end_job(job.id, JobState.RUNNING)
    return store, acme, context, job


def test_an_import_job_whose_crm_refuses_fails_after_its_run_with_the_runs_reason_not_retried() -> None:
    crm = FakeDynamics()

    def refused(table: str) -> None:
        if table == "contact":
            raise AuthError(REFUSAL)

    crm.on_read = refused
    store, acme, context, job = _started_import(crm)

    with pytest.raises(ImportFailedError) as raised:
        asyncio.run(import_organization(context, organization_id=str(acme), job_id=job.id))
    store.end_job(job.id, JobState.FAILED)  # what the engine does with a task that raised

    [run] = store.tables(acme).import_runs.values()
    assert (run.state, run.error) == (ImportState.FAILED, REFUSAL), "recorded before the job fails"
    assert (raised.value.run_id, raised.value.reason) == (run.id, REFUSAL)
    failed = store.jobs.find(job.id)
    assert failed is not None
    assert (failed.state, failed.error) == (JobState.FAILED, REFUSAL)
    assert TASK_SPECS[IMPORT_ORGANIZATION].retry.wait_before(1, raised.value) is None, "the schedule retries it"


def test_an_import_stopped_by_its_cancellation_is_no_failure_of_its_job() -> None:
    crm = FakeDynamics()
    store, acme, context, job = _started_import(crm)

    def cancelled(table: str) -> None:
        if table == "contact":
            cancel_job(store, job.id, actor="ops")

    crm.on_read = cancelled

    outcome = asyncio.run(import_organization(context, organization_id=str(acme), job_id=job.id))

    assert outcome is not None
    assert (outcome.succeeded, outcome.stopped) == (False, True)
    [run] = store.tables(acme).import_runs.values()
    assert (run.state, run.error) == (ImportState.FAILED, CANCELLED_IMPORT_ERROR)
