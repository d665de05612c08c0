"""Writes through the connector against a scripted Dataverse: lookups bound by their metadata navigation
names, CreateMultiple behind a cached support probe, and the ``$batch`` fallback with its chunks."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from fake_dataverse import FakeDataverse, FakeTime, FakeTokens, answer, fail

from salesbridge.crm.dynamics.activity_writer import DynamicsActivityWriter
from salesbridge.crm.dynamics.bulk import BulkWriter
from salesbridge.crm.dynamics.client import DynamicsClient
from salesbridge.crm.dynamics.connector import DynamicsConnector
from salesbridge.crm.dynamics.metadata import DynamicsMetadata
from salesbridge.crm.dynamics.throttling import RetryPolicy
from salesbridge.crm.ports import LookupValue, NewRecord
from salesbridge.errors import RequestRejectedError

ACCOUNT_ID = "00000000-0000-0000-0000-000000000001"
PROBE = "sdkmessagefilters"


def table_definition(logical: str, entity_set: str, primary_id: str) -> dict[str, object]:
    return {
        "LogicalName": logical,
        "EntitySetName": entity_set,
        "PrimaryIdAttribute": primary_id,
        "PrimaryNameAttribute": "subject" if logical == "task" else "name",
        "DisplayName": {"LocalizedLabels": [{"Label": logical.title(), "LanguageCode": 1033}]},
        "ChangeTrackingEnabled": True,
        "IsActivity": logical == "task",
        "OwnershipType": "UserOwned",
    }


REGARDING = {
    "value": [
        {
            "SchemaName": "Account_Tasks",
            "ReferencingAttribute": "regardingobjectid",
            "ReferencedEntity": "account",
            "ReferencedAttribute": "accountid",
            "ReferencingEntityNavigationPropertyName": "regardingobjectid_account_task",
        },
        {
            "SchemaName": "Contact_Tasks",
            "ReferencingAttribute": "regardingobjectid",
            "ReferencedEntity": "contact",
            "ReferencedAttribute": "contactid",
            "ReferencingEntityNavigationPropertyName": "regardingobjectid_contact_task",
        },
    ]
}


async def batch_of_successes(request: web.Request) -> web.Response:
    """Answers a one-change-set batch with a 204 per member, echoing Content-IDs (Microsoft's response shape)."""
    body = (await request.read()).decode()
    ids = re.findall(r"^Content-ID: (\S+)\r$", body, flags=re.MULTILINE)
    changeset = f"changesetresponse_{uuid.uuid4()}"
    parts = "".join(
        f"--{changeset}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        f"Content-ID: {content_id}\r\n\r\nHTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\n\r\n\r\n"
        for content_id in ids
    )
    batch = f"batchresponse_{uuid.uuid4()}"
    text = (
        f"--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n{parts}--{changeset}--\r\n"
        f"--{batch}--\r\n"
    )
    return web.Response(body=text.encode(), headers={"Content-Type": f"multipart/mixed; boundary={batch}"})


@pytest.fixture
async def connector(dataverse: FakeDataverse, fake_time: FakeTime) -> AsyncIterator[DynamicsConnector]:
    dataverse.on(
        "GET", "EntityDefinitions(LogicalName='task')", answer(200, table_definition("task", "tasks", "activityid"))
    )
    dataverse.on(
        "GET",
        "EntityDefinitions(LogicalName='account')",
        answer(200, table_definition("account", "accounts", "accountid")),
    )
    dataverse.on("GET", "EntityDefinitions(LogicalName='task')/ManyToOneRelationships", answer(200, REGARDING))
    client = DynamicsClient(
        dataverse.base_url,
        FakeTokens(),
        retry_policy=RetryPolicy(random_fraction=lambda: 0.0),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )
    async with DynamicsConnector(client, bulk=BulkWriter(client, bulk_chunk_size=2, batch_chunk_size=2)) as built:
        yield built


async def test_a_lookup_is_written_through_its_metadata_navigation_name(
    connector: DynamicsConnector, dataverse: FakeDataverse
) -> None:
    task_id = str(uuid.uuid4())
    dataverse.on("POST", "tasks", answer(204, headers={"OData-EntityId": f"{dataverse.api_url}tasks({task_id})"}))

    created = await connector.writer.create(
        "task", {"subject": "Call", "regardingobjectid": LookupValue(ACCOUNT_ID, table="account")}, record_id=task_id
    )

    assert created == task_id
    assert dataverse.requests_to("tasks")[0].json() == {
        "subject": "Call",
        "regardingobjectid_account_task@odata.bind": f"/accounts({ACCOUNT_ID})",
        "activityid": task_id,
    }


async def test_a_lookup_to_a_table_the_column_cannot_refer_to_is_refused_before_sending(
    connector: DynamicsConnector, dataverse: FakeDataverse
) -> None:
    with pytest.raises(ValueError, match="cannot refer to a 'lead'"):
        await connector.writer.create(
            "task", {"regardingobjectid": LookupValue(ACCOUNT_ID, table="lead")}, record_id=str(uuid.uuid4())
        )

    assert dataverse.requests_to("tasks") == []


async def test_create_many_uses_create_multiple_in_chunks_when_the_probe_says_so(
    connector: DynamicsConnector, dataverse: FakeDataverse
) -> None:
    dataverse.on("GET", PROBE, answer(200, {"value": [{"sdkmessagefilterid": str(uuid.uuid4())}]}))
    ids = [str(uuid.uuid4()) for _ in range(3)]
    dataverse.on(
        "POST",
        "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
        answer(200, {"Ids": ids[:2]}),
        answer(200, {"Ids": ids[2:]}),
    )

    report = await connector.writer.create_many("account", [NewRecord(i, {"name": f"A{n}"}) for n, i in enumerate(ids)])
    again = await connector.writer.create_many("account", [NewRecord(ids[0], {"name": "A0"})])

    assert report.is_complete
    assert sorted(report.written) == sorted(ids)
    assert again.is_complete
    bulk_calls = dataverse.requests_to("accounts/Microsoft.Dynamics.CRM.CreateMultiple")
    assert [len(call.json()["Targets"]) for call in bulk_calls] == [2, 1, 1]
    assert bulk_calls[0].json()["Targets"][0] == {
        "name": "A0",
        "accountid": ids[0],
        "@odata.type": "Microsoft.Dynamics.CRM.account",
    }
    probes = dataverse.requests_to(PROBE)
    assert len(probes) == 1, "the probe's answer is cached per organization and table"
    assert (
        "sdkmessageid/name%20eq%20'CreateMultiple'%20and%20primaryobjecttypecode%20eq%20'account'" in probes[0].path_qs
    )


async def test_create_many_falls_back_to_batch_change_sets(
    connector: DynamicsConnector, dataverse: FakeDataverse
) -> None:
    dataverse.on("GET", PROBE, answer(200, {"value": []}))
    dataverse.on("POST", "$batch", batch_of_successes)
    ids = [str(uuid.uuid4()) for _ in range(3)]

    report = await connector.writer.create_many(
        "task",
        [
            NewRecord(i, {"subject": f"T{n}", "regardingobjectid": LookupValue(ACCOUNT_ID, "account")})
            for n, i in enumerate(ids)
        ],
    )

    assert report.is_complete
    batches = dataverse.requests_to("$batch")
    assert len(batches) == 2
    first = batches[0].body.decode()
    assert batches[0].headers["Content-Type"].startswith("multipart/mixed; boundary=batch_")
    assert first.count("POST /api/data/v9.2/tasks HTTP/1.1") == 2
    assert '"regardingobjectid_account_task@odata.bind":"/accounts(00000000-0000-0000-0000-000000000001)"' in first
    assert f'"activityid":"{ids[0]}"' in first


async def test_a_failed_chunk_is_reported_with_its_records_and_the_rest_is_written(
    connector: DynamicsConnector, dataverse: FakeDataverse
) -> None:
    dataverse.on("GET", PROBE, answer(200, {"value": [{"sdkmessagefilterid": "x"}]}))
    rejected = fail(400, "0x80044331", "A validation error occurred.")
    dataverse.on("POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", rejected, answer(200, {"Ids": []}))
    ids = [str(uuid.uuid4()) for _ in range(3)]

    report = await connector.writer.upsert_many("account", [NewRecord(i, {"name": "x"}) for i in ids])

    assert not report.is_complete
    (failure,) = report.failures
    assert isinstance(failure.error, RequestRejectedError)
    assert set(failure.record_ids) | set(report.written) == set(ids)
    assert set(failure.record_ids).isdisjoint(report.written)
    targets = dataverse.requests_to("accounts/Microsoft.Dynamics.CRM.UpsertMultiple")[0].json()["Targets"]
    assert targets[0]["@odata.id"].startswith("accounts(")
    assert "accountid" not in targets[0]


async def test_reading_changes_of_an_untracked_table_is_refused(
    connector: DynamicsConnector, dataverse: FakeDataverse
) -> None:
    untracked = {**table_definition("lead", "leads", "leadid"), "ChangeTrackingEnabled": False}
    dataverse.on("GET", "EntityDefinitions(LogicalName='lead')", answer(200, untracked))

    with pytest.raises(RequestRejectedError, match="Track changes"):
        async for _ in connector.reader.read_changes("lead"):
            pass


@pytest.mark.parametrize(
    "chunking", [{"bulk_chunk_size": 0}, {"batch_chunk_size": 0}, {"batch_chunk_size": 1001}, {"parallel_chunks": 0}]
)
def test_the_bulk_writer_and_the_activity_writer_refuse_the_same_chunking(chunking: dict[str, int]) -> None:
    client = DynamicsClient("https://org.test", FakeTokens())
    with pytest.raises(ValueError, match="Chunk sizes"):
        BulkWriter(client, **chunking)
    with pytest.raises(ValueError, match="Chunk sizes"):
        DynamicsActivityWriter(client, DynamicsMetadata(client), **chunking)
    BulkWriter(client, batch_chunk_size=1000)
    DynamicsActivityWriter(client, DynamicsMetadata(client), batch_chunk_size=1000)
