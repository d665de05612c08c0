"""The fault matrix of issue 16: each fault against the import and against writeback, on SQLite and on PostgreSQL.

A cell starts a sandbox process of its own (TLS, kept in a SQLite file copied from a template seeded once per
session, on a port of its own), prepares a workspace connected to it with the CRM app installed, sellers with seats
and people tied to contacts (``bench.writeback.prepare_workspace``: the links writeback's matching would have made,
stored as corrections), then runs the operation as real ``salesbridge`` processes — ``sync run`` for the import,
``writeback drain`` for writeback, procrastinate workers where the fault concerns them — and puts the fault on while
it runs. While the fault lasts it captures what the administrator sees (the ``status`` command of the operation);
afterwards it runs the operation again as the scheduler would (no administrator action: no retry, no reconnect)
until it completes, and compares the store with the sandbox's own records:

- import: every row of every imported table by id — ``lost`` (in the sandbox, not in the store) and ``duplicated``
  (in the store and not in the sandbox, or stored twice);
- writeback: every activity by id (and by ``sbr_externalid`` on the app's tables) — ``dropped`` (not in the sandbox,
  or not recorded delivered) and ``written_twice``, with its two parties (not doubled by a redelivery).

Time is compressed, and each fault says how (:class:`Fault` ``compression``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
from pydantic import SecretStr
from sqlalchemy import select

from salesbridge.domain.crm_app import CRM_APP
from salesbridge.domain.crm_import import IMPORTED_TABLES
from salesbridge.domain.writeback import ITEM_TABLES, DataItem, DeliveryState, crm_activity_id
from salesbridge.store.tables import CrmRecord

IMPORT, WRITEBACK = "import", "writeback"
APP_TABLES = tuple(table.logical_name for table in CRM_APP.tables)
"""The CRM app's tables (fault 14 removes them)."""
OPERATIONS = (IMPORT, WRITEBACK)
DATABASES = ("sqlite", "postgresql")
CONTACTS = 6_000
"""The sandbox's contacts: two pages of the import's 5,000."""
PEOPLE = 500
ACTIVITIES = 400
"""Activities each writeback cell delivers: InMail, messages, notes and calls alike (800 before: the cells checked
the same, each in a couple of seconds more; volume is ``test_writeback_exactly_once``'s and the benchmark's)."""
BATCH = 50
"""The drains' batch: eight batches, so a fault lands between batches."""
BASE_LATENCY_MS = 150
"""Added to every request while the operation runs, so that a fault lands in its middle."""
LEASE_SECONDS = 2
"""The import's and the drain's lease (``SALESBRIDGE_*_LEASE_SECONDS``): a killed process's work is taken over
after it instead of after 2 or 5 minutes."""
FIRST_RETRY_SECONDS = 2
"""Writeback's first wait after a transient failure (``SALESBRIDGE_WRITEBACK_FIRST_RETRY_SECONDS``, doubling as in
production): the drains a fault left failing are due again after 2, 4… s instead of 30, 60… s."""
RECOVERY_SECONDS = 240
SEE_WAIT_S = 20
"""How long past its hold a fault stays on while the cell waits for the status to say what it must (a process
starts in seconds on a loaded machine)."""
EVERY_SECOND = "* * * * * *"
WORKER_SETTINGS = {
    "SALESBRIDGE_JOBS": "procrastinate",
    "SALESBRIDGE_WORKER_HEARTBEAT_SECONDS": "0.5",
    "SALESBRIDGE_WORKER_STALLED_SECONDS": "2",
    "SALESBRIDGE_JOBS_SCHEDULE_CRON": "0 0 1 1 *",
}
"""A worker's environment beside the cell's: procrastinate, short heartbeats, no schedule (the job is deferred)."""
"""How long a cell waits for the operation to complete after the fault."""


# --------------------------------------------------------------------------------------------------- results


