"""Every example of Microsoft's OData query pages, replayed against the sandbox: one parametrized test per page.

Source: ``MicrosoftDocs/powerapps-docs``, ``powerapps-docs/developer/data-platform/webapi/query/`` —
``select-columns.md``, ``overview.md``, ``filter-rows.md``, ``optimize-performance.md``, ``order-rows.md``,
``page-results.md`` and ``count-rows.md`` (each case is named after its page and section). Every ```http request
of a page and every OData expression of its tables (each comparison, logical and string operator, each Dataverse
query function) is a case; the examples that the sandbox does not claim are listed, each with the reason, in
``docs/sandbox.md`` ("Query pages, example by example") and, for the query functions it refuses, proved refused
rather than ignored.

The organization holds the pages' sample records ("Litware, Inc. (sample)" …) under fixed low ids, so that the
paging example's first page is the page's; the sandbox's clock is fixed (a Wednesday) so that the date functions
have a known answer. Records are compared by name, and responses by status, headers, keys (in the example's
order), annotations and types — not ids, ETags or timestamps. One sandbox for the module, read only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.conformance.conftest import API, WebApi, open_api
from tests.conformance.documented import lookup_property_data, ok

from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.seeds.seeding import parse_seed

#: The sandbox's clock: Wednesday 17 June 2026, noon UTC (en-US weeks start on Sunday the 14th).
NOW = datetime(2026, 6, 17, 12, 0, tzinfo=UTC)
FORMATTED = "OData.Community.Display.V1.FormattedValue"
PREFER_FORMATTED = f'odata.include-annotations="{FORMATTED}"'
QUERY_ERROR = "0x80060888"

LITWARE, ADVENTURE, FOURTH, DATUM = (
    "Litware, Inc. (sample)",
    "Adventure Works (sample)",
    "Fourth Coffee (sample)",
    ("A. Datum Corporation (sample)"),
)
CONTOSO, FABRIKAM, NORTHWIND = "Contoso test", "Fabrikam +123 Inc.", "Northwind Inc."
SAMPLES = {LITWARE, ADVENTURE, FOURTH, DATUM}
ALL_ACCOUNTS = SAMPLES | {CONTOSO, FABRIKAM, NORTHWIND}

#: name → (revenue, numberofemployees, customertypecode); the order of creation is the order of the ids.
ACCOUNTS: dict[str, tuple[int | None, int | None, int | None]] = {
    LITWARE: (20000, 10, 5),  # Partner
    ADVENTURE: (100000, 3, 6),  # Influencer
    FOURTH: (150000, 2000, 1),  # Competitor
    DATUM: (None, 6000, None),
    CONTOSO: (4000, None, None),
    FABRIKAM: (6000, None, None),
    NORTHWIND: (20000, None, None),
}
#: (firstname, lastname, parent account, jobtitle); page-results.md's first page is Yvonne then Susanna.
CONTACTS = [
    ("Yvonne", "McKay (sample)", None, None),
    ("Susanna", "Stubberod (sample)", LITWARE, None),
    ("Nancy", "Anderson (sample)", ADVENTURE, None),
    ("Maria", "Campbell (sample)", None, None),
    ("Same", "Same", None, None),
    ("Pat", "OBrian", None, None),
    ("Pat", "O'Bryan", None, None),
    ("Pat", "O'Brian", None, None),
    ("Jo", "Buyer", FABRIKAM, "jobtitle"),
    ("Al", "Buyer", NORTHWIND, "jobtitle"),
]
#: Due dates of tasks regarding nothing, around NOW, for the date query functions.
DUE = {
    "half an hour ago": NOW - timedelta(minutes=30),
    "three hours ago": NOW - timedelta(hours=3),
    "yesterday": datetime(2026, 6, 16, 10, tzinfo=UTC),
    "last friday": datetime(2026, 6, 12, 10, tzinfo=UTC),
    "ten days ago": datetime(2026, 6, 7, 10, tzinfo=UTC),
    "last month": datetime(2026, 5, 20, 10, tzinfo=UTC),
    "in march": datetime(2026, 3, 10, 10, tzinfo=UTC),
    "last year": datetime(2025, 8, 1, 10, tzinfo=UTC),
    "three years ago": datetime(2023, 1, 1, 10, tzinfo=UTC),
    "in two hours": NOW + timedelta(hours=2),
    "tomorrow": datetime(2026, 6, 18, 10, tzinfo=UTC),
    "next monday": datetime(2026, 6, 22, 10, tzinfo=UTC),
    "next month": datetime(2026, 7, 15, 10, tzinfo=UTC),
    "in september": datetime(2026, 9, 10, 10, tzinfo=UTC),
    "next year": datetime(2027, 3, 1, 10, tzinfo=UTC),
}


#: The characters filter-rows.md's "URL encode special characters" table lists, in a task's subject.
SPECIAL_CHARACTERS = "Specials $&+,/:;=?@ here"


@dataclass
class Pages:
    """The module's sandbox client and the facts the cases compare with."""

    api: WebApi
    user_id: str
    user_fullname: str
    ids: dict[str, str] = field(default_factory=dict)


def _fixed_id(prefix: str, number: int) -> str:
    return f"00000000-0000-0000-0000-0000{prefix}{number:04d}"


