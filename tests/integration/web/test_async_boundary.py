"""The async rule at the console's edge: async API routes hand their store work to the threadpool, so no request
blocks the event loop on the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.off_loop import OffLoopStore
from tests.integration.web.conftest import ACME_ADMIN, BASE_URL, PASSWORD, Browser, FakeClock, fast_hasher, sign_in

from salesbridge.bootstrap import dynamics_session
from salesbridge.crm.dynamics.endpoints import DynamicsTargets, EndpointPolicy
from salesbridge.services.accounts import AccountService
from salesbridge.services.connecting import create_organization
from salesbridge.services.crm_settings import CrmSettingsService
from salesbridge.services.seats import SeatService
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.uow import UnitOfWorkFactory
from salesbridge.web.app import ConsoleServices, create_app


@pytest.fixture
def watched(session_factory: sessionmaker[Session], cipher: CredentialCipher) -> OffLoopStore:
    clock = FakeClock()
    store = UnitOfWorkFactory(session_factory, cipher=cipher, clock=clock)
    create_organization(store, slug="acme", name="Acme Corp", seats=5)
    AccountService(store, clock=clock, hasher=fast_hasher()).create_user(
        "acme",
        email=ACME_ADMIN.email,
        display_name="Ada Admin",
        password=SecretStr(PASSWORD),
        is_admin=True,
        with_seat=True,
        actor="test",
    )
    return OffLoopStore(store)


@pytest.fixture
def admin(watched: OffLoopStore) -> Iterator[Browser]:
    clock = FakeClock()
    store = watched  # every service of the app goes through the watched store
    services = ConsoleServices(
        accounts=AccountService(store, clock=clock, hasher=fast_hasher()),  # type: ignore[arg-type]
        store=store,  # type: ignore[arg-type]
        clock=clock,
        seats=SeatService(store, clock=clock),  # type: ignore[arg-type]
        crm_sessions=dynamics_session,
        crm_settings=CrmSettingsService(store, dynamics_session),  # type: ignore[arg-type]
        crm_targets=DynamicsTargets(),
    )
    with TestClient(create_app(services, public_base_url=BASE_URL), base_url=BASE_URL) as client:
        yield Browser(client, sign_in(client, ACME_ADMIN))


def test_the_crm_settings_api_reads_the_store_off_the_event_loop(admin: Browser, watched: OffLoopStore) -> None:
    watched.on_loop.clear()

    response = admin.client.get("/api/v1/orgs/acme/crm/settings")

    assert response.status_code == 200
    assert response.json()["choices"]
    assert watched.on_loop == []


def test_importing_crm_users_through_the_api_reads_the_store_off_the_event_loop(
    admin: Browser, watched: OffLoopStore
) -> None:
    watched.on_loop.clear()

    response = admin.client.post("/api/v1/orgs/acme/crm/users/import", headers=admin.csrf_headers())

    assert response.status_code == 422  # not connected: refused after reading the store
    assert watched.on_loop == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connecting_through_the_api_uses_the_store_off_the_event_loop(watched: OffLoopStore) -> None:
    clock = FakeClock()
    services = ConsoleServices(
        accounts=AccountService(watched, clock=clock, hasher=fast_hasher()),  # type: ignore[arg-type]
        store=watched,  # type: ignore[arg-type]
        clock=clock,
        seats=SeatService(watched, clock=clock),  # type: ignore[arg-type]
        crm_sessions=dynamics_session,
        crm_settings=CrmSettingsService(watched, dynamics_session),  # type: ignore[arg-type]
        crm_targets=DynamicsTargets(EndpointPolicy(["127.0.0.1"])),
    )
    unreachable = f"https://127.0.0.1:{_closed_port()}"
    with TestClient(create_app(services, public_base_url=BASE_URL), base_url=BASE_URL) as client:
        admin = Browser(client, sign_in(client, ACME_ADMIN))
        watched.on_loop.clear()

        response = admin.client.post(
            "/api/v1/orgs/acme/crm/connection",
            json={
                "org_url": unreachable,
                "client_id": "00000000-0000-0000-0000-00000000c11e",
                "client_secret": "secret",
                "tenant_id": "contoso.onmicrosoft.com",
                "authority": f"{unreachable}/contoso.onmicrosoft.com",
            },
            headers=admin.csrf_headers(),
        )

    assert response.status_code == 422, response.text
    assert response.json()["status"]["state"] == "failed", "the status read after the attempt"
    assert watched.on_loop == []
