"""Soak (issue 16): one ``salesbridge serve`` process — console, embedded job engine, imports, writeback drains —
run for a bounded time against the sandbox over TLS with 10 % of its Web API answers faulted, sampled every few
seconds, then checked record by record.

Set-up (untimed): ``salesbridge sandbox serve --tls --seed scale:N`` in its own process; a store (a SQLite file, or
``--postgresql`` a throwaway PostgreSQL cluster) connected to it with the CRM app installed, sellers with seats,
people tied to contacts and writeback on (:func:`bench.writeback.prepare_workspace`), and an administrator who signs
in with a password. Then the faults go on (``PUT /_sandbox/faults``: 429 with ``Retry-After``, 503, connection
resets in the middle of a body, ``--fault-rate`` in all, a third each) and ``salesbridge serve`` starts, on the same
store, with the embedded job engine (``SALESBRIDGE_JOBS=embedded``, the default).

For ``--minutes`` (default 10; the issue's long run is ``--minutes 120``), all at once:

- **imports**: every ``--import-every`` seconds (60) an import is requested as the console's "Sync now" requests it
  (:func:`~salesbridge.services.sync.request_sync`); the serve process's runner runs it — the first a full read,
  the next ones deltas;
- **the CRM changes** at a steady rate (``--changes-per-minute``): contacts created, seeded contacts updated, and
  contacts the soak created deleted, in turn, through the sandbox's Web API (faulted as well: retried);
- **writeback**: every 2 s a batch of activities (InMail, messages, notes, calls in turn; ``--activities-per-minute``
  in all) is stored queued, as logging an activity stores it; the serve process's runner drains them;
- **console use**: a signed-in administrator loads the console's main pages one after another over HTTP.

Every ``--sample-every`` seconds: records imported, activities written and pages served so far, error counts (pages
not answered 200, failed import runs, activities failing, Web API calls of the CRM changes that were faulted), and
the serve process's resident memory and open file descriptors (``/proc``), and the resident memory of the import
process it runs at that moment, if any (``SALESBRIDGE_IMPORT_PROCESS=child``, the default: each import is a process
of its own, which ends with it; its memory is not the serve process's). When the time is up the changes, the
activities and the page loads stop, one more import is requested, and the soak waits (``--settle-minutes``, faults
still on) for it to succeed and for every activity to be delivered. Then: every row of every imported table of the
sandbox is in the store once (``lost``, ``duplicated``, ``stale``: deleted in the CRM but still stored), and every
activity is in the sandbox exactly once (:func:`bench.writeback.check_written`).

Growth of memory and descriptors: the median of the first and of the last third of the samples, and the growth
per hour, the slope of a least-squares line through the second half of the samples (the first half includes warming
up: the first full import, caches filling); ``flat`` only within :data:`RSS_TOLERANCE_PER_HOUR` (descriptors:
:data:`FLOOR_WINDOW_S`).
``--trace-allocations FILE`` has the serve process dump its allocation growth by traceback there (diagnosis only).

Run: ``make soak`` or ``.venv/bin/python -m bench.soak [--minutes 10] [--postgresql]``. Results:
``bench/results/soak.json``, the chart ``bench/results/soak.png`` and the table printed (``docs/reliability.md``
§ Soak). Exits 1 when a record is lost or duplicated or an activity is not written exactly once.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.console import ADMIN, PAGES, PASSWORD
from bench.scaleout import process_cpu_seconds
from bench.writeback import (
    BATCHED_ITEMS,
    BULK_ITEMS,
    SLUG,
    Crm,
    Workspace,
    bench_environment,
    check_written,
    open_store,
    prepare_workspace,
    seed_activities,
    start_crm,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "soak.json"
CHART = ROOT / "bench" / "results" / "soak.png"
ITEMS = (*BULK_ITEMS, *BATCHED_ITEMS)
CONSOLE_PATHS = tuple(dict.fromkeys(path for _, path in PAGES))
"""The console's main pages (the console benchmark's), each loaded by the administrator."""


def console_paths(text: str) -> tuple[str, ...]:
    """``--pages``: comma-separated paths, each one of :data:`CONSOLE_PATHS`."""
    paths = tuple(path.strip() for path in text.split(",") if path.strip())
    unknown = [path for path in paths if path not in CONSOLE_PATHS]
    if not paths or unknown:
        raise argparse.ArgumentTypeError(f"not console pages: {', '.join(unknown) or text!r}; one of {CONSOLE_PATHS}")
    return paths


# ------------------------------------------------------------------------------------------------ the load


@dataclass
class Tally:
    """Counters the load threads bump (one lock for all: a few bumps a second)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter[str] = field(
        default_factory=lambda: Counter(dict.fromkeys(("pages_served", "page_errors", "crm_change_faults"), 0))
    )

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counts[name] += n

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(self.counts)


