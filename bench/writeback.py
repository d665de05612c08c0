"""Benchmark: activity writeback — 100,000 activities delivered by the real drainer from a real store (SQLite) to the
sandbox over TLS, beside the sandbox's own bulk-write ceiling measured by a bare CreateMultiple client in the same run.

Set-up (untimed), once per run:

- the CRM: ``salesbridge sandbox serve --tls --seed scale:N --db FILE`` in its own process (so client and server do
  not share an interpreter; the machine's second core is the client's), its 8 sales users the sellers;
- the workspace: a SQLite store, an organization connected to that CRM (``connect_crm``, which imports the CRM's
  users), the CRM-side app installed (``install_crm_app``), writeback on for every data item; one workspace user
  per CRM sales user with an active seat and CRM sync on (matched to that user by e-mail); ``--people`` people,
  each tied (a match link) to a contact of the CRM.

Each round (``--rounds``; every round is kept in the results) on that set-up:

1. **Ceiling.** A bare client (aiohttp + orjson, no salesbridge code) sends ``CreateMultiple`` to the app's two
   tables (``sbr_inmail``, ``sbr_message``): the same columns, binds and activity parties the drainer writes,
   ``--chunk`` records per request, grouped by owner and sent as that owner (``MSCRMCallerID``), at the
   sandbox's advised parallelism (``x-ms-dop-hint``). Records/s = the sandbox's bulk-write ceiling.
2. **Bulk path.** ``--bulk`` InMail and message activities (alternating, sellers and people round robin) are
   stored through the activity repository as queued; then ``drain_organization`` delivers them (timed: from its
   call to its return). Throughput ÷ the ceiling of the same round is the goal's ratio (≥ 0.8); records per
   Dataverse request is counted by the connector's own counters (goal ≥ 500).
3. **$batch path.** ``--batched`` notes and calls, stored and drained the same way: notes go to ``annotation``
   and calls to ``phonecall``, through ``$batch``.

``--bulk`` + ``--batched`` = 100,000 by default (80,000 + 20,000). After each drain the sandbox's rows are counted
(by ``sbr_externalid`` on the app tables, by id on the others): every activity exactly once.

Run: ``make bench-writeback`` or ``.venv/bin/python -m bench.writeback [--bulk 80000] [--batched 20000]
[--rounds 2] [--batch-sizes N,…] [--contacts 20000] [--people 20000] [--chunk 1000] [--working-tree]``; it measures a
snapshot of ``src/`` as committed at HEAD unless ``--working-tree``. Results: ``bench/results/writeback.json``
(``--markdown FILE`` prints the tables of ``docs/performance.md`` § Writeback from a results file).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench import scaleout
from bench.crm_import import machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "writeback.json"
SLUG = "bench"
BULK_TABLES = ("sbr_inmail", "sbr_message")
"""The app's tables: they take bulk messages."""


# ----------------------------------------------------------------------------------------------------- the CRM


@dataclass(frozen=True)
class Crm(scaleout.Crm):
    """The sandbox process: the Dynamics organization activities are written to, kept in the SQLite file ``db``."""

    db: Path

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of the sandbox's own SQLite file (read-only, beside the running server: WAL readers see its
        last commit)."""
        connection = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=60)
        try:
            return connection.execute(sql, tuple(params)).fetchall()
        finally:
            connection.close()

    def stop(self) -> None:
        """Stop the process (Ctrl+C, then kill)."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_crm(state_dir: Path, db: Path, *, contacts: int, faults: Sequence[str] = ()) -> Crm:
    """``salesbridge sandbox serve --tls --seed scale:N --db DB`` in its own process, once it accepts connections.
    ``faults``: extra ``--fault-*`` options."""
    state_dir.mkdir(parents=True, exist_ok=True)
    info_path = state_dir / "sandbox.json"
    info_path.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "salesbridge",
        "sandbox",
        "serve",
        "--tls",
        "--seed",
        f"scale:{contacts}",
        "--db",
        str(db),
        "--state-dir",
        str(state_dir),
        *faults,
    ]
    with (state_dir / "sandbox.log").open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 600
    while not info_path.exists():
        if process.poll() is not None:
            raise RuntimeError(f"the sandbox exited: {(state_dir / 'sandbox.log').read_text()[-4000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the sandbox did not start within 10 minutes")
        time.sleep(0.2)
    return Crm(process, json.loads(info_path.read_text()), db)


