"""The matching engine: blocking index, Fellegi-Sunter scoring, bands, one-to-one and estimation (issue 13, §2).

``Matcher.people()`` / ``Matcher.companies()`` give a matcher with the packaged default model. ``link`` featurises
each left record once, gathers candidates from the right side's :class:`MatchIndex` (a dict from blocking key to the
positions holding it; a key whose block is larger than ``block_cap`` on either side is skipped as too common),
scores every candidate pair without building objects (levels → summed weights), keeps the pairs at or above the review
band and explains only those. The cost is linear in the records plus the candidate pairs, which the caps bound.

Term frequencies (splink's approach): an exact first name, surname or company name weighs ``log2(m / p(value))``
instead of the level's ``log2(m / u)``, bounded to that weight ± the model's ``tf_limit``, with ``p`` the share of
the right side's other records holding the value (one holder left out: the record's match, or itself in a dedupe):
"Smith" says less than "Oyelaran", and a name held once gets the whole ``tf_limit``. An e-mail or
phone held by more than one record on either side (a switchboard, an info@ mailbox) is compared at the "shared"
level, which weighs little: it never decides a person alone.

Estimation (``estimate``): u-probabilities from deterministic random pairs; m-probabilities and the match rate by EM
over the blocked pairs' comparison patterns, with guard rails — m is a posterior mean under a Dirichlet prior centred
on the default model (strength ``_PRIOR_STRENGTH`` pseudo-matches), agreement levels never weigh below 0 and
disagreement levels never above 0, the match rate is bounded to [0.01, 1], and with fewer than ``_MIN_BLOCKED`` pairs
or ``_MIN_MATCHES`` expected matches the default m-probabilities are kept.
"""

from __future__ import annotations

import gc
import math
import random
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from operator import attrgetter
from typing import Any, Generic, Literal, TypeVar, cast

import numpy as np

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

DEFAULT_BLOCK_CAP = 100
DEFAULT_PAIR_BUDGET = 2_000_000
_PRIOR_STRENGTH = 20.0
_MIN_BLOCKED = 50
_MIN_MATCHES = 10.0
_RANDOM_PAIRS = 60_000
_MAX_EM_PAIRS = 3_000_000
_EM_ROUNDS = 40
_ESTIMATED_MATCH_PROBABILITY = 0.9


class _Kind:
    """What differs between people and companies: features, keys, comparison vector, explanation, tf values."""

    __slots__ = ("explain", "features", "guard", "keys", "name", "specs", "tf_country", "tf_values", "vector")

    def __init__(
        self,
        name: Literal["people", "companies"],
        features: Callable[[Any, str | None], Any],
        keys: Callable[[Any], list[str]],
        vector: Callable[[Any, Any, SharedCount], list[int]],
        explain: Callable[[Any, Any, list[int]], list[tuple[str, str, str | None, str | None, str | None]]],
        specs: tuple[LevelSpec, ...],
        tf_values: dict[int, Callable[[Any], str]],
        guard: Callable[[list[int]], bool] | None = None,
        tf_country: Callable[[Any], str] | None = None,
    ) -> None:
        self.name = name
        # The country a tf value is counted within, when the pair agrees on it (see _Scorer.same_country).
        self.tf_country = tf_country
        self.guard = guard
        self.features = features
        self.keys = keys
        self.vector = vector
        self.explain = explain
        self.specs = specs
        self.tf_values = tf_values


def _names_disagree(levels: list[int]) -> bool:
    """Guard rail: first name and surname both "different" (no nickname, initial, typo or swap), and nothing that
    identifies a person agrees exactly: neither the profile URL, nor an unshared e-mail, nor the birth date together
    with the street address (its spelling aside). Such a pair is never an automatic link, whatever else agrees (a
    colleague sharing the switchboard, the company and the city is another person)."""
    return (
        levels[2] == 5
        and levels[3] == 4
        and levels[0] != 0
        and levels[1] != 0
        and not (levels[4] == 0 and 0 <= levels[10] <= 1)
    )


