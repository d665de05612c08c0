"""The composition root: builds the store and the Dynamics connector from settings for the entry points."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from salesbridge.crm.dynamics import ClientCredentials, DynamicsConnection, DynamicsConnector, RetryPolicy
from salesbridge.services.connect import CrmCredentials, CrmSession, StoreAccess
from salesbridge.settings import Settings
from salesbridge.store import cipher_from_settings, create_engine_for, create_session_factory, migrate
from salesbridge.store.uow import UnitOfWorkFactory

if TYPE_CHECKING:
    from fastapi import FastAPI

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


def build_console(settings: Settings, db_url: str | None = None, *, secure_cookies: bool = True) -> FastAPI:
    """The web console on the store at ``db_url`` (or the settings' URL), migrated first.

    Cookies are ``Secure`` (and ``__Host-`` prefixed) by default, for a console served over HTTPS. Pass
    ``secure_cookies=False`` only for plain HTTP on the loopback interface (``salesbridge serve`` without a
    certificate): browsers drop Secure cookies over plain HTTP, and on 127.0.0.1 the traffic never leaves the
    machine, so there is nothing for the Secure flag to protect.
    """
    from salesbridge.web.app import create_app

    return create_app(console_services(open_store(settings, db_url)), secure_cookies=secure_cookies)


def console_services(store: StoreAccess) -> ConsoleServices:
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
    )
