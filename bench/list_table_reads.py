"""A list's table page and the Lists page's start by name, the store's reads before and after they read each item's
record and match link by its key, side by side on the same data.

For each ``--contacts`` value, a store is migrated and seeded as the console benchmark seeds it (that many imported
contacts, a tenth as many accounts, a twentieth as many leads, a hundredth as many opportunities: 116,000 records
for 100,000 contacts; the seller's list of 5,000 contacts, 1,000 of them tied to people), PostgreSQL then ANALYZEd
(the store refreshes statistics after an import). Each round reads, with the old code and the new, alternately (the
new first on odd rounds):

* ``page 1``: the table's first 100 rows by name (``ListTableQueries.rows``);
* ``page 2``: the next 100 (old: ``offset=100``; new: after page 1's last row, the keyset);
* ``preview``: the Lists page's start of the list (``ListTableQueries.previews``, 50 items by name, the people
  and companies and the unmatched count: the last two read alike by both).

"Old" is ``src/salesbridge/store/list_tables.py`` as it was at ``--old`` (a git revision; default: the commit before
the reads by key: joins, and pages counted by offset), loaded from git beside the current module; both run on the
current schema, and their answers must agree (the same rows, names and previews). Every round is reported (a
loaded machine: ratios only).

    python -m bench.list_table_reads [--contacts N ...] [--rounds N] [--databases sqlite postgresql] [--old REV]
                                     [--out FILE]

Results: ``bench/results/list_table_reads.json`` and docs/performance.md § Lists: a list's names read by key.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.engine import Engine

from bench.console import seed
from bench.postgres_cluster import throwaway_cluster
from salesbridge.bootstrap import console_services
from salesbridge.domain.lists import ListRowKey, ListTableQuery
from salesbridge.services.accounts import AccountService
from salesbridge.store.database import create_engine_for, create_session_factory, migrate
from salesbridge.store.list_tables import ListTableQueries
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory, utc_now

OLD_REVISION = "5b6ca3a^"
"""The last commit whose store joined each item to its record and link (PostgreSQL hashed the organization's)."""
READS = ("page 1", "page 2", "preview")
PAGE = 100
PREVIEW = 50


def old_module(revision: str, scratch: Path) -> ModuleType:
    """``salesbridge.store.list_tables`` as it was at ``revision``, loaded as a module of its own.

    Raises:
        subprocess.CalledProcessError: git does not know ``revision``.
    """
    source = subprocess.run(
        ["git", "show", f"{revision}:src/salesbridge/store/list_tables.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = scratch / "old_list_tables.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("old_list_tables", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _answer(page: Any) -> Any:
    """What a read answered, to compare the old and new: the rows' keys and names, or a preview's items."""
    if hasattr(page, "rows"):
        return [(row.crm_table, row.crm_id, row.name, row.badge) for row in page.rows], page.total
    return {
        list_id: ([(item.crm_table, item.crm_id) for item in preview.items], preview.size, preview.unmatched)
        for list_id, preview in page.items()
    }


def _rounds(
    engine: Engine, old: ModuleType, organization_id: uuid.UUID, list_id: uuid.UUID, rounds: int
) -> dict[str, dict[str, list[float]]]:
    """``rounds`` timings (ms) of each read by each code, alternately, in one session; raises when their answers
    differ."""
    timings: dict[str, dict[str, list[float]]] = {read: {"old": [], "new": []} for read in READS}
    query = ListTableQuery()
    with create_session_factory(engine)() as session:
        new_tables = ListTableQueries(session, organization_id, clock=utc_now)
        old_tables = old.ListTableQueries(session, organization_id, clock=utc_now)
        first = new_tables.rows(list_id, query, limit=PAGE).rows[-1]
        after = ListRowKey(crm_table=first.crm_table, crm_id=first.crm_id, name=first.name)
        reads: dict[str, dict[str, Callable[[], Any]]] = {
            "page 1": {
                "old": lambda: old_tables.rows(list_id, query, limit=PAGE),
                "new": lambda: new_tables.rows(list_id, query, limit=PAGE),
            },
            "page 2": {
                "old": lambda: old_tables.rows(list_id, query, limit=PAGE, offset=PAGE),
                "new": lambda: new_tables.rows(list_id, query, limit=PAGE, after=after),
            },
            "preview": {
                "old": lambda: old_tables.previews([list_id], limit=PREVIEW),
                "new": lambda: new_tables.previews([list_id], limit=PREVIEW),
            },
        }
        for index in range(rounds):
            for read, codes in reads.items():
                answers: dict[str, Any] = {}
                for code in ("new", "old") if index % 2 == 0 else ("old", "new"):
                    started = time.perf_counter()
                    answers[code] = _answer(codes[code]())
                    timings[read][code].append(round((time.perf_counter() - started) * 1000, 2))
                if answers["old"] != answers["new"]:
                    raise RuntimeError(f"{read}: the old and new reads disagree")
    return timings


def measure(url: str, old: ModuleType, *, contacts: int, rounds: int) -> dict[str, Any]:
    """Seed a store at ``url`` (PostgreSQL: then ANALYZE) and time both codes' reads on it."""
    migrate(url)
    engine = create_engine_for(url)
    store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # sign-in is not what is measured
    services = replace(console_services(store), accounts=AccountService(store, clock=utc_now, hasher=hasher))
    seeded = seed(store, services.accounts, contacts=contacts, people=contacts // 10, opportunities=contacts // 100)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    timings = _rounds(engine, old, seeded.organization_id, seeded.list_id, rounds)
    engine.dispose()
    return {
        "database": engine.dialect.name,
        "contacts": contacts,
        "records": contacts + contacts // 10 + contacts // 20 + contacts // 100,
        "list_size": 5_000,
        "reads": {
            read: {
                "old_ms": times["old"],
                "new_ms": times["new"],
                "old_median_ms": statistics.median(times["old"]),
                "new_median_ms": statistics.median(times["new"]),
            }
            for read, times in timings.items()
        },
    }


def markdown(results: dict[str, Any]) -> str:
    """Every round of every read as a table."""
    lines = [
        "| database | records | read | old, each round (ms) | new, each round (ms) | median old / new |",
        "|---|---|---|---|---|---|",
    ]
    for scenario in results["scenarios"]:
        for read, found in scenario["reads"].items():
            ratio = found["old_median_ms"] / max(found["new_median_ms"], 0.01)
            lines.append(
                f"| {scenario['database']} | {scenario['records']:,} | {read} | "
                f"{' · '.join(f'{ms:g}' for ms in found['old_ms'])} | "
                f"{' · '.join(f'{ms:g}' for ms in found['new_ms'])} | {ratio:.1f}x |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--databases", nargs="+", choices=("sqlite", "postgresql"), default=["postgresql", "sqlite"])
    parser.add_argument("--old", default=OLD_REVISION, help="the git revision of the old store code")
    parser.add_argument("--out", type=Path, default=Path("bench/results/list_table_reads.json"))
    args = parser.parse_args(argv)
    scenarios: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-list-table-reads-") as scratch, ExitStack() as stack:
        old = old_module(args.old, Path(scratch))
        cluster = stack.enter_context(throwaway_cluster()) if "postgresql" in args.databases else None
        for index, contacts in enumerate(args.contacts):
            for database in args.databases:
                if cluster is not None and database == "postgresql":
                    cluster.execute(f'CREATE DATABASE "list_table_reads_{index}"')
                    url = cluster.url(f"list_table_reads_{index}")
                else:
                    url = f"sqlite:///{Path(scratch) / f'list_table_reads_{index}.db'}"
                scenario = measure(url, old, contacts=contacts, rounds=args.rounds)
                print(json.dumps({"database": scenario["database"], "contacts": contacts}), flush=True)
                scenarios.append(scenario)
    results = {
        "benchmark": "list_table_reads",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "old_revision": args.old,
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
