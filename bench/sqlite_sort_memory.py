"""What SQLite's sorting of a growing table does to a long-running process's memory: the writeback status
(``ActivityRepository.status``, read by the Writeback and CRM health pages and, before 41a8f79, by the alerts every
minute) read over and over while activities are added, with its GROUP BY sorted by SQLite in the process (the
activities' indexes before migration 0042) and read in the order of migration 0042's index, side by side.

Set-up (untimed): a migrated SQLite store seeded with ``--activities`` activities of ``--sellers`` sellers
(:func:`bench.reports_reads.seed`), copied twice: ``sorted``, with migration 0042's four indexes dropped (the plan
is then SQLite's before it: ``USE TEMP B-TREE FOR GROUP BY``), and ``index order``, as migrated. Both plans are
recorded.

Then one process per copy, both at once, each as ``salesbridge serve`` runs: two glibc arenas
(:func:`~salesbridge.bootstrap.fewer_malloc_arenas`), free memory given back every minute
(:func:`~salesbridge.bootstrap.release_free_memory`), the store's engine with its SQLite settings (64 MiB of page
cache in all). In each, ``--readers`` threads read the status in a loop, each read a read-only unit of work of its
own, while a writer adds ``--add-per-second`` activities (every half second, one transaction). Every
``--sample-every`` seconds: the process's resident memory, glibc's heap in use and free but held (``mallinfo2``),
SQLite's own memory, the activities and the reads so far.

Reported per process: resident memory and glibc's free-but-held memory at the start and the end, and the growth
per hour of resident memory over the second half (a least-squares line, as ``bench.soak`` fits it); and per
thousand activities added, so that a process that read less often is not favoured. The two run side by side on the
same machine at the same time (it is shared): compare them with each other, not with another run.

    python -m bench.sqlite_sort_memory [--minutes 8] [--activities 5000] [--add-per-second 60] [--readers 4]

Results: ``bench/results/sqlite-sort-memory.json`` and docs/reliability.md § Soak.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert

from bench.reports_reads import _activity, seed
from salesbridge.bootstrap import fewer_malloc_arenas, release_free_memory
from salesbridge.diagnostics import malloc_heap_bytes, sqlite_memory_bytes
from salesbridge.domain.writeback import DataItem, DeliveryState
from salesbridge.store.database import create_engine_for, create_session_factory, migrate
from salesbridge.store.migrations.versions.revision_0042_activities_counted_in_index_order import INDEXES
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.tables import ActivityRow
from salesbridge.store.uow import UnitOfWorkFactory

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "sqlite-sort-memory.json"
VARIANTS = ("sorted", "index order")


def _heap_mib() -> tuple[float, float]:
    """glibc's heap: (in use, free but held), MiB; zeros where it cannot be read."""
    in_use, held = malloc_heap_bytes() or (0, 0)
    return round(in_use / 2**20, 2), round(held / 2**20, 2)


def _sqlite_mib() -> float:
    return round((sqlite_memory_bytes() or 0) / 2**20, 2)


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 2)
    return 0.0


# ------------------------------------------------------------------------------------------------- one process


def child(path: Path, organization_id: uuid.UUID, seller_ids: list[uuid.UUID], args: argparse.Namespace) -> None:
    """Read the status in ``args.readers`` threads while adding activities; a JSON line per sample on stdout."""
    fewer_malloc_arenas()  # before any thread, as serve does
    engine = create_engine_for(f"sqlite:///{path}")
    store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))
    plans: list[str] = []
    raw = sqlite3.connect(path, check_same_thread=False)

    def explain(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if "GROUP BY" in statement and not plans:
            plans.extend(row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters))

    event.listen(engine, "before_cursor_execute", explain)
    with store(organization_id, read_only=True) as uow:
        uow.activities.status()
    event.remove(engine, "before_cursor_execute", explain)
    print(json.dumps({"plan": plans}), flush=True)

    stop = threading.Event()
    reads = [0]
    added = [0]
    items = list(DataItem)

    def reader() -> None:
        while not stop.is_set():
            with store(organization_id, read_only=True) as uow:
                uow.activities.status()
            reads[0] += 1

    def writer() -> None:
        per_batch = max(1, round(args.add_per_second / 2))
        while not stop.is_set():
            now = datetime.now(UTC)
            rows = [
                _activity(
                    organization_id,
                    seller_ids[(added[0] + number) % len(seller_ids)],
                    1_000_000 + added[0] + number,
                    items[(added[0] + number) % len(items)],
                    now,
                    DeliveryState.DELIVERED if (added[0] + number) % 10 else DeliveryState.QUEUED,
                )
                for number in range(per_batch)
            ]
            with engine.begin() as connection:
                connection.execute(insert(ActivityRow), rows)
            added[0] += per_batch
            stop.wait(0.5)

    threads = [threading.Thread(target=reader, daemon=True) for _ in range(args.readers)]
    threads.append(threading.Thread(target=writer, daemon=True))
    for thread in threads:
        thread.start()
    started = last_release = time.monotonic()
    while (elapsed := time.monotonic() - started) < args.minutes * 60:
        time.sleep(args.sample_every)
        if time.monotonic() - last_release >= 60:
            release_free_memory()
            last_release = time.monotonic()
        in_use, held = _heap_mib()
        sample = {
            "t": round(time.monotonic() - started, 1),
            "rss_mib": _rss_mib(),
            "heap_in_use_mib": in_use,
            "heap_free_held_mib": held,
            "sqlite_mib": _sqlite_mib(),
            "added": added[0],
            "reads": reads[0],
        }
        print(json.dumps(sample), flush=True)
    del elapsed
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    engine.dispose()