@dataclass
class CellResult:
    """One cell of the matrix, as the table shows it."""

    fault: int
    operation: str
    database: str
    state: str = "not built yet"
    """``pass``, ``fail``, ``n/a`` or ``not built yet``."""
    admin_sees: str = ""
    recovered: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    note: str = ""
    seconds: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.fault}-{self.operation}-{self.database}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------------- faults


@dataclass(frozen=True)
class Fault:
    """One fault of the matrix.

    ``apply``/``clear`` act on a :class:`Cell` while its operation runs; ``hold_s`` is how long the fault stays on
    (or until the operation's process ends); ``at_start``: put on before the operation starts (rate faults, which
    then meet every request of the storm) rather than once it has made progress. ``applies`` says why a cell is not
    applicable (None: it is)."""

    number: int
    name: str
    apply: Callable[[Cell], None]
    clear: Callable[[Cell], None] = lambda cell: None
    hold_s: float = 0.0
    at_start: bool = False
    compression: str = ""
    applies: Callable[[str, str], str | None] = lambda operation, database: None
    prepare: Callable[[Cell], None] = lambda cell: None
    workers: bool = False
    """The operation runs as a job of procrastinate workers (PostgreSQL), not as its command."""
    admin_action: str = ""
    """What the administrator did to end the fault (``clear``), when the fault is one only they can end."""
    sees: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Per operation, what its status must say while the fault is on, in English and in Spanish: the cell waits
    for it (up to :data:`SEE_WAIT_S` beyond the hold) and fails when the status never says it."""


def _rates(**values: Any) -> Callable[[Cell], None]:
    return lambda cell: cell.crm.put_faults({"seed": 16, **values, "latency_ms": BASE_LATENCY_MS})


def _no_rates(cell: Cell) -> None:
    cell.crm.put_faults(
        {"throttle_rate": 0.0, "unavailable_rate": 0.0, "reset_rate": 0.0, "latency_ms": BASE_LATENCY_MS}
    )


def _kill_operation(cell: Cell) -> None:
    assert cell.process is not None
    cell.process.send_signal(signal.SIGKILL)
    cell.process.wait(timeout=10)


def _only(operation: str, why: str) -> Callable[[str, str], str | None]:
    return lambda op, database: None if op == operation else why


def _only_on(database: str, why: str) -> Callable[[str, str], str | None]:
    return lambda operation, db: None if db == database else why


def _imported_once(cell: Cell) -> None:
    """A first complete import, so that the run under the fault is an incremental one (delta tokens stored)."""
    assert cell.run_import().wait(timeout=RECOVERY_SECONDS) == 0, cell.output_tail()


def _restart_postgres(cell: Cell) -> None:
    cell.restart_postgres()


def _fill_disk(cell: Cell) -> None:
    cell.fill_disk()


def _free_disk(cell: Cell) -> None:
    cell.free_disk()


def _restart_sandbox(cell: Cell) -> None:
    cell.restart_crm()


def _remove_app(cell: Cell) -> None:
    cell.remove_app_tables()


def _reinstall_app(cell: Cell) -> None:
    # The administrator reinstalls as soon as the status says so, the drain that met the removal perhaps still
    # writing: an activity whose write is under way then is delivered by that drain once it sees the app whole, or
    # by the install's requeue (it used to wait 15 minutes for its next attempt, longer than a cell waits), and one
    # written while the install is under way (its tables back, not yet their columns) waits for the app too (it
    # used to be parked).
    cell.reinstall_app()


FAULTS: tuple[Fault, ...] = (
    Fault(
        1,
        "throttling storm (429 + Retry-After)",
        _rates(throttle_rate=0.5, throttle_retry_after_s=2),
        _no_rates,
        hold_s=5,
        at_start=True,
        compression="half the requests answered 429 for 5 s with Retry-After: 2 s (Dynamics says 30 s to minutes; "
        "the client obeys whatever it says, so only the wait is shorter)",
        sees={
            IMPORT: ("Dynamics is throttling requests", "Dynamics está limitando las solicitudes"),
            WRITEBACK: (
                "Dynamics is throttling requests: writeback tries again at",
                "Dynamics está limitando las solicitudes: la reescritura vuelve a intentarlo",
            ),
        },
    ),
    Fault(
        2,
        "503s",
        _rates(unavailable_rate=0.5),
        _no_rates,
        hold_s=5,
        at_start=True,
        compression="half the requests answered 503 for 5 s",
    ),
    Fault(
        3,
        "seconds of latency per page",
        _rates(latency_ms=2000),
        _no_rates,
        hold_s=5,
        at_start=True,
        compression="2 s added to every request for 5 s",
    ),
    Fault(
        4,
        "connection reset mid-body",
        _rates(reset_rate=0.3),
        _no_rates,
        hold_s=5,
        at_start=True,
        compression="30 % of the responses cut in the middle of their body for 5 s",
    ),
    Fault(
        5,
        "access token revoked mid-run",
        lambda cell: cell.crm_action("revoke-tokens", {}),
        compression="every token the sandbox issued revoked at once (an expiry mid-run is the same 401)",
    ),
    Fault(
        6,
        "change-tracking token expired",
        lambda cell: cell.crm_action("shift-clock", {"days": 30}),
        prepare=lambda cell: _imported_once(cell) if cell.operation == IMPORT else None,
        compression="the CRM's clock moved 30 days on (retention 7 days) before an incremental import",
        at_start=True,
    ),
    Fault(
        7,
        "kill -9 of the import process",
        _kill_operation,
        applies=_only(IMPORT, "the import runs in its own process (`sync run`, a worker's import job)"),
    ),
    Fault(
        8,
        "kill -9 of the writeback process",
        _kill_operation,
        applies=_only(WRITEBACK, "writeback runs in its own process (`writeback drain`, a worker's drain job)"),
        compression="drain lease 2 s instead of 300 s",
    ),
    Fault(
        9,
        "PostgreSQL restarted mid-run",
        _restart_postgres,
        applies=_only_on("postgresql", "SQLite has no server to restart"),
    ),
    Fault(
        10,
        "a procrastinate worker lost for good",
        _kill_operation,
        applies=_only_on("postgresql", "procrastinate workers run on PostgreSQL only (SQLite: the embedded runner)"),
        workers=True,
        compression="the worker's job taken back after 2 s without a heartbeat (SALESBRIDGE_WORKER_STALLED_SECONDS)",
    ),
    Fault(
        11,
        "sandbox restarted mid-run (--db file)",
        _restart_sandbox,
    ),
    Fault(
        12,
        "disk full under SQLite (size-limited tmpfs)",
        _fill_disk,
        _free_disk,
        hold_s=6,
        applies=_only_on("sqlite", "PostgreSQL's disk is the server's (not filled here)"),
    ),
    Fault(
        13,
        "the clock moved",
        lambda cell: cell.crm_action("shift-clock", {"days": -1}),
        compression="the CRM's clock moved one day back mid-run (the workspace's own clock is not moved: it is "
        "injected, and the lease tests move it)",
    ),
    Fault(
        14,
        "CRM app's tables removed mid-writeback, then reinstalled",
        _remove_app,
        _reinstall_app,
        hold_s=4,
        applies=_only(
            WRITEBACK,
            "the import reads none of the CRM app's tables (only Dynamics' own: "
            + ", ".join(IMPORTED_TABLES)
            + "), so removing them cannot reach it",
        ),
        compression="the app's two tables (InMail, messages) deleted through the Web API (`DELETE "
        "EntityDefinitions(LogicalName=…)`, as a CRM administrator removing them does; their rows and parties go "
        "with them) once writeback has delivered part of its activities; `salesbridge crm app install` as soon as "
        "the status says so, the drain that met the removal perhaps still writing. A reinstall in Dynamics itself "
        "(no action in salesbridge) is found by the drain's own check of the app, 30 s after the failed write, then "
        "1, 2, 4 and every 5 minutes: longer than a cell waits, so that case runs with an injected clock "
        "(`tests/integration/services/test_writeback_drain.py`, § Writeback above)",
        admin_action="after the administrator reinstalled the app (as the status says)",
    ),
)
FAULTS_BY_NUMBER = {fault.number: fault for fault in FAULTS}
NOT_BUILT: dict[int, str] = {}
"""Faults whose cells are not built yet, and why: the table says so."""


def all_cells() -> list[CellResult]:
    """Every cell of the matrix, in table order (not run)."""
    return [
        CellResult(fault.number, operation, database)
        for fault in FAULTS
        for operation in OPERATIONS
        for database in DATABASES
    ]


# ------------------------------------------------------------------------------------------------------ cells


class Cell:
    """One cell being run: the sandbox process, the prepared workspace, the operation's process."""

    def __init__(
        self, *, tmp: Path, operation: str, prepared: Prepared, workspace: Workspace, store_dir: Path | None = None
    ) -> None:
        self.tmp = tmp
        self.operation = operation
        self.database = "sqlite" if workspace.url.startswith("sqlite") else "postgresql"
        self.prepared = prepared
        self.crm_db = tmp / "crm.db"
        prepared.copy_crm(self.crm_db, tmp / "crm")
        self.crm = self._start_crm()
        self.workspace = workspace
        self.store, self.engine = open_store(self.workspace)
        self.environment = {
            **bench_environment(self.workspace.url, self.workspace.key),
            "SALESBRIDGE_IMPORT_LEASE_SECONDS": str(LEASE_SECONDS),
            "SALESBRIDGE_WRITEBACK_LEASE_SECONDS": str(LEASE_SECONDS),
            "SALESBRIDGE_WRITEBACK_FIRST_RETRY_SECONDS": str(FIRST_RETRY_SECONDS),
        }
        self.output = tmp / "operation.txt"
        self.process: subprocess.Popen[bytes] | None = None
        self.activities: list[tuple[uuid.UUID, str]] = []
        self.filler: Path | None = None
        self.store_dir = store_dir
        self.workers: list[subprocess.Popen[bytes]] = []

    # --- the sandbox

    def _start_crm(self) -> Crm:
        return self.prepared.start_crm(self.tmp / "crm", self.crm_db)

    def restart_crm(self) -> None:
        """Stop the sandbox process (SIGKILL: a crash) and start it again on the same file and port."""
        self.crm.process.kill()
        self.crm.process.wait(timeout=10)
        time.sleep(1)
        self.crm = self._start_crm()
        self.crm.put_faults({"latency_ms": BASE_LATENCY_MS})

    def crm_action(self, action: str, body: dict[str, Any]) -> None:
        """``POST /_sandbox/<action>`` (revoke-tokens, shift-clock)."""
        context = ssl.create_default_context(cafile=self.crm.info["ca_bundle"])
        request = urllib.request.Request(
            f"{self.crm.info['base_url']}/_sandbox/{action}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"X-Sandbox-Admin-Token": self.crm.info["admin_token"], "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            response.read()

    def remove_app_tables(self) -> None:
        """Delete the CRM app's tables through the Web API, as the application user (it holds the customization
        privileges the app's install needed): ``DELETE EntityDefinitions(LogicalName='…')`` each."""
        context = ssl.create_default_context(cafile=self.crm.info["ca_bundle"])
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self.crm.info["client_id"],
                "client_secret": self.crm.info["client_secret"],
                "scope": f"{self.crm.info['org_url']}/.default",
            }
        ).encode()
        token_url = f"{self.crm.info['authority']}/oauth2/v2.0/token"
        with urllib.request.urlopen(urllib.request.Request(token_url, data=form), context=context, timeout=30) as r:
            token = json.loads(r.read())["access_token"]
        for table in APP_TABLES:
            request = urllib.request.Request(
                f"{self.crm.info['api_url']}EntityDefinitions(LogicalName='{table}')",
                method="DELETE",
                headers={"Authorization": f"Bearer {token}"},
            )
            with urllib.request.urlopen(request, context=context, timeout=60) as response:
                assert response.status == 204, response.status

    def reinstall_app(self) -> None:
        """``salesbridge crm app install`` (what the status tells the administrator to do), in this process."""
        from typer.testing import CliRunner

        from salesbridge.cli import app

        result = CliRunner().invoke(app, ["crm", "app", "install", "--org", SLUG], env=self.environment)
        assert result.exit_code == 0, result.output

    # --- the database

    def restart_postgres(self) -> None:
        """``pg_ctl restart -m fast`` of the cluster holding the store (every connection is cut)."""
        from bench.postgres_cluster import as_unprivileged, server_bindir
        from sqlalchemy import text

        with self.engine.connect() as connection:
            data = connection.execute(text("SHOW data_directory")).scalar_one()
        log = str(Path(data).parent / "server.log")  # the server's output: not our pipe, which it would hold open
        command = [*as_unprivileged(), str(server_bindir() / "pg_ctl"), "-D", str(data), "-l", log, "-m", "fast"]
        subprocess.run([*command, "-w", "restart"], check=True, stdout=subprocess.DEVNULL, timeout=60)

    def fill_disk(self) -> None:
        """Write a file filling the store's filesystem (``store_dir``, a size-limited tmpfs) to the last byte."""
        assert self.store_dir is not None
        self.filler = self.store_dir / "filler"
        with contextlib.suppress(OSError), self.filler.open("wb") as sink:
            while True:
                sink.write(b"\0" * (1 << 20))
                sink.flush()
        with contextlib.suppress(OSError), self.filler.open("ab") as sink:
            while True:
                sink.write(b"\0" * 4096)
                sink.flush()

    def free_disk(self) -> None:
        if self.filler is not None:
            self.filler.unlink(missing_ok=True)

    # --- the operations

    def _process(self, *arguments: str, **settings: str) -> subprocess.Popen[bytes]:
        with self.output.open("ab") as sink:
            sink.write(f"\n$ salesbridge {' '.join(arguments)}\n".encode())
        with self.output.open("ab") as sink:
            return subprocess.Popen(
                [sys.executable, "-m", "salesbridge", *arguments],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**self.environment, **settings},
            )

    def run_import(self) -> subprocess.Popen[bytes]:
        return self._process("sync", "run", "--org", SLUG)

    def run_drain(self) -> subprocess.Popen[bytes]:
        return self._process("writeback", "drain", "--org", SLUG, "--batch-size", str(BATCH))

    def start(self, *, workers: bool = False) -> subprocess.Popen[bytes]:
        """Start the operation's process: its command, or (``workers``) a procrastinate worker and its job."""
        if self.operation == WRITEBACK and not self.activities:
            items = (*BULK_ITEMS, *BATCHED_ITEMS)
            self.activities = seed_activities(self.store, self.workspace, items=items, count=ACTIVITIES, tag="cell")
        if workers:
            self.process = self.start_worker()
            self.defer_job()
        else:
            self.process = self.run_import() if self.operation == IMPORT else self.run_drain()
        return self.process

    def start_worker(self, **settings: str) -> subprocess.Popen[bytes]:
        """``salesbridge worker`` (procrastinate), with short heartbeats; another worker's job is taken back after
        2 s without one."""
        worker = self._process("worker", **{**WORKER_SETTINGS, **settings})
        self.workers.append(worker)
        return worker

    def defer_job(self) -> None:
        """The operation's job, deferred as the console defers it ("Sync now"; an activity logged)."""
        from salesbridge.services.sync import request_sync
        from salesbridge.services.writeback_outbox import request_drain
        from salesbridge.store import create_session_factory
        from salesbridge.store.jobs import JobEngine
        from salesbridge.store.secrets import CredentialCipher
        from salesbridge.store.uow import UnitOfWorkFactory

        cipher = CredentialCipher(SecretStr(self.workspace.key))
        jobs = UnitOfWorkFactory(create_session_factory(self.engine), cipher=cipher, job_engine=JobEngine.PROCRASTINATE)
        if self.operation == IMPORT:
            request_sync(jobs, slug=SLUG, actor="faults")
            return
        with jobs(self.workspace.organization_id) as uow:
            request_drain(uow, reason="faults")
            uow.commit()

    def progressed(self) -> bool:
        """Whether the operation has done part of its work (contacts stored; activities written)."""
        if self.operation == IMPORT:
            with self.store(self.workspace.organization_id, read_only=True) as uow:
                return uow.crm_records.count("contact") > 0
        return self.delivered() > 0

    def status(self, *, lang: str = "en") -> str:
        """What the administrator sees: the operation's ``status`` command (in ``lang``), condensed to its lines of
        text."""
        from typer.testing import CliRunner

        from salesbridge.cli import app

        # In this process (the command's own code and output; a new interpreter would take seconds to start).
        command = ("sync", "status") if self.operation == IMPORT else ("writeback", "status")
        result = CliRunner().invoke(app, [*command, "--org", SLUG, "--lang", lang], env=self.environment)
        return condense(admin_view(result.output))

    def delivered(self) -> int:
        with self.store(self.workspace.organization_id, read_only=True) as uow:
            return sum(c.count for c in uow.activities.status() if c.state is DeliveryState.DELIVERED)

    def next_attempt_in(self) -> float:
        """Seconds until the earliest failing activity is due again (0 when none waits)."""
        with self.store(self.workspace.organization_id, read_only=True) as uow:
            failing = uow.activities.search(states=(DeliveryState.FAILING,), limit=ACTIVITIES)
        due = [a.delivery.next_attempt_at for a in failing if a.delivery.next_attempt_at is not None]
        return max(0.0, (min(due) - datetime.now(UTC)).total_seconds()) if due else 0.0

    def complete(self) -> bool:
        """Whether the operation has nothing left to do (the last import succeeded; every activity delivered)."""
        if self.operation == IMPORT:
            with self.store(self.workspace.organization_id, read_only=True) as uow:
                runs = uow.import_runs.recent()
            return bool(runs) and runs[0].state.value == "succeeded"
        return self.delivered() == ACTIVITIES

    def output_tail(self) -> str:
        return self.output.read_text(errors="replace")[-3000:] if self.output.exists() else ""

    # --- the counts

    def import_counts(self) -> dict[str, int]:
        """Rows lost (in the sandbox, not in the store) and duplicated (in the store but not in the sandbox, or
        twice), every imported table compared by id."""
        from salesbridge.store import create_session_factory

        lost = duplicated = 0
        with create_session_factory(self.engine)() as session:
            rows = session.execute(
                select(CrmRecord.table_name, CrmRecord.crm_id).where(
                    CrmRecord.organization_id == self.workspace.organization_id
                )
            ).all()
        stored = Counter((table, crm_id.lower()) for table, crm_id in rows)
        for table in IMPORTED_TABLES:
            in_crm = {str(value).lower() for (value,) in self.crm.query(f'SELECT "{table}id" FROM "{table}"')}
            mine = {crm_id for (t, crm_id) in stored if t == table}
            lost += len(in_crm - mine)
            duplicated += len(mine - in_crm) + sum(n - 1 for (t, _), n in stored.items() if t == table and n > 1)
        return {"rows_lost": lost, "rows_duplicated": duplicated}

    def writeback_counts(self) -> dict[str, int]:
        """Activities dropped (not in the sandbox, or not recorded delivered) and written twice (a second row of
        the same activity, or its parties doubled)."""
        checks = check_written(self.crm, self.workspace, self.activities)
        dropped = sum(check["expected"] - check["found"] for check in checks.values())
        twice = sum(check["external_ids_twice"] for check in checks.values())
        expected: dict[str, set[str]] = {}
        for activity_id, item in self.activities:
            table = ITEM_TABLES[DataItem(item)]
            expected.setdefault(table, set()).add(crm_activity_id(self.workspace.organization_id, activity_id))
        with_parties = expected["sbr_inmail"] | expected["sbr_message"] | expected["phonecall"]
        parties = Counter(
            str(activity).lower()
            for activity, mask in self.crm.query('SELECT activityid, participationtypemask FROM "activityparty"')
            if str(activity).lower() in with_parties and mask in (1, 2)
        )
        twice += sum(1 for n in parties.values() if n > 2)
        dropped = max(dropped, ACTIVITIES - self.delivered())
        return {"activities_dropped": dropped, "activities_written_twice": twice}

    def close(self) -> None:
        for process in (self.process, *self.workers):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        self.free_disk()
        self.crm.stop()
        self.engine.dispose()


