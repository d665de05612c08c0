"""The import lease as the console's runner applies it (``SALESBRIDGE_IMPORT_LEASE_SECONDS``), on SQLite and
PostgreSQL, with an injected clock.

A worker stuck in the middle of an import (the sandbox holds its contact reads, as if the process had been killed)
stops showing as running once the configured lease runs out, and the next round of another runner fails that run
and runs a replacement at once, without waiting for a backoff step. A replacement that dies too waits for the
backoff, so a run that kills its worker does not restart in a loop."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.services.conftest import SANDBOX_TARGETS, RunningSandbox
from tests.integration.web.conftest import FakeClock

from salesbridge.bootstrap import dynamics_session, import_runner
from salesbridge.jobs.runner import EmbeddedRunner
from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.seeds.seeding import parse_seed
from salesbridge.sandbox.server.serving import serve_in_thread
from salesbridge.sandbox.server.tls import create_tls_material
from salesbridge.services.connecting import connect_crm, create_organization
from salesbridge.services.sync import RETRY_REASON, RunOutcome, schedule_if_due, sync_status
from salesbridge.settings import Settings
from salesbridge.store.imports import STOPPED_WORKER_ERROR
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.tables import ImportRequest, ImportState
from salesbridge.store.uow import UnitOfWorkFactory

LEASE_SECONDS = 90  # not the default (120 s): the configured value must be the one applied
ASGIApp = Any


class ContactGate:
    """Holds the sandbox's answers to contact reads until :attr:`opened` is set."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.opened = threading.Event()

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """``app``, with contact reads held at the gate."""

        async def gated(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"].endswith("/contacts") and not self.opened.is_set():
                self.reached.set()
                await asyncio.to_thread(self.opened.wait, 120)
            await app(scope, receive, send)

        return gated


@pytest.fixture
def gated_sandbox(tmp_path: Path) -> Iterator[tuple[RunningSandbox, ContactGate]]:
    """The demo sandbox over TLS, its contact reads held at a gate."""
    gate = ContactGate()
    sandbox = build_sandbox(seed=parse_seed("demo"))
    material = create_tls_material(tmp_path / "tls")
    with serve_in_thread(gate.wrap(sandbox.app), tls=material) as server:
        info = sandbox.connection_info(server.base_url, str(material.ca_bundle))
        yield (
            RunningSandbox(
                sandbox,
                info["org_url"],
                info["tenant_id"],
                info["client_id"],
                info["client_secret"],
                material.ca_bundle,
            ),
            gate,
        )
        gate.opened.set()


def _settings() -> Settings:
    return Settings(
        database_url="sqlite:///unused.db",
        credential_key=SecretStr("unused"),
        import_lease_seconds=LEASE_SECONDS,
        import_process="thread",  # the test's clock is injected: the runner imports on its own thread
    )


def _in_thread(runner: EmbeddedRunner, outcomes: list[list[RunOutcome]]) -> threading.Thread:
    thread = threading.Thread(target=lambda: outcomes.append(runner.run_once()), daemon=True)
    thread.start()
    return thread


def _running(store: UnitOfWorkFactory, organization_id: uuid.UUID) -> ImportRequest | None:
    with store(organization_id, read_only=True) as uow:
        return uow.import_runs.running()


def test_a_stuck_run_stops_showing_as_running_after_the_configured_lease_and_is_replaced_at_the_next_round(
    session_factory: sessionmaker[Session], cipher: CredentialCipher, gated_sandbox: tuple[RunningSandbox, ContactGate]
) -> None:
    sandbox, gate = gated_sandbox
    clock = FakeClock()
    store = UnitOfWorkFactory(session_factory, cipher=cipher, clock=clock)
    organization_id = create_organization(store, slug="acme", seats=5)
    connected = asyncio.run(
        connect_crm(store, dynamics_session, slug="acme", credentials=sandbox.credentials(), targets=SANDBOX_TARGETS)
    )
    assert connected.is_connected, "connecting queues the first import"

    stuck_outcomes: list[list[RunOutcome]] = []
    stuck = _in_thread(import_runner(store, _settings(), clock=clock), stuck_outcomes)
    assert gate.reached.wait(60), "the first import reached the contacts"
    dead = _running(store, organization_id)
    assert dead is not None
    assert dead.lease_expires_at == clock() + timedelta(seconds=LEASE_SECONDS), "the configured lease, not 5 minutes"

    clock.advance(timedelta(seconds=LEASE_SECONDS - 1))
    assert sync_status(store, slug="acme", clock=clock).running_since is not None
    clock.advance(timedelta(seconds=2))
    assert sync_status(store, slug="acme", clock=clock).running_since is None, "the lease ran out: not running"

    taken_outcomes: list[list[RunOutcome]] = []
    taker = _in_thread(import_runner(store, _settings(), clock=clock), taken_outcomes)
    deadline = time.monotonic() + 60
    while (replacement := _running(store, organization_id)) is None or replacement.id == dead.id:
        assert time.monotonic() < deadline, "the next round never started a replacement"
        time.sleep(0.02)
    gate.opened.set()
    taker.join(120)
    stuck.join(120)

    assert [(outcome.run_id, outcome.succeeded) for outcome in taken_outcomes[0]] == [(replacement.id, True)]
    assert [outcome.succeeded for outcome in stuck_outcomes[0]] == [False], "the stuck worker found its run gone"
    with store(organization_id, read_only=True) as uow:
        failed = uow.import_runs.get(dead.id)
        replaced = uow.import_runs.get(replacement.id)
    assert failed is not None
    assert (failed.state, failed.error) == (ImportState.FAILED, STOPPED_WORKER_ERROR)
    assert replaced is not None
    assert replaced.reason == RETRY_REASON
    assert replaced.requested_at == clock(), "queued in the round that found the run dead, not after a backoff"


def _connected_organization(store: UnitOfWorkFactory, slug: str) -> uuid.UUID:
    organization_id = create_organization(store, slug=slug, seats=1)
    with store(organization_id) as uow:
        uow.crm_connection.save_credentials(
            org_url="https://acme.crm.dynamics.com",
            tenant_id="tenant",
            client_id="client",
            client_secret=SecretStr("x" * 32),
        )
        uow.crm_connection.mark_connected(crm_user_id="11111111-0000-0000-0000-000000000001")
        uow.commit()
    return organization_id


def _die_running(store: UnitOfWorkFactory, organization_id: uuid.UUID, clock: FakeClock, *, reason: str) -> uuid.UUID:
    """Queue and claim a run whose worker then dies: its lease runs out."""
    with store(organization_id) as uow:
        uow.import_runs.enqueue(reason=reason)
        run = uow.import_runs.claim(lease=timedelta(seconds=LEASE_SECONDS))
        uow.commit()
    assert run is not None
    clock.advance(timedelta(seconds=LEASE_SECONDS + 1))
    return run.id


def test_a_dead_run_is_replaced_at_once_but_a_dead_replacement_waits_for_the_backoff(
    session_factory: sessionmaker[Session], cipher: CredentialCipher
) -> None:
    clock = FakeClock()
    store = UnitOfWorkFactory(session_factory, cipher=cipher, clock=clock)
    organization_id = _connected_organization(store, "acme")
    with store(organization_id) as uow:  # connected a while ago and synced since: nothing is due
        uow.import_runs.enqueue(reason="scheduled")
        uow.import_runs.finish(uow.import_runs.claim(lease=timedelta(seconds=1)).id)  # type: ignore[union-attr]
        uow.commit()

    _die_running(store, organization_id, clock, reason="sync now")
    assert schedule_if_due(store, organization_id, clock=clock), "the dead run is replaced at once"
    with store(organization_id) as uow:
        queued = uow.import_runs.recent(limit=1)[0]
        assert (queued.state, queued.reason) == (ImportState.QUEUED, RETRY_REASON)
        uow.rollback()

    _die_running(store, organization_id, clock, reason=RETRY_REASON)  # the replacement dies as well
    assert not schedule_if_due(store, organization_id, clock=clock), "a second death in a row waits for the backoff"
    status = sync_status(store, slug="acme", clock=clock)
    assert status.consecutive_failures == 2
    assert status.next_run_at is not None
    assert status.next_run_at > clock()
