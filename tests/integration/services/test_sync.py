"""Running imports against a demo sandbox over TLS, on SQLite and PostgreSQL: "Sync now", one run per
organization, the status (last sync date, per table), failures shown with their reason and since when and
retried with backoff, a disconnect stopping a running import, and the embedded runner's schedule."""

from __future__ import annotations

import ssl
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from tests.integration.services.conftest import RunningSandbox

from salesbridge.errors import InvalidRequestError
from salesbridge.jobs.runner import EmbeddedRunner
from salesbridge.services.connecting import create_organization
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.ports import CrmSessionFactory
from salesbridge.services.sync import (
    MAX_BACKOFF,
    next_run_due,
    request_sync,
    schedule_if_due,
    sync_status,
)
from salesbridge.store.tables import ImportState
from salesbridge.store.uow import UnitOfWorkFactory, utc_now
from salesbridge.web.localized import sync_failure_message


def set_faults(sandbox: RunningSandbox, **faults: float) -> None:
    admin = {"X-Sandbox-Admin-Token": sandbox.sandbox.services.admin_token}
    context = ssl.create_default_context(cafile=str(sandbox.ca_bundle))
    with httpx.Client(verify=context) as client:
        response = client.put(f"{sandbox.org_url}/_sandbox/faults", json=faults, headers=admin)
    assert response.status_code == 200, response.text


async def test_sync_now_imports_and_the_status_shows_the_last_sync_date(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, acme: uuid.UUID
) -> None:
    before = sync_status(store, slug="acme", clock=utc_now)
    assert before.last_sync_at is None
    assert before.queued, "connecting queued the first import"

    request_sync(store, slug="acme", actor="admin@acme.test")
    outcome = await run_pending_import(store, sessions, acme, clock=utc_now)

    assert outcome is not None
    assert outcome.succeeded
    status = sync_status(store, slug="acme", clock=utc_now)
    assert status.last_sync_at is not None
    assert not status.failing
    assert {table.table for table in status.tables} >= {"account", "contact", "lead", "opportunity", "systemuser"}
    assert all(table.last_success_at is not None for table in status.tables)
    assert await run_pending_import(store, sessions, acme, clock=utc_now) is None, "nothing queued any more"
    with store(acme) as uow:
        actions = [entry.action for entry in uow.audit.recent(limit=20)]
        crm_users = uow.crm_users.count()
    assert "crm.imported" in actions
    assert "crm.sync_requested" in actions
    assert crm_users > 10, "the CRM users come from the imported systemuser rows"


async def test_at_most_one_import_runs_per_organization(store: UnitOfWorkFactory, acme: uuid.UUID) -> None:
    request_sync(store, slug="acme", actor="admin")
    with store(acme) as uow:
        first = uow.import_runs.claim(lease=timedelta(minutes=5))
        uow.commit()
    request_sync(store, slug="acme", actor="admin")
    with store(acme) as uow:
        assert first is not None
        assert uow.import_runs.claim(lease=timedelta(minutes=5)) is None, "the first run holds the lease"
        uow.rollback()


async def test_a_dead_workers_run_is_taken_over_once_its_lease_expires(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, acme: uuid.UUID
) -> None:
    request_sync(store, slug="acme", actor="admin")
    with store(acme) as uow:
        dead = uow.import_runs.claim(lease=timedelta(seconds=-1))  # a lease that has already run out
        uow.commit()
    assert dead is not None
    request_sync(store, slug="acme", actor="admin")

    outcome = await run_pending_import(store, sessions, acme, clock=utc_now)

    assert outcome is not None
    assert outcome.succeeded
    with store(acme) as uow:
        taken_over = uow.import_runs.get(dead.id)
    assert taken_over is not None
    assert taken_over.state is ImportState.FAILED


async def test_failures_are_shown_with_reason_and_since_and_retried_with_backoff(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, fresh_demo: RunningSandbox, acme: uuid.UUID
) -> None:
    set_faults(fresh_demo, unavailable_rate=1.0)
    for _ in range(2):
        request_sync(store, slug="acme", actor="admin")
        outcome = await run_pending_import(store, sessions, acme, clock=utc_now)
        assert outcome is not None
        assert not outcome.succeeded

    status = sync_status(store, slug="acme", clock=utc_now)
    assert status.failing
    assert status.consecutive_failures == 2
    message = sync_failure_message(status.failing_since, status.failure_reason, "en")
    assert message is not None
    assert "failing since" in message
    assert "keeps retrying" in message
    assert sync_failure_message(status.failing_since, status.failure_reason, "es") != message
    assert status.next_run_at is not None
    assert status.failing_since is not None
    assert status.next_run_at > status.failing_since + status.interval, "the second failure doubles the wait"

    set_faults(fresh_demo, unavailable_rate=0.0)
    request_sync(store, slug="acme", actor="admin")
    healed = await run_pending_import(store, sessions, acme, clock=utc_now)
    assert healed is not None
    assert healed.succeeded
    assert not sync_status(store, slug="acme", clock=utc_now).failing