@dataclass
class Prepared:
    """The organization every cell starts from, prepared once per session: the sandbox's file (seeded, the CRM app
    installed) and certificate, served on one port (the workspaces' connection names it), and per database kind a
    store connected to it (:func:`bench.writeback.prepare_workspace`), which each cell copies."""

    folder: Path
    port: int
    workspaces: dict[str, Workspace] = field(default_factory=dict)

    @property
    def crm_db(self) -> Path:
        return self.folder / "crm.db"

    def start_crm(self, state_dir: Path, db: Path) -> Crm:
        return start_crm(state_dir, db, contacts=CONTACTS, faults=("--port", str(self.port)))

    def copy_crm(self, db: Path, state_dir: Path) -> None:
        """The prepared sandbox file and its certificate (kept by a sandbox kept in a file) for a cell."""
        shutil.copyfile(self.crm_db, db)
        shutil.copytree(self.folder / "state", state_dir, ignore=shutil.ignore_patterns("sandbox.*"))

    def workspace(self, kind: str, url: str) -> Workspace:
        """The prepared workspace of ``kind``, its store copied to ``url``."""
        return dataclasses.replace(self.workspaces[kind], url=url)

    def prepare(self, kind: str, url: str) -> None:
        """Prepare the store of ``kind`` at ``url`` against the prepared sandbox (started for it, then stopped)."""
        crm = self.start_crm(self.folder / "state", self.crm_db)
        try:
            self.workspaces[kind] = prepare_workspace(url, crm, people=PEOPLE)
        finally:
            crm.stop()


