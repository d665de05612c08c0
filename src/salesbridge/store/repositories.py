"""Repositories of the store, each scoped to one organization.

A repository is built with a session and an organization id, and every statement it issues filters by that id:
a repository of organization A can neither read nor change organization B's rows. Repositories flush but never
commit; the unit of work (:mod:`salesbridge.store.uow`) owns the transaction.

The repositories the services use implement the protocols of :mod:`salesbridge.services.ports`: they return
frozen values of :mod:`salesbridge.domain.workspace` (converted by :func:`as_value`), never rows,
and change rows only in their own methods.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import SecretStr
from sqlalchemy import Select, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from salesbridge.domain import workspace as domain
from salesbridge.domain.clock import Clock as Clock
from salesbridge.domain.currencies import CrmCurrencies
from salesbridge.domain.sync_runs import ImportRun
from salesbridge.errors import RowNotFoundError, StoreError, UniqueConstraintError
from salesbridge.store.secrets import CredentialCipher

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

from salesbridge.store.tables import (
    AuditEntry,
    ConnectionState,
    CrmConnection,
    ImportRequest,
    ImportState,
    Organization,
    User,
)


class _OrganizationRow(Protocol):
    """A row with an id, belonging to one organization."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def organization_id(self) -> uuid.UUID: ...


_RowT = TypeVar("_RowT", bound=_OrganizationRow)
_Value = TypeVar("_Value", bound="DataclassInstance")
_Row = TypeVar("_Row")


_R = TypeVar("_R")


def newest_first(rows: Iterable[_R], when: Callable[[_R], Any], row_id: Callable[[_R], Any]) -> list[_R]:
    """``rows`` in the order ``ORDER BY <when> DESC, <id>`` gives them: how reads made one probe per state (migration
    0043) are merged. Ids compare alike in Python and in both databases (UUIDs, as 128-bit numbers)."""
    by_id = sorted(rows, key=row_id)
    return sorted(by_id, key=when, reverse=True)  # stable: ties keep the ids' order


class _ScopedRepository:
    def __init__(self, session: Session, organization_id: uuid.UUID, *, clock: Clock) -> None:
        self._session = session
        self._organization_id = organization_id
        self._clock = clock

    def _scoped_row(self, table: type[_RowT], row_id: uuid.UUID, *, missing: str) -> _RowT:
        """The row ``row_id`` of ``table`` in this organization.

        Raises:
            RowNotFoundError: (message ``missing``) no such row in this organization, including rows of others.
        """
        row = self._session.scalar(select(table).filter_by(organization_id=self._organization_id, id=row_id))
        if row is None:
            raise RowNotFoundError(missing)
        return row

    def _require_user(self, user_id: uuid.UUID) -> None:
        """Raises RowNotFoundError unless ``user_id`` is a user of this organization."""
        self._scoped_row(User, user_id, missing="No such user in this organization.")

    @property
    def organization_id(self) -> uuid.UUID:
        """The organization every query of this repository is scoped to."""
        return self._organization_id


class OrganizationRepository(_ScopedRepository):
    """The organization row of the scoped organization, and nothing else."""

    def create(self, *, slug: str, name: str, seats_purchased: int) -> domain.Organization:
        """Create the scoped organization with the caller-chosen id. Idempotent: when it already exists with the
        same slug, the existing row is returned unchanged.

        Raises:
            UniqueConstraintError: another organization has ``slug`` (field ``"slug"``), or this id exists with a
                different slug (field ``"id"``).
        """
        existing = self.find()
        if existing is not None:
            if existing.slug != slug:
                raise UniqueConstraintError("This organization id already exists with another slug.", field="id")
            return existing
        if self._session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
            raise UniqueConstraintError(f"The organization slug {slug!r} is taken.", field="slug")
        organization = Organization(
            id=self._organization_id,
            slug=slug,
            name=name,
            seats_purchased=seats_purchased,
            created_at=self._clock(),
        )
        _flush_new(self._session, organization, UniqueConstraintError("The organization slug is taken.", field="slug"))
        return as_value(domain.Organization, organization)

    def find(self) -> domain.Organization | None:
        """The scoped organization, or None when it has not been created."""
        row = self._session.get(Organization, self._organization_id)
        return as_value(domain.Organization, row) if row is not None else None

    def get(self) -> domain.Organization:
        """The scoped organization.

        Raises:
            RowNotFoundError: it does not exist.
        """
        return as_value(domain.Organization, self._row())

    def _row(self) -> Organization:
        organization = self._session.get(Organization, self._organization_id)
        if organization is None:
            raise RowNotFoundError("The organization does not exist.")
        return organization

    def set_seats_purchased(self, seats: int) -> domain.Organization:
        """Record the number of seats in the contract.

        Raises:
            RowNotFoundError: the organization does not exist.
            ValueError: ``seats`` is negative.
        """
        if seats < 0:
            raise ValueError("seats_purchased cannot be negative")
        organization = self._row()
        organization.seats_purchased = seats
        self._session.flush()
        return as_value(domain.Organization, organization)

    def set_crm_sync_all_seats(self, enabled: bool) -> domain.Organization:
        """Turn "Sync CRM for all seats automatically" on or off. Idempotent.

        Raises:
            RowNotFoundError: the organization does not exist.
        """
        organization = self._row()
        organization.crm_sync_all_seats = enabled
        self._session.flush()
        return as_value(domain.Organization, organization)


