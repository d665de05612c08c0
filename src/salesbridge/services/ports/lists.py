"""The lists' repositories, and auto-save's rules and queries over imported records."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from salesbridge.domain.clock import Clock as Clock
from salesbridge.domain.lists import (
    AutoSaveBasis,
    ItemDiff,
    ListItem,
    ListItemKey,
    ListKind,
    ListPreview,
    ListRowKey,
    ListTablePage,
    ListTableQuery,
    ListTarget,
    SavedList,
)
from salesbridge.domain.match_links import TargetKind
from salesbridge.domain.pipeline import AutoSaveChoices, RecordFacts

# ----------------------------------------------------------------------------------- lists (and auto-save)


class AutoSaveRuleRepository(Protocol):
    """Each user's auto-save rules (the defaults of :class:`AutoSaveChoices` until the user saves theirs)."""

    def get(self, user_id: uuid.UUID) -> AutoSaveChoices:
        """The user's rules, or the defaults."""
        ...

    def all_stored(self) -> dict[uuid.UUID, AutoSaveChoices]:
        """The stored rules of every user who saved some, by user id."""
        ...

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
        ...


class ListRepository(Protocol):
    """Users' saved lists and their items (``crm_id`` kept in lower case). The two system lists of a user are
    created on demand, one of each kind."""

    def lists_of(self, user_id: uuid.UUID) -> list[SavedList]:
        """The user's lists: the system lists first, then the others by name."""
        ...

    def system_lists(self) -> list[SavedList]:
        """Every system list of the organization."""
        ...

    def system_list(self, user_id: uuid.UUID, kind: ListKind) -> SavedList:
        """The user's system list of ``kind``, created empty (named from ``SYSTEM_LIST_NAMES``) when missing.

        Raises:
            ValueError: ``kind`` is :attr:`ListKind.MANUAL`.
            RowNotFoundError: it is missing, and there is no such user in this organization.
        """
        ...

    def create_manual(self, user_id: uuid.UUID, name: str) -> SavedList:
        """A new, empty hand-made list of the user, named as given.

        Raises:
            RowNotFoundError: no such user in this organization.
        """
        ...

    def get(self, list_id: uuid.UUID) -> SavedList:
        """The list ``list_id``.

        Raises:
            RowNotFoundError: no such list in this organization.
        """
        ...

    def items(self, list_id: uuid.UUID) -> list[ListItem]:
        """The items of a list, by table then id."""
        ...

    def add_item(self, list_id: uuid.UUID, table: str, crm_id: str, *, reason: str | None = None) -> bool:
        """Put a record in a list; False when it was there already. Idempotent.

        Raises:
            RowNotFoundError: no such list in this organization.
        """
        ...

    def remove_item(self, list_id: uuid.UUID, table: str, crm_id: str) -> bool:
        """Take a record out of a list; False when it was not there. Idempotent."""
        ...

    def rename(self, list_id: uuid.UUID, name: str) -> SavedList:
        """Rename a list (as given: validation is the use case's).

        Raises:
            RowNotFoundError: no such list in this organization.
        """
        ...

    def delete(self, list_id: uuid.UUID) -> int:
        """Delete a list and its items; how many items it held.

        Raises:
            RowNotFoundError: no such list in this organization.
        """
        ...

    def replace_items(self, list_id: uuid.UUID, wanted: Iterable[tuple[str, str, str | None]]) -> ItemDiff:
        """Make the list hold exactly ``wanted`` (``(table, crm_id, reason)``): new items added, gone ones removed,
        changed reasons updated. Idempotent."""
        ...

    def update_items(self, list_id: uuid.UUID, items: Mapping[tuple[str, str], str | None]) -> ItemDiff:
        """Make each ``(table, crm_id)`` of ``items`` be in the list with its reason, or (None) not in it; other
        items stay as they are. Idempotent."""
        ...

    def auto_save_basis(self) -> AutoSaveBasis | None:
        """What the system lists were last computed from; None before the first recompute (or after a purge)."""
        ...

    def save_auto_save_basis(self, basis: AutoSaveBasis) -> None:
        """Store what the system lists were just computed from. Idempotent."""
        ...


