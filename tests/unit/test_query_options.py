"""Tests of the system query options and the ``Prefer`` header (salesbridge.sandbox.odata.query_options).

Query strings are given as the decoded ``(name, value)`` pairs the engine passes in; the examples follow
Microsoft's ``webapi/query/*.md`` pages (overview, select-columns, filter-rows, page-results, count-rows).
"""

from __future__ import annotations

import pytest

from salesbridge.sandbox.errors import DataverseError
from salesbridge.sandbox.odata.filter.parser import parse_filter
from salesbridge.sandbox.odata.filter.syntax_tree import Comparison, Edm, Literal, OrderByItem, PropertyPath
from salesbridge.sandbox.odata.query_options import (
    MAX_PAGE_SIZE,
    ExpandOption,
    Prefer,
    QueryOptions,
    parse_expand,
    parse_prefer,
    parse_query_options,
)

FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP_LOGICAL_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname"
TOTAL_COUNT = "Microsoft.Dynamics.CRM.totalrecordcount"

# --------------------------------------------------------------------------------------------------------
# Prefer
# --------------------------------------------------------------------------------------------------------

PREFER_CASES = [
    pytest.param(None, Prefer(), None, id="absent"),
    pytest.param("", Prefer(), None, id="empty"),
    pytest.param("odata.maxpagesize=500", Prefer(maxpagesize=500), "odata.maxpagesize=500", id="maxpagesize"),
    pytest.param(
        "odata.maxpagesize=10000",
        Prefer(maxpagesize=MAX_PAGE_SIZE),
        "odata.maxpagesize=5000",
        id="maxpagesize-capped-at-5000",
    ),
    pytest.param("odata.maxpagesize=0", Prefer(), None, id="maxpagesize-zero-ignored"),
    pytest.param("odata.maxpagesize=-3", Prefer(), None, id="maxpagesize-negative-ignored"),
    pytest.param("odata.maxpagesize=lots", Prefer(), None, id="maxpagesize-not-a-number-ignored"),
    pytest.param("odata.maxpagesize", Prefer(), None, id="maxpagesize-without-value-ignored"),
    pytest.param(
        'odata.include-annotations="*"',
        Prefer(include_annotations=("*",)),
        'odata.include-annotations="*"',
        id="include-all-annotations",
    ),
    pytest.param(
        "odata.include-annotations=*",
        Prefer(include_annotations=("*",)),
        'odata.include-annotations="*"',
        id="include-annotations-unquoted",
    ),
    pytest.param(
        f'odata.include-annotations="{FORMATTED},{LOOKUP_LOGICAL_NAME}"',
        Prefer(include_annotations=(FORMATTED, LOOKUP_LOGICAL_NAME)),
        f'odata.include-annotations="{FORMATTED},{LOOKUP_LOGICAL_NAME}"',
        id="include-annotations-list-with-comma-inside-quotes",
    ),
    pytest.param(
        "odata.track-changes,odata.maxpagesize=500",
        Prefer(maxpagesize=500, track_changes=True),
        "odata.maxpagesize=500,odata.track-changes",
        id="airbyte-track-changes-and-page-size",
    ),
    pytest.param("return=representation", Prefer(return_representation=True), None, id="return-representation"),
    pytest.param("return=minimal", Prefer(), None, id="return-minimal"),
    pytest.param("odata.continue-on-error", Prefer(continue_on_error=True), None, id="continue-on-error"),
    pytest.param("odata.continue-on-error=false", Prefer(), None, id="continue-on-error-false"),
    pytest.param(
        " Odata.MaxPageSize = 25 ; foo=bar , RETURN=Representation ",
        Prefer(maxpagesize=25, return_representation=True),
        "odata.maxpagesize=25",
        id="names-case-insensitive-params-and-spaces-ignored",
    ),
    pytest.param("respond-async, wait=10, odata.allow-entityreferences", Prefer(), None, id="unknown-ignored"),
    pytest.param(
        'return=representation,odata.include-annotations="OData.Community.Display.V1.FormattedValue"',
        Prefer(include_annotations=(FORMATTED,), return_representation=True),
        f'odata.include-annotations="{FORMATTED}"',
        id="write-with-annotations",
    ),
]


