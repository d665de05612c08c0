"""Writeback's activity writer against the real sandbox over TLS, with the CRM-side app installed by the app
installer: InMail, messages, notes and calls written as their sellers on the regarded record (owner, creator,
"created on behalf by" the application user, seller lookup, external id, activity parties, the record's activity
list), one UpsertMultiple per seller and 1,000 records, writing again updates the same rows, a record Dynamics
refuses fails alone with Dynamics' code and message, and impersonation without its privilege fails by name.

The sandbox runs under uvicorn on a real 127.0.0.1 port with a throwaway CA; nothing is faked.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from pydantic import SecretStr

from salesbridge.crm.dynamics.auth import ClientCredentials
from salesbridge.crm.dynamics.connector import DynamicsConnection, DynamicsConnector
from salesbridge.crm.dynamics.throttling import RetryPolicy
from salesbridge.crm.ports import ActivityRecord, LookupValue
from salesbridge.domain.crm_app import CRM_APP, missing_items
from salesbridge.errors import AuthError, NotFoundError
from salesbridge.sandbox.assembly import Sandbox, build_sandbox
from salesbridge.sandbox.organization.foundation import SALESPERSON_ROLE_ID, SYSTEM_ADMINISTRATOR_ROLE_ID, RowWriter
from salesbridge.sandbox.organization.security import Depth
from salesbridge.sandbox.server.serving import serve_in_thread
from salesbridge.sandbox.server.tls import create_tls_material

WHEN = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
ADMIN_GUIDE = Path(__file__).parents[3] / "docs" / "admin.md"
FORMATTED = "@OData.Community.Display.V1.FormattedValue"


@dataclass(frozen=True)
class Crm:
    sandbox: Sandbox
    connection: DynamicsConnection

    @property
    def application_user(self) -> str:
        return self.sandbox.application.systemuser_id

    def seller(self, name: str) -> str:
        """A CRM user holding Dynamics' Salesperson role."""
        state = self.sandbox.services.state
        with state.storage.transaction():
            user = RowWriter(state).insert(
                "systemuser",
                {
                    "lastname": name,
                    "fullname": name,
                    "azureactivedirectoryobjectid": str(uuid.uuid4()),
                    "isdisabled": 0,
                    "accessmode": 0,
                    "businessunitid": state.security.business_unit_of(self.application_user),
                    "businessunitid__type": "businessunit",
                },
            )
            state.security.assign_role(user, SALESPERSON_ROLE_ID)
        return user


def _connection(info: dict[str, str], ca_bundle: Path) -> DynamicsConnection:
    return DynamicsConnection(
        org_url=info["org_url"],
        credentials=ClientCredentials(
            tenant_id=info["tenant_id"], client_id=info["client_id"], client_secret=SecretStr(info["client_secret"])
        ),
        authority=info["authority"],
        validate_authority=False,
        instance_discovery=False,
        ca_bundle=ca_bundle,
    )


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crm]:
    material = create_tls_material(tmp_path_factory.mktemp("tls"))
    sandbox = build_sandbox()
    with serve_in_thread(sandbox.app, tls=material) as server:
        info = sandbox.connection_info(server.base_url, str(material.ca_bundle))
        yield Crm(sandbox, _connection(info, material.ca_bundle))


@pytest.fixture
async def connector(crm: Crm) -> AsyncIterator[DynamicsConnector]:
    async with DynamicsConnector.connect(crm.connection, retry_policy=RetryPolicy(max_attempts=1)) as built:
        missing = missing_items(await built.app.observe(CRM_APP))
        if any(item.installable for item in missing):
            await built.app.create(CRM_APP, missing)
        yield built


def record(
    table: str,
    owner: str,
    regarding: LookupValue,
    *,
    subject: str = "Quick question",
    body: str = "Hello",
    record_id: str | None = None,
    occurred_at: datetime = WHEN,
    outgoing: bool = True,
) -> ActivityRecord:
    record_id = record_id or str(uuid.uuid4())
    return ActivityRecord(
        id=record_id,
        table=table,
        owner_id=owner,
        regarding=regarding,
        subject=subject,
        body=body,
        occurred_at=occurred_at,
        outgoing=outgoing,
        conversation_id="conv-1" if table.startswith("sbr_") else None,
        external_id=f"sb-{record_id}",
    )


async def _party_set(connector: DynamicsConnector, activity: str) -> set[tuple[int, str]]:
    page = await connector.client.get_json(
        "activityparties",
        params={"$select": "participationtypemask,_partyid_value", "$filter": f"_activityid_value eq {activity}"},
    )
    return {(row["participationtypemask"], row["_partyid_value"]) for row in page["value"]}


