"""The console's pages, the alerts and the import scheduler never make SQLite sort rows of the tables that grow without
end: the import runs (``import_requests``, about 1,440 a day with imports every minute, never pruned), the audit log
(``audit_entries``) and the activities. Every statement of theirs that reads one of these tables is explained, and
none may need a temporary B-tree for GROUP BY, DISTINCT or ORDER BY over rows read from it, with a LIMIT or without:
a LIMIT bounds what the sorter keeps, not the rows it is fed (the newest runs, the newest failing and parked
activities). Sorts of the right part of an ORDER BY (rows tied on a date, ordered by id) are allowed. Nor may a
statement that asks for one state (``state = ?``) walk the table by another index, keeping the rows in that state:
that is how the failing and parked activities were read, without a sort but through every activity.

Why: on SQLite such a sort runs in the process that asks, ``salesbridge serve`` for the console and the periodic
alerts. SQLite's sorter takes buffers in proportion to the rows it sorts, ever larger as the tables grow; read on
every page load and every minute, they fragmented the long-running console's heap, whose memory then grew with the
activities (docs/reliability.md § Soak). Read in the order of an index, the same reads stream and take the same
memory however many rows there are. Migration 0042 did it for the activities' counts (the writeback status, the
Reports page's figures, the alerts' failing count); migration 0043 gave the runs, the audit log's lists of actions
and actors, and the activities in a state the indexes that read them in order; the Background jobs page's runs in
some states and the Writeback and CRM health pages' failing and parked activities are read with one probe per state,
merged in Python.

The store is a migrated SQLite file seeded as the console benchmark seeds it (bench/console.py, small: imported
contacts, accounts, leads and opportunities, people tied to contacts by band-match links, a company tied to an
account, the benchmark's notes), plus a few thousand activities of the seats' holders over the last 12 weeks,
delivered, queued, failing and parked, a third of them written on a CRM record (``regarding_*``), connected to a CRM
(so that every administrator page reads the newest runs for its sync-failure notice; the CRM itself cannot be
reached, which the pages say at once), plus :data:`RUNS` import runs of the last days (one in 25 failed) and
:data:`AUDIT_ENTRIES` audit entries of several actions and actors. The Audit page is loaded filtered by an action and
by an actor as well.

The reads merged in Python are checked against the one statement they replace, on both databases."""

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
from sqlalchemy import Engine, event, insert, select
from tests.conftest import MigratedSqlite
from tests.integration.store.test_activities_error_code_index import NOW as ROWS_NOW
from tests.integration.store.test_activities_error_code_index import _rows

from salesbridge.bootstrap import console_services
from salesbridge.domain.jobs import JobState
from salesbridge.domain.workspace import CrmCredentials, ImportState
from salesbridge.domain.writeback import CRM_APP_MISSING_CODE, ITEM_TABLES, DataItem, DeliveryState
from salesbridge.errors import UpstreamUnavailableError
from salesbridge.mail import PrintingMailer
from salesbridge.services.accounts import AccountService
from salesbridge.services.connecting import create_organization
from salesbridge.services.notifications import evaluate_alerts
from salesbridge.services.ports.crm import CrmAppSession
from salesbridge.services.sync import schedule_if_due
from salesbridge.store.database import create_engine_for, create_session_factory
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.tables import ActivityRow, AuditEntry, ImportRequest
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
MIN_ACTIVITY_READS = 8
"""Statements reading activities at the least: the writeback status (Writeback, CRM health), the Reports' written-back
counts, touches (three) and seats, and the alerts' failing count."""
RUNS = 3_000
"""Import runs, one a minute: two days' worth."""
AUDIT_ENTRIES = 3_000
ACTIONS = ("crm.connected", "sync.completed", "sync.failed", "seat.assigned", "user.added", "settings.changed")
ACTORS = ("sync", "ada@bench.test", "bob@bench.test", "carla@bench.test", "david@bench.test")
GROWING = ("import_requests", "audit_entries", "activities")
SORT = re.compile(r"USE TEMP B-TREE FOR (GROUP BY|DISTINCT|ORDER BY)")
READS = {table: re.compile(rf"^(SCAN|SEARCH) {table}\b") for table in GROWING}
STATE = {table: re.compile(rf"\b{table}\.state = \?") for table in GROWING}
PROBES_STATE = {
    table: re.compile(rf"^SEARCH {table} USING (COVERING )?INDEX \S+ \([^)]*\bstate=\?") for table in GROWING
}
MENTIONS = re.compile(r"\b(" + "|".join(GROWING) + r")\b")
EXPECTED = {
    "import_requests": (
        # The newest runs (CRM settings and health, the alerts, the scheduler's failure streak).
        re.compile(r"WHERE import_requests\.organization_id = \? ORDER BY import_requests\.requested_at DESC"),
        # The queued runs, oldest first (CRM settings, the scheduler).
        re.compile(r"import_requests\.state = \? ORDER BY import_requests\.requested_at, import_requests\.id"),
        # The last run that ended in a state (CRM settings).
        re.compile(r"import_requests\.state = \? ORDER BY import_requests\.finished_at DESC"),
        # When the last run ended (CRM settings, the scheduler), one state at a time.
        re.compile(r"SELECT max\(import_requests\.finished_at\) .* AND import_requests\.state = \?"),
        # The Background jobs page, one state at a time.
        re.compile(r"import_requests\.state = \? ORDER BY import_requests\.requested_at DESC, import_requests\.id"),
    ),
    "audit_entries": (
        re.compile(r"SELECT DISTINCT audit_entries\.action FROM audit_entries"),
        re.compile(r"SELECT DISTINCT audit_entries\.actor FROM audit_entries"),
        # The entries of one action, and of one actor, newest first.
        re.compile(r"audit_entries\.action = \? ORDER BY audit_entries\.created_at DESC, audit_entries\.id DESC"),
        re.compile(r"audit_entries\.actor = \? ORDER BY audit_entries\.created_at DESC, audit_entries\.id DESC"),
    ),
    "activities": (
        # The Writeback and CRM health pages' failing and parked activities, one state at a time.
        re.compile(r"activities\.state = \? ORDER BY activities\.occurred_at DESC, activities\.id LIMIT"),
    ),
}
"""Statements each table must be read by (searched in the captured statements), lest the test pass by not seeing
them."""


