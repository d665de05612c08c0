"""Writes the default matching models shipped in the package (src/salesbridge/matching/default_*.json).

    .venv/bin/python bench/fit_matching_model.py --fit      # what ships: weights counted on labelled pairs
    .venv/bin/python bench/fit_matching_model.py            # the seeds only (starting points, no data)

``--fit`` learns each comparison level's m (its share among true pairs) and u (its share among random pairs) from
labelled data that is NOT one of the benchmark's test sets:

* people: the synthetic CRM generator of the benchmark (``bench/matching_scale.py``) with another seed (7, the
  benchmark uses 13) — 20,000 CRM contacts against 60,000 people; birth date and street, which it does not have,
  from FEBRL3 (a dedupe set; the benchmark uses FEBRL4);
* companies: the company names of that generator's true contact/person pairs whose person did not change jobs
  (legal forms written differently, upper case, typos); the other company fields keep their seeds (no labelled
  company data with domains, phones and places exists offline).

Counts are smoothed (Laplace, 0.5 per level). The match rate is the training set's; the automatic band's threshold
is the lowest weight at which the training decisions keep a precision of at least ``TARGET_PRECISION``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections.abc import Iterable
from dataclasses import replace
from itertools import combinations
from pathlib import Path
from typing import Any

from bench import matching_data, matching_scale
from salesbridge.matching import Band, CompanyRecord, Matcher, PersonRecord
from salesbridge.matching.compare import COMPANY_LEVELS, PEOPLE_LEVELS, LevelSpec, company_vector, person_vector
from salesbridge.matching.features import CompanyFeatures, PersonFeatures
from salesbridge.matching.model import Comparison, Level, MatchModel

TARGET_PRECISION = 0.991
# The generator never replaces a surname (only typos, accents, compounds): it would make a disagreeing one cost
# 8 bits. People do change surnames (marriage; FEBRL replaces them too): a surname disagreeing costs at most 6 bits.
# (A first name keeps its learned cost: bounding it as well raised the training band and lost more CRM links than it
# won FEBRL ones.) Both names disagreeing never links automatically whatever the rest (the engine's guard rail).
NAME_DISAGREEMENT = -6.0
OUT = Path(__file__).resolve().parent.parent / "src" / "salesbridge" / "matching"

# comparison -> [(m, weight in bits)] per level, strongest first (same order as compare.PEOPLE_LEVELS).
PEOPLE_SEEDS: dict[str, list[tuple[float, float]]] = {
    "profile_url": [(0.95, 24.0), (0.05, -4.0)],
    "email": [(0.85, 22.0), (0.03, 3.0), (0.12, -1.5)],
    "first_name": [(0.80, 6.5), (0.06, 5.0), (0.05, 3.5), (0.03, 1.5), (0.02, 0.3), (0.04, -5.0)],
    "last_name": [(0.88, 9.0), (0.05, 6.0), (0.02, 5.0), (0.02, 0.0), (0.03, -6.0)],
    "birth_date": [(0.88, 12.0), (0.06, 6.0), (0.03, 3.0), (0.03, -6.0)],
    "company": [(0.30, 7.0), (0.45, 6.0), (0.08, 3.0), (0.07, 1.5), (0.10, -2.0)],
    "domain": [(0.85, 5.0), (0.15, -1.5)],
    "title": [(0.55, 3.0), (0.20, 1.0), (0.25, -0.5)],
    "phone": [(0.60, 8.0), (0.15, 1.0), (0.25, -1.0)],
    "place": [(0.60, 4.0), (0.25, 2.5), (0.08, 0.5), (0.05, -1.5), (0.02, -4.0)],
    "street": [(0.75, 6.0), (0.15, 3.0), (0.10, -1.5)],
}
COMPANY_SEEDS: dict[str, list[tuple[float, float]]] = {
    "profile_url": [(0.95, 24.0), (0.05, -4.0)],
    "name": [(0.55, 12.0), (0.20, 10.0), (0.15, 6.5), (0.06, 1.0), (0.04, -6.0)],
    "domain": [(0.85, 12.0), (0.15, -3.0)],
    "phone": [(0.60, 14.0), (0.10, 4.0), (0.30, -1.0)],
    "place": [(0.60, 4.0), (0.25, 2.5), (0.08, 0.5), (0.05, -1.5), (0.02, -4.0)],
    "street": [(0.75, 6.0), (0.15, 3.0), (0.10, -1.5)],
    "industry": [(0.80, 1.5), (0.20, -1.0)],
    "size": [(0.85, 1.0), (0.15, -1.5)],
    "people": [(0.90, 10.0), (0.08, 4.0), (0.02, -3.0)],
}


def seeded(kind: str, specs: tuple[LevelSpec, ...], seeds: dict[str, list[tuple[float, float]]]) -> MatchModel:
    comparisons = []
    for name, field, levels, tf in specs:
        row = seeds[name]
        assert len(row) == len(levels), name
        comparisons.append(
            Comparison(
                name=name,
                field=field,
                tf=tf,
                levels=tuple(
                    Level(level, detail, m, m / 2.0**w) for (level, detail), (m, w) in zip(levels, row, strict=True)
                ),
            )
        )
    return MatchModel(
        kind="people" if kind == "people" else "companies",
        comparisons=tuple(comparisons),
        match_rate=0.6,
        reference_size=1000,
        match_probability=0.99,
        review_probability=0.5,
        tf_limit=4.0,
        source="default",
    )


def _smoothed(counts: list[float]) -> list[float]:
    total = sum(counts) + 0.5 * len(counts)
    return [(count + 0.5) / total for count in counts]


def _count(vectors: Iterable[list[int]], sizes: list[int]) -> list[list[float]]:
    counts = [[0.0] * n for n in sizes]
    for vector in vectors:
        for c, level in enumerate(vector):
            if level >= 0:
                counts[c][level] += 1
    return counts


def _refit(
    model: MatchModel, m_counts: list[list[float]], u_counts: list[list[float]], names: set[str], low: float = -8.0
) -> MatchModel:
    comparisons = []
    for c, comparison in enumerate(model.comparisons):
        if comparison.name not in names or sum(m_counts[c]) < 30 or sum(u_counts[c]) < 30:
            comparisons.append(comparison)
            continue
        m, u = _smoothed(m_counts[c]), _smoothed(u_counts[c])
        levels = []
        for k, level in enumerate(comparison.levels):
            if not m_counts[c][k] and not u_counts[c][k]:
                levels.append(level)  # never seen in the data (same_account: no company refs there): the seed stays
                continue
            mk, uk = m[k], u[k]
            mk = min(mk, uk) if level.level == "different" else max(mk, uk)  # the same guard rails as estimation
            # A synthetic set is tidier than life (its CRM city is always the company's): no single field may weigh
            # beyond [low, +16] bits (identifiers: +20; low: -8 for people, -4 for companies), so one field never
            # outweighs the rest of the record.
            high = 20.0 if comparison.name in ("profile_url", "email", "phone") else 16.0
            if levels and comparison.levels[0].level == "exact":
                high = min(high, levels[0].weight)  # no level says more than exact agreement (as in estimation)
            floor = NAME_DISAGREEMENT if comparison.name == "last_name" and level.level == "different" else low
            weight = min(max(math.log2(mk / uk), floor), high)
            uk = mk / 2.0**weight
            levels.append(Level(level.level, level.detail, mk, uk))
        comparisons.append(Comparison(comparison.name, comparison.field, tuple(levels), comparison.tf))
        print(f"  {comparison.name}: " + ", ".join(f"{lv.detail or lv.level} {lv.weight:+.1f}" for lv in levels))
    return replace(model, comparisons=tuple(comparisons), source="learned")


def _pooled(a: list[list[float]], b: list[list[float]], c: int) -> list[list[float]]:
    """Counts with comparison ``c``'s rows of ``a`` and ``b`` added, each first scaled to the same total."""
    out = [row[:] for row in a]
    total_a, total_b = sum(a[c]), sum(b[c])
    out[c] = [x / max(total_a, 1) * 10_000 + y / max(total_b, 1) * 10_000 for x, y in zip(a[c], b[c], strict=True)]
    return out