class CrmChanges:
    """The CRM's own changes: creates, updates and deletes of contacts through the Web API, retried when faulted."""

    def __init__(self, crm: Crm, tally: Tally) -> None:
        self.info = crm.info
        self.tally = tally
        self.client = httpx.Client(verify=crm.info["ca_bundle"], timeout=60)
        self.token = ""
        self.created: list[str] = []
        self.seeded = [str(row[0]) for row in crm.query('SELECT contactid FROM "contact" ORDER BY contactid')]

    def _token(self) -> str:
        answer = self.client.post(
            f"{self.info['authority']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.info["client_id"],
                "client_secret": self.info["client_secret"],
                "scope": f"{self.info['org_url']}/.default",
            },
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
        """One Web API call, sent again until it is answered by something other than a fault (429, 503, a reset);
        each faulted attempt counted."""
        while True:
            if not self.token:
                self.token = self._token()
            try:
                answer = self.client.request(
                    method,
                    f"{self.info['api_url']}{path}",
                    json=body,
                    headers={"Authorization": f"Bearer {self.token}", **headers},
                )
            except httpx.TransportError:
                self.tally.add("crm_change_faults")
                time.sleep(0.2)
                continue
            if answer.status_code == 401:
                self.token = ""
                continue
            if answer.status_code in (429, 503):
                self.tally.add("crm_change_faults")
                time.sleep(min(float(answer.headers.get("Retry-After", "0.5")), 5.0))
                continue
            return answer

    def step(self, number: int) -> None:
        """The ``number``-th change: a create, an update or a delete, in turn (a delete needs a contact the soak
        created: the seeded ones are tied to people whose activities are written back)."""
        kind = ("create", "update", "delete")[number % 3]
        if kind == "delete" and len(self.created) < 2:
            kind = "update"
        if kind == "create":
            answer = self._send(
                "POST",
                "contacts",
                {"firstname": "Soak", "lastname": f"Contact {number}", "emailaddress1": f"soak{number}@soak.test"},
            )
            answer.raise_for_status()
            self.created.append(answer.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")"))
        elif kind == "update":
            target = self.seeded[number % len(self.seeded)]
            answer = self._send(
                "PATCH", f"contacts({target})", {"jobtitle": f"Soak title {number}"}, **{"If-Match": "*"}
            )
            answer.raise_for_status()
        else:
            target = self.created.pop(0)
            answer = self._send("DELETE", f"contacts({target})")
            if answer.status_code != 404:  # 404: an earlier attempt deleted it before its answer was cut
                answer.raise_for_status()
        self.tally.add(f"crm_{kind}s")

    def close(self) -> None:
        self.client.close()


class Console:
    """A signed-in administrator loading the console's main pages over HTTP, one after another."""

    def __init__(self, base_url: str, tally: Tally, paths: Sequence[str] = CONSOLE_PATHS) -> None:
        self.tally = tally
        self.paths = tuple(paths)
        self.client = httpx.Client(base_url=base_url, timeout=120, follow_redirects=False)
        self.sign_in()

    def sign_in(self) -> None:
        form = self.client.get("/sign-in")
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        done = self.client.post(
            "/sign-in", data={"workspace": SLUG, "email": ADMIN, "password": PASSWORD, "csrf_token": token}
        )
        if done.status_code != 303:
            raise RuntimeError(f"sign-in failed: {done.status_code} {done.text[:500]}")

    def load(self, number: int) -> None:
        path = self.paths[number % len(self.paths)]
        try:
            answer = self.client.get(path)
        except httpx.TransportError:
            self.tally.add("page_errors")
            return
        if answer.status_code == 200:
            self.tally.add("pages_served")
        else:
            self.tally.add("page_errors")
            self.tally.add(f"page_status_{answer.status_code}")
            if answer.status_code in (303, 401):
                self.sign_in()

    def close(self) -> None:
        self.client.close()


