"""The embedded runner's imports in processes of their own (``SALESBRIDGE_IMPORT_PROCESS=child``): real child
processes (``python -m salesbridge.cli.work_horse``) importing from a sandbox served over TLS into SQLite and
PostgreSQL; the import's counts checked against the sandbox's own; a child killed mid-import, one that crashes,
one that hangs while the console stops."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from tests.integration.sandbox_connection import connect_to_sandbox

from salesbridge.bootstrap import dynamics_session, import_runner, work_horse_request
from salesbridge.domain.crm_import import IMPORTED_TABLES
from salesbridge.domain.workspace import ImportState
from salesbridge.errors import ConfigError, WorkHorseError
from salesbridge.jobs.runner import EmbeddedRunner
from salesbridge.jobs.work_horse import CHILD_MODULE, WorkHorse, decode_outcome, encode_outcome
from salesbridge.sandbox.assembly import Sandbox, build_sandbox
from salesbridge.sandbox.seeds.seeding import parse_seed
from salesbridge.sandbox.server.faults import FaultConfig
from salesbridge.sandbox.server.serving import serve_in_thread
from salesbridge.sandbox.server.tls import create_tls_material
from salesbridge.services.sync import RunOutcome, request_sync
from salesbridge.settings import Settings
from salesbridge.store import create_engine_for, create_session_factory
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory

CONTACTS = 6000


@dataclass
class Connected:
    """An organization connected to a sandbox served over TLS, on a migrated store."""

    sandbox: Sandbox
    store: UnitOfWorkFactory
    organization_id: uuid.UUID
    settings: Settings

    def stored(self, table: str) -> int:
        with self.store(self.organization_id) as uow:
            return uow.crm_records.count(table)

    def runs(self) -> list[ImportState]:
        with self.store(self.organization_id) as uow:
            return [run.state for run in uow.import_runs.recent()]

    def matches_requested(self) -> bool:
        with self.store(self.organization_id) as uow:
            return uow.matches.state().requested_at is not None

    def assert_same_as_the_sandbox(self) -> None:
        storage = self.sandbox.services.state.storage
        for table in IMPORTED_TABLES:
            assert self.stored(table) == storage.scalar(f'SELECT count(*) FROM "{table}"'), table


@pytest.fixture
def connected(tmp_path: Path, migrated_url: str, sandbox_signing_key: rsa.RSAPrivateKey) -> Iterator[Connected]:
    sandbox = build_sandbox(seed=parse_seed(f"scale:{CONTACTS}"), signing_key=sandbox_signing_key)
    material = create_tls_material(tmp_path / "tls")
    key = generate_key()
    engine = create_engine_for(migrated_url)
    store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(key))
    with serve_in_thread(sandbox.app, tls=material) as server:
        organization_id = connect_to_sandbox(store, sandbox, server.base_url, material.ca_bundle)
        settings = Settings(
            database_url=migrated_url, credential_key=key, import_lease_seconds=2, import_process="child"
        )
        yield Connected(sandbox, store, organization_id, settings)
    engine.dispose()


def _runner(connected: Connected) -> EmbeddedRunner:
    return import_runner(connected.store, connected.settings, db_url=connected.settings.database_url)


def _work_horse(runner: EmbeddedRunner) -> WorkHorse:
    work_horse = runner._work_horse
    assert work_horse is not None, "SALESBRIDGE_IMPORT_PROCESS=child builds a work horse"
    return work_horse


def test_the_import_and_its_matching_run_in_a_process_of_their_own_and_an_idle_round_starts_none(
    connected: Connected,
) -> None:
    runner = _runner(connected)
    work_horse = _work_horse(runner)

    outcomes = runner.run_once()  # connecting queued the first import

    assert [outcome.succeeded for outcome in outcomes] == [True]
    assert work_horse.runs_started == 1
    connected.assert_same_as_the_sandbox()
    assert connected.runs() == [ImportState.SUCCEEDED]
    assert not connected.matches_requested(), "the child ran the matching the import asked for"

    assert runner.run_once() == []  # nothing due, nothing queued, no matching asked for
    assert work_horse.runs_started == 1, "an idle round starts no process"

    request_sync(connected.store, slug="acme", actor="admin")  # "Sync now"
    (again,) = runner.run_once()
    assert again.succeeded
    assert work_horse.runs_started == 2


def test_a_child_killed_mid_import_loses_and_duplicates_nothing_once_its_lease_expires(
    connected: Connected, caplog: pytest.LogCaptureFixture
) -> None:
    connected.sandbox.services.faults.configure(FaultConfig(latency_ms=150))
    runner = _runner(connected)
    work_horse = _work_horse(runner)
    first: list[list[RunOutcome]] = []
    round_ = threading.Thread(target=lambda: first.append(runner.run_once()))
    round_.start()
    deadline = time.monotonic() + 120
    while connected.stored("contact") == 0:
        assert round_.is_alive(), "the import ended before it could be killed"
        assert time.monotonic() < deadline, "the import never reached the contacts"
        time.sleep(0.05)
    pid = work_horse.running_pid
    assert pid is not None
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    round_.join(30)
    assert first == [[]], "the killed run has no outcome"
    assert "the import process of organization" in caplog.text
    connected.sandbox.services.faults.configure(FaultConfig())

    time.sleep(2.5)  # the dead child's lease runs out
    (resumed,) = runner.run_once()

    assert resumed.succeeded
    connected.assert_same_as_the_sandbox()
    assert connected.runs()[:2] == [ImportState.SUCCEEDED, ImportState.FAILED], "the killed run was failed"


def test_a_child_that_crashes_or_answers_nonsense_is_reported_and_the_run_stays_queued(
    connected: Connected, caplog: pytest.LogCaptureFixture
) -> None:
    request = work_horse_request(connected.settings)
    crashing = WorkHorse(request, command=[sys.executable, "-c", "import sys; sys.exit(3)"])
    with pytest.raises(WorkHorseError, match="ended with status 3 without an outcome"):
        crashing.run(connected.organization_id)
    babbling = WorkHorse(request, command=[sys.executable, "-c", "print('hello')"])
    with pytest.raises(WorkHorseError, match="answered something else than an outcome"):
        babbling.run(connected.organization_id)

    runner = EmbeddedRunner(
        connected.store,
        dynamics_session,
        connected.store.connected_organization_ids,
        clock=lambda: datetime.now(UTC),
        work_horse=crashing,
    )
    with caplog.at_level(logging.ERROR):
        assert runner.run_once() == []
    assert f"the import process of organization {connected.organization_id} failed" in caplog.text
    assert connected.runs() == [ImportState.QUEUED], "nothing claimed it: the next round starts it again"


def test_stopping_the_runner_ends_a_running_child(connected: Connected) -> None:
    hanging = WorkHorse(
        work_horse_request(connected.settings),
        command=[sys.executable, "-c", "import time; time.sleep(120)"],
        stop_grace_s=5,
    )
    answers: list[RunOutcome | None] = []
    waiting = threading.Thread(target=lambda: answers.append(hanging.run(connected.organization_id)))
    waiting.start()
    deadline = time.monotonic() + 30
    while hanging.running_pid is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    pid = hanging.running_pid

    hanging.stop()  # SIGTERM ends the sleeping child at once; SIGKILL would follow after 5 s
    waiting.join(60)

    assert not waiting.is_alive()
    assert answers == [None]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped
    assert hanging.run(connected.organization_id) is None, "a stopped work horse starts no more children"


def test_the_child_refuses_a_request_it_cannot_run(tmp_path: Path) -> None:
    refused = subprocess.run(
        [sys.executable, "-m", CHILD_MODULE], input=b'{"settings": {}}', capture_output=True, check=False
    )
    assert refused.returncode == 2
    assert b"cannot run its request" in refused.stderr
    assert refused.stdout == b"", "no outcome written"

    missing_store = {
        **work_horse_request(Settings(database_url=f"sqlite:///{tmp_path / 'none.db'}", credential_key=generate_key())),
        "organization_id": str(uuid.uuid4()),
    }
    gone = subprocess.run(
        [sys.executable, "-m", CHILD_MODULE], input=json.dumps(missing_store).encode(), capture_output=True, check=False
    )
    assert gone.returncode == 2
    assert b"No salesbridge store at" in gone.stderr
    assert not (tmp_path / "none.db").exists(), "the child creates no store"


def test_the_request_carries_every_setting_and_secret_and_outcomes_survive_the_trip() -> None:
    settings = Settings(
        database_url="sqlite:///x.db",
        credential_key=SecretStr("key-material"),
        smtp_host="smtp.example.com",
        smtp_sender="a@example.com",
        smtp_username="u",
        smtp_password=SecretStr("pw"),
        allowed_hosts=["console.example.com"],
        import_lease_seconds=7,
    )

    request = work_horse_request(settings, "sqlite:///other.db")

    assert Settings.model_validate(request["settings"]) == settings
    assert request["db_url"] == "sqlite:///other.db"
    run_id = uuid.uuid4()
    for outcome in (
        None,
        RunOutcome(run_id, succeeded=True),
        RunOutcome(run_id, succeeded=False, error="Dynamics refused", stopped=True),
    ):
        assert decode_outcome(encode_outcome(outcome)) == outcome


def test_an_injected_clock_needs_the_import_on_the_runners_thread(connected: Connected) -> None:
    with pytest.raises(ConfigError, match="SALESBRIDGE_IMPORT_PROCESS=thread"):
        import_runner(connected.store, connected.settings, clock=lambda: datetime.now(UTC))


def test_an_import_process_does_not_outlive_a_console_killed_with_sigkill() -> None:
    # A stand-in console starts a child that arms the parent-death signal as the import process does, then is
    # killed the way the out-of-memory killer kills: the kernel ends the child too.
    child_code = (
        "import os, sys, time\n"
        "from salesbridge.cli.work_horse import die_with_parent\n"
        "assert die_with_parent(os.getppid())\n"
        "print(os.getpid(), flush=True)\n"
        "time.sleep(120)\n"
    )
    console_code = (
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', {child_code!r}])\n"
        "time.sleep(120)\n"
    )
    console = subprocess.Popen([sys.executable, "-c", console_code], stdout=subprocess.PIPE)
    assert console.stdout is not None
    child = int(console.stdout.readline())
    os.kill(child, 0)  # alive

    console.kill()
    console.wait(10)
    console.stdout.close()

    deadline = time.monotonic() + 30
    while Path(f"/proc/{child}").exists() and "Z" not in _state(child):
        assert time.monotonic() < deadline, "the import process outlived its console"
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
