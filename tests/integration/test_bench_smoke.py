"""The sandbox paging benchmark runs end to end on a small org (numbers are not asserted, only the count)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_paging_benchmark_reads_every_contact(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    subprocess.run(
        [sys.executable, "-m", "bench.sandbox_paging", "--contacts", "3000", "--page-size", "1000", "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    result = json.loads(out.read_text())
    assert {run["rows"] for run in result["runs"]} == {3000}
    assert {run["pages"] for run in result["runs"]} == {3}
    assert result["seed_seconds"] > 0


def test_http_client_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "clients.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.http_clients",
            "--requests",
            "40",
            "--concurrency",
            "4",
            "--rounds",
            "1",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    result = json.loads(out.read_text())
    assert set(result["best_requests_per_s"]) == {"aiohttp", "httpx"}
    assert result["aiohttp_over_httpx"] > 0
