"""Sync health's use cases against a demo sandbox over TLS, on SQLite and PostgreSQL: each import run records the
Web API requests it sent and the 429s it met (counted by the Dynamics client); a skipped import record is read
again from Dynamics on Retry (stored again, or deleted here when gone from Dynamics; failing again keeps its error
with one attempt more)."""

from __future__ import annotations

import uuid

from tests.integration.services.conftest import RunningSandbox

from salesbridge.bootstrap import dynamics_session
from salesbridge.sandbox.server.faults import FaultConfig
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.ports import CrmSessionFactory
from salesbridge.services.sync import request_sync
from salesbridge.services.sync_health import ImportRetry, retry_import_errors, sync_health
from salesbridge.store.uow import UnitOfWorkFactory, utc_now


async def test_each_run_records_its_rows_requests_and_the_429s_it_met(
    store: UnitOfWorkFactory, acme: uuid.UUID, fresh_demo: RunningSandbox
) -> None:
    faults = fresh_demo.sandbox.services.faults
    faults.configure(FaultConfig(seed=7, throttle_rate=0.1, throttle_retry_after_s=0))
    try:
        throttled = await run_pending_import(store, dynamics_session, acme, clock=utc_now)
    finally:
        faults.configure(FaultConfig())
    assert throttled is not None
    assert throttled.succeeded
    request_sync(store, slug="acme", actor="admin@acme.test")
    calm = await run_pending_import(store, dynamics_session, acme, clock=utc_now)
    assert calm is not None
    assert calm.succeeded

    first, second = (line.run for line in sync_health(store, acme).runs)
    assert first.throttled is not None
    assert first.throttled > 0
    assert first.requests_made is not None
    assert first.requests_made > first.throttled, "each 429 was retried until the page came"
    assert first.rows_imported is not None
    assert first.rows_imported > 100, "the first run reads every row of the demo"
    assert second.throttled == 0
    assert second.requests_made is not None
    assert 0 < second.requests_made < first.requests_made
    assert second.rows_imported == 0, "nothing changed in the CRM since"


async def test_retrying_skipped_records_stores_them_again_or_forgets_the_gone_and_keeps_the_failing(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, acme: uuid.UUID, fresh_demo: RunningSandbox
) -> None:
    assert (await run_pending_import(store, sessions, acme, clock=utc_now) or None) is not None
    gone = str(uuid.uuid4())
    with store(acme) as uow:
        contact = uow.crm_records.records("contact", limit=1)[0]
        uow.crm_records.delete_ids("contact", [contact.crm_id])
        uow.import_record_errors.record("contact", contact.crm_id, code="0x80040216", message="An unexpected error")
        uow.import_record_errors.record("account", gone, code=None, message="A row Dynamics sent without its name")
        uow.commit()
    assert sync_health(store, acme).import_error_count == 2

    fresh_demo.sandbox.services.faults.configure(FaultConfig(unavailable_rate=1.0))
    try:
        failing = await retry_import_errors(store, sessions, acme, [("contact", contact.crm_id)], actor="admin")
    finally:
        fresh_demo.sandbox.services.faults.configure(FaultConfig())
    assert failing == ImportRetry(failed=1)
    still = {(error.table, error.crm_id): error for error in sync_health(store, acme).import_errors}
    assert still[("contact", contact.crm_id)].attempts == 2
    assert still[("contact", contact.crm_id)].code == "0x80040216"

    assert await retry_import_errors(store, sessions, acme, actor="admin@acme.test") == ImportRetry(stored=1, gone=1)
    health = sync_health(store, acme)
    assert health.import_error_count == 0
    with store(acme, read_only=True) as uow:
        stored = uow.crm_records.get("contact", contact.crm_id)
        actions = [entry.action for entry in uow.audit.recent(limit=5)]
    assert stored is not None
    assert stored.data == contact.data
    assert "crm.import_records_retried" in actions


async def test_a_record_the_store_refuses_is_skipped_with_its_reason_and_retry_stores_it_once_fixed_in_dynamics(
    store: UnitOfWorkFactory,
    sessions: CrmSessionFactory,
    acme: uuid.UUID,
    fresh_demo: RunningSandbox,
    migrated_url: str,
) -> None:
    storage = fresh_demo.sandbox.services.state.storage
    bad = str(storage.scalar('SELECT contactid FROM "contact" ORDER BY contactid LIMIT 1'))
    contacts = int(storage.scalar('SELECT count(*) FROM "contact"'))
    with storage.transaction():
        storage.update("contact", "contactid", bad, {"fullname": "Nul\x00Character", "lastname": "Nul\x00Character"})

    outcome = await run_pending_import(store, sessions, acme, clock=utc_now)

    assert outcome is not None
    assert outcome.succeeded, "one record the store refuses does not stop the import"
    health = sync_health(store, acme)
    with store(acme, read_only=True) as uow:
        stored = uow.crm_records.count("contact")
        kept = uow.crm_records.get("contact", bad.lower())
    if migrated_url.startswith("postgresql"):  # PostgreSQL keeps no NUL character in text
        assert stored == contacts - 1, "the rest of the page is stored"
        assert kept is None
        assert [(s.table, s.crm_id, s.code) for s in health.import_errors] == [("contact", bad.lower(), None)]
        assert "0x00" in health.import_errors[0].message
        assert await retry_import_errors(store, sessions, acme, actor="admin") == ImportRetry(failed=1)
        assert sync_health(store, acme).import_errors[0].attempts == 2, "still refused: Dynamics has it unchanged"
        with storage.transaction():
            storage.update("contact", "contactid", bad, {"fullname": "Fixed Name", "lastname": "Name"})
        assert await retry_import_errors(store, sessions, acme, actor="admin") == ImportRetry(stored=1)
        with store(acme, read_only=True) as uow:
            fixed = uow.crm_records.get("contact", bad.lower())
        assert fixed is not None
        assert fixed.data["fullname"] == "Fixed Name"
    else:  # SQLite keeps it as it came
        assert stored == contacts
        assert kept is not None
        assert kept.data["fullname"] == "Nul\x00Character"
    assert sync_health(store, acme).import_error_count == 0
