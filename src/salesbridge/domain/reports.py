"""The administrators' reports: what each one counts. Pure rules and values; no I/O.

* **Written-back activity**: activities delivered to the CRM, counted per seller, data item and week; a week starts
  on Monday 00:00 UTC (:func:`week_start`) and an activity counts in the week it occurred.
* **Match rate**: of a CRM table's imported records, the share tied to a person or company
  (:func:`match_rate`), as recorded after each matching run.
* **Influenced pipeline and won revenue** (:func:`influenced_opportunities`): an opportunity is *influenced* when a
  workspace activity concerned one of its records before the moment that matters:

  - its records are its account (``parentaccountid``, else ``customerid`` when an account), the contacts and the
    lead it names (``parentcontactid``, ``customerid`` when a contact, ``originatingleadid``), and every contact or
    lead whose account is its account;
  - an activity concerns the CRM records tied to its person or company by matching (band "match"), and the record
    it was written back on;
  - **pipeline**: an opportunity in the pipeline now (open, at or past the stage threshold: :class:`PipelineRule`)
    is influenced when an activity occurred before it was created (``createdon``); valued at ``estimatedvalue``;
  - **won revenue**: a won opportunity (``statecode`` 1) is influenced when an activity occurred before it was won:
    on or before its close date (``actualclosedate``, a date: the whole day counts); valued with the
    administrator's won-value column;
  - values are in the organization's base currency (:func:`base_currency_value`); an opportunity without its
    moment (no ``createdon`` or close date) or without a value is left out and counted in ``unvalued``.

* **Seat usage**: the seats with CRM sync on (each seat's switch, or "Sync CRM for all seats"), and which of their
  holders logged an activity in the last :data:`ACTIVE_DAYS` days.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Final, NamedTuple

from salesbridge.domain.pipeline import PipelineRule, opportunity_accounts, opportunity_people

ACTIVE_DAYS: Final = 30
"""A seat counts as in use when its holder logged an activity in this many days."""
WON: Final = 1
"""``statecode`` of a won opportunity."""


def week_start(moment: datetime) -> date:
    """The Monday (UTC) of the week ``moment`` (timezone-aware) falls in."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def match_rate(total: int, matched: int) -> float:
    """``matched`` / ``total`` (0..1); 0 when the table is empty."""
    return matched / total if total > 0 else 0.0


