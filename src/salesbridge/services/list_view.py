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

from salesbridge.domain.lists import ListRowKey, ListSort, ListTableQuery, ListTableRow, RowBadge, SavedList
from salesbridge.domain.match_links import TargetKind
from salesbridge.errors import InvalidRequestError, RowNotFoundError
from salesbridge.message_ids import N_
from salesbridge.services.lists import (
    LIST_TABLES,
    _audit_item,
    _own_list,
    _user,
    cursor_parts,
    opaque_cursor,
    storable,
)
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
    """A list's rows as asked (sorted, filtered): every one of them, or (``paged``) one page of them, the
    ``offset``-th row (0 first) first; ``total``: how many rows the filters keep; ``owners``: the CRM owners of the
    list's records, ``(id, name)`` by name (the id for an owner not imported), to filter by.

    A page's neighbours are asked for by ``previous_cursor`` and ``next_cursor`` (None: there is none), opaque
    texts naming the page's first and last row (:class:`~salesbridge.domain.lists.ListRowKey`). ``restarted``: the
    cursor asked with was not one of this list's pages in this order, or named a place with no rows left around
    it, so the first page is shown instead."""

    saved: SavedList
    rows: list[ListRow]
    total: int
    owners: list[tuple[str, str]]
    sort: ListSort
    descending: bool
    badge: RowBadge | None
    owner: str | None
    paged: bool = False
    offset: int = 0
    previous_cursor: str | None = None
    next_cursor: str | None = None
    restarted: bool = False


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
    paged: bool = False,
    after: str | None = None,
    before: str | None = None,
) -> ListTable:
    """The rows of the user's list ``list_id`` (a system list or their own), sorted by ``sort`` and keeping only
    those with ``badge`` (out-of-date rows count as matched too) and owned by ``owner`` when given: every row, or
    (``paged``) the :data:`ROWS_SHOWN` rows after the cursor ``after`` or before the cursor ``before`` (a
    :attr:`ListTable.next_cursor` or :attr:`ListTable.previous_cursor`; neither: the first page). The order is
    :class:`~salesbridge.domain.lists.ListTableQuery`'s.

    Pages are cut by keyset, not counted: a page starts right after the last row of the page before it, wherever
    that row sorts now, so rows renamed, added or removed between two pages move no other row across the edge (no
    row shown twice, none skipped). A cursor of another list, sort or order, or a made-up one, is not an error: the
    first page is shown (``restarted``); so it is when no row is left after the cursor's place (``restarted``) or
    before it. Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no such user, or the list is not theirs.
    """
    query = ListTableQuery(sort=sort, descending=descending, badge=badge, owner=owner or None)
    after_key = None if after is None else _row_key(after, list_id, query)
    before_key = None if before is None or after_key is not None else _row_key(before, list_id, query)
    restarted = paged and (after is not None or before is not None) and after_key is None and before_key is None
    with store(require_organization(store, slug), read_only=True) as uow:
        saved = _users_list(uow, email, list_id)
        limit = ROWS_SHOWN if paged else None
        tables = uow.list_tables
        found = tables.rows(list_id, query, limit=limit, after=after_key, before=before_key) if paged else None
        if found is None or not found.rows:
            # Nothing left past the cursor: the first page (said only when a next page was asked for: going back
            # to the start is what "previous" asks). Fewer rows than a page before the cursor are the first page
            # as they are: filled up, it would show page 2's first rows again.
            restarted = restarted or (after_key is not None and found is not None and found.total > 0)
            found = tables.rows(list_id, query, limit=limit)
    owners = sorted(
        ((owner_id, name or owner_id) for owner_id, name in found.owners),
        key=lambda pair: (pair[1].casefold(), pair[0]),
    )
    rows = [_list_row(row) for row in found.rows]
    previous_cursor = next_cursor = None
    if paged and rows:
        previous_cursor = _row_cursor(list_id, query, found.rows[0]) if found.offset > 0 else None
        more = found.offset + len(rows) < found.total
        next_cursor = _row_cursor(list_id, query, found.rows[-1]) if more else None
    return ListTable(
        saved,
        rows,
        found.total,
        owners,
        sort,
        descending,
        badge,
        owner or None,
        paged=paged,
        offset=found.offset,
        previous_cursor=previous_cursor,
        next_cursor=next_cursor,
        restarted=restarted,
    )


_ROW_CURSOR: Final = "row"
"""The first part of a cursor of a list's table (a cursor of the API's walk has three parts, none of them this)."""


def _row_cursor(list_id: uuid.UUID, query: ListTableQuery, row: ListTableRow) -> str:
    """The place of ``row`` in the list ``list_id`` sorted as ``query`` asks, as an opaque, URL-safe text (only
    the values that sort it: the owner's name or the date added only when sorted by them)."""
    owner_name = row.owner_name if query.sort is ListSort.OWNER else None
    added_at = row.added_at.isoformat() if query.sort is ListSort.ADDED else None
    order = "desc" if query.descending else "asc"
    parts = [_ROW_CURSOR, str(list_id), query.sort.value, order, row.crm_table, row.crm_id, row.name]
    return opaque_cursor([*parts, owner_name, added_at])


def _row_key(cursor: str, list_id: uuid.UUID, query: ListTableQuery) -> ListRowKey | None:
    """The place a cursor of :func:`_row_cursor` names, or None when it is not one of the list ``list_id`` in
    ``query``'s order (another list's, another sort's or order's, an old page number's, or made up)."""
    parts = cursor_parts(cursor) if len(cursor) <= MAX_ROW_CURSOR else None
    if parts is None or len(parts) != 9:
        return None
    kind, of_list, sort, order, crm_table, crm_id, name, owner_name, added = parts
    order_asked = "desc" if query.descending else "asc"
    if (kind, of_list, sort, order) != (_ROW_CURSOR, str(list_id), query.sort.value, order_asked):
        return None
    texts = (crm_table, crm_id)
    optional = (name, owner_name, added)
    if not all(isinstance(text, str) and storable(text) for text in texts) or not all(
        text is None or (isinstance(text, str) and storable(text)) for text in optional
    ):
        return None
    added_at = None
    if query.sort is ListSort.ADDED:
        try:
            added_at = datetime.fromisoformat(added) if isinstance(added, str) else None
        except ValueError:
            return None
        if added_at is None or added_at.tzinfo is None:
            return None
    return ListRowKey(crm_table=crm_table, crm_id=crm_id, name=name, owner_name=owner_name, added_at=added_at)


MAX_ROW_CURSOR: Final = 8_192
"""The longest cursor read: a row's holds its list, table, id, name and owner's name (at most 400 characters each,
so under 6,000 characters even in 4-byte UTF-8); longer ones are made up and start the list again."""


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