def every(period: float, stop: threading.Event, action: Any, tally: Tally, name: str) -> threading.Thread:
    """A daemon thread calling ``action(n)`` every ``period`` seconds (n = 0, 1, …) until ``stop``; an exception is
    counted as ``<name>_crashes`` and the thread goes on."""

    def loop() -> None:
        number = 0
        next_at = time.monotonic()
        while not stop.is_set():
            try:
                action(number)
            except Exception as error:  # noqa: BLE001 - the soak goes on, the failure is counted and shown
                tally.add(f"{name}_crashes")
                print(f"{name}: {type(error).__name__}: {error}", file=sys.stderr)
            number += 1
            next_at += period
            stop.wait(max(0.0, next_at - time.monotonic()))

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread


# --------------------------------------------------------------------------------------------- the process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_serve(
    workspace: Workspace, port: int, log: Path, extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``salesbridge serve`` on ``port`` (plain HTTP on the loopback), ``extra`` added to its environment (the
    embedded job engine unless ``extra`` names another); once it answers."""
    environment = {**bench_environment(workspace.url, workspace.key), "SALESBRIDGE_JOBS": "embedded", **(extra or {})}
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "salesbridge", "serve", "--port", str(port), "--db", workspace.url],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=ROOT,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"salesbridge serve exited: {log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/sign-in", timeout=5).status_code == 200:
                return process
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("salesbridge serve did not answer within 2 minutes")


def process_figures(pid: int) -> dict[str, float]:
    """The process's resident memory (MiB; anonymous and file-backed apart too), threads (each may take an allocator
    arena of its own), open file descriptors and CPU seconds, from ``/proc``."""
    status = {
        name: int(value.split()[0])
        for name, value in (line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        if name in ("VmRSS", "RssAnon", "RssFile", "Threads")
    }
    return {
        "rss_mib": round(status.get("VmRSS", 0) / 1024, 2),
        # Anonymous memory (the heaps) apart from file-backed pages (libraries, mapped files).
        "rss_anon_mib": round(status.get("RssAnon", 0) / 1024, 2),
        "rss_file_mib": round(status.get("RssFile", 0) / 1024, 2),
        "threads": status.get("Threads", 0),
        "fds": sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir()),
        "cpu_s": round(process_cpu_seconds(pid), 2),
        # The embedded runner's import processes (SALESBRIDGE_IMPORT_PROCESS=child), alive at the sample.
        "children_rss_mib": round(sum(rss_kib(child) for child in child_pids(pid)) / 1024, 2),
    }


def child_pids(pid: int) -> list[int]:
    """The live processes whose parent is ``pid``."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return children


def rss_kib(pid: int) -> int:
    """The process's resident size in KiB; 0 when it ended meanwhile."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# ---------------------------------------------------------------------------------------------- the store


class StoreView:
    """What the soak reads of the store while the serve process works on it."""

    def __init__(self, workspace: Workspace, *, procrastinate: bool = False) -> None:
        """``procrastinate``: its units of work defer jobs into procrastinate's tables (``SALESBRIDGE_JOBS``)."""
        self.workspace = workspace
        self.store, self.engine = open_store(workspace)
        self.procrastinate = procrastinate
        if procrastinate:
            from pydantic import SecretStr

            from salesbridge.store import create_session_factory
            from salesbridge.store.jobs import JobEngine
            from salesbridge.store.secrets import CredentialCipher
            from salesbridge.store.uow import UnitOfWorkFactory

            cipher = CredentialCipher(SecretStr(workspace.key))
            self.store = UnitOfWorkFactory(
                create_session_factory(self.engine), cipher=cipher, job_engine=JobEngine.PROCRASTINATE
            )

    def request_drain(self) -> None:
        """With procrastinate, the drain deferred as logging an activity defers it (the embedded runner drains
        every round: nothing to defer)."""
        if not self.procrastinate:
            return
        from salesbridge.services.writeback_outbox import LOGGED_REASON, request_drain

        with self.store(self.workspace.organization_id) as uow:
            request_drain(uow, reason=LOGGED_REASON)
            uow.commit()

    def figures(self) -> dict[str, int]:
        """Records imported (finished runs' rows), import runs by state, activities by delivery state."""
        from salesbridge.domain.writeback import DeliveryState

        with self.store(self.workspace.organization_id, read_only=True) as uow:
            runs = uow.import_runs.recent(limit=100_000)
            states: Counter[DeliveryState] = Counter()
            for count in uow.activities.status():  # one count per state and data item
                states[count.state] += count.count
        by_state = Counter(run.state.value for run in runs)
        return {
            "records_imported": sum(run.rows_imported or 0 for run in runs),
            "records_deleted": sum(run.rows_deleted or 0 for run in runs),
            "imports_succeeded": by_state["succeeded"],
            "imports_failed": by_state["failed"],
            "activities_written": states.get(DeliveryState.DELIVERED, 0),
            "activities_failing": states.get(DeliveryState.FAILING, 0),
            "activities_waiting": sum(n for state, n in states.items() if state is not DeliveryState.DELIVERED),
        }

    def request_import(self) -> uuid.UUID:
        """An import queued and its job deferred, as the console's "Sync now" does."""
        from salesbridge.services.sync import request_sync

        return request_sync(self.store, slug=SLUG, actor="soak", reason="soak")

    def last_run(self) -> Any:
        with self.store(self.workspace.organization_id, read_only=True) as uow:
            runs = uow.import_runs.recent(limit=1)
        return runs[0] if runs else None

    def stored_ids(self) -> Counter[tuple[str, str]]:
        from sqlalchemy import select

        from salesbridge.store import create_session_factory
        from salesbridge.store.tables import CrmRecord

        with create_session_factory(self.engine)() as session:
            rows = session.execute(
                select(CrmRecord.table_name, CrmRecord.crm_id).where(
                    CrmRecord.organization_id == self.workspace.organization_id
                )
            ).all()
        return Counter((table, crm_id.lower()) for table, crm_id in rows)

    def close(self) -> None:
        self.engine.dispose()


