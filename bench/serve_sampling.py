"""Samples a ``salesbridge serve`` process from inside: SQLite's own heap, resident memory and CPU by thread, so that
a benchmark can say what the console and the embedded import runner each cost while they share one process.

``bench/serve_hook/sitecustomize.py`` starts :func:`start_sampling` at interpreter start-up when the environment
names a file (:data:`SAMPLES_VARIABLE`); ``bench/import_in_serve.py`` puts that folder on the serve process's
``PYTHONPATH``, so the process runs the product's unchanged ``python -m salesbridge serve`` with one more daemon
thread. Every ``every_s`` seconds the thread appends one JSON line (:func:`sample`); :func:`read_samples` reads them
back. SQLite's counters are read from the library Python's ``sqlite3`` is linked against (the loaded instance:
:func:`bench.sqlite_memory.sqlite_heap`), its high-water mark reset at each sample, so each line holds the most
SQLite held since the previous one.

CPU is split by what the threads run (Python 3.11 gives the kernel no thread names: the sampler maps each thread's
``native_id`` to its :class:`threading.Thread` name): ``import`` is the embedded runner's thread
(``salesbridge-import-runner``) and the default executor threads its event loop stores pages on
(``asyncio_N``, :func:`asyncio.to_thread`); ``console`` is the main thread (uvicorn's event loop) and the worker
threads Starlette runs the pages on (``AnyIO worker thread``); ``other`` is the rest (this sampler, the memory
releaser). A thread that ended keeps the CPU of its last sample (what it used after that, at most one period's, is
lost); the process's own total is exact (``/proc/self/stat``).

A process the serve process starts (the import's own process, ``SALESBRIDGE_IMPORT_PROCESS=child``) inherits the
hook: the first process that samples hands its descendants a file name of their own (:func:`child_pattern`: the
samples file with ``.child-<pid>`` before its suffix), so that the serve process's file holds its samples only and
each child's its own (:func:`child_samples`). Every sample carries the process's start (wall clock, from
``/proc/self/stat``), and a last sample is written when the interpreter exits normally.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from bench.sqlite_memory import sqlite_heap

SAMPLES_VARIABLE = "BENCH_SERVE_SAMPLES"
"""The file the serve process appends its samples to (no sampling when unset)."""
EVERY_VARIABLE = "BENCH_SERVE_SAMPLE_EVERY"
"""Seconds between two samples (default :data:`EVERY_S`)."""
EVERY_S = 0.5
PID_FIELD = "{pid}"
"""In :data:`SAMPLES_VARIABLE`, replaced by the process's id: how a descendant of the serve process is told its file."""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
IMPORT_THREADS = ("salesbridge-import-runner", "asyncio_")
CONSOLE_THREADS = ("MainThread", "AnyIO worker thread")


def _cpu_seconds(stat: Path) -> float:
    """User + system CPU in a ``/proc/…/stat`` file; 0 once the task is gone."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def process_started_t() -> float:
    """When this process started, wall clock (seconds since the epoch; ``/proc/self/stat``'s ``starttime``, in clock
    ticks since boot, against ``/proc/uptime``: 10 ms resolution)."""
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return time.time() - (uptime - int(fields[19]) / CLOCK_TICKS)  # field 22: starttime


def child_pattern(path: Path) -> str:
    """The samples file name handed to the descendants of the process sampling into ``path``: ``path`` with
    ``.child-{pid}`` before its suffix (``run.samples.jsonl`` → ``run.samples.child-{pid}.jsonl``)."""
    return str(path.with_name(f"{path.stem}.child-{PID_FIELD}{path.suffix}"))


def kind_of(thread_name: str) -> str:
    """``import``, ``console`` or ``other``: whose work a thread of the serve process does (the module's docstring)."""
    if thread_name.startswith(IMPORT_THREADS):
        return "import"
    if thread_name.startswith(CONSOLE_THREADS):
        return "console"
    return "other"


class Sampler:
    """Keeps each thread's CPU as last seen (so that ended threads still count) and writes the samples."""

    def __init__(self, path: Path, every_s: float) -> None:
        self.path = path
        self.every_s = every_s
        self.started_t = round(process_started_t(), 3)
        self._last_cpu: dict[int, tuple[str, float]] = {}
        self._writing = threading.Lock()

    def sample(self) -> dict[str, Any]:
        """One sample: wall time, SQLite's heap (its high-water mark since the previous sample), RSS and its peak
        (MiB), and CPU seconds so far: the process's, and by kind of thread."""
        for thread in threading.enumerate():
            if thread.native_id is not None:
                cpu = _cpu_seconds(Path(f"/proc/self/task/{thread.native_id}/stat"))
                if cpu:
                    self._last_cpu[thread.native_id] = (kind_of(thread.name), cpu)
        by_kind = dict.fromkeys(("import", "console", "other"), 0.0)
        for kind, cpu in self._last_cpu.values():
            by_kind[kind] += cpu
        status = {
            name: int(value.split()[0])
            for name, value in (line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
            if name in ("VmRSS", "VmHWM")
        }
        return {
            "t": time.time(),
            "pid": os.getpid(),
            "process_started_t": self.started_t,
            **sqlite_heap(reset_highwater=True),
            "rss_mib": round(status["VmRSS"] / 1024, 1),
            "peak_rss_mib": round(status["VmHWM"] / 1024, 1),
            "cpu_s": round(_cpu_seconds(Path("/proc/self/stat")), 2),
            **{f"{kind}_cpu_s": round(seconds, 2) for kind, seconds in by_kind.items()},
        }

    def write(self) -> None:
        """Append one sample to the file."""
        with self._writing:
            line = json.dumps(self.sample())
            with self.path.open("a", encoding="utf-8") as sink:
                sink.write(line + "\n")

    def run(self) -> None:
        while True:
            self.write()
            time.sleep(self.every_s)


def start_sampling() -> bool:
    """Start the sampling thread (a daemon) when :data:`SAMPLES_VARIABLE` names a file, and a last sample at the
    interpreter's normal exit; whether it started. A name with :data:`PID_FIELD` in it is a descendant's (the field
    replaced by this process's id); else this process hands its descendants :func:`child_pattern`."""
    target = os.environ.get(SAMPLES_VARIABLE)
    if not target:
        return False
    if PID_FIELD in target:
        path = Path(target.replace(PID_FIELD, str(os.getpid())))
    else:
        path = Path(target)
        os.environ[SAMPLES_VARIABLE] = child_pattern(path)
    sampler = Sampler(path, float(os.environ.get(EVERY_VARIABLE, EVERY_S)))
    threading.Thread(target=sampler.run, name="bench-serve-sampler", daemon=True).start()
    atexit.register(sampler.write)
    return True


def read_samples(path: Path) -> list[dict[str, Any]]:
    """The samples written to ``path`` (a line cut short by the process's end is left out)."""
    samples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            samples.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return samples


def child_samples(path: Path) -> dict[int, list[dict[str, Any]]]:
    """The samples of each descendant of the process that sampled into ``path`` (:func:`child_pattern`), by process
    id."""
    prefix, suffix = child_pattern(path).split(PID_FIELD)
    found = {}
    for candidate in path.parent.glob(Path(prefix).name + "*" + suffix):
        pid = candidate.name.removeprefix(Path(prefix).name).removesuffix(suffix)
        if pid.isdigit():
            found[int(pid)] = read_samples(candidate)
    return dict(sorted(found.items()))
