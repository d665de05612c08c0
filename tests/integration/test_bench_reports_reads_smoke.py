"""The Reports written-back counts benchmark runs end to end at a tiny size (1,000 activities, 3 sellers, two rounds
of one call, SQLite and PostgreSQL): the old per-row read and the store's grouped read agree (the benchmark exits 1
otherwise), every round times and traces both, and they count every seeded activity of the 12 weeks. Speeds are
not asserted. A few seconds: a PostgreSQL cluster is started and two small stores are seeded."""

from __future__ import annotations

from pathlib import Path

from tests.integration.bench_run import run_bench


def test_reports_reads_benchmark_times_both_reads_and_they_agree(tmp_path: Path) -> None:
    results = run_bench(
        "bench.reports_reads",
        *("--activities", "1000", "--sellers", "3", "--rounds", "2", "--calls", "1"),
        out=tmp_path / "reports-reads.json",
        python_options=("-W", "ignore::DeprecationWarning"),
    )
    assert results["problems"] == []
    assert {scenario["database"] for scenario in results["scenarios"]} == {"sqlite", "postgresql"}
    for scenario in results["scenarios"]:
        assert scenario["agree"] is True
        # Every delivered activity seeded in the 12 weeks is counted; the older and the queued ones are not.
        assert scenario["counted"] == 1000
        assert scenario["activities_in_table"] == 1100
        assert [found["order"] for found in scenario["rounds"]] == [["per row", "grouped"], ["grouped", "per row"]]
        for found in scenario["rounds"]:
            assert len(found["per_row_ms"]) == len(found["grouped_ms"]) == 1
            assert found["per_row_peak_kib"] > 0
            assert found["grouped_peak_kib"] > 0
