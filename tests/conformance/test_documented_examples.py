"""The request/response examples of Microsoft's Web API documentation, replayed against the sandbox.

Source: ``MicrosoftDocs/powerapps-docs``, ``powerapps-docs/developer/data-platform/`` (page and section named in
each test). Each test sends the documented request and compares status, headers, keys (in order where the
example shows an order that clients see), annotations and types with the documented response — not ids,
ETag values or timestamps. The organization holds the documents' sample records ("Litware, Inc. (sample)" and
the rest) under fixed low ids so that they are the first page of every unfiltered query; the tests that write
add records of their own and never change the samples.

One sandbox for the module (issue 17: the suite must stay fast).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.conformance.conftest import API, WebApi, open_api
from tests.conformance.documented import lookup_property_data, ok
from tests.conformance.test_documented_writes import SAMPLE_ACCOUNT, SAMPLE_REPRESENTATION

from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.organization.state import SandboxConfig

LITWARE = "00000000-0000-0000-0000-00000000a001"
ADVENTURE_WORKS = "00000000-0000-0000-0000-00000000a002"
SUSANNA = "00000000-0000-0000-0000-00000000c001"
NANCY = "00000000-0000-0000-0000-00000000c002"
ACCOUNT_TASKS = [f"00000000-0000-0000-0000-0000000a7a0{n}" for n in (1, 2, 3)]
CONTACT_TASKS = [f"00000000-0000-0000-0000-0000000c7a0{n}" for n in (1, 2)]
QUERY_ERROR = "0x80060888"
IF_NONE_MATCH_NULL = {"If-None-Match": "null"}


@pytest.fixture(scope="module")
def docs_api(sandbox_signing_key: rsa.RSAPrivateKey) -> Iterator[WebApi]:
    """The sample records of the query pages: two accounts with primary contacts, tasks regarding them."""
    sandbox = build_sandbox(signing_key=sandbox_signing_key)
    with open_api(sandbox) as api:
        for account, name in ((LITWARE, "Litware, Inc. (sample)"), (ADVENTURE_WORKS, "Adventure Works (sample)")):
            api.create("accounts", {"accountid": account, "name": name, "revenue": 20000})
        for contact, first, last, account in ((SUSANNA, "Susanna", "Stubberod (sample)", LITWARE),):
            api.create(
                "contacts",
                {
                    "contactid": contact,
                    "firstname": first,
                    "lastname": last,
                    "parentcustomerid_account@odata.bind": f"/accounts({account})",
                },
            )
        api.create(
            "contacts",
            {
                "contactid": NANCY,
                "firstname": "Nancy",
                "lastname": "Anderson (sample)",
                "parentcustomerid_account@odata.bind": f"/accounts({ADVENTURE_WORKS})",
            },
        )
        for account, contact in ((LITWARE, SUSANNA), (ADVENTURE_WORKS, NANCY)):
            response = api.patch(
                f"accounts({account})",
                json={"primarycontactid@odata.bind": f"/contacts({contact})"},
                headers={"If-Match": "*"},
            )
            assert response.status_code == 204, response.text
        for number, task in enumerate(ACCOUNT_TASKS, start=1):
            api.create(
                "tasks",
                {
                    "activityid": task,
                    "subject": f"Task {number} for Litware",
                    "regardingobjectid_account_task@odata.bind": f"/accounts({LITWARE})",
                },
            )
        for number, task in enumerate(CONTACT_TASKS, start=1):
            api.create(
                "tasks",
                {
                    "activityid": task,
                    "subject": f"Task {number} for Susanna Stubberod",
                    "regardingobjectid_contact_task@odata.bind": f"/contacts({SUSANNA})",
                },
            )
        yield api


def _keys(item: dict[str, Any]) -> list[str]:
    return list(item)


def _query(link: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(link).query)


# --- webapi/query/join-tables.md ---------------------------------------------------------------------------------


def test_limit_columns_with_select_in_expanded_records(docs_api: WebApi) -> None:
    """join-tables.md, "Limit columns with $select": a single-valued and a collection-valued expansion, one
    account a page; the collection is not paged, its items carry the lookup to the parent, and it has a
    ``@odata.nextLink`` to the filtered collection with the expansion's options and no paging cookie."""
    response = docs_api.get(
        "accounts?$select=name&$expand=primarycontactid($select=fullname),Account_Tasks($select=subject)",
        headers={"Prefer": "odata.maxpagesize=1", **IF_NONE_MATCH_NULL},
    )
    body = ok(response)
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=1"
    assert body["@odata.context"] == f"{API}$metadata#accounts(name,primarycontactid(fullname),Account_Tasks(subject))"
    [account] = body["value"]
    assert _keys(account) == [
        "@odata.etag",
        "name",
        "accountid",
        "primarycontactid",
        "Account_Tasks",
        "Account_Tasks@odata.nextLink",
    ]
    assert account["name"] == "Litware, Inc. (sample)"
    assert _keys(account["primarycontactid"]) == ["fullname", "contactid"]
    assert account["primarycontactid"]["fullname"] == "Susanna Stubberod (sample)"
    assert len(account["Account_Tasks"]) == 3
    for task in account["Account_Tasks"]:
        assert _keys(task) == ["@odata.etag", "subject", "_regardingobjectid_value", "activityid"]
        assert task["_regardingobjectid_value"] == LITWARE
    assert account["Account_Tasks@odata.nextLink"] == f"{API}accounts({LITWARE})/Account_Tasks?$select=subject"
    assert "$skiptoken" in _query(body["@odata.nextLink"])