def import_check(crm: Crm, view: StoreView) -> dict[str, Any]:
    """Per imported table: rows in the sandbox, rows stored, ``lost`` (in the sandbox, not stored), ``duplicated``
    (stored more than once) and ``stale`` (stored, but deleted in the sandbox)."""
    from salesbridge.domain.crm_import import IMPORTED_TABLES

    stored = view.stored_ids()
    tables: dict[str, Any] = {}
    for table in IMPORTED_TABLES:
        in_crm = {str(value).lower() for (value,) in crm.query(f'SELECT "{table}id" FROM "{table}"')}
        mine = Counter({crm_id: n for (t, crm_id), n in stored.items() if t == table})
        tables[table] = {
            "in_crm": len(in_crm),
            "stored": sum(mine.values()),
            "lost": len(in_crm - set(mine)),
            "duplicated": sum(n - 1 for n in mine.values() if n > 1),
            "stale": len(set(mine) - in_crm),
        }
    return tables


# -------------------------------------------------------------------------------------------------- figures


def slope_per_hour(points: Sequence[tuple[float, float]]) -> float:
    """The least-squares slope of (seconds, value) points, per hour (0 with fewer than two points)."""
    if len(points) < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if not spread:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread * 3600


RSS_TOLERANCE_PER_HOUR = 5.0
"""Memory counts as flat when its growth per hour, fitted over the second half, is at most this (MiB): 120 MiB a
day, small beside the process's 300 MiB, and a two-hour run sees it (10 MiB over its second hour). A ten-minute run
fits its slope over five minutes, where one step of a few MiB (the allocator taking another arena) reads as tens of
MiB an hour: it rarely shows flat, and says so rather than guessing."""


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


FLOOR_WINDOW_S = 60.0
"""Descriptors are fitted by their floor: the least over the last minute at each sample. Each HTTP connection open
at the moment of a sample adds one (the count moves by ten from one sample to the next); a leaked one raises the
floor for good. They count as flat when the floor of the last third of the samples is no higher than that of the
middle third (tolerance 0: a leak of one per import raises it by several within ten minutes)."""


def floor(samples: Sequence[dict[str, Any]], key: str, window_s: float = FLOOR_WINDOW_S) -> list[tuple[float, float]]:
    """(t, the least ``key`` over the samples of the ``window_s`` seconds up to t), for each sample."""
    return [(s["t"], min(o[key] for o in samples if s["t"] - window_s <= o["t"] <= s["t"])) for s in samples]


