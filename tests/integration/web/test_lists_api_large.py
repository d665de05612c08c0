"""GET /api/v1/me/lists on a list of 5,000 CRM records (SQLite and PostgreSQL): each list answers with its first
``limit`` items, people and companies by name (100 unless asked, at most 1,000), while its size and its unmatched
records are counted over the whole list by the database; each person or company shown carries exactly its records
of the list."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace

from tests.integration.web.conftest import ACME_SELLER, Browser, Console, Person
from tests.integration.web.test_crm_details_web import tie

from salesbridge.domain.match_links import LinkBand, TargetKind
from salesbridge.domain.people import Company
from salesbridge.domain.people import Person as WorkspacePerson
from salesbridge.domain.sync_runs import RecordRow

OpenBrowser = Callable[[Person | None], Browser]

CONTACTS = 5_000
PEOPLE = 120
"""Each tied to two contacts of the list (more people than the default limit shows)."""
ACCOUNTS = 10
"""Of them the even ones are tied to a company; one more contact of the list is in review (not a tie)."""


def _contact(n: int) -> str:
    return f"c0000000-0000-0000-0000-{n:012d}"


def _account(n: int) -> str:
    return f"a0000000-0000-0000-0000-{n:012d}"


def _seed(console: Console) -> tuple[uuid.UUID, dict[str, uuid.UUID], dict[str, uuid.UUID]]:
    """The seller's list "Big": 5,000 contacts (named "Contact 00000" …) and 10 accounts; the list's id, the people's
    ids and the companies' ids by external id."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        contacts = [RecordRow(_contact(n), f"Contact {n:05d}", None, None, 0, {}) for n in range(CONTACTS)]
        uow.crm_records.upsert_many("contact", contacts, generation=1)
        accounts = [RecordRow(_account(n), f"Account {n:02d}", None, None, 0, {}) for n in range(ACCOUNTS)]
        uow.crm_records.upsert_many("account", accounts, generation=1)
        uow.people.upsert_many(
            [WorkspacePerson(external_id=f"p{n:03d}", first_name="Person", last_name=f"{n:03d}") for n in range(PEOPLE)]
        )
        uow.companies.upsert_many([Company(external_id=f"k{n}", name=f"Company {n}") for n in range(ACCOUNTS // 2)])
        people = uow.people.ids_by_external_ids([f"p{n:03d}" for n in range(PEOPLE)])
        companies = {
            f"k{n}": company.id for n in range(ACCOUNTS // 2) if (company := uow.companies.get_by_external_id(f"k{n}"))
        }
        ties = [
            tie("contact", _contact(2 * n + k), TargetKind.PERSON, people[f"p{n:03d}"])
            for n in range(PEOPLE)
            for k in (0, 1)
        ]
        ties += [tie("account", _account(2 * n), TargetKind.COMPANY, companies[f"k{n}"]) for n in range(ACCOUNTS // 2)]
        in_review = tie("contact", _contact(CONTACTS - 1), TargetKind.PERSON, people["p000"])
        uow.matches.put([*ties, replace(in_review, band=LinkBand.REVIEW)])
        seller = uow.users.find_by_email(ACME_SELLER.email)
        assert seller is not None
        big = uow.lists.create_manual(seller.id, "Big")
        wanted = [("contact", _contact(n), None) for n in range(CONTACTS)]
        uow.lists.replace_items(big.id, [*wanted, *(("account", _account(n), None) for n in range(ACCOUNTS))])
        uow.commit()
    return big.id, people, companies


def test_a_large_list_answers_with_its_start_and_counts_the_whole_list(console: Console, browser: OpenBrowser) -> None:
    big_id, people, companies = _seed(console)
    seller = browser(ACME_SELLER)

    answer = seller.client.get("/api/v1/me/lists")
    assert answer.status_code == 200
    big = next(view for view in answer.json() if view["id"] == str(big_id))
    assert big["size"] == CONTACTS + ACCOUNTS
    tied = 2 * PEOPLE + ACCOUNTS // 2
    assert big["unmatched"] == CONTACTS + ACCOUNTS - tied  # the contact in review is not matched yet
    assert big["unmatched_label"] == f"{CONTACTS + ACCOUNTS - tied} registros del CRM aún sin coincidencia"
    # The first 100 by name: the ten accounts, then the first 90 contacts.
    expected = [f"Account {n:02d}" for n in range(ACCOUNTS)] + [f"Contact {n:05d}" for n in range(90)]
    assert [item["name"] for item in big["items"]] == expected
    assert [person["name"] for person in big["people"]] == [f"Person {n:03d}" for n in range(100)]
    first = big["people"][0]
    assert first["id"] == str(people["p000"])
    assert first["crm_records"] == [
        {"table": "contact", "crm_id": _contact(0)},
        {"table": "contact", "crm_id": _contact(1)},
    ]
    assert [company["name"] for company in big["companies"]] == [f"Company {n}" for n in range(ACCOUNTS // 2)]
    assert big["companies"][4] == {
        "id": str(companies["k4"]),
        "name": "Company 4",
        "detail": None,
        "crm_records": [{"table": "account", "crm_id": _account(8)}],
    }
    # The system lists, not filled by auto-save yet, are empty.
    assert [(view["kind"], view["size"], view["items"]) for view in answer.json()[:2]] == [
        ("crm_accounts", 0, []),
        ("crm_leads", 0, []),
    ]

    most = next(view for view in seller.client.get("/api/v1/me/lists?limit=1000").json() if view["id"] == str(big_id))
    assert (len(most["items"]), len(most["people"]), most["size"]) == (1000, PEOPLE, CONTACTS + ACCOUNTS)
    assert most["items"][-1]["name"] == f"Contact {1000 - ACCOUNTS - 1:05d}"
    none = next(view for view in seller.client.get("/api/v1/me/lists?limit=0").json() if view["id"] == str(big_id))
    assert (none["items"], none["people"], none["size"], none["unmatched"]) == ([], [], big["size"], big["unmatched"])
    assert seller.client.get("/api/v1/me/lists?limit=1001").status_code == 422
    assert seller.client.get("/api/v1/me/lists?limit=-1").status_code == 422
