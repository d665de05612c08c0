"""Metadata: EntityDefinitions, attributes, choices, relationships, keys, and creating definitions
(query-metadata-web-api.md, create-update-entity-definitions-using-web-api.md)."""

from __future__ import annotations

from typing import Any

from tests.conformance.conftest import API, WebApi


def labels(text: str) -> dict[str, Any]:
    return {"@odata.type": "Microsoft.Dynamics.CRM.Label", "LocalizedLabels": [{"Label": text, "LanguageCode": 1033}]}


def test_a_table_definition_by_logical_name(api: WebApi) -> None:
    response = api.get(
        "EntityDefinitions(LogicalName='account')?$select=LogicalName,EntitySetName,PrimaryIdAttribute,"
        "PrimaryNameAttribute,ObjectTypeCode,ChangeTrackingEnabled"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"].startswith(f"{API}$metadata#EntityDefinitions(")
    assert {k: body[k] for k in ("LogicalName", "EntitySetName", "PrimaryIdAttribute", "PrimaryNameAttribute")} == {
        "LogicalName": "account",
        "EntitySetName": "accounts",
        "PrimaryIdAttribute": "accountid",
        "PrimaryNameAttribute": "name",
    }
    assert body["ObjectTypeCode"] == 1
    assert body["ChangeTrackingEnabled"] is True
    assert "MetadataId" in body


def test_an_unknown_table_is_a_404(api: WebApi) -> None:
    response = api.get("EntityDefinitions(LogicalName='adx_blog')?$select=LogicalName")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "0x80040217",
        "message": "Could not find an entity with name adx_blog and id 00000000-0000-0000-0000-000000000000",
    }


def test_the_existence_check_by_filter_answers_an_empty_list(api: WebApi) -> None:
    body = api.get("EntityDefinitions?$select=LogicalName&$filter=LogicalName eq 'adx_blog'").json()
    assert body["value"] == []


def test_tables_with_change_tracking(api: WebApi) -> None:
    body = api.get("EntityDefinitions?$select=LogicalName&$filter=ChangeTrackingEnabled eq true").json()
    names = {row["LogicalName"] for row in body["value"]}
    assert {"account", "contact", "lead", "opportunity", "systemuser", "team", "connection", "activitypointer"} <= names
    assert "role" not in names


def test_filter_on_an_enumeration(api: WebApi) -> None:
    body = api.get(
        "EntityDefinitions?$select=LogicalName"
        "&$filter=OwnershipType eq Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'"
    ).json()
    assert "account" in {row["LogicalName"] for row in body["value"]}
    assert "businessunit" not in {row["LogicalName"] for row in body["value"]}


def test_one_column_and_its_max_length(api: WebApi) -> None:
    body = api.get("EntityDefinitions(LogicalName='task')/Attributes(LogicalName='subject')").json()
    assert body["@odata.type"] == "#Microsoft.Dynamics.CRM.StringAttributeMetadata"
    assert body["MaxLength"] == 200
    assert body["AttributeType"] == "String"


def test_an_unknown_column_is_a_404(api: WebApi) -> None:
    assert api.get("EntityDefinitions(LogicalName='task')/Attributes(LogicalName='nope')").status_code == 404


def test_choice_options_through_the_picklist_cast(api: WebApi) -> None:
    body = api.get(
        "EntityDefinitions(LogicalName='opportunity')/Attributes(LogicalName='salesstage')/"
        "Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet($select=Options),GlobalOptionSet"
    ).json()
    assert body["GlobalOptionSet"] is None or body["OptionSet"] is None
    option_set = body["OptionSet"] or body["GlobalOptionSet"]
    options = {o["Value"]: o["Label"]["UserLocalizedLabel"]["Label"] for o in option_set["Options"]}
    assert options == {0: "Qualify", 1: "Develop", 2: "Propose", 3: "Close"}


def test_every_picklist_of_a_table_at_once(api: WebApi) -> None:
    body = api.get(
        "EntityDefinitions(LogicalName='opportunity')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
        "?$select=LogicalName&$expand=OptionSet"
    ).json()
    names = {row["LogicalName"] for row in body["value"]}
    assert {"salesstage", "salesstagecode"} <= names
    assert "statecode" not in names


def test_state_options_carry_their_default_status(api: WebApi) -> None:
    body = api.get(
        "EntityDefinitions(LogicalName='opportunity')/Attributes(LogicalName='statecode')/"
        "Microsoft.Dynamics.CRM.StateAttributeMetadata?$expand=OptionSet"
    ).json()
    defaults = {o["Value"]: o["DefaultStatus"] for o in body["OptionSet"]["Options"]}
    assert defaults == {0: 1, 1: 3, 2: 4}


def test_navigation_names_come_from_many_to_one_relationships(api: WebApi) -> None:
    body = api.get(
        "EntityDefinitions(LogicalName='task')/ManyToOneRelationships"
        "?$select=ReferencingAttribute,ReferencedEntity,ReferencingEntityNavigationPropertyName"
        "&$filter=ReferencingAttribute eq 'regardingobjectid'"
    ).json()
    navs = {row["ReferencedEntity"]: row["ReferencingEntityNavigationPropertyName"] for row in body["value"]}
    assert navs["contact"] == "regardingobjectid_contact_task"
    assert navs["opportunity"] == "regardingobjectid_opportunity_task"