@pytest.fixture(scope="module")
def pages(sandbox_signing_key: rsa.RSAPrivateKey) -> Iterator[Pages]:
    sandbox = build_sandbox(signing_key=sandbox_signing_key, clock=lambda: NOW)
    with open_api(sandbox) as api:
        me = api.get("WhoAmI").json()["UserId"]
        fullname = api.get(f"systemusers({me})?$select=fullname").json()["fullname"]
        data = Pages(api, me, fullname)
        ids = data.ids
        for number, (name, (revenue, employees, relationship)) in enumerate(ACCOUNTS.items(), start=1):
            ids[name] = api.create(
                "accounts",
                {
                    "accountid": _fixed_id("aaaa", number),
                    "name": name,
                    "revenue": revenue,
                    "numberofemployees": employees,
                    "customertypecode": relationship,
                },
            )
        for number, (first, last, parent, jobtitle) in enumerate(CONTACTS, start=1):
            body: dict[str, Any] = {"contactid": _fixed_id("cccc", number), "firstname": first, "lastname": last}
            if parent:
                body["parentcustomerid_account@odata.bind"] = f"/accounts({ids[parent]})"
            if jobtitle:
                body["jobtitle"] = jobtitle
            ids[f"{first} {last}"] = api.create("contacts", body)
        for account, contact, number in (
            (LITWARE, "Susanna Stubberod (sample)", "ACC-1234"),
            (ADVENTURE, "Nancy Anderson (sample)", "ACC-9876"),
        ):
            api.patch(
                f"accounts({ids[account]})",
                json={"primarycontactid@odata.bind": f"/contacts({ids[contact]})", "accountnumber": number},
            ).raise_for_status()
        # A hierarchy (account_parent_account): Litware above Fourth Coffee above Northwind.
        for child, parent in ((FOURTH, LITWARE), (NORTHWIND, FOURTH)):
            api.patch(
                f"accounts({ids[child]})", json={"parentaccountid@odata.bind": f"/accounts({ids[parent]})"}
            ).raise_for_status()
        for contact, description in (("Jo Buyer", "Renewal"), ("Al Buyer", "N/A")):
            api.create(
                "opportunities",
                {
                    "name": f"Deal with {contact}",
                    "description": description,
                    "customerid_contact@odata.bind": f"/contacts({ids[contact]})",
                },
            )
        # Account_Tasks/all(t:t/statecode eq 1): Litware's tasks are all completed, Adventure Works' are not.
        for account, states in ((LITWARE, (1, 1)), (ADVENTURE, (1, 0))):
            for number, state in enumerate(states, start=1):
                task = api.create(
                    "tasks",
                    {
                        "subject": f"Task {number}",
                        "regardingobjectid_account_task@odata.bind": f"/accounts({ids[account]})",
                    },
                )
                if state:
                    api.patch(f"tasks({task})", json={"statecode": 1}).raise_for_status()
        for account, subject, state in (
            (LITWARE, "sometext in the subject", 0),
            (ADVENTURE, "more sometext", 1),
            (FOURTH, "nothing to see", 0),
        ):
            email = api.create(
                "emails",
                {"subject": subject, "regardingobjectid_account_email@odata.bind": f"/accounts({ids[account]})"},
            )
            if state:
                api.patch(f"emails({email})", json={"statecode": 1}).raise_for_status()
        for subject, due in DUE.items():
            api.create("tasks", {"subject": subject, "scheduledend": due.isoformat().replace("+00:00", "Z")})
        api.create("tasks", {"subject": SPECIAL_CHARACTERS})
        # The functions about the caller: a team the caller belongs to owns one task, another team one more.
        for team_name, member in (("Sales team", True), ("Other team", False)):
            unit = api.get(f"systemusers({me})?$select=_businessunitid_value").json()["_businessunitid_value"]
            team = api.create("teams", {"name": team_name, "businessunitid@odata.bind": f"/businessunits({unit})"})
            if member:
                api.post(
                    f"teams({team})/teammembership_association/$ref",
                    json={"@odata.id": f"{API}systemusers({me})"},
                ).raise_for_status()
            api.create("tasks", {"subject": f"owned by {team_name}", "ownerid@odata.bind": f"/teams({team})"})
            if member:
                # select-columns.md, "Lookup property data": one of the first two accounts is a team's.
                api.patch(
                    f"accounts({ids[ADVENTURE]})", json={"ownerid@odata.bind": f"/teams({team})"}
                ).raise_for_status()
        yield data


# --- helpers -----------------------------------------------------------------------------------------------------


def _names(body: dict[str, Any], key: str = "name") -> list[str]:
    return [str(row[key]) for row in body["value"]]


def _preferences(response: Any) -> set[str]:
    """The preferences ``Preference-Applied`` names, whether in one header or several (RFC 7240)."""
    applied: set[str] = set()
    for value in response.headers.get_list("Preference-Applied"):
        applied.update(part.strip() for part in value.split(",") if part.strip() and "=" in part)
    return applied


Check = Callable[[Pages], None]


def _rows(path: str, expected: set[str], key: str = "name") -> Check:
    """The request answers 200 with exactly the rows named ``expected``."""

    def check(pages: Pages) -> None:
        assert set(_names(ok(pages.api.get(path)), key)) == expected

    return check


def _ordered(path: str, expected: list[str], key: str = "name") -> Check:
    def check(pages: Pages) -> None:
        assert _names(ok(pages.api.get(path)), key) == expected

    return check


def _refused(path: str, message: str, code: str = QUERY_ERROR) -> Check:
    """The request is refused with a 400 and Dataverse's error (never answered with the condition ignored)."""

    def check(pages: Pages) -> None:
        response = pages.api.get(path)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == {"code": code, "message": message}

    return check


def _accounts(filter_text: str, expected: set[str]) -> Any:
    return _rows(f"accounts?$select=name&$filter={filter_text}", expected)


def _due(function: str, arguments: str | None, inside: str, outside: str) -> Check:
    """A date query function on the tasks' due date: the task ``inside`` matches, ``outside`` does not."""
    argument = "" if arguments is None else f",{arguments}"
    call = f"{function}(PropertyName='scheduledend'{argument})"

    def check(pages: Pages) -> None:
        body = ok(pages.api.get(f"tasks?$select=subject&$filter=Microsoft.Dynamics.CRM.{call}"))
        subjects = set(_names(body, "subject"))
        assert inside in subjects
        assert outside not in subjects
        assert subjects <= set(DUE)

    return check


def _param(page: str, section: str, check: Check) -> Any:
    return pytest.param(check, id=f"{page}: {section}")


# --- webapi/query/select-columns.md (also in test_documented_examples.py, there without a relationship type) ----


def _select(pages: Pages) -> None:
    body = ok(pages.api.get("accounts?$select=name,revenue&$top=1"))
    assert body["@odata.context"] == f"{API}$metadata#accounts(name,revenue)"
    [account] = body["value"]
    assert list(account) == ["@odata.etag", "name", "revenue", "_transactioncurrencyid_value", "accountid"]
    assert (account["name"], account["revenue"]) == (LITWARE, 20000)
    assert isinstance(account["revenue"], float)