@dataclass(frozen=True)
class Explained:
    """A statement as it reached the driver, what sent it (a page's path, ``alerts`` or ``scheduler``), its plan
    (SQLite's ``EXPLAIN QUERY PLAN`` rows: id, parent, detail), the plan's sorts over rows read from one of the
    :data:`GROWING` tables (their ids in the plan, and the table) and the tables it asks one state of but walks."""

    source: str
    statement: str
    plan: tuple[tuple[int, int, str], ...]
    sorts: dict[int, str]
    walks: tuple[str, ...]

    def described(self) -> str:
        """Who sent the statement, its first 300 characters and its plan (indented by level, the sorts marked)."""
        depth: dict[int, int] = {0: 0}
        lines = []
        for node, parent, detail in self.plan:
            depth[node] = depth.get(parent, 0) + 1
            mark = f"  <-- sorts {self.sorts[node]}" if node in self.sorts else ""
            lines.append(f"{'    ' * (depth[node] + 1)}{detail}{mark}")
        walks = f" -- walks {', '.join(self.walks)} for one state" if self.walks else ""
        return f"  [{self.source}] {self.statement[:300]!r}{walks}\n" + "\n".join(lines)


def _sorts(plan: tuple[tuple[int, int, str], ...]) -> dict[int, str]:
    """The plan's temporary B-trees for GROUP BY, DISTINCT or ORDER BY whose query level (the rows of the same
    parent) reads one of the :data:`GROWING` tables itself: their ids, and the table."""
    levels: dict[int, list[str]] = {}
    for _, parent, detail in plan:
        levels.setdefault(parent, []).append(detail)
    sorts: dict[int, str] = {}
    for node, parent, detail in plan:
        if SORT.search(detail):
            read = [table for table in GROWING if any(READS[table].match(other) for other in levels[parent])]
            if read:
                sorts[node] = ", ".join(read)
    return sorts


def _walks(statement: str, plan: tuple[tuple[int, int, str], ...]) -> tuple[str, ...]:
    """The :data:`GROWING` tables ``statement`` asks one state of (``state = ?``) whose plan reads no index by that
    state."""
    return tuple(
        table
        for table in GROWING
        if STATE[table].search(statement) and not any(PROBES_STATE[table].match(detail) for _, _, detail in plan)
    )


def _explain(database: Path, captured: list[tuple[str, str, Any]]) -> list[Explained]:
    explained: list[Explained] = []
    connection = sqlite3.connect(database)
    try:
        for source, statement, parameters in captured:
            rows = connection.execute("EXPLAIN QUERY PLAN " + statement, parameters or ()).fetchall()
            plan = tuple((int(row[0]), int(row[1]), str(row[3])) for row in rows)
            explained.append(Explained(source, statement, plan, _sorts(plan), _walks(statement, plan)))
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


