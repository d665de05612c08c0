"""Fixtures of the job engine's tests: a store on a fresh PostgreSQL database with procrastinate's tables, the
sandbox serving over TLS in this process, organizations connected to it, and real ``python -m salesbridge worker``
processes (killed after each test, with its database)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from tests.integration.conftest import MigratedPostgres, PostgresCluster

from salesbridge.bootstrap import dynamics_session
from salesbridge.crm.dynamics.endpoints import DynamicsTargets, EndpointPolicy
from salesbridge.domain.workspace import CaBundle, CrmCredentials
from salesbridge.sandbox.assembly import Sandbox, build_sandbox
from salesbridge.sandbox.seeds.seeding import parse_seed
from salesbridge.sandbox.server.faults import FaultConfig
from salesbridge.sandbox.server.serving import serve_in_thread
from salesbridge.sandbox.server.tls import create_tls_material
from salesbridge.services.connecting import connect_crm, create_organization
from salesbridge.services.ports import StoreAccess
from salesbridge.store import create_engine_for, create_session_factory
from salesbridge.store.jobs import JobEngine
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory

NEVER = "0 0 1 1 *"
"""A schedule that does not fire during a test (the periodic tasks stay quiet)."""
EVERY_SECOND = "* * * * * *"
EVERY_THREE_SECONDS = "* * * * * */3"


@dataclass
class JobsStore:
    """The store with the procrastinate engine, its URL, and the environment a worker process needs."""

    url: str
    key: SecretStr
    store: StoreAccess
    tmp_path: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self, **settings: str) -> dict[str, str]:
        """The environment of a worker: this store, the procrastinate engine, short leases and heartbeats."""
        values = {
            "SALESBRIDGE_DATABASE_URL": self.url,
            "SALESBRIDGE_CREDENTIAL_KEY": self.key.get_secret_value(),
            "SALESBRIDGE_JOBS": "procrastinate",
            "SALESBRIDGE_IMPORT_LEASE_SECONDS": "2",
            "SALESBRIDGE_WORKER_HEARTBEAT_SECONDS": "0.5",
            "SALESBRIDGE_WORKER_STALLED_SECONDS": "2",
            "SALESBRIDGE_JOBS_SCHEDULE_CRON": NEVER,
            **settings,
        }
        return {**os.environ, **values}

    def start_worker(self, *args: str, **settings: str) -> subprocess.Popen[bytes]:
        """Start ``python -m salesbridge worker`` (output in ``tmp_path/worker-N.txt``)."""
        log = self.tmp_path / f"worker-{len(self.workers)}.txt"
        with log.open("ab") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "salesbridge", "worker", *args],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=self.env(**settings),
            )
        self.workers.append(process)
        return process

    def kill_workers(self) -> None:
        """Kill every worker started (the database goes next: no need to stop them gracefully)."""
        for process in self.workers:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)

    def logs(self) -> str:
        """Every worker's output so far (for assertion messages)."""
        return "\n".join(path.read_text(errors="replace")[-3000:] for path in sorted(self.tmp_path.glob("worker-*")))

    def sql(self, query: str) -> list[tuple[object, ...]]:
        """Rows of ``query`` on the store's database (test-only reads of procrastinate's tables)."""
        dsn = self.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as connection:
            return list(connection.execute(query.encode()).fetchall())