class ListTableQueries(Protocol):
    """A list's records sorted, filtered and paged by the store (the list's page), and the start of each list (the
    Lists page). Read-only; a list of another organization has no rows."""

    def rows(
        self,
        list_id: uuid.UUID,
        query: ListTableQuery,
        *,
        limit: int | None,
        after: ListRowKey | None = None,
        before: ListRowKey | None = None,
    ) -> ListTablePage:
        """Up to ``limit`` rows (None: every one) as ``query`` sorts and filters them: the first, or those right after
        ``after`` or right before ``before`` (a keyset); how many rows the filters keep in all, how many sort before
        the first row given, and the owners of all the list's records."""
        ...

    def count(self, list_id: uuid.UUID, query: ListTableQuery) -> int:
        """How many rows ``query``'s filters keep."""
        ...

    def keys(self, list_id: uuid.UUID, query: ListTableQuery) -> list[tuple[str, str]]:
        """``(table, crm_id)`` of every row ``query``'s filters keep, by table then id."""
        ...

    def owners(self, list_id: uuid.UUID) -> list[tuple[str, str | None]]:
        """The CRM owners of the list's records, ``(id, name or None)``, each once, in no particular order."""
        ...

    def previews(
        self, list_ids: Sequence[uuid.UUID], *, limit: int, walk_order: bool = False
    ) -> dict[uuid.UUID, ListPreview]:
        """Each non-empty list's size, first ``limit`` items (by name; ``walk_order``: as :meth:`items_after` walks
        them), people and companies, and unmatched count."""
        ...

    def tied_records(
        self, list_id: uuid.UUID, target_ids: Sequence[uuid.UUID], *, keys: Sequence[tuple[str, str]] | None = None
    ) -> dict[uuid.UUID, list[tuple[str, str]]]:
        """The list's records ``(table, crm_id)`` (only those of ``keys`` when given) tied to each of ``target_ids``
        (people or companies; those tied to none of them are left out), by table then id."""
        ...

    def items_after(
        self, list_id: uuid.UUID, after: ListItemKey | None, *, limit: int
    ) -> list[tuple[ListItem, str | None]]:
        """The first ``limit`` items after ``after`` (None: from the first) by table then CRM id (by code point),
        each with its record's name (None when no longer imported)."""
        ...

    def targets_of_items(
        self, list_id: uuid.UUID, kind: TargetKind, keys: Sequence[tuple[str, str]]
    ) -> tuple[ListTarget, ...]:
        """The people or companies (``kind``) the items ``keys`` ``(table, crm_id)`` are tied to, each once, by name
        then id."""
        ...

    def unmatched(self, list_id: uuid.UUID) -> int:
        """How many of the list's records of the matched tables are tied to no one."""
        ...


class CrmRecordQueries(Protocol):
    """Reads of the imported CRM records (ids compared in lower case). Read-only.

    The reads of records take ``data``: when False, a record's ``data`` holds only its ``statecode`` (the stored
    integer copy; absent when it was not an integer), not its imported columns: for readers that need only owner,
    parent and state, read several times faster.
    """

    def by_owners(self, table: str, owner_ids: Iterable[str], *, data: bool = True) -> list[RecordFacts]:
        """The records of ``table`` owned by any of ``owner_ids``."""
        ...

    def by_parents(self, table: str, parent_ids: Iterable[str], *, data: bool = True) -> list[RecordFacts]:
        """The records of ``table`` whose parent is one of ``parent_ids``."""
        ...

    def by_ids(self, table: str, crm_ids: Iterable[str], *, data: bool = True) -> list[RecordFacts]:
        """The records of ``table`` among ``crm_ids`` (unknown ids left out)."""
        ...

    def naming(
        self, table: str, columns: Sequence[str], crm_ids: Iterable[str], *, data: bool = True
    ) -> list[RecordFacts]:
        """The records of ``table`` whose lookup in any of ``columns`` names one of ``crm_ids`` (one pass over the
        table's rows, reading those lookups)."""
        ...

    def names(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
        """The name of each ``(table, crm_id)`` present (absent records left out)."""
        ...

    def search(self, tables: Sequence[str], text: str, *, limit: int = 20) -> list[tuple[str, str, str]]:
        """Up to ``limit`` records of ``tables`` whose name contains ``text`` (any case), by name: ``(table,
        crm_id, name)`` (the id stands for a missing name)."""
        ...

    def open_opportunities(self, parent_ids: Iterable[str]) -> list[RecordFacts]:
        """The open opportunities (``statecode`` 0) whose account or contact (``parent_id``) is one of
        ``parent_ids``, with their columns (an index serves it)."""
        ...

    def distinct_step_names(self, *, limit: int = 200) -> list[str]:
        """The distinct, non-blank ``stepname`` values of the imported opportunities, sorted (at most ``limit``)."""
        ...
