"""Custom activity tables as an installer creates them (the CRM-side app of salesbridge does).

Sources (``MicrosoftDocs/powerapps-docs``, ``powerapps-docs/developer/data-platform/``): ``custom-activities.md``
("each custom activity must have a primary column named Subject"; privileges and activity parties are inherited
from activitypointer), the SDK sample "Create a custom activity entity" (learn ``gg509033``: the definition's
``PrimaryAttribute`` has SchemaName ``Subject``, without a customization prefix),
``webapi/create-update-entity-definitions-using-web-api.md`` (``POST EntityDefinitions``; other names carry the
publisher's prefix), ``define-alternate-keys-entity.md`` (keys), ``webapi/query-metadata-web-api.md``
(``ManyToOneRelationships``). A definition, once created, stays until deleted, restarts included.
"""

from __future__ import annotations

from typing import Any

from tests.conformance.conftest import WebApi
from tests.conformance.test_metadata_persistence import Start, start

__all__ = ["start"]  # the restart fixture, shared with the persistence tests


def _labels(text: str) -> dict[str, Any]:
    return {"@odata.type": "Microsoft.Dynamics.CRM.Label", "LocalizedLabels": [{"Label": text, "LanguageCode": 1033}]}


def _activity(schema_name: str, primary_schema_name: str) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
        "SchemaName": schema_name,
        "DisplayName": _labels("Instant Message"),
        "DisplayCollectionName": _labels("Instant Messages"),
        "OwnershipType": "UserOwned",
        "IsActivity": True,
        "HasActivities": False,
        "HasNotes": True,
        "IsAvailableOffline": True,
        "Attributes": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                "SchemaName": primary_schema_name,
                "IsPrimaryName": True,
                "MaxLength": 100,
                "RequiredLevel": {"Value": "None"},
                "DisplayName": _labels("Subject"),
            }
        ],
    }


def test_an_activity_defined_with_its_subject_primary_column_is_created(api: WebApi) -> None:
    assert api.post("EntityDefinitions", json=_activity("new_InstantMessage", "Subject")).status_code == 204

    table = api.get("EntityDefinitions(LogicalName='new_instantmessage')?$select=PrimaryNameAttribute,IsActivity")
    assert (table.json()["PrimaryNameAttribute"], table.json()["IsActivity"]) == ("subject", True)
    subject = api.get("EntityDefinitions(LogicalName='new_instantmessage')/Attributes(LogicalName='subject')")
    assert subject.json()["MaxLength"] == 100
    record = api.create("new_instantmessages", {"subject": "Hi"})
    assert api.get(f"new_instantmessages({record})?$select=subject").json()["subject"] == "Hi"


def test_an_activity_primary_column_of_another_name_is_refused(api: WebApi) -> None:
    refused = api.post("EntityDefinitions", json=_activity("new_InstantMessage", "new_Topic"))
    assert refused.status_code == 400
    unprefixed = api.post("EntityDefinitions", json={**_activity("new_Other", "Topic"), "IsActivity": False})
    assert unprefixed.status_code == 400


def test_an_activity_table_with_an_alternate_key_survives_a_restart(start: Start) -> None:
    api = start()
    assert api.post("EntityDefinitions", json=_activity("sb_Chat", "Subject")).status_code == 204
    column = {
        "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
        "SchemaName": "sb_ExternalId",
        "MaxLength": 100,
        "DisplayName": _labels("External id"),
    }
    assert api.post("EntityDefinitions(LogicalName='sb_chat')/Attributes", json=column).status_code == 204
    key = {
        "SchemaName": "sb_Chat_ExternalIdKey",
        "DisplayName": _labels("External id"),
        "KeyAttributes": ["sb_externalid"],
    }
    assert api.post("EntityDefinitions(LogicalName='sb_chat')/Keys", json=key).status_code == 204

    api = start()

    relationships = api.get(
        "EntityDefinitions(LogicalName='sb_chat')/ManyToOneRelationships"
        "?$select=ReferencedEntity,ReferencingEntityNavigationPropertyName"
    ).json()["value"]
    navigation = {r["ReferencedEntity"]: r["ReferencingEntityNavigationPropertyName"] for r in relationships}
    assert {navigation[t] for t in ("contact", "lead", "account")} == {
        "regardingobjectid_contact_sb_chat",
        "regardingobjectid_lead_sb_chat",
        "regardingobjectid_account_sb_chat",
    }
    contact = api.create("contacts", {"lastname": "Lee"})
    upserted = api.patch(
        "sb_chats(sb_externalid='ext-1')",
        json={"subject": "Hello", "regardingobjectid_contact_sb_chat@odata.bind": f"/contacts({contact})"},
    )
    assert upserted.status_code == 204
    again = api.patch("sb_chats(sb_externalid='ext-1')", json={"subject": "Hello again"})
    assert again.status_code == 204
    rows = api.get("sb_chats?$select=subject,_regardingobjectid_value").json()["value"]
    assert [(r["subject"], r["_regardingobjectid_value"]) for r in rows] == [("Hello again", contact)]
    pointer = api.get("activitypointers?$select=activitytypecode&$filter=activitytypecode eq 'sb_chat'").json()
    assert len(pointer["value"]) == 1


def test_the_sales_tables_take_activities_and_a_new_activity_can_regard_them(api: WebApi) -> None:
    # HasActivities is on for account, contact and lead out of the box (their EntityMetadata in the Web API
    # reference; "Enable activities" in Power Apps), so a new activity table gets a regarding relationship to each.
    rows = api.get(
        "EntityDefinitions?$select=LogicalName,HasActivities,IsActivity"
        "&$filter=LogicalName eq 'account' or LogicalName eq 'contact' or LogicalName eq 'lead'"
    ).json()["value"]
    assert {(r["LogicalName"], r["HasActivities"], r["IsActivity"]) for r in rows} == {
        ("account", True, False),
        ("contact", True, False),
        ("lead", True, False),
    }
    assert api.post("EntityDefinitions", json=_activity("new_Ping", "Subject")).status_code == 204
    lead = api.create("leads", {"lastname": "Park", "subject": "Interested"})
    record = api.create("new_pings", {"subject": "Hi", "regardingobjectid_lead_new_ping@odata.bind": f"/leads({lead})"})
    assert api.get(f"new_pings({record})?$select=_regardingobjectid_value").json()["_regardingobjectid_value"] == lead
