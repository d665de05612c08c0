"""The rules of sync runs, on the in-memory store: "Sync now" queues one run, one run per organization holds the
lease, a dead worker's run is failed and replaced at once (once in a row), failures back off, and the status says
so. (The same use cases against SQLite, PostgreSQL and the sandbox: tests/integration/services/test_sync.py and
test_import_lease.py.)"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from tests.fakes.store import FakeClock, FakeStore

from salesbridge.domain.sync_runs import STOPPED_WORKER_ERROR, ImportReport, ImportSettings, SyncMode, TableReport
from salesbridge.domain.workspace import ImportState
from salesbridge.errors import ImportCancelledError, InvalidRequestError, UnknownOrganizationError
from salesbridge.services.sync import (
    DEFAULT_INTERVAL,
    LEASE,
    MAX_BACKOFF,
    RETRY_REASON,
    SCHEDULED_REASON,
    SYNC_NOW_REASON,
    THROTTLE_SHOWN,
    ClaimedRun,
    RunOutcome,
    claim_next_run,
    end_failed,
    ensure_still_running,
    record_success,
    request_sync,
    schedule_if_due,
    sync_failure,
    sync_status,
)
from salesbridge.web.localized import sync_failure_message, sync_throttled_message


@pytest.fixture
def acme(store: FakeStore) -> uuid.UUID:
    organization_id = store.add_organization("acme")
    store.connect(organization_id)
    return organization_id


def claim(store: FakeStore, organization_id: uuid.UUID) -> ClaimedRun:
    claimed = claim_next_run(store, organization_id, lease=LEASE)
    assert isinstance(claimed, ClaimedRun)
    return claimed


def runs(store: FakeStore, organization_id: uuid.UUID) -> list[tuple[str, ImportState]]:
    with store(organization_id, read_only=True) as uow:
        return [(run.reason, run.state) for run in reversed(uow.import_runs.recent())]


def fail_run(store: FakeStore, organization_id: uuid.UUID, reason: str = "the CRM timed out") -> None:
    end_failed(store, organization_id, claim(store, organization_id).run_id, reason)


def test_sync_now_queues_one_run_and_a_second_click_returns_it(store: FakeStore, acme: uuid.UUID) -> None:
    first = request_sync(store, slug="acme", actor="ana@acme.test")
    second = request_sync(store, slug="acme", actor="ana@acme.test")

    assert second == first
    assert runs(store, acme) == [(SYNC_NOW_REASON, ImportState.QUEUED)]
    assert store.audit_actions(acme) == ["crm.sync_requested", "crm.sync_requested"]
    assert sync_status(store, slug="acme", clock=store.clock).queued


def test_sync_now_is_refused_without_a_connection_and_for_an_unknown_organization(store: FakeStore) -> None:
    store.add_organization("bare")

    with pytest.raises(InvalidRequestError):
        request_sync(store, slug="bare", actor="ana@acme.test")
    with pytest.raises(UnknownOrganizationError):
        request_sync(store, slug="nobody", actor="ana@acme.test")


def test_a_claim_takes_the_queued_run_with_what_the_import_needs(store: FakeStore, acme: uuid.UUID) -> None:
    run_id = request_sync(store, slug="acme", actor="ana@acme.test")
    store.tables(acme).import_settings = ImportSettings(
        sync_interval_minutes=15, won_value_column="new_wonvalue", won_value_base_currency=True
    )

    claimed = claim(store, acme)

    assert claimed.run_id == run_id
    assert claimed.credentials.client_secret.get_secret_value() == "client-secret"
    assert claimed.extra_columns == {"opportunity": ("new_wonvalue", "new_wonvalue_base")}
    assert runs(store, acme) == [(SYNC_NOW_REASON, ImportState.RUNNING)]


def test_one_run_at_a_time_while_its_lease_lives(store: FakeStore, acme: uuid.UUID, clock: FakeClock) -> None:
    request_sync(store, slug="acme", actor="ana@acme.test")
    claim(store, acme)
    request_sync(store, slug="acme", actor="ana@acme.test")
    clock.advance(LEASE - timedelta(seconds=1))

    assert claim_next_run(store, acme, lease=LEASE) is None, "the first run still holds the lease"
    assert runs(store, acme) == [(SYNC_NOW_REASON, ImportState.RUNNING), (SYNC_NOW_REASON, ImportState.QUEUED)]


def test_nothing_queued_means_nothing_claimed(store: FakeStore, acme: uuid.UUID) -> None:
    assert claim_next_run(store, acme, lease=LEASE) is None


def test_a_run_claimed_after_a_disconnect_ends_failed_at_once(store: FakeStore, acme: uuid.UUID) -> None:
    run_id = request_sync(store, slug="acme", actor="ana@acme.test")
    store.tables(acme).crm_connection = None

    outcome = claim_next_run(store, acme, lease=LEASE)

    assert outcome == RunOutcome(run_id, succeeded=False, error="not connected")
    assert runs(store, acme) == [(SYNC_NOW_REASON, ImportState.FAILED)]


def test_a_dead_workers_run_is_failed_and_replaced_at_once_by_the_next_claim(
    store: FakeStore, acme: uuid.UUID, clock: FakeClock
) -> None:
    request_sync(store, slug="acme", actor="ana@acme.test")
    dead = claim(store, acme)
    clock.advance(LEASE)  # the worker stopped renewing: its lease has run out

    replacement = claim(store, acme)

    assert replacement.run_id != dead.run_id
    assert runs(store, acme) == [(SYNC_NOW_REASON, ImportState.FAILED), (RETRY_REASON, ImportState.RUNNING)]
    with store(acme, read_only=True) as uow:
        failed = uow.import_runs.last_finished(ImportState.FAILED)
    assert failed is not None
    assert failed.error == STOPPED_WORKER_ERROR


def test_the_scheduler_replaces_a_dead_run_at_once_but_only_once_in_a_row(
    store: FakeStore, acme: uuid.UUID, clock: FakeClock
) -> None:
    request_sync(store, slug="acme", actor="ana@acme.test")
    claim(store, acme)
    clock.advance(LEASE)

    assert schedule_if_due(store, acme, clock=clock), "replaced without waiting for a backoff step"
    claim(store, acme)
    clock.advance(LEASE)  # the replacement's worker died too

    assert not schedule_if_due(store, acme, clock=clock), "a second death in a row waits for the backoff"
    assert [state for _reason, state in runs(store, acme)] == [ImportState.FAILED, ImportState.FAILED]


def test_a_worker_whose_run_was_taken_over_or_cancelled_stops(store: FakeStore, acme: uuid.UUID) -> None:
    request_sync(store, slug="acme", actor="ana@acme.test")
    run_id = claim(store, acme).run_id
    with store(acme) as uow:
        uow.imported_data.cancel_imports(error="disconnected")
        uow.commit()

    with store(acme) as uow, pytest.raises(ImportCancelledError):
        ensure_still_running(uow, run_id, lease=LEASE)


def test_a_page_renews_the_lease(store: FakeStore, acme: uuid.UUID, clock: FakeClock) -> None:
    request_sync(store, slug="acme", actor="ana@acme.test")
    run_id = claim(store, acme).run_id
    clock.advance(LEASE - timedelta(seconds=1))
    with store(acme) as uow:
        ensure_still_running(uow, run_id, lease=LEASE)
        uow.commit()
    clock.advance(timedelta(seconds=2))

    assert claim_next_run(store, acme, lease=LEASE) is None, "the renewed lease still lives"
    assert runs(store, acme) == [(SYNC_NOW_REASON, ImportState.RUNNING)]


def test_failures_back_off_and_every_page_says_so(store: FakeStore, acme: uuid.UUID, clock: FakeClock) -> None:
    for _ in range(3):
        request_sync(store, slug="acme", actor="ana@acme.test")  # "Sync now" does not wait for the backoff
        fail_run(store, acme)
    failed_at = clock.now

    status = sync_status(store, slug="acme", clock=clock)

    assert status.consecutive_failures == 3
    assert status.next_run_at == failed_at + DEFAULT_INTERVAL * 4, "15 min doubled for each failure after the first"
    assert status.failure_reason == "the CRM timed out"
    assert not schedule_if_due(store, acme, clock=clock), "not due before the backoff"
    failure = sync_failure(store, slug="acme")
    assert failure is not None
    assert (failure.since, failure.reason) == (status.failing_since, "the CRM timed out")
    assert sync_failure_message(failure.since, failure.reason, "en") == (
        f"CRM sync has been failing since {failure.since:%Y-%m-%d %H:%M} UTC: the CRM timed out salesbridge keeps "
        "retrying automatically."
    )
    assert store.audit_actions(acme).count("crm.import_failed") == 3

    clock.advance(DEFAULT_INTERVAL * 4)
    assert schedule_if_due(store, acme, clock=clock)
    assert runs(store, acme)[-1] == (SCHEDULED_REASON, ImportState.QUEUED)


def test_the_backoff_stops_at_its_ceiling(store: FakeStore, acme: uuid.UUID, clock: FakeClock) -> None:
    for _ in range(12):
        schedule_if_due(store, acme, clock=clock)
        fail_run(store, acme)
        clock.advance(MAX_BACKOFF)

    status = sync_status(store, slug="acme", clock=clock)

    assert status.consecutive_failures == 12
    assert status.next_run_at == clock.now, "six hours after the last failure at most: due now"


def test_a_success_ends_the_streak_and_is_audited(store: FakeStore, acme: uuid.UUID, clock: FakeClock) -> None:
    schedule_if_due(store, acme, clock=clock)
    fail_run(store, acme)
    clock.advance(DEFAULT_INTERVAL)
    schedule_if_due(store, acme, clock=clock)
    run_id = claim(store, acme).run_id
    report = ImportReport([TableReport("account", SyncMode.CHANGE_TRACKING, rows_imported=7)])

    with store(acme) as uow:
        outcome = record_success(uow, run_id, report, {"list_items_added": 2})
        uow.commit()

    status = sync_status(store, slug="acme", clock=clock)
    assert outcome.succeeded
    assert outcome.report is report
    assert not status.failing
    assert status.last_sync_at == clock.now
    assert status.next_run_at == clock.now + DEFAULT_INTERVAL
    assert sync_failure(store, slug="acme") is None
    with store(acme, read_only=True) as uow:
        entry = uow.audit.recent(limit=1)[0]
    assert (entry.action, entry.details["rows_imported"], entry.details["list_items_added"]) == ("crm.imported", 7, 2)


def test_the_schedule_waits_for_the_interval_and_never_runs_a_disconnected_organization(
    store: FakeStore, acme: uuid.UUID, clock: FakeClock
) -> None:
    assert schedule_if_due(store, acme, clock=clock), "never imported: due now"
    assert not schedule_if_due(store, acme, clock=clock), "one queued is enough"
    run_id = claim(store, acme).run_id
    with store(acme) as uow:
        record_success(uow, run_id, ImportReport())
        uow.commit()
    clock.advance(DEFAULT_INTERVAL - timedelta(seconds=1))
    assert not schedule_if_due(store, acme, clock=clock)
    clock.advance(timedelta(seconds=1))
    store.tables(acme).crm_connection = None
    assert not schedule_if_due(store, acme, clock=clock)
    assert not sync_status(store, slug="acme", clock=clock).connected


def test_a_running_import_throttled_by_dynamics_says_until_when_then_stops_saying_it(
    store: FakeStore, acme: uuid.UUID, clock: FakeClock
) -> None:
    request_sync(store, slug="acme", actor="ana@acme.test")
    run_id = claim(store, acme).run_id
    assert sync_status(store, slug="acme", clock=clock).throttled_until is None
    until = clock() + timedelta(seconds=30)
    with store(acme) as uow:
        uow.import_runs.note_throttled(run_id, until=until)
        uow.commit()

    status = sync_status(store, slug="acme", clock=clock)

    assert status.throttled_until == until
    assert status.to_json()["throttled_until"] == until.isoformat()
    assert sync_throttled_message(status.throttled_until, "en") == (
        "Dynamics is throttling requests (too many in a short time): the import waits as Dynamics asks and tries "
        "again at 09:00:30 UTC. Nothing to do: it goes on by itself."
    )
    assert (sync_throttled_message(status.throttled_until, "es") or "").startswith(
        "Dynamics está limitando las solicitudes (demasiadas en poco tiempo): la importación espera lo que "
        "Dynamics indica y vuelve a intentarlo a las 09:00:30 UTC."
    )
    clock.advance(timedelta(seconds=30) + THROTTLE_SHOWN + timedelta(seconds=1))
    assert sync_status(store, slug="acme", clock=clock).throttled_until is None, "a storm long over"
    assert sync_throttled_message(None, "en") is None


def test_an_import_that_gave_up_throttled_says_dynamics_throttles_until_the_schedulers_next_try(
    store: FakeStore, acme: uuid.UUID, clock: FakeClock
) -> None:
    request_sync(store, slug="acme", actor="ana@acme.test")
    run_id = claim(store, acme).run_id
    with store(acme) as uow:
        uow.import_runs.note_throttled(run_id, until=clock() + timedelta(seconds=30))
        uow.commit()
    end_failed(store, acme, run_id, "Dynamics throttled the request; retry after 30 s (HTTP 429)")

    status = sync_status(store, slug="acme", clock=clock)

    assert status.failing
    assert status.next_run_at is not None
    assert status.throttled_until == status.next_run_at, "the next try is the scheduler's, after Dynamics' wait"
