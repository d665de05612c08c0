"""The Reports page's "written back" counts, read as before ``fd01c62`` (every delivered activity of the 12 weeks
read into Python and counted there) and as now (counted by the database per author and item, a column per week, in
the order of an index: migration 0042), side by side on the same data.

For each ``--activities`` value, a store is migrated and seeded: an organization with ``--sellers`` sellers (users
with seats, no password) and that many delivered activities spread at random (a fixed seed) over the 12 weeks the
page reads (from the Monday, UTC, 11 weeks before this one, as ``read_reports`` asks, until now), each of a random
seller and data item; plus a tenth as many that neither read counts: half delivered in the 12 weeks before those,
half queued within them. The rows are inserted in bulk through the store's ``activities`` table (as
``ActivityRepository.add`` would store them, then delivered); PostgreSQL is then ANALYZEd. Setup is not timed.

Each round reads the counts both ways, alternately (per row first in rounds 1, 3, 5…, grouped first in rounds 2,
4…), each call in a read-only session of its own, as the page's unit of work reads them:

* ``per row``: the old read, kept here as the baseline (:func:`per_row`: ``git show fd01c62^:
  src/salesbridge/store/reports.py``);
* ``grouped``: the store's current ``ReportQueries.delivered_counts`` (``uow.reports``).

``--calls`` timed calls of each (their median is the round's time), then one call of each under ``tracemalloc``
(its peak: the Python objects the read holds at once; the database's own memory, and libpq's on PostgreSQL, are
not counted). Every call's answer is compared; the benchmark exits 1 if the two reads ever disagree. The ratios
(per row / grouped) are computed within each round, never across rounds (the machine is shared), and every round
is reported.

    python -m bench.reports_reads [--activities 20000,100000] [--sellers 20] [--rounds 5] [--calls 3]
                                  [--databases sqlite postgresql] [--out FILE]

Several ``--sellers`` values (``2,20,200``) measure each size once per value: the grouped read answers one row per
seller and item with activity (20 sellers, 4 items: at most 80), so what reaches Python follows the sellers, not the
activities.

Results: ``bench/results/reports-reads.json`` and docs/performance.md § Reports: written-back counts in index
order.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bench.crm_import import machine
from bench.postgres_cluster import throwaway_cluster
from salesbridge.domain.reports import DeliveredCount, week_start
from salesbridge.domain.writeback import ITEM_TABLES, DataItem, DeliveryState, Direction, crm_activity_id
from salesbridge.services.accounts import AccountService
from salesbridge.services.connecting import create_organization
from salesbridge.store.database import create_engine_for, create_session_factory, migrate, read_only_engine
from salesbridge.store.reports import ReportQueries
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.tables import ActivityRow
from salesbridge.store.uow import UnitOfWorkFactory, utc_now

READS = ("per row", "grouped")
WEEKS = 12
"""The weeks the Reports page reads (``salesbridge.services.reports.WEEKS``)."""
BATCH = 5_000
SEED = 20261206


def per_row(session: Session, organization_id: uuid.UUID, since: datetime) -> list[DeliveredCount]:
    """``ReportQueries.delivered_counts`` as it was before ``fd01c62``: every delivered activity of the period read
    (author, item, moment) and counted per author, item and week in Python."""
    statement = select(ActivityRow.author_user_id, ActivityRow.item, ActivityRow.occurred_at).where(
        ActivityRow.organization_id == organization_id,
        ActivityRow.state == DeliveryState.DELIVERED.value,
        ActivityRow.occurred_at >= since,
    )
    counts: Counter[tuple[uuid.UUID, str, date]] = Counter()
    for author, item, occurred_at in session.execute(statement):
        counts[(author, item, week_start(occurred_at))] += 1
    return sorted(
        (DeliveredCount(author, item, week, count) for (author, item, week), count in counts.items()),
        key=lambda row: (row.week, str(row.author_user_id), row.item),
    )


def period_start(now: datetime) -> datetime:
    """The first moment the page counts: the Monday (UTC) of the week 11 weeks before ``now``'s, at 00:00."""
    first_week = week_start(now) - timedelta(weeks=WEEKS - 1)
    return datetime.combine(first_week, datetime.min.time(), tzinfo=UTC)