@pytest.mark.parametrize(("header", "expected", "applied"), PREFER_CASES)
def test_parse_prefer(header: str | None, expected: Prefer, applied: str | None) -> None:
    prefer = parse_prefer(header)
    assert prefer == expected
    assert prefer.applied_header() == applied


ANNOTATION_CASES = [
    pytest.param("*", FORMATTED, True, id="star-formatted"),
    pytest.param("*", TOTAL_COUNT, True, id="star-total-count"),
    pytest.param("Microsoft.Dynamics.CRM.*", LOOKUP_LOGICAL_NAME, True, id="namespace-wildcard"),
    pytest.param("Microsoft.Dynamics.CRM.*", FORMATTED, False, id="namespace-wildcard-other-namespace"),
    pytest.param("OData.Community.Display.V1.*", FORMATTED, True, id="odata-namespace-wildcard"),
    pytest.param(FORMATTED, FORMATTED, True, id="exact"),
    pytest.param(FORMATTED.lower(), FORMATTED, True, id="exact-case-insensitive"),
    pytest.param(FORMATTED, LOOKUP_LOGICAL_NAME, False, id="exact-other"),
    pytest.param(f"{FORMATTED},{TOTAL_COUNT}", TOTAL_COUNT, True, id="list"),
    pytest.param(f"*,-{FORMATTED}", FORMATTED, False, id="exclusion-wins"),
    pytest.param(f"*,-{FORMATTED}", LOOKUP_LOGICAL_NAME, True, id="exclusion-spares-others"),
    pytest.param("Microsoft.Dynamics.*", "Microsoft.Dynamicsx.CRM.a", False, id="wildcard-needs-dot-boundary"),
]


@pytest.mark.parametrize(("patterns", "term", "wanted"), ANNOTATION_CASES)
def test_wants_annotation(patterns: str, term: str, wanted: bool) -> None:
    assert parse_prefer(f'odata.include-annotations="{patterns}"').wants_annotation(term) is wanted


def test_no_annotations_without_the_preference() -> None:
    assert parse_prefer("odata.maxpagesize=10").wants_annotation(FORMATTED) is False


# --------------------------------------------------------------------------------------------------------
# Query options
# --------------------------------------------------------------------------------------------------------


def _eq(name: str, value: object, edm: Edm | None) -> Comparison:
    return Comparison("eq", PropertyPath((name,)), Literal(value, edm))


OPTIONS_CASES = [
    pytest.param([], QueryOptions(), id="none"),
    pytest.param(
        [("$select", "name,revenue,_primarycontactid_value")],
        QueryOptions(select=("name", "revenue", "_primarycontactid_value")),
        id="select",
    ),
    pytest.param([("$select", " name , revenue ")], QueryOptions(select=("name", "revenue")), id="select-spaces"),
    pytest.param([("$select", "*")], QueryOptions(), id="select-star"),
    pytest.param([("$filter", "name eq 'x'")], QueryOptions(filter=_eq("name", "x", Edm.STRING)), id="filter"),
    pytest.param(
        [("$orderby", "revenue asc,name desc")],
        QueryOptions(orderby=(OrderByItem("revenue"), OrderByItem("name", descending=True))),
        id="orderby",
    ),
    pytest.param([("$top", "3")], QueryOptions(top=3), id="top"),
    pytest.param([("$top", "0")], QueryOptions(top=0), id="top-zero"),
    pytest.param([("$count", "true")], QueryOptions(count=True), id="count-true"),
    pytest.param([("$count", "false")], QueryOptions(), id="count-false"),
    pytest.param(
        [("$skiptoken", '<cookie pagenumber="2" />'), ("$deltatoken", "919042!08/22/2017 08:10:44")],
        QueryOptions(skiptoken='<cookie pagenumber="2" />', deltatoken="919042!08/22/2017 08:10:44"),
        id="tokens-kept-verbatim",
    ),
    pytest.param(
        [
            ("$select", "name,revenue"),
            ("$orderby", "@p1 asc,@p2 desc"),
            ("$filter", "@p1 ne @p3"),
            ("@p1", "revenue"),
            ("@p2", "name"),
        ],
        QueryOptions(
            select=("name", "revenue"),
            filter=Comparison("ne", PropertyPath(("revenue",)), Literal(None, None)),
            orderby=(OrderByItem("revenue"), OrderByItem("name", descending=True)),
        ),
        id="docs-parameter-aliases",
    ),
    pytest.param(
        [("@p1", "'Contoso'"), ("$filter", "name eq @p1")],
        QueryOptions(filter=_eq("name", "Contoso", Edm.STRING)),
        id="alias-before-filter",
    ),
    pytest.param(
        [("$filter", "name eq 'x'"), ("tag", "my-plugin-tag"), ("api-version", "2")],
        QueryOptions(filter=_eq("name", "x", Edm.STRING)),
        id="non-option-parameters-ignored",
    ),
    pytest.param([("$id", "accounts(00000000-0000-0000-0000-000000000001)")], QueryOptions(), id="ref-id-accepted"),
]


