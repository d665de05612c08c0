"""The SQLite sorting-and-memory benchmark runs end to end for a few seconds: two processes read the writeback
status while activities are added, one with migration 0042's indexes dropped (SQLite sorts the activities for the
GROUP BY) and one as migrated (read in index order), and each samples its memory. Memory growth is not asserted
(seconds say nothing about it); the plans are what the benchmark compares, so they are."""

from __future__ import annotations

from pathlib import Path

from tests.integration.bench_run import run_bench


def test_sqlite_sort_memory_benchmark_compares_the_sorted_and_the_index_ordered_status(tmp_path: Path) -> None:
    results = run_bench(
        "bench.sqlite_sort_memory",
        *("--minutes", "0.25", "--activities", "300", "--sample-every", "3", "--readers", "2"),
        out=tmp_path / "sqlite-sort-memory.json",
        python_options=("-W", "ignore::DeprecationWarning"),
    )
    variants = results["variants"]
    assert set(variants) == {"sorted", "index order"}
    assert any("USE TEMP B-TREE FOR GROUP BY" in step for step in variants["sorted"]["plan"])
    assert not any("TEMP B-TREE" in step for step in variants["index order"]["plan"])
    index = "ix_activities_organization_id_item_author_state_hold"
    assert any(index in step for step in variants["index order"]["plan"])
    for found in variants.values():
        assert found["samples"], "no sample taken"
        assert found["added"] > 0
        assert found["reads"] > 0
        assert all(sample["rss_mib"] > 0 for sample in found["samples"])
