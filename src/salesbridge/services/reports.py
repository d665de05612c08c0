"""The administrators' reports (what each counts: :mod:`salesbridge.domain.reports`): written-back activity per
seller, data item and week; the match rate over the last matching runs; influenced pipeline and won revenue; seat
usage. Read in one transaction; the console draws them and exports each as CSV.

The caller checks that the reader is one of the organization's administrators.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from salesbridge.domain.clock import Clock
from salesbridge.domain.match_links import COMPANY_TABLES, PEOPLE_TABLES
from salesbridge.domain.reports import (
    ACTIVE_DAYS,
    Influence,
    MatchRateSnapshot,
    SeatActivity,
    influenced_opportunities,
    touched_records,
    week_start,
)
from salesbridge.services.organizations import require_organization
from salesbridge.services.ports import StoreAccess, UnitOfWork

WEEKS: Final = 12
"""Written-back activity covers this many weeks, the current one included."""
MATCH_RUNS: Final = 30
"""The match rate covers this many matching runs, the latest included."""


@dataclass(frozen=True)
class WrittenBackRow:
    """Activities of one data item a seller had delivered in one week (Monday, UTC)."""

    seller: str
    item: str
    week: date
    count: int


@dataclass(frozen=True, kw_only=True)
class Reports:
    """Every report of one organization, as read at ``generated_at``.

    Attributes:
        weeks: The weeks written-back activity covers (Mondays, oldest first); ``written_back`` has rows only where
            something was delivered.
        won_value_column: The administrator's won-value column the won revenue was valued with.
        currency: The ISO 4217 code of the CRM's base currency, which every amount is in; None before the first
            import read it.
        seats_since: The start of the seat-usage period.
    """

    generated_at: datetime
    weeks: tuple[date, ...]
    written_back: tuple[WrittenBackRow, ...]
    match_rates: tuple[MatchRateSnapshot, ...]
    influence: Influence
    won_value_column: str
    currency: str | None
    seats: tuple[SeatActivity, ...]
    seats_since: datetime

    @property
    def seats_with_crm_sync(self) -> int:
        """Seats with CRM sync on."""
        return sum(1 for seat in self.seats if seat.crm_sync)

    @property
    def seats_in_use(self) -> int:
        """Seats with CRM sync on whose holder logged an activity in the period."""
        return sum(1 for seat in self.seats if seat.in_use)


def read_reports(store: StoreAccess, slug: str, *, clock: Clock) -> Reports:
    """Every report of the organization ``slug``. Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
    """
    organization_id = require_organization(store, slug)
    now = clock()
    this_week = week_start(now)
    weeks = tuple(this_week - timedelta(weeks=back) for back in range(WEEKS - 1, -1, -1))
    seats_since = now - timedelta(days=ACTIVE_DAYS)
    with store(organization_id, read_only=True) as uow:
        settings = uow.crm_settings.get()
        names = uow.reports.user_names()
        written_back = tuple(
            WrittenBackRow(names.get(row.author_user_id, str(row.author_user_id)), row.item, row.week, row.count)
            for row in uow.reports.delivered_counts(weeks=weeks)
        )
        touches = uow.reports.touches()
        influence = influenced_opportunities(
            uow.reports.opportunities(touched_records(touches)),
            touches,
            rule=settings.pipeline_rule,
            won_value_column=settings.won_value_column,
        )
        return Reports(
            generated_at=now,
            weeks=weeks,
            written_back=written_back,
            match_rates=tuple(uow.reports.match_rates(runs=MATCH_RUNS)),
            influence=influence,
            won_value_column=settings.won_value_column,
            currency=uow.crm_connection.currencies().base,
            seats=tuple(uow.reports.seat_activity(since=seats_since)),
            seats_since=seats_since,
        )


def record_match_rates(uow: UnitOfWork, *, at: datetime) -> None:
    """Record, in the unit of work's transaction, the match rate of accounts, contacts and leads as it stands (a
    matching run calls this before it commits)."""
    tables = (*COMPANY_TABLES, *PEOPLE_TABLES)
    uow.reports.record_match_rates({table: uow.matches.counts(table) for table in tables}, at=at)
