"""The reports' queries (:mod:`salesbridge.domain.reports`), and the match-rate snapshots a matching run records.

Scoped by organization like every repository. Everything is grouped by the database, in the order of an index where
it counts activities (migration 0042): the weeks of the written-back counts are bounded by UTC Mondays given from
Python, so they read the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson
from sqlalchemy import and_, case, func, select

from salesbridge.domain.match_links import LinkBand, LinkCounts, TargetKind
from salesbridge.domain.reports import (
    DeliveredCount,
    MatchRateSnapshot,
    OpportunityRecord,
    SeatActivity,
    Touch,
)
from salesbridge.domain.writeback import DeliveryState
from salesbridge.store.database import conflict_insert
from salesbridge.store.repositories import _ScopedRepository
from salesbridge.store.tables import (
    ActivityRow,
    CrmRecord,
    MatchLinkRow,
    MatchRateSnapshotRow,
    Organization,
    Seat,
    User,
)

_ID_CHUNK = 2_000
"""Touched records, or opportunities, per query (bound parameters: SQLite allows 32,766 a statement)."""
_SQLITE_NAMED = (
    "SELECT opportunity_id, record_id FROM crm_opportunity_records "
    "WHERE organization_id = ? AND record_table = ? AND record_id IN ({})"
)
_POSTGRESQL_NAMED = (
    "SELECT opportunity_id, record_id FROM crm_opportunity_records "
    "WHERE organization_id = %s AND record_table = %s AND record_id = ANY(%s::varchar[])"
)
_SQLITE_FACTS = (
    "SELECT opportunity_id, name, facts FROM crm_opportunity_facts WHERE organization_id = ? AND opportunity_id IN ({})"
)
# The JSON as its text, decoded here by orjson (psycopg's own loader is the standard library's, several times slower).
_POSTGRESQL_FACTS = (
    "SELECT opportunity_id, name, facts::text FROM crm_opportunity_facts "
    "WHERE organization_id = %s AND opportunity_id = ANY(%s::varchar[])"
)


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _ID_CHUNK):
        yield ids[start : start + _ID_CHUNK]


def _sqlite_in(statement: str, count: int) -> str:
    return statement.format(", ".join("?" * count))


_TouchRow = tuple[str | None, str | None, str | None, datetime | None]
"""A touch as read: the record's table and CRM id, its account, the first activity."""


