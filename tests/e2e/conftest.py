"""Browser tests: a real Chromium (Debian's, at ``chromium`` on PATH) driven by Playwright's sync API, against the
real console served by uvicorn on 127.0.0.1 over a SQLite file store.

Missing Chromium FAILS the tests (run ``make browser``); they are never skipped. No Playwright browser download
is needed or attempted. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric import rsa
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
from pydantic import SecretStr
from tests.conftest import MigratedSqlite

from salesbridge.bootstrap import console_services, dynamics_session, prepare_demo_workspace
from salesbridge.crm.dynamics.endpoints import DynamicsTargets, EndpointPolicy
from salesbridge.crm.dynamics.trust import CaBundleDirectory
from salesbridge.domain.workspace import CaBundle, CrmCredentials
from salesbridge.jobs.runner import EmbeddedRunner
from salesbridge.sandbox.assembly import Sandbox, build_sandbox
from salesbridge.sandbox.seeds.seeding import parse_seed
from salesbridge.sandbox.server.serving import RunningServer, serve_in_thread
from salesbridge.sandbox.server.tls import create_tls_material
from salesbridge.services.accounts import AccountService
from salesbridge.services.connecting import create_organization
from salesbridge.services.crm_settings import CrmSettingsService
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.seats import SeatService
from salesbridge.store import create_engine_for, create_session_factory
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory, utc_now
from salesbridge.web.app import ConsoleServices, create_app

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "correct horse battery staple"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--no-first-run",
]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    """Playwright's sync API (run outside any event loop: these tests are plain sync tests), for one module: while
    it is open the thread has a running event loop, and a later file's ``asyncio.run`` on the same pytest worker
    would fail ("cannot be called from a running event loop")."""
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def chromium(playwright_driver: Playwright) -> Iterator[Browser]:
    """Headless Debian Chromium."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "Chromium was not found on PATH. Install it with `make browser` (Debian: apt-get install chromium); "
            "the browser tests are never skipped.",
            pytrace=False,
        )
    browser = playwright_driver.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) and page."""
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@dataclass(frozen=True)
class LiveConsole:
    """The console served on 127.0.0.1; ``acme`` has ``admin@acme.test`` (English, administrator) and
    ``vendedora@acme.test`` (Spanish, seller with a seat)."""

    base_url: str
    store: UnitOfWorkFactory
    password: str = PASSWORD

    def url(self, path: str) -> str:
        """An absolute URL of ``path``."""
        return self.base_url + path


@pytest.fixture
def live_console(tmp_path: Path, migrated_sqlite: MigratedSqlite) -> Iterator[LiveConsole]:
    """The real console (plain HTTP on loopback, so cookies are not Secure) on a seeded SQLite file store."""
    url = migrated_sqlite(tmp_path / "console.db")
    engine = create_engine_for(url)
    store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()), clock=_utc_now)
    accounts = AccountService(
        store, clock=_utc_now, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    create_organization(store, slug="acme", name="Acme Corp", seats=5)
    secret = SecretStr(PASSWORD)
    accounts.create_user(
        "acme",
        email="admin@acme.test",
        display_name="Ada Admin",
        password=secret,
        is_admin=True,
        with_seat=True,
        actor="test",
    )
    accounts.create_user(
        "acme",
        email="vendedora@acme.test",
        display_name="Valeria Vendedora",
        password=secret,
        is_admin=False,
        with_seat=True,
        locale="es",
        actor="test",
    )
    app = create_app(
        ConsoleServices(
            accounts=accounts,
            store=store,
            clock=_utc_now,
            seats=SeatService(store, clock=_utc_now),
            crm_sessions=dynamics_session,
            crm_settings=CrmSettingsService(store, dynamics_session),
            # The operator allows the sandbox's host, as SALESBRIDGE_CRM_ALLOWED_HOSTS=127.0.0.1 would.
            crm_targets=DynamicsTargets(EndpointPolicy(["127.0.0.1"])),
        ),
        secure_cookies=False,
    )
    server: RunningServer = serve_in_thread(app, host="127.0.0.1", port=0)
    try:
        yield LiveConsole(f"http://127.0.0.1:{server.port}", store)
    finally:
        server.stop()
        engine.dispose()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG of ``page`` as ``test-artifacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


T = TypeVar("T")

CRM_WAIT_S = 1.0
"""How long the synced console's pages wait for Dynamics (short, so a slow CRM shows quickly in tests)."""


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on a thread of its own: sync Playwright keeps an event loop running on this one."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


@dataclass(frozen=True)
class SyncedConsole:
    """The console of the demo workspace (``demo``: a Spanish-speaking administrator, an English-speaking seller),
    imported once, with its runner; ``sandbox`` is the CRM it reaches (its faults can be configured)."""

    base_url: str
    store: UnitOfWorkFactory
    admin_email: str
    seller_email: str
    password: str
    sandbox: Sandbox

    def url(self, path: str) -> str:
        """An absolute URL of ``path``."""
        return self.base_url + path


