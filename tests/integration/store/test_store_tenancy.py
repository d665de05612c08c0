"""Repositories see only their organization's rows; the unit of work commits only when asked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from salesbridge.errors import RowNotFoundError, StoreError, UniqueConstraintError
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.tables import ConnectionState, SeatState, User
from salesbridge.store.uow import SqlAlchemyUnitOfWork, lookup_organization_id

SessionFactory = sessionmaker[Session]


class SteppingClock:
    """Starts at a fixed instant and advances one second per reading."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _create_organization(
    session_factory: SessionFactory, cipher: CredentialCipher, slug: str, *, seats: int = 5
) -> uuid.UUID:
    organization_id = uuid.uuid4()
    with SqlAlchemyUnitOfWork(session_factory, organization_id, cipher=cipher) as uow:
        uow.organization.create(slug=slug, name=slug.title(), seats_purchased=seats)
        uow.commit()
    return organization_id


def test_repositories_of_one_organization_never_see_another_organizations_rows(
    session_factory: SessionFactory, cipher: CredentialCipher
) -> None:
    org_a = _create_organization(session_factory, cipher, "acme")
    org_b = _create_organization(session_factory, cipher, "globex")
    with SqlAlchemyUnitOfWork(session_factory, org_b, cipher=cipher) as uow:
        bob = uow.users.add(email="bob@globex.example", display_name="Bob", is_admin=True)
        uow.audit.record(actor="bob@globex.example", action="user.added", details={"email": "bob@globex.example"})
        uow.crm_connection.save_credentials(
            org_url="https://globex.crm.dynamics.com",
            tenant_id="tenant-b",
            client_id="client-b",
            client_secret=SecretStr("globex-secret"),
        )
        uow.commit()

    with SqlAlchemyUnitOfWork(session_factory, org_a, cipher=cipher) as uow:
        assert uow.organization.get().slug == "acme"
        assert uow.users.list_all() == []
        assert uow.users.count() == 0
        assert uow.users.find_by_email("bob@globex.example") is None
        with pytest.raises(RowNotFoundError):
            uow.users.get(bob.id)
        with pytest.raises(RowNotFoundError):
            uow.users.set_admin(bob.id, is_admin=False)
        with pytest.raises(RowNotFoundError):
            uow.users.remove(bob.id)
        assert uow.audit.recent() == []
        assert uow.crm_connection.find() is None
        assert uow.crm_connection.delete() is False
        # The same email is free in another organization.
        uow.users.add(email="bob@globex.example", display_name="Another Bob")
        uow.commit()

    with SqlAlchemyUnitOfWork(session_factory, org_b, cipher=cipher) as uow:
        assert [user.display_name for user in uow.users.list_all()] == ["Bob"]
        assert uow.users.get(bob.id).is_admin is True
        assert len(uow.audit.recent()) == 1
        assert uow.crm_connection.get().tenant_id == "tenant-b"


def test_work_is_rolled_back_unless_committed(session_factory: SessionFactory, cipher: CredentialCipher) -> None:
    organization_id = _create_organization(session_factory, cipher, "initech")

    with SqlAlchemyUnitOfWork(session_factory, organization_id, cipher=cipher) as uow:
        uow.users.add(email="peter@initech.example", display_name="Peter")
        uow.audit.record(actor="peter@initech.example", action="user.added")
        uow.organization.set_seats_purchased(50)
        # no commit()

    def add_then_fail() -> None:
        with SqlAlchemyUnitOfWork(session_factory, organization_id, cipher=cipher) as uow:
            uow.users.add(email="milton@initech.example", display_name="Milton")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        add_then_fail()

    with SqlAlchemyUnitOfWork(session_factory, organization_id, cipher=cipher) as uow:
        assert uow.users.count() == 0
        assert uow.audit.recent() == []
        assert uow.organization.get().seats_purchased == 5


def test_work_after_a_commit_needs_its_own_commit(session_factory: SessionFactory, cipher: CredentialCipher) -> None:
    organization_id = _create_organization(session_factory, cipher, "hooli")

    with SqlAlchemyUnitOfWork(session_factory, organization_id, cipher=cipher) as uow:
        uow.users.add(email="gavin@hooli.example", display_name="Gavin")
        uow.commit()
        uow.users.add(email="denpok@hooli.example", display_name="Denpok")

    with SqlAlchemyUnitOfWork(session_factory, organization_id, cipher=cipher) as uow:
        assert [user.email for user in uow.users.list_all()] == ["gavin@hooli.example"]