class UserRepository(_ScopedRepository):
    """Users of the scoped organization. Emails compare case-insensitively and are stored as given."""

    def add(
        self,
        *,
        email: str,
        display_name: str,
        is_admin: bool = False,
        password_hash: str | None = None,
        locale: str = "en",
        entra_object_id: str | None = None,
    ) -> domain.User:
        """Add a user with a fresh id.

        Raises:
            UniqueConstraintError: the organization already has a user with this email, in any case
                (field ``"email"``).
            StoreError: the organization does not exist.
        """
        if self.find_by_email(email) is not None:
            raise UniqueConstraintError("A user with this email already exists in the organization.", field="email")
        user = User(
            id=uuid.uuid4(),
            organization_id=self._organization_id,
            email=email,
            display_name=display_name,
            is_admin=is_admin,
            password_hash=password_hash,
            locale=locale,
            entra_object_id=entra_object_id.lower() if entra_object_id else None,
            created_at=self._clock(),
        )
        try:
            _flush_new(self._session, user, None)
        except IntegrityError as exc:
            if self.find_by_email(email) is not None:  # a concurrent transaction added it first
                raise UniqueConstraintError(
                    "A user with this email already exists in the organization.", field="email"
                ) from exc
            raise StoreError("The user could not be added: the organization does not exist.") from exc
        return as_value(domain.User, user)

    def get(self, user_id: uuid.UUID) -> domain.User:
        """The user with ``user_id`` in this organization.

        Raises:
            RowNotFoundError: no such user in this organization (including users of other organizations).
        """
        return as_value(domain.User, self._row(user_id))

    def find_by_email(self, email: str) -> domain.User | None:
        """The user whose email equals ``email`` ignoring case, or None."""
        row = self._find_row(email)
        return as_value(domain.User, row) if row is not None else None

    def list_all(self) -> list[domain.User]:
        """Every user of the organization, ordered by lower-cased email."""
        statement = select(User).where(User.organization_id == self._organization_id).order_by(func.lower(User.email))
        return [as_value(domain.User, row) for row in self._session.scalars(statement)]

    def count(self) -> int:
        """How many users the organization has."""
        statement = select(func.count()).select_from(User).where(User.organization_id == self._organization_id)
        return self._session.scalar(statement) or 0

    def set_admin(self, user_id: uuid.UUID, *, is_admin: bool) -> domain.User:
        """Grant or revoke administration. Idempotent.

        Raises:
            RowNotFoundError: no such user in this organization.
        """
        user = self._row(user_id)
        user.is_admin = is_admin
        self._session.flush()
        return as_value(domain.User, user)

    def update(
        self,
        user_id: uuid.UUID,
        *,
        email: str | None = None,
        display_name: str | None = None,
        password_hash: str | None = None,
        locale: str | None = None,
    ) -> domain.User:
        """Change the given fields of a user; None leaves a field as it is.

        Raises:
            RowNotFoundError: no such user in this organization.
            UniqueConstraintError: another user of the organization has ``email`` (field ``"email"``).
        """
        user = self._row(user_id)
        if email is not None and email.lower() != user.email.lower():
            if self.find_by_email(email) is not None:
                raise UniqueConstraintError("A user with this email already exists in the organization.", field="email")
            user.email = email
        elif email is not None:
            user.email = email
        if display_name is not None:
            user.display_name = display_name
        if password_hash is not None:
            user.password_hash = password_hash
        if locale is not None:
            user.locale = locale
        self._session.flush()
        return as_value(domain.User, user)

    def remove(self, user_id: uuid.UUID) -> None:
        """Delete the user.

        Raises:
            RowNotFoundError: no such user in this organization.
        """
        self._session.delete(self._row(user_id))
        self._session.flush()

    def _row(self, user_id: uuid.UUID) -> User:
        return self._scoped_row(User, user_id, missing="No such user in this organization.")

    def _find_row(self, email: str) -> User | None:
        return self._session.scalar(
            select(User).where(User.organization_id == self._organization_id, func.lower(User.email) == email.lower())
        )


