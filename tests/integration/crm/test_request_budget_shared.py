"""Dataverse's request budget shared through PostgreSQL by workers that know nothing of each other.

Each worker is what a process on another machine would have: its own engine on the database, its own ledger, its
own connector and event loop. Together they stay under the sandbox's service-protection limit (it answers 429 the
moment they do not), a 429 with ``Retry-After`` received by one pauses the other, and the server's
``x-ms-dop-hint`` caps the requests in flight of all of them together. The database is the session's real
PostgreSQL; the sandbox runs over TLS on a real port.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fake_dataverse import FakeDataverse, FakeTokens, answer
from pydantic import SecretStr
from sqlalchemy import Engine
from tests.fakes.monotonic import FakeTime

from salesbridge.bootstrap import SHARED_BUDGET_SLICE, process_request_budget, request_budget
from salesbridge.crm.budget import ProcessLedger, RequestBudget
from salesbridge.crm.dynamics.auth import ClientCredentials, MsalTokenProvider
from salesbridge.crm.dynamics.client import DynamicsClient
from salesbridge.crm.dynamics.connector import DynamicsConnection, DynamicsConnector
from salesbridge.crm.dynamics.paging import PageRequest, iterate_pages, prefer_header
from salesbridge.crm.dynamics.throttling import RetryPolicy
from salesbridge.domain.request_budget import BudgetKey, BudgetLimits, LeaseAsk
from salesbridge.errors import RateLimitedError, StoreError
from salesbridge.sandbox.assembly import Sandbox, build_sandbox
from salesbridge.sandbox.seeds.seeding import parse_seed
from salesbridge.sandbox.server.faults import FaultConfig
from salesbridge.sandbox.server.protection import ProtectionLimits
from salesbridge.sandbox.server.serving import serve_in_thread
from salesbridge.sandbox.server.tls import create_tls_material
from salesbridge.settings import Settings
from salesbridge.store.database import create_engine_for
from salesbridge.store.request_budget import DatabaseBudgetLedger

# The sandbox refuses the 21st request of any 3 seconds; the workers' budget is held to the same numbers. A request
# stays counted 1.5 s past its window (the product's margin is 5 s): on a loaded machine one was sent more than 0.5 s
# after its grant, so the sandbox, which counts arrivals, saw it in the next window (a fresh-clone make test, load 5).
SANDBOX_LIMITS = ProtectionLimits(requests_per_window=20, window_s=3.0)
BUDGET_LIMITS = BudgetLimits(
    requests_per_window=20, window_s=3.0, headroom=1.0, bucket_s=0.25, margin_s=1.5, lease_s=0.25
)
PAGES_PER_WORKER = 24  # two workers: 48 pages and their metadata reads, well over two windows' worth


@pytest.fixture
def shared_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database: the store every worker of the test shares."""
    postgres_cluster = request.getfixturevalue("postgres_cluster")
    name = f"budget_{uuid.uuid4().hex[:12]}"
    yield request.getfixturevalue("migrated_postgres")(name)
    with contextlib.suppress(psycopg.Error):
        postgres_cluster.execute_autocommit(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def engines(shared_url: str) -> Iterator[Callable[[], Engine]]:
    """Opens engines on the shared database (one per worker, as separate processes would), disposed at the end."""
    opened: list[Engine] = []

    def open_engine() -> Engine:
        opened.append(create_engine_for(shared_url))
        return opened[-1]

    yield open_engine
    for engine in opened:
        engine.dispose()


@dataclass(frozen=True)
class LimitedSandbox:
    sandbox: Sandbox
    info: dict[str, str]
    ca_bundle: Path

    def connection(self) -> DynamicsConnection:
        return DynamicsConnection(
            org_url=self.info["org_url"],
            credentials=ClientCredentials(
                tenant_id=self.info["tenant_id"],
                client_id=self.info["client_id"],
                client_secret=SecretStr(self.info["client_secret"]),
            ),
            authority=self.info["authority"],
            validate_authority=False,
            instance_discovery=False,
            ca_bundle=self.ca_bundle,
        )

    def contacts(self) -> int:
        return int(self.sandbox.services.state.storage.scalar('SELECT count(*) FROM "contact"'))


@pytest.fixture
def limited(tmp_path: Path, sandbox_signing_key: rsa.RSAPrivateKey) -> Iterator[LimitedSandbox]:
    material = create_tls_material(tmp_path / "tls")
    sandbox = build_sandbox(seed=parse_seed("demo"), limits=SANDBOX_LIMITS, signing_key=sandbox_signing_key)
    with serve_in_thread(sandbox.app, tls=material) as server:
        yield LimitedSandbox(
            sandbox, sandbox.connection_info(server.base_url, str(material.ca_bundle)), material.ca_bundle
        )


@dataclass
class WorkerOutcome:
    rows: int
    throttles: int


def read_every_contact(limited: LimitedSandbox, budget: RequestBudget, page_size: int) -> WorkerOutcome:
    """One worker, on a thread and event loop of its own: page through every contact."""

    async def work() -> WorkerOutcome:
        async with DynamicsConnector.connect(limited.connection(), budget=budget) as connector:
            first = PageRequest(
                "contacts", params={"$select": "fullname"}, headers={"Prefer": prefer_header(page_size=page_size)}
            )
            rows = sum([len(page["value"]) async for page in iterate_pages(connector.client, first)])
            return WorkerOutcome(rows=rows, throttles=connector.client.counters.throttles)

    return asyncio.run(work())


def run_two_workers(limited: LimitedSandbox, budgets: list[RequestBudget]) -> list[WorkerOutcome]:
    page_size = math.ceil(limited.contacts() / PAGES_PER_WORKER)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(read_every_contact, limited, budget, page_size) for budget in budgets]
        return [future.result() for future in futures]