def _formatted_values(pages: Pages) -> None:
    response = pages.api.get(
        "accounts?$select=name,revenue,_primarycontactid_value,customertypecode,modifiedon&$top=1",
        headers={"Prefer": PREFER_FORMATTED},
    )
    body = ok(response)
    assert response.headers["Preference-Applied"] == PREFER_FORMATTED
    [account] = body["value"]
    assert list(account) == [
        "@odata.etag",
        "name",
        f"revenue@{FORMATTED}",
        "revenue",
        f"_primarycontactid_value@{FORMATTED}",
        "_primarycontactid_value",
        f"customertypecode@{FORMATTED}",
        "customertypecode",
        f"modifiedon@{FORMATTED}",
        "modifiedon",
        f"_transactioncurrencyid_value@{FORMATTED}",
        "_transactioncurrencyid_value",
        "accountid",
    ]
    formatted = {key.split("@")[0]: value for key, value in account.items() if key.endswith(FORMATTED)}
    assert formatted == {
        "revenue": "$20,000.00",
        "_primarycontactid_value": "Susanna Stubberod (sample)",
        "customertypecode": "Partner",
        "modifiedon": "6/17/2026 12:00 PM",
        "_transactioncurrencyid_value": "US Dollar",
    }
    assert (account["customertypecode"], account["modifiedon"]) == (5, "2026-06-17T12:00:00Z")


def _lookup_property_data(pages: Pages) -> None:
    assert lookup_property_data(pages.api) == [(LITWARE, "systemuser"), (ADVENTURE, "team")]


SELECT_COLUMNS = [
    _param("select-columns.md", "$select (with the currency lookup)", _select),
    _param("select-columns.md", "Formatted values", _formatted_values),
    _param("select-columns.md", "Lookup property data", _lookup_property_data),
]


@pytest.mark.parametrize("check", SELECT_COLUMNS)
def test_select_columns(pages: Pages, check: Check) -> None:
    check(pages)


# --- webapi/query/overview.md ------------------------------------------------------------------------------------


def _service_document(pages: Pages) -> None:
    body = ok(pages.api.get(""))
    assert list(body) == ["@odata.context", "value"]
    assert body["@odata.context"] == f"{API}$metadata"
    assert {"name": "accounts", "kind": "EntitySet", "url": "accounts"} in body["value"]
    assert all(list(item) == ["name", "kind", "url"] for item in body["value"])


def _every_column(pages: Pages) -> None:
    body = ok(pages.api.get("accounts"))
    assert body["@odata.context"] == f"{API}$metadata#accounts"
    assert set(_names(body)) == ALL_ACCOUNTS
    assert {"name", "revenue", "_transactioncurrencyid_value", "accountid", "@odata.etag"} <= set(body["value"][0])


def _filtered_collection(pages: Pages) -> None:
    """Also filter-rows.md, "Filter on lookup property": the filtered collection equals the ``eq`` filter (every
    account but the one a team owns)."""
    through_user = ok(pages.api.get(f"systemusers({pages.user_id})/user_accounts?$select=name"))
    by_lookup = ok(pages.api.get(f"accounts?$filter=_owninguser_value eq {pages.user_id}&$select=name"))
    assert set(_names(through_user)) == set(_names(by_lookup)) == ALL_ACCOUNTS - {ADVENTURE}


def _retrieve_data(pages: Pages) -> None:
    response = pages.api.get(
        "accounts?$select=name,statecode,statuscode&$orderby=name&$top=1", headers={"Prefer": PREFER_FORMATTED}
    )
    body = ok(response)
    assert response.headers["Preference-Applied"] == PREFER_FORMATTED
    assert body["@odata.context"] == f"{API}$metadata#accounts(name,statecode,statuscode)"
    [account] = body["value"]
    assert list(account) == [
        "@odata.etag",
        "name",
        f"statecode@{FORMATTED}",
        "statecode",
        f"statuscode@{FORMATTED}",
        "statuscode",
        "accountid",
    ]
    assert (account["name"], account["statecode"], account["statuscode"]) == (DATUM, 0, 1)
    assert account[f"statecode@{FORMATTED}"] == account[f"statuscode@{FORMATTED}"] == "Active"


#: order-rows.md's example: by revenue ascending, then name descending (two accounts have 20,000).
BY_REVENUE = [CONTOSO, FABRIKAM, NORTHWIND, LITWARE, ADVENTURE, FOURTH]


def _without_parameter_aliases(pages: Pages) -> None:
    body = ok(pages.api.get("accounts?$select=name,revenue&$orderby=revenue asc,name desc&$filter=revenue ne null"))
    assert _names(body) == BY_REVENUE


def _with_parameter_aliases(pages: Pages) -> None:
    """``@p3`` is given no value, so it is null."""
    body = ok(
        pages.api.get("accounts?$select=name,revenue&$orderby=@p1 asc,@p2 desc&$filter=@p1 ne @p3&@p1=revenue&@p2=name")
    )
    assert _names(body) == BY_REVENUE


def _unsupported_option(option: str) -> Check:
    def check(pages: Pages) -> None:
        response = pages.api.get(f"accounts?$select=name&{option}")
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == QUERY_ERROR

    return check


def _limit_rows(pages: Pages) -> None:
    body = ok(pages.api.get("accounts?$select=name&$top=2"))
    assert len(body["value"]) == 2
    assert "@odata.nextLink" not in body


OVERVIEW = [
    _param("overview.md", "EntitySet resources (service document)", _service_document),
    _param("overview.md", "EntitySet resources (GET accounts)", _every_column),
    _param("overview.md", "Filtered collections (user_accounts)", _filtered_collection),
    _param("overview.md", "Retrieve data", _retrieve_data),
    _param("overview.md", "Use parameter aliases: without", _without_parameter_aliases),
    _param("overview.md", "Use parameter aliases: with", _with_parameter_aliases),
    _param("overview.md", "Unsupported OData query options: $skip", _unsupported_option("$skip=1")),
    _param("overview.md", "Unsupported OData query options: $search", _unsupported_option("$search=sample")),
    _param("overview.md", "Unsupported OData query options: $format", _unsupported_option("$format=json")),
    _param("overview.md", "Limit the number of rows", _limit_rows),
]