_PEOPLE = _Kind(
    "people",
    PersonFeatures,
    person_keys,
    person_vector,
    explain_person,
    PEOPLE_LEVELS,
    {2: attrgetter("first"), 3: attrgetter("last")},
    _names_disagree,
)
_COMPANIES = _Kind(
    "companies",
    CompanyFeatures,
    company_keys,
    company_vector,
    explain_company,
    COMPANY_LEVELS,
    {1: attrgetter("name")},
    # A company name is often a group's, held by its subsidiaries in several countries ("Roble Insurance" in Milan
    # and in London): how common the name is, for a pair in one country, is counted among that country's companies.
    tf_country=attrgetter("country"),
)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building millions of acyclic objects (features, tuples, strings):
    its passes grow with the heap and would otherwise dominate a million-record build. Restored afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _key_hash(key: str) -> int:
    # 64-bit string hash (salted per process). Two distinct keys sharing a hash only merge their blocks: a few more
    # pairs are scored, none is lost, and decisions never depend on the order candidates come in.
    return hash(key)


class MatchIndex(Generic[R]):
    """The right side's features and blocking index, kept between runs (the service holds one per organization).

    ``add(records)`` featurises and indexes records (a record whose id is already held replaces it), ``remove(ids)``
    drops records, ``len()`` counts the records held. Term-frequency tables follow every change.

    Storage: the blocking keys of every record as two aligned numpy arrays sorted by key hash (int64 hash, int32
    position), so a block is a ``searchsorted`` range and a million people with ~15 keys each take ~200 MB. Records
    added since the last lookup wait in append-only buffers and are merged (one sort) at the next lookup; removed
    records leave a tombstone (their features become ``None``) and are skipped.
    """

    def __init__(self, kind: _Kind, default_region: str | None) -> None:
        self._kind = kind
        self._region = default_region
        self._features: list[Any | None] = []
        self._position: dict[str, int] = {}
        self._hashes: np.ndarray[Any, np.dtype[np.int64]] = np.empty(0, dtype=np.int64)
        self._positions: np.ndarray[Any, np.dtype[np.int32]] = np.empty(0, dtype=np.int32)
        self._new_hashes: array[int] = array("q")
        self._new_positions: array[int] = array("i")
        self._dead = 0
        self._tf: dict[int, Counter[str]] = {c: Counter() for c in kind.tf_values}
        # With kind.tf_country: the tf values counted per country ("" = unknown), and the records per country.
        self._tf_country: dict[int, Counter[tuple[str, str]]] = {c: Counter() for c in kind.tf_values}
        self._countries: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._position)

    def add(self, records: Iterable[R]) -> None:
        """Index ``records``; one whose id is already held replaces the old one."""
        kind, region = self._kind, self._region
        features, position = self._features, self._position
        tf_getters = [(self._tf[c], self._tf_country[c], get) for c, get in kind.tf_values.items()]
        country_of = kind.tf_country
        keys_of, featurise = kind.keys, kind.features
        with _gc_paused():
            chunk_keys: list[str] = []
            chunk_counts = array("i")
            first_at = len(features)
            for record in records:
                if record.id in position:
                    self.remove((record.id,))
                    first_at = self._flush(chunk_keys, chunk_counts, first_at)
                f = featurise(record, region)
                features.append(f)
                position[record.id] = len(features) - 1
                keys = keys_of(f)
                chunk_keys.extend(keys)
                chunk_counts.append(len(keys))
                country = (country_of(f) or "") if country_of is not None else None
                if country is not None:
                    self._countries[country] += 1
                for counter, by_country, get in tf_getters:
                    value = get(f)
                    if value:
                        counter[value] += 1
                        if country is not None:
                            by_country[value, country] += 1
                if len(chunk_counts) >= _CHUNK:
                    first_at = self._flush(chunk_keys, chunk_counts, first_at)
            self._flush(chunk_keys, chunk_counts, first_at)

    def _flush(self, keys: list[str], counts: array[int], first_at: int) -> int:
        """Hash a chunk's keys into the pending buffers (C-level loops); the position after the chunk."""
        if counts:
            self._new_hashes.extend(array("q", map(hash, keys)))
            repeated = np.repeat(
                np.arange(first_at, first_at + len(counts), dtype=np.int32), np.frombuffer(counts, dtype=np.int32)
            )
            self._new_positions.frombytes(repeated.tobytes())
        first_at += len(counts)
        keys.clear()
        del counts[:]
        return first_at

    def remove(self, ids: Iterable[str]) -> None:
        """Forget the records with these ids (unknown ids are ignored)."""
        for record_id in ids:
            at = self._position.pop(record_id, None)
            if at is None:
                continue
            f = self._features[at]
            self._features[at] = None
            self._dead += 1
            country_of = self._kind.tf_country
            country = (country_of(f) or "") if country_of is not None else None
            if country is not None:
                _decrement(self._countries, country)
            for c, get in self._kind.tf_values.items():
                value = get(f)
                if value:
                    _decrement(self._tf[c], value)
                    if country is not None:
                        _decrement(self._tf_country[c], (value, country))

    def _arrays(self) -> tuple[np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[np.int32]]]:
        """The sorted (hash, position) arrays, merging pending additions and dropping removed records."""
        if len(self._new_hashes) or self._dead > len(self._features) // 4:
            hashes = np.concatenate([self._hashes, np.frombuffer(self._new_hashes, dtype=np.int64)])
            positions = np.concatenate([self._positions, np.frombuffer(self._new_positions, dtype=np.int32)])
            if self._dead:
                alive = np.fromiter((f is not None for f in self._features), dtype=bool, count=len(self._features))
                keep = alive[positions]
                hashes, positions = hashes[keep], positions[keep]
                self._dead = 0
            order = np.argsort(hashes, kind="stable")
            self._hashes, self._positions = hashes[order], positions[order]
            self._new_hashes, self._new_positions = array("q"), array("i")
        return self._hashes, self._positions

    def block(self, key: str) -> list[int]:
        """The positions of the live records holding ``key``."""
        hashes, positions = self._arrays()
        h = _key_hash(key)
        lo, hi = np.searchsorted(hashes, h, "left"), np.searchsorted(hashes, h, "right")
        return [at for at in positions[lo:hi].tolist() if self._features[at] is not None]

    def block_size(self, key: str) -> int:
        """How many records hold ``key`` (removed records may still count until the next merge)."""
        hashes, _ = self._arrays()
        h = _key_hash(key)
        return int(np.searchsorted(hashes, h, "right") - np.searchsorted(hashes, h, "left"))

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

    def tf_within(self, comparison: int, value: str, country: str) -> tuple[int, int]:
        """(holders of ``value``, records) among the records in ``country`` or of unknown country (kinds with
        ``tf_country``)."""
        unknown = self._tf_country[comparison][value, ""]
        held = self._tf_country[comparison][value, country] + unknown if country else unknown
        return held, self._countries[country] + (self._countries[""] if country else 0)


