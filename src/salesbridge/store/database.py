"""Engines, sessions and schema migration for the store.

SQLite runs in WAL mode with ``synchronous=NORMAL`` and enforced foreign keys; PostgreSQL runs on psycopg 3.
``migrate()`` applies the package's Alembic revisions without an ``alembic.ini``, so it works from an installed
wheel.

Concurrency on SQLite: one connection writes at a time. A transaction that reads and then writes after another
connection committed cannot be upgraded to a writer (SQLite fails it at once, "database is locked", whatever the
busy timeout), so every transaction on a store engine begins ``BEGIN IMMEDIATE``: it takes the write lock first
and waits its turn (up to :data:`BUSY_TIMEOUT_MS`) instead of failing halfway. Transactions that only read are
declared so on :func:`read_only_engine`: they begin deferred, never wait for the writer (WAL readers see the
last committed state) and cannot write (SQLite ``query_only``, PostgreSQL ``READ ONLY``).

A new SQLite database file is created mode 0600; its ``-wal`` and ``-shm`` files take the database file's mode.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from salesbridge.domain.search_folding import fold_for_search
from salesbridge.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite transaction waits for the write lock before failing with "database is locked". Writers hold
it for milliseconds (a sign-in) to a few hundred (an import page of 5,000 rows); the long holders are a full read's
final sweep and a purge, which take seconds on a million rows."""

SQLITE_MEMORY_MIB: Final = 64
"""What SQLite may hold in one process, the page caches of all its connections together (``PRAGMA
soft_heap_limit``): past it, a connection reuses its own least recently used pages instead of taking more. Each
connection may cache 64 MiB (``cache_size``: what an import of a million rows wants from its one connection), so
without the limit a long-running console's pooled connections each filled up to that as the store grew (SQLite
memory rising with the store's size, docs/reliability.md § Soak). 0: no limit."""

SQLITE_MMAP_MIB: Final = 0
"""How much of a SQLite store file a connection reads through memory-mapped I/O (``PRAGMA mmap_size``): its pages
are then read from the mapping, shared by all the process's connections, instead of being copied into each
connection's page cache. 0: off."""

_READ_ONLY = "salesbridge_read_only"
_QUERY_ONLY = "salesbridge_query_only"


