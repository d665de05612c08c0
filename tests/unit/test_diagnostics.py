"""The opt-in allocation trace (``SALESBRIDGE_TRACEMALLOC_FILE``) names the traceback of memory that grew and the
object types that multiplied, and is off unless a file is given."""

from __future__ import annotations

from pathlib import Path

from salesbridge.diagnostics import AllocationTrace, allocation_trace


class Hoarded:
    """Objects a test keeps, standing for a leak."""


def test_a_dump_names_the_traceback_and_the_type_that_grew(tmp_path: Path) -> None:
    trace = AllocationTrace(tmp_path / "trace.txt", every_s=3600)  # the thread would wait an hour: dumps by hand
    trace.start()
    try:
        trace.dump()  # the baseline
        hoard = [Hoarded() for _ in range(5_000)]
        trace.dump()
    finally:
        trace.stop()
    text = (tmp_path / "trace.txt").read_text()
    assert text.count("=== dump") == 2
    assert f"{Path(__file__).name}:" in text.split("since the baseline", 1)[1]
    assert "+5,000 tests.unit.test_diagnostics.Hoarded" in text or f"+{len(hoard):,} {__name__}.Hoarded" in text


def test_off_without_a_file() -> None:
    with allocation_trace(None, 1.0) as trace:
        assert trace is None
