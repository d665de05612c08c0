"""What matching keeps about CRM records and the workspace's people and companies (issue 13, section 2): links,
rejected pairs and the organization's matching state, as the store returns them. Pure; no I/O.

A CRM contact or lead ties to a person, an account to a company (:data:`TARGET_KINDS`). A CRM record has at most
one link; a person or company may hold several (a contact and a lead, or CRM duplicates).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final


class TargetKind(enum.StrEnum):
    """What a CRM record is matched with."""

    PERSON = "person"
    COMPANY = "company"


class LinkBand(enum.StrEnum):
    """Where a link stands: tied (``match``), a candidate waiting for an administrator (``review``), or, from a
    correction, explicitly tied to nothing (``no_match``)."""

    MATCH = "match"
    REVIEW = "review"
    NO_MATCH = "no_match"


class LinkOrigin(enum.StrEnum):
    """Who decided: the scorer, or a person (a correction, or an administrator accepting a review). A correction
    wins over the scorer until one of its records is deleted."""

    SCORER = "scorer"
    CORRECTION = "correction"


class KeySide(enum.StrEnum):
    """Whose blocking keys: a CRM table's records or the workspace's people or companies."""

    CONTACT = "contact"
    LEAD = "lead"
    ACCOUNT = "account"
    PERSON = "person"
    COMPANY = "company"


TARGET_KINDS: Final[Mapping[str, TargetKind]] = {
    "account": TargetKind.COMPANY,
    "contact": TargetKind.PERSON,
    "lead": TargetKind.PERSON,
}
"""The matched CRM tables and what their records tie to."""

PEOPLE_TABLES: Final = ("contact", "lead")
COMPANY_TABLES: Final = ("account",)

STALE_COMPANY: Final = "company"
STALE_TITLE: Final = "title"
"""The fields a link may be out of date on (the CRM and the workspace disagree: a job change)."""


@dataclass(frozen=True, kw_only=True)
class MatchLink:
    """What matching decided about one CRM record.

    Attributes:
        crm_table, crm_id: The CRM record (``account``, ``contact`` or ``lead``).
        target_kind: Person or company.
        target_id: The person or company; None with band ``no_match``.
        band: Tied, in review, or explicitly none.
        probability: The scorer's probability for this pair (None: never scored).
        decision: The scorer's decision on this pair as JSON (``salesbridge.matching.Decision.to_dict()``), with its
            per-field reasons; None when it was never scored.
        origin: The scorer or a person.
        decided_by: The user who corrected or accepted it (None: the scorer, or a user since deleted).
        decided_at: When it was decided.
        stale_fields: Fields on which the CRM and the workspace disagree (:data:`STALE_COMPANY`,
            :data:`STALE_TITLE`): "Out of date".
    """

    crm_table: str
    crm_id: str
    target_kind: TargetKind
    target_id: uuid.UUID | None
    band: LinkBand
    probability: float | None
    decision: Mapping[str, Any] | None
    origin: LinkOrigin
    decided_by: uuid.UUID | None
    decided_at: datetime
    stale_fields: tuple[str, ...] = ()

    @property
    def is_tie(self) -> bool:
        """The CRM record is tied to its target (band ``match`` with a target)."""
        return self.band is LinkBand.MATCH and self.target_id is not None


@dataclass(frozen=True, kw_only=True)
class MatchRejection:
    """A pair an administrator rejected in review; the scorer never proposes it again."""

    crm_table: str
    crm_id: str
    target_id: uuid.UUID
    decided_by: uuid.UUID | None
    decided_at: datetime


@dataclass(frozen=True, kw_only=True)
class MatchState:
    """Matching's state in one organization.

    Attributes:
        people_model, companies_model: The estimated models (``MatchModel.to_dict()``); None: the engine's default.
        crm_watermark, people_watermark, companies_watermark: Records imported or changed before these were seen by
            an earlier run (an incremental run reads from them); None: read everything.
        last_run_at, last_full_run_at: When the last run and the last full run ended.
        last_summary: The last run's summary as JSON.
        requested_at: A run was asked for since the last one (None: none pending).
    """

    people_model: Mapping[str, Any] | None = None
    companies_model: Mapping[str, Any] | None = None
    crm_watermark: datetime | None = None
    people_watermark: datetime | None = None
    companies_watermark: datetime | None = None
    last_run_at: datetime | None = None
    last_full_run_at: datetime | None = None
    last_summary: Mapping[str, Any] | None = None
    requested_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class LinkCounts:
    """A CRM table's records by where matching left them."""

    total: int
    matched: int
    review: int

    @property
    def unmatched(self) -> int:
        """Records neither tied nor in review (explicit "no match" corrections included)."""
        return max(self.total - self.matched - self.review, 0)


class Badge(enum.StrEnum):
    """A badge a person or company is filtered by: tied to a CRM record, tied to none, or tied with the CRM and the
    workspace disagreeing on the current company or title."""

    IN_CRM = "in_crm"
    NOT_IN_CRM = "not_in_crm"
    OUT_OF_DATE = "out_of_date"
