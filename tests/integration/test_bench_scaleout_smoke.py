"""The scale-out benchmark runs end to end at a tiny size (2 organizations of 200 contacts): sandboxes, a
throwaway PostgreSQL cluster, the embedded runner and real worker processes; counts are asserted, not speeds."""

from __future__ import annotations

from pathlib import Path

from tests.integration.bench_run import run_bench


def test_scaleout_benchmark_runs_every_configuration(tmp_path: Path) -> None:
    out = tmp_path / "scaleout.json"
    result = run_bench(
        "bench.scaleout",
        *("--organizations", "2", "--contacts", "200", "--latency-ms", "20", "--workers", "1,1x2", "--rounds", "2"),
        out=out,
    )
    assert result["problems"] == []
    assert result["configurations"] == ["embedded-sqlite", "embedded-postgresql", "workers-1", "workers-1x2"]
    assert result["sandbox_processes"] == 2
    assert len(result["runs"]) == 8  # every configuration in each of the two rounds, every round kept
    first, second = ([run["configuration"] for run in result["runs"] if run["round"] == n] for n in (1, 2))
    assert second == list(reversed(first))  # the order alternates
    for run in [*result["runs"], result["calibration_no_latency"]]:
        assert run["complete"] is True
        assert run["organizations_synced"] == 2
        assert run["failed_runs"] == 0
        assert run["organizations_per_minute"] > 0
    workers = [run for run in result["runs"] if run["jobs"] == "procrastinate"]
    assert {(run["processes"], run["concurrency"]) for run in workers} == {(1, 1), (1, 2)}
    assert all(run["cpu_seconds"]["postgresql"] > 0 for run in workers)
    assert set(result["summary"]) == set(result["configurations"])
