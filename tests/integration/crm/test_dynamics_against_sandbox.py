"""The connector against the real sandbox over TLS: MSAL against the sandbox's authority, WhoAmI, paging,
change tracking (initial, delta, tombstone, expiry), writes with client ids and If-Match, ``$batch``,
CreateMultiple where the table supports it and the ``$batch`` fallback where it does not.

The sandbox runs under uvicorn on a real 127.0.0.1 port with a throwaway CA; nothing is faked. Tests at the
client level address tables by hand-written facts; tests through the ports read the sandbox's metadata too.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from salesbridge.crm.dynamics.auth import ClientCredentials
from salesbridge.crm.dynamics.batch import BatchOperation, ChangeSet, execute_batch
from salesbridge.crm.dynamics.bulk import BulkMessage, BulkSupportProbe, BulkWriter, WireRecord
from salesbridge.crm.dynamics.changes import ChangeTrackingReader
from salesbridge.crm.dynamics.client import record_path
from salesbridge.crm.dynamics.connector import DynamicsConnection, DynamicsConnector
from salesbridge.crm.dynamics.paging import PageRequest, iterate_pages, prefer_header
from salesbridge.crm.ports import ChangePage, LookupValue, NewRecord, RecordQuery, TableInfo
from salesbridge.errors import (
    AuthError,
    ConcurrencyConflictError,
    DuplicateRecordError,
    NotFoundError,
    ResyncRequiredError,
)
from salesbridge.sandbox.assembly import Sandbox, build_sandbox
from salesbridge.sandbox.seeds.seeding import parse_seed
from salesbridge.sandbox.server.serving import RunningServer, serve_in_thread
from salesbridge.sandbox.server.tls import create_tls_material

ACCOUNTS = TableInfo("account", "accounts", "accountid", "name", is_change_tracked=True)
CONTACTS = TableInfo("contact", "contacts", "contactid", "fullname", is_change_tracked=True)
TASKS = TableInfo("task", "tasks", "activityid", "subject", is_change_tracked=True, is_activity=True)


@dataclass(frozen=True)
class RunningSandbox:
    sandbox: Sandbox
    server: RunningServer
    info: dict[str, str]
    ca_bundle: Path

    def connection(self, *, secret: str | None = None) -> DynamicsConnection:
        return DynamicsConnection(
            org_url=self.info["org_url"],
            credentials=ClientCredentials(
                tenant_id=self.info["tenant_id"],
                client_id=self.info["client_id"],
                client_secret=SecretStr(secret or self.info["client_secret"]),
            ),
            authority=self.info["authority"],
            validate_authority=False,
            instance_discovery=False,
            ca_bundle=self.ca_bundle,
        )


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    material = create_tls_material(tmp_path_factory.mktemp("tls"))
    sandbox = build_sandbox(seed=parse_seed("demo"))
    with serve_in_thread(sandbox.app, tls=material) as server:
        info = sandbox.connection_info(server.base_url, str(material.ca_bundle))
        yield RunningSandbox(sandbox, server, info, material.ca_bundle)


@pytest.fixture
async def connector(running: RunningSandbox) -> AsyncIterator[DynamicsConnector]:
    async with DynamicsConnector.connect(running.connection()) as built:
        yield built


async def test_who_am_i_signs_in_with_msal_and_learns_the_dop_hint(
    connector: DynamicsConnector, running: RunningSandbox
) -> None:
    identity = await connector.metadata.who_am_i()

    assert uuid.UUID(identity.user_id)
    assert connector.client.concurrency_limit == running.sandbox.services.state.config.dop_hint
    assert connector.client.counters.requests == 1


async def test_a_wrong_secret_is_an_auth_error_that_names_it(running: RunningSandbox) -> None:
    async with DynamicsConnector.connect(running.connection(secret="not-the-secret")) as wrong:
        with pytest.raises(AuthError, match="client secret") as raised:
            await wrong.metadata.who_am_i()

    assert "not-the-secret" not in str(raised.value)


async def test_revoked_tokens_are_replaced_once(connector: DynamicsConnector, running: RunningSandbox) -> None:
    await connector.metadata.who_am_i()
    running.sandbox.services.issuer.revoke_all()

    await connector.metadata.who_am_i()

    assert connector.client.counters.token_refreshes == 1


async def test_pages_of_contacts_follow_next_links(connector: DynamicsConnector) -> None:
    first = PageRequest("contacts", params={"$select": "fullname"}, headers={"Prefer": prefer_header(page_size=100)})

    pages = [page async for page in iterate_pages(connector.client, first)]

    assert len(pages) > 1
    assert all(len(page["value"]) == 100 for page in pages[:-1])
    assert "@odata.nextLink" not in pages[-1]
    ids = [row["contactid"] for page in pages for row in page["value"]]
    assert len(ids) == len(set(ids))


async def test_change_tracking_initial_delta_and_tombstone(connector: DynamicsConnector) -> None:
    reader = ChangeTrackingReader(connector.client)
    client = connector.client
    initial = [page async for page in reader.read(ACCOUNTS, select="name", page_size=100)]
    token = initial[-1].token
    assert token is not None
    assert [page.is_last for page in initial] == [False] * (len(initial) - 1) + [True]
    existing = initial[0].records[0].id
    created = await client.create("accounts", {"name": "Delta Ltd"}, primary_id_column="accountid")
    await client.update("accounts", existing, {"name": "Renamed Inc"})
    await client.delete(record_path("accounts", created))

    changes: list[ChangePage] = [page async for page in reader.read(ACCOUNTS, since=token)]

    names = {record.id: record.values.get("name") for page in changes for record in page.records}
    tombstones = {(tombstone.id, tombstone.reason) for page in changes for tombstone in page.tombstones}
    assert names.get(existing) == "Renamed Inc"
    assert (created, "deleted") in tombstones
    assert changes[-1].token not in (None, token)


async def test_an_expired_change_token_requires_a_resync(connector: DynamicsConnector, running: RunningSandbox) -> None:
    reader = ChangeTrackingReader(connector.client)
    initial = [page async for page in reader.read(CONTACTS, select="fullname")]
    assert initial[-1].token is not None
    state = running.sandbox.services.state
    shift = timedelta(days=state.config.change_tracking_expiry_days + 1)
    state.clock_offset += shift
    try:
        with pytest.raises(ResyncRequiredError) as raised:
            async for _ in reader.read(CONTACTS, since=initial[-1].token):
                pass
    finally:
        state.clock_offset -= shift

    assert raised.value.code == "0x80044352"


async def test_create_with_a_client_id_and_update_with_if_match(connector: DynamicsConnector) -> None:
    client = connector.client
    record_id = str(uuid.uuid4())

    assert (
        await client.create("contacts", {"lastname": "Lovelace"}, primary_id_column="contactid", record_id=record_id)
        == record_id
    )
    with pytest.raises(DuplicateRecordError):
        await client.create("contacts", {"lastname": "Again"}, primary_id_column="contactid", record_id=record_id)
    read = await client.get_json(record_path("contacts", record_id), params={"$select": "lastname"})
    await client.update("contacts", record_id, {"lastname": "King"}, if_match=read["@odata.etag"])
    with pytest.raises(ConcurrencyConflictError):
        await client.update("contacts", record_id, {"lastname": "Byron"}, if_match=read["@odata.etag"])
    with pytest.raises(NotFoundError):
        await client.update("contacts", str(uuid.uuid4()), {"lastname": "Nobody"})
    assert await client.create_if_absent("contacts", record_id, {"lastname": "Ignored"}) is False
    assert await client.upsert("contacts", record_id, {"lastname": "Lovelace"}, primary_id_column="contactid") is False
    assert (
        await client.upsert("contacts", str(uuid.uuid4()), {"lastname": "New"}, primary_id_column="contactid") is True
    )

    final = await client.get_json(record_path("contacts", record_id), params={"$select": "lastname"})
    assert final["lastname"] == "Lovelace"


async def test_a_batch_with_a_change_set_and_a_read(connector: DynamicsConnector) -> None:
    account_id, contact_id = str(uuid.uuid4()), str(uuid.uuid4())
    items = [
        ChangeSet(
            (
                BatchOperation("POST", "accounts", {"accountid": account_id, "name": "Batch Corp"}),
                BatchOperation(
                    "POST",
                    "contacts",
                    {"contactid": contact_id, "lastname": "Batch", "parentcustomerid_account@odata.bind": "$1"},
                ),
            )
        ),
        BatchOperation("GET", f"contacts({contact_id})?$select=_parentcustomerid_value"),
    ]

    outcomes = await execute_batch(connector.client, items, is_idempotent=True)

    assert [outcome.is_done for outcome in outcomes] == [True, True, True]
    assert outcomes[0].result is not None
    assert outcomes[0].result.entity_id == account_id
    assert outcomes[2].result is not None
    assert outcomes[2].result.body is not None
    assert outcomes[2].result.body["_parentcustomerid_value"] == account_id


async def test_a_failing_batch_reports_per_operation(connector: DynamicsConnector) -> None:
    too_long = "x" * 201
    items = [
        BatchOperation("POST", "tasks", {"activityid": str(uuid.uuid4()), "subject": too_long}),
        BatchOperation("POST", "tasks", {"activityid": str(uuid.uuid4()), "subject": "fine"}),
    ]

    stopped = await execute_batch(connector.client, items, is_idempotent=True)
    continued = await execute_batch(
        connector.client,
        [items[0], BatchOperation("POST", "tasks", {"activityid": str(uuid.uuid4()), "subject": "fine"})],
        continue_on_error=True,
        is_idempotent=True,
    )

    assert [(o.was_run, o.is_done) for o in stopped] == [(True, False), (False, False)]
    assert stopped[0].error is not None
    assert stopped[0].error.status == 400
    assert [o.is_done for o in continued] == [False, True]


async def test_create_multiple_on_account_and_the_batch_fallback_on_task(connector: DynamicsConnector) -> None:
    client = connector.client
    probe = BulkSupportProbe(client)
    bulk = BulkWriter(client, probe=probe)
    assert await probe.supports(BulkMessage.CREATE_MULTIPLE, "account")
    assert not await probe.supports(BulkMessage.CREATE_MULTIPLE, "task")
    accounts = [WireRecord(str(uuid.uuid4()), {"name": f"Bulk {n}"}) for n in range(250)]
    tasks = [
        WireRecord(
            str(uuid.uuid4()),
            {"subject": f"Follow up {n}", "regardingobjectid_account_task@odata.bind": f"/accounts({accounts[n].id})"},
        )
        for n in range(150)
    ]
    before = client.counters.requests

    account_report = await bulk.create_many(ACCOUNTS, accounts)
    task_report = await bulk.create_many(TASKS, tasks)

    assert account_report.is_complete, account_report.failures
    assert task_report.is_complete, task_report.failures
    assert client.counters.requests - before == 1 + 2  # one CreateMultiple (250 <= 1,000); two batches of <= 100
    task = await client.get_json(record_path("tasks", tasks[149].id), params={"$select": "_regardingobjectid_value"})
    assert task["_regardingobjectid_value"] == accounts[149].id
    again = await bulk.create_many(ACCOUNTS, accounts[:1])
    assert isinstance(again.failures[0].error, DuplicateRecordError)


async def test_contacts_come_in_pages(connector: DynamicsConnector) -> None:
    pages = [
        page
        async for page in connector.reader.query(
            RecordQuery(table="contact", columns=("fullname", "parentcustomerid"), page_size=50)
        )
    ]

    ids = [record.id for page in pages for record in page.records]
    assert len(pages) > 1
    assert all(len(page.records) == 50 for page in pages[:-1])
    assert len(ids) == len(set(ids))
    with_company = [r for p in pages for r in p.records if isinstance(r.values.get("parentcustomerid"), LookupValue)]
    assert with_company
    assert all(r.values["parentcustomerid"].table in {"account", "contact"} for r in with_company)  # type: ignore[union-attr]


async def test_ports_read_changes_and_write_lookups_through_metadata(connector: DynamicsConnector) -> None:
    initial = [page async for page in connector.reader.read_changes("account", columns=("name",), page_size=500)]
    assert initial[-1].token is not None
    account_id = initial[0].records[0].id
    task_id = await connector.writer.create(
        "task",
        {"subject": "Call back", "regardingobjectid": LookupValue(account_id, "account")},
        record_id=str(uuid.uuid4()),
    )
    report = await connector.writer.create_many(
        "task",
        [NewRecord(str(uuid.uuid4()), {"subject": "Bulk", "regardingobjectid": LookupValue(account_id, "account")})],
    )
    await connector.writer.update("account", account_id, {"name": "Through the port"})

    task = await connector.reader.get("task", task_id, columns=("subject", "regardingobjectid"))
    changes = [page async for page in connector.reader.read_changes("account", since=initial[-1].token)]

    assert report.is_complete
    assert task.values["regardingobjectid"] == LookupValue(account_id, "account")
    assert {r.id: r.values.get("name") for p in changes for r in p.records}[account_id] == "Through the port"


async def test_table_metadata_labels_and_bind_names(connector: DynamicsConnector) -> None:
    account = await connector.metadata.table("account")
    relations = await connector.metadata.lookups("task")

    assert (account.entity_set_name, account.primary_id_column) == ("accounts", "accountid")
    assert account.is_change_tracked
    assert ("regardingobjectid", "account", "regardingobjectid_account_task") in {
        (r.column, r.target_table, r.navigation_name) for r in relations
    }


async def test_choice_labels_columns_and_privileges(connector: DynamicsConnector) -> None:
    stages = await connector.metadata.options("opportunity", "salesstage")
    states = await connector.metadata.options("task", "statecode")
    columns = {column.logical_name: column for column in await connector.metadata.columns("contact")}
    identity = await connector.metadata.who_am_i()
    read_account = await connector.metadata.user_privilege(identity.user_id, "prvReadAccount")
    everything = await connector.metadata.user_privileges(identity.user_id)

    assert [(o.value, o.label) for o in stages] == [(0, "Qualify"), (1, "Develop"), (2, "Propose"), (3, "Close")]
    assert {o.value for o in states} == {0, 1, 2}
    assert columns["parentcustomerid"].is_lookup
    assert not columns["lastname"].is_lookup
    assert read_account
    assert {grant.name for grant in read_account} == {"prvReadAccount"}
    assert len(everything) >= len(read_account)
