"""Repositories of a seller's home: the CRM changes the import noticed, each user's home visits, and list sizes.

Scoped by organization like every repository.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, and_, func, insert, select

from salesbridge.domain.crm_changes import ChangeKind, NoticedChange
from salesbridge.domain.lists import SavedList as SavedListValue
from salesbridge.store.repositories import _ScopedRepository, as_value
from salesbridge.store.tables import CrmRecordChangeRow, HomeVisitRow, ListItem, SavedList

_CHUNK = 500
"""CRM ids per ``IN (...)`` read: well under every backend's limit on bound parameters."""


def _chunks(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[start : start + _CHUNK] for start in range(0, len(values), _CHUNK)]


class CrmRecordChangeRepository(_ScopedRepository):
    """The changes the import noticed on the organization's CRM records (written with the page that made them)."""

    def add_many(self, changes: Sequence[NoticedChange], *, at: datetime) -> int:
        """Store ``changes`` as made at ``at``; how many were stored. Not idempotent: a replayed page stores its
        changes again only if they are still changes (the replay compares with what the first try stored)."""
        if not changes:
            return 0
        self._session.execute(
            insert(CrmRecordChangeRow),
            [
                {
                    "id": uuid.uuid4(),
                    "organization_id": self._organization_id,
                    "table_name": change.table,
                    "crm_id": change.crm_id,
                    "kind": change.kind.value,
                    "before_value": change.before,
                    "after_value": change.after,
                    "owner_id": change.owner_id,
                    "parent_id": change.parent_id,
                    "changed_at": at,
                }
                for change in changes
            ],
        )
        return len(changes)

    def for_seller(
        self, user_id: uuid.UUID, crm_user_id: str | None, *, since: datetime, limit: int = 50
    ) -> list[tuple[NoticedChange, datetime]]:
        """The changes made after ``since`` to the seller's records, newest first (at most ``limit``), each with
        when the import saw it. The seller's records: those in the user's lists, those whose account is in them,
        and those their CRM user (``crm_user_id``, lower case) owns or owned before a change of owner."""
        change = CrmRecordChangeRow
        # Each part is read by its own index (migration 0026), not one OR of them tested on every change since the
        # visit: the seller's list items (a few thousand) probe the changes by record and by account.
        items = self._session.execute(
            select(ListItem.crm_table, ListItem.crm_id).where(
                ListItem.list_id == SavedList.id,
                SavedList.owner_user_id == user_id,
                SavedList.organization_id == self._organization_id,
                ListItem.organization_id == self._organization_id,
            )
        ).all()
        by_table: dict[str, set[str]] = {}
        for table, crm_id in items:
            by_table.setdefault(table, set()).add(crm_id)
        # The list's records: every change since the visit (no ORDER BY: ordered, SQLite walks the index by time).
        records = [
            and_(change.table_name == table, change.crm_id.in_(chunk))
            for table, crm_ids in sorted(by_table.items())
            for chunk in _chunks(sorted(crm_ids))
        ]
        records.extend(change.parent_id.in_(chunk) for chunk in _chunks(sorted(by_table.get("account", ()))))
        owned: list[ColumnElement[bool]] = []
        if crm_user_id:
            owned.append(change.owner_id == crm_user_id)
            owned.append(and_(change.kind == ChangeKind.OWNER.value, change.before_value == crm_user_id))
        recent = and_(change.organization_id == self._organization_id, change.changed_at > since)
        found: dict[uuid.UUID, CrmRecordChangeRow] = {}
        for part in records:
            found.update((row.id, row) for row in self._session.scalars(select(change).where(recent, part)))
        for part in owned:
            statement = select(change).where(recent, part).order_by(change.changed_at.desc(), change.id).limit(limit)
            found.update((row.id, row) for row in self._session.scalars(statement))
        # Newest first, then by id, as one query ordered so would give them (a stable sort by id, then by time).
        newest = sorted(sorted(found.values(), key=lambda row: row.id), key=lambda row: row.changed_at, reverse=True)
        return [
            (
                NoticedChange(
                    row.table_name,
                    row.crm_id,
                    ChangeKind(row.kind),
                    row.before_value,
                    row.after_value,
                    row.owner_id,
                    row.parent_id,
                ),
                row.changed_at,
            )
            for row in newest[:limit]
        ]


class HomeVisitRepository(_ScopedRepository):
    """When each user opened their home."""

    def visit(self, user_id: uuid.UUID, *, now: datetime, gap: timedelta) -> datetime | None:
        """Record that ``user_id`` opens their home at ``now`` and return when their previous visit was (None: this
        is their first). Openings less than ``gap`` apart are one visit: reloading the home keeps showing what
        changed since the visit before it."""
        row = self._session.scalar(
            select(HomeVisitRow).where(
                HomeVisitRow.organization_id == self._organization_id, HomeVisitRow.user_id == user_id
            )
        )
        if row is None:
            self._require_user(user_id)
            self._session.add(
                HomeVisitRow(
                    user_id=user_id, organization_id=self._organization_id, visited_at=now, previous_visit_at=None
                )
            )
            self._session.flush()
            return None
        if now - row.visited_at >= gap:
            row.previous_visit_at = row.visited_at
        row.visited_at = now
        self._session.flush()
        return row.previous_visit_at


class ListSizes(_ScopedRepository):
    """How many records each list holds."""

    def of_user(self, user_id: uuid.UUID) -> list[tuple[SavedListValue, int]]:
        """The user's lists (system lists first, then by name) with how many records each holds."""
        count = (
            select(func.count())
            .where(ListItem.list_id == SavedList.id, ListItem.organization_id == self._organization_id)
            .correlate(SavedList)
            .scalar_subquery()
        )
        statement = select(SavedList, count).where(
            SavedList.organization_id == self._organization_id, SavedList.owner_user_id == user_id
        )
        order = {"crm_accounts": 0, "crm_leads": 1}
        rows = sorted(
            self._session.execute(statement).all(),
            key=lambda row: (order.get(row[0].kind.value, 2), row[0].name.lower(), row[0].id),
        )
        return [(as_value(SavedListValue, saved), int(cast(int, size))) for saved, size in rows]
