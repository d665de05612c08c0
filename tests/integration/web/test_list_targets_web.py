"""Auto-saved lists hold the workspace's people and companies tied to the CRM records auto-save picks; CRM records
not matched yet are counted on the list ("1 CRM record not matched yet", in the reader's language and plural) and
appear once matched: the Lists page, the API and the CLI's view, on SQLite and PostgreSQL with real matching runs."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from tests.integration.web.conftest import ACME_SELLER, Browser, Console, Person

from salesbridge.domain.people import Company
from salesbridge.domain.people import Person as WorkspacePerson
from salesbridge.services.crm_users import rematch_seats
from salesbridge.services.lists import recompute_auto_saved_lists, show_lists
from salesbridge.services.matching import run_matching
from salesbridge.store.imports import RecordRow
from salesbridge.store.workspace import CrmUserValues
from salesbridge.web.localized import unmatched_label

SOFIA = "22222222-0000-0000-0000-000000000001"
OpenBrowser = Callable[[Person | None], Browser]


def _lookup(table: str, crm_id: str) -> dict[str, str]:
    return {"id": crm_id, "table": table}


def _contact(crm_id: str, first: str, last: str, email: str) -> RecordRow:
    data = {
        "statecode": 0,
        "firstname": first,
        "lastname": last,
        "fullname": f"{first} {last}",
        "emailaddress1": email,
        "jobtitle": "Head of Sales",
        "parentcustomerid": _lookup("account", "a1"),
    }
    return RecordRow(crm_id, f"{first} {last}", SOFIA, "a1", 0, data)


def _seed_crm(console: Console) -> uuid.UUID:
    """Sofía's two open deals at Contoso, with Carla and Pablo as their contacts; her lists computed."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        uow.crm_users.replace_all([CrmUserValues(SOFIA, "Sofía", ACME_SELLER.email, None, False, False, 0)])
        rematch_seats(uow)
        account = {"statecode": 0, "name": "Contoso Ltd", "websiteurl": "https://www.contoso.com"}
        uow.crm_records.upsert_many("account", [RecordRow("a1", "Contoso Ltd", SOFIA, None, 0, account)], generation=1)
        contacts = [
            _contact("c1", "Carla", "Contreras", "carla.contreras@contoso.com"),
            _contact("c2", "Pablo", "Prieto", "pablo.prieto@contoso.com"),
        ]
        uow.crm_records.upsert_many("contact", contacts, generation=1)
        deals = [
            RecordRow(
                f"o{index}",
                f"Deal {index}",
                SOFIA,
                "a1",
                0,
                {
                    "statecode": 0,
                    "salesstage": 1,
                    "parentaccountid": _lookup("account", "a1"),
                    "parentcontactid": _lookup("contact", contact),
                },
            )
            for index, contact in ((1, "c1"), (2, "c2"))
        ]
        uow.crm_records.upsert_many("opportunity", deals, generation=1)
        uow.commit()
    recompute_auto_saved_lists(console.store, organization_id)
    return organization_id


def _load_and_match(console: Console, organization_id: uuid.UUID, people: list[WorkspacePerson]) -> None:
    with console.store(organization_id) as uow:
        uow.companies.upsert_many(
            [Company(external_id="co-1", name="CONTOSO", website="contoso.com", domain="contoso.com")]
        )
        uow.people.upsert_many(people)
        uow.commit()
    run_matching(console.store, organization_id, clock=console.clock)


CARLA = WorkspacePerson(
    external_id="p-1", first_name="Carla", last_name="Contreras", emails=("carla.contreras@contoso.com",)
)
PABLO = WorkspacePerson(external_id="p-2", first_name="Pablo", last_name="Prieto", emails=("pablo.prieto@contoso.com",))


def test_lists_hold_the_tied_people_and_companies_and_count_the_records_not_matched_yet(
    console: Console, browser: OpenBrowser
) -> None:
    organization_id = _seed_crm(console)
    _load_and_match(console, organization_id, [CARLA])
    seller = browser(ACME_SELLER)  # reads the console in Spanish

    lists = {view["kind"]: view for view in seller.client.get("/api/v1/me/lists").json()}
    page = seller.client.get("/lists").text

    leads, accounts = lists["crm_leads"], lists["crm_accounts"]
    assert {item["crm_id"] for item in leads["items"]} == {"c1", "c2"}
    assert [person["name"] for person in leads["people"]] == ["Carla Contreras"]
    assert leads["people"][0]["crm_records"] == [{"table": "contact", "crm_id": "c1"}]
    assert (leads["unmatched"], leads["unmatched_label"]) == (1, "1 registro del CRM aún sin coincidencia")
    assert [company["name"] for company in accounts["companies"]] == ["CONTOSO"]
    assert (accounts["unmatched"], accounts["unmatched_label"]) == (0, None)
    assert 'data-testid="list-person"' in page
    assert "Carla Contreras" in page
    assert "1 registro del CRM aún sin coincidencia" in page

    _load_and_match(console, organization_id, [CARLA, PABLO])

    leads = next(view for view in seller.client.get("/api/v1/me/lists").json() if view["kind"] == "crm_leads")
    assert [person["name"] for person in leads["people"]] == ["Carla Contreras", "Pablo Prieto"]
    assert leads["unmatched"] == 0
    assert 'data-testid="list-unmatched"' not in seller.client.get("/lists").text


def test_a_list_before_any_matching_counts_every_record_in_english_plurals(console: Console) -> None:
    _seed_crm(console)

    views = {view.kind.value: view for view in show_lists(console.store, "acme", ACME_SELLER.email)}

    assert views["crm_leads"].people == ()
    assert views["crm_leads"].unmatched == 2
    assert unmatched_label(2, "en") == "2 CRM records not matched yet"
    assert unmatched_label(1, "en") == "1 CRM record not matched yet"
    assert unmatched_label(12, "es") == "12 registros del CRM aún sin coincidencia"
