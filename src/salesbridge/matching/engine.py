"""The matching engine: blocking index, Fellegi-Sunter scoring, bands, one-to-one and estimation (issue 13, §2).

``Matcher.people()`` / ``Matcher.companies()`` give a matcher with the packaged default model. ``link`` featurises
each left record once, gathers candidates from the right side's :class:`MatchIndex` (a dict from blocking key to the
positions holding it; a key whose block is larger than ``block_cap`` on either side is skipped as too common),
scores every candidate pair without building objects (levels → summed weights), keeps the pairs at or above the review
band and explains only those. The cost is linear in the records plus the candidate pairs, which the caps bound.

Term frequencies: an exact first name, surname or company name is worth ``log2(Σp²/p(value))`` more (bounded by the
model's ``tf_limit``), with ``p`` the value's share of the right side: "Smith" says less than "Oyelaran". An e-mail or
phone held by more than one record on either side (a switchboard, an info@ mailbox) is compared at the "shared"
level, which weighs little: it never decides a person alone.

Estimation (``estimate``): u-probabilities from deterministic random pairs; m-probabilities and the match rate by EM
over the blocked pairs' comparison patterns, with guard rails — m is a posterior mean under a Dirichlet prior centred
on the default model (strength ``_PRIOR_STRENGTH`` pseudo-matches), agreement levels never weigh below 0 and
disagreement levels never above 0, the match rate is bounded to [0.01, 1], and with fewer than ``_MIN_BLOCKED`` pairs
or ``_MIN_MATCHES`` expected matches the default m-probabilities are kept.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any, Generic, Literal, TypeVar, cast

from salesbridge.matching.compare import (
    COMPANY_LEVELS,
    PEOPLE_LEVELS,
    LevelSpec,
    SharedCount,
    company_keys,
    company_vector,
    explain_company,
    explain_person,
    no_sharing,
    person_keys,
    person_vector,
)
from salesbridge.matching.features import CompanyFeatures, PersonFeatures
from salesbridge.matching.model import Comparison, Level, MatchModel, default_model
from salesbridge.matching.records import Band, CompanyRecord, Decision, FieldReason, LinkResult, PersonRecord

__all__ = ["MatchIndex", "Matcher"]

R = TypeVar("R", PersonRecord, CompanyRecord)
F = Any  # PersonFeatures | CompanyFeatures (kept loose: the kind's functions below agree on it)

DEFAULT_BLOCK_CAP = 400
_PRIOR_STRENGTH = 20.0
_MIN_BLOCKED = 50
_MIN_MATCHES = 10.0
_RANDOM_PAIRS = 60_000
_MAX_EM_PAIRS = 3_000_000
_EM_ROUNDS = 40


class _Kind:
    """What differs between people and companies: features, keys, comparison vector, explanation, tf values."""

    __slots__ = ("explain", "features", "keys", "name", "specs", "tf_values", "vector")

    def __init__(
        self,
        name: Literal["people", "companies"],
        features: Callable[[Any, str | None], Any],
        keys: Callable[[Any], list[str]],
        vector: Callable[[Any, Any, SharedCount], list[int]],
        explain: Callable[[Any, Any, list[int]], list[tuple[str, str, str | None, str | None, str | None]]],
        specs: tuple[LevelSpec, ...],
        tf_values: dict[int, Callable[[Any], str]],
    ) -> None:
        self.name = name
        self.features = features
        self.keys = keys
        self.vector = vector
        self.explain = explain
        self.specs = specs
        self.tf_values = tf_values


_PEOPLE = _Kind(
    "people",
    PersonFeatures,
    person_keys,
    person_vector,
    explain_person,
    PEOPLE_LEVELS,
    {2: lambda f: cast(PersonFeatures, f).first, 3: lambda f: cast(PersonFeatures, f).last},
)
_COMPANIES = _Kind(
    "companies",
    CompanyFeatures,
    company_keys,
    company_vector,
    explain_company,
    COMPANY_LEVELS,
    {1: lambda f: cast(CompanyFeatures, f).name},
)


class MatchIndex(Generic[R]):
    """The right side's features and blocking index, kept between runs (the service holds one per organization).

    ``add(records)`` featurises and indexes records (a record whose id is already held replaces it), ``remove(ids)``
    drops records, ``len()`` counts the records held. Term-frequency tables follow every change.
    """

    def __init__(self, kind: _Kind, default_region: str | None) -> None:
        self._kind = kind
        self._region = default_region
        self._features: list[Any | None] = []
        self._position: dict[str, int] = {}
        self._blocks: dict[str, int | list[int]] = {}
        self._tf: dict[int, Counter[str]] = {c: Counter() for c in kind.tf_values}

    def __len__(self) -> int:
        return len(self._position)

    def add(self, records: Iterable[R]) -> None:
        """Index ``records``; one whose id is already held replaces the old one."""
        kind, region = self._kind, self._region
        blocks, features, position = self._blocks, self._features, self._position
        tf_getters = [(self._tf[c], get) for c, get in kind.tf_values.items()]
        for record in records:
            if record.id in position:
                self.remove((record.id,))
            f = kind.features(record, region)
            at = len(features)
            features.append(f)
            position[record.id] = at
            for key in dict.fromkeys(kind.keys(f)):
                held = blocks.get(key)
                if held is None:
                    blocks[key] = at
                elif isinstance(held, int):
                    blocks[key] = [held, at]
                else:
                    held.append(at)
            for counter, get in tf_getters:
                value = get(f)
                if value:
                    counter[value] += 1

    def remove(self, ids: Iterable[str]) -> None:
        """Forget the records with these ids (unknown ids are ignored)."""
        for record_id in ids:
            at = self._position.pop(record_id, None)
            if at is None:
                continue
            f = self._features[at]
            self._features[at] = None
            for key in dict.fromkeys(self._kind.keys(f)):
                held = self._blocks.get(key)
                if held == at:
                    del self._blocks[key]
                elif isinstance(held, list):
                    held.remove(at)
                    if len(held) == 1:
                        self._blocks[key] = held[0]
            for c, get in self._kind.tf_values.items():
                value = get(f)
                if value:
                    self._tf[c][value] -= 1
                    if self._tf[c][value] <= 0:
                        del self._tf[c][value]

    def block(self, key: str) -> int | list[int] | None:
        """The positions holding ``key``: an int for one, a list for several, ``None`` for none."""
        return self._blocks.get(key)

    def block_size(self, key: str) -> int:
        held = self._blocks.get(key)
        if held is None:
            return 0
        return 1 if isinstance(held, int) else len(held)

    def features_at(self, at: int) -> Any:
        """The features held at ``at`` (``None`` once removed)."""
        return self._features[at]

    def live(self) -> Iterator[tuple[int, Any]]:
        """(position, features) of every record held, in insertion order."""
        for at, f in enumerate(self._features):
            if f is not None:
                yield at, f

    def tf_table(self, comparison: int) -> Counter[str]:
        return self._tf[comparison]


def _log2_odds(probability: float) -> float:
    p = min(max(probability, 1e-12), 1 - 1e-12)
    return math.log2(p / (1 - p))


def _probability(weight: float) -> float:
    if weight > 60:
        return 1.0
    if weight < -60:
        return 0.0
    return 1.0 / (1.0 + math.pow(2.0, -weight))


class _Scorer:
    """Weights of one run: per comparison per level, plus the tf adjustments and the prior."""

    def __init__(self, model: MatchModel, kind: _Kind, tf_tables: dict[int, Counter[str]], candidates: int) -> None:
        self.kind = kind
        self.model = model
        self.weights = model.weights()
        self.prior = model.prior(candidates)
        self.match_weight = _log2_odds(model.match_probability)
        self.review_weight = _log2_odds(model.review_probability)
        self.tf: list[tuple[int, Callable[[Any], str], dict[str, float]]] = []
        limit = model.tf_limit
        for c, get in kind.tf_values.items():
            table = tf_tables.get(c)
            if not table:
                continue
            total = sum(table.values())
            if total <= 0:
                continue
            sumsq = sum((n / total) ** 2 for n in table.values())
            adjust: dict[str, float] = {}
            for value, n in table.items():
                a = math.log2(sumsq / (n / total))
                adjust[value] = min(max(a, -limit), limit)
            self.tf.append((c, get, adjust))

    def weight(self, vector: list[int], left: Any) -> float:
        w = self.prior
        weights = self.weights
        for c, level in enumerate(vector):
            if level >= 0:
                w += weights[c][level]
        for c, get, adjust in self.tf:
            if vector[c] == 0:
                w += adjust.get(get(left), 0.0)
        return float(w)

    def decision(self, left: Any, right: Any, vector: list[int]) -> Decision:
        weight = self.weight(vector, left)
        per_comparison = self.kind.explain(left, right, vector)
        tf_extra = {c: (adjust.get(get(left), 0.0) if vector[c] == 0 else 0.0) for c, get, adjust in self.tf}
        grouped: dict[str, list[tuple[int, str, str | None, str | None, str | None]]] = {}
        for c, (_name, field, lv, rv, detail) in enumerate(per_comparison):
            grouped.setdefault(field, []).append((c, field, lv, rv, detail))
        reasons: list[FieldReason] = []
        for field, parts in grouped.items():
            levels = [vector[c] for c, *_ in parts]
            total = sum(self.weights[c][vector[c]] + tf_extra.get(c, 0.0) for c, *_ in parts if vector[c] >= 0)
            names = [self.kind.specs[c][2][vector[c]][0] if vector[c] >= 0 else "missing" for c, *_ in parts]
            level = _merge_levels(names)
            detail = next((d for *_, d in parts if d), None)
            left_value = " ".join(lv for _, _, lv, _, _ in parts if lv) or None
            right_value = " ".join(rv for _, _, _, rv, _ in parts if rv) or None
            if all(lv < 0 for lv in levels):
                total = 0.0
                if left_value is None and right_value is None:
                    continue  # neither record holds the field: nothing to show
            reasons.append(FieldReason(field, level, detail, round(total, 4), left_value, right_value))
        band = (
            Band.MATCH
            if weight >= self.match_weight
            else Band.REVIEW
            if weight >= self.review_weight
            else Band.NO_MATCH
        )
        return Decision(
            left_id=left.record.id,
            right_id=right.record.id,
            probability=_probability(weight),
            weight=round(weight, 4),
            band=band,
            reasons=tuple(reasons),
        )


_LEVEL_ORDER = {"different": 0, "similar": 1, "equivalent": 2, "exact": 3}


def _merge_levels(names: list[str]) -> str:
    present = [n for n in names if n != "missing"]
    if not present:
        return "missing"
    return min(present, key=lambda n: _LEVEL_ORDER.get(n, 0))


class Matcher(Generic[R]):
    """Links, dedupes, scores and estimates records of one kind with one model (see the module docstring)."""

    def __init__(
        self,
        kind: _Kind,
        model: MatchModel,
        default_region: str | None = None,
        block_cap: int = DEFAULT_BLOCK_CAP,
    ) -> None:
        if model.kind != kind.name:
            raise ValueError(f"a {model.kind} model cannot score {kind.name}")
        self._kind = kind
        self.model = model
        self.default_region = default_region
        self.block_cap = block_cap

    @classmethod
    def people(
        cls, *, default_region: str | None = None, model: MatchModel | None = None, block_cap: int = DEFAULT_BLOCK_CAP
    ) -> Matcher[PersonRecord]:
        """A matcher of people (CRM contacts and leads ↔ the workspace's people)."""
        return cast(
            "Matcher[PersonRecord]",
            Matcher(_PEOPLE, model or default_model("people"), default_region, block_cap),
        )

    @classmethod
    def companies(
        cls, *, default_region: str | None = None, model: MatchModel | None = None, block_cap: int = DEFAULT_BLOCK_CAP
    ) -> Matcher[CompanyRecord]:
        """A matcher of companies (CRM accounts ↔ the workspace's companies)."""
        return cast(
            "Matcher[CompanyRecord]",
            Matcher(_COMPANIES, model or default_model("companies"), default_region, block_cap),
        )

    def with_model(self, model: MatchModel) -> Matcher[R]:
        """This matcher with another model (same kind)."""
        return Matcher(self._kind, model, self.default_region, self.block_cap)

    # ------------------------------------------------------------------ single records and pairs

    def keys(self, record: R) -> tuple[str, ...]:
        """The record's blocking keys: two records are compared iff they share one (and it is not too common)."""
        return tuple(dict.fromkeys(self._kind.keys(self._kind.features(record, self.default_region))))

    def score(self, left: R, right: R) -> Decision:
        """The decision on any pair, blocked or not (prior from the model's ``reference_size``; no term frequencies)."""
        lf = self._kind.features(left, self.default_region)
        rf = self._kind.features(right, self.default_region)
        scorer = _Scorer(self.model, self._kind, {}, self.model.reference_size)
        return scorer.decision(lf, rf, self._kind.vector(lf, rf, no_sharing))

    def index(self, right: Iterable[R]) -> MatchIndex[R]:
        """A blocking index over ``right``, to pass to ``link`` (and keep up to date with ``add``/``remove``)."""
        index: MatchIndex[R] = MatchIndex(self._kind, self.default_region)
        index.add(right)
        return index

    # ------------------------------------------------------------------ runs

    def link(
        self,
        left: Iterable[R],
        right: Iterable[R] | MatchIndex[R],
        *,
        one_to_one: Literal["left", "both"] = "left",
    ) -> LinkResult:
        """Decisions (MATCH and REVIEW) between ``left`` and ``right``, one-to-one.

        ``"left"``: each left id at most once (its best; ties to the smaller right id). ``"both"``: each id on either
        side at most once, greedily by weight (ties by left id, then right id). Deterministic.
        """
        index = right if isinstance(right, MatchIndex) else self.index(right)
        kind = self._kind
        left_features = [kind.features(record, self.default_region) for record in left]
        left_keys = [tuple(dict.fromkeys(kind.keys(f))) for f in left_features]
        left_counts: Counter[str] = Counter(key for keys in left_keys for key in keys)
        scorer = _Scorer(self.model, kind, {c: index.tf_table(c) for c in kind.tf_values}, len(index))

        def shared(prefix: str, value: str) -> int:
            key = f"{prefix}:{value}"
            return max(index.block_size(key), left_counts.get(key, 0))

        cap = self.block_cap
        vector = kind.vector
        weigh = scorer.weight
        floor = scorer.review_weight
        compared = 0
        kept: list[tuple[float, int, int, list[int]]] = []
        for i, (f, keys) in enumerate(zip(left_features, left_keys, strict=True)):
            candidates: set[int] = set()
            for key in keys:
                held = index.block(key)
                if held is None:
                    continue
                if isinstance(held, int):
                    candidates.add(held)
                elif len(held) <= cap and left_counts[key] <= cap:
                    candidates.update(held)
            compared += len(candidates)
            best: tuple[float, int, int, list[int]] | None = None
            for j in candidates:
                g = index.features_at(j)
                if g is None:
                    continue
                levels = vector(f, g, shared)
                w = weigh(levels, f)
                if w < floor:
                    continue
                if one_to_one == "both":
                    kept.append((w, i, j, levels))
                elif (
                    best is None or w > best[0] or (w == best[0] and g.record.id < index.features_at(best[2]).record.id)
                ):
                    best = (w, i, j, levels)
            if best is not None:
                kept.append(best)
        if one_to_one == "both":
            kept = _greedy_one_to_one(kept, left_features, index)
        decisions = [scorer.decision(left_features[i], index.features_at(j), levels) for _w, i, j, levels in kept]
        decisions.sort(key=lambda d: (d.left_id, d.right_id))
        return LinkResult(decisions=decisions, compared_pairs=compared)

    def dedupe(self, records: Iterable[R]) -> LinkResult:
        """Decisions (MATCH and REVIEW) between records of one set: each unordered pair at most once, no one-to-one.

        ``left_id``/``right_id`` of a decision are in the records' order (the earlier record on the left).
        """
        index = self.index(records)
        kind = self._kind
        scorer = _Scorer(self.model, kind, {c: index.tf_table(c) for c in kind.tf_values}, max(len(index) - 1, 1))

        def shared(prefix: str, value: str) -> int:
            return index.block_size(f"{prefix}:{value}")

        cap = self.block_cap
        compared = 0
        decisions: list[Decision] = []
        for i, f in index.live():
            candidates: set[int] = set()
            for key in dict.fromkeys(kind.keys(f)):
                held = index.block(key)
                if isinstance(held, list) and len(held) <= cap:
                    candidates.update(j for j in held if j > i)
            compared += len(candidates)
            for j in sorted(candidates):
                g = index.features_at(j)
                if g is None:
                    continue
                levels = kind.vector(f, g, shared)
                if scorer.weight(levels, f) >= scorer.review_weight:
                    decisions.append(scorer.decision(f, g, levels))
        return LinkResult(decisions=decisions, compared_pairs=compared)

    # ------------------------------------------------------------------ estimation

    def estimate(self, left: Sequence[R], right: Sequence[R]) -> MatchModel:
        """A model whose weights come from these records (see the module docstring for the method and guard rails).

        Passing the same records on both sides estimates for ``dedupe`` (pairs of a record with itself are left out).
        Deterministic: the random pairs come from a fixed seed.
        """
        kind = self._kind
        base = self.model
        lf = [kind.features(r, self.default_region) for r in left]
        rf = [kind.features(r, self.default_region) for r in right]
        if not lf or not rf:
            return base
        same_set = [r.id for r in left] == [r.id for r in right]
        specs = kind.specs
        sizes = [len(spec[2]) for spec in specs]

        # u: deterministic random pairs.
        rng = random.Random(20261205)
        u_counts = [[0.0] * n for n in sizes]
        pairs_possible = len(lf) * len(rf) - (len(lf) if same_set else 0)
        samples = min(_RANDOM_PAIRS, max(pairs_possible, 0))
        drawn = 0
        while drawn < samples:
            i, j = rng.randrange(len(lf)), rng.randrange(len(rf))
            if same_set and i == j:
                continue
            drawn += 1
            for c, level in enumerate(kind.vector(lf[i], rf[j], no_sharing)):
                if level >= 0:
                    u_counts[c][level] += 1
        u_new: list[list[float]] = []
        for c, comparison in enumerate(base.comparisons):
            total = sum(u_counts[c])
            strength = 50.0  # pseudo-pairs of the default u: rare levels (an exact e-mail) keep a sane floor
            u_new.append(
                [(u_counts[c][k] + strength * lv.u) / (total + strength) for k, lv in enumerate(comparison.levels)]
            )

        # Blocked pairs' patterns.
        index: MatchIndex[R] = MatchIndex(kind, self.default_region)
        for at, f in enumerate(rf):
            index._features.append(f)
            index._position[f.record.id + "\x00" + str(at)] = at
            for key in dict.fromkeys(kind.keys(f)):
                held = index._blocks.get(key)
                if held is None:
                    index._blocks[key] = at
                elif isinstance(held, int):
                    index._blocks[key] = [held, at]
                else:
                    held.append(at)
        left_counts: Counter[str] = Counter(k for f in lf for k in dict.fromkeys(kind.keys(f)))
        patterns: Counter[tuple[int, ...]] = Counter()
        blocked = 0
        for i, f in enumerate(lf):
            candidates: set[int] = set()
            for key in dict.fromkeys(kind.keys(f)):
                held = index.block(key)
                if held is None:
                    continue
                if isinstance(held, int):
                    candidates.add(held)
                elif len(held) <= self.block_cap and left_counts[key] <= self.block_cap:
                    candidates.update(held)
            if same_set:
                candidates.discard(i)
            for j in candidates:
                patterns[tuple(kind.vector(f, rf[j], no_sharing))] += 1
            blocked += len(candidates)
            if blocked > _MAX_EM_PAIRS:
                break

        m_new, expected = _em(base, u_new, patterns, blocked)
        comparisons: list[Comparison] = []
        for c, comparison in enumerate(base.comparisons):
            levels: list[Level] = []
            for k, lv in enumerate(comparison.levels):
                m = m_new[c][k] if m_new is not None else lv.m
                u = u_new[c][k]
                m = min(m, u) if lv.level == "different" else max(m, u)
                levels.append(Level(lv.level, lv.detail, max(m, 1e-6), max(u, 1e-9)))
            comparisons.append(replace(comparison, levels=tuple(levels)))
        rate = base.match_rate
        if m_new is not None:
            rate = min(max(expected / len(lf), 0.01), 1.0)
        return replace(
            base,
            comparisons=tuple(comparisons),
            match_rate=rate,
            reference_size=max(len(rf) - (1 if same_set else 0), 1),
            source="estimated" if m_new is not None else "default+u",
        )


def _em(
    base: MatchModel, u_random: list[list[float]], patterns: Counter[tuple[int, ...]], blocked: int
) -> tuple[list[list[float]] | None, float]:
    """EM over pattern counts: m (Dirichlet prior on the base model), within-block u, and the blocked match share.

    Returns (m per comparison per level, expected number of matching pairs) or (None, 0) when the data is too thin.
    """
    if blocked < _MIN_BLOCKED or not patterns:
        return None, 0.0
    m = [[lv.m for lv in c.levels] for c in base.comparisons]
    u = [row[:] for row in u_random]
    # Blocked pairs agree far more than random ones: start their u between random and m.
    u = [[(a + b) / 2 for a, b in zip(ur, mr, strict=True)] for ur, mr in zip(u, m, strict=True)]
    share = 0.1
    items = list(patterns.items())
    expected = 0.0
    for _ in range(_EM_ROUNDS):
        mc = [[0.0] * len(row) for row in m]
        uc = [[0.0] * len(row) for row in u]
        matched = 0.0
        for pattern, count in items:
            lm = math.log(share)
            lu = math.log(1 - share)
            for c, level in enumerate(pattern):
                if level >= 0:
                    lm += math.log(max(m[c][level], 1e-12))
                    lu += math.log(max(u[c][level], 1e-12))
            diff = lu - lm
            post = 1.0 / (1.0 + math.exp(diff)) if diff < 700 else 0.0
            pm, pu = post * count, (1 - post) * count
            matched += pm
            for c, level in enumerate(pattern):
                if level >= 0:
                    mc[c][level] += pm
                    uc[c][level] += pu
        share = min(max(matched / blocked, 1e-6), 1 - 1e-6)
        expected = matched
        for c, comparison in enumerate(base.comparisons):
            total_m = sum(mc[c])
            total_u = sum(uc[c])
            m[c] = [
                (mc[c][k] + _PRIOR_STRENGTH * lv.m) / (total_m + _PRIOR_STRENGTH)
                for k, lv in enumerate(comparison.levels)
            ]
            u[c] = [(uc[c][k] + 1e-3) / (total_u + 1e-3 * len(uc[c])) for k in range(len(uc[c]))]
    if expected < _MIN_MATCHES:
        return None, 0.0
    return m, expected


def _greedy_one_to_one(
    kept: list[tuple[float, int, int, list[int]]], left_features: list[Any], index: MatchIndex[Any]
) -> list[tuple[float, int, int, list[int]]]:
    def order(item: tuple[float, int, int, list[int]]) -> tuple[float, str, str]:
        w, i, j, _ = item
        return (-w, str(left_features[i].record.id), str(index.features_at(j).record.id))

    used_left: set[int] = set()
    used_right: set[int] = set()
    out: list[tuple[float, int, int, list[int]]] = []
    for item in sorted(kept, key=order):
        _, i, j, _ = item
        if i in used_left or j in used_right:
            continue
        used_left.add(i)
        used_right.add(j)
        out.append(item)
    return out
