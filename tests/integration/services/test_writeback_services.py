"""Capture and writeback administration on SQLite and PostgreSQL: an activity's first state (settings, the author's
seat), idempotent capture, edits (author or administrator, stale versions refused), status, retry and backfill;
turning writeback on needs the CRM-side app installed (a sandbox over TLS)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import cast

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.services.conftest import SANDBOX_TARGETS, RunningSandbox, _dynamics_session, _serve

from salesbridge.domain.crm_app import AppState
from salesbridge.domain.jobs import WRITE_BACK_ORGANIZATION
from salesbridge.domain.people import Person
from salesbridge.domain.seat_matching import MatchOutcome
from salesbridge.domain.workspace import CrmUserValues, SeatState
from salesbridge.domain.writeback import (
    CRM_APP_MISSING_CODE,
    ActivityDraft,
    DataItem,
    DeliveryState,
    Direction,
    FailureOutcome,
    Regarding,
    SeatHold,
    WritebackSettings,
    after_table_missing,
)
from salesbridge.errors import (
    ActivityChangedError,
    AdministratorRequiredError,
    ClientIdReusedError,
    CrmAppRequiredError,
    InvalidInputError,
    InvalidRequestError,
    RowNotFoundError,
    WritebackPrivilegesError,
)
from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.organization.foundation import SYSTEM_ADMINISTRATOR_ROLE_ID
from salesbridge.sandbox.organization.security import Depth
from salesbridge.services.activities import (
    delivery_reason,
    edit_activity,
    get_activity,
    list_activities,
    log_activity,
    seat_hold_of,
)
from salesbridge.services.connecting import connect_crm, create_organization
from salesbridge.services.crm_app import crm_app_status, install_crm_app
from salesbridge.services.ports import CrmAppSessionFactory
from salesbridge.services.sync_health import sync_health
from salesbridge.services.writeback import (
    MAX_PROBLEMS,
    backfill,
    retry_activities,
    set_writeback_settings,
    writeback_settings,
    writeback_status,
)
from salesbridge.store.jobs import JobEngine
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.uow import UnitOfWorkFactory, utc_now
from salesbridge.sync.writeback import seller_of

ON = WritebackSettings(enabled=True)
WHEN = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


class Workspace:
    """Organization ``acme`` with an administrator, two sellers and a person."""

    def __init__(self, store: UnitOfWorkFactory) -> None:
        self.store = store
        self.id = create_organization(store, slug="acme", seats=5)
        with store(self.id) as uow:
            self.admin = uow.users.add(email="admin@acme.test", display_name="Ada Admin", is_admin=True).id
            self.ana = uow.users.add(email="ana@acme.test", display_name="Ana Seller").id
            self.bea = uow.users.add(email="bea@acme.test", display_name="Bea Seller").id
            uow.people.upsert_many([Person(external_id="p1", first_name="Pat", last_name="Lee")])
            person = uow.people.get_by_external_id("p1")
            assert person is not None
            assert person.id is not None
            self.person = person.id
            uow.commit()

    def settings(self, settings: WritebackSettings) -> None:
        with self.store(self.id) as uow:
            uow.writeback_settings.set(settings, actor="test")
            uow.commit()

    def seat(
        self,
        user_id: uuid.UUID,
        *,
        crm_sync: bool = True,
        crm_user: str | None = "ana",
        disabled: bool = False,
        state: SeatState = SeatState.ACTIVE,
    ) -> None:
        """Give ``user_id`` a seat (active unless ``state``) matched to CRM user ``crm_user`` (None: not matched)."""
        with self.store(self.id) as uow:
            seat = uow.seats.add(user_id=user_id, state=state, assigned_by="test", crm_sync_enabled=crm_sync)
            if crm_user is not None:
                crm_id = str(uuid.uuid5(uuid.NAMESPACE_URL, crm_user))
                uow.crm_users.replace_all(
                    [
                        CrmUserValues(
                            crm_id=crm_id,
                            full_name=crm_user,
                            email=None,
                            entra_object_id=None,
                            is_disabled=disabled,
                            is_application=False,
                            access_mode=0,
                        )
                    ]
                )
                found = uow.crm_users.find_by_crm_id(crm_id)
                assert found is not None
                uow.seats.set_matches({seat.id: (MatchOutcome.EMAIL, found.id)})
            uow.commit()

    def draft(self, client_id: str = "c-1", *, item: DataItem = DataItem.NOTE, at: datetime = WHEN) -> ActivityDraft:
        return ActivityDraft(
            client_id=client_id,
            item=item,
            person_id=self.person,
            company_id=None,
            subject=None,
            body="Talked about the renewal",
            direction=Direction.OUTGOING,
            occurred_at=at,
        )


@pytest.fixture
def acme(store: UnitOfWorkFactory) -> Workspace:
    return Workspace(store)


def test_with_writeback_off_an_activity_is_kept_in_the_workspace_once(acme: Workspace) -> None:
    first, created = log_activity(acme.store, acme.id, acme.ana, acme.draft(), clock=utc_now)
    again, created_again = log_activity(acme.store, acme.id, acme.ana, acme.draft(), clock=utc_now)
    assert (created, created_again) == (True, False)
    assert again == first
    assert first.delivery.state is DeliveryState.NOT_WRITTEN_BACK
    assert delivery_reason(first.delivery).message.startswith("Kept in the workspace")
    assert list_activities(acme.store, acme.id, person_id=acme.person) == [first]
    assert get_activity(acme.store, acme.id, first.id) == first


def test_an_item_not_chosen_is_kept_and_a_chosen_one_from_a_writing_seat_is_queued(acme: Workspace) -> None:
    acme.settings(WritebackSettings(enabled=True, items=frozenset({DataItem.NOTE})))
    acme.seat(acme.ana)
    inmail, _ = log_activity(acme.store, acme.id, acme.ana, acme.draft("i", item=DataItem.INMAIL), clock=utc_now)
    note, _ = log_activity(acme.store, acme.id, acme.ana, acme.draft("n"), clock=utc_now)
    assert inmail.delivery.state is DeliveryState.NOT_WRITTEN_BACK
    assert note.delivery.state is DeliveryState.QUEUED
    assert note.delivery.hold is None


@pytest.mark.parametrize(
    ("seat", "hold"),
    [
        (None, SeatHold.NO_SEAT),
        ({"crm_sync": False}, SeatHold.CRM_SYNC_OFF),
        ({"crm_user": None}, SeatHold.NO_CRM_USER),
        ({"disabled": True}, SeatHold.CRM_USER_DISABLED),
    ],
)
def test_a_seat_that_may_not_write_back_holds_the_activity_saying_why(
    acme: Workspace, seat: dict[str, object] | None, hold: SeatHold
) -> None:
    acme.settings(ON)
    with acme.store(acme.id) as uow:
        uow.organization.set_crm_sync_all_seats(False)  # each seat's own switch decides
        uow.commit()
    if seat is not None:
        acme.seat(acme.ana, **seat)  # type: ignore[arg-type]
    activity, _ = log_activity(acme.store, acme.id, acme.ana, acme.draft(), clock=utc_now)
    assert (activity.delivery.state, activity.delivery.hold) == (DeliveryState.WAITING_FOR_SEAT, hold)
    with acme.store(acme.id, read_only=True) as uow:
        assert seat_hold_of(uow, acme.ana) is hold


def test_the_organizations_all_seats_switch_turns_crm_sync_on_for_every_seat(acme: Workspace) -> None:
    acme.seat(acme.ana, crm_sync=False)
    with acme.store(acme.id, read_only=True) as uow:
        assert uow.organization.get().crm_sync_all_seats
        assert seat_hold_of(uow, acme.ana) is None


@pytest.mark.parametrize("all_seats", [False, True])
@pytest.mark.parametrize(
    ("seat", "hold"),
    [
        (None, SeatHold.NO_SEAT),
        ({"state": SeatState.INVITED}, SeatHold.SEAT_INACTIVE),
        ({"crm_sync": False}, SeatHold.CRM_SYNC_OFF),
        ({"crm_user": None}, SeatHold.NO_CRM_USER),
        ({"disabled": True}, SeatHold.CRM_USER_DISABLED),
        ({}, None),
    ],
)
def test_capture_and_the_drainer_decide_a_sellers_standing_alike(
    acme: Workspace, seat: dict[str, object] | None, hold: SeatHold | None, all_seats: bool
) -> None:
    """One decision for the state an activity is captured in and for the drain: what holds it at capture holds it
    at delivery, and only a seller who may write back is written as their CRM user."""
    with acme.store(acme.id) as uow:
        uow.organization.set_crm_sync_all_seats(all_seats)
        uow.commit()
    if seat is not None:
        acme.seat(acme.ana, **seat)  # type: ignore[arg-type]
    expected = None if all_seats and hold is SeatHold.CRM_SYNC_OFF else hold
    with acme.store(acme.id, read_only=True) as uow:
        seller = seller_of(uow, acme.ana)
        assert seat_hold_of(uow, acme.ana) is seller.hold is expected
    assert seller.systemuser_id == (str(uuid.uuid5(uuid.NAMESPACE_URL, "ana")) if expected is None else None)


def test_an_activity_on_a_person_or_company_of_another_organization_is_refused(acme: Workspace) -> None:
    other = create_organization(acme.store, slug="other")
    with acme.store(other) as uow:
        uow.people.upsert_many([Person(external_id="x", first_name="Xe", last_name="Other")])
        theirs = uow.people.get_by_external_id("x")
        uow.commit()
    assert theirs is not None
    assert theirs.id is not None
    draft = ActivityDraft(
        client_id="c",
        item=DataItem.NOTE,
        person_id=theirs.id,
        company_id=None,
        subject=None,
        body="x",
        direction=Direction.OUTGOING,
        occurred_at=WHEN,
    )
    with pytest.raises(RowNotFoundError):
        log_activity(acme.store, acme.id, acme.ana, draft, clock=utc_now)
    company_draft = ActivityDraft(
        client_id="d",
        item=DataItem.CALL,
        person_id=None,
        company_id=uuid.uuid4(),
        subject=None,
        body="x",
        direction=Direction.OUTGOING,
        occurred_at=WHEN,
    )
    with pytest.raises(RowNotFoundError):
        log_activity(acme.store, acme.id, acme.ana, company_draft, clock=utc_now)
    assert list_activities(acme.store, acme.id) == []


def test_the_same_client_id_sent_twice_at_once_stores_one_activity(acme: Workspace) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(
            pool.map(lambda _: log_activity(acme.store, acme.id, acme.ana, acme.draft(), clock=utc_now), range(2))
        )
    assert sorted(created for _, created in results) == [False, True]
    assert results[0][0].id == results[1][0].id
    assert len(list_activities(acme.store, acme.id)) == 1


def test_a_client_id_used_again_for_another_activity_is_refused_and_a_retry_after_an_edit_is_not(
    acme: Workspace,
) -> None:
    """Found by QA: a client reusing its ids (one counter per person page) got the other person's activity back
    with 200 and its new one was lost."""
    first, _ = log_activity(acme.store, acme.id, acme.ana, acme.draft("local-1"), clock=utc_now)
    for other in (
        acme.draft("local-1", item=DataItem.CALL),
        acme.draft("local-1", at=WHEN + timedelta(minutes=1)),
        dataclasses.replace(acme.draft("local-1"), person_id=None, company_id=uuid.uuid4()),
        dataclasses.replace(acme.draft("local-1"), direction=Direction.INCOMING),
    ):
        with pytest.raises(ClientIdReusedError) as reused:
            log_activity(acme.store, acme.id, acme.ana, other, clock=utc_now)
        assert reused.value.activity_id == first.id
    edit_activity(acme.store, acme.id, acme.ana, first.id, subject="Edited", body="Edited", expected_version=1)
    same_instant = dataclasses.replace(acme.draft("local-1"), occurred_at=WHEN.astimezone(timezone(timedelta(hours=2))))
    again, created = log_activity(acme.store, acme.id, acme.ana, same_instant, clock=utc_now)
    assert (again.id, created, again.body) == (first.id, False, "Edited")
    assert len(list_activities(acme.store, acme.id)) == 1


def test_its_author_or_an_administrator_edits_an_activity_and_a_delivered_one_goes_out_again(acme: Workspace) -> None:
    activity, _ = log_activity(acme.store, acme.id, acme.ana, acme.draft(), clock=utc_now)
    with pytest.raises(AdministratorRequiredError):
        edit_activity(acme.store, acme.id, acme.bea, activity.id, subject=None, body="Bea's", expected_version=1)
    edited = edit_activity(
        acme.store, acme.id, acme.ana, activity.id, subject="Renewal", body="New", expected_version=1
    )
    assert (edited.version, edited.subject, edited.body) == (2, "Renewal", "New")
    with pytest.raises(ActivityChangedError):
        edit_activity(acme.store, acme.id, acme.admin, activity.id, subject=None, body="Stale", expected_version=1)
    with pytest.raises(InvalidInputError) as refused:
        edit_activity(acme.store, acme.id, acme.admin, activity.id, subject=None, body="  ", expected_version=2)
    assert refused.value.field == "body"
    with acme.store(acme.id) as uow:  # the drainer delivered version 2
        uow.activities.mark_delivered({activity.id: (2, Regarding("contact", str(uuid.uuid4())))}, now=utc_now())
        uow.commit()
    by_admin = edit_activity(
        acme.store, acme.id, acme.admin, activity.id, subject=None, body="Fixed", expected_version=None
    )
    assert (by_admin.version, by_admin.delivery.state) == (3, DeliveryState.QUEUED)
    with pytest.raises(RowNotFoundError):
        edit_activity(acme.store, acme.id, acme.admin, uuid.uuid4(), subject=None, body="x", expected_version=None)


def test_an_edit_sends_a_parked_activity_again_and_leaves_a_waiting_one_waiting(acme: Workspace) -> None:
    """Found by QA: a seller who shortened the text Dynamics refused still needed an administrator's retry."""
    acme.settings(ON)
    acme.seat(acme.ana)
    refused, _ = log_activity(acme.store, acme.id, acme.ana, acme.draft("refused"), clock=utc_now)
    held, _ = log_activity(acme.store, acme.id, acme.bea, acme.draft("held"), clock=utc_now)  # Bea has no seat
    with acme.store(acme.id) as uow:
        for attempt in range(3):
            outcome = FailureOutcome(DeliveryState.PARKED if attempt == 2 else DeliveryState.FAILING, utc_now())
            uow.activities.mark_failed(refused.id, outcome=outcome, error_code="0x80044331", error_message="Too long")
        uow.commit()

    edited = edit_activity(acme.store, acme.id, acme.ana, refused.id, subject=None, body="Short", expected_version=1)
    still = edit_activity(acme.store, acme.id, acme.bea, held.id, subject=None, body="Still held", expected_version=1)

    assert (edited.delivery.state, edited.delivery.attempts) == (DeliveryState.QUEUED, 0)
    assert edited.delivery.next_attempt_at is not None
    assert (still.delivery.state, still.delivery.hold) == (DeliveryState.WAITING_FOR_SEAT, SeatHold.NO_SEAT)


