"""Writes: create, update, upsert, conditional operations, binds, deep insert, delete (webapi/*-entity*.md)."""

from __future__ import annotations

import uuid

import pytest
from tests.conformance.conftest import API, WebApi


def test_create_answers_204_with_the_entity_id(api: WebApi) -> None:
    response = api.post("accounts", json={"name": "Sample Account", "creditonhold": False, "revenue": 5000000})
    assert response.status_code == 204
    assert response.headers["OData-EntityId"].startswith(f"{API}accounts(")


def test_create_with_return_representation_answers_201_with_the_body(api: WebApi) -> None:
    response = api.post(
        "accounts?$select=name,revenue",
        json={"name": "Sample Account", "revenue": 5000000},
        headers={"Prefer": "return=representation"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["@odata.context"] == f"{API}$metadata#accounts(name,revenue)/$entity"
    assert body["name"] == "Sample Account"
    assert body["revenue"] == 5000000
    assert "OData-EntityId" not in response.headers


def test_a_client_supplied_primary_key_is_honoured(api: WebApi) -> None:
    chosen = str(uuid.uuid4())
    assert api.create("contacts", {"contactid": chosen, "firstname": "Bob"}) == chosen
    assert api.get(f"contacts({chosen})?$select=firstname").json()["firstname"] == "Bob"


def test_creating_an_existing_primary_key_is_a_412(api: WebApi) -> None:
    chosen = api.create("contacts", {"firstname": "Bob"})
    response = api.post("contacts", json={"contactid": chosen, "firstname": "Bob"})
    assert response.status_code == 412
    assert response.json()["error"] == {
        "code": "0x80040237",
        "message": "A record with matching key values already exists.",
    }


def test_system_columns_are_maintained(api: WebApi) -> None:
    record = api.create("contacts", {"firstname": "Ana", "lastname": "García"})
    row = api.get(f"contacts({record})").json()
    assert row["fullname"] == "Ana García"
    assert row["createdon"].endswith("Z")
    assert row["_createdby_value"] == row["_modifiedby_value"] == row["_ownerid_value"]
    assert row["statecode"] == 0


def test_patch_updates_and_bumps_the_version(api: WebApi) -> None:
    record = api.create("accounts", {"name": "Before"})
    before = api.get(f"accounts({record})?$select=name").json()["@odata.etag"]
    response = api.patch(f"accounts({record})", json={"name": "After"}, headers={"If-Match": "*"})
    assert response.status_code == 204
    after = api.get(f"accounts({record})?$select=name").json()
    assert after["name"] == "After"
    assert after["@odata.etag"] != before


def test_patch_with_return_representation_answers_200(api: WebApi) -> None:
    record = api.create("accounts", {"name": "Before"})
    response = api.patch(
        f"accounts({record})?$select=name",
        json={"name": "After"},
        headers={"If-Match": "*", "Prefer": "return=representation"},
    )
    assert response.status_code == 200
    assert response.json()["name"] == "After"


def test_patch_without_if_match_is_an_upsert(api: WebApi) -> None:
    chosen = str(uuid.uuid4())
    response = api.patch(f"accounts({chosen})", json={"name": "Created by upsert"})
    assert response.status_code == 204
    assert api.get(f"accounts({chosen})?$select=name").json()["name"] == "Created by upsert"


def test_update_only_of_a_missing_record_is_a_404(api: WebApi) -> None:
    missing = str(uuid.uuid4())
    response = api.patch(f"accounts({missing})", json={"name": "x"}, headers={"If-Match": "*"})
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "0x80040217",
        "message": f"Entity 'account' With Id = {missing} Does Not Exist",
    }


def test_create_only_of_an_existing_record_is_a_412(api: WebApi) -> None:
    record = api.create("accounts", {"name": "Exists"})
    response = api.patch(f"accounts({record})", json={"name": "x"}, headers={"If-None-Match": "*"})
    assert response.status_code == 412
    assert response.json()["error"]["code"] == "0x80040237"


def test_a_stale_etag_is_a_412(api: WebApi) -> None:
    record = api.create("accounts", {"name": "v1"})
    etag = api.get(f"accounts({record})?$select=name").json()["@odata.etag"]
    api.patch(f"accounts({record})", json={"name": "v2"}, headers={"If-Match": "*"})
    response = api.patch(f"accounts({record})", json={"name": "v3"}, headers={"If-Match": etag})
    assert response.status_code == 412
    assert "RowVersion" in response.json()["error"]["message"]


def test_a_current_etag_allows_the_update(api: WebApi) -> None:
    record = api.create("accounts", {"name": "v1"})
    etag = api.get(f"accounts({record})?$select=name").json()["@odata.etag"]
    assert api.patch(f"accounts({record})", json={"name": "v2"}, headers={"If-Match": etag}).status_code == 204


def test_unknown_property_in_the_payload_is_a_400(api: WebApi) -> None:
    response = api.post("accounts", json={"name": "x", "nosuchcolumn": 1})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x80048d19"


def test_a_string_over_max_length_is_refused(api: WebApi) -> None:
    response = api.post("tasks", json={"subject": "x" * 201})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "0x80044331",
        "message": "A validation error occurred.  The length of the 'subject' attribute of the 'task' entity "
        "exceeded the maximum allowed length of '200'.",
    }


