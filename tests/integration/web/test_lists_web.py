"""The Lists page, the pipeline section of CRM Settings, and their API (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

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


def test_crm_settings_speak_the_administrators_language(browser: OpenBrowser) -> None:
    """The standard labels in Spanish (page and API), a stage typed by its Spanish label, refusals naming them."""
    admin = browser(ACME_ADMIN)
    spanish = admin.client.put("/api/v1/me/locale", json={"locale": "es"}, headers=admin.csrf_headers())
    assert spanish.status_code == 200
    offered = admin.client.get("/api/v1/orgs/acme/crm/settings").json()["choices"]
    typed = admin.client.put(
        "/api/v1/orgs/acme/crm/settings", json={"stage_threshold": " proponer "}, headers=admin.csrf_headers()
    )
    refused = admin.client.put(
        "/api/v1/orgs/acme/crm/settings", json={"stage_threshold": "Propose"}, headers=admin.csrf_headers()
    )
    page = admin.client.get("/settings/crm").text

    labels = [choice["label"] for choice in offered["stages"]["salesstage"]]
    assert labels == ["Calificar", "Desarrollar", "Proponer", "Cerrar"]
    assert offered["money_columns"][1] == {"value": "estimatedvalue", "label": "Ingresos estimados"}
    assert typed.status_code == 200
    assert (typed.json()["stage_threshold"], typed.json()["stage_label"]) == ("2", "Proponer")
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "Propose no es una fase de salesstage. Elige una de estas: Calificar (0), Desarrollar (1), Proponer (2), "
        "Cerrar (3)."
    )
    assert '<option value="salesstage:2" selected>Proponer</option>' in page
    assert ">Ingresos estimados (estimatedvalue)</option>" in page
    assert "Proponer (Fase de ventas)" in page


MADRID_ACCOUNT = "33333333-0000-0000-0000-00000000000a"


def _seed_madrid(console: Console) -> None:
    """An imported account whose id is a GUID, as Dynamics' are (the API takes GUIDs)."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        row = RecordRow(MADRID_ACCOUNT, "Madrid Motors", None, None, 0, {"statecode": 0})
        uow.crm_records.upsert_many("account", [row], generation=1)
        uow.commit()


def test_a_seller_builds_a_list_of_their_own_that_auto_save_leaves_alone(
    console: Console, browser: OpenBrowser
) -> None:
    _seed_crm(console)
    _seed_madrid(console)
    seller, outsider = browser(ACME_SELLER), browser(GLOBEX_ADMIN)
    created = seller.client.post("/api/v1/me/lists", json={"name": "Madrid"}, headers=seller.csrf_headers())
    assert created.status_code == 201, created.text
    list_id = created.json()["id"]

    def add(who: Browser, crm_id: str) -> Any:
        return who.client.post(
            f"/api/v1/me/lists/{list_id}/items",
            json={"table": "account", "crm_id": crm_id},
            headers=who.csrf_headers(),
        )

    first, again = add(seller, MADRID_ACCOUNT), add(seller, MADRID_ACCOUNT)
    stolen = add(outsider, MADRID_ACCOUNT)
    unknown = add(seller, str(uuid.uuid4()))

    assert (first.json(), again.json(), stolen.status_code) == ({"added": True}, {"added": False}, 404)
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == "Ninguna cuenta, contacto ni cliente potencial importado del CRM tiene este id."
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    recompute_auto_saved_lists(console.store, organization_id)
    mine = {entry["name"]: entry for entry in seller.client.get("/api/v1/me/lists").json()}
    assert [item["crm_id"] for item in mine["Madrid"]["items"]] == [MADRID_ACCOUNT]


def test_the_api_finds_renames_empties_and_deletes_a_list_of_ones_own(console: Console, browser: OpenBrowser) -> None:
    _seed_crm(console)
    _seed_madrid(console)
    seller, outsider = browser(ACME_SELLER), browser(GLOBEX_ADMIN)
    headers = seller.csrf_headers()
    list_id = seller.client.post("/api/v1/me/lists", json={"name": "Madrid"}, headers=headers).json()["id"]

    found = seller.client.get("/api/v1/me/records", params={"q": "MADRID"})
    assert found.json() == [{"table": "account", "crm_id": MADRID_ACCOUNT, "name": "Madrid Motors"}]
    assert outsider.client.get("/api/v1/me/records", params={"q": "madrid"}).json() == []
    seller.client.post(
        f"/api/v1/me/lists/{list_id}/items", json={"table": "account", "crm_id": MADRID_ACCOUNT}, headers=headers
    )

    renamed = seller.client.patch(f"/api/v1/me/lists/{list_id}", json={"name": " Madrid 2027 "}, headers=headers)
    assert renamed.json()["name"] == "Madrid 2027"
    too_long = seller.client.patch(f"/api/v1/me/lists/{list_id}", json={"name": "x" * 201}, headers=headers)
    assert too_long.status_code == 422
    assert too_long.json()["detail"] == "Ponle a la lista un nombre de 1 a 200 caracteres."
    system_id = next(view["id"] for view in seller.client.get("/api/v1/me/lists").json() if view["kind"] != "manual")
    assert (
        seller.client.patch(f"/api/v1/me/lists/{system_id}", json={"name": "Mine"}, headers=headers).status_code == 422
    )
    assert seller.client.delete(f"/api/v1/me/lists/{system_id}", headers=headers).status_code == 422
    assert outsider.client.delete(f"/api/v1/me/lists/{list_id}", headers=outsider.csrf_headers()).status_code == 404

    item = f"/api/v1/me/lists/{list_id}/items/account/{MADRID_ACCOUNT}"
    assert seller.client.delete(item, headers=headers).json() == {"removed": True}
    assert seller.client.delete(item, headers=headers).json() == {"removed": False}
    assert seller.client.delete(f"/api/v1/me/lists/{list_id}", headers=headers).status_code == 204
    assert seller.client.delete(f"/api/v1/me/lists/{list_id}", headers=headers).status_code == 404
    assert [view["kind"] for view in seller.client.get("/api/v1/me/lists").json()] == ["crm_accounts", "crm_leads"]
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        actions = [entry.action for entry in uow.audit.recent(limit=4)]
    assert actions == ["list.deleted", "list.item_removed", "list.renamed", "list.item_added"]