def growth(samples: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    """``key`` over the run: first, last and largest value; the median of the first and of the last third of the
    samples; the growth per hour fitted (least squares) over the second half (the first holds the warming up: the
    first full import, caches filling), of the value (RSS) or of its :func:`floor` (descriptors); and the verdict,
    ``flat`` or ``growing``: RSS by that growth against :data:`RSS_TOLERANCE_PER_HOUR`, descriptors by their floor
    in the last third against the middle third (:data:`FLOOR_WINDOW_S`)."""
    third = max(1, len(samples) // 3)
    descriptors = key == "fds"
    points = floor(samples, key) if descriptors else [(s["t"], s[key]) for s in samples]
    per_hour = slope_per_hour(points[len(points) // 2 :])
    if descriptors:
        rise = min(s[key] for s in samples[-third:]) - min(s[key] for s in samples[third:-third] or samples)
        flat, tolerance = rise <= 0, "the last third's floor no higher than the middle third's"
    else:
        flat, tolerance = per_hour <= RSS_TOLERANCE_PER_HOUR, f"at most {RSS_TOLERANCE_PER_HOUR:g} MiB an hour"
    return {
        "first": samples[0][key],
        "last": samples[-1][key],
        "max": max(s[key] for s in samples),
        "median_first_third": _median([s[key] for s in samples[:third]]),
        "median_last_third": _median([s[key] for s in samples[-third:]]),
        "per_hour_second_half": round(per_hour, 2),
        "fitted": "floor over a minute" if descriptors else "value",
        "tolerance": tolerance,
        "verdict": "flat" if flat else "growing",
    }


def chart(results: dict[str, Any], path: Path) -> None:
    """RSS, descriptors and throughput (per minute, between samples) over time, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = results["samples"]
    minutes = [s["t"] / 60 for s in samples]
    figure, (memory, descriptors, throughput) = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    for axes, key, label, color in (
        (memory, "rss_mib", "RSS (MiB)", "tab:blue"),
        (descriptors, "fds", "open fds", "tab:orange"),
    ):
        axes.plot(minutes, [s[key] for s in samples], color=color)
        axes.set_ylabel(label)
        axes.set_ylim(bottom=0)
        verdict = results["growth"][key]
        axes.set_title(
            f"{verdict['verdict']}: {verdict['per_hour_second_half']:+.1f} an hour over the second half "
            f"(flat: {verdict['tolerance']})",
            fontsize="small",
            loc="left",
        )
    for key, label in (
        ("records_imported", "records imported"),
        ("activities_written", "activities written"),
        ("pages_served", "pages served"),
    ):
        rates = [0.0] + [(b[key] - a[key]) / max(b["t"] - a["t"], 1e-9) * 60 for a, b in itertools.pairwise(samples)]
        throughput.plot(minutes, rates, label=label)
    throughput.set_yscale("symlog")
    throughput.set_ylabel("per minute")
    throughput.set_xlabel("minutes")
    throughput.legend(loc="upper right", fontsize="small")
    settings = results["settings"]
    figure.suptitle(
        f"salesbridge serve soak: {settings['minutes']:g} min, {settings['database']}, "
        f"{settings.get('jobs', 'embedded')} jobs, "
        f"{settings['fault_rate']:.0%} Web API faults"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)


def markdown(results: dict[str, Any]) -> str:
    """The table of ``docs/reliability.md`` § Soak."""
    totals, checks = results["totals"], results["checks"]
    rss, fds = results["growth"]["rss_mib"], results["growth"]["fds"]
    rows = [
        ("Duration (load) / settling", f"{results['settings']['minutes']:g} min / {results['settle_seconds']:.0f} s"),
        ("Imports succeeded / failed", f"{totals['imports_succeeded']} / {totals['imports_failed']}"),
        (
            "Records imported (rows written) / deleted",
            f"{totals['records_imported']:,} / {totals['records_deleted']:,}",
        ),
        (
            "CRM changes made (create / update / delete)",
            f"{totals.get('crm_creates', 0)} / {totals.get('crm_updates', 0)} / {totals.get('crm_deletes', 0)}",
        ),
        ("Activities queued / written", f"{results['activities_queued']:,} / {totals['activities_written']:,}"),
        ("Pages served / errors", f"{totals.get('pages_served', 0):,} / {totals.get('page_errors', 0)}"),
        ("Faulted Web API calls met by the CRM changes", f"{totals.get('crm_change_faults', 0)}"),
        ("Activities failing at the last sample of the load", f"{results['failing_at_end_of_load']}"),
        ("Error lines in the serve log", f"{results['serve_log_errors']}"),
        (
            "RSS (MiB): first / last / max; median of the first / last third",
            f"{rss['first']:.0f} / {rss['last']:.0f} / {rss['max']:.0f}; "
            f"{rss['median_first_third']:.0f} / {rss['median_last_third']:.0f}",
        ),
        (
            "RSS growth per hour (second half); verdict",
            f"{rss['per_hour_second_half']:+.1f} MiB; {rss['verdict']} (flat: {rss['tolerance']})",
        ),
        (
            "Open fds: first / last / max; median of the first / last third",
            f"{fds['first']:.0f} / {fds['last']:.0f} / {fds['max']:.0f}; "
            f"{fds['median_first_third']:.0f} / {fds['median_last_third']:.0f}",
        ),
        (
            "Open fds floor growth per hour (second half); verdict",
            f"{fds['per_hour_second_half']:+.1f}; {fds['verdict']} (flat: {fds['tolerance']})",
        ),
        (
            "Import processes' RSS (MiB): the most sampled; samples with one running",
            f"{max((s.get('children_rss_mib', 0) for s in results['samples']), default=0):.0f}; "
            f"{sum(1 for s in results['samples'] if s.get('children_rss_mib'))} of {len(results['samples'])}",
        ),
        ("Records lost / duplicated / stale", f"{checks['lost']} / {checks['duplicated']} / {checks['stale']}"),
        ("Activities not written / written twice", f"{checks['not_written']} / {checks['written_twice']}"),
    ]
    lines = ["| measure | value |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------- run


@contextlib.contextmanager
def store_url(folder: Path, postgresql: bool) -> Iterator[str]:
    if not postgresql:
        yield f"sqlite:///{folder / 'store.db'}"
        return
    from bench.postgres_cluster import throwaway_cluster

    with throwaway_cluster() as cluster:
        cluster.execute('CREATE DATABASE "soak"')
        yield cluster.url("soak")


def add_admin(workspace: Workspace) -> None:
    """The administrator the console's load signs in as (a cheap hash: signing in is not what is measured)."""
    from argon2 import PasswordHasher
    from pydantic import SecretStr

    from salesbridge.services.accounts import AccountService
    from salesbridge.store.uow import utc_now

    store, engine = open_store(workspace)
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    AccountService(store, clock=utc_now, hasher=hasher).create_user(
        SLUG,
        email=ADMIN,
        display_name="Ada Admin",
        password=SecretStr(PASSWORD),
        is_admin=True,
        with_seat=True,
        actor="soak",
    )
    engine.dispose()


def settle(view: StoreView, queued: int, since: datetime, timeout_s: float) -> float:
    """Wait until an import that started after ``since`` (when the CRM stopped changing) succeeded and ``queued``
    activities are delivered; seconds waited (``timeout_s`` when it did not happen). An import that finished
    without being that one (it failed, or it started earlier) is followed by another, as the schedule would."""
    started = time.monotonic()
    view.request_import()
    while time.monotonic() - started < timeout_s:
        run = view.last_run()
        finished = run is not None and run.state.value in ("succeeded", "failed")
        fresh = finished and run.state.value == "succeeded" and run.started_at is not None and run.started_at >= since
        if fresh and view.figures()["activities_written"] >= queued:
            return time.monotonic() - started
        if finished and not fresh:
            view.request_import()
        time.sleep(1)
    return timeout_s


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    phases = {"start": time.monotonic()}
    crm = start_crm(folder / "crm", folder / "crm.db", contacts=args.contacts)
    phases["sandbox"] = time.monotonic()
    serve: subprocess.Popen[bytes] | None = None
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        with store_url(folder, args.postgresql) as url:
            workspace = prepare_workspace(url, crm, people=args.people)
            add_admin(workspace)
            phases["workspace"] = time.monotonic()
            third = args.fault_rate / 3
            crm.put_faults(
                {
                    "seed": 16,
                    "throttle_rate": third,
                    "throttle_retry_after_s": 1,
                    "unavailable_rate": third,
                    "reset_rate": third,
                }
            )
            port = free_port()
            log = folder / "serve.log"
            extra = {"SALESBRIDGE_JOBS": args.jobs, **dict(args.serve_env)}
            if args.trace_allocations:
                extra |= {
                    "SALESBRIDGE_TRACEMALLOC_FILE": str(args.trace_allocations.resolve()),
                    "SALESBRIDGE_TRACEMALLOC_EVERY_SECONDS": str(args.trace_every),
                    "SALESBRIDGE_TRACEMALLOC_FRAMES": str(args.trace_frames),
                }
            serve = start_serve(workspace, port, log, extra)
            phases["serve"] = time.monotonic()
            view = StoreView(workspace, procrastinate=args.jobs == "procrastinate")
            tally = Tally()
            changes = CrmChanges(crm, tally)
            console = Console(f"http://127.0.0.1:{port}", tally, args.pages)
            queued: list[tuple[uuid.UUID, str]] = []
            per_batch = max(1, round(args.activities_per_minute / 30))

            def queue_activities(number: int) -> None:
                item = ITEMS[number % len(ITEMS)]
                tag = f"soak-{number}"
                queued.extend(seed_activities(view.store, workspace, items=(item,), count=per_batch, tag=tag))
                view.request_drain()

            def request_import(number: int) -> None:
                view.request_import()
                tally.add("imports_requested")

            started = time.monotonic()
            threads = [every(args.import_every, stop, request_import, tally, "imports")]
            if args.changes_per_minute > 0:  # 0: no CRM changes (a diagnosis: does memory follow the store?)
                threads.append(every(60 / args.changes_per_minute, stop, changes.step, tally, "crm_changes"))
            if args.activities_per_minute > 0:  # 0: no writeback
                threads.append(every(2.0, stop, queue_activities, tally, "writeback"))
            threads.append(every(args.page_every, stop, console.load, tally, "console"))
            samples: list[dict[str, Any]] = []
            end = started + args.minutes * 60
            while True:
                now = time.monotonic()
                sample = {"t": round(now - started, 1), **process_figures(serve.pid), **view.figures()}
                sample.update(tally.snapshot())
                sample["activities_queued"] = len(queued)
                samples.append(sample)
                print(
                    f"{sample['t']:7.0f}s rss {sample['rss_mib']:6.1f} MiB (import {sample['children_rss_mib']:5.1f}) "
                    f"fds {sample['fds']:3d} "
                    f"threads {sample['threads']:3d} "
                    f"imported {sample['records_imported']:7d} written {sample['activities_written']:6d}"
                    f"/{len(queued)} pages {sample.get('pages_served', 0):5d}",
                    flush=True,
                )
                if now >= end:
                    break
                time.sleep(min(args.sample_every, max(0.0, end - time.monotonic())))
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
            failing_at_end = samples[-1]["activities_failing"]
            since = datetime.now(UTC)
            settled = settle(view, len(queued), since, args.settle_minutes * 60)
            final = {"t": round(time.monotonic() - started, 1), **process_figures(serve.pid), **view.figures()}
            totals = {**final, **tally.snapshot()}
            imported = import_check(crm, view)
            written = check_written(crm, workspace, queued)
            checks = {
                "lost": sum(t["lost"] for t in imported.values()),
                "duplicated": sum(t["duplicated"] for t in imported.values()),
                "stale": sum(t["stale"] for t in imported.values()),
                "not_written": max(
                    sum(c["expected"] - c["found"] for c in written.values()),
                    len(queued) - final["activities_written"],
                ),
                "written_twice": sum(c["external_ids_twice"] for c in written.values()),
                "tables": imported,
                "activities": written,
            }
            changes.close()
            console.close()
            view.close()
            log_text = log.read_text(errors="replace")
            return {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "settings": {
                    "minutes": args.minutes,
                    "database": "postgresql" if args.postgresql else "sqlite",
                    "jobs": args.jobs,
                    "fault_rate": args.fault_rate,
                    "import_every_s": args.import_every,
                    "changes_per_minute": args.changes_per_minute,
                    "activities_per_minute": per_batch * 30 if args.activities_per_minute > 0 else 0,
                    "page_every_s": args.page_every,
                    "pages": list(args.pages),
                    "contacts": args.contacts,
                    "people": args.people,
                    "serve_env": dict(args.serve_env),
                },
                "samples": samples,
                "totals": totals,
                "activities_queued": len(queued),
                "failing_at_end_of_load": failing_at_end,
                "settle_seconds": round(settled, 1),
                "setup_seconds": {
                    name: round(phases[name] - phases[before], 1)
                    for before, name in itertools.pairwise(("start", "sandbox", "workspace", "serve"))
                },
                "settled": settled < args.settle_minutes * 60,
                "serve_log_errors": sum(
                    1 for line in log_text.splitlines() if " ERROR " in line or "Traceback" in line
                ),
                # The log goes with the run's temporary folder: keep what an error said (the first 40 lines of each).
                "serve_log_error_excerpts": error_excerpts(log_text),
                "growth": {key: growth(samples, key) for key in ("rss_mib", "rss_anon_mib", "fds")},
                "checks": checks,
                "ok": not (checks["lost"] or checks["duplicated"] or checks["not_written"] or checks["written_twice"]),
            }
    finally:
        stop.set()
        if serve is not None and serve.poll() is None:
            serve.terminate()
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                serve.kill()
        crm.stop()


def environment_setting(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` as a pair; argparse reports anything else as a usage error."""
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def error_excerpts(log_text: str, *, most: int = 20, lines_each: int = 40) -> list[str]:
    """Up to ``most`` of the serve log's error records, each from its ERROR or Traceback line through at most
    ``lines_each`` lines (a traceback ends at the first line that is not indented after it)."""
    lines = log_text.splitlines()
    excerpts: list[str] = []
    index = 0
    while index < len(lines) and len(excerpts) < most:
        line = lines[index]
        if " ERROR " in line or line.startswith("Traceback"):
            end = index + 1
            while (
                end < len(lines)
                and end - index < lines_each
                and (lines[end].startswith((" ", "Traceback")) or lines[end - 1].startswith("Traceback"))
            ):
                end += 1
            end = min(len(lines), max(end + 1, index + 1))  # the exception's own line closes a traceback
            excerpts.append("\n".join(lines[index:end]))
            index = end
        else:
            index += 1
    return excerpts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the load runs (issue 16: 120 for 2 h)")
    parser.add_argument("--import-every", type=float, default=60.0, help="seconds between two requested imports")
    parser.add_argument("--changes-per-minute", type=float, default=60.0, help="0: none")
    parser.add_argument("--activities-per-minute", type=float, default=120.0, help="0: no writeback")
    parser.add_argument("--page-every", type=float, default=0.5, help="seconds between two page loads")
    parser.add_argument(
        "--pages",
        type=console_paths,
        default=CONSOLE_PATHS,
        metavar="PATH[,PATH…]",
        help="the pages loaded, in turn (default: all the console's main pages); a diagnosis: which page's reads grow",
    )
    parser.add_argument("--sample-every", type=float, default=5.0)
    parser.add_argument("--settle-minutes", type=float, default=5.0)
    parser.add_argument("--fault-rate", type=float, default=0.10, help="share of Web API answers faulted")
    parser.add_argument("--contacts", type=int, default=5_000)
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--postgresql", action="store_true", help="the store in a throwaway PostgreSQL cluster")
    parser.add_argument(
        "--trace-allocations",
        type=Path,
        metavar="FILE",
        help="diagnosis (slows the serve process): it appends allocation growth by traceback and object counts to "
        "FILE (SALESBRIDGE_TRACEMALLOC_FILE)",
    )
    parser.add_argument("--trace-every", type=float, default=60.0, help="seconds between two allocation dumps")
    parser.add_argument(
        "--trace-frames", type=int, default=8, help="frames per traced allocation; 0: live objects by type only (cheap)"
    )
    parser.add_argument(
        "--jobs",
        choices=("embedded", "procrastinate"),
        default="embedded",
        help="the serve process's job engine (SALESBRIDGE_JOBS); procrastinate needs --postgresql",
    )
    parser.add_argument(
        "--serve-env",
        type=environment_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="added to the serve process's environment (repeatable), e.g. SALESBRIDGE_SQLITE_MMAP_MIB=256; kept in "
        "the results' settings",
    )
    parser.add_argument("--out", type=Path, help="default bench/results/soak.json (soak-postgresql.json)")
    parser.add_argument("--chart", type=Path, help="default bench/results/soak.png (soak-postgresql.png)")
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="FILE",
        help="run nothing: read an earlier run's results, fit its growth again, write them, the chart and the table",
    )
    args = parser.parse_args(argv)
    if args.jobs == "procrastinate" and not args.postgresql:
        parser.error("--jobs procrastinate needs --postgresql")
    suffix = "-postgresql" if args.postgresql else ""
    args.out = args.out or RESULTS.with_name(f"soak{suffix}.json")
    args.chart = args.chart or CHART.with_name(f"soak{suffix}.png")
    if args.from_json:
        results = json.loads(args.from_json.read_text())
        results["growth"] = {
            key: growth(results["samples"], key)
            for key in ("rss_mib", "rss_anon_mib", "fds")
            if key in results["samples"][0]  # runs before the anonymous RSS was sampled have none
        }
    else:
        # Stopped with SIGTERM, the soak still stops its sandbox, serve process and cluster (the `finally` blocks).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        with tempfile.TemporaryDirectory(prefix="bench-soak-") as scratch:
            results = run(args, Path(scratch))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    chart(results, args.chart)
    print(markdown(results))
    print(f"results: {args.out}, chart: {args.chart}; {'ok' if results['ok'] else 'FAILED'}")
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
