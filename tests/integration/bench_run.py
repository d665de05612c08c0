"""Runs a benchmark as ``make bench-*`` does, for the benchmarks' smoke tests (``test_bench_*_smoke.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
"""The repository's root: the benchmarks are the ``bench`` package there."""


def run_bench(
    module: str, *arguments: str, out: Path, timeout: float = 600, python_options: Sequence[str] = ()
) -> dict[str, Any]:
    """``python <python_options> -m <module> <arguments> --out <out>`` from the repository's root; fails with the
    tail of its output unless it exits 0 within ``timeout`` seconds, and returns the JSON it wrote to ``out``."""
    done = subprocess.run(
        [sys.executable, *python_options, "-m", module, *arguments, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result
