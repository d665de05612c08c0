"""Repositories of CRM settings, auto-save rules, saved lists, and the reads of imported records lists need.

They implement the ports of :mod:`salesbridge.services.ports` structurally and return the frozen values of
:mod:`salesbridge.domain.pipeline` and :mod:`salesbridge.domain.lists`, never rows; changes go through their methods.
Scoped by organization like every repository: each statement filters by the organization id. Reads of
``crm_records`` by id go through the primary key, in chunks; reads by owner or parent (columns without an index,
so that imports stay fast) read the organization's rows of one table once, for every owner or parent asked.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, delete, func, literal_column, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute

from salesbridge.domain import lists as domain
from salesbridge.domain.lists import SYSTEM_LIST_NAMES, ItemDiff
from salesbridge.domain.pipeline import AutoSaveChoices, RecordFacts, StageSource
from salesbridge.domain.pipeline import CrmSettings as CrmSettingsValue
from salesbridge.domain.search_folding import FOLDED_FROM, FOLDED_TO, fold_for_search
from salesbridge.domain.sync_runs import ImportSettings
from salesbridge.errors import StoreError
from salesbridge.store.database import SQLITE_SEARCH_FOLD
from salesbridge.store.repositories import _ScopedRepository, as_value
from salesbridge.store.tables import (
    AutoSaveBasis,
    AutoSaveRules,
    CrmRecord,
    CrmSettings,
    ListItem,
    ListKind,
    SavedList,
)

_CHUNK = 500
"""Ids per ``IN (…)`` list: well under every backend's parameter limit."""


_PARENT_CHUNK = 20_000
"""Parents per statement of a scan by parent (each statement is one pass over a table; SQLite allows 32,766
parameters, PostgreSQL 65,535)."""


def _chunks(values: Iterable[str], size: int = _CHUNK) -> Iterator[list[str]]:
    chunk: list[str] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class CrmSettingsRepository(_ScopedRepository):
    """The organization's CRM settings (one row, created on first save)."""

    def get(self) -> CrmSettingsValue:
        """The stored settings, or (not stored) the defaults of :class:`salesbridge.domain.pipeline.CrmSettings`
        (``updated_at`` None): stage from ``salesstage`` with no threshold (every open opportunity), won value in
        ``actualvalue`` in the transaction currency, auto-save on, import every 15 minutes."""
        row = self._session.get(CrmSettings, self._organization_id)
        return as_value(CrmSettingsValue, row) if row is not None else CrmSettingsValue()

    def is_stored(self) -> bool:
        """True once the settings have been saved."""
        return self._session.get(CrmSettings, self._organization_id) is not None

    def import_settings(self) -> ImportSettings:
        """What an import and its schedule read of the settings (:meth:`get`'s values)."""
        settings = self.get()
        return ImportSettings(
            sync_interval_minutes=settings.sync_interval_minutes,
            won_value_column=settings.won_value_column,
            won_value_base_currency=settings.won_value_base_currency,
            profile_url_columns=settings.profile_url_columns,
        )

    def save(
        self,
        *,
        stage_source: StageSource,
        stage_threshold: str | None,
        won_value_column: str,
        won_value_base_currency: bool,
        auto_save_enabled: bool,
        sync_interval_minutes: int,
        profile_url_columns: Mapping[str, str] | None = None,
    ) -> CrmSettingsValue:
        """Store the settings (insert or update). Idempotent. Values are stored as given: validation is the use
        case's. ``profile_url_columns`` (table → column) replaces the mapped profile-URL columns, a table left out
        having none; None keeps them as stored.

        Raises:
            StoreError: the organization does not exist.
        """
        row = self._session.get(CrmSettings, self._organization_id)
        if row is None:
            row = CrmSettings(organization_id=self._organization_id)
            self._session.add(row)
        row.stage_source = stage_source
        row.stage_threshold = stage_threshold
        row.won_value_column = won_value_column
        row.won_value_base_currency = won_value_base_currency
        row.auto_save_enabled = auto_save_enabled
        row.sync_interval_minutes = sync_interval_minutes
        if profile_url_columns is not None:
            row.contact_profile_url_column = profile_url_columns.get("contact")
            row.lead_profile_url_column = profile_url_columns.get("lead")
            row.account_profile_url_column = profile_url_columns.get("account")
        row.updated_at = self._clock()
        try:
            self._session.flush()
        except IntegrityError as exc:
            raise StoreError("The CRM settings could not be saved: the organization does not exist.") from exc
        return as_value(CrmSettingsValue, row)


