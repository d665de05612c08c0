"""The metadata API: reads in the shapes of the docs' examples, the 404s, and creating tables, columns, lookups
and keys end to end (catalogue, storage, privileges).

Most tests run against the standard organization (``create_state`` + ``build_foundation``); one builds a minimal
catalogue of its own with just the security tables, as a bare installer target.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import orjson
import pytest

from salesbridge.sandbox.catalogue.definitions import (
    BULK_MESSAGES,
    AttributeDef,
    AttributeType,
    EntityDef,
    OptionDef,
    OwnershipType,
    stable_id,
)
from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.errors import DataverseError
from salesbridge.sandbox.metadata.api import handle_metadata
from salesbridge.sandbox.metadata.model import METADATA_ROOTS, plural_name
from salesbridge.sandbox.odata.messages import ApiRequest, ApiResponse
from salesbridge.sandbox.odata.paths import split_path
from salesbridge.sandbox.organization.database import Storage
from salesbridge.sandbox.organization.foundation import RowWriter, build_foundation, create_state
from salesbridge.sandbox.organization.security import Depth, Security, privilege_name
from salesbridge.sandbox.organization.state import SandboxState

API = "https://sandbox.test/api/data/v9.2/"
NOBODY = "0b8a2d4e-0000-4000-8000-000000000001"


class Org:
    """A sandbox organization and its System Administrator application user."""

    def __init__(self, state: SandboxState, admin: str) -> None:
        self.state = state
        self.admin = admin

    def send(
        self, method: str, path: str, query: str = "", body: Any = None, *, caller: str | None = None
    ) -> ApiResponse:
        """One metadata request in its own transaction, as the engine runs it."""
        request = ApiRequest(
            method, path, raw_query=query, body=b"" if body is None else orjson.dumps(body), caller_id=caller
        )
        with self.state.storage.transaction():
            return handle_metadata(self.state, request, split_path(path), caller_id=caller or self.admin, api_url=API)

    def get(self, path: str, query: str = "") -> dict[str, Any]:
        response = self.send("GET", path, query)
        assert response.status == 200
        assert response.headers.get("Content-Type", "").startswith("application/json")
        payload: dict[str, Any] = orjson.loads(response.body)
        return payload

    def error(self, method: str, path: str, query: str = "", body: Any = None, **kwargs: Any) -> DataverseError:
        with pytest.raises(DataverseError) as caught:
            self.send(method, path, query, body, **kwargs)
        return caught.value


@pytest.fixture
def org() -> Org:
    state = create_state()
    application = build_foundation(state)
    return Org(state, application.systemuser_id)


def labels(text: str) -> dict[str, Any]:
    return {"@odata.type": "Microsoft.Dynamics.CRM.Label", "LocalizedLabels": [{"Label": text, "LanguageCode": 1033}]}


def bank_account(**overrides: Any) -> dict[str, Any]:
    """The table of create-update-entity-definitions-using-web-api.md."""
    definition: dict[str, Any] = {
        "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
        "Attributes": [
            {
                "AttributeType": "String",
                "AttributeTypeName": {"Value": "StringType"},
                "Description": labels("Type the name of the bank account"),
                "DisplayName": labels("Account Name"),
                "IsPrimaryName": True,
                "RequiredLevel": {
                    "Value": "None",
                    "CanBeChanged": True,
                    "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
                },
                "SchemaName": "new_AccountName",
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                "FormatName": {"Value": "Text"},
                "MaxLength": 100,
            }
        ],
        "Description": labels("An entity to store information about customer bank accounts"),
        "DisplayCollectionName": labels("Bank Accounts"),
        "DisplayName": labels("Bank Account"),
        "HasActivities": False,
        "HasNotes": False,
        "IsActivity": False,
        "OwnershipType": "UserOwned",
        "SchemaName": "new_BankAccount",
    }
    definition.update(overrides)
    return definition


def create_bank_account(org: Org, **overrides: Any) -> EntityDef:
    response = org.send("POST", "EntityDefinitions", body=bank_account(**overrides))
    assert response.status == 204
    return org.state.catalogue.entity(str(bank_account(**overrides)["SchemaName"]).lower())


def column(kind: str, schema_name: str, **extra: Any) -> dict[str, Any]:
    return {
        "@odata.type": f"Microsoft.Dynamics.CRM.{kind}AttributeMetadata",
        "SchemaName": schema_name,
        "DisplayName": labels(schema_name.rpartition("_")[2]),
        "RequiredLevel": {"Value": "None"},
        **extra,
    }


def storage_columns(org: Org, table: str) -> set[str]:
    return {str(row[1]) for row in org.state.storage.conn.execute(f'PRAGMA table_info("{table}")')}


# --- tables ------------------------------------------------------------------------------------------------


def test_a_table_by_logical_name_with_select(org: Org) -> None:
    body = org.get(
        "EntityDefinitions(LogicalName='account')",
        "$select=LogicalName,EntitySetName,PrimaryIdAttribute,DisplayName,CanChangeTrackingBeEnabled",
    )

    assert body["@odata.context"] == (
        f"{API}$metadata#EntityDefinitions(LogicalName,EntitySetName,PrimaryIdAttribute,DisplayName,"
        f"CanChangeTrackingBeEnabled)/$entity"
    )
    assert set(body) == {
        "@odata.context",
        "LogicalName",
        "EntitySetName",
        "PrimaryIdAttribute",
        "DisplayName",
        "CanChangeTrackingBeEnabled",
        "MetadataId",
    }
    assert (body["LogicalName"], body["EntitySetName"], body["PrimaryIdAttribute"]) == (
        "account",
        "accounts",
        "accountid",
    )
    assert body["MetadataId"] == stable_id("entity", "account")
    english = body["DisplayName"]["LocalizedLabels"][0]
    assert (english["Label"], english["LanguageCode"]) == ("Account", 1033)
    assert body["DisplayName"]["UserLocalizedLabel"]["Label"] == "Account"
    assert body["CanChangeTrackingBeEnabled"] == {
        "Value": True,
        "CanBeChanged": False,
        "ManagedPropertyLogicalName": "canchangetrackingbeenabled",
    }


def test_a_table_has_the_properties_clients_read(org: Org) -> None:
    body = org.get("EntityDefinitions(LogicalName='opportunity')")

    assert body["@odata.context"] == f"{API}$metadata#EntityDefinitions/$entity"
    expected = {
        "LogicalName": "opportunity",
        "SchemaName": "Opportunity",
        "EntitySetName": "opportunities",
        "LogicalCollectionName": "opportunities",
        "CollectionSchemaName": "Opportunities",
        "PrimaryIdAttribute": "opportunityid",
        "PrimaryNameAttribute": "name",
        "ObjectTypeCode": 3,
        "OwnershipType": "UserOwned",
        "IsActivity": False,
        "IsCustomEntity": False,
        "ChangeTrackingEnabled": True,
        "IsOptimisticConcurrencyEnabled": True,
        "HasNotes": True,
        "HasActivities": True,
        "IsPrivate": False,
    }
    assert {k: body[k] for k in expected} == expected
    assert body["DisplayCollectionName"]["UserLocalizedLabel"]["Label"] == "Opportunities"
    assert body["Description"]["LocalizedLabels"]
    assert "Attributes" not in body
    privileges = {p["PrivilegeType"]: p["Name"] for p in body["Privileges"]}
    assert privileges["Read"] == "prvReadOpportunity"


def test_a_table_by_metadata_id_is_the_same_table(org: Org) -> None:
    by_id = org.get(f"EntityDefinitions({stable_id('entity', 'contact')})", "$select=LogicalName")
    assert by_id["LogicalName"] == "contact"


def test_an_unknown_table_is_object_does_not_exist(org: Org) -> None:
    error = org.error("GET", "EntityDefinitions(LogicalName='adx_blog')", "$select=LogicalName")
    assert (error.status, error.code) == (404, "0x80040217")
    assert error.message == "Could not find an entity with name adx_blog and id 00000000-0000-0000-0000-000000000000"
    missing = str(uuid.uuid4())
    assert org.error("GET", f"EntityDefinitions({missing})").message.endswith(f"and id {missing}")
    assert org.error("GET", "EntityDefinitions(Name='account')").status == 400


def test_the_collection_comes_whole_and_filters_on_metadata_properties(org: Org) -> None:
    everything = org.get("EntityDefinitions", "$select=LogicalName")
    assert len(everything["value"]) == len(org.state.catalogue.entities)
    assert "@odata.nextLink" not in everything
    assert everything["@odata.context"] == f"{API}$metadata#EntityDefinitions(LogicalName)"

    def names(condition: str) -> set[str]:
        rows = org.get("EntityDefinitions", f"$select=LogicalName&$filter={condition}")["value"]
        return {row["LogicalName"] for row in rows}

    assert names("LogicalName eq 'task'") == {"task"}
    assert names("LogicalName eq 'adx_blog'") == set()
    tracked = names("ChangeTrackingEnabled eq true")
    assert {"account", "task", "activitypointer"} <= tracked
    assert "role" not in tracked
    assert names("IsActivity eq true") == {"task", "phonecall", "email", "activitypointer"}
    user_owned = names("OwnershipType eq Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'")
    assert "account" in user_owned
    assert "businessunit" not in user_owned
    assert names("CanChangeTrackingBeEnabled/Value eq false") == set()
    assert names("IsPrivate eq false and (startswith(SchemaName, 'Activity') or LogicalName eq 'lead')") == {
        "activityparty",
        "activitypointer",
        "lead",
    }
    assert names("not (ObjectTypeCode lt 4200) and ObjectTypeCode le 4210") == {"activitypointer", "email", "phonecall"}


def test_invalid_collection_queries_are_refused(org: Org) -> None:
    assert org.error("GET", "EntityDefinitions", "$select=Nope").message == (
        "Could not find a property named 'Nope' on type 'Microsoft.Dynamics.CRM.EntityMetadata'."
    )
    assert org.error("GET", "EntityDefinitions", "$filter=Nope eq 1").status == 400
    assert org.error("GET", "EntityDefinitions", "$filter=LogicalName eq").status == 400
    # One $filter parser serves both APIs; what only applies to data is refused on metadata.
    lambda_filter = "$filter=Attributes/any(a:a/LogicalName eq 'name')"
    assert "cannot be used to filter metadata" in org.error("GET", "EntityDefinitions", lambda_filter).message
    function_filter = "$filter=Microsoft.Dynamics.CRM.In(PropertyName='LogicalName',PropertyValues=[\"task\"])"
    assert org.error("GET", "EntityDefinitions", function_filter).status == 400
    assert org.error("GET", "EntityDefinitions", "$top=1").message == "The query parameter $top is not supported"
    assert org.error("GET", "EntityDefinitions", "$expand=Forms").status == 400


def test_expanding_columns_relationships_and_keys(org: Org) -> None:
    body = org.get(
        "EntityDefinitions(LogicalName='account')",
        "$select=LogicalName&$expand=Attributes($select=LogicalName;"
        "$filter=AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'),"
        "ManyToOneRelationships($select=SchemaName,ReferencingAttribute),Keys",
    )

    picklists = {row["LogicalName"] for row in body["Attributes"]}
    assert {"industrycode", "customertypecode"} <= picklists
    assert "statecode" not in picklists
    assert all(set(row) == {"@odata.type", "LogicalName", "MetadataId"} for row in body["Attributes"])
    relations = {row["SchemaName"]: row["ReferencingAttribute"] for row in body["ManyToOneRelationships"]}
    assert relations["account_primary_contact"] == "primarycontactid"
    assert body["Keys"] == []


def test_the_whole_schema_in_one_call(org: Org) -> None:
    body = org.get("EntityDefinitions", "$expand=Attributes")
    contact = next(row for row in body["value"] if row["LogicalName"] == "contact")
    birthdate = next(a for a in contact["Attributes"] if a["LogicalName"] == "birthdate")
    assert birthdate["DateTimeBehavior"] == {"Value": "DateOnly"}


# --- columns -----------------------------------------------------------------------------------------------


def test_one_column_in_the_derived_type_shape(org: Org) -> None:
    body = org.get("EntityDefinitions(LogicalName='task')/Attributes(LogicalName='subject')")

    assert body["@odata.context"] == f"{API}$metadata#EntityDefinitions('task')/Attributes/$entity"
    assert body["@odata.type"] == "#Microsoft.Dynamics.CRM.StringAttributeMetadata"
    assert (body["LogicalName"], body["AttributeType"], body["MaxLength"]) == ("subject", "String", 200)
    assert body["AttributeTypeName"] == {"Value": "StringType"}
    assert body["RequiredLevel"] == {
        "Value": "ApplicationRequired",
        "CanBeChanged": True,
        "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
    }
    assert (body["IsPrimaryName"], body["IsPrimaryId"], body["IsCustomAttribute"]) == (True, False, False)
    assert (body["IsValidForCreate"], body["IsValidForUpdate"], body["IsValidForRead"]) == (True, True, True)
    by_id = org.get(f"EntityDefinitions(LogicalName='task')/Attributes({body['MetadataId']})", "$select=LogicalName")
    assert by_id["LogicalName"] == "subject"


def test_type_specific_properties(org: Org) -> None:
    def attribute(table: str, name: str) -> dict[str, Any]:
        return org.get(f"EntityDefinitions(LogicalName='{table}')/Attributes(LogicalName='{name}')")

    assert attribute("opportunity", "customerid")["Targets"] == ["account", "contact"]
    assert attribute("opportunity", "customerid")["@odata.type"] == "#Microsoft.Dynamics.CRM.LookupAttributeMetadata"
    closing = attribute("opportunity", "estimatedclosedate")
    assert (closing["Format"], closing["DateTimeBehavior"]) == ("DateOnly", {"Value": "DateOnly"})
    created = attribute("account", "createdon")
    assert (created["Format"], created["DateTimeBehavior"], created["IsValidForCreate"]) == (
        "DateAndTime",
        {"Value": "UserLocal"},
        False,
    )
    employees = attribute("account", "numberofemployees")
    assert (employees["MinValue"], employees["MaxValue"]) == (0, 1_000_000_000)
    revenue = attribute("account", "revenue")
    assert (revenue["Precision"], revenue["AttributeType"]) == (2, "Money")
    assert attribute("account", "accountid")["IsPrimaryId"] is True
    assert attribute("account", "description")["@odata.type"] == "#Microsoft.Dynamics.CRM.MemoAttributeMetadata"


def test_derived_properties_need_a_cast_in_select(org: Org) -> None:
    error = org.error("GET", "EntityDefinitions(LogicalName='account')/Attributes", "$select=LogicalName,Precision")
    assert (
        error.message
        == "Could not find a property named 'Precision' on type 'Microsoft.Dynamics.CRM.AttributeMetadata'."
    )

    body = org.get(
        "EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.MoneyAttributeMetadata",
        "$select=LogicalName,Precision",
    )
    assert body["@odata.context"] == (
        f"{API}$metadata#EntityDefinitions('account')/Attributes/Microsoft.Dynamics.CRM.MoneyAttributeMetadata"
        f"(LogicalName,Precision)"
    )
    precisions = {row["LogicalName"]: row["Precision"] for row in body["value"]}
    assert precisions["revenue"] == 2
    assert precisions["revenue_base"] == 4


def test_column_collection_filters(org: Org) -> None:
    rows = org.get(
        "EntityDefinitions(LogicalName='lead')/Attributes",
        "$select=SchemaName&$filter=RequiredLevel/Value eq Microsoft.Dynamics.CRM.AttributeRequiredLevel"
        "'ApplicationRequired'",
    )["value"]
    assert "subject" in {row["SchemaName"] for row in rows}
    strings = org.get("EntityDefinitions(LogicalName='account')/Attributes", "$filter=AttributeType eq 'String'")
    assert all(row["AttributeType"] == "String" for row in strings["value"])
    assert {"name", "accountnumber"} <= {row["LogicalName"] for row in strings["value"]}


def test_an_unknown_column_is_a_404(org: Org) -> None:
    error = org.error("GET", "EntityDefinitions(LogicalName='task')/Attributes(LogicalName='nope')")
    assert (error.status, error.code) == (404, "0x80040217")
    assert org.error("GET", f"EntityDefinitions(LogicalName='task')/Attributes({uuid.uuid4()})").status == 404


def test_choice_options_through_the_picklist_cast(org: Org) -> None:
    body = org.get(
        "EntityDefinitions(LogicalName='opportunity')/Attributes(LogicalName='salesstage')/"
        "Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
        "$select=LogicalName&$expand=OptionSet($select=Options),GlobalOptionSet($select=Options)",
    )

    assert body["@odata.context"] == (
        f"{API}$metadata#EntityDefinitions('opportunity')/Attributes/Microsoft.Dynamics.CRM."
        f"PicklistAttributeMetadata(LogicalName,OptionSet(Options),GlobalOptionSet(Options))/$entity"
    )
    assert body["GlobalOptionSet"] is None
    assert set(body["OptionSet"]) == {"Options", "MetadataId"}
    option = body["OptionSet"]["Options"][0]
    assert option["Value"] == 0
    assert option["Label"]["LocalizedLabels"][0]["LanguageCode"] == 1033
    assert option["Label"]["UserLocalizedLabel"]["Label"] == "Qualify"
    assert option["Description"] == {"LocalizedLabels": [], "UserLocalizedLabel": None}
    assert [o["Value"] for o in body["OptionSet"]["Options"]] == [0, 1, 2, 3]


def test_every_picklist_at_once_with_spanish_labels(org: Org) -> None:
    rows = org.get(
        "EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
        "$select=LogicalName&$expand=OptionSet,GlobalOptionSet",
    )["value"]

    industry = next(row for row in rows if row["LogicalName"] == "industrycode")
    assert industry["OptionSet"]["Name"] == "account_industrycode"
    assert industry["OptionSet"]["IsGlobal"] is False
    first = industry["OptionSet"]["Options"][0]["Label"]["LocalizedLabels"]
    assert [(label["Label"], label["LanguageCode"]) for label in first] == [
        ("Accounting", 1033),
        ("Contabilidad", 3082),
    ]
    assert all((row["OptionSet"] is None) != (row["GlobalOptionSet"] is None) for row in rows)


def test_state_status_and_boolean_option_sets(org: Org) -> None:
    base = "EntityDefinitions(LogicalName='opportunity')/Attributes"
    state = org.get(
        f"{base}(LogicalName='statecode')/Microsoft.Dynamics.CRM.StateAttributeMetadata", "$expand=OptionSet"
    )
    assert {o["Value"]: o["DefaultStatus"] for o in state["OptionSet"]["Options"]} == {0: 1, 1: 3, 2: 4}
    status = org.get(
        f"{base}(LogicalName='statuscode')/Microsoft.Dynamics.CRM.StatusAttributeMetadata", "$expand=OptionSet"
    )
    assert {o["Value"]: o["State"] for o in status["OptionSet"]["Options"]}[3] == 1
    call = org.get(
        "EntityDefinitions(LogicalName='phonecall')/Attributes(LogicalName='directioncode')/"
        "Microsoft.Dynamics.CRM.BooleanAttributeMetadata",
        "$expand=OptionSet($select=TrueOption,FalseOption)",
    )
    labels_ = {
        call["OptionSet"]["TrueOption"]["Value"]: call["OptionSet"]["TrueOption"]["Label"]["UserLocalizedLabel"][
            "Label"
        ],
        call["OptionSet"]["FalseOption"]["Value"]: call["OptionSet"]["FalseOption"]["Label"]["UserLocalizedLabel"][
            "Label"
        ],
    }
    assert labels_ == {1: "Outgoing", 0: "Incoming"}
    only_options = org.get(
        f"{base}(LogicalName='salesstage')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata/OptionSet",
        "$select=Options",
    )
    assert set(only_options) == {"@odata.context", "Options", "MetadataId"}


def test_casts_that_do_not_fit_are_refused(org: Org) -> None:
    base = "EntityDefinitions(LogicalName='opportunity')/Attributes"
    assert (
        org.error("GET", f"{base}(LogicalName='name')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata").status == 404
    )
    assert org.error("GET", f"{base}/Microsoft.Dynamics.CRM.EnumAttributeMetadata").status == 400
    assert org.error("GET", f"{base}(LogicalName='salesstage')", "$expand=OptionSet").status == 400
    empty = org.get(f"{base}/Microsoft.Dynamics.CRM.MultiSelectPicklistAttributeMetadata", "$select=LogicalName")
    assert empty["value"] == []


def test_a_global_choice_is_the_global_option_set(org: Org) -> None:
    catalogue = org.state.catalogue
    catalogue.global_option_sets["new_tier"] = (OptionDef(1, "Gold"), OptionDef(2, "Silver"))
    catalogue.entity("account").add(
        AttributeDef(
            "new_tier",
            AttributeType.PICKLIST,
            options=catalogue.global_option_sets["new_tier"],
            global_option_set="new_tier",
            is_custom=True,
        )
    )

    body = org.get(
        "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='new_tier')/"
        "Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
        "$select=LogicalName&$expand=OptionSet,GlobalOptionSet",
    )
    assert body["OptionSet"] is None
    assert body["GlobalOptionSet"]["IsGlobal"] is True
    assert body["GlobalOptionSet"]["Name"] == "new_tier"
    assert [o["Value"] for o in body["GlobalOptionSet"]["Options"]] == [1, 2]

    by_name = org.get("GlobalOptionSetDefinitions(Name='new_tier')")
    assert by_name["@odata.context"] == f"{API}$metadata#GlobalOptionSetDefinitions/$entity"
    assert by_name["@odata.type"] == "#Microsoft.Dynamics.CRM.OptionSetMetadata"
    assert by_name["MetadataId"] == body["GlobalOptionSet"]["MetadataId"]
    assert org.get(f"GlobalOptionSetDefinitions({by_name['MetadataId']})", "$select=Name")["Name"] == "new_tier"
    assert org.error("GET", "GlobalOptionSetDefinitions(Name='metric_goaltype')").status == 404
    assert org.error("GET", "GlobalOptionSetDefinitions", "$filter=Name eq 'new_tier'").status == 400


# --- relationships -----------------------------------------------------------------------------------------


def test_many_to_one_relationships_give_the_bind_names(org: Org) -> None:
    body = org.get(
        "EntityDefinitions(LogicalName='task')/ManyToOneRelationships",
        "$select=ReferencingAttribute,ReferencedEntity,ReferencedAttribute,ReferencingEntityNavigationPropertyName,"
        "ReferencedEntityNavigationPropertyName,SchemaName&$filter=ReferencingAttribute eq 'regardingobjectid'",
    )

    assert body["@odata.context"] == (
        f"{API}$metadata#EntityDefinitions('task')/ManyToOneRelationships(ReferencingAttribute,ReferencedEntity,"
        f"ReferencedAttribute,ReferencingEntityNavigationPropertyName,ReferencedEntityNavigationPropertyName,SchemaName)"
    )
    contact = next(row for row in body["value"] if row["ReferencedEntity"] == "contact")
    assert contact == {
        "MetadataId": stable_id("relationship", "Contact_Tasks"),
        "SchemaName": "Contact_Tasks",
        "ReferencingAttribute": "regardingobjectid",
        "ReferencedEntity": "contact",
        "ReferencedAttribute": "contactid",
        "ReferencingEntityNavigationPropertyName": "regardingobjectid_contact_task",
        "ReferencedEntityNavigationPropertyName": "Contact_Tasks",
    }
    assert len(body["value"]) == 4


def test_one_to_many_and_relationship_definitions(org: Org) -> None:
    one_to_many = org.get("EntityDefinitions(LogicalName='account')/OneToManyRelationships", "$select=SchemaName")
    assert "Account_Tasks" in {row["SchemaName"] for row in one_to_many["value"]}

    by_name = org.get("RelationshipDefinitions(SchemaName='Account_Tasks')")
    assert by_name["@odata.type"] == "#Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata"
    assert (by_name["ReferencingEntity"], by_name["ReferencedEntity"]) == ("task", "account")
    assert by_name["RelationshipType"] == "OneToManyRelationship"
    assert by_name["CascadeConfiguration"]["Delete"] == "Cascade"  # reference/entities/account.md: parental
    assert org.get(f"RelationshipDefinitions({by_name['MetadataId']})", "$select=SchemaName")["SchemaName"] == (
        "Account_Tasks"
    )
    filtered = org.get("RelationshipDefinitions", "$filter=SchemaName eq 'Account_Tasks'")["value"]
    assert [row["SchemaName"] for row in filtered] == ["Account_Tasks"]
    cast = org.get(
        "RelationshipDefinitions/Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
        "$select=SchemaName&$filter=ReferencedEntity eq 'lead'",
    )
    assert "Lead_Tasks" in {row["SchemaName"] for row in cast["value"]}
    assert org.get("EntityDefinitions(LogicalName='account')/ManyToManyRelationships")["value"] == []
    assert org.error("GET", "RelationshipDefinitions(SchemaName='nope')").status == 404


# --- creating tables ---------------------------------------------------------------------------------------


def test_create_a_custom_table_end_to_end(org: Org) -> None:
    response = org.send("POST", "EntityDefinitions", body=bank_account())

    assert response.status == 204
    entity = org.state.catalogue.entity("new_bankaccount")
    assert response.headers.get("OData-EntityId") == f"{API}EntityDefinitions({entity.metadata_id})"
    assert (entity.entity_set_name, entity.primary_id, entity.primary_name) == (
        "new_bankaccounts",
        "new_bankaccountid",
        "new_accountname",
    )
    assert org.state.catalogue.entity_by_set("new_bankaccounts") is entity
    assert entity.object_type_code >= 10000
    assert entity.bulk_messages == frozenset(BULK_MESSAGES)
    assert entity.is_custom
    assert not entity.change_tracking_enabled

    meta = org.get(f"EntityDefinitions({entity.metadata_id})", "$select=IsCustomEntity,DisplayName,SchemaName")
    assert (meta["IsCustomEntity"], meta["SchemaName"]) == (True, "new_BankAccount")
    assert meta["DisplayName"]["UserLocalizedLabel"]["Label"] == "Bank Account"
    name = org.get("EntityDefinitions(LogicalName='new_bankaccount')/Attributes(LogicalName='new_accountname')")
    assert (name["MaxLength"], name["IsPrimaryName"], name["IsCustomAttribute"]) == (100, True, True)

    # The storage table accepts rows; the owner relationships and columns are the usual ones.
    record = str(uuid.uuid4())
    org.state.storage.insert("new_bankaccount", {"new_bankaccountid": record, "new_accountname": "Checking"})
    row = org.state.storage.get("new_bankaccount", "new_bankaccountid", record)
    assert row is not None
    assert row["new_accountname"] == "Checking"
    assert {"ownerid", "owninguser", "statecode", "versionnumber", "createdby"} <= storage_columns(
        org, "new_bankaccount"
    )
    assert org.state.catalogue.single_valued_nav("new_bankaccount", "ownerid") is not None
    assert "lk_new_bankaccount_createdby" in org.state.catalogue.relationships

    # Every System Administrator holds the new table's privileges at Global depth.
    for verb in ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share"):
        assert org.state.security.depth(org.admin, privilege_name(verb, entity)) == Depth.GLOBAL
    # Bulk-support probes find the table's sdkmessagefilter rows.
    probes = org.state.storage.scalar(
        'SELECT COUNT(*) FROM "sdkmessagefilter" WHERE primaryobjecttypecode = ?', ("new_bankaccount",)
    )
    assert probes == len(BULK_MESSAGES)


def test_a_table_with_notes_activities_and_change_tracking(org: Org) -> None:
    entity = create_bank_account(org, HasNotes=True, HasActivities=True, ChangeTrackingEnabled=True)
    catalogue = org.state.catalogue

    assert entity.change_tracking_enabled
    notes = catalogue.relationships["new_bankaccount_Annotations"]
    assert (notes.referencing_entity, notes.referencing_nav) == ("annotation", "objectid_new_bankaccount")
    assert "new_bankaccount" in catalogue.entity("annotation").attributes["objectid"].targets
    regarding = catalogue.single_valued_nav("task", "regardingobjectid_new_bankaccount_task")
    assert regarding is not None
    assert regarding.referenced_entity == "new_bankaccount"
    assert "new_bankaccount" in catalogue.entity("task").attributes["regardingobjectid"].targets
    assert catalogue.collection_nav("new_bankaccount", "new_bankaccount_Tasks") is regarding


def test_entity_set_names_are_plurals() -> None:
    assert plural_name("new_bankaccount") == "new_bankaccounts"
    assert plural_name("new_box") == "new_boxes"
    assert plural_name("new_status") == "new_statuses"
    assert plural_name("new_city") == "new_cities"
    assert plural_name("new_day") == "new_days"


def test_creating_a_table_twice_is_refused(org: Org) -> None:
    create_bank_account(org)
    error = org.error("POST", "EntityDefinitions", body=bank_account())
    assert (error.status, error.code) == (400, "0x8004700b")
    assert error.message == "An entity with the specified name already exists. Please specify a unique name."


def test_invalid_table_definitions_are_refused(org: Org) -> None:
    assert org.error("POST", "EntityDefinitions", body=bank_account(SchemaName="BankAccount")).status == 400
    assert org.error("POST", "EntityDefinitions", body=bank_account(Attributes=[])).status == 400
    not_a_string = bank_account()
    not_a_string["Attributes"][0]["@odata.type"] = "Microsoft.Dynamics.CRM.IntegerAttributeMetadata"
    assert org.error("POST", "EntityDefinitions", body=not_a_string).code == "0x8004700e"
    assert org.error("POST", "EntityDefinitions", body=bank_account(OwnershipType="TeamOwned")).code == "0x8004700d"
    assert "new_bankaccount" not in org.state.catalogue.entities


def test_creating_a_table_needs_the_customization_privilege(org: Org) -> None:
    error = org.error("POST", "EntityDefinitions", body=bank_account(), caller=NOBODY)
    assert (error.status, error.code) == (403, "0x80040220")
    assert "prvCreateEntity" in error.message


def test_a_custom_activity_table(org: Org) -> None:
    definition = {
        "SchemaName": "new_MeetingNote",
        "DisplayName": labels("Meeting Note"),
        "DisplayCollectionName": labels("Meeting Notes"),
        "OwnershipType": "UserOwned",
        "IsActivity": True,
        "HasNotes": True,
        "Attributes": [],
    }
    assert org.send("POST", "EntityDefinitions", body=definition).status == 204
    catalogue = org.state.catalogue
    entity = catalogue.entity("new_meetingnote")

    assert (entity.primary_id, entity.primary_name, entity.is_activity) == ("activityid", "subject", True)
    assert entity.attributes["regardingobjectid"].targets == ("account", "contact", "lead", "opportunity")
    navs = {
        row["ReferencedEntity"]: row["ReferencingEntityNavigationPropertyName"]
        for row in org.get(
            "EntityDefinitions(LogicalName='new_meetingnote')/ManyToOneRelationships",
            "$filter=ReferencingAttribute eq 'regardingobjectid'",
        )["value"]
    }
    assert navs == {
        target: f"regardingobjectid_{target}_new_meetingnote"
        for target in ("account", "contact", "lead", "opportunity")
    }
    parties = catalogue.collection_nav("new_meetingnote", "new_meetingnote_activity_parties")
    assert parties is not None
    assert parties.referencing_entity == "activityparty"
    assert "new_meetingnote" in catalogue.entity("activityparty").attributes["activityid"].targets
    assert catalogue.single_valued_nav("new_meetingnote", "regardingobjectid_contact") is None
    assert {"activityid", "subject", "regardingobjectid", "activitytypecode"} <= storage_columns(org, "new_meetingnote")
    assert org.state.security.depth(org.admin, "prvCreateActivity") == Depth.GLOBAL
    meta = org.get("EntityDefinitions(LogicalName='new_meetingnote')", "$select=IsActivity,PrimaryIdAttribute")
    assert (meta["IsActivity"], meta["PrimaryIdAttribute"]) == (True, "activityid")


def test_activity_tables_follow_dataverse_rules(org: Org) -> None:
    activity = {"SchemaName": "new_Visit", "IsActivity": True, "Attributes": []}
    assert org.error("POST", "EntityDefinitions", body={**activity, "HasActivities": True}).code == "0x8004F121"
    assert org.error("POST", "EntityDefinitions", body={**activity, "HasNotes": False}).code == "0x8004F123"
    assert (
        org.error("POST", "EntityDefinitions", body={**activity, "OwnershipType": "OrganizationOwned"}).code
        == "0x8004700d"
    )
    wrong_primary = {**activity, "Attributes": bank_account()["Attributes"]}
    assert org.error("POST", "EntityDefinitions", body=wrong_primary).code == "0x8004F127"


def test_the_create_entities_action_of_microsofts_sdk(org: Org) -> None:
    label = {
        "@odata.type": "Microsoft.Dynamics.CRM.Label",
        "LocalizedLabels": [{"Label": "Product", "LanguageCode": 1033}],
    }
    body = {
        "Entities": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.ComplexEntityMetadata",
                "SchemaName": "new_Product",
                "DisplayName": label,
                "DisplayCollectionName": label,
                "Description": label,
                "OwnershipType": "UserOwned",
                "HasActivities": False,
                "HasNotes": True,
                "IsActivity": False,
                "Attributes": [
                    {
                        "@odata.type": "Microsoft.Dynamics.CRM.ComplexStringAttributeMetadata",
                        "SchemaName": "new_Name",
                        "DisplayName": label,
                        "RequiredLevel": {"Value": "None"},
                        "MaxLength": 200,
                        "FormatName": {"Value": "Text"},
                        "IsPrimaryName": True,
                    },
                    {
                        "@odata.type": "Microsoft.Dynamics.CRM.ComplexPicklistAttributeMetadata",
                        "SchemaName": "new_Status",
                        "DisplayName": label,
                        "RequiredLevel": {"Value": "None"},
                        "IsPrimaryName": False,
                        "OptionSet": {
                            "@odata.type": "Microsoft.Dynamics.CRM.ComplexOptionSetMetadata",
                            "IsGlobal": False,
                            "Options": [
                                {"Value": 1, "Label": labels("ACTIVE")},
                                {"Value": 2, "Label": labels("INACTIVE")},
                            ],
                        },
                    },
                ],
            }
        ]
    }
    response = org.send("POST", "CreateEntities", body=body)

    assert response.status == 200
    payload = orjson.loads(response.body)
    entity = org.state.catalogue.entity("new_product")
    assert payload["EntityIds"] == [entity.metadata_id]
    assert [o.label for o in entity.attributes["new_status"].options] == ["ACTIVE", "INACTIVE"]
    found = org.get(
        "EntityDefinitions",
        "$select=MetadataId,LogicalName,SchemaName,EntitySetName,PrimaryNameAttribute,PrimaryIdAttribute"
        "&$filter=LogicalName eq 'new_product'",
    )["value"]
    assert [(row["EntitySetName"], row["PrimaryNameAttribute"]) for row in found] == [("new_products", "new_name")]
    assert "CreateEntities" in METADATA_ROOTS  # the engine must route the action here


def test_a_failed_table_creation_leaves_no_trace(org: Org) -> None:
    # An index squatting on the table's name makes CREATE TABLE fail after the catalogue was changed.
    org.state.storage.conn.execute('CREATE TABLE "blocker" (x)')
    org.state.storage.conn.execute('CREATE INDEX "new_bankaccount" ON "blocker" (x)')
    relationships = dict(org.state.catalogue.relationships)
    annotation_targets = org.state.catalogue.entity("annotation").attributes["objectid"].targets

    with pytest.raises(sqlite3.OperationalError):
        org.send("POST", "EntityDefinitions", body=bank_account(HasNotes=True))

    assert org.state.catalogue.find_entity("new_bankaccount") is None
    assert org.state.catalogue.entity_by_set("new_bankaccounts") is None
    assert org.state.catalogue.relationships == relationships
    assert org.state.catalogue.entity("annotation").attributes["objectid"].targets == annotation_targets


def test_a_minimal_installer_target(tmp_path: Any) -> None:
    """A bare catalogue: the security tables and one table, no activities, notes or sdkmessagefilters."""
    catalogue = Catalogue()
    role = EntityDef("role", "roles", "roleid", "name", 1036, ownership_type=OwnershipType.BUSINESS_OWNED)
    role.add(
        AttributeDef("roleid", AttributeType.UNIQUEIDENTIFIER, is_primary_id=True),
        AttributeDef("name", AttributeType.STRING, max_length=100, is_primary_name=True),
        AttributeDef("businessunitid", AttributeType.LOOKUP, targets=("businessunit",)),
    )
    privilege = EntityDef("privilege", "privileges", "privilegeid", "name", 1023, ownership_type=OwnershipType.NONE)
    privilege.add(
        AttributeDef("privilegeid", AttributeType.UNIQUEIDENTIFIER, is_primary_id=True),
        AttributeDef("name", AttributeType.STRING, max_length=100, is_primary_name=True),
        *(AttributeDef(f"canbe{d}", AttributeType.BOOLEAN) for d in ("basic", "local", "deep", "global")),
    )
    for entity in (role, privilege):
        catalogue.add_entity(entity)
    storage = Storage(str(tmp_path / "bare.db"))
    for entity in (role, privilege):
        storage.ensure_table(entity)
    security = Security(storage, catalogue)
    state = SandboxState(catalogue=catalogue, storage=storage, security=security)
    admin_role, admin = str(uuid.uuid4()), str(uuid.uuid4())
    security.ensure_privileges()
    storage.insert("role", {"roleid": admin_role, "name": "System Administrator"})
    security.grant(admin_role, {"prvCreateEntity": Depth.GLOBAL, "prvCreateAttribute": Depth.GLOBAL})
    security.assign_role(admin, admin_role)
    bare = Org(state, admin)

    entity = create_bank_account(bare, OwnershipType="OrganizationOwned")

    assert entity.ownership_type == OwnershipType.ORGANIZATION_OWNED
    assert "organizationid" in entity.attributes
    assert "ownerid" not in entity.attributes
    assert security.depth(admin, privilege_name("Read", entity)) == Depth.GLOBAL
    storage.insert("new_bankaccount", {"new_bankaccountid": str(uuid.uuid4()), "new_accountname": "x"})
    assert storage.scalar('SELECT COUNT(*) FROM "new_bankaccount"') == 1
    assert (
        bare.send(
            "POST", "EntityDefinitions(LogicalName='new_bankaccount')/Attributes", body=column("Integer", "new_Rank")
        ).status
        == 204
    )


# --- columns: creating, updating, deleting -----------------------------------------------------------------


def test_add_columns_of_each_kind(org: Org) -> None:
    create_bank_account(org)
    path = "EntityDefinitions(LogicalName='new_bankaccount')/Attributes"
    choice = column(
        "Picklist",
        "new_Kind",
        OptionSet={
            "@odata.type": "Microsoft.Dynamics.CRM.OptionSetMetadata",
            "IsGlobal": False,
            "OptionSetType": "Picklist",
            "Options": [{"Value": 727000000, "Label": labels("Bravo")}, {"Label": labels("Delta")}],
        },
    )
    definitions = [
        column("String", "new_BankName", MaxLength=100, FormatName={"Value": "Text"}),
        column("Memo", "new_Notes", MaxLength=500),
        column("Integer", "new_Rank", MinValue=0, MaxValue=100),
        column("Decimal", "new_Rate", Precision=1, MinValue=0.0, MaxValue=100.0),
        column("Money", "new_Balance", PrecisionSource=2),
        column("DateTime", "new_Checked", Format="DateOnly", DateTimeBehavior={"Value": "DateOnly"}),
        column(
            "Boolean",
            "new_Active",
            DefaultValue=True,
            OptionSet={
                "TrueOption": {"Value": 1, "Label": labels("On")},
                "FalseOption": {"Value": 0, "Label": labels("Off")},
            },
        ),
        choice,
    ]
    for definition in definitions:
        response = org.send("POST", path, body=definition)
        assert response.status == 204
        added = org.state.catalogue.entity("new_bankaccount").attributes[definition["SchemaName"].lower()]
        assert response.headers.get("OData-EntityId") == (
            f"{API}EntityDefinitions(LogicalName='new_bankaccount')/Attributes({added.metadata_id('new_bankaccount')})"
        )

    entity = org.state.catalogue.entity("new_bankaccount")
    assert entity.attributes["new_bankname"].max_length == 100
    assert entity.attributes["new_checked"].date_only
    assert (entity.attributes["new_active"].true_label, entity.attributes["new_active"].default_value) == ("On", True)
    assert [o.value for o in entity.attributes["new_kind"].options] == [727000000, 100000001]
    assert {"new_balance_base", "transactioncurrencyid", "exchangerate"} <= set(entity.attributes)
    assert "TransactionCurrency_new_bankaccount" in org.state.catalogue.relationships
    assert {
        "new_bankname",
        "new_notes",
        "new_rank",
        "new_rate",
        "new_balance",
        "new_balance_base",
        "new_checked",
        "new_active",
        "new_kind",
        "transactioncurrencyid",
    } <= storage_columns(org, "new_bankaccount")
    rank = org.get(f"{path}(LogicalName='new_rank')")
    assert (rank["@odata.type"], rank["MinValue"], rank["MaxValue"]) == (
        "#Microsoft.Dynamics.CRM.IntegerAttributeMetadata",
        0,
        100,
    )
    kind = org.get(
        f"{path}(LogicalName='new_kind')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata", "$expand=OptionSet"
    )
    assert [o["Label"]["UserLocalizedLabel"]["Label"] for o in kind["OptionSet"]["Options"]] == ["Bravo", "Delta"]


def test_columns_on_a_standard_table(org: Org) -> None:
    path = "EntityDefinitions(LogicalName='contact')/Attributes"
    assert org.send("POST", path, body=column("String", "sb_LinkedInUrl", MaxLength=200)).status == 204
    assert "sb_linkedinurl" in storage_columns(org, "contact")

    duplicate = org.error("POST", path, body=column("String", "sb_LinkedInUrl"))
    assert (duplicate.status, duplicate.code) == (400, "0x80047013")
    lookup = org.error("POST", path, body=column("Lookup", "sb_AccountId"))
    assert "RelationshipDefinitions" in lookup.message
    assert org.error("POST", path, body=column("String", "nolinkedin")).status == 400
    assert org.error("POST", path, body=column("Integer", "sb_Bad", MinValue=5, MaxValue=1)).status == 400
    denied = org.error("POST", path, body=column("String", "sb_Other"), caller=NOBODY)
    assert denied.status == 403


def test_update_and_delete_a_column(org: Org) -> None:
    path = "EntityDefinitions(LogicalName='contact')/Attributes"
    org.send("POST", path, body=column("String", "sb_Handle", MaxLength=50))
    update = {
        "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
        "MaxLength": 150,
        "DisplayName": labels("Handle"),
        "RequiredLevel": {"Value": "Recommended"},
    }
    assert org.send("PUT", f"{path}(LogicalName='sb_handle')", body=update).status == 204
    body = org.get(f"{path}(LogicalName='sb_handle')")
    assert (body["MaxLength"], body["RequiredLevel"]["Value"]) == (150, "Recommended")
    assert body["DisplayName"]["UserLocalizedLabel"]["Label"] == "Handle"
    retype = {"@odata.type": "Microsoft.Dynamics.CRM.MemoAttributeMetadata"}
    assert org.error("PUT", f"{path}(LogicalName='sb_handle')", body=retype).status == 400

    assert org.send("DELETE", f"{path}(LogicalName='sb_handle')").status == 204
    assert org.error("GET", f"{path}(LogicalName='sb_handle')").status == 404
    assert "sb_handle" not in storage_columns(org, "contact")
    assert org.error("DELETE", f"{path}(LogicalName='lastname')").status == 400


# --- lookups through RelationshipDefinitions --------------------------------------------------------------


def one_to_many(**overrides: Any) -> dict[str, Any]:
    """The relationship of create-update-entity-relationships-using-web-api.md."""
    body: dict[str, Any] = {
        "SchemaName": "new_contact_new_bankaccount",
        "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
        "CascadeConfiguration": {
            "Assign": "Cascade",
            "Delete": "Cascade",
            "Merge": "Cascade",
            "Reparent": "Cascade",
            "Share": "Cascade",
            "Unshare": "Cascade",
        },
        "ReferencedAttribute": "contactid",
        "ReferencedEntity": "contact",
        "ReferencingEntity": "new_bankaccount",
        "Lookup": {
            "AttributeType": "Lookup",
            "AttributeTypeName": {"Value": "LookupType"},
            "DisplayName": labels("Account Owner"),
            "RequiredLevel": {
                "Value": "ApplicationRequired",
                "CanBeChanged": True,
                "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
            },
            "SchemaName": "new_AccountOwner",
            "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata",
        },
    }
    body.update(overrides)
    return body


def test_a_lookup_column_through_a_relationship(org: Org) -> None:
    create_bank_account(org)

    response = org.send("POST", "RelationshipDefinitions", body=one_to_many())

    assert response.status == 204
    relationship = org.state.catalogue.relationships["new_contact_new_bankaccount"]
    assert response.headers.get("OData-EntityId") == f"{API}RelationshipDefinitions({relationship.metadata_id()})"
    assert (relationship.referencing_nav, relationship.referenced_nav) == (
        "new_AccountOwner",
        "new_contact_new_bankaccount",
    )
    assert relationship.is_custom
    lookup = org.get("EntityDefinitions(LogicalName='new_bankaccount')/Attributes(LogicalName='new_accountowner')")
    assert (lookup["AttributeType"], lookup["Targets"], lookup["RequiredLevel"]["Value"]) == (
        "Lookup",
        ["contact"],
        "ApplicationRequired",
    )
    assert {"new_accountowner", "new_accountowner__type"} <= storage_columns(org, "new_bankaccount")
    assert org.state.catalogue.single_valued_nav("new_bankaccount", "new_AccountOwner") is relationship
    assert org.state.catalogue.collection_nav("contact", "new_contact_new_bankaccount") is relationship
    typed = org.get("RelationshipDefinitions", "$filter=SchemaName eq 'new_contact_new_bankaccount'")["value"][0]
    assert typed["@odata.type"] == "#Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata"
    assert typed["IsCustomRelationship"] is True

    duplicate = org.error("POST", "RelationshipDefinitions", body=one_to_many())
    assert duplicate.status == 400


def test_lookup_navigation_names_can_be_chosen(org: Org) -> None:
    create_bank_account(org)
    body = one_to_many(
        SchemaName="new_account_new_bankaccount",
        ReferencedEntity="account",
        ReferencedAttribute="accountid",
        ReferencingEntityNavigationPropertyName="new_BankOf",
        ReferencedEntityNavigationPropertyName="new_BankAccounts",
    )
    body["Lookup"]["SchemaName"] = "new_AccountId"
    assert org.send("POST", "RelationshipDefinitions", body=body).status == 204
    relationship = org.state.catalogue.relationships["new_account_new_bankaccount"]
    assert (relationship.referencing_nav, relationship.referenced_nav) == ("new_BankOf", "new_BankAccounts")

    assert org.send("DELETE", f"RelationshipDefinitions({relationship.metadata_id()})").status == 204
    assert "new_account_new_bankaccount" not in org.state.catalogue.relationships
    assert "new_accountid" not in org.state.catalogue.entity("new_bankaccount").attributes
    assert org.error("DELETE", "RelationshipDefinitions(SchemaName='Account_Tasks')").status == 400


def test_invalid_relationships_are_refused(org: Org) -> None:
    create_bank_account(org)
    many_to_many = {"@odata.type": "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata", "SchemaName": "new_x"}
    assert org.error("POST", "RelationshipDefinitions", body=many_to_many).status == 400
    assert org.error("POST", "RelationshipDefinitions", body=one_to_many(ReferencedEntity="adx_blog")).status == 404
    assert org.error("POST", "RelationshipDefinitions", body=one_to_many(Lookup=None)).status == 400
    assert org.error("POST", "RelationshipDefinitions", body=one_to_many(ReferencedAttribute="fullname")).status == 400


# --- table updates and deletion ---------------------------------------------------------------------------


def test_change_tracking_can_be_enabled_not_disabled(org: Org) -> None:
    role = "EntityDefinitions(LogicalName='role')"
    assert org.get(role, "$select=ChangeTrackingEnabled")["ChangeTrackingEnabled"] is False

    assert org.send("PUT", role, body={"ChangeTrackingEnabled": True, "DisplayName": labels("Role")}).status == 204

    body = org.get(role, "$select=ChangeTrackingEnabled,DisplayName")
    assert body["ChangeTrackingEnabled"] is True
    assert body["DisplayName"]["UserLocalizedLabel"]["Label"] == "Role"
    assert org.state.catalogue.entity("role").change_tracking_enabled
    error = org.error("PATCH", role, body={"ChangeTrackingEnabled": False})
    assert error.status == 400
    assert org.send("PATCH", role, body={"ChangeTrackingEnabled": True}).status == 204
    assert org.error("PUT", role, body={"LogicalName": "roles"}).status == 400
    assert org.error("PUT", role, body={"ChangeTrackingEnabled": True}, caller=NOBODY).status == 403


def test_enabling_notes_later_adds_the_relationship(org: Org) -> None:
    create_bank_account(org)
    path = "EntityDefinitions(LogicalName='new_bankaccount')"
    assert org.send("PATCH", path, body={"HasNotes": True}).status == 204
    assert org.get(path, "$select=HasNotes")["HasNotes"] is True
    assert "new_bankaccount_Annotations" in org.state.catalogue.relationships
    assert org.error("PATCH", path, body={"HasNotes": False}).status == 400


def test_delete_a_custom_table(org: Org) -> None:
    entity = create_bank_account(org, HasNotes=True)
    org.send("POST", "RelationshipDefinitions", body=one_to_many())

    assert org.send("DELETE", f"EntityDefinitions({entity.metadata_id})").status == 204

    catalogue = org.state.catalogue
    assert catalogue.find_entity("new_bankaccount") is None
    assert catalogue.entity_by_set("new_bankaccounts") is None
    assert not [
        r for r in catalogue.relationships.values() if "new_bankaccount" in (r.referencing_entity, r.referenced_entity)
    ]
    assert "new_bankaccount" not in catalogue.entity("annotation").attributes["objectid"].targets
    assert storage_columns(org, "new_bankaccount") == set()
    assert org.error("GET", "EntityDefinitions(LogicalName='new_bankaccount')").status == 404
    assert org.error("DELETE", "EntityDefinitions(LogicalName='account')").status == 400


# --- alternate keys ----------------------------------------------------------------------------------------


def test_an_alternate_key_and_its_unique_index(org: Org) -> None:
    key = {
        "SchemaName": "sb_accountnumber_key",
        "DisplayName": labels("Account number"),
        "KeyAttributes": ["accountnumber"],
    }

    response = org.send("POST", "EntityDefinitions(LogicalName='account')/Keys", body=key)

    assert response.status == 204
    account = org.state.catalogue.entity("account")
    assert [k.key_attributes for k in account.keys] == [("accountnumber",)]
    assert response.headers.get("OData-EntityId") == (
        f"{API}EntityDefinitions(LogicalName='account')/Keys({account.keys[0].metadata_id('account')})"
    )
    body = org.get("EntityDefinitions(LogicalName='account')/Keys")
    assert body["@odata.context"] == f"{API}$metadata#EntityDefinitions('account')/Keys"
    (row,) = body["value"]
    assert (row["SchemaName"], row["LogicalName"], row["KeyAttributes"], row["EntityKeyIndexStatus"]) == (
        "sb_accountnumber_key",
        "sb_accountnumber_key",
        ["accountnumber"],
        "Active",
    )
    storage = org.state.storage
    storage.insert("account", {"accountid": str(uuid.uuid4()), "name": "A", "accountnumber": "ACC-1"})
    with pytest.raises(sqlite3.IntegrityError):
        storage.insert("account", {"accountid": str(uuid.uuid4()), "name": "B", "accountnumber": "ACC-1"})
    assert org.error("POST", "EntityDefinitions(LogicalName='account')/Keys", body=key).status == 400

    assert org.send("DELETE", f"EntityDefinitions(LogicalName='account')/Keys({row['MetadataId']})").status == 204
    assert account.keys == []
    storage.insert("account", {"accountid": str(uuid.uuid4()), "name": "B", "accountnumber": "ACC-1"})


def test_a_key_over_duplicate_values_fails_its_index(org: Org) -> None:
    storage = org.state.storage
    for name in ("A", "B"):
        storage.insert("account", {"accountid": str(uuid.uuid4()), "name": name, "tickersymbol": "SAME"})
    key = {"SchemaName": "sb_ticker_key", "KeyAttributes": ["tickersymbol"]}

    assert org.send("POST", "EntityDefinitions(LogicalName='account')/Keys", body=key).status == 204

    assert org.state.catalogue.entity("account").keys == []
    statuses = {
        row["SchemaName"]: row["EntityKeyIndexStatus"]
        for row in org.get("EntityDefinitions(LogicalName='account')/Keys")["value"]
    }
    assert statuses == {"sb_ticker_key": "Failed"}


def test_invalid_keys_are_refused(org: Org) -> None:
    path = "EntityDefinitions(LogicalName='account')/Keys"
    assert org.error("POST", path, body={"SchemaName": "sb_k", "KeyAttributes": []}).status == 400
    assert org.error("POST", path, body={"SchemaName": "sb_k", "KeyAttributes": ["nope"]}).status == 404
    assert org.error("POST", path, body={"SchemaName": "sb_k", "KeyAttributes": ["description"]}).status == 400
    assert org.error("POST", path, body={"SchemaName": "sb_k", "KeyAttributes": ["name"]}, caller=NOBODY).status == 403


# --- routing -----------------------------------------------------------------------------------------------


def test_unknown_segments_and_methods(org: Org) -> None:
    assert org.error("GET", "EntityDefinitions(LogicalName='account')/Forms").message == (
        "Resource not found for the segment 'Forms'."
    )
    assert org.error("GET", "EntityDefinitions/Attributes").status == 404
    assert org.error("GET", "GlobalOptionSetDefinitions(Name='x')/Options").status == 404
    assert org.error("GET", "CreateEntities").status == 405
    assert org.error("DELETE", "EntityDefinitions").status == 405
    assert (
        org.error("GET", "EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.Nope").status
        == 404
    )


def test_relationship_definitions_list_every_relationship(org: Org) -> None:
    rows = org.get("RelationshipDefinitions", "$select=SchemaName")["value"]
    assert len(rows) == len(org.state.catalogue.relationships)
    assert all(set(row) == {"@odata.type", "SchemaName", "MetadataId"} for row in rows)


def test_deleting_a_custom_activity_table_deletes_its_activities_parties(org: Org) -> None:
    """As Dataverse deletes a table's rows with it: an activity's parties (``activityparty``) go too, the other
    tables' parties stay (the CRM app removed from under writeback, issue 16's fault 14)."""
    for schema in ("new_MeetingNote", "new_Visit"):
        definition = {"SchemaName": schema, "DisplayName": labels(schema), "IsActivity": True, "Attributes": []}
        assert org.send("POST", "EntityDefinitions", body=definition).status == 204
    with org.state.storage.transaction():
        writer = RowWriter(org.state)
        notes = writer.insert("new_meetingnote", {"subject": "Pricing"})
        visit = writer.insert("new_visit", {"subject": "On site"})
        for activity, table in ((notes, "new_meetingnote"), (visit, "new_visit")):
            writer.insert(
                "activityparty",
                {"activityid": activity, "activityid__type": table, "participationtypemask": 1},
            )

    assert org.send("DELETE", "EntityDefinitions(LogicalName='new_meetingnote')").status == 204

    parties = org.state.storage.conn.execute('SELECT activityid FROM "activityparty"').fetchall()
    assert [str(row[0]).lower() for row in parties if str(row[0]).lower() in (str(notes), str(visit))] == [
        str(visit).lower()
    ]
