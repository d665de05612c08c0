"""An administrator of one organization can neither read nor change another organization's users or tokens,
through the API or the pages."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.web.conftest import ACME_ADMIN, GLOBEX_ADMIN, Browser, Console, Person


def test_another_organizations_users_and_audit_are_not_found(browser: Callable[[Person | None], Browser]) -> None:
    outsider = browser(GLOBEX_ADMIN)

    assert outsider.client.get("/api/v1/orgs/acme/users").status_code == 404
    assert outsider.client.get("/api/v1/orgs/acme/audit").status_code == 404
    own = outsider.client.get("/api/v1/orgs/globex/users").json()
    assert [user["email"] for user in own] == [GLOBEX_ADMIN.email]
    audit_page = outsider.client.get("/admin/audit").text
    assert "acme.test" not in audit_page


def test_another_organizations_tokens_cannot_be_revoked(
    console: Console, browser: Callable[[Person | None], Browser]
) -> None:
    admin, outsider = browser(ACME_ADMIN), browser(GLOBEX_ADMIN)
    created = admin.client.post("/api/v1/me/tokens", json={"name": "crm sync"}, headers=admin.csrf_headers())
    assert created.status_code == 201
    token, token_id = created.json()["token"], created.json()["api_token"]["id"]

    api = outsider.client.delete(f"/api/v1/me/tokens/{token_id}", headers=outsider.csrf_headers())
    page = outsider.client.post(f"/account/tokens/{token_id}/revoke", data=outsider.csrf_data(), follow_redirects=False)

    assert (api.status_code, page.status_code) == (404, 404)
    assert token_id not in outsider.client.get("/api/v1/me/tokens").text
    me = browser(None).client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["organization"] == "acme"


def test_a_token_of_one_organization_reads_nothing_of_another(browser: Callable[[Person | None], Browser]) -> None:
    outsider = browser(GLOBEX_ADMIN)
    token = outsider.client.post("/api/v1/me/tokens", json={"name": "script"}, headers=outsider.csrf_headers()).json()[
        "token"
    ]
    bearer = browser(None).client

    response = bearer.get("/api/v1/orgs/acme/users", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 404
