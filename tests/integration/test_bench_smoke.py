"""The sandbox paging benchmark runs end to end on a small org (numbers are not asserted, only the count)."""

from __future__ import annotations

from pathlib import Path

from tests.integration.bench_run import run_bench


def test_paging_benchmark_reads_every_contact(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = run_bench("bench.sandbox_paging", "--contacts", "3000", "--page-size", "1000", out=out, timeout=300)
    assert {run["rows"] for run in result["runs"]} == {3000}
    assert {run["pages"] for run in result["runs"]} == {3}
    assert result["seed_seconds"] > 0


def test_http_client_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "clients.json"
    result = run_bench(
        "bench.http_clients", "--requests", "40", "--concurrency", "4", "--rounds", "1", out=out, timeout=300
    )
    assert set(result["best_requests_per_s"]) == {"aiohttp", "httpx"}
    assert result["aiohttp_over_httpx"] > 0