def test_emails_are_unique_per_organization_ignoring_case(
    session_factory: SessionFactory, cipher: CredentialCipher
) -> None:
    organization_id = _create_organization(session_factory, cipher, "umbrella")

    with SqlAlchemyUnitOfWork(session_factory, organization_id, cipher=cipher) as uow:
        alice = uow.users.add(email="Alice@Umbrella.example", display_name="Alice")
        with pytest.raises(UniqueConstraintError) as raised:
            uow.users.add(email="alice@umbrella.EXAMPLE", display_name="Alice again")
        assert raised.value.field == "email"
        # The refusal leaves the transaction usable.
        uow.users.add(email="carlos@umbrella.example", display_name="Carlos")
        uow.commit()

    with SqlAlchemyUnitOfWork(session_factory, organization_id, cipher=cipher) as uow:
        found = uow.users.find_by_email("ALICE@umbrella.example")
        assert found is not None
        assert found.id == alice.id
        assert found.email == "Alice@Umbrella.example"  # stored as given
        assert uow.users.count() == 2


def test_the_database_itself_refuses_a_case_variant_email(
    session_factory: SessionFactory, cipher: CredentialCipher
) -> None:
    """Two transactions racing past the repository's check still meet the unique index."""
    organization_id = _create_organization(session_factory, cipher, "cyberdyne")
    with SqlAlchemyUnitOfWork(session_factory, organization_id, cipher=cipher) as first:
        first.users.add(email="miles@cyberdyne.example", display_name="Miles")
        first.commit()
    with session_factory() as session:
        session.add(
            User(
                id=uuid.uuid4(),
                organization_id=organization_id,
                email="MILES@cyberdyne.example",
                display_name="Miles",
                is_admin=False,
                created_at=datetime.now(UTC),
            )
        )
        with pytest.raises(IntegrityError):
            session.commit()


def test_organizations_are_created_idempotently_with_unique_slugs(
    session_factory: SessionFactory, cipher: CredentialCipher
) -> None:
    organization_id = _create_organization(session_factory, cipher, "stark", seats=7)
    with SqlAlchemyUnitOfWork(session_factory, organization_id, cipher=cipher) as uow:
        again = uow.organization.create(slug="stark", name="Other name", seats_purchased=99)
        assert (again.name, again.seats_purchased) == ("Stark", 7)
        with pytest.raises(UniqueConstraintError) as wrong_slug:
            uow.organization.create(slug="wayne", name="Wayne", seats_purchased=1)
        assert wrong_slug.value.field == "id"

    with SqlAlchemyUnitOfWork(session_factory, uuid.uuid4(), cipher=cipher) as uow:
        with pytest.raises(UniqueConstraintError) as taken:
            uow.organization.create(slug="stark", name="Impostor", seats_purchased=1)
        assert taken.value.field == "slug"
        assert uow.organization.find() is None
        with pytest.raises(StoreError):
            uow.users.add(email="nobody@nowhere.example", display_name="Orphan")

    assert lookup_organization_id(session_factory, "stark") == organization_id
    assert lookup_organization_id(session_factory, "nowhere") is None


def test_timestamps_come_from_the_clock_as_aware_utc(session_factory: SessionFactory, cipher: CredentialCipher) -> None:
    clock = SteppingClock()
    organization_id = uuid.uuid4()
    with SqlAlchemyUnitOfWork(session_factory, organization_id, cipher=cipher, clock=clock) as uow:
        uow.organization.create(slug="tyrell", name="Tyrell", seats_purchased=3)
        uow.audit.record(actor="eldon", action="first", details={"n": 1, "tags": ["a"]})
        uow.audit.record(actor="eldon", action="second")
        uow.crm_connection.save_credentials(
            org_url="https://tyrell.crm.dynamics.com", tenant_id="t", client_id="c", client_secret=SecretStr("s")
        )
        uow.crm_connection.mark_connected(crm_user_id="crm-user-1")
        uow.commit()

    with SqlAlchemyUnitOfWork(session_factory, organization_id, cipher=cipher) as uow:
        organization = uow.organization.get()
        assert organization.created_at == datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC)
        assert organization.created_at.tzinfo is not None
        entries = uow.audit.recent()
        assert [entry.action for entry in entries] == ["second", "first"]
        assert entries[1].details == {"n": 1, "tags": ["a"]}
        assert entries[0].created_at.utcoffset() == timedelta(0)
        connection = uow.crm_connection.get()
        assert connection.state is ConnectionState.CONNECTED
        assert connection.connected_crm_user_id == "crm-user-1"
        assert connection.connected_at == datetime(2026, 1, 2, 3, 4, 10, tzinfo=UTC)