def test_backoff_doubles_and_is_capped() -> None:
    start = datetime(2026, 11, 29, tzinfo=UTC)
    interval = timedelta(minutes=15)

    assert next_run_due(last_finished_at=None, interval=interval, consecutive_failures=0) is None
    assert next_run_due(last_finished_at=start, interval=interval, consecutive_failures=0) == start + interval
    assert next_run_due(last_finished_at=start, interval=interval, consecutive_failures=3) == start + 4 * interval
    assert next_run_due(last_finished_at=start, interval=interval, consecutive_failures=30) == start + MAX_BACKOFF


async def test_a_disconnect_stops_a_running_import_at_its_next_page(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, acme: uuid.UUID
) -> None:
    at_disconnect: list[int] = []

    def disconnect_after_first_page(_table: str, _rows: int) -> None:
        if at_disconnect:
            return
        with store(acme) as uow:
            uow.crm_connection.delete()
            uow.commit()
        with store(acme) as uow:  # what was committed by then (a page in flight may have made it first)
            at_disconnect.append(uow.crm_records.count("systemuser"))

    request_sync(store, slug="acme", actor="admin")
    outcome = await run_pending_import(
        store, sessions, acme, clock=utc_now, progress=disconnect_after_first_page, page_size=5
    )

    assert outcome is not None
    assert not outcome.succeeded
    assert outcome.error is not None
    assert "disconnected" in outcome.error
    with store(acme) as uow:
        assert uow.crm_records.count("systemuser") == at_disconnect[0], "nothing was stored after the disconnect"
    assert at_disconnect[0] >= 5


async def test_sync_now_needs_a_connection(store: UnitOfWorkFactory) -> None:
    create_organization(store, slug="globex", seats=1)

    with pytest.raises(InvalidRequestError):
        request_sync(store, slug="globex", actor="admin")


async def test_the_runner_schedules_when_due_and_runs_what_is_queued(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, acme: uuid.UUID
) -> None:
    assert not schedule_if_due(store, acme, clock=utc_now), "connecting queued the first import already"
    runner = EmbeddedRunner(store, sessions, store.connected_organization_ids, clock=utc_now)

    outcomes = await _in_thread(runner.run_once)

    assert [outcome.succeeded for outcome in outcomes] == [True]
    assert not schedule_if_due(store, acme, clock=utc_now), "just synced: not due for 15 minutes"
    later = datetime.now(UTC) + timedelta(minutes=16)
    assert schedule_if_due(store, acme, clock=lambda: later)


async def _in_thread(function):  # type: ignore[no-untyped-def]
    import asyncio

    return await asyncio.to_thread(function)


async def test_a_stage_moved_back_in_the_crm_takes_the_account_out_of_the_owners_list_after_the_next_sync(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, fresh_demo: RunningSandbox, acme: uuid.UUID
) -> None:
    from salesbridge.crm.dynamics import DynamicsConnector
    from salesbridge.services.accounts import AccountService
    from salesbridge.services.lists import show_lists
    from salesbridge.store.tables import ListKind, StageSource

    request_sync(store, slug="acme", actor="admin")
    assert (await run_pending_import(store, sessions, acme, clock=utc_now)).succeeded  # type: ignore[union-attr]
    with store(acme) as uow:
        uow.crm_settings.save(
            stage_source=StageSource.SALES_STAGE,
            stage_threshold="2",
            won_value_column="actualvalue",
            won_value_base_currency=False,
            auto_save_enabled=True,
            sync_interval_minutes=15,
        )
        users = {user.crm_id: user for user in uow.crm_users.list_all()}
        opportunities = [
            record
            for record in uow.crm_records.records("opportunity")
            if record.state_code == 0 and (record.data.get("salesstage") or 0) >= 2 and record.parent_id
        ]
        uow.commit()
    by_account: dict[tuple[str, str], list[str]] = {}
    for record in opportunities:
        assert record.owner_id is not None
        by_account.setdefault((record.owner_id, str(record.parent_id)), []).append(record.crm_id)
    (owner, account), (opportunity,) = next(
        (key, ids) for key, ids in by_account.items() if len(ids) == 1 and users[key[0]].email
    )
    email = users[owner].email
    assert email is not None
    AccountService(store, clock=utc_now).create_user(
        "acme", email=email, display_name="Owner", password=None, is_admin=False, with_seat=True, actor="admin"
    )
    request_sync(store, slug="acme", actor="admin")
    assert (await run_pending_import(store, sessions, acme, clock=utc_now)).succeeded  # type: ignore[union-attr]

    def saved_accounts() -> set[str]:
        lists = show_lists(store, "acme", email)
        return {item.crm_id for view in lists if view.kind is ListKind.CRM_ACCOUNTS for item in view.items}

    assert account in saved_accounts()
    session = sessions(fresh_demo.connected_credentials())
    assert isinstance(session, DynamicsConnector)
    try:
        await session.writer.update("opportunity", opportunity, {"salesstage": 0})
    finally:
        await session.close()
    request_sync(store, slug="acme", actor="admin")
    assert (await run_pending_import(store, sessions, acme, clock=utc_now)).succeeded  # type: ignore[union-attr]

    assert account not in saved_accounts()