def test_status_counts_per_state_item_and_seller_and_lists_the_failures(acme: Workspace) -> None:
    acme.settings(ON)
    acme.seat(acme.ana)
    queued, _ = log_activity(acme.store, acme.id, acme.ana, acme.draft("a"), clock=utc_now)
    log_activity(acme.store, acme.id, acme.ana, acme.draft("b", item=DataItem.INMAIL), clock=utc_now)
    log_activity(acme.store, acme.id, acme.bea, acme.draft("c"), clock=utc_now)  # Bea has no seat
    with acme.store(acme.id) as uow:
        uow.activities.mark_failed(
            queued.id,
            outcome=FailureOutcome(DeliveryState.PARKED, None),
            error_code="0x80040265",
            error_message="The subject is not valid.",
        )
        uow.commit()

    status = writeback_status(acme.store, acme.id)

    assert status.totals[DeliveryState.PARKED] == 1
    assert status.totals[DeliveryState.QUEUED] == 1
    assert status.totals[DeliveryState.WAITING_FOR_SEAT] == 1
    assert status.by_item[DataItem.INMAIL][DeliveryState.QUEUED] == 1
    assert [(s.name, s.states[DeliveryState.PARKED], dict(s.holds)) for s in status.by_seller] == [
        ("Ana Seller", 1, {}),
        ("Bea Seller", 0, {SeatHold.NO_SEAT: 1}),
    ]
    assert status.waiting == {"no_seat": 1}
    (problem,) = status.problems
    assert (problem.activity.id, problem.author_name) == (queued.id, "Ana Seller")
    as_json = status.to_json()
    assert as_json["problems"][0]["error_code"] == "0x80040265"
    assert as_json["problems"][0]["error_message"] == "The subject is not valid."
    assert as_json["settings"] == {"enabled": True, "items": "all"}
    assert as_json["totals"]["parked"] == 1


