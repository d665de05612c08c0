"""Saved lists as the use cases see them: a user's lists (the two auto-save keeps, and hand-made ones) and their
items, as frozen values. Pure; no I/O.

The store returns these (never its rows) from the repositories of :mod:`salesbridge.services.ports`; :class:`ListKind`
is also the column type of ``store.tables.SavedList``. Auto-save's rules are :mod:`salesbridge.domain.pipeline`'s.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final


class ListKind(enum.StrEnum):
    """A list built by hand, or one of the two system lists kept by auto-save."""

    MANUAL = "manual"
    CRM_ACCOUNTS = "crm_accounts"
    CRM_LEADS = "crm_leads"


SYSTEM_LIST_NAMES: Final = {
    ListKind.CRM_ACCOUNTS: "My CRM accounts",
    ListKind.CRM_LEADS: "My CRM leads and contacts",
}
"""The names of the two system lists: English message ids, stored as the list's name and translated where shown
(marked for extraction in :mod:`salesbridge.services.lists`)."""


@dataclass(frozen=True, kw_only=True)
class SavedList:
    """A user's list (without its items)."""

    id: uuid.UUID
    owner_user_id: uuid.UUID
    name: str
    kind: ListKind
    created_at: datetime

    @property
    def is_system(self) -> bool:
        """Kept by auto-save (not renamed, deleted or filled by hand)."""
        return self.kind is not ListKind.MANUAL


@dataclass(frozen=True, kw_only=True)
class ListItem:
    """A CRM record in a list (``crm_id`` in lower case); ``reason`` is the auto-save rule that put it there (a
    :class:`salesbridge.domain.pipeline.SaveReason` value), None for items added by hand."""

    list_id: uuid.UUID
    crm_table: str
    crm_id: str
    reason: str | None
    added_at: datetime


@dataclass(frozen=True)
class ItemDiff:
    """What replacing a list's items changed."""

    added: int
    removed: int


@dataclass(frozen=True)
class AutoSaveBasis:
    """What an organization's system lists were last computed from.

    Attributes:
        settings: A fingerprint of the pipeline settings (stage source and threshold): when it differs, every list
            is computed again.
        owners: Per workspace user whose lists auto-save kept (their id as text), a digest of the CRM user their
            seat matches and of their rules: a user whose digest differs, appears or disappears has their lists
            computed again (or emptied).
    """

    settings: str
    owners: Mapping[str, str]


class ListSort(enum.StrEnum):
    """What a list's rows are sorted by (then by name, then by CRM id and table, so that the order is total)."""

    NAME = "name"
    TYPE = "type"
    OWNER = "owner"
    ADDED = "added"


class RowBadge(enum.StrEnum):
    """A row's badge: its record is tied to a workspace person or company (and maybe out of date: the CRM and the
    workspace disagree on their company or title), or not matched yet. Only records of the matched tables
    (accounts, contacts, leads) have one."""

    MATCHED = "matched"
    OUT_OF_DATE = "out_of_date"
    UNMATCHED = "unmatched"


@dataclass(frozen=True, kw_only=True)
class ListTableQuery:
    """Which rows of a list, in which order: ``badge`` keeps only the rows with that badge (out-of-date rows count
    as matched too), ``owner`` only the records of that CRM owner (its id as imported).

    The order: text (names) without case (Unicode case folding) in code point order, a missing name or owner after
    every present one; descending reverses every key, the tie-breaking ones too, except the table of two records
    with the same id (always by table)."""

    sort: ListSort = ListSort.NAME
    descending: bool = False
    badge: RowBadge | None = None
    owner: str | None = None


@dataclass(frozen=True, kw_only=True)
class ListTableRow:
    """A record of a list as its table shows it: its CRM name and owner (``owner_name`` None when the owner is no
    imported user or team), its badge, and the workspace person or company it is tied to (``target_kind`` is a
    :class:`salesbridge.domain.match_links.TargetKind` value)."""

    crm_table: str
    crm_id: str
    name: str | None
    owner_id: str | None
    owner_name: str | None
    badge: RowBadge | None
    target_kind: str | None
    target_id: uuid.UUID | None
    reason: str | None
    added_at: datetime


@dataclass(frozen=True, kw_only=True)
class ListTablePage:
    """Rows of a list as a :class:`ListTableQuery` asks, how many rows its filters keep (``total``), how many of
    those sort before the first row given (``offset``; 0 when no row is given), and the CRM owners of all the
    list's records (``(owner id, name or None)``, each once, in no particular order)."""

    rows: list[ListTableRow]
    total: int
    owners: list[tuple[str, str | None]]
    offset: int = 0


@dataclass(frozen=True, kw_only=True)
class ListRowKey:
    """Where a row stands in a list's table as a :class:`ListTableQuery` sorts it: the values it is sorted by (its
    name; its owner's name or the date it was added, when sorted by those) and its table and CRM id, which break
    ties. The next page of the table starts after the last row's key, the previous one ends before the first row's
    (a keyset): rows added, removed, renamed or given another owner meanwhile move no other row across a page's
    edge, where a page counted by rows (an offset) then showed a row twice or skipped one. A row whose own sort
    value changed is shown where it sorts now (so once more, or not at all, if it crossed the edge)."""

    crm_table: str
    crm_id: str
    name: str | None
    owner_name: str | None = None
    added_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class ListTarget:
    """A workspace person or company (``kind``: a :class:`salesbridge.domain.match_links.TargetKind` value) tied to
    records of a list; ``detail`` is a person's title and company, or a company's place."""

    kind: str
    id: uuid.UUID
    name: str
    detail: str | None


@dataclass(frozen=True)
class ListItemKey:
    """Where an item stands in the walk of a list, by table then CRM id (compared by code point): the last item a
    page of the list gave, after which the next page starts. A keyset on what identifies the item, which never
    changes while it is in the list: items added or removed meanwhile, and records renamed or changed in the CRM
    meanwhile, move no other item to another page (a walk by name skipped a record renamed to a name already
    passed, and gave again one renamed past the cursor)."""

    crm_table: str
    crm_id: str


@dataclass(frozen=True, kw_only=True)
class ListPreview:
    """The start of a list, as the Lists page shows it: how many records it holds (``size``), the first ``items``
    by name (a missing name first), the first people and companies tied to its records by name (each once), and
    how many of its records of the matched tables are tied to no one (``unmatched``)."""

    list_id: uuid.UUID
    size: int
    items: tuple[ListItem, ...]
    names: Mapping[tuple[str, str], str | None]
    people: tuple[ListTarget, ...]
    companies: tuple[ListTarget, ...]
    unmatched: int
