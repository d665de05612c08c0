"""The profile-URL column an administrator maps per table on CRM Settings (custom field mapping): only text columns
of the table in the CRM's metadata are offered and accepted, the choice is saved and audited, the import reads it,
and mapping it makes the next import read the table whole so records imported before carry it; on SQLite and
PostgreSQL against a real sandbox over TLS."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from tests.integration.services.conftest import SANDBOX_TARGETS, RunningSandbox, _serve

from salesbridge.errors import InvalidRequestError
from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.catalogue.builders import string
from salesbridge.sandbox.catalogue.standard_tables import build_standard_catalogue
from salesbridge.services.connecting import connect_crm, create_organization
from salesbridge.services.crm_settings import CrmSettingsService, SettingsChange
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.ports import CrmSessionFactory
from salesbridge.services.sync import ClaimedRun, claim_next_run, request_sync
from salesbridge.store.uow import UnitOfWorkFactory, utc_now

PROFILE_COLUMN = "new_linkedinurl"
URL = "https://www.linkedin.com/in/roberto-nunez"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """No seed data; contact and account carry a custom text column holding a profile URL."""
    catalogue = build_standard_catalogue()
    for table in ("contact", "account"):
        catalogue.entity(table).add(string(PROFILE_COLUMN, "LinkedIn profile", 200, is_custom=True))
    yield from _serve(build_sandbox(catalogue=catalogue), tmp_path_factory.mktemp("tls"))


@pytest.fixture
def service(store: UnitOfWorkFactory, sessions: CrmSessionFactory) -> CrmSettingsService:
    return CrmSettingsService(store, sessions)


@pytest.fixture
async def acme(store: UnitOfWorkFactory, sessions: CrmSessionFactory, sandbox: RunningSandbox) -> uuid.UUID:
    organization_id = create_organization(store, slug="acme", seats=5)
    outcome = await connect_crm(
        store, sessions, slug="acme", credentials=sandbox.credentials(), targets=SANDBOX_TARGETS
    )
    assert outcome.is_connected
    return organization_id


async def test_only_text_columns_of_each_table_are_offered(service: CrmSettingsService, acme: uuid.UUID) -> None:
    choices = await service.choices("acme")

    offered = {table: {choice.value for choice in columns} for table, columns in choices.text_columns.items()}
    assert set(offered) == {"contact", "lead", "account"}
    assert PROFILE_COLUMN in offered["contact"]
    assert PROFILE_COLUMN in offered["account"]
    assert PROFILE_COLUMN not in offered["lead"], "lead has no such column in this CRM"
    assert {"websiteurl", "emailaddress2"} <= offered["lead"]
    assert not {"parentcustomerid", "numberofemployees", "address1_composite", "birthdate"} & offered["contact"]


async def test_a_mapped_column_is_saved_audited_and_read_by_the_import(
    store: UnitOfWorkFactory, service: CrmSettingsService, acme: uuid.UUID
) -> None:
    saved = await service.update(
        "acme", SettingsChange(profile_url_columns={"contact": "New_LinkedInUrl "}), actor="admin@acme.test"
    )

    assert saved.settings.profile_url_columns == {"contact": PROFILE_COLUMN}
    assert saved.settings.to_json()["profile_url_columns"] == {
        "contact": PROFILE_COLUMN,
        "lead": None,
        "account": None,
    }
    assert service.settings("acme").profile_url_columns == {"contact": PROFILE_COLUMN}
    with store(acme) as uow:
        entry = uow.audit.recent(limit=1)[0]
    assert entry.action == "crm.settings_changed"
    assert entry.details["profile_url_columns"] == {"from": {}, "to": {"contact": PROFILE_COLUMN}}
    claimed = claim_next_run(store, acme, lease=timedelta(minutes=5))
    assert isinstance(claimed, ClaimedRun)
    assert claimed.extra_columns["contact"] == (PROFILE_COLUMN,)
    assert "account" not in claimed.extra_columns

    again = await service.update(
        "acme", SettingsChange(profile_url_columns={"contact": "", "account": PROFILE_COLUMN}), actor="admin"
    )
    assert again.settings.profile_url_columns == {"account": PROFILE_COLUMN}


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("contact", "numberofemployees"),  # not a column of contact
        ("account", "numberofemployees"),  # a whole number, not text
        ("contact", "parentcustomerid"),  # a lookup
        ("contact", "new_missing"),  # not in the CRM
        ("lead", PROFILE_COLUMN),  # custom on contact and account only
        ("opportunity", "name"),  # not a table people or companies are matched from
    ],
)
async def test_a_column_that_is_not_a_text_column_of_the_table_is_refused(
    store: UnitOfWorkFactory, service: CrmSettingsService, acme: uuid.UUID, table: str, column: str
) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        await service.update("acme", SettingsChange(profile_url_columns={table: column}), actor="admin")

    assert table in refused.value.localized("en")
    assert service.settings("acme").profile_url_columns == {}
    assert not service.settings("acme").is_saved, "nothing was saved"


async def test_without_a_connection_a_column_cannot_be_chosen_but_can_be_cleared(
    store: UnitOfWorkFactory, service: CrmSettingsService
) -> None:
    create_organization(store, slug="solo", seats=1)
    assert (await service.choices("solo")).text_columns == {}

    with pytest.raises(InvalidRequestError) as refused:
        await service.update("solo", SettingsChange(profile_url_columns={"contact": PROFILE_COLUMN}), actor="admin")

    assert "could not be read from your CRM" in refused.value.localized("en")
    cleared = await service.update("solo", SettingsChange(profile_url_columns={"contact": ""}), actor="admin")
    assert cleared.settings.profile_url_columns == {}


async def test_mapping_a_column_makes_the_next_import_bring_it_for_records_imported_before(
    store: UnitOfWorkFactory,
    sessions: CrmSessionFactory,
    service: CrmSettingsService,
    sandbox: RunningSandbox,
    acme: uuid.UUID,
) -> None:
    contact_id = str(uuid.uuid4())
    session = sessions(sandbox.connected_credentials())
    try:
        await session.writer.create(
            "contact", {"firstname": "Roberto", "lastname": "Núñez", PROFILE_COLUMN: URL}, record_id=contact_id
        )
    finally:
        await session.close()
    first = await run_pending_import(store, sessions, acme, clock=utc_now)
    assert first is not None
    assert first.succeeded
    with store(acme) as uow:
        before = uow.crm_records.get("contact", contact_id)
    assert before is not None
    assert PROFILE_COLUMN not in before.data, "not mapped yet: not read"

    await service.update("acme", SettingsChange(profile_url_columns={"contact": PROFILE_COLUMN}), actor="admin")
    request_sync(store, slug="acme", actor="admin")
    second = await run_pending_import(store, sessions, acme, clock=utc_now)

    assert second is not None
    assert second.succeeded
    with store(acme) as uow:
        after = uow.crm_records.get("contact", contact_id)
    assert after is not None
    assert after.data[PROFILE_COLUMN] == URL, "the unchanged record was read again with the mapped column"