def test_the_crm_app_is_missing_however_many_newer_activities_fail_for_another_reason(acme: Workspace) -> None:
    """More failing and parked activities than the status lists (:data:`MAX_PROBLEMS`), all newer than the one
    waiting for the CRM app's tables: the status and sync health still say the app is missing (they read it off the
    newest 200 and said no); a parked activity that once met the app missing is no sign of it, and once the waiting
    one is delivered nothing says it."""
    acme.settings(ON)
    acme.seat(acme.ana)
    waiting = log_activity(acme.store, acme.id, acme.ana, acme.draft("w", item=DataItem.INMAIL), clock=utc_now)[0]
    drafts = [acme.draft(f"n{n}", at=WHEN + timedelta(minutes=n)) for n in range(MAX_PROBLEMS + 50)]
    newer = [log_activity(acme.store, acme.id, acme.ana, draft, clock=utc_now)[0].id for draft in drafts]
    with acme.store(acme.id) as uow:
        uow.activities.mark_failed(
            waiting.id,
            outcome=after_table_missing(now=utc_now()),
            error_code=CRM_APP_MISSING_CODE,
            error_message="gone",
        )
        for number, activity_id in enumerate(newer):
            outcome = (
                FailureOutcome(DeliveryState.PARKED, None)
                if number % 2
                else FailureOutcome(DeliveryState.FAILING, utc_now() + timedelta(minutes=1))
            )
            uow.activities.mark_failed(activity_id, outcome=outcome, error_code="0x80040216", error_message="busy")
        uow.commit()

    status = writeback_status(acme.store, acme.id)
    assert len(status.problems) == MAX_PROBLEMS
    assert waiting.id not in {problem.activity.id for problem in status.problems}, "beyond the listed ones"
    assert status.crm_app_missing
    assert status.to_json()["crm_app_missing"] is True
    assert sync_health(acme.store, acme.id).crm_app_missing

    with acme.store(acme.id) as uow:
        uow.activities.mark_delivered({waiting.id: (1, Regarding("contact", "c1"))}, now=utc_now())
        uow.activities.mark_failed(
            newer[0],
            outcome=FailureOutcome(DeliveryState.PARKED, None),
            error_code=CRM_APP_MISSING_CODE,
            error_message="gone",
        )
        uow.commit()
    assert not writeback_status(acme.store, acme.id).crm_app_missing
    assert not sync_health(acme.store, acme.id).crm_app_missing