def _activity(
    organization_id: uuid.UUID, author: uuid.UUID, number: int, item: DataItem, at: datetime, state: DeliveryState
) -> dict[str, Any]:
    """One ``activities`` row as ``ActivityRepository.add`` stores it, then delivered (or left queued)."""
    activity_id = uuid.uuid4()
    delivered = state is DeliveryState.DELIVERED
    return {
        "id": activity_id,
        "organization_id": organization_id,
        "author_user_id": author,
        "client_id": f"bench-{number}",
        "item": item.value,
        "person_id": None,
        "company_id": None,
        "subject": None if item in (DataItem.INMAIL, DataItem.MESSAGE) else f"{item.value.title()} {number}",
        "body": f"Following up on our conversation ({number})",
        "direction": Direction.OUTGOING.value,
        "occurred_at": at,
        "conversation_id": None,
        "version": 1,
        "created_at": at,
        "updated_at": at,
        "state": state.value,
        "hold": None,
        "attempts": 1 if delivered else 0,
        "next_attempt_at": None if delivered else at,
        "claimed_until": None,
        "error_code": None,
        "error_message": None,
        "regarding_table": None,
        "regarding_id": None,
        "crm_table": ITEM_TABLES[item],
        "crm_id": crm_activity_id(organization_id, activity_id),
        "delivered_version": 1 if delivered else None,
        "delivered_at": at if delivered else None,
        "participants": "[]",
    }


def _rows(
    organization_id: uuid.UUID, sellers: Sequence[uuid.UUID], *, activities: int, since: datetime, now: datetime
) -> Iterator[dict[str, Any]]:
    """``activities`` delivered in [since, now), a twentieth as many delivered in the 12 weeks before ``since``
    and a twentieth as many queued in [since, now); random sellers, items and moments (microseconds)."""
    rng = random.Random(SEED + activities)
    span = int((now - since).total_seconds() * 1_000_000)
    items = list(DataItem)
    extra = activities // 20
    kinds = (
        (activities, since, DeliveryState.DELIVERED),
        (extra, since - timedelta(weeks=WEEKS), DeliveryState.DELIVERED),
        (extra, since, DeliveryState.QUEUED),
    )
    number = 0
    for count, start, state in kinds:
        for _ in range(count):
            at = start + timedelta(microseconds=rng.randrange(span))
            yield _activity(organization_id, rng.choice(sellers), number, rng.choice(items), at, state)
            number += 1


def seed(engine: Engine, *, activities: int, sellers: int, now: datetime) -> tuple[uuid.UUID, datetime]:
    """The organization ``bench``, its sellers and activities (see the module's docstring); its id and the first
    moment the page counts."""
    store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))
    organization_id = create_organization(store, slug="bench", name="Bench Corp", seats=sellers, actor="bench")
    accounts = AccountService(store, clock=utc_now)
    seller_ids = [
        accounts.create_user(
            "bench",
            email=f"seller{index}@bench.test",
            display_name=f"Seller {index}",
            password=None,
            is_admin=False,
            with_seat=True,
            actor="bench",
        ).user_id
        for index in range(sellers)
    ]
    since = period_start(now)
    rows = _rows(organization_id, seller_ids, activities=activities, since=since, now=now)
    with store.bulk_writes():
        while batch := [row for _, row in zip(range(BATCH), rows, strict=False)]:
            with engine.begin() as connection:
                connection.execute(insert(ActivityRow), batch)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    return organization_id, since


def _readers(
    sessions: sessionmaker[Session], organization_id: uuid.UUID, since: datetime
) -> dict[str, Callable[[], list[DeliveredCount]]]:
    """Each read as one call: a read-only session of its own, as the page's unit of work."""

    def old() -> list[DeliveredCount]:
        with sessions() as session:
            return per_row(session, organization_id, since)

    def new() -> list[DeliveredCount]:
        with sessions() as session:
            return ReportQueries(session, organization_id, clock=utc_now).delivered_counts(weeks=weeks)

    weeks = tuple(since.date() + timedelta(weeks=number) for number in range(WEEKS))

    return {"per row": old, "grouped": new}