async def test_every_item_is_written_as_its_seller_on_the_regarded_record(
    connector: DynamicsConnector, crm: Crm
) -> None:
    ann, bob = crm.seller("Ann"), crm.seller("Bob")
    contact = await connector.writer.create("contact", {"lastname": "Lee"}, record_id=str(uuid.uuid4()))
    lead = await connector.writer.create("lead", {"lastname": "Park", "subject": "x"}, record_id=str(uuid.uuid4()))
    account = await connector.writer.create("account", {"name": "Acme"}, record_id=str(uuid.uuid4()))
    inmail = record("sbr_inmail", ann, LookupValue(contact, "contact"))
    message = record("sbr_message", ann, LookupValue(lead, "lead"), outgoing=False)
    note = record("annotation", ann, LookupValue(contact, "contact"), subject="Met at the fair")
    call = record("phonecall", bob, LookupValue(contact, "contact"), subject="Intro call")
    company_inmail = record("sbr_inmail", bob, LookupValue(account, "account"))

    report = await connector.activities.write_activities([inmail, message, note, call, company_inmail])

    assert report.is_complete, report.failures
    assert set(report.written) == {r.id for r in (inmail, message, note, call, company_inmail)}
    select = "_createdby_value,_createdonbehalfby_value,_ownerid_value,_regardingobjectid_value"
    row = await connector.client.get_json(
        f"sbr_inmails({inmail.id})", params={"$select": f"{select},_sbr_sellerid_value,sbr_externalid,sbr_body"}
    )
    assert (row["_createdby_value"], row["_ownerid_value"], row["_sbr_sellerid_value"]) == (ann, ann, ann)
    assert row["_createdonbehalfby_value"] == crm.application_user
    assert (row["_regardingobjectid_value"], row["sbr_externalid"], row["sbr_body"]) == (
        contact,
        inmail.external_id,
        "Hello",
    )
    by_id = await connector.client.get_json(f"sbr_inmails(sbr_externalid='{inmail.external_id}')")
    assert by_id["activityid"] == inmail.id
    message_row = await connector.client.get_json(
        f"sbr_messages({message.id})", params={"$select": f"{select},sbr_direction"}
    )
    assert (message_row["_createdby_value"], message_row["_regardingobjectid_value"]) == (ann, lead)
    assert message_row["sbr_direction"] is False
    call_row = await connector.client.get_json(f"phonecalls({call.id})", params={"$select": f"{select},description"})
    assert (call_row["_createdby_value"], call_row["_ownerid_value"], call_row["description"]) == (bob, bob, "Hello")
    assert call_row["_createdonbehalfby_value"] == crm.application_user
    note_row = await connector.client.get_json(
        f"annotations({note.id})",
        params={"$select": "subject,notetext,_objectid_value,_createdby_value,_createdonbehalfby_value"},
    )
    assert (note_row["subject"], note_row["notetext"], note_row["_objectid_value"]) == (
        "Met at the fair",
        "Hello",
        contact,
    )
    assert (note_row["_createdby_value"], note_row["_createdonbehalfby_value"]) == (ann, crm.application_user)
    assert await _party_set(connector, inmail.id) == {(1, ann), (2, contact)}
    assert await _party_set(connector, message.id) == {(1, lead), (2, ann)}  # received: from the lead
    assert await _party_set(connector, call.id) == {(1, bob), (2, contact)}
    assert await _party_set(connector, company_inmail.id) == {(1, bob)}
    pointers = await connector.client.get_json(
        "activitypointers",
        params={"$select": "activityid,activitytypecode", "$filter": f"_regardingobjectid_value eq {contact}"},
    )
    assert {(p["activityid"], p["activitytypecode"]) for p in pointers["value"]} == {
        (inmail.id, "sbr_inmail"),
        (call.id, "phonecall"),
    }


async def test_one_upsert_multiple_per_seller_and_thousand_records_and_one_batch_per_hundred(
    connector: DynamicsConnector, crm: Crm
) -> None:
    ann = crm.seller("Ann")
    contact = LookupValue(
        await connector.writer.create("contact", {"lastname": "Lee"}, record_id=str(uuid.uuid4())), "contact"
    )
    warm = [record("sbr_inmail", ann, contact), record("annotation", ann, contact)]
    assert (await connector.activities.write_activities(warm)).is_complete  # metadata and probes, once
    before = connector.client.counters.requests

    inmails = [record("sbr_inmail", ann, contact) for _ in range(2500)]
    notes = [record("annotation", ann, contact) for _ in range(150)]
    report = await connector.activities.write_activities([*inmails, *notes])

    assert report.is_complete, report.failures
    assert connector.client.counters.requests - before == 3 + 2
    count = await connector.client.get_json(
        "sbr_inmails", params={"$select": "activityid", "$filter": f"_regardingobjectid_value eq {contact.id}"}
    )
    assert len(count["value"]) == 2501


