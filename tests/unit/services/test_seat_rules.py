"""The rules of seat management, on the in-memory store: the contract's seat limit, the sync switches, assigning
seats from the CRM's users, matching and the "In CRM" badge. (The same use cases against SQLite, PostgreSQL and
the sandbox: tests/integration/services/test_seats.py.)"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from tests.fakes.store import FakeClock, FakeStore

from salesbridge.crm.ports import CrmRecord, RecordPage, RecordQuery
from salesbridge.domain.seat_matching import MatchOutcome
from salesbridge.domain.workspace import CrmCredentials, SeatState
from salesbridge.errors import InvalidRequestError, RowNotFoundError, SeatLimitError, UnknownOrganizationError
from salesbridge.services.account_rules import token_digest
from salesbridge.services.crm_users import refresh_crm_users_from_import, rematch_seats
from salesbridge.services.seats import SeatService
from salesbridge.web.localized import seat_match

ADMIN = "admin@acme.test"


def systemuser(crm_id: str, name: str, email: str | None, *, disabled: bool = False, app: bool = False) -> CrmRecord:
    values: dict[str, object] = {"fullname": name, "internalemailaddress": email, "isdisabled": disabled}
    if app:
        values["applicationid"] = "5f3c0000-0000-0000-0000-000000000001"
    return CrmRecord("systemuser", crm_id, values)


ANA = systemuser("00000000-0000-0000-0000-0000000000a1", "Ana", "ana@acme.test")
BEA = systemuser("00000000-0000-0000-0000-0000000000b2", "Bea", "bea@acme.test")
CAL = systemuser("00000000-0000-0000-0000-0000000000c3", "Cal", "cal@acme.test")
OFF = systemuser("00000000-0000-0000-0000-0000000000d4", "Off", "off@acme.test", disabled=True)
BOT = systemuser("00000000-0000-0000-0000-0000000000e5", "Bot", "bot@acme.test", app=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> FakeStore:
    return FakeStore(clock=clock)


@pytest.fixture
def seats(store: FakeStore, clock: FakeClock) -> SeatService:
    return SeatService(store, clock=clock)


def organization(
    store: FakeStore,
    *,
    seats: int = 3,
    crm_users: tuple[CrmRecord, ...] = (),
    connected: bool = True,
    sync_all: bool = True,
) -> uuid.UUID:
    acme = store.add_organization("acme", seats_purchased=seats, sync_all_seats=sync_all)
    if connected:
        store.connect(acme)
    with store(acme) as uow:
        refresh_crm_users_from_import(uow, crm_users)
        uow.commit()
    return acme


def seated(store: FakeStore, acme: uuid.UUID, email: str) -> uuid.UUID:
    with store(acme) as uow:
        user = uow.users.add(email=email, display_name=email.split("@")[0].title())
        seat = uow.seats.add(user_id=user.id, state=SeatState.ACTIVE, assigned_by=ADMIN)
        rematch_seats(uow)
        uow.commit()
    return seat.id


def crm_user_ids(seats: SeatService, *emails: str) -> list[uuid.UUID]:
    by_email = {user.email: user.id for user in seats.crm_users("acme")}
    return [by_email[email] for email in emails]


def test_assigning_from_the_crm_invites_seats_matched_by_email(
    seats: SeatService, store: FakeStore, clock: FakeClock
) -> None:
    acme = organization(store, crm_users=(ANA, BEA, CAL))

    issued = seats.assign_from_crm("acme", crm_user_ids(seats, "ana@acme.test", "bea@acme.test"), actor=ADMIN)

    assert [invitation.email for invitation in issued] == ["ana@acme.test", "bea@acme.test"]
    assert all(invitation.expires_at == clock.now + timedelta(days=14) for invitation in issued)
    overview = seats.overview("acme")
    assert (overview.seats_assigned, overview.seats_left) == (2, 1)
    assert {(seat.email, seat.state, seat.match, seat.in_crm) for seat in overview.seats} == {
        ("ana@acme.test", SeatState.INVITED, MatchOutcome.EMAIL, True),
        ("bea@acme.test", SeatState.INVITED, MatchOutcome.EMAIL, True),
    }
    with store(acme) as uow:
        invitation = uow.invitations.find_by_token_hash(token_digest(issued[0].token.get_secret_value()))
    assert invitation is not None
    assert invitation.is_pending(clock.now)
    assert store.audit_actions(acme).count("seat.assigned_from_crm") == 2
    assert [user.email for user in seats.assignable_crm_users("acme")] == ["cal@acme.test"]


def test_more_crm_users_than_seats_left_assigns_nothing(seats: SeatService, store: FakeStore) -> None:
    acme = organization(store, seats=2, crm_users=(ANA, BEA, CAL))
    seated(store, acme, "zoe@acme.test")
    audited = len(store.audit_actions(acme))

    with pytest.raises(SeatLimitError) as refused:
        seats.assign_from_crm("acme", crm_user_ids(seats, "ana@acme.test", "bea@acme.test"), actor=ADMIN)

    assert "only 1 seats are left" in str(refused.value)
    assert seats.overview("acme").seats_assigned == 1
    assert len(store.audit_actions(acme)) == audited


def test_disabled_application_and_seated_crm_users_are_neither_offered_nor_assigned(
    seats: SeatService, store: FakeStore
) -> None:
    acme = organization(store, crm_users=(ANA, BEA, OFF, BOT))
    seated(store, acme, "ANA@acme.test")  # holds a seat already (emails compare ignoring case)

    assert [user.email for user in seats.assignable_crm_users("acme")] == ["bea@acme.test"]
    for email in ("ana@acme.test", "off@acme.test", "bot@acme.test"):
        with pytest.raises(InvalidRequestError, match="1 of the chosen CRM users cannot be given a seat"):
            seats.assign_from_crm("acme", crm_user_ids(seats, email), actor=ADMIN)
    with pytest.raises(InvalidRequestError, match="Choose at least one"):
        seats.assign_from_crm("acme", [], actor=ADMIN)
    assert seats.overview("acme").seats_assigned == 1


def test_a_workspace_user_without_a_seat_gets_the_seat_not_a_second_account(
    seats: SeatService, store: FakeStore
) -> None:
    acme = organization(store, crm_users=(ANA,))
    with store(acme) as uow:
        existing = uow.users.add(email="Ana@acme.test", display_name="Ana Existing")
        uow.commit()

    [invitation] = seats.assign_from_crm("acme", crm_user_ids(seats, "ana@acme.test"), actor=ADMIN)

    assert (invitation.user_id, invitation.display_name) == (existing.id, "Ana Existing")


def test_a_seats_own_sync_switch_counts_only_when_sync_is_not_automatic(seats: SeatService, store: FakeStore) -> None:
    acme = organization(store, crm_users=(ANA,))
    seat_id = seated(store, acme, "ana@acme.test")

    with pytest.raises(InvalidRequestError, match="automatic for all seats"):
        seats.set_seat_crm_sync("acme", seat_id, enabled=False, actor=ADMIN)
    with pytest.raises(RowNotFoundError):  # an unknown seat is "not found" before any rule
        seats.set_seat_crm_sync("acme", uuid.uuid4(), enabled=False, actor=ADMIN)

    seats.set_sync_all_seats("acme", enabled=False, actor=ADMIN)
    disabled = seats.set_seat_crm_sync("acme", seat_id, enabled=False, actor=ADMIN)
    again = seats.set_seat_crm_sync("acme", seat_id, enabled=False, actor=ADMIN)

    assert (disabled.crm_sync_enabled, disabled.crm_sync_active, disabled.in_crm) == (False, False, False)
    assert again == disabled
    assert store.audit_actions(acme).count("seat.crm_sync_disabled") == 1
    enabled = seats.set_seat_crm_sync("acme", seat_id, enabled=True, actor=ADMIN)
    assert (enabled.crm_sync_active, enabled.in_crm) == (True, True)


def test_reading_seats_never_opens_a_unit_of_work_that_could_write(seats: SeatService, store: FakeStore) -> None:
    acme = organization(store, crm_users=(ANA, BEA))
    seat_id = seated(store, acme, "ana@acme.test")
    writing = store.writing_units_opened

    seats.overview("acme")
    seats.seat("acme", seat_id)
    seats.crm_users("acme")
    seats.assignable_crm_users("acme")

    assert store.writing_units_opened == writing  # on SQLite a writing one would wait for, and take, the write lock


def test_turning_sync_for_all_seats_is_audited_only_when_it_changes(seats: SeatService, store: FakeStore) -> None:
    acme = organization(store)

    seats.set_sync_all_seats("acme", enabled=True, actor=ADMIN)
    off = seats.set_sync_all_seats("acme", enabled=False, actor=ADMIN)

    assert not off.sync_all_seats
    assert store.audit_actions(acme).count("seats.sync_all_changed") == 1


def test_in_crm_needs_a_usable_match_active_sync_and_a_connection(seats: SeatService, store: FakeStore) -> None:
    acme = organization(store, crm_users=(ANA, OFF, BOT), connected=False)
    for email in ("ana@acme.test", "off@acme.test", "bot@acme.test", "nobody@acme.test"):
        seated(store, acme, email)

    unconnected = {seat.email: (seat.match, seat.in_crm) for seat in seats.overview("acme").seats}
    store.connect(acme)
    connected = {seat.email: (seat.match, seat.in_crm) for seat in seats.overview("acme").seats}

    assert unconnected["ana@acme.test"] == (MatchOutcome.EMAIL, False)
    assert connected == {
        "ana@acme.test": (MatchOutcome.EMAIL, True),
        "bot@acme.test": (MatchOutcome.APPLICATION_USER, False),
        "nobody@acme.test": (MatchOutcome.NO_CRM_USER, False),
        "off@acme.test": (MatchOutcome.CRM_USER_DISABLED, False),
    }
    nobody = next(seat for seat in seats.overview("acme").seats if seat.email == "nobody@acme.test")
    assert seat_match(nobody, "en")[1] == "No CRM user has the email nobody@acme.test."


def test_seats_are_not_imported_until_crm_users_are(seats: SeatService, store: FakeStore) -> None:
    acme = organization(store)
    seated(store, acme, "ana@acme.test")
    assert [seat.match for seat in seats.overview("acme").seats] == [MatchOutcome.NOT_IMPORTED]

    with store(acme) as uow:
        change = refresh_crm_users_from_import(uow, [ANA, BEA])
        uow.commit()

    assert (change.added, change.updated, change.removed) == (2, 0, 0)
    [seat] = seats.overview("acme").seats
    assert (seat.match, seat.crm_user is not None and seat.crm_user.crm_id) == (MatchOutcome.EMAIL, ANA.id)


def test_correcting_an_email_matches_the_seat_again_at_once(seats: SeatService, store: FakeStore) -> None:
    acme = organization(store, crm_users=(ANA, BEA))
    seat_id = seated(store, acme, "ana.typo@acme.test")
    seated(store, acme, "bea@acme.test")

    corrected = seats.change_seat_email("acme", seat_id, email=" ana@acme.test ", actor=ADMIN)

    assert (corrected.email, corrected.match, corrected.in_crm) == ("ana@acme.test", MatchOutcome.EMAIL, True)
    assert "seat.email_changed" in store.audit_actions(acme)
    with pytest.raises(InvalidRequestError, match="already has the email"):
        seats.change_seat_email("acme", seat_id, email="BEA@acme.test", actor=ADMIN)
    with pytest.raises(InvalidRequestError):
        seats.change_seat_email("acme", seat_id, email="not an email", actor=ADMIN)


class OneOrganizationsUsers:
    """A CRM session whose reader answers the systemuser query with ``records`` (the CRM edge, faked)."""

    def __init__(self, records: list[CrmRecord]) -> None:
        self.records = records
        self.credentials: list[CrmCredentials] = []
        self.closed = False

    def __call__(self, credentials: CrmCredentials) -> OneOrganizationsUsers:
        self.credentials.append(credentials)
        return self

    @property
    def reader(self) -> OneOrganizationsUsers:
        return self

    async def query(self, query: RecordQuery) -> AsyncIterator[RecordPage]:
        assert query.table == "systemuser"
        yield RecordPage(tuple(self.records))

    async def close(self) -> None:
        self.closed = True


async def test_refreshing_crm_users_reads_them_through_the_stored_connection(
    seats: SeatService, store: FakeStore
) -> None:
    acme = organization(store, crm_users=(ANA,))
    seated(store, acme, "bea@acme.test")
    crm = OneOrganizationsUsers([ANA, BEA, BOT])

    change = await seats.refresh_crm_users("acme", crm, actor=ADMIN)

    assert (change.added, change.updated, change.removed, change.total, change.assignable) == (2, 1, 0, 3, 2)
    assert [credentials.org_url for credentials in crm.credentials] == ["https://acme.crm.dynamics.com"]
    assert crm.closed
    assert [seat.match for seat in seats.overview("acme").seats] == [MatchOutcome.EMAIL]
    assert store.audit_actions(acme)[-1] == "crm.users_imported"


async def test_refreshing_crm_users_needs_a_connection(seats: SeatService, store: FakeStore) -> None:
    organization(store, connected=False)
    crm = OneOrganizationsUsers([ANA])

    with pytest.raises(InvalidRequestError, match="Connect to the CRM first"):
        await seats.refresh_crm_users("acme", crm, actor=ADMIN)
    with pytest.raises(UnknownOrganizationError):
        seats.overview("initech")
    assert crm.credentials == []