def _decrement(counter: Counter[Any], key: Any) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]


_CHUNK = 8192
_IDENTIFIER_PREFIXES = ("p:", "e:")
_META_MIN = 12
_META_SHARED = 3


class _Queries:
    """The left side's blocking keys as arrays (hash, owner position, strength), never as strings: 100,000 CRM
    records with ~14 keys each cost ~20 MB here, not ~150 MB. ``identifier_counts`` counts the e-mail and phone keys
    (a value on several left records is shared, like a switchboard)."""

    __slots__ = ("hashes", "identifier_counts", "owners", "size", "strength")

    def __init__(self, keys_of: Callable[[Any], list[str]], features: Sequence[Any]) -> None:
        hashes, owners, strength = array("q"), array("i"), array("b")
        counts: Counter[str] = Counter()
        for i, f in enumerate(features):
            if f is None:
                continue
            for key in set(keys_of(f)):
                hashes.append(hash(key))
                owners.append(i)
                head = key[:2]
                if head in _IDENTIFIER_PREFIXES:
                    strength.append(2)
                else:
                    strength.append(1)
                if head in ("e:", "t:"):
                    counts[key] += 1
        self.hashes, self.owners, self.strength = hashes, owners, strength
        self.identifier_counts = counts
        self.size = len(features)


