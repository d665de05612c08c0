"""The import-in-serve benchmark (``make bench-import-in-serve``, bench/import_in_serve.py) runs end to end at a
tiny size: one round, a ``salesbridge serve`` with the SQLite memory limit and one without, each re-reading the
whole CRM while the console's pages load. Its invariants are asserted (every row read again, the limit asked for in
force inside the serve process, pages answered, the process sampled from inside), not its timings. Cost: about 30 s
(a sandbox, a workspace with its first import, two serve processes, 2 s of pages alone in each)."""

from __future__ import annotations

from pathlib import Path

from bench.serve_sampling import kind_of
from tests.integration.bench_run import run_bench


def test_import_in_serve_benchmark_runs_each_limit_and_samples_the_serve_process(tmp_path: Path) -> None:
    result = run_bench(
        "bench.import_in_serve",
        *("--contacts", "1500", "--people", "20", "--list-size", "50", "--rounds", "1"),
        *("--idle-seconds", "2", "--page-every", "0.2", "--sample-every", "0.2"),
        out=tmp_path / "import-in-serve.json",
        timeout=300,
    )
    assert result["problems"] == []
    runs = result["runs"]
    assert [(run["round"], run["sqlite_memory_mib"]) for run in runs] == [(1, 64), (1, 0)]
    assert [run["sqlite"]["soft_heap_limit_mib"] for run in runs] == [64, 0], "the limit in force inside serve"
    crm_rows = result["settings"]["crm_rows"]
    assert crm_rows >= 1500
    for run in runs:
        assert run["import"]["state"] == "succeeded"
        assert run["import"]["rows"] >= crm_rows, "a full read: every row stored again"
        assert run["import"]["rows_per_s"] > 0
        assert run["import"]["import_threads_cpu_s"] >= 0
        assert run["pages_idle"]["pages"] > 0
        assert run["pages_idle"]["page_errors"] == 0
        assert run["pages_idle"]["p50_ms"] > 0
        assert run["write_lock_wait_idle"]["probes"] > 0, "another writer timed its waits for the write lock"
        assert run["peak_rss_mib"] > 0
        assert run["samples"] > 5
        assert run["sqlite"]["heap_at_import_end_mib"] > 0, "SQLite's heap read from inside the serve process"
    (pair,) = result["ratios"]
    assert (pair["round"], pair["order"]) == (1, [64, 0])
    assert pair["rows_per_s"] > 0
    assert any("/lists/" in path for path in result["settings"]["paths"])


def test_serve_threads_are_told_apart_by_their_names() -> None:
    """The import runner's thread and its event loop's executor threads are the import's; uvicorn's main thread and
    Starlette's worker threads the console's."""
    assert kind_of("salesbridge-import-runner") == kind_of("asyncio_0") == "import"
    assert kind_of("MainThread") == kind_of("AnyIO worker thread") == "console"
    assert kind_of("bench-serve-sampler") == "other"