def test_the_lists_page_fills_renames_empties_and_deletes_an_own_list_and_keeps_auto_saved_ones(
    console: Console, browser: OpenBrowser
) -> None:
    _seed_crm(console)
    seller = browser(ACME_SELLER)
    seller.client.post("/lists", data={"name": "Ferias", **seller.csrf_data()})
    page = seller.client.get("/lists", params={"find": "cont"})
    assert 'data-testid="find-result" data-crm-id="a1"' in page.text  # Contoso Ltd
    assert 'data-testid="find-result" data-crm-id="c1"' in page.text  # Carla Contact
    list_id = re.search(r'data-list-kind="manual" data-list-id="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]

    added = seller.client.post(
        "/lists/items",
        data={**seller.csrf_data(), "list_id": list_id, "table": "account", "crm_id": "a1", "find": "cont"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    assert added.headers["location"] == f"/lists?notice=added&find=cont#list-{list_id}"
    own = _own_list_html(seller.client.get("/lists").text)
    assert "Contoso Ltd" in own
    assert 'data-testid="list-item-remove"' in own

    renamed = seller.client.post(f"/lists/{list_id}/name", data={**seller.csrf_data(), "name": "Ferias 2027"})
    assert "Ferias 2027" in renamed.text
    refused = seller.client.post(f"/lists/{list_id}/name", data={**seller.csrf_data(), "name": " "})
    assert refused.status_code == 422
    assert "Ponle a la lista un nombre de 1 a 200 caracteres." in refused.text

    removed = seller.client.post(
        f"/lists/{list_id}/items/remove", data={**seller.csrf_data(), "table": "account", "crm_id": "a1"}
    )
    assert "Contoso Ltd" not in _own_list_html(removed.text)
    assert "Contoso Ltd" in removed.text  # still in the auto-saved list

    system_id = re.search(r'data-list-kind="crm_accounts" data-list-id="([^"]+)"', removed.text).group(1)  # type: ignore[union-attr]
    for action in ("name", "delete"):
        kept = seller.client.post(f"/lists/{system_id}/{action}", data={**seller.csrf_data(), "name": "Mía"})
        assert kept.status_code == 422
        assert "El guardado automático mantiene esta lista" in kept.text
    system_html = removed.text.split('data-list-kind="crm_accounts"')[1].split("</section>")[0]
    assert "list-item-remove" not in system_html
    assert "list-manage" not in system_html

    deleted = seller.client.post(f"/lists/{list_id}/delete", data=seller.csrf_data())
    assert 'data-list-kind="manual"' not in deleted.text
    assert "Lista eliminada." in deleted.text


def _own_list_html(html: str) -> str:
    return html.split('data-list-kind="manual"')[1].split("</section>")[0]


def test_the_lists_page_creates_a_list_of_ones_own_and_explains_a_bad_name(browser: OpenBrowser) -> None:
    seller = browser(ACME_SELLER)

    created = seller.client.post("/lists", data={"name": "Ferias 2027", **seller.csrf_data()}, follow_redirects=False)
    refused = seller.client.post("/lists", data={"name": "   ", **seller.csrf_data()})

    assert created.status_code == 303
    assert "Ferias 2027" in seller.client.get("/lists").text
    assert refused.status_code == 422
    assert 'data-testid="form-error"' in refused.text


def test_the_lists_page_shows_the_first_records_of_a_long_list_and_links_to_all_of_them(
    console: Console, browser: OpenBrowser
) -> None:
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        seller = uow.users.find_by_email(ACME_SELLER.email)
        assert seller is not None
        rows = [RecordRow(f"c{index:03d}", f"Contact {index:03d}", None, None, 0, {}) for index in range(60)]
        uow.crm_records.upsert_many("contact", rows, generation=1)
        long_list = uow.lists.create_manual(seller.id, "Long")
        uow.lists.replace_items(long_list.id, [("contact", row.crm_id, None) for row in rows])
        uow.commit()
    page = browser(ACME_SELLER).client.get("/lists")
    assert page.status_code == 200
    assert page.text.count('data-testid="list-item"') == 50
    assert "Contact 049" in page.text
    assert "Contact 050" not in page.text
    assert 'data-testid="list-count">60<' in page.text
    assert f'<a href="/lists/{long_list.id}">Los 50 primeros de 60 registros' in page.text
    assert browser(ACME_SELLER).client.get(f"/lists/{long_list.id}").text.count("Contact 059") >= 1
