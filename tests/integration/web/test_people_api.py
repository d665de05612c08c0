"""The people and companies API on the real console served by uvicorn (SQLite and PostgreSQL), called with API
tokens over HTTP: bulk upserts of up to 10,000 rows (idempotent by external id, refused rows reported by index
while the good ones load, more rows refused whole), single reads, the paged search, who may write and read, and
tenant isolation."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from tests.integration.web.conftest import ACME_ADMIN, ACME_GUEST, ACME_SELLER, GLOBEX_ADMIN, Browser, Console, Person

from salesbridge.sandbox.server.serving import RunningServer, serve_in_thread
from salesbridge.web.app import create_app
from salesbridge.web.request_limits import BULK_BODY_BYTES, DEFAULT_BODY_BYTES

OpenBrowser = Callable[[Person | None], Browser]
PEOPLE = "/api/v1/orgs/acme/people"
COMPANIES = "/api/v1/orgs/acme/companies"


@pytest.fixture
def served(console: Console) -> Iterator[RunningServer]:
    """The console on 127.0.0.1 over plain HTTP, on the test's store."""
    with serve_in_thread(create_app(console.services, secure_cookies=False)) as server:
        yield server


@pytest.fixture
def api(served: RunningServer, browser: OpenBrowser) -> Iterator[Callable[[Person], httpx.Client]]:
    """``api(person)``: an HTTP client to the served console carrying an API token of ``person``."""
    clients: list[httpx.Client] = []

    def open_api(person: Person) -> httpx.Client:
        signed_in = browser(person)
        created = signed_in.client.post("/api/v1/me/tokens", json={"name": "loader"}, headers=signed_in.csrf_headers())
        assert created.status_code == 201, created.text
        client = httpx.Client(
            base_url=served.base_url,
            headers={"Authorization": f"Bearer {created.json()['token']}"},
            timeout=120,
        )
        clients.append(client)
        return client

    yield open_api
    for client in clients:
        client.close()


def person_row(number: int) -> dict[str, Any]:
    """A full person, as a CRM export or a data vendor gives one."""
    return {
        "external_id": f"vendor-{number:06d}",
        "first_name": "Francisco",
        "last_name": f"García López {number}",
        "headline": "Director de Operaciones Comerciales",
        "company_name": "Contoso Ibérica S.L.",
        "past_companies": ["Fabrikam Ltd.", "Northwind Traders"],
        "city": "Sevilla",
        "region": "Andalucía",
        "country": "Spain",
        "emails": [f"francisco.garcia{number}@contoso.es", f"fgarcia{number}@gmail.com"],
        "phones": ["+34 954 000 000", f"+34 600 {number:06d}"],
        "profile_url": f"https://www.linkedin.com/in/francisco-garcia-lopez-{number}/",
    }


def test_ten_thousand_people_load_in_one_request_and_again_change_nothing(
    api: Callable[[Person], httpx.Client],
) -> None:
    admin = api(ACME_ADMIN)
    body = json.dumps({"people": [person_row(number) for number in range(10_000)]}).encode()
    assert DEFAULT_BODY_BYTES < len(body) < BULK_BODY_BYTES

    first = admin.post(PEOPLE, content=body, headers={"content-type": "application/json"})
    again = admin.post(PEOPLE, content=body, headers={"content-type": "application/json"})

    assert first.status_code == 200, first.text[:500]
    assert first.json() | {"errors": None} == {
        "received": 10_000,
        "inserted": 10_000,
        "updated": 0,
        "unchanged": 0,
        "refused": 0,
        "errors": None,
    }
    assert (again.json()["inserted"], again.json()["updated"], again.json()["unchanged"]) == (0, 0, 10_000)
    assert admin.get(PEOPLE, params={"limit": 1}).json()["total"] == 10_000


def test_ten_thousand_and_one_rows_are_refused_whole(api: Callable[[Person], httpx.Client]) -> None:
    admin = api(ACME_ADMIN)
    rows = [person_row(number) for number in range(10_001)]

    refused = admin.post(PEOPLE, json={"people": rows})
    companies = admin.post(COMPANIES, json={"companies": [{"external_id": str(n), "name": "C"} for n in range(10_001)]})

    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "At most 10000 rows per request; this one has 10001. Split it into several requests: nothing was loaded."
    )
    assert companies.status_code == 422
    assert admin.get(PEOPLE).json()["total"] == 0
    assert admin.get(COMPANIES).json()["total"] == 0