class ReportQueries(_ScopedRepository):
    """What the reports read, and the match-rate snapshots."""

    def delivered_counts(self, *, weeks: Sequence[date]) -> list[DeliveredCount]:
        """Activities delivered to the CRM that occurred in one of ``weeks`` (Mondays, UTC, consecutive, oldest
        first), counted per author, data item and week, oldest week first.

        One read of ix_activities_organization_id_state_author_item_occurred (migration 0042) in the order it
        groups by (author, item), counting each week in a column of its own: the database never sorts the
        activities (SQLite would sort them in the console's process, in buffers growing with the table), and what
        reaches Python is one row per author and item."""
        if not weeks:
            return []
        bounds = [datetime.combine(week, time(), tzinfo=UTC) for week in weeks]
        bounds.append(bounds[-1] + timedelta(weeks=1))
        per_week = [
            func.count(case((and_(ActivityRow.occurred_at >= start, ActivityRow.occurred_at < end), 1)))
            for start, end in itertools.pairwise(bounds)
        ]
        statement = (
            select(ActivityRow.author_user_id, ActivityRow.item, *per_week)
            .where(
                ActivityRow.organization_id == self._organization_id,
                ActivityRow.state == DeliveryState.DELIVERED.value,
                ActivityRow.occurred_at >= bounds[0],
                ActivityRow.occurred_at < bounds[-1],
            )
            .group_by(ActivityRow.author_user_id, ActivityRow.item)
        )
        counts = [
            DeliveredCount(author, item, week, int(count))
            for author, item, *counts_per_week in self._session.execute(statement)
            for week, count in zip(weeks, counts_per_week, strict=True)
            if count
        ]
        return sorted(counts, key=lambda row: (row.week, str(row.author_user_id), row.item))

    def user_names(self) -> dict[uuid.UUID, str]:
        """Every user's display name, by id."""
        rows = self._session.execute(
            select(User.id, User.display_name).where(User.organization_id == self._organization_id)
        )
        return {row[0]: row[1] for row in rows}

    def touches(self) -> list[Touch]:
        """The earliest activity concerning each CRM record: the records tied (band match) to an activity's person
        or company, and the record it was written back on; each with its account (``parent_id``).

        The earliest activity of each person, company and record written on is read from the activities' indexes
        in their order (by person, by company: migration 0003's; by record: migration 0042's), so the database
        never sorts the activities themselves; only those firsts are joined to the links and records."""
        org = self._organization_id
        touches: list[Touch] = []
        for kind, target in ((TargetKind.PERSON, ActivityRow.person_id), (TargetKind.COMPANY, ActivityRow.company_id)):
            firsts = (
                select(target.label("target_id"), func.min(ActivityRow.occurred_at).label("first_at"))
                .where(ActivityRow.organization_id == org, target.is_not(None))
                .group_by(target)
                .subquery()
            )
            statement = (
                select(MatchLinkRow.crm_table, MatchLinkRow.crm_id, CrmRecord.parent_id, firsts.c.first_at)
                .select_from(firsts)
                .join(
                    MatchLinkRow,
                    and_(
                        MatchLinkRow.organization_id == org,
                        MatchLinkRow.target_kind == kind.value,
                        MatchLinkRow.target_id == firsts.c.target_id,
                        MatchLinkRow.band == LinkBand.MATCH.value,
                    ),
                )
                .outerjoin(
                    CrmRecord,
                    and_(
                        CrmRecord.organization_id == org,
                        CrmRecord.table_name == MatchLinkRow.crm_table,
                        CrmRecord.crm_id == MatchLinkRow.crm_id,
                    ),
                )
            )
            touches.extend(self._touches(statement))
        firsts = (
            select(
                ActivityRow.regarding_table.label("table_name"),
                ActivityRow.regarding_id.label("crm_id"),
                func.min(ActivityRow.occurred_at).label("first_at"),
            )
            .where(ActivityRow.organization_id == org, ActivityRow.regarding_id.is_not(None))
            .group_by(ActivityRow.regarding_table, ActivityRow.regarding_id)
            .subquery()
        )
        regarding = (
            select(firsts.c.table_name, firsts.c.crm_id, CrmRecord.parent_id, firsts.c.first_at)
            .select_from(firsts)
            .outerjoin(
                CrmRecord,
                and_(
                    CrmRecord.organization_id == org,
                    CrmRecord.table_name == firsts.c.table_name,
                    CrmRecord.crm_id == firsts.c.crm_id,
                ),
            )
        )
        touches.extend(self._touches(regarding))
        return touches

    def _touches(self, statement: Any) -> list[Touch]:
        """The rows of ``statement`` (table, CRM id, account, first activity) as touches, one per record and account
        (several people or companies tied to one record: its earliest)."""
        earliest: dict[tuple[str, str, str | None], datetime] = {}
        rows: Iterator[_TouchRow] = iter(self._session.execute(statement))
        for table, crm_id, parent, at in rows:
            if not (table and crm_id and at is not None):
                continue
            key = (str(table), str(crm_id).lower(), parent.lower() if parent else None)
            if key not in earliest or at < earliest[key]:
                earliest[key] = at
        return [
            Touch(table=table, crm_id=crm_id, account_id=account_id, first_at=at)
            for (table, crm_id, account_id), at in earliest.items()
        ]

    def opportunities(self, touched: Collection[tuple[str, str]]) -> list[OpportunityRecord]:
        """The imported opportunities that name one of the ``touched`` records (``(table, crm_id)``, ids in lower
        case) as their account, contact or lead (:func:`~salesbridge.domain.reports.named_records`), each once,
        with the touched records each names (``named``) and its name and report facts as ``data``
        (:func:`~salesbridge.domain.reports.report_facts`), not its whole row.

        Two reads per chunk of ids, neither of ``crm_records``: the touched records' rows of
        ``crm_opportunity_records`` (migration 0032; one range of its index by record per id), then the
        opportunities' facts by primary key (``crm_opportunity_facts``, migration 0035): opportunities that name
        none are never read, nor any opportunity's whole JSON. Through the driver's cursor (thousands of narrow
        rows: the ORM's result handling cost more than the reads), in the session's transaction."""
        by_table: dict[str, list[str]] = {}
        for table, crm_id in touched:
            by_table.setdefault(table, []).append(crm_id)
        postgresql = self._session.get_bind().dialect.name == "postgresql"
        organization: object = self._organization_id if postgresql else self._organization_id.hex
        driver: Any = self._session.connection().connection.driver_connection
        cursor = driver.cursor()
        try:
            names: dict[str, list[tuple[str, str]]] = {}
            for table, record_ids in by_table.items():
                for chunk in _chunks(record_ids):
                    if postgresql:
                        cursor.execute(_POSTGRESQL_NAMED, (organization, table, chunk))
                    else:
                        cursor.execute(_sqlite_in(_SQLITE_NAMED, len(chunk)), (organization, table, *chunk))
                    for opportunity_id, record_id in cursor.fetchall():
                        names.setdefault(opportunity_id, []).append((table, record_id))
            found: list[OpportunityRecord] = []
            for chunk in _chunks(list(names)):
                if postgresql:
                    cursor.execute(_POSTGRESQL_FACTS, (organization, chunk))
                else:
                    cursor.execute(_sqlite_in(_SQLITE_FACTS, len(chunk)), (organization, *chunk))
                found += (
                    OpportunityRecord(crm_id, name, orjson.loads(facts), tuple(names[crm_id]))
                    for crm_id, name, facts in cursor.fetchall()
                )
        finally:
            cursor.close()
        return found

    def record_match_rates(self, counts: Mapping[str, LinkCounts], *, at: datetime) -> None:
        """Keep ``counts`` (per CRM table) as the snapshot taken at ``at``; a second run finishing at the same
        instant replaces that instant's counts (the later run's are the newer truth)."""
        if counts:
            statement = conflict_insert(self._session, MatchRateSnapshotRow)
            self._session.execute(
                statement.on_conflict_do_update(
                    index_elements=["organization_id", "taken_at", "crm_table"],
                    set_={name: statement.excluded[name] for name in ("total", "matched", "review")},
                ),
                [
                    {
                        "organization_id": self._organization_id,
                        "taken_at": at,
                        "crm_table": table,
                        "total": value.total,
                        "matched": value.matched,
                        "review": value.review,
                    }
                    for table, value in counts.items()
                ],
            )

    def match_rates(self, *, runs: int) -> list[MatchRateSnapshot]:
        """The snapshots of the last ``runs`` matching runs, oldest first."""
        row = MatchRateSnapshotRow
        moments = (
            select(row.taken_at)
            .where(row.organization_id == self._organization_id)
            .group_by(row.taken_at)
            .order_by(row.taken_at.desc())
            .limit(runs)
            .subquery()
        )
        statement = (
            select(row)
            .where(row.organization_id == self._organization_id, row.taken_at.in_(select(moments.c.taken_at)))
            .order_by(row.taken_at, row.crm_table)
        )
        return [
            MatchRateSnapshot(
                taken_at=found.taken_at,
                table=found.crm_table,
                total=found.total,
                matched=found.matched,
                review=found.review,
            )
            for found in self._session.scalars(statement)
        ]

    def seat_activity(self, *, since: datetime) -> list[SeatActivity]:
        """Every seat with its holder, whether CRM sync is on for it, and the holder's activities that occurred at
        or after ``since`` (count) and their latest activity ever; by display name."""
        org = self._organization_id
        sync_all = bool(self._session.scalar(select(Organization.crm_sync_all_seats).where(Organization.id == org)))
        # Per seat, two probes of ix_activities_organization_id_author_occurred (migration 0042): a range counted
        # and its last entry; no activity is grouped or sorted. The seats are ordered here, by name as Python
        # lowers it (SQLite's lower() leaves letters outside ASCII as they are).
        recent = (
            select(func.count())
            .where(
                ActivityRow.organization_id == org,
                ActivityRow.author_user_id == User.id,
                ActivityRow.occurred_at >= since,
            )
            .correlate(User)
            .scalar_subquery()
        )
        latest = (
            select(func.max(ActivityRow.occurred_at))
            .where(ActivityRow.organization_id == org, ActivityRow.author_user_id == User.id)
            .correlate(User)
            .scalar_subquery()
        )
        statement = (
            select(User.id, User.display_name, User.email, Seat.crm_sync_enabled, recent, latest)
            .join(Seat, and_(Seat.user_id == User.id, Seat.organization_id == org))
            .where(User.organization_id == org)
        )
        rows: list[Any] = sorted(self._session.execute(statement), key=lambda row: (row[1].lower(), row[2]))
        return [
            SeatActivity(
                user_id=user_id,
                display_name=name,
                email=email,
                crm_sync=sync_all or bool(enabled),
                recent_activities=int(count or 0),
                last_activity_at=last,
            )
            for user_id, name, email, enabled, count, last in rows
        ]
