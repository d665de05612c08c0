"""Queries: $select, $filter, $orderby, $top, $count, $expand, paging, annotations (webapi/query/*.md)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from tests.conformance.conftest import API, WebApi


@pytest.fixture
def people(api: WebApi) -> dict[str, str]:
    account = api.create("accounts", {"name": "Litware, Inc. (sample)", "revenue": 20000, "customertypecode": 1})
    ids = {"account": account}
    for first, last in (("Yvonne", "McKay"), ("Susanna", "Stubberod"), ("Nancy", "Anderson"), ("Maria", "O'Bryan")):
        ids[first] = api.create(
            "contacts",
            {
                "firstname": first,
                "lastname": last,
                "emailaddress1": f"{first.lower()}@litware.example",
                "parentcustomerid_account@odata.bind": f"/accounts({account})",
            },
        )
    return ids


def test_select_returns_the_chosen_columns_the_primary_key_and_an_etag(api: WebApi, people: dict[str, str]) -> None:
    response = api.get("contacts?$select=fullname")
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"] == f"{API}$metadata#contacts(fullname)"
    row = body["value"][0]
    assert set(row) == {"@odata.etag", "fullname", "contactid"}
    assert row["@odata.etag"].startswith('W/"')


def test_response_headers_follow_odata_4(api: WebApi, people: dict[str, str]) -> None:
    response = api.get("contacts?$select=fullname")
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["Content-Type"].startswith("application/json; odata.metadata=minimal")


def test_select_of_an_unknown_column_fails_the_request(api: WebApi) -> None:
    response = api.get("accounts?$select=name,primarycontactidname")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "0x80060888",
        "message": "Could not find a property named 'primarycontactidname' on type 'Microsoft.Dynamics.CRM.account'.",
    }


def test_without_select_every_column_is_returned_with_nulls(api: WebApi, people: dict[str, str]) -> None:
    row = api.get(f"contacts({people['Yvonne']})").json()
    assert row["firstname"] == "Yvonne"
    assert "middlename" in row
    assert row["middlename"] is None
    assert row["_parentcustomerid_value"] == people["account"]


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        pytest.param("firstname eq 'yvonne'", {"Yvonne"}, id="string-equality-is-case-insensitive"),
        pytest.param("lastname eq 'O''Bryan'", {"Maria"}, id="doubled-quote-escape"),
        pytest.param("contains(fullname,'an')", {"Susanna", "Nancy", "Maria"}, id="contains"),
        pytest.param("startswith(lastname,'st')", {"Susanna"}, id="startswith"),
        pytest.param(
            "endswith(emailaddress1,'litware.example')", {"Yvonne", "Susanna", "Nancy", "Maria"}, id="endswith"
        ),
        pytest.param("firstname eq 'Nancy' or firstname eq 'Maria'", {"Nancy", "Maria"}, id="or"),
        pytest.param("not startswith(firstname,'N') and lastname ne 'McKay'", {"Susanna", "Maria"}, id="not-and"),
        pytest.param("middlename eq null", {"Yvonne", "Susanna", "Nancy", "Maria"}, id="null"),
        pytest.param("createdon ge 2000-01-01T00:00:00Z", {"Yvonne", "Susanna", "Nancy", "Maria"}, id="date-literal"),
        pytest.param(
            "parentcustomerid_account/name eq 'Litware, Inc. (sample)'",
            {"Yvonne", "Susanna", "Nancy", "Maria"},
            id="lookup-traversal",
        ),
    ],
)
def test_filter(api: WebApi, people: dict[str, str], filter_text: str, expected: set[str]) -> None:
    response = api.get(f"contacts?$select=firstname&$filter={filter_text}")
    assert response.status_code == 200, response.text
    assert {row["firstname"] for row in response.json()["value"]} == expected


def test_filter_on_a_lookup_property_by_guid(api: WebApi, people: dict[str, str]) -> None:
    response = api.get(f"contacts?$select=firstname&$filter=_parentcustomerid_value eq {people['account']}")
    assert len(response.json()["value"]) == 4


def test_filter_on_an_unknown_column_is_a_400(api: WebApi) -> None:
    response = api.get("contacts?$filter=nosuchcolumn eq 1")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x80060888"


def test_orderby_and_top(api: WebApi, people: dict[str, str]) -> None:
    response = api.get("contacts?$select=firstname&$orderby=firstname desc&$top=2")
    assert [row["firstname"] for row in response.json()["value"]] == ["Yvonne", "Susanna"]
    assert "@odata.nextLink" not in response.json()


def test_count_is_added_when_asked(api: WebApi, people: dict[str, str]) -> None:
    body = api.get("contacts?$select=firstname&$count=true").json()
    assert body["@odata.count"] == 4


def test_count_segment_is_plain_text(api: WebApi, people: dict[str, str]) -> None:
    response = api.get("contacts/$count")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "4"


@pytest.mark.parametrize("option", ["$skip=1", "$search=x", "$format=json"])
def test_unsupported_system_query_options_are_refused(api: WebApi, option: str) -> None:
    assert api.get(f"contacts?{option}").status_code == 400


def test_maxpagesize_pages_with_a_nextlink_followed_verbatim(api: WebApi, people: dict[str, str]) -> None:
    prefer = {"Prefer": "odata.maxpagesize=3"}
    first = api.get("contacts?$select=fullname", headers=prefer)
    assert first.headers["Preference-Applied"] == "odata.maxpagesize=3"
    body = first.json()
    assert len(body["value"]) == 3
    link = body["@odata.nextLink"]
    query = parse_qs(urlsplit(link).query)
    assert query["$select"] == ["fullname"]
    assert query["$skiptoken"][0].startswith('<cookie pagenumber="2"')
    second = api.get(link, headers=prefer).json()
    assert len(second["value"]) == 1
    assert "@odata.nextLink" not in second
    seen = {row["contactid"] for row in body["value"]} | {row["contactid"] for row in second["value"]}
    assert len(seen) == 4


def test_top_is_ignored_when_maxpagesize_is_sent(api: WebApi, people: dict[str, str]) -> None:
    body = api.get("contacts?$select=fullname&$top=1", headers={"Prefer": "odata.maxpagesize=2"}).json()
    assert len(body["value"]) == 2
    assert "@odata.nextLink" in body


def test_paging_with_orderby_keeps_the_order_across_pages(api: WebApi, people: dict[str, str]) -> None:
    prefer = {"Prefer": "odata.maxpagesize=2"}
    body = api.get("contacts?$select=firstname&$orderby=firstname asc", headers=prefer).json()
    names = [row["firstname"] for row in body["value"]]
    names += [row["firstname"] for row in api.get(body["@odata.nextLink"], headers=prefer).json()["value"]]
    assert names == ["Maria", "Nancy", "Susanna", "Yvonne"]


def test_formatted_values_and_lookup_annotations_when_requested(api: WebApi, people: dict[str, str]) -> None:
    prefer = {"Prefer": 'odata.include-annotations="*"'}
    row = api.get(f"contacts({people['Nancy']})?$select=fullname,_parentcustomerid_value", headers=prefer).json()
    key = "_parentcustomerid_value"
    assert row[f"{key}@OData.Community.Display.V1.FormattedValue"] == "Litware, Inc. (sample)"
    assert row[f"{key}@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    assert row[f"{key}@Microsoft.Dynamics.CRM.associatednavigationproperty"] == "parentcustomerid_account"
    account = api.get(f"accounts({people['account']})?$select=revenue,customertypecode", headers=prefer).json()
    assert account["revenue@OData.Community.Display.V1.FormattedValue"] == "$20,000.00"
    assert account["customertypecode@OData.Community.Display.V1.FormattedValue"] == "Competitor"


def test_annotations_are_absent_unless_requested(api: WebApi, people: dict[str, str]) -> None:
    row = api.get(f"contacts({people['Nancy']})?$select=_parentcustomerid_value").json()
    assert not [key for key in row if "@" in key and key != "@odata.etag" and key != "@odata.context"]


def test_expand_a_single_valued_navigation_property(api: WebApi, people: dict[str, str]) -> None:
    body = api.get(
        f"contacts({people['Yvonne']})?$select=fullname&$expand=parentcustomerid_account($select=name)"
    ).json()
    assert body["parentcustomerid_account"]["name"] == "Litware, Inc. (sample)"
    assert body["parentcustomerid_account"]["accountid"] == people["account"]


def test_expand_a_collection_valued_navigation_property(api: WebApi, people: dict[str, str]) -> None:
    body = api.get(
        f"accounts({people['account']})?$select=name&$expand=contact_customer_accounts($select=firstname;$orderby=firstname)"
    ).json()
    assert [c["firstname"] for c in body["contact_customer_accounts"]] == ["Maria", "Nancy", "Susanna", "Yvonne"]


def test_expand_of_an_unknown_navigation_property_is_a_400(api: WebApi) -> None:
    assert api.get("contacts?$expand=nosuchnav").status_code == 400


def test_unknown_entity_set_is_a_404_naming_the_segment(api: WebApi) -> None:
    response = api.get("foos")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Resource not found for the segment 'foos'."


def test_service_document_lists_entity_sets(api: WebApi) -> None:
    body = api.get("").json()
    assert {"name": "accounts", "kind": "EntitySet", "url": "accounts"} in body["value"]


def test_retrieve_a_collection_through_a_navigation_property(api: WebApi, people: dict[str, str]) -> None:
    body = api.get(f"accounts({people['account']})/contact_customer_accounts?$select=firstname").json()
    assert len(body["value"]) == 4


def test_retrieve_a_single_property_value(api: WebApi, people: dict[str, str]) -> None:
    body = api.get(f"contacts({people['Maria']})/lastname").json()
    assert body["value"] == "O'Bryan"


def test_sql_queries_are_refused_not_ignored(api: WebApi) -> None:
    response = api.get("accounts?sql=SELECT name FROM account")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x80060888"


def test_booleans_stay_booleans_in_rows_with_lookups(api: WebApi, people: dict[str, str]) -> None:
    record = api.create("accounts", {"name": "Flags", "donotemail": True, "creditonhold": False})
    row = api.get(f"accounts({record})").json()
    assert row["donotemail"] is True
    assert row["creditonhold"] is False
    assert row["name"] == "Flags"
