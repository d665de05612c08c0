"""A list's ``unmatched`` count (the Lists page and GET /api/v1/me/lists), the query before and after migration 0040,
side by side on the same data.

For each ``--ties`` value, a store is migrated and seeded as the console benchmark seeds it (``--contacts``
imported contacts, the seller's list of 5,000 of them, 1,000 contacts tied to people), then contacts 1,000 … are
tied too up to that many ties (one in seven of those in review, not a tie). The count is then taken ``--rounds``
times by each query, alternately (the new first on odd rounds), on the store as seeded (phase "as imported":
PostgreSQL never ANALYZEd, as an import left it before the store refreshed statistics after bulk writes;
autovacuum is off on the measured tables, so it stays so) and again after ``ANALYZE``. Both
queries run on the current schema; every round is reported, and both answers must agree.

* ``old``: the list's items of the matched tables, outer-joined to their ties, those without one counted (the
  query until migration 0040).
* ``new``: :meth:`salesbridge.store.list_tables.ListTableQueries.unmatched`, a probe of the record's tie per item.

    python -m bench.list_unmatched [--contacts N] [--ties N ...] [--rounds N] [--databases sqlite postgresql]
                                   [--out FILE]

Results: ``bench/results/list_unmatched.json`` and docs/performance.md § Lists: the unmatched count.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench.console import TIED_PEOPLE, seed
from bench.postgres_cluster import throwaway_cluster
from salesbridge.bootstrap import console_services
from salesbridge.domain.match_links import LinkBand, LinkOrigin, MatchLink, TargetKind
from salesbridge.services.accounts import AccountService
from salesbridge.store.database import create_engine_for, create_session_factory, migrate
from salesbridge.store.list_tables import MATCHED_TABLES
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.tables import ListItem, MatchLinkRow
from salesbridge.store.uow import UnitOfWorkFactory, utc_now

SEEDED_TIES = TIED_PEOPLE
"""Contacts the console benchmark's seed ties to people (fewer when it seeds fewer people: one per 10 contacts)."""
BATCH = 10_000
MEASURED_TABLES = ("crm_records", "list_items", "match_links")


def old_unmatched(session: Session, organization_id: uuid.UUID, list_id: uuid.UUID) -> int:
    """The count as it was read until migration 0040: an outer join of the list's items to their ties."""
    tie = and_(
        MatchLinkRow.organization_id == organization_id,
        MatchLinkRow.crm_table == ListItem.crm_table,
        MatchLinkRow.crm_id == ListItem.crm_id,
        MatchLinkRow.band == LinkBand.MATCH.value,
        MatchLinkRow.target_id.is_not(None),
    )
    statement = (
        select(func.count())
        .select_from(ListItem)
        .outerjoin(MatchLinkRow, tie)
        .where(
            ListItem.organization_id == organization_id,
            ListItem.list_id == list_id,
            ListItem.crm_table.in_(MATCHED_TABLES),
            MatchLinkRow.crm_id.is_(None),
        )
    )
    return int(session.scalar(statement) or 0)


