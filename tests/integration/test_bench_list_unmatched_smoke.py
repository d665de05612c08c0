"""The lists' unmatched-count benchmark runs end to end at a tiny size (2,000 contacts, 1,000 and 1,500 ties, one
round, SQLite and PostgreSQL): the old and new queries agree (the benchmark fails otherwise), every phase reports
one timing of each, and the counts are the list's. Speeds are not asserted. About 20 s: a PostgreSQL cluster is
started and four stores are migrated and seeded, as the benchmark does."""

from __future__ import annotations

from pathlib import Path

from tests.integration.bench_run import run_bench


def test_list_unmatched_benchmark_times_both_queries_and_they_agree(tmp_path: Path) -> None:
    results = run_bench(
        "bench.list_unmatched",
        *("--contacts", "2000", "--ties", "1000", "1500", "--rounds", "1"),
        out=tmp_path / "list_unmatched.json",
        python_options=("-W", "ignore::DeprecationWarning"),
    )
    found = {(scenario["database"], scenario["ties"]): scenario for scenario in results["scenarios"]}
    assert set(found) == {(database, ties) for database in ("postgresql", "sqlite") for ties in (1000, 1500)}
    # The list holds all 2,000 contacts: the console's seed ties 200 (one person per 10 contacts), the benchmark
    # ties the next ones up to 1,000 or 1,500 ties (one in seven of those in review instead).
    assert {ties: scenario["unmatched"] for (_, ties), scenario in found.items()} == {1000: 1000, 1500: 500}
    phases = {(database, phase["phase"]) for (database, _), scenario in found.items() for phase in scenario["phases"]}
    assert phases == {("postgresql", "as imported"), ("postgresql", "after ANALYZE"), ("sqlite", "as imported")}
    assert all(
        len(phase["old_ms"]) == len(phase["new_ms"]) == 1
        for scenario in results["scenarios"]
        for phase in scenario["phases"]
    )
