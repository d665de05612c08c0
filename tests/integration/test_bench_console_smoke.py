"""The console benchmark runs end to end at a tiny size (2,000 contacts, 200 people, 2 loads a page): every page it
measures answers 200 to the user who sees it, and the results name each page with its p50 and p95. Speeds are
not asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_console_benchmark_loads_every_page_and_writes_its_percentiles(tmp_path: Path) -> None:
    out = tmp_path / "console.json"
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore::DeprecationWarning",
            "-m",
            "bench.console",
            "--contacts",
            "2000",
            "--people",
            "200",
            "--loads",
            "2",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(out.read_text(encoding="utf-8"))
    pages = {(page["who"], page["path"]): page for page in results["pages"]}
    assert ("admin", "/settings/crm/health") in pages
    assert ("seller", "/people") in pages
    assert all(page["status"] == 200 for page in pages.values())
    assert all(0 < page["p50_ms"] <= page["p95_ms"] for page in pages.values())
    assert results["contacts"] == 2000
