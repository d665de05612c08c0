"""The Lists page, the pipeline section of CRM Settings, and their API (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.web.conftest import ACME_ADMIN, ACME_GUEST, ACME_SELLER, GLOBEX_ADMIN, Browser, Console, Person

from salesbridge.services.crm_users import rematch_seats
from salesbridge.services.lists import recompute_auto_saved_lists
from salesbridge.store.imports import RecordRow
from salesbridge.store.workspace import CrmUserValues

SOFIA = "22222222-0000-0000-0000-000000000001"

OpenBrowser = Callable[[Person | None], Browser]


def _seed_crm(console: Console) -> None:
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        uow.crm_users.replace_all([CrmUserValues(SOFIA, "Sofía", ACME_SELLER.email, None, False, False, 0)])
        rematch_seats(uow)
        account = {"statecode": 0}
        uow.crm_records.upsert_many("account", [RecordRow("a1", "Contoso Ltd", None, None, 0, account)], generation=1)
        uow.crm_records.upsert_many("contact", [RecordRow("c1", "Carla Contact", None, "a1", 0, account)], generation=1)
        deal = {
            "statecode": 0,
            "salesstage": 1,
            "parentaccountid": {"id": "a1", "table": "account"},
            "parentcontactid": {"id": "c1", "table": "contact"},
            "stepname": "2-Develop",
        }
        uow.crm_records.upsert_many("opportunity", [RecordRow("o1", "Deal", SOFIA, "a1", 0, deal)], generation=1)
        uow.commit()
    recompute_auto_saved_lists(console.store, organization_id)


def test_lists_page_shows_the_sellers_lists_in_their_language(console: Console, browser: OpenBrowser) -> None:
    _seed_crm(console)
    seller = browser(ACME_SELLER)
    page = seller.client.get("/lists")
    assert page.status_code == 200
    assert 'data-testid="nav-lists"' in page.text
    assert "Mis cuentas del CRM" in page.text
    assert "Contoso Ltd" in page.text
    assert "Carla Contact" in page.text
    api = seller.client.get("/api/v1/me/lists")
    assert api.status_code == 200
    assert [len(view["items"]) for view in api.json()] == [1, 1]
    admin_lists = browser(ACME_ADMIN).client.get("/api/v1/me/lists").json()
    assert [view["items"] for view in admin_lists] == [[], []]


def test_own_rules_form_saves_and_recomputes(console: Console, browser: OpenBrowser) -> None:
    _seed_crm(console)
    seller = browser(ACME_SELLER)
    response = seller.client.post(
        "/lists/rules", data={**seller.csrf_data(), "accounts_owned": "on"}, follow_redirects=False
    )
    assert response.status_code == 303
    page = seller.client.get("/lists")
    assert 'data-testid="rule-accounts-owned" checked' in page.text
    assert 'data-testid="rule-accounts-of-open-opportunities" checked' not in page.text
    assert "Contoso Ltd" not in page.text  # the opportunity rules are off now
    assert seller.client.post("/lists/rules", data={}).status_code == 403  # no CSRF token


def test_guest_without_seat_has_no_lists(browser: OpenBrowser) -> None:
    guest = browser(ACME_GUEST)
    assert guest.client.get("/lists").status_code == 403
    assert guest.client.get("/api/v1/me/lists").status_code == 403


def test_pipeline_section_saves_and_validates(console: Console, browser: OpenBrowser) -> None:
    _seed_crm(console)
    admin = browser(ACME_ADMIN)
    page = admin.client.get("/settings/crm")
    assert page.status_code == 200
    assert "At which stage does your sales team consider an opportunity to enter your pipeline?" in page.text
    assert 'value="stepname:2-Develop"' in page.text
    assert 'name="stage_source"' not in page.text  # one control: the stage names its source
    form = {
        **admin.csrf_data(),
        "stage": "salesstage:2",
        "won_value_column": "estimatedvalue",
        "base_currency": "on",
        "auto_save": "yes",
        "sync_interval_minutes": "30",
    }
    saved = admin.client.post("/settings/crm/pipeline", data=form, follow_redirects=False)
    assert saved.status_code == 303
    settings = admin.client.get("/api/v1/orgs/acme/crm/settings").json()
    assert settings["stage_threshold"] == "2"
    assert settings["stage_label"] == "Propose"
    assert settings["won_value_base_currency"] is True
    seller_lists = browser(ACME_SELLER).client.get("/api/v1/me/lists").json()
    assert [view["items"] for view in seller_lists] == [[], []]  # the deal is at stage 1 < 2
    refused = admin.client.post("/settings/crm/pipeline", data={**form, "sync_interval_minutes": "2"})
    assert refused.status_code == 422
    assert "between 5 and 1440 minutes" in refused.text
    step = admin.client.post("/settings/crm/pipeline", data={**form, "stage": "stepname:2-Develop"})
    assert step.status_code == 200
    settings = admin.client.get("/api/v1/orgs/acme/crm/settings").json()
    assert (settings["stage_source"], settings["stage_threshold"]) == ("stepname", "2-Develop")
    every = admin.client.post("/settings/crm/pipeline", data={**form, "stage": "all"})
    assert every.status_code == 200
    settings = admin.client.get("/api/v1/orgs/acme/crm/settings").json()
    assert (settings["stage_source"], settings["stage_threshold"]) == ("stepname", None)


def test_settings_api_validates_and_is_for_administrators(browser: OpenBrowser) -> None:
    admin = browser(ACME_ADMIN)
    bad = admin.client.put(
        "/api/v1/orgs/acme/crm/settings", json={"won_value_column": "name"}, headers=admin.csrf_headers()
    )
    assert bad.status_code == 422
    assert "name is not a money column of opportunity" in bad.json()["detail"]
    good = admin.client.put(
        "/api/v1/orgs/acme/crm/settings",
        json={"stage_source": "salesstage", "stage_threshold": "Develop", "auto_save_enabled": False},
        headers=admin.csrf_headers(),
    )
    assert good.status_code == 200
    assert good.json()["stage_threshold"] == "1"
    seller = browser(ACME_SELLER)
    assert seller.client.get("/api/v1/orgs/acme/crm/settings").status_code == 403
    assert browser(GLOBEX_ADMIN).client.get("/api/v1/orgs/acme/crm/settings").status_code == 404
    assert browser(GLOBEX_ADMIN).client.get("/api/v1/orgs/globex/crm/settings").json()["stage_threshold"] is None


def test_a_seller_builds_a_list_of_their_own_that_auto_save_leaves_alone(
    console: Console, browser: OpenBrowser
) -> None:
    import uuid

    _seed_crm(console)
    seller, outsider = browser(ACME_SELLER), browser(GLOBEX_ADMIN)
    created = seller.client.post("/api/v1/me/lists", json={"name": "Madrid"}, headers=seller.csrf_headers())
    assert created.status_code == 201, created.text
    list_id = created.json()["id"]
    record = str(uuid.uuid4())

    first = seller.client.post(
        f"/api/v1/me/lists/{list_id}/items",
        json={"table": "account", "crm_id": record},
        headers=seller.csrf_headers(),
    )
    again = seller.client.post(
        f"/api/v1/me/lists/{list_id}/items",
        json={"table": "account", "crm_id": record},
        headers=seller.csrf_headers(),
    )
    stolen = outsider.client.post(
        f"/api/v1/me/lists/{list_id}/items",
        json={"table": "account", "crm_id": str(uuid.uuid4())},
        headers=outsider.csrf_headers(),
    )

    assert (first.json(), again.json(), stolen.status_code) == ({"added": True}, {"added": False}, 404)
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    recompute_auto_saved_lists(console.store, organization_id)
    mine = {entry["name"]: entry for entry in seller.client.get("/api/v1/me/lists").json()}
    assert [item["crm_id"] for item in mine["Madrid"]["items"]] == [record]


def test_the_lists_page_creates_a_list_of_ones_own_and_explains_a_bad_name(browser: OpenBrowser) -> None:
    seller = browser(ACME_SELLER)

    created = seller.client.post("/lists", data={"name": "Ferias 2027", **seller.csrf_data()}, follow_redirects=False)
    refused = seller.client.post("/lists", data={"name": "   ", **seller.csrf_data()})

    assert created.status_code == 303
    assert "Ferias 2027" in seller.client.get("/lists").text
    assert refused.status_code == 422
    assert 'data-testid="form-error"' in refused.text
