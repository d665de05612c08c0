"""The profile-URL columns section of CRM Settings and its API, connected to a real sandbox over TLS whose contact
table has a custom text column (SQLite and PostgreSQL): only the CRM's text columns are offered, a pick is saved
and shown, a column that is not a text column of its table is refused with a clear message."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.integration.services.conftest import RunningSandbox, _serve
from tests.integration.web.conftest import ACME_ADMIN, BASE_URL, Browser, Console, sign_in

from salesbridge.crm.dynamics.endpoints import DynamicsTargets, EndpointPolicy
from salesbridge.crm.dynamics.trust import CaBundleDirectory
from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.catalogue.builders import string
from salesbridge.sandbox.catalogue.standard_tables import build_standard_catalogue
from salesbridge.web.app import create_app

PROFILE_COLUMN = "new_linkedinurl"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    catalogue = build_standard_catalogue()
    catalogue.entity("contact").add(string(PROFILE_COLUMN, "LinkedIn profile", 200, is_custom=True))
    yield from _serve(build_sandbox(catalogue=catalogue), tmp_path_factory.mktemp("tls"))


@pytest.fixture
def admin(console: Console, tmp_path: Path, running: RunningSandbox) -> Iterator[Browser]:
    """The administrator of ``acme``, connected to the sandbox."""
    folder = tmp_path / "bundles"
    folder.mkdir()
    (folder / "sandbox.pem").write_text(running.ca_bundle.read_text(encoding="ascii"), encoding="ascii")
    targets = DynamicsTargets(EndpointPolicy(["127.0.0.1"]), CaBundleDirectory(folder))
    app = create_app(dataclasses.replace(console.services, crm_targets=targets), public_base_url=BASE_URL)
    with TestClient(app, base_url=BASE_URL) as client:
        browser = Browser(client, sign_in(client, ACME_ADMIN))
        body = {
            "org_url": running.org_url,
            "client_id": running.client_id,
            "client_secret": running.client_secret,
            "ca_bundle_name": "sandbox",
        }
        connected = client.post("/api/v1/orgs/acme/crm/connection", json=body, headers=browser.csrf_headers())
        assert connected.json()["connected"] is True, connected.text
        yield browser


def test_the_page_offers_the_crms_text_columns_and_saves_a_pick(admin: Browser) -> None:
    page = admin.client.get("/settings/crm")

    assert page.status_code == 200
    assert "LinkedIn profile URL columns" in page.text
    contact_select = page.text.split('data-testid="profile-url-contact"', 1)[1].split("</select>", 1)[0]
    assert f'value="{PROFILE_COLUMN}"' in contact_select
    assert 'value="parentcustomerid"' not in contact_select
    lead_select = page.text.split('data-testid="profile-url-lead"', 1)[1].split("</select>", 1)[0]
    assert f'value="{PROFILE_COLUMN}"' not in lead_select

    form = {**admin.csrf_data(), "contact": PROFILE_COLUMN, "lead": "", "account": ""}
    saved = admin.client.post("/settings/crm/profile-url-columns", data=form, follow_redirects=False)

    assert saved.status_code == 303
    settings = admin.client.get("/api/v1/orgs/acme/crm/settings").json()
    assert settings["profile_url_columns"] == {"contact": PROFILE_COLUMN, "lead": None, "account": None}
    assert PROFILE_COLUMN in [choice["value"] for choice in settings["choices"]["text_columns"]["contact"]]
    shown = admin.client.get("/settings/crm").text
    contact_select = shown.split('data-testid="profile-url-contact"', 1)[1].split("</select>", 1)[0]
    assert f'value="{PROFILE_COLUMN}" selected' in contact_select

    refused = admin.client.post("/settings/crm/profile-url-columns", data={**form, "lead": PROFILE_COLUMN})
    assert refused.status_code == 422
    assert f"{PROFILE_COLUMN} is not a text column of lead in your CRM" in refused.text
    assert admin.client.get("/api/v1/orgs/acme/crm/settings").json()["profile_url_columns"]["lead"] is None


def test_the_api_maps_and_clears_a_column_and_refuses_a_non_text_one(admin: Browser) -> None:
    url = "/api/v1/orgs/acme/crm/settings"
    mapped = admin.client.put(url, json={"profile_url_columns": {"lead": "websiteurl"}}, headers=admin.csrf_headers())
    assert mapped.status_code == 200, mapped.text
    assert mapped.json()["profile_url_columns"]["lead"] == "websiteurl"

    refused = admin.client.put(
        url, json={"profile_url_columns": {"account": "numberofemployees"}}, headers=admin.csrf_headers()
    )
    assert refused.status_code == 422
    assert "numberofemployees is not a text column of account" in refused.json()["detail"]

    cleared = admin.client.put(url, json={"profile_url_columns": {"lead": ""}}, headers=admin.csrf_headers())
    assert cleared.json()["profile_url_columns"] == {"contact": None, "lead": None, "account": None}