def crm_moment(value: Any) -> datetime | None:
    """A CRM date or date-time (``"2026-11-02"``, ``"2026-11-02T10:00:00Z"``) as a UTC instant; a date is its
    midnight UTC. None when ``value`` is empty or not one."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_MOMENTS_KEPT: Final = 1 << 14
"""CRM moment texts kept parsed (:func:`_moment_and_limit`): about 320 bytes each, ~5 MiB at most (65,536 held
~20 MiB for good in a long-running console). A hit costs ~0.13 µs, a parse ~1 µs (measured side by side); an
organization judging more opportunities than this on each load parses them again."""


@lru_cache(maxsize=_MOMENTS_KEPT)
def _moment_and_limit(text: str, won: bool) -> tuple[datetime | None, datetime | None]:
    """The moment of an opportunity (its creation, or its close date when ``won``: :func:`crm_moment` of
    ``text``) and the instant activity must come before: the moment, or the end of the close day when the close
    date is a day (activity during that day came before the win). Cached: a pure function of CRM texts that the
    report reads again on every load."""
    moment = crm_moment(text)
    if moment is None:
        return None, None
    return moment, moment + timedelta(days=1) if won and len(text.strip()) == 10 else moment


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def base_currency_value(data: Mapping[str, Any], column: str) -> float | None:
    """A money column of a record in the organization's base currency: its base twin ``<column>_base`` (Dynamics
    keeps it), else the column divided by the record's ``exchangerate``, else the column itself (a record in the
    base currency has no rate to apply). None when the record has no number there."""
    return _base_currency_value(data, column, f"{column}_base")


def _base_currency_value(data: Mapping[str, Any], column: str, base_column: str) -> float | None:
    base = _number(data.get(base_column))
    if base is not None:
        return base
    value = _number(data.get(column))
    if value is None:
        return None
    rate = _number(data.get("exchangerate"))
    return value / rate if rate else value


@dataclass(frozen=True)
class Touch:
    """The earliest workspace activity concerning one CRM record.

    Attributes:
        table / crm_id: The record (``account``, ``contact`` or ``lead``; ids in lower case).
        account_id: The account of a contact or lead (lower case), None for an account or a record without one.
        first_at: When the earliest activity concerning it occurred (timezone-aware).
    """

    table: str
    crm_id: str
    account_id: str | None
    first_at: datetime


class OpportunityRecord(NamedTuple):
    """An imported opportunity as :func:`influenced_opportunities` judges it (a named tuple: the report makes
    thousands on each load, at a third of a frozen dataclass's cost).

    Attributes:
        data: Its imported columns (lookups as ``{"id", "table"}``), or at least its :func:`report_facts`.
        named: The records it names (:func:`named_records`), or at least those with workspace activity
            (:func:`touched_records`); None: read them from ``data``'s lookups.
    """

    crm_id: str
    name: str | None
    data: Mapping[str, Any]
    named: tuple[tuple[str, str], ...] | None = None


REPORT_COLUMNS: Final = frozenset(
    {"statecode", "salesstage", "salesstagecode", "stepname", "createdon", "actualclosedate"}
)
"""The columns of an opportunity :func:`influenced_opportunities` reads besides its lookups and numbers: its state,
the pipeline's stage sources (:data:`~salesbridge.domain.pipeline.STAGE_SOURCES`) and its two moments."""


def report_facts(data: Mapping[str, Any]) -> dict[str, Any]:
    """The columns of an opportunity (its imported ``data``) that :func:`influenced_opportunities` reads, lookups
    aside: :data:`REPORT_COLUMNS` as they are, and every column holding a number (money columns, their ``_base``
    twins, ``exchangerate``: the won value column is the administrator's choice). The rule gives the same answer
    on them as on the whole row when the opportunity's named records are given (``OpportunityRecord.named``)."""
    return {
        column: value
        for column, value in data.items()
        if column in REPORT_COLUMNS or (isinstance(value, int | float) and not isinstance(value, bool))
    }


class InfluencedOpportunity(NamedTuple):
    """An opportunity the workspace influenced (a named tuple, as :class:`OpportunityRecord`).

    Attributes:
        won: True for won revenue, False for pipeline.
        value: In the base currency.
        moment: When it was created (pipeline) or won (won revenue).
        first_activity_at: The earliest activity concerning one of its records.
    """

    crm_id: str
    name: str | None
    won: bool
    value: float
    moment: datetime
    first_activity_at: datetime


@dataclass(frozen=True)
class Influence:
    """Influenced pipeline and won revenue (base currency), the opportunities behind them, and how many
    opportunities the rule could not judge (no date or no value)."""

    opportunities: tuple[InfluencedOpportunity, ...]
    pipeline_value: float
    pipeline_count: int
    won_value: float
    won_count: int
    unvalued: int


NAMED_ID_LENGTH: Final = 36
"""The longest record id a named record keeps (a CRM record id's, as stored): a longer lookup cannot name a
touched record (touched records are stored records and written-back ones, ids of at most this length)."""


def named_records(data: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The ``(table, id)`` of every record an opportunity (its imported columns) names that
    :func:`influenced_opportunities` follows: its account (``"account"``:
    :func:`~salesbridge.domain.pipeline.opportunity_accounts`), its contacts and its lead
    (:func:`~salesbridge.domain.pipeline.opportunity_people`); ids in lower case, each pair once, ids longer than
    :data:`NAMED_ID_LENGTH` left out. An opportunity is influenced only through one of them."""
    named = [("account", account) for account in opportunity_accounts(data)]
    named += opportunity_people(data)
    return tuple(pair for pair in dict.fromkeys(named) if len(pair[1]) <= NAMED_ID_LENGTH)


def touched_records(touches: Iterable[Touch]) -> set[tuple[str, str]]:
    """The records an opportunity must name, or belong to, for ``touches`` to count for it: each touched record and
    the account of each touched contact or lead (ids in lower case). An opportunity naming none of them is never
    influenced, so only those need reading."""
    records: set[tuple[str, str]] = set()
    for touch in touches:
        records.add((touch.table, touch.crm_id.lower()))
        if touch.account_id:
            records.add(("account", touch.account_id.lower()))
    return records


def influenced_opportunities(
    opportunities: Iterable[OpportunityRecord],
    touches: Iterable[Touch],
    *,
    rule: PipelineRule,
    won_value_column: str,
) -> Influence:
    """Influenced pipeline and won revenue (the module's rule) of ``opportunities`` given the earliest activity
    concerning each CRM record (``touches``; more than one per record is fine: the earliest counts)."""
    first_by_record: dict[tuple[str, str], datetime] = {}
    first_by_account: dict[str, datetime] = {}

    def keep(mapping: dict[Any, datetime], key: Any, at: datetime) -> None:
        if key not in mapping or at < mapping[key]:
            mapping[key] = at

    for touch in touches:
        keep(first_by_record, (touch.table, touch.crm_id.lower()), touch.first_at)
        account = touch.crm_id.lower() if touch.table == "account" else (touch.account_id or "").lower()
        if account:
            keep(first_by_account, account, touch.first_at)

    found: list[InfluencedOpportunity] = []
    unvalued = 0
    won_base_column, estimated_base_column = f"{won_value_column}_base", "estimatedvalue_base"
    for opportunity in opportunities:
        data = opportunity.data
        state = data.get("statecode")
        won = state == WON and _number(state) == WON  # the comparison first: most opportunities are open
        if not won and not rule.includes(data):
            continue
        moment_text = data.get("actualclosedate") if won else data.get("createdon")
        moment, limit = _moment_and_limit(moment_text, won) if isinstance(moment_text, str) else (None, None)
        if won:
            value = _base_currency_value(data, won_value_column, won_base_column)
        else:
            value = _base_currency_value(data, "estimatedvalue", estimated_base_column)
        if moment is None or limit is None or value is None:
            unvalued += 1
            continue
        if opportunity.named is None:
            times = [first_by_account[a] for a in opportunity_accounts(data) if a in first_by_account]
            times += [first_by_record[key] for key in opportunity_people(data) if key in first_by_record]
        else:
            times = []
            for table, crm_id in opportunity.named:
                at = first_by_account.get(crm_id) if table == "account" else first_by_record.get((table, crm_id))
                if at is not None:
                    times.append(at)
        # The earliest activity of all: when any came before the moment, the earliest did.
        if times and (first := min(times)) < limit:
            found.append(InfluencedOpportunity(opportunity.crm_id, opportunity.name, won, value, moment, first))
    found.sort(key=lambda item: (not item.won, -item.value, item.crm_id))
    pipeline = [item for item in found if not item.won]
    won_items = [item for item in found if item.won]
    return Influence(
        opportunities=tuple(found),
        pipeline_value=sum(item.value for item in pipeline),
        pipeline_count=len(pipeline),
        won_value=sum(item.value for item in won_items),
        won_count=len(won_items),
        unvalued=unvalued,
    )


@dataclass(frozen=True)
class DeliveredCount:
    """How many activities of one data item a seller had delivered to the CRM in one week (Monday, UTC)."""

    author_user_id: uuid.UUID
    item: str
    week: date
    count: int


@dataclass(frozen=True)
class MatchRateSnapshot:
    """A CRM table's records and how many were tied or in review when a matching run committed."""

    taken_at: datetime
    table: str
    total: int
    matched: int
    review: int

    @property
    def rate(self) -> float:
        """The share tied (:func:`match_rate`)."""
        return match_rate(self.total, self.matched)


@dataclass(frozen=True)
class SeatActivity:
    """A seat, whether CRM sync is on for it, and its holder's activities in the last :data:`ACTIVE_DAYS` days."""

    user_id: uuid.UUID
    display_name: str
    email: str
    crm_sync: bool
    recent_activities: int
    last_activity_at: datetime | None

    @property
    def in_use(self) -> bool:
        """CRM sync is on and the holder logged an activity in the period."""
        return self.crm_sync and self.recent_activities > 0
