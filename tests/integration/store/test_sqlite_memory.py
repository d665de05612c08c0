"""A process on a SQLite store keeps at most ``sqlite_memory_mib`` of the store in memory, all its pooled
connections' page caches together: read through SQLite's own count of the memory it holds
(``sqlite3_memory_used``, from the library the ``sqlite3`` module runs on)."""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from salesbridge.native import c_function
from salesbridge.store import create_engine_for
from salesbridge.store.database import read_only_engine

_CONNECTIONS = 4
_BUDGET_MIB = 8


def _sqlite_memory_mib() -> float:
    memory_used = c_function("sqlite3", "sqlite3_memory_used", ctypes.c_int64)
    assert memory_used is not None
    return float(memory_used()) / 2**20


@pytest.fixture(scope="module")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store file of about 40 MiB: larger than the budget, several times over."""
    path = tmp_path_factory.mktemp("sqlite-memory") / "store.db"
    engine = create_engine_for(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT)"))
        connection.execute(
            text(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150000) "
                "INSERT INTO rows (body) SELECT printf('%0250d', i) FROM n"
            )
        )
    engine.dispose()
    return path


@pytest.fixture
def no_limit_left_behind() -> Iterator[None]:
    """The limit is the process's: leave none for the tests that follow."""
    yield
    engine = create_engine_for("sqlite://", sqlite_memory_mib=0)
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    engine.dispose()


def _read_on_every_connection(engine: Engine) -> float:
    """Every connection of the pool held at once, each reading the whole table (as the console's pages read, in
    read-only transactions): SQLite's memory while they do."""
    readers = read_only_engine(engine)
    with ExitStack() as held:
        for _ in range(_CONNECTIONS):
            connection = held.enter_context(readers.begin())
            assert connection.execute(text("SELECT count(*), sum(length(body)) FROM rows")).one()[0] == 150000
        return _sqlite_memory_mib()


@pytest.mark.usefixtures("no_limit_left_behind")
def test_the_connections_page_caches_together_stay_within_the_budget(store_file: Path) -> None:
    engine = create_engine_for(f"sqlite:///{store_file}", sqlite_memory_mib=_BUDGET_MIB)
    try:
        held = _read_on_every_connection(engine)
    finally:
        engine.dispose()
    assert held < _BUDGET_MIB * 1.25  # a soft limit: a few pages over while a connection recycles its own


@pytest.mark.usefixtures("no_limit_left_behind")
def test_without_the_limit_each_connection_caches_the_table_on_its_own(store_file: Path) -> None:
    """What the limit prevents: each pooled connection keeping its own copy of the pages it read."""
    engine = create_engine_for(f"sqlite:///{store_file}", sqlite_memory_mib=0)
    try:
        held = _read_on_every_connection(engine)
    finally:
        engine.dispose()
    assert held > _CONNECTIONS * 30


@pytest.mark.usefixtures("no_limit_left_behind")
def test_memory_mapped_reads_leave_the_pages_out_of_the_connections_caches(store_file: Path) -> None:
    """With ``sqlite_mmap_mib`` covering the file, reads take the pages from the one mapping the connections share:
    none of them copies the table into memory of its own, even with no limit."""
    engine = create_engine_for(f"sqlite:///{store_file}", sqlite_memory_mib=0, sqlite_mmap_mib=64)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA mmap_size")).scalar_one() == 64 * 2**20
        held = _read_on_every_connection(engine)
    finally:
        engine.dispose()
    assert held < 8
