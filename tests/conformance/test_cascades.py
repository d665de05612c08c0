"""Deleting a record applies each relationship's Delete cascade, reported in the metadata and seen by change tracking.

Sources: configure-entity-relationship-cascading-behavior.md (Cascade, RemoveLink, Restrict);
reference/entities/account.md (``contact_customer_accounts`` and ``Account_Tasks`` Delete: Cascade;
``account_parent_account`` Delete: RemoveLink); ce/developer/entities/opportunity.md and lead.md
(``opportunity_customer_accounts`` Delete: Cascade, ``lead_parent_account`` Delete: RemoveLink,
``business_unit_opportunities`` Delete: Restrict); compose-http-requests-handle-errors.md (405 for
CannotDeleteDueToAssociation, 0x80040227).
"""

from __future__ import annotations

from typing import Any

from tests.conformance.conftest import WebApi
from tests.conformance.test_change_tracking import TRACK, read_all

from salesbridge.sandbox.assembly import Sandbox


def _labels(text: str) -> dict[str, Any]:
    return {"@odata.type": "Microsoft.Dynamics.CRM.Label", "LocalizedLabels": [{"Label": text, "LanguageCode": 1033}]}


def _exists(api: WebApi, entity_set: str, record_id: str) -> bool:
    status = api.get(f"{entity_set}({record_id})").status_code
    assert status in (200, 404)
    return status == 200


def test_deleting_an_account_deletes_its_parental_children(api: WebApi) -> None:
    account = api.create("accounts", {"name": "Contoso"})
    other = api.create("accounts", {"name": "Fabrikam"})
    contact = api.create(
        "contacts", {"lastname": "Child", "parentcustomerid_account@odata.bind": f"/accounts({account})"}
    )
    stranger = api.create(
        "contacts", {"lastname": "Other", "parentcustomerid_account@odata.bind": f"/accounts({other})"}
    )
    task = api.create(
        "tasks", {"subject": "Call", "regardingobjectid_contact_task@odata.bind": f"/contacts({contact})"}
    )
    deal = api.create("opportunities", {"name": "Deal", "customerid_account@odata.bind": f"/accounts({account})"})
    note = api.create("annotations", {"subject": "Note", "objectid_account@odata.bind": f"/accounts({account})"})

    assert api.delete(f"accounts({account})").status_code == 204

    assert not _exists(api, "contacts", contact)
    assert not _exists(api, "tasks", task)  # the contact's task goes with the contact, recursively
    assert not _exists(api, "activitypointers", task)
    assert not _exists(api, "opportunities", deal)
    assert not _exists(api, "annotations", note)
    assert _exists(api, "contacts", stranger)
    assert _exists(api, "accounts", other)


def test_deleting_an_account_removes_the_link_of_referential_children(api: WebApi) -> None:
    parent = api.create("accounts", {"name": "Parent"})
    child = api.create("accounts", {"name": "Child", "parentaccountid@odata.bind": f"/accounts({parent})"})
    lead = api.create("leads", {"lastname": "Lead", "parentaccountid@odata.bind": f"/accounts({parent})"})
    before = api.get(f"accounts({child})?$select=versionnumber").json()["versionnumber"]

    assert api.delete(f"accounts({parent})").status_code == 204

    row = api.get(f"accounts({child})?$select=name,_parentaccountid_value,versionnumber").json()
    assert row["name"] == "Child"
    assert row["_parentaccountid_value"] is None
    assert row["versionnumber"] > before
    assert api.get(f"leads({lead})?$select=_parentaccountid_value").json()["_parentaccountid_value"] is None


def test_change_tracking_reports_cascaded_deletes_and_removed_links(api: WebApi) -> None:
    account = api.create("accounts", {"name": "Doomed"})
    child = api.create("accounts", {"name": "Child", "parentaccountid@odata.bind": f"/accounts({account})"})
    contact = api.create(
        "contacts", {"lastname": "Gone", "parentcustomerid_account@odata.bind": f"/accounts({account})"}
    )
    _, contacts_link = read_all(api, "contacts?$select=lastname")
    _, accounts_link = read_all(api, "accounts?$select=name,_parentaccountid_value")

    api.delete(f"accounts({account})")

    contact_changes = api.get(contacts_link, headers=TRACK).json()["value"]
    assert [(row["id"], row["reason"]) for row in contact_changes] == [(contact, "deleted")]
    account_changes = api.get(accounts_link, headers=TRACK).json()["value"]
    updated = [row for row in account_changes if "reason" not in row]
    assert [(row["accountid"], row["_parentaccountid_value"]) for row in updated] == [(child, None)]
    assert [row["id"] for row in account_changes if row.get("reason") == "deleted"] == [account]


