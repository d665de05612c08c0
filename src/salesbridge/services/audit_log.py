"""The organization's audit log, a page at a time, optionally only one action's or one person's entries."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from salesbridge.services.accounts import AuditView
from salesbridge.services.organizations import require_organization
from salesbridge.services.ports import StoreAccess

PAGE_SIZE: Final = 50


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
    """

    entries: tuple[AuditView, ...]
    page: int
    pages: int
    total: int
    actions: tuple[str, ...]
    actors: tuple[str, ...]
    action: str | None = None
    actor: str | None = None


def audit_page(
    store: StoreAccess,
    slug: str,
    *,
    page: int = 1,
    action: str | None = None,
    actor: str | None = None,
    page_size: int = PAGE_SIZE,
) -> AuditPage:
    """Page ``page`` of the audit log of ``slug`` (``page_size`` entries, newest first), only the entries of
    ``action`` and of ``actor`` when given. A page past the last shows the last one. Reads only. The caller checks
    that the reader is one of the organization's administrators.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
    """
    organization_id = require_organization(store, slug)
    with store(organization_id, read_only=True) as uow:
        total = uow.audit.count(action=action, actor=actor)
        pages = max(1, math.ceil(total / page_size))
        current = min(max(page, 1), pages)
        rows = uow.audit.recent(limit=page_size, offset=(current - 1) * page_size, action=action, actor=actor)
        return AuditPage(
            entries=tuple(AuditView(row.created_at, row.actor, row.action, dict(row.details or {})) for row in rows),
            page=current,
            pages=pages,
            total=total,
            actions=tuple(uow.audit.actions()),
            actors=tuple(uow.audit.actors()),
            action=action,
            actor=actor,
        )