def _traced_peak(read: Callable[[], list[DeliveredCount]]) -> tuple[int, list[DeliveredCount]]:
    """The tracemalloc peak (bytes) of one call of ``read``, and its answer."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        answer = read()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, answer


def measure(url: str, *, activities: int, sellers: int, rounds: int, calls: int) -> dict[str, Any]:
    """Seed a store at ``url`` and read the counts both ways, ``rounds`` times. Raises RuntimeError when the two
    reads' answers differ."""
    migrate(url)
    engine = create_engine_for(url)
    started = time.perf_counter()
    organization_id, since = seed(engine, activities=activities, sellers=sellers, now=datetime.now(UTC))
    setup_seconds = round(time.perf_counter() - started, 1)
    reads = _readers(create_session_factory(read_only_engine(engine)), organization_id, since)
    expected = reads["per row"]()  # warm-up of both, untimed
    if reads["grouped"]() != expected:
        raise RuntimeError(f"{engine.dialect.name}, {activities:,} activities: the two reads disagree (warm-up)")
    rounds_found: list[dict[str, Any]] = []
    for index in range(rounds):
        order = READS if index % 2 == 0 else READS[::-1]
        found: dict[str, Any] = {"round": index + 1, "order": list(order)}
        for read in order:
            times: list[float] = []
            for _ in range(calls):
                begun = time.perf_counter()
                answer = reads[read]()
                times.append(round((time.perf_counter() - begun) * 1000, 2))
                if answer != expected:
                    raise RuntimeError(f"{engine.dialect.name}, {activities:,} activities: {read} disagrees")
            peak, answer = _traced_peak(reads[read])
            if answer != expected:
                raise RuntimeError(f"{engine.dialect.name}, {activities:,} activities: {read} disagrees (traced)")
            key = read.replace(" ", "_")
            found[f"{key}_ms"] = times
            found[f"{key}_median_ms"] = statistics.median(times)
            found[f"{key}_peak_kib"] = round(peak / 1024, 1)
        found["time_ratio"] = round(found["per_row_median_ms"] / max(found["grouped_median_ms"], 0.01), 1)
        found["memory_ratio"] = round(found["per_row_peak_kib"] / max(found["grouped_peak_kib"], 0.1), 1)
        rounds_found.append(found)
        scenario = {"database": engine.dialect.name, "activities": activities, "sellers": sellers}
        print(json.dumps({**scenario, **found}), flush=True)
    engine.dispose()
    return {
        "database": engine.dialect.name,
        "activities": activities,
        "activities_in_table": activities + 2 * (activities // 20),
        "sellers": sellers,
        "since": since.isoformat(),
        "counts": len(expected),
        "counted": sum(row.count for row in expected),
        "agree": True,
        "setup_seconds": setup_seconds,
        "rounds": rounds_found,
    }


def _series(values: Sequence[float], unit: str = "") -> str:
    return " · ".join(f"{value:g}{unit}" for value in values)


def markdown(results: dict[str, Any]) -> str:
    """Every round's ratios (per row / grouped), and the medians each came from."""
    lines = [
        "| database | activities | sellers | time, per row / grouped, each round | per row median ms, each round "
        "| grouped median ms, each round | peak memory, per row / grouped, each round "
        "| per row peak KiB | grouped peak KiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario in results["scenarios"]:
        rounds = scenario["rounds"]
        lines.append(
            f"| {scenario['database']} | {scenario['activities']:,} | {scenario['sellers']} | "
            f"{_series([found['time_ratio'] for found in rounds], 'x')} | "
            f"{_series([found['per_row_median_ms'] for found in rounds])} | "
            f"{_series([found['grouped_median_ms'] for found in rounds])} | "
            f"{_series([found['memory_ratio'] for found in rounds], 'x')} | "
            f"{_series([found['per_row_peak_kib'] for found in rounds])} | "
            f"{_series([found['grouped_peak_kib'] for found in rounds])} |"
        )
    return "\n".join(lines)


def _counts(text: str) -> list[int]:
    """``20000,100000`` (or one number) as numbers: the sizes may be given with commas or spaces."""
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=_counts, nargs="+", default=[[20_000, 100_000]])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=3, help="timed calls of each read per round (their median)")
    parser.add_argument("--sellers", type=_counts, nargs="+", default=[[20]])
    parser.add_argument("--databases", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"])
    parser.add_argument("--out", type=Path, default=Path("bench/results/reports-reads.json"))
    args = parser.parse_args(argv)
    args.activities = [count for counts in args.activities for count in counts]
    args.sellers = [count for counts in args.sellers for count in counts]
    load_at_start = [round(value, 2) for value in os.getloadavg()]
    scenarios: list[dict[str, Any]] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-reports-reads-") as scratch, ExitStack() as stack:
        cluster = stack.enter_context(throwaway_cluster()) if "postgresql" in args.databases else None
        for index, (activities, sellers, database) in enumerate(
            itertools.product(args.activities, args.sellers, args.databases)
        ):
            if cluster is not None and database == "postgresql":
                cluster.execute(f'CREATE DATABASE "reports_reads_{index}"')
                url = cluster.url(f"reports_reads_{index}")
            else:
                url = f"sqlite:///{Path(scratch) / f'reports_reads_{index}.db'}"
            try:
                scenarios.append(
                    measure(url, activities=activities, sellers=sellers, rounds=args.rounds, calls=args.calls)
                )
            except RuntimeError as error:
                problems.append(str(error))
                print(error, file=sys.stderr, flush=True)
    results = {
        "benchmark": "reports_reads",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_at_start": load_at_start,
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
        "settings": {
            "activities": args.activities,
            "rounds": args.rounds,
            "calls": args.calls,
            "sellers": args.sellers,
            "databases": args.databases,
            "weeks": WEEKS,
        },
        "ratio_of": "per row / grouped, within each round: median wall time of the calls; tracemalloc peak of one",
        "scenarios": scenarios,
        "problems": problems,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(markdown(results))
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
