"""The console's pages that show activity figures (Writeback, Reports, CRM health, home) and the alerts' evaluation
never make SQLite sort the organization's activities: every statement of theirs that reads ``activities`` is
explained, and none may need a temporary B-tree for GROUP BY, DISTINCT or ORDER BY over rows read from that table,
unless the statement has a LIMIT (a bounded sort: a page of rows).

Why: on SQLite such a sort runs in the process that asks, ``salesbridge serve`` for the console and the periodic
alerts. SQLite's sorter takes buffers in proportion to the rows it sorts, ever larger as the activities grow; read
on every page load and every minute, they fragmented the long-running console's heap, whose memory then grew with
the table (docs/reliability.md § Soak). Read in the order of an index (migration 0042), the same counts stream and
take the same memory however many activities there are.

The store is a migrated SQLite file seeded as the console benchmark seeds it (bench/console.py, small: imported
contacts, accounts, leads and opportunities, people tied to contacts by band-match links, a company tied to an
account, the benchmark's notes), plus a few thousand activities of the seats' holders over the last 12 weeks,
delivered, queued, failing and parked, a third of them written on a CRM record (``regarding_*``). The statements
are the app's own, captured as they reach the driver, then explained with their parameters on a plain ``sqlite3``
connection to the same file. A sort counts against a statement when its query level reads ``activities`` itself
(a sort of the rows a subquery's counts give, one per seat for instance, sorts no activities; the subquery is
explained as a level of its own)."""

from __future__ import annotations

import asyncio
import io
import re
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from bench.console import ADMIN, BASE_URL, PAGES, PASSWORD, seed, signed_in
from pydantic import SecretStr
from sqlalchemy import Engine, event, insert
from tests.conftest import MigratedSqlite
from tests.integration.store.test_activities_error_code_index import NOW as ROWS_NOW
from tests.integration.store.test_activities_error_code_index import _rows

from salesbridge.bootstrap import console_services
from salesbridge.domain.writeback import CRM_APP_MISSING_CODE, ITEM_TABLES, DataItem, DeliveryState
from salesbridge.mail import PrintingMailer
from salesbridge.services.accounts import AccountService
from salesbridge.services.notifications import evaluate_alerts
from salesbridge.store.database import create_engine_for, create_session_factory
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.tables import ActivityRow
from salesbridge.store.uow import UnitOfWorkFactory, utc_now
from salesbridge.web.app import create_app

CONTACTS = 2_000
PEOPLE = 1_200
"""The benchmark ties people p-0 … p-999 to contacts 0 … 999 (band match), each with a note."""
TEAMMATES = ("Tess Teammate", "Tom Teammate")
SHAPE = (  # state, error code, next attempt (minutes from now), how many: _rows' shape
    (DeliveryState.DELIVERED, None, None, 3_000),
    (DeliveryState.QUEUED, None, None, 400),
    (DeliveryState.FAILING, "0x80040216", 5, 400),
    (DeliveryState.FAILING, CRM_APP_MISSING_CODE, 3, 100),
    (DeliveryState.PARKED, "0x80040265", None, 300),
)
WEEKS = 12
ITEMS = tuple(DataItem)
SORT = re.compile(r"USE TEMP B-TREE FOR (GROUP BY|DISTINCT|ORDER BY)")
READS_ACTIVITIES = re.compile(r"^(SCAN|SEARCH) activities\b")
LIMITED = re.compile(r"\bLIMIT\b", re.IGNORECASE)
MIN_CHECKED = 8
"""Statements reading activities at the least: the writeback status (Writeback, CRM health), the Reports' written-back
counts, touches (three) and seats, and the alerts' failing count."""


@dataclass(frozen=True)
class Captured:
    """A statement as it reached the driver, and what sent it (a page's path, or the alerts)."""

    source: str
    statement: str
    parameters: Any


@dataclass(frozen=True)
class Explained:
    """A captured statement, its plan (SQLite's ``EXPLAIN QUERY PLAN`` rows: id, parent, detail) and the plan's
    sorts over rows read from ``activities`` (their ids in the plan)."""

    captured: Captured
    plan: tuple[tuple[int, int, str], ...]
    sorts: tuple[int, ...]

    def described(self) -> str:
        """Who sent the statement, its first 200 characters and its plan (indented by level, the sorts over
        activities marked), for a failure's message."""
        depth: dict[int, int] = {0: 0}
        lines = []
        for node, parent, detail in self.plan:
            depth[node] = depth.get(parent, 0) + 1
            mark = "  <-- sorts activities" if node in self.sorts else ""
            lines.append(f"{'    ' * (depth[node] + 1)}{detail}{mark}")
        return f"  [{self.captured.source}] {self.captured.statement[:200]!r}\n" + "\n".join(lines)


def _activity_sorts(plan: tuple[tuple[int, int, str], ...]) -> tuple[int, ...]:
    """The plan's temporary B-trees for GROUP BY, DISTINCT or ORDER BY whose query level (the rows of the same
    parent) reads ``activities`` itself: their ids."""
    levels: dict[int, list[str]] = {}
    for _, parent, detail in plan:
        levels.setdefault(parent, []).append(detail)
    return tuple(
        node
        for node, parent, detail in plan
        if SORT.search(detail) and any(READS_ACTIVITIES.match(other) for other in levels[parent])
    )