def count_written(crm: Crm, table: str, ids: Sequence[str]) -> tuple[int, int]:
    """(rows of ``ids`` found in ``table`` of the sandbox, how many of those ids appear more than once).

    The app's tables are counted by ``sbr_externalid`` (the activity's own id: a second row of the same activity
    would carry it again); notes and calls, which have no such column, by their row id."""
    column = "sbr_externalid" if table in BULK_TABLES else ("annotationid" if table == "annotation" else "activityid")
    wanted = set(ids)
    found: dict[str, int] = {}
    for (value,) in crm.query(f'SELECT "{column}" FROM "{table}"'):
        key = str(value).lower() if value is not None else ""
        if key in wanted:
            found[key] = found.get(key, 0) + 1
    return len(found), sum(1 for n in found.values() if n > 1)


# ------------------------------------------------------------------------------------------- the workspace


@dataclass(frozen=True)
class Workspace:
    """The prepared store: what the rounds need of it."""

    url: str
    key: str
    organization_id: uuid.UUID
    sellers: tuple[tuple[uuid.UUID, str], ...]
    """(workspace user id, the CRM user's systemuserid) per seller."""
    people: tuple[tuple[uuid.UUID, str], ...]
    """(person id, the contact it is tied to) per person."""


def bench_environment(url: str, key: str) -> dict[str, str]:
    """The environment pointing salesbridge's processes at the store ``url`` with the bench's credential key."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("SALESBRIDGE_") or name == "PATH"
    }
    environment.update(
        {
            "SALESBRIDGE_DATABASE_URL": url,
            "SALESBRIDGE_CREDENTIAL_KEY": key,
            "SALESBRIDGE_CRM_ALLOWED_HOSTS": "127.0.0.1",
            "COLUMNS": "200",
        }
    )
    return environment


def prepare_workspace(url: str, crm: Crm, *, people: int) -> Workspace:
    """A store at ``url`` set up for writeback against ``crm`` (see the module's docstring)."""
    from pydantic import SecretStr

    from salesbridge.bootstrap import dynamics_session
    from salesbridge.crm.dynamics.endpoints import DynamicsTargets, EndpointPolicy
    from salesbridge.domain.match_links import LinkBand, LinkOrigin, MatchLink, TargetKind
    from salesbridge.domain.people import Person
    from salesbridge.domain.workspace import CaBundle, CrmCredentials, SeatState
    from salesbridge.services.connecting import connect_crm, create_organization
    from salesbridge.services.crm_app import install_crm_app
    from salesbridge.services.crm_users import rematch_seats
    from salesbridge.store import create_engine_for, create_session_factory, migrate
    from salesbridge.store.secrets import CredentialCipher, generate_key
    from salesbridge.store.uow import UnitOfWorkFactory

    key = generate_key()
    migrate(url)
    engine = create_engine_for(url)
    store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(key))
    info = crm.info
    organization_id = create_organization(store, slug=SLUG, name="Bench", seats=20, actor="bench")
    credentials = CrmCredentials(
        org_url=info["org_url"],
        client_id=info["client_id"],
        client_secret=SecretStr(info["client_secret"]),
        ca_bundle=CaBundle(Path(info["ca_bundle"]).read_text(encoding="ascii")),
    )

    async def connect_and_install() -> None:
        targets = DynamicsTargets(EndpointPolicy(["127.0.0.1"]))
        outcome = await connect_crm(
            store, dynamics_session, slug=SLUG, credentials=credentials, targets=targets, actor="bench"
        )
        if not outcome.is_connected:
            raise RuntimeError(f"not connected: {outcome.message()} {outcome.reason or ''}")
        await install_crm_app(store, dynamics_session, slug=SLUG, actor="bench")

    asyncio.run(connect_and_install())

    sales_users = crm.query(
        'SELECT systemuserid, internalemailaddress, fullname FROM "systemuser" '
        "WHERE title = 'Account Executive' ORDER BY internalemailaddress"
    )
    contact_ids = [
        str(row[0]).lower()
        for row in crm.query('SELECT contactid FROM "contact" ORDER BY contactid LIMIT ?', (people,))
    ]
    if len(contact_ids) < people:
        raise RuntimeError(f"the CRM holds {len(contact_ids)} contacts, fewer than --people {people}")
    now = datetime.now(UTC)
    with store(organization_id) as uow:
        sellers: list[tuple[uuid.UUID, str]] = []
        for systemuserid, email, name in sales_users:
            user = uow.users.add(email=str(email), display_name=str(name))
            uow.seats.add(user_id=user.id, state=SeatState.ACTIVE, assigned_by="bench", crm_sync_enabled=True)
            sellers.append((user.id, str(systemuserid).lower()))
        rematch_seats(uow)
        uow.people.upsert_many(
            [Person(external_id=f"bench-{n:06d}", first_name="Person", last_name=f"Number {n}") for n in range(people)]
        )
        uow.commit()
    with store(organization_id) as uow:
        ids = sorted((person.external_id, person.id) for person in uow.matches.people())
        tied = [(person_id, contact) for (_, person_id), contact in zip(ids, contact_ids, strict=True) if person_id]
        uow.matches.put(
            MatchLink(
                crm_table="contact",
                crm_id=contact,
                target_kind=TargetKind.PERSON,
                target_id=person_id,
                band=LinkBand.MATCH,
                probability=None,
                decision=None,
                origin=LinkOrigin.CORRECTION,
                decided_by=None,
                decided_at=now,
            )
            for person_id, contact in tied
        )
        uow.commit()
    enable_writeback(store, organization_id)
    engine.dispose()
    return Workspace(url, key.get_secret_value(), organization_id, tuple(sellers), tuple(tied))


