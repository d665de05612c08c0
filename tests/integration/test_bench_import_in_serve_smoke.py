"""The import-in-serve benchmark (``make bench-import-in-serve``, bench/import_in_serve.py) runs end to end at a
tiny size, once per comparison: one round of a ``salesbridge serve`` with the SQLite memory limit and one without
(the import on the runner's thread, ``SALESBRIDGE_IMPORT_PROCESS=thread``, pinned), and one round of the import on
the runner's thread and in a process of its own (``child``), each re-reading the whole CRM while the console's pages
load. Its invariants are asserted (every row read again, the limit asked for in force inside serve and the child,
pages answered, the serve process sampled from inside and the child into a file of its own, each figure the results
table shows present), not its timings. Cost: about 60 s (per comparison a sandbox, a workspace with its first import,
two serve processes, 2 s of pages alone in each)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.serve_sampling import child_pattern, kind_of
from tests.integration.bench_run import run_bench

TINY = (
    *("--contacts", "1500", "--people", "20", "--list-size", "50", "--rounds", "1"),
    *("--idle-seconds", "2", "--page-every", "0.2", "--sample-every", "0.2"),
)


def assert_run_measured(run: dict[str, Any], crm_rows: int) -> None:
    """The figures every run reports, whatever is compared."""
    assert run["import"]["state"] == "succeeded"
    assert run["import"]["rows"] >= crm_rows, "a full read: every row stored again"
    assert run["import"]["rows_per_s"] > 0
    assert run["import"]["waited_s"] >= 0
    assert run["import"]["import_threads_cpu_s"] >= 0
    assert run["import"]["cpu_s"] >= 0
    assert run["pages_idle"]["pages"] > 0
    assert run["pages_idle"]["page_errors"] == 0
    assert run["pages_idle"]["p50_ms"] > 0
    assert run["pages_during_import"]["page_errors"] == 0
    assert run["write_lock_wait_idle"]["probes"] > 0, "another writer timed its waits for the write lock"
    assert run["peak_rss_mib"] > 0
    assert run["peak_rss_at_import_end_mib"] >= run["rss_at_import_end_mib"] > 0
    assert run["samples"] > 5
    assert len(run["sampled_pids"]) == 1, "the serve process's samples are its own"
    assert run["sqlite"]["heap_at_import_end_mib"] > 0, "SQLite's heap read from inside the serve process"


def test_import_in_serve_benchmark_runs_each_limit_and_samples_the_serve_process(tmp_path: Path) -> None:
    result = run_bench("bench.import_in_serve", *TINY, out=tmp_path / "import-in-serve.json", timeout=300)
    assert result["problems"] == []
    assert result["settings"]["compare"] == "sqlite-memory"
    runs = result["runs"]
    assert [(run["round"], run["sqlite_memory_mib"], run["import_process"]) for run in runs] == [
        (1, 64, "thread"),
        (1, 0, "thread"),
    ], "the memory comparison keeps the import in serve"
    assert [run["sqlite"]["soft_heap_limit_mib"] for run in runs] == [64, 0], "the limit in force inside serve"
    crm_rows = result["settings"]["crm_rows"]
    assert crm_rows >= 1500
    for run in runs:
        assert_run_measured(run, crm_rows)
        assert run["child"] is None
        assert run["child_processes"] == 0, "no import process started"
        assert run["import"]["import_cpu_of"] == "import threads"
        assert run["import"]["import_cpu_s"] == run["import"]["import_threads_cpu_s"]
    (pair,) = result["ratios"]
    assert (pair["round"], pair["order"]) == (1, [64, 0])
    assert pair["rows_per_s"] > 0
    assert result["ratio_of"] == "64 MiB / no limit"
    assert any("/lists/" in path for path in result["settings"]["paths"])


def test_import_in_serve_benchmark_compares_the_import_in_serve_and_in_a_child(tmp_path: Path) -> None:
    result = run_bench(
        "bench.import_in_serve",
        *("--compare", "import-process", *TINY),
        out=tmp_path / "import-in-serve-import-process.json",
        timeout=300,
    )
    assert result["problems"] == []
    assert result["settings"]["compare"] == "import-process"
    runs = result["runs"]
    assert [(run["round"], run["sqlite_memory_mib"], run["import_process"]) for run in runs] == [
        (1, 64, "thread"),
        (1, 64, "child"),
    ], "the default limit, both import processes"
    crm_rows = result["settings"]["crm_rows"]
    thread, child_run = runs
    assert [run["sqlite"]["soft_heap_limit_mib"] for run in runs] == [64, 8], (
        "serve keeps the import's limit when the import runs in it, the console's own beside a child"
    )
    for run in runs:
        assert_run_measured(run, crm_rows)
        assert run["import"]["import_cpu_s"] > 0
        assert run["import"]["total_cpu_s"] >= run["import"]["cpu_s"]
    assert thread["child"] is None
    assert thread["child_processes"] == 0
    child = child_run["child"]
    assert child is not None, "the child sampled itself"
    assert child["pid"] not in child_run["sampled_pids"], "into a file of its own"
    assert child["samples"] > 0
    assert child["sqlite"]["soft_heap_limit_mib"] == 64, "the child keeps the import's limit"
    assert child["sqlite"]["heap_at_import_end_mib"] > 0
    assert child["start_up_s"] > 0, "the child starts before it claims the run"
    assert child["start_up_s"] <= child_run["import"]["waited_s"] + 0.1, "its start-up is part of the wait"
    assert child["cpu_s"] >= child["cpu_before_import_s"] > 0
    assert child_run["import"]["import_cpu_s"] == child["cpu_s"], "the child's CPU, start-up included"
    assert child_run["import"]["import_cpu_of"] == "child process"
    assert child["peak_rss_mib"] >= child["rss_at_import_end_mib"] > 0
    (pair,) = result["ratios"]
    assert (pair["round"], pair["order"]) == (1, ["thread", "child"])
    assert result["ratio_of"] == "child / thread"
    for figure in ("rows_per_s", "import_cpu_s", "total_cpu_s", "peak_rss", "rss_at_import_end"):
        assert pair[figure] is not None, figure
        assert pair[figure] > 0, figure


def test_serve_threads_are_told_apart_by_their_names() -> None:
    """The import runner's thread and its event loop's executor threads are the import's; uvicorn's main thread and
    Starlette's worker threads the console's."""
    assert kind_of("salesbridge-import-runner") == kind_of("asyncio_0") == "import"
    assert kind_of("MainThread") == kind_of("AnyIO worker thread") == "console"
    assert kind_of("bench-serve-sampler") == "other"


def test_a_child_of_the_serve_process_samples_into_a_file_of_its_own() -> None:
    assert child_pattern(Path("/x/round1.samples.jsonl")) == "/x/round1.samples.child-{pid}.jsonl"
