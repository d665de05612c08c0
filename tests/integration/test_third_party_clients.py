"""Clients written by others, unmodified, against the sandbox over real HTTPS.

The sandbox (with the demo organization) is served by uvicorn on 127.0.0.1 with a throwaway CA. MSAL for Python
gets a token with the client-credentials flow; Microsoft's Dataverse SDK (``PowerPlatform-Dataverse-Client``)
authenticates with an azure-identity ``ClientSecretCredential`` and does its records, queries, bulk actions,
batches and table metadata. The clients are only told what a real tenant would tell them: the authority (no
instance discovery, since there is no login.microsoftonline.com here) and which CA to trust.

Every test names its rows with a prefix of its own, so tests sharing the module's organization never see each
other's rows.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import msal
import pytest
import requests
from azure.identity import ClientSecretCredential
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError
from PowerPlatform.Dataverse.models import ManyToManyRelationshipMetadata, UpsertItem, col

from salesbridge.sandbox.assembly import Sandbox, build_sandbox
from salesbridge.sandbox.seeds.seeding import parse_seed
from salesbridge.sandbox.server.serving import RunningServer, serve_in_thread
from salesbridge.sandbox.server.tls import create_tls_material

MAX_LENGTH_EXCEEDED = "0x80044331"
REQUEST_LIMIT_EXCEEDED = "0x80072322"
OBJECT_DOES_NOT_EXIST = "0x80040217"
DUPLICATE_RECORD = "0x80040237"
UNEXPECTED_ERROR = "0x80040216"


@dataclass(frozen=True)
class Org:
    """The running sandbox and what ``sandbox.json`` would tell a client about it."""

    sandbox: Sandbox
    server: RunningServer
    info: dict[str, str]

    @property
    def ca_bundle(self) -> str:
        return self.info["ca_bundle"]

    def configure_faults(self, **settings: float) -> None:
        """Fault injection through the sandbox's local admin endpoint (not part of Dataverse's API)."""
        response = requests.put(
            f"{self.info['base_url']}/_sandbox/faults",
            json=settings,
            headers={"X-Sandbox-Admin-Token": self.info["admin_token"]},
            verify=self.ca_bundle,
            timeout=10,
        )
        response.raise_for_status()

    def credential(self) -> ClientSecretCredential:
        """azure-identity's credential for the application user, pointed at the sandbox's authority."""
        return ClientSecretCredential(
            self.info["tenant_id"],
            self.info["client_id"],
            self.info["client_secret"],
            authority=f"127.0.0.1:{self.server.port}",
            disable_instance_discovery=True,
            connection_verify=self.ca_bundle,
        )


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    """The demo organization served over TLS on a free 127.0.0.1 port for the whole module."""
    sandbox = build_sandbox(seed=parse_seed("demo"))
    tls = create_tls_material(tmp_path_factory.mktemp("tls"))
    with serve_in_thread(sandbox.app, host="127.0.0.1", port=0, tls=tls) as server:
        yield Org(sandbox, server, sandbox.connection_info(server.base_url, str(tls.ca_bundle)))


@pytest.fixture
def client(org: Org, monkeypatch: pytest.MonkeyPatch) -> Iterator[DataverseClient]:
    """Microsoft's SDK as its README shows it: an org URL and a credential, in a ``with`` block.

    The SDK exposes no TLS setting of its own; it uses ``requests``, which trusts ``REQUESTS_CA_BUNDLE``.
    """
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", org.ca_bundle)
    with org.credential() as credential, DataverseClient(org.info["org_url"], credential) as sdk:
        yield sdk


@pytest.fixture
def prefix() -> str:
    """A name prefix no other test uses."""
    return f"TP {uuid.uuid4().hex[:8]} "


# --- MSAL --------------------------------------------------------------------------------------------------------


def test_msal_client_credentials_token_is_accepted_by_who_am_i(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets these variables override the session's ``verify`` that MSAL sets from ``verify=``.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    app = msal.ConfidentialClientApplication(
        org.info["client_id"],
        authority=org.info["authority"],
        client_credential=org.info["client_secret"],
        validate_authority=False,
        instance_discovery=False,
        verify=org.ca_bundle,
        timeout=10,
    )
    result = app.acquire_token_for_client([f"{org.info['org_url']}/.default"])
    assert "access_token" in result, result
    assert result["token_type"].lower() == "bearer"

    response = requests.get(
        org.info["api_url"] + "WhoAmI",
        headers={"Authorization": f"Bearer {result['access_token']}", "Accept": "application/json"},
        verify=org.ca_bundle,
        timeout=10,
    )

    assert response.status_code == 200, response.text
    who = response.json()
    assert who["UserId"] == org.sandbox.application.systemuser_id
    assert who["OrganizationId"] == org.sandbox.services.state.config.organization_id
    assert uuid.UUID(who["BusinessUnitId"])
    again = app.acquire_token_for_client([f"{org.info['org_url']}/.default"])
    assert again["access_token"] == result["access_token"]
    assert again["token_source"] == "cache"


# --- Microsoft's Dataverse SDK -----------------------------------------------------------------------------------


def test_sdk_creates_retrieves_updates_and_deletes_a_record(client: DataverseClient, prefix: str) -> None:
    account_id = client.records.create("account", {"name": f"{prefix}Contoso", "revenue": 125000.5})
    assert uuid.UUID(account_id)

    created = client.records.retrieve("account", account_id, select=["name", "revenue", "statecode"])
    assert created is not None
    assert created.id == account_id
    assert (created["name"], created["revenue"], created["statecode"]) == (f"{prefix}Contoso", 125000.5, 0)
    assert created.etag is not None

    client.records.update("account", account_id, {"name": f"{prefix}Contoso Ltd", "telephone1": "555-0100"})
    updated = client.records.retrieve("account", account_id, select=["name", "telephone1"])
    assert updated is not None
    assert (updated["name"], updated["telephone1"]) == (f"{prefix}Contoso Ltd", "555-0100")
    assert updated.etag != created.etag

    client.records.delete("account", account_id)
    assert client.records.retrieve("account", account_id) is None
    with pytest.raises(HttpError) as missing:
        client.records.update("account", account_id, {"name": "gone"})
    assert missing.value.status_code == 404
    assert missing.value.details["service_error_code"] == OBJECT_DOES_NOT_EXIST


def test_sdk_create_with_an_existing_id_raises_the_duplicate_record_error(client: DataverseClient, prefix: str) -> None:
    account_id = client.records.create("account", {"name": f"{prefix}Original"})

    with pytest.raises(HttpError) as duplicate:
        client.records.create("account", {"accountid": account_id, "name": f"{prefix}Copy"})

    assert duplicate.value.status_code == 412
    assert duplicate.value.details["service_error_code"] == DUPLICATE_RECORD


def test_sdk_pages_through_a_filtered_ordered_query(client: DataverseClient, prefix: str) -> None:
    client.records.create(
        "account", [{"name": f"{prefix}{n}", "numberofemployees": n * 10} for n in (5, 1, 7, 3, 6, 2, 4)]
    )

    pages = list(
        client.query.builder("account")
        .select("name", "numberofemployees")
        .where(col("name").startswith(prefix))
        .where(col("numberofemployees") >= 20)
        .order_by("numberofemployees", descending=True)
        .page_size(2)
        .execute_pages()
    )

    assert [len(page) for page in pages] == [2, 2, 2]
    assert [[row["numberofemployees"] for row in page] for page in pages] == [[70, 60], [50, 40], [30, 20]]
    assert all(row["name"] == f"{prefix}{row['numberofemployees'] // 10}" for page in pages for row in page)


def test_sdk_query_combines_in_or_not_and_null_filters(client: DataverseClient, prefix: str) -> None:
    client.records.create(
        "account",
        [
            {"name": f"{prefix}A", "numberofemployees": 1, "telephone1": "555-0001"},
            {"name": f"{prefix}B", "numberofemployees": 2},
            {"name": f"{prefix}C", "numberofemployees": 3},
            {"name": f"{prefix}D", "numberofemployees": 4},
        ],
    )

    rows = (
        client.query.builder("account")
        .select("name")
        .where(col("name").startswith(prefix))
        .where(col("numberofemployees").in_([1, 2, 4]) | col("name").endswith("C"))
        .where(~(col("numberofemployees") == 4))
        .where(col("telephone1").is_null())
        .order_by("name")
        .execute()
    )

    assert [row["name"] for row in rows] == [f"{prefix}B", f"{prefix}C"]


def test_sdk_bulk_create_sends_create_multiple_and_returns_the_ids_in_order(
    client: DataverseClient, prefix: str
) -> None:
    names = [f"{prefix}{n}" for n in range(5)]

    ids = client.records.create("account", [{"name": name, "numberofemployees": n} for n, name in enumerate(names)])

    assert len(ids) == len(set(ids)) == 5
    for n, (account_id, name) in enumerate(zip(ids, names, strict=True)):
        record = client.records.retrieve("account", account_id, select=["name", "numberofemployees"])
        assert record is not None
        assert (record["name"], record["numberofemployees"]) == (name, n)


def test_sdk_bulk_create_is_atomic_and_reports_the_dataverse_error(client: DataverseClient, prefix: str) -> None:
    with pytest.raises(HttpError) as failure:
        client.records.create("account", [{"name": f"{prefix}fine"}, {"name": prefix + "x" * 200}])

    assert failure.value.status_code == 400
    assert failure.value.details["service_error_code"] == MAX_LENGTH_EXCEEDED
    assert len(client.records.list("account", filter=col("name").startswith(prefix), select=["name"])) == 0


def test_sdk_bulk_update_sends_update_multiple(client: DataverseClient, prefix: str) -> None:
    ids = client.records.create("account", [{"name": f"{prefix}{n}"} for n in range(3)])

    client.records.update("account", ids, {"telephone1": "555-0123"})
    client.records.update("account", ids[:2], [{"name": f"{prefix}first"}, {"name": f"{prefix}second"}])

    rows = client.records.list(
        "account", filter=col("name").startswith(prefix), select=["name", "telephone1"], orderby=["name"]
    )
    assert [(row["accountid"], row["name"], row["telephone1"]) for row in rows] == [
        (ids[2], f"{prefix}2", "555-0123"),
        (ids[0], f"{prefix}first", "555-0123"),
        (ids[1], f"{prefix}second", "555-0123"),
    ]


def wait_until_key_is_active(client: DataverseClient, table: str, key_id: str) -> None:
    """Dataverse builds an alternate key's index in the background; upserts by the key wait for it."""
    deadline = time.monotonic() + 10
    while True:
        statuses = {key.metadata_id: key.status for key in client.tables.get_alternate_keys(table)}
        assert statuses.get(key_id) in ("Pending", "InProgress", "Active"), statuses
        if statuses[key_id] == "Active":
            return
        assert time.monotonic() < deadline, f"the key {key_id} is still {statuses[key_id]}"
        time.sleep(0.05)