@pytest.fixture
def synced_console(
    tmp_path: Path, migrated_sqlite: MigratedSqlite, sandbox_signing_key: rsa.RSAPrivateKey
) -> Iterator[SyncedConsole]:
    """The demo workspace connected over TLS to the demo sandbox and imported once; the console serves it with
    its runner (imports and writeback), and waits :data:`CRM_WAIT_S` for Dynamics on its pages. Fresh for each
    test: for tests that configure the sandbox's faults, import, reconnect or disconnect."""
    yield from _serving_synced_console(tmp_path, migrated_sqlite, sandbox_signing_key)


@pytest.fixture(scope="module")
def shared_synced_console(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[SyncedConsole]:
    """A :func:`synced_console` shared by a module's tests that leave nothing another test reads (each signs in
    with a browser context of its own): building one takes seconds (a sandbox, TLS, a workspace and an import)."""
    yield from _serving_synced_console(
        tmp_path_factory.mktemp("synced-console"),
        request.getfixturevalue("migrated_sqlite"),
        request.getfixturevalue("sandbox_signing_key"),
    )


def _serving_synced_console(
    tmp_path: Path, migrated_sqlite: MigratedSqlite, signing_key: rsa.RSAPrivateKey
) -> Iterator[SyncedConsole]:
    sandbox = build_sandbox(seed=parse_seed("demo"), signing_key=signing_key)
    material = create_tls_material(tmp_path / "tls")
    url = migrated_sqlite(tmp_path / "console.db")
    engine = create_engine_for(url)
    store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))
    # A test that slows the CRM down leaves requests in flight that nobody waits for: stop without waiting 5 s.
    with RunningServer(sandbox.app, tls=material, graceful_timeout_s=1.0) as crm_server:
        info = sandbox.connection_info(crm_server.base_url, str(material.ca_bundle))
        ca_pem = material.ca_bundle.read_text(encoding="ascii")
        offered = tmp_path / "ca-bundles"
        offered.mkdir()
        (offered / "sandbox.pem").write_text(ca_pem, encoding="ascii")
        targets = DynamicsTargets(EndpointPolicy(["127.0.0.1"]), CaBundleDirectory(offered))
        credentials = CrmCredentials(
            org_url=info["org_url"],
            client_id=info["client_id"],
            client_secret=SecretStr(info["client_secret"]),
            ca_bundle=CaBundle(ca_pem, name="sandbox"),
        )
        workspace = run_async(prepare_demo_workspace(store, credentials))
        organization_id = store.organization_id(workspace.organization)
        assert organization_id is not None
        first = run_async(run_pending_import(store, dynamics_session, organization_id, clock=utc_now))
        assert first is not None
        assert first.succeeded
        runner = EmbeddedRunner(
            store,
            dynamics_session,
            store.connected_organization_ids,
            clock=utc_now,
            poll_interval_s=0.5,
            writeback_sessions=dynamics_session,  # it delivers logged activities too, as `salesbridge serve` does
        )
        services = dataclasses.replace(
            console_services(store, wake_importer=runner.wake, targets=targets), crm_wait_s=CRM_WAIT_S
        )
        app = create_app(services, secure_cookies=False, background=(runner,))
        with serve_in_thread(app) as console_server:
            yield SyncedConsole(
                f"http://127.0.0.1:{console_server.port}",
                store,
                workspace.admin_email,
                workspace.seller_email,
                workspace.password.get_secret_value(),
                sandbox,
            )
    engine.dispose()


def sign_in_to(page: Page, base_url: str, workspace: str, email: str, password: str) -> None:
    """Sign ``email`` in to ``workspace`` through the sign-in form and wait for the home page."""
    page.goto(base_url + "/sign-in")
    page.get_by_test_id("workspace").fill(workspace)
    page.get_by_test_id("email").fill(email)
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("home-title")).to_be_visible()


def sign_in_demo(page: Page, console: SyncedConsole, email: str) -> None:
    """Sign ``email`` in to the demo workspace and wait for the home page."""
    sign_in_to(page, console.base_url, "demo", email, console.password)


def demo_page_in(chromium: Browser, console: SyncedConsole, email: str, lang: str, viewport: dict[str, int]) -> Page:
    """A new browser context of ``viewport`` (downloads accepted) with ``email`` signed in to the demo workspace
    and reading ``lang`` (chosen on the Account page, as a person would)."""
    page = chromium.new_context(viewport=viewport, accept_downloads=True).new_page()  # type: ignore[arg-type]
    page.set_default_timeout(15_000)
    sign_in_demo(page, console, email)
    choose_language(page, console.url("/account"), lang)
    return page


def choose_language(page: Page, account_url: str, lang: str) -> None:
    """Choose ``lang`` on the Account page at ``account_url``, as a person would, and wait for the page in it."""
    page.goto(account_url)
    page.get_by_test_id("locale-select").select_option(lang)
    page.get_by_test_id("locale-save").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)