def _person(row: dict[str, Any]) -> PersonRecord:
    return PersonRecord(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in row.items()})


def fit_people(model: MatchModel) -> MatchModel:
    rnd = random.Random(7)
    data = matching_scale.generate(20_000, 60_000, seed=7, make=_person)
    people = {p.id: PersonFeatures(p, "ES") for p in data.people}
    contacts = {c.id: PersonFeatures(c, "ES") for c in data.contacts}
    sizes = [len(spec[2]) for spec in PEOPLE_LEVELS]
    true_vectors = [person_vector(contacts[c], people[p]) for c, p in data.truth.items()]
    people_list, contact_list = list(people.values()), list(contacts.values())
    random_vectors = [person_vector(rnd.choice(contact_list), rnd.choice(people_list)) for _ in range(200_000)]
    print(f"people: {len(true_vectors)} true pairs, {len(random_vectors)} random pairs (generator seed 7)")
    generator_fields = {c[0] for c in PEOPLE_LEVELS} - {"birth_date", "street", "place"}
    generator_m, generator_u = _count(true_vectors, sizes), _count(random_vectors, sizes)
    model = _refit(model, generator_m, generator_u, generator_fields)
    # FEBRL3 for what the generator lacks.
    wheel = matching_data.ensure_wheels()["mismo"]
    rows = matching_data.read_csv_in_wheel(wheel, "mismo/_data/_datasets/febrl/dataset3.csv")
    febrl = [
        PersonFeatures(PersonRecord(**{**matching_data._febrl_person({**row, "rec_id": row["record_id"]})}), None)
        for row in rows
    ]
    entity = [row["label_true"] for row in rows]
    groups: dict[str, list[int]] = {}
    for at, label in enumerate(entity):
        groups.setdefault(str(label), []).append(at)
    febrl_true = [person_vector(febrl[a], febrl[b]) for ids in groups.values() for a, b in combinations(ids, 2)]
    febrl_random = []
    while len(febrl_random) < 100_000:
        a, b = rnd.randrange(len(febrl)), rnd.randrange(len(febrl))
        if entity[a] != entity[b]:
            febrl_random.append(person_vector(febrl[a], febrl[b]))
    print(f"people (birth date, street): FEBRL3, {len(febrl_true)} true pairs, {len(febrl_random)} random pairs")
    febrl_m, febrl_u = _count(febrl_true, sizes), _count(febrl_random, sizes)
    model = _refit(model, febrl_m, febrl_u, {"birth_date", "street"})
    # The place from both, each source weighing the same: the generator has cities and no postcodes, FEBRL3 has
    # postcodes (a postcode and its town agreeing is rarer among strangers than a city alone).
    place = next(c for c, spec in enumerate(PEOPLE_LEVELS) if spec[0] == "place")
    pooled_m, pooled_u = _pooled(generator_m, febrl_m, place), _pooled(generator_u, febrl_u, place)
    print("people (place): the generator's and FEBRL3's pairs pooled")
    model = _refit(model, pooled_m, pooled_u, {"place"})
    rate = len(data.truth) / len(data.contacts)
    model = replace(model, match_rate=rate, reference_size=len(data.people), source="learned")
    open_band = model.with_bands(
        match_probability=model.review_probability, review_probability=model.review_probability
    )
    decisions = Matcher.people(default_region="ES", model=open_band).link(data.contacts, data.people).decisions
    return _with_bands(model, decisions, data.truth, "people")