def test_sdk_upserts_accounts_by_an_alternate_key(client: DataverseClient, prefix: str) -> None:
    key = client.tables.create_alternate_key("account", "tp_accountnumber_key", ["accountnumber"])
    assert (key.schema_name, key.key_attributes) == ("tp_accountnumber_key", ["accountnumber"])
    wait_until_key_is_active(client, "account", key.metadata_id)
    number = prefix.split()[1]
    existing_id = client.records.create("account", {"name": f"{prefix}old", "accountnumber": f"{number}-1"})

    client.records.upsert(
        "account",
        [
            UpsertItem(alternate_key={"accountnumber": f"{number}-1"}, record={"name": f"{prefix}updated"}),
            UpsertItem(alternate_key={"accountnumber": f"{number}-2"}, record={"name": f"{prefix}created"}),
        ],
    )
    client.records.upsert(
        "account", [UpsertItem(alternate_key={"accountnumber": f"{number}-3"}, record={"name": f"{prefix}single"})]
    )

    rows = client.records.list(
        "account",
        filter=col("accountnumber").startswith(number),
        select=["name", "accountnumber"],
        orderby=["accountnumber"],
    )
    assert [(row["accountnumber"], row["name"]) for row in rows] == [
        (f"{number}-1", f"{prefix}updated"),
        (f"{number}-2", f"{prefix}created"),
        (f"{number}-3", f"{prefix}single"),
    ]
    assert rows[0]["accountid"] == existing_id

    # Dataverse refuses an UpsertMultiple that creates a record whose key is also in the body; the SDK lets a key
    # value that matches alternate_key through, so the call fails as a whole.
    with pytest.raises(HttpError) as repeated_key:
        client.records.upsert(
            "account",
            [
                UpsertItem(alternate_key={"accountnumber": f"{number}-4"}, record={"name": f"{prefix}other"}),
                UpsertItem(
                    alternate_key={"accountnumber": f"{number}-5"},
                    record={"name": f"{prefix}repeated", "accountnumber": f"{number}-5"},
                ),
            ],
        )
    assert repeated_key.value.status_code == 400
    assert repeated_key.value.details["service_error_code"] == UNEXPECTED_ERROR
    assert len(client.records.list("account", filter=col("accountnumber").startswith(number), select=["name"])) == 3