def enable_writeback(store: Any, organization_id: uuid.UUID) -> None:
    """Writeback on, every data item."""
    from salesbridge.domain.writeback import WritebackSettings

    with store(organization_id) as uow:
        uow.writeback_settings.set(WritebackSettings(enabled=True), actor="bench")
        uow.commit()


# ------------------------------------------------------------------------------------------ the activities

BULK_ITEMS = ("inmail", "message")
BATCHED_ITEMS = ("note", "call")


def open_store(workspace: Workspace) -> tuple[Any, Any]:
    """The prepared store's unit-of-work factory and its engine (dispose it when done)."""
    from pydantic import SecretStr

    from salesbridge.store import create_engine_for, create_session_factory
    from salesbridge.store.secrets import CredentialCipher
    from salesbridge.store.uow import UnitOfWorkFactory

    engine = create_engine_for(workspace.url)
    cipher = CredentialCipher(SecretStr(workspace.key))
    return UnitOfWorkFactory(create_session_factory(engine), cipher=cipher), engine


def seed_activities(
    store: Any, workspace: Workspace, *, items: Sequence[str], count: int, tag: str, per_transaction: int = 5000
) -> list[tuple[uuid.UUID, str]]:
    """Store ``count`` queued activities through the activity repository (as ``log_activity`` stores one whose
    author may write back), ``items`` in turn, sellers and people round robin. Returns (activity id, item) each."""
    from salesbridge.domain.writeback import ActivityDraft, DataItem, DeliveryState, Direction

    occurred_at = datetime.now(UTC) - timedelta(hours=1)
    stored: list[tuple[uuid.UUID, str]] = []
    for start in range(0, count, per_transaction):
        with store(workspace.organization_id) as uow:
            for number in range(start, min(count, start + per_transaction)):
                # Every seller logs every item: the writer groups by (table, seller), as real traffic makes it.
                item = DataItem(items[(number // len(workspace.sellers)) % len(items)])
                author, _ = workspace.sellers[number % len(workspace.sellers)]
                person_id, _ = workspace.people[number % len(workspace.people)]
                draft = ActivityDraft(
                    client_id=f"{tag}-{number}",
                    item=item,
                    person_id=person_id,
                    company_id=None,
                    subject=None if item in (DataItem.INMAIL, DataItem.MESSAGE) else f"{item.value.title()} {number}",
                    body=f"Hello, this is bench activity number {number}. Following up on our conversation.",
                    direction=Direction.OUTGOING if number % 3 else Direction.INCOMING,
                    occurred_at=occurred_at + timedelta(seconds=number),
                    conversation_id=f"conversation-{number // 4}" if item is not DataItem.NOTE else None,
                )
                activity, _ = uow.activities.add(author, draft, state=DeliveryState.QUEUED, hold=None)
                stored.append((activity.id, item.value))
            uow.commit()
    return stored


class TimedWriter:
    """An activity writer that times its calls (the drain's time in the CRM: while at least one call is under way,
    the drainer overlapping a batch's write with the next one's), passing everything through."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self._under_way = 0
        self._since = 0.0
        self.calls = 0
        self.seconds = 0.0

    async def write_activities(self, records: Any) -> Any:
        if not self._under_way:
            self._since = time.perf_counter()
        self._under_way += 1
        try:
            return await self._writer.write_activities(records)
        finally:
            self.calls += 1
            self._under_way -= 1
            if not self._under_way:
                self.seconds += time.perf_counter() - self._since


class TimedSession:
    """A writeback session whose writer is timed."""

    def __init__(self, connector: Any) -> None:
        self.connector = connector
        self.activities = TimedWriter(connector.activities)

    def usage(self) -> Any:
        """The connector's request counters (the drain watches them for Dynamics' throttling)."""
        return self.connector.usage()

    async def close(self) -> None:
        await self.connector.close()


class CountingSessions:
    """The writeback sessions production uses (``bootstrap.dynamics_session``, what ``Workspace.writeback_sessions``
    and the workers are given), each kept so that its client's counters and its writer's time can be read."""

    def __init__(self) -> None:
        from salesbridge import bootstrap

        self._factory = bootstrap.dynamics_session
        self.sessions: list[TimedSession] = []

    def __call__(self, credentials: Any) -> TimedSession:
        session = TimedSession(self._factory(credentials))
        self.sessions.append(session)
        return session

    def counters(self) -> dict[str, Any]:
        """The counters of every session opened, summed, with the time spent inside ``write_activities``."""
        totals: dict[str, Any] = {"write_seconds": 0.0}
        for session in self.sessions:
            for name, value in vars(session.connector.client.counters).items():
                totals[name] = totals.get(name, 0) + value
            totals["write_seconds"] += session.activities.seconds
        return totals


def drain(store: Any, workspace: Workspace, *, batch_size: int | None = None) -> dict[str, Any]:
    """``drain_organization`` until nothing is due: seconds, its summary, and the connector's counters."""
    from salesbridge.store.uow import utc_now
    from salesbridge.sync.writeback import drain_organization

    sessions = CountingSessions()
    options = {"batch_size": batch_size} if batch_size else {}
    started = time.perf_counter()
    summary = asyncio.run(drain_organization(store, sessions, workspace.organization_id, clock=utc_now, **options))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "summary": summary.to_dict(), "counters": sessions.counters()}


def check_written(crm: Crm, workspace: Workspace, activities: Sequence[tuple[uuid.UUID, str]]) -> dict[str, Any]:
    """Every activity in the sandbox exactly once: per table, how many of the activities' rows were found, and how
    many external ids (app tables) appear on more than one row."""
    from salesbridge.domain.writeback import ITEM_TABLES, DataItem, crm_activity_id

    by_table: dict[str, list[tuple[str, str]]] = {}
    for activity_id, item in activities:
        table = ITEM_TABLES[DataItem(item)]
        by_table.setdefault(table, []).append(
            (crm_activity_id(workspace.organization_id, activity_id), str(activity_id))
        )
    checks: dict[str, Any] = {}
    for table, rows in sorted(by_table.items()):
        id_column = "annotationid" if table == "annotation" else "activityid"
        present = {str(value).lower() for (value,) in crm.query(f'SELECT "{id_column}" FROM "{table}"')}
        found = sum(1 for crm_id, _ in rows if crm_id in present)
        twice = 0
        if table in BULK_TABLES:
            external = {external_id for _, external_id in rows}
            twice = sum(
                1
                for value, n in crm.query(
                    f'SELECT sbr_externalid, count(*) FROM "{table}" GROUP BY sbr_externalid HAVING count(*) > 1'
                )
                if value in external
            )
        checks[table] = {"expected": len(rows), "found": found, "external_ids_twice": twice}
    return checks


# ------------------------------------------------------------------------------------------ the bare client


def inmail_target(
    table: str,
    names: dict[tuple[str, str], str],
    *,
    activity_id: str,
    owner: str,
    contact: str,
    number: int,
    occurred_at: str,
) -> dict[str, Any]:
    """One ``CreateMultiple`` target of an app table, with what the drainer writes: subject, body, direction, sent
    on, conversation, seller, external id, owner, the regarded contact and the activity parties."""
    return {
        "@odata.type": f"Microsoft.Dynamics.CRM.{table}",
        "activityid": activity_id,
        "subject": f"Bench activity {number}",
        "sbr_body": f"Hello, this is bench activity number {number}. Following up on our conversation.",
        "sbr_direction": number % 2 == 0,
        "sbr_senton": occurred_at,
        "actualend": occurred_at,
        "sbr_conversationid": f"conversation-{number // 4}",
        "sbr_externalid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"ceiling/{activity_id}")),
        f"{names['ownerid', 'systemuser']}@odata.bind": f"/systemusers({owner})",
        f"{names['sbr_sellerid', 'systemuser']}@odata.bind": f"/systemusers({owner})",
        f"{names['regardingobjectid', 'contact']}@odata.bind": f"/contacts({contact})",
        f"{table}_activity_parties": [
            {"partyid_systemuser@odata.bind": f"/systemusers({owner})", "participationtypemask": 1},
            {"partyid_contact@odata.bind": f"/contacts({contact})", "participationtypemask": 2},
        ],
    }


async def _token(session: aiohttp.ClientSession, info: dict[str, str], context: ssl.SSLContext) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
        "scope": f"{info['org_url']}/.default",
    }
    async with session.post(f"{info['authority']}/oauth2/v2.0/token", data=form, ssl=context) as response:
        return str((await response.json())["access_token"])


