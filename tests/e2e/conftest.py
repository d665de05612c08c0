"""Browser tests: a real Chromium (Debian's, at ``chromium`` on PATH) driven by Playwright's sync API, against the
real console served by uvicorn on 127.0.0.1 over a SQLite file store.

Missing Chromium FAILS the tests (run ``make browser``); they are never skipped. No Playwright browser download
is needed or attempted. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from pydantic import SecretStr

from salesbridge.bootstrap import dynamics_session
from salesbridge.crm.dynamics.endpoints import DynamicsTargets, EndpointPolicy
from salesbridge.sandbox.server.serving import RunningServer, serve_in_thread
from salesbridge.services.accounts import AccountService
from salesbridge.services.connect import create_organization
from salesbridge.services.seats import SeatService
from salesbridge.store import create_engine_for, create_session_factory, migrate
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory
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


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright]:
    """Playwright's sync API (run outside any event loop: these tests are plain sync tests)."""
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def chromium(playwright_session: Playwright) -> Iterator[Browser]:
    """Headless Debian Chromium."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "Chromium was not found on PATH. Install it with `make browser` (Debian: apt-get install chromium); "
            "the browser tests are never skipped.",
            pytrace=False,
        )
    browser = playwright_session.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
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
def live_console(tmp_path: Path) -> Iterator[LiveConsole]:
    """The real console (plain HTTP on loopback, so cookies are not Secure) on a seeded SQLite file store."""
    url = f"sqlite:///{tmp_path / 'console.db'}"
    migrate(url)
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