def _runs(organization_id: uuid.UUID, now: datetime) -> list[dict[str, Any]]:
    """:data:`RUNS` runs, one a minute up to ``now``, each ended 20 seconds after it started; one in 25 failed. None
    runs or waits, so that the scheduler reads what it reads to decide whether the next is due (SQLite's plans do
    not depend on the rows: it keeps no statistics unless asked)."""
    rows = []
    for index in range(RUNS):
        requested = now - timedelta(minutes=RUNS - index)
        failed = index % 25 == 0
        rows.append(
            {
                "id": uuid.uuid4(),
                "organization_id": organization_id,
                "requested_at": requested,
                "reason": "scheduled",
                "state": ImportState.FAILED if failed else ImportState.SUCCEEDED,
                "started_at": requested,
                "finished_at": requested + timedelta(seconds=20),
                "error": "The CRM could not be reached." if failed else None,
            }
        )
    return rows


def _audit_entries(organization_id: uuid.UUID, now: datetime) -> list[dict[str, Any]]:
    """:data:`AUDIT_ENTRIES` entries, one a minute up to ``now``, of every action and actor."""
    return [
        {
            "organization_id": organization_id,
            "actor": ACTORS[index % len(ACTORS)],
            "action": ACTIONS[index % len(ACTIONS)],
            "details": {"org_url": "https://bench.crm.dynamics.com"} if index % len(ACTIONS) == 0 else {},
            "created_at": now - timedelta(minutes=AUDIT_ENTRIES - index),
        }
        for index in range(AUDIT_ENTRIES)
    ]


def _unreachable(credentials: CrmCredentials) -> CrmAppSession:
    """The CRM the pages would read (the stages, the CRM-side app) cannot be reached: the pages say so at once,
    and the test reaches no network."""
    raise UpstreamUnavailableError("This test's CRM cannot be reached.")


@pytest.fixture
def sqlite_engine(tmp_path: Path, migrated_sqlite: MigratedSqlite) -> Iterator[Engine]:
    """An engine on a migrated SQLite file, disposed after the test."""
    engine = create_engine_for(migrated_sqlite(tmp_path / "store.db"))
    yield engine
    engine.dispose()


def test_the_console_the_alerts_and_the_scheduler_sort_no_growing_table_in_the_process(sqlite_engine: Engine) -> None:
    engine = sqlite_engine
    database = Path(str(engine.url.database))
    store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # sign-in is not what is tested
    services = replace(
        console_services(store, sessions=_unreachable), accounts=AccountService(store, clock=utc_now, hasher=hasher)
    )
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
        uow.crm_connection.save_credentials(
            org_url="https://bench.crm.dynamics.com",
            tenant_id=str(uuid.uuid4()),
            client_id=str(uuid.uuid4()),
            client_secret=SecretStr("bench-secret"),
        )
        uow.crm_connection.mark_connected(crm_user_id=str(uuid.uuid4()))
        uow.commit()
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(insert(ActivityRow), _activities(organization_id, authors, people))
        connection.execute(insert(ImportRequest), _runs(organization_id, now))
        connection.execute(insert(AuditEntry), _audit_entries(organization_id, now))

    captured: list[tuple[str, str, Any]] = []
    source = ""

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and MENTIONS.search(statement):
            captured.append((source, statement, parameters))

    app = create_app(services, public_base_url=BASE_URL)
    client = signed_in(app, ADMIN)
    paths = [path for who, path in PAGES if who == "admin"] + [
        f"/admin/audit?action={ACTIONS[2]}",
        f"/admin/audit?actor={ACTORS[1].replace('@', '%40')}",
    ]
    assert {"/admin/audit", "/admin/jobs", "/admin/writeback", "/settings/crm", "/settings/crm/health"} <= set(paths)
    statuses: dict[str, int] = {}
    event.listen(engine, "before_cursor_execute", keep)
    try:
        for path in paths:
            source = path
            statuses[path] = client.get(path).status_code
        source = "alerts"
        asyncio.run(
            evaluate_alerts(
                store, organization_id, mailer=PrintingMailer(io.StringIO()), clock=utc_now, console_url=BASE_URL
            )
        )
        source = "scheduler"
        schedule_if_due(store, organization_id, clock=utc_now)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
        client.close()

    assert statuses == dict.fromkeys(paths, 200)
    explained = _explain(database, captured)
    missing = [
        expected.pattern
        for table, patterns in EXPECTED.items()
        for expected in patterns
        if not any(expected.search(" ".join(one.statement.split())) for one in explained)
    ]
    assert not missing, (missing, sorted({one.statement[:200] for one in explained}))
    assert {"/admin/audit", "/admin/jobs", "/settings/crm", "alerts", "scheduler"} <= {
        one.source for one in explained if "import_requests" in one.statement or "audit_entries" in one.statement
    }
    reading_activities = [one for one in explained if re.search(r"\bactivities\b", one.statement)]
    assert {"/", "/admin/writeback", "/admin/reports", "/settings/crm/health", "alerts"} <= {
        one.source for one in reading_activities
    }
    assert len(reading_activities) >= MIN_ACTIVITY_READS, [one.described() for one in reading_activities]
    offending = [one for one in explained if one.sorts or one.walks]
    if offending:
        pytest.fail(
            f"{len(offending)} of the {len(explained)} statements reading {', '.join(GROWING)} sort their rows in the "
            "process (a temporary B-tree for GROUP BY, DISTINCT or ORDER BY), or walk them all for one state; read "
            "them in an index's order instead:\n" + "\n".join(one.described() for one in offending),
            pytrace=False,
        )


