"""DynamicsMetadata against a scripted Dataverse: the URLs it asks, labels in the configured language,
caching, WhoAmI and privileges."""

from __future__ import annotations

import asyncio

import pytest
from fake_dataverse import API, FakeDataverse, answer

from salesbridge.crm.dynamics.client import DynamicsClient
from salesbridge.crm.dynamics.metadata import DynamicsMetadata
from salesbridge.crm.ports import CallerIdentity, OptionInfo, Ownership, PrivilegeDepth, PrivilegeGrant

USER_ID = "e41ac31a-dcdf-ed11-a7c7-000d3a993550"


def label(english: str, spanish: str | None = None) -> dict[str, object]:
    localized = [{"Label": english, "LanguageCode": 1033}]
    if spanish:
        localized.append({"Label": spanish, "LanguageCode": 3082})
    return {"LocalizedLabels": localized, "UserLocalizedLabel": {"Label": english, "LanguageCode": 1033}}


OPPORTUNITY = {
    "LogicalName": "opportunity",
    "EntitySetName": "opportunities",
    "PrimaryIdAttribute": "opportunityid",
    "PrimaryNameAttribute": "name",
    "DisplayName": label("Opportunity", "Oportunidad"),
    "ChangeTrackingEnabled": True,
    "IsActivity": False,
    "OwnershipType": "UserOwned",
}
COLUMNS = {
    "value": [
        {"LogicalName": "name", "AttributeType": "String", "DisplayName": label("Topic", "Tema")},
        {"LogicalName": "salesstage", "AttributeType": "Picklist", "DisplayName": label("Sales Stage")},
        {"LogicalName": "statecode", "AttributeType": "State", "DisplayName": label("Status")},
        {"LogicalName": "customerid", "AttributeType": "Customer", "IsValidForUpdate": True},
    ]
}
SALES_STAGES = {
    "LogicalName": "salesstage",
    "OptionSet": {
        "Options": [{"Value": 0, "Label": label("Qualify", "Calificar")}, {"Value": 1, "Label": label("Develop")}]
    },
    "GlobalOptionSet": None,
}


@pytest.fixture
def metadata(client: DynamicsClient, dataverse: FakeDataverse) -> DynamicsMetadata:
    dataverse.on("GET", "EntityDefinitions(LogicalName='opportunity')", answer(200, OPPORTUNITY, delay_s=0.02))
    dataverse.on("GET", "EntityDefinitions(LogicalName='opportunity')/Attributes", answer(200, COLUMNS))
    return DynamicsMetadata(client, language_code=3082)


async def test_table_facts_are_read_once_even_when_asked_concurrently(
    metadata: DynamicsMetadata, dataverse: FakeDataverse
) -> None:
    first, second = await asyncio.gather(metadata.table("opportunity"), metadata.table("Opportunity"))
    third = await metadata.table("opportunity")

    assert first == second == third
    assert (first.entity_set_name, first.primary_id_column, first.display_name) == (
        "opportunities",
        "opportunityid",
        "Oportunidad",
    )
    assert first.is_change_tracked
    assert first.ownership is Ownership.USER
    (request,) = dataverse.requests
    assert request.path_qs.startswith(
        f"{API}EntityDefinitions(LogicalName='opportunity')?$select=LogicalName,EntitySetName"
    )


async def test_columns_know_their_lookups(metadata: DynamicsMetadata) -> None:
    columns = {column.logical_name: column for column in await metadata.columns("opportunity")}

    assert columns["customerid"].is_lookup
    assert not columns["name"].is_lookup
    assert columns["name"].display_name == "Tema"
    assert columns["salesstage"].display_name == "Sales Stage"  # no Spanish label: the user's label


async def test_choice_options_are_read_through_the_type_cast_and_labelled(
    metadata: DynamicsMetadata, dataverse: FakeDataverse
) -> None:
    cast = (
        "EntityDefinitions(LogicalName='opportunity')/Attributes(LogicalName='salesstage')"
        "/Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
    )
    dataverse.on("GET", cast, answer(200, SALES_STAGES))

    options = await metadata.options("opportunity", "salesstage")

    assert options == [OptionInfo(0, "Calificar"), OptionInfo(1, "Develop")]
    assert dataverse.requests_to(cast)[0].path_qs.endswith(
        "?$select=LogicalName&$expand=OptionSet($select=Options),GlobalOptionSet($select=Options)"
    )


async def test_a_column_that_is_not_a_choice_is_refused(metadata: DynamicsMetadata) -> None:
    with pytest.raises(ValueError, match="not a choice"):
        await metadata.options("opportunity", "name")


async def test_who_am_i_and_privileges(client: DynamicsClient, dataverse: FakeDataverse) -> None:
    dataverse.on(
        "GET", "WhoAmI", answer(200, {"UserId": USER_ID.upper(), "BusinessUnitId": "B", "OrganizationId": "O"})
    )
    grant = {
        "Depth": "Global",
        "PrivilegeId": "C2CBE3DB",
        "BusinessUnitId": "38E0DBE4",
        "PrivilegeName": "prvReadAccount",
    }
    by_name = (
        f"systemusers({USER_ID})/Microsoft.Dynamics.CRM.RetrieveUserPrivilegeByPrivilegeName"
        "(PrivilegeName='prvReadAccount')"
    )
    dataverse.on("GET", by_name, answer(200, {"RolePrivileges": [grant]}))
    dataverse.on(
        "GET",
        f"systemusers({USER_ID})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges",
        answer(200, {"RolePrivileges": []}),
    )
    metadata = DynamicsMetadata(client)

    identity = await metadata.who_am_i()
    held = await metadata.user_privilege(identity.user_id, "prvReadAccount")
    everything = await metadata.user_privileges(identity.user_id)

    assert identity == CallerIdentity(user_id=USER_ID, business_unit_id="b", organization_id="o")
    assert held == (PrivilegeGrant("prvReadAccount", PrivilegeDepth.GLOBAL, "c2cbe3db", "38e0dbe4"),)
    assert everything == ()
