"""The rules of accounts, on the in-memory store and a cheap password hasher: creating users, invitations, API
tokens and their expiry, sessions and sign-in throttling. (The same use cases through the console and the API on
SQLite and PostgreSQL: tests/integration/web/test_accounts.py and test_sign_in_security.py.)"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr
from tests.fakes.store import FakeClock, FakeStore

from salesbridge.domain.workspace import SeatState
from salesbridge.errors import (
    AdministratorRequiredError,
    ContractFullError,
    InvalidInputError,
    InvitationInvalidError,
    SessionRequiredError,
    SignInFailedError,
    SignInThrottledError,
    UnknownOrganizationError,
)
from salesbridge.services.account_rules import TOKEN_USE_GRANULARITY, token_digest
from salesbridge.services.accounts import AccountService, Principal

PASSWORD = SecretStr("harbour lantern quietly 42")
ADMIN = "admin@acme.test"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> FakeStore:
    store = FakeStore(clock=clock)
    store.add_organization("acme", seats_purchased=2)
    return store


@pytest.fixture
def accounts(store: FakeStore, clock: FakeClock) -> AccountService:
    # Cheap argon2 parameters: the rules are under test here, not the hashing cost.
    return AccountService(store, clock=clock, hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def acme_id(store: FakeStore) -> uuid.UUID:
    organization_id = store.organization_id("acme")
    assert organization_id is not None
    return organization_id


def admin(accounts: AccountService) -> Principal:
    return accounts.create_user(
        "acme", email=ADMIN, display_name="Admin", password=PASSWORD, is_admin=True, with_seat=True, actor="cli"
    )


def invite(store: FakeStore, clock: FakeClock, email: str, *, with_seat: bool = True) -> str:
    """An invitation as seat assignment leaves it: an invited user (with an invited seat), and the token."""
    token = f"invitation-{email}"
    with store(acme_id(store)) as uow:
        user = uow.users.add(email=email, display_name="Invitee")
        if with_seat:
            uow.seats.add(user_id=user.id, state=SeatState.INVITED, assigned_by=ADMIN)
        uow.invitations.add(
            user_id=user.id, token_hash=token_digest(token), invited_by=ADMIN, expires_at=clock() + timedelta(days=14)
        )
        uow.commit()
    return token


# ------------------------------------------------------------------------------------------------------ users


def test_a_user_is_created_with_a_seat_and_audited(accounts: AccountService, store: FakeStore) -> None:
    principal = admin(accounts)

    assert (principal.email, principal.is_admin, principal.has_seat, principal.organization_slug) == (
        ADMIN,
        True,
        True,
        "acme",
    )
    assert store.audit_actions(acme_id(store)) == ["user.created"]
    [user] = accounts.list_users(principal)
    assert (user.has_seat, user.has_password) == (True, True)


@pytest.mark.parametrize(
    ("email", "name", "password", "locale", "field"),
    [
        ("not-an-email", "Ana", PASSWORD, "en", "email"),
        ("ana@acme.test", "  ", PASSWORD, "en", "display_name"),
        ("ana@acme.test", "Ana", SecretStr("short"), "en", "password"),
        ("ana@acme.test", "Ana", SecretStr("password1234"), "en", "password"),
        ("ana@acme.test", "Ana", SecretStr("qwertyuiop12"), "en", "password"),
        ("ana@acme.test", "Ana", PASSWORD, "fr", "locale"),
    ],
)
def test_a_user_breaking_a_rule_is_refused_by_field(
    accounts: AccountService, store: FakeStore, email: str, name: str, password: SecretStr, locale: str, field: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        accounts.create_user(
            "acme", email=email, display_name=name, password=password, locale=locale, is_admin=False,
            with_seat=False, actor=ADMIN,
        )  # fmt: skip

    assert refused.value.field == field
    assert store.units_opened == 1  # the organization's creation: a refused input never reaches the store


def test_emails_are_unique_ignoring_case_and_the_contract_bounds_seats(
    accounts: AccountService, store: FakeStore
) -> None:
    admin(accounts)
    accounts.create_user(
        "acme", email="ana@acme.test", display_name="Ana", password=None, is_admin=False, with_seat=True, actor=ADMIN
    )

    with pytest.raises(InvalidInputError, match="already exists") as taken:
        accounts.create_user(
            "acme", email="ANA@acme.test", display_name="Ana", password=None, is_admin=False, with_seat=False,
            actor=ADMIN,
        )  # fmt: skip
    with pytest.raises(ContractFullError, match="All 2 seats"):
        accounts.create_user(
            "acme", email="bea@acme.test", display_name="Bea", password=None, is_admin=False, with_seat=True,
            actor=ADMIN,
        )  # fmt: skip
    with pytest.raises(UnknownOrganizationError, match="salesbridge org create initech"):
        accounts.create_user(
            "initech", email="c@i.test", display_name="C", password=None, is_admin=False, with_seat=False, actor=ADMIN
        )

    assert taken.value.field == "email"
    with store(acme_id(store)) as uow:
        assert uow.users.find_by_email("bea@acme.test") is None, "a refused seat rolls the new user back too"


def test_only_administrators_list_users_and_read_the_audit(accounts: AccountService) -> None:
    admin(accounts)
    seller = accounts.create_user(
        "acme", email="ana@acme.test", display_name="Ana", password=None, is_admin=False, with_seat=False, actor=ADMIN
    )

    with pytest.raises(AdministratorRequiredError):
        accounts.list_users(seller)
    with pytest.raises(AdministratorRequiredError):
        accounts.recent_audit(seller)
    assert [entry.action for entry in accounts.recent_audit(accounts.principal_of("acme", ADMIN))] == [
        "user.created",
        "user.created",
    ]


# ------------------------------------------------------------------------------------------------ invitations


def test_accepting_an_invitation_activates_the_seat_and_signs_in_once(
    accounts: AccountService, store: FakeStore, clock: FakeClock
) -> None:
    token = invite(store, clock, "ines@acme.test")
    assert accounts.describe_invitation(token) is not None

    signed_in = accounts.accept_invitation(token, PASSWORD, " Inés ")

    assert (signed_in.principal.display_name, signed_in.principal.has_seat) == ("Inés", True)
    with store(acme_id(store)) as uow:
        user = uow.users.find_by_email("ines@acme.test")
        assert user is not None
        seat = uow.seats.find_by_user(user.id)
    assert seat is not None
    assert seat.state is SeatState.ACTIVE
    session = accounts.session(signed_in.session_token.get_secret_value())
    assert session is not None
    assert session.principal.user_id == user.id
    assert accounts.describe_invitation(token) is None
    with pytest.raises(InvitationInvalidError):
        accounts.accept_invitation(token, PASSWORD, "Inés")
    assert store.audit_actions(acme_id(store)) == ["invitation.accepted"]


def test_an_expired_invitation_is_refused(accounts: AccountService, store: FakeStore, clock: FakeClock) -> None:
    token = invite(store, clock, "ines@acme.test")
    clock.advance(timedelta(days=14))

    assert accounts.describe_invitation(token) is None
    with pytest.raises(InvitationInvalidError):
        accounts.accept_invitation(token, PASSWORD, "Inés")
    with pytest.raises(InvitationInvalidError):
        accounts.accept_invitation("never-issued", PASSWORD, "Inés")


def test_an_invitation_without_a_seat_takes_one_within_the_contract(
    accounts: AccountService, store: FakeStore, clock: FakeClock
) -> None:
    admin(accounts)
    accounts.create_user(
        "acme", email="ana@acme.test", display_name="Ana", password=None, is_admin=False, with_seat=True, actor=ADMIN
    )
    token = invite(store, clock, "ines@acme.test", with_seat=False)

    with pytest.raises(ContractFullError):
        accounts.accept_invitation(token, PASSWORD, "Inés")
    assert accounts.describe_invitation(token) is not None, "a refusal leaves the invitation pending"


# ------------------------------------------------------------------------------------------------- API tokens


def test_an_api_token_works_until_it_expires(accounts: AccountService, clock: FakeClock) -> None:
    owner = admin(accounts)
    view, secret = accounts.create_api_token(owner, " ci ", expires_in_days=7)

    assert (view.name, view.expires_at, view.is_active) == ("ci", clock.now + timedelta(days=7), True)
    assert secret.get_secret_value().startswith(view.prefix)
    acting = accounts.principal_for_api_token(secret.get_secret_value())
    assert acting is not None
    assert (acting.user_id, acting.via_api_token) == (owner.user_id, True)

    clock.advance(timedelta(days=7))

    assert accounts.principal_for_api_token(secret.get_secret_value()) is None
    [listed] = accounts.list_api_tokens(owner)
    assert (listed.is_expired, listed.is_active) == (True, False)


def test_a_revoked_token_stops_at_once_and_is_audited_once(accounts: AccountService, store: FakeStore) -> None:
    owner = admin(accounts)
    view, secret = accounts.create_api_token(owner, "ci")

    revoked = accounts.revoke_api_token(owner, view.id)
    accounts.revoke_api_token(owner, view.id)

    assert revoked.revoked_at is not None
    assert not revoked.is_active
    assert accounts.principal_for_api_token(secret.get_secret_value()) is None
    assert store.audit_actions(acme_id(store)).count("api_token.revoked") == 1


@pytest.mark.parametrize("days", [0, 366, -1])
def test_a_token_lifetime_outside_1_to_365_days_is_refused(accounts: AccountService, days: int) -> None:
    with pytest.raises(InvalidInputError, match="1 to 365 days"):
        accounts.create_api_token(admin(accounts), "ci", expires_in_days=days)


def test_a_token_cannot_mint_tokens_and_needs_a_name(accounts: AccountService) -> None:
    owner = admin(accounts)
    _view, secret = accounts.create_api_token(owner, "ci")
    via_token = accounts.principal_for_api_token(secret.get_secret_value())
    assert via_token is not None

    with pytest.raises(SessionRequiredError):
        accounts.create_api_token(via_token, "more")
    with pytest.raises(InvalidInputError, match="name of 1 to 100"):
        accounts.create_api_token(owner, "   ")
    assert accounts.principal_for_api_token("not-a-token") is None


def test_a_tokens_last_use_is_written_at_most_once_per_granularity(accounts: AccountService, clock: FakeClock) -> None:
    owner = admin(accounts)
    view, secret = accounts.create_api_token(owner, "ci")
    first = clock.now

    accounts.principal_for_api_token(secret.get_secret_value())
    clock.advance(TOKEN_USE_GRANULARITY - timedelta(seconds=1))
    accounts.principal_for_api_token(secret.get_secret_value())
    assert [token.last_used_at for token in accounts.list_api_tokens(owner)] == [first]

    clock.advance(timedelta(seconds=1))
    accounts.principal_for_api_token(secret.get_secret_value())
    assert [token.last_used_at for token in accounts.list_api_tokens(owner)] == [clock.now]
    assert view.last_used_at is None


# --------------------------------------------------------------------------------------------------- sign-in


def test_signing_in_opens_a_session_until_it_ends(accounts: AccountService, clock: FakeClock) -> None:
    admin(accounts)

    signed_in = accounts.sign_in(" acme ", f" {ADMIN.upper()} ", PASSWORD, address="192.0.2.7")
    token = signed_in.session_token.get_secret_value()

    context = accounts.session(token)
    assert context is not None
    assert context.csrf_token == signed_in.csrf_token
    accounts.sign_out(token)
    assert accounts.session(token) is None
    again = accounts.sign_in("acme", ADMIN, PASSWORD)
    clock.advance(timedelta(hours=12))
    assert accounts.session(again.session_token.get_secret_value()) is None


def test_every_failure_is_the_same_refusal_and_the_account_is_throttled(accounts: AccountService) -> None:
    admin(accounts)
    wrong = SecretStr("not the password at all")

    for slug, email, password in [("initech", ADMIN, PASSWORD), ("acme", "nobody@acme.test", PASSWORD)]:
        with pytest.raises(SignInFailedError):
            accounts.sign_in(slug, email, password)
    for _ in range(5):
        with pytest.raises(SignInFailedError):
            accounts.sign_in("acme", ADMIN, wrong, address="192.0.2.7")

    with pytest.raises(SignInThrottledError):
        accounts.sign_in("acme", ADMIN, PASSWORD, address="198.51.100.1")  # the right password, too late


class CountingHasher(PasswordHasher):
    """argon2 with cheap parameters, counting the hashes and verifications asked of it."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.hashed = 0
        self.verified = 0

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.hashed += 1
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


