"""Loading people and companies from a CSV (services.people_load) on the in-memory store: good lines load, bad ones
are reported with their number and reason, a batch loads whole or not at all, loading again changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
from tests.fakes.store import FakeStore

from salesbridge.domain.csv_rows import read_company_csv, read_people_csv
from salesbridge.domain.people import UNKNOWN_COMPANY_MESSAGE, Person, UpsertCounts
from salesbridge.errors import InvalidInputError, UnknownOrganizationError
from salesbridge.services.people_load import load_companies, load_people
from salesbridge.web.localized import line_problem_text

PEOPLE = (
    "id,First Name,Last Name,Title,Company,Email,City\n"
    "p1,Ana,García,CTO,Contoso Ltd.,ana@contoso.example,Madrid\n"
    "p2,,,CEO,Globex,,\n"  # no name at all
    "p3,Bob,Smith," + "x" * 501 + ",Globex,,\n"  # a title longer than 500 characters
    'p4,"Carla\tTab",Ruiz,,,,\n'  # a tab inside a name
    "p5,Dan,=HYPERLINK(1),,,,\n"  # a formula cell: kept as text
)


def _texts(report_problems: Any) -> list[str]:
    return [line_problem_text(problem, "en") for problem in report_problems]


def test_good_lines_load_and_each_bad_line_is_reported_with_its_number_and_reason(store: FakeStore) -> None:
    acme = store.add_organization("acme")

    report = load_people(store, "acme", read_people_csv(PEOPLE.encode()), actor="cli")

    assert (report.inserted, report.updated, report.unchanged, report.refused) == (2, 0, 0, 3)
    assert _texts(report.problems) == [
        "Line 3: The line has no name: give a full name, a first name or a last name.",
        "Line 4: The Title value is longer than 500 characters.",
        "Line 5: The First Name value contains control characters (such as a tab).",
    ]
    assert report.formula_rows == 1
    assert report.lines_read == 6
    with store(acme, read_only=True) as uow:
        ana = uow.people.get_by_external_id("p1")
        dan = uow.people.get_by_external_id("p5")
        assert uow.people.count() == 2
    assert ana is not None
    assert (ana.full_name, ana.headline, ana.company_name, ana.emails, ana.city, ana.source) == (
        "Ana García",
        "CTO",
        "Contoso Ltd.",
        ("ana@contoso.example",),
        "Madrid",
        "csv",
    )
    assert ana.company_id is None  # tying to a workspace company is matching's work
    assert dan is not None
    assert dan.last_name == "=HYPERLINK(1)"


def test_loading_the_same_file_again_changes_nothing(store: FakeStore) -> None:
    acme = store.add_organization("acme")
    load_people(store, "acme", read_people_csv(PEOPLE.encode()), actor="cli")
    with store(acme, read_only=True) as uow:
        before = {person.external_id: (person, person.updated_at) for person in uow.people.search()}

    again = load_people(store, "acme", read_people_csv(PEOPLE.encode()), actor="cli")

    assert (again.inserted, again.updated, again.unchanged, again.refused) == (0, 0, 2, 3)
    with store(acme, read_only=True) as uow:
        after = {person.external_id: (person, person.updated_at) for person in uow.people.search()}
    assert after == before


def test_a_changed_line_updates_its_person(store: FakeStore) -> None:
    acme = store.add_organization("acme")
    load_people(store, "acme", read_people_csv(b"id,first_name,title\np1,Ana,CTO\np2,Bea,CFO\n"), actor="cli")

    report = load_people(store, "acme", read_people_csv(b"id,first_name,title\np1,Ana,CEO\np2,Bea,CFO\n"), actor="cli")

    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 1)
    with store(acme, read_only=True) as uow:
        ana = uow.people.get_by_external_id("p1")
    assert ana is not None
    assert ana.headline == "CEO"


def test_each_batch_is_committed_and_reported_as_progress(store: FakeStore) -> None:
    store.add_organization("acme")
    data = b"id,first_name\n" + b"".join(b"p%d,Name%d\n" % (number, number) for number in range(5))
    seen: list[int] = []

    report = load_people(store, "acme", read_people_csv(data, batch_size=2), actor="cli", progress=seen.append)

    assert report.inserted == 5
    assert len(seen) == 3
    assert seen == sorted(seen)
    assert seen[-1] == len(data)


class _RefusingStore:
    """The in-memory store, except that its people repository refuses any batch holding ``refused_id`` (as the
    real store refuses a batch naming a company the organization lacks)."""

    def __init__(self, store: FakeStore, refused_id: str) -> None:
        self._store = store
        self._refused_id = refused_id

    def organization_id(self, slug: str) -> uuid.UUID | None:
        return self._store.organization_id(slug)

    def refresh_statistics(self) -> list[str]:
        return self._store.refresh_statistics()

    @contextmanager
    def _opened(self, organization_id: uuid.UUID) -> Iterator[Any]:
        with self._store(organization_id) as uow:
            real = uow.people.upsert_many
            refused_id = self._refused_id

            def upsert_many(people: list[Person], *, kept: Mapping[str, Collection[str]] | None = None) -> UpsertCounts:
                if any(person.external_id == refused_id for person in people):
                    raise InvalidInputError(UNKNOWN_COMPANY_MESSAGE, field="company_id")
                return real(people, kept=kept)

            uow.people.upsert_many = upsert_many  # type: ignore[method-assign]
            yield uow

    def __call__(self, organization_id: uuid.UUID, *, read_only: bool = False) -> Any:
        return self._opened(organization_id)


def test_a_batch_the_store_refuses_is_written_not_at_all_and_its_lines_are_reported(store: FakeStore) -> None:
    acme = store.add_organization("acme")
    data = b"id,first_name\np1,A\np2,B\np3,C\np4,D\np5,E\n"

    report = load_people(_RefusingStore(store, "p3"), "acme", read_people_csv(data, batch_size=2), actor="cli")  # type: ignore[arg-type]

    assert (report.inserted, report.refused) == (3, 2)
    assert [problem.line for problem in report.problems] == [4, 5]
    assert _texts(report.problems)[0] == (
        "Line 4: The store refused the batch of up to 2 rows holding this line (company_id); none of them was loaded."
    )
    with store(acme, read_only=True) as uow:
        assert sorted(person.external_id for person in uow.people.search()) == ["p1", "p2", "p5"]


def test_a_load_is_audited_once_with_its_counts(store: FakeStore) -> None:
    acme = store.add_organization("acme")
    data = b"id,first_name\n" + b"".join(b"p%d,N\n" % number for number in range(5)) + b"p9,\n"

    load_people(store, "acme", read_people_csv(data, batch_size=2), actor="cli")

    assert store.audit_actions(acme) == ["people.imported"]
    with store(acme, read_only=True) as uow:
        (entry,) = uow.audit.recent()
    assert entry.actor == "cli"
    assert entry.details == {
        "lines": 7,
        "inserted": 5,
        "updated": 0,
        "unchanged": 0,
        "refused": 1,
        "encoding": "utf-8",
    }


def test_companies_keep_their_domain_count_and_first_phone_and_bad_counts_are_line_problems(
    store: FakeStore,
) -> None:
    acme = store.add_organization("acme")
    data = (
        b"id,Account Name,Website,Employees,Phone\n"
        b'c1,Contoso Ltd.,https://www.shop.contoso.co.uk/about,"1,200",+44 20 7946 0000;+44 20 7946 0001\n'
        b"c2,Globex,gmail.com,51-200,\n"
        b"c3,,globex.example,,\n"
        b"c4,Initech,,-3,\n"
    )

    report = load_companies(store, "acme", read_company_csv(data), actor="admin@acme.example")

    assert (report.inserted, report.refused) == (1, 3)
    assert _texts(report.problems) == [
        "Line 3: The Employees value is not a whole number of 0 or more.",
        "Line 4: The line has no company name.",
        "Line 5: The Employees value is not a whole number of 0 or more.",
    ]
    assert store.audit_actions(acme) == ["companies.imported"]
    with store(acme, read_only=True) as uow:
        contoso = uow.companies.get_by_external_id("c1")
    assert contoso is not None
    assert (contoso.domain, contoso.employee_count, contoso.phone) == ("contoso.co.uk", 1200, "+44 20 7946 0000")


def test_a_free_mail_website_gives_no_company_domain(store: FakeStore) -> None:
    acme = store.add_organization("acme")

    load_companies(store, "acme", read_company_csv(b"id,name,website\nc1,Freelancer,gmail.com\n"), actor="cli")

    with store(acme, read_only=True) as uow:
        company = uow.companies.get_by_external_id("c1")
    assert company is not None
    assert company.website == "gmail.com"
    assert company.domain is None


def test_an_unknown_organization_is_refused_before_anything_is_read(store: FakeStore) -> None:
    reading = read_people_csv(b"id,first_name\np1,Ana\n")

    with pytest.raises(UnknownOrganizationError):
        load_people(store, "initech", reading, actor="cli")

    assert reading.rows_read == 0


def test_people_loaded_before_their_company_are_tied_when_it_is_loaded(store: FakeStore) -> None:
    acme = store.add_organization("acme")
    load_people(store, "acme", read_people_csv(b"id,name,Company ID\np1,Ana Ruiz,k1\np2,Bob Stone,k2\n"), actor="cli")

    load_companies(store, "acme", read_company_csv(b"id,name\nk1,Contoso\n"), actor="cli")

    with store(acme, read_only=True) as uow:
        contoso = uow.companies.get_by_external_id("k1")
        employers = {person.external_id: person.company_id for person in uow.people.search()}
    assert contoso is not None
    assert employers == {"p1": contoso.id, "p2": None}  # k2 is no company of the workspace yet