async def test_writing_again_updates_the_same_rows_without_doubling_anything(
    connector: DynamicsConnector, crm: Crm
) -> None:
    ann = crm.seller("Ann")
    contact = LookupValue(
        await connector.writer.create("contact", {"lastname": "Lee"}, record_id=str(uuid.uuid4())), "contact"
    )
    first = [record("sbr_message", ann, contact), record("phonecall", ann, contact), record("annotation", ann, contact)]
    assert (await connector.activities.write_activities(first)).is_complete

    edited = [record(r.table, ann, contact, record_id=r.id, subject="Edited", body="Edited body") for r in first]
    for _ in range(2):
        assert (await connector.activities.write_activities(edited)).is_complete

    message = await connector.client.get_json(f"sbr_messages({first[0].id})", params={"$select": "subject,sbr_body"})
    assert (message["subject"], message["sbr_body"]) == ("Edited", "Edited body")
    note = await connector.client.get_json(f"annotations({first[2].id})", params={"$select": "notetext"})
    assert note["notetext"] == "Edited body"
    pointers = await connector.client.get_json(
        "activitypointers", params={"$select": "subject", "$filter": f"_regardingobjectid_value eq {contact.id}"}
    )
    assert sorted(p["subject"] for p in pointers["value"]) == ["Edited", "Edited"]
    assert await _party_set(connector, first[0].id) == {(1, ann), (2, contact.id)}
    assert await _party_set(connector, first[1].id) == {(1, ann), (2, contact.id)}


async def test_a_record_dynamics_refuses_fails_alone_with_its_code_and_message(
    connector: DynamicsConnector, crm: Crm
) -> None:
    ann = crm.seller("Ann")
    contact = LookupValue(
        await connector.writer.create("contact", {"lastname": "Lee"}, record_id=str(uuid.uuid4())), "contact"
    )
    gone = LookupValue(str(uuid.uuid4()), "contact")
    good = [record("sbr_inmail", ann, contact) for _ in range(3)]
    bad_inmail = record("sbr_inmail", ann, gone)
    good_note, bad_note = record("annotation", ann, contact), record("annotation", ann, gone)

    report = await connector.activities.write_activities([good[0], bad_inmail, *good[1:], good_note, bad_note])

    assert set(report.written) == {*(r.id for r in good), good_note.id}
    failures = {failure.record_ids: failure.error for failure in report.failures}
    assert set(failures) == {(bad_inmail.id,), (bad_note.id,)}
    for error in failures.values():
        assert isinstance(error, NotFoundError)
        assert error.code == "0x80040217"
        assert gone.id in error.message


async def test_without_the_act_on_behalf_privilege_every_record_fails_naming_it(
    connector: DynamicsConnector, crm: Crm
) -> None:
    ann = crm.seller("Ann")
    contact = LookupValue(
        await connector.writer.create("contact", {"lastname": "Lee"}, record_id=str(uuid.uuid4())), "contact"
    )
    records = [record("sbr_inmail", ann, contact), record("annotation", ann, contact)]
    security = crm.sandbox.services.state.security
    security.revoke(SYSTEM_ADMINISTRATOR_ROLE_ID, ["prvActOnBehalfOfAnotherUser"])
    try:
        report = await connector.activities.write_activities(records)
    finally:
        security.grant(SYSTEM_ADMINISTRATOR_ROLE_ID, {"prvActOnBehalfOfAnotherUser": Depth.GLOBAL})

    assert report.written == ()
    assert {failure.record_ids for failure in report.failures} == {(records[0].id,), (records[1].id,)}
    for failure in report.failures:
        assert isinstance(failure.error, AuthError)
        assert failure.error.code == "0x80040220"
        assert "prvActOnBehalfOfAnotherUser" in failure.error.message


