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
