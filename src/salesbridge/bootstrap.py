"""The composition root: the only place that builds anything — settings, the store, the Dynamics connector, the
use cases, the import runner, the console and the demo's wiring — for the entry points (CLI, web, workers)."""

from __future__ import annotations

import asyncio
import ctypes
import functools
import gc
import os
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationError

from salesbridge.domain.workspace import CaBundle, CrmCredentials
from salesbridge.errors import ConfigError
from salesbridge.native import c_function

# Every CLI command imports this module, so it imports only light modules at its top: the store (SQLAlchemy,
# Alembic), the Dynamics connector (aiohttp, MSAL), the web stack and the sandbox are imported inside the functions
# that build them, and named here for typing only. `salesbridge --help` must not pay for them, nor for the matching
# engine (tests/unit/cli/test_start.py).
if TYPE_CHECKING:
    import procrastinate
    import uvicorn
    from fastapi import FastAPI
    from sqlalchemy import Engine

    from salesbridge.crm.budget import RequestBudget
    from salesbridge.crm.dynamics import DynamicsConnector
    from salesbridge.crm.dynamics.endpoints import DynamicsTargets
    from salesbridge.jobs.procrastinate_app import ProcrastinateWorkerThread
    from salesbridge.jobs.runner import EmbeddedRunner
    from salesbridge.jobs.tasks import TaskContext
    from salesbridge.sandbox.assembly import Sandbox
    from salesbridge.sandbox.seeds.seeding import SeedSpec
    from salesbridge.services.accounts import AccountService
    from salesbridge.services.crm_settings import CrmSettingsService
    from salesbridge.services.matching import MatchRunSummary
    from salesbridge.services.people_load import LoadReport
    from salesbridge.services.ports import (
        Clock,
        CrmAppSessionFactory,
        CrmSessionFactory,
        Mailer,
        StoreAccess,
        WritebackSessionFactory,
    )
    from salesbridge.services.seats import SeatService
    from salesbridge.services.sync import RunOutcome
    from salesbridge.settings import Settings
    from salesbridge.web.context import ConsoleServices

MICROSOFT_AUTHORITY_HOST = "https://login.microsoftonline.com"


#: The cyclic collector's first-generation threshold while an entry point imports (Python's default is 700).
IMPORT_GC_THRESHOLD = 50_000

_collections_lock = threading.Lock()
_collections_users = 0
_collections_saved: tuple[int, int, int] | None = None


MALLOC_ARENAS: Final = 2
"""Allocator arenas for a long-running process (``serve``, ``worker``): see :func:`fewer_malloc_arenas`."""
_M_ARENA_MAX: Final = -8
"""glibc's ``mallopt`` parameter number for the arena limit (malloc.h)."""


def fewer_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Limit glibc's allocator to ``arenas`` arenas for this process; True when the limit was set.

    By default glibc gives threads arenas of their own, up to eight per core, and keeps the memory freed in each:
    the console's threads (the server's, the import runner's, the thread pools') made its resident memory creep by
    about 40 MiB an hour in the soak with no live data growing, and stay flat with two arenas (docs/reliability.md
    § Soak). Call it first thing in a long-running entry point, before its threads start: arenas made before are
    kept. Leaves the process alone where the allocator is not glibc's, and where ``MALLOC_ARENA_MAX`` is set (the
    operator chose; glibc read it at start-up).
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    mallopt = c_function("c", "mallopt", ctypes.c_int, ctypes.c_int, ctypes.c_int)
    return mallopt is not None and bool(mallopt(_M_ARENA_MAX, arenas))


def release_free_memory() -> bool:
    """Give back to the system the pages glibc's allocator holds free, in every arena (``malloc_trim(0)``: whole
    free pages inside the heaps too, not only at their top); True when some were given back, False when none were
    or the allocator is not glibc's.

    The allocator keeps what a thread frees for the next allocation: once a page of a heap has been touched it
    stays resident, free or not, until this. Between a long-running process's bursts (an import of thousands of
    rows, a report) the holes left by short-lived objects spread over more and more pages, and its resident size
    creeps up with no live data growing (docs/reliability.md § Soak). Costs a walk over the heaps' free chunks
    under their locks: a few milliseconds for a console's 100 MiB.
    """
    trim = c_function("c", "malloc_trim", ctypes.c_int, ctypes.c_size_t)
    return trim is not None and bool(trim(0))