def test_refused_rows_are_reported_by_index_while_the_good_ones_load(
    api: Callable[[Person], httpx.Client],
) -> None:
    admin = api(ACME_ADMIN)
    rows = [
        person_row(0),
        {"external_id": "no-name", "headline": "Buyer"},
        person_row(2) | {"headline": "x" * 501},
        person_row(3) | {"city": "Sevilla\tCentro"},
        person_row(0) | {"first_name": "Paco"},
        person_row(5) | {"emails": [f"e{n}@contoso.es" for n in range(51)]},
        person_row(6),
    ]

    answer = admin.post(PEOPLE, json={"people": rows})

    assert answer.status_code == 200
    body = answer.json()
    assert (body["received"], body["inserted"], body["refused"]) == (7, 2, 5)
    assert body["errors"] == [
        {
            "index": 1,
            "field": "full_name",
            "reason": "A person needs a name: give a first name, a last name or a full name.",
        },
        {"index": 2, "field": "headline", "reason": "This value is too long: at most 500 characters."},
        {
            "index": 3,
            "field": "city",
            "reason": (
                "This text contains control characters (such as a tab or a line break). Remove them and try again."
            ),
        },
        {
            "index": 4,
            "field": "external_id",
            "reason": "The external id vendor-000000 is already given at index 0; only that row is loaded.",
        },
        {"index": 5, "field": "emails", "reason": "Too many values: at most 50."},
    ]
    loaded = admin.get(PEOPLE).json()
    assert [item["external_id"] for item in loaded["items"]] == ["vendor-000000", "vendor-000006"]
    assert loaded["items"][0]["first_name"] == "Francisco"  # the first row of a repeated id wins


def test_refusals_speak_the_callers_language(api: Callable[[Person], httpx.Client]) -> None:
    admin = api(ACME_ADMIN)
    assert admin.put("/api/v1/me/locale", json={"locale": "es"}).status_code == 200

    rows = admin.post(COMPANIES, json={"companies": [{"external_id": "c1", "name": "Contoso", "employee_count": -3}]})
    too_many = admin.post(COMPANIES, json={"companies": [{"external_id": str(n), "name": "C"} for n in range(10_001)]})

    assert rows.json()["errors"] == [
        {"index": 0, "field": "employee_count", "reason": "Indica un número de empleados de 0 o más."}
    ]
    assert too_many.json()["detail"].startswith("Como máximo 10000 filas por solicitud")


def test_companies_load_update_and_read_by_id_and_external_id(api: Callable[[Person], httpx.Client]) -> None:
    admin = api(ACME_ADMIN)
    contoso = {"external_id": "erp/0001", "name": "Contoso Ltd.", "website": "https://www.contoso.co.uk/about"}

    created = admin.post(COMPANIES, json={"companies": [contoso, {"external_id": "erp/0002", "name": "Fabrikam"}]})
    changed = admin.post(COMPANIES, json={"companies": [contoso | {"employee_count": 1200}]})
    by_external_id = admin.get(f"{COMPANIES}/by-external-id/erp/0001")
    by_id = admin.get(f"{COMPANIES}/{by_external_id.json()['id']}")

    assert (created.json()["inserted"], changed.json()["updated"]) == (2, 1)
    assert by_external_id.status_code == 200
    assert by_id.json() == by_external_id.json()
    assert by_id.json()["domain"] == "contoso.co.uk"
    assert by_id.json()["employee_count"] == 1200
    assert admin.get(f"{COMPANIES}/by-external-id/erp/9999").status_code == 404


