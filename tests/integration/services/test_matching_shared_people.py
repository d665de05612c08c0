"""Shared people end to end on SQLite and PostgreSQL, against a real sandbox over TLS: the people CSV's
``company_external_id`` column (kept, tied to the company, a bad value a line problem), and an account tied to its
company because the people its contacts are tied to work there (the Cóndor Auditores case: a namesake in the same
city, so name and city alone only ask for review)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Engine, event
from tests.integration.services.conftest import SANDBOX_TARGETS, RunningSandbox, _serve

from salesbridge.crm.dynamics import DynamicsConnector
from salesbridge.crm.ports import LookupValue
from salesbridge.domain.csv_rows import read_company_csv, read_people_csv
from salesbridge.domain.match_links import LinkBand
from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.services.connecting import connect_crm, create_organization
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.matching import link_of_crm_record, run_matching, run_requested_matching
from salesbridge.services.people_load import load_companies, load_people
from salesbridge.services.ports import CrmSessionFactory
from salesbridge.services.sync import request_sync
from salesbridge.store import create_session_factory
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory, utc_now
from salesbridge.web.localized import match_reason_text

# The true Cóndor has no website; its namesake in the same city has another company's. Filler companies elsewhere
# make the workspace the size where name and city alone are not enough for an automatic link.
COMPANIES_CSV = (
    "id,name,website,phone,city,country\n"
    "c-true,Cóndor Auditores,,,Buenos Aires,Argentina\n"
    "c-other,Cóndor Auditores,condor588.com.ar,+54111000588,Buenos Aires,Argentina\n"
    + "".join(f"f{at},Filler {chr(65 + at % 26)}{chr(65 + at // 26)} Ltd,,,Madrid,Spain\n" for at in range(52))
).encode()
PEOPLE = (
    "p1,Lucía,Fernández,lucia.fernandez@condor886.com.ar,Cóndor Auditores,Buenos Aires",
    "p2,Martín,Gómez,martin.gomez@condor886.com.ar,Cóndor Auditores,Buenos Aires",
)
PEOPLE_CSV = ("id,first_name,last_name,email,company_name,city\n" + "\n".join(PEOPLE) + "\n").encode()
PEOPLE_WITH_EMPLOYERS_CSV = (
    "id,first_name,last_name,email,company_name,city,Company ID\n" + "".join(f"{row},c-true\n" for row in PEOPLE)
).encode()


@pytest.fixture
def empty_sandbox(
    tmp_path_factory: pytest.TempPathFactory, sandbox_signing_key: rsa.RSAPrivateKey
) -> Iterator[RunningSandbox]:
    yield from _serve(build_sandbox(signing_key=sandbox_signing_key), tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def condor(empty_sandbox: RunningSandbox, sessions: CrmSessionFactory) -> AsyncIterator[str]:
    """The CRM: the account "Cóndor Auditores S.A." of Buenos Aires and two of its contacts; its id."""
    session = sessions(empty_sandbox.connected_credentials())
    assert isinstance(session, DynamicsConnector)
    account = str(uuid.uuid4())
    await session.writer.create(
        "account",
        {
            "name": "Cóndor Auditores S.A.",
            "websiteurl": "https://www.condor886.com.ar",
            "telephone1": "+54 11 1000886",
            "address1_city": "Buenos Aires",
            "address1_country": "Argentina",
        },
        record_id=account,
    )
    for first, last, email in (
        ("Lucía", "Fernández", "lucia.fernandez@condor886.com.ar"),
        ("Martín", "Gómez", "martin.gomez@condor886.com.ar"),
    ):
        await session.writer.create(
            "contact",
            {
                "firstname": first,
                "lastname": last,
                "emailaddress1": email,
                "address1_city": "Buenos Aires",
                "parentcustomerid": LookupValue(account, "account"),
            },
            record_id=str(uuid.uuid4()),
        )
    await session.close()
    return account


@pytest.fixture
async def acme(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, empty_sandbox: RunningSandbox, condor: str
) -> uuid.UUID:
    """Organization acme connected to the sandbox, its CRM imported and its companies loaded."""
    organization_id = create_organization(store, slug="acme", seats=5)
    outcome = await connect_crm(
        store, sessions, slug="acme", credentials=empty_sandbox.credentials(), targets=SANDBOX_TARGETS
    )
    assert outcome.is_connected
    request_sync(store, slug="acme", actor="admin@acme.test")
    imported = await run_pending_import(store, sessions, organization_id, clock=utc_now)
    assert imported is not None
    assert imported.succeeded, imported.error
    report = load_companies(store, "acme", read_company_csv(COMPANIES_CSV), actor="admin@acme.test")
    assert (report.inserted, report.problems) == (54, ())
    return organization_id


def _company_id(store: UnitOfWorkFactory, organization_id: uuid.UUID, external_id: str) -> uuid.UUID:
    with store(organization_id, read_only=True) as uow:
        company = uow.companies.get_by_external_id(external_id)
    assert company is not None
    assert company.id is not None
    return company.id


async def test_the_people_csv_keeps_each_persons_employer_and_reports_a_bad_one_by_line(
    store: UnitOfWorkFactory, acme: uuid.UUID
) -> None:
    csv = (
        "id,first_name,last_name,company_external_id\n"
        "p1,Lucía,Fernández,c-true\n"
        "p2,Martín,Gómez,c-later\n"  # a company the workspace does not hold (yet)
        f"p3,Ana,Ruiz,{'x' * 256}\n"
        "p4,Eva,Sanz,\n"
    ).encode()
    report = load_people(store, "acme", read_people_csv(csv), actor="admin@acme.test")
    assert report.inserted == 3
    assert [(p.line, p.message, dict(p.fields)) for p in report.problems] == [
        (
            4,
            "The {column} value is longer than {limit} characters.",
            {"column": "company_external_id", "limit": 255},
        )
    ]
    with store(acme, read_only=True) as uow:
        people = {external_id: uow.people.get_by_external_id(external_id) for external_id in ("p1", "p2", "p4")}
    employers = {key: (p.company_id, p.company_external_id) for key, p in people.items() if p is not None}
    assert employers == {
        "p1": (_company_id(store, acme, "c-true"), "c-true"),
        "p2": (None, "c-later"),
        "p4": (None, None),
    }

    # A later file without the column leaves every person's employer as it was.
    load_people(store, "acme", read_people_csv(b"id,first_name,last_name\np1,Lucia,Fernandez\n"), actor="admin")
    with store(acme, read_only=True) as uow:
        lucia = uow.people.get_by_external_id("p1")
    assert lucia is not None
    assert (lucia.first_name, lucia.company_external_id) == ("Lucia", "c-true")
    assert lucia.company_id == _company_id(store, acme, "c-true")


async def test_an_account_is_tied_to_the_company_its_contacts_people_work_at(
    store: UnitOfWorkFactory, acme: uuid.UUID, condor: str
) -> None:
    # Without employer ids (as before shared people): name and city, with a namesake in the city, ask for review.
    load_people(store, "acme", read_people_csv(PEOPLE_CSV), actor="admin@acme.test")
    assert run_requested_matching(store, acme, clock=utc_now) is not None
    with store(acme, read_only=True) as uow:
        before = link_of_crm_record(uow, "account", condor)
    assert before is not None
    assert (before.band, before.target_id) == (LinkBand.REVIEW, _company_id(store, acme, "c-true"))
    assert all(reason.field != "people" for reason in before.reasons)

    # The same people with their employer's id: the next (incremental) run ties the account.
    load_people(store, "acme", read_people_csv(PEOPLE_WITH_EMPLOYERS_CSV), actor="admin@acme.test")
    summary = run_requested_matching(store, acme, clock=utc_now)
    assert summary is not None
    assert not summary.full
    with store(acme, read_only=True) as uow:
        after = link_of_crm_record(uow, "account", condor)
    assert after is not None
    assert (after.band, after.target_id) == (LinkBand.MATCH, _company_id(store, acme, "c-true"))
    people = next(reason for reason in after.reasons if reason.field == "people")
    assert (people.level, people.left, people.right) == ("exact", "2", "2")
    assert match_reason_text(people, "en") == "Shared people: 2 of its contacts work here (2 with a known employer)"
    assert (
        match_reason_text(people, "es")
        == "Personas en común: 2 de sus contactos trabajan aquí (2 con empresa conocida)"
    )

    # A full run (every link decided afresh, people after accounts) ends the same.
    run_matching(store, acme, full=True, clock=utc_now)
    with store(acme, read_only=True) as uow:
        again = link_of_crm_record(uow, "account", condor)
    assert again is not None
    assert (again.band, again.target_id) == (LinkBand.MATCH, _company_id(store, acme, "c-true"))


def _links(store: UnitOfWorkFactory, organization_id: uuid.UUID) -> dict[tuple[str, str], tuple[object, ...]]:
    """Every link of the organization as a run decides it (its time of decision left out)."""
    found: dict[tuple[str, str], tuple[object, ...]] = {}
    with store(organization_id, read_only=True) as uow:
        for table in ("account", "contact", "lead"):
            ids = [record.crm_id for record in uow.matches.crm_records(table)]
            for crm_id, link in uow.matches.links(table, ids).items():
                found[(table, crm_id)] = (link.target_id, link.band, link.probability, link.decision, link.origin)
    return found


async def test_a_full_run_reads_the_accounts_shared_people_once(
    store: UnitOfWorkFactory,
    engine: Engine,
    acme: uuid.UUID,
    condor: str,
    empty_sandbox: RunningSandbox,
    sessions: CrmSessionFactory,
) -> None:
    # A second account (no contacts) so that reading every account's contacts and leads is told apart from reading
    # those of the accounts whose contacts' ties changed (the shared-people round, Cóndor alone).
    session = sessions(empty_sandbox.connected_credentials())
    assert isinstance(session, DynamicsConnector)
    other = str(uuid.uuid4())
    await session.writer.create("account", {"name": "Northwind Traders", "address1_city": "Lisboa"}, record_id=other)
    await session.close()
    request_sync(store, slug="acme", actor="admin@acme.test")
    imported = await run_pending_import(store, sessions, acme, clock=utc_now)
    assert imported is not None
    assert imported.succeeded, imported.error
    load_people(store, "acme", read_people_csv(PEOPLE_WITH_EMPLOYERS_CSV), actor="admin@acme.test")
    run_matching(store, acme, full=True, clock=utc_now)
    before = _links(store, acme)
    assert before[("account", condor)][:2] == (_company_id(store, acme, "c-true"), LinkBand.MATCH)

    statements: list[tuple[str, set[str]]] = []

    def seen(_connection: object, _cursor: object, statement: str, parameters: object, *_rest: object) -> None:
        values = parameters.values() if isinstance(parameters, dict) else parameters
        statements.append((statement, {str(value) for value in values} if isinstance(values, Iterable) else set()))

    # Units of work on an engine of the test's own, so that the listener sees this run's statements only.
    counted = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))
    event.listen(engine, "before_cursor_execute", seen)
    try:
        summary = run_matching(counted, acme, full=True, clock=utc_now)
    finally:
        event.remove(engine, "before_cursor_execute", seen)

    assert summary.full
    # Contacts (then leads) by parent account, for every account: once each in the run (the estimation and the
    # decisions share the accounts built once); the shared-people round reads Cóndor's alone.
    by_parent = [values for statement, values in statements if "parent_id IN" in statement]
    every_account = [values for values in by_parent if {condor.lower(), other.lower()} <= values]
    assert len(every_account) == 2, by_parent
    assert [values for values in every_account if "contact" in values] != []
    assert [values for values in every_account if "lead" in values] != []
    # The same links, bands, probabilities and explanations as the run before.
    assert _links(store, acme) == before