def _candidate_pairs(
    queries: _Queries,
    index: MatchIndex[Any],
    cap: int,
    *,
    same_set: bool = False,
    pair_budget: int = DEFAULT_PAIR_BUDGET,
) -> Iterator[tuple[list[int], list[int]]]:
    """Candidate pairs (left position, right position), chunk by chunk, each pair once, grouped by left position.

    A key is skipped when its block holds more than ``cap`` records on the right or on the left. Meta-blocking: a
    left record with more than ``_META_MIN`` candidates keeps those sharing at least ``_META_SHARED`` keys with it
    (a shared profile URL or e-mail counts twice; on the synthetic CRM set 99.5 % of true pairs share 3 or more)
    and those sharing as many as its best candidate; this drops pairs that only share a common surname or city.
    ``same_set``: left and right are the same records (positions), and only pairs left < right are given.
    """
    hashes, positions = index._arrays()
    # Small sets are compared nearly exhaustively: the cap grows to keep about ``pair_budget`` pairs in all
    # (PATSTAT's 676 Philips names in one block of 2,379 records); large sets keep ``cap``.
    cap = max(cap, pair_budget // max(queries.size, len(index._features), 1))
    q = np.frombuffer(queries.hashes, dtype=np.int64)
    qo = np.frombuffer(queries.owners, dtype=np.int32)
    qs = np.frombuffer(queries.strength, dtype=np.int8)
    if not len(q) or not len(hashes):
        return
    _, inverse, counts = np.unique(q, return_inverse=True, return_counts=True)
    left_count = counts[inverse]
    lo = np.searchsorted(hashes, q, "left")
    hi = np.searchsorted(hashes, q, "right")
    size = hi - lo
    allowed = (size > 0) & (size <= cap) & (left_count <= cap)
    q_lo, q_size, q_owner, q_strength = lo[allowed], size[allowed], qo[allowed], qs[allowed]
    n_right = max(len(index._features), 1)
    bounds = np.searchsorted(q_owner, np.arange(0, queries.size + _CHUNK, _CHUNK), "left")
    for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if start == stop:
            continue
        sizes = q_size[start:stop]
        total = int(sizes.sum())
        if total == 0:
            continue
        offsets = np.repeat(q_lo[start:stop] - np.cumsum(sizes) + sizes, sizes) + np.arange(total)
        right_at = positions[offsets].astype(np.int64)
        left_at = np.repeat(q_owner[start:stop].astype(np.int64), sizes)
        weight = np.repeat(q_strength[start:stop], sizes)
        if same_set:
            keep = left_at < right_at
            right_at, left_at, weight = right_at[keep], left_at[keep], weight[keep]
        pair = left_at * n_right + right_at
        unique, inverse_pair = np.unique(pair, return_inverse=True)
        shared = np.bincount(inverse_pair, weights=weight, minlength=len(unique))
        pair_left = unique // n_right
        if len(pair_left):
            # Per left record (pairs come grouped by left position): its number of candidates and its best count.
            starts = np.flatnonzero(np.r_[True, pair_left[1:] != pair_left[:-1]])
            lengths = np.diff(np.r_[starts, len(pair_left)])
            crowded = np.repeat(lengths > _META_MIN, lengths)
            best = np.repeat(np.maximum.reduceat(shared, starts), lengths)
            keep_pair = ~crowded | (shared >= _META_SHARED) | (shared >= best)
        else:
            keep_pair = np.zeros(0, dtype=bool)
        chosen = unique[keep_pair]
        yield (chosen // n_right).tolist(), (chosen % n_right).tolist()


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

    def __init__(
        self,
        model: MatchModel,
        kind: _Kind,
        tf_tables: dict[int, Counter[str]],
        candidates: int,
        within: Callable[[int, str, str], tuple[int, int]] | None = None,
    ) -> None:
        self.kind = kind
        self.model = model
        self.weights = model.weights()
        # Each comparison's weights with a trailing 0.0, so that level -1 (missing) indexes it.
        self.padded = [[*row, 0.0] for row in self.weights]
        self.prior = model.prior(candidates)
        self.match_weight = _log2_odds(model.match_probability)
        self.review_weight = _log2_odds(model.review_probability)
        self.tf: list[tuple[int, Callable[[Any], str], dict[str, float]]] = []
        limit = model.tf_limit
        self._limit = limit
        self._within = within if kind.tf_country is not None else None
        self._exact_u: dict[int, float] = {}
        self._same_country: dict[tuple[int, str, str], float] = {}
        for c, get in kind.tf_values.items():
            table = tf_tables.get(c)
            if not table:
                continue
            total = sum(table.values())
            if total <= 0:
                continue
            # splink's term-frequency adjustment: an exact agreement on value v has u = p(v), the chance that
            # another record holds v, instead of the level's average u (learned on other data): the weight of
            # "exact" becomes log2(m / p(v)), bounded to the level's weight ± ``tf_limit``. p(v) leaves one holder
            # out ((n - 1) / N): the record being matched, or its match, is one of the n, and a value held once
            # is not evidence of a common one however small the set.
            exact_u = self._exact_u[c] = max(model.comparisons[c].levels[0].u, 1e-12)
            adjust: dict[str, float] = {}
            for value, n in table.items():
                a = math.log2(exact_u * total / (n - 1)) if n > 1 else limit
                adjust[value] = min(max(a, -limit), limit)
            self.tf.append((c, get, adjust))

    def bonuses(self, left: Any) -> list[tuple[int, float, float, str]]:
        """The left record's tf adjustments: per tf comparison, (comparison, adjustment, adjustment for a pair in
        the left record's country, that country or "")."""
        country = (self.kind.tf_country(left) or "") if self._within is not None and self.kind.tf_country else ""
        out = []
        for c, get, adjust in self.tf:
            value = get(left)
            plain = adjust.get(value, 0.0)
            out.append((c, plain, self.same_country(c, value, country) if country and value else plain, country))
        return out

    def same_country(self, c: int, value: str, country: str) -> float:
        """The tf adjustment of an exact agreement on ``value`` between two records of ``country``: p(v) is the
        value's frequency among that country's records (and those of unknown country), one holder left out. The
        pair's place comparison already holds the chance that two records share a place, which is that of sharing
        the country times that of the city within it, so p(v | country) and the place's weight count each once;
        when names do not depend on the country, p(v | country) ≈ p(v) and nothing changes."""
        key = (c, value, country)
        cached = self._same_country.get(key)
        if cached is not None:
            return cached
        assert self._within is not None
        held, records = self._within(c, value, country)
        limit = self._limit
        a = math.log2(self._exact_u[c] * records / (held - 1)) if held > 1 else limit
        a = self._same_country[key] = min(max(a, -limit), limit)
        return a

    def tf_adjustment(self, c: int, left: Any, right: Any) -> float:
        """The tf adjustment of an exact agreement on comparison ``c`` between ``left`` and ``right``."""
        for tc, plain, same, country in self.bonuses(left):
            if tc == c:
                return same if country and self.kind.tf_country and self.kind.tf_country(right) == country else plain
        return 0.0

    def weight(self, vector: list[int], left: Any, right: Any = None) -> float:
        """prior + Σ level weights (missing = 0) + term-frequency adjustments of exact name agreements."""
        w = self.prior + sum(map(_getitem, self.padded, vector))
        for c, _get, _adjust in self.tf:
            if vector[c] == 0:
                w += self.tf_adjustment(c, left, right)
        return float(w)

    def decision(self, left: Any, right: Any, vector: list[int], *, weight: float | None = None) -> Decision:
        """The explained decision on a pair. ``weight`` (a run's, after the one-to-one adjustment) replaces the
        pair's own weight; such a pair was at or above the review band on its own, so it is at least REVIEW."""
        own = self.weight(vector, left, right)
        if weight is None:
            weight = own
        per_comparison = self.kind.explain(left, right, vector)
        tf_extra = {c: (self.tf_adjustment(c, left, right) if vector[c] == 0 else 0.0) for c, _get, _a in self.tf}
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
        guard = self.kind.guard
        band = (
            Band.MATCH
            if weight >= self.match_weight and not (guard is not None and guard(vector))
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


_getitem = list.__getitem__


def _completed(model: MatchModel, default: MatchModel) -> MatchModel:
    """``model`` with the comparisons it lacks taken from ``default``, in the engine's order: a model stored before
    a comparison existed (an organization's estimated model from before "shared people") still scores."""
    own = {comparison.name: comparison for comparison in model.comparisons}
    return replace(model, comparisons=tuple(own.get(c.name, c) for c in default.comparisons))


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
        pair_budget: int = DEFAULT_PAIR_BUDGET,
    ) -> None:
        if model.kind != kind.name:
            raise ValueError(f"a {model.kind} model cannot score {kind.name}")
        if len(model.comparisons) < len(kind.specs):
            model = _completed(model, default_model(kind.name))
        self._kind = kind
        self.model = model
        self.default_region = default_region
        self.block_cap = block_cap
        self.pair_budget = pair_budget

    @classmethod
    def people(
        cls,
        *,
        default_region: str | None = None,
        model: MatchModel | None = None,
        block_cap: int = DEFAULT_BLOCK_CAP,
        pair_budget: int = DEFAULT_PAIR_BUDGET,
    ) -> Matcher[PersonRecord]:
        """A matcher of people (CRM contacts and leads ↔ the workspace's people).

        ``block_cap``: a blocking key held by more records than this on either side is skipped, unless the sets are
        small enough for ``pair_budget`` (about that many pairs in all) to allow it.
        """
        return cast(
            "Matcher[PersonRecord]",
            Matcher(_PEOPLE, model or default_model("people"), default_region, block_cap, pair_budget),
        )

    @classmethod
    def companies(
        cls,
        *,
        default_region: str | None = None,
        model: MatchModel | None = None,
        block_cap: int = DEFAULT_BLOCK_CAP,
        pair_budget: int = DEFAULT_PAIR_BUDGET,
    ) -> Matcher[CompanyRecord]:
        """A matcher of companies (CRM accounts ↔ the workspace's companies); options as ``people``."""
        return cast(
            "Matcher[CompanyRecord]",
            Matcher(_COMPANIES, model or default_model("companies"), default_region, block_cap, pair_budget),
        )

    def with_model(self, model: MatchModel) -> Matcher[R]:
        """This matcher with another model (same kind)."""
        return Matcher(self._kind, model, self.default_region, self.block_cap, self.pair_budget)

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

        People records that hold birth dates on both sides and none of the fields of CRM-shaped data
        (``_registry_shaped``: a registry, not a CRM) are linked with weights estimated from them (``estimate``), as
        ``dedupe`` does: the shipped model's weights and automatic band were learned on CRM-shaped pairs. The
        workspace's people hold no birth date, so the service's CRM-to-workspace links never are.
        """
        model = self.model
        if not isinstance(right, MatchIndex):
            left, right = list(left), list(right)
            model = self._own_model(left, right, single_field=False)
        index = right if isinstance(right, MatchIndex) else self.index(right)
        kind = self._kind
        with _gc_paused():
            left_features = [kind.features(record, self.default_region) for record in left]
            queries = _Queries(kind.keys, left_features)
            left_counts = queries.identifier_counts
            scorer = _Scorer(model, kind, {c: index.tf_table(c) for c in kind.tf_values}, len(index), index.tf_within)

            held: dict[str, int] = {}

            def shared(prefix: str, value: str) -> int:
                # How many records hold this e-mail or phone (the larger side): asked once per value.
                key = f"{prefix}:{value}"
                count = held.get(key)
                if count is None:
                    count = held[key] = max(index.block_size(key), left_counts.get(key, 0))
                return count

            compared, kept = self._score_pairs(
                scorer, left_features, queries, index, shared, best_only=one_to_one == "left", compete=True
            )
            if one_to_one == "both":
                kept = _greedy_one_to_one(kept, left_features, index)
            decisions = [
                scorer.decision(left_features[i], index.features_at(j), levels, weight=w) for w, i, j, levels in kept
            ]
        decisions.sort(key=lambda d: (d.left_id, d.right_id))
        return LinkResult(decisions=decisions, compared_pairs=compared)

    def _score_pairs(
        self,
        scorer: _Scorer,
        left_features: list[Any],
        queries: _Queries,
        index: MatchIndex[Any],
        shared: SharedCount,
        *,
        best_only: bool,
        same_set: bool = False,
        compete: bool = False,
    ) -> tuple[int, list[tuple[float, int, int, list[int]]]]:
        """Score every candidate pair; keep those at or above the review band (only each left record's best one
        when ``best_only``; ties go to the smaller right id). ``compete``: the kept weights are those given that the
        left record has at most one match among its candidates (each lowered by its rivals' odds)."""
        vector = self._kind.vector
        country_of = self._kind.tf_country
        prior, padded = scorer.prior, scorer.padded
        floor = scorer.review_weight
        features: list[Any] = index._features
        compared = 0
        kept: list[tuple[float, int, int, list[int]]] = []
        group: list[tuple[float, int, int, list[int]]] = []  # the current left record's pairs at or above the floor
        odds = 0.0  # Σ 2^w over all its candidates

        def close() -> None:
            if not group:
                return
            chosen = group
            if best_only:
                top = max(w for w, *_ in group)
                tied = [item for item in group if item[0] == top]
                chosen = [min(tied, key=lambda item: features[item[2]].record.id)]
            for w, i, j, levels in chosen:
                if compete:
                    # One record is at most one match: a candidate's odds are shared with its rivals'. Two people
                    # equally likely (the same name at the same company) are each a coin flip, not a link.
                    rivals = odds - math.pow(2.0, min(w, 60.0))
                    w -= math.log2(1.0 + max(rivals, 0.0))
                kept.append((w, i, j, levels))
            group.clear()

        for lefts, rights in _candidate_pairs(
            queries, index, self.block_cap, same_set=same_set, pair_budget=self.pair_budget
        ):
            compared += len(lefts)
            current = -1
            f: Any = None
            bonuses: list[tuple[int, float, float, str]] = []
            # The weight is summed inline (this loop runs once per candidate pair): prior, level weights (the
            # padded tables map "missing" to 0), and the left record's term-frequency bonuses on exact agreement.
            for i, j in zip(lefts, rights, strict=True):
                if i != current:
                    close()
                    odds = 0.0
                    current = i
                    f = left_features[i]
                    bonuses = scorer.bonuses(f)
                g = features[j]
                if g is None:
                    continue
                levels = vector(f, g, shared)
                w = prior + sum(map(_getitem, padded, levels))
                for c, bonus, same, country in bonuses:
                    if levels[c] == 0:
                        w += same if country and country_of is not None and country_of(g) == country else bonus
                if compete and w > -60.0:
                    odds += 2.0 ** min(w, 60.0)
                if w >= floor:
                    group.append((w, i, j, levels))
            close()
        return compared, kept

    def _own_model(self, left: list[R], right: list[R], *, single_field: bool) -> MatchModel:
        """The model of a run: the matcher's, or for registry-shaped records (``_registry_shaped``; with
        ``single_field`` also a list of one field alone) one estimated from them when the estimate stands on them (EM
        converged, or a list of names alone measured its duplicate rate; too few pairs for EM keep the matcher's
        model rather than a u from a handful of random pairs)."""
        model = self.model
        if model.source in _FROM_THIS_DATA:
            return model
        present = _present(self._kind, left, self.default_region)
        if right is not left:
            present &= _present(self._kind, right, self.default_region)
        names = {self._kind.specs[c][0] for c in present}
        if not (_registry_shaped(names) or (single_field and len(present) <= 1)):
            return model
        estimated = self.estimate(left, right)
        return estimated if estimated.source in ("estimated", "default+rate") else model

    def dedupe(self, records: Iterable[R]) -> LinkResult:
        """Decisions (MATCH and REVIEW) between records of one set: each unordered pair at most once, no one-to-one.

        ``left_id``/``right_id`` of a decision are in the records' order (the earlier record on the left).

        A list holding one compared field alone (company names and nothing else) is deduped with the duplicate rate
        measured from the list (``estimate``'s single-field path: the model's weights, this list's prior): how
        many duplicates a record has is the list's property, which no shipped model can know (PATSTAT: 250 names
        per company on average; a CRM-to-workspace link: at most one). So is a list of registry-shaped records
        (``link``): with weights estimated from it.
        """
        records = list(records)
        model = self._own_model(records, records, single_field=True)
        index = self.index(records)
        kind = self._kind
        with _gc_paused():
            scorer = _Scorer(
                model, kind, {c: index.tf_table(c) for c in kind.tf_values}, max(len(index) - 1, 1), index.tf_within
            )

            def shared(prefix: str, value: str) -> int:
                return index.block_size(f"{prefix}:{value}")

            features = index._features
            compared, kept = self._score_pairs(
                scorer, features, _Queries(kind.keys, features), index, shared, best_only=False, same_set=True
            )
            decisions = [scorer.decision(features[i], features[j], levels) for _w, i, j, levels in kept]
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

        # Blocked pairs' patterns (the same blocking as ``link``).
        index: MatchIndex[R] = MatchIndex(kind, self.default_region)
        with _gc_paused():
            index._features = list(rf)
            index._new_hashes = array("q", (hash(k) for at, f in enumerate(rf) for k in set(kind.keys(f))))
            index._new_positions = array("i", (at for at, f in enumerate(rf) for _k in set(kind.keys(f))))
            queries = _Queries(kind.keys, lf)
            patterns: Counter[tuple[int, ...]] = Counter()
            blocked = 0
            for lefts, rights in _candidate_pairs(
                queries, index, self.block_cap, same_set=same_set, pair_budget=self.pair_budget
            ):
                for i, j in zip(lefts, rights, strict=True):
                    patterns[tuple(kind.vector(lf[i], rf[j], no_sharing))] += 1
                blocked += len(lefts)
                if blocked > _MAX_EM_PAIRS:
                    break
        if same_set:
            blocked *= 2  # each unordered pair stands for its two ordered pairs (the rate is per left record)
            patterns = Counter({pattern: 2 * count for pattern, count in patterns.items()})
        # EM separates matches from non-matches only through agreements on several fields that are independent
        # given the match status. With fewer than two fields present (PATSTAT: names only) it cannot (m and u of
        # one field are not identifiable): then the default m and u are kept and only the match rate is measured,
        # as the pairs agreeing exactly on that field divided by its default m of exact agreement.
        present = [
            c
            for c in range(len(specs))
            if sum(count for pattern, count in patterns.items() if pattern[c] >= 0) >= 0.1 * max(blocked, 1)
        ]
        if len(present) < 2:
            exact = sum(count for pattern, count in patterns.items() if present and pattern[present[0]] == 0)
            m_exact = base.comparisons[present[0]].levels[0].m if present else 1.0
            expected = exact / max(m_exact, 1e-3)
            ceiling = max(len(rf) / 2, 1.0) if same_set else 1.0
            if expected < _MIN_MATCHES:
                return replace(base, reference_size=max(len(rf) - (1 if same_set else 0), 1), source="default+rate")
            return replace(
                base,
                match_rate=min(max(expected / len(lf), 0.01), ceiling),
                reference_size=max(len(rf) - (1 if same_set else 0), 1),
                source="default+rate",
                # Within one list of names alone, a name many records hold is held by one entity's many duplicates
                # as often as by namesakes (PATSTAT: "philips electronics" 50 times), and nothing else tells them
                # apart: its frequency is no evidence, so no term-frequency adjustment. Calibrated by this data's
                # rate, the automatic band starts where an estimated model's does (PATSTAT: decision precision
                # 0.999, clustered pairwise F1 0.99).
                tf_limit=0.0 if same_set else base.tf_limit,
                match_probability=_ESTIMATED_MATCH_PROBABILITY,
            )
        correlated = {specs[c][0] for c in present} & _CORRELATED
        if correlated:
            # CRM-shaped data: e-mail, company, its domain, title and phone move together (a job change changes them
            # all), so EM, which assumes fields independent given the match status, overstates agreement. Measured
            # on the synthetic CRM set (10,000 x 100,000): EM put the match rate at 1.0 for a true 0.7 and the
            # automatic band's precision at 0.955; keeping the learned m and rate but this data's u still gave
            # 0.989; the learned model as shipped 0.993. So the learned model stands, unchanged.
            return replace(base, source=base.source if base.source != "default" else "learned")
        m_new, expected = _em(base, u_new, patterns, blocked)
        comparisons: list[Comparison] = []
        for c, comparison in enumerate(base.comparisons):
            levels: list[Level] = []
            for k, lv in enumerate(comparison.levels):
                m = m_new[c][k] if m_new is not None else lv.m
                u = u_new[c][k]
                # Guard rails: agreement never counts against a match, disagreement never for it, and no level
                # says more than exact agreement does (EM gave RLdata's typos more weight than exact names).
                m = min(m, u) if lv.level == "different" else max(m, u)
                if k and levels and m_new is not None:
                    m = min(m, u * levels[0].m / levels[0].u)
                levels.append(Level(lv.level, lv.detail, max(m, 1e-6), max(u, 1e-9)))
            comparisons.append(replace(comparison, levels=tuple(levels)))
        rate = base.match_rate
        if m_new is not None:
            # A left record matches at most one right record when linking; within one set a record may have many
            # duplicates (PATSTAT: hundreds), and the prior stays below 1/2 whatever the rate (MatchModel.prior).
            rate = min(max(expected / len(lf), 0.01), max(len(rf) / 2, 1.0) if same_set else 1.0)
        return replace(
            base,
            comparisons=tuple(comparisons),
            match_rate=rate,
            reference_size=max(len(rf) - (1 if same_set else 0), 1),
            source="estimated" if m_new is not None else "default+u",
            # An estimated model's probabilities are calibrated by EM on this data (independent fields): its
            # automatic band starts at p >= 0.9 (measured precision 1.000 on FEBRL4, 0.993 on RLdata10000; at 0.8
            # RLdata's falls to 0.989), not at the learned model's threshold, which was measured on learned weights.
            match_probability=_ESTIMATED_MATCH_PROBABILITY if m_new is not None else base.match_probability,
        )


_CORRELATED = frozenset({"email", "company", "domain", "title", "phone", "profile_url"})
_FROM_THIS_DATA = frozenset({"estimated", "default+rate", "default+u"})
_SAMPLE = 2000


def _present(kind: _Kind, records: Sequence[Any], region: str | None) -> set[int]:
    """The comparisons these records hold (judged on an even sample of them)."""
    step = max(len(records) // _SAMPLE, 1)
    present: set[int] = set()
    for record in records[::step]:
        f = kind.features(record, region)
        present.update(c for c, level in enumerate(kind.vector(f, f, no_sharing)) if level >= 0)
    return present


def _registry_shaped(present: set[str]) -> bool:
    """Whether records holding these comparisons (on both sides) are a registry's people: birth dates, and none of
    CRM-shaped data's fields (``_CORRELATED``) — data the shipped people model was not learned on (its birth-date
    weights come from FEBRL3), which ``estimate`` weighs from itself."""
    return "birth_date" in present and not present & _CORRELATED


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
