"""One of a seller's lists as a table to work from: its records sorted by name, type, owner or date added, filtered
by badge (tied to a workspace person or company, out of date, not matched yet) and by CRM owner; several records
saved to another list at once; every row of it exported (the CSV edge neutralises formula cells)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from salesbridge.domain.lists import SavedList
from salesbridge.domain.match_links import TargetKind
from salesbridge.errors import RowNotFoundError
from salesbridge.services.lists import LIST_TABLES, _own_list, _user, add_to_list
from salesbridge.services.organizations import require_organization
from salesbridge.services.ports import StoreAccess, UnitOfWork

ROWS_SHOWN: Final = 100
"""The rows a page shows (the CSV export has every row): 500 rows took a 5,000-record list's page past 200 ms."""
_MATCHED_TABLES: Final = ("account", "contact", "lead")


class ListSort(StrEnum):
    """What a list's rows are sorted by."""

    NAME = "name"
    TYPE = "type"
    OWNER = "owner"
    ADDED = "added"


class RowBadge(StrEnum):
    """A row's badge: its record is tied to a workspace person or company (and maybe out of date: the CRM and the
    workspace disagree on their company or title), or not matched yet."""

    MATCHED = "matched"
    OUT_OF_DATE = "out_of_date"
    UNMATCHED = "unmatched"


@dataclass(frozen=True)
class ListRow:
    """A record of the list: its CRM name and owner, its badge and the person or company it is tied to."""

    table: str
    crm_id: str
    name: str | None
    owner_id: str | None
    owner_name: str | None
    badge: RowBadge | None
    target_path: str | None
    reason: str | None
    added_at: datetime

    @property
    def key(self) -> str:
        """``table:crm_id``, as a bulk form sends a row."""
        return f"{self.table}:{self.crm_id}"


@dataclass(frozen=True)
class ListTable:
    """A list's rows as asked (sorted, filtered), every one of them; ``owners``: the CRM owners of the list's
    records, ``(id, name)`` by name, to filter by."""

    saved: SavedList
    rows: list[ListRow]
    owners: list[tuple[str, str]]
    sort: ListSort
    descending: bool
    badge: RowBadge | None
    owner: str | None


def _rows(uow: UnitOfWork, saved: SavedList) -> list[ListRow]:
    items = uow.lists.items(saved.id)
    facts = {
        (record.table, record.crm_id): record
        for table in sorted({item.crm_table for item in items})
        for record in uow.crm_record_queries.by_ids(
            table, [item.crm_id for item in items if item.crm_table == table], data=False
        )
    }
    owners = {record.owner_id for record in facts.values() if record.owner_id}
    names = uow.crm_record_queries.names(
        [
            *((item.crm_table, item.crm_id) for item in items),
            *(("systemuser", owner) for owner in owners),
            *(("team", owner) for owner in owners),
        ]
    )
    links = {
        (table, crm_id): link
        for table in _MATCHED_TABLES
        for crm_id, link in uow.matches.links(table, [item.crm_id for item in items if item.crm_table == table]).items()
    }
    rows: list[ListRow] = []
    for item in items:
        key = (item.crm_table, item.crm_id)
        record = facts.get(key)
        owner = record.owner_id if record is not None else None
        link = links.get(key)
        badge: RowBadge | None = None
        path: str | None = None
        if item.crm_table in _MATCHED_TABLES:
            if link is not None and link.is_tie and link.target_id is not None:
                badge = RowBadge.OUT_OF_DATE if link.stale_fields else RowBadge.MATCHED
                folder = "people" if link.target_kind is TargetKind.PERSON else "companies"
                path = f"/{folder}/{link.target_id}"
            else:
                badge = RowBadge.UNMATCHED
        rows.append(
            ListRow(
                table=item.crm_table,
                crm_id=item.crm_id,
                name=names.get(key),
                owner_id=owner,
                owner_name=(names.get(("systemuser", owner)) or names.get(("team", owner))) if owner else None,
                badge=badge,
                target_path=path,
                reason=item.reason,
                added_at=item.added_at,
            )
        )
    return rows


def _sort_key(sort: ListSort) -> Callable[[ListRow], Any]:
    def text(value: str | None) -> tuple[bool, str]:
        return (value is None, (value or "").casefold())

    keys: dict[ListSort, Callable[[ListRow], Any]] = {
        ListSort.NAME: lambda row: (text(row.name), row.crm_id),
        ListSort.TYPE: lambda row: (row.table, text(row.name), row.crm_id),
        ListSort.OWNER: lambda row: (text(row.owner_name), text(row.name), row.crm_id),
        ListSort.ADDED: lambda row: (row.added_at, text(row.name), row.crm_id),
    }
    return keys[sort]


def list_table(
    store: StoreAccess,
    slug: str,
    email: str,
    list_id: uuid.UUID,
    *,
    sort: ListSort = ListSort.NAME,
    descending: bool = False,
    badge: RowBadge | None = None,
    owner: str | None = None,
) -> ListTable:
    """The rows of the user's list ``list_id`` (a system list or their own), sorted by ``sort`` and keeping only
    those with ``badge`` (out-of-date rows count as matched too) and owned by ``owner`` when given. Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no such user, or the list is not theirs.
    """
    with store(require_organization(store, slug), read_only=True) as uow:
        user = _user(uow, email)
        saved = uow.lists.get(list_id)
        if saved.owner_user_id != user.id:
            raise RowNotFoundError("No such list in this organization.")
        rows = _rows(uow, saved)
    owners = sorted(
        {(row.owner_id, row.owner_name or row.owner_id) for row in rows if row.owner_id},
        key=lambda pair: (pair[1].casefold(), pair[0]),
    )
    if badge is RowBadge.MATCHED:
        rows = [row for row in rows if row.badge in (RowBadge.MATCHED, RowBadge.OUT_OF_DATE)]
    elif badge is not None:
        rows = [row for row in rows if row.badge is badge]
    if owner:
        rows = [row for row in rows if row.owner_id == owner]
    rows.sort(key=_sort_key(sort), reverse=descending)
    return ListTable(saved, rows, owners, sort, descending, badge, owner or None)


def save_rows(store: StoreAccess, slug: str, email: str, list_id: uuid.UUID, keys: Sequence[str], *, actor: str) -> int:
    """Put the records ``keys`` (``table:crm_id``, as :attr:`ListRow.key`) in the user's own list ``list_id``; how
    many were not there yet. Each addition is audited (:func:`~salesbridge.services.lists.add_to_list`).

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no such user, or the list is not theirs.
        InvalidRequestError: the list is a system list, or a key names no imported account, contact or lead.
    """
    with store(require_organization(store, slug), read_only=True) as uow:
        _own_list(uow, email, list_id)
    added = 0
    for key in dict.fromkeys(keys):
        table, _, crm_id = key.partition(":")
        if add_to_list(
            store, slug, email, list_id, table=table if table in LIST_TABLES else "", crm_id=crm_id, actor=actor
        ):
            added += 1
    return added
