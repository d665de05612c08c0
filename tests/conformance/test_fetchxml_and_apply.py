"""FetchXML (``?fetchXml=``) and ``$apply``: filters, link-entity, aggregates with groupby, and the same
aggregations both ways.

Sources (``MicrosoftDocs/powerapps-docs``, ``powerapps-docs/developer/data-platform/``):
``webapi/use-fetchxml-web-api.md`` (the first example: properties with null values are left out; "Paging with
FetchXML": ``count``/``page`` and ``@Microsoft.Dynamics.CRM.morerecords``), ``fetchxml/aggregate-data.md``
(``aggregate="true"``, ``groupby``, ``count``/``countcolumn``/``sum``/``avg``/``min``/``max`` named by ``alias``),
``webapi/query/aggregate-data.md`` (each ``$apply`` example, "Distinct column values").

One sandbox for the module, holding the pages' sample accounts (status, revenue, primary contact, state).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.conformance.conftest import API, WebApi, open_api

from salesbridge.sandbox.assembly import build_sandbox

ACCOUNTS = [
    # name, accountnumber, revenue, state, primary contact, active
    ("Fourth Coffee (sample)", "1234", 100000, "WA", "Rene Valdes (sample)", True),
    ("Litware, Inc. (sample)", None, 80000, "WA", "Robert Lyon (sample)", True),
    ("Adventure Works (sample)", None, 250000, "TX", "Rene Valdes (sample)", True),
    ("Fabrikam, Inc. (sample)", None, 10000, "WA", None, False),
]


@pytest.fixture(scope="module")
def fx(sandbox_signing_key: rsa.RSAPrivateKey) -> Iterator[WebApi]:
    sandbox = build_sandbox(signing_key=sandbox_signing_key)
    with open_api(sandbox) as api:
        contacts: dict[str, str] = {}
        for name, number, revenue, state, contact, active in ACCOUNTS:
            body: dict[str, Any] = {"name": name, "revenue": revenue, "address1_stateorprovince": state}
            if number:
                body["accountnumber"] = number
            if contact:
                if contact not in contacts:
                    first, last = contact.split(" ", 1)
                    contacts[contact] = api.create("contacts", {"firstname": first, "lastname": last})
                body["primarycontactid@odata.bind"] = f"/contacts({contacts[contact]})"
            account = api.create("accounts", body)
            if not active:
                response = api.patch(f"accounts({account})", json={"statecode": 1, "statuscode": 2})
                assert response.status_code == 204, response.text
        yield api


def _fetch(api: WebApi, entity_set: str, xml: str, **kwargs: Any) -> Any:
    return api.get(f"{entity_set}?fetchXml={quote(xml, safe='')}", **kwargs)


def _value(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["OData-Version"] == "4.0"
    value: list[dict[str, Any]] = response.json()["value"]
    return value


# --- webapi/use-fetchxml-web-api.md ------------------------------------------------------------------------------


def test_fetchxml_leaves_null_properties_out(fx: WebApi) -> None:
    """The page's first example: ``accountnumber`` only where it has a value; ETag and key on every row."""
    xml = (
        "<fetch mapping='logical'><entity name='account'><attribute name='accountid'/><attribute name='name'/>"
        "<attribute name='accountnumber'/><order attribute='name'/></entity></fetch>"
    )
    response = _fetch(fx, "accounts", xml)
    rows = _value(response)
    assert response.json()["@odata.context"].startswith(f"{API}$metadata#accounts(")
    assert [r["name"] for r in rows] == sorted(a[0] for a in ACCOUNTS)
    numbered = [r for r in rows if "accountnumber" in r]
    assert [(r["name"], r["accountnumber"]) for r in numbered] == [("Fourth Coffee (sample)", "1234")]
    for row in rows:
        assert row["@odata.etag"].startswith('W/"')
        assert set(row) <= {"@odata.etag", "accountid", "name", "accountnumber"}


def test_fetchxml_filters(fx: WebApi) -> None:
    """``filter``/``condition`` with like, in, eq on a choice, and a nested or-filter."""
    xml = (
        "<fetch><entity name='account'><attribute name='name'/><order attribute='name'/>"
        "<filter type='and'><condition attribute='address1_stateorprovince' operator='eq' value='wa'/>"
        "<filter type='or'><condition attribute='name' operator='like' value='%Coffee%'/>"
        "<condition attribute='statecode' operator='in'><value>1</value></condition></filter></filter>"
        "</entity></fetch>"
    )
    assert [r["name"] for r in _value(_fetch(fx, "accounts", xml))] == [
        "Fabrikam, Inc. (sample)",
        "Fourth Coffee (sample)",
    ]


