"""The console benchmark runs end to end at a tiny size (2,000 contacts, 200 people, 2 loads a page): every page it
measures answers 200 to the user who sees it, and the results name each page with its p50 and p95. Speeds are
not asserted."""

from __future__ import annotations

from pathlib import Path

from tests.integration.bench_run import run_bench


def test_console_benchmark_loads_every_page_and_writes_its_percentiles(tmp_path: Path) -> None:
    out = tmp_path / "console.json"
    results = run_bench(
        "bench.console",
        *("--contacts", "2000", "--people", "200", "--loads", "2"),
        out=out,
        python_options=("-W", "ignore::DeprecationWarning"),
    )
    pages = {(page["who"], page["path"]): page for page in results["pages"]}
    assert ("admin", "/settings/crm/health") in pages
    assert ("seller", "/people") in pages
    assert all(page["status"] == 200 for page in pages.values())
    assert all(0 < page["p50_ms"] <= page["p95_ms"] for page in pages.values())
    assert results["contacts"] == 2000