@pytest.fixture
def jobs_store(
    postgres_cluster: PostgresCluster, migrated_postgres: MigratedPostgres, tmp_path: Path
) -> Iterator[JobsStore]:
    """A migrated store on a fresh PostgreSQL database, deferring into procrastinate's tables; every worker started
    through it is killed afterwards."""
    name = f"jobs_{uuid.uuid4().hex[:12]}"
    url = migrated_postgres(name)
    engine = create_engine_for(url)
    key = generate_key()
    store = UnitOfWorkFactory(
        create_session_factory(engine), cipher=CredentialCipher(key), job_engine=JobEngine.PROCRASTINATE
    )
    context = JobsStore(url=url, key=key, store=store, tmp_path=tmp_path)
    try:
        yield context
    finally:
        context.kill_workers()
        engine.dispose()
        with contextlib.suppress(psycopg.Error):
            postgres_cluster.execute_autocommit(f'DROP DATABASE "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class ServedSandbox:
    """A sandbox serving over TLS, and credentials of its application user."""

    sandbox: Sandbox
    credentials: CrmCredentials


SandboxFactory = Callable[..., ServedSandbox]


@pytest.fixture
def serve_sandbox(tmp_path: Path, sandbox_signing_key: rsa.RSAPrivateKey) -> Iterator[SandboxFactory]:
    """Start a sandbox seeded ``scale:contacts`` with ``latency_ms`` added to each request; stopped afterwards."""
    with contextlib.ExitStack() as stack:

        def start(*, contacts: int = 10, latency_ms: float = 0.0) -> ServedSandbox:
            sandbox = build_sandbox(
                seed=parse_seed(f"scale:{contacts}"),
                faults=FaultConfig(latency_ms=latency_ms),
                signing_key=sandbox_signing_key,
            )
            material = create_tls_material(tmp_path / f"tls-{uuid.uuid4().hex[:6]}")
            server = stack.enter_context(serve_in_thread(sandbox.app, tls=material))
            info = sandbox.connection_info(server.base_url, str(material.ca_bundle))
            credentials = CrmCredentials(
                org_url=info["org_url"],
                client_id=info["client_id"],
                client_secret=SecretStr(info["client_secret"]),
                ca_bundle=CaBundle(material.ca_bundle.read_text(encoding="ascii")),
            )
            return ServedSandbox(sandbox, credentials)

        yield start


def connect_organization(store: StoreAccess, slug: str, served: ServedSandbox) -> uuid.UUID:
    """Create organization ``slug`` and connect it to the sandbox (:func:`connect_to`)."""
    organization_id = create_organization(store, slug=slug, seats=5)
    connect_to(store, slug, served)
    return organization_id


def connect_to(store: StoreAccess, slug: str, served: ServedSandbox) -> None:
    """Connect organization ``slug`` to the sandbox through the product's connect flow (which queues the first
    import and defers its job in the same transaction)."""
    targets = DynamicsTargets(EndpointPolicy(["127.0.0.1"]))
    outcome = asyncio.run(
        connect_crm(store, dynamics_session, slug=slug, credentials=served.credentials, targets=targets)
    )
    assert outcome.is_connected, outcome


CONTACTS_REFUSED = "prvReadContact"
"""What Dynamics' refusal names once :func:`refuse_contacts` took the privilege away."""


def refuse_contacts(store: StoreAccess, slug: str, served: ServedSandbox) -> None:
    """Take ``prvReadContact`` away from the roles of organization ``slug``'s application user in the sandbox (after
    connecting, whose pre-flight checks it): its imports then fail with Dynamics' own refusal."""
    organization_id = store.organization_id(slug)
    assert organization_id is not None
    with store(organization_id, read_only=True) as uow:
        connection = uow.crm_connection.find()
    assert connection is not None
    assert connection.connected_crm_user_id is not None
    state = served.sandbox.services.state
    with state.storage.transaction():
        for role_id in state.security.user_roles(str(connection.connected_crm_user_id)):
            state.security.revoke(role_id, [CONTACTS_REFUSED])


def connected_like(store: UnitOfWorkFactory, slug: str, model: uuid.UUID) -> uuid.UUID:
    """Create organization ``slug`` holding the same working connection as ``model``, with nothing queued (set-up
    shortcut for many organizations: the connect flow's pre-flight is proven elsewhere)."""
    with store(model) as uow:
        connection = uow.crm_connection.find()
        credentials = uow.crm_connection.credentials()
    assert connection is not None
    assert connection.connected_crm_user_id is not None
    organization_id = create_organization(store, slug=slug, seats=5)
    with store(organization_id) as uow:
        uow.crm_connection.save_credentials(
            org_url=credentials.org_url,
            tenant_id=credentials.tenant_id or "",
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            ca_bundle_pem=credentials.ca_bundle.pem if credentials.ca_bundle else None,
            authority=credentials.authority,
        )
        uow.crm_connection.mark_connected(crm_user_id=connection.connected_crm_user_id)
        uow.commit()
    return organization_id


def wait_until(condition: Callable[[], bool], *, seconds: float, what: str, logs: Callable[[], str]) -> None:
    """Poll ``condition`` every 0.1 s; fail naming ``what`` (with the workers' output) after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds} s\n{logs()}")
        time.sleep(0.1)
