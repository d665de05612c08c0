"""How the store's transactions start, on SQLite and PostgreSQL: units of work that may write take SQLite's write
lock up front (``BEGIN IMMEDIATE``) and wait for it; read-only ones neither wait for a writer nor write. And the
workspace's SQLite files are readable by their owner only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from salesbridge.errors import StoreError
from salesbridge.services.connecting import create_organization
from salesbridge.store.database import BUSY_TIMEOUT_MS, create_engine_for, migrate
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.uow import SqlAlchemyUnitOfWork, UnitOfWorkFactory


@pytest.fixture
def store(session_factory: sessionmaker[Session], cipher: CredentialCipher) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(session_factory, cipher=cipher)


def test_a_read_only_unit_of_work_cannot_write(store: UnitOfWorkFactory) -> None:
    organization_id = create_organization(store, slug="acme", seats=1)

    def add_a_user(uow: SqlAlchemyUnitOfWork) -> None:
        uow.users.add(email="ana@acme.test", display_name="Ana")
        uow.commit()

    with store(organization_id, read_only=True) as uow, pytest.raises((DBAPIError, StoreError)):
        add_a_user(uow)

    with store(organization_id) as uow:  # the pooled connection writes again for a unit of work that may
        add_a_user(uow)
    with store(organization_id, read_only=True) as uow:
        assert uow.users.count() == 1


def test_a_read_only_unit_of_work_reads_the_last_commit_while_a_writer_holds_its_transaction(
    store: UnitOfWorkFactory,
) -> None:
    organization_id = create_organization(store, slug="acme", seats=1)

    with store(organization_id) as writer:
        writer.users.add(email="ana@acme.test", display_name="Ana")  # on SQLite: holds the write lock from here
        with store(organization_id, read_only=True) as reader:
            assert reader.users.count() == 0, "read at once, without waiting for the writer"
        writer.commit()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a fresh SQLite file (what this test checks has no PostgreSQL counterpart: row locks there)."""
    engine = create_engine_for(f"sqlite:///{tmp_path / 'store.db'}")
    yield engine
    engine.dispose()


def test_writing_transactions_on_sqlite_take_the_write_lock_at_begin_and_wait_for_it(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as first, sqlite_engine.connect() as second:
        assert second.exec_driver_sql("PRAGMA busy_timeout").scalar() == BUSY_TIMEOUT_MS
        second.exec_driver_sql("PRAGMA busy_timeout=0")  # told not to wait, here
        second.rollback()
        first.begin()
        # The write lock is taken at BEGIN, before any read: nobody can commit between this transaction's reads
        # and its writes. A second writer cannot take it meanwhile.
        with pytest.raises(DBAPIError, match="database is locked"):
            second.begin()
        first.rollback()


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common umask (022), which leaves files a process creates readable by everyone."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("usual_umask")
def test_a_new_sqlite_store_and_its_write_ahead_log_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "store.db"
    url = f"sqlite:///{database}"
    migrate(url)
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:  # the log and the shared-memory index exist while a connection is open
            connection.begin()
            connection.execute(text("CREATE TABLE probe (x INTEGER)"))
            connection.commit()
            modes = {path.name: _mode(path) for path in sorted(tmp_path.glob("store.db*"))}
    finally:
        engine.dispose()

    assert modes == {"store.db": 0o600, "store.db-shm": 0o600, "store.db-wal": 0o600}


@pytest.mark.usefixtures("usual_umask")
def test_an_existing_sqlite_store_keeps_the_mode_its_operator_gave_it(tmp_path: Path) -> None:
    database = tmp_path / "store.db"
    database.touch(mode=0o640)
    database.chmod(0o640)

    migrate(f"sqlite:///{database}")

    assert _mode(database) == 0o640