def test_a_failed_connection_keeps_its_error_until_credentials_change(
    session_factory: SessionFactory, cipher: CredentialCipher
) -> None:
    organization_id = _create_organization(session_factory, cipher, "soylent")
    with SqlAlchemyUnitOfWork(session_factory, organization_id, cipher=cipher) as uow:
        with pytest.raises(RowNotFoundError):
            uow.crm_connection.mark_failed(error="no connection yet")
        uow.crm_connection.save_credentials(
            org_url="https://soylent.crm.dynamics.com", tenant_id="t", client_id="c", client_secret=SecretStr("one")
        )
        uow.crm_connection.mark_failed(error="The application user is missing.")
        uow.commit()
    with SqlAlchemyUnitOfWork(session_factory, organization_id, cipher=cipher) as uow:
        failed = uow.crm_connection.get()
        assert (failed.state, failed.last_error) == (ConnectionState.FAILED, "The application user is missing.")
        replaced = uow.crm_connection.save_credentials(
            org_url="https://soylent.crm.dynamics.com", tenant_id="t", client_id="c2", client_secret=SecretStr("two")
        )
        assert (replaced.state, replaced.last_error, replaced.id) == (ConnectionState.DISCONNECTED, None, failed.id)
        assert uow.crm_connection.client_secret().get_secret_value() == "two"
        assert uow.crm_connection.delete() is True
        uow.commit()
    with SqlAlchemyUnitOfWork(session_factory, organization_id, cipher=cipher) as uow:
        assert uow.crm_connection.find() is None


def test_credentials_for_a_missing_organization_are_refused_without_spoiling_the_transaction(
    session_factory: SessionFactory, cipher: CredentialCipher
) -> None:
    with SqlAlchemyUnitOfWork(session_factory, uuid.uuid4(), cipher=cipher) as uow:
        with pytest.raises(StoreError):
            uow.crm_connection.save_credentials(
                org_url="https://ghost.crm.dynamics.com", tenant_id="t", client_id="c", client_secret=SecretStr("s")
            )
        uow.organization.create(slug="ghost", name="Ghost", seats_purchased=1)
        uow.commit()
    assert lookup_organization_id(session_factory, "ghost") is not None


def test_seats_invitations_and_lists_of_another_organization_are_not_found_by_id(
    session_factory: SessionFactory, cipher: CredentialCipher
) -> None:
    org_a = _create_organization(session_factory, cipher, "hooli")
    org_b = _create_organization(session_factory, cipher, "piedpiper")
    with SqlAlchemyUnitOfWork(session_factory, org_b, cipher=cipher) as uow:
        richard = uow.users.add(email="richard@piedpiper.example", display_name="Richard")
        seat = uow.seats.add(user_id=richard.id, state=SeatState.INVITED, assigned_by="test")
        invitation = uow.invitations.add(
            user_id=richard.id, token_hash="0" * 64, invited_by="test", expires_at=datetime.now(UTC) + timedelta(days=1)
        )
        own_list = uow.lists.create_manual(richard.id, "Compression")
        uow.commit()

    with SqlAlchemyUnitOfWork(session_factory, org_a, cipher=cipher) as uow:
        with pytest.raises(RowNotFoundError, match="No such seat"):
            uow.seats.get(seat.id)
        with pytest.raises(RowNotFoundError, match="No such invitation"):
            uow.invitations.mark_accepted(invitation.id)
        with pytest.raises(RowNotFoundError, match="No such list"):
            uow.lists.get(own_list.id)
        with pytest.raises(RowNotFoundError, match="No such user"):
            uow.seats.add(user_id=richard.id, state=SeatState.INVITED, assigned_by="test")
        with pytest.raises(RowNotFoundError, match="No such user"):
            uow.auto_save_rules.save(
                richard.id,
                accounts_of_open_opportunities=True,
                accounts_owned=False,
                leads_of_open_opportunities=True,
                leads_of_owned_accounts=False,
            )

    with SqlAlchemyUnitOfWork(session_factory, org_b, cipher=cipher) as uow:
        assert uow.seats.get(seat.id).user_id == richard.id
        assert uow.lists.get(own_list.id).name == "Compression"
        assert uow.invitations.mark_accepted(invitation.id).accepted_at is not None