@contextmanager
def free_memory_released(every_s: float) -> Iterator[None]:
    """While the block runs, :func:`release_free_memory` every ``every_s`` seconds on a daemon thread (for the
    long-running entry points: ``serve``, ``worker``); ``every_s`` 0 or less: never."""
    if every_s <= 0:
        yield
        return
    stop = threading.Event()

    def release() -> None:
        while not stop.wait(every_s):
            release_free_memory()

    thread = threading.Thread(target=release, name="free-memory-release", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while the block runs: for entry points whose process imports
    (``sync run``, the demo's first import, the console with its import runner, the import benchmark).

    An import allocates several dicts per row (millions per run), none of them cyclic: reference counting frees
    them, but each allocation counts towards the collector's threshold, so with the default threshold a
    collection ran every few dozen rows and took about half of the time spent turning pages into rows. The
    threshold is process-wide, so the import engine leaves it alone and the entry point, which owns the process,
    decides: it is raised while at least one such block runs (blocks may nest or overlap across threads) and
    restored when the last one ends.
    """
    global _collections_users, _collections_saved
    with _collections_lock:
        if _collections_users == 0:
            _collections_saved = gc.get_threshold()
            gc.set_threshold(IMPORT_GC_THRESHOLD, *_collections_saved[1:])
        _collections_users += 1
    try:
        yield
    finally:
        with _collections_lock:
            _collections_users -= 1
            if _collections_users == 0 and _collections_saved is not None:
                gc.set_threshold(*_collections_saved)
                _collections_saved = None


def load_settings() -> Settings:
    """The settings of this process, read once from the environment (``SALESBRIDGE_*``).

    Raises:
        ConfigError: a variable holds a value the settings refuse (the message names it).
    """
    from salesbridge.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"SALESBRIDGE_{'__'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(f"Invalid settings: {problems}.") from None


def open_store(settings: Settings, db_url: str | None = None, *, create: bool = True) -> StoreAccess:
    """The store at ``db_url`` (or the settings' URL), migrated to the newest revision.

    With ``create=False`` (commands that work on an existing organization) nothing is created: neither the
    database nor the credential key file.

    Raises:
        ConfigError: with ``create=False``, no store exists at the URL (the message names it), or the credential
            key file is missing; or the URL or the key is unusable.
    """
    return _open_store(settings, db_url or settings.database_url, create=create)[0]


def console_sqlite_memory_mib(settings: Settings, run_imports: bool = True) -> int:
    """What the console's own process may keep of a SQLite store in memory (:func:`build_console`):
    ``SALESBRIDGE_CONSOLE_SQLITE_MEMORY_MIB`` when no import runs in it (each runs in a process of its own, which
    keeps ``SALESBRIDGE_SQLITE_MEMORY_MIB``: it travels in :func:`work_horse_request`), else
    ``SALESBRIDGE_SQLITE_MEMORY_MIB``, what an import wants. The limit is the process's, so one of the two."""
    imports_here = run_imports and (settings.jobs == "procrastinate" or settings.import_process == "thread")
    return settings.sqlite_memory_mib if imports_here else settings.console_sqlite_memory_mib


def _open_store(
    settings: Settings, url: str, *, create: bool, sqlite_memory_mib: int | None = None
) -> tuple[StoreAccess, Engine]:
    from salesbridge.store import cipher_from_settings, create_engine_for, create_session_factory, migrate
    from salesbridge.store.jobs import JobEngine, procrastinate_conninfo
    from salesbridge.store.uow import UnitOfWorkFactory

    job_engine = JobEngine(settings.jobs)
    if job_engine is JobEngine.PROCRASTINATE:
        procrastinate_conninfo(url)  # refuses a store that is not on PostgreSQL, before creating anything
    if not create:
        _require_existing_store(settings, url)
    migrate(url)
    engine = create_engine_for(
        url,
        sqlite_memory_mib=settings.sqlite_memory_mib if sqlite_memory_mib is None else sqlite_memory_mib,
        sqlite_mmap_mib=settings.sqlite_mmap_mib,
    )
    cipher = cipher_from_settings(settings)
    store = UnitOfWorkFactory(create_session_factory(engine), cipher=cipher, job_engine=job_engine)
    return store, engine


def _require_existing_store(settings: Settings, url: str) -> None:
    from salesbridge.store.database import describe_url, store_exists

    if not store_exists(url):
        raise ConfigError(
            f"No salesbridge store at {describe_url(url)}. Set SALESBRIDGE_DATABASE_URL (or --db-url) to the store "
            "to use (the demo prints its own), or create one with: salesbridge org create <ORG>"
        )
    if settings.credential_key is None and not settings.credential_key_file.exists():
        raise ConfigError(
            f"No credential key file at {settings.credential_key_file.resolve()} for the store at "
            f"{describe_url(url)}: set SALESBRIDGE_CREDENTIAL_KEY_FILE to the key file the store was written with "
            "(the demo prints its own)."
        )


def dynamics_session(credentials: CrmCredentials, *, budget: RequestBudget | None = None) -> DynamicsConnector:
    """The Dynamics connector for ``credentials`` (a CRM session, able to install the CRM-side app and to write
    activities back); an interactive pre-flight retries briefly, then reports. It draws on ``budget``
    (:func:`request_budget`), the process's when None.

    Raises:
        ConfigError: neither a tenant id nor an authority is given.
        CaBundleError: the stored CA bundle holds no valid certificate.
    """
    from salesbridge.crm.dynamics import ClientCredentials, DynamicsConnection, DynamicsConnector, RetryPolicy
    from salesbridge.crm.dynamics.endpoints import ENTRA_AUTHORITY_HOSTS
    from salesbridge.crm.dynamics.trust import CaCertificates

    if not credentials.authority and not credentials.tenant_id:
        raise ConfigError("A connection needs a tenant id or an authority.")
    authority = credentials.authority or f"{MICROSOFT_AUTHORITY_HOST}/{credentials.tenant_id}"
    # MSAL validates only Microsoft's own authorities; a private one (the sandbox's) cannot be validated.
    public = (urlsplit(authority).hostname or "").lower() in ENTRA_AUTHORITY_HOSTS
    connection = DynamicsConnection(
        org_url=credentials.org_url,
        credentials=ClientCredentials(
            tenant_id=credentials.tenant_id or authority.rstrip("/").rsplit("/", 1)[-1],
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
        ),
        authority=authority,
        validate_authority=public,
        instance_discovery=public,
        ca_bundle=CaCertificates(credentials.ca_bundle.pem) if credentials.ca_bundle else None,
    )
    return DynamicsConnector.connect(
        connection,
        retry_policy=RetryPolicy(max_attempts=3, max_total_wait_s=10.0),
        budget=budget or process_request_budget(),
    )


#: Requests a worker leases from the shared budget at once: one database transaction per slice, not per request.
SHARED_BUDGET_SLICE: Final = 50


@functools.cache
def process_request_budget() -> RequestBudget:
    """Dataverse's request budget of this process: every connector it builds draws on it (one window per Dynamics
    organization and application user), whatever thread or event loop the connector runs on."""
    from salesbridge.crm.budget import RequestBudget

    return RequestBudget.in_process()


def request_budget(settings: Settings, db_url: str | None = None) -> RequestBudget:
    """The request budget this process's connectors draw on: with ``SALESBRIDGE_JOBS=procrastinate``, the one kept
    in the store's PostgreSQL at ``db_url`` (or the settings'), which every worker on every machine shares (leased
    :data:`SHARED_BUDGET_SLICE` requests at a time); otherwise the process's (:func:`process_request_budget`)."""
    if settings.jobs != "procrastinate":
        return process_request_budget()
    return _shared_request_budget(db_url or settings.database_url, settings.sqlite_memory_mib)


@functools.cache
def _shared_request_budget(url: str, sqlite_memory_mib: int) -> RequestBudget:
    from salesbridge.crm.budget import RequestBudget
    from salesbridge.store import create_engine_for
    from salesbridge.store.request_budget import DatabaseBudgetLedger

    ledger = DatabaseBudgetLedger(create_engine_for(url, sqlite_memory_mib=sqlite_memory_mib))
    return RequestBudget(ledger, slice_size=SHARED_BUDGET_SLICE, blocking=True, lease_s=ledger.limits.lease_s)


def dynamics_sessions(budget: RequestBudget) -> Callable[[CrmCredentials], DynamicsConnector]:
    """:func:`dynamics_session` drawing on ``budget`` (a :data:`CrmSessionFactory`, a :data:`CrmAppSessionFactory`
    and a :data:`WritebackSessionFactory`)."""
    return functools.partial(dynamics_session, budget=budget)


def connect_targets(settings: Settings) -> DynamicsTargets:
    """Where administrators may connect: Dynamics 365's hosts plus ``SALESBRIDGE_CRM_ALLOWED_HOSTS``, and the CA
    bundles of ``SALESBRIDGE_CRM_CA_BUNDLE_DIR``."""
    from salesbridge.crm.dynamics.endpoints import DynamicsTargets, EndpointPolicy
    from salesbridge.crm.dynamics.trust import CaBundleDirectory

    return DynamicsTargets(EndpointPolicy(settings.crm_allowed_hosts), CaBundleDirectory(settings.crm_ca_bundle_dir))


LOOPBACK_HOSTS: Final = ("127.0.0.1", "localhost")
"""Names of this machine a console without a configured public address also answers to (``salesbridge serve``
listens on loopback when none is configured)."""


def public_base_url(settings: Settings, serving_at: str | None = None) -> str:
    """The console's public address: ``SALESBRIDGE_PUBLIC_BASE_URL``, else ``serving_at`` (where this process
    serves it), else where ``salesbridge serve`` listens by default. Never derived from a request."""
    from salesbridge.web.context import DEFAULT_PUBLIC_BASE_URL

    return settings.public_base_url or (serving_at or DEFAULT_PUBLIC_BASE_URL).rstrip("/")


def mailer(settings: Settings) -> Mailer:
    """The mailer of this process: SMTP (``SALESBRIDGE_SMTP_*``) when ``SALESBRIDGE_SMTP_HOST`` is set, else one
    that prints each message to standard error instead of sending it (the demo's)."""
    from salesbridge.mail import PrintingMailer, SmtpMailer

    if not settings.smtp_host:
        return PrintingMailer(sender=settings.smtp_sender)
    assert settings.smtp_sender is not None, "Settings require a sender with an SMTP host"
    return SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        tls=settings.smtp_tls,
        sender=settings.smtp_sender,
        username=settings.smtp_username,
        password=settings.smtp_password,
        ca_file=settings.smtp_ca_file,
        timeout_s=settings.smtp_timeout_seconds,
    )


def console_server_config(
    app: FastAPI, *, host: str, port: int, certfile: Path | None = None, keyfile: Path | None = None
) -> uvicorn.Config:
    """uvicorn's configuration for serving the console: its HTTP parser bounds a request's headers to
    :data:`~salesbridge.web.request_limits.MAX_HEADER_BYTES` (h11 is the parser with that bound: a larger header
    is refused with 400 before it is held in memory)."""
    import uvicorn

    from salesbridge.web.request_limits import MAX_HEADER_BYTES

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http="h11",
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        ssl_certfile=str(certfile) if certfile else None,
        ssl_keyfile=str(keyfile) if keyfile else None,
        log_level="warning",
        access_log=False,
    )


def serve_console(
    app: FastAPI, *, host: str, port: int, certfile: Path | None = None, keyfile: Path | None = None
) -> None:
    """Serve ``app`` until interrupted, configured by :func:`console_server_config`."""
    import uvicorn

    uvicorn.Server(console_server_config(app, host=host, port=port, certfile=certfile, keyfile=keyfile)).run()


def build_console(
    settings: Settings,
    db_url: str | None = None,
    *,
    secure_cookies: bool = True,
    run_imports: bool = True,
    serving_at: str | None = None,
) -> FastAPI:
    """The web console on the store at ``db_url`` (or the settings' URL), migrated first, with the embedded import
    runner (schedule and "Sync now") running while the app serves, unless ``run_imports`` is False.

    Cookies are ``Secure`` (and ``__Host-`` prefixed) by default, for a console served over HTTPS. Pass
    ``secure_cookies=False`` only for plain HTTP on the loopback interface (``salesbridge serve`` without a
    certificate): browsers drop Secure cookies over plain HTTP, and on 127.0.0.1 the traffic never leaves the
    machine, so there is nothing for the Secure flag to protect.

    Links and trusted hosts: :func:`public_base_url` (``serving_at``: where the caller serves the console) and
    ``SALESBRIDGE_ALLOWED_HOSTS``.
    """
    url = db_url or settings.database_url
    limit = console_sqlite_memory_mib(settings, run_imports)
    store, _engine = _open_store(settings, url, create=True, sqlite_memory_mib=limit)
    return console_app(
        store,
        settings,
        db_url=db_url,
        secure_cookies=secure_cookies,
        run_imports=run_imports,
        serving_at=serving_at,
    )


def console_app(
    store: StoreAccess,
    settings: Settings,
    *,
    secure_cookies: bool = True,
    run_imports: bool = True,
    serving_at: str | None = None,
    db_url: str | None = None,
) -> FastAPI:
    """The web console on ``store`` (at ``db_url``, else the settings' URL), as :func:`build_console` describes;
    with ``SALESBRIDGE_JOBS=procrastinate``, ``run_imports`` runs a procrastinate worker in the process instead of
    the embedded runner."""
    from salesbridge.web.app import create_app

    console_url = public_base_url(settings, serving_at)
    embedded = run_imports and settings.jobs == "embedded"
    runner = import_runner(store, settings, console_url=console_url, db_url=db_url) if embedded else None
    # With procrastinate the console defers jobs through the store (NOTIFY wakes the workers) and runs one worker of
    # its own unless told not to (`serve --no-worker`).
    worker = worker_thread(store, settings, db_url) if run_imports and settings.jobs == "procrastinate" else None
    # The console's own Dynamics calls (connect pre-flight, seat reads, settings) draw on the workers' budget.
    services = console_services(
        store,
        wake_importer=runner.wake if runner else None,
        targets=connect_targets(settings),
        sessions=dynamics_sessions(request_budget(settings, db_url)),
        mailer=mailer(settings),
        console_url=console_url,
        report_cache_mib=settings.reports_cache_mib,
    )
    return create_app(
        services,
        secure_cookies=secure_cookies,
        background=tuple(service for service in (runner, worker) if service is not None),
        public_base_url=console_url,
        allowed_hosts=[*settings.allowed_hosts, *([] if settings.public_base_url else LOOPBACK_HOSTS)],
    )


def import_runner(
    store: StoreAccess,
    settings: Settings,
    *,
    clock: Clock | None = None,
    console_url: str | None = None,
    db_url: str | None = None,
) -> EmbeddedRunner:
    """The embedded runner importing every connected organization of ``store`` (at ``db_url``, else the settings'
    URL) on schedule and on demand, under the configured lease (``SALESBRIDGE_IMPORT_LEASE_SECONDS``), and emailing
    the alerts (:func:`mailer`, links to ``console_url``: :func:`public_base_url` when None). ``clock``:
    timezone-aware UTC now, the store's when None.

    With ``SALESBRIDGE_IMPORT_PROCESS=child`` each import and the matching after it run in a process of their own
    (:class:`~salesbridge.jobs.work_horse.WorkHorse`, on the store's clock: an injected ``clock`` is refused); the
    child counts its requests in a budget of its own, as ``salesbridge sync run`` in a terminal does.

    Raises:
        ConfigError: a ``clock`` with ``SALESBRIDGE_IMPORT_PROCESS=child``.
    """
    from salesbridge.jobs.runner import EmbeddedRunner
    from salesbridge.jobs.work_horse import WorkHorse
    from salesbridge.store.uow import utc_now

    in_child = settings.import_process == "child"
    if in_child and clock is not None:
        raise ConfigError(
            "An import process of its own runs on the store's clock: set SALESBRIDGE_IMPORT_PROCESS=thread."
        )
    sessions = dynamics_sessions(request_budget(settings, db_url))
    return EmbeddedRunner(
        store,
        sessions,
        store.connected_organization_ids,
        clock=clock or utc_now,
        lease=timedelta(seconds=settings.import_lease_seconds),
        writeback_sessions=sessions,
        writeback_lease=timedelta(seconds=settings.writeback_lease_seconds),
        writeback_first_retry=timedelta(seconds=settings.writeback_first_retry_seconds),
        mailer=mailer(settings),
        console_url=console_url or public_base_url(settings),
        app_sessions=sessions,
        work_horse=WorkHorse(work_horse_request(settings, db_url)) if in_child else None,
    )


def work_horse_request(settings: Settings, db_url: str | None = None) -> dict[str, object]:
    """What an import's own process needs to rebuild this process's store and connectors (:func:`run_work_horse`):
    the settings, secrets included (the request travels on the child's standard input, never its command line),
    and the store's URL."""
    document = settings.model_dump(mode="json")
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            document[name] = value.get_secret_value()
    return {"settings": document, "db_url": db_url or settings.database_url}


def run_work_horse(request: Mapping[str, Any]) -> RunOutcome | None:
    """The import's own process (``python -m salesbridge.cli.work_horse``): the organization's queued import and
    requested matching (:func:`~salesbridge.jobs.tasks.import_and_match`) on the store and settings of
    ``request`` (:func:`work_horse_request` and ``organization_id``), on this process's request budget.

    Raises:
        ConfigError: the request is not one :func:`work_horse_request` made, or its store is gone.
    """
    from salesbridge.jobs.tasks import TaskContext, import_and_match
    from salesbridge.settings import Settings
    from salesbridge.store.uow import utc_now

    try:
        settings = Settings.model_validate(request["settings"])
        organization_id = uuid.UUID(str(request["organization_id"]))
        db_url = str(request["db_url"])
    except (KeyError, ValueError, ValidationError) as error:
        raise ConfigError(f"Not an import process's request: {error}.") from None
    store = open_store(settings, db_url, create=False)
    context = TaskContext(
        store,
        dynamics_sessions(request_budget(settings, db_url)),
        utc_now,
        timedelta(seconds=settings.import_lease_seconds),
    )
    with fewer_collections():
        return import_and_match(context, organization_id)


def task_context(store: StoreAccess, settings: Settings, db_url: str | None = None) -> TaskContext:
    """What the background tasks of this process use: ``store`` (at ``db_url``, or the settings'), the Dynamics
    connector drawing on :func:`request_budget`, the store's clock and the configured import lease."""
    from salesbridge.jobs.tasks import TaskContext
    from salesbridge.store.uow import utc_now

    sessions = dynamics_sessions(request_budget(settings, db_url))
    return TaskContext(
        store,
        sessions,
        utc_now,
        timedelta(seconds=settings.import_lease_seconds),
        writeback_sessions=sessions,
        writeback_lease=timedelta(seconds=settings.writeback_lease_seconds),
        writeback_first_retry=timedelta(seconds=settings.writeback_first_retry_seconds),
        mailer=mailer(settings),
        console_url=public_base_url(settings),
        app_sessions=sessions,
    )


def procrastinate_app(settings: Settings, db_url: str | None = None) -> procrastinate.App:
    """The procrastinate App on the store's PostgreSQL (``SALESBRIDGE_JOBS=procrastinate``), its tasks running on
    the store at ``db_url`` (or the settings'), opened (and migrated: the job tables come with the store's schema)
    when the first job runs.

    Raises:
        UnsupportedJobError: ``SALESBRIDGE_JOBS`` is not procrastinate.
        ConfigError: the store is not on PostgreSQL.
    """
    from salesbridge.errors import UnsupportedJobError
    from salesbridge.jobs.procrastinate_app import build_app
    from salesbridge.store.jobs import procrastinate_conninfo

    if settings.jobs != "procrastinate":
        raise UnsupportedJobError(
            "Workers run with SALESBRIDGE_JOBS=procrastinate (on PostgreSQL); with the embedded runner, "
            "`salesbridge serve` runs the imports."
        )
    url = db_url or settings.database_url
    conninfo = procrastinate_conninfo(url)
    built: list[TaskContext] = []
    lock = threading.Lock()

    def context() -> TaskContext:
        with lock:
            if not built:
                built.append(task_context(open_store(settings, url, create=False), settings, url))
            return built[0]

    return build_app(
        conninfo, context, schedule_cron=settings.jobs_schedule_cron, stalled_after_s=settings.worker_stalled_seconds
    )


def run_worker(
    settings: Settings, db_url: str | None = None, *, concurrency: int = 1, queues: list[str] | None = None
) -> None:
    """Run a procrastinate worker on the store at ``db_url`` (or the settings') until SIGINT or SIGTERM, with the
    configured heartbeat; the store is migrated first (so its job tables exist).

    Raises:
        UnsupportedJobError: ``SALESBRIDGE_JOBS`` is not procrastinate.
        ConfigError: no store at the URL, or it is not on PostgreSQL.
    """
    from salesbridge.jobs.procrastinate_app import run_worker as run_procrastinate_worker

    app = procrastinate_app(settings, db_url)
    open_store(settings, db_url, create=False)  # migrated before the worker looks for jobs
    with fewer_collections():  # a worker imports
        asyncio.run(
            run_procrastinate_worker(
                app,
                concurrency=concurrency,
                queues=queues,
                heartbeat_s=settings.worker_heartbeat_seconds,
                stalled_after_s=settings.worker_stalled_seconds,
            )
        )


def worker_thread(store: StoreAccess, settings: Settings, db_url: str | None = None) -> ProcrastinateWorkerThread:
    """A procrastinate worker on a thread of this process (the console's, without ``--no-worker``), its tasks on
    ``store``."""
    from salesbridge.jobs.procrastinate_app import ProcrastinateWorkerThread, build_app
    from salesbridge.store.jobs import procrastinate_conninfo

    context = task_context(store, settings, db_url)
    app = build_app(
        procrastinate_conninfo(db_url or settings.database_url),
        lambda: context,
        schedule_cron=settings.jobs_schedule_cron,
        stalled_after_s=settings.worker_stalled_seconds,
    )
    return ProcrastinateWorkerThread(
        app, heartbeat_s=settings.worker_heartbeat_seconds, stalled_after_s=settings.worker_stalled_seconds
    )


def console_services(
    store: StoreAccess,
    *,
    wake_importer: Callable[[], None] | None = None,
    targets: DynamicsTargets | None = None,
    sessions: CrmAppSessionFactory | None = None,
    mailer: Mailer | None = None,
    console_url: str | None = None,
    report_cache_mib: float | None = None,
) -> ConsoleServices:
    """The console's use cases on ``store``, reaching Dynamics through ``sessions`` (the real connector on the
    process's request budget when None; :func:`console_app` passes the one on :func:`request_budget`, shared with
    the workers under ``SALESBRIDGE_JOBS=procrastinate``), where ``targets`` admits (Dynamics 365's hosts only when
    None). Invitations are emailed through ``mailer`` (none when None), their links starting with ``console_url``.
    The Reports page keeps its drawn charts within ``report_cache_mib`` MiB (``SALESBRIDGE_REPORTS_CACHE_MIB``; the
    cache's default when None)."""
    from salesbridge.crm.dynamics.endpoints import DynamicsTargets
    from salesbridge.services.accounts import AccountService
    from salesbridge.services.crm_settings import CrmSettingsService
    from salesbridge.services.seats import SeatService
    from salesbridge.store.uow import utc_now
    from salesbridge.web.chart_cache import MIB, ChartCache
    from salesbridge.web.context import DEFAULT_PUBLIC_BASE_URL, ConsoleServices

    return ConsoleServices(
        accounts=AccountService(store, clock=utc_now),
        store=store,
        clock=utc_now,
        seats=SeatService(store, clock=utc_now, mailer=mailer, console_url=console_url or DEFAULT_PUBLIC_BASE_URL),
        crm_sessions=sessions or dynamics_session,
        crm_settings=CrmSettingsService(store, sessions or dynamics_session),
        crm_targets=targets or DynamicsTargets(),
        wake_importer=wake_importer,
        crm_app_sessions=sessions or dynamics_session,
        report_charts=ChartCache() if report_cache_mib is None else ChartCache(int(report_cache_mib * MIB)),
    )


@dataclass(frozen=True)
class Workspace:
    """The use cases an entry point calls, on one store, and what they are given.

    Attributes:
        store: The store, for use cases that take it directly (``crm_status``, ``sync_status``…).
        crm_sessions: Opens sessions to the CRM (the real Dynamics connector).
        crm_app_sessions: The same sessions, typed for installing the CRM-side app.
        writeback_sessions: The same sessions, typed for writing activities back (``writeback drain``).
        crm_targets: Where administrators may connect (settings), and tenant discovery.
        clock: The current time, timezone-aware UTC.
        import_lease: How long a running import may go without finishing a page (settings).
        writeback_lease: How long ``writeback drain`` reserves a claimed batch of activities (settings).
        writeback_first_retry: How long an activity whose delivery failed transiently waits before its first retry
            (settings).
        accounts: People, API tokens, invitations.
        seats: Seats and assigning them from the CRM.
        crm_settings: Pipeline stage, won value, auto-save and sync interval.
        engine: The store's database engine, disposed by :meth:`close`.
    """

    store: StoreAccess
    crm_sessions: CrmSessionFactory
    crm_app_sessions: CrmAppSessionFactory
    writeback_sessions: WritebackSessionFactory
    crm_targets: DynamicsTargets
    clock: Clock
    import_lease: timedelta
    writeback_lease: timedelta
    writeback_first_retry: timedelta
    accounts: AccountService
    seats: SeatService
    crm_settings: CrmSettingsService
    engine: Engine = field(repr=False)

    def close(self) -> None:
        """Close the store's database connections (the workspace is not used afterwards). Idempotent."""
        self.engine.dispose()


def open_workspace(settings: Settings, db_url: str | None = None, *, create: bool = False) -> Workspace:
    """The use cases on the store at ``db_url`` (or the settings' URL), opened as :func:`open_store` does: by
    default an existing store only. Close it when done (:meth:`Workspace.close`).

    Raises:
        ConfigError: as :func:`open_store`.
    """
    from salesbridge.services.accounts import AccountService
    from salesbridge.services.crm_settings import CrmSettingsService
    from salesbridge.services.seats import SeatService
    from salesbridge.store.uow import utc_now

    store, engine = _open_store(settings, db_url or settings.database_url, create=create)
    # `salesbridge sync run` beside procrastinate workers draws on their budget.
    sessions = dynamics_sessions(request_budget(settings, db_url))
    return Workspace(
        store=store,
        crm_sessions=sessions,
        crm_app_sessions=sessions,
        writeback_sessions=sessions,
        crm_targets=connect_targets(settings),
        clock=utc_now,
        import_lease=timedelta(seconds=settings.import_lease_seconds),
        writeback_lease=timedelta(seconds=settings.writeback_lease_seconds),
        writeback_first_retry=timedelta(seconds=settings.writeback_first_retry_seconds),
        accounts=AccountService(store, clock=utc_now),
        # The CLI prints the invitation links itself: it emails them only through a configured SMTP server.
        seats=SeatService(
            store,
            clock=utc_now,
            mailer=mailer(settings) if settings.smtp_host else None,
            console_url=public_base_url(settings),
        ),
        crm_settings=CrmSettingsService(store, sessions),
        engine=engine,
    )


@dataclass(frozen=True)
class DemoWorkspace:
    """The demo organization, connected to the sandbox, with seats assigned from the sandbox's users.

    Attributes:
        organization: The workspace's slug (what the sign-in page calls "workspace").
        admin_email: The administrator, a CRM user of the sandbox holding a seat.
        seller_email: A seller who accepted their invitation, so they can sign in too.
        password: The password of both, generated for this run.
        invited: Emails of the other seats, invited and not yet accepted.
    """

    organization: str
    admin_email: str
    seller_email: str
    password: SecretStr = field(repr=False)
    invited: tuple[str, ...]


async def prepare_demo_workspace(
    store: StoreAccess,
    crm: CrmCredentials,
    *,
    slug: str = "demo",
    seats: int = 10,
    targets: DynamicsTargets | None = None,
    mailer: Mailer | None = None,
    console_url: str | None = None,
) -> DemoWorkspace:
    """Create the demo organization on ``store``, connect it to ``crm`` (the sandbox), make the first of its
    CRM users the administrator, and assign seats from the CRM to the next five (one of them accepts).
    ``targets`` admits the sandbox's host (and Dynamics 365's) when None. The invitations go through ``mailer``
    (the demo's prints them), linking to ``console_url``; none is emailed when None. The store work runs on
    worker threads, never on the event loop.

    Raises:
        SalesbridgeError: the store already holds an organization ``slug``, or the connection failed.
    """
    from salesbridge.crm.dynamics.endpoints import DynamicsTargets, EndpointPolicy
    from salesbridge.services.connecting import connect_crm

    await asyncio.to_thread(_create_demo_organization, store, slug, seats)
    targets = targets or DynamicsTargets(EndpointPolicy([urlsplit(crm.org_url).hostname or ""]))
    outcome = await connect_crm(store, dynamics_session, slug=slug, credentials=crm, targets=targets, actor="demo")
    if not outcome.is_connected:
        raise ConfigError(
            f"The demo could not connect to the sandbox: {outcome.english_message} {outcome.reason or ''}"
        )
    await _map_demo_profile_url_columns(store, slug)
    return await asyncio.to_thread(_seat_demo_people, store, slug, mailer, console_url)


DEMO_PROFILE_URL_COLUMN: Final = "new_linkedinurl"
"""The demo CRM's custom text column holding a LinkedIn profile URL (on contact, lead and account)."""


async def _map_demo_profile_url_columns(store: StoreAccess, slug: str) -> None:
    """Map the demo CRM's profile-URL column on CRM Settings, as its administrator would, for each table that has
    it (before the first import, so that it reads the column)."""
    from salesbridge.services.crm_settings import CrmSettingsService, SettingsChange

    service = CrmSettingsService(store, dynamics_session)
    choices = await service.choices(slug)
    mapped = {
        table: DEMO_PROFILE_URL_COLUMN
        for table, offered in choices.text_columns.items()
        if DEMO_PROFILE_URL_COLUMN in {choice.value for choice in offered}
    }
    if mapped:
        await service.update(slug, SettingsChange(profile_url_columns=mapped), actor="demo")


@dataclass(frozen=True)
class DemoPeople:
    """What :func:`load_demo_people` loaded, and the matching run after it."""

    people: LoadReport
    companies: LoadReport
    matching: MatchRunSummary


def load_demo_people(store: StoreAccess, sandbox: Sandbox, *, slug: str = "demo", seed: int = 13) -> DemoPeople:
    """Load the demo workspace's people and companies into ``slug``: generated from the sandbox's CRM so that they
    overlap it the way real data does (:mod:`salesbridge.sandbox.seeds.demo_workspace`), through the CSV load
    service (companies first), then match them with the imported CRM records. Idempotent (loading is by external
    id). Call it after the first import, off the event loop.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
    """
    from salesbridge.domain.csv_rows import read_company_csv, read_people_csv
    from salesbridge.sandbox.seeds.demo_workspace import (
        COMPANY_COLUMNS,
        PEOPLE_COLUMNS,
        crm_rows_of_sandbox,
        csv_bytes,
        generate_workspace,
    )
    from salesbridge.services.matching import run_matching
    from salesbridge.services.organizations import require_organization
    from salesbridge.services.people_load import load_companies, load_people
    from salesbridge.store.uow import utc_now

    workspace = generate_workspace(crm_rows_of_sandbox(sandbox.services.state), seed=seed)
    companies = load_companies(
        store, slug, read_company_csv(csv_bytes(COMPANY_COLUMNS, workspace.companies)), actor="demo"
    )
    people = load_people(store, slug, read_people_csv(csv_bytes(PEOPLE_COLUMNS, workspace.people)), actor="demo")
    matching = run_matching(store, require_organization(store, slug), clock=utc_now)
    return DemoPeople(people=people, companies=companies, matching=matching)


def _create_demo_organization(store: StoreAccess, slug: str, seats: int) -> None:
    from salesbridge.services.connecting import create_organization

    if store.organization_id(slug) is not None:
        raise ConfigError(f"The store already has an organization {slug!r}; the demo starts from an empty store.")
    create_organization(store, slug=slug, name="Contoso (demo)", seats=seats, actor="demo")


def _seat_demo_people(
    store: StoreAccess, slug: str, mailer: Mailer | None = None, console_url: str | None = None
) -> DemoWorkspace:
    from salesbridge.services.accounts import AccountService
    from salesbridge.services.seats import SeatService
    from salesbridge.store.uow import utc_now
    from salesbridge.web.context import DEFAULT_PUBLIC_BASE_URL

    accounts = AccountService(store, clock=utc_now)
    seat_service = SeatService(store, clock=utc_now, mailer=mailer, console_url=console_url or DEFAULT_PUBLIC_BASE_URL)
    password = SecretStr(secrets.token_urlsafe(12))
    director, *people = seat_service.assignable_crm_users(slug)
    admin_email = director.email or ""
    accounts.create_user(
        slug,
        email=admin_email,
        display_name=director.full_name,
        password=password,
        is_admin=True,
        with_seat=True,
        locale="es",
        actor="demo",
    )
    invitations = seat_service.assign_from_crm(slug, [person.id for person in people[:5]], actor=admin_email)
    seller = invitations[0]
    accounts.accept_invitation(seller.token.get_secret_value(), password, seller.display_name)
    return DemoWorkspace(
        organization=slug,
        admin_email=admin_email,
        seller_email=seller.email,
        password=password,
        invited=tuple(invitation.email for invitation in invitations[1:]),
    )


def sandbox_seed(text: str) -> SeedSpec:
    """The sandbox seed named by ``text`` (``demo``, ``none``, ``scale:N``).

    Raises:
        ValueError: ``text`` names no seed.
    """
    from salesbridge.sandbox.seeds.seeding import parse_seed

    return parse_seed(text)


def local_sandbox(
    *,
    seed: SeedSpec,
    db_path: Path | None = None,
    change_tracking_days: int = 7,
    fault_seed: int = 0,
    throttle_rate: float = 0.0,
    unavailable_rate: float = 0.0,
    reset_rate: float = 0.0,
    latency_ms: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> Sandbox:
    """The sandbox (a local Dataverse), seeded, on the SQLite file ``db_path`` (in memory when None), with the
    given fault rates (shares of requests, 0 to 1) and added latency (milliseconds). ``progress`` is told the rows
    seeded so far."""
    from salesbridge.sandbox.assembly import build_sandbox
    from salesbridge.sandbox.organization.state import SandboxConfig
    from salesbridge.sandbox.server.faults import FaultConfig

    return build_sandbox(
        db_path=str(db_path) if db_path else None,
        seed=seed,
        config=SandboxConfig(change_tracking_expiry_days=change_tracking_days),
        faults=FaultConfig(
            seed=fault_seed,
            throttle_rate=throttle_rate,
            unavailable_rate=unavailable_rate,
            reset_rate=reset_rate,
            latency_ms=latency_ms,
        ),
        progress=progress,
    )


def serve_sandbox(
    sandbox: Sandbox,
    *,
    state_dir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: bool = False,
    keep_tls: bool = False,
    on_ready: Callable[[dict[str, str], Path], None] | None = None,
) -> None:
    """Serve ``sandbox`` until SIGINT or SIGTERM (HTTPS with a throwaway CA written to ``state_dir`` when ``tls``).
    Once it accepts connections, ``state_dir/sandbox.json`` is written and ``on_ready`` gets its content and path.
    ``keep_tls``: reuse the certificate an earlier start wrote into ``state_dir`` when still valid (a sandbox kept
    in a file, restarted: the workspaces connected to it keep trusting it).

    Raises:
        OSError: the address could not be bound.
    """
    from salesbridge.sandbox.server.serving import serve_forever, write_state_file
    from salesbridge.sandbox.server.tls import create_tls_material, load_tls_material

    material = ((keep_tls and load_tls_material(state_dir)) or create_tls_material(state_dir)) if tls else None

    def ready(base_url: str) -> None:
        info = sandbox.connection_info(base_url, str(material.ca_bundle) if material else None)
        path = write_state_file(state_dir, info)
        if on_ready is not None:
            on_ready(info, path)

    serve_forever(sandbox.app, host=host, port=port, tls=material, on_ready=ready)


@dataclass(frozen=True)
class DemoCrm:
    """The demo's sandbox while it serves.

    Attributes:
        api_url: The Dataverse Web API root.
        credentials: What the demo workspace connects with (the sandbox's application user, its CA bundle).
    """

    api_url: str
    credentials: CrmCredentials = field(repr=False)


@contextmanager
def serving_demo_sandbox(sandbox: Sandbox, *, state_dir: Path, port: int = 0) -> Iterator[DemoCrm]:
    """Serve ``sandbox`` over TLS on 127.0.0.1 (a throwaway CA in ``state_dir``) on a background thread while the
    block runs, with ``state_dir/sandbox.json`` written."""
    from salesbridge.sandbox.server.serving import serve_in_thread, write_state_file
    from salesbridge.sandbox.server.tls import create_tls_material

    material = create_tls_material(state_dir)
    ca_pem = material.ca_bundle.read_text(encoding="ascii")
    # Offered to the console's administrators by name (demo_settings' CA bundle directory).
    offered = state_dir / DEMO_CA_BUNDLES
    offered.mkdir(exist_ok=True)
    (offered / "sandbox.pem").write_text(ca_pem, encoding="ascii")
    with serve_in_thread(sandbox.app, port=port, tls=material) as server:
        info = sandbox.connection_info(server.base_url, str(material.ca_bundle))
        write_state_file(state_dir, info)
        yield DemoCrm(
            api_url=info["api_url"],
            # No tenant id or authority: the demo finds them from the organization's bearer challenge.
            credentials=CrmCredentials(
                org_url=info["org_url"],
                client_id=info["client_id"],
                client_secret=SecretStr(info["client_secret"]),
                ca_bundle=CaBundle(ca_pem, name="sandbox"),
            ),
        )


DEMO_CA_BUNDLES = "ca-bundles"
"""The folder, in the demo's state folder, of the CA bundles the demo's console offers (the sandbox's CA)."""

DEMO_ENVIRONMENT_FILE = "demo.env"
"""The file, in the demo's state folder, holding the environment that points the CLI at the demo's store."""


def demo_settings(state_dir: Path, *, console_port: int = 8000) -> Settings:
    """The settings of the demo: its store and credential key in ``state_dir`` (never the current folder's), whatever
    ``SALESBRIDGE_DATABASE_URL`` and the credential key variables say; the console on 127.0.0.1:``console_port``."""
    from salesbridge.settings import Settings

    state_dir = state_dir.resolve()
    return Settings(
        public_base_url=f"http://127.0.0.1:{console_port}",
        database_url=f"sqlite:///{state_dir / 'demo-workspace.db'}",
        credential_key=None,
        credential_key_file=state_dir / "credential.key",
        # The sandbox listens on 127.0.0.1 and its throwaway CA is offered by name.
        crm_allowed_hosts=["127.0.0.1"],
        crm_ca_bundle_dir=state_dir / DEMO_CA_BUNDLES,
    )


def demo_exports(settings: Settings) -> list[str]:
    """The shell ``export`` lines that point the CLI at the demo's store and credential key, and let it connect to
    the demo's sandbox."""
    import shlex

    variables = {
        "SALESBRIDGE_DATABASE_URL": settings.database_url,
        "SALESBRIDGE_CREDENTIAL_KEY_FILE": str(settings.credential_key_file),
        "SALESBRIDGE_CRM_ALLOWED_HOSTS": ",".join(settings.crm_allowed_hosts),
    }
    if settings.public_base_url is not None:  # invitation links the CLI prints point at the demo's console
        variables["SALESBRIDGE_PUBLIC_BASE_URL"] = settings.public_base_url
    if settings.crm_ca_bundle_dir is not None:
        variables["SALESBRIDGE_CRM_CA_BUNDLE_DIR"] = str(settings.crm_ca_bundle_dir)
    return [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]


def write_demo_environment(settings: Settings, state_dir: Path) -> Path:
    """Write :func:`demo_exports` to ``state_dir/demo.env`` (for ``source``), after unsetting
    ``SALESBRIDGE_CREDENTIAL_KEY``; its path."""
    path = state_dir / DEMO_ENVIRONMENT_FILE
    # A key in the environment would take precedence over the demo's key file.
    lines = ["unset SALESBRIDGE_CREDENTIAL_KEY", *demo_exports(settings)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fresh_demo_workspace(settings: Settings) -> Workspace:
    """The demo's workspace on a new, empty store: the sandbox is new on every run, so is the workspace."""
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    for path in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        path.unlink(missing_ok=True)
    return open_workspace(settings, create=True)