def test_sdk_batch_runs_a_change_set_with_content_id_references(client: DataverseClient, prefix: str) -> None:
    existing_id = client.records.create("account", {"name": f"{prefix}existing"})
    batch = client.batch.new()
    with batch.changeset() as change_set:
        account_ref = change_set.records.create("account", {"name": f"{prefix}parent"})
        change_set.records.create(
            "contact", {"lastname": f"{prefix}child", "parentcustomerid_account@odata.bind": account_ref}
        )
        change_set.records.update("account", account_ref, {"telephone1": "555-0199"})
        change_set.records.update("account", existing_id, {"name": f"{prefix}existing, renamed"})
    batch.records.retrieve("account", existing_id, select=["name"])

    result = batch.execute()

    assert not result.has_errors
    assert [(r.status_code, r.content_id) for r in result.responses] == [
        (204, "1"),
        (204, "2"),
        (204, "3"),
        (204, "4"),
        (200, None),
    ]
    parent_id, contact_id = result.responses[0].entity_id, result.responses[1].entity_id
    assert parent_id is not None
    assert contact_id is not None
    assert result.responses[2].entity_id == parent_id
    assert result.responses[4].data is not None
    assert result.responses[4].data["name"] == f"{prefix}existing, renamed"
    parent = client.records.retrieve("account", parent_id, select=["name", "telephone1"])
    assert parent is not None
    assert (parent["name"], parent["telephone1"]) == (f"{prefix}parent", "555-0199")
    contact = client.records.retrieve("contact", contact_id, select=["lastname", "_parentcustomerid_value"])
    assert contact is not None
    assert contact["_parentcustomerid_value"] == parent_id


