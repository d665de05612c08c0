"""Writeback's store on SQLite and PostgreSQL: settings, activities and their outbox entries, and the drainers'
claim — two drainers at once never take the same entry."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from tests.fakes.store import FakeClock

from salesbridge.domain.writeback import (
    ALL_ITEMS,
    ActivityDraft,
    DataItem,
    DeliveryState,
    Direction,
    FailureOutcome,
    Regarding,
    SeatHold,
    StatusCount,
    WritebackSettings,
    crm_activity_id,
)
from salesbridge.errors import ActivityChangedError, RowNotFoundError
from salesbridge.services.connecting import create_organization
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.uow import UnitOfWorkFactory

ANA = uuid.UUID("00000000-0000-0000-0000-00000000a0a0")
BEA = uuid.UUID("00000000-0000-0000-0000-00000000beab")
PERSON = uuid.UUID("00000000-0000-0000-0000-000000000001")
LEASE = timedelta(minutes=5)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 12, 5, 9, 0, tzinfo=UTC))


@pytest.fixture
def store(session_factory: sessionmaker[Session], cipher: CredentialCipher, clock: FakeClock) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(session_factory, cipher=cipher, clock=clock)


@pytest.fixture
def acme(store: UnitOfWorkFactory) -> uuid.UUID:
    return create_organization(store, slug="acme", seats=2)


def _draft(client_id: str, *, item: DataItem = DataItem.NOTE, at: datetime | None = None) -> ActivityDraft:
    return ActivityDraft(
        client_id=client_id,
        item=item,
        person_id=PERSON,
        company_id=None,
        subject=None,
        body=f"Body of {client_id}\nsecond line",
        direction=Direction.OUTGOING,
        occurred_at=at or datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
    )


def _add(
    store: UnitOfWorkFactory,
    organization_id: uuid.UUID,
    *client_ids: str,
    state: DeliveryState = DeliveryState.QUEUED,
    author: uuid.UUID = ANA,
) -> list[uuid.UUID]:
    with store(organization_id) as uow:
        ids = [uow.activities.add(author, _draft(c), state=state, hold=None)[0].id for c in client_ids]
        uow.commit()
    return ids


def test_settings_default_to_off_with_every_item_and_are_replaced(store: UnitOfWorkFactory, acme: uuid.UUID) -> None:
    with store(acme, read_only=True) as uow:
        assert uow.writeback_settings.get() == WritebackSettings(enabled=False, items=ALL_ITEMS)
    chosen = WritebackSettings(enabled=True, items=frozenset({DataItem.NOTE, DataItem.INMAIL}))
    for _ in range(2):  # idempotent
        with store(acme) as uow:
            uow.writeback_settings.set(chosen, actor="admin@acme.test")
            uow.commit()
    with store(acme, read_only=True) as uow:
        assert uow.writeback_settings.get() == chosen
    other = create_organization(store, slug="other")
    with store(other, read_only=True) as uow:
        assert uow.writeback_settings.get() == WritebackSettings()


def test_an_activity_is_stored_once_per_author_and_client_id(store: UnitOfWorkFactory, acme: uuid.UUID) -> None:
    with store(acme) as uow:
        first, created = uow.activities.add(ANA, _draft("c-1"), state=DeliveryState.QUEUED, hold=None)
        again, created_again = uow.activities.add(ANA, _draft("c-1"), state=DeliveryState.QUEUED, hold=None)
        beas, beas_created = uow.activities.add(BEA, _draft("c-1"), state=DeliveryState.QUEUED, hold=None)
        uow.commit()
    assert (created, created_again, beas_created) == (True, False, True)
    assert again == first
    assert beas.id != first.id
    assert first.version == 1
    assert first.delivery.state is DeliveryState.QUEUED
    assert first.delivery.crm_table == "annotation"
    assert first.delivery.crm_id == crm_activity_id(acme, first.id)
    with store(acme, read_only=True) as uow:
        assert uow.activities.get(first.id) == first
        assert uow.activities.find_by_client_id(ANA, "c-1") == first
        assert uow.activities.find_by_client_id(ANA, "c-2") is None


def test_another_organization_sees_none_of_the_activities(store: UnitOfWorkFactory, acme: uuid.UUID) -> None:
    (activity_id,) = _add(store, acme, "c-1")
    other = create_organization(store, slug="other")
    with store(other) as uow:
        with pytest.raises(RowNotFoundError):
            uow.activities.get(activity_id)
        with pytest.raises(RowNotFoundError):
            uow.activities.edit(activity_id, subject=None, body="x", expected_version=None)
        assert uow.activities.find_by_client_id(ANA, "c-1") is None
        assert uow.activities.search() == []
        assert uow.activities.claim(now=datetime(2027, 1, 1, tzinfo=UTC), lease=LEASE, limit=10) == []
        assert uow.activities.requeue(states=list(DeliveryState)) == 0
        assert uow.activities.status() == []


def test_search_filters_and_orders_newest_first(store: UnitOfWorkFactory, acme: uuid.UUID) -> None:
    company = uuid.uuid4()
    with store(acme) as uow:
        older = uow.activities.add(
            ANA, _draft("a", at=datetime(2026, 11, 1, tzinfo=UTC)), state=DeliveryState.QUEUED, hold=None
        )[0]
        newer = uow.activities.add(
            BEA, _draft("b", at=datetime(2026, 11, 2, tzinfo=UTC)), state=DeliveryState.PARKED, hold=None
        )[0]
        on_company = ActivityDraft(
            client_id="c",
            item=DataItem.CALL,
            person_id=None,
            company_id=company,
            subject="Call",
            body="Called",
            direction=Direction.INCOMING,
            occurred_at=datetime(2026, 11, 3, tzinfo=UTC),
        )
        called = uow.activities.add(ANA, on_company, state=DeliveryState.NOT_WRITTEN_BACK, hold=None)[0]
        uow.commit()
    with store(acme, read_only=True) as uow:
        assert [a.id for a in uow.activities.search()] == [called.id, newer.id, older.id]
        assert [a.id for a in uow.activities.search(person_id=PERSON)] == [newer.id, older.id]
        assert [a.id for a in uow.activities.search(company_id=company)] == [called.id]
        assert [a.id for a in uow.activities.search(author_user_id=ANA)] == [called.id, older.id]
        assert [a.id for a in uow.activities.search(states=[DeliveryState.PARKED])] == [newer.id]
        assert [a.id for a in uow.activities.search(limit=1, offset=1)] == [newer.id]


def test_claim_takes_due_entries_oldest_first_and_leases_them(
    store: UnitOfWorkFactory, acme: uuid.UUID, clock: FakeClock
) -> None:
    first, second = _add(store, acme, "q-1", "q-2")
    clock.advance(timedelta(seconds=1))
    (third,) = _add(store, acme, "q-3")
    _add(store, acme, "parked", state=DeliveryState.PARKED)
    _add(store, acme, "waiting", state=DeliveryState.WAITING_FOR_MATCH)
    with store(acme) as uow:
        claimed = uow.activities.claim(now=clock(), lease=LEASE, limit=2)
        uow.commit()
    assert [a.id for a in claimed] == sorted([first, second])
    with store(acme) as uow:
        assert [a.id for a in uow.activities.claim(now=clock(), lease=LEASE, limit=10)] == [third]
        assert uow.activities.claim(now=clock(), lease=LEASE, limit=10) == []  # every due one is leased
        uow.commit()
    clock.advance(LEASE)  # a drainer that died: its leases expire and the entries are taken again
    with store(acme) as uow:
        assert sorted(a.id for a in uow.activities.claim(now=clock(), lease=LEASE, limit=10)) == sorted(
            [first, second, third]
        )


def test_a_failing_entry_is_claimed_again_only_when_its_next_attempt_is_due(
    store: UnitOfWorkFactory, acme: uuid.UUID, clock: FakeClock
) -> None:
    (activity_id,) = _add(store, acme, "f")
    retry_at = clock() + timedelta(seconds=30)
    with store(acme) as uow:
        uow.activities.claim(now=clock(), lease=LEASE, limit=10)
        outcome = FailureOutcome(DeliveryState.FAILING, retry_at)
        uow.activities.mark_failed(activity_id, outcome=outcome, error_code="0x80072322", error_message="Throttled")
        uow.commit()
    with store(acme) as uow:
        assert uow.activities.claim(now=retry_at - timedelta(seconds=1), lease=LEASE, limit=10) == []
        (again,) = uow.activities.claim(now=retry_at, lease=LEASE, limit=10)
        uow.activities.mark_failed(
            activity_id, outcome=FailureOutcome(DeliveryState.PARKED, None), error_code="x" * 80, error_message="No"
        )
        uow.commit()
    assert again.delivery.attempts == 1
    assert (again.delivery.error_code, again.delivery.error_message) == ("0x80072322", "Throttled")
    with store(acme) as uow:
        parked = uow.activities.get(activity_id)
        assert parked.delivery.state is DeliveryState.PARKED
        assert parked.delivery.attempts == 2
        assert parked.delivery.error_code == "x" * 64
        assert uow.activities.claim(now=retry_at + timedelta(days=1), lease=LEASE, limit=10) == []


def test_two_drainers_claiming_at_once_take_disjoint_entries(
    store: UnitOfWorkFactory, acme: uuid.UUID, clock: FakeClock, engine: Engine
) -> None:
    ids = _add(store, acme, *(f"c-{n}" for n in range(5)))
    with ThreadPoolExecutor(max_workers=1) as pool, store(acme) as first:
        taken_first = first.activities.claim(now=clock(), lease=LEASE, limit=3)
        assert len(taken_first) == 3

        def second_drainer() -> list[uuid.UUID]:
            with store(acme) as second:
                taken = second.activities.claim(now=clock(), lease=LEASE, limit=5)
                second.commit()
            return [a.id for a in taken]

        racing = pool.submit(second_drainer)
        if engine.dialect.name == "postgresql":
            # SKIP LOCKED: the second claim neither waits for the first transaction nor takes its rows.
            taken_second = racing.result(timeout=60)
            first.commit()
        else:
            # SQLite's single writer: the second claim runs once the first committed its leases.
            first.commit()
            taken_second = racing.result(timeout=60)
    taken = [a.id for a in taken_first]
    assert set(taken).isdisjoint(taken_second)
    assert sorted([*taken, *taken_second]) == sorted(ids)


def test_a_delivery_is_recorded_and_an_edit_made_meanwhile_goes_out_again(
    store: UnitOfWorkFactory, acme: uuid.UUID, clock: FakeClock
) -> None:
    plain, edited = _add(store, acme, "plain", "edited")
    contact = Regarding(table="contact", crm_id="0b5c9d1e-0000-0000-0000-000000000001")
    with store(acme) as uow:
        claimed = {a.id: a for a in uow.activities.claim(now=clock(), lease=LEASE, limit=10)}
        uow.commit()
    with store(acme) as uow:  # a seller edits while the drainer delivers version 1
        uow.activities.edit(edited, subject="New subject", body="New body", expected_version=1)
        uow.commit()
    clock.advance(timedelta(seconds=2))
    with store(acme) as uow:
        uow.activities.mark_delivered(
            {plain: (claimed[plain].version, contact), edited: (claimed[edited].version, contact)}, now=clock()
        )
        uow.commit()
    with store(acme, read_only=True) as uow:
        done = uow.activities.get(plain)
        again = uow.activities.get(edited)
    assert done.delivery.state is DeliveryState.DELIVERED
    assert (done.delivery.regarding, done.delivery.delivered_version, done.delivery.delivered_at) == (
        contact,
        1,
        clock(),
    )
    assert again.delivery.state is DeliveryState.QUEUED
    assert (again.version, again.delivery.delivered_version, again.subject) == (2, 1, "New subject")
    with store(acme) as uow:  # the edit of a delivered activity goes out again
        assert [a.id for a in uow.activities.claim(now=clock(), lease=LEASE, limit=10)] == [edited]
        uow.activities.edit(plain, subject=None, body="Changed", expected_version=None)
        assert uow.activities.get(plain).delivery.state is DeliveryState.QUEUED
        uow.commit()


def test_an_edit_from_a_stale_version_is_refused(store: UnitOfWorkFactory, acme: uuid.UUID) -> None:
    (activity_id,) = _add(store, acme, "e")
    with store(acme) as uow:
        uow.activities.edit(activity_id, subject=None, body="First edit", expected_version=1)
        uow.commit()
    with store(acme) as uow, pytest.raises(ActivityChangedError) as refused:
        uow.activities.edit(activity_id, subject=None, body="Stale edit", expected_version=1)
    assert refused.value.version == 2
    with store(acme, read_only=True) as uow:
        assert uow.activities.get(activity_id).body == "First edit"


def test_waiting_entries_are_recorded_and_requeued(store: UnitOfWorkFactory, acme: uuid.UUID, clock: FakeClock) -> None:
    match, seat = _add(store, acme, "match", "seat")
    with store(acme) as uow:
        uow.activities.claim(now=clock(), lease=LEASE, limit=10)
        uow.activities.mark_waiting(match, state=DeliveryState.WAITING_FOR_MATCH, hold=None)
        uow.activities.mark_waiting(seat, state=DeliveryState.WAITING_FOR_SEAT, hold=SeatHold.CRM_SYNC_OFF)
        uow.commit()
    with store(acme) as uow:
        assert uow.activities.get(seat).delivery.hold is SeatHold.CRM_SYNC_OFF
        assert uow.activities.claim(now=clock(), lease=LEASE, limit=10) == []
        assert uow.activities.requeue(states=[DeliveryState.WAITING_FOR_MATCH]) == 1
        uow.commit()
    with store(acme) as uow:
        # mark_waiting cleared the lease: the requeued entry is due at once.
        assert [a.id for a in uow.activities.claim(now=clock(), lease=LEASE, limit=10)] == [match]


def test_a_backfill_requeues_the_kept_activities_since_a_date_and_a_retry_those_named(
    store: UnitOfWorkFactory, acme: uuid.UUID
) -> None:
    with store(acme) as uow:
        kept = DeliveryState.NOT_WRITTEN_BACK
        old = uow.activities.add(ANA, _draft("old", at=datetime(2026, 1, 1, tzinfo=UTC)), state=kept, hold=None)[0]
        new = uow.activities.add(ANA, _draft("new", at=datetime(2026, 6, 1, tzinfo=UTC)), state=kept, hold=None)[0]
        parked = [uow.activities.add(ANA, _draft(f"p{n}"), state=DeliveryState.PARKED, hold=None)[0] for n in range(2)]
        uow.commit()
    with store(acme) as uow:
        since = datetime(2026, 6, 1, tzinfo=UTC)
        assert uow.activities.requeue(states=[DeliveryState.NOT_WRITTEN_BACK], since=since) == 1
        assert uow.activities.requeue(states=[DeliveryState.PARKED], activity_ids=[parked[0].id]) == 1
        uow.commit()
    with store(acme, read_only=True) as uow:
        states = {a.id: a.delivery.state for a in uow.activities.search()}
    assert states == {
        old.id: DeliveryState.NOT_WRITTEN_BACK,
        new.id: DeliveryState.QUEUED,
        parked[0].id: DeliveryState.QUEUED,
        parked[1].id: DeliveryState.PARKED,
    }


def test_status_counts_per_item_author_state_and_hold(store: UnitOfWorkFactory, acme: uuid.UUID) -> None:
    with store(acme) as uow:
        for n in range(2):
            uow.activities.add(ANA, _draft(f"n{n}"), state=DeliveryState.QUEUED, hold=None)
        uow.activities.add(
            BEA, _draft("i", item=DataItem.INMAIL), state=DeliveryState.WAITING_FOR_SEAT, hold=SeatHold.NO_SEAT
        )
        uow.commit()
    with store(acme, read_only=True) as uow:
        counts = sorted(uow.activities.status(), key=lambda c: c.count)
    assert counts == [
        StatusCount(
            item=DataItem.INMAIL,
            author_user_id=BEA,
            state=DeliveryState.WAITING_FOR_SEAT,
            hold=SeatHold.NO_SEAT,
            count=1,
        ),
        StatusCount(item=DataItem.NOTE, author_user_id=ANA, state=DeliveryState.QUEUED, hold=None, count=2),
    ]