@pytest.mark.parametrize(("pairs", "expected"), OPTIONS_CASES)
def test_parse_query_options(pairs: list[tuple[str, str]], expected: QueryOptions) -> None:
    assert parse_query_options(pairs) == expected


EXPAND_CASES = [
    pytest.param("primarycontactid", (ExpandOption("primarycontactid"),), id="single"),
    pytest.param(
        "primarycontactid,Account_Tasks",
        (ExpandOption("primarycontactid"), ExpandOption("Account_Tasks")),
        id="two",
    ),
    pytest.param(
        "primarycontactid($select=fullname,_createdby_value;$expand=createdby($select=fullname))",
        (
            ExpandOption(
                "primarycontactid",
                select=("fullname", "_createdby_value"),
                expand=(ExpandOption("createdby", select=("fullname",)),),
            ),
        ),
        id="docs-nested-expand",
    ),
    pytest.param(
        "Account_Tasks($select=subject;$filter=statecode eq 0 and contains(subject,'a;b,c(d)');"
        "$orderby=subject desc;$top=5),primarycontactid($select=fullname)",
        (
            ExpandOption(
                "Account_Tasks",
                select=("subject",),
                filter=parse_filter("statecode eq 0 and contains(subject,'a;b,c(d)')"),
                orderby=(OrderByItem("subject", descending=True),),
                top=5,
            ),
            ExpandOption("primarycontactid", select=("fullname",)),
        ),
        id="collection-with-all-options-and-separators-in-a-string",
    ),
    pytest.param(
        " primarycontactid ( $select=fullname ) ",
        (ExpandOption("primarycontactid", select=("fullname",)),),
        id="spaces",
    ),
    pytest.param("primarycontactid()", (ExpandOption("primarycontactid"),), id="empty-options"),
]


@pytest.mark.parametrize(("text", "expected"), EXPAND_CASES)
def test_parse_expand(text: str, expected: tuple[ExpandOption, ...]) -> None:
    assert parse_expand(text) == expected
    assert parse_query_options([("$expand", text)]).expand == expected