class AutoSaveRulesRepository(_ScopedRepository):
    """Each user's auto-save rules (a row once the user saved them)."""

    def get(self, user_id: uuid.UUID) -> AutoSaveChoices:
        """The user's rules, or (not stored) the defaults of :class:`salesbridge.domain.pipeline.AutoSaveChoices`:
        the opportunity rules on, the ownership rules off."""
        row = self._session.scalar(
            select(AutoSaveRules).where(
                AutoSaveRules.organization_id == self._organization_id, AutoSaveRules.user_id == user_id
            )
        )
        return as_value(AutoSaveChoices, row) if row is not None else AutoSaveChoices()

    def all_stored(self) -> dict[uuid.UUID, AutoSaveChoices]:
        """The stored rules of every user who saved some, by user id."""
        statement = select(AutoSaveRules).where(AutoSaveRules.organization_id == self._organization_id)
        return {row.user_id: as_value(AutoSaveChoices, row) for row in self._session.scalars(statement)}

    def save(
        self,
        user_id: uuid.UUID,
        *,
        accounts_of_open_opportunities: bool,
        accounts_owned: bool,
        leads_of_open_opportunities: bool,
        leads_of_owned_accounts: bool,
    ) -> AutoSaveChoices:
        """Store the user's rules. Idempotent.

        Raises:
            RowNotFoundError: no such user in this organization.
        """
        self._require_user(user_id)
        row = self._session.scalar(
            select(AutoSaveRules).where(
                AutoSaveRules.organization_id == self._organization_id, AutoSaveRules.user_id == user_id
            )
        )
        if row is None:
            row = AutoSaveRules(user_id=user_id, organization_id=self._organization_id)
            self._session.add(row)
        row.accounts_of_open_opportunities = accounts_of_open_opportunities
        row.accounts_owned = accounts_owned
        row.leads_of_open_opportunities = leads_of_open_opportunities
        row.leads_of_owned_accounts = leads_of_owned_accounts
        row.updated_at = self._clock()
        self._session.flush()
        return as_value(AutoSaveChoices, row)


