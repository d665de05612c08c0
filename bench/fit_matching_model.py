"""Writes the default matching models shipped in the package (src/salesbridge/matching/default_*.json).

    .venv/bin/python bench/fit_matching_model.py            # seeds only
    .venv/bin/python bench/fit_matching_model.py --fit      # seeds, then m/u re-estimated on labelled data

The seeds are each level's m-probability and its weight (log2 m/u) as a starting point; ``--fit`` replaces them by
frequencies counted on labelled pairs (see the printed report). Bands are probability thresholds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from salesbridge.matching.compare import COMPANY_LEVELS, PEOPLE_LEVELS, LevelSpec
from salesbridge.matching.model import Comparison, Level, MatchModel

OUT = Path(__file__).resolve().parent.parent / "src" / "salesbridge" / "matching"

# comparison -> [(m, weight in bits)] per level, strongest first (same order as compare.PEOPLE_LEVELS).
PEOPLE_SEEDS: dict[str, list[tuple[float, float]]] = {
    "profile_url": [(0.95, 24.0), (0.05, -4.0)],
    "email": [(0.85, 22.0), (0.03, 3.0), (0.12, -1.5)],
    "first_name": [(0.80, 6.5), (0.06, 5.0), (0.05, 3.5), (0.03, 1.5), (0.02, 0.3), (0.04, -5.0)],
    "last_name": [(0.88, 9.0), (0.05, 6.0), (0.02, 5.0), (0.02, 0.0), (0.03, -6.0)],
    "birth_date": [(0.90, 12.0), (0.07, 4.0), (0.03, -6.0)],
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args()
    for kind, specs, seeds in (("people", PEOPLE_LEVELS, PEOPLE_SEEDS), ("companies", COMPANY_LEVELS, COMPANY_SEEDS)):
        model = seeded(kind, specs, seeds)
        path = OUT / f"default_{kind}.json"
        path.write_text(json.dumps(model.to_dict(), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
