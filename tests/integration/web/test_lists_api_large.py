"""GET /api/v1/me/lists on a list of 5,000 CRM records (SQLite and PostgreSQL): each list answers with its first
``limit`` items, people and companies by name (100 unless asked, at most 1,000), while its size and its unmatched
records are counted over the whole list by the database; each person or company shown carries exactly its records
of the list. GET /api/v1/me/lists/{id}/items reads the whole list a page at a time (a keyset cursor on table and CRM
id), each item once though items are added and records renamed meanwhile; only the owner's, with cursors of that
list only."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from tests.integration.web.conftest import ACME_ADMIN, ACME_SELLER, GLOBEX_ADMIN, Browser, Console, Person
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
    # The first 100 by table then id: the ten accounts, then the first 90 contacts.
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
    assert [(view["kind"], view["size"], view["items"], view["next"]) for view in answer.json()[:2]] == [
        ("crm_accounts", 0, [], None),
        ("crm_leads", 0, [], None),
    ]
    # ``next`` reads on from the last item shown.
    following = seller.client.get(big["next"]).json()
    assert [item["name"] for item in following["items"]] == [f"Contact {n:05d}" for n in range(90, 190)]

    most = next(view for view in seller.client.get("/api/v1/me/lists?limit=1000").json() if view["id"] == str(big_id))
    assert (len(most["items"]), len(most["people"]), most["size"]) == (1000, PEOPLE, CONTACTS + ACCOUNTS)
    assert most["items"][-1]["name"] == f"Contact {1000 - ACCOUNTS - 1:05d}"
    none = next(view for view in seller.client.get("/api/v1/me/lists?limit=0").json() if view["id"] == str(big_id))
    assert (none["items"], none["people"], none["size"], none["unmatched"]) == ([], [], big["size"], big["unmatched"])
    assert none["next"] == f"/api/v1/me/lists/{big_id}/items?limit=100"
    assert seller.client.get("/api/v1/me/lists?limit=1001").status_code == 422
    assert seller.client.get("/api/v1/me/lists?limit=-1").status_code == 422


def _add(console: Console, list_id: uuid.UUID, crm_id: str, name: str | None) -> None:
    """Put the contact ``crm_id`` in the list (imported as ``name``; None: not imported)."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        if name is not None:
            uow.crm_records.upsert_many("contact", [RecordRow(crm_id, name, None, None, 0, {})], generation=2)
        assert uow.lists.add_item(list_id, "contact", crm_id)
        uow.commit()


def _walk(client: Any, url: str, between: Callable[[list[dict[str, Any]]], None]) -> list[dict[str, Any]]:
    """The pages from ``url`` on, following ``next``; ``between(pages so far)`` after each page."""
    pages: list[dict[str, Any]] = []
    following: str | None = url
    while following is not None:
        answer = client.get(following)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        following = pages[-1]["next"]
        between(pages)
    return pages