def _with_bands(model: MatchModel, decisions: Any, truth: dict[str, str], kind: str) -> MatchModel:
    """The automatic band from the lowest weight above which the training decisions keep ``TARGET_PRECISION``
    (ranked by weight: probabilities saturate at 1.0)."""
    # Pairs the guard rail keeps out of the automatic band (decisions made with that band at the review band's
    # threshold, yet not MATCH) cannot lower its precision.
    ranked = sorted((d for d in decisions if d.band is Band.MATCH), key=lambda d: -d.weight)
    good = 0
    threshold = ranked[0].weight if ranked else 20.0
    for count, decision in enumerate(ranked, start=1):
        good += truth.get(decision.left_id) == decision.right_id
        if good / count >= TARGET_PRECISION and count >= 100:
            threshold = decision.weight
    # Never below p = 0.99 (6.63 bits), whatever the training set allows.
    threshold = min(max(threshold, math.log2(99.0)), 30.0)
    probability = 1.0 / (1.0 + 2.0**-threshold)
    print(f"{kind}: automatic band from weight {threshold:.2f} (probability {probability:.8f})")
    return replace(model, match_probability=probability)


def fit_companies(model: MatchModel) -> MatchModel:
    """Company weights counted on the demo workspace generator's labelled accounts ↔ companies, generated from
    another CRM (sandbox seed ``scale:20000``; the benchmark uses ``demo`` and ``scale:10000``) with another
    workspace seed (7; the benchmark uses 13); the name's levels pooled with Leipzig's organisation strings
    (company names written many ways, as PATSTAT's are). The automatic band as for people."""
    rnd = random.Random(7)
    _people, companies = matching_data.load_demo("scale:20000", seed=7)
    left = matching_data.records("companies", companies.left)
    right = matching_data.records("companies", companies.right)
    lf = {r.id: CompanyFeatures(r, "ES") for r in left}
    rf = {r.id: CompanyFeatures(r, "ES") for r in right}
    sizes = [len(spec[2]) for spec in COMPANY_LEVELS]
    true_vectors = [company_vector(lf[a], rf[b]) for a, b in companies.truth]
    left_list, right_list = list(lf.values()), list(rf.values())
    random_vectors = [company_vector(rnd.choice(left_list), rnd.choice(right_list)) for _ in range(200_000)]
    print(f"companies: demo generator (CRM scale:20000, seed 7), {len(true_vectors)} true pairs, 200,000 random")
    m_counts, u_counts = _count(true_vectors, sizes), _count(random_vectors, sizes)
    # Leipzig affiliations: the name's levels only (nothing else is held), pooled with the generator's counts
    # (the generator rarely misspells a company name; Leipzig's strings vary as PATSTAT's do).
    wheel = matching_data.ensure_wheels()["mismo"]
    rows = matching_data.read_csv_in_wheel(wheel, "mismo/_data/_datasets/leipzig/affiliations.csv")
    features = [CompanyFeatures(CompanyRecord(str(row["record_id"]), name=row["affiliation"]), None) for row in rows]
    entity = [str(row["label_true"]) for row in rows]
    groups: dict[str, list[int]] = {}
    for at, label in enumerate(entity):
        groups.setdefault(label, []).append(at)
    pairs = [(a, b) for ids in groups.values() for a, b in combinations(ids, 2)]
    pairs = rnd.sample(pairs, min(len(pairs), len(true_vectors)))
    name = next(c for c, spec in enumerate(COMPANY_LEVELS) if spec[0] == "name")
    for a, b in pairs:
        m_counts[name][company_vector(features[a], features[b])[name]] += 1
    drawn = 0
    while drawn < 100_000:
        a, b = rnd.randrange(len(features)), rnd.randrange(len(features))
        if entity[a] != entity[b]:
            u_counts[name][company_vector(features[a], features[b])[name]] += 1
            drawn += 1
    print(f"companies (name): + Leipzig affiliations, {len(pairs)} true pairs, 100,000 random pairs")
    # The generator's accounts and companies never disagree without reason (sizes, places and websites always
    # agree): a disagreement may cost at most 4 bits, as in the seeds. (Industry keeps its seeds: the generator's
    # pairs never hold it on both sides.)
    names = {spec[0] for spec in COMPANY_LEVELS}
    model = _refit(model, m_counts, u_counts, names, low=-4.0)
    rate = len({a for a, _ in companies.truth}) / len(left)
    # A lone pair (``Matcher.score``) is judged as if among 1,000 companies, as the seeds were.
    model = replace(model, match_rate=rate, reference_size=1000, source="learned")
    open_band = model.with_bands(
        match_probability=model.review_probability, review_probability=model.review_probability
    )
    matcher = Matcher.companies(default_region="ES", model=open_band)
    truth = dict(companies.truth)
    return _with_bands(model, matcher.link(left, right).decisions, truth, "companies")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fit", action="store_true", help="learn m and u from labelled pairs (see the docstring)")
    parser.add_argument("--kinds", default="people,companies", help="which models to write (comma-separated)")
    args = parser.parse_args()
    kinds = set(args.kinds.split(","))
    for kind, specs, seeds in (("people", PEOPLE_LEVELS, PEOPLE_SEEDS), ("companies", COMPANY_LEVELS, COMPANY_SEEDS)):
        if kind not in kinds:
            continue
        model = seeded(kind, specs, seeds)
        if args.fit:
            model = fit_people(model) if kind == "people" else fit_companies(model)
        path = OUT / f"default_{kind}.json"
        path.write_text(json.dumps(model.to_dict(), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
