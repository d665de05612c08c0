"""Dataverse query functions in ``$filter`` (``Microsoft.Dynamics.CRM.LastXDays(PropertyName=…)`` …): the date
ranges they stand for, which ones the sandbox evaluates, and SQL Server's LIKE wildcards of the string functions
(query-data-web-api.md, filter-rows.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

RangeBounds = tuple[datetime | None, datetime | None, bool]


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    next_first = date(year + (month // 12), month % 12 + 1, 1)
    last_day = (next_first - timedelta(days=1)).day
    return date(year, month, min(day.day, last_day))


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def relative_range(name: str, now: datetime, count: int) -> tuple[RangeBounds, bool]:
    """The instant range ``[start, end)`` (``end`` inclusive when the flag says so) a relative date
    function selects, and whether the function is time-based (hours, minutes).

    "Last X" ranges run from midnight X units back to now; "Next X" from now to the end of the X-th unit;
    weeks start on Sunday (en-US, the sandbox's only locale).
    """
    today = now.date()
    day_count = {"Days": 1, "Weeks": 7}
    for prefix in ("LastX", "NextX", "OlderThanX"):
        if not name.startswith(prefix):
            continue
        unit = name[len(prefix) :]
        if unit in ("Hours", "Minutes"):
            delta = timedelta(hours=count) if unit == "Hours" else timedelta(minutes=count)
            if prefix == "LastX":
                return (now - delta, now, True), True
            if prefix == "NextX":
                return (now, now + delta, True), True
            return (None, now - delta, False), True
        if unit in day_count:
            span = timedelta(days=count * day_count[unit])
            if prefix == "LastX":
                return (midnight(today - span), now, True), False
            if prefix == "NextX":
                return (now, midnight(today + span + timedelta(days=1)), False), False
            return (None, now - span, False), False
        months = count if unit == "Months" else count * 12
        if prefix == "LastX":
            return (midnight(add_months(today, -months)), now, True), False
        if prefix == "NextX":
            return (now, midnight(add_months(today, months) + timedelta(days=1)), False), False
        return (None, datetime.combine(add_months(today, -months), now.timetz()), False), False
    raise AssertionError(name)


def calendar_range(name: str, now: datetime) -> RangeBounds:
    today = now.date()
    if name in ("Today", "Yesterday", "Tomorrow"):
        day = today + timedelta(days={"Today": 0, "Yesterday": -1, "Tomorrow": 1}[name])
        return midnight(day), midnight(day + timedelta(days=1)), False
    if name == "Last7Days":
        return midnight(today - timedelta(days=7)), now, True
    if name == "Next7Days":
        return now, midnight(today + timedelta(days=8)), False
    if name.endswith("Week"):
        sunday = today - timedelta(days=(today.weekday() + 1) % 7)
        start = sunday + timedelta(days={"This": 0, "Last": -7, "Next": 7}[name[:4]])
        return midnight(start), midnight(start + timedelta(days=7)), False
    if name.endswith("Month"):
        first = add_months(today.replace(day=1), {"This": 0, "Last": -1, "Next": 1}[name[:4]])
        return midnight(first), midnight(add_months(first, 1)), False
    first_of_year = date(today.year + {"This": 0, "Last": -1, "Next": 1}[name[:4]], 1, 1)
    return midnight(first_of_year), midnight(date(first_of_year.year + 1, 1, 1)), False


RELATIVE_X_FUNCTIONS = frozenset(
    f"{prefix}{unit}"
    for prefix in ("LastX", "NextX", "OlderThanX")
    for unit in ("Minutes", "Hours", "Days", "Weeks", "Months", "Years")
) - {"LastXMinutes", "NextXMinutes"}
CALENDAR_FUNCTIONS = frozenset(
    [
        "Today",
        "Yesterday",
        "Tomorrow",
        "Last7Days",
        "Next7Days",
        "ThisWeek",
        "LastWeek",
        "NextWeek",
        "ThisMonth",
        "LastMonth",
        "NextMonth",
        "ThisYear",
        "LastYear",
        "NextYear",
    ]
)
DAY_FUNCTIONS = frozenset({"On", "OnOrAfter", "OnOrBefore"})
LIST_FUNCTIONS = frozenset({"In", "NotIn", "Between", "NotBetween"})
NULL_FUNCTIONS = frozenset({"Null", "NotNull"})
#: Functions comparing with the caller: its user id, business unit, teams (the caller's "My records" views).
CALLER_FUNCTIONS = frozenset(
    {"EqualUserId", "NotEqualUserId", "EqualBusinessId", "NotEqualBusinessId", "EqualUserTeams", "EqualUserOrUserTeams"}
)
#: Fiscal functions, with the organization's default fiscal settings (those of the aggregations' fiscal grouping):
#: the fiscal year is the calendar year and its periods are its quarters.
FISCAL_CALENDAR_FUNCTIONS = frozenset(
    {"ThisFiscalYear", "LastFiscalYear", "NextFiscalYear", "ThisFiscalPeriod", "LastFiscalPeriod", "NextFiscalPeriod"}
)
FISCAL_VALUE_FUNCTIONS = frozenset({"InFiscalYear", "InFiscalPeriod"})
FISCAL_PERIOD_AND_YEAR_FUNCTIONS = frozenset(
    {"InFiscalPeriodAndYear", "InOrAfterFiscalPeriodAndYear", "InOrBeforeFiscalPeriodAndYear"}
)
FISCAL_PERIODS = 4


def fiscal_range(name: str, now: datetime) -> RangeBounds:
    """The fiscal year or period (quarter) before, at or after ``now``: ``ThisFiscalYear`` … ``NextFiscalPeriod``."""
    today = now.date()
    shift = {"This": 0, "Last": -1, "Next": 1}[name[:4]]
    if name.endswith("Year"):
        start = date(today.year + shift, 1, 1)
        return midnight(start), midnight(date(start.year + 1, 1, 1)), False
    quarter = add_months(date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), 3 * shift)
    return midnight(quarter), midnight(add_months(quarter, 3)), False


def fiscal_year_range(year: int) -> RangeBounds:
    return midnight(date(year, 1, 1)), midnight(date(year + 1, 1, 1)), False


def fiscal_period_range(name: str, period: int, year: int) -> RangeBounds:
    """``InFiscalPeriodAndYear`` and the ``InOrAfter`` / ``InOrBefore`` forms: from the period's start, up to its
    end, or both."""
    start = date(year, 3 * (period - 1) + 1, 1)
    if name == "InOrAfterFiscalPeriodAndYear":
        return midnight(start), None, False
    end = midnight(add_months(start, 3))
    if name == "InOrBeforeFiscalPeriodAndYear":
        return None, end, False
    return midnight(start), end, False


#: Functions over a table's hierarchical relationship (query-hierarchical-data.md): the rows below or above a row.
HIERARCHY_FUNCTIONS = frozenset({"Under", "UnderOrEqual", "Above", "AboveOrEqual", "NotUnder"})
#: Dataverse query functions the sandbox does not evaluate (the user hierarchy, choices, language, the fiscal "X"
#: ones).
UNSUPPORTED_QUERY_FUNCTIONS = frozenset(
    [
        "Contains",
        "DoesNotContain",
        "ContainValues",
        "DoesNotContainValues",
        "EqualRoleBusinessId",
        "EqualUserLanguage",
        "EqualUserOrUserHierarchy",
        "EqualUserOrUserHierarchyAndTeams",
        "LastXFiscalPeriods",
        "LastXFiscalYears",
        "NextXFiscalPeriods",
        "NextXFiscalYears",
    ]
)


def like_pattern(function: str, text: str) -> tuple[str, str]:
    """SQL for a Dataverse LIKE-style literal: ``(operator template, pattern)``.

    The template has ``{col}`` for the column. ``%``/``_`` stay wildcards and ``[...]`` sets are honoured
    as SQL Server does; sets of one literal character (``[%]``) become escapes, any other set needs GLOB
    over the lower-cased value, since SQLite's LIKE has no character classes.
    """
    parts: list[tuple[str, str]] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "%":
            parts.append(("any", ""))
        elif char == "_":
            parts.append(("one", ""))
        elif char == "[":
            close = text.find("]", index + 2)
            if close < 0:
                parts.append(("lit", char))
            else:
                parts.append(("set", text[index + 1 : close]))
                index = close
        else:
            parts.append(("lit", char))
        index += 1
    if function in ("contains", "endswith"):
        parts.insert(0, ("any", ""))
    if function in ("contains", "startswith"):
        parts.append(("any", ""))
    simple = all(kind != "set" or (len(body) == 1 and body != "^") for kind, body in parts)
    if simple:
        out: list[str] = []
        for kind, body in parts:
            if kind == "any":
                out.append("%")
            elif kind == "one":
                out.append("_")
            else:
                out.append("\\" + body if body in ("%", "_", "\\") else body)
        return "{col} LIKE ? ESCAPE '\\'", "".join(out)
    glob: list[str] = []
    for kind, body in parts:
        if kind == "any":
            glob.append("*")
        elif kind == "one":
            glob.append("?")
        elif kind == "set":
            glob.append("[" + body.lower() + "]")
        else:
            glob.append("[" + body + "]" if body in "*?[" else body.lower())
    return "lower({col}) GLOB ?", "".join(glob)