def test_retry_queues_the_failing_and_parked_ones_and_is_audited(acme: Workspace) -> None:
    acme.settings(ON)
    acme.seat(acme.ana)
    ids = [log_activity(acme.store, acme.id, acme.ana, acme.draft(f"r{n}"), clock=utc_now)[0].id for n in range(3)]
    with acme.store(acme.id) as uow:
        parked = FailureOutcome(DeliveryState.PARKED, None)
        failing = FailureOutcome(DeliveryState.FAILING, utc_now() + timedelta(hours=1))
        uow.activities.mark_failed(ids[0], outcome=parked, error_code="E", error_message="refused")
        uow.activities.mark_failed(ids[1], outcome=failing, error_code="E", error_message="busy")
        uow.commit()
    assert retry_activities(acme.store, acme.id, [ids[0]], actor="admin@acme.test") == 1
    assert retry_activities(acme.store, acme.id) == 1  # the failing one; the queued one is no failure
    states = {a.id: a.delivery for a in list_activities(acme.store, acme.id)}
    assert {i: states[i].state for i in ids} == dict.fromkeys(ids, DeliveryState.QUEUED)
    assert states[ids[0]].attempts == 0
    with acme.store(acme.id, read_only=True) as uow:
        actions = [entry.action for entry in uow.audit.recent(limit=10)]
    assert actions.count("writeback.retried") == 2


