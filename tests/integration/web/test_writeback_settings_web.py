"""CRM Settings' Activity writeback section against a real sandbox over TLS (SQLite and PostgreSQL): the app's
state read from Dynamics; "Get it now" refused with the application user's missing privileges named and nothing
created; turning writeback on refused while the app is not installed, then saved with a subset of items once it is;
a Dynamics too slow to answer leaves the page rendered, saying so."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from tests.integration.services.conftest import SANDBOX_TARGETS, RunningSandbox, _dynamics_session, _serve
from tests.integration.web.conftest import ACME_ADMIN, BASE_URL, Browser, Console, sign_in

from salesbridge.domain.crm_app import AppState
from salesbridge.domain.writeback import DataItem
from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.organization.foundation import SYSTEM_ADMINISTRATOR_ROLE_ID
from salesbridge.sandbox.organization.security import Depth
from salesbridge.sandbox.server.faults import FaultConfig
from salesbridge.services.connecting import connect_crm
from salesbridge.services.crm_app import crm_app_status
from salesbridge.services.ports import CrmAppSessionFactory
from salesbridge.web.app import create_app

SESSIONS = cast(CrmAppSessionFactory, _dynamics_session)


@pytest.fixture
def fresh(tmp_path: Path, sandbox_signing_key: rsa.RSAPrivateKey) -> Iterator[RunningSandbox]:
    """A sandbox of the test's own (installing changes its definitions)."""
    yield from _serve(build_sandbox(signing_key=sandbox_signing_key), tmp_path)


def _admin_of_connected_acme(console: Console, crm: RunningSandbox, *, wait_s: float = 5.0) -> Iterator[Browser]:
    outcome = asyncio.run(
        connect_crm(
            console.store, _dynamics_session, slug="acme", credentials=crm.credentials(), targets=SANDBOX_TARGETS
        )
    )
    assert outcome.is_connected, outcome
    services = dataclasses.replace(
        console.services, crm_sessions=_dynamics_session, crm_app_sessions=SESSIONS, crm_wait_s=wait_s
    )
    with TestClient(create_app(services, public_base_url=BASE_URL), base_url=BASE_URL) as client:
        yield Browser(client, sign_in(client, ACME_ADMIN))


@pytest.fixture
def admin(console: Console, fresh: RunningSandbox) -> Iterator[Browser]:
    """The administrator of ``acme``, connected to the fresh sandbox."""
    yield from _admin_of_connected_acme(console, fresh)


def _section(html: str) -> str:
    found = re.search(r'data-testid="writeback-settings">(.*?)</section>', html, re.S)
    assert found is not None, "no writeback section"
    return found.group(1)


def _app_state(console: Console) -> AppState:
    return asyncio.run(crm_app_status(console.store, SESSIONS, slug="acme")).state


def test_get_it_now_names_the_missing_privileges_and_creates_nothing(
    console: Console, fresh: RunningSandbox, admin: Browser
) -> None:
    state = fresh.sandbox.services.state
    with state.storage.transaction():
        state.security.revoke(SYSTEM_ADMINISTRATOR_ROLE_ID, ["prvCreateEntity", "prvActOnBehalfOfAnotherUser"])
    page = _section(admin.client.get("/settings/crm").text)
    assert 'data-state="missing"' in page
    assert re.search(r'data-testid="crm-app-privileges">.*<code>prvActOnBehalfOfAnotherUser</code>', page, re.S)

    refused = admin.client.post("/settings/crm/writeback/app", data=admin.csrf_data())
    assert refused.status_code == 422
    error = re.search(r'data-testid="writeback-error">([^<]*)<', _section(refused.text))
    assert error is not None
    assert "prvCreateEntity, prvActOnBehalfOfAnotherUser" in error.group(1)
    assert _app_state(console) is AppState.MISSING