async def _navigation_names(
    session: aiohttp.ClientSession, info: dict[str, str], headers: dict[str, str], context: ssl.SSLContext, table: str
) -> dict[tuple[str, str], str]:
    """(lookup column, target table) → the navigation property a bind goes through, from the table's metadata."""
    url = (
        f"{info['api_url']}EntityDefinitions(LogicalName='{table}')/ManyToOneRelationships"
        "?$select=ReferencingAttribute,ReferencedEntity,ReferencingEntityNavigationPropertyName"
    )
    async with session.get(url, headers=headers, ssl=context) as response:
        rows = orjson.loads(await response.read())["value"]
    names = {
        (row["ReferencingAttribute"], row["ReferencedEntity"]): row["ReferencingEntityNavigationPropertyName"]
        for row in rows
    }
    # The owner lookup is one relationship to the abstract "owner" table: a user is set through it.
    names.setdefault(("ownerid", "systemuser"), names["ownerid", "owner"])
    return names


async def bare_create_multiple(
    info: dict[str, str],
    *,
    records: int,
    owners: Sequence[str],
    contacts: Sequence[str],
    chunk: int,
    round_number: int,
    impersonate: bool = True,
) -> dict[str, Any]:
    """Send ``records`` new rows to the app's tables with ``CreateMultiple`` (half each), ``chunk`` per request,
    each request one owner's (``MSCRMCallerID``), as many requests at once as ``x-ms-dop-hint`` advises.
    The clock runs from the first request to the last answer; payloads are built before it starts."""
    context = ssl.create_default_context(cafile=info["ca_bundle"])
    occurred_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    async with aiohttp.ClientSession() as session:
        token = await _token(session, info, context)
        base = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "Content-Type": "application/json; charset=utf-8",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
        }
        names = {table: await _navigation_names(session, info, base, context, table) for table in BULK_TABLES}
        async with session.get(info["api_url"] + "WhoAmI", headers=base, ssl=context) as response:
            dop = int(response.headers.get("x-ms-dop-hint", "4"))
        bodies: list[tuple[str, str, bytes]] = []
        per_group = max(1, records // (len(BULK_TABLES) * len(owners)))
        number = 0
        for table in BULK_TABLES:
            for owner in owners:
                targets = []
                for _ in range(per_group):
                    contact = contacts[number % len(contacts)]
                    targets.append(
                        inmail_target(
                            table,
                            names[table],
                            activity_id=str(uuid.uuid4()),
                            owner=owner,
                            contact=contact,
                            number=round_number * 10_000_000 + number,
                            occurred_at=occurred_at,
                        )
                    )
                    number += 1
                for start in range(0, len(targets), chunk):
                    bodies.append((table, owner, orjson.dumps({"Targets": targets[start : start + chunk]})))
        queue: asyncio.Queue[tuple[str, str, bytes]] = asyncio.Queue()
        for body in bodies:
            queue.put_nowait(body)
        written = 0
        requests = 0

        async def worker() -> None:
            nonlocal written, requests
            while not queue.empty():
                table, owner, body = queue.get_nowait()
                headers = {**base, "MSCRMCallerID": owner} if impersonate else base
                url = f"{info['api_url']}{table}s/Microsoft.Dynamics.CRM.CreateMultiple"
                async with session.post(url, data=body, headers=headers, ssl=context) as response:
                    payload = await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"CreateMultiple {table}: {response.status} {payload[:500]!r}")
                requests += 1
                written += len(orjson.loads(payload)["Ids"])

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(dop)))
        seconds = time.perf_counter() - started
    return {
        "records": written,
        "requests": requests,
        "records_per_request": round(written / requests, 1),
        "concurrency": dop,
        "seconds": round(seconds, 2),
        "records_per_s": round(written / seconds, 1),
    }