def test_the_reads_by_state_give_what_one_ordered_statement_over_the_states_gave(engine: Engine) -> None:
    """The newest activities in some states, the Background jobs page's runs in some states and when the last run
    ended, each read one state at a time and merged in Python, are exactly what one statement over all the states
    gave, ties on the date (broken by id) included, on SQLite and on PostgreSQL."""
    store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))
    organization_id = create_organization(store, slug="acme", seats=1)
    shape = tuple((state, None, None, 40) for state in DeliveryState)
    activities = _rows(organization_id, shape)
    for index, row in enumerate(activities):  # seven dates over eight states: most rows tie on their date
        row["occurred_at"] = ROWS_NOW - timedelta(hours=(index * 5) % 7)
    runs = _runs(organization_id, ROWS_NOW)[:300]
    for index, run in enumerate(runs):  # runs requested at the same minute, in different states, tie too
        run["requested_at"] = ROWS_NOW - timedelta(minutes=(index * 3) % 11)
        run["state"] = (ImportState.QUEUED, ImportState.RUNNING, ImportState.SUCCEEDED, ImportState.FAILED)[index % 4]
        run["finished_at"] = None if index % 4 < 2 else run["requested_at"] + timedelta(seconds=index)
    with engine.begin() as connection:
        connection.execute(insert(ActivityRow), activities)
        connection.execute(insert(ImportRequest), runs)

    newest = sorted(activities, key=lambda row: row["id"])
    newest.sort(key=lambda row: row["occurred_at"], reverse=True)
    job_order = sorted(runs, key=lambda row: row["id"])
    job_order.sort(key=lambda row: row["requested_at"], reverse=True)
    with engine.connect() as connection, store(organization_id, read_only=True) as uow:
        for states in ((DeliveryState.FAILING, DeliveryState.PARKED), tuple(DeliveryState), (DeliveryState.QUEUED,)):
            values = {state.value for state in states}
            for limit, offset in ((200, 0), (7, 0), (7, 13), (50, 45)):
                in_one = connection.scalars(
                    select(ActivityRow.id)
                    .where(ActivityRow.organization_id == organization_id, ActivityRow.state.in_(values))
                    .order_by(ActivityRow.occurred_at.desc(), ActivityRow.id)
                    .limit(limit)
                    .offset(offset)
                )
                expected = [row["id"] for row in newest if row["state"] in values][offset : offset + limit]
                assert list(in_one) == expected  # the one statement orders as the merge does
                assert [one.id for one in uow.activities.search(states=states, limit=limit, offset=offset)] == expected
        for job_states in ((JobState.QUEUED, JobState.RUNNING, JobState.FAILED), (JobState.SUCCEEDED,), None):
            wanted = None if job_states is None else {ImportState(state.value) for state in job_states}
            for limit in (5, 40, 500):
                expected_jobs = [str(row["id"]) for row in job_order if wanted is None or row["state"] in wanted]
                assert [job.id for job in uow.jobs.list(states=job_states, limit=limit)] == expected_jobs[:limit]
        assert uow.import_runs.last_finished_at() == max(run["finished_at"] for run in runs if run["finished_at"])