def shared_budget(engine: Engine, limits: BudgetLimits = BUDGET_LIMITS, **options: object) -> RequestBudget:
    ledger = DatabaseBudgetLedger(engine, limits)
    return RequestBudget(ledger, slice_size=5, blocking=True, lease_s=limits.lease_s, **options)  # type: ignore[arg-type]


@pytest.mark.slow
def test_two_workers_sharing_the_database_budget_finish_without_a_single_429(
    limited: LimitedSandbox, engines: Callable[[], Engine]
) -> None:
    outcomes = run_two_workers(limited, [shared_budget(engines()), shared_budget(engines())])

    assert [outcome.rows for outcome in outcomes] == [limited.contacts()] * 2  # both imports complete
    assert [outcome.throttles for outcome in outcomes] == [0, 0]  # the sandbox never had to refuse one


@pytest.mark.slow
def test_the_same_two_workers_each_with_a_budget_of_its_own_are_throttled(limited: LimitedSandbox) -> None:
    # The control: each worker alone keeps to the limit, together they are twice over it.
    outcomes = run_two_workers(
        limited, [RequestBudget.in_process(BUDGET_LIMITS), RequestBudget.in_process(BUDGET_LIMITS)]
    )

    assert [outcome.rows for outcome in outcomes] == [limited.contacts()] * 2
    assert sum(outcome.throttles for outcome in outcomes) > 0


async def test_a_retry_after_received_by_one_worker_pauses_the_other(
    limited: LimitedSandbox, engines: Callable[[], Engine]
) -> None:
    time = FakeTime()  # one clock for both workers and their ledgers, moved by their sleeps
    other_slept: list[float] = []

    async def other_sleep(seconds: float) -> None:
        other_slept.append(seconds)
        await time.sleep(seconds)

    other = connector_for(limited, engines(), time, other_sleep)

    async def throttled_sleep(seconds: float) -> None:
        # While the throttled worker waits out Retry-After, the other one (another machine) has work to do.
        limited.sandbox.services.faults.configure(FaultConfig())
        await other.client.get_json("WhoAmI")
        await time.sleep(seconds)

    throttled = connector_for(limited, engines(), time, throttled_sleep)
    limited.sandbox.services.faults.configure(FaultConfig(throttle_rate=1.0, throttle_retry_after_s=7))
    async with throttled, other:
        await throttled.client.get_json("WhoAmI")

    assert throttled.client.counters.throttles == 1
    assert other.client.counters.throttles == 0
    assert other_slept == [pytest.approx(7.0)]  # it waited for the pause the throttled worker was given