def test_backfill_delivers_earlier_activity_of_the_items_written_back_since_a_date(acme: Workspace) -> None:
    old = log_activity(acme.store, acme.id, acme.ana, acme.draft("old", at=WHEN - timedelta(days=30)), clock=utc_now)[0]
    note = log_activity(acme.store, acme.id, acme.ana, acme.draft("note"), clock=utc_now)[0]
    call = log_activity(acme.store, acme.id, acme.ana, acme.draft("call", item=DataItem.CALL), clock=utc_now)[0]
    with pytest.raises(InvalidRequestError):
        backfill(acme.store, acme.id, since=WHEN - timedelta(days=1))
    acme.settings(WritebackSettings(enabled=True, items=frozenset({DataItem.NOTE})))

    assert backfill(acme.store, acme.id, since=WHEN - timedelta(days=1), actor="admin@acme.test") == 1

    states = {a.id: a.delivery.state for a in list_activities(acme.store, acme.id)}
    assert states == {
        old.id: DeliveryState.NOT_WRITTEN_BACK,
        note.id: DeliveryState.QUEUED,
        call.id: DeliveryState.NOT_WRITTEN_BACK,
    }


def test_backfill_including_delivered_writes_the_delivered_ones_again(acme: Workspace) -> None:
    """Found by QA: after the CRM-side app was removed and installed again (its tables' rows gone with it), nothing
    could write the delivered activities again."""
    acme.settings(WritebackSettings(enabled=True, items=frozenset({DataItem.INMAIL})))
    acme.seat(acme.ana)
    inmail = log_activity(acme.store, acme.id, acme.ana, acme.draft("i", item=DataItem.INMAIL), clock=utc_now)[0]
    early = log_activity(
        acme.store, acme.id, acme.ana, acme.draft("e", item=DataItem.INMAIL, at=WHEN - timedelta(days=9)), clock=utc_now
    )[0]
    note = log_activity(acme.store, acme.id, acme.ana, acme.draft("n"), clock=utc_now)[0]  # notes are not written
    with acme.store(acme.id) as uow:
        contact = Regarding("contact", str(uuid.uuid4()))
        uow.activities.mark_delivered({inmail.id: (1, contact), early.id: (1, contact)}, now=utc_now())
        uow.commit()
    since = WHEN - timedelta(days=1)

    assert backfill(acme.store, acme.id, since=since) == 0  # by default only what was kept in the workspace
    assert backfill(acme.store, acme.id, since=since, include_delivered=True, actor="admin@acme.test") == 1

    states = {a.id: a.delivery.state for a in list_activities(acme.store, acme.id)}
    assert states == {
        inmail.id: DeliveryState.QUEUED,
        early.id: DeliveryState.DELIVERED,
        note.id: DeliveryState.NOT_WRITTEN_BACK,
    }
    with acme.store(acme.id, read_only=True) as uow:
        (audited, *_) = [entry for entry in uow.audit.recent(limit=5) if entry.action == "writeback.backfill"]
    assert audited.details["include_delivered"] is True


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # procrastinate needs PostgreSQL
def test_a_queued_activity_defers_the_drain_in_its_own_transaction(
    session_factory: sessionmaker[Session], cipher: CredentialCipher
) -> None:
    store = UnitOfWorkFactory(session_factory, cipher=cipher, job_engine=JobEngine.PROCRASTINATE)
    acme = Workspace(store)
    log_activity(store, acme.id, acme.ana, acme.draft("kept"), clock=utc_now)  # writeback off: no drain
    with store(acme.id, read_only=True) as uow:
        assert [job.task for job in uow.jobs.list()] == []
    acme.settings(ON)
    acme.seat(acme.ana)
    log_activity(store, acme.id, acme.ana, acme.draft("queued"), clock=utc_now)
    log_activity(store, acme.id, acme.ana, acme.draft("queued-too"), clock=utc_now)
    with store(acme.id, read_only=True) as uow:
        assert [job.task for job in uow.jobs.list()] == [WRITE_BACK_ORGANIZATION]  # one waits at a time