def documented_query(marker: str, application_user: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The Web API request docs/admin.md shows after ``marker``: (path, query options, headers)."""
    text = ADMIN_GUIDE.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker} -->\n```http\nGET \[Organization URI\]/api/data/v9\.2/(.+)\n(.+)\n```", text)
    assert found is not None, f"docs/admin.md lost the query after <!-- {marker} -->"
    path, _, query = found.group(1).replace("<application user id>", application_user).partition("?")
    name, _, value = found.group(2).partition(": ")
    return path, dict(parse_qsl(query)), {name: value}


async def test_the_documented_report_queries_give_the_view_and_the_chart_by_seller_and_week(
    connector: DynamicsConnector, crm: Crm
) -> None:
    dana, eli = crm.seller("Dana"), crm.seller("Eli")
    contact = LookupValue(
        await connector.writer.create("contact", {"lastname": "Lee"}, record_id=str(uuid.uuid4())), "contact"
    )
    week = timedelta(days=7)
    written = [
        record("sbr_inmail", dana, contact),
        record("sbr_message", dana, contact),
        record("phonecall", dana, contact, occurred_at=WHEN + week),
        record("sbr_inmail", eli, contact, occurred_at=WHEN + week),
        record("annotation", eli, contact, subject="Met at the fair"),
    ]
    assert (await connector.activities.write_activities(written)).is_complete

    path, params, headers = documented_query("writeback-report-query", crm.application_user)
    rows = (await connector.client.get_json(path, params=params, headers=headers))["value"]
    ours = [row for row in rows if row["_ownerid_value"] in (dana, eli)]
    by_seller_and_week = Counter(
        (row[f"_ownerid_value{FORMATTED}"], datetime.fromisoformat(row["actualend"]).isocalendar().week) for row in ours
    )
    assert by_seller_and_week == Counter({("Dana", 49): 2, ("Dana", 50): 1, ("Eli", 50): 1})
    assert {row["activitytypecode"] for row in ours} == {"sbr_inmail", "sbr_message", "phonecall"}
    assert all(row["_createdby_value"] == row["_ownerid_value"] for row in ours)
    assert {row["_regardingobjectid_value"] for row in ours} == {contact.id}

    path, params, headers = documented_query("writeback-report-notes-query", crm.application_user)
    notes = (await connector.client.get_json(path, params=params, headers=headers))["value"]
    assert [
        (n["subject"], n[f"_ownerid_value{FORMATTED}"], n["_objectid_value"])
        for n in notes
        if n["_ownerid_value"] == eli
    ] == [("Met at the fair", "Eli", contact.id)]


async def test_a_crm_without_the_app_fails_its_records_and_delivers_the_notes(tmp_path: Path) -> None:
    material = create_tls_material(tmp_path)
    sandbox = build_sandbox()
    with serve_in_thread(sandbox.app, tls=material) as server:
        info = sandbox.connection_info(server.base_url, str(material.ca_bundle))
        bare = Crm(sandbox, _connection(info, material.ca_bundle))
        ann = bare.seller("Ann")
        async with DynamicsConnector.connect(bare.connection, retry_policy=RetryPolicy(max_attempts=1)) as crm:
            contact = LookupValue(
                await crm.writer.create("contact", {"lastname": "Lee"}, record_id=str(uuid.uuid4())), "contact"
            )
            inmails = [record("sbr_inmail", ann, contact) for _ in range(2)]
            note = record("annotation", ann, contact)

            report = await crm.activities.write_activities([*inmails, note])

    assert report.written == (note.id,)
    [failure] = report.failures
    assert set(failure.record_ids) == {r.id for r in inmails}
    assert isinstance(failure.error, NotFoundError)


async def _parties(connector: DynamicsConnector, activity: str) -> Counter[tuple[int, str]]:
    """Every activityparty row of ``activity`` counted (a set would hide a doubled one)."""
    page = await connector.client.get_json(
        "activityparties",
        params={"$select": "participationtypemask,_partyid_value", "$filter": f"_activityid_value eq {activity}"},
    )
    return Counter((row["participationtypemask"], row["_partyid_value"]) for row in page["value"])


async def test_participants_are_further_parties_on_the_persons_side_once_each_even_written_again(
    connector: DynamicsConnector, crm: Crm
) -> None:
    ann = crm.seller("Ann")

    async def person(table: str) -> LookupValue:
        columns = {"lastname": "Lee"} | ({"subject": "x"} if table == "lead" else {})
        return LookupValue(await connector.writer.create(table, columns, record_id=str(uuid.uuid4())), table)

    contact, other_contact, lead = await person("contact"), await person("contact"), await person("lead")
    # The regarded contact named again as a participant, and a participant named twice: one party each.
    participants = (other_contact, lead, contact, lead)
    inmail = replace(record("sbr_inmail", ann, contact), participants=participants)
    call = replace(record("phonecall", ann, contact, outgoing=False), participants=participants)
    note = replace(record("annotation", ann, contact), participants=participants)

    for _ in range(3):  # delivered, then delivered again (a retry, an edit): never doubled
        assert (await connector.activities.write_activities([inmail, call, note])).is_complete

    assert await _parties(connector, inmail.id) == Counter(
        {(1, ann): 1, (2, contact.id): 1, (2, other_contact.id): 1, (2, lead.id): 1}
    )
    # Received: every person it involves is a sender, the seller the recipient.
    assert await _parties(connector, call.id) == Counter(
        {(1, contact.id): 1, (1, other_contact.id): 1, (1, lead.id): 1, (2, ann): 1}
    )
    assert await _parties(connector, note.id) == Counter()  # a note has no parties
    # Still one activity each, regarding the contact alone.
    pointers = await connector.client.get_json(
        "activitypointers", params={"$select": "activityid", "$filter": f"_regardingobjectid_value eq {contact.id}"}
    )
    assert {p["activityid"] for p in pointers["value"]} == {inmail.id, call.id}
