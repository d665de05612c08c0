"""Allocation tracing for finding memory growth in a long-running process (the soak, ``bench/soak.py``).

Off by default and costly when on (tracemalloc keeps a traceback for every live allocation: the process runs
several times slower and holds more memory): only ``SALESBRIDGE_TRACEMALLOC_FILE`` turns it on, for a diagnosis.
With ``SALESBRIDGE_TRACEMALLOC_FRAMES=0`` it only counts live objects by type (a second or so per dump, nothing in
between): the process keeps its speed.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import re
import sys
import tempfile
import threading
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from salesbridge.native import c_function

FRAMES = 8
"""Frames kept per allocation by default: enough to see which of our callers a library's allocation comes from."""
TOP = 25
"""Tracebacks and object types written per dump."""


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    ] + [("keepcost", ctypes.c_size_t)]


def malloc_heap_bytes() -> tuple[int, int] | None:
    """The C heap as glibc's ``mallinfo2`` sees it (main arena and the threads' arenas): bytes in use (Python's
    objects, SQLite's page cache, OpenSSL...; mapped blocks included) and bytes free but kept by the allocator
    (fragmentation: counted in RSS, not a leak). None where there is no glibc 2.33+."""
    mallinfo2 = c_function("c", "mallinfo2", _MallInfo2)
    if mallinfo2 is None:
        return None
    info = mallinfo2()
    return info.uordblks + info.hblkhd, info.fordblks


def sqlite_memory_bytes() -> int | None:
    """The memory SQLite holds in this process, every connection's page cache and statements together
    (``sqlite3_memory_used`` of the library the ``sqlite3`` module runs on); None where it cannot be read."""
    memory_used = c_function("sqlite3", "sqlite3_memory_used", ctypes.c_int64)
    return None if memory_used is None else int(memory_used())


def _malloc_figures() -> str:
    heap = malloc_heap_bytes()
    if heap is None:
        return ""
    return f", malloc in use {heap[0] / 2**20:.1f} MiB, free but held {heap[1] / 2**20:.1f} MiB"


def _sqlite_figures() -> str:
    used = sqlite_memory_bytes()
    return "" if used is None else f", SQLite {used / 2**20:.1f} MiB"


_OBMALLOC_FIGURE = re.compile(
    r"^# (arenas allocated current|bytes in allocated blocks|bytes in available blocks)\s*=\s*([\d,]+)"
)
_UNUSED_POOLS = re.compile(r"^\d+ unused pools \* \d+ bytes\s*=\s*([\d,]+)")


def _obmalloc_figures() -> str:
    """Python's own allocator for small objects (pymalloc), which takes memory from the system in 1 MiB arenas
    that malloc_trim does not reach and that go back only once wholly empty: the arenas held, and inside them the
    bytes in live blocks, in free blocks and in unused pools (free but held). Read from ``sys._debugmallocstats``,
    which writes to the C stderr: captured for the call, so a line another thread writes to stderr meanwhile is
    lost (this runs only in a diagnosis). Empty while tracemalloc traces (its hooks stand in front of pymalloc,
    which then reports nothing) and where the figures cannot be read."""
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        try:
            sys.stderr.flush()
            os.dup2(sink.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        text = sink.read().decode(errors="replace")
    figures: dict[str, int] = {}
    for line in text.splitlines():
        if match := _OBMALLOC_FIGURE.match(line):
            figures.setdefault(match.group(1), int(match.group(2).replace(",", "")))
        elif match := _UNUSED_POOLS.match(line):
            figures.setdefault("unused pools", int(match.group(1).replace(",", "")))
    if "arenas allocated current" not in figures:
        return ""
    mib = {name: value / 2**20 for name, value in figures.items()}
    return (
        f", Python arenas {figures['arenas allocated current']} (blocks in use "
        f"{mib.get('bytes in allocated blocks', 0):.1f} MiB, free {mib.get('bytes in available blocks', 0):.1f} MiB, "
        f"unused pools {mib.get('unused pools', 0):.1f} MiB)"
    )


def _object_counts() -> Counter[str]:
    """Live objects tracked by the collector, by type (qualified name)."""
    return Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())


