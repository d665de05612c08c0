"""Fixtures of the console tests: the real app on a migrated store (SQLite and PostgreSQL), two organizations
with their people, and signed-in ``TestClient`` browsers.

``acme`` (5 seats): ``admin@acme.test`` (administrator with a seat), ``seller@acme.test`` (seat, Spanish),
``guest@acme.test`` (no seat, not an administrator). ``globex`` (2 seats): ``admin@globex.test``.
The clock is injected and shared by the store and the services; tests move it with :meth:`FakeClock.advance`.
Clients use ``https://console.test`` so the ``Secure`` ``__Host-`` cookies are kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from salesbridge.bootstrap import dynamics_session
from salesbridge.crm.dynamics.endpoints import DynamicsTargets
from salesbridge.services.accounts import AccountService, token_digest
from salesbridge.services.connecting import create_organization
from salesbridge.services.crm_settings import CrmSettingsService
from salesbridge.services.seats import SeatService
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.tables import SeatState
from salesbridge.store.uow import UnitOfWorkFactory
from salesbridge.web.app import ConsoleServices, create_app

BASE_URL = "https://console.test"
PASSWORD = "correct horse battery staple"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)"')
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


class FakeClock:
    """A settable UTC clock."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move time forward by ``delta``."""
        self.now += delta


def fast_hasher() -> PasswordHasher:
    """Real argon2id with small parameters, so the suite stays quick."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@dataclass(frozen=True)
class Person:
    """A seeded user."""

    org: str
    email: str
    password: str = PASSWORD


ACME_ADMIN = Person("acme", "admin@acme.test")
ACME_SELLER = Person("acme", "seller@acme.test")
ACME_GUEST = Person("acme", "guest@acme.test")
GLOBEX_ADMIN = Person("globex", "admin@globex.test")


@dataclass
class Console:
    """The app and what it runs on."""

    app: FastAPI
    services: ConsoleServices
    store: UnitOfWorkFactory
    session_factory: sessionmaker[Session]
    clock: FakeClock

    @property
    def accounts(self) -> AccountService:
        """The account use cases."""
        return self.services.accounts


@dataclass
class Browser:
    """A ``TestClient`` (which keeps cookies) and the CSRF token of its session, when signed in."""

    client: TestClient
    csrf: str = ""

    def csrf_data(self) -> dict[str, str]:
        """Form data carrying the token."""
        return {"csrf_token": self.csrf}

    def csrf_headers(self) -> dict[str, str]:
        """Headers carrying the token."""
        return {"X-CSRF-Token": self.csrf}


@pytest.fixture
def clock() -> FakeClock:
    """The injected clock."""
    return FakeClock()


@pytest.fixture
def console(session_factory: sessionmaker[Session], cipher: CredentialCipher, clock: FakeClock) -> Console:
    """The console app on a migrated store, with ``acme`` and ``globex`` seeded."""
    store = UnitOfWorkFactory(session_factory, cipher=cipher, clock=clock)
    accounts = AccountService(store, clock=clock, hasher=fast_hasher())
    services = ConsoleServices(
        accounts=accounts,
        store=store,
        clock=clock,
        seats=SeatService(store, clock=clock),
        crm_sessions=dynamics_session,
        crm_settings=CrmSettingsService(store, dynamics_session),
        crm_targets=DynamicsTargets(),
    )
    create_organization(store, slug="acme", name="Acme Corp", seats=5)
    create_organization(store, slug="globex", name="Globex", seats=2)
    secret = SecretStr(PASSWORD)
    accounts.create_user(
        "acme",
        email=ACME_ADMIN.email,
        display_name="Ada Admin",
        password=secret,
        is_admin=True,
        with_seat=True,
        actor="test",
    )
    accounts.create_user(
        "acme",
        email=ACME_SELLER.email,
        display_name="Sofía Seller",
        password=secret,
        is_admin=False,
        with_seat=True,
        locale="es",
        actor="test",
    )
    accounts.create_user(
        "acme",
        email=ACME_GUEST.email,
        display_name="Gus Guest",
        password=secret,
        is_admin=False,
        with_seat=False,
        actor="test",
    )
    accounts.create_user(
        "globex",
        email=GLOBEX_ADMIN.email,
        display_name="Greta Globex",
        password=secret,
        is_admin=True,
        with_seat=True,
        actor="test",
    )
    # Answers as console.test (TestClient) and on 127.0.0.1 (served by uvicorn in a thread).
    app = create_app(services, public_base_url=BASE_URL, allowed_hosts=["127.0.0.1"])
    return Console(app, services, store, session_factory, clock)


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = CSRF_META.search(html) or CSRF_FIELD.search(html)
    assert found is not None, "the page carries no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, person: Person) -> str:
    """Sign ``person`` in through the sign-in form; returns the session's CSRF token."""
    form = client.get("/sign-in")
    assert form.status_code == 200
    response = client.post(
        "/sign-in",
        data={
            "workspace": person.org,
            "email": person.email,
            "password": person.password,
            "csrf_token": csrf_of(form.text),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    page = client.get("/account")
    assert page.status_code == 200
    return csrf_of(page.text)


@pytest.fixture
def browser(console: Console) -> Iterator[Callable[[Person | None], Browser]]:
    """Opens clients: ``browser(person)`` is signed in as ``person``; ``browser(None)`` is anonymous."""
    clients: list[TestClient] = []

    def open_browser(person: Person | None) -> Browser:
        client = TestClient(console.app, base_url=BASE_URL)
        client.__enter__()
        clients.append(client)
        if person is None:
            return Browser(client)
        return Browser(client, sign_in(client, person))

    yield open_browser
    for client in clients:
        client.__exit__(None, None, None)


def invite(console: Console, email: str, *, expires_in: timedelta = timedelta(days=7)) -> str:
    """Invite ``email`` to a seat of ``acme`` (as its administrator); returns the invitation token."""
    token = "invitation-" + email
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        user = uow.users.add(email=email, display_name="Invitee")
        uow.seats.add(user_id=user.id, state=SeatState.INVITED, assigned_by=ACME_ADMIN.email)
        uow.invitations.add(
            user_id=user.id,
            token_hash=token_digest(token),
            invited_by=ACME_ADMIN.email,
            expires_at=console.clock() + expires_in,
        )
        uow.commit()
    return token