def test_the_dummy_hash_waits_for_the_first_sign_in_and_every_unknown_account_still_costs_a_verification(
    store: FakeStore, clock: FakeClock
) -> None:
    hasher = CountingHasher()
    accounts = AccountService(store, clock=clock, hasher=hasher)
    assert (hasher.hashed, hasher.verified) == (0, 0), "building the service (every CLI command does) hashes nothing"

    for slug, email in [("initech", ADMIN), ("acme", "nobody@acme.test"), ("acme", "nobody@acme.test")]:
        with pytest.raises(SignInFailedError):
            accounts.sign_in(slug, email, PASSWORD)
    assert (hasher.hashed, hasher.verified) == (1, 3), "one dummy hash, made once; one verification per attempt"


def test_the_failure_that_locks_an_account_is_audited_once_in_its_organization(
    accounts: AccountService, store: FakeStore, clock: FakeClock
) -> None:
    admin(accounts)
    wrong = SecretStr("not the password at all")
    for _ in range(4):
        with pytest.raises(SignInFailedError):
            accounts.sign_in("acme", ADMIN, wrong, address="192.0.2.7")
    assert "user.sign_in_locked" not in store.audit_actions(acme_id(store))

    with pytest.raises(SignInFailedError):
        accounts.sign_in("acme", ADMIN, wrong, address="192.0.2.7")  # the fifth: the account is now locked
    for _ in range(5):  # an unknown account locks too, and has nobody to audit it to
        with pytest.raises(SignInFailedError):
            accounts.sign_in("acme", "nobody@acme.test", wrong, address="192.0.2.7")
    with pytest.raises(SignInThrottledError):
        accounts.sign_in("acme", ADMIN, wrong, address="198.51.100.1")

    with store(acme_id(store), read_only=True) as uow:
        locked = uow.audit.recent(action="user.sign_in_locked")
    assert len(locked) == 1
    assert locked[0].actor == "sign-in"
    assert locked[0].details["failed_attempts"] == 5
    assert locked[0].details["locked_until"] == (clock() + timedelta(minutes=15)).isoformat()