def admin_view(text: str) -> str:
    """The lines of a status command's output that say where things stand: its sentences (last sync, running,
    failing since…, why), the contacts' row of the import's table, writeback's totals and its first two failing or
    parked activities (with Dynamics' error); not column headers, settings or per-seller rows."""
    kept: list[str] = []
    section = ""
    problems = 0
    for line in text.splitlines():
        words = " ".join(line.replace("│", " │ ").replace("┃", " │ ").split())
        if "┃" in line and section == "By type":
            kept.append(words)  # the states the totals count
        if not words or "┃" in line or not any(ch.isalnum() for ch in words):
            continue
        if "│" not in line:
            if words in ("By type", "By seller", "Failing and parked"):
                section = words
                kept.append(words) if section == "Failing and parked" else None
            elif not words.startswith(("Enable syncing", "Data items")):
                kept.append(words)
            continue
        if section == "By type" and words.startswith("│ Total"):
            kept.append(words)
        elif section == "Failing and parked" and problems < 2:
            problems += 1
            kept.append(words)
        elif not section and words.startswith("│ contact "):
            kept.append(words)
    return "\n".join(kept)


def condense(text: str, limit: int = 400) -> str:
    """The text lines of a command's output (no box drawing), joined with " / ", at most ``limit`` characters."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip(" │┃|─━╭╮╰╯┏┓┗┛┡┩└┘┌┐├┤┼┬┴═╇╈╋+-").strip()
        if stripped and any(ch.isalnum() for ch in stripped):
            lines.append(" ".join(stripped.split()))
    joined = " / ".join(lines)
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


# ------------------------------------------------------------------------------------------------ running one


def run_cell(fault: Fault, cell: Cell) -> CellResult:
    """Run ``fault`` against ``cell``'s operation, recover as the scheduler would, and count."""
    started = time.monotonic()
    result = CellResult(fault.number, cell.operation, cell.database)
    fault.prepare(cell)
    cell.crm.put_faults({"latency_ms": BASE_LATENCY_MS})
    if fault.at_start:
        fault.apply(cell)
    process = cell.start(workers=fault.workers)
    deadline = time.monotonic() + RECOVERY_SECONDS
    if not fault.at_start:
        while not cell.progressed():
            if process.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if process.poll() is not None:
            result.note = "the operation's first process had ended before the fault: it met nothing"
        fault.apply(cell)
    hold_until = time.monotonic() + fault.hold_s
    expected, expected_es = fault.sees.get(cell.operation, ("", ""))
    seen = seen_es = ""
    while process.poll() is None:
        # While the fault is on: what the administrator sees during it, in English and in Spanish.
        if expected and expected not in seen:
            seen = cell.status()
        if expected_es and expected_es not in seen_es:
            seen_es = cell.status(lang="es")
        now = time.monotonic()
        if now >= hold_until and ((expected in seen and expected_es in seen_es) or now >= hold_until + SEE_WAIT_S):
            break
        time.sleep(0.2)
    if not expected or expected not in seen:
        seen = cell.status()  # the process ended first (an import giving up throttled says so once failed)
    if expected_es and expected_es not in seen_es:
        seen_es = cell.status(lang="es")
    fault.clear(cell)
    cell.crm.put_faults({"latency_ms": 0})
    reruns = 0
    if fault.workers:
        # The lost worker never comes back; another one (the deployment runs several) takes its job back.
        cell.start_worker(SALESBRIDGE_JOBS_SCHEDULE_CRON=EVERY_SECOND)
        while not cell.complete() and time.monotonic() < deadline:
            time.sleep(0.5)
        process = cell.workers[-1]
    else:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=RECOVERY_SECONDS)
    first_exit = process.poll()
    while not fault.workers and not cell.complete() and time.monotonic() < deadline:
        # The scheduler's next round (the import: 15 minutes after a failure in production, the drain: when the
        # failing activities are due again), here as soon as the lease of a killed process has run out.
        wait = LEASE_SECONDS + 0.5
        if cell.operation == WRITEBACK:
            wait = max(wait, cell.next_attempt_in())
        time.sleep(min(wait, max(0.0, deadline - time.monotonic())))
        reruns += 1
        again = cell.run_import() if cell.operation == IMPORT else cell.run_drain()
        with contextlib.suppress(subprocess.TimeoutExpired):
            again.wait(timeout=max(1.0, deadline - time.monotonic()))
    done = cell.complete()
    result.admin_sees = seen
    after = f"{fault.admin_action}: " if fault.admin_action else ""
    if done and fault.workers:
        result.recovered = "yes, by another worker"
    elif done and reruns == 0 and first_exit == 0:
        result.recovered = "yes, within the run"
    elif done:
        result.recovered = f"yes, {after}by the scheduler's next run ({reruns} run{'s' if reruns > 1 else ''} after)"
    else:
        result.recovered = f"no: not complete after {RECOVERY_SECONDS} s"
    result.counts = cell.import_counts() if cell.operation == IMPORT else cell.writeback_counts()
    said = not expected or (expected in seen and expected_es in seen_es)
    result.state = "pass" if done and said and not any(result.counts.values()) else "fail"
    if not said:
        result.note = f"the status never said “{expected}” (and in Spanish “{expected_es}”) while the fault was on"
    if result.state == "fail":
        result.note = "; ".join(filter(None, (result.note, f"output: {condense(cell.output_tail(), 600)}")))
    result.note = "; ".join(part for part in (fault.compression, result.note) if part)
    result.seconds = round(time.monotonic() - started, 1)
    return result


@contextlib.contextmanager
def size_limited_tmpfs(where: Path, megabytes: int) -> Iterator[Path | None]:
    """A tmpfs of ``megabytes`` mounted at ``where`` (root only); None when it cannot be mounted."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        yield None
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(where)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        yield None
        return
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)
