"""A list's records as its table and the Lists page show them: sorted, filtered and paged in SQL.

A list's page used to resolve every record's name, owner and tie in Python to sort and filter them (5,000 records:
265-290 ms on PostgreSQL). Here one statement joins the list's items to their imported records, their owners (the
imported user, else team) and their match links, by primary key each, and the database sorts, filters and cuts
the page; the Lists page reads each list's first items, people and companies with a ``LIMIT`` per list (SQLite) or
one ``LATERAL`` statement (PostgreSQL).

Text sorts as :class:`salesbridge.domain.lists.ListTableQuery` says: SQLite folds names with Python's
``str.casefold`` (the ``sb_casefold`` function of :mod:`salesbridge.store.database`); PostgreSQL with ``lower()``
of the database's collation (the same for every letter but the few ``casefold`` maps further, such as ß to ss).
Both compare the folded text by code point (``COLLATE "C"`` on PostgreSQL), as Python compares strings.
Scoped by organization: every table of every statement is filtered by the organization id.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.orm import aliased

from salesbridge.domain.lists import (
    ListItem as ListItemValue,
)
from salesbridge.domain.lists import (
    ListItemKey,
    ListPreview,
    ListRowKey,
    ListSort,
    ListTablePage,
    ListTableQuery,
    ListTableRow,
    ListTarget,
    RowBadge,
)
from salesbridge.domain.match_links import LinkBand, TargetKind
from salesbridge.store.database import SQLITE_CASEFOLD
from salesbridge.store.repositories import _ScopedRepository
from salesbridge.store.tables import CompanyRow, CrmRecord, ListItem, MatchLinkRow, PersonRow, SavedList

MATCHED_TABLES: Final = ("account", "contact", "lead")
"""The CRM tables whose records are matched with people and companies (the others have no badge)."""

_Column = Any
"""A column or column expression (SQLAlchemy's typing of mapped attributes and expressions differ)."""

_record = aliased(CrmRecord, name="record")
_owner_user = aliased(CrmRecord, name="owner_user")
_owner_team = aliased(CrmRecord, name="owner_team")


class ListTableQueries(_ScopedRepository):
    """Reads of a list's records for its table and for the Lists page. Read-only."""

    # ------------------------------------------------------------------------------------------ expressions

    @property
    def _postgresql(self) -> bool:
        return self._session.get_bind().dialect.name == "postgresql"

    def _code_points(self, value: _Column) -> ColumnElement[Any]:
        """``value`` compared by code point (SQLite's default; PostgreSQL's collation may order otherwise)."""
        compared: ColumnElement[Any] = value.collate("C") if self._postgresql else value
        return compared

    def _folded(self, value: _Column) -> ColumnElement[Any]:
        if self._postgresql:
            return func.lower(value).collate("C")
        folded: ColumnElement[Any] = getattr(func, SQLITE_CASEFOLD)(value)
        return folded

    def _text_keys(self, value: _Column) -> list[ColumnElement[Any]]:
        """A missing text after every present one, then the text without case (a missing one as empty: never NULL,
        so that a key compares equal to itself)."""
        return [case((value.is_(None), 1), else_=0), self._folded(func.coalesce(value, ""))]

    def _record_of_item(self) -> ColumnElement[bool]:
        return and_(
            _record.organization_id == self._organization_id,
            _record.table_name == ListItem.crm_table,
            _record.crm_id == ListItem.crm_id,
        )

    def _link_of_item(self) -> ColumnElement[bool]:
        return and_(
            MatchLinkRow.organization_id == self._organization_id,
            MatchLinkRow.crm_table == ListItem.crm_table,
            MatchLinkRow.crm_id == ListItem.crm_id,
        )

    def _owner_name(self) -> ColumnElement[Any]:
        # The user's name, else (no such user, or a blank name) the team's.
        return func.coalesce(func.nullif(_owner_user.name, ""), _owner_team.name)

    def _badge(self, crm_table: _Column = ListItem.crm_table, link: Any = MatchLinkRow) -> ColumnElement[Any]:
        """The row's :class:`RowBadge` value (NULL outside the matched tables), from its match link (``link``: its
        columns)."""
        tied = and_(link.band == LinkBand.MATCH.value, link.target_id.is_not(None))
        return case(
            (crm_table.not_in(MATCHED_TABLES), null()),
            (and_(tied, cast(link.stale_fields, String) != "[]"), RowBadge.OUT_OF_DATE.value),
            (tied, RowBadge.MATCHED.value),
            else_=RowBadge.UNMATCHED.value,
        )

    def _items(self, list_id: uuid.UUID, query: ListTableQuery) -> Select[Any]:
        """The list's items with what ``query`` filters on joined, filtered (no columns)."""
        statement = select().select_from(ListItem)
        if query.owner:
            statement = statement.outerjoin(_record, self._record_of_item())
        if query.badge:
            statement = statement.outerjoin(MatchLinkRow, self._link_of_item())
        statement = statement.where(ListItem.organization_id == self._organization_id, ListItem.list_id == list_id)
        return statement.where(*self._filters(query, owner_id=_record.owner_id, crm_table=ListItem.crm_table))

    def _filters(
        self, query: ListTableQuery, *, owner_id: _Column, crm_table: _Column, link: Any = MatchLinkRow
    ) -> list[ColumnElement[bool]]:
        filters: list[ColumnElement[bool]] = []
        if query.badge is RowBadge.MATCHED:
            filters.append(self._badge(crm_table, link).in_((RowBadge.MATCHED.value, RowBadge.OUT_OF_DATE.value)))
        elif query.badge is not None:
            filters.append(self._badge(crm_table, link) == query.badge.value)
        if query.owner:
            filters.append(owner_id == query.owner)
        return filters

    def _sort_keys(self, query: ListTableQuery, rows: Any) -> list[tuple[ColumnElement[Any], bool]]:
        """The keys ``rows`` (columns ``crm_table``, ``crm_id``, ``name``, ``owner_name``, ``added_at``: the rows of
        :meth:`rows`, or a :class:`ListRowKey`'s values as literals) sort by as ``query`` asks, each with whether
        it descends."""
        first: list[ColumnElement[Any]] = {
            ListSort.NAME: [],
            ListSort.TYPE: [self._code_points(rows.crm_table)],
            ListSort.OWNER: self._text_keys(rows.owner_name),
            ListSort.ADDED: [rows.added_at],
        }[query.sort]
        keys = [*first, *self._text_keys(rows.name), self._code_points(rows.crm_id)]
        # Two records with the same id (of two tables) stay by table either way, as a stable sort keeps them.
        return [*((key, query.descending) for key in keys), (self._code_points(rows.crm_table), False)]

    def _beyond(
        self, query: ListTableQuery, row_keys: Sequence[Any], key: ListRowKey, *, before: bool
    ) -> ColumnElement[bool]:
        """The rows whose sort keys (``row_keys``, :meth:`_sort_keys`'s, computed) come after ``key``'s
        (``before``: before them) as ``query`` sorts: the first key that differs decides. ``key``'s values are
        folded by the database, as the rows' were."""
        values = _KeyValues(
            crm_table=literal(key.crm_table, String),
            crm_id=literal(key.crm_id, String),
            # Typed: PostgreSQL cannot tell the type of a parameter only tested for NULL.
            name=cast(literal(key.name, String), String),
            owner_name=cast(literal(key.owner_name, String), String),
            added_at=literal(key.added_at, ListItem.added_at.type),
        )
        pairs = zip(row_keys, self._sort_keys(query, values), strict=True)
        equal: list[ColumnElement[bool]] = []
        either: list[ColumnElement[bool]] = []
        for row_key, (key_value, descending) in pairs:
            beyond = row_key < key_value if descending != before else row_key > key_value
            either.append(and_(*equal, beyond))
            equal.append(row_key == key_value)
        return or_(*either)

    def _owners_json(self, owners: Any) -> ColumnElement[Any]:
        """The owners ``(owner_id, owner_name)`` as one JSON array of pairs (a scalar subquery)."""
        pair = (func.json_build_array if self._postgresql else func.json_array)(owners.c.owner_id, owners.c.owner_name)
        aggregate = func.json_agg(pair) if self._postgresql else func.json_group_array(pair)
        return select(aggregate).select_from(owners).scalar_subquery()

    # ------------------------------------------------------------------------------------------------ reads

    def _record_of(self, table: _Column, crm_id: _Column) -> tuple[Any, ColumnElement[bool], _Column, _Column]:
        """What to outer-join for the imported record of ``(table, crm_id)``, on which condition, and its ``name``
        and ``owner_id``: its row, read by primary key.

        On PostgreSQL a LATERAL read (its LIMIT keeps the planner from flattening it into a join): joined, with
        statistics it hashed every imported record of the organization to name a list's records (116,000 records
        read for a list of 5,000: 30-90 ms, on each page), where a probe per record costs the list's length. SQLite
        probes the primary key either way."""
        matches = and_(
            _record.organization_id == self._organization_id, _record.table_name == table, _record.crm_id == crm_id
        )
        if not self._postgresql:
            return _record, matches, _record.name, _record.owner_id
        found = select(_record.name, _record.owner_id).where(matches).limit(1).lateral("item_record")
        return found, true(), found.c.name, found.c.owner_id

    def _link_of(self, table: _Column, crm_id: _Column) -> tuple[Any, ColumnElement[bool], Any]:
        """What to outer-join for the match link of ``(table, crm_id)``, on which condition, and the columns to read
        it by (``band``, ``target_kind``, ``target_id``, ``stale_fields``): a probe of its primary key (on
        PostgreSQL a LATERAL read, as :meth:`_record_of` says why)."""
        matches = and_(
            MatchLinkRow.organization_id == self._organization_id,
            MatchLinkRow.crm_table == table,
            MatchLinkRow.crm_id == crm_id,
        )
        if not self._postgresql:
            return MatchLinkRow, matches, MatchLinkRow
        columns = (MatchLinkRow.band, MatchLinkRow.target_kind, MatchLinkRow.target_id, MatchLinkRow.stale_fields)
        found = select(*columns).where(matches).limit(1).lateral("item_link")
        return found, true(), found.c

    def rows(
        self,
        list_id: uuid.UUID,
        query: ListTableQuery,
        *,
        limit: int | None,
        after: ListRowKey | None = None,
        before: ListRowKey | None = None,
    ) -> ListTablePage:
        """Up to ``limit`` rows (None: every one) of the list as ``query`` sorts and filters them: the first ones,
        those right after ``after`` or (``before``) right before it; how many rows the filters keep in all, how
        many of them sort before the first row given, and the owners of the list's records (all of them,
        unfiltered). The list is not checked (an unknown list, or another organization's, has no rows).

        One statement: the list's items with their records' names and owners (a primary-key read each), the
        distinct owners' names (a read per owner, not per row), the links (a primary-key read each), the keyset's
        cut and the page (a top-N sort); the total and the rows past the cut are window counts, the owners a JSON
        aggregate beside each row. Only a page past the end reads again."""
        org = self._organization_id
        record, on_record, name, owner_id = self._record_of(ListItem.crm_table, ListItem.crm_id)
        base = (
            select(
                ListItem.crm_table,
                ListItem.crm_id,
                ListItem.reason,
                ListItem.added_at,
                name.label("name"),
                owner_id.label("owner_id"),
            )
            .select_from(ListItem)
            .outerjoin(record, on_record)
            .where(ListItem.organization_id == org, ListItem.list_id == list_id)
            .cte("list_rows")
        )
        owners = self._owner_names(select(base.c.owner_id).where(base.c.owner_id.is_not(None)).distinct()).cte(
            "list_owners"
        )
        link, on_link, linked = self._link_of(base.c.crm_table, base.c.crm_id)
        columns = _KeyValues(
            crm_table=base.c.crm_table,
            crm_id=base.c.crm_id,
            name=base.c.name,
            owner_name=owners.c.owner_name,
            added_at=base.c.added_at,
        )
        keys = self._sort_keys(query, columns)
        placed = (
            select(
                base.c.crm_table,
                base.c.crm_id,
                base.c.name,
                base.c.owner_id,
                owners.c.owner_name,
                self._badge(base.c.crm_table, linked).label("badge"),
                linked.target_kind,
                linked.target_id,
                base.c.reason,
                base.c.added_at,
                func.count().over().label("total"),
                # Computed once, for the keyset's cut and the sort (folding a name calls a function).
                *(key.label(f"sort_key_{index}") for index, (key, _) in enumerate(keys)),
            )
            .select_from(base)
            .outerjoin(owners, owners.c.owner_id == base.c.owner_id)
            .outerjoin(link, on_link)
            .where(*self._filters(query, owner_id=base.c.owner_id, crm_table=base.c.crm_table, link=linked))
            .subquery("placed")
        )
        computed = [placed.c[f"sort_key_{index}"] for index in range(len(keys))]
        # Backwards, the rows nearest ``before`` first: the page is the ``limit`` rows just before it.
        backwards = before is not None
        order = [
            key.desc() if descending != backwards else key.asc()
            for key, (_, descending) in zip(computed, keys, strict=True)
        ]
        # The rows the cut keeps (those past the cursor): with the total, how many rows come before the page.
        statement = select(placed, func.count().over().label("kept"), self._owners_json(owners).label("owners"))
        if after is not None:
            statement = statement.where(self._beyond(query, computed, after, before=False))
        if before is not None:
            statement = statement.where(self._beyond(query, computed, before, before=True))
        found = list(self._session.execute(statement.order_by(*order).limit(limit)))
        if not found:
            return ListTablePage(rows=[], total=self.count(list_id, query), owners=self.owners(list_id))
        if backwards:
            found.reverse()
        listed = found[0].owners
        pairs = json.loads(listed) if isinstance(listed, str) else (listed or [])
        total, kept = int(found[0].total), int(found[0].kept)
        return ListTablePage(
            rows=[_row(row) for row in found],
            total=total,
            owners=[(str(owner_id), name) for owner_id, name in pairs],
            # Forwards the kept rows are the page and those after it; backwards, the page and those before it.
            offset=kept - len(found) if backwards else total - kept,
        )

    def _owner_names(self, owner_ids: Select[Any]) -> Select[Any]:
        """``(owner_id, owner_name)`` of each of ``owner_ids`` (a one-column select): the imported user's name,
        else (no such user, or a blank name) the team's, else NULL."""
        org = self._organization_id
        ids = owner_ids.subquery("owner_ids")
        statement = select(ids.c.owner_id, self._owner_name().label("owner_name")).select_from(ids)
        for owner, table in ((_owner_user, "systemuser"), (_owner_team, "team")):
            statement = statement.outerjoin(
                owner, and_(owner.organization_id == org, owner.table_name == table, owner.crm_id == ids.c.owner_id)
            )
        return statement

    def count(self, list_id: uuid.UUID, query: ListTableQuery) -> int:
        """How many rows of the list ``query``'s filters keep."""
        statement = self._items(list_id, query).add_columns(func.count())
        return int(self._session.scalar(statement) or 0)

    def keys(self, list_id: uuid.UUID, query: ListTableQuery) -> list[tuple[str, str]]:
        """``(table, crm_id)`` of every row of the list ``query``'s filters keep, by table then id."""
        statement = (
            self._items(list_id, query)
            .add_columns(ListItem.crm_table, ListItem.crm_id)
            .order_by(ListItem.crm_table, ListItem.crm_id)
        )
        return [(str(table), str(crm_id)) for table, crm_id in self._session.execute(statement)]

    def owners(self, list_id: uuid.UUID) -> list[tuple[str, str | None]]:
        """The CRM owners of the list's records: ``(owner id, name)`` each once (name None when the owner is no
        imported user or team), in no particular order."""
        ids = (
            select(_record.owner_id)
            .select_from(ListItem)
            .join(_record, self._record_of_item())
            .where(
                ListItem.organization_id == self._organization_id,
                ListItem.list_id == list_id,
                _record.owner_id.is_not(None),
            )
            .distinct()
        )
        found = self._session.execute(self._owner_names(ids))
        return [(str(owner_id), None if name is None else str(name)) for owner_id, name in found]

    def previews(
        self, list_ids: Sequence[uuid.UUID], *, limit: int, walk_order: bool = False
    ) -> dict[uuid.UUID, ListPreview]:
        """For each list of ``list_ids`` (this organization's; others are left out): its size, its first ``limit``
        items by name (without case; a missing name first, as an empty one) then table and id (``walk_order``: in
        the order :meth:`items_after` walks them), with their names, its first ``limit`` people and companies tied
        to its records by name (then id), and how many of its records of the matched tables are tied to no one."""
        if not list_ids:
            return {}
        org = self._organization_id
        sizes = dict(
            self._session.execute(
                select(ListItem.list_id, func.count())
                .where(ListItem.organization_id == org, ListItem.list_id.in_(list_ids))
                .group_by(ListItem.list_id)
            ).all()
        )
        if walk_order:
            # The first page of each list's walk (a user has a few lists): the cut before the names, as a page.
            items = {list_id: self.items_after(list_id, None, limit=limit) for list_id in list_ids}
        else:
            items = self._first_items(list_ids, limit)
        previews: dict[uuid.UUID, ListPreview] = {}
        for list_id in list_ids:
            if list_id not in sizes:
                # Empty (or not this organization's: the sizes were read in its scope).
                continue
            first = items.get(list_id, [])
            previews[list_id] = ListPreview(
                list_id=list_id,
                size=int(sizes[list_id]),
                items=tuple(item for item, _ in first),
                names={(item.crm_table, item.crm_id): name for item, name in first},
                people=self._targets(list_id, TargetKind.PERSON, limit),
                companies=self._targets(list_id, TargetKind.COMPANY, limit),
                unmatched=self.unmatched(list_id),
            )
        return previews

    def _item_keys(self, name: _Column) -> tuple[ColumnElement[Any], ...]:
        """An item's place in the list by name (``name``: its record's): its folded name, table, id."""
        return (
            self._folded(func.coalesce(name, "")),
            self._code_points(ListItem.crm_table),
            self._code_points(ListItem.crm_id),
        )

    def _walk_keys(self) -> tuple[ColumnElement[Any], ...]:
        """An item's place in the walk of its list (:class:`ListItemKey`): its table, then CRM id, by code point."""
        return self._code_points(ListItem.crm_table), self._code_points(ListItem.crm_id)

    def _after(self, key: ListItemKey) -> ColumnElement[bool]:
        """The items after ``key`` in the order of :meth:`_walk_keys`."""
        table, crm_id = self._walk_keys()
        return or_(table > key.crm_table, and_(table == key.crm_table, crm_id > key.crm_id))

    def items_after(
        self, list_id: uuid.UUID, after: ListItemKey | None, *, limit: int
    ) -> list[tuple[ListItemValue, str | None]]:
        """The list's first ``limit`` items after ``after`` (None: from the first) by table then CRM id (by code
        point), each with its record's name (None when no longer imported). The list is not checked (another
        organization's has no items).

        The walk's order is the item's identity, not its record's name: a name changes when the CRM renames the
        record, and a walk by name then skipped a record renamed behind the cursor or gave one renamed ahead of it
        a second time.

        The page is cut from the list's items alone, then only its records' names are read (a primary-key read
        each): joined before the cut, PostgreSQL hashed every imported record of the organization for each page
        (80 ms for a page of a 5,000-record list among 116,000 records)."""
        org = self._organization_id
        page = (
            select(*_ITEM_COLUMNS)
            .where(ListItem.organization_id == org, ListItem.list_id == list_id)
            .order_by(*self._walk_keys())
            .limit(limit)
        )
        if after is not None:
            page = page.where(self._after(after))
        cut = page.subquery("page")
        statement = (
            select(*cut.c, _record.name)
            .select_from(cut)
            .outerjoin(
                _record,
                and_(
                    _record.organization_id == org,
                    _record.table_name == cut.c.crm_table,
                    _record.crm_id == cut.c.crm_id,
                ),
            )
            .order_by(self._code_points(cut.c.crm_table), self._code_points(cut.c.crm_id))
        )
        return [(_item(row), row.name) for row in self._session.execute(statement)]

    def _first_items(
        self, list_ids: Sequence[uuid.UUID], limit: int
    ) -> dict[uuid.UUID, list[tuple[ListItemValue, str | None]]]:
        org = self._organization_id
        columns = _ITEM_COLUMNS
        # Each item's record by primary key (a LATERAL read on PostgreSQL: see _record_of).
        record, on_record, name, _ = self._record_of(ListItem.crm_table, ListItem.crm_id)
        order = self._item_keys(name)
        found: list[Any] = []
        if self._postgresql:
            # One statement: for each list, its first items (LATERAL: a top-N read per list).
            saved = (
                select(SavedList.id)
                .where(SavedList.organization_id == org, SavedList.id.in_(list_ids))
                .subquery("wanted")
            )
            first = (
                select(*columns, name.label("name"))
                .select_from(ListItem)
                .outerjoin(record, on_record)
                .where(ListItem.organization_id == org, ListItem.list_id == saved.c.id)
                .order_by(*order)
                .limit(limit)
                .lateral("first")
            )
            statement = select(first).select_from(saved).join(first, true())
            found = list(self._session.execute(statement))
        else:
            # SQLite: a statement per list (a user has a few), each a top-N sort of the list's items.
            for list_id in list_ids:
                statement = (
                    select(*columns, name.label("name"))
                    .select_from(ListItem)
                    .outerjoin(record, on_record)
                    .where(ListItem.organization_id == org, ListItem.list_id == list_id)
                    .order_by(*order)
                    .limit(limit)
                )
                found.extend(self._session.execute(statement))
        items: dict[uuid.UUID, list[tuple[ListItemValue, str | None]]] = {}
        for row in found:
            items.setdefault(row.list_id, []).append((_item(row), row.name))
        return items

    def _tied(self, list_id: uuid.UUID, *, keys: Sequence[tuple[str, str]] | None = None) -> Select[Any]:
        """The list's items of the matched tables (only ``keys``, ``(table, crm_id)``, when given) joined to their
        ties."""
        org = self._organization_id
        tie = and_(self._link_of_item(), MatchLinkRow.band == LinkBand.MATCH.value, MatchLinkRow.target_id.is_not(None))
        statement = select().select_from(ListItem).join(MatchLinkRow, tie)
        statement = statement.where(
            ListItem.organization_id == org, ListItem.list_id == list_id, ListItem.crm_table.in_(MATCHED_TABLES)
        )
        if keys is None:
            return statement
        by_table: dict[str, list[str]] = {}
        for table, crm_id in keys:
            by_table.setdefault(table, []).append(crm_id)
        # Per table an ``IN`` of ids: the primary key's order (list, table, id) serves it on both databases.
        return statement.where(
            or_(
                false(),
                *(and_(ListItem.crm_table == table, ListItem.crm_id.in_(ids)) for table, ids in by_table.items()),
            )
        )

    def targets_of_items(
        self, list_id: uuid.UUID, kind: TargetKind, keys: Sequence[tuple[str, str]]
    ) -> tuple[ListTarget, ...]:
        """The people or companies (``kind``) the list's items ``keys`` (``(table, crm_id)``) are tied to, each once,
        by name then id."""
        return self._targets(list_id, kind, None, keys=keys)

    def _targets(
        self, list_id: uuid.UUID, kind: TargetKind, limit: int | None, *, keys: Sequence[tuple[str, str]] | None = None
    ) -> tuple[ListTarget, ...]:
        # The tied targets first, then each looked up by id: as ``id IN (…)`` SQLite read every person of the
        # organization instead (380 ms with 100,000 people).
        tied = (
            self._tied(list_id, keys=keys)
            .add_columns(MatchLinkRow.target_id)
            .where(MatchLinkRow.target_kind == kind.value)
            .distinct()
            .subquery("tied")
        )
        target = PersonRow if kind is TargetKind.PERSON else CompanyRow
        name = PersonRow.full_name if kind is TargetKind.PERSON else CompanyRow.name
        details = (
            (PersonRow.headline, PersonRow.company_name)
            if kind is TargetKind.PERSON
            else (CompanyRow.city, CompanyRow.country)
        )
        by_id = and_(target.id == tied.c.target_id, target.organization_id == self._organization_id)
        if self._postgresql:
            # Each by its primary key (the LIMIT keeps PostgreSQL from flattening the LATERAL into a join): expecting
            # many ties, the planner read every person of the organization to hash them (86 ms for 5 of 100,000).
            found = select(target.id, name, *details).where(by_id).limit(1).lateral("target")
            statement = select(*found.c).select_from(tied).join(found, true())
            key: tuple[Any, ...] = (self._folded(found.c[1]), found.c[0])
        else:
            statement = select(target.id, name, *details).select_from(tied).join(target, by_id)
            key = (self._folded(name), target.id)
        statement = statement.order_by(*key).limit(limit)
        separator = " · " if kind is TargetKind.PERSON else ", "
        return tuple(
            ListTarget(kind=kind.value, id=row[0], name=row[1], detail=_joined(separator, row[2], row[3]))
            for row in self._session.execute(statement)
        )

    def tied_records(
        self, list_id: uuid.UUID, target_ids: Sequence[uuid.UUID], *, keys: Sequence[tuple[str, str]] | None = None
    ) -> dict[uuid.UUID, list[tuple[str, str]]]:
        """For each of ``target_ids`` (people or companies) tied to records of the list (only those of ``keys``,
        ``(table, crm_id)``, when given), those records ``(table, crm_id)`` by table then id: what the preview's
        people and companies leave out, read for the few shown."""
        if not target_ids:
            return {}
        statement = (
            self._tied(list_id, keys=keys)
            .add_columns(MatchLinkRow.target_id, ListItem.crm_table, ListItem.crm_id)
            .where(MatchLinkRow.target_id.in_(target_ids))
            .order_by(ListItem.crm_table, ListItem.crm_id)
        )
        tied: dict[uuid.UUID, list[tuple[str, str]]] = {}
        for row in self._session.execute(statement):
            tied.setdefault(row.target_id, []).append((str(row.crm_table), str(row.crm_id)))
        return tied

    def unmatched(self, list_id: uuid.UUID) -> int:
        """How many of the list's records of the matched tables are tied to no one.

        One probe of ``match_links`` per record, by its key: a scalar subquery, which neither database turns into a
        join. As an outer (anti) join, PostgreSQL without statistics (a store not yet ANALYZEd) joined by nested loop
        reading every tie of the organization per record (320-900 ms for 5,000 records and 1,000 ties), and with
        statistics it hashed every tie of the organization (190 ms with 160,000): the probes cost the list's length
        either way (``bench/list_unmatched.py``)."""
        org = self._organization_id
        tie = (
            select(literal(1))
            .where(
                self._link_of_item(),
                MatchLinkRow.band == LinkBand.MATCH.value,
                MatchLinkRow.target_id.is_not(None),
            )
            .scalar_subquery()
        )
        statement = (
            select(func.count())
            .select_from(ListItem)
            .where(
                ListItem.organization_id == org,
                ListItem.list_id == list_id,
                ListItem.crm_table.in_(MATCHED_TABLES),
                tie.is_(None),
            )
        )
        return int(self._session.scalar(statement) or 0)


@dataclass(frozen=True)
class _KeyValues:
    """What a row of a list's table sorts by, as SQL: its columns, or a :class:`ListRowKey`'s values."""

    crm_table: Any
    crm_id: Any
    name: Any
    owner_name: Any
    added_at: Any


_ITEM_COLUMNS: Final = (ListItem.list_id, ListItem.crm_table, ListItem.crm_id, ListItem.reason, ListItem.added_at)


def _item(row: Any) -> ListItemValue:
    """The item of a row of :data:`_ITEM_COLUMNS`."""
    return ListItemValue(
        list_id=row.list_id, crm_table=row.crm_table, crm_id=row.crm_id, reason=row.reason, added_at=row.added_at
    )


def _joined(separator: str, *parts: str | None) -> str | None:
    return separator.join(part for part in parts if part) or None


def _row(row: Any) -> ListTableRow:
    badge = RowBadge(row.badge) if row.badge else None
    tied = badge in (RowBadge.MATCHED, RowBadge.OUT_OF_DATE)
    return ListTableRow(
        crm_table=row.crm_table,
        crm_id=row.crm_id,
        name=row.name,
        owner_id=row.owner_id,
        owner_name=row.owner_name,
        badge=badge,
        target_kind=row.target_kind if tied else None,
        target_id=row.target_id if tied else None,
        reason=row.reason,
        added_at=row.added_at,
    )
