"""Bulk writes on a SQLite store have their write-ahead log checkpointed in the background; PostgreSQL's do not
need it and nothing changes there."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from salesbridge.store import create_engine_for, create_session_factory
from salesbridge.store.imports import RecordRow
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory


@pytest.fixture
def store(migrated_url: str) -> Iterator[UnitOfWorkFactory]:
    engine = create_engine_for(migrated_url)
    yield UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))
    engine.dispose()


def _write_pages(store: UnitOfWorkFactory, organization_id: uuid.UUID, pages: int) -> None:
    for page in range(pages):
        rows = [RecordRow(f"c-{page}-{n:04d}", f"Contact {n}", None, None, 0, {"n": n}) for n in range(1_000)]
        with store(organization_id) as uow:
            uow.crm_records.upsert_many("contact", rows, generation=1)
            uow.commit()


def test_the_log_is_checkpointed_while_bulk_writes_run_on_sqlite(migrated_url: str, store: UnitOfWorkFactory) -> None:
    with store(uuid.uuid4()) as uow:
        organization_id = uow.organization.create(slug="acme", name="Acme", seats_purchased=1).id
        uow.commit()
    checkpointer = store.checkpointer
    if not migrated_url.startswith("sqlite"):
        assert checkpointer is None
        with store.bulk_writes():  # a no-op bracket
            _write_pages(store, organization_id, 1)
        return
    assert checkpointer is not None
    assert not checkpointer.is_running

    with store.bulk_writes():
        assert checkpointer.is_running
        with store.bulk_writes():  # a second import of the same process shares the thread
            _write_pages(store, organization_id, 3)
        assert checkpointer.is_running, "the outer import still writes"
        deadline = time.monotonic() + 10
        while checkpointer.frames_checkpointed == 0 and time.monotonic() < deadline:
            time.sleep(0.05)

    assert checkpointer.frames_checkpointed > 0, "the background thread copied the log into the database"
    assert not checkpointer.is_running
    with store(organization_id) as uow:
        assert uow.crm_records.count("contact") == 3_000