class ListRepository(_ScopedRepository):
    """Saved lists and their items. System lists (auto-save) are created on demand, one of each kind per user."""

    def lists_of(self, user_id: uuid.UUID) -> list[domain.SavedList]:
        """The user's lists: the system lists first, then the others by name."""
        statement = select(SavedList).where(
            SavedList.organization_id == self._organization_id, SavedList.owner_user_id == user_id
        )
        order = {ListKind.CRM_ACCOUNTS: 0, ListKind.CRM_LEADS: 1, ListKind.MANUAL: 2}
        rows = sorted(self._session.scalars(statement), key=lambda row: (order[row.kind], row.name.lower(), row.id))
        return [as_value(domain.SavedList, row) for row in rows]

    def system_lists(self) -> list[domain.SavedList]:
        """Every system list of the organization."""
        statement = select(SavedList).where(
            SavedList.organization_id == self._organization_id, SavedList.kind != ListKind.MANUAL
        )
        return [as_value(domain.SavedList, row) for row in self._session.scalars(statement)]

    def system_list(self, user_id: uuid.UUID, kind: ListKind) -> domain.SavedList:
        """The user's system list of ``kind``, created (empty) when missing. Idempotent.

        Raises:
            ValueError: ``kind`` is :attr:`ListKind.MANUAL`.
        """
        if kind is ListKind.MANUAL:
            raise ValueError("manual lists are created with create_manual()")
        existing = self._session.scalar(
            select(SavedList).where(
                SavedList.organization_id == self._organization_id,
                SavedList.owner_user_id == user_id,
                SavedList.kind == kind,
            )
        )
        if existing is not None:
            return as_value(domain.SavedList, existing)
        return self._add(user_id, SYSTEM_LIST_NAMES[kind], kind)

    def create_manual(self, user_id: uuid.UUID, name: str) -> domain.SavedList:
        """A new hand-made list of the user.

        Raises:
            RowNotFoundError: no such user in this organization.
        """
        return self._add(user_id, name, ListKind.MANUAL)

    def _add(self, user_id: uuid.UUID, name: str, kind: ListKind) -> domain.SavedList:
        # Checked first: the foreign key alone would admit another organization's user, and a failed flush
        # leaves the session unusable.
        self._require_user(user_id)
        row = SavedList(
            id=uuid.uuid4(),
            organization_id=self._organization_id,
            owner_user_id=user_id,
            name=name,
            kind=kind,
            created_at=self._clock(),
        )
        self._session.add(row)
        self._session.flush()
        return as_value(domain.SavedList, row)

    def _row(self, list_id: uuid.UUID) -> SavedList:
        return self._scoped_row(SavedList, list_id, missing="No such list in this organization.")

    def get(self, list_id: uuid.UUID) -> domain.SavedList:
        """The list ``list_id`` of this organization.

        Raises:
            RowNotFoundError: no such list in this organization.
        """
        return as_value(domain.SavedList, self._row(list_id))

    def _item_rows(self, list_id: uuid.UUID) -> list[ListItem]:
        statement = (
            select(ListItem)
            .where(ListItem.organization_id == self._organization_id, ListItem.list_id == list_id)
            .order_by(ListItem.crm_table, ListItem.crm_id)
        )
        return list(self._session.scalars(statement))

    def items(self, list_id: uuid.UUID) -> list[domain.ListItem]:
        """The items of a list, by table then id."""
        # Plain columns, no ORM instances: a list's page reads lists of thousands of records.
        statement = (
            select(ListItem.list_id, ListItem.crm_table, ListItem.crm_id, ListItem.reason, ListItem.added_at)
            .where(ListItem.organization_id == self._organization_id, ListItem.list_id == list_id)
            .order_by(ListItem.crm_table, ListItem.crm_id)
        )
        return [
            domain.ListItem(list_id=row[0], crm_table=row[1], crm_id=row[2], reason=row[3], added_at=row[4])
            for row in self._session.execute(statement)
        ]

    def add_item(self, list_id: uuid.UUID, table: str, crm_id: str, *, reason: str | None = None) -> bool:
        """Put a record in a list; False when it was there already (idempotent).

        Raises:
            RowNotFoundError: no such list in this organization.
        """
        self._row(list_id)
        key = (list_id, table, crm_id.lower())
        if self._session.get(ListItem, key) is not None:
            return False
        self._session.add(
            ListItem(
                list_id=list_id,
                crm_table=table,
                crm_id=crm_id.lower(),
                organization_id=self._organization_id,
                reason=reason,
                added_at=self._clock(),
            )
        )
        self._session.flush()
        return True

    def remove_item(self, list_id: uuid.UUID, table: str, crm_id: str) -> bool:
        """Take a record out of a list; False when it was not there (idempotent)."""
        result = self._session.execute(
            delete(ListItem).where(
                ListItem.organization_id == self._organization_id,
                ListItem.list_id == list_id,
                ListItem.crm_table == table,
                ListItem.crm_id == crm_id.lower(),
            )
        )
        return bool(getattr(result, "rowcount", 0))

    def rename(self, list_id: uuid.UUID, name: str) -> domain.SavedList:
        """Give a list another name (as given: validation is the use case's).

        Raises:
            RowNotFoundError: no such list in this organization.
        """
        row = self._row(list_id)
        row.name = name
        self._session.flush()
        return as_value(domain.SavedList, row)

    def delete(self, list_id: uuid.UUID) -> int:
        """Delete a list and its items; returns how many items it held.

        Raises:
            RowNotFoundError: no such list in this organization.
        """
        row = self._row(list_id)
        result = self._session.execute(
            delete(ListItem).where(ListItem.organization_id == self._organization_id, ListItem.list_id == list_id)
        )
        self._session.delete(row)
        self._session.flush()
        return int(getattr(result, "rowcount", 0) or 0)

    def replace_items(self, list_id: uuid.UUID, wanted: Iterable[tuple[str, str, str | None]]) -> ItemDiff:
        """Make the list hold exactly ``wanted`` (``(table, crm_id, reason)``): insert the new, delete the gone,
        update changed reasons. Idempotent."""
        target = {(table, crm_id.lower()): reason for table, crm_id, reason in wanted}
        existing = {(item.crm_table, item.crm_id): item for item in self._item_rows(list_id)}
        gone = [key for key in existing if key not in target]
        for table in {table for table, _ in gone}:
            for chunk in _chunks(crm_id for gone_table, crm_id in gone if gone_table == table):
                self._session.execute(
                    delete(ListItem).where(
                        ListItem.organization_id == self._organization_id,
                        ListItem.list_id == list_id,
                        ListItem.crm_table == table,
                        ListItem.crm_id.in_(chunk),
                    )
                )
        now = self._clock()
        added = 0
        for (table, crm_id), reason in target.items():
            added += self._put(list_id, table, crm_id, reason, existing.get((table, crm_id)), now)
        self._session.flush()
        return ItemDiff(added=added, removed=len(gone))

    def _put(
        self, list_id: uuid.UUID, table: str, crm_id: str, reason: str | None, item: ListItem | None, now: datetime
    ) -> bool:
        """Put ``(table, crm_id)`` in the list with ``reason``: add it (True) or, when ``item`` is already there,
        update its reason (False)."""
        if item is None:
            self._session.add(
                ListItem(
                    list_id=list_id,
                    crm_table=table,
                    crm_id=crm_id,
                    organization_id=self._organization_id,
                    reason=reason,
                    added_at=now,
                )
            )
            return True
        if item.reason != reason:
            item.reason = reason
        return False

    def update_items(self, list_id: uuid.UUID, items: Mapping[tuple[str, str], str | None]) -> ItemDiff:
        """Make each ``(table, crm_id)`` of ``items`` be in the list with its reason, or (None) not in it; other
        items stay as they are (reads only those items, 500 per statement). Idempotent."""
        wanted = {(table, crm_id.lower()): reason for (table, crm_id), reason in items.items()}
        existing: dict[tuple[str, str], ListItem] = {}
        for table in sorted({table for table, _ in wanted}):
            for chunk in _chunks(sorted(crm_id for item_table, crm_id in wanted if item_table == table)):
                statement = select(ListItem).where(
                    ListItem.organization_id == self._organization_id,
                    ListItem.list_id == list_id,
                    ListItem.crm_table == table,
                    ListItem.crm_id.in_(chunk),
                )
                existing.update(((item.crm_table, item.crm_id), item) for item in self._session.scalars(statement))
        now = self._clock()
        added = removed = 0
        for (table, crm_id), reason in wanted.items():
            item = existing.get((table, crm_id))
            if reason is None:
                if item is not None:
                    self._session.delete(item)
                    removed += 1
            else:
                added += self._put(list_id, table, crm_id, reason, item, now)
        self._session.flush()
        return ItemDiff(added=added, removed=removed)

    def auto_save_basis(self) -> domain.AutoSaveBasis | None:
        """What the system lists were last computed from; None before the first recompute (or after a purge)."""
        row = self._session.get(AutoSaveBasis, self._organization_id)
        return domain.AutoSaveBasis(row.settings, dict(row.owners)) if row is not None else None

    def save_auto_save_basis(self, basis: domain.AutoSaveBasis) -> None:
        """Store what the system lists were just computed from (insert or update). Idempotent."""
        row = self._session.get(AutoSaveBasis, self._organization_id)
        if row is None:
            row = AutoSaveBasis(organization_id=self._organization_id)
            self._session.add(row)
        row.settings = basis.settings
        row.owners = dict(basis.owners)
        row.updated_at = self._clock()
        self._session.flush()


