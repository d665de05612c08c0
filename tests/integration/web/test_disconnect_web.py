""" "Disconnect CRM sync" on the CRM Settings page and ``DELETE /api/v1/orgs/{org}/crm/connection`` (SQLite and
PostgreSQL): administrators only, CSRF, and a page that shows the new state without a refresh."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from pydantic import SecretStr
from tests.integration.web.conftest import ACME_ADMIN, ACME_GUEST, ACME_SELLER, GLOBEX_ADMIN, Browser, Console, Person

from salesbridge.services.crm_users import rematch_seats
from salesbridge.store.imports import RecordRow
from salesbridge.store.tables import ImportState, SyncMode
from salesbridge.store.workspace import CrmUserValues

OpenBrowser = Callable[[Person | None], Browser]
ORG_URL = "https://acme.crm.dynamics.com"
ADA = "11111111-0000-0000-0000-000000000001"


def _connect_and_import(console: Console, slug: str = "acme", email: str = ACME_ADMIN.email) -> uuid.UUID:
    organization_id = console.store.organization_id(slug)
    assert organization_id is not None
    with console.store(organization_id) as uow:
        uow.crm_connection.save_credentials(
            org_url=ORG_URL, tenant_id="tenant", client_id="client", client_secret=SecretStr("x" * 32)
        )
        uow.crm_connection.mark_connected(crm_user_id=ADA)
        uow.crm_users.replace_all([CrmUserValues(ADA, "Ada", email, None, False, False, 0)])
        rematch_seats(uow)
        uow.crm_records.upsert_many("account", [RecordRow("a1", "Contoso Ltd", ADA, None, 0, {})], generation=1)
        uow.sync_states.get_or_create("account", mode=SyncMode.CHANGE_TRACKING)
        uow.import_runs.enqueue(reason="sync now")
        uow.audit.record(actor="test", action="crm.connected", details={"org_url": ORG_URL})
        uow.commit()
    return organization_id


def _state(html: str) -> str:
    start = html.index('data-testid="crm-state"')
    return html[start : html.index("</p>", start)]


def test_admin_disconnects_with_the_purge_and_the_page_shows_it(console: Console, browser: OpenBrowser) -> None:
    organization_id = _connect_and_import(console)
    globex_id = _connect_and_import(console, "globex", GLOBEX_ADMIN.email)
    admin = browser(ACME_ADMIN)
    page = admin.client.get("/settings/crm")
    assert 'data-testid="disconnect-purge"' in page.text
    assert 'data-testid="disconnect-submit"' in page.text
    assert "Yes, clean up all previously imported CRM data" in page.text
    assert "Connected to Microsoft Dynamics" in _state(page.text)
    assert 'data-testid="in-crm-badge"' in admin.client.get("/seats").text

    response = admin.client.post(
        "/settings/crm/disconnect", data={**admin.csrf_data(), "purge": "yes", "confirm": "yes"}, follow_redirects=False
    )

    assert response.status_code == 303
    assert response.headers["location"].startswith("/settings/crm?notice=purged")
    after = admin.client.get(response.headers["location"])
    assert after.status_code == 200
    assert "No CRM connection" in _state(after.text)
    assert 'data-testid="disconnect-notice"' in after.text
    assert "all previously imported CRM data has been cleaned up" in after.text
    assert 'data-testid="disconnect-form"' not in after.text  # nothing left to disconnect
    assert 'data-testid="in-crm-badge"' not in admin.client.get("/seats").text
    with console.store(organization_id) as uow:
        assert uow.crm_records.count("account") == 0
        assert uow.crm_users.count() == 0
        assert uow.audit.recent(limit=1)[0].action == "crm.disconnected"
    with console.store(globex_id) as uow:
        assert uow.crm_records.count("account") == 1
        assert uow.crm_connection.find() is not None


def test_disconnect_asks_for_confirmation_naming_what_will_be_deleted_and_deletes_nothing_before(
    console: Console, browser: OpenBrowser
) -> None:
    organization_id = _connect_and_import(console)
    admin = browser(ACME_ADMIN)
    settings = admin.client.get("/settings/crm").text
    assert 'data-testid="disconnect-form"' in settings

    # The section's form (or any POST without confirm=yes, e.g. a forged or scripted one) only leads to the
    # confirmation page: the server checks, not the browser.
    unconfirmed = admin.client.post(
        "/settings/crm/disconnect", data={**admin.csrf_data(), "purge": "yes"}, follow_redirects=False
    )
    assert unconfirmed.status_code == 303
    assert unconfirmed.headers["location"] == "/settings/crm/disconnect?purge=yes"
    with console.store(organization_id) as uow:
        assert uow.crm_connection.find() is not None
        assert uow.crm_records.count("account") == 1
        assert uow.crm_users.count() == 1

    confirmation = admin.client.get(unconfirmed.headers["location"])
    assert confirmation.status_code == 200
    assert "<title>Disconnect CRM sync? · salesbridge</title>" in confirmation.text
    assert f"The connection to {ORG_URL} and its stored credentials will be deleted." in confirmation.text
    assert "1 CRM record, 1 CRM user, 1 table checkpoint, 1 import run, and" in confirmation.text
    assert 'name="confirm" value="yes"' in confirmation.text
    with console.store(organization_id) as uow:
        assert uow.crm_records.count("account") == 1

    spanish = browser(ACME_SELLER)  # not an administrator: no confirmation page either
    assert spanish.client.get("/settings/crm/disconnect?purge=yes").status_code == 403


def test_without_the_box_the_data_stays_and_the_state_is_not_connected(console: Console, browser: OpenBrowser) -> None:
    organization_id = _connect_and_import(console)
    admin = browser(ACME_ADMIN)

    response = admin.client.post("/settings/crm/disconnect", data={**admin.csrf_data(), "confirm": "yes"})

    assert response.status_code == 200  # after the redirect
    assert "Not connected" in _state(response.text)
    assert ORG_URL in response.text
    assert "Previously imported CRM data has been kept." in response.text
    assert 'data-testid="disconnect-form"' in response.text  # the data can still be purged
    with console.store(organization_id) as uow:
        assert uow.crm_records.count("account") == 1
        assert [run.state for run in uow.import_runs.recent()] == [ImportState.FAILED]


def test_only_administrators_with_the_csrf_token_may_disconnect(console: Console, browser: OpenBrowser) -> None:
    organization_id = _connect_and_import(console)
    admin = browser(ACME_ADMIN)
    assert (
        admin.client.post("/settings/crm/disconnect", data={"purge": "yes", "confirm": "yes"}).status_code == 403
    )  # no CSRF token
    seller = browser(ACME_SELLER)
    assert (
        seller.client.post(
            "/settings/crm/disconnect", data={**seller.csrf_data(), "purge": "yes", "confirm": "yes"}
        ).status_code
        == 403
    )
    guest = browser(ACME_GUEST)
    assert (
        guest.client.post(
            "/settings/crm/disconnect", data={**guest.csrf_data(), "purge": "yes", "confirm": "yes"}
        ).status_code
        == 403
    )
    anonymous = browser(None)
    response = anonymous.client.post(
        "/settings/crm/disconnect", data={"purge": "yes", "confirm": "yes"}, follow_redirects=False
    )
    assert response.status_code == 303  # to the sign-in page
    api = seller.client.delete("/api/v1/orgs/acme/crm/connection?purge=true", headers=seller.csrf_headers())
    assert api.status_code == 403
    with console.store(organization_id) as uow:
        assert uow.crm_connection.find() is not None
        assert uow.crm_records.count("account") == 1


def test_api_disconnect_returns_the_outcome_in_the_users_language(console: Console, browser: OpenBrowser) -> None:
    _connect_and_import(console)
    admin = browser(ACME_ADMIN)
    assert admin.client.delete("/api/v1/orgs/acme/crm/connection?purge=true").status_code == 403  # no CSRF token

    response = admin.client.delete("/api/v1/orgs/acme/crm/connection?purge=true", headers=admin.csrf_headers())

    assert response.status_code == 200
    body = response.json()
    assert body["purged"] is True
    assert body["was_connected"] is True
    assert body["cancelled_imports"] == 1
    assert body["deleted"] == {
        "crm_records": 1,
        "table_sync_states": 1,
        "crm_users": 1,
        "import_requests": 1,
        "system_list_items": 0,
        "system_lists": 0,
    }
    assert "x" * 32 not in response.text
    again = admin.client.delete("/api/v1/orgs/acme/crm/connection", headers=admin.csrf_headers())
    assert again.status_code == 200
    assert again.json()["was_connected"] is False
    status = admin.client.get("/api/v1/orgs/acme/crm/connection").json()
    assert status["state"] == "not_configured"


def test_a_deliberate_disconnect_is_not_reported_as_failing_sync(console: Console, browser: OpenBrowser) -> None:
    _connect_and_import(console)
    admin = browser(ACME_ADMIN)

    page = admin.client.post("/settings/crm/disconnect", data={**admin.csrf_data(), "confirm": "yes"})

    assert 'data-testid="sync-alert"' not in page.text
