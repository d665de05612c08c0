"""The import reads the columns matching compares (phones, second email, address, website, industry, size) when
the organization has them, and imports as before when it does not; on SQLite and PostgreSQL, against real
sandboxes over TLS."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.integration.services.conftest import RunningSandbox, _serve

from salesbridge.crm.dynamics import DynamicsConnector
from salesbridge.crm.ports import LookupValue
from salesbridge.domain.crm_import import OPTIONAL_COLUMNS
from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.catalogue.standard_tables import build_standard_catalogue
from salesbridge.services.connecting import create_organization
from salesbridge.services.ports import CrmSessionFactory
from salesbridge.store.uow import UnitOfWorkFactory, utc_now
from salesbridge.sync.engine import ImportEngine

ADDRESS = {
    "address1_line1": "Calle Mayor, 12",
    "address1_city": "Madrid",
    "address1_postalcode": "28013",
    "address1_stateorprovince": "Madrid",
    "address1_country": "España",
}
ACCOUNT = {
    "name": "Contoso Ltd.",
    "telephone1": "+34 91 555 0100",
    "industrycode": 6,
    "numberofemployees": 1200,
    "websiteurl": "https://www.contoso.es",
    **ADDRESS,
}
CONTACT = {
    "firstname": "Roberto",
    "lastname": "Núñez",
    "telephone1": "+34 91 555 0100",
    "mobilephone": "+34 600 111 222",
    "emailaddress2": "roberto@gmail.com",
    **ADDRESS,
}
LEAD = {
    "subject": "Interested",
    "firstname": "Bob",
    "lastname": "Nunez",
    "telephone1": "+34 91 555 0100",
    "mobilephone": "+34 600 111 222",
    "websiteurl": "https://www.contoso.es",
    "emailaddress2": "bob@contoso.es",
    **ADDRESS,
}
MATCHING_TABLES = ("account", "contact", "lead")


@pytest.fixture
def empty_sandbox(
    tmp_path_factory: pytest.TempPathFactory, sandbox_signing_key: rsa.RSAPrivateKey
) -> Iterator[RunningSandbox]:
    """The standard catalogue, no seed data: the test writes the records it reads."""
    yield from _serve(build_sandbox(signing_key=sandbox_signing_key), tmp_path_factory.mktemp("tls"))


@pytest.fixture
def bare_sandbox(
    tmp_path_factory: pytest.TempPathFactory, sandbox_signing_key: rsa.RSAPrivateKey
) -> Iterator[RunningSandbox]:
    """An organization whose account, contact and lead lack every optional column matching reads."""
    catalogue = build_standard_catalogue()
    for table in MATCHING_TABLES:
        entity = catalogue.entity(table)
        for column in OPTIONAL_COLUMNS[table]:
            del entity.attributes[column]
    yield from _serve(
        build_sandbox(signing_key=sandbox_signing_key, catalogue=catalogue), tmp_path_factory.mktemp("tls")
    )


async def _connector(sandbox: RunningSandbox, sessions: CrmSessionFactory) -> DynamicsConnector:
    session = sessions(sandbox.connected_credentials())
    assert isinstance(session, DynamicsConnector)
    return session


@pytest.fixture
async def crm(empty_sandbox: RunningSandbox, sessions: CrmSessionFactory) -> AsyncIterator[DynamicsConnector]:
    session = await _connector(empty_sandbox, sessions)
    yield session
    await session.close()


@pytest.fixture
async def bare_crm(bare_sandbox: RunningSandbox, sessions: CrmSessionFactory) -> AsyncIterator[DynamicsConnector]:
    session = await _connector(bare_sandbox, sessions)
    yield session
    await session.close()


@pytest.fixture
def org(store: UnitOfWorkFactory) -> uuid.UUID:
    return create_organization(store, slug="acme", seats=5)


async def _write_records(
    crm: DynamicsConnector, *, account: dict[str, object], contact: dict[str, object], lead: dict[str, object]
) -> tuple[str, str, str]:
    account_id, contact_id, lead_id = (str(uuid.uuid4()) for _ in range(3))
    await crm.writer.create("account", account, record_id=account_id)
    parent = LookupValue(account_id, "account")
    await crm.writer.create("contact", {**contact, "parentcustomerid": parent}, record_id=contact_id)
    await crm.writer.create("lead", {**lead, "parentaccountid": parent}, record_id=lead_id)
    return account_id, contact_id, lead_id


async def test_an_import_stores_the_columns_matching_compares(
    store: UnitOfWorkFactory, org: uuid.UUID, crm: DynamicsConnector
) -> None:
    account_id, contact_id, lead_id = await _write_records(crm, account=ACCOUNT, contact=CONTACT, lead=LEAD)

    await ImportEngine(store, org, crm.reader, crm.metadata, clock=utc_now, tables=MATCHING_TABLES).run()

    with store(org) as uow:
        stored = {
            "account": uow.crm_records.get("account", account_id),
            "contact": uow.crm_records.get("contact", contact_id),
            "lead": uow.crm_records.get("lead", lead_id),
        }
    for table, written in (("account", ACCOUNT), ("contact", CONTACT), ("lead", LEAD)):
        record = stored[table]
        assert record is not None, table
        for column in OPTIONAL_COLUMNS[table]:
            assert record.data[column] == written[column], (table, column)


async def test_an_organization_without_those_columns_still_imports(
    store: UnitOfWorkFactory, org: uuid.UUID, bare_crm: DynamicsConnector
) -> None:
    def without_optional(table: str, values: dict[str, object]) -> dict[str, object]:
        return {name: value for name, value in values.items() if name not in OPTIONAL_COLUMNS[table]}

    account_id, contact_id, lead_id = await _write_records(
        bare_crm,
        account=without_optional("account", ACCOUNT),
        contact=without_optional("contact", CONTACT),
        lead=without_optional("lead", LEAD),
    )

    report = await ImportEngine(
        store, org, bare_crm.reader, bare_crm.metadata, clock=utc_now, tables=MATCHING_TABLES
    ).run()

    assert report.rows_imported == 3
    with store(org) as uow:
        contact = uow.crm_records.get("contact", contact_id)
        assert uow.crm_records.get("account", account_id) is not None
        assert uow.crm_records.get("lead", lead_id) is not None
    assert contact is not None
    assert contact.name == "Roberto Núñez"
    assert not set(OPTIONAL_COLUMNS["contact"]) & contact.data.keys()
