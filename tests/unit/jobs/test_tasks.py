"""The task functions on the in-memory store, with the CRM faked at its edge: the scheduling task queues each due
import with its job (the organization's locks), an import job runs the queued run, and one that finds another
worker's run still leased asks to be retried (procrastinate and the embedded runner run these same functions)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from tests.fakes.store import FakeClock, FakeStore
from tests.unit.services.test_import_runs import FakeDynamics

from salesbridge.domain.jobs import (
    IMPORT_ORGANIZATION,
    TASK_SPECS,
    JobState,
    RetryStrategy,
    import_queueing_lock,
    organization_lock,
)
from salesbridge.domain.workspace import CrmCredentials, ImportState
from salesbridge.errors import ImportBusyError, UndecryptableSecretError
from salesbridge.jobs.tasks import TASKS, TaskContext, import_organization, schedule_due_imports
from salesbridge.services.ports import CrmSession
from salesbridge.services.sync import SCHEDULED_REASON


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
    clock = FakeClock()
    store = FakeStore(clock=clock)
    acme = store.add_organization("acme")
    store.connect(acme)
    context = TaskContext(store, no_crm, clock)
    schedule_due_imports(context)
    [failed] = store.jobs.list(organization_id=acme)
    store.end_job(failed.id, JobState.RUNNING)
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