def test_fetchxml_link_entity_columns_are_named_by_the_alias(fx: WebApi) -> None:
    """``link-entity``: the linked table's columns come as ``<alias>.<column>``; an inner link drops accounts
    without a primary contact, an outer one keeps them."""
    inner = (
        "<fetch><entity name='account'><attribute name='name'/><order attribute='name'/>"
        "<link-entity name='contact' from='contactid' to='primarycontactid' alias='pc'>"
        "<attribute name='fullname'/><filter><condition attribute='fullname' operator='begins-with' value='Rene'/>"
        "</filter></link-entity></entity></fetch>"
    )
    rows = _value(_fetch(fx, "accounts", inner))
    assert [(r["name"], r["pc.fullname"]) for r in rows] == [
        ("Adventure Works (sample)", "Rene Valdes (sample)"),
        ("Fourth Coffee (sample)", "Rene Valdes (sample)"),
    ]
    outer = inner.replace("alias='pc'", "alias='pc' link-type='outer'").replace(
        "<filter><condition attribute='fullname' operator='begins-with' value='Rene'/></filter>", ""
    )
    rows = _value(_fetch(fx, "accounts", outer))
    assert len(rows) == 4
    assert "pc.fullname" not in next(r for r in rows if r["name"] == "Fabrikam, Inc. (sample)")


def test_fetchxml_paging_reports_more_records(fx: WebApi) -> None:
    """use-fetchxml-web-api.md, "Paging with FetchXML": ``count`` and ``page``;
    ``@Microsoft.Dynamics.CRM.morerecords`` while more exist."""
    xml = (
        "<fetch count='3' page='{}'><entity name='account'><attribute name='name'/><order attribute='name'/>"
        "</entity></fetch>"
    )
    first = _fetch(fx, "accounts", xml.format(1), headers={"Prefer": 'odata.include-annotations="*"'})
    assert len(_value(first)) == 3
    assert first.json()["@Microsoft.Dynamics.CRM.morerecords"] is True
    last = _fetch(fx, "accounts", xml.format(2), headers={"Prefer": 'odata.include-annotations="*"'})
    assert [r["name"] for r in _value(last)] == ["Litware, Inc. (sample)"]
    assert "@Microsoft.Dynamics.CRM.morerecords" not in last.json()


# --- fetchxml/aggregate-data.md ----------------------------------------------------------------------------------


def test_fetchxml_aggregates_grouped_by_a_column(fx: WebApi) -> None:
    xml = (
        "<fetch aggregate='true'><entity name='account'>"
        "<attribute name='statuscode' alias='status' groupby='true'/>"
        "<attribute name='accountid' alias='count' aggregate='count'/>"
        "<attribute name='revenue' alias='total' aggregate='sum'/>"
        "<attribute name='revenue' alias='average' aggregate='avg'/>"
        "<attribute name='revenue' alias='largest' aggregate='max'/>"
        "<attribute name='accountnumber' alias='numbered' aggregate='countcolumn'/>"
        "</entity></fetch>"
    )
    response = _fetch(fx, "accounts", xml)
    assert response.json()["@odata.context"] == f"{API}$metadata#accounts"
    assert _value(response) == [
        {"status": 1, "count": 3, "total": 430000, "average": 430000 / 3, "largest": 250000, "numbered": 1},
        {"status": 2, "count": 1, "total": 10000, "average": 10000, "largest": 10000, "numbered": 0},
    ]


def test_fetchxml_groups_by_a_linked_column(fx: WebApi) -> None:
    xml = (
        "<fetch aggregate='true'><entity name='account'><attribute name='revenue' alias='total' aggregate='sum'/>"
        "<link-entity name='contact' from='contactid' to='primarycontactid' alias='pc'>"
        "<attribute name='fullname' alias='contact' groupby='true'/></link-entity></entity></fetch>"
    )
    assert _value(_fetch(fx, "accounts", xml)) == [
        {"total": 350000, "contact": "Rene Valdes (sample)"},
        {"total": 80000, "contact": "Robert Lyon (sample)"},
    ]


