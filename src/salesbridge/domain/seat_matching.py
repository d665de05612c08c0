"""Matching seats to CRM users, and who may be offered a seat from the CRM. Pure rules; no I/O.

A seat holder matches the CRM user with the same Microsoft Entra object id; failing that, the one CRM user whose
email equals theirs ignoring case. A match is usable only when that CRM user is an enabled human user: a seat
pointing at a disabled or an application user says so, so an administrator knows what to fix.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

APPLICATION_ACCESS_MODES = frozenset({4})
"""``systemuser.accessmode`` values of non-interactive (application) users."""

MICROSOFT_ACCESS_MODES = frozenset({3, 5})
"""Support user and delegated admin: Microsoft's own accounts, never people of the customer."""


class MatchOutcome(StrEnum):
    """How a seat holder was matched to a CRM user, or why not."""

    ENTRA_OBJECT_ID = "entra_object_id"
    EMAIL = "email"
    NO_CRM_USER = "no_crm_user"
    CRM_USER_DISABLED = "crm_user_disabled"
    APPLICATION_USER = "application_user"
    AMBIGUOUS_EMAIL = "ambiguous_email"
    NOT_IMPORTED = "not_imported"

    @property
    def is_matched(self) -> bool:
        """True when the seat holder is tied to a usable CRM user."""
        return self in (MatchOutcome.ENTRA_OBJECT_ID, MatchOutcome.EMAIL)


@dataclass(frozen=True)
class CrmUserFacts:
    """What matching needs to know about a CRM user.

    Attributes:
        key: The caller's identifier of the CRM user (returned in :class:`SeatMatchResult`).
        email: Primary email, any case; None when the CRM has none.
        entra_object_id: Microsoft Entra object id, any case; None for users without one.
        is_disabled: The CRM user is disabled.
        is_application: The CRM user is an application (non-interactive) user.
        access_mode: ``systemuser.accessmode``, when known.
    """

    key: str
    email: str | None
    entra_object_id: str | None
    is_disabled: bool
    is_application: bool
    access_mode: int | None = None

    @property
    def is_human(self) -> bool:
        """True for people: not an application, support or delegated-admin account."""
        if self.is_application or self.access_mode in APPLICATION_ACCESS_MODES:
            return False
        return self.access_mode not in MICROSOFT_ACCESS_MODES

    @property
    def is_assignable(self) -> bool:
        """True when a seat may be offered to this CRM user: an enabled person with an email."""
        return self.is_human and not self.is_disabled and bool(self.email and self.email.strip())


@dataclass(frozen=True)
class SeatHolderFacts:
    """What matching needs to know about a seat holder."""

    email: str
    entra_object_id: str | None = None


@dataclass(frozen=True)
class SeatMatchResult:
    """The outcome of matching one seat holder.

    Attributes:
        outcome: How it matched, or why it did not.
        crm_user_key: The matched CRM user; also set for ``crm_user_disabled`` and ``application_user`` (the CRM
            user that was found but cannot be used), None otherwise.
    """

    outcome: MatchOutcome
    crm_user_key: str | None = None


def _normal(value: str | None) -> str | None:
    cleaned = (value or "").strip().lower()
    return cleaned or None


class CrmUserIndex:
    """CRM users indexed by Entra object id and by email, built once per matching run (O(1) per seat)."""

    def __init__(self, crm_users: Iterable[CrmUserFacts]) -> None:
        self._by_object_id: dict[str, CrmUserFacts] = {}
        by_email: defaultdict[str, list[CrmUserFacts]] = defaultdict(list)
        for user in crm_users:
            object_id = _normal(user.entra_object_id)
            if object_id is not None:
                self._by_object_id.setdefault(object_id, user)
            email = _normal(user.email)
            if email is not None:
                by_email[email].append(user)
        self._by_email: Mapping[str, Sequence[CrmUserFacts]] = dict(by_email)
        self.is_empty = not self._by_object_id and not self._by_email

    def match(self, holder: SeatHolderFacts) -> SeatMatchResult:
        """Match ``holder``: Entra object id first, then email ignoring case.

        Among several CRM users sharing the email, the enabled human ones count; exactly one must remain.
        """
        object_id = _normal(holder.entra_object_id)
        found = self._by_object_id.get(object_id) if object_id else None
        if found is not None:
            return _usable(found, MatchOutcome.ENTRA_OBJECT_ID)
        candidates = self._by_email.get(_normal(holder.email) or "", ())
        if not candidates:
            return SeatMatchResult(MatchOutcome.NO_CRM_USER)
        usable = [user for user in candidates if user.is_human and not user.is_disabled]
        if len(usable) == 1:
            return SeatMatchResult(MatchOutcome.EMAIL, usable[0].key)
        if len(usable) > 1:
            return SeatMatchResult(MatchOutcome.AMBIGUOUS_EMAIL)
        return _usable(candidates[0], MatchOutcome.EMAIL)


def _usable(user: CrmUserFacts, how: MatchOutcome) -> SeatMatchResult:
    if not user.is_human:
        return SeatMatchResult(MatchOutcome.APPLICATION_USER, user.key)
    if user.is_disabled:
        return SeatMatchResult(MatchOutcome.CRM_USER_DISABLED, user.key)
    return SeatMatchResult(how, user.key)


def is_in_crm(*, outcome: MatchOutcome, sync_all_seats: bool, seat_sync_enabled: bool, connected: bool) -> bool:
    """Whether a seat shows the "In CRM" badge: its holder matches a usable CRM user, its CRM sync is on (for
    every seat, or for this one when automatic sync is off), and the organization is connected."""
    return connected and outcome.is_matched and (sync_all_seats or seat_sync_enabled)