@pytest.mark.parametrize("check", OVERVIEW)
def test_overview(pages: Pages, check: Check) -> None:
    check(pages)


# --- webapi/query/filter-rows.md ---------------------------------------------------------------------------------


def _filter_on_lookup_column_property(pages: Pages) -> None:
    response = pages.api.get(
        "accounts?$filter=primarycontactid/fullname eq 'Susanna Stubberod (sample)'"
        "&$select=name,_primarycontactid_value",
        headers={"Prefer": PREFER_FORMATTED},
    )
    body = ok(response)
    assert response.headers["Preference-Applied"] == PREFER_FORMATTED
    assert body["@odata.context"] == f"{API}$metadata#accounts(name,_primarycontactid_value)"
    [account] = body["value"]
    assert list(account) == [
        "@odata.etag",
        "name",
        f"_primarycontactid_value@{FORMATTED}",
        "_primarycontactid_value",
        "accountid",
    ]
    assert account["name"] == LITWARE
    assert account[f"_primarycontactid_value@{FORMATTED}"] == "Susanna Stubberod (sample)"
    assert account["_primarycontactid_value"] == pages.ids["Susanna Stubberod (sample)"]


def _filter_further_up_the_hierarchy(pages: Pages) -> None:
    """The page's records were created by 'System Administrator'; the sandbox's by its application user, whose
    name starts with '#' (URL encoded, as "URL encode special characters" says)."""
    response = pages.api.get(
        f"accounts?$filter=primarycontactid/createdby/fullname eq '{quote(pages.user_fullname, safe=' ')}'"
        "&$select=name,_primarycontactid_value"
        "&$expand=primarycontactid($select=fullname,_createdby_value;$expand=createdby($select=fullname))"
        "&$top=1",
        headers={"Prefer": PREFER_FORMATTED},
    )
    body = ok(response)
    assert body["@odata.context"] == (
        f"{API}$metadata#accounts(name,_primarycontactid_value,primarycontactid(fullname,_createdby_value,"
        "createdby(fullname)))"
    )
    [account] = body["value"]
    assert list(account) == [
        "@odata.etag",
        "name",
        f"_primarycontactid_value@{FORMATTED}",
        "_primarycontactid_value",
        "accountid",
        "primarycontactid",
    ]
    contact = account["primarycontactid"]
    assert list(contact) == ["fullname", f"_createdby_value@{FORMATTED}", "_createdby_value", "contactid", "createdby"]
    assert contact[f"_createdby_value@{FORMATTED}"] == pages.user_fullname
    assert list(contact["createdby"]) == ["fullname", "systemuserid", "ownerid"]
    assert contact["createdby"]["fullname"] == pages.user_fullname
    assert contact["createdby"]["systemuserid"] == contact["createdby"]["ownerid"] == pages.user_id


#: The date query functions of filter-rows.md's table: (function, its other arguments, a task that matches, one that
#: does not), on the tasks' due dates around NOW.
DATE_FUNCTIONS: list[tuple[str, str | None, str, str]] = [
    ("Today", None, "three hours ago", "yesterday"),
    ("Yesterday", None, "yesterday", "three hours ago"),
    ("Tomorrow", None, "tomorrow", "next monday"),
    ("Last7Days", None, "last friday", "ten days ago"),
    ("Next7Days", None, "next monday", "next month"),
    ("ThisWeek", None, "yesterday", "last friday"),
    ("LastWeek", None, "last friday", "yesterday"),
    ("NextWeek", None, "next monday", "tomorrow"),
    ("ThisMonth", None, "last friday", "last month"),
    ("LastMonth", None, "last month", "last friday"),
    ("NextMonth", None, "next month", "next monday"),
    ("ThisYear", None, "in march", "last year"),
    ("LastYear", None, "last year", "in march"),
    ("NextYear", None, "next year", "in september"),
    ("LastXHours", "PropertyValue=2", "half an hour ago", "three hours ago"),
    ("NextXHours", "PropertyValue=3", "in two hours", "tomorrow"),
    ("LastXDays", "PropertyValue=3", "yesterday", "last friday"),
    ("NextXDays", "PropertyValue=2", "tomorrow", "next monday"),
    ("LastXWeeks", "PropertyValue=1", "last friday", "ten days ago"),
    ("NextXWeeks", "PropertyValue=1", "next monday", "next month"),
    ("LastXMonths", "PropertyValue=2", "last month", "in march"),
    ("NextXMonths", "PropertyValue=2", "next month", "in september"),
    ("LastXYears", "PropertyValue=2", "last year", "three years ago"),
    ("NextXYears", "PropertyValue=1", "next year", "three hours ago"),
    ("OlderThanXMinutes", "PropertyValue=60", "three hours ago", "half an hour ago"),
    ("OlderThanXHours", "PropertyValue=2", "three hours ago", "half an hour ago"),
    ("OlderThanXDays", "PropertyValue=3", "last friday", "yesterday"),
    ("OlderThanXWeeks", "PropertyValue=1", "ten days ago", "last friday"),
    ("OlderThanXMonths", "PropertyValue=2", "in march", "last month"),
    ("OlderThanXYears", "PropertyValue=2", "three years ago", "last year"),
    ("On", "PropertyValue='2026-06-16'", "yesterday", "three hours ago"),
    ("OnOrAfter", "PropertyValue='2026-06-17'", "three hours ago", "yesterday"),
    ("OnOrBefore", "PropertyValue='2026-06-16'", "yesterday", "three hours ago"),
    ("ThisFiscalYear", None, "in march", "last year"),
    ("LastFiscalYear", None, "last year", "in march"),
    ("NextFiscalYear", None, "next year", "in september"),
    ("ThisFiscalPeriod", None, "last month", "in march"),
    ("LastFiscalPeriod", None, "in march", "last month"),
    ("NextFiscalPeriod", None, "next month", "last month"),
    ("InFiscalYear", "PropertyValue=2025", "last year", "in march"),
    ("InFiscalPeriod", "PropertyValue=1", "three years ago", "last month"),
    ("InFiscalPeriodAndYear", "PropertyValue1=1,PropertyValue2=2026", "in march", "next year"),
    ("InOrAfterFiscalPeriodAndYear", "PropertyValue1=3,PropertyValue2=2026", "next month", "last month"),
    ("InOrBeforeFiscalPeriodAndYear", "PropertyValue1=1,PropertyValue2=2026", "in march", "last month"),
]

