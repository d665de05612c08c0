"""The fault matrix (issue 16, docs/reliability.md § Fault matrix): every fault against the import and against
writeback, on SQLite and on PostgreSQL, each cell checked against the sandbox's own records — 0 rows lost or
duplicated, 0 activities dropped or written twice — after recovering without an administrator.

``make test`` runs :data:`FAST` (5 cells on SQLite, 15-30 s each: each starts a sandbox process and the operation's
processes, and waits out leases); ``make faults`` runs every cell (``--fault-matrix``) and writes the table."""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from bench.postgres_cluster import free_port
from bench.writeback import start_crm
from tests.faults.matrix import (
    CONTACTS,
    DATABASES,
    FAULTS,
    FAULTS_BY_NUMBER,
    NOT_BUILT,
    OPERATIONS,
    Cell,
    CellResult,
    Prepared,
    run_cell,
    size_limited_tmpfs,
)
from tests.integration.conftest import PostgresCluster

FAST = {(1, "import"), (5, "import"), (6, "import"), (11, "writeback"), (12, "import")}
"""The cells ``make test`` runs, on SQLite (~2 minutes on a busy 2-core machine): the storm, the revoked token, the
expired change tracking, the restarted sandbox, the full disk. The other kinds are in ``make test`` already through
the fault tests beside this one: 429/503/resets/latency on a paged read (``test_paged_read_under_faults``) and on
writeback with ``kill -9`` of the drainer (``test_writeback_exactly_once``), ``kill -9`` of an import
(``tests/integration/test_import_crash.py``), a worker killed (``tests/integration/jobs/test_workers.py``), a
PostgreSQL server dropping its connections (``tests/integration/store/test_store_reconnects.py``)."""
DISK_MB = 64
"""The size-limited tmpfs holding the SQLite store of the disk-full cell."""


def _cells() -> Iterator[object]:
    for fault in FAULTS:
        if fault.number in NOT_BUILT:
            continue
        for operation in OPERATIONS:
            for database in DATABASES:
                if fault.applies(operation, database) is not None:
                    continue
                fast = database == "sqlite" and (fault.number, operation) in FAST
                marks = () if fast else (pytest.mark.fault_matrix_full,)
                yield pytest.param(
                    fault.number, operation, database, id=f"{fault.number}-{operation}-{database}", marks=marks
                )


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """The sandbox's organization (``scale:CONTACTS``), seeded once per session; the stores are prepared on first
    use of their kind."""
    folder = tmp_path_factory.mktemp("prepared")
    start_crm(folder / "state", folder / "crm.db", contacts=CONTACTS).stop()
    return Prepared(folder, free_port())


@pytest.fixture
def postgres_store(prepared: Prepared, request: pytest.FixtureRequest) -> Iterator[str]:
    """A copy of the prepared PostgreSQL store (``CREATE DATABASE … TEMPLATE``), dropped afterwards."""
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    if "postgresql" not in prepared.workspaces:
        cluster.execute_autocommit('CREATE DATABASE "faults_prepared"')
        prepared.prepare("postgresql", cluster.url("faults_prepared"))
    name = f"faults_{uuid.uuid4().hex[:12]}"
    cluster.execute_autocommit(f'CREATE DATABASE "{name}" TEMPLATE "faults_prepared"')
    yield cluster.url(name)
    with contextlib.suppress(psycopg.Error):
        cluster.execute_autocommit(f'DROP DATABASE "{name}" WITH (FORCE)')


def _sqlite_store(prepared: Prepared, folder: Path) -> str:
    """A copy of the prepared SQLite store in ``folder``."""
    template = prepared.folder / "store.db"
    if "sqlite" not in prepared.workspaces:
        prepared.prepare("sqlite", f"sqlite:///{template}")
    shutil.copyfile(template, folder / "store.db")
    return f"sqlite:///{folder / 'store.db'}"


@pytest.mark.parametrize(("fault_number", "operation", "database"), list(_cells()))
def test_fault_cell(
    fault_number: int,
    operation: str,
    database: str,
    prepared: Prepared,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    record_cell: Callable[[CellResult], None],
) -> None:
    fault = FAULTS_BY_NUMBER[fault_number]
    disk = size_limited_tmpfs(tmp_path / "disk", DISK_MB) if fault_number == 12 else contextlib.nullcontext()
    with disk as store_dir:
        if fault_number == 12 and store_dir is None:
            record_cell(CellResult(12, operation, database, state="not run", note="not run: needs root (mount)"))
            pytest.fail("the disk-full cell needs root to mount a size-limited tmpfs")
        if database == "sqlite":
            url = _sqlite_store(prepared, store_dir or tmp_path)
        else:
            url = request.getfixturevalue("postgres_store")
        workspace = prepared.workspace(database, url)
        cell = Cell(tmp=tmp_path, operation=operation, prepared=prepared, workspace=workspace, store_dir=store_dir)
        try:
            result = run_cell(fault, cell)
        except Exception as crash:
            # The harness itself broke: the table says so rather than "not run".
            record_cell(CellResult(fault_number, operation, database, state="fail", note=f"harness error: {crash!r}"))
            raise
        finally:
            cell.close()
    record_cell(result)
    assert result.state == "pass", result