def connector_for(
    limited: LimitedSandbox, engine: Engine, time: FakeTime, sleep: Callable[[float], Awaitable[None]]
) -> DynamicsConnector:
    """A worker's connector on a budget of its own over the shared database, on ``time`` and ``sleep``."""
    connection = limited.connection()
    budget = RequestBudget(
        DatabaseBudgetLedger(engine, BudgetLimits(), clock=time.clock),
        slice_size=50,
        blocking=True,
        sleep=sleep,
        clock=time.clock,
    )
    tokens = MsalTokenProvider(
        connection.credentials,
        scope=connection.scope,
        authority=connection.authority,
        validate_authority=False,
        instance_discovery=False,
        ca_bundle=connection.ca_bundle,
    )
    client = DynamicsClient(
        connection.org_url,
        tokens,
        ca_bundle=connection.ca_bundle,
        sleep=sleep,
        clock=time.clock,
        budget=budget.holder(BudgetKey.of(connection.org_url, connection.credentials.client_id)),
    )
    return DynamicsConnector(client, owned_tokens=tokens)


WHO = {"UserId": "00000000-0000-0000-0000-000000000001"}


async def dop_hint_burst(dataverse: FakeDataverse, budgets: list[RequestBudget]) -> int:
    """Two workers learn a hint of 4, then fire 20 requests each at once; the most the server had in flight."""
    dataverse.on("GET", "WhoAmI", answer(200, WHO, headers={"x-ms-dop-hint": "4"}, delay_s=0.05))
    key = BudgetKey.of(dataverse.base_url, "app")
    first, second = (DynamicsClient(dataverse.base_url, FakeTokens(), budget=budget.holder(key)) for budget in budgets)
    async with first, second:
        # A worker's share follows its next lease: each reads the hint, and the first leases again after the
        # second joined (as any worker does within a lease's length).
        for client in (first, second, first):
            await client.get_json("WhoAmI")
        dataverse.max_in_flight = 0
        await asyncio.gather(*(client.get_json("WhoAmI") for client in (first, second) for _ in range(20)))
    return dataverse.max_in_flight


async def test_the_dop_hint_caps_the_requests_in_flight_of_all_workers_together(
    dataverse: FakeDataverse, engines: Callable[[], Engine]
) -> None:
    # The database's clock (no clock injected): what workers on several machines use.
    budgets = [shared_budget(engines(), BudgetLimits()) for _ in range(2)]

    assert await dop_hint_burst(dataverse, budgets) <= 4


async def test_without_sharing_each_worker_takes_the_whole_dop_hint(dataverse: FakeDataverse) -> None:
    budgets = [RequestBudget.in_process(), RequestBudget.in_process()]

    assert await dop_hint_burst(dataverse, budgets) > 4


def test_workers_leasing_at_once_never_grant_more_than_the_window_holds(engines: Callable[[], Engine]) -> None:
    # Four ledgers (four processes' worth of engines) lease slices as fast as they can on one key, from threads:
    # the row lock serialises them, so exactly the window's requests are granted, never one more.
    limits = BudgetLimits(requests_per_window=500, headroom=1.0)
    key = BudgetKey.of("https://contoso.crm.dynamics.com", "app")
    ledgers = [DatabaseBudgetLedger(engines(), limits) for _ in range(4)]
    granted: list[int] = []
    lock = threading.Lock()

    def lease_until_refused(ledger: DatabaseBudgetLedger, holder: str) -> None:
        while (grant := ledger.lease(key, LeaseAsk(holder, want=7))).granted:
            with lock:
                granted.append(grant.granted)

    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(lease_until_refused, ledger, f"worker-{n}") for n, ledger in enumerate(ledgers)]:
            future.result()

    assert sum(granted) == 500
    assert ledgers[0].requests_in_window(key) == 500