def test_a_value_of_the_wrong_type_is_refused(api: WebApi) -> None:
    response = api.post("accounts", json={"name": "x", "numberofemployees": "many"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x80048d19"


@pytest.mark.parametrize(
    ("entity_set", "nav", "target_set"),
    [
        pytest.param("contacts", "parentcustomerid_account", "accounts", id="contact-parentcustomer-account"),
        pytest.param("opportunities", "customerid_account", "accounts", id="opportunity-customer-account"),
        pytest.param("tasks", "regardingobjectid_account_task", "accounts", id="task-regarding-account"),
        pytest.param("annotations", "objectid_account", "accounts", id="note-object-account"),
    ],
)
def test_bind_with_dataverse_navigation_names(api: WebApi, entity_set: str, nav: str, target_set: str) -> None:
    target = api.create(target_set, {"name": "Target"})
    body = {f"{nav}@odata.bind": f"/{target_set}({target})"}
    body.update(
        {"subject": "s"}
        if entity_set in ("tasks", "annotations")
        else {"name": "n"}
        if entity_set == "opportunities"
        else {"lastname": "l"}
    )
    record = api.create(entity_set, body)
    assert record


@pytest.mark.parametrize(
    ("entity_set", "wrong_nav"),
    [
        pytest.param("tasks", "regardingobjectid_account", id="task-regarding-without-suffix"),
        pytest.param("contacts", "parentcustomerid", id="contact-customer-without-target"),
        pytest.param("opportunities", "customerid", id="opportunity-customer-without-target"),
    ],
)
def test_a_wrong_navigation_name_fails_as_dataverse_does(api: WebApi, entity_set: str, wrong_nav: str) -> None:
    account = api.create("accounts", {"name": "Target"})
    response = api.post(entity_set, json={f"{wrong_nav}@odata.bind": f"/accounts({account})"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "0x80048d19"
    assert f"An undeclared property '{wrong_nav}' which only has property annotations" in error["message"]


def test_owner_can_be_a_user_or_a_team(api: WebApi) -> None:
    team = api.create("teams", {"name": "Field sales"})
    record = api.create("accounts", {"name": "Team owned", "ownerid@odata.bind": f"/teams({team})"})
    prefer = {"Prefer": 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"'}
    row = api.get(f"accounts({record})?$select=_ownerid_value", headers=prefer).json()
    assert row["_ownerid_value"] == team
    assert row["_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "team"


def test_activity_owner_binds_through_ownerid(api: WebApi) -> None:
    who = api.get("WhoAmI").json()["UserId"]
    assert api.create("tasks", {"subject": "Follow up", "ownerid@odata.bind": f"/systemusers({who})"})


def test_binding_to_a_missing_record_is_a_404(api: WebApi) -> None:
    response = api.post("contacts", json={"parentcustomerid_account@odata.bind": f"/accounts({uuid.uuid4()})"})
    assert response.status_code == 404


def test_deep_insert_of_activity_parties(api: WebApi) -> None:
    who = api.get("WhoAmI").json()["UserId"]
    contact = api.create("contacts", {"lastname": "Jane"})
    call = api.create(
        "phonecalls",
        {
            "subject": "Call with Jane",
            "phonenumber": "+1 555 0100",
            "directioncode": True,
            "phonecall_activity_parties": [
                {"partyid_systemuser@odata.bind": f"/systemusers({who})", "participationtypemask": 1},
                {"partyid_contact@odata.bind": f"/contacts({contact})", "participationtypemask": 2},
            ],
        },
    )
    parties = api.get(
        f"phonecalls({call})/phonecall_activity_parties?$select=participationtypemask,_partyid_value"
    ).json()
    assert sorted((p["participationtypemask"], p["_partyid_value"]) for p in parties["value"]) == [
        (1, who),
        (2, contact),
    ]


def test_activities_appear_in_activitypointers(api: WebApi) -> None:
    task = api.create("tasks", {"subject": "Follow up"})
    row = api.get(f"activitypointers({task})?$select=subject,activitytypecode").json()
    assert row["activitytypecode"] == "task"
    assert row["subject"] == "Follow up"


def test_activitypointers_are_read_only(api: WebApi) -> None:
    assert api.post("activitypointers", json={"subject": "x"}).status_code == 405


def test_alternate_key_in_the_url(api: WebApi) -> None:
    response = api.post(
        "EntityDefinitions(LogicalName='account')/Keys",
        json={
            "SchemaName": "sb_accountnumber",
            "DisplayName": {"LocalizedLabels": [{"Label": "Account number", "LanguageCode": 1033}]},
            "KeyAttributes": ["accountnumber"],
        },
    )
    assert response.status_code == 204, response.text
    record = api.create("accounts", {"name": "Keyed", "accountnumber": "ACC-001"})
    assert api.get("accounts(accountnumber='ACC-001')?$select=name").json()["accountid"] == record
    upsert = api.patch("accounts(accountnumber='ACC-002')", json={"name": "Upserted"})
    assert upsert.status_code == 204
    assert api.get("accounts(accountnumber='ACC-002')?$select=name").json()["name"] == "Upserted"


def test_upsert_by_alternate_key_names_the_record_by_the_key_and_keeps_its_key_values(api: WebApi) -> None:
    """use-upsert-insert-update-record.md: the OData-EntityId of an upsert by alternate key is the key's URL; an
    upsert that finds the record drops the body's values of the key columns; one that creates the record uses
    them, even when they differ from the URL's."""
    key = {"SchemaName": "sb_accountnumber", "KeyAttributes": ["accountnumber"]}
    assert api.post("EntityDefinitions(LogicalName='account')/Keys", json=key).status_code == 204
    record = api.create("accounts", {"name": "Keyed", "accountnumber": "UK-1"})

    updated = api.patch("accounts(accountnumber='UK-1')", json={"name": "Renamed", "accountnumber": "UK-other"})
    assert updated.status_code == 204
    assert updated.headers["OData-EntityId"] == f"{API}accounts(accountnumber='UK-1')"
    after = api.get(f"accounts({record})?$select=name,accountnumber").json()
    assert (after["name"], after["accountnumber"]) == ("Renamed", "UK-1")

    created = api.patch("accounts(accountnumber='UK-2')", json={"name": "New", "accountnumber": "UK-3"})
    assert created.status_code == 204
    assert created.headers["OData-EntityId"] == f"{API}accounts(accountnumber='UK-2')"
    assert api.get("accounts(accountnumber='UK-3')?$select=name").json()["name"] == "New"
    assert api.get("accounts(accountnumber='UK-2')?$select=name").status_code == 404


def test_a_non_key_column_in_the_url_is_refused(api: WebApi) -> None:
    response = api.get("accounts(name='x')")
    assert response.status_code == 400
    assert "The key in the request URI is not valid" in response.json()["error"]["message"]


def test_delete_answers_204_then_404(api: WebApi) -> None:
    record = api.create("accounts", {"name": "Doomed"})
    assert api.delete(f"accounts({record})").status_code == 204
    assert api.get(f"accounts({record})").status_code == 404
    assert api.delete(f"accounts({record})").status_code == 404


def test_associate_and_disassociate_with_ref(api: WebApi) -> None:
    account = api.create("accounts", {"name": "Parent"})
    opportunity = api.create("opportunities", {"name": "Deal"})
    ref = {"@odata.id": f"{API}opportunities({opportunity})"}
    assert api.post(f"accounts({account})/opportunity_customer_accounts/$ref", json=ref).status_code == 204
    assert api.get(f"opportunities({opportunity})?$select=_customerid_value").json()["_customerid_value"] == account
    assert api.delete(f"opportunities({opportunity})/customerid_account/$ref").status_code == 204
    assert api.get(f"opportunities({opportunity})?$select=_customerid_value").json()["_customerid_value"] is None


def test_single_property_put_and_delete(api: WebApi) -> None:
    record = api.create("accounts", {"name": "x", "telephone1": "555"})
    assert api.request("PUT", f"accounts({record})/name", json={"value": "New"}).status_code == 204
    assert api.delete(f"accounts({record})/telephone1").status_code == 204
    row = api.get(f"accounts({record})?$select=name,telephone1").json()
    assert (row["name"], row["telephone1"]) == ("New", None)


def test_money_columns_get_their_base_currency_twin(api: WebApi) -> None:
    record = api.create("opportunities", {"name": "Deal", "estimatedvalue": 12500.5})
    row = api.get(
        f"opportunities({record})?$select=estimatedvalue,estimatedvalue_base,_transactioncurrencyid_value"
    ).json()
    assert row["estimatedvalue_base"] == 12500.5
    assert row["_transactioncurrencyid_value"] is not None