class AuditLog(_ScopedRepository):
    """The organization's append-only audit trail. Callers must not put secrets in ``details``."""

    def record(self, *, actor: str, action: str, details: Mapping[str, Any] | None = None) -> None:
        """Append an entry stamped with the clock's time. ``details`` must be JSON-serialisable."""
        entry = AuditEntry(
            organization_id=self._organization_id,
            actor=actor,
            action=action,
            details=dict(details or {}),
            created_at=self._clock(),
        )
        self._session.add(entry)
        self._session.flush()

    def recent(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        action: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[domain.AuditEntry]:
        """Up to ``limit`` entries after the first ``offset``, newest first (ties broken by insertion order); only
        those of ``action`` and of ``actor`` when given, recorded at ``since`` or later and before ``until``."""
        statement = (
            self._filtered(select(AuditEntry), action=action, actor=actor, since=since, until=until)
            .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return [as_value(domain.AuditEntry, row) for row in self._session.scalars(statement)]

    def count(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        """How many entries there are (of ``action`` and of ``actor`` when given, from ``since`` to before
        ``until``)."""
        statement = self._filtered(
            select(func.count()).select_from(AuditEntry), action=action, actor=actor, since=since, until=until
        )
        return self._session.scalar(statement) or 0

    def actions(self) -> list[str]:
        """The distinct actions recorded, sorted."""
        return self._distinct(AuditEntry.action)

    def actors(self) -> list[str]:
        """The distinct actors (emails, or ``sync`` for the importer), sorted."""
        return self._distinct(AuditEntry.actor)

    def _distinct(self, column: InstrumentedAttribute[str]) -> list[str]:
        statement = select(column).distinct().where(AuditEntry.organization_id == self._organization_id)
        return sorted(self._session.scalars(statement))

    def _filtered(
        self,
        statement: Select[_Row],
        *,
        action: str | None,
        actor: str | None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Select[_Row]:
        statement = statement.where(AuditEntry.organization_id == self._organization_id)
        if since is not None:
            statement = statement.where(AuditEntry.created_at >= since)
        if until is not None:
            statement = statement.where(AuditEntry.created_at < until)
        if action is not None:
            statement = statement.where(AuditEntry.action == action)
        if actor is not None:
            statement = statement.where(AuditEntry.actor == actor)
        return statement


class CrmConnectionRepository(_ScopedRepository):
    """The organization's single CRM connection. The client secret is encrypted before it reaches the session."""

    def __init__(self, session: Session, organization_id: uuid.UUID, *, clock: Clock, cipher: CredentialCipher) -> None:
        super().__init__(session, organization_id, clock=clock)
        self._cipher = cipher

    def find(self) -> domain.CrmConnection | None:
        """The connection, or None when the organization has none."""
        row = self._find_row()
        return as_value(domain.CrmConnection, row) if row is not None else None

    def get(self) -> domain.CrmConnection:
        """The connection.

        Raises:
            RowNotFoundError: the organization has no connection.
        """
        return as_value(domain.CrmConnection, self._row())

    def credentials(self) -> domain.CrmCredentials:
        """The connection's credentials, secret decrypted, to open a CRM session with.

        Raises:
            RowNotFoundError: the organization has no connection.
            UndecryptableSecretError: the secret was encrypted with another key.
        """
        row = self._row()
        return domain.CrmCredentials(
            org_url=row.org_url,
            tenant_id=row.tenant_id,
            client_id=row.client_id,
            client_secret=self._cipher.decrypt(row.client_secret_encrypted),
            ca_bundle=domain.CaBundle(row.ca_bundle_pem, row.ca_bundle_name) if row.ca_bundle_pem else None,
            authority=row.authority,
        )

    def currencies(self) -> CrmCurrencies:
        """The CRM's currencies as the last import read them (empty before the first, or without a connection)."""
        row = self._find_row()
        if row is None:
            return CrmCurrencies()
        return CrmCurrencies(row.base_currency_id, dict(row.currency_codes or {}))

    def save_currencies(self, currencies: CrmCurrencies) -> None:
        """Keep the CRM's currencies on the connection (nothing when the organization has none: it was
        disconnected meanwhile)."""
        row = self._find_row()
        if row is None:
            return
        row.base_currency_id = currencies.base_currency_id
        row.currency_codes = dict(currencies.codes)
        self._session.flush()

    def _find_row(self) -> CrmConnection | None:
        statement = select(CrmConnection).where(CrmConnection.organization_id == self._organization_id)
        return self._session.scalar(statement)

    def _row(self) -> CrmConnection:
        connection = self._find_row()
        if connection is None:
            raise RowNotFoundError("The organization has no CRM connection.")
        return connection

    def save_credentials(
        self,
        *,
        org_url: str,
        tenant_id: str,
        client_id: str,
        client_secret: SecretStr,
        ca_bundle_pem: str | None = None,
        ca_bundle_name: str | None = None,
        authority: str | None = None,
    ) -> domain.CrmConnection:
        """Create or replace the connection's credentials. The state becomes ``disconnected`` and the previous
        connection outcome (CRM user, connected time, last error) is cleared, since it belonged to the old
        credentials.

        Raises:
            StoreError: the organization does not exist.
        """
        now = self._clock()
        existing = self._find_row()
        connection = existing or CrmConnection(id=uuid.uuid4(), organization_id=self._organization_id)
        connection.org_url = org_url
        connection.tenant_id = tenant_id
        connection.client_id = client_id
        connection.client_secret_encrypted = self._cipher.encrypt(client_secret)
        connection.ca_bundle_pem = ca_bundle_pem
        connection.ca_bundle_name = ca_bundle_name
        connection.authority = authority
        connection.state = ConnectionState.DISCONNECTED
        connection.connected_crm_user_id = None
        connection.connected_at = None
        connection.last_error = None
        # Another environment may have other currencies: the next import reads them again.
        connection.base_currency_id = None
        connection.currency_codes = None
        connection.updated_at = now
        try:
            _flush_new(self._session, connection if existing is None else None, None)
        except IntegrityError as exc:
            raise StoreError("The CRM connection could not be saved: the organization does not exist.") from exc
        return as_value(domain.CrmConnection, connection)

    def client_secret(self) -> SecretStr:
        """The decrypted client secret.

        Raises:
            RowNotFoundError: the organization has no connection.
            UndecryptableSecretError: the secret was encrypted with another key.
        """
        return self._cipher.decrypt(self._row().client_secret_encrypted)

    def mark_connected(self, *, crm_user_id: str) -> domain.CrmConnection:
        """Record a successful connection as the CRM user ``crm_user_id``; clears the last error.

        Raises:
            RowNotFoundError: the organization has no connection.
        """
        connection = self._row()
        now = self._clock()
        connection.state = ConnectionState.CONNECTED
        connection.connected_crm_user_id = crm_user_id
        connection.connected_at = now
        connection.last_error = None
        connection.updated_at = now
        self._session.flush()
        return as_value(domain.CrmConnection, connection)

    def mark_failed(self, *, error: str) -> domain.CrmConnection:
        """Record a failed attempt with a user-safe ``error`` (it must carry no secret or token).

        Raises:
            RowNotFoundError: the organization has no connection.
        """
        connection = self._row()
        connection.state = ConnectionState.FAILED
        connection.last_error = error
        connection.updated_at = self._clock()
        self._session.flush()
        return as_value(domain.CrmConnection, connection)

    def delete(self) -> bool:
        """Delete the connection and its stored secret. Idempotent: returns whether a row was deleted."""
        statement = delete(CrmConnection).where(CrmConnection.organization_id == self._organization_id)
        result = self._session.execute(statement)
        return bool(getattr(result, "rowcount", 0))


class ImportRequestRepository(_ScopedRepository):
    """The organization's queue of CRM import requests."""

    def enqueue(self, *, reason: str) -> ImportRun:
        """Queue an import unless one is already queued. Idempotent: the queued request is returned unchanged.

        Raises:
            StoreError: the organization does not exist.
        """
        queued = self.queued()
        if queued:
            return queued[0]
        request = ImportRequest(
            id=uuid.uuid4(),
            organization_id=self._organization_id,
            requested_at=self._clock(),
            reason=reason,
            state=ImportState.QUEUED,
        )
        try:
            _flush_new(self._session, request, None)
        except IntegrityError as exc:
            raise StoreError("The import could not be queued: the organization does not exist.") from exc
        return import_run_value(request)

    def queued(self) -> list[ImportRun]:
        """The queued requests, oldest first."""
        statement = (
            select(ImportRequest)
            .where(ImportRequest.organization_id == self._organization_id, ImportRequest.state == ImportState.QUEUED)
            .order_by(ImportRequest.requested_at, ImportRequest.id)
        )
        return [import_run_value(row) for row in self._session.scalars(statement)]


def _flush_new(session: Session, row: object | None, on_conflict: StoreError | None) -> None:
    """Flush inside a savepoint so a constraint violation leaves the surrounding transaction usable.

    Raises ``on_conflict`` (from the IntegrityError) when given, else the IntegrityError itself.
    """
    try:
        with session.begin_nested():
            if row is not None:
                session.add(row)
            session.flush()
    except IntegrityError as exc:
        if on_conflict is not None:
            raise on_conflict from exc
        raise


def as_value(value_type: type[_Value], row: object) -> _Value:
    """``row`` as the domain value ``value_type``: each field from the row's attribute of the same name (the values
    of :mod:`salesbridge.domain.workspace` name their fields after the columns, and leave out the secrets)."""
    return value_type(**{field.name: getattr(row, field.name) for field in dataclasses.fields(value_type)})


def import_run_value(row: ImportRequest) -> ImportRun:
    """The import request row as a value."""
    return as_value(ImportRun, row)
