"""FetchXML aggregates on the example data of ``fetchxml/aggregate-data.md``, and the report of docs/admin.md.

Source (``MicrosoftDocs/powerapps-docs``, ``powerapps-docs/developer/data-platform/fetchxml/aggregate-data.md``):
"Example" (ten accounts: the six aggregates of ``numberofemployees``), "Distinct column values", "Grouping" (by
city, ordered by the group's alias; the accounts without a city form a group whose key is left out, as FetchXML
leaves out null values) and "Grouping by parts of a date" (day, week, month, year, fiscal period and year; weeks
start on Sunday with 1 January in week 1, en-US — the sandbox's only user settings).

docs/admin.md, "Reporting on written-back activity in Dynamics", gives the FetchXML of its chart by seller and week;
the last test runs it, as written there, against phone calls written as two sellers.

One sandbox for the module.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.conformance.conftest import API, WebApi, open_api
from tests.conformance.test_security import make_user

from salesbridge.sandbox.assembly import Sandbox, build_sandbox

ADMIN_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "admin.md"
EXAMPLE = [
    # numberofemployees, name, address1_city, createdon
    (None, "Example Account", None, "2023-08-27T10:00:00Z"),
    (1500, "Contoso Pharmaceuticals (sample)", "Redmond", "2023-03-25T10:00:00Z"),
    (2700, "Fabrikam, Inc. (sample)", "Lynnwood", "2023-03-25T10:00:00Z"),
    (2900, "Blue Yonder Airlines (sample)", "Los Angeles", "2023-03-25T10:00:00Z"),
    (2900, "City Power & Light (sample)", "Redmond", "2023-03-25T10:00:00Z"),
    (3900, "Coho Winery (sample)", "Phoenix", "2023-03-25T10:00:00Z"),
    (4300, "Adventure Works (sample)", "Santa Cruz", "2023-03-25T10:00:00Z"),
    (4800, "Alpine Ski House (sample)", "Missoula", "2023-03-25T10:00:00Z"),
    (6000, "Litware, Inc. (sample)", "Dallas", "2023-03-25T10:00:00Z"),
    (6200, "A. Datum Corporation (sample)", "Redmond", "2023-03-25T10:00:00Z"),
]


@pytest.fixture(scope="module")
def org(sandbox_signing_key: rsa.RSAPrivateKey) -> Iterator[tuple[WebApi, Sandbox]]:
    sandbox = build_sandbox(signing_key=sandbox_signing_key)
    with open_api(sandbox) as api:
        for employees, name, city, created in EXAMPLE:
            body: dict[str, Any] = {"name": name, "overriddencreatedon": created}
            if employees is not None:
                body["numberofemployees"] = employees
            if city is not None:
                body["address1_city"] = city
            api.create("accounts", body)
        yield api, sandbox


def _aggregate(api: WebApi, xml: str) -> list[dict[str, Any]]:
    response = api.get(f"accounts?fetchXml={quote(xml, safe='')}")
    assert response.status_code == 200, response.text
    assert response.json()["@odata.context"] == f"{API}$metadata#accounts"
    rows: list[dict[str, Any]] = response.json()["value"]
    return rows


def test_the_six_aggregates(org: tuple[WebApi, Sandbox]) -> None:
    """ "Example": Average 3,911, Count 10, ColumnCount 9, Maximum 6,200, Minimum 1,500, Sum 35,200."""
    api, _ = org
    functions = ("avg", "count", "countcolumn", "max", "min", "sum")
    names = ("Average", "Count", "ColumnCount", "Maximum", "Minimum", "Sum")
    attributes = "".join(
        f"<attribute name='numberofemployees' alias='{name}' aggregate='{function}'/>"
        for name, function in zip(names, functions, strict=True)
    )
    [row] = _aggregate(api, f"<fetch aggregate='true'><entity name='account'>{attributes}</entity></fetch>")
    assert list(row) == list(names)
    assert round(row["Average"]) == 3911
    assert (row["Count"], row["ColumnCount"], row["Maximum"], row["Minimum"], row["Sum"]) == (10, 9, 6200, 1500, 35200)


def test_distinct_column_values(org: tuple[WebApi, Sandbox]) -> None:
    """ "Distinct column values": 8 rather than 9 (two accounts have 2,900 employees)."""
    api, _ = org
    xml = (
        "<fetch aggregate='true'><entity name='account'><attribute name='numberofemployees' alias='ColumnCount' "
        "aggregate='countcolumn' distinct='true'/></entity></fetch>"
    )
    assert _aggregate(api, xml) == [{"ColumnCount": 8}]


def test_grouping_by_city_ordered_by_the_groups_alias(org: tuple[WebApi, Sandbox]) -> None:
    """ "Grouping": Redmond combines three accounts; the account without a city is a group of its own (its
    key left out, as FetchXML leaves out null values), totalling 0."""
    api, _ = org
    xml = (
        "<fetch aggregate='true'><entity name='account'>"
        "<attribute name='numberofemployees' alias='Total' aggregate='sum'/>"
        "<attribute name='address1_city' alias='Count' aggregate='count'/>"
        "<attribute name='address1_city' alias='City' groupby='true'/>"
        "<order alias='City'/></entity></fetch>"
    )
    rows = _aggregate(api, xml)
    assert [(r.get("City"), r["Count"]) for r in rows] == [
        (None, 1),
        ("Dallas", 1),
        ("Los Angeles", 1),
        ("Lynnwood", 1),
        ("Missoula", 1),
        ("Phoenix", 1),
        ("Redmond", 3),
        ("Santa Cruz", 1),
    ]
    assert (rows[0]["Total"], rows[6]["Total"]) == (0, 10600)
    descending = _aggregate(api, xml.replace("<order alias='City'/>", "<order alias='City' descending='true'/>"))
    assert descending[0]["City"] == "Santa Cruz"


def test_grouping_by_parts_of_a_date(org: tuple[WebApi, Sandbox]) -> None:
    """ "Grouping by parts of a date": the two rows of the page's result (day 25, week 12, month 3 …; day 27,
    week 35, month 8 …)."""
    api, _ = org
    parts = [
        ("Day", "day"),
        ("Week", "week"),
        ("Month", "month"),
        ("Year", "year"),
        ("FiscalPeriod", "fiscal-period"),
        ("FiscalYear", "fiscal-year"),
    ]
    groups = "".join(
        f"<attribute name='createdon' alias='{alias}' groupby='true' dategrouping='{grouping}'/>"
        for alias, grouping in parts
    )
    xml = (
        "<fetch aggregate='true'><entity name='account'>"
        f"<attribute name='numberofemployees' alias='Total' aggregate='sum'/>{groups}<order alias='Month'/>"
        "</entity></fetch>"
    )
    rows = _aggregate(api, xml)
    assert rows == [
        {
            "Total": 35200,
            "Day": 25,
            "Week": 12,
            "Month": 3,
            "Year": 2023,
            "FiscalPeriod": "Quarter 1 FY2023",
            "FiscalYear": "FY2023",
        },
        {
            "Total": 0,
            "Day": 27,
            "Week": 35,
            "Month": 8,
            "Year": 2023,
            "FiscalPeriod": "Quarter 3 FY2023",
            "FiscalYear": "FY2023",
        },
    ]


def _admin_guide_fetchxml() -> str:
    text = ADMIN_GUIDE.read_text(encoding="utf-8")
    section = text.split("## Reporting on written-back activity in Dynamics", 1)[1]
    match = re.search(r"```xml\n(<fetch.*?</fetch>)\n```", section, re.S)
    assert match is not None, "docs/admin.md no longer shows the chart's FetchXML"
    return match.group(1)


def test_the_admin_guides_chart_by_seller_and_week(org: tuple[WebApi, Sandbox]) -> None:
    """docs/admin.md's FetchXML, as written there: activities written back on behalf of sellers, counted by
    owner and week; activities the application user wrote as itself are not counted."""
    api, sandbox = org
    dana, eli = make_user(sandbox, "Dana"), make_user(sandbox, "Eli")
    for seller, when in (
        (dana, "2026-11-30T09:00:00Z"),  # a Monday: week 49
        (dana, "2026-12-01T09:00:00Z"),
        (dana, "2026-12-07T09:00:00Z"),  # week 50
        (eli, "2026-12-08T09:00:00Z"),
    ):
        response = api.post(
            "phonecalls",
            json={"subject": "Call", "actualend": when},
            headers={"MSCRMCallerID": seller},
        )
        assert response.status_code == 204, response.text
    api.create("phonecalls", {"subject": "Not on behalf of anyone", "actualend": "2026-12-08T09:00:00Z"})

    xml = _admin_guide_fetchxml().replace("<application user id>", sandbox.application.systemuser_id)
    response = api.get(f"activitypointers?fetchXml={quote(xml, safe='')}")
    assert response.status_code == 200, response.text
    counted = Counter({(r["seller"], r["week"]): r["activities"] for r in response.json()["value"]})
    assert counted == Counter({(dana, 49): 2, (dana, 50): 1, (eli, 50): 1})