FILTER_ROWS = [
    _param("filter-rows.md", "Comparison operators: eq", _accounts("revenue eq 100000", {ADVENTURE})),
    _param(
        "filter-rows.md",
        "Comparison operators: ne (null revenue does not match)",
        _accounts("revenue ne 100000", {LITWARE, FOURTH, CONTOSO, FABRIKAM, NORTHWIND}),
    ),
    _param("filter-rows.md", "Comparison operators: gt", _accounts("revenue gt 100000", {FOURTH})),
    _param("filter-rows.md", "Comparison operators: ge", _accounts("revenue ge 100000", {ADVENTURE, FOURTH})),
    _param(
        "filter-rows.md",
        "Comparison operators: lt",
        _accounts("revenue lt 100000", {LITWARE, CONTOSO, FABRIKAM, NORTHWIND}),
    ),
    _param(
        "filter-rows.md",
        "Comparison operators: le",
        _accounts("revenue le 100000", {LITWARE, ADVENTURE, CONTOSO, FABRIKAM, NORTHWIND}),
    ),
    _param(
        "filter-rows.md",
        "Column comparison",
        _rows("contacts?$select=fullname&$filter=firstname eq lastname", {"Same Same"}, "fullname"),
    ),
    _param(
        "filter-rows.md",
        "Logical operators: and",
        _accounts("revenue lt 100000 and revenue gt 2000", {LITWARE, CONTOSO, FABRIKAM, NORTHWIND}),
    ),
    _param(
        "filter-rows.md",
        "Logical operators: or",
        _accounts("contains(name,'(sample)') or contains(name,'test')", SAMPLES | {CONTOSO}),
    ),
    _param(
        "filter-rows.md",
        "Logical operators: not",
        _accounts("not contains(name,'sample')", {CONTOSO, FABRIKAM, NORTHWIND}),
    ),
    _param(
        "filter-rows.md",
        "Grouping operators",
        _accounts(
            "(contains(name,'sample') or contains(name,'test')) and revenue gt 5000", {LITWARE, ADVENTURE, FOURTH}
        ),
    ),
    _param(
        "filter-rows.md",
        "Dataverse query functions: Between",
        _rows(
            "accounts?$select=name,numberofemployees"
            '&$filter=Microsoft.Dynamics.CRM.Between(PropertyName=\'numberofemployees\',PropertyValues=["5","2000"])',
            {LITWARE, FOURTH},
        ),
    ),
    _param(
        "filter-rows.md",
        "Dataverse query functions: NotBetween",
        _accounts(
            'Microsoft.Dynamics.CRM.NotBetween(PropertyName=\'numberofemployees\',PropertyValues=["5","2000"])',
            {ADVENTURE, DATUM},
        ),
    ),
    _param(
        "filter-rows.md",
        "Dataverse query functions: In",
        _accounts(
            'Microsoft.Dynamics.CRM.In(PropertyName=\'revenue\',PropertyValues=["4000","6000"])', {CONTOSO, FABRIKAM}
        ),
    ),
    _param(
        "filter-rows.md",
        "Dataverse query functions: NotIn",
        _accounts(
            'Microsoft.Dynamics.CRM.NotIn(PropertyName=\'revenue\',PropertyValues=["4000","6000","20000"])',
            {ADVENTURE, FOURTH},
        ),
    ),
    *(
        _param("filter-rows.md", f"Dates: {name}", _due(name, arguments, inside, outside))
        for name, arguments, inside, outside in DATE_FUNCTIONS
    ),
    _param(
        "filter-rows.md",
        "URL encode special characters",
        _accounts("contains(name,'%2B123')", {FABRIKAM}),
    ),
    _param(
        "filter-rows.md",
        "URL encode special characters: every one of the table",
        _rows(
            "tasks?$select=subject&$filter=contains(subject,'%24%26%2B%2C%2F%3A%3B%3D%3F%40')",
            {SPECIAL_CHARACTERS},
            "subject",
        ),
    ),
    _param("filter-rows.md", "Use wildcard characters: %", _accounts("contains(name,'Coffee%sample')", {FOURTH})),
    _param("filter-rows.md", "Use wildcard characters: _", _accounts("startswith(name,'_orth')", {NORTHWIND})),
    _param(
        "filter-rows.md",
        "Use wildcard characters: []",
        _accounts("startswith(name,'[A-C]')", {ADVENTURE, DATUM, CONTOSO}),
    ),
    _param(
        "filter-rows.md", "Use wildcard characters: [^]", _accounts("startswith(name,'[^A-F]')", {LITWARE, NORTHWIND})
    ),
    _param("filter-rows.md", "Use OData query functions: contains", _accounts("contains(name,'(sample)')", SAMPLES)),
    _param(
        "filter-rows.md",
        "Use OData query functions: endswith",
        _accounts("endswith(name,'Inc.')", {FABRIKAM, NORTHWIND}),
    ),
    _param(
        "filter-rows.md", "Use OData query functions: startswith", _accounts("startswith(name,'a')", {ADVENTURE, DATUM})
    ),
    _param(
        "filter-rows.md",
        "Use OData query functions: with not",
        _accounts("not startswith(name,'a')", ALL_ACCOUNTS - {ADVENTURE, DATUM}),
    ),
    _param(
        "filter-rows.md",
        "Manage single quotes: In with double quotes",
        _rows(
            "contacts?$select=fullname&$filter=Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)"
            '&@p1=\'lastname\'&@p2=["OBrian","OBryan","O\'Brian","O\'Bryan"]',
            {"Pat OBrian", "Pat O'Bryan", "Pat O'Brian"},
            "fullname",
        ),
    ),
    _param(
        "filter-rows.md",
        "Manage single quotes: the error with single quotes",
        _refused(
            "contacts?$select=fullname&$filter=Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)"
            "&@p1='lastname'&@p2=['OBrian','OBryan','O'Brian','O'Bryan']",
            "Invalid JSON. A comma character ',' was expected in scope 'Array'. Every two elements in an array and "
            "properties of an object must be separated by commas.",
        ),
    ),
    _param(
        "filter-rows.md",
        "Manage single quotes: a single value",
        _rows("contacts?$select=fullname&$filter=lastname eq 'O''Bryan'", {"Pat O'Bryan"}, "fullname"),
    ),
    _param(
        "filter-rows.md",
        "Manage single quotes: the error without doubling",
        _refused(
            "contacts?$select=fullname&$filter=lastname eq 'O'Bryan'",
            "There is an unterminated literal at position 21 in 'lastname eq 'O'Bryan''.",
        ),
    ),
    _param(
        "filter-rows.md",
        "Filter using lookup column property values",
        _filter_on_lookup_column_property,
    ),
    _param(
        "filter-rows.md",
        "Filter using lookup column property values: further up the hierarchy",
        _filter_further_up_the_hierarchy,
    ),
    _param(
        "filter-rows.md",
        "Lambda operator examples: any",
        _accounts("Account_Emails/any(e:contains(e/subject,'sometext'))", {LITWARE, ADVENTURE}),
    ),
    _param(
        "filter-rows.md",
        "Lambda operator examples: all",
        _accounts("Account_Tasks/all(t:t/statecode eq 1)", {LITWARE}),
    ),
    _param(
        "filter-rows.md",
        "Lambda operator examples: any with and",
        _accounts("Account_Emails/any(e:contains(e/subject,'sometext') and e/statecode eq 0)", {LITWARE}),
    ),
    _param(
        "filter-rows.md",
        "Lambda operator examples: nested any",
        _accounts(
            "(contact_customer_accounts/any(c:c/jobtitle eq 'jobtitle' and "
            "c/opportunity_customer_contacts/any(o:o/description ne 'N/A'))) and endswith(name,'Inc.')",
            {FABRIKAM},
        ),
    ),
    _param(
        "filter-rows.md",
        "Lambda operators: any without an argument",
        _accounts("Account_Tasks/any()", {LITWARE, ADVENTURE}),
    ),
    _param(
        "filter-rows.md",
        "Condition limits",
        _refused(
            "accounts?$select=name&$filter=" + " or ".join(["revenue eq 1"] * 501),
            "Number of conditions in query exceeded maximum limit.",
            "0x8004430C",
        ),
    ),
]

