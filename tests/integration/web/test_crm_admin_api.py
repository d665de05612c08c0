"""The API's CRM administration actions against a real sandbox over TLS (SQLite and PostgreSQL): installing the
CRM-side app (``POST …/crm/app/install``, CRM Settings' "Get it now") and retrying the records the import skipped
(``POST …/crm/sync/import-errors/retry``, Sync health's Retry). Administrators of the organization only: a seller is
refused (403), another organization's administrator finds nothing (404) and cannot reach our Dynamics through
their own organization either; a refusal is 422, a Dynamics that cannot be reached 502 (install) or a failure
counted per record (retry)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from tests.integration.services.conftest import SANDBOX_TARGETS, RunningSandbox, _dynamics_session, _serve
from tests.integration.web.conftest import (
    ACME_ADMIN,
    ACME_SELLER,
    BASE_URL,
    GLOBEX_ADMIN,
    Browser,
    Console,
    Person,
    sign_in,
)
from tests.integration.web.test_writeback_settings_web import SESSIONS, _app_state

from salesbridge.domain.crm_app import AppState
from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.organization.foundation import SYSTEM_ADMINISTRATOR_ROLE_ID, RowWriter
from salesbridge.sandbox.organization.security import Depth
from salesbridge.sandbox.server.faults import FaultConfig
from salesbridge.services.connecting import connect_crm
from salesbridge.services.sync_health import sync_health
from salesbridge.web.app import create_app

ACME = "/api/v1/orgs/acme"
GLOBEX = "/api/v1/orgs/globex"
OpenBrowser = Callable[[Person], Browser]


@pytest.fixture
def crm(tmp_path: Path, sandbox_signing_key: rsa.RSAPrivateKey) -> Iterator[RunningSandbox]:
    """A sandbox of the test's own (installing changes its definitions)."""
    yield from _serve(build_sandbox(signing_key=sandbox_signing_key), tmp_path)


@pytest.fixture
def signed_in(console: Console, crm: RunningSandbox) -> Iterator[OpenBrowser]:
    """``acme`` connected to ``crm``; opens clients of a console that reaches it, signed in as the person given."""
    outcome = asyncio.run(
        connect_crm(
            console.store, _dynamics_session, slug="acme", credentials=crm.credentials(), targets=SANDBOX_TARGETS
        )
    )
    assert outcome.is_connected, outcome
    services = dataclasses.replace(console.services, crm_sessions=_dynamics_session, crm_app_sessions=SESSIONS)
    app = create_app(services, public_base_url=BASE_URL)
    with ExitStack() as clients:

        def open_browser(person: Person) -> Browser:
            client = clients.enter_context(TestClient(app, base_url=BASE_URL))
            return Browser(client, sign_in(client, person))

        yield open_browser