def test_expand_single_valued_navigation_properties(docs_api: WebApi) -> None:
    """join-tables.md, "Expand single-valued navigation properties": a user expanded carries ``ownerid`` too
    (systemuser inherits principal), expanded records come without ETags."""
    response = docs_api.get(
        "accounts?$select=name&$expand=primarycontactid($select=contactid,fullname),createdby($select=fullname)",
        headers={"Prefer": "odata.maxpagesize=2", **IF_NONE_MATCH_NULL},
    )
    body = ok(response)
    assert body["@odata.context"] == (
        f"{API}$metadata#accounts(name,primarycontactid(contactid,fullname),createdby(fullname))"
    )
    assert [a["name"] for a in body["value"]] == ["Litware, Inc. (sample)", "Adventure Works (sample)"]
    for account in body["value"]:
        assert _keys(account) == ["@odata.etag", "name", "accountid", "primarycontactid", "createdby"]
        assert _keys(account["primarycontactid"]) == ["contactid", "fullname"]
        assert _keys(account["createdby"]) == ["fullname", "systemuserid", "ownerid"]
        assert account["createdby"]["ownerid"] == account["createdby"]["systemuserid"]
    assert "@odata.nextLink" not in body or "$skiptoken" in _query(body["@odata.nextLink"])


def test_expand_a_lookup_as_references(docs_api: WebApi) -> None:
    """join-tables.md, "Return references": ``$expand=primarycontactid/$ref`` gives ``@odata.id`` objects, and
    the lookup property comes with them."""
    body = ok(docs_api.get("accounts?$select=name&$expand=primarycontactid/$ref"))
    assert body["@odata.context"] == f"{API}$metadata#accounts(name,primarycontactid,primarycontactid/$ref())"
    litware, adventure_works = body["value"][:2]
    assert _keys(litware) == ["@odata.etag", "name", "_primarycontactid_value", "accountid", "primarycontactid"]
    assert litware["primarycontactid"] == {"@odata.id": f"{API}contacts({SUSANNA})"}
    assert adventure_works["_primarycontactid_value"] == NANCY


def test_ref_is_refused_on_a_collection_valued_navigation_property(docs_api: WebApi) -> None:
    """join-tables.md, "Return references": the error for ``/$ref`` on a collection."""
    response = docs_api.get("accounts?$select=name&$expand=Account_Tasks/$ref")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": QUERY_ERROR,
        "message": "Expand with $ref is only supported on lookup type navigation property.",
    }


def test_nested_expand_of_single_valued_navigation_properties(docs_api: WebApi) -> None:
    """join-tables.md, "Nested expand of single-valued navigation properties": task → contact → account →
    creator, three levels, with the nested parts in ``@odata.context``."""
    response = docs_api.get(
        "tasks?$select=subject&$filter=startswith(subject,'Task 1 for Susanna')"
        "&$expand=regardingobjectid_contact_task($select=fullname;"
        "$expand=parentcustomerid_account($select=name;$expand=createdby($select=fullname)))",
        headers={"Prefer": "odata.maxpagesize=2"},
    )
    body = ok(response)
    assert body["@odata.context"] == (
        f"{API}$metadata#tasks(subject,regardingobjectid_contact_task(fullname,parentcustomerid_account(name,"
        "createdby(fullname))))"
    )
    [task] = body["value"]
    assert _keys(task) == ["@odata.etag", "subject", "activityid", "regardingobjectid_contact_task"]
    contact = task["regardingobjectid_contact_task"]
    assert _keys(contact) == ["fullname", "contactid", "parentcustomerid_account"]
    assert contact["fullname"] == "Susanna Stubberod (sample)"
    account = contact["parentcustomerid_account"]
    assert _keys(account) == ["name", "accountid", "createdby"]
    assert account["name"] == "Litware, Inc. (sample)"
    assert _keys(account["createdby"]) == ["fullname", "systemuserid", "ownerid"]