def _explain(database: Path, captured: list[Captured]) -> list[Explained]:
    explained: list[Explained] = []
    connection = sqlite3.connect(database)
    try:
        for one in captured:
            rows = connection.execute("EXPLAIN QUERY PLAN " + one.statement, one.parameters or ()).fetchall()
            plan = tuple((int(row[0]), int(row[1]), str(row[3])) for row in rows)
            explained.append(Explained(one, plan, _activity_sorts(plan)))
    finally:
        connection.close()
    return explained


def _activities(organization_id: uuid.UUID, authors: list[uuid.UUID], people: list[uuid.UUID]) -> list[dict[str, Any]]:
    """:data:`SHAPE`'s activities, by the seats' holders, on the tied people, of every data item, spread over the
    last :data:`WEEKS` weeks; every third written on a contact or an opportunity."""
    now = datetime.now(UTC)
    hours = WEEKS * 7 * 24
    rows = _rows(organization_id, SHAPE)
    for index, row in enumerate(rows):
        occurred = now - timedelta(hours=(index * 7) % hours, minutes=index % 60)
        delivered = row["state"] == DeliveryState.DELIVERED.value
        row.update(
            author_user_id=authors[index % len(authors)],
            item=ITEMS[index % len(ITEMS)].value,
            person_id=people[index % len(people)],
            occurred_at=occurred,
            created_at=occurred,
            updated_at=occurred,
            delivered_version=1 if delivered else None,
            delivered_at=occurred + timedelta(minutes=1) if delivered else None,
            crm_table=ITEM_TABLES[ITEMS[index % len(ITEMS)]],
        )
        if row["next_attempt_at"] is not None:
            row["next_attempt_at"] = now + (row["next_attempt_at"] - ROWS_NOW)
        if index % 3 == 0:
            table = "opportunity" if index % 2 else "contact"
            offset = 3 * 10**9 if table == "opportunity" else 0  # bench.console's crm ids
            row.update(regarding_table=table, regarding_id=str(uuid.UUID(int=offset + index % 150 + 1)))
    return rows


@pytest.fixture
def sqlite_engine(tmp_path: Path, migrated_sqlite: MigratedSqlite) -> Iterator[Engine]:
    """An engine on a migrated SQLite file, disposed after the test."""
    engine = create_engine_for(migrated_sqlite(tmp_path / "store.db"))
    yield engine
    engine.dispose()


def test_the_console_and_the_alerts_sort_no_activities_in_the_process(sqlite_engine: Engine) -> None:
    engine = sqlite_engine
    database = Path(str(engine.url.database))
    store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # sign-in is not what is tested
    services = replace(console_services(store), accounts=AccountService(store, clock=utc_now, hasher=hasher))
    seeded = seed(store, services.accounts, contacts=CONTACTS, people=PEOPLE, opportunities=CONTACTS // 10)
    for number, name in enumerate(TEAMMATES):
        services.accounts.create_user(
            "bench",
            email=f"teammate-{number}@bench.test",
            display_name=name,
            password=SecretStr(PASSWORD),
            is_admin=False,
            with_seat=True,
            actor="test",
        )
    organization_id = seeded.organization_id
    with store(organization_id) as uow:
        authors = [user.id for user in uow.users.list_all()]
        people = list(uow.people.ids_by_external_ids([f"p-{index}" for index in range(1_000)]).values())
        uow.rollback()
    assert len(authors) == 2 + len(TEAMMATES)
    with engine.begin() as connection:
        connection.execute(insert(ActivityRow), _activities(organization_id, authors, people))

    captured: list[Captured] = []
    source = ""

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and re.search(r"\bactivities\b", statement):
            captured.append(Captured(source, statement, parameters))

    app = create_app(services, public_base_url=BASE_URL)
    client = signed_in(app, ADMIN)
    paths = [path for who, path in PAGES if who == "admin"]
    assert {"/", "/admin/writeback", "/admin/reports", "/settings/crm/health"} <= set(paths)
    statuses: dict[str, int] = {}
    printed = io.StringIO()
    event.listen(engine, "before_cursor_execute", keep)
    try:
        for path in paths:
            source = path
            statuses[path] = client.get(path).status_code
        source = "alerts"
        asyncio.run(
            evaluate_alerts(store, organization_id, mailer=PrintingMailer(printed), clock=utc_now, console_url=BASE_URL)
        )
    finally:
        event.remove(engine, "before_cursor_execute", keep)
        client.close()

    assert statuses == dict.fromkeys(paths, 200)
    explained = _explain(database, captured)
    sources = {one.captured.source for one in explained}
    assert {"/", "/admin/writeback", "/admin/reports", "/settings/crm/health", "alerts"} <= sources, sources
    assert len(explained) >= MIN_CHECKED, [one.described() for one in explained]
    offending = [one for one in explained if one.sorts and not LIMITED.search(one.captured.statement)]
    if offending:
        pytest.fail(
            f"{len(offending)} of the {len(explained)} statements reading activities sort them in the process (a "
            "temporary B-tree for GROUP BY, DISTINCT or ORDER BY, without LIMIT); read them in an index's order "
            "instead:\n" + "\n".join(one.described() for one in offending),
            pytrace=False,
        )