# --------------------------------------------------------------------------- turning writeback on (the CRM app)


@pytest.fixture
def fresh(tmp_path: Path, sandbox_signing_key: rsa.RSAPrivateKey) -> Iterator[RunningSandbox]:
    """A sandbox of its own (installing changes its definitions)."""
    yield from _serve(build_sandbox(signing_key=sandbox_signing_key), tmp_path)


async def test_writeback_is_turned_on_only_once_the_crm_app_is_installed(
    store: UnitOfWorkFactory, fresh: RunningSandbox
) -> None:
    acme = Workspace(store)
    app_sessions = cast(CrmAppSessionFactory, _dynamics_session)
    with pytest.raises(InvalidRequestError):  # not connected: there is no app to ask about
        await set_writeback_settings(store, app_sessions, acme.id, ON, actor="admin@acme.test")
    outcome = await connect_crm(
        store, _dynamics_session, slug="acme", credentials=fresh.credentials(), targets=SANDBOX_TARGETS
    )
    assert outcome.is_connected
    assert (await crm_app_status(store, app_sessions, slug="acme")).state is AppState.MISSING

    with pytest.raises(CrmAppRequiredError) as refused:
        await set_writeback_settings(store, app_sessions, acme.id, ON, actor="admin@acme.test")
    assert refused.value.state == "missing"
    assert await asyncio.to_thread(writeback_settings, store, acme.id) == WritebackSettings()

    await install_crm_app(store, app_sessions, slug="acme")
    notes = WritebackSettings(enabled=True, items=frozenset({DataItem.NOTE, DataItem.INMAIL}))
    saved = await set_writeback_settings(store, app_sessions, acme.id, notes, actor="admin@acme.test")
    assert saved == notes
    off = await set_writeback_settings(store, app_sessions, acme.id, WritebackSettings(), actor="admin@acme.test")
    assert off == WritebackSettings()
    with store(acme.id, read_only=True) as uow:
        changes = [e.details for e in uow.audit.recent(limit=20) if e.action == "writeback.settings_changed"]
    assert {"enabled": True, "items": ["inmail", "note"], "before": {"enabled": False, "items": "all"}} in changes
    assert len(changes) == 2


