"""What the console's routes are given: the use cases (:class:`ConsoleServices`) and how the app is served
(:class:`ConsoleConfig`). Both live on ``app.state``; routes reach them through dependencies, never globals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from salesbridge.services.accounts import AccountService
from salesbridge.services.connecting import ConnectTargets
from salesbridge.services.crm_settings import CrmSettingsService
from salesbridge.services.ports import Clock, CrmAppSessionFactory, CrmSessionFactory, StoreAccess
from salesbridge.services.seats import SeatService
from salesbridge.web.chart_cache import ChartCache


@dataclass(frozen=True)
class ConsoleServices:
    """The use cases the console calls; built by the composition root (:func:`salesbridge.bootstrap.build_console`)
    or by tests.

    Attributes:
        accounts: People, sessions, API tokens, invitations.
        store: The store, for use cases that take it directly (``crm_status``…).
        clock: The current time, timezone-aware UTC.
        seats: Seat management and assigning seats from the CRM.
        crm_sessions: Opens sessions to a CRM (the Dynamics connector; tests may pass another).
        crm_settings: Pipeline stage, won value, auto-save and sync interval (on the same store and sessions).
        crm_targets: Where administrators may connect (the operator's settings, built by bootstrap).
        wake_importer: Tells the import runner to look at the queue now ("Sync now"); None when no runner runs in
            this process (imports then start at the runner's next poll elsewhere).
        crm_wait_s: How long a page waits for what it reads from Dynamics (CRM Settings' stages and money
            columns) before it renders without it, saying what it could not load. Seconds.
        crm_app_sessions: Opens sessions able to install the CRM-side app (CRM Settings' "Get it now", enabling
            writeback); None: this console cannot reach the app, and the page says so.
        report_charts: The Reports page's drawn charts, kept within a byte budget (``SALESBRIDGE_REPORTS_CACHE_MIB``,
            set by bootstrap), per organization.
    """

    accounts: AccountService
    store: StoreAccess
    clock: Clock
    seats: SeatService
    crm_sessions: CrmSessionFactory
    crm_settings: CrmSettingsService
    crm_targets: ConnectTargets
    wake_importer: Callable[[], None] | None = None
    crm_wait_s: float = 5.0
    crm_app_sessions: CrmAppSessionFactory | None = None
    report_charts: ChartCache = field(default_factory=ChartCache)


DEFAULT_PUBLIC_BASE_URL: Final = "http://127.0.0.1:8000"
"""Where ``salesbridge serve`` listens by default; the public address when none is configured."""


@dataclass(frozen=True)
class ConsoleConfig:
    """How the app is served.

    Attributes:
        secure_cookies: Cookies are ``Secure`` and ``__Host-`` prefixed, and HSTS is sent (served over HTTPS).
        public_base_url: The console's public address (``SALESBRIDGE_PUBLIC_BASE_URL``): every absolute link the
            console gives out (invitation links) starts with it, never with the request's ``Host``.
        allowed_hosts: Host names requests may name besides the public base URL's (``SALESBRIDGE_ALLOWED_HOSTS``).
    """

    secure_cookies: bool = True
    public_base_url: str = DEFAULT_PUBLIC_BASE_URL
    allowed_hosts: tuple[str, ...] = ()

    @property
    def trusted_hosts(self) -> list[str]:
        """The ``Host`` names the console answers (any port): the public base URL's host and the allowed hosts;
        requests naming another get 400."""
        public_host = urlsplit(self.public_base_url).hostname
        return [*([public_host] if public_host else []), *self.allowed_hosts]

    def absolute_url(self, path: str) -> str:
        """``path`` (starting with ``/``) under the public base URL."""
        return self.public_base_url.rstrip("/") + path


def console_services(connection: HTTPConnection) -> ConsoleServices:
    """The services of the app serving ``connection`` (a FastAPI dependency)."""
    services: ConsoleServices = connection.app.state.services
    return services


def console_config(connection: HTTPConnection) -> ConsoleConfig:
    """How the app serving ``connection`` is served."""
    config: ConsoleConfig = connection.app.state.console_config
    return config