def test_single_expand_of_collections_is_not_paged(docs_api: WebApi) -> None:
    """join-tables.md, "Single $expand on collection-valued navigation properties": with one account a page,
    all three tasks and the contact come back; each collection has a nextLink without paging information."""
    response = docs_api.get(
        "accounts?$select=name,accountid&$expand=Account_Tasks($select=subject),contact_customer_accounts($select=fullname)",
        headers={"Prefer": "odata.maxpagesize=1"},
    )
    body = ok(response)
    assert body["@odata.context"] == (
        f"{API}$metadata#accounts(name,accountid,Account_Tasks(subject),contact_customer_accounts(fullname))"
    )
    [account] = body["value"]
    assert [t["subject"] for t in account["Account_Tasks"]] == [f"Task {n} for Litware" for n in (1, 2, 3)]
    [contact] = account["contact_customer_accounts"]
    assert _keys(contact) == ["@odata.etag", "fullname", "_parentcustomerid_value", "contactid"]
    assert account["contact_customer_accounts@odata.nextLink"] == (
        f"{API}accounts({LITWARE})/contact_customer_accounts?$select=fullname"
    )


def test_nested_expand_pages_every_expanded_collection(docs_api: WebApi) -> None:
    """join-tables.md, "Nested $expand on collection-valued navigation properties": with a nested $expand
    anywhere, ``odata.maxpagesize`` pages each expanded collection, whose nextLink carries the paging cookie
    and returns the next records; expanded items come without ETags."""
    response = docs_api.get(
        "accounts?$select=name,accountid&$expand=Account_Tasks($select=subject),"
        "contact_customer_accounts($select=fullname;$expand=owninguser($select=fullname))",
        headers={"Prefer": "odata.maxpagesize=1"},
    )
    body = ok(response)
    assert body["@odata.context"] == (
        f"{API}$metadata#accounts(name,accountid,Account_Tasks(subject),"
        "contact_customer_accounts(fullname,owninguser(fullname)))"
    )
    [account] = body["value"]
    [task] = account["Account_Tasks"]
    assert _keys(task) == ["subject", "activityid"]
    [contact] = account["contact_customer_accounts"]
    assert _keys(contact) == ["fullname", "contactid", "owninguser"]
    assert _keys(contact["owninguser"]) == ["fullname", "systemuserid", "ownerid"]

    link = account["Account_Tasks@odata.nextLink"]
    assert link.startswith(f"{API}accounts({LITWARE})/Account_Tasks?$select=subject&$skiptoken=")
    seen = [task["activityid"]]
    while link:
        page = ok(docs_api.get(link, headers={"Prefer": "odata.maxpagesize=1"}))
        seen += [t["activityid"] for t in page["value"]]
        link = page.get("@odata.nextLink")
    assert seen == ACCOUNT_TASKS


