"""Definitions created through the metadata API survive a restart of a sandbox kept in a file (``--db``).

In Dataverse a table, column, key or relationship, once created, is part of the organization until deleted
(create-update-entity-definitions-using-web-api.md, create-update-column-definitions-using-web-api.md,
define-alternate-keys-entity.md, create-update-entity-relationships-using-web-api.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests.conformance.conftest import BASE_URL, WebApi

from salesbridge.sandbox.assembly import Sandbox, build_sandbox


def _labels(text: str) -> dict[str, Any]:
    return {"@odata.type": "Microsoft.Dynamics.CRM.Label", "LocalizedLabels": [{"Label": text, "LanguageCode": 1033}]}


Start = Callable[[], WebApi]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """Starts the sandbox on one database file; each call stops the previous run first (a restart)."""
    db = str(tmp_path / "org.db")
    running: list[tuple[Sandbox, TestClient]] = []

    def stop() -> None:
        while running:
            sandbox, client = running.pop()
            client.__exit__(None, None, None)
            sandbox.services.state.storage.close()

    def restart() -> WebApi:
        stop()
        sandbox = build_sandbox(db_path=db)
        client = TestClient(sandbox.app, base_url=BASE_URL)
        client.__enter__()
        running.append((sandbox, client))
        issued = sandbox.services.issuer.issue(
            sandbox.application.client_id, sandbox.application.client_secret, f"{BASE_URL}/.default"
        )
        return WebApi(client, str(issued["access_token"]))

    yield restart
    stop()


def _create_definitions(api: WebApi) -> None:
    table = {
        "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
        "SchemaName": "sb_Signal",
        "DisplayName": _labels("Signal"),
        "DisplayCollectionName": _labels("Signals"),
        "OwnershipType": "UserOwned",
        "ChangeTrackingEnabled": True,
        "Attributes": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                "SchemaName": "sb_Name",
                "IsPrimaryName": True,
                "MaxLength": 100,
                "DisplayName": _labels("Name"),
            }
        ],
    }
    assert api.post("EntityDefinitions", json=table).status_code == 204
    column = {
        "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
        "SchemaName": "sb_LinkedInUrl",
        "MaxLength": 200,
        "DisplayName": _labels("LinkedIn URL"),
    }
    assert api.post("EntityDefinitions(LogicalName='contact')/Attributes", json=column).status_code == 204
    key = {"SchemaName": "sb_accountnumber_key", "DisplayName": _labels("Number"), "KeyAttributes": ["accountnumber"]}
    assert api.post("EntityDefinitions(LogicalName='account')/Keys", json=key).status_code == 204
    relationship = {
        "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
        "SchemaName": "sb_account_sb_signal",
        "ReferencedEntity": "account",
        "ReferencingEntity": "sb_signal",
        "CascadeConfiguration": {"Delete": "Cascade"},
        "Lookup": {
            "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata",
            "SchemaName": "sb_AccountId",
            "DisplayName": _labels("Account"),
        },
    }
    assert api.post("RelationshipDefinitions", json=relationship).status_code == 204


def test_created_definitions_and_their_records_survive_a_restart(start: Start) -> None:
    api = start()
    _create_definitions(api)
    account = api.create("accounts", {"name": "Contoso", "accountnumber": "ACC-1"})
    signal = api.create("sb_signals", {"sb_name": "Job change", "sb_AccountId@odata.bind": f"/accounts({account})"})
    contact = api.create("contacts", {"lastname": "Lee", "sb_linkedinurl": "https://example.invalid/in/lee"})

    api = start()

    table = api.get("EntityDefinitions(LogicalName='sb_signal')?$select=EntitySetName,PrimaryNameAttribute").json()
    assert (table["EntitySetName"], table["PrimaryNameAttribute"]) == ("sb_signals", "sb_name")
    row = api.get(f"sb_signals({signal})?$select=sb_name,_sb_accountid_value").json()
    assert (row["sb_name"], row["_sb_accountid_value"]) == ("Job change", account)
    assert api.get(f"contacts({contact})?$select=sb_linkedinurl").json()["sb_linkedinurl"].endswith("/in/lee")
    keys = api.get("EntityDefinitions(LogicalName='account')/Keys?$select=SchemaName").json()["value"]
    assert [k["SchemaName"] for k in keys] == ["sb_accountnumber_key"]
    assert api.get("accounts(accountnumber='ACC-1')?$select=name").json()["name"] == "Contoso"
    assert api.post("accounts", json={"name": "Twin", "accountnumber": "ACC-1"}).status_code == 412
    cascade = api.get("RelationshipDefinitions(SchemaName='sb_account_sb_signal')?$select=CascadeConfiguration")
    assert cascade.json()["CascadeConfiguration"]["Delete"] == "Cascade"
    second = api.create("sb_signals", {"sb_name": "Funding", "sb_AccountId@odata.bind": f"/accounts({account})"})
    assert api.delete(f"accounts({account})").status_code == 204
    assert api.get(f"sb_signals({second})").status_code == 404


def test_a_deleted_definition_stays_deleted_after_a_restart(start: Start) -> None:
    api = start()
    _create_definitions(api)
    assert (
        api.delete("EntityDefinitions(LogicalName='contact')/Attributes(LogicalName='sb_linkedinurl')").status_code
        == 204
    )
    assert api.delete("RelationshipDefinitions(SchemaName='sb_account_sb_signal')").status_code == 204
    assert api.delete("EntityDefinitions(LogicalName='sb_signal')").status_code == 204

    api = start()

    assert api.get("EntityDefinitions(LogicalName='sb_signal')").status_code == 404
    assert (
        api.get("EntityDefinitions(LogicalName='contact')/Attributes(LogicalName='sb_linkedinurl')").status_code == 404
    )
    assert api.get("RelationshipDefinitions(SchemaName='sb_account_sb_signal')").status_code == 404
    assert api.get("EntityDefinitions(LogicalName='account')/Keys?$select=SchemaName").json()["value"] != []


def test_a_changed_table_property_survives_a_restart(start: Start) -> None:
    api = start()
    path = "EntityDefinitions(LogicalName='role')"
    assert api.get(f"{path}?$select=ChangeTrackingEnabled").json()["ChangeTrackingEnabled"] is False
    assert api.patch(path, json={"ChangeTrackingEnabled": True}).status_code == 204

    api = start()

    assert api.get(f"{path}?$select=ChangeTrackingEnabled").json()["ChangeTrackingEnabled"] is True


def test_a_many_to_many_relationship_and_its_associations_survive_a_restart(start: Start) -> None:
    """create-update-entity-relationships-using-web-api.md ("Create a Many-to-Many relationship"): the
    relationship, its intersect table and the associations in it are kept; it can be deleted afterwards."""
    api = start()
    relationship = {
        "@odata.type": "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
        "SchemaName": "sb_accounts_contacts",
        "Entity1LogicalName": "account",
        "Entity2LogicalName": "contact",
        "IntersectEntityName": "sb_accounts_contacts",
    }
    created = api.post("RelationshipDefinitions", json=relationship)
    assert created.status_code == 204, created.text
    account = api.create("accounts", {"name": "Kept"})
    contact = api.create("contacts", {"lastname": "Kept"})
    reference = {"@odata.id": f"{BASE_URL}/api/data/v9.2/contacts({contact})"}
    assert api.post(f"accounts({account})/sb_accounts_contacts/$ref", json=reference).status_code == 204

    api = start()
    related = api.get(f"accounts({account})/sb_accounts_contacts?$select=lastname").json()["value"]
    assert [c["contactid"] for c in related] == [contact]
    assert len(api.get("sb_accounts_contactsset").json()["value"]) == 1
    assert api.delete(str(created.headers["OData-EntityId"])).status_code == 204

    api = start()
    assert api.get("RelationshipDefinitions?$filter=SchemaName eq 'sb_accounts_contacts'").json()["value"] == []
    assert api.get("sb_accounts_contactsset").status_code == 404
