"""The fault tests' stores: the integration tests' SQLite file and throwaway PostgreSQL cluster, shared; and the
fault matrix's options (``make faults``): ``--fault-matrix`` runs every cell (without it, only the fast subset of
:data:`tests.faults.test_fault_matrix.FAST` is collected), ``--fault-results FILE`` writes the table (the JSON file,
and the Markdown into docs/reliability.md § Fault matrix), ``--fault-cells FILE`` only the cells run (``make faults``
runs the SQLite and the PostgreSQL cells in sessions side by side, then merges them with ``python -m
tests.faults.table``), ``--fault-shard K/N`` only every N-th cell from the K-th (0-based) of those collected
(``make faults`` splits each database's cells into :envvar:`FAULT_SHARDS` sessions: a cell spends most of its time
waiting — on a fault's hold, a lease, a backoff, the sandbox's latency — so sessions side by side use the cores)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.faults.matrix import CellResult
from tests.faults.table import write_cells, write_results
from tests.integration.conftest import database_url, postgres_cluster

__all__ = ["database_url", "postgres_cluster"]

_CELLS: dict[str, CellResult] = {}
_STARTED = time.monotonic()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fault_matrix_full: a fault matrix cell run only by make faults")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fault matrix")
    group.addoption("--fault-matrix", action="store_true", help="Run every cell of the fault matrix (make faults).")
    group.addoption("--fault-results", default=None, help="Write the fault matrix's table: this JSON file and docs.")
    group.addoption("--fault-cells", default=None, help="Write the cells this session ran to this JSON file.")
    group.addoption("--fault-shard", default=None, help="K/N: run every N-th matrix cell from the K-th (0-based).")


@pytest.hookimpl(trylast=True)  # after -k and -m: a shard is of the cells selected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without --fault-matrix, the matrix's cells outside the fast subset are deselected (not skipped); with
    --fault-shard K/N, the matrix's cells but this shard's are (the other tests stay)."""
    kept, dropped = [], []
    shard = config.getoption("--fault-shard")
    index, count = (int(part) for part in shard.split("/")) if shard else (0, 1)
    cell = 0
    for item in items:
        if not config.getoption("--fault-matrix") and item.get_closest_marker("fault_matrix_full"):
            dropped.append(item)
            continue
        if "test_fault_cell" in item.name:
            cell += 1
            if (cell - 1) % count != index:
                dropped.append(item)
                continue
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def record_cell() -> object:
    """Keeps a cell's result for the table written at the end of the session."""

    def record(result: CellResult) -> None:
        _CELLS[result.key] = result

    return record


def pytest_sessionfinish(session: pytest.Session) -> None:
    cells = session.config.getoption("--fault-cells", default=None)
    if cells:
        write_cells(_CELLS.values(), Path(cells))
    target = session.config.getoption("--fault-results", default=None)
    if target:
        write_results(_CELLS, Path(target), seconds=time.monotonic() - _STARTED)
