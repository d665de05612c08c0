"""The Fellegi-Sunter match model: comparisons, their levels with m- and u-probabilities, the prior and the bands.

A comparison (e.g. ``last_name``) has ordered levels, strongest agreement first; each level has ``m`` (the
probability of that level among true matches) and ``u`` (among non-matches). A pair's weight is
``prior + Σ log2(m/u)`` over the fields both records hold (a missing field adds 0), plus, for comparisons marked
``tf``, a term-frequency adjustment on exact agreement (a rare surname says more than "Smith"). The probability is
``2^w / (1 + 2^w)``.

The prior is not a constant: ``match_rate`` is the share of left records expected to have a match, and the prior
log2 odds of one pair is ``log2(match_rate / n)`` where ``n`` is the number of candidates a left record could match
(the right side's size; ``n - 1`` within one set). The same evidence thus links among 500 people and asks for more
among 1,000,000. ``reference_size`` stands in for ``n`` when a single pair is scored out of any run.

Bands: ``probability >= match_probability`` links automatically, ``>= review_probability`` goes to the review
queue, the rest is no match. The model is JSON-able (``to_dict``/``from_dict``); the service stores one per
organization when it re-estimates (``Matcher.estimate``).

Which weights ship (docs/performance.md, "How weights are set"): the people model is learned from labelled pairs
(``bench/fit_matching_model.py --fit``: m and u counted on the synthetic CRM generator with seed 7 and on FEBRL3,
each field bounded to [-8, +16] bits, the automatic band at the lowest weight keeping training precision 0.991 —
7.9 bits). Learned beat estimated on CRM-shaped data (synthetic 10,000 x 100,000: automatic-band precision 0.993
against 0.955 for EM, whose independence assumption fails for company, domain, e-mail and title), while EM wins on
data of independent fields (FEBRL4 without soc_sec_id: F1 0.9958 estimated vs 0.9870 learned; RLdata10000 0.9669 vs
0.9468), so ``Matcher.estimate`` re-estimates only such data. The companies model is learned the same way
(``fit_companies``: the demo workspace generator's accounts ↔ companies on a CRM seed the benchmark does not use,
the name's levels pooled with Leipzig's organisation strings; disagreements bounded to -4 bits, industry kept
from the seeds), its automatic band at p ≥ 0.99.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from functools import cache
from importlib.resources import files
from typing import Any, Literal

__all__ = ["Comparison", "Level", "MatchModel", "default_model"]

Kind = Literal["people", "companies"]

M_MIN = 1e-6
U_MIN = 1e-9


@dataclass(frozen=True, slots=True)
class Level:
    """One comparison level: its public ``level``/``detail`` and its m- and u-probabilities."""

    level: str
    detail: str | None
    m: float
    u: float

    @property
    def weight(self) -> float:
        """log2(m/u): the evidence this level gives (positive for agreement, negative for disagreement)."""
        return math.log2(max(self.m, M_MIN) / max(self.u, U_MIN))

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "detail": self.detail, "m": self.m, "u": self.u}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Level:
        detail = data.get("detail")
        return cls(str(data["level"]), None if detail is None else str(detail), float(data["m"]), float(data["u"]))


@dataclass(frozen=True, slots=True)
class Comparison:
    """A compared attribute: ``name`` (internal, e.g. "first_name"), ``field`` (the reason's field, e.g. "name")."""

    name: str
    field: str
    levels: tuple[Level, ...]
    tf: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "field": self.field, "tf": self.tf, "levels": [lv.to_dict() for lv in self.levels]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison:
        return cls(
            name=str(data["name"]),
            field=str(data["field"]),
            levels=tuple(Level.from_dict(level) for level in data["levels"]),
            tf=bool(data.get("tf", False)),
        )


@dataclass(frozen=True, slots=True)
class MatchModel:
    """Weights, prior and bands of one matcher (people or companies); see the module docstring."""

    kind: Kind
    comparisons: tuple[Comparison, ...]
    match_rate: float = 0.5
    reference_size: int = 1000
    match_probability: float = 0.99
    review_probability: float = 0.5
    tf_limit: float = 4.0
    source: str = "default"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; ``MatchModel.from_dict`` reads it back (equal model)."""
        return {
            "kind": self.kind,
            "match_rate": self.match_rate,
            "reference_size": self.reference_size,
            "match_probability": self.match_probability,
            "review_probability": self.review_probability,
            "tf_limit": self.tf_limit,
            "source": self.source,
            "comparisons": [comparison.to_dict() for comparison in self.comparisons],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MatchModel:
        """The model ``to_dict`` wrote. Raises ``ValueError`` on a dict of another shape."""
        kind = data.get("kind")
        if kind not in ("people", "companies"):
            raise ValueError(f"unknown model kind {kind!r}")
        return cls(
            kind=kind,
            comparisons=tuple(Comparison.from_dict(c) for c in data["comparisons"]),
            match_rate=float(data["match_rate"]),
            reference_size=int(data["reference_size"]),
            match_probability=float(data["match_probability"]),
            review_probability=float(data["review_probability"]),
            tf_limit=float(data.get("tf_limit", 4.0)),
            source=str(data.get("source", "default")),
        )

    def prior(self, candidates: int) -> float:
        """log2 prior odds that one pair matches when a left record has ``candidates`` possible partners."""
        n = max(candidates, 1)
        # A record set may hold many duplicates of one record (rate > 1 within one set); the prior stays below 1/2.
        p = min(max(self.match_rate, 1e-6) / n, 0.5)
        return math.log2(p / (1.0 - p))

    def weights(self) -> tuple[tuple[float, ...], ...]:
        """Per comparison, per level, log2(m/u)."""
        return tuple(tuple(level.weight for level in c.levels) for c in self.comparisons)

    def with_bands(self, *, match_probability: float, review_probability: float) -> MatchModel:
        """This model with other band thresholds."""
        return replace(self, match_probability=match_probability, review_probability=review_probability)


@cache
def _packaged(kind: Kind) -> MatchModel:
    # Package data, not I/O in the sense of the contracts: the default weights ship inside the wheel.
    text = (files("salesbridge.matching") / f"default_{kind}.json").read_text(encoding="utf-8")
    return MatchModel.from_dict(json.loads(text))


def default_model(kind: Kind) -> MatchModel:
    """The model shipped with the package for ``kind`` (see ``bench/fit_matching_model.py`` for how it was made)."""
    return _packaged(kind)