class AllocationTrace:
    """Every ``every_s`` seconds, appends to ``path``: the top allocation growths by traceback since the first dump
    (the baseline: taken one period after the start, once the process warmed up) and since the previous dump, and
    the object types whose live count grew most since the baseline (``gc.get_objects``).

    A growth that keeps rising from dump to dump at the same traceback is a leak; one that stops is a cache filling.
    """

    def __init__(self, path: Path, every_s: float, frames: int = FRAMES) -> None:
        """``frames``: per traced allocation; 0 traces nothing (object counts only)."""
        self.path = path
        self.every_s = every_s
        self.frames = frames
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._baseline: tracemalloc.Snapshot | None = None
        self._previous: tracemalloc.Snapshot | None = None
        self._baseline_counts: Counter[str] = Counter()
        self.dumps = 0

    def start(self) -> None:
        """Start tracing and the dumping thread (a daemon)."""
        if self.frames:
            tracemalloc.start(self.frames)
        self._thread = threading.Thread(target=self._loop, name="allocation-trace", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and tracing."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        if self.frames:
            tracemalloc.stop()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.dump()

    def _snapshot(self) -> tracemalloc.Snapshot | None:
        if not self.frames:
            return None
        return tracemalloc.take_snapshot().filter_traces(
            (
                tracemalloc.Filter(False, tracemalloc.__file__),
                tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
                tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
            )
        )

    def dump(self) -> None:
        """One dump (the first sets the baseline and writes the totals only). A full collection first: what is
        counted and traced is what is still reachable, not cyclic garbage the collector has not reached yet."""
        collected = gc.collect()
        snapshot = self._snapshot()
        counts = _object_counts()
        current, peak = tracemalloc.get_traced_memory()
        lines = [
            f"=== dump {self.dumps} at {datetime.now(UTC).isoformat(timespec='seconds')}: "
            f"traced {current / 2**20:.1f} MiB (peak {peak / 2**20:.1f}), {sum(counts.values()):,} gc objects "
            f"({collected:,} unreachable collected), {sys.getallocatedblocks():,} Python memory blocks"
            f"{_obmalloc_figures()}{_sqlite_figures()}{_malloc_figures()}"
        ]
        if not self.dumps:
            self._baseline, self._baseline_counts = snapshot, counts
        else:
            for title, before in (("since the baseline", self._baseline), ("since the previous dump", self._previous)):
                if snapshot is None or before is None:
                    break
                lines.append(f"--- top {TOP} growths by traceback {title}")
                for stat in snapshot.compare_to(before, "traceback")[:TOP]:
                    if stat.size_diff <= 0:
                        break
                    lines.append(
                        f"{stat.size_diff / 1024:+.1f} KiB ({stat.count_diff:+d} blocks), now {stat.size / 1024:.1f}"
                        f" KiB in {stat.count} blocks"
                    )
                    lines.extend(f"    {frame.filename}:{frame.lineno}" for frame in stat.traceback)
            counts.subtract(self._baseline_counts)
            lines.append(f"--- top {TOP} object types by live count growth since the baseline")
            lines.extend(f"{n:+,} {name}" for name, n in counts.most_common(TOP) if n > 0)
        self._previous = snapshot
        self.dumps += 1
        with self.path.open("a", encoding="utf-8") as sink:
            sink.write("\n".join(lines) + "\n")


@contextlib.contextmanager
def allocation_trace(path: Path | None, every_s: float, frames: int = FRAMES) -> Iterator[AllocationTrace | None]:
    """An :class:`AllocationTrace` to ``path`` running while the block runs; nothing when ``path`` is None."""
    if path is None:
        yield None
        return
    trace = AllocationTrace(path, every_s, frames)
    trace.start()
    try:
        yield trace
    finally:
        trace.stop()
