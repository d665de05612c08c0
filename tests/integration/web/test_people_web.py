"""The People and Companies pages (SQLite and PostgreSQL): search, paging, a person's and a company's page, who may
see them, and that another organization's people stay out of reach."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from tests.integration.web.conftest import ACME_ADMIN, ACME_GUEST, ACME_SELLER, GLOBEX_ADMIN, Browser, Console, Person

from salesbridge.domain.people import Company
from salesbridge.domain.people import Person as Profile

OpenBrowser = Callable[[Person | None], Browser]


def seed_people(console: Console, org: str = "acme", *, extra: int = 0) -> dict[str, uuid.UUID]:
    """Contoso with Robert Smith (its sales director), Paco Pérez elsewhere, and ``extra`` more people; returns
    the ids by external id (and ``contoso``)."""
    organization_id = console.store.organization_id(org)
    assert organization_id is not None
    with console.store(organization_id) as uow:
        uow.companies.upsert_many(
            [
                Company(
                    "contoso",
                    "Contoso Ltd.",
                    website="https://www.contoso.com",
                    domain="contoso.com",
                    industry="Software",
                    employee_count=1200,
                    city="Madrid",
                    country="Spain",
                    profile_url="javascript:alert(1)",
                )
            ]
        )
        contoso = uow.companies.get_by_external_id("contoso")
        assert contoso is not None
        assert contoso.id is not None
        people = [
            Profile(
                "p-robert",
                first_name="Robert",
                last_name="Smith",
                headline="Sales Director",
                company_id=contoso.id,
                company_name="Contoso Ltd.",
                city="Madrid",
                country="Spain",
                emails=("robert.smith@contoso.com",),
                profile_url="https://www.linkedin.com/in/robert-smith",
            ),
            Profile("p-paco", first_name="Paco", last_name="Pérez", headline="CFO", company_name="Fabrikam"),
            *(
                Profile(f"p-extra-{n:03}", full_name=f"Zed Extra {n:03}", company_name="Northwind")
                for n in range(extra)
            ),
        ]
        uow.people.upsert_many(people)
        ids = {person.external_id: person.id for person in uow.people.search("", limit=1000) if person.id}
        uow.commit()
    return {**ids, "contoso": contoso.id}


def test_a_seller_searches_people_by_company_title_and_place_in_their_language(
    console: Console, browser: OpenBrowser
) -> None:
    seed_people(console)
    seller = browser(ACME_SELLER)
    page = seller.client.get("/people")
    assert page.status_code == 200
    assert 'data-testid="nav-people"' in page.text
    assert 'data-testid="nav-companies"' in page.text
    assert "2 personas" in page.text
    for query in ("contoso", "sales director", "MADRID", "smith robert"):
        found = seller.client.get("/people", params={"q": query}).text
        assert re.findall(r'data-testid="person-link">([^<]*)<', found) == ["Robert Smith"], query
    nothing = seller.client.get("/people", params={"q": "nobody-here"}).text
    assert 'data-testid="people-empty"' in nothing
    assert "Nadie coincide con esta búsqueda." in nothing


def test_people_are_paged_25_at_a_time_in_name_order(console: Console, browser: OpenBrowser) -> None:
    seed_people(console, extra=30)
    seller = browser(ACME_SELLER)
    first = seller.client.get("/people").text
    names = re.findall(r'data-testid="person-link">([^<]*)<', first)
    assert len(names) == 25
    assert names[:2] == ["Paco Pérez", "Robert Smith"]
    assert "Página 1 de 2" in first
    second = seller.client.get("/people", params={"page": 2}).text
    assert re.findall(r'data-testid="person-link">([^<]*)<', second) == [f"Zed Extra {n:03}" for n in range(23, 30)]
    past_the_end = seller.client.get("/people", params={"page": 99}).text
    assert "Página 2 de 2" in past_the_end
    searched = seller.client.get("/people", params={"q": "northwind", "page": 2}).text
    assert 'href="/people?q=northwind&amp;page=1"' in searched


def test_a_person_and_their_company_show_their_fields(console: Console, browser: OpenBrowser) -> None:
    ids = seed_people(console)
    admin = browser(ACME_ADMIN)
    person = admin.client.get(f"/people/{ids['p-robert']}")
    assert person.status_code == 200
    assert "Sales Director" in person.text
    assert "robert.smith@contoso.com" in person.text
    assert f'href="/companies/{ids["contoso"]}"' in person.text
    assert 'href="https://www.linkedin.com/in/robert-smith"' in person.text
    company = admin.client.get(f"/companies/{ids['contoso']}")
    assert company.status_code == 200
    assert "Contoso Ltd." in company.text
    assert "1,200" in company.text
    assert "Madrid, Spain" in company.text
    # A loaded profile URL that is not a web address is shown as text, never as a link.
    assert 'href="javascript:' not in company.text
    listed = admin.client.get("/companies", params={"q": "software"}).text
    assert re.findall(r'data-testid="company-link">([^<]*)<', listed) == ["Contoso Ltd."]


def test_only_seat_holders_see_people_and_never_another_organizations(console: Console, browser: OpenBrowser) -> None:
    ids = seed_people(console)
    seed_people(console, "globex")
    guest = browser(ACME_GUEST)
    assert guest.client.get("/people").status_code == 403
    assert guest.client.get(f"/people/{ids['p-robert']}").status_code == 403
    assert 'data-testid="nav-people"' not in guest.client.get("/account").text
    anonymous = browser(None)
    assert anonymous.client.get("/companies", follow_redirects=False).status_code == 303
    other = browser(GLOBEX_ADMIN)
    assert other.client.get(f"/people/{ids['p-robert']}").status_code == 404
    assert other.client.get(f"/companies/{ids['contoso']}").status_code == 404
    assert other.client.get(f"/people/{uuid.uuid4()}").status_code == 404
    # Globex's own search finds only Globex's people (the same names, other ids).
    found = other.client.get("/people", params={"q": "robert"}).text
    assert str(ids["p-robert"]) not in found
    assert "Robert Smith" in found