def test_entity_definitions_report_the_cascade_configuration(api: WebApi) -> None:
    path = "EntityDefinitions(LogicalName='account')/OneToManyRelationships"
    rows = api.get(f"{path}?$select=SchemaName,CascadeConfiguration").json()["value"]
    cascades = {row["SchemaName"]: row["CascadeConfiguration"] for row in rows}
    assert cascades["contact_customer_accounts"]["Delete"] == "Cascade"
    assert cascades["contact_customer_accounts"]["Assign"] == "Cascade"
    assert cascades["opportunity_customer_accounts"]["Delete"] == "Cascade"
    assert cascades["Account_Tasks"]["Delete"] == "Cascade"
    assert cascades["account_parent_account"]["Delete"] == "RemoveLink"
    assert cascades["account_parent_account"]["Share"] == "Cascade"
    assert cascades["lead_parent_account"] == {
        "Assign": "NoCascade",
        "Delete": "RemoveLink",
        "Merge": "Cascade",
        "Reparent": "NoCascade",
        "Share": "NoCascade",
        "Unshare": "NoCascade",
        "RollupView": "NoCascade",
        "Archive": "NoCascade",
    }
    many_to_one = api.get(
        "EntityDefinitions(LogicalName='opportunity')/ManyToOneRelationships?$select=SchemaName,CascadeConfiguration"
    ).json()["value"]
    by_name = {row["SchemaName"]: row["CascadeConfiguration"]["Delete"] for row in many_to_one}
    assert by_name["business_unit_opportunities"] == "Restrict"
    assert by_name["lk_opportunitybase_createdby"] == "NoCascade"


def _signal_table(api: WebApi, delete: str) -> None:
    table = {
        "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
        "SchemaName": "sb_Signal",
        "DisplayName": _labels("Signal"),
        "DisplayCollectionName": _labels("Signals"),
        "OwnershipType": "UserOwned",
        "HasNotes": False,
        "HasActivities": False,
        "Attributes": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                "SchemaName": "sb_Name",
                "IsPrimaryName": True,
                "MaxLength": 100,
                "RequiredLevel": {"Value": "None"},
                "DisplayName": _labels("Name"),
            }
        ],
    }
    assert api.post("EntityDefinitions", json=table).status_code == 204
    relationship = {
        "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
        "SchemaName": "sb_account_sb_signal",
        "ReferencedEntity": "account",
        "ReferencingEntity": "sb_signal",
        "CascadeConfiguration": {"Delete": delete},
        "Lookup": {
            "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata",
            "SchemaName": "sb_AccountId",
            "DisplayName": _labels("Account"),
        },
    }
    response = api.post("RelationshipDefinitions", json=relationship)
    assert response.status_code == 204, response.text


def test_a_restrict_relationship_refuses_the_delete_while_records_refer(api: WebApi) -> None:
    _signal_table(api, "Restrict")
    account = api.create("accounts", {"name": "Referred"})
    signal = api.create("sb_signals", {"sb_name": "Job change", "sb_AccountId@odata.bind": f"/accounts({account})"})

    refused = api.delete(f"accounts({account})")

    assert refused.status_code == 405
    assert refused.json()["error"]["code"] == "0x80040227"
    assert _exists(api, "accounts", account)
    assert _exists(api, "sb_signals", signal)
    row = api.get("RelationshipDefinitions(SchemaName='sb_account_sb_signal')?$select=CascadeConfiguration").json()
    assert row["CascadeConfiguration"]["Delete"] == "Restrict"
    api.delete(f"sb_signals({signal})")
    assert api.delete(f"accounts({account})").status_code == 204


def test_a_custom_parental_relationship_cascades_the_delete(api: WebApi) -> None:
    _signal_table(api, "Cascade")
    account = api.create("accounts", {"name": "Parent"})
    signal = api.create("sb_signals", {"sb_name": "Funding", "sb_AccountId@odata.bind": f"/accounts({account})"})
    assert api.delete(f"accounts({account})").status_code == 204
    assert not _exists(api, "sb_signals", signal)


def test_a_delete_cascade_other_than_cascade_removelink_or_restrict_is_refused(api: WebApi) -> None:
    api.post(
        "EntityDefinitions",
        json={
            "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
            "SchemaName": "sb_Thing",
            "DisplayName": _labels("Thing"),
            "DisplayCollectionName": _labels("Things"),
            "OwnershipType": "UserOwned",
            "Attributes": [
                {
                    "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                    "SchemaName": "sb_Name",
                    "IsPrimaryName": True,
                    "MaxLength": 100,
                    "DisplayName": _labels("Name"),
                }
            ],
        },
    )
    response = api.post(
        "RelationshipDefinitions",
        json={
            "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
            "SchemaName": "sb_account_sb_thing",
            "ReferencedEntity": "account",
            "ReferencingEntity": "sb_thing",
            "CascadeConfiguration": {"Delete": "UserOwned"},
            "Lookup": {"@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata", "SchemaName": "sb_AccountId"},
        },
    )
    assert response.status_code == 400


def test_a_cascade_looks_referencing_records_up_through_an_index_made_on_first_use(
    api: WebApi, sandbox: Sandbox
) -> None:
    """A delete must not scan every referencing table in full (a million contacts): the lookup columns a cascade
    reads are indexed the first time, not while seeding."""
    storage = sandbox.services.state.storage

    def plan() -> str:
        rows = storage.conn.execute(
            'EXPLAIN QUERY PLAN SELECT contactid FROM "contact" WHERE parentcustomerid = ?', ("x",)
        )
        return " ".join(str(row[-1]) for row in rows)

    assert "INDEX" not in plan()
    api.delete(f"accounts({api.create('accounts', {'name': 'Gone'})})")
    assert "contact__parentcustomerid__referencing" in plan()
