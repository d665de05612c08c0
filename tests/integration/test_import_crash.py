"""kill -9 in the middle of an import, then a restart: nothing is lost and nothing is duplicated, checked
against the sandbox's own counts. The import runs as a real `salesbridge sync run` process on a SQLite file and on
PostgreSQL; the sandbox (a scale org, each request slowed down) runs in this process over TLS."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from tests.integration.sandbox_connection import connect_to_sandbox

from salesbridge.domain.crm_import import IMPORTED_TABLES
from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.seeds.seeding import parse_seed
from salesbridge.sandbox.server.faults import FaultConfig
from salesbridge.sandbox.server.serving import serve_in_thread
from salesbridge.sandbox.server.tls import create_tls_material
from salesbridge.store import create_engine_for, create_session_factory
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory

CONTACTS = 15000


def sync_run(env: dict[str, str], output: Path) -> subprocess.Popen[bytes]:
    with output.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "salesbridge", "sync", "run", "--org", "acme"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )


def test_kill_9_during_an_import_then_a_restart_loses_and_duplicates_nothing(
    tmp_path: Path, migrated_url: str, sandbox_signing_key: rsa.RSAPrivateKey
) -> None:
    sandbox = build_sandbox(
        seed=parse_seed(f"scale:{CONTACTS}"), faults=FaultConfig(latency_ms=250), signing_key=sandbox_signing_key
    )
    material = create_tls_material(tmp_path / "tls")
    url = migrated_url  # SQLite, and PostgreSQL (where a first full read goes by COPY straight into the table)
    key = generate_key()
    engine = create_engine_for(url)
    store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(key))
    with serve_in_thread(sandbox.app, tls=material) as server:
        organization_id = connect_to_sandbox(store, sandbox, server.base_url, material.ca_bundle)

        def stored(table: str) -> int:
            with store(organization_id) as uow:
                return uow.crm_records.count(table)

        env = {
            **os.environ,
            "SALESBRIDGE_DATABASE_URL": url,
            "SALESBRIDGE_CREDENTIAL_KEY": key.get_secret_value(),
            "SALESBRIDGE_IMPORT_LEASE_SECONDS": "2",
            "COLUMNS": "200",
        }
        output = tmp_path / "sync.txt"
        first = sync_run(env, output)
        deadline = time.monotonic() + 120
        while stored("contact") == 0:
            assert first.poll() is None, output.read_text()
            assert time.monotonic() < deadline, "the import never reached the contacts"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        interrupted_at = stored("contact")
        assert 0 < interrupted_at < CONTACTS, "killed in the middle of the contacts"
        # The latency only had to keep the first run going until the kill: the restart reads at full speed.
        sandbox.services.faults.configure(FaultConfig())

        time.sleep(2.5)  # the dead process's lease runs out
        second = sync_run(env, output)
        assert second.wait(timeout=180) == 0, output.read_text()

        storage = sandbox.services.state.storage
        for table in IMPORTED_TABLES:
            assert stored(table) == storage.scalar(f'SELECT count(*) FROM "{table}"'), table
        with store(organization_id) as uow:
            runs = uow.import_runs.recent()
            contact_state = next(state for state in uow.sync_states.all() if state.table_name == "contact")
        assert [run.state.value for run in runs][:2] == ["succeeded", "failed"], "the killed run was failed"
        assert contact_state.delta_token is not None
        assert contact_state.rows_imported <= CONTACTS - interrupted_at + 5000, "resumed, at most one page replayed"
    engine.dispose()