def _more_ties(store: UnitOfWorkFactory, organization_id: uuid.UUID, *, seeded: int, ties: int) -> None:
    """Tie contacts ``seeded`` … (the seed tied the ones before) up to about ``ties`` ties in all (one in seven of
    these in review instead)."""
    now = datetime.now(UTC)
    indexes = list(range(seeded, seeded + max(0, ties - seeded) * 7 // 6))
    for start in range(0, len(indexes), BATCH):
        links = [
            MatchLink(
                crm_table="contact",
                crm_id=str(uuid.UUID(int=index + 1)),
                target_kind=TargetKind.PERSON,
                target_id=uuid.UUID(int=2**64 + index),
                band=LinkBand.REVIEW if index % 7 == 3 else LinkBand.MATCH,
                probability=0.99,
                decision=None,
                origin=LinkOrigin.SCORER,
                decided_by=None,
                decided_at=now,
            )
            for index in indexes[start : start + BATCH]
        ]
        with store(organization_id) as uow:
            uow.matches.put(links)
            uow.commit()


def _statistics(engine: Engine) -> dict[str, float]:
    """PostgreSQL's row estimate of each measured table (-1: never ANALYZEd)."""
    with engine.connect() as connection:
        found = connection.exec_driver_sql(
            "SELECT relname, reltuples FROM pg_class WHERE relname IN ('crm_records', 'list_items', 'match_links')"
        )
        return {str(name): float(tuples) for name, tuples in found}


def _rounds(
    engine: Engine, store: UnitOfWorkFactory, organization_id: uuid.UUID, list_id: uuid.UUID, rounds: int
) -> dict[str, list[float]]:
    """``rounds`` timings (ms) of each query, alternately; raises when their answers differ."""
    timings: dict[str, list[float]] = {"old": [], "new": []}
    with store(organization_id, read_only=True) as uow, create_session_factory(engine)() as session:
        queries: dict[str, Callable[[], int]] = {
            "old": lambda: old_unmatched(session, organization_id, list_id),
            "new": lambda: uow.list_tables.unmatched(list_id),
        }
        for index in range(rounds):
            answers: dict[str, int] = {}
            for name in ("new", "old") if index % 2 == 0 else ("old", "new"):
                started = time.perf_counter()
                answers[name] = queries[name]()
                timings[name].append(round((time.perf_counter() - started) * 1000, 2))
            if answers["old"] != answers["new"]:
                raise RuntimeError(f"the queries disagree: {answers}")
    return timings


def measure(url: str, *, contacts: int, ties: int, rounds: int) -> dict[str, Any]:
    """Seed a store at ``url`` and time both queries on it, as imported and (PostgreSQL) after ANALYZE."""
    migrate(url)
    engine = create_engine_for(url)
    postgresql = engine.dialect.name == "postgresql"
    if postgresql:
        with engine.begin() as connection:
            for table in MEASURED_TABLES:
                connection.exec_driver_sql(f"ALTER TABLE {table} SET (autovacuum_enabled = off)")
    store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # sign-in is not what is measured
    services = replace(console_services(store), accounts=AccountService(store, clock=utc_now, hasher=hasher))
    seeded = seed(store, services.accounts, contacts=contacts, people=contacts // 10, opportunities=contacts // 100)
    _more_ties(store, seeded.organization_id, seeded=min(SEEDED_TIES, contacts // 10), ties=ties)
    with store(seeded.organization_id, read_only=True) as uow:
        unmatched = uow.list_tables.unmatched(seeded.list_id)
    phases: list[dict[str, Any]] = []
    for phase in ("as imported", "after ANALYZE") if postgresql else ("as imported",):
        if phase == "after ANALYZE":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("ANALYZE")
        estimates = _statistics(engine) if postgresql else {}
        timings = _rounds(engine, store, seeded.organization_id, seeded.list_id, rounds)
        phases.append(
            {
                "phase": phase,
                "row_estimates": estimates,
                "old_ms": timings["old"],
                "new_ms": timings["new"],
                "old_median_ms": statistics.median(timings["old"]),
                "new_median_ms": statistics.median(timings["new"]),
            }
        )
    engine.dispose()
    return {
        "database": engine.dialect.name,
        "contacts": contacts,
        "ties": ties,
        "list_size": 5_000,
        "unmatched": unmatched,
        "phases": phases,
    }


def markdown(results: dict[str, Any]) -> str:
    """Every round of every scenario as a table."""
    lines = [
        "| database | ties | phase | old, each round (ms) | new, each round (ms) | median old / new |",
        "|---|---|---|---|---|---|",
    ]
    for scenario in results["scenarios"]:
        for phase in scenario["phases"]:
            ratio = phase["old_median_ms"] / max(phase["new_median_ms"], 0.01)
            lines.append(
                f"| {scenario['database']} | {scenario['ties']:,} | {phase['phase']} | "
                f"{' · '.join(f'{ms:g}' for ms in phase['old_ms'])} | "
                f"{' · '.join(f'{ms:g}' for ms in phase['new_ms'])} | {ratio:.1f}x |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--ties", type=int, nargs="+", default=[SEEDED_TIES, 60_000])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--databases", nargs="+", choices=("sqlite", "postgresql"), default=["postgresql", "sqlite"])
    parser.add_argument("--out", type=Path, default=Path("bench/results/list_unmatched.json"))
    args = parser.parse_args(argv)
    if any(ties > args.contacts for ties in args.ties):
        parser.error("--ties may not exceed --contacts")
    scenarios: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-list-unmatched-") as scratch, ExitStack() as stack:
        cluster = stack.enter_context(throwaway_cluster()) if "postgresql" in args.databases else None
        for index, ties in enumerate(args.ties):
            for database in args.databases:
                if cluster is not None and database == "postgresql":
                    cluster.execute(f'CREATE DATABASE "unmatched_{index}"')
                    url = cluster.url(f"unmatched_{index}")
                else:
                    url = f"sqlite:///{Path(scratch) / f'unmatched_{index}.db'}"
                scenario = measure(url, contacts=args.contacts, ties=ties, rounds=args.rounds)
                print(json.dumps({key: scenario[key] for key in ("database", "ties", "unmatched")}), flush=True)
                scenarios.append(scenario)
    results = {
        "benchmark": "list_unmatched",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "rounds": args.rounds,
        "scenarios": scenarios,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