def normalise_url(url: str | URL) -> URL:
    """``url`` with PostgreSQL pinned to psycopg 3 (``postgresql://`` and ``postgres://`` become
    ``postgresql+psycopg://``).

    Raises:
        ConfigError: the URL cannot be parsed, or names a backend other than SQLite or PostgreSQL via psycopg 3.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError("The database URL cannot be parsed.") from exc
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in {"sqlite", "sqlite+pysqlite", "postgresql+psycopg"}:
        raise ConfigError(
            f"Unsupported database driver {parsed.drivername!r}: use sqlite:///path or postgresql+psycopg://…"
        )
    return parsed


def create_engine_for(
    url: str | URL,
    *,
    sqlite_memory_mib: int = SQLITE_MEMORY_MIB,
    sqlite_mmap_mib: int = SQLITE_MMAP_MIB,
    **engine_options: Any,
) -> Engine:
    """An engine for ``url``, configured for the store.

    SQLite connections get ``journal_mode=WAL`` (for file databases), ``synchronous=NORMAL``, ``foreign_keys=ON``,
    a busy timeout of :data:`BUSY_TIMEOUT_MS`, and the process's SQLite memory limited to ``sqlite_memory_mib``
    (:data:`SQLITE_MEMORY_MIB`; the limit is the process's, not the engine's: the last engine's connection sets
    it), and the first ``sqlite_mmap_mib`` of the file read through memory-mapped I/O (:data:`SQLITE_MMAP_MIB`);
    transactions are begun explicitly (so that savepoints work), with
    ``BEGIN IMMEDIATE`` unless on :func:`read_only_engine`. PostgreSQL connections are tested as they leave the pool
    (``pool_pre_ping``): after a server restart the next transaction reconnects instead of failing.
    A SQLite file that does not exist yet is created mode
    0600. ``engine_options`` go to :func:`sqlalchemy.create_engine` unchanged.

    Raises:
        ConfigError: as :func:`normalise_url`.
    """
    parsed = normalise_url(url)
    # JSON columns (imported CRM rows) are written and read with orjson: several times faster than json.
    engine_options.setdefault("json_serializer", _json_text)
    engine_options.setdefault("json_deserializer", orjson.loads)
    if parsed.get_backend_name() == "postgresql" or parsed.database not in (None, "", ":memory:"):
        # Hand out the most recently returned connection first: its page cache is the warm one (an import
        # commits a page of rows every few hundred milliseconds from whichever worker thread is free).
        engine_options.setdefault("pool_use_lifo", True)
    if parsed.get_backend_name() == "postgresql":
        # A restarted server (or a failover, an idle timeout) leaves every pooled connection dead: test each one as
        # it is checked out and reconnect, instead of failing the next request, page or job once per connection.
        engine_options.setdefault("pool_pre_ping", True)
    engine = create_engine(parsed, **engine_options)
    if engine.dialect.name == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _create_private_file(Path(parsed.database))
        _configure_sqlite(engine, sqlite_memory_mib, sqlite_mmap_mib)
    return engine


def read_only_engine(engine: Engine) -> Engine:
    """``engine`` for transactions that only read: on SQLite they begin deferred (they never wait for a writer)
    and run with ``query_only``; on PostgreSQL they are ``READ ONLY``. A write in them raises
    :class:`sqlalchemy.exc.OperationalError` (SQLite) or :class:`sqlalchemy.exc.InternalError` (PostgreSQL). Shares
    ``engine``'s pool; build it once per engine (each call adds a connection listener)."""
    options: dict[str, Any] = {_READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    return engine.execution_options(**options)


def _create_private_file(path: Path) -> None:
    # Readable by its owner only: the store holds the workspace's people and encrypted CRM secrets. SQLite gives
    # the -wal and -shm files the database file's mode, so creating this one 0600 covers all three. O_EXCL: an
    # existing database keeps the mode its operator gave it.
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except FileNotFoundError:
        pass  # no such folder: SQLite reports it, as it always did


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


SQLITE_SEARCH_FOLD: Final = "sb_search_fold"
"""The SQL function SQLite connections have for :func:`salesbridge.domain.search_folding.fold_for_search`."""


def _fold_or_null(text: str | None) -> str | None:
    return fold_for_search(text) if isinstance(text, str) else None


SQLITE_CASEFOLD: Final = "sb_casefold"
"""The SQL function SQLite connections have for :meth:`str.casefold` (NULL stays NULL): lists sort names by it."""


def _casefold_or_null(text: str | None) -> str | None:
    return text.casefold() if isinstance(text, str) else None


def _configure_sqlite(engine: Engine, memory_mib: int, mmap_mib: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _connection_record: Any) -> None:
        # Take transaction control away from pysqlite so SAVEPOINT and PRAGMAs behave (SQLAlchemy's documented
        # recipe); BEGIN is then emitted by the "begin" hook below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # First, so that the PRAGMAs below wait for a writer too (switching a new file to WAL takes a lock).
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # A 64 MB page cache per connection (the default is 2 MB): a full import of a million CRM rows
            # inserts into indexes far larger than 2 MB, and every cache miss is a read from disk.
            cursor.execute("PRAGMA cache_size=-65536")
            cursor.execute(f"PRAGMA soft_heap_limit={memory_mib * 2**20}")  # all connections together
            cursor.execute(f"PRAGMA mmap_size={mmap_mib * 2**20}")
            # Checkpoint the WAL every ~80 MB instead of every 4 MB: an import commits a page of rows every few
            # hundred milliseconds, and a checkpoint on nearly every commit cost a third of the write time.
            cursor.execute("PRAGMA wal_autocheckpoint=20000")
        finally:
            cursor.close()
        # Searches compare names without case and accents (SQLite's own lower() knows only ASCII letters).
        dbapi_connection.create_function(SQLITE_SEARCH_FOLD, 1, _fold_or_null, deterministic=True)
        # A list's rows sort by name without case, as Python's casefold() orders them.
        dbapi_connection.create_function(SQLITE_CASEFOLD, 1, _casefold_or_null, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = bool(connection.get_execution_options().get(_READ_ONLY, False))
        if connection.info.get(_QUERY_ONLY, False) != read_only:  # pooled connections serve both kinds
            connection.exec_driver_sql(f"PRAGMA query_only={'ON' if read_only else 'OFF'}")
            connection.info[_QUERY_ONLY] = read_only
        # A deferred BEGIN that reads, then writes after another connection committed, fails at once ("database
        # is locked", no busy wait: its snapshot is stale). IMMEDIATE takes the write lock up front and waits.
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def conflict_insert(session: Session, table: Any) -> Any:
    """An INSERT into ``table`` in the session's backend that can skip or replace a row on a conflict
    (``on_conflict_do_nothing`` / ``on_conflict_do_update``, written alike by SQLite and PostgreSQL)."""
    return postgresql.insert(table) if session.get_bind().dialect.name == "postgresql" else sqlite.insert(table)


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; rows stay readable after commit (``expire_on_commit=False``)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(url: str | URL) -> Config:
    """An Alembic configuration for the package's migrations against ``url``, needing no ``alembic.ini``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    rendered = normalise_url(url).render_as_string(hide_password=False)
    # ConfigParser interpolates "%"; percent-encoded passwords must survive it.
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def migrate(url: str | URL, *, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision`` (default: the newest). Idempotent.

    Raises:
        ConfigError: as :func:`normalise_url`.
    """
    command.upgrade(alembic_config(url), revision)


def describe_url(url: str | URL) -> str:
    """``url`` as it may be shown to a person: the password hidden.

    Raises:
        ConfigError: as :func:`normalise_url`.
    """
    return normalise_url(url).render_as_string(hide_password=True)


def store_exists(url: str | URL) -> bool:
    """Whether a store (a database migrated at least once) exists at ``url``. Creates nothing: a missing SQLite
    file stays missing.

    Raises:
        ConfigError: as :func:`normalise_url`, or the database server cannot be reached.
    """
    parsed = normalise_url(url)
    database = parsed.database
    if parsed.get_backend_name() == "sqlite" and (
        not database or database == ":memory:" or not Path(database).is_file()
    ):
        return False
    engine = create_engine_for(parsed)
    try:
        with engine.connect() as connection:
            return inspect(connection).has_table("alembic_version")
    except OperationalError as exc:
        raise ConfigError(f"Cannot reach the database at {describe_url(parsed)}.") from exc
    finally:
        engine.dispose()
