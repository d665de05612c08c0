"""Benchmark: a full CRM import requested from ``salesbridge serve`` while the console is used, two ways side by side:
the process's SQLite memory limited (``SALESBRIDGE_SQLITE_MEMORY_MIB``, 64 MiB by default) and not, the import inside
serve (``--compare sqlite-memory``, the default); or the import on the runner's thread inside serve and in a process
of its own (``SALESBRIDGE_IMPORT_PROCESS=thread`` and ``=child``, ``--compare import-process``).

On a SQLite store ``salesbridge serve`` runs the embedded job runner. With ``SALESBRIDGE_IMPORT_PROCESS=thread`` the
import and the console's pages share one process, so one SQLite soft heap limit (``PRAGMA soft_heap_limit``), while
each connection may cache 64 MiB; the memory comparison pins ``thread``, so that it measures that (as its results
before the product's default became ``child`` did). With ``child`` (the product's default) the runner starts
``python -m salesbridge.cli.work_horse`` for the import and the matching after it, which inherits serve's
environment; the serve process then keeps ``SALESBRIDGE_CONSOLE_SQLITE_MEMORY_MIB`` of the store
(``--console-sqlite-memory-mib``, the product's 8 MiB by default) and the child ``SALESBRIDGE_SQLITE_MEMORY_MIB``.
The import alone and the console alone are measured by ``bench/crm_import.py`` and
``bench/console.py`` (``--sqlite-memory-mib 64,0``); this measures them together.

Set-up (untimed), once: ``salesbridge sandbox serve --tls --seed scale:N`` (``--contacts`` contacts, with the scale
seed's accounts, leads and opportunities: 1.2 N rows); a SQLite store connected to it with the CRM app installed,
sellers with seats, ``--people`` people tied to contacts (:func:`bench.writeback.prepare_workspace`), an
administrator (:func:`bench.soak.add_admin`); the CRM imported once (``salesbridge sync run``), so the console's
pages read a full store; a list of the administrator's holding ``--list-size`` contacts; the scheduled imports
pushed a day away (only the requested one runs); then every table's change-tracking position forgotten (as when
Dynamics refuses an expired token: the next import reads every row again, in a new generation). That store is the
template: every run starts on a copy of it.

Each run (one per compared value per round, their order reversed every other round,
:func:`bench.sqlite_memory.alternated`): ``salesbridge serve`` on a fresh copy, the memory limit (0: none) and the
import process in its environment (``sqlite-memory``: each ``--sqlite-memory-mib`` with ``thread``;
``import-process``: each ``--import-process`` with the one ``--sqlite-memory-mib``, 64 by default), and the
signed-in administrator loading the console's pages one after another at a steady rate (``--page-every`` seconds;
when a page takes longer the next follows at once): the soak's main pages (:data:`bench.soak.CONSOLE_PATHS`) and the
list's page, plain and sorted. First ``--idle-seconds`` of pages alone, then the full import is requested as "Sync
now" requests it; the pages go on until the import has finished. Per run: the import's rows/s (rows stored over its
``started_at`` to ``finished_at``); how long after the request it started (``waited_s``: the runner's next look at
its queue, 2 s apart, and with ``child`` the child's start-up, also given apart: from the child's start to
``started_at``); the import's CPU seconds (the import threads' during the import with ``thread``; with ``child`` the
child's from its start to the import's end, start-up included); the serve process's CPU seconds during the import
(all of it, and the import's threads and the console's apart: :mod:`bench.serve_sampling`); the page latency (the
client's wall clock, loopback HTTP) median and p95 during the import and while idle; the serve process's peak RSS
(``VmHWM``) until the import's end and its RSS then, and SQLite's own heap (the most it held during the import, and
its limit in force), sampled inside the serve process every ``--sample-every`` seconds; with ``child`` the same
figures of the child, which samples itself into a file of its own (:func:`bench.serve_sampling.child_pattern`); and
how long another writer waits for SQLite's write lock (:class:`WriteLockProbe`, as often as the pages load). Ratios
are computed within each round, never across rounds (the machine is shared): limited / unlimited (the first
``--sqlite-memory-mib`` over the last), or child / thread.

Run: ``make bench-import-in-serve`` or ``.venv/bin/python -m bench.import_in_serve [--contacts 250000]
[--rounds 3] [--compare sqlite-memory|import-process] [--sqlite-memory-mib 64,0] [--import-process thread,child]
[--page-every 0.25] [--idle-seconds 15]``. Results: ``bench/results/import-in-serve.json`` (``sqlite-memory``) or
``bench/results/import-in-serve-import-process.json`` and the tables printed (``docs/performance.md`` § SQLite memory
limit and § Import in a process of its own). ``--from-json FILE`` computes an earlier run's ratios again (files
written before ``--compare`` existed are ``sqlite-memory`` runs). Exits 1 when a run's import failed, stored fewer
rows than the CRM holds, a page was not answered 200, a limit in force was not the one asked for, or the import did
not run in the process asked for.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from contextlib import closing, suppress
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.console import ADMIN, percentile
from bench.crm_import import machine, ratio
from bench.serve_sampling import EVERY_VARIABLE, SAMPLES_VARIABLE, child_samples, read_samples
from bench.soak import CONSOLE_PATHS, Console, StoreView, Tally, add_admin, every, free_port, start_serve
from bench.sqlite_memory import alternated, memory_limits
from bench.writeback import SLUG, Workspace, bench_environment, open_store, prepare_workspace, start_crm
from salesbridge.domain.crm_import import IMPORTED_TABLES
from salesbridge.services.matching import run_requested_matching
from salesbridge.settings import Settings
from salesbridge.store.database import SQLITE_MEMORY_MIB
from salesbridge.store.uow import utc_now

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "import-in-serve.json"
"""Where ``--compare sqlite-memory`` writes by default."""
RESULTS_IMPORT_PROCESS = ROOT / "bench" / "results" / "import-in-serve-import-process.json"
"""Where ``--compare import-process`` writes by default."""
SQLITE_MEMORY, IMPORT_PROCESS = "sqlite-memory", "import-process"
"""``--compare``'s choices: what differs between a round's runs."""
THREAD, CHILD = "thread", "child"
"""``SALESBRIDGE_IMPORT_PROCESS``'s values: the import on the runner's thread inside serve, or in a process of its
own (the product's default)."""
HOOK = ROOT / "bench" / "serve_hook"
"""Put on the serve process's PYTHONPATH: its ``sitecustomize`` starts :mod:`bench.serve_sampling`."""
NO_SCHEDULE_MINUTES = 24 * 60
"""The template's sync interval: no scheduled import comes between the requested ones."""


# -------------------------------------------------------------------------------------------------- set-up


def import_processes(text: str) -> list[str]:
    """``--import-process``'s values: ``thread`` and ``child``, each at most once, comma-separated."""
    values = [part.strip() for part in text.split(",")]
    if not values or any(value not in (THREAD, CHILD) for value in values) or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"{THREAD} and/or {CHILD}, each once: {text!r}")
    return values