def test_a_person_is_tied_to_a_company_of_the_workspace_by_its_external_id(
    api: Callable[[Person], httpx.Client],
) -> None:
    ours, theirs = api(ACME_ADMIN), api(GLOBEX_ADMIN)
    ours.post(COMPANIES, json={"companies": [{"external_id": "erp-1", "name": "Contoso"}]})
    theirs.post("/api/v1/orgs/globex/companies", json={"companies": [{"external_id": "g-1", "name": "Globex"}]})
    contoso = ours.get(f"{COMPANIES}/by-external-id/erp-1").json()

    answer = ours.post(
        PEOPLE,
        json={
            "people": [
                person_row(1) | {"company_external_id": "erp-1"},
                person_row(2) | {"company_external_id": "g-1"},  # another organization's
                person_row(3) | {"company_external_id": "erp-404"},
            ]
        },
    )

    assert (answer.json()["inserted"], answer.json()["refused"]) == (1, 2)
    assert answer.json()["errors"][0] == {
        "index": 1,
        "field": "company_external_id",
        "reason": "No company of the workspace has the external id g-1: load it first.",
    }
    tied = ours.get(f"{PEOPLE}/by-external-id/vendor-000001").json()
    assert tied["company_id"] == contoso["id"]


def test_search_pages_people_by_name(api: Callable[[Person], httpx.Client]) -> None:
    admin = api(ACME_ADMIN)
    rows = [person_row(number) | {"last_name": f"Apellido {number:02d}"} for number in range(30)]
    rows.append({"external_id": "other", "first_name": "Ana", "last_name": "Torres", "company_name": "Fabrikam"})
    admin.post(PEOPLE, json={"people": rows})

    first = admin.get(PEOPLE, params={"q": "francisco contoso", "limit": 20})
    second = admin.get(PEOPLE, params={"q": "francisco contoso", "limit": 20, "offset": 20})
    fabrikam = admin.get(PEOPLE, params={"q": "FABRIKAM torres"}).json()

    assert (first.json()["total"], len(first.json()["items"]), len(second.json()["items"])) == (30, 20, 10)
    names = [item["full_name"] for item in first.json()["items"] + second.json()["items"]]
    assert names == sorted(names, key=str.casefold)
    assert [item["external_id"] for item in fabrikam["items"]] == ["other"]
    person = admin.get(f"{PEOPLE}/{fabrikam['items'][0]['id']}").json()
    assert (person["full_name"], person["source"]) == ("Ana Torres", "api")
    assert admin.get(PEOPLE, params={"limit": 201}).status_code == 422


def test_a_row_changes_the_fields_it_carries_and_keeps_the_others(api: Callable[[Person], httpx.Client]) -> None:
    """QA item 13: a row naming only the first name and company emptied the last name, title and emails."""
    admin = api(ACME_ADMIN)
    admin.post(COMPANIES, json={"companies": [{"external_id": "k1", "name": "Globex", "website": "globex.com"}]})
    admin.post(PEOPLE, json={"people": [person_row(1) | {"company_external_id": "k1"}]})

    changed = admin.post(PEOPLE, json={"people": [{"external_id": "vendor-000001", "first_name": "Paco"}]})
    emptied = admin.post(
        PEOPLE, json={"people": [{"external_id": "vendor-000001", "first_name": "Paco", "emails": [], "headline": ""}]}
    )
    company = admin.post(COMPANIES, json={"companies": [{"external_id": "k1", "name": "Globex Corp"}]})

    assert [answer.json()["updated"] for answer in (changed, emptied, company)] == [1, 1, 1]
    person = admin.get(f"{PEOPLE}/by-external-id/vendor-000001").json()
    assert (person["first_name"], person["last_name"], person["full_name"]) == (
        "Paco",
        "García López 1",
        "Paco García López 1",
    )
    assert (person["emails"], person["headline"], person["city"]) == ([], None, "Sevilla")
    assert person["phones"] == person_row(1)["phones"]
    assert person["company_id"] is not None  # the company it was tied to stays
    stored = admin.get(f"{COMPANIES}/by-external-id/k1").json()
    assert (stored["name"], stored["website"], stored["domain"]) == ("Globex Corp", "globex.com", "globex.com")


def test_an_offset_too_large_for_the_database_is_refused_not_a_crash(api: Callable[[Person], httpx.Client]) -> None:
    """QA item 11: offset=99999999999999999999 was a 500 (SQLite: Python int too large; PostgreSQL: bigint)."""
    admin = api(ACME_ADMIN)
    pages = ("/api/v1/orgs/acme/people", "/api/v1/orgs/acme/companies", "/api/v1/orgs/acme/matching/review")
    for path in pages:
        assert admin.get(path, params={"offset": "99999999999999999999"}).status_code == 422, path
        assert admin.get(path, params={"offset": 2**31}).status_code == 422, path
        largest = admin.get(path, params={"offset": 2**31 - 1})
        assert (largest.status_code, largest.json()["items"]) == (200, []), path


