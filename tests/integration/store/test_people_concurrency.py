"""Two loads of the same people at the same moment, on SQLite and PostgreSQL: neither fails nor duplicates anyone.

On PostgreSQL the second insert of an external id waits for the first transaction and then violates the unique
key: the store turns that into :class:`ConcurrentWriteError` (never a raw database error) and the loader runs the
batch again, which then updates what the first load wrote. SQLite serialises writers, so the second load simply
waits and reads the first one's rows.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from salesbridge.domain.csv_rows import read_people_csv
from salesbridge.domain.people import Person
from salesbridge.errors import ConcurrentWriteError
from salesbridge.services.connecting import create_organization
from salesbridge.services.people_load import LoadReport, load_people
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.uow import UnitOfWorkFactory

PEOPLE = b"id,first_name,last_name,title\np1,Ana,Ruiz,CTO\np2,Bea,Gil,CFO\n"


@pytest.fixture
def store(session_factory: sessionmaker[Session], cipher: CredentialCipher) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(session_factory, cipher=cipher)


def _wait_until_a_writer_waits(engine: Engine) -> None:
    """Returns once another connection waits for a lock (PostgreSQL: an ungranted lock; SQLite has no such view,
    and there the waiting writer is on its busy timeout: a short pause lets it get there)."""
    if engine.dialect.name != "postgresql":
        time.sleep(0.3)
        return
    with engine.connect() as connection:
        for _ in range(500):
            if connection.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar():
                return
            time.sleep(0.01)
    raise AssertionError("the second load never waited for the first")


def test_a_load_racing_an_uncommitted_load_of_the_same_ids_ends_with_one_row_each(
    store: UnitOfWorkFactory, engine: Engine
) -> None:
    organization_id = create_organization(store, slug="acme", seats=1)
    started = threading.Event()

    with ThreadPoolExecutor(max_workers=1) as pool, store(organization_id) as first:
        first.people.upsert_many([Person(external_id="p1", first_name="Ana", last_name="Ruiz", headline="CEO")])

        def second_load() -> LoadReport:
            started.set()
            return load_people(store, "acme", read_people_csv(PEOPLE), actor="cli")

        racing = pool.submit(second_load)
        started.wait()
        _wait_until_a_writer_waits(engine)
        first.commit()
        report = racing.result(timeout=60)

    assert report.problems == ()
    assert report.loaded == 2
    with store(organization_id, read_only=True) as uow:
        assert uow.people.count() == 2
        stored = uow.people.get_by_external_id("p1")
        assert stored is not None
        assert stored.headline == "CTO", "the later load's values win"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite serialises writers: no clash
def test_the_store_reports_a_clashing_insert_as_a_concurrent_write_on_postgresql(
    store: UnitOfWorkFactory, engine: Engine
) -> None:
    organization_id = create_organization(store, slug="acme", seats=1)
    ana = Person(external_id="p1", first_name="Ana", last_name="Ruiz")

    with ThreadPoolExecutor(max_workers=1) as pool, store(organization_id) as first, store(organization_id) as second:
        first.people.upsert_many([ana])
        racing = pool.submit(second.people.upsert_many, [ana])
        _wait_until_a_writer_waits(engine)
        first.commit()
        with pytest.raises(ConcurrentWriteError):
            racing.result(timeout=60)