async def test_writeback_is_not_turned_on_while_the_application_user_lacks_a_privilege_it_needs(
    store: UnitOfWorkFactory, fresh: RunningSandbox
) -> None:
    """Found by QA: with prvActOnBehalfOfAnotherUser taken from the application user's role after the install,
    writeback was turned on and every delivery was then refused and parked."""
    acme = Workspace(store)
    app_sessions = cast(CrmAppSessionFactory, _dynamics_session)
    await connect_crm(store, _dynamics_session, slug="acme", credentials=fresh.credentials(), targets=SANDBOX_TARGETS)
    await install_crm_app(store, app_sessions, slug="acme")
    state = fresh.sandbox.services.state
    with state.storage.transaction():
        state.security.revoke(SYSTEM_ADMINISTRATOR_ROLE_ID, ["prvActOnBehalfOfAnotherUser"])

    with pytest.raises(WritebackPrivilegesError) as refused:
        await set_writeback_settings(store, app_sessions, acme.id, ON, actor="admin@acme.test")

    assert refused.value.missing == ("prvActOnBehalfOfAnotherUser",)
    assert "prvActOnBehalfOfAnotherUser" in refused.value.localized("es")
    assert await asyncio.to_thread(writeback_settings, store, acme.id) == WritebackSettings()
    with state.storage.transaction():
        state.security.grant(SYSTEM_ADMINISTRATOR_ROLE_ID, {"prvActOnBehalfOfAnotherUser": Depth.GLOBAL})
    assert await set_writeback_settings(store, app_sessions, acme.id, ON, actor="admin@acme.test") == ON


def test_a_disconnect_with_the_purge_keeps_the_activities_and_the_writeback_settings(acme: Workspace) -> None:
    from salesbridge.services.disconnect import disconnect_crm

    acme.settings(ON)
    acme.seat(acme.ana)
    activity, _ = log_activity(acme.store, acme.id, acme.ana, acme.draft(), clock=utc_now)
    with acme.store(acme.id) as uow:
        uow.activities.mark_delivered({activity.id: (1, Regarding("contact", str(uuid.uuid4())))}, now=utc_now())
        uow.crm_connection.save_credentials(
            org_url="https://acme.crm.dynamics.com", tenant_id="t", client_id="c", client_secret=SecretStr("s")
        )
        uow.crm_connection.mark_connected(crm_user_id=str(uuid.uuid4()))
        uow.commit()

    disconnect_crm(acme.store, slug="acme", purge=True, actor="admin@acme.test")

    kept = get_activity(acme.store, acme.id, activity.id)
    assert (kept.body, kept.delivery.state) == (activity.body, DeliveryState.DELIVERED)
    assert writeback_settings(acme.store, acme.id) == ON