def test_another_organizations_administrator_can_neither_read_nor_write_our_people(
    api: Callable[[Person], httpx.Client],
) -> None:
    ours, theirs = api(ACME_ADMIN), api(GLOBEX_ADMIN)
    ours.post(PEOPLE, json={"people": [person_row(1)]})
    ours.post(COMPANIES, json={"companies": [{"external_id": "c1", "name": "Contoso"}]})
    person_id = ours.get(PEOPLE).json()["items"][0]["id"]
    company_id = ours.get(COMPANIES).json()["items"][0]["id"]

    answers = [
        theirs.post(PEOPLE, json={"people": [person_row(1) | {"first_name": "Hacked"}]}),
        theirs.post(COMPANIES, json={"companies": [{"external_id": "c1", "name": "Hacked"}]}),
        theirs.get(PEOPLE),
        theirs.get(f"{PEOPLE}/{person_id}"),
        theirs.get(f"{PEOPLE}/by-external-id/vendor-000001"),
        theirs.get(f"{COMPANIES}/{company_id}"),
    ]
    # Through their own organization's routes our ids find nothing either.
    own_routes = [
        theirs.get(f"/api/v1/orgs/globex/people/{person_id}"),
        theirs.get("/api/v1/orgs/globex/people/by-external-id/vendor-000001"),
        theirs.get(f"/api/v1/orgs/globex/companies/{company_id}"),
    ]

    assert [answer.status_code for answer in answers + own_routes] == [404] * 9
    assert ours.get(f"{PEOPLE}/{person_id}").json()["first_name"] == "Francisco"
    assert ours.get(f"{COMPANIES}/{company_id}").json()["name"] == "Contoso"
    assert theirs.get("/api/v1/orgs/globex/people").json()["total"] == 0


def test_a_seat_holder_reads_but_only_administrators_write(api: Callable[[Person], httpx.Client]) -> None:
    admin, seller, guest = api(ACME_ADMIN), api(ACME_SELLER), api(ACME_GUEST)
    admin.post(PEOPLE, json={"people": [person_row(1)]})

    writes = [
        seller.post(PEOPLE, json={"people": [person_row(2)]}),
        seller.post(COMPANIES, json={"companies": [{"external_id": "c1", "name": "Contoso"}]}),
    ]

    assert [answer.status_code for answer in writes] == [403, 403]
    assert seller.get(PEOPLE).json()["total"] == 1
    assert seller.get(f"{PEOPLE}/by-external-id/vendor-000001").status_code == 200
    assert guest.get(PEOPLE).status_code == 403  # no seat: not a seller


def test_a_session_needs_its_csrf_token_to_write(browser: OpenBrowser) -> None:
    admin = browser(ACME_ADMIN)

    without = admin.client.post(PEOPLE, json={"people": [person_row(1)]})
    with_token = admin.client.post(PEOPLE, json={"people": [person_row(1)]}, headers=admin.csrf_headers())

    assert (without.status_code, with_token.status_code) == (403, 200)


def test_loads_are_audited_with_their_counts(api: Callable[[Person], httpx.Client]) -> None:
    admin = api(ACME_ADMIN)
    admin.post(PEOPLE, json={"people": [person_row(1), {"external_id": "x"}]})

    entries = admin.get("/api/v1/orgs/acme/audit").json()

    details = [entry["details"] for entry in entries if entry["action"] == "people.upserted"]
    assert details == [{"rows": 2, "inserted": 1, "updated": 0, "unchanged": 0, "refused": 1}]


def test_only_these_routes_take_a_bulk_body(served: RunningServer, api: Callable[[Person], httpx.Client]) -> None:
    admin = api(ACME_ADMIN)
    over = b'{"people": [' + b" " * BULK_BODY_BYTES + b"]}"
    medium = json.dumps({"name": "x" * (2 * DEFAULT_BODY_BYTES)}).encode()

    too_large = admin.post(PEOPLE, content=over, headers={"content-type": "application/json"})
    lists = admin.post("/api/v1/me/lists", content=medium, headers={"content-type": "application/json"})

    assert too_large.status_code == 413
    assert lists.status_code == 413
    assert served.port > 0
