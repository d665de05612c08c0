"""Imported records are upserted by id on SQLite and PostgreSQL alike (each has its own fast path): several pages
in one transaction, a changed row replaced, queryable copies and JSON kept as given."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from salesbridge.errors import StoreError
from salesbridge.store import create_engine_for, create_session_factory
from salesbridge.store.imports import RecordRow
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory


@pytest.fixture
def store(migrated_url: str) -> Iterator[UnitOfWorkFactory]:
    engine = create_engine_for(migrated_url)
    yield UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))
    engine.dispose()


def test_pages_upserted_in_one_transaction_keep_the_last_version_of_each_row(store: UnitOfWorkFactory) -> None:
    with store(uuid.uuid4()) as uow:
        organization_id = uow.organization.create(slug="acme", name="Acme", seats_purchased=1).id
        uow.commit()
    owner = {"id": "u1", "table": "systemuser"}
    first = [RecordRow(f"c{n}", f"Contact {n}", "u1", "a1", 0, {"ownerid": owner, "n": n}) for n in range(3)]
    second = [
        RecordRow("c2", "Contact 2, renamed", None, "a2", 1, {"n": 2.5, "note": "ünïcode \\u2028"}),
        RecordRow("c3", None, None, None, None, {}),
    ]
    with store(organization_id) as uow:
        assert uow.crm_records.upsert_many("contact", first, generation=1) == 3
        assert uow.crm_records.upsert_many("contact", second, generation=2) == 2
        uow.commit()

    with store(organization_id) as uow:
        rows = {row.crm_id: row for row in uow.crm_records.records("contact")}
    assert sorted(rows) == ["c0", "c1", "c2", "c3"]
    renamed = rows["c2"]
    assert (renamed.name, renamed.owner_id, renamed.parent_id, renamed.state_code) == (
        "Contact 2, renamed",
        None,
        "a2",
        1,
    )
    assert renamed.data == {"n": 2.5, "note": "ünïcode \\u2028"}
    assert renamed.generation == 2
    assert rows["c0"].data == {"ownerid": owner, "n": 0}
    assert rows["c0"].generation == 1
    assert rows["c3"].name is None
    assert rows["c3"].data == {}


def test_the_connect_queue_and_the_import_runs_share_one_queue_of_at_most_one_queued_run(
    store: UnitOfWorkFactory,
) -> None:
    with store(uuid.uuid4()) as uow:
        organization_id = uow.organization.create(slug="acme", name="Acme", seats_purchased=1).id
        uow.commit()
    with store(organization_id) as uow:
        initial = uow.import_requests.enqueue(reason="initial import after connect")
        assert uow.import_runs.enqueue(reason="sync now") == initial
        uow.commit()
    with store(organization_id) as uow:
        assert uow.import_runs.enqueue(reason="scheduled").id == initial.id
        assert [request.id for request in uow.import_runs.queued()] == [initial.id]
        assert uow.import_requests.queued()[0].reason == "initial import after connect"


def test_an_import_run_is_not_queued_for_an_organization_that_does_not_exist(store: UnitOfWorkFactory) -> None:
    with store(uuid.uuid4()) as uow, pytest.raises(StoreError, match="organization does not exist"):
        uow.import_runs.enqueue(reason="sync now")


def _organization(store: UnitOfWorkFactory, slug: str) -> uuid.UUID:
    with store(uuid.uuid4()) as uow:
        organization_id = uow.organization.create(slug=slug, name=slug.title(), seats_purchased=1).id
        uow.commit()
    return organization_id


AWKWARD = [
    RecordRow("c0", 'Zoë \\ O\'Brien\t"quoted"', "u1", "a1", 1, {"note": "tab\t, newline\n, \\N, ünïcode \u2028"}),
    RecordRow("c1", None, None, None, None, {}),
    RecordRow("c2", "x" * 400, None, "a2", 0, {"n": 2.5, "nested": {"list": [1, None, True]}, "empty": ""}),
]


def test_rows_known_to_be_new_are_stored_as_the_upsert_stores_them(store: UnitOfWorkFactory) -> None:
    copied, upserted = _organization(store, "copied"), _organization(store, "upserted")
    with store(copied) as uow:
        assert uow.crm_records.upsert_many("contact", AWKWARD, generation=3, new=True) == 3
        uow.commit()
    with store(upserted) as uow:
        assert uow.crm_records.upsert_many("contact", AWKWARD, generation=3) == 3
        uow.commit()

    def stored(organization_id: uuid.UUID) -> list[tuple[object, ...]]:
        with store(organization_id) as uow:
            return [
                (row.crm_id, row.name, row.owner_id, row.parent_id, row.state_code, row.data, row.generation)
                for row in uow.crm_records.records("contact")
            ]

    assert stored(copied) == stored(upserted)
    assert stored(copied)[0] == ("c0", *AWKWARD[0][1:], 3)
    with store(copied) as uow:
        record = uow.crm_records.get("contact", "c1")
    assert record is not None
    assert record.imported_at.tzinfo is not None


def test_rows_said_to_be_new_but_stored_fall_back_to_the_upsert_within_the_same_transaction(
    store: UnitOfWorkFactory,
) -> None:
    organization_id = _organization(store, "acme")
    with store(organization_id) as uow:
        uow.crm_records.upsert_many("contact", [RecordRow("c0", "Old name", None, None, 0, {"v": 0})], generation=1)
        uow.commit()

    with store(organization_id) as uow:
        # Work earlier in the transaction, then a page one of whose rows is stored after all.
        assert (
            uow.crm_records.upsert_many("account", [RecordRow("a1", "Contoso", None, None, 0, {})], generation=2) == 1
        )
        page = [RecordRow("c0", "New name", None, None, 1, {"v": 1}), RecordRow("c1", "Added", None, None, 0, {})]
        assert uow.crm_records.upsert_many("contact", page, generation=2, new=True) == 2
        assert uow.crm_records.count("contact") == 2, "the transaction is still usable"
        uow.commit()

    with store(organization_id) as uow:
        contacts = {row.crm_id: row for row in uow.crm_records.records("contact")}
        assert uow.crm_records.get("account", "a1") is not None, "earlier work of the transaction kept"
    assert sorted(contacts) == ["c0", "c1"]
    assert (contacts["c0"].name, contacts["c0"].state_code, contacts["c0"].data) == ("New name", 1, {"v": 1})
    assert {row.generation for row in contacts.values()} == {2}


def test_new_rows_are_rolled_back_with_their_transaction(store: UnitOfWorkFactory) -> None:
    organization_id = _organization(store, "acme")
    with store(organization_id) as uow:
        uow.crm_records.upsert_many("contact", AWKWARD, generation=1, new=True)
        uow.rollback()
    with store(organization_id) as uow:
        assert uow.crm_records.count("contact") == 0
        uow.crm_records.upsert_many("contact", AWKWARD, generation=1, new=True)
        uow.commit()
    with store(organization_id) as uow:
        assert uow.crm_records.count("contact") == 3
