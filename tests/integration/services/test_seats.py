"""Seat management against the demo sandbox over TLS, on SQLite and PostgreSQL: CRM users imported on connect,
matching and its reasons, the sync switches, assigning seats from the CRM within the contract, and the audit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from tests.integration.off_loop import OffLoopStore
from tests.integration.services.conftest import SANDBOX_TARGETS, RunningSandbox

from salesbridge.domain.seat_matching import MatchOutcome
from salesbridge.errors import InvalidRequestError, RowNotFoundError, SeatLimitError
from salesbridge.services.accounts import AccountService, token_digest
from salesbridge.services.connecting import connect_crm, create_organization
from salesbridge.services.ports import CrmSessionFactory
from salesbridge.services.seats import SeatService
from salesbridge.store.tables import SeatState
from salesbridge.store.uow import UnitOfWorkFactory
from salesbridge.web.localized import seat_match

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


@pytest.fixture
def seats(store: UnitOfWorkFactory) -> SeatService:
    return SeatService(store, clock=lambda: NOW)


@pytest.fixture
async def acme(store: UnitOfWorkFactory, sessions: CrmSessionFactory, demo: RunningSandbox) -> str:
    create_organization(store, slug="acme", name="Acme", seats=5)
    outcome = await connect_crm(store, sessions, slug="acme", credentials=demo.credentials(), targets=SANDBOX_TARGETS)
    assert outcome.is_connected
    return "acme"


def audit_actions(store: UnitOfWorkFactory, slug: str) -> list[str]:
    organization_id = store.organization_id(slug)
    assert organization_id is not None
    with store(organization_id) as uow:
        return [entry.action for entry in uow.audit.recent(limit=200)]


async def test_only_enabled_people_are_offered_seats(seats: SeatService, acme: str, demo: RunningSandbox) -> None:
    offered = seats.assignable_crm_users(acme)

    emails = {user.email for user in offered}
    assert len(offered) >= 10
    assert all(user.is_assignable and not user.is_disabled and not user.is_application for user in offered)
    assert not any(email and email.startswith("marketing-sync@") for email in emails), "application user offered"
    disabled = seats.overview(acme)
    assert disabled.crm_users_imported_at is not None


async def test_assigning_seats_from_crm_invites_matches_and_badges(
    seats: SeatService, store: UnitOfWorkFactory, acme: str
) -> None:
    chosen = seats.assignable_crm_users(acme)[:3]

    invitations = seats.assign_from_crm(acme, [user.id for user in chosen], actor="admin@acme.example")

    assert [invitation.email for invitation in invitations] == [user.email for user in chosen]
    assert all(invitation.expires_at == NOW + timedelta(days=14) for invitation in invitations)
    overview = seats.overview(acme)
    assert (overview.seats_assigned, overview.seats_left) == (3, 2)
    by_email = {seat.email: seat for seat in overview.seats}
    for user in chosen:
        assert user.email is not None
        seat = by_email[user.email]
        assert seat.state is SeatState.INVITED
        assert seat.match is MatchOutcome.EMAIL
        assert seat.crm_user is not None
        assert seat.crm_user.id == user.id
        assert seat.in_crm
    assert {user.id for user in chosen}.isdisjoint({user.id for user in seats.assignable_crm_users(acme)})
    organization_id = store.organization_id(acme)
    assert organization_id is not None
    with store(organization_id) as uow:
        invitation = uow.invitations.find_by_token_hash(token_digest(invitations[0].token.get_secret_value()))
        assert invitation is not None
        assert invitation.user_id == invitations[0].user_id
    assert audit_actions(store, acme).count("seat.assigned_from_crm") == 3


async def test_never_more_seats_than_the_contract_holds(
    seats: SeatService, store: UnitOfWorkFactory, acme: str
) -> None:
    offered = seats.assignable_crm_users(acme)
    seats.assign_from_crm(acme, [offered[0].id, offered[1].id], actor="admin")

    with pytest.raises(SeatLimitError) as refused:
        seats.assign_from_crm(acme, [user.id for user in offered[2:6]], actor="admin")

    assert (refused.value.seats_left, refused.value.requested) == (3, 4)
    assert str(refused.value) == "You chose 4 CRM users but only 3 seats are left in your contract."
    assert (
        refused.value.localized("es") == "Has elegido 4 usuarios del CRM, pero solo quedan 3 licencias en tu contrato."
    )
    assert seats.overview(acme).seats_assigned == 2, "nothing of a refused assignment is kept"


async def test_a_crm_user_that_cannot_be_offered_is_refused(seats: SeatService, acme: str) -> None:
    offered = seats.assignable_crm_users(acme)
    seats.assign_from_crm(acme, [offered[0].id], actor="admin")

    with pytest.raises(InvalidRequestError):
        seats.assign_from_crm(acme, [offered[0].id], actor="admin")
    with pytest.raises(InvalidRequestError):
        seats.assign_from_crm(acme, [uuid.uuid4()], actor="admin")
    with pytest.raises(InvalidRequestError):
        seats.assign_from_crm(acme, [], actor="admin")


async def test_seat_sync_switches_follow_the_organization_setting(
    seats: SeatService, store: UnitOfWorkFactory, acme: str
) -> None:
    offered = seats.assignable_crm_users(acme)
    seat_id = seats.assign_from_crm(acme, [offered[0].id], actor="admin")[0].seat_id

    with pytest.raises(InvalidRequestError, match="automatic for all seats"):
        seats.set_seat_crm_sync(acme, seat_id, enabled=False, actor="admin")

    seats.set_sync_all_seats(acme, enabled=False, actor="admin")
    assert seats.seat(acme, seat_id).in_crm, "a seat's own switch is on by default"
    disabled = seats.set_seat_crm_sync(acme, seat_id, enabled=False, actor="admin")
    assert (disabled.crm_sync_active, disabled.in_crm) == (False, False)
    enabled = seats.set_seat_crm_sync(acme, seat_id, enabled=True, actor="admin")
    assert (enabled.crm_sync_active, enabled.in_crm) == (True, True)
    seats.set_seat_crm_sync(acme, seat_id, enabled=True, actor="admin")  # idempotent: not audited again
    actions = audit_actions(store, acme)
    assert actions.count("seat.crm_sync_disabled") == actions.count("seat.crm_sync_enabled") == 1
    assert actions.count("seats.sync_all_changed") == 1


async def test_an_unmatched_seat_says_why_and_fixing_the_email_matches_it_at_once(
    seats: SeatService, store: UnitOfWorkFactory, acme: str
) -> None:
    accounts = AccountService(store, clock=lambda: NOW)
    accounts.create_user(
        acme,
        email="ana.typo@example.invalid",
        display_name="Ana",
        password=None,
        is_admin=False,
        with_seat=True,
        actor="admin",
    )
    seat = next(seat for seat in seats.overview(acme).seats if seat.email == "ana.typo@example.invalid")
    assert seat.match is MatchOutcome.NO_CRM_USER
    assert seat_match(seat, "en") == (
        "Not matched",
        "No CRM user has the email ana.typo@example.invalid.",
        "Correct the seat holder's email to the one they use in Dynamics 365.",
    )
    assert seat.match_reason == "No CRM user has the email {email}."  # a message id: the edges translate it
    assert seat_match(seat, "es")[0] != seat_match(seat, "en")[0]
    assert not seat.in_crm
    real_email = seats.assignable_crm_users(acme)[0].email
    assert real_email is not None

    fixed = seats.change_seat_email(acme, seat.id, email=real_email.upper(), actor="admin")

    assert (fixed.match, fixed.in_crm, fixed.match_reason) == (MatchOutcome.EMAIL, True, None)
    assert "seat.email_changed" in audit_actions(store, acme)
    with pytest.raises(InvalidRequestError):
        seats.change_seat_email(acme, seat.id, email="not an email", actor="admin")


async def test_importing_crm_users_again_changes_nothing(
    seats: SeatService, sessions: CrmSessionFactory, demo: RunningSandbox, acme: str
) -> None:
    session = sessions(demo.connected_credentials())
    try:
        result = await seats.import_crm_users(acme, session.reader, actor="admin")
    finally:
        await session.close()

    assert (result.added, result.removed) == (0, 0)
    assert result.updated == result.total > result.assignable > 0


async def test_one_organization_cannot_see_or_change_another_ones_seats(
    seats: SeatService, store: UnitOfWorkFactory, acme: str
) -> None:
    create_organization(store, slug="globex", seats=5)
    seat_id = seats.assign_from_crm(acme, [seats.assignable_crm_users(acme)[0].id], actor="admin")[0].seat_id

    assert seats.overview("globex").seats == ()
    assert seats.assignable_crm_users("globex") == []
    with pytest.raises(RowNotFoundError):
        seats.seat("globex", seat_id)
    seats.set_sync_all_seats("globex", enabled=False, actor="admin")
    with pytest.raises(RowNotFoundError):
        seats.set_seat_crm_sync("globex", seat_id, enabled=False, actor="admin")
    with pytest.raises(RowNotFoundError):
        seats.change_seat_email("globex", seat_id, email="x@globex.example", actor="admin")


async def test_crm_user_imports_do_their_store_work_off_the_event_loop(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, demo: RunningSandbox, acme: str
) -> None:
    watched = OffLoopStore(store)
    seats = SeatService(watched, clock=lambda: NOW)  # type: ignore[arg-type]
    session = sessions(demo.connected_credentials())
    try:
        imported = await seats.import_crm_users(acme, session.reader, actor="admin")
    finally:
        await session.close()
    refreshed = await seats.refresh_crm_users(acme, sessions, actor="admin")

    assert imported.total == refreshed.total > 0
    assert watched.on_loop == []
