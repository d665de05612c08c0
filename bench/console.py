"""The console's page latencies with a large organization imported (issue 15: "pages answer in under 200 ms at the
95th percentile with a 1,000,000-contact organization imported").

An organization is seeded straight into a migrated store (as the matching benchmark does for scale, no CRM needed):
``--contacts`` imported CRM contacts (default 1,000,000) with an account for every 10 and a lead for every 20, each
table's sync state, ``--opportunities`` imported opportunities (default one for every 10 contacts; five on each of
the first fifth of the accounts, naming the account and one of its contacts), ``--people`` workspace people, 30
finished import runs with their counts, and a few failing activities; an administrator and a seller; the first
1,000 people tied to contacts with a note each (the influenced share of the reports: 5,000 opportunities), a
company tied to account 0, 500 delivered notes (the seller's and the administrator's) on one person's and that
company's timelines, the seller's list of 5,000 contacts, and one CRM change for every 20 contacts (50,000)
noticed over 30 days (one in 25 on the list's records).
The list's page (plain, and sorted by owner and filtered by badge), the person's and the company's pages are
measured with the other pages. Each page of the console is then loaded ``--loads`` times (after two
warm-up loads) by a signed-in client through the whole app (middleware, authentication, store, templates) in
process, and its p50 and p95 are reported, per page and overall. Network time is left out: it is the same for
every page.

    python -m bench.console [--contacts N] [--people N] [--opportunities N] [--loads N]
                            [--database-url URL | --postgresql] [--sqlite-memory-mib 64,0] [--sqlite-mmap-mib 256,0]
                            [--rounds N] [--out FILE]

With ``--sqlite-memory-mib 64,0 --rounds 2`` every round measures every page once per value, the process's SQLite
memory limited to it (``create_engine_for(url, sqlite_memory_mib=N)``; 0: no limit), each pass through an engine
of its own (the seeding's disposed first, so no other connection's cache counts against the limit), the values'
order reversed every other round; each pass records SQLite's heap (held at its end, its high-water mark) and the
process's RSS. ``--sqlite-mmap-mib 256,0`` does the same for memory-mapped reads (``PRAGMA mmap_size``), every
pair of the two options' values once per round. ``pages`` is the first pass's (the first values, the product's by
default).

Results: ``bench/results/console.json`` and the table in ``docs/performance.md`` § Console.
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
from bench.sqlite_memory import alternated, configurations, memory_limits, sqlite_heap
from salesbridge.bootstrap import console_services, fewer_collections
from salesbridge.domain.crm_changes import ChangeKind, NoticedChange
from salesbridge.domain.match_links import LinkBand, LinkOrigin, MatchLink, TargetKind
from salesbridge.domain.people import Company, Person
from salesbridge.domain.sync_runs import RecordRow, RunCounts, SyncMode
from salesbridge.domain.writeback import ActivityDraft, DataItem, DeliveryState, Direction, FailureOutcome
from salesbridge.services.accounts import AccountService
from salesbridge.services.connecting import create_organization
from salesbridge.store.database import (
    SQLITE_MEMORY_MIB,
    SQLITE_MMAP_MIB,
    create_engine_for,
    create_session_factory,
    migrate,
)
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory, utc_now
from salesbridge.web.app import create_app

BASE_URL = "https://console.bench"
PASSWORD = "bench-password-1"
ADMIN = "admin@bench.test"
SELLER = "seller@bench.test"
BATCH = 10_000
GOAL_MS = 200.0
OPPORTUNITIES_PER_ACCOUNT = 5
TIED_PEOPLE = 1_000
"""People p-0 … p-999 are tied to contacts 0 … 999 and have logged activity (the reports' influenced share)."""
TIMELINE = 500
"""Activities on the timeline of person p-0 and of company c-0 (half the seller's, half a teammate's)."""
LIST_SIZE = 5_000
CHANGES = 50_000
"""CRM changes the import noticed over the last 30 days, at most (one for every 20 contacts; the seller's list's
records: one in 25)."""

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
"""(who, path) of every page measured; the seeded list's, person's and company's pages are added to them
(:func:`seeded_pages`)."""

SURNAMES = ("Smith", "García", "Müller", "Martin", "Rossi", "Jones", "López", "Dubois", "Nowak", "Silva")
GIVEN = ("Ana", "Bob", "Carla", "David", "Elena", "Frank", "Gina", "Hugo", "Inés", "Jon")


@dataclass(frozen=True)
class Seeded:
    """What was seeded and how long it took."""

    organization_id: uuid.UUID
    seconds: float
    list_id: uuid.UUID
    person_id: uuid.UUID
    company_id: uuid.UUID


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


def _opportunity(index: int, accounts: int, contacts: int) -> RecordRow:
    """Opportunity ``index``: on account ``index % (accounts // OPPORTUNITIES_PER_ACCOUNT)`` (so the first accounts
    have several), naming that account as customer and one of its contacts; a tenth won, a tenth lost."""
    crm_id = str(uuid.UUID(int=3 * 10**9 + index + 1))
    account_index = index % max(1, accounts // OPPORTUNITIES_PER_ACCOUNT)
    account = str(uuid.UUID(int=10**9 + account_index + 1))
    contact = str(uuid.UUID(int=account_index + 1 if account_index < contacts else 1))
    state = 1 if index % 10 == 1 else 2 if index % 10 == 2 else 0
    created = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=index % 8000)
    data = {
        "name": f"Deal {index}",
        "statecode": state,
        "stepname": ("1-Qualify", "2-Develop", "3-Propose", "4-Close")[index % 4],
        "estimatedvalue": 1000.0 + index % 50_000,
        "actualvalue": 900.0 + index % 50_000 if state == 1 else None,
        "createdon": created.isoformat(),
        "actualclosedate": (created + timedelta(days=30)).date().isoformat() if state else None,
        "customerid": {"id": account, "table": "account"},
        "parentaccountid": {"id": account, "table": "account"},
        "parentcontactid": {"id": contact, "table": "contact"},
        "ownerid": {"id": str(uuid.UUID(int=7)), "table": "systemuser"},
    }
    return RecordRow(crm_id, data["name"], str(uuid.UUID(int=7)), account, state, data)


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


def seed(
    store: UnitOfWorkFactory, accounts: AccountService, *, contacts: int, people: int, opportunities: int
) -> Seeded:
    """The organization ``bench``, its users, imported tables, people, runs and failing activities; ties, logged
    activity, a large list of the seller's and the CRM changes on its records (:func:`seed_activity`)."""
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
        (
            "opportunity",
            opportunities,
            (_opportunity(i, account_count, contacts) for i in range(opportunities)),
        ),
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
    list_id, person_id, company_id = seed_activity(store, organization_id, contacts=contacts, people=people)
    return Seeded(organization_id, time.perf_counter() - started, list_id, person_id, company_id)


def seed_activity(
    store: UnitOfWorkFactory, organization_id: uuid.UUID, *, contacts: int, people: int
) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """People p-0 … tied to contacts 0 … with a note each (the reports' touches), company c-0 tied to account 0,
    long timelines on p-0 and c-0 (the seller's and the administrator's notes, delivered), the seller's list of
    :data:`LIST_SIZE` contacts and :data:`CHANGES` CRM changes (one in 25 on the list's records, within the
    first visit's window). The list's, p-0's and c-0's ids."""
    now = datetime.now(UTC)
    tied = min(TIED_PEOPLE, people, contacts)
    with store(organization_id) as uow:
        seller, admin = uow.users.find_by_email(SELLER), uow.users.find_by_email(ADMIN)
        assert seller is not None
        assert admin is not None
        uow.companies.upsert_many([Company(external_id="c-0", name="Account 0")])
        company = uow.companies.get_by_external_id("c-0")
        assert company is not None
        ids = uow.people.ids_by_external_ids([f"p-{index}" for index in range(tied)])
        links = [
            MatchLink(
                crm_table="contact",
                crm_id=str(uuid.UUID(int=index + 1)),
                target_kind=TargetKind.PERSON,
                target_id=ids[f"p-{index}"],
                band=LinkBand.MATCH,
                probability=0.99,
                decision=None,
                origin=LinkOrigin.SCORER,
                decided_by=None,
                decided_at=now,
            )
            for index in range(tied)
        ]
        links.append(
            replace(
                links[0],
                crm_table="account",
                crm_id=str(uuid.UUID(int=10**9 + 1)),
                target_id=company.id,
                target_kind=TargetKind.COMPANY,
            )
        )
        uow.matches.put(links)
        person_id = ids["p-0"]

        def note(author: uuid.UUID, key: str, index: int, **subject: uuid.UUID | None) -> None:
            draft = ActivityDraft(
                client_id=f"{key}-{index}",
                item=DataItem.NOTE,
                person_id=subject.get("person_id"),
                company_id=subject.get("company_id"),
                subject=None,
                body=f"Talked about the renewal ({index})",
                direction=Direction.OUTGOING,
                occurred_at=datetime(2025, 12, 1, tzinfo=UTC) + timedelta(hours=index),
            )
            uow.activities.add(author, draft, state=DeliveryState.DELIVERED, hold=None)

        for index in range(1, tied):
            note(seller.id, "touch", index, person_id=ids[f"p-{index}"])
        for index in range(TIMELINE):
            author = seller.id if index % 2 else admin.id
            note(author, "person-timeline", index, person_id=person_id)
            note(author, "company-timeline", index, company_id=company.id)
        saved = uow.lists.create_manual(seller.id, "Bench accounts to call")
        listed = min(LIST_SIZE, contacts)
        uow.lists.replace_items(
            saved.id,
            [("contact", str(uuid.UUID(int=index * (contacts // listed) + 1)), None) for index in range(listed)],
        )
        uow.commit()
    changes = [
        NoticedChange(
            "contact",
            str(
                uuid.UUID(
                    int=(index // 25 % listed) * (contacts // listed) + 1 if index % 25 == 0 else index % contacts + 1
                )
            ),
            ChangeKind.JOB if index % 2 else ChangeKind.OWNER,
            "Buyer" if index % 2 else str(uuid.UUID(int=7)),
            "Head of buying" if index % 2 else str(uuid.UUID(int=8)),
            str(uuid.UUID(int=7)),
            None,
        )
        for index in range(min(CHANGES, contacts // 20))
    ]
    for start in range(0, len(changes), BATCH):
        with store(organization_id) as uow:
            at = now - timedelta(minutes=30 * 24 * 60 * start // max(1, len(changes)))
            uow.crm_record_changes.add_many(changes[start : start + BATCH], at=at)
            uow.commit()
    return saved.id, person_id, company.id


def seeded_pages(seeded: Seeded) -> tuple[tuple[str, str], ...]:
    """The pages of what :func:`seed_activity` made: the large list sorted and filtered, p-0's and c-0's."""
    return (
        ("seller", f"/lists/{seeded.list_id}"),
        ("seller", f"/lists/{seeded.list_id}?sort=owner&order=desc&badge=unmatched"),
        ("seller", f"/people/{seeded.person_id}"),
        ("seller", f"/companies/{seeded.company_id}"),
    )


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


def measure(
    clients: dict[str, TestClient], *, loads: int, pages: Sequence[tuple[str, str]] = PAGES
) -> list[dict[str, Any]]:
    """Load every page ``loads`` times (after two warm-up loads); its status, p50 and p95 in milliseconds, of the
    wall clock and of the process's CPU time."""
    results = []
    for who, path in pages:
        client = clients[who]
        status = 0
        for _ in range(2):
            status = client.get(path).status_code
        timings, cpu = [], []
        for _ in range(loads):
            started, started_cpu = time.perf_counter(), time.process_time()
            status = client.get(path).status_code
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        results.append(
            {
                "who": who,
                "path": path,
                "status": status,
                "p50_ms": round(statistics.median(timings), 1),
                "p95_ms": round(percentile(timings, 0.95), 1),
                "max_ms": round(max(timings), 1),
                # The process's CPU time per load (the app, SQLite's work and the client; not PostgreSQL's
                # server): what a page costs whatever else the machine runs, unlike the wall-clock figures above.
                "cpu_p50_ms": round(statistics.median(cpu), 1),
                "cpu_p95_ms": round(percentile(cpu, 0.95), 1),
            }
        )
        print(
            f"{who:7} {path:60} {status} p50 {results[-1]['p50_ms']:7.1f} ms  p95 {results[-1]['p95_ms']:7.1f} ms"
            f"  (CPU p50 {results[-1]['cpu_p50_ms']:6.1f} ms  p95 {results[-1]['cpu_p95_ms']:6.1f} ms)"
        )
    return results


def rss_mb() -> float:
    """This process's resident set size now, MB (VmRSS)."""
    status = Path("/proc/self/status").read_text(encoding="utf-8")
    return next(int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:"))


def measure_pass(
    url: str, configuration: tuple[int, int], seeded: Seeded, *, loads: int, round_number: int
) -> dict[str, Any]:
    """Every page measured once (:func:`measure`) through a console of its own on ``url``, its engine limiting the
    process's SQLite memory to the ``configuration``'s first figure (MiB, 0: none) and reading the store file
    through a mapping of its second (MiB, 0: none); what SQLite's heap and the process's RSS were after it, and the
    CPU the pass's loads took."""
    memory_mib, mmap_mib = configuration
    engine = create_engine_for(url, sqlite_memory_mib=memory_mib, sqlite_mmap_mib=mmap_mib)
    store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # sign-in is not what is measured
    services = replace(console_services(store), accounts=AccountService(store, clock=utc_now, hasher=hasher))
    app = create_app(services, public_base_url=BASE_URL)
    clients = {"admin": signed_in(app, ADMIN), "seller": signed_in(app, SELLER)}
    sqlite_heap(reset_highwater=True)  # this pass's high-water mark from here
    print(f"round {round_number}, SQLite memory limit {memory_mib} MiB, memory-mapped {mmap_mib} MiB:")
    # The console's process (`salesbridge serve`) runs with the collector's threshold raised for its import
    # runner: measure the pages as it serves them (with the default threshold, a page that reads thousands of
    # rows met a full collection every few loads: the reports' p95 doubled).
    started_cpu = time.process_time()
    with fewer_collections():
        pages = measure(clients, loads=loads, pages=PAGES + seeded_pages(seeded))
    measured = {
        "round": round_number,
        "sqlite_memory_mib": memory_mib,
        "sqlite_mmap_mib": mmap_mib,
        "cpu_seconds": round(time.process_time() - started_cpu, 2),
        **sqlite_heap(),
        "rss_mb": round(rss_mb(), 1),
    }
    for client in clients.values():
        client.close()
    engine.dispose()  # its connections' page caches freed before the next pass
    return {**measured, "pages": pages}


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
    parser.add_argument("--opportunities", type=int, default=None, help="default: one for every 10 contacts")
    parser.add_argument("--loads", type=int, default=40)
    parser.add_argument("--database-url", default=None, help="a database to migrate and seed (a new SQLite file)")
    parser.add_argument(
        "--postgresql", action="store_true", help="seed a throwaway PostgreSQL cluster instead of a SQLite file"
    )
    parser.add_argument(
        "--sqlite-memory-mib",
        type=memory_limits,
        default=[SQLITE_MEMORY_MIB],
        help="the process's SQLite memory limit (MiB, 0: none), or several, comma-separated (e.g. 64,0): every "
        f"round then measures the pages once with each (default: the product's, {SQLITE_MEMORY_MIB})",
    )
    parser.add_argument(
        "--sqlite-mmap-mib",
        type=memory_limits,
        default=[SQLITE_MMAP_MIB],
        help="how much of the store file SQLite reads through a mapping (MiB, 0: none), or several, comma-separated "
        f"(e.g. 256,0): every round then measures the pages once with each (default: the product's, {SQLITE_MMAP_MIB})",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="passes over every page per --sqlite-memory-mib, --sqlite-mmap-mib pair"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/console.json"))
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.opportunities is None:
        args.opportunities = args.contacts // 10
    with tempfile.TemporaryDirectory(prefix="bench-console-") as scratch, ExitStack() as stack:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'console.db'}"
        if args.postgresql:
            cluster = stack.enter_context(throwaway_cluster())
            cluster.execute('CREATE DATABASE "console"')
            url = cluster.url("console")
        migrate(url)
        engine = create_engine_for(
            url, sqlite_memory_mib=args.sqlite_memory_mib[0], sqlite_mmap_mib=args.sqlite_mmap_mib[0]
        )
        store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))
        hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # sign-in is not what is measured
        services = replace(console_services(store), accounts=AccountService(store, clock=utc_now, hasher=hasher))
        seeded = seed(
            store, services.accounts, contacts=args.contacts, people=args.people, opportunities=args.opportunities
        )
        print(f"seeded {args.contacts:,} contacts and {args.people:,} people in {seeded.seconds:.0f} s")
        if args.postgresql:
            # Autovacuum analyzes a table within a minute or so of a bulk import; measure the store as it then is,
            # not with the planner still guessing (SQLite keeps no statistics unless asked).
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("ANALYZE")
        engine.dispose()  # each pass measures through an engine of its own
        passes = [
            measure_pass(url, configuration, seeded, loads=args.loads, round_number=round_number)
            for round_number in range(1, args.rounds + 1)
            for configuration in alternated(configurations(args.sqlite_memory_mib, args.sqlite_mmap_mib), round_number)
        ]
    pages = passes[0]["pages"]
    measured = [page for page in pages if page["status"] == 200]
    results = {
        "benchmark": "console",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "database": url.split(":", 1)[0],
        "contacts": args.contacts,
        "people": args.people,
        "opportunities": args.opportunities,
        "loads": args.loads,
        "seed_seconds": round(seeded.seconds, 1),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "pages": pages,
        "sqlite_memory_passes": passes,
        "worst_p95_ms": max((page["p95_ms"] for page in measured), default=None),
        "goal_p95_ms": GOAL_MS,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(markdown(results))
    return 0 if all(page["status"] == 200 for one in passes for page in one["pages"]) else 1


if __name__ == "__main__":
    sys.exit(main())
