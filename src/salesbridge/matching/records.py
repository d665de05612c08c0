"""The values the matching engine reads and the decisions it gives (the public API of /work/notes/matching_api.md).

Records are one side's raw values, every field optional but ``id``. Decisions carry a calibrated probability, the
total match weight (log2 Bayes factor, prior included), a band and one :class:`FieldReason` per field compared, and
round-trip through JSON-able dicts (``to_dict`` / ``from_dict``) so the service can store them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Band", "CompanyRecord", "Decision", "FieldReason", "LinkResult", "PersonRecord"]


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """One person as one side holds it (CRM contact or lead on the left, the workspace's person on the right).

    ``full_name`` is parsed only when ``first_name`` and ``last_name`` are both missing. ``company_ref`` is an opaque
    id of the workspace company the record's company is known to be: equal refs make the company agree for sure.
    ``birth_date`` ("YYYY-MM-DD", "YYYYMMDD" or "DD/MM/YYYY") serves the file linker and the benchmarks only.
    """

    id: str
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    job_title: str | None = None
    company_name: str | None = None
    company_website: str | None = None
    company_ref: str | None = None
    past_companies: tuple[str, ...] = ()
    profile_url: str | None = None
    street: str | None = None
    city: str | None = None
    postcode: str | None = None
    region: str | None = None
    country: str | None = None
    birth_date: str | None = None


@dataclass(frozen=True, slots=True)
class CompanyRecord:
    """One company as one side holds it (CRM account on the left, the workspace's company on the right).

    ``people_refs`` ("shared people", left side only): for each of the account's contacts and leads tied to a
    workspace person whose employer the workspace knows, that employer's id, the way the right side's ``id`` spells
    it (one entry per person, repeats kept). A workspace company that is the employer of two or more of them is
    strong evidence; one, some; none while some are known, a little against. Empty (the default) compares nothing.
    """

    id: str
    name: str | None = None
    website: str | None = None
    phone: str | None = None
    industry: str | None = None
    employee_count: int | None = None
    street: str | None = None
    city: str | None = None
    postcode: str | None = None
    region: str | None = None
    country: str | None = None
    profile_url: str | None = None
    email_domains: tuple[str, ...] = ()
    people_refs: tuple[str, ...] = ()


class Band(StrEnum):
    """What a decision does: link automatically, ask an admin, or nothing."""

    MATCH = "match"
    REVIEW = "review"
    NO_MATCH = "no_match"


@dataclass(frozen=True)
class FieldReason:
    """One field's part in a decision.

    ``field`` is one of "profile_url", "email", "name", "company", "domain", "title", "place", "phone", "street",
    "birth_date", "industry", "size", "people" (companies: for "shared people", ``left`` is how many of the
    account's people with a known employer work at the company, ``right`` how many have a known employer);
    ``level`` one of "exact", "equivalent", "similar", "different", "missing";
    ``detail`` says how ("nickname", "initial", "swapped", "accents", "legal_form", "typo", "past_company",
    "same_account", "shared", ...); ``weight`` is the log2 Bayes factor the field added (0 when missing); ``left`` and
    ``right`` are the values compared, as a person would read them.
    """

    field: str
    level: str
    detail: str | None
    weight: float
    left: str | None
    right: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; ``from_dict`` reads it back."""
        return {
            "field": self.field,
            "level": self.level,
            "detail": self.detail,
            "weight": self.weight,
            "left": self.left,
            "right": self.right,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldReason:
        """The reason ``to_dict`` wrote."""
        return cls(
            field=str(data["field"]),
            level=str(data["level"]),
            detail=None if data.get("detail") is None else str(data["detail"]),
            weight=float(data["weight"]),
            left=None if data.get("left") is None else str(data["left"]),
            right=None if data.get("right") is None else str(data["right"]),
        )


@dataclass(frozen=True)
class Decision:
    """The engine's verdict on one pair: ``probability`` in [0, 1], ``weight`` in log2 odds (prior included)."""

    left_id: str
    right_id: str
    probability: float
    weight: float
    band: Band
    reasons: tuple[FieldReason, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; ``from_dict`` reads it back."""
        return {
            "left_id": self.left_id,
            "right_id": self.right_id,
            "probability": self.probability,
            "weight": self.weight,
            "band": self.band.value,
            "reasons": [reason.to_dict() for reason in self.reasons],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        """The decision ``to_dict`` wrote."""
        return cls(
            left_id=str(data["left_id"]),
            right_id=str(data["right_id"]),
            probability=float(data["probability"]),
            weight=float(data["weight"]),
            band=Band(data["band"]),
            reasons=tuple(FieldReason.from_dict(reason) for reason in data.get("reasons", ())),
        )


@dataclass(frozen=True)
class LinkResult:
    """A run's decisions (bands MATCH and REVIEW only, after the one-to-one rule) and how many pairs were scored."""

    decisions: list[Decision]
    compared_pairs: int