# ------------------------------------------------------------------------------------------------- the run


def slope_per_hour(samples: list[dict[str, Any]], key: str, over: str = "t", per: float = 3600.0) -> float:
    """Least-squares slope of ``key`` against ``over`` through the second half of ``samples``, times ``per``."""
    half = samples[len(samples) // 2 :]
    if len(half) < 3:
        return float("nan")
    return round(statistics.linear_regression([s[over] for s in half], [s[key] for s in half]).slope * per, 2)


def summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """What a variant's samples show."""
    first, last = samples[0], samples[-1]
    return {
        "rss_mib_first_last": [first["rss_mib"], last["rss_mib"]],
        "heap_free_held_mib_first_last": [first["heap_free_held_mib"], last["heap_free_held_mib"]],
        "heap_in_use_mib_first_last": [first["heap_in_use_mib"], last["heap_in_use_mib"]],
        "sqlite_mib_first_last": [first["sqlite_mib"], last["sqlite_mib"]],
        "rss_growth_mib_per_hour_second_half": slope_per_hour(samples, "rss_mib"),
        "rss_growth_mib_per_1000_added_second_half": slope_per_hour(samples, "rss_mib", over="added", per=1000),
        "added": last["added"],
        "reads": last["reads"],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Seed, copy, run both processes side by side; their samples and summaries."""
    with tempfile.TemporaryDirectory(prefix="bench-sort-memory-") as folder:
        base = Path(folder) / "seeded.db"
        url = f"sqlite:///{base}"
        migrate(url)
        engine = create_engine_for(url)
        organization_id, _since = seed(engine, activities=args.activities, sellers=args.sellers, now=datetime.now(UTC))
        with engine.connect() as connection:
            seller_ids = [
                uuid.UUID(str(row[0])) for row in connection.exec_driver_sql("SELECT user_id FROM seats").fetchall()
            ]
        engine.dispose()
        paths = {variant: Path(folder) / f"{variant.replace(' ', '-')}.db" for variant in VARIANTS}
        for path in paths.values():
            shutil.copyfile(base, path)
        with sqlite3.connect(paths["sorted"]) as connection:
            for name in INDEXES:
                connection.execute(f"DROP INDEX {name}")
        processes = {
            variant: subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.sqlite_sort_memory",
                    "--child",
                    str(path),
                    str(organization_id),
                    ",".join(str(seller) for seller in seller_ids),
                    *_passed_on(args),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            for variant, path in paths.items()
        }
        found: dict[str, Any] = {}
        for variant, process in processes.items():
            output, _ = process.communicate(timeout=args.minutes * 60 + 600)
            lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
            if process.returncode != 0 or not lines:
                raise RuntimeError(f"{variant}: the process failed ({process.returncode})")
            samples = [line for line in lines if "t" in line]
            found[variant] = {"plan": lines[0].get("plan", []), "samples": samples, **summary(samples)}
    return found


def _passed_on(args: argparse.Namespace) -> list[str]:
    return [
        "--minutes",
        str(args.minutes),
        "--readers",
        str(args.readers),
        "--add-per-second",
        str(args.add_per_second),
        "--sample-every",
        str(args.sample_every),
    ]


def table(found: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| variant | plan | RSS MiB first / last | free but held MiB first / last | RSS growth MiB/h, second half "
        "| RSS growth MiB per 1,000 added | activities added | reads |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for variant, result in found.items():
        rss, held = result["rss_mib_first_last"], result["heap_free_held_mib_first_last"]
        lines.append(
            f"| {variant} | {' · '.join(result['plan'])} | {rss[0]:.0f} / {rss[1]:.0f} | {held[0]:.1f} / {held[1]:.1f} "
            f"| {result['rss_growth_mib_per_hour_second_half']:+.1f} "
            f"| {result['rss_growth_mib_per_1000_added_second_half']:+.2f} | {result['added']:,} "
            f"| {result['reads']:,} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--activities", type=int, default=5_000, help="seeded before the processes start")
    parser.add_argument("--sellers", type=int, default=8)
    parser.add_argument("--add-per-second", type=float, default=60.0)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--sample-every", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", nargs=3, metavar=("PATH", "ORGANIZATION", "SELLERS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        path, organization, sellers = args.child
        child(Path(path), uuid.UUID(organization), [uuid.UUID(s) for s in sellers.split(",")], args)
        return 0
    load_before = os.getloadavg()
    found = run(args)
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version},
        "load_average_before_after": [list(load_before), list(os.getloadavg())],
        "settings": {
            "minutes": args.minutes,
            "activities": args.activities,
            "sellers": args.sellers,
            "add_per_second": args.add_per_second,
            "readers": args.readers,
        },
        "variants": found,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(table(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