_FACT_COLUMNS = (CrmRecord.table_name, CrmRecord.crm_id, CrmRecord.owner_id, CrmRecord.parent_id)
"""What :class:`RecordFacts` holds but ``data``, selected as plain columns: auto-save reads tens of thousands of
records, and rows without ORM instances (no identity map, no timestamps converted) load several times faster."""


def _fact_columns(data: bool) -> tuple[Any, ...]:
    """The columns a read of :class:`RecordFacts` selects: the JSON columns, or (``data`` False) only the state."""
    return (*_FACT_COLUMNS, CrmRecord.data if data else CrmRecord.state_code)


def _facts(row: Row[str, str, str | None, str | None, Any]) -> RecordFacts:
    table, crm_id, owner_id, parent_id, last = row
    # Read with data=False, the last column is the stored integer statecode (or None), standing for the columns.
    columns = last if isinstance(last, dict) else {} if last is None else {"statecode": last}
    return RecordFacts(table=table, crm_id=crm_id, owner_id=owner_id, parent_id=parent_id, data=columns)


class CrmRecordQueries(_ScopedRepository):
    """Reads of imported CRM records by id, owner or parent. Read-only."""

    def by_owners(self, table: str, owner_ids: Iterable[str], *, data: bool = True) -> list[RecordFacts]:
        """The records of ``table`` owned by any of ``owner_ids`` (one pass over the table per 500 owners)."""
        return self._where_in(table, CrmRecord.owner_id, owner_ids, _CHUNK, data=data)

    def by_parents(self, table: str, parent_ids: Iterable[str], *, data: bool = True) -> list[RecordFacts]:
        """The records of ``table`` whose ``parent_id`` is one of ``parent_ids``.

        ``parent_id`` has no index (imports stay fast): each statement reads the organization's rows of ``table``
        once and the database filters them against up to 20,000 parents, so even a million contacts take one
        pass for all of an organization's sellers together.
        """
        return self._where_in(table, CrmRecord.parent_id, parent_ids, _PARENT_CHUNK, data=data)

    def by_ids(self, table: str, crm_ids: Iterable[str], *, data: bool = True) -> list[RecordFacts]:
        """The records of ``table`` among ``crm_ids`` (unknown ids are left out)."""
        return self._where_in(table, CrmRecord.crm_id, crm_ids, _CHUNK, data=data)

    def naming(
        self, table: str, columns: Sequence[str], crm_ids: Iterable[str], *, data: bool = True
    ) -> list[RecordFacts]:
        """The records of ``table`` whose lookup in any of ``columns`` names one of ``crm_ids`` (ids compared in
        lower case). The lookups sit in the JSON column: each statement is one pass over the organization's rows of
        ``table``, for up to 20,000 ids."""
        found: dict[str, RecordFacts] = {}
        lookups = [func.lower(CrmRecord.data[(column, "id")].as_string()) for column in columns]
        for chunk in _chunks(sorted({crm_id.lower() for crm_id in crm_ids}), size=_PARENT_CHUNK):
            statement = select(*_fact_columns(data)).where(
                CrmRecord.organization_id == self._organization_id,
                CrmRecord.table_name == table,
                or_(*(lookup.in_(chunk) for lookup in lookups)),
            )
            found.update((row.crm_id, _facts(row)) for row in self._session.execute(statement))
        return list(found.values())

    def _where_in(
        self,
        table: str,
        column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None],
        values: Iterable[str],
        size: int,
        *,
        data: bool,
    ) -> list[RecordFacts]:
        """The records of ``table`` whose ``column`` is one of ``values`` (ids, compared in lower case), ``size``
        values per statement."""
        found: list[RecordFacts] = []
        for chunk in _chunks(sorted({value.lower() for value in values}), size=size):
            statement = select(*_fact_columns(data)).where(
                CrmRecord.organization_id == self._organization_id,
                CrmRecord.table_name == table,
                column.in_(chunk),
            )
            found.extend(_facts(row) for row in self._session.execute(statement))
        return found

    def names(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
        """The ``name`` of each ``(table, crm_id)`` present (absent records are left out)."""
        names: dict[tuple[str, str], str | None] = {}
        for table in sorted({table for table, _ in keys}):
            for chunk in _chunks(sorted({crm_id for key_table, crm_id in keys if key_table == table})):
                statement = select(CrmRecord.crm_id, CrmRecord.name).where(
                    CrmRecord.organization_id == self._organization_id,
                    CrmRecord.table_name == table,
                    CrmRecord.crm_id.in_(chunk),
                )
                for crm_id, name in self._session.execute(statement):
                    names[(table, crm_id)] = name
        return names

    def search(self, tables: Sequence[str], text: str, *, limit: int = 20) -> list[tuple[str, str, str]]:
        """Up to ``limit`` records of ``tables`` whose name contains ``text`` (case and accents ignored: "alvarez"
        finds "Álvarez"), by name: ``(table, crm_id, name)``. The name has no index: one pass over the
        organization's rows of those tables."""
        statement = (
            select(CrmRecord.table_name, CrmRecord.crm_id, CrmRecord.name)
            .where(
                CrmRecord.organization_id == self._organization_id,
                CrmRecord.table_name.in_(list(tables)),
                self._folded(CrmRecord.name).contains(fold_for_search(text), autoescape=True),
            )
            .order_by(func.lower(CrmRecord.name), CrmRecord.table_name, CrmRecord.crm_id)
            .limit(limit)
        )
        return [(table, crm_id, name or crm_id) for table, crm_id, name in self._session.execute(statement)]

    def _folded(self, column: InstrumentedAttribute[str | None]) -> ColumnElement[str]:
        # The database folds the stored names as fold_for_search folds the query: SQLite calls it, PostgreSQL
        # translates the same letters (whatever its locale's lower() knows).
        if self._session.get_bind().dialect.name == "sqlite":
            folded: ColumnElement[str] = getattr(func, SQLITE_SEARCH_FOLD)(column)
            return folded
        return func.lower(func.translate(column, FOLDED_FROM, FOLDED_TO))

    def open_opportunities(self, parent_ids: Iterable[str]) -> list[RecordFacts]:
        """The open opportunities (``statecode`` 0) whose ``parent_id`` is one of ``parent_ids`` (their account or
        contact), with their columns. Reads the partial index of opportunities by parent (migration 0023): the
        table name is written into the statement, not bound, so SQLite and PostgreSQL match it to the index."""
        found: list[RecordFacts] = []
        only_opportunities: ColumnElement[str] = literal_column("'opportunity'")
        for chunk in _chunks(sorted({value.lower() for value in parent_ids}), size=_CHUNK):
            statement = select(*_fact_columns(True)).where(
                CrmRecord.organization_id == self._organization_id,
                CrmRecord.table_name == only_opportunities,
                CrmRecord.parent_id.in_(chunk),
                CrmRecord.state_code == 0,
            )
            found.extend(_facts(row) for row in self._session.execute(statement))
        return found

    def distinct_step_names(self, *, limit: int = 200) -> list[str]:
        """The distinct ``stepname`` values of the imported opportunities, sorted (at most ``limit``).

        Read as a walk down migration 0027's index (0029: opportunities with a stage name only), a recursive query
        whose each step is the smallest name above the previous one: one index probe per distinct name, not one
        JSON read per opportunity."""
        postgresql = self._session.get_bind().dialect.name == "postgresql"
        # Written exactly as the index's expression (a literal path, never a bound parameter).
        step: ColumnElement[Any] = (
            CrmRecord.data.op("->>")(literal_column("'stepname'"))
            if postgresql
            else func.json_extract(CrmRecord.data, literal_column("'$.stepname'"))
        )
        opportunities = (
            CrmRecord.organization_id == self._organization_id,
            CrmRecord.table_name == "opportunity",
            step.is_not(None),  # the index's predicate (migration 0029): said, so both backends use it
            func.trim(step) != "",  # blank names are no stage (and do not count toward ``limit``)
        )
        first = select(func.min(step).label("name")).where(*opportunities)
        names = first.cte("step_names", recursive=True)
        following = select(func.min(step)).where(*opportunities, step > names.c.name).scalar_subquery()
        names = names.union_all(select(following).where(names.c.name.is_not(None)))
        statement = select(names.c.name).where(names.c.name.is_not(None)).limit(limit)
        found: list[Any] = list(self._session.scalars(statement))
        return sorted({str(value) for value in found if str(value).strip()})