def _audited(console: Console, action: str) -> list[str]:
    """The actors of ``acme``'s recent ``action`` entries."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id, read_only=True) as uow:
        return [entry.actor for entry in uow.audit.recent(limit=50) if entry.action == action]


def test_the_api_installs_the_crm_app_for_the_organizations_administrators_only(
    console: Console, crm: RunningSandbox, signed_in: OpenBrowser
) -> None:
    admin, seller, outsider = signed_in(ACME_ADMIN), signed_in(ACME_SELLER), signed_in(GLOBEX_ADMIN)
    install = f"{ACME}/crm/app/install"

    assert seller.client.post(install, headers=seller.csrf_headers()).status_code == 403
    assert outsider.client.post(install, headers=outsider.csrf_headers()).status_code == 404
    theirs = outsider.client.post(f"{GLOBEX}/crm/app/install", headers=outsider.csrf_headers())
    assert (theirs.status_code, theirs.json()["detail"]) == (422, "Connect to the CRM first, on the CRM Settings page.")
    assert admin.client.post(install).status_code == 403, "a session's POST needs its CSRF token"
    assert _app_state(console) is AppState.MISSING
    assert _audited(console, "crm.app_installed") == []

    state = crm.sandbox.services.state
    with state.storage.transaction():
        state.security.revoke(SYSTEM_ADMINISTRATOR_ROLE_ID, ["prvCreateEntity"])
    refused = admin.client.post(install, headers=admin.csrf_headers())
    assert refused.status_code == 422
    assert "prvCreateEntity" in refused.json()["detail"]
    assert _app_state(console) is AppState.MISSING, "nothing created"
    with state.storage.transaction():
        state.security.grant(SYSTEM_ADMINISTRATOR_ROLE_ID, {"prvCreateEntity": Depth.GLOBAL})

    crm.sandbox.services.faults.configure(FaultConfig(unavailable_rate=1.0))
    try:
        unreachable = admin.client.post(install, headers=admin.csrf_headers())
    finally:
        crm.sandbox.services.faults.configure(FaultConfig())
    assert unreachable.status_code == 502
    assert unreachable.json()["crm_status"] == 503

    assert admin.client.put("/api/v1/me/locale", json={"locale": "es"}, headers=admin.csrf_headers()).is_success
    installed = admin.client.post(install, headers=admin.csrf_headers())
    assert installed.status_code == 200, installed.text
    body = installed.json()
    assert "sbr_inmail" in body["created"]
    assert (body["status"]["state"], body["status"]["state_label"]) == ("installed", "Instalada")
    assert body["status"] == admin.client.get(f"{ACME}/crm/app").json(), "as GET …/crm/app gives it"
    assert _app_state(console) is AppState.INSTALLED
    again = admin.client.post(install, headers=admin.csrf_headers()).json()
    assert (again["created"], again["status"]["state"]) == ([], "installed"), "repairing a complete app creates nothing"
    assert _audited(console, "crm.app_installed") == [ACME_ADMIN.email, ACME_ADMIN.email]


def test_the_api_retries_skipped_records_for_the_organizations_administrators_only(
    console: Console, crm: RunningSandbox, signed_in: OpenBrowser
) -> None:
    state = crm.sandbox.services.state
    with state.storage.transaction():
        fabrikam = RowWriter(state).insert("account", {"name": "Fabrikam"})
    gone = str(uuid.uuid4())
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        uow.import_record_errors.record("account", fabrikam.lower(), code="0x80040216", message="An unexpected error")
        uow.import_record_errors.record("account", gone, code=None, message="A row Dynamics sent without its name")
        uow.commit()
    admin, seller, outsider = signed_in(ACME_ADMIN), signed_in(ACME_SELLER), signed_in(GLOBEX_ADMIN)
    retry = f"{ACME}/crm/sync/import-errors/retry"

    assert seller.client.post(retry, json={}, headers=seller.csrf_headers()).status_code == 403
    assert outsider.client.post(retry, json={}, headers=outsider.csrf_headers()).status_code == 404
    theirs = outsider.client.post(f"{GLOBEX}/crm/sync/import-errors/retry", json={}, headers=outsider.csrf_headers())
    assert (theirs.status_code, theirs.json()["detail"]) == (422, "Connect to the CRM first, on the CRM Settings page.")
    assert admin.client.post(retry, json={}).status_code == 403, "a session's POST needs its CSRF token"
    unknown_field = admin.client.post(retry, json={"record": []}, headers=admin.csrf_headers())
    assert unknown_field.status_code == 422
    assert [error.attempts for error in sync_health(console.store, organization_id).import_errors] == [1, 1]
    assert _audited(console, "crm.import_records_retried") == []

    named = {"records": [{"table": "account", "crm_id": fabrikam.upper()}]}
    stored = admin.client.post(retry, json=named, headers=admin.csrf_headers())
    assert stored.json() == {"stored": 1, "gone": 0, "failed": 0}
    with console.store(organization_id, read_only=True) as uow:
        record = uow.crm_records.get("account", fabrikam.lower())
    assert record is not None
    assert record.name == "Fabrikam"

    crm.sandbox.services.faults.configure(FaultConfig(unavailable_rate=1.0))
    try:
        failing = admin.client.post(retry, json={}, headers=admin.csrf_headers())
    finally:
        crm.sandbox.services.faults.configure(FaultConfig())
    assert failing.json() == {"stored": 0, "gone": 0, "failed": 1}, "Dynamics unreachable: counted, kept skipped"
    (still,) = sync_health(console.store, organization_id).import_errors
    assert (still.crm_id, still.attempts) == (gone, 2)

    assert admin.client.post(retry, json={}, headers=admin.csrf_headers()).json() == {
        "stored": 0,
        "gone": 1,
        "failed": 0,
    }
    assert sync_health(console.store, organization_id).import_error_count == 0
    assert _audited(console, "crm.import_records_retried") == [ACME_ADMIN.email] * 3
