"""The ports of the administrators' reports (:mod:`salesbridge.services.reports`)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Protocol

from salesbridge.domain.match_links import LinkCounts
from salesbridge.domain.reports import DeliveredCount, MatchRateSnapshot, OpportunityRecord, SeatActivity, Touch


class ReportQueries(Protocol):
    """What the reports read, and the match-rate snapshots a matching run records (one organization)."""

    def delivered_counts(self, *, weeks: Sequence[date]) -> list[DeliveredCount]:
        """Activities delivered to the CRM that occurred in one of ``weeks`` (Mondays, UTC, consecutive, oldest
        first), per author, data item and week, oldest week first; only the weeks with some."""
        ...

    def user_names(self) -> dict[uuid.UUID, str]:
        """Every user's display name, by id."""
        ...

    def touches(self) -> list[Touch]:
        """The earliest activity concerning each CRM record (tied to an activity's person or company with band
        match, or the record it was written back on), with the record's account."""
        ...

    def opportunities(self, touched: Collection[tuple[str, str]]) -> list[OpportunityRecord]:
        """The imported opportunities that name one of the ``touched`` records (``(table, crm_id)``, ids in lower
        case) as their account, contact or lead (:func:`~salesbridge.domain.reports.named_records`), each once:
        those :func:`~salesbridge.domain.reports.influenced_opportunities` can count. Each with at least its
        :func:`~salesbridge.domain.reports.report_facts` as ``data`` and the touched records it names as
        ``named``."""
        ...

    def record_match_rates(self, counts: Mapping[str, LinkCounts], *, at: datetime) -> None:
        """Keep ``counts`` (per CRM table) as the snapshot taken at ``at`` (in the unit of work's transaction)."""
        ...

    def match_rates(self, *, runs: int) -> list[MatchRateSnapshot]:
        """The snapshots of the last ``runs`` matching runs, oldest first."""
        ...

    def seat_activity(self, *, since: datetime) -> list[SeatActivity]:
        """Every seat, whether CRM sync is on for it, its holder's activities since ``since`` and their latest."""
        ...