#: The query functions of filter-rows.md's table that the sandbox refuses (fiscal periods, hierarchies, choices
#: columns, language): a 400 naming the function, never an answer that ignores it.
#: The functions about the caller ("Id Values", and two of "Hierarchy"), on the tasks' owner: (function, the
#: tasks that match among those owned by the caller, by a team of the caller's and by another team).
CALLER_FUNCTIONS = [
    ("EqualUserId(PropertyName='ownerid')", {"yesterday"}),
    ("NotEqualUserId(PropertyName='ownerid')", {"owned by Sales team", "owned by Other team"}),
    ("EqualUserTeams(PropertyName='ownerid')", {"owned by Sales team"}),
    ("EqualUserOrUserTeams(PropertyName='ownerid')", {"yesterday", "owned by Sales team"}),
    ("EqualBusinessId(PropertyName='owningbusinessunit')", {"yesterday", "owned by Sales team", "owned by Other team"}),
    ("NotEqualBusinessId(PropertyName='owningbusinessunit')", set()),
]
CALLER_SAMPLE = {"yesterday", "owned by Sales team", "owned by Other team"}


def _about_the_caller(call: str, expected: set[str]) -> Check:
    def check(pages: Pages) -> None:
        body = ok(pages.api.get(f"tasks?$select=subject&$filter=Microsoft.Dynamics.CRM.{call}"))
        assert set(_names(body, "subject")) & CALLER_SAMPLE == expected

    return check


#: The hierarchy functions on account_parent_account: (function, the account it is given, the accounts it returns).
HIERARCHY_FUNCTIONS = [
    ("Under", LITWARE, {FOURTH, NORTHWIND}),
    ("UnderOrEqual", LITWARE, {LITWARE, FOURTH, NORTHWIND}),
    ("Above", NORTHWIND, {FOURTH, LITWARE}),
    ("AboveOrEqual", NORTHWIND, {NORTHWIND, FOURTH, LITWARE}),
    ("NotUnder", LITWARE, ALL_ACCOUNTS - {FOURTH, NORTHWIND}),
]


def _hierarchy(function: str, of: str, expected: set[str]) -> Check:
    def check(pages: Pages) -> None:
        call = f"Microsoft.Dynamics.CRM.{function}(PropertyName='accountid',PropertyValue='{pages.ids[of]}')"
        assert set(_names(ok(pages.api.get(f"accounts?$select=name&$filter={call}")))) == expected

    return check


def _hierarchical_relationship(pages: Pages) -> None:
    """The relationship the hierarchy functions walk says so in the metadata (query-hierarchical-data.md)."""
    body = ok(
        pages.api.get(
            "EntityDefinitions(LogicalName='account')/ManyToOneRelationships"
            "?$select=SchemaName,IsHierarchical&$filter=ReferencedEntity eq 'account'"
        )
    )
    flags = {row["SchemaName"]: row["IsHierarchical"] for row in body["value"]}
    assert flags["account_parent_account"] is True
    assert not any(flag for name, flag in flags.items() if name != "account_parent_account")


