"""The composition root: builds the store and the Dynamics connector from settings for the entry points."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import SecretStr

from salesbridge.crm.dynamics import ClientCredentials, DynamicsConnection, DynamicsConnector, RetryPolicy
from salesbridge.errors import ConfigError
from salesbridge.services.connect import CrmCredentials, CrmSession, StoreAccess
from salesbridge.settings import Settings
from salesbridge.store import cipher_from_settings, create_engine_for, create_session_factory, migrate
from salesbridge.store.uow import UnitOfWorkFactory

if TYPE_CHECKING:
    from fastapi import FastAPI

    from salesbridge.jobs.runner import EmbeddedRunner
    from salesbridge.web.context import ConsoleServices

MICROSOFT_AUTHORITY_HOST = "https://login.microsoftonline.com"


def open_store(settings: Settings, db_url: str | None = None) -> StoreAccess:
    """The store at ``db_url`` (or the settings' URL), migrated to the newest revision."""
    url = db_url or settings.database_url
    migrate(url)
    return UnitOfWorkFactory(create_session_factory(create_engine_for(url)), cipher=cipher_from_settings(settings))


def dynamics_session(credentials: CrmCredentials) -> CrmSession:
    """The Dynamics connector for ``credentials``; an interactive pre-flight retries briefly, then reports."""
    authority = credentials.authority or f"{MICROSOFT_AUTHORITY_HOST}/{credentials.tenant_id}"
    # MSAL validates only Microsoft's own authorities; a private one (the sandbox's) cannot be validated.
    public = urlsplit(authority).netloc.lower() == urlsplit(MICROSOFT_AUTHORITY_HOST).netloc
    connection = DynamicsConnection(
        org_url=credentials.org_url,
        credentials=ClientCredentials(
            tenant_id=credentials.tenant_id,
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
        ),
        authority=authority,
        validate_authority=public,
        instance_discovery=public,
        ca_bundle=credentials.ca_bundle,
    )
    return DynamicsConnector.connect(connection, retry_policy=RetryPolicy(max_attempts=3, max_total_wait_s=10.0))


def build_console(
    settings: Settings, db_url: str | None = None, *, secure_cookies: bool = True, run_imports: bool = True
) -> FastAPI:
    """The web console on the store at ``db_url`` (or the settings' URL), migrated first, with the embedded import
    runner (schedule and "Sync now") running while the app serves, unless ``run_imports`` is False.

    Cookies are ``Secure`` (and ``__Host-`` prefixed) by default, for a console served over HTTPS. Pass
    ``secure_cookies=False`` only for plain HTTP on the loopback interface (``salesbridge serve`` without a
    certificate): browsers drop Secure cookies over plain HTTP, and on 127.0.0.1 the traffic never leaves the
    machine, so there is nothing for the Secure flag to protect.
    """
    from salesbridge.web.app import create_app

    store = open_store(settings, db_url)
    runner = import_runner(store, settings) if run_imports else None
    services = console_services(store, wake_importer=runner.wake if runner else None)
    return create_app(services, secure_cookies=secure_cookies, background=(runner,) if runner else ())


def import_runner(store: StoreAccess, settings: Settings) -> EmbeddedRunner:
    """The embedded runner importing every connected organization of ``store`` on schedule and on demand."""
    from datetime import timedelta

    from salesbridge.jobs.runner import EmbeddedRunner
    from salesbridge.store.uow import utc_now

    return EmbeddedRunner(
        store,
        dynamics_session,
        store.connected_organization_ids,
        clock=utc_now,
        lease=timedelta(seconds=settings.import_lease_seconds),
    )


def console_services(store: StoreAccess, *, wake_importer: Callable[[], None] | None = None) -> ConsoleServices:
    """The console's use cases on ``store``, reaching Dynamics through the real connector."""
    from salesbridge.services.accounts import AccountService
    from salesbridge.services.seats import SeatService
    from salesbridge.store.uow import utc_now
    from salesbridge.web.context import ConsoleServices

    return ConsoleServices(
        accounts=AccountService(store, clock=utc_now),
        store=store,
        clock=utc_now,
        seats=SeatService(store, clock=utc_now),
        crm_sessions=dynamics_session,
        wake_importer=wake_importer,
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
    store: StoreAccess, crm: CrmCredentials, *, slug: str = "demo", seats: int = 10
) -> DemoWorkspace:
    """Create the demo organization on ``store``, connect it to ``crm`` (the sandbox), make the first of its
    CRM users the administrator, and assign seats from the CRM to the next five (one of them accepts).

    Raises:
        SalesbridgeError: the store already holds an organization ``slug``, or the connection failed.
    """
    from salesbridge.services.accounts import AccountService
    from salesbridge.services.connect import connect_crm, create_organization
    from salesbridge.services.seats import SeatService
    from salesbridge.store.uow import utc_now

    if store.organization_id(slug) is not None:
        raise ConfigError(f"The store already has an organization {slug!r}; the demo starts from an empty store.")
    create_organization(store, slug=slug, name="Contoso (demo)", seats=seats, actor="demo")
    outcome = await connect_crm(store, dynamics_session, slug=slug, credentials=crm, actor="demo")
    if not outcome.is_connected:
        raise ConfigError(f"The demo could not connect to the sandbox: {outcome.message()} {outcome.reason or ''}")
    accounts = AccountService(store, clock=utc_now)
    seat_service = SeatService(store, clock=utc_now)
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
