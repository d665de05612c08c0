"""The change-cost benchmark runs end to end on a small org (numbers are not asserted, only what each run did)."""

from __future__ import annotations

from pathlib import Path

from tests.integration.bench_run import run_bench


def test_change_cost_benchmark_runs_every_step(tmp_path: Path) -> None:
    out = tmp_path / "change_cost.json"
    result = run_bench(
        "bench.change_cost", "--rows", "2000", "--changes", "40", "--rounds", "1", "--mix", "lists", out=out
    )
    (round_,) = result["rounds"]
    for run in ("incremental", "full_recompute"):
        assert round_["nothing_changed"][run]["rows_imported"] == 0
        assert round_["changes"][run]["rows_imported"] == 40
        assert sum(round_["changes"][run]["made"]["changed"].values()) == 40
    assert round_["nothing_changed"]["incremental"]["derived"]["derived_from_every_row"] is False
    assert round_["changes"]["incremental"]["derived"]["derived_from_every_row"] is False
    assert round_["changes"]["full_recompute"]["derived"]["derived_from_every_row"] is True
    assert set(result["summary"]) >= {"start_s", "changes_incremental_beyond_start_s", "goals_met"}
