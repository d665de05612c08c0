"""The opt-in allocation trace (``SALESBRIDGE_TRACEMALLOC_FILE``) names the traceback of memory that grew and the
object types that multiplied, counts the live objects and the C heap, and is off unless a file is given.

The dumps run in a small child process: a dump collects, counts every live object and filters every traced
allocation of its process, which in the test process (every test module imported, under xdist) took 10-29 s;
in a child that imports only the module it takes well under a second, and what a dump writes is the same."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from salesbridge.diagnostics import _obmalloc_figures, allocation_trace

HOARDER = '''\
import sqlite3
import sys
from pathlib import Path

from salesbridge.diagnostics import AllocationTrace


class Hoarded:
    """Objects the process keeps, standing for a leak."""


trace = AllocationTrace(Path(sys.argv[1]), every_s=3600)  # the thread would wait an hour: dumps by hand
trace.start()
try:
    trace.dump()  # the baseline
    hoard = [Hoarded() for _ in range(5_000)]
    database = sqlite3.connect(":memory:")  # about 5 MiB of pages in SQLite's own memory
    database.execute("CREATE TABLE t (body BLOB)")
    database.executemany("INSERT INTO t VALUES (?)", ((b"x" * 1000,) for _ in range(5_000)))
    trace.dump()
finally:
    trace.stop()
'''
HOARD_LINE = HOARDER.splitlines().index("    hoard = [Hoarded() for _ in range(5_000)]") + 1


def _glibc_with_mallinfo2() -> bool:
    """glibc 2.33 or later: the dump's header then carries the malloc figures."""
    name, _, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")
    return name == "glibc" and tuple(int(part) for part in version.split(".")[:2]) >= (2, 33)


def test_a_dump_names_the_traceback_and_the_type_that_grew_and_counts_objects_and_the_heap(tmp_path: Path) -> None:
    script, out = tmp_path / "hoarder.py", tmp_path / "trace.txt"
    script.write_text(HOARDER, encoding="utf-8")
    subprocess.run([sys.executable, str(script), str(out)], check=True, timeout=120, cwd=tmp_path)

    text = out.read_text(encoding="utf-8")
    assert text.count("=== dump") == 2
    headers = re.findall(r"^=== dump \d+ at .*$", text, flags=re.MULTILINE)
    counts = [int(count.replace(",", "")) for count in re.findall(r", ([\d,]+) gc objects ", text)]
    assert counts[1] - counts[0] >= 5_000, counts
    sqlite = [float(mib) for mib in re.findall(r", SQLite (\d+\.\d) MiB", text)]
    assert len(sqlite) == 2
    assert sqlite[1] - sqlite[0] >= 4, sqlite
    assert ", Python arenas " not in text  # tracemalloc's hooks stand in front of pymalloc: no figures then
    malloc = r", malloc in use \d+\.\d MiB, free but held \d+\.\d MiB$"
    assert all(bool(re.search(malloc, header)) == _glibc_with_mallinfo2() for header in headers), headers

    _, since_baseline = text.split("since the baseline", 1)
    growths, since_previous = since_baseline.split("since the previous dump", 1)
    for section in (growths, since_previous):  # the hoard is the largest growth, at the line that made it
        _, size, frame = section.split("\n", 3)[:3]
        assert size.startswith("+"), section[:500]
        assert frame.strip() == f"{script}:{HOARD_LINE}", section[:500]
    assert "+5,000 __main__.Hoarded" in since_previous.split("object types by live count growth", 1)[1]


def test_pythons_own_arenas_are_counted_when_not_tracing() -> None:
    """Without tracemalloc (the soak's ``--trace-frames 0``), a dump gives pymalloc's arenas and the bytes in them:
    objects kept show as blocks in use."""
    pattern = r"^, Python arenas (\d+) \(blocks in use (\d+\.\d) MiB, free \d+\.\d MiB, unused pools \d+\.\d MiB\)$"
    before = re.match(pattern, _obmalloc_figures())
    kept = [object() for _ in range(200_000)]  # 16 bytes each: about 3 MiB of blocks
    after = re.match(pattern, _obmalloc_figures())
    assert before is not None
    assert after is not None
    assert float(after.group(2)) - float(before.group(2)) >= 2, (before.group(0), after.group(0))
    assert int(after.group(1)) >= int(before.group(1))
    assert len(kept) == 200_000


def test_off_without_a_file() -> None:
    with allocation_trace(None, 1.0) as trace:
        assert trace is None