@pytest.mark.parametrize(
    ("xml", "code"),
    [
        ("<fetch><entity name='contact'><attribute name='fullname'/></entity></fetch>", "0x80041102"),
        ("<fetch><entity name='account'><attribute name='nosuchcolumn'/></entity></fetch>", "0x80041103"),
        (
            "<fetch><entity name='account'><filter><condition attribute='name' operator='under' value='x'/>"
            "</filter></entity></fetch>",
            "0x80041102",
        ),
        ("<fetch><entity name='account'>", "0x80041102"),
        (
            "<fetch aggregate='true'><entity name='account'>"
            "<attribute name='name' alias='month' groupby='true' dategrouping='month'/></entity></fetch>",
            "0x80041102",
        ),
    ],
    ids=["other-table", "unknown-column", "unsupported-operator", "malformed", "date-grouping-of-text"],
)
def test_fetchxml_the_sandbox_cannot_answer_is_refused(fx: WebApi, xml: str, code: str) -> None:
    response = _fetch(fx, "accounts", xml)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


# --- webapi/query/aggregate-data.md ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("apply", "expected"),
    [
        ("groupby((statuscode))", [{"statuscode": 1}, {"statuscode": 2}]),
        (
            "groupby((statuscode),aggregate($count as count))",
            [{"statuscode": 1, "count": 3}, {"statuscode": 2, "count": 1}],
        ),
        ("aggregate(revenue with sum as total)", [{"total": 440000}]),
        (
            "groupby((statuscode),aggregate(revenue with average as averagevalue))",
            [{"statuscode": 1, "averagevalue": 430000 / 3}, {"statuscode": 2, "averagevalue": 10000}],
        ),
        (
            "groupby((statuscode),aggregate(revenue with sum as total))",
            [{"statuscode": 1, "total": 430000}, {"statuscode": 2, "total": 10000}],
        ),
        (
            "filter(address1_stateorprovince eq 'WA')/groupby((primarycontactid/fullname))",
            [{"contact_fullname": "Rene Valdes (sample)"}, {"contact_fullname": "Robert Lyon (sample)"}],
        ),
        (
            "groupby((statecode,statuscode,accountcategorycode))",
            [{"statecode": 0, "statuscode": 1}, {"statecode": 1, "statuscode": 2}],
        ),
    ],
    ids=[
        "unique-statuses",
        "count-by-status",
        "sum",
        "average-by-status",
        "sum-by-status",
        "filter-then-group",
        "distinct",
    ],
)
def test_apply_examples(fx: WebApi, apply: str, expected: list[dict[str, Any]]) -> None:
    response = fx.get(f"accounts?$apply={apply}")
    assert response.json()["@odata.context"] == f"{API}$metadata#accounts"
    rows = _value(response)
    if "primarycontactid" in apply:
        rows = [r for r in rows if r]  # the account without a primary contact forms a group of its own
    assert rows == expected


def test_apply_total_by_a_lookup_column(fx: WebApi) -> None:
    """aggregate-data.md, "Total account revenue by primary contact name": the group is named ``contact_fullname``."""
    rows = _value(fx.get("accounts?$apply=groupby((primarycontactid/fullname),aggregate(revenue with sum as total))"))
    totals = {r.get("contact_fullname"): r["total"] for r in rows}
    assert totals == {None: 10000, "Rene Valdes (sample)": 350000, "Robert Lyon (sample)": 80000}


def test_apply_first_and_last_created(fx: WebApi) -> None:
    newest = _value(fx.get("accounts?$apply=aggregate(createdon with max as lastCreate)"))
    oldest = _value(fx.get("accounts?$apply=aggregate(createdon with min as firstCreate)"))
    assert newest[0]["lastCreate"] >= oldest[0]["firstCreate"]
    assert newest[0]["lastCreate"].endswith("Z")


def test_fetchxml_and_apply_agree(fx: WebApi) -> None:
    """The same report both ways: revenue by status of the accounts in WA."""
    xml = (
        "<fetch aggregate='true'><entity name='account'>"
        "<attribute name='statuscode' alias='statuscode' groupby='true'/>"
        "<attribute name='revenue' alias='total' aggregate='sum'/>"
        "<filter><condition attribute='address1_stateorprovince' operator='eq' value='WA'/></filter></entity></fetch>"
    )
    fetched = _value(_fetch(fx, "accounts", xml))
    applied = _value(
        fx.get(
            "accounts?$apply=filter(address1_stateorprovince eq 'WA')/groupby((statuscode),"
            "aggregate(revenue with sum as total))"
        )
    )
    assert fetched == applied == [{"statuscode": 1, "total": 180000}, {"statuscode": 2, "total": 10000}]


def test_apply_with_other_options_or_unsupported_parts_is_refused(fx: WebApi) -> None:
    for query in (
        "$apply=groupby((statuscode))&$top=1",
        "$apply=compute(revenue mul 2 as double)",
        "$apply=aggregate(revenue with median as m)",
    ):
        response = fx.get(f"accounts?{query}")
        assert response.status_code == 400, query
        assert response.json()["error"]["code"] == "0x80060888"