# ------------------------------------------------------------------------------------------------ the rounds


def _requests(drained: dict[str, Any]) -> int:
    return int(drained["counters"].get("requests", 0))


def path_figures(drained: dict[str, Any], records: int, checks: dict[str, Any]) -> dict[str, Any]:
    """One drain's figures: records, seconds, records/s, Web API requests (the connector's count: writes, the
    metadata reads they need and any retry) and records per request, what the drain reported and what the
    sandbox holds."""
    requests = _requests(drained)
    return {
        "records": records,
        "seconds": round(drained["seconds"], 2),
        "records_per_s": round(records / drained["seconds"], 1),
        "requests": requests,
        "records_per_request": round(records / requests, 1) if requests else None,
        "write_calls": drained["summary"]["writes"],
        "summary": drained["summary"],
        "counters": {k: round(v, 3) if isinstance(v, float) else v for k, v in drained["counters"].items()},
        "sandbox": checks,
        "exactly_once": all(c["found"] == c["expected"] and c["external_ids_twice"] == 0 for c in checks.values()),
    }


def run_round(
    number: int, crm: Crm, store: Any, workspace: Workspace, args: argparse.Namespace, batch_size: int | None
) -> dict[str, Any]:
    """One round: the ceiling and the two drains (the ceiling first in odd rounds, last in even ones)."""
    owners = [owner for _, owner in workspace.sellers]
    contacts = [contact for _, contact in workspace.people]
    result: dict[str, Any] = {"round": number, "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    if batch_size:
        result["batch_size"] = batch_size

    def ceiling() -> None:
        before = crm.cpu_seconds()
        result["ceiling"] = asyncio.run(
            bare_create_multiple(
                crm.info, records=args.bulk, owners=owners, contacts=contacts, chunk=args.chunk, round_number=number
            )
        )
        result["ceiling"]["sandbox_cpu_s"] = round(crm.cpu_seconds() - before, 1)
        print(f"  ceiling (bare CreateMultiple): {result['ceiling']['records_per_s']:,.0f} records/s", flush=True)

    def drained(items: Sequence[str], count: int, key: str) -> None:
        activities = seed_activities(store, workspace, items=items, count=count, tag=f"r{number}-{key}")
        before, own = crm.cpu_seconds(), time.process_time()
        outcome = drain(store, workspace, batch_size=batch_size)
        figures = path_figures(outcome, count, check_written(crm, workspace, activities))
        figures["sandbox_cpu_s"] = round(crm.cpu_seconds() - before, 1)
        figures["drainer_cpu_s"] = round(time.process_time() - own, 1)
        result[key] = figures
        print(
            f"  {key}: {figures['records']:,} in {figures['seconds']} s = {figures['records_per_s']:,.0f} records/s,"
            f" {figures['requests']} requests ({figures['records_per_request']} records each),"
            f" exactly once: {figures['exactly_once']}",
            flush=True,
        )

    if number % 2:
        ceiling()
    drained(BULK_ITEMS, args.bulk, "bulk")
    drained(BATCHED_ITEMS, args.batched, "batched")
    if not number % 2:
        ceiling()
    result["throughput_over_ceiling"] = round(result["bulk"]["records_per_s"] / result["ceiling"]["records_per_s"], 3)
    print(f"  throughput / ceiling: {result['throughput_over_ceiling']}", flush=True)
    return result


def _median(values: Sequence[float]) -> float:
    import statistics

    return round(statistics.median(values), 3)


def summarise(rounds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds at the default batch size, and whether each goal is met."""
    default = [r for r in rounds if "batch_size" not in r] or list(rounds)
    per_request = _median([r["bulk"]["records_per_request"] for r in default])
    ratio = _median([r["throughput_over_ceiling"] for r in default])
    return {
        "rounds": len(default),
        "bulk_records_per_request": per_request,
        "bulk_records_per_s": _median([r["bulk"]["records_per_s"] for r in default]),
        "ceiling_records_per_s": _median([r["ceiling"]["records_per_s"] for r in default]),
        "throughput_over_ceiling": ratio,
        "batched_records_per_s": _median([r["batched"]["records_per_s"] for r in default]),
        "batched_records_per_request": _median([r["batched"]["records_per_request"] for r in default]),
        "exactly_once": all(r["bulk"]["exactly_once"] and r["batched"]["exactly_once"] for r in rounds),
        "goals": {
            "records_per_request_at_least_500": per_request >= 500,
            "throughput_over_ceiling_at_least_0_8": ratio >= 0.8,
        },
    }


SNAPSHOT_VARIABLE = "BENCH_WRITEBACK_SNAPSHOT"
"""Set in the bench's own process when it runs on a snapshot: the commit the snapshot was taken of."""


def run_on_snapshot(argv: Sequence[str]) -> int:
    """Run the bench again in a process of its own on ``src/`` as committed at HEAD (``git archive``), it and the
    sandbox it starts alike (``PYTHONPATH``), so that edits made in the working tree meanwhile — by anyone — cannot
    change what is measured, nor mix versions between rounds. Its exit status."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-writeback-src-") as folder:
        archive = subprocess.run(["git", "archive", head, "src"], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(Path(folder) / "src"), str(ROOT)]),
            SNAPSHOT_VARIABLE: head,
        }
        return subprocess.run([sys.executable, "-m", "bench.writeback", *argv], cwd=ROOT, env=environment).returncode


def source_version() -> dict[str, Any]:
    """The commit measured: the snapshot's (``run_on_snapshot``), else HEAD and whether ``src/`` differed from it."""
    import salesbridge

    snapshot = os.environ.get(SNAPSHOT_VARIABLE)
    if snapshot:
        return {"commit": snapshot, "snapshot": True, "imported_from": str(Path(salesbridge.__file__).parent)}
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True)
    return {"commit": head.stdout.strip(), "snapshot": False, "src_uncommitted_changes": bool(dirty.stdout.strip())}


def markdown(results: dict[str, Any]) -> str:
    """The tables of docs/performance.md § Writeback, from a results file."""
    lines = [
        "| round | batch size | ceiling (bare CreateMultiple) | bulk drain | records / request (bulk) | throughput ÷ "
        "ceiling | `$batch` drain (notes, calls) | records / `$batch` request | exactly once |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rounds"]:
        bulk, batched, ceiling = r["bulk"], r["batched"], r["ceiling"]
        lines.append(
            f"| {r['round']} | {r.get('batch_size', results['default_batch_size']):,} "
            f"| {ceiling['records_per_s']:,.0f}/s ({ceiling['records']:,} in {ceiling['seconds']} s) "
            f"| {bulk['records_per_s']:,.0f}/s ({bulk['records']:,} in {bulk['seconds']} s) "
            f"| {bulk['records_per_request']} ({bulk['requests']} requests) | {r['throughput_over_ceiling']} "
            f"| {batched['records_per_s']:,.0f}/s ({batched['records']:,} in {batched['seconds']} s) "
            f"| {batched['records_per_request']} ({batched['requests']} requests) "
            f"| {'yes' if bulk['exactly_once'] and batched['exactly_once'] else 'NO'} |"
        )
    lines += [
        "",
        "| round | sandbox CPU per 1,000 records: ceiling / bulk drain / `$batch` drain "
        "| drainer CPU per 1,000 records: bulk / `$batch` | sandbox busy (CPU ÷ wall): ceiling / bulk drain "
        "| bulk drain's time inside `write_activities` |",
        "|---|---|---|---|---|",
    ]
    for r in results["rounds"]:
        bulk, batched, ceiling = r["bulk"], r["batched"], r["ceiling"]

        def per_thousand(cpu: float, records: int) -> str:
            return f"{cpu / records * 1000:.2f} s"

        inside = bulk["counters"].get("write_seconds")
        inside_share = f"{inside / bulk['seconds']:.0%}" if inside else "—"
        lines.append(
            f"| {r['round']} | {per_thousand(ceiling['sandbox_cpu_s'], ceiling['records'])} / "
            f"{per_thousand(bulk['sandbox_cpu_s'], bulk['records'])} / "
            f"{per_thousand(batched['sandbox_cpu_s'], batched['records'])} "
            f"| {per_thousand(bulk['drainer_cpu_s'], bulk['records'])} / "
            f"{per_thousand(batched['drainer_cpu_s'], batched['records'])} "
            f"| {ceiling['sandbox_cpu_s'] / ceiling['seconds']:.0%} / {bulk['sandbox_cpu_s'] / bulk['seconds']:.0%} "
            f"| {inside_share} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bulk", type=int, default=80_000, help="InMail and message activities per round.")
    parser.add_argument("--batched", type=int, default=20_000, help="Notes and calls per round.")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--batch-sizes",
        default="",
        help="Extra rounds with the drainer claiming this many entries at a time (comma-separated), beside the "
        "rounds at its default.",
    )
    parser.add_argument("--contacts", type=int, default=20_000, help="Contacts of the CRM (scale seed).")
    parser.add_argument("--people", type=int, default=20_000, help="Workspace people, each tied to a contact.")
    parser.add_argument("--chunk", type=int, default=1000, help="Records per CreateMultiple of the bare client.")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--markdown", type=Path, help="Print the tables of a results file and stop.")
    parser.add_argument(
        "--working-tree", action="store_true", help="Measure src/ as it is now instead of a snapshot of HEAD."
    )
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return
    if not args.working_tree and SNAPSHOT_VARIABLE not in os.environ:
        sys.exit(run_on_snapshot(sys.argv[1:]))
    from salesbridge.sync.writeback import DEFAULT_BATCH_SIZE

    results: dict[str, Any] = {
        "benchmark": "writeback",
        "machine": machine(),
        "source": source_version(),
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "markdown", "working_tree")},
        "default_batch_size": DEFAULT_BATCH_SIZE,
        "rounds": [],
    }
    extra = [int(value) for value in args.batch_sizes.split(",") if value.strip()]
    with tempfile.TemporaryDirectory(prefix="bench-writeback-") as folder:
        tmp = Path(folder)
        started = time.perf_counter()
        crm = start_crm(tmp / "crm", tmp / "crm.db", contacts=args.contacts)
        try:
            workspace = prepare_workspace(f"sqlite:///{tmp / 'store.db'}", crm, people=args.people)
            results["setup_seconds"] = round(time.perf_counter() - started, 1)
            store, engine = open_store(workspace)
            try:
                plan = [None] * args.rounds + extra
                for number, batch_size in enumerate(plan, start=1):
                    print(f"round {number}" + (f" (batch size {batch_size:,})" if batch_size else ""), flush=True)
                    results["rounds"].append(run_round(number, crm, store, workspace, args, batch_size))
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    args.out.write_text(json.dumps(results, indent=2) + "\n")
            finally:
                engine.dispose()
        finally:
            crm.stop()
    results["summary"] = summarise(results["rounds"])
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["summary"], indent=2))
    print(markdown(results))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