def test_a_pause_holds_back_only_its_own_key() -> None:
    ledger = ProcessLedger(BudgetLimits())
    paused = BudgetKey.of("https://contoso.crm.dynamics.com", "app")
    ledger.lease(paused, LeaseAsk("a", want=0, pause_s=30.0))

    assert ledger.lease(BudgetKey.of("https://contoso.crm.dynamics.com", "other-app"), LeaseAsk("b")).granted == 1
    assert ledger.lease(paused, LeaseAsk("b")).granted == 0


async def test_an_unreachable_database_is_a_store_error_and_closing_still_works() -> None:
    engine = create_engine_for("postgresql+psycopg://postgres@127.0.0.1:9/nothing?connect_timeout=2")
    try:
        ledger = DatabaseBudgetLedger(engine)
        holder = RequestBudget(ledger, slice_size=50, blocking=True).holder(BudgetKey.of("https://x.example", "a"))

        with pytest.raises(StoreError, match="shared request budget"):
            await holder.acquire()
        await holder.pause(5.0)  # logged: this client still waits
        await holder.close()  # logged, not raised
    finally:
        engine.dispose()


async def test_bootstrap_shares_the_database_budget_when_jobs_run_on_procrastinate(shared_url: str) -> None:
    workers = Settings(jobs="procrastinate", database_url=shared_url)
    key = BudgetKey.of("https://contoso.crm.dynamics.com", "app")

    budget = request_budget(workers)
    await budget.holder(key).acquire()

    assert request_budget(workers) is budget  # one per process
    assert request_budget(Settings(jobs="embedded", database_url=shared_url)) is process_request_budget()
    engine = create_engine_for(shared_url)
    try:
        assert DatabaseBudgetLedger(engine).requests_in_window(key) == SHARED_BUDGET_SLICE  # leased in the database
    finally:
        engine.dispose()


TINY = BudgetLimits(requests_per_window=3, window_s=60.0, headroom=1.0, bucket_s=1.0, margin_s=2.0, lease_s=1.0)


async def test_a_client_waits_for_a_spent_budget_instead_of_being_refused(
    dataverse: FakeDataverse, fake_time: FakeTime
) -> None:
    dataverse.on("GET", "WhoAmI", answer(200, WHO))
    budget = RequestBudget.in_process(TINY, sleep=fake_time.sleep, clock=fake_time.clock)
    key = BudgetKey.of(dataverse.base_url, "app")
    async with DynamicsClient(
        dataverse.base_url, FakeTokens(), sleep=fake_time.sleep, clock=fake_time.clock, budget=budget.holder(key)
    ) as client:
        for _ in range(4):
            await client.get_json("WhoAmI")

    assert len(dataverse.requests) == 4
    assert len(fake_time.sleeps) == 1
    assert fake_time.sleeps[0] >= TINY.window_s  # the fourth waited for the first to leave the window
    assert client.counters.waited_s == fake_time.sleeps[0]
    assert client.counters.throttles == 0


async def test_a_client_that_may_not_wait_that_long_reports_a_throttle_without_sending(
    dataverse: FakeDataverse, fake_time: FakeTime
) -> None:
    dataverse.on("GET", "WhoAmI", answer(200, WHO))
    budget = RequestBudget.in_process(TINY, sleep=fake_time.sleep, clock=fake_time.clock)
    holder = budget.holder(BudgetKey.of(dataverse.base_url, "app"))
    async with DynamicsClient(
        dataverse.base_url,
        FakeTokens(),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        budget=holder,
        budget_max_wait_s=10.0,
        retry_policy=RetryPolicy(max_total_wait_s=10.0),  # an interactive call: it does not retry that late either
    ) as client:
        for _ in range(3):
            await client.get_json("WhoAmI")
        with pytest.raises(RateLimitedError, match="request budget") as raised:
            await client.get_json("WhoAmI")

    assert raised.value.retry_after_s is not None
    assert raised.value.retry_after_s > 10.0
    assert len(dataverse.requests) == 3
    assert fake_time.sleeps == []
