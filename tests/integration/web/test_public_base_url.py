"""Links from the configured public base URL, never from the request's ``Host`` (issue 10, item 8): with
``Host: evil.example`` an invitation link read ``http://evil.example/invitations/…``. Now a host other than the
public base URL's or an allowed one is refused with 400, and invitation links carry the public base URL even when
the request names another allowed host. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.integration.web.conftest import ACME_ADMIN, BASE_URL, Console, sign_in
from tests.integration.web.test_seats_web import acme_crm_users

from salesbridge.bootstrap import console_app
from salesbridge.settings import Settings
from salesbridge.web.app import create_app

PUBLIC_BASE_URL = "https://console.example.com"

__all__ = ["acme_crm_users"]  # the fixture, used below


@pytest.fixture
def admin(console: Console) -> Iterator[tuple[TestClient, str]]:
    """Acme's administrator on a console whose public address is :data:`PUBLIC_BASE_URL`, reached as
    ``console.test`` (an allowed host); the client and its session's CSRF token."""
    app = create_app(console.services, public_base_url=PUBLIC_BASE_URL, allowed_hosts=["console.test"])
    with TestClient(app, base_url=BASE_URL) as client:
        yield client, sign_in(client, ACME_ADMIN)


def test_a_foreign_host_is_refused_before_anything_else(console: Console) -> None:
    app = create_app(console.services, public_base_url=PUBLIC_BASE_URL)
    with TestClient(app, base_url=PUBLIC_BASE_URL) as client:
        assert client.get("/sign-in").status_code == 200
        for path in ("/sign-in", "/api/v1/me", "/invitations/anything"):
            refused = client.get(path, headers={"Host": "evil.example"})
            assert refused.status_code == 400, path
            assert "evil.example" not in refused.text
            assert refused.headers["x-frame-options"] == "DENY"


@pytest.mark.usefixtures("acme_crm_users")
def test_invitation_links_carry_the_public_base_url(admin: tuple[TestClient, str]) -> None:
    client, csrf = admin
    offered = client.get("/api/v1/orgs/acme/crm/users").json()
    assigned = client.post(
        "/api/v1/orgs/acme/seats/assign-from-crm",
        json={"crm_user_ids": [offered[0]["id"]]},
        headers={"X-CSRF-Token": csrf},
    )
    assert assigned.status_code == 201, assigned.text
    assert assigned.json()[0]["invitation_url"].startswith(f"{PUBLIC_BASE_URL}/invitations/")

    page = client.post(
        "/seats/assign-from-crm", data={"crm_user_id": [offered[1]["id"]], "csrf_token": csrf}, follow_redirects=False
    )
    assert page.status_code == 201, page.text[:500]
    assert f"{PUBLIC_BASE_URL}/invitations/" in page.text
    assert "console.test/invitations/" not in page.text


def test_redirects_stay_relative(console: Console) -> None:
    app = create_app(console.services, public_base_url=PUBLIC_BASE_URL, allowed_hosts=["console.test"])
    with TestClient(app, base_url=BASE_URL) as client:
        to_sign_in = client.get("/account", follow_redirects=False)
    assert to_sign_in.status_code == 303
    assert to_sign_in.headers["location"].startswith("/sign-in")


def test_the_composition_root_takes_the_address_from_the_settings(console: Console) -> None:
    """Without SALESBRIDGE_PUBLIC_BASE_URL the console is where ``serve`` listens, on loopback, and answers to this
    machine's names only; with it, to its host and SALESBRIDGE_ALLOWED_HOSTS only."""
    local = console_app(console.store, Settings(), secure_cookies=False, run_imports=False)
    public = console_app(
        console.store,
        Settings(public_base_url="https://console.example.com/", allowed_hosts="crm-console.example.com"),  # type: ignore[arg-type]
        run_imports=False,
    )
    with TestClient(local, base_url="http://127.0.0.1:8000") as client:
        assert client.get("/sign-in").status_code == 200
        assert client.get("/sign-in", headers={"Host": "localhost:8000"}).status_code == 200
        assert client.get("/sign-in", headers={"Host": "evil.example"}).status_code == 400
    with TestClient(public, base_url="https://console.example.com") as client:
        assert client.get("/sign-in").status_code == 200
        assert client.get("/sign-in", headers={"Host": "crm-console.example.com"}).status_code == 200
        assert client.get("/sign-in", headers={"Host": "127.0.0.1"}).status_code == 400