def arm_of(run: dict[str, Any], compare: str) -> int | str:
    """The compared value of a run: its memory limit or its import process (``thread`` for runs made before the
    import process was recorded: the product had no other)."""
    return run["sqlite_memory_mib"] if compare == SQLITE_MEMORY else run.get("import_process", THREAD)


def prepare_template(workspace: Workspace, crm_contacts: Sequence[str], list_size: int) -> uuid.UUID:
    """The CRM imported once into the workspace's store (``salesbridge sync run``) and matched, the administrator's
    list of ``list_size`` of ``crm_contacts`` (its id returned), scheduled imports a day apart, and every table's
    position forgotten, so that the next import reads every row again."""
    done = subprocess.run(
        [sys.executable, "-m", "salesbridge", "sync", "run", "--org", SLUG],
        env=bench_environment(workspace.url, workspace.key),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the first import failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    store, engine = open_store(workspace)
    # The matching the import asked for, run here: else the serve process would run it first, on start-up.
    run_requested_matching(store, workspace.organization_id, clock=utc_now)
    with store(workspace.organization_id) as uow:
        admin = uow.users.find_by_email(ADMIN)
        assert admin is not None
        saved = uow.lists.create_manual(admin.id, "Accounts to call")
        step = max(1, len(crm_contacts) // list_size)
        uow.lists.replace_items(saved.id, [("contact", crm_id, None) for crm_id in crm_contacts[::step][:list_size]])
        settings = uow.crm_settings.get()
        uow.crm_settings.save(
            stage_source=settings.stage_source,
            stage_threshold=settings.stage_threshold,
            won_value_column=settings.won_value_column,
            won_value_base_currency=settings.won_value_base_currency,
            auto_save_enabled=settings.auto_save_enabled,
            sync_interval_minutes=NO_SCHEDULE_MINUTES,
        )
        for state in uow.sync_states.all():
            # What the engine does when Dynamics refuses an expired token; a modified-on table's full scan falls due.
            uow.sync_states.save(
                replace(state, delta_token=None, resume_link=None, reading_generation=None, last_full_read_at=None)
            )
        uow.commit()
    engine.dispose()
    return saved.id


def copy_store(template: Path, copy: Path) -> None:
    """A copy of the template store (SQLite's backup API: whole, whatever its WAL still holds)."""
    with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(copy)) as target:
        source.backup(target)


# ------------------------------------------------------------------------------------------------ one run


class PageLoads:
    """The administrator's page loads: each one's start and end (wall clock, seconds since the epoch), path and
    status; a transport error counts as status 0."""

    def __init__(self, console: Console, paths: Sequence[str]) -> None:
        self.console = console
        self.paths = paths
        self.lock = threading.Lock()
        self.loads: list[tuple[float, float, str, int]] = []

    def load(self, number: int) -> None:
        path = self.paths[number % len(self.paths)]
        started = time.time()
        try:
            status = self.console.client.get(path).status_code
        except Exception:  # noqa: BLE001 - a page not answered is counted, the load goes on
            status = 0
        with self.lock:
            self.loads.append((started, time.time(), path, status))

    def within(self, start: float, end: float) -> list[tuple[float, float, str, int]]:
        """The loads that started and ended between ``start`` and ``end``."""
        with self.lock:
            return [load for load in self.loads if load[0] >= start and load[1] <= end]


class WriteLockProbe:
    """Another writer on the store, in this process: every ``period`` seconds it takes SQLite's write lock
    (``BEGIN IMMEDIATE``, as the store's writers do) and gives it back at once, timing the wait: how long a console
    write (a sign-in, a request-budget lease before a Dynamics call) waits behind the import's page transactions."""

    def __init__(self, database: Path, period: float, stop: threading.Event) -> None:
        self.waits: list[tuple[float, float]] = []
        """(when it asked, seconds waited) each time."""
        self._database, self._period, self._stop = database, period, stop
        self.thread = threading.Thread(target=self._run, name="write-lock-probe", daemon=True)

    def _run(self) -> None:
        with closing(sqlite3.connect(self._database, timeout=120, isolation_level=None)) as connection:
            while not self._stop.wait(self._period):
                asked = time.time()
                connection.execute("BEGIN IMMEDIATE")
                waited = time.time() - asked
                connection.execute("ROLLBACK")
                self.waits.append((asked, waited))

    def within(self, start: float, end: float) -> dict[str, Any]:
        """How many times, and the wait's mean, median, p95 and max (ms), for the asks made between ``start`` and
        ``end``. The median is bimodal (the lock is free when asked, or a page's commit is under way): the mean says
        how long a writer waits on the whole."""
        waits = [waited * 1000 for asked, waited in list(self.waits) if start <= asked <= end]
        return {
            "probes": len(waits),
            "mean_ms": round(statistics.fmean(waits), 1) if waits else None,
            "p50_ms": round(statistics.median(waits), 1) if waits else None,
            "p95_ms": round(percentile(waits, 0.95), 1) if waits else None,
            "max_ms": round(max(waits), 1) if waits else None,
        }


def latency(loads: Sequence[tuple[float, float, str, int]]) -> dict[str, Any]:
    """Pages loaded, not answered 200, and the latency median, p95 and max (ms) of those answered 200; and per path
    (a few loads each: no percentile) the loads' median and max."""
    timings = [(end - start) * 1000 for start, end, _, status in loads if status == 200]
    by_path: dict[str, list[float]] = {}
    for start, end, path, status in loads:
        if status == 200:
            by_path.setdefault(path, []).append((end - start) * 1000)
    return {
        "pages": len(loads),
        "page_errors": sum(1 for *_, status in loads if status != 200),
        "p50_ms": round(statistics.median(timings), 1) if timings else None,
        "p95_ms": round(percentile(timings, 0.95), 1) if timings else None,
        "max_ms": round(max(timings), 1) if timings else None,
        "by_path": {
            path: {"loads": len(ms), "p50_ms": round(statistics.median(ms), 1), "max_ms": round(max(ms), 1)}
            for path, ms in by_path.items()
        },
    }


def between(samples: Sequence[dict[str, Any]], start: float, end: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """The serve process's last sample at or before ``start`` and its first at or after ``end`` (the nearest ones
    when there are none)."""
    before = [sample for sample in samples if sample["t"] <= start] or samples[:1]
    after = [sample for sample in samples if sample["t"] >= end] or samples[-1:]
    return before[-1], after[0]


def measure_run(
    workspace: Workspace,
    folder: Path,
    memory_mib: int,
    import_process: str,
    paths: Sequence[str],
    args: argparse.Namespace,
    round_number: int,
) -> dict[str, Any]:
    """One ``salesbridge serve`` on ``workspace``'s store with its SQLite memory limited to ``memory_mib`` (0: none)
    and its imports run as ``import_process`` says: pages alone for ``--idle-seconds``, then pages while the
    requested full import runs (see the module's docstring)."""
    name = f"round{round_number}-{memory_mib}mib-{import_process}"
    samples_path = folder / f"{name}.samples.jsonl"
    extra = {
        "SALESBRIDGE_SQLITE_MEMORY_MIB": str(memory_mib),
        "SALESBRIDGE_CONSOLE_SQLITE_MEMORY_MIB": str(args.console_sqlite_memory_mib),
        "SALESBRIDGE_IMPORT_PROCESS": import_process,
        "PYTHONPATH": os.pathsep.join((str(HOOK), str(ROOT))),
        SAMPLES_VARIABLE: str(samples_path),
        EVERY_VARIABLE: str(args.sample_every),
    }
    port = free_port()
    log = folder / f"{name}.log"
    serve = start_serve(workspace, port, log, extra)
    view: StoreView | None = None
    console: Console | None = None
    loader: threading.Thread | None = None
    probe: WriteLockProbe | None = None
    stop = threading.Event()
    try:
        console = Console(f"http://127.0.0.1:{port}", Tally())
        pages = PageLoads(console, paths)
        for number in range(len(paths)):  # every page once, unmeasured: templates compiled, caches warm
            pages.load(number)
        warmed = time.time()
        loader = every(args.page_every, stop, pages.load, Tally(), "console")
        probe = WriteLockProbe(Path(workspace.url.removeprefix("sqlite:///")), args.page_every, stop)
        probe.thread.start()
        time.sleep(args.idle_seconds)
        view = StoreView(workspace)
        requested = time.time()
        run_id = view.request_import()
        deadline = time.monotonic() + args.import_timeout
        run = view.last_run()
        while run is None or run.id != run_id or run.state.value not in ("succeeded", "failed"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the import did not finish within {args.import_timeout:g} s")
            if serve.poll() is not None:
                raise RuntimeError(f"salesbridge serve exited ({serve.returncode})")
            time.sleep(0.5)
            run = view.last_run()
        stop.set()
        time.sleep(args.sample_every * 2)  # a sample after the import's end (the serve process's and the child's)
    except Exception as error:
        raise RuntimeError(
            f"{name}: {error}; the serve log's end:\n{log.read_text(errors='replace')[-4000:]}"
        ) from error
    finally:
        stop.set()
        if view is not None:
            view.close()
        # Stopped at once: the matching the import asked for starts when it ends (it is not measured), and a page
        # load still under way would wait on its write lock (busy timeout) before it could end. Serve stops its
        # import process, if one still runs (the matching), before it exits.
        serve.terminate()
        try:
            serve.wait(timeout=15)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
        if loader is not None:
            loader.join(timeout=60)
        if probe is not None:
            probe.thread.join(timeout=60)
        if console is not None:
            console.close()
        end_orphans(samples_path)
    assert run.started_at is not None
    assert run.finished_at is not None
    start, end = run.started_at.timestamp(), run.finished_at.timestamp()
    samples = read_samples(samples_path)
    during = [sample for sample in samples if start <= sample["t"] <= end]
    first, last = between(samples, start, end)
    children = child_samples(samples_path)
    child = child_figures(children, requested, start, end, args.idle_seconds)
    seconds = end - start
    rows = run.rows_imported or 0
    import_threads_cpu_s = round(last["import_cpu_s"] - first["import_cpu_s"], 2)
    serve_cpu_s = round(last["cpu_s"] - first["cpu_s"], 2)
    return {
        "round": round_number,
        "sqlite_memory_mib": memory_mib,
        "console_sqlite_memory_mib": args.console_sqlite_memory_mib,
        "import_process": import_process,
        "import": {
            "state": run.state.value,
            "error": run.error,
            "rows": rows,
            "seconds": round(seconds, 2),
            "rows_per_s": round(rows / seconds) if seconds else None,
            "waited_s": round(start - requested, 2),
            # The import's own CPU: the child's from its start to the import's end (start-up included), else the
            # import threads' in serve during the import.
            "import_cpu_s": child["cpu_s"] if child else import_threads_cpu_s,
            "import_cpu_of": "child process" if import_process == CHILD else "import threads",
            # The serve process's and the child's together.
            "total_cpu_s": round(serve_cpu_s + (child["cpu_s"] if child else 0), 2),
            # CPU of the serve process between the samples around the import (at most a period more each side).
            "cpu_s": serve_cpu_s,
            "import_threads_cpu_s": import_threads_cpu_s,
            "console_threads_cpu_s": round(last["console_cpu_s"] - first["console_cpu_s"], 2),
            "cpu_window_s": round(last["t"] - first["t"], 2),
        },
        "pages_during_import": latency(pages.within(start, end)),
        "pages_idle": latency(pages.within(warmed, requested)),
        "write_lock_wait_during_import": probe.within(start, end) if probe else None,
        "write_lock_wait_idle": probe.within(warmed, requested) if probe else None,
        # The serve process's peak RSS (VmHWM) until the import ended (at its last sample before the end), the same
        # at the first sample at or after the end (as the child's: at most a period more), and the most RSS sampled
        # while it ran.
        "peak_rss_mib": max(sample["peak_rss_mib"] for sample in samples if sample["t"] <= end),
        "peak_rss_at_import_end_mib": last["peak_rss_mib"],
        "peak_rss_during_import_mib": max((s["rss_mib"] for s in during), default=None),
        "rss_at_import_end_mib": last["rss_mib"],
        "sqlite": {
            "soft_heap_limit_mib": last["sqlite_soft_heap_limit_mib"],
            "heap_peak_during_import_mib": max((s["sqlite_heap_highwater_mib"] for s in during), default=None),
            "heap_at_import_end_mib": last["sqlite_heap_used_mib"],
            "heap_peak_idle_mib": max(
                (s["sqlite_heap_highwater_mib"] for s in samples if warmed <= s["t"] <= requested), default=None
            ),
        },
        # The processes whose samples are in serve's file: serve's only (a child samples into a file of its own).
        "sampled_pids": sorted({sample["pid"] for sample in samples}),
        # The machine's load (1, 5, 15 minutes) as the run's measurements ended: the machine is shared.
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "child_processes": len(children),
        "child": child,
        "samples": len(samples),
        # (seconds from the import's start, RSS MiB, SQLite heap MiB held, its most since the previous sample).
        "series": [
            (round(s["t"] - start, 1), s["rss_mib"], s["sqlite_heap_used_mib"], s["sqlite_heap_highwater_mib"])
            for s in samples
            if s["t"] >= start - args.idle_seconds
        ],
    }


def end_orphans(samples_path: Path) -> None:
    """Kill (by id) any import process of the serve process that sampled into ``samples_path`` still running once
    serve has ended: it runs in a session of its own, so it outlives a serve killed before it could stop it."""
    for pid in child_samples(samples_path):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue  # ended
        if b"salesbridge.cli.work_horse" in command:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def child_figures(
    children: dict[int, list[dict[str, Any]]], requested: float, start: float, end: float, idle_seconds: float
) -> dict[str, Any] | None:
    """The figures of the child that ran the import (the last one started before the import's ``start``, among the
    processes the serve process started, by their samples), None when none did."""
    ran = {
        pid: samples
        for pid, samples in children.items()
        if samples and samples[0]["process_started_t"] <= start <= samples[-1]["t"]
    }
    if not ran:
        return None
    pid, samples = max(ran.items(), key=lambda item: item[1][0]["process_started_t"])
    during = [sample for sample in samples if start <= sample["t"] <= end]
    first, last = between(samples, start, end)
    process_started = samples[0]["process_started_t"]
    return {
        "pid": pid,
        # From the import's request to the child's start (the runner's next look at its queue), and from there to
        # the import's start (the interpreter, salesbridge's modules, the store opened, the run claimed).
        "started_after_request_s": round(process_started - requested, 2),
        "start_up_s": round(start - process_started, 2),
        # CPU from its start until the sample at or after the import's end, until the sample at or before the
        # import's start (the start-up's, at most a period of the import's more), and between the two.
        "cpu_s": last["cpu_s"],
        "cpu_before_import_s": first["cpu_s"],
        "cpu_during_import_s": round(last["cpu_s"] - first["cpu_s"], 2),
        # Its peak RSS (VmHWM) at the sample at or after the import's end: it only grows while the import runs.
        "peak_rss_mib": last["peak_rss_mib"],
        "rss_at_import_end_mib": last["rss_mib"],
        # Its last sample: when it exited, or when serve's stop ended it (the matching after the import included).
        "peak_rss_at_last_sample_mib": samples[-1]["peak_rss_mib"],
        "sqlite": {
            "soft_heap_limit_mib": last["sqlite_soft_heap_limit_mib"],
            "heap_peak_during_import_mib": max((s["sqlite_heap_highwater_mib"] for s in during), default=None),
            "heap_at_import_end_mib": last["sqlite_heap_used_mib"],
        },
        "samples": len(samples),
        "series": [
            (round(s["t"] - start, 1), s["rss_mib"], s["sqlite_heap_used_mib"], s["sqlite_heap_highwater_mib"])
            for s in samples
            if s["t"] >= start - idle_seconds
        ],
    }


# ------------------------------------------------------------------------------------------------ summary


DYNAMICS_PAGES = ("/settings/crm",)
"""Pages that wait on Dynamics as they are drawn (the pipeline's choices, the CRM-side app), each call taking its
share of the request budget in the store: during an import they wait on the sandbox serving the import's pages and
on the import's writes, whatever SQLite caches."""


def medians_sum(run: dict[str, Any], paths: set[str]) -> float | None:
    """The sum of the medians of ``paths`` loaded during the run's import (None if one was not loaded)."""
    by_path = run["pages_during_import"].get("by_path", {})
    if not paths or not paths <= set(by_path):
        return None
    return sum(by_path[path]["p50_ms"] for path in paths)


def lock_wait(run: dict[str, Any], key: str) -> float | None:
    """The run's write-lock wait figure ``key`` during its import (None for runs made before it was probed)."""
    return (run.get("write_lock_wait_during_import") or {}).get(key)


def pair_ratios(
    runs: Sequence[dict[str, Any]], compare: str, over: int | str, under: int | str
) -> list[dict[str, Any]]:
    """Per round, the run with ``over`` over the run with ``under`` (their :func:`arm_of`): rows/s, CPU (the serve
    process, its import threads, the import's own, serve's and the child's together), page p50/p95 during the import,
    the sum of the pages' medians (every page loaded in both runs; and without :data:`DYNAMICS_PAGES`), the write-lock
    wait, the serve process's peak RSS and its RSS at the import's end, and SQLite's heap peak in serve. Not the wait
    from the request to the import's start: the runner's look at its queue every 2 s makes most of it."""
    ratios = []
    for round_number in sorted({run["round"] for run in runs}):
        by_arm = {arm_of(run, compare): run for run in runs if run["round"] == round_number}
        if over not in by_arm or under not in by_arm:
            continue
        a, b = by_arm[over], by_arm[under]
        both = set(a["pages_during_import"].get("by_path", {})) & set(b["pages_during_import"].get("by_path", {}))
        ratios.append(
            {
                "round": round_number,
                "order": [arm_of(run, compare) for run in runs if run["round"] == round_number],
                "rows_per_s": ratio(a["import"]["rows_per_s"], b["import"]["rows_per_s"]),
                "cpu_s": ratio(a["import"]["cpu_s"], b["import"]["cpu_s"]),
                "import_threads_cpu_s": ratio(a["import"]["import_threads_cpu_s"], b["import"]["import_threads_cpu_s"]),
                "import_cpu_s": ratio(a["import"].get("import_cpu_s"), b["import"].get("import_cpu_s")),
                "total_cpu_s": ratio(a["import"].get("total_cpu_s"), b["import"].get("total_cpu_s")),
                "page_p50": ratio(a["pages_during_import"]["p50_ms"], b["pages_during_import"]["p50_ms"]),
                "page_p95": ratio(a["pages_during_import"]["p95_ms"], b["pages_during_import"]["p95_ms"]),
                "page_medians_sum": ratio(medians_sum(a, both), medians_sum(b, both)),
                "write_lock_wait_mean": ratio(*(lock_wait(run, "mean_ms") for run in (a, b))),
                "write_lock_wait_p95": ratio(*(lock_wait(run, "p95_ms") for run in (a, b))),
                "page_medians_sum_without_dynamics": ratio(
                    medians_sum(a, both - set(DYNAMICS_PAGES)), medians_sum(b, both - set(DYNAMICS_PAGES))
                ),
                "peak_rss": ratio(a["peak_rss_mib"], b["peak_rss_mib"]),
                "peak_rss_at_import_end": ratio(
                    a.get("peak_rss_at_import_end_mib"), b.get("peak_rss_at_import_end_mib")
                ),
                "rss_at_import_end": ratio(a["rss_at_import_end_mib"], b["rss_at_import_end_mib"]),
                "sqlite_heap_peak": ratio(
                    a["sqlite"]["heap_peak_during_import_mib"], b["sqlite"]["heap_peak_during_import_mib"]
                ),
            }
        )
    return ratios


def compared(settings: dict[str, Any]) -> tuple[str, int | str, int | str]:
    """What a result file compares, and the arms of its ratios (over, under): the first memory limit over the last,
    or child over thread. Files written before ``--compare`` existed compare memory limits."""
    compare = settings.get("compare", SQLITE_MEMORY)
    if compare == SQLITE_MEMORY:
        limits = settings["sqlite_memory_mib"]
        return compare, limits[0], limits[-1]
    return compare, CHILD, THREAD


def problems_of(runs: Sequence[dict[str, Any]], crm_rows: int) -> list[str]:
    """What makes a run's numbers meaningless: its import failed or stored fewer rows than the CRM holds, a page
    was not answered 200, the limit in force (in serve, and in the child) was not the one asked for, or the import
    did not run where asked (a child sampled with ``thread``; none that ran the import with ``child``)."""
    problems = []
    for run in runs:
        process = run.get("import_process", THREAD)
        label = f"round {run['round']}, {run['sqlite_memory_mib']} MiB, {process}"
        if run["import"]["state"] != "succeeded":
            problems.append(f"{label}: the import {run['import']['state']}: {run['import']['error']}")
        if run["import"]["rows"] < crm_rows:
            problems.append(f"{label}: the import stored {run['import']['rows']} rows of {crm_rows}")
        errors = run["pages_during_import"]["page_errors"] + run["pages_idle"]["page_errors"]
        if errors:
            problems.append(f"{label}: {errors} pages not answered 200")
        # With the import in a child, serve keeps the console's own limit (runs before it existed: the same).
        in_serve = run.get("console_sqlite_memory_mib", run["sqlite_memory_mib"]) if process == CHILD else None
        if run["sqlite"]["soft_heap_limit_mib"] != (run["sqlite_memory_mib"] if in_serve is None else in_serve):
            problems.append(f"{label}: SQLite's limit in force was {run['sqlite']['soft_heap_limit_mib']} MiB")
        if len(run.get("sampled_pids", [0])) != 1:
            problems.append(f"{label}: the serve process's samples came from processes {run['sampled_pids']}")
        child = run.get("child")
        if process == THREAD and run.get("child_processes"):
            problems.append(f"{label}: {run['child_processes']} processes started by serve sampled themselves")
        if process == CHILD and child is None:
            problems.append(f"{label}: no process of its own sampled the import")
        if child is not None and child["sqlite"]["soft_heap_limit_mib"] != run["sqlite_memory_mib"]:
            problems.append(f"{label}: the child's SQLite limit was {child['sqlite']['soft_heap_limit_mib']} MiB")
    return problems


def markdown(results: dict[str, Any]) -> str:
    """Every run, and each round's ratios, as the tables of docs/performance.md (§ SQLite memory limit, or § Import
    in a process of its own)."""
    if compared(results["settings"])[0] == IMPORT_PROCESS:
        return markdown_import_process(results)
    lines = [
        "| round | limit MiB | rows/s | CPU s (import threads) | pages | page p50 / p95 ms (idle p50) "
        "| write-lock wait mean / p95 ms | peak RSS MiB | SQLite heap peak MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in results["runs"]:
        imported, pages, idle = run["import"], run["pages_during_import"], run["pages_idle"]
        lines.append(
            f"| {run['round']} | {run['sqlite_memory_mib'] or 'none'} | {imported['rows_per_s']:,} "
            f"| {imported['cpu_s']:.1f} ({imported['import_threads_cpu_s']:.1f}) | {pages['pages']} "
            f"| {pages['p50_ms']} / {pages['p95_ms']} ({idle['p50_ms']}) "
            f"| {lock_wait(run, 'mean_ms')} / {lock_wait(run, 'p95_ms')} | {run['peak_rss_mib']:.0f} "
            f"| {run['sqlite']['heap_peak_during_import_mib']} |"
        )
    lines += [
        "",
        "| round (order) | rows/s | CPU s | import threads' CPU | page p50 | page p95 | pages' medians (without "
        f"{', '.join(DYNAMICS_PAGES)}) | write-lock wait mean / p95 | peak RSS | SQLite heap peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['round']} ({', '.join(str(limit) for limit in r['order'])}) | {r['rows_per_s']} | {r['cpu_s']} "
        f"| {r['import_threads_cpu_s']} | {r['page_p50']} | {r['page_p95']} | {r.get('page_medians_sum')} "
        f"({r.get('page_medians_sum_without_dynamics')}) | {r.get('write_lock_wait_mean')} / "
        f"{r.get('write_lock_wait_p95')} | {r['peak_rss']} | {r['sqlite_heap_peak']} |"
        for r in results["ratios"]
    ]
    return "\n".join(lines)


def markdown_import_process(results: dict[str, Any]) -> str:
    """Every run, and each round's ratios child / thread, as the tables of docs/performance.md § Import in a process
    of its own."""
    lines = [
        "| round | import in | waited s (child start-up s) | rows/s | import CPU s | serve CPU s | pages "
        "| page p50 / p95 ms | idle p50 / p95 ms | write-lock wait mean / p95 ms "
        "| serve peak RSS / RSS at the end MiB | child peak RSS MiB | SQLite heap peak MiB, serve (child) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in results["runs"]:
        imported, pages, idle, child = run["import"], run["pages_during_import"], run["pages_idle"], run["child"]
        start_up = f" ({child['start_up_s']})" if child else ""
        child_peak = f"{child['peak_rss_mib']:.0f}" if child else ""
        child_heap = f" ({child['sqlite']['heap_peak_during_import_mib']})" if child else ""
        lines.append(
            f"| {run['round']} | {run['import_process']} | {imported['waited_s']}{start_up} "
            f"| {imported['rows_per_s']:,} | {imported['import_cpu_s']:.1f} | {imported['cpu_s']:.1f} "
            f"| {pages['pages']} | {pages['p50_ms']} / {pages['p95_ms']} | {idle['p50_ms']} / {idle['p95_ms']} "
            f"| {lock_wait(run, 'mean_ms')} / {lock_wait(run, 'p95_ms')} "
            f"| {run['peak_rss_at_import_end_mib']:.0f} / {run['rss_at_import_end_mib']:.0f} | {child_peak} "
            f"| {run['sqlite']['heap_peak_during_import_mib']}{child_heap} |"
        )
    lines += [
        "",
        "| round (order) | rows/s | import CPU | serve CPU | serve + child CPU | page p50 | page p95 | pages' medians "
        f"(without {', '.join(DYNAMICS_PAGES)}) | write-lock wait mean / p95 | serve peak RSS | serve RSS at end "
        "| serve SQLite heap peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['round']} ({', '.join(str(arm) for arm in r['order'])}) | {r['rows_per_s']} | {r['import_cpu_s']} "
        f"| {r['cpu_s']} | {r['total_cpu_s']} | {r['page_p50']} | {r['page_p95']} | {r['page_medians_sum']} "
        f"({r['page_medians_sum_without_dynamics']}) | {r['write_lock_wait_mean']} / {r['write_lock_wait_p95']} "
        f"| {r['peak_rss_at_import_end']} | {r['rss_at_import_end']} | {r['sqlite_heap_peak']} |"
        for r in results["ratios"]
    ]
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------------- main


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    phases = {"start": time.monotonic()}
    crm = start_crm(folder / "crm", folder / "crm.db", contacts=args.contacts)
    phases["sandbox"] = time.monotonic()
    try:
        template = folder / "template.db"
        workspace = prepare_workspace(f"sqlite:///{template}", crm, people=args.people)
        add_admin(workspace)
        contacts = [str(row[0]).lower() for row in crm.query('SELECT contactid FROM "contact" ORDER BY contactid')]
        crm_rows = sum(
            crm.query(f'SELECT COUNT(*) FROM "{table}"')[0][0]
            for table in IMPORTED_TABLES
            if crm.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        )
        list_id = prepare_template(workspace, contacts, args.list_size)
        phases["template"] = time.monotonic()
        paths = (*CONSOLE_PATHS, f"/lists/{list_id}", f"/lists/{list_id}?sort=owner&order=desc")
        runs = []
        arms = [(memory, process) for memory in args.sqlite_memory_mib for process in args.import_process]
        for round_number in range(1, args.rounds + 1):
            for memory_mib, process in alternated(arms, round_number):
                copy = folder / f"store-{round_number}-{memory_mib}-{process}.db"
                copy_store(template, copy)
                print(
                    f"round {round_number}, SQLite memory limit {memory_mib or 'none'} MiB, import in {process} …",
                    flush=True,
                )
                measured = measure_run(
                    replace(workspace, url=f"sqlite:///{copy}"), folder, memory_mib, process, paths, args, round_number
                )
                imported, pages, child = measured["import"], measured["pages_during_import"], measured["child"]
                print(
                    f"  {imported['rows']:,} rows in {imported['seconds']:.1f} s ({imported['rows_per_s']:,}/s), "
                    f"waited {imported['waited_s']:.1f} s; import CPU {imported['import_cpu_s']:.1f} s "
                    f"({imported['import_cpu_of']}), serve CPU {imported['cpu_s']:.1f} s; "
                    f"{pages['pages']} pages p50 {pages['p50_ms']} ms p95 {pages['p95_ms']} ms; "
                    f"serve peak RSS {measured['peak_rss_mib']:.0f} MiB, "
                    f"SQLite heap peak {measured['sqlite']['heap_peak_during_import_mib']} MiB"
                    + (
                        f"; child start-up {child['start_up_s']:.1f} s, peak RSS {child['peak_rss_mib']:.0f} MiB"
                        if child
                        else ""
                    ),
                    flush=True,
                )
                runs.append(measured)
                for leftover in folder.glob(f"{copy.name}*"):
                    leftover.unlink()
    finally:
        crm.stop()
    settings = {
        "compare": args.compare,
        "contacts": args.contacts,
        "crm_rows": crm_rows,
        "people": args.people,
        "list_size": args.list_size,
        "rounds": args.rounds,
        "sqlite_memory_mib": args.sqlite_memory_mib,
        "import_process": args.import_process,
        "page_every_s": args.page_every,
        "idle_seconds": args.idle_seconds,
        "sample_every_s": args.sample_every,
        "paths": list(paths),
    }
    compare, over, under = compared(settings)
    return {
        "benchmark": "import_in_serve",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
        "settings": settings,
        "setup_seconds": {"sandbox": round(phases["sandbox"] - phases["start"], 1)}
        | {"template": round(phases["template"] - phases["sandbox"], 1)},
        "runs": runs,
        "ratios": pair_ratios(runs, compare, over, under),
        "ratio_of": ratio_of(compare, over, under),
        "problems": problems_of(runs, crm_rows),
    }


def ratio_of(compare: str, over: int | str, under: int | str) -> str:
    """What the ratios are, in words."""
    if compare == SQLITE_MEMORY:
        return f"{over} MiB / {under or 'no limit'}"
    return f"{over} / {under}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--contacts", type=int, default=250_000, help="Contacts in the sandbox (scale:N: 1.2 N rows).")
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--list-size", type=int, default=2000, help="Contacts on the administrator's list.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--compare",
        choices=(SQLITE_MEMORY, IMPORT_PROCESS),
        default=SQLITE_MEMORY,
        help=f"What differs between a round's runs: the SQLite memory limit (the import in serve: "
        f"SALESBRIDGE_IMPORT_PROCESS={THREAD}), or where the import runs (default {SQLITE_MEMORY}).",
    )
    parser.add_argument(
        "--sqlite-memory-mib",
        type=memory_limits,
        help="The serve process's SQLite memory limits (SALESBRIDGE_SQLITE_MEMORY_MIB, 0: none), comma-separated. "
        f"With --compare {SQLITE_MEMORY}: every round runs once with each, ratios first / last (default "
        f"{SQLITE_MEMORY_MIB},0); with --compare {IMPORT_PROCESS}: one value (default {SQLITE_MEMORY_MIB}).",
    )
    parser.add_argument(
        "--console-sqlite-memory-mib",
        type=int,
        default=Settings.model_fields["console_sqlite_memory_mib"].default,
        help="The serve process's own SQLite memory limit while the import runs in a child "
        "(SALESBRIDGE_CONSOLE_SQLITE_MEMORY_MIB; default: the product's, %(default)s).",
    )
    parser.add_argument(
        "--import-process",
        type=import_processes,
        help=f"SALESBRIDGE_IMPORT_PROCESS: {THREAD} (on the runner's thread inside serve) and/or {CHILD} (a process "
        f"of its own), comma-separated. With --compare {IMPORT_PROCESS}: both, every round runs once with each in this "
        f"order (reversed every other round), ratios {CHILD} / {THREAD} (default {THREAD},{CHILD}); with --compare "
        f"{SQLITE_MEMORY}: one value (default {THREAD}).",
    )
    parser.add_argument("--page-every", type=float, default=0.25, help="Seconds between two page loads.")
    parser.add_argument("--idle-seconds", type=float, default=15.0, help="Pages alone before the import.")
    parser.add_argument("--sample-every", type=float, default=0.5, help="Seconds between two samples of serve.")
    parser.add_argument("--import-timeout", type=float, default=900.0)
    parser.add_argument(
        "--out",
        type=Path,
        help=f"the results file (default {RESULTS.relative_to(ROOT)}, or {RESULTS_IMPORT_PROCESS.relative_to(ROOT)} "
        f"with --compare {IMPORT_PROCESS})",
    )
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="work in DIR and keep it (serve logs, samples, stores) for a diagnosis"
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="FILE",
        help="run nothing: compute an earlier run's ratios again, write them to --out and print the tables",
    )
    args = parser.parse_args(argv)
    if args.from_json:
        results = json.loads(args.from_json.read_text())
        compare, over, under = compared(results["settings"])
        results["ratios"] = pair_ratios(results["runs"], compare, over, under)
        out = args.out or (RESULTS if compare == SQLITE_MEMORY else RESULTS_IMPORT_PROCESS)
        out.write_text(json.dumps(results, indent=1) + "\n")
        print(markdown(results))
        return 0
    if args.compare == SQLITE_MEMORY:
        args.sqlite_memory_mib = args.sqlite_memory_mib or [SQLITE_MEMORY_MIB, 0]
        args.import_process = args.import_process or [THREAD]
        if len(args.import_process) != 1:
            parser.error(f"--compare {SQLITE_MEMORY} runs one --import-process")
    else:
        args.sqlite_memory_mib = args.sqlite_memory_mib or [SQLITE_MEMORY_MIB]
        args.import_process = args.import_process or [THREAD, CHILD]
        if len(args.sqlite_memory_mib) != 1:
            parser.error(f"--compare {IMPORT_PROCESS} runs one --sqlite-memory-mib")
        if len(args.import_process) != 2:
            parser.error(f"--compare {IMPORT_PROCESS} runs both --import-process {THREAD},{CHILD}")
    args.out = args.out or (RESULTS if args.compare == SQLITE_MEMORY else RESULTS_IMPORT_PROCESS)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.list_size > args.contacts or args.people > args.contacts:
        parser.error("--list-size and --people cannot exceed --contacts")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        results = run(args, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-import-in-serve-") as scratch:
            results = run(args, Path(scratch))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(markdown(results))
    for problem in results["problems"]:
        print(f"problem: {problem}")
    print(f"written to {args.out}")
    return 1 if results["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