def test_a_large_list_is_read_page_by_page_each_item_once_while_items_are_added(
    console: Console, browser: OpenBrowser
) -> None:
    big_id, people, _ = _seed(console)
    seller = browser(ACME_SELLER).client

    def add(pages: list[dict[str, Any]]) -> None:
        if len(pages) == 1:
            # Added before the cursor (its id sorts first): an OFFSET would give the first page's last item again.
            _add(console, big_id, "b0000000-0000-0000-0000-000000000001", None)
        if len(pages) == 3:
            _add(console, big_id, "d0000000-0000-0000-0000-000000000002", "Aaa added later")  # after the cursor

    pages = _walk(seller, f"/api/v1/me/lists/{big_id}/items?limit=1000", add)
    assert [len(page["items"]) for page in pages] == [1000, 1000, 1000, 1000, 1000, 11]
    assert [page["size"] for page in pages] == [CONTACTS + ACCOUNTS] + [CONTACTS + ACCOUNTS + 1] * 2 + [
        CONTACTS + ACCOUNTS + 2
    ] * 3
    walked = [(item["table"], item["name"], item["crm_id"]) for page in pages for item in page["items"]]
    expected = [("account", f"Account {n:02d}", _account(n)) for n in range(ACCOUNTS)] + [
        ("contact", f"Contact {n:05d}", _contact(n)) for n in range(CONTACTS)
    ]
    assert walked == [*expected, ("contact", "Aaa added later", "d0000000-0000-0000-0000-000000000002")]
    assert (pages[-1]["next"], pages[-1]["next_cursor"]) == (None, None)
    # Each person and company is on the pages of its records, with those records: all of them, once, in all.
    tied = [
        (target["id"], record["crm_id"])
        for page in pages
        for target in page["people"]
        for record in target["crm_records"]
    ]
    assert sorted(tied) == sorted((str(people[f"p{n // 2:03d}"]), _contact(n)) for n in range(2 * PEOPLE))
    assert [len(page["companies"]) for page in pages] == [ACCOUNTS // 2, 0, 0, 0, 0, 0]

    # A page boundary between a person's two records: the person is on both pages, each time with the one there.
    # (The contact added behind the cursor during the walk comes first now, after the accounts.)
    first = seller.get(f"/api/v1/me/lists/{big_id}/items", params={"limit": ACCOUNTS + 1 + 1}).json()
    second = seller.get(first["next"]).json()
    assert (first["limit"], first["items"][-1]["crm_id"], second["items"][0]["crm_id"]) == (
        12,
        _contact(0),
        _contact(1),
    )
    assert first["people"][0]["crm_records"] == [{"table": "contact", "crm_id": _contact(0)}]
    assert second["people"][0]["crm_records"] == [{"table": "contact", "crm_id": _contact(1)}]
    assert first["people"][0]["id"] == second["people"][0]["id"] == str(people["p000"])
    # The first page is the start GET /api/v1/me/lists shows.
    listed = next(view for view in seller.get("/api/v1/me/lists").json() if view["id"] == str(big_id))
    default = seller.get(f"/api/v1/me/lists/{big_id}/items").json()
    assert (default["items"], default["unmatched"], default["limit"]) == (listed["items"], listed["unmatched"], 100)


def _crafted(list_id: uuid.UUID, crm_id: str) -> str:
    text = json.dumps([str(list_id), "contact", crm_id])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_a_page_of_a_list_is_only_its_owners_and_takes_only_its_own_cursors(
    console: Console, browser: OpenBrowser
) -> None:
    big_id, _, _ = _seed(console)
    signed_in = browser(ACME_SELLER)
    seller, headers = signed_in.client, signed_in.csrf_headers()
    cursor = seller.get(f"/api/v1/me/lists/{big_id}/items", params={"limit": 5}).json()["next_cursor"]
    assert seller.get(f"/api/v1/me/lists/{big_id}/items", params={"limit": 5, "cursor": cursor}).status_code == 200

    other = seller.post("/api/v1/me/lists", json={"name": "Other"}, headers=headers).json()["id"]
    refused = "Este cursor no procede de ninguna página de esta lista: vuelve a empezar sin cursor."
    for bad in (cursor, "not a cursor", base64.urlsafe_b64encode(b"[1,2]").decode(), _crafted(big_id, "")):
        answer = seller.get(f"/api/v1/me/lists/{other}/items", params={"cursor": bad})
        assert (answer.status_code, answer.json()["detail"]) == (422, refused), bad
    # A NUL (PostgreSQL refuses it in a text) is refused as a bad cursor, not a failure of the database.
    answer = seller.get(f"/api/v1/me/lists/{big_id}/items", params={"cursor": _crafted(big_id, "a\x00b")})
    assert answer.status_code == 422
    # A cursor of the walk by name (list, name, table, id) is refused: the client starts again.
    by_name = json.dumps([str(big_id), "Contact 00004", "contact", _contact(4)]).encode()
    answer = seller.get(
        f"/api/v1/me/lists/{big_id}/items", params={"cursor": base64.urlsafe_b64encode(by_name).decode()}
    )
    assert (answer.status_code, answer.json()["detail"]) == (422, refused)
    assert seller.get(f"/api/v1/me/lists/{big_id}/items", params={"limit": 0}).status_code == 422
    assert seller.get(f"/api/v1/me/lists/{big_id}/items", params={"limit": 1001}).status_code == 422

    # Another seat's list, another organization's, an unknown one and the placeholder of an unfilled system list.
    assert browser(ACME_ADMIN).client.get(f"/api/v1/me/lists/{big_id}/items").status_code == 404
    assert browser(GLOBEX_ADMIN).client.get(f"/api/v1/me/lists/{big_id}/items").status_code == 404
    assert seller.get(f"/api/v1/me/lists/{uuid.uuid4()}/items").status_code == 404
    assert seller.get(f"/api/v1/me/lists/{uuid.UUID(int=0)}/items").status_code == 404


def _renamed(n: int) -> str:
    return f"e0000000-0000-0000-0000-{n:012d}"


def _import_names(console: Console, names: dict[str, str], generation: int) -> None:
    """Import (or re-import, renamed) the contacts ``names`` (CRM id: name)."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        rows = [RecordRow(crm_id, name, None, None, 0, {}) for crm_id, name in names.items()]
        uow.crm_records.upsert_many("contact", rows, generation=generation)
        uow.commit()


def test_a_list_walked_while_the_crm_renames_its_records_gives_each_record_once(
    console: Console, browser: OpenBrowser
) -> None:
    """A seller's client reads a list two records a page. Between two pages an import renames a record not yet
    shown to a name before every one already shown ("Aaa …": a walk by name skipped it) and a record already shown
    to a name after every other ("Zzz …": a walk by name gave it again). The walk gives each record exactly once,
    the renamed one not yet shown under its new name, and ``size`` stays the list's."""
    _import_names(console, {_renamed(n): f"Name {n}" for n in range(1, 7)}, generation=1)
    signed_in = browser(ACME_SELLER)
    seller, headers = signed_in.client, signed_in.csrf_headers()
    list_id = seller.post("/api/v1/me/lists", json={"name": "Renamed"}, headers=headers).json()["id"]
    for n in range(1, 7):
        added = seller.post(
            f"/api/v1/me/lists/{list_id}/items", json={"table": "contact", "crm_id": _renamed(n)}, headers=headers
        )
        assert added.status_code == 200, added.text

    def rename(pages: list[dict[str, Any]]) -> None:
        if len(pages) == 1:
            assert [item["name"] for item in pages[0]["items"]] == ["Name 1", "Name 2"]
            _import_names(console, {_renamed(5): "Aaa renamed", _renamed(1): "Zzz renamed"}, generation=2)

    pages = _walk(seller, f"/api/v1/me/lists/{list_id}/items?limit=2", rename)

    walked = [(item["crm_id"], item["name"]) for page in pages for item in page["items"]]
    assert walked == [
        (_renamed(1), "Name 1"),
        (_renamed(2), "Name 2"),
        (_renamed(3), "Name 3"),
        (_renamed(4), "Name 4"),
        (_renamed(5), "Aaa renamed"),
        (_renamed(6), "Name 6"),
    ]
    assert [(len(page["items"]), page["size"]) for page in pages] == [(2, 6), (2, 6), (2, 6)]
    assert pages[-1]["next_cursor"] is None
    # /api/v1/me/lists starts the same walk, and its ``next`` goes on from there.
    listed = next(view for view in seller.get("/api/v1/me/lists?limit=2").json() if view["id"] == list_id)
    following = seller.get(listed["next"]).json()
    assert [item["crm_id"] for item in [*listed["items"], *following["items"]]] == [_renamed(n) for n in range(1, 5)]
