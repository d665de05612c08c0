"""The ports of a seller's home: the CRM changes the import noticed, home visits, and list sizes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from salesbridge.domain.crm_changes import NoticedChange
from salesbridge.domain.lists import SavedList


class NoticedChangeRepository(Protocol):
    """The changes the import noticed on the organization's CRM records (it writes them with its pages)."""

    def add_many(self, changes: Sequence[NoticedChange], *, at: datetime) -> int:
        """Store ``changes`` as seen at ``at``; how many were stored."""
        ...

    def for_seller(
        self, user_id: uuid.UUID, crm_user_id: str | None, *, since: datetime, limit: int = 50
    ) -> list[tuple[NoticedChange, datetime]]:
        """The changes seen after ``since`` to the seller's records (in the user's lists, whose account is in them,
        or owned by their CRM user ``crm_user_id`` before or after), newest first, each with when it was seen."""
        ...


class HomeVisitRepository(Protocol):
    """When each user opened their home."""

    def visit(self, user_id: uuid.UUID, *, now: datetime, gap: timedelta) -> datetime | None:
        """Record an opening of the home at ``now``; when the previous visit was (None: the first). Openings less
        than ``gap`` apart are one visit.

        Raises:
            RowNotFoundError: no such user in the organization.
        """
        ...


class ListSizeQueries(Protocol):
    """How many records lists hold."""

    def of_user(self, user_id: uuid.UUID) -> list[tuple[SavedList, int]]:
        """The user's lists (system lists first, then by name), each with how many records it holds."""
        ...
