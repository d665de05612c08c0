"""A person is tied to their employer (``company_id``, from the ``company_external_id`` the file gives) whichever
file was loaded first (SQLite and PostgreSQL): people first and companies second ties them when the companies
arrive, in the companies load; companies first ties them as the people load; the API's company upsert ties them
too; a company deleted and loaded again unchanged ties its people again and asks for matching; a person whose
employer never arrives stays untied; another organization's people are never tied."""

from __future__ import annotations

import uuid
from dataclasses import replace

from salesbridge.domain.csv_rows import read_company_csv, read_people_csv
from salesbridge.services.connecting import create_organization
from salesbridge.services.people import delete_company, upsert_companies
from salesbridge.services.people_load import load_companies, load_people
from salesbridge.store.uow import UnitOfWorkFactory

PEOPLE_CSV = (
    "id,first_name,last_name,company_name,Company ID\n"
    "p1,Lucía,Fernández,Cóndor,k-condor\n"
    "p2,Ana,Ruiz,Cóndor,k-condor\n"
    "p3,Bob,Stone,Zeta,k-zeta\n"
    "p4,Eva,Solo,Freelance,\n"
).encode()
COMPANIES_CSV = "id,name,city\nk-condor,Cóndor Auditores,Buenos Aires\nk-other,Other Ltd,Madrid\n".encode()


def _employers(store: UnitOfWorkFactory, organization_id: uuid.UUID) -> dict[str, str | None]:
    """Each person's employer, by external ids (None: tied to no company)."""
    with store(organization_id, read_only=True) as uow:
        companies = {company.id: company.external_id for company in uow.companies.search(limit=100)}
        return {
            person.external_id: companies.get(person.company_id) if person.company_id else None
            for person in uow.people.search(limit=100)
        }


TIED = {"p1": "k-condor", "p2": "k-condor", "p3": None, "p4": None}
"""k-zeta is never loaded: Bob stays untied."""


def test_people_loaded_before_their_company_are_tied_when_it_arrives(store: UnitOfWorkFactory) -> None:
    acme = create_organization(store, slug="acme")
    globex = create_organization(store, slug="globex")
    load_people(store, "globex", read_people_csv(PEOPLE_CSV), actor="admin")
    load_people(store, "acme", read_people_csv(PEOPLE_CSV), actor="admin")
    assert set(_employers(store, acme).values()) == {None}
    with store(acme, read_only=True) as uow:
        before = {person.external_id: person.updated_at for person in uow.people.search(limit=100)}

    report = load_companies(store, "acme", read_company_csv(COMPANIES_CSV), actor="admin")

    assert (report.inserted, report.problems) == (2, ())
    assert _employers(store, acme) == TIED
    assert set(_employers(store, globex).values()) == {None}  # another organization's people are not tied
    with store(acme, read_only=True) as uow:
        after = {person.external_id: person.updated_at for person in uow.people.search(limit=100)}
    assert after["p1"] > before["p1"]  # changed: matching reads the tied people again
    assert after["p3"] == before["p3"]
    # Loading the companies again ties no one twice and changes nothing.
    again = load_companies(store, "acme", read_company_csv(COMPANIES_CSV), actor="admin")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    with store(acme, read_only=True) as uow:
        assert {person.external_id: person.updated_at for person in uow.people.search(limit=100)} == after


def test_companies_loaded_first_still_tie_their_people_as_the_people_load(store: UnitOfWorkFactory) -> None:
    acme = create_organization(store, slug="acme")
    load_companies(store, "acme", read_company_csv(COMPANIES_CSV), actor="admin")

    load_people(store, "acme", read_people_csv(PEOPLE_CSV), actor="admin")

    assert _employers(store, acme) == TIED


def test_the_apis_company_upsert_ties_the_people_loaded_before(store: UnitOfWorkFactory) -> None:
    acme = create_organization(store, slug="acme")
    load_people(store, "acme", read_people_csv(PEOPLE_CSV), actor="admin")

    upsert_companies(store, acme, [{"external_id": "k-zeta", "name": "Zeta"}], actor="api")

    assert _employers(store, acme) == {**TIED, "p1": None, "p2": None, "p3": "k-zeta"}


def test_a_company_deleted_and_loaded_again_ties_its_people_again(store: UnitOfWorkFactory) -> None:
    acme = create_organization(store, slug="acme")
    load_companies(store, "acme", read_company_csv(COMPANIES_CSV), actor="admin")
    load_people(store, "acme", read_people_csv(PEOPLE_CSV), actor="admin")
    with store(acme, read_only=True) as uow:
        condor = uow.companies.get_by_external_id("k-condor")
    assert condor is not None
    delete_company(store, acme, condor.id, actor="admin")
    assert _employers(store, acme)["p1"] is None

    load_companies(store, "acme", read_company_csv(COMPANIES_CSV), actor="admin")

    assert _employers(store, acme) == TIED


def test_people_left_untied_by_an_earlier_version_are_tied_by_an_unchanged_companies_load(
    store: UnitOfWorkFactory,
) -> None:
    """Before this fix a people file loaded first left its people untied for good; loading the same companies file
    again (every company unchanged) ties them, and asks for a matching run since the people changed."""
    acme = create_organization(store, slug="acme")
    load_companies(store, "acme", read_company_csv(COMPANIES_CSV), actor="admin")
    load_people(store, "acme", read_people_csv(PEOPLE_CSV), actor="admin")
    with store(acme) as uow:
        people = uow.people.search(limit=100)
        uow.people.upsert_many([replace(person, company_id=None) for person in people])  # as loaded before the fix
        uow.matches.save_state(replace(uow.matches.lock_state(), requested_at=None))  # as after a matching run
        uow.commit()
    assert set(_employers(store, acme).values()) == {None}

    report = load_companies(store, "acme", read_company_csv(COMPANIES_CSV), actor="admin")

    assert (report.inserted, report.updated, report.unchanged) == (0, 0, 2)
    assert _employers(store, acme) == TIED
    with store(acme, read_only=True) as uow:
        assert uow.matches.state().requested_at is not None
