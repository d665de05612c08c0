"""The organization's audit log, a page at a time or every matching entry (the CSV export), optionally only one
action's, one person's and one date range's entries."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from salesbridge.domain.workspace import AuditEntry
from salesbridge.services.accounts import AuditView
from salesbridge.services.organizations import require_organization
from salesbridge.services.ports import Clock, StoreAccess

PAGE_SIZE: Final = 50
EXPORT_BATCH: Final = 1000
"""Entries the export reads at a time (memory stays bounded whatever the log's size)."""


@dataclass(frozen=True)
class AuditFilter:
    """Which entries: those of ``action`` and of ``actor`` when given, recorded from the start of ``since`` to the
    end of ``until`` (UTC days, both included) when given."""

    action: str | None = None
    actor: str | None = None
    since: date | None = None
    until: date | None = None

    @property
    def active(self) -> bool:
        """Whether anything is filtered."""
        return any(value is not None for value in (self.action, self.actor, self.since, self.until))

    @property
    def since_at(self) -> datetime | None:
        """The first instant included (UTC)."""
        return datetime.combine(self.since, time(), tzinfo=UTC) if self.since else None

    @property
    def until_before(self) -> datetime | None:
        """The first instant left out (UTC): the start of the day after ``until``; None when there is no end (no
        ``until``, or the calendar's last day, which has no day after it)."""
        if self.until is None or self.until == date.max:
            return None
        return datetime.combine(self.until + timedelta(days=1), time(), tzinfo=UTC)


@dataclass(frozen=True)
class AuditPage:
    """One page of the audit log, newest first.

    Attributes:
        entries: This page's entries.
        page: Its number, from 1.
        pages: How many pages the (filtered) log has; at least 1.
        total: How many entries match the filter.
        actions: Every action recorded in the organization (for the filter), sorted.
        actors: Everyone who appears in the log (for the filter), sorted.
        action: The action filtered on, if any.
        actor: The person filtered on, if any.
        since / until: The days filtered on (UTC, included), if any.
    """

    entries: tuple[AuditView, ...]
    page: int
    pages: int
    total: int
    actions: tuple[str, ...]
    actors: tuple[str, ...]
    action: str | None = None
    actor: str | None = None
    since: date | None = None
    until: date | None = None


def audit_page(
    store: StoreAccess,
    slug: str,
    *,
    page: int = 1,
    action: str | None = None,
    actor: str | None = None,
    since: date | None = None,
    until: date | None = None,
    page_size: int = PAGE_SIZE,
) -> AuditPage:
    """Page ``page`` of the audit log of ``slug`` (``page_size`` entries, newest first), only the entries of
    ``action``, of ``actor`` and from ``since`` to ``until`` (UTC days, included) when given. A page past the last
    shows the last one. Reads only. The caller checks that the reader is one of the organization's administrators.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
    """
    chosen = AuditFilter(action, actor, since, until)
    organization_id = require_organization(store, slug)
    with store(organization_id, read_only=True) as uow:
        bounds = {"since": chosen.since_at, "until": chosen.until_before}
        total = uow.audit.count(action=action, actor=actor, **bounds)
        pages = max(1, math.ceil(total / page_size))
        current = min(max(page, 1), pages)
        rows = uow.audit.recent(limit=page_size, offset=(current - 1) * page_size, action=action, actor=actor, **bounds)
        return AuditPage(
            entries=tuple(_view(row) for row in rows),
            page=current,
            pages=pages,
            total=total,
            actions=tuple(uow.audit.actions()),
            actors=tuple(uow.audit.actors()),
            action=action,
            actor=actor,
            since=since,
            until=until,
        )


def audit_entries(store: StoreAccess, slug: str, chosen: AuditFilter, *, clock: Clock) -> Iterator[AuditView]:
    """Every entry of the audit log of ``slug`` matching ``chosen``, newest first, read :data:`EXPORT_BATCH` at a
    time in one read-only unit of work (held while the caller iterates: write them out, then let go). Entries
    recorded after the call (``clock()``) are left out, so the batches never shift. The caller checks that the
    reader is one of the organization's administrators.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
    """
    organization_id = require_organization(store, slug)
    now = clock() + timedelta(microseconds=1)  # what is recorded at this very instant is included
    until = min(chosen.until_before, now) if chosen.until_before else now
    with store(organization_id, read_only=True) as uow:
        offset = 0
        while True:
            rows = uow.audit.recent(
                limit=EXPORT_BATCH,
                offset=offset,
                action=chosen.action,
                actor=chosen.actor,
                since=chosen.since_at,
                until=until,
            )
            yield from (_view(row) for row in rows)
            if len(rows) < EXPORT_BATCH:
                return
            offset += EXPORT_BATCH


def _view(row: AuditEntry) -> AuditView:
    return AuditView(row.created_at, row.actor, row.action, dict(row.details or {}))