def test_writeback_is_turned_on_only_once_the_app_is_installed(console: Console, admin: Browser) -> None:
    choice = {**admin.csrf_data(), "enabled": "yes", "items_mode": "some", "items": ["note", "inmail"]}
    refused = admin.client.post("/settings/crm/writeback", data=choice)
    assert refused.status_code == 422
    section = _section(refused.text)
    assert "Writeback needs the CRM-side app installed in Dynamics 365 first" in section
    # The refused choice is shown again as it was made.
    assert re.search(r'value="yes" data-testid="writeback-yes" checked', section)
    assert not re.search(r'data-testid="writeback-item-message" checked', section)
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id, read_only=True) as uow:
        assert uow.writeback_settings.get().enabled is False

    installed = admin.client.post("/settings/crm/writeback/app", data=admin.csrf_data(), follow_redirects=False)
    assert installed.status_code == 303
    assert installed.headers["location"] == "/settings/crm?notice=app-installed#writeback"
    assert 'data-state="installed"' in _section(admin.client.get(installed.headers["location"]).text)
    again = admin.client.post("/settings/crm/writeback/app", data=admin.csrf_data(), follow_redirects=False)
    assert again.headers["location"] == "/settings/crm?notice=app-current#writeback"

    saved = admin.client.post("/settings/crm/writeback", data=choice, follow_redirects=False)
    assert saved.status_code == 303
    with console.store(organization_id, read_only=True) as uow:
        settings = uow.writeback_settings.get()
        actions = [entry.action for entry in uow.audit.recent(limit=20)]
    assert settings.enabled
    assert settings.items == {DataItem.NOTE, DataItem.INMAIL}
    assert "writeback.settings_changed" in actions
    assert "crm.app_installed" in actions
    none_ticked = admin.client.post("/settings/crm/writeback", data={**choice, "items": []})
    assert none_ticked.status_code == 422
    assert "Choose at least one data item to write back." in _section(none_ticked.text)


def test_a_dynamics_too_slow_for_the_page_leaves_it_rendered_saying_so(console: Console, fresh: RunningSandbox) -> None:
    for admin in _admin_of_connected_acme(console, fresh, wait_s=0.3):
        fresh.sandbox.services.faults.configure(FaultConfig(latency_ms=1500))
        try:
            page = admin.client.get("/settings/crm")
        finally:
            fresh.sandbox.services.faults.configure(FaultConfig())
        assert page.status_code == 200
        section = _section(page.text)
        assert "state could not be read: Dynamics did not answer in time." in section
        assert 'data-testid="crm-app-install"' in section


def test_the_api_gives_the_apps_state_as_crm_settings_shows_it_in_the_callers_language(
    console: Console, fresh: RunningSandbox, admin: Browser
) -> None:
    """``GET …/crm/app`` asks the sandbox where the CRM-side app stands: not installed, each missing item in the
    words CRM Settings lists (Spanish), the privilege the application user lacks; installed after "Get it now"."""
    state = fresh.sandbox.services.state
    with state.storage.transaction():
        state.security.revoke(SYSTEM_ADMINISTRATOR_ROLE_ID, ["prvActOnBehalfOfAnotherUser"])
    assert admin.client.put("/api/v1/me/locale", json={"locale": "es"}, headers=admin.csrf_headers()).is_success

    app = admin.client.get("/api/v1/orgs/acme/crm/app").json()

    assert (app["state"], app["state_label"], app["installed_version"]) == ("missing", "No instalada", None)
    assert app["missing_privileges"] == ["prvActOnBehalfOfAnotherUser"]
    listed = re.search(
        r'data-testid="crm-app-missing">.*?<ul>(.*?)</ul>', _section(admin.client.get("/settings/crm").text), re.S
    )
    assert listed is not None
    assert [item["label"] for item in app["missing"]] == [
        html.unescape(line) for line in re.findall(r"<li>(.*?)</li>", listed.group(1))
    ], "the page's lines, in its order"
    assert {
        "kind": "table",
        "table": "sbr_inmail",
        "name": None,
        "installable": True,
        "label": "Tabla sbr_inmail",
    } in app["missing"]

    with state.storage.transaction():
        state.security.grant(SYSTEM_ADMINISTRATOR_ROLE_ID, {"prvActOnBehalfOfAnotherUser": Depth.GLOBAL})
    installed = admin.client.post("/settings/crm/writeback/app", data=admin.csrf_data(), follow_redirects=False)
    assert installed.status_code == 303
    app = admin.client.get("/api/v1/orgs/acme/crm/app").json()
    assert (app["state"], app["state_label"], app["installed_version"]) == ("installed", "Instalada", app["version"])
    assert (app["missing"], app["missing_privileges"]) == ([], [])
