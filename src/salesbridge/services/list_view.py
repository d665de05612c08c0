"""One of a seller's lists as a table to work from: its records sorted by name, type, owner or date added, filtered
by badge (tied to a workspace person or company, out of date, not matched yet) and by CRM owner, a page at a time;
several records (or every one the filters keep) saved to another list at once; every row of it exported (the CSV
edge neutralises formula cells). The store sorts, filters and pages (the ``list_tables`` port)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from salesbridge.domain.lists import ListSort, ListTableQuery, ListTableRow, RowBadge, SavedList
from salesbridge.domain.match_links import TargetKind
from salesbridge.errors import InvalidRequestError, RowNotFoundError
from salesbridge.message_ids import N_
from salesbridge.services.lists import LIST_TABLES, _audit_item, _own_list, _user
from salesbridge.services.organizations import require_organization
from salesbridge.services.ports import StoreAccess, UnitOfWork

__all__ = [
    "ROWS_SHOWN",
    "ListRow",
    "ListSort",
    "ListTable",
    "RowBadge",
    "filtered_keys",
    "list_table",
    "save_rows",
    "users_list",
]

ROWS_SHOWN: Final = 100
"""The rows a page shows (the next ones are on the next pages; the CSV export has every row)."""


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
    """A list's rows as asked (sorted, filtered): every one of them, or one page (``page``, 1 first; its rows from
    the ``offset``-th, 0 first); ``total``: how many rows the filters keep; ``owners``: the CRM owners of the list's
    records, ``(id, name)`` by name (the id for an owner not imported), to filter by."""

    saved: SavedList
    rows: list[ListRow]
    total: int
    owners: list[tuple[str, str]]
    sort: ListSort
    descending: bool
    badge: RowBadge | None
    owner: str | None
    page: int | None = None
    offset: int = 0

    @property
    def last_page(self) -> int:
        """The number of the last page (1 when no row is kept)."""
        return max(1, -(-self.total // ROWS_SHOWN))


def _list_row(row: ListTableRow) -> ListRow:
    path: str | None = None
    if row.target_id is not None:
        folder = "people" if row.target_kind == TargetKind.PERSON.value else "companies"
        path = f"/{folder}/{row.target_id}"
    return ListRow(
        table=row.crm_table,
        crm_id=row.crm_id,
        name=row.name,
        owner_id=row.owner_id,
        owner_name=row.owner_name,
        badge=row.badge,
        target_path=path,
        reason=row.reason,
        added_at=row.added_at,
    )


def _users_list(uow: UnitOfWork, email: str, list_id: uuid.UUID) -> SavedList:
    """The list ``list_id`` of the user ``email`` (a system list or their own).

    Raises:
        RowNotFoundError: no such user, or the list is not theirs (another organization's lists are not found).
    """
    user = _user(uow, email)
    saved = uow.lists.get(list_id)
    if saved.owner_user_id != user.id:
        raise RowNotFoundError("No such list in this organization.")
    return saved


def users_list(store: StoreAccess, slug: str, email: str, list_id: uuid.UUID) -> SavedList:
    """The list ``list_id`` of the user ``email`` (a system list or their own), without its items. Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no such user, or the list is not theirs.
    """
    with store(require_organization(store, slug), read_only=True) as uow:
        return _users_list(uow, email, list_id)


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
    page: int | None = None,
) -> ListTable:
    """The rows of the user's list ``list_id`` (a system list or their own), sorted by ``sort`` and keeping only
    those with ``badge`` (out-of-date rows count as matched too) and owned by ``owner`` when given: every row, or
    the :data:`ROWS_SHOWN` rows of page ``page`` (1 first; below 1 is 1; past the last page, none). The order is
    :class:`~salesbridge.domain.lists.ListTableQuery`'s. Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no such user, or the list is not theirs.
    """
    query = ListTableQuery(sort=sort, descending=descending, badge=badge, owner=owner or None)
    page = None if page is None else max(1, page)
    offset = 0 if page is None else (page - 1) * ROWS_SHOWN
    with store(require_organization(store, slug), read_only=True) as uow:
        saved = _users_list(uow, email, list_id)
        limit = None if page is None else ROWS_SHOWN
        found = uow.list_tables.rows(list_id, query, limit=limit, offset=offset)
    owners = sorted(
        ((owner_id, name or owner_id) for owner_id, name in found.owners),
        key=lambda pair: (pair[1].casefold(), pair[0]),
    )
    return ListTable(
        saved,
        [_list_row(row) for row in found.rows],
        found.total,
        owners,
        sort,
        descending,
        badge,
        owner or None,
        page=page,
        offset=offset,
    )


def filtered_keys(
    store: StoreAccess, slug: str, email: str, list_id: uuid.UUID, *, badge: RowBadge | None, owner: str | None
) -> list[str]:
    """The keys (``table:crm_id``, as :attr:`ListRow.key`) of every row of the user's list ``list_id`` that
    ``badge`` and ``owner`` keep (as :func:`list_table` filters them), whichever page shows it. Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no such user, or the list is not theirs.
    """
    query = ListTableQuery(badge=badge, owner=owner or None)
    with store(require_organization(store, slug), read_only=True) as uow:
        _users_list(uow, email, list_id)
        return [f"{table}:{crm_id}" for table, crm_id in uow.list_tables.keys(list_id, query)]


_NOT_IMPORTED: Final = N_("No imported CRM account, contact or lead has this id.")


def save_rows(store: StoreAccess, slug: str, email: str, list_id: uuid.UUID, keys: Sequence[str], *, actor: str) -> int:
    """Put the records ``keys`` (``table:crm_id``, as :attr:`ListRow.key`) in the user's own list ``list_id``, all
    or none, in one transaction; how many were not there yet. Each addition is audited (``list.item_added``, as
    :func:`~salesbridge.services.lists.add_to_list` does). Idempotent.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no such user, or the list is not theirs.
        InvalidRequestError: the list is a system list, or a key names no imported account, contact or lead
            (nothing is saved).
    """
    wanted: dict[tuple[str, str], None] = {}
    for key in keys:
        table, _, crm_id = key.partition(":")
        wanted[(table, crm_id.lower())] = None
    with store(require_organization(store, slug)) as uow:
        _own_list(uow, email, list_id)
        for table in {table for table, _ in wanted}:
            ids = {crm_id for key_table, crm_id in wanted if key_table == table}
            found = (
                {record.crm_id.lower() for record in uow.crm_record_queries.by_ids(table, ids, data=False)}
                if table in LIST_TABLES
                else set()
            )
            if ids - found:
                raise InvalidRequestError(_NOT_IMPORTED)
        added = 0
        for table, crm_id in wanted:
            if uow.lists.add_item(list_id, table, crm_id):
                _audit_item(uow, "list.item_added", list_id, table, crm_id, actor=actor)
                added += 1
        uow.commit()
        return added
