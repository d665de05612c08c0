"""The console's page latencies with a large organization imported (issue 15: "pages answer in under 200 ms at the
95th percentile with a 1,000,000-contact organization imported").

An organization is seeded straight into a migrated store (as the matching benchmark does for scale, no CRM needed):
``--contacts`` imported CRM contacts (default 1,000,000) with an account for every 10 and a lead for every 20, each
table's sync state, ``--people`` workspace people, 30 finished import runs with their counts, and a few failing
activities; an administrator and a seller. Each page of the console is then loaded ``--loads`` times (after two
warm-up loads) by a signed-in client through the whole app (middleware, authentication, store, templates) in
process, and its p50 and p95 are reported, per page and overall. Network time is left out: it is the same for
every page.

    python -m bench.console [--contacts N] [--people N] [--loads N] [--database-url URL | --postgresql] [--out FILE]

Results: ``bench/results/console.json`` and the table in ``docs/performance.md`` § Console.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bench.postgres_cluster import throwaway_cluster
from salesbridge.bootstrap import console_services
from salesbridge.domain.people import Person
from salesbridge.domain.sync_runs import RecordRow, RunCounts, SyncMode
from salesbridge.domain.writeback import ActivityDraft, DataItem, DeliveryState, Direction, FailureOutcome
from salesbridge.services.accounts import AccountService
from salesbridge.services.connecting import create_organization
from salesbridge.store.database import create_engine_for, create_session_factory, migrate
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory, utc_now
from salesbridge.web.app import create_app

BASE_URL = "https://console.bench"
PASSWORD = "bench-password-1"
ADMIN = "admin@bench.test"
SELLER = "seller@bench.test"
BATCH = 10_000
GOAL_MS = 200.0

PAGES: tuple[tuple[str, str], ...] = (
    ("seller", "/"),
    ("seller", "/people"),
    ("seller", "/people?q=smith"),
    ("seller", "/companies"),
    ("seller", "/lists"),
    ("seller", "/account"),
    ("admin", "/"),
    ("admin", "/seats"),
    ("admin", "/settings/crm"),
    ("admin", "/settings/crm/health"),
    ("admin", "/admin/writeback"),
    ("admin", "/admin/matching"),
    ("admin", "/admin/reports"),
    ("admin", "/admin/audit"),
    ("admin", "/admin/jobs"),
    ("admin", "/admin/uploads"),
)
"""(who, path) of every page measured."""

SURNAMES = ("Smith", "García", "Müller", "Martin", "Rossi", "Jones", "López", "Dubois", "Nowak", "Silva")
GIVEN = ("Ana", "Bob", "Carla", "David", "Elena", "Frank", "Gina", "Hugo", "Inés", "Jon")


@dataclass(frozen=True)
class Seeded:
    """What was seeded and how long it took."""

    organization_id: uuid.UUID
    seconds: float


def _contact(index: int, accounts: int) -> RecordRow:
    crm_id = str(uuid.UUID(int=index + 1))
    first, last = GIVEN[index % len(GIVEN)], SURNAMES[(index // len(GIVEN)) % len(SURNAMES)]
    account = str(uuid.UUID(int=10**9 + index % max(1, accounts) + 1))
    data = {
        "fullname": f"{first} {last} {index}",
        "firstname": first,
        "lastname": f"{last} {index}",
        "emailaddress1": f"{first.lower()}.{index}@example.com",
        "jobtitle": "Buyer",
        "parentcustomerid": {"id": account, "table": "account"},
        "ownerid": {"id": str(uuid.UUID(int=7)), "table": "systemuser"},
        "statecode": 0,
    }
    return RecordRow(crm_id, data["fullname"], str(uuid.UUID(int=7)), account, 0, data)


def _named(table: str, offset: int, index: int) -> RecordRow:
    crm_id = str(uuid.UUID(int=offset + index + 1))
    name = f"{table.title()} {index}"
    return RecordRow(crm_id, name, str(uuid.UUID(int=7)), None, 0, {"name": name, "statecode": 0})


def _batches(rows: Iterator[RecordRow]) -> Iterator[list[RecordRow]]:
    batch: list[RecordRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def seed(store: UnitOfWorkFactory, accounts: AccountService, *, contacts: int, people: int) -> Seeded:
    """The organization ``bench``, its users, imported tables, people, runs and failing activities."""
    started = time.perf_counter()
    organization_id = create_organization(store, slug="bench", name="Bench Corp", seats=50)
    for email, name, is_admin in ((ADMIN, "Ada Admin", True), (SELLER, "Sam Seller", False)):
        accounts.create_user(
            "bench",
            email=email,
            display_name=name,
            password=SecretStr(PASSWORD),
            is_admin=is_admin,
            with_seat=True,
            actor="bench",
        )
    account_count, lead_count = contacts // 10, contacts // 20
    tables = (
        ("contact", contacts, (_contact(i, account_count) for i in range(contacts))),
        ("account", account_count, (_named("account", 10**9, i) for i in range(account_count))),
        ("lead", lead_count, (_named("lead", 2 * 10**9, i) for i in range(lead_count))),
    )
    with store.bulk_writes():
        for table, count, rows in tables:
            for batch in _batches(rows):
                with store(organization_id) as uow:
                    uow.crm_records.upsert_many(table, batch, generation=1, new=True)
                    uow.commit()
            with store(organization_id) as uow:
                state = uow.sync_states.get_or_create(table, mode=SyncMode.CHANGE_TRACKING)
                uow.sync_states.save(replace(state, row_count=count, generation=1, last_success_at=datetime.now(UTC)))
                uow.commit()
        for start in range(0, people, BATCH):
            with store(organization_id) as uow:
                uow.people.upsert_many(
                    [
                        Person(
                            external_id=f"p-{index}",
                            first_name=GIVEN[index % len(GIVEN)],
                            last_name=f"{SURNAMES[index % len(SURNAMES)]} {index}",
                            company_name=f"Account {index % max(1, account_count)}",
                            emails=(f"person.{index}@example.com",),
                        )
                        for index in range(start, min(people, start + BATCH))
                    ]
                )
                uow.commit()
    with store(organization_id) as uow:
        for run_index in range(30):
            uow.import_runs.enqueue(reason="scheduled")
            run = uow.import_runs.claim(lease=timedelta(minutes=5))
            assert run is not None
            counts = RunCounts(
                rows_imported=run_index * 10, rows_deleted=0, requests_made=20 + run_index, throttled=run_index % 3
            )
            uow.import_runs.finish(run.id, counts=counts)
        seller = uow.users.find_by_email(SELLER)
        person = uow.people.get_by_external_id("p-0")
        assert seller is not None
        assert person is not None
        for index in range(20):
            draft = ActivityDraft(
                client_id=f"bench-{index}",
                item=DataItem.NOTE,
                person_id=person.id,
                company_id=None,
                subject=None,
                body=f"Note {index}",
                direction=Direction.OUTGOING,
                occurred_at=datetime.now(UTC),
            )
            activity, _ = uow.activities.add(seller.id, draft, state=DeliveryState.QUEUED, hold=None)
            uow.activities.mark_failed(
                activity.id,
                outcome=FailureOutcome(DeliveryState.PARKED, None),
                error_code="0x80040220",
                error_message="Principal user is missing prvCreateNote privilege",
            )
        uow.commit()
    return Seeded(organization_id, time.perf_counter() - started)


def signed_in(app: Any, email: str) -> TestClient:
    """A client signed in as ``email`` through the sign-in form."""
    client = TestClient(app, base_url=BASE_URL)
    form = client.get("/sign-in")
    token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    done = client.post(
        "/sign-in",
        data={"workspace": "bench", "email": email, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    if done.status_code != 303:
        raise SystemExit(f"sign-in failed for {email}: {done.status_code}")
    return client


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def measure(clients: dict[str, TestClient], *, loads: int) -> list[dict[str, Any]]:
    """Load every page ``loads`` times (after two warm-up loads); its status, p50 and p95 in milliseconds."""
    results = []
    for who, path in PAGES:
        client = clients[who]
        status = 0
        for _ in range(2):
            status = client.get(path).status_code
        timings = []
        for _ in range(loads):
            started = time.perf_counter()
            status = client.get(path).status_code
            timings.append((time.perf_counter() - started) * 1000)
        results.append(
            {
                "who": who,
                "path": path,
                "status": status,
                "p50_ms": round(statistics.median(timings), 1),
                "p95_ms": round(percentile(timings, 0.95), 1),
                "max_ms": round(max(timings), 1),
            }
        )
        print(f"{who:7} {path:28} {status} p50 {results[-1]['p50_ms']:7.1f} ms  p95 {results[-1]['p95_ms']:7.1f} ms")
    return results


def markdown(results: dict[str, Any]) -> str:
    """The results as the table of docs/performance.md § Console."""
    lines = [
        f"{results['contacts']:,} contacts, {results['people']:,} people, {results['database']}, "
        f"{results['loads']} loads per page:",
        "",
        "| Who | Page | p50 (ms) | p95 (ms) |",
        "|---|---|---:|---:|",
    ]
    lines += [
        f"| {p['who']} | `{p['path']}` | {p['p50_ms']} | {p['p95_ms']} |"
        for p in results["pages"]
        if p["status"] == 200
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--loads", type=int, default=40)
    parser.add_argument("--database-url", default=None, help="a database to migrate and seed (a new SQLite file)")
    parser.add_argument(
        "--postgresql", action="store_true", help="seed a throwaway PostgreSQL cluster instead of a SQLite file"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/console.json"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-console-") as scratch, ExitStack() as stack:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'console.db'}"
        if args.postgresql:
            cluster = stack.enter_context(throwaway_cluster())
            cluster.execute('CREATE DATABASE "console"')
            url = cluster.url("console")
        migrate(url)
        engine = create_engine_for(url)
        store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))
        hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # sign-in is not what is measured
        services = replace(console_services(store), accounts=AccountService(store, clock=utc_now, hasher=hasher))
        seeded = seed(store, services.accounts, contacts=args.contacts, people=args.people)
        print(f"seeded {args.contacts:,} contacts and {args.people:,} people in {seeded.seconds:.0f} s")
        app = create_app(services, public_base_url=BASE_URL)
        clients = {"admin": signed_in(app, ADMIN), "seller": signed_in(app, SELLER)}
        pages = measure(clients, loads=args.loads)
        engine.dispose()
    measured = [page for page in pages if page["status"] == 200]
    results = {
        "benchmark": "console",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "database": url.split(":", 1)[0],
        "contacts": args.contacts,
        "people": args.people,
        "loads": args.loads,
        "seed_seconds": round(seeded.seconds, 1),
        "pages": pages,
        "worst_p95_ms": max((page["p95_ms"] for page in measured), default=None),
        "goal_p95_ms": GOAL_MS,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(markdown(results))
    return 0 if all(page["status"] == 200 for page in pages) else 1


if __name__ == "__main__":
    sys.exit(main())