REFUSED_FUNCTIONS = [
    "LastXFiscalPeriods(PropertyName='scheduledend',PropertyValue=2)",
    "LastXFiscalYears(PropertyName='scheduledend',PropertyValue=2)",
    "NextXFiscalPeriods(PropertyName='scheduledend',PropertyValue=2)",
    "NextXFiscalYears(PropertyName='scheduledend',PropertyValue=2)",
    "EqualUserOrUserHierarchy(PropertyName='ownerid')",
    "EqualUserOrUserHierarchyAndTeams(PropertyName='ownerid')",
    "ContainValues(PropertyName='prioritycode',PropertyValues=[\"1\"])",
    "DoesNotContainValues(PropertyName='prioritycode',PropertyValues=[\"1\"])",
    "EqualUserLanguage(PropertyName='subject')",
    "Contains(PropertyName='subject',PropertyValue='text')",
]
FILTER_ROWS += [
    _param("filter-rows.md", f"Dataverse query functions, hierarchy: {function}", _hierarchy(function, of, hit))
    for function, of, hit in HIERARCHY_FUNCTIONS
]
FILTER_ROWS += [
    _param("filter-rows.md", "Dataverse query functions, hierarchy: the relationship", _hierarchical_relationship),
    _param(
        "filter-rows.md",
        "Dataverse query functions, hierarchy: on the primary key only",
        _refused(
            "accounts?$select=name&$filter=Microsoft.Dynamics.CRM.Above(PropertyName='name',"
            "PropertyValue='00000000-0000-0000-0000-000000000001')",
            "The function 'Microsoft.Dynamics.CRM.Above' applies to the primary key 'accountid'.",
        ),
    ),
]
FILTER_ROWS += [
    _param(
        "filter-rows.md", f"Dataverse query functions, the caller: {call.split('(')[0]}", _about_the_caller(call, hit)
    )
    for call, hit in CALLER_FUNCTIONS
]
FILTER_ROWS += [
    _param(
        "filter-rows.md",
        f"Dataverse query functions, refused: {call.split('(')[0]}",
        _refused(
            f"tasks?$select=subject&$filter=Microsoft.Dynamics.CRM.{call}",
            f"The query function 'Microsoft.Dynamics.CRM.{call.split('(')[0]}' isn't supported by the sandbox.",
        ),
    )
    for call in REFUSED_FUNCTIONS
]


@pytest.mark.parametrize("check", FILTER_ROWS)
def test_filter_rows(pages: Pages, check: Check) -> None:
    check(pages)


# --- webapi/query/optimize-performance.md (its included "Patterns to avoid") ---------------------------------------

OPTIMIZE_PERFORMANCE = [
    _param(
        "optimize-performance.md",
        "Avoid leading wild cards: answered (Dataverse refuses such a query only when it times out)",
        # '%' itself URL encoded ('%23' would be '#').
        _accounts("startswith(accountnumber,'%25234')", {LITWARE}),
    ),
    _param(
        "optimize-performance.md",
        "Other wildcard characters: _234% and [^a]234%",
        _accounts(
            "startswith(accountnumber,'_CC-1234') or startswith(accountnumber,'[^b]CC-98') "
            "or startswith(accountnumber,'[^a]CC-98')",
            {LITWARE, ADVENTURE},
        ),
    ),
    _param(
        "optimize-performance.md",
        "Other wildcard characters: [^a] also excludes 'A' (comparisons ignore case)",
        _accounts("startswith(accountnumber,'[^a]CC-98')", set()),
    ),
]


@pytest.mark.parametrize("check", OPTIMIZE_PERFORMANCE)
def test_optimize_performance(pages: Pages, check: Check) -> None:
    check(pages)


# --- webapi/query/order-rows.md ----------------------------------------------------------------------------------

ORDER_ROWS = [
    _param(
        "order-rows.md",
        "the page's example (revenue asc, name desc)",
        _ordered("accounts?$select=name,revenue&$orderby=revenue asc,name desc&$filter=revenue ne null", BY_REVENUE),
    ),
    _param(
        "order-rows.md",
        "Lookup columns (sorted by the related primary name, not the id)",
        _ordered(
            "accounts?$select=name&$orderby=_primarycontactid_value&$filter=_primarycontactid_value ne null",
            [ADVENTURE, LITWARE],
        ),
    ),
    _param(
        "order-rows.md",
        "Choice columns (sorted by the integer value, not the label)",
        _ordered(
            "accounts?$select=name&$orderby=customertypecode desc&$filter=customertypecode ne null",
            [ADVENTURE, LITWARE, FOURTH],
        ),
    ),
]


@pytest.mark.parametrize("check", ORDER_ROWS)
def test_order_rows(pages: Pages, check: Check) -> None:
    check(pages)


# --- webapi/query/page-results.md --------------------------------------------------------------------------------

PAGE_OF_TWO = {"Prefer": "odata.maxpagesize=2"}


def _skiptoken(link: str, page_number: int) -> None:
    query = parse_qs(urlsplit(link).query)
    assert query["$select"] == ["fullname"]
    [token] = query["$skiptoken"]
    assert token.startswith(f'<cookie pagenumber="{page_number}" pagingcookie="')
    assert token.endswith('istracking="False" />')


def _first_page(pages: Pages) -> str:
    response = pages.api.get("contacts?$select=fullname", headers=PAGE_OF_TWO)
    body = ok(response)
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=2"
    assert list(body) == ["@odata.context", "value", "@odata.nextLink"]
    assert body["@odata.context"] == f"{API}$metadata#contacts(fullname)"
    assert _names(body, "fullname") == ["Yvonne McKay (sample)", "Susanna Stubberod (sample)"]
    assert all(list(row) == ["@odata.etag", "fullname", "contactid"] for row in body["value"])
    _skiptoken(body["@odata.nextLink"], 2)
    return str(body["@odata.nextLink"])


def _next_page(pages: Pages) -> None:
    response = pages.api.get(_first_page(pages), headers=PAGE_OF_TWO)
    body = ok(response)
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=2"
    assert body["@odata.context"] == f"{API}$metadata#contacts(fullname)"
    assert _names(body, "fullname") == ["Nancy Anderson (sample)", "Maria Campbell (sample)"]
    _skiptoken(body["@odata.nextLink"], 3)


def _top_three(pages: Pages) -> None:
    body = ok(pages.api.get("accounts?$select=name,revenue&$top=3"))
    assert len(body["value"]) == 3
    assert "@odata.nextLink" not in body


def _top_ignored_with_maxpagesize(pages: Pages) -> None:
    body = ok(pages.api.get("accounts?$select=name&$top=1", headers=PAGE_OF_TWO))
    assert len(body["value"]) == 2
    assert "@odata.nextLink" in body