OPTION_ERRORS = [
    pytest.param([("$skip", "10")], "The query parameter $skip is not supported", id="skip"),
    pytest.param([("$search", "contoso")], "The query parameter $search is not supported", id="search"),
    pytest.param([("$format", "json")], "The query parameter $format is not supported", id="format"),
    pytest.param([("$xyz", "1")], "The query parameter $xyz is not supported", id="unknown-option"),
    pytest.param([("$Filter", "name eq 'x'")], "The query parameter $Filter is not supported", id="case-sensitive"),
    pytest.param([("$levels", "2")], "The query parameter $levels is not supported", id="levels"),
    pytest.param(
        [("$apply", "groupby((statecode))")],
        "The sandbox doesn't support $apply (aggregation and grouping)",
        id="apply",
    ),
    pytest.param([("fetchXml", "<fetch/>")], "The sandbox doesn't support FetchXML queries (fetchXml)", id="fetchxml"),
    pytest.param(
        [("savedQuery", "00000000-0000-0000-0000-000000000001")], "saved views (savedQuery)", id="saved-query"
    ),
    pytest.param(
        [("userQuery", "00000000-0000-0000-0000-000000000001")], "personal views (userQuery)", id="user-query"
    ),
    pytest.param(
        [("$top", "1"), ("$top", "2")],
        "Query option '$top' was specified more than once, but it must be specified at most once.",
        id="duplicate-option",
    ),
    pytest.param([("@p1", "1"), ("@p1", "2")], "Query option '@p1' was specified more than once", id="duplicate-alias"),
    pytest.param(
        [("$top", "-1")],
        "Invalid value '-1' for $top query option found. The $top query option requires a non-negative integer value.",
        id="top-negative",
    ),
    pytest.param([("$top", "ten")], "Invalid value 'ten' for $top query option found.", id="top-not-a-number"),
    pytest.param([("$top", "")], "Invalid value '' for $top query option found.", id="top-empty"),
    pytest.param([("$top", "\u0661")], "Invalid value '\u0661' for $top query option found.", id="top-non-ascii-digit"),
    pytest.param([("$count", "True")], "'True' is not a valid count option.", id="count-case-sensitive"),
    pytest.param([("$count", "1")], "'1' is not a valid count option.", id="count-one"),
    pytest.param([("$select", "name,,revenue")], "an empty item is not a property name", id="select-empty-item"),
    pytest.param([("$select", "name revenue")], "'name revenue' is not a property name", id="select-space-inside"),
    pytest.param([("$filter", "")], "Expression expected at position 0 in ''.", id="filter-empty"),
    pytest.param([("$filter", "name eq")], "expression expected at position 7", id="filter-syntax"),
    pytest.param([("$orderby", "name sideways")], "',' or the end of $orderby expected", id="orderby-syntax"),
    pytest.param([("$expand", "*")], "The sandbox doesn't support '$expand=*'", id="expand-star"),
    pytest.param([("$expand", "")], "an empty item is not a navigation property", id="expand-empty"),
    pytest.param([("$expand", "a,,b")], "an empty item is not a navigation property", id="expand-empty-item"),
    pytest.param([("$expand", "primary contact")], "'primary contact' is not a navigation property", id="expand-space"),
    pytest.param([("$expand", "a($select=x")], "')' expected at position 11", id="expand-unclosed"),
    pytest.param([("$expand", "a($select=x))")], "unbalanced ')' at position 12", id="expand-extra-paren"),
    pytest.param([("$expand", "a($select=x)b")], "')' expected after the options of 'a'", id="expand-trailing-text"),
    pytest.param([("$expand", "a($filter=name eq 'x)")], "There is an unterminated literal", id="expand-unterminated"),
    pytest.param(
        [("$expand", "a($count=true)")], "The query option '$count' isn't supported inside $expand", id="expand-count"
    ),
    pytest.param(
        [("$expand", "a($skip=1)")], "The query option '$skip' isn't supported inside $expand", id="expand-skip"
    ),
    pytest.param(
        [("$expand", "a($levels=2)")], "The query option '$levels' isn't supported inside $expand", id="expand-levels"
    ),
    pytest.param(
        [("$expand", "a($top=1;$top=2)")], "Query option 'a/$top' was specified more than once", id="expand-dup"
    ),
    pytest.param(
        [("$expand", "a(select=x)")], "The query option 'select' isn't supported inside $expand", id="expand-no-dollar"
    ),
    pytest.param([("$expand", "a($select)")], "'$select' is not an option of 'a'", id="expand-option-without-value"),
    pytest.param([("$expand", "a($top=x)")], "Invalid value 'x' for $top query option found.", id="expand-top"),
    pytest.param(
        [("$expand", "a($filter=name eq @p1)"), ("@p1", "'x'")],
        "Parameter aliases can't be used here (found '@p1'",
        id="expand-filter-alias",
    ),
    pytest.param(
        [("$expand", "a($orderby=@p1)"), ("@p1", "name")],
        "Parameter aliases can't be used inside $expand",
        id="expand-orderby-alias",
    ),
]


@pytest.mark.parametrize(("pairs", "message"), OPTION_ERRORS)
def test_query_option_errors(pairs: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(DataverseError) as caught:
        parse_query_options(pairs)
    assert (caught.value.status, caught.value.code) == (400, "0x80060888")
    assert message in caught.value.message


def test_unassigned_alias_in_filter_is_null() -> None:
    options = parse_query_options([("$filter", "revenue eq @missing")])
    assert options.filter == Comparison("eq", PropertyPath(("revenue",)), Literal(None, None))


def test_options_are_immutable_values() -> None:
    options = parse_query_options([("$select", "name"), ("$expand", "primarycontactid($select=fullname)")])
    with pytest.raises(AttributeError):
        options.top = 3  # type: ignore[misc]
    assert hash(options.expand) == hash(parse_expand("primarycontactid($select=fullname)"))
