"""Fixtures of the integration tests that use the store: each such test runs on SQLite (a tmp file) and on
PostgreSQL.

PostgreSQL is a throwaway cluster started once per session from the machine's server binaries (``pg_config
--bindir``, else ``/usr/lib/postgresql/*/bin``): ``initdb`` into a fresh tmp folder, ``pg_ctl start`` listening on
127.0.0.1 at a free port with its unix socket in the same folder, trust authentication, ``fsync=off``. initdb refuses
to run as root, so under root the cluster runs as ``nobody`` through ``runuser`` (or ``setpriv``), owning its tmp
folder. Each test gets its own database, dropped afterwards. Missing binaries FAIL the tests: CI must not skip.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from bench.postgres_cluster import UNPRIVILEGED_USER, as_unprivileged, free_port, server_bindir
from sqlalchemy import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import MigratedSqlite

from salesbridge.store.database import create_engine_for, create_session_factory, migrate
from salesbridge.store.secrets import CredentialCipher, generate_key


@dataclass(frozen=True)
class PostgresCluster:
    """A running throwaway cluster; ``superuser`` connects without a password over 127.0.0.1:``port``."""

    port: int
    superuser: str = "postgres"

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this cluster (psycopg 3)."""
        return f"postgresql+psycopg://{self.superuser}@127.0.0.1:{self.port}/{database}"

    def execute_autocommit(self, sql: str) -> None:
        """Run one statement in the ``postgres`` database outside a transaction (CREATE/DROP DATABASE)."""
        dsn = f"host=127.0.0.1 port={self.port} user={self.superuser} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(sql.encode())  # test-only DDL with generated names


def _server_bindir() -> Path:
    try:
        return server_bindir()
    except RuntimeError as missing:
        pytest.fail(f"{missing} The store's tests must run on PostgreSQL, they are never skipped.", pytrace=False)


def _run_as_prefix() -> list[str]:
    """The command prefix that drops root to an unprivileged user (initdb refuses root); empty when not root."""
    try:
        return as_unprivileged()
    except RuntimeError as impossible:
        pytest.fail(str(impossible))


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    if result.returncode != 0:
        pytest.fail(f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}", pytrace=False)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Start a throwaway PostgreSQL cluster for the session; stop it and delete its files at the end."""
    bindir = _server_bindir()
    prefix = _run_as_prefix()
    # Not under pytest's tmp_path: that folder is private to root, and the cluster may run as another user.
    root = Path(tempfile.mkdtemp(prefix="salesbridge-pg-"))
    if prefix:
        account = pwd.getpwnam(UNPRIVILEGED_USER)
        os.chown(root, account.pw_uid, account.pw_gid)
    data = root / "data"
    port = free_port()
    _run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
        "initdb",
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c full_page_writes=off"
    start = [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-o", options]
    try:
        _run([*start, "start"], f"pg_ctl start (log: {root / 'server.log'})")
        yield PostgresCluster(port=port)
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            check=False,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file under ``tmp_path``, or a fresh database on the session's cluster."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    name = f"store_{uuid.uuid4().hex[:12]}"
    cluster.execute_autocommit(f'CREATE DATABASE "{name}"')
    yield cluster.url(name)
    with contextlib.suppress(psycopg.Error):
        cluster.execute_autocommit(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_templates() -> dict[str, str]:
    """Per database kind, the database :func:`migrated_url` copies, migrated once in the session on first use."""
    return {}


MigratedPostgres = Callable[[str], str]
"""Creates the named database on the session's cluster as a copy of a migrated one and returns its URL."""


@pytest.fixture(scope="session")
def migrated_postgres(postgres_cluster: PostgresCluster, migrated_templates: dict[str, str]) -> MigratedPostgres:
    """``url = migrated_postgres(name)``: database ``name`` with every migration applied, created with ``CREATE
    DATABASE … TEMPLATE`` from a database migrated once in the session (a fraction of a second, where migrating
    takes seconds). The test drops it when done, as it would a database it migrated itself."""

    def create(name: str) -> str:
        if "postgresql" not in migrated_templates:
            template_name = f"template_{uuid.uuid4().hex[:12]}"
            postgres_cluster.execute_autocommit(f'CREATE DATABASE "{template_name}"')
            migrate(postgres_cluster.url(template_name))  # disposes its engine: nobody is on the template when copied
            migrated_templates["postgresql"] = template_name
        postgres_cluster.execute_autocommit(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_templates["postgresql"]}"')
        return postgres_cluster.url(name)

    return create


@pytest.fixture
def migrated_url(
    database_url: str,
    migrated_templates: dict[str, str],
    request: pytest.FixtureRequest,
) -> str:
    """``database_url`` with every migration applied: a copy of a database migrated once in the session (SQLite:
    the file; PostgreSQL: ``CREATE DATABASE … TEMPLATE``). Migrating each of some 450 stores took a minute or two
    of every run; the migrations themselves run from an empty database in ``store/test_store_migrations.py``."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        migrated_sqlite: MigratedSqlite = request.getfixturevalue("migrated_sqlite")
        migrated_sqlite(Path(str(url.database)))
        return database_url
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    create: MigratedPostgres = request.getfixturevalue("migrated_postgres")
    cluster.execute_autocommit(f'DROP DATABASE "{url.database}"')
    create(str(url.database))
    return database_url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    """An engine on the migrated database, disposed after the test."""
    engine = create_engine_for(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on the migrated database."""
    return create_session_factory(engine)


@pytest.fixture
def cipher() -> CredentialCipher:
    """A cipher with a fresh random key."""
    return CredentialCipher(generate_key())