def test_sdk_batch_failing_change_set_is_rolled_back(client: DataverseClient, prefix: str) -> None:
    batch = client.batch.new()
    with batch.changeset() as change_set:
        change_set.records.create("account", {"name": f"{prefix}rolled back"})
        change_set.records.create("account", {"name": prefix + "x" * 200})

    result = batch.execute()

    assert result.has_errors
    assert [(r.status_code, r.error_code) for r in result.failed] == [(400, MAX_LENGTH_EXCEEDED)]
    assert result.entity_ids == []
    assert len(client.records.list("account", filter=col("name").startswith(prefix), select=["name"])) == 0


def test_sdk_batch_continue_on_error_runs_every_request(client: DataverseClient, prefix: str) -> None:
    batch = client.batch.new()
    batch.records.create("account", {"name": prefix + "x" * 200})
    batch.records.create("account", {"name": f"{prefix}after the failure"})
    batch.records.delete("account", str(uuid.uuid4()))

    result = batch.execute(continue_on_error=True)

    assert [(r.status_code, r.error_code) for r in result.responses] == [
        (400, MAX_LENGTH_EXCEEDED),
        (204, None),
        (404, OBJECT_DOES_NOT_EXIST),
    ]
    (created_id,) = result.entity_ids
    created = client.records.retrieve("account", created_id, select=["name"])
    assert created is not None
    assert created["name"] == f"{prefix}after the failure"


def test_sdk_reads_table_metadata_and_columns(client: DataverseClient) -> None:
    info = client.tables.get("account")

    assert info is not None
    assert (info.logical_name, info.entity_set_name) == ("account", "accounts")
    assert (info.primary_id_attribute, info.primary_name_attribute) == ("accountid", "name")
    assert uuid.UUID(info.metadata_id)
    assert client.tables.get("tp_nosuchtable") is None

    columns = client.tables.list_columns("account", select=["LogicalName", "AttributeType"])
    types = {column["LogicalName"]: column["AttributeType"] for column in columns}
    assert types["accountid"] == "Uniqueidentifier"
    assert types["name"] == "String"
    assert types["revenue"] == "Money"
    assert types["statecode"] == "State"
    assert types["ownerid"] == "Owner"
    strings = client.tables.list_columns("account", select=["LogicalName"], filter="AttributeType eq 'String'")
    assert {"name", "telephone1", "accountnumber"} <= {column["LogicalName"] for column in strings}
    assert "revenue" not in {column["LogicalName"] for column in strings}