def _ordering_and_paging(pages: Pages) -> None:
    """The included "Ordering and paging": an order on a column that is not unique (every account is active)
    still pages every record exactly once, as Dataverse adds the primary key to the order."""
    link = "accounts?$select=name&$orderby=statecode"
    seen: list[str] = []
    while link:
        body = ok(pages.api.get(link, headers=PAGE_OF_TWO))
        seen += _names(body)
        link = body.get("@odata.nextLink", "")
    assert sorted(seen) == sorted(ALL_ACCOUNTS)


PAGE_RESULTS = [
    _param("page-results.md", "first page (odata.maxpagesize=2)", _first_page),
    _param("page-results.md", "next page (the @odata.nextLink)", _next_page),
    _param("page-results.md", "Don't use $top while paging: $top=3", _top_three),
    _param("page-results.md", "Don't use $top while paging: $top ignored", _top_ignored_with_maxpagesize),
    _param("page-results.md", "Ordering and paging", _ordering_and_paging),
]


@pytest.mark.parametrize("check", PAGE_RESULTS)
def test_page_results(pages: Pages, check: Check) -> None:
    check(pages)


# --- webapi/query/count-rows.md ----------------------------------------------------------------------------------

TOTAL = "Microsoft.Dynamics.CRM.totalrecordcount"
EXCEEDED = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"
PREFER_TOTAL = f'odata.include-annotations="{TOTAL},{EXCEEDED}"'


def _count_true(pages: Pages) -> None:
    body = ok(pages.api.get("accounts?$select=accountid&$count=true"))
    assert list(body) == ["@odata.context", "@odata.count", "value"]
    assert body["@odata.context"] == f"{API}$metadata#accounts(accountid)"
    assert body["@odata.count"] == len(ALL_ACCOUNTS)
    assert all(list(row) == ["@odata.etag", "accountid"] for row in body["value"])


def _total_record_count(pages: Pages) -> None:
    response = pages.api.get("accounts?$select=accountid&$count=true", headers={"Prefer": PREFER_TOTAL})
    body = ok(response)
    assert list(body) == ["@odata.context", "@odata.count", f"@{TOTAL}", f"@{EXCEEDED}", "value"]
    assert (body["@odata.count"], body[f"@{TOTAL}"], body[f"@{EXCEEDED}"]) == (7, 7, False)


def _total_record_count_without_count(pages: Pages) -> None:
    body = ok(pages.api.get("accounts?$select=accountid", headers={"Prefer": PREFER_TOTAL}))
    assert "@odata.count" not in body
    assert body[f"@{TOTAL}"] == -1


def _count_with_a_page_size(pages: Pages) -> None:
    """The page sends two ``Prefer`` headers; both apply. (Its response shows a total record count of 5,000
    with ``limitexceeded`` true beside an ``@odata.count`` of 10, which contradicts the page's own rule; the
    sandbox follows the rule: fewer than 5,000 records, the actual count.)"""
    response = pages.api.client.get(
        f"{API}accounts?$select=name&$filter=contains(name,'sample')&$count=true",
        headers=[
            *pages.api.headers().items(),
            ("Prefer", "odata.maxpagesize=3"),
            ("Prefer", 'odata.include-annotations="Microsoft.Dynamics.CRM.*"'),
        ],
    )
    body = ok(response)
    assert _preferences(response) == {
        "odata.maxpagesize=3",
        'odata.include-annotations="Microsoft.Dynamics.CRM.*"',
    }
    assert list(body) == [
        "@odata.context",
        "@odata.count",
        f"@{TOTAL}",
        f"@{EXCEEDED}",
        "value",
        "@odata.nextLink",
    ]
    assert body["@odata.context"] == f"{API}$metadata#accounts(name)"
    assert (body["@odata.count"], body[f"@{TOTAL}"], body[f"@{EXCEEDED}"]) == (4, 4, False)
    assert len(body["value"]) == 3
    assert all(list(row) == ["@odata.etag", "name", "accountid"] for row in body["value"])
    query = parse_qs(urlsplit(body["@odata.nextLink"]).query)
    assert query["$select"] == ["name"]
    assert query["$filter"] == ["contains(name,'sample')"]
    assert query["$skiptoken"][0].startswith('<cookie pagenumber="2"')


def _count_segment(pages: Pages) -> None:
    response = pages.api.get("accounts/$count")
    assert response.status_code == 200
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == str(len(ALL_ACCOUNTS))


COUNT_ROWS = [
    _param("count-rows.md", "$count=true", _count_true),
    _param("count-rows.md", "totalrecordcount annotations, fewer than 5,000", _total_record_count),
    _param("count-rows.md", "totalrecordcount without $count is -1", _total_record_count_without_count),
    _param("count-rows.md", "$count with odata.maxpagesize=3", _count_with_a_page_size),
    _param("count-rows.md", "/$count", _count_segment),
]


@pytest.mark.parametrize("check", COUNT_ROWS)
def test_count_rows(pages: Pages, check: Check) -> None:
    check(pages)


@pytest.fixture(scope="module")
def over_five_thousand(sandbox_signing_key: rsa.RSAPrivateKey) -> Iterator[WebApi]:
    """5,001 contacts (the scale seed, half a second to build)."""
    sandbox = build_sandbox(seed=parse_seed("scale:5001"), signing_key=sandbox_signing_key)
    with open_api(sandbox) as api:
        yield api


def test_count_rows_over_five_thousand(over_five_thousand: WebApi) -> None:
    """count-rows.md: "When used with the $count=true query option and there are more than 5,000 records": 5,000,
    5,000 and true; and a page size above 5,000 is held to 5,000 (page-results.md)."""
    response = over_five_thousand.get(
        "contacts?$select=contactid&$count=true",
        headers={"Prefer": f"{PREFER_TOTAL},odata.maxpagesize=6000"},
    )
    body = ok(response)
    assert (body["@odata.count"], body[f"@{TOTAL}"], body[f"@{EXCEEDED}"]) == (5000, 5000, True)
    assert "odata.maxpagesize=5000" in _preferences(response)
    assert len(body["value"]) == 5000
    assert "@odata.nextLink" in body