@pytest.mark.parametrize("option", ["$top=1", "$orderby=subject"])
def test_top_and_orderby_are_refused_with_a_nested_expand(docs_api: WebApi, option: str) -> None:
    """join-tables.md, "Nested $expand on collection-valued navigation properties": the documented error."""
    response = docs_api.get(
        f"accounts?$select=name&$expand=Account_Tasks($select=subject;{option}),"
        "contact_customer_accounts($select=fullname;$expand=owninguser($select=fullname))"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == QUERY_ERROR
    assert response.json()["error"]["message"].startswith("Only $select and $filter clause can be provided")


# --- webapi/query/select-columns.md ------------------------------------------------------------------------------


def test_a_money_column_brings_its_currency_lookup(docs_api: WebApi) -> None:
    """select-columns.md, the first example: ``$select=name,revenue`` also returns ``_transactioncurrencyid_value``
    (revenue is a currency property); the context lists only what was selected."""
    body = ok(docs_api.get("accounts?$select=name,revenue&$top=1"))
    assert body["@odata.context"] == f"{API}$metadata#accounts(name,revenue)"
    [account] = body["value"]
    assert _keys(account) == ["@odata.etag", "name", "revenue", "_transactioncurrencyid_value", "accountid"]
    assert isinstance(account["revenue"], float | int)
    assert uuid.UUID(account["_transactioncurrencyid_value"])


def test_formatted_values_include_the_currency_lookups(docs_api: WebApi) -> None:
    """select-columns.md, "Formatted values": every annotation right before its property (the example's key
    order), the currency lookup with its formatted value (the currency's name); a null choice has none."""
    prefer = 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'
    response = docs_api.get(
        "accounts?$select=name,revenue,_primarycontactid_value,customertypecode,modifiedon&$top=1",
        headers={"Prefer": prefer},
    )
    body = ok(response)
    assert response.headers["Preference-Applied"] == prefer
    [account] = body["value"]
    formatted = "@OData.Community.Display.V1.FormattedValue"
    assert _keys(account) == [
        "@odata.etag",
        "name",
        f"revenue{formatted}",
        "revenue",
        f"_primarycontactid_value{formatted}",
        "_primarycontactid_value",
        "customertypecode",
        f"modifiedon{formatted}",
        "modifiedon",
        f"_transactioncurrencyid_value{formatted}",
        "_transactioncurrencyid_value",
        "accountid",
    ]
    assert account[f"revenue{formatted}"] == "$20,000.00"
    assert account[f"_primarycontactid_value{formatted}"] == "Susanna Stubberod (sample)"
    assert account[f"_transactioncurrencyid_value{formatted}"] == "US Dollar"


def test_lookup_property_data(docs_api: WebApi) -> None:
    """select-columns.md, "Lookup property data": the owner lookup's associated navigation property and lookup
    logical name, both before the value as the example shows; ``Preference-Applied`` repeats the preference."""
    owners = lookup_property_data(docs_api)
    assert {logical_name for _, logical_name in owners} <= {"systemuser", "team"}


# --- webapi/associate-disassociate-entities-using-web-api.md, OData JSON 4.0 "Entity Reference" ------------------


def test_get_the_reference_of_a_lookup(docs_api: WebApi) -> None:
    """``GET accounts(<id>)/primarycontactid/$ref``: ``$metadata#$ref`` and the contact's ``@odata.id``."""
    body = ok(docs_api.get(f"accounts({LITWARE})/primarycontactid/$ref"))
    assert body == {"@odata.context": f"{API}$metadata#$ref", "@odata.id": f"{API}contacts({SUSANNA})"}


def test_get_the_references_of_a_collection(docs_api: WebApi) -> None:
    """``GET accounts(<id>)/Account_Tasks/$ref``: ``$metadata#Collection($ref)`` and one ``@odata.id`` each."""
    body = ok(docs_api.get(f"accounts({LITWARE})/Account_Tasks/$ref"))
    assert body["@odata.context"] == f"{API}$metadata#Collection($ref)"
    assert body["value"] == [{"@odata.id": f"{API}tasks({task})"} for task in ACCOUNT_TASKS]


# --- webapi/retrieve-entity-using-web-api.md, webapi/query/count-rows.md ----------------------------------------


def test_the_raw_value_of_a_property(docs_api: WebApi) -> None:
    """retrieve-entity-using-web-api.md, "Retrieve the raw value of a property": ``…/name/$value`` is
    ``text/plain``, not JSON."""
    response = docs_api.get(f"accounts({LITWARE})/name/$value")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["OData-Version"] == "4.0"
    assert response.text == "Litware, Inc. (sample)"


def test_count_of_a_collection_valued_navigation_property(docs_api: WebApi) -> None:
    """count-rows.md: appending ``/$count`` gives just the number, as plain text — for a record's related
    collection too (it was answered with the collection)."""
    response = docs_api.get(f"accounts({LITWARE})/Account_Tasks/$count")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "3"
    filtered = docs_api.get(f"accounts({LITWARE})/Account_Tasks/$count?$filter=contains(subject,'Task 1')")
    assert filtered.text == "1"


# --- webapi/perform-conditional-operations-using-web-api.md ------------------------------------------------------

SELECT_FOR_CONDITIONAL = (
    "$select=accountcategorycode,accountnumber,creditonhold,createdon,numberofemployees,name,revenue"
)


def test_a_single_record_read_carries_its_etag_header(docs_api: WebApi) -> None:
    """perform-conditional-operations-using-web-api.md, "ETags": the record's weak ETag, in the body and
    (OData 4.0 part 1, 8.3.1) in the ``ETag`` header."""
    response = docs_api.get(f"accounts({LITWARE})?{SELECT_FOR_CONDITIONAL}")
    body = ok(response)
    assert response.headers["ETag"] == body["@odata.etag"]
    assert body["@odata.etag"].startswith('W/"')


def test_conditional_retrieval_answers_304_when_unchanged(docs_api: WebApi) -> None:
    """perform-conditional-operations-using-web-api.md, "Conditional retrievals": ``If-None-Match`` with the
    current ETag → 304 without a body; never with
    ``$expand`` or annotations; ``If-None-Match: null`` reads as usual."""
    etag = docs_api.get(f"accounts({LITWARE})?{SELECT_FOR_CONDITIONAL}").json()["@odata.etag"]
    response = docs_api.get(f"accounts({LITWARE})?{SELECT_FOR_CONDITIONAL}", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.headers["OData-Version"] == "4.0"
    assert response.content == b""
    expanded = docs_api.get(
        f"accounts({LITWARE})?$select=name&$expand=primarycontactid", headers={"If-None-Match": etag}
    )
    assert expanded.status_code == 200
    annotated = docs_api.get(
        f"accounts({LITWARE})?$select=name",
        headers={"If-None-Match": etag, "Prefer": 'odata.include-annotations="*"'},
    )
    assert annotated.status_code == 200
    assert docs_api.get(f"accounts({LITWARE})?$select=name", headers=IF_NONE_MATCH_NULL).status_code == 200
    assert docs_api.get(f"accounts({LITWARE})?$select=name", headers={"If-None-Match": 'W/"1"'}).status_code == 200


def test_an_upsert_that_creates_tells_the_new_etag(docs_api: WebApi) -> None:
    """use-upsert-insert-update-record.md: PATCH of a missing id creates (204, ``OData-EntityId``) and, as an
    OData 4.0 service does, tells the record's ETag — the one a read then returns."""
    record_id = str(uuid.uuid4())
    response = docs_api.patch(f"accounts({record_id})", json={"name": "Upserted account"})
    assert response.status_code == 204
    assert response.headers["OData-EntityId"] == f"{API}accounts({record_id})"
    read = docs_api.get(f"accounts({record_id})?$select=name").json()
    assert response.headers["ETag"] == read["@odata.etag"]


# --- webapi/create-entity-web-api.md -----------------------------------------------------------------------------


def test_create_with_data_returned(docs_api: WebApi) -> None:
    """create-entity-web-api.md, "Create with data returned" (the first example): 201, no ``OData-EntityId``, the
    selected columns, the key and the money column's currency lookup (the page's v9.0 context omits the selected
    list that later pages show; the sandbox names it, so the context is compared up to it)."""
    response = docs_api.post(
        "accounts?$select=name,creditonhold,address1_latitude,description,revenue,accountcategorycode,createdon",
        json=SAMPLE_ACCOUNT,
        headers={"Prefer": "return=representation"},
    )
    body = ok(response, 201)
    assert response.headers["Preference-Applied"] == "return=representation"
    assert "OData-EntityId" not in response.headers
    assert body["@odata.context"].startswith(f"{API}$metadata#accounts")
    assert body["@odata.context"].endswith("/$entity")
    assert set(body) == SAMPLE_REPRESENTATION
    assert (body["creditonhold"], body["accountcategorycode"], body["revenue"]) == (False, 1, 5000000)
    assert body["createdon"].endswith("Z")


def test_create_related_rows_in_one_operation(docs_api: WebApi) -> None:
    """create-entity-web-api.md, "Create related table rows in one operation" (deep insert): 204 with the
    account's ``OData-EntityId``; the contact, the opportunity and its task exist and are related."""
    response = docs_api.post(
        "accounts",
        json={
            "name": "Sample Account",
            "primarycontactid": {"firstname": "John", "lastname": "Smith"},
            "opportunity_customer_accounts": [
                {
                    "name": "Opportunity associated to Sample Account",
                    "Opportunity_Tasks": [{"subject": "Task associated to opportunity"}],
                }
            ],
        },
    )
    assert response.status_code == 204, response.text
    account = response.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    body = ok(
        docs_api.get(
            f"accounts({account})?$select=name&$expand=primarycontactid($select=fullname),"
            "opportunity_customer_accounts($select=name;$expand=Opportunity_Tasks($select=subject))"
        )
    )
    assert body["primarycontactid"]["fullname"] == "John Smith"
    [opportunity] = body["opportunity_customer_accounts"]
    assert opportunity["name"] == "Opportunity associated to Sample Account"
    assert [t["subject"] for t in opportunity["Opportunity_Tasks"]] == ["Task associated to opportunity"]


def test_create_with_data_returned_includes_the_expanded_parts(docs_api: WebApi) -> None:
    """create-entity-web-api.md, "Create with data returned" (the ``$expand`` example): 201 with the record,
    its primary contact and the tasks bound in the same request.

    The page's example (v9.1) shows ETags in the expanded records where join-tables.md (2024) shows none; the
    sandbox follows join-tables.md, so only the keys both pages agree on are compared.
    """
    tasks = [docs_api.create("tasks", {"subject": f"Task {n}"}) for n in (1, 2)]
    response = docs_api.post(
        "accounts?$select=name&$expand=primarycontactid($select=fullname),Account_Tasks($select=subject)",
        json={
            "name": "Sample Account",
            "primarycontactid@odata.bind": f"/contacts({NANCY})",
            "Account_Tasks@odata.bind": [f"/tasks({task})" for task in tasks],
        },
        headers={"Prefer": "return=representation"},
    )
    body = ok(response, 201)
    assert response.headers["Preference-Applied"] == "return=representation"
    assert body["@odata.context"] == (
        f"{API}$metadata#accounts(name,primarycontactid(fullname),Account_Tasks(subject))/$entity"
    )
    assert [k for k in _keys(body) if not k.endswith("@odata.nextLink")] == [
        "@odata.context",
        "@odata.etag",
        "name",
        "accountid",
        "primarycontactid",
        "Account_Tasks",
    ]
    assert {"fullname", "contactid"} <= set(body["primarycontactid"])
    assert body["primarycontactid"]["fullname"] == "Nancy Anderson (sample)"
    assert sorted(t["activityid"] for t in body["Account_Tasks"]) == sorted(tasks)
    assert {t["subject"] for t in body["Account_Tasks"]} == {"Task 1", "Task 2"}


# --- webapi/query-metadata-web-api.md ----------------------------------------------------------------------------


def test_an_expanded_option_set_carries_its_context(docs_api: WebApi) -> None:
    """query-metadata-web-api.md, "Retrieve attributes" (the picklist with ``$expand=OptionSet``): the option
    set has its own ``OptionSet@odata.context`` naming the column by MetadataId."""
    response = docs_api.get(
        "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='accountcategorycode')/"
        "Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet($select=Options)"
    )
    body = ok(response)
    assert _keys(body)[:3] == ["@odata.context", "LogicalName", "MetadataId"]
    context = unquote(body["OptionSet@odata.context"])
    assert context == (
        f"{API}$metadata#EntityDefinitions('account')/Attributes({body['MetadataId']})/"
        "Microsoft.Dynamics.CRM.PicklistAttributeMetadata/OptionSet(Options)/$entity"
    )
    assert _keys(body).index("OptionSet@odata.context") + 1 == _keys(body).index("OptionSet")
    assert isinstance(body["OptionSet"]["Options"], list)


# --- webapi/associate-disassociate-entities-using-web-api.md -----------------------------------------------------


def test_associate_and_disassociate_as_the_page_shows(docs_api: WebApi) -> None:
    """Each form of the page, on records of the test's own: add a reference to a collection (``POST
    …/opportunity_customer_accounts/$ref``), remove it by ``$id``, change a single-valued reference (``PUT
    …/primarycontactid/$ref``), remove it (``DELETE …/primarycontactid/$ref``), and associate on update with
    ``@odata.bind`` then disassociate by setting the single-valued navigation property to null."""
    account = docs_api.create("accounts", {"name": "Associations"})
    opportunity = docs_api.create("opportunities", {"name": "Opportunity"})
    contact = docs_api.create("contacts", {"lastname": "Reference"})

    added = docs_api.post(
        f"accounts({account})/opportunity_customer_accounts/$ref",
        json={"@odata.id": f"{API}opportunities({opportunity})"},
    )
    assert added.status_code == 204
    assert (
        docs_api.get(f"opportunities({opportunity})?$select=_customerid_value").json()["_customerid_value"] == account
    )
    removed = docs_api.delete(
        f"accounts({account})/opportunity_customer_accounts/$ref?$id={API}opportunities({opportunity})"
    )
    assert removed.status_code == 204
    assert docs_api.get(f"opportunities({opportunity})?$select=_customerid_value").json()["_customerid_value"] is None

    changed = docs_api.request(
        "PUT", f"accounts({account})/primarycontactid/$ref", json={"@odata.id": f"{API}contacts({contact})"}
    )
    assert changed.status_code == 204
    assert ok(docs_api.get(f"accounts({account})/primarycontactid/$ref"))["@odata.id"] == f"{API}contacts({contact})"
    assert docs_api.delete(f"accounts({account})/primarycontactid/$ref").status_code == 204
    assert (
        docs_api.get(f"accounts({account})?$select=_primarycontactid_value").json()["_primarycontactid_value"] is None
    )

    bound = docs_api.patch(
        f"accounts({account})", json={"primarycontactid@odata.bind": f"contacts({contact})"}, headers={"If-Match": "*"}
    )
    assert bound.status_code == 204
    assert (
        docs_api.get(f"accounts({account})?$select=_primarycontactid_value").json()["_primarycontactid_value"]
        == contact
    )
    for clearing in ({"primarycontactid@odata.bind": None}, {"primarycontactid": None}):
        docs_api.patch(f"accounts({account})", json={"primarycontactid@odata.bind": f"contacts({contact})"})
        cleared = docs_api.patch(f"accounts({account})", json=clearing, headers={"If-Match": "*"})
        assert cleared.status_code == 204, cleared.text
        row = docs_api.get(f"accounts({account})?$select=_primarycontactid_value").json()
        assert row["_primarycontactid_value"] is None, clearing


# --- webapi/samples/webapiservice-functions-and-actions.md -------------------------------------------------------


def test_retrieve_total_record_count(docs_api: WebApi) -> None:
    """ "Unbound Function RetrieveTotalRecordCount": a count per table named, keys in the order asked; the
    inline literal form the function also accepts."""
    response = docs_api.get('RetrieveTotalRecordCount(EntityNames=@p1)?@p1=["account","contact"]')
    body = ok(response)
    assert body["@odata.context"] == f"{API}$metadata#Microsoft.Dynamics.CRM.RetrieveTotalRecordCountResponse"
    collection = body["EntityRecordCountCollection"]
    assert (collection["Count"], collection["IsReadOnly"], collection["Keys"]) == (2, False, ["account", "contact"])
    accounts = int(docs_api.get("accounts/$count").text)
    contacts = int(docs_api.get("contacts/$count").text)
    assert collection["Values"] == [accounts, contacts]
    inline = ok(docs_api.get("RetrieveTotalRecordCount(EntityNames=['contact'])"))
    assert inline["EntityRecordCountCollection"]["Values"] == [contacts]
    assert docs_api.get('RetrieveTotalRecordCount(EntityNames=@p1)?@p1=["nosuchtable"]').status_code == 404


def test_a_single_level_expansion_returns_at_most_a_page_of_related_records(
    sandbox_signing_key: rsa.RSAPrivateKey,
) -> None:
    """join-tables.md, "Single $expand on collection-valued navigation properties": no paging, but "up to 5,000
    related records can be returned for each expanded collection-valued navigation property" (here the sandbox's
    largest page is made 2, so three tasks show the cap)."""
    sandbox = build_sandbox(config=SandboxConfig(max_page_size=2), signing_key=sandbox_signing_key)
    with open_api(sandbox) as api:
        account = api.create("accounts", {"name": "Capped"})
        for number in (1, 2, 3):
            api.create(
                "tasks",
                {"subject": f"Task {number}", "regardingobjectid_account_task@odata.bind": f"/accounts({account})"},
            )
        body = ok(api.get(f"accounts({account})?$select=name&$expand=Account_Tasks($select=subject)"))
        assert len(body["Account_Tasks"]) == 2
        assert body["Account_Tasks@odata.nextLink"] == f"{API}accounts({account})/Account_Tasks?$select=subject"
        topped = ok(api.get(f"accounts({account})?$select=name&$expand=Account_Tasks($select=subject;$top=0)"))
        assert topped["Account_Tasks"] == []