def test_sdk_creates_a_custom_table_and_writes_rows_to_it(client: DataverseClient) -> None:
    info = client.tables.create("tp_Gadget", {"tp_Code": "string", "tp_Quantity": "int"})

    assert (info.logical_name, info.entity_set_name) == ("tp_gadget", "tp_gadgets")
    assert (info.primary_id_attribute, info.primary_name_attribute) == ("tp_gadgetid", "tp_name")
    columns = client.tables.list_columns("tp_gadget", select=["LogicalName", "AttributeType"])
    types = {column["LogicalName"]: column["AttributeType"] for column in columns}
    assert (types["tp_code"], types["tp_quantity"]) == ("String", "Integer")
    gadget_id = client.records.create("tp_gadget", {"tp_name": "First", "tp_code": "G-1", "tp_quantity": 3})
    gadget = client.records.retrieve("tp_gadget", gadget_id, select=["tp_name", "tp_code", "tp_quantity"])
    assert gadget is not None
    assert (gadget["tp_name"], gadget["tp_code"], gadget["tp_quantity"]) == ("First", "G-1", 3)


def test_sdk_raises_service_protection_throttling_as_a_transient_http_error(
    org: Org, client: DataverseClient, prefix: str
) -> None:
    client.records.create("account", {"name": f"{prefix}before throttling"})
    org.configure_faults(throttle_rate=1.0, throttle_retry_after_s=7)
    try:
        with pytest.raises(HttpError) as throttled:
            client.records.list("account", filter=col("name").startswith(prefix), select=["name"])
    finally:
        org.configure_faults(throttle_rate=0.0)

    assert throttled.value.status_code == 429
    assert throttled.value.is_transient
    assert throttled.value.details["retry_after"] == 7
    assert throttled.value.details["service_error_code"] == REQUEST_LIMIT_EXCEEDED
    assert len(client.records.list("account", filter=col("name").startswith(prefix), select=["name"])) == 1


def test_sdk_many_to_many_relationship_calls(org: Org, client: DataverseClient, prefix: str) -> None:
    """The SDK's N:N calls as its docstrings show them: create (and create in a batch), get by schema name, list
    (all, and a table's), delete; and its record calls read the intersect table once a pair is associated (the
    SDK has no associate call: that one is a plain ``POST …/$ref``)."""
    relationship = ManyToManyRelationshipMetadata(
        schema_name="tp_account_contact", entity1_logical_name="account", entity2_logical_name="contact"
    )
    created = client.tables.create_many_to_many_relationship(relationship)

    assert created.relationship_type == "many_to_many"
    assert (created.entity1_logical_name, created.entity2_logical_name) == ("account", "contact")
    assert created.relationship_id is not None
    found = client.tables.get_relationship("tp_account_contact")
    assert found is not None
    assert (found.relationship_id, found.relationship_type) == (created.relationship_id, "many_to_many")
    assert (found.entity1_logical_name, found.entity2_logical_name) == ("account", "contact")
    names = {r["SchemaName"] for r in client.tables.list_relationships()}
    assert "tp_account_contact" in names
    assert "contact_customer_accounts" in names
    of_contact = {r["SchemaName"] for r in client.tables.list_table_relationships("contact")}
    assert "tp_account_contact" in of_contact
    account = client.records.create("account", {"name": f"{prefix}N:N"})
    contact = client.records.create("contact", {"lastname": f"{prefix}N:N"})
    with org.credential() as credential:
        token = credential.get_token(f"{org.info['org_url']}/.default").token
    associated = requests.post(
        f"{org.info['api_url']}accounts({account})/tp_account_contact/$ref",
        json={"@odata.id": f"{org.info['api_url']}contacts({contact})"},
        headers={"Authorization": f"Bearer {token}"},
        verify=org.ca_bundle,
        timeout=10,
    )
    assert associated.status_code == 204, associated.text
    pairs = client.records.list(
        "tp_account_contact", select=["accountid", "contactid"], filter=f"accountid eq {account}"
    )
    assert [(row["accountid"], row["contactid"]) for row in pairs] == [(account, contact)]

    batch = client.batch.new()
    batch.tables.create_many_to_many_relationship(
        ManyToManyRelationshipMetadata(
            schema_name="tp_lead_contact", entity1_logical_name="lead", entity2_logical_name="contact"
        )
    )
    result = batch.execute()
    assert not result.has_errors
    assert client.tables.get_relationship("tp_lead_contact") is not None

    client.tables.delete_relationship(created.relationship_id)
    assert client.tables.get_relationship("tp_account_contact") is None