def test_create_a_custom_table_and_use_it(api: WebApi) -> None:
    definition = {
        "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
        "SchemaName": "sb_Signal",
        "DisplayName": labels("Signal"),
        "DisplayCollectionName": labels("Signals"),
        "OwnershipType": "UserOwned",
        "HasNotes": False,
        "HasActivities": False,
        "ChangeTrackingEnabled": True,
        "Attributes": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                "SchemaName": "sb_Name",
                "IsPrimaryName": True,
                "MaxLength": 100,
                "RequiredLevel": {"Value": "None"},
                "DisplayName": labels("Name"),
            }
        ],
    }
    response = api.post("EntityDefinitions", json=definition)
    assert response.status_code == 204, response.text
    assert response.headers["OData-EntityId"].startswith(f"{API}EntityDefinitions(")
    meta = api.get("EntityDefinitions(LogicalName='sb_signal')?$select=EntitySetName,PrimaryIdAttribute").json()
    assert meta["EntitySetName"] == "sb_signals"
    assert meta["PrimaryIdAttribute"] == "sb_signalid"
    record = api.create("sb_signals", {"sb_name": "Job change"})
    assert api.get(f"sb_signals({record})?$select=sb_name").json()["sb_name"] == "Job change"
    assert api.post("sb_signals", json={"sb_name": "x" * 101}).status_code == 400


def test_the_create_entities_action_creates_tables(api: WebApi) -> None:
    """``POST CreateEntities`` (the request Microsoft's Python SDK sends for ``client.tables.create``)."""
    definition = {
        "@odata.type": "Microsoft.Dynamics.CRM.ComplexEntityMetadata",
        "SchemaName": "sb_Beacon",
        "DisplayName": labels("Beacon"),
        "DisplayCollectionName": labels("Beacons"),
        "OwnershipType": "UserOwned",
        "HasActivities": False,
        "HasNotes": True,
        "IsActivity": False,
        "Attributes": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                "SchemaName": "sb_Name",
                "IsPrimaryName": True,
                "MaxLength": 100,
                "RequiredLevel": {"Value": "None"},
                "DisplayName": labels("Name"),
            }
        ],
    }
    response = api.post("CreateEntities", json={"Entities": [definition]})
    assert response.status_code == 200, response.text
    meta = api.get("EntityDefinitions(LogicalName='sb_beacon')?$select=EntitySetName,MetadataId").json()
    assert response.json()["EntityIds"] == [meta["MetadataId"]]
    record = api.create(meta["EntitySetName"], {"sb_name": "Lighthouse"})
    assert api.get(f"sb_beacons({record})?$select=sb_name").json()["sb_name"] == "Lighthouse"


def test_create_a_custom_activity_table_with_regarding_and_parties(api: WebApi) -> None:
    definition = {
        "SchemaName": "sb_InMail",
        "DisplayName": labels("InMail"),
        "DisplayCollectionName": labels("InMails"),
        "OwnershipType": "UserOwned",
        "IsActivity": True,
        "HasNotes": True,
        "Attributes": [],
    }
    assert api.post("EntityDefinitions", json=definition).status_code == 204
    contact = api.create("contacts", {"lastname": "Prospect"})
    who = api.get("WhoAmI").json()["UserId"]
    record = api.create(
        "sb_inmails",
        {
            "subject": "Intro",
            "regardingobjectid_contact_sb_inmail@odata.bind": f"/contacts({contact})",
            "sb_inmail_activity_parties": [
                {"partyid_systemuser@odata.bind": f"/systemusers({who})", "participationtypemask": 1}
            ],
        },
    )
    pointer = api.get(f"activitypointers({record})?$select=activitytypecode,_regardingobjectid_value").json()
    assert pointer["activitytypecode"] == "sb_inmail"
    assert pointer["_regardingobjectid_value"] == contact
    assert (
        api.post("sb_inmails", json={"regardingobjectid_contact@odata.bind": f"/contacts({contact})"}).status_code
        == 400
    )


def test_add_a_column(api: WebApi) -> None:
    column = {
        "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
        "SchemaName": "sb_LinkedInUrl",
        "MaxLength": 200,
        "RequiredLevel": {"Value": "None"},
        "DisplayName": labels("LinkedIn URL"),
    }
    assert api.post("EntityDefinitions(LogicalName='contact')/Attributes", json=column).status_code == 204
    record = api.create("contacts", {"lastname": "x", "sb_linkedinurl": "https://example.invalid/in/x"})
    assert api.get(f"contacts({record})?$select=sb_linkedinurl").json()["sb_linkedinurl"].endswith("/in/x")


def test_add_an_alternate_key_and_read_it_back(api: WebApi) -> None:
    key = {
        "SchemaName": "sb_accountnumber_key",
        "DisplayName": labels("Account number"),
        "KeyAttributes": ["accountnumber"],
    }
    assert api.post("EntityDefinitions(LogicalName='account')/Keys", json=key).status_code == 204
    keys = api.get("EntityDefinitions(LogicalName='account')/Keys?$select=SchemaName,KeyAttributes").json()["value"]
    assert [(k["SchemaName"], k["KeyAttributes"]) for k in keys] == [("sb_accountnumber_key", ["accountnumber"])]
    api.create("accounts", {"name": "A", "accountnumber": "ACC-1"})
    duplicate = api.post("accounts", json={"name": "B", "accountnumber": "ACC-1"})
    assert duplicate.status_code == 412
