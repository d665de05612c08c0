"""The writeback benchmark runs end to end at a tiny size (640 InMail and messages, 160 notes and calls, two rounds
at the drainer's batch size and one at 160): the sandbox in its own process, the bare CreateMultiple client, the
drains from a SQLite store; every activity counted once in the sandbox; counts are asserted, not speeds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.integration.bench_run import ROOT, run_bench


def test_writeback_benchmark_runs_every_round_and_counts_each_activity_once(tmp_path: Path) -> None:
    out = tmp_path / "writeback.json"
    result = run_bench(
        "bench.writeback",
        *("--bulk", "640", "--batched", "160", "--rounds", "2", "--batch-sizes", "160"),
        *("--contacts", "500", "--people", "300", "--working-tree"),
        out=out,
    )
    assert [r["round"] for r in result["rounds"]] == [1, 2, 3]
    assert result["rounds"][2]["batch_size"] == 160
    for round_ in result["rounds"]:
        assert round_["ceiling"]["records"] == 640
        assert round_["ceiling"]["records_per_request"] == 40  # 640 over 2 tables and 8 sellers, one request each
        for path, records in (("bulk", 640), ("batched", 160)):
            figures = round_[path]
            assert figures["records"] == records
            assert figures["summary"]["delivered"] == records
            assert figures["exactly_once"] is True
            assert sum(table["found"] for table in figures["sandbox"].values()) == records
            assert figures["requests"] > 0
    bulk_tables = set(result["rounds"][0]["bulk"]["sandbox"])
    assert bulk_tables == {"sbr_inmail", "sbr_message"}
    assert set(result["rounds"][0]["batched"]["sandbox"]) == {"annotation", "phonecall"}
    # A claim of 160 spreads over 16 (table, seller) pairs: more, smaller requests than at the default batch size.
    assert result["rounds"][2]["bulk"]["requests"] > result["rounds"][0]["bulk"]["requests"]
    assert result["summary"]["exactly_once"] is True
    assert (
        "| 3 | 160 |"
        in subprocess.run(
            [sys.executable, "-m", "bench.writeback", "--markdown", str(out)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    )
