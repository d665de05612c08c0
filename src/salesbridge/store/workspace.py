"""Repositories of the workspace: seats, imported CRM users, invitations, API tokens and web sessions.

Like every repository of the store, each is scoped to one organization and filters every statement by it. Tokens
(invitations, API tokens, web sessions) are stored only as SHA-256 hex digests: the store never holds a usable
token. :func:`organization_of_token` is the one unscoped read here; it turns a presented token into the
organization that scopes the unit of work which then checks it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from salesbridge.domain.seat_matching import MatchOutcome
from salesbridge.errors import RowNotFoundError, StoreError, UniqueConstraintError
from salesbridge.store.repositories import _flush_new, _ScopedRepository
from salesbridge.store.tables import (
    ApiToken,
    CrmUser,
    Invitation,
    Seat,
    SeatState,
    User,
    WebSession,
)


def digest_token(token: str) -> str:
    """The SHA-256 hex digest under which a token (invitation, API token, web session) is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CrmUserValues:
    """One ``systemuser`` as read from the CRM, to upsert into :class:`CrmUser`."""

    crm_id: str
    full_name: str
    email: str | None
    entra_object_id: str | None
    is_disabled: bool
    is_application: bool
    access_mode: int | None


@dataclass(frozen=True)
class CrmUserSync:
    """What :meth:`CrmUserRepository.replace_all` changed."""

    added: int
    updated: int
    removed: int


class CrmUserRepository(_ScopedRepository):
    """The organization's imported CRM users."""

    def replace_all(self, users: Iterable[CrmUserValues]) -> CrmUserSync:
        """Make the stored CRM users exactly ``users``: upsert by ``crm_id`` (ours ids stay stable, so seats keep
        their match) and delete the ones the CRM no longer has. Idempotent.

        Raises:
            StoreError: the organization does not exist.
        """
        now = self._clock()
        existing = {row.crm_id: row for row in self.list_all()}
        seen: set[str] = set()
        added = updated = 0
        for values in users:
            crm_id = values.crm_id.lower()
            if crm_id in seen:
                continue
            seen.add(crm_id)
            row = existing.get(crm_id)
            if row is None:
                row = CrmUser(id=uuid.uuid4(), organization_id=self._organization_id, crm_id=crm_id)
                self._session.add(row)
                added += 1
            else:
                updated += 1
            row.full_name = values.full_name
            row.email = values.email
            row.entra_object_id = values.entra_object_id.lower() if values.entra_object_id else None
            row.is_disabled = values.is_disabled
            row.is_application = values.is_application
            row.access_mode = values.access_mode
            row.imported_at = now
        gone = [row.id for crm_id, row in existing.items() if crm_id not in seen]
        if gone:
            self._session.execute(
                delete(CrmUser).where(CrmUser.organization_id == self._organization_id, CrmUser.id.in_(gone))
            )
        try:
            self._session.flush()
        except IntegrityError as exc:
            raise StoreError("The CRM users could not be saved: the organization does not exist.") from exc
        return CrmUserSync(added=added, updated=updated, removed=len(gone))

    def list_all(self) -> list[CrmUser]:
        """Every imported CRM user, by name."""
        statement = (
            select(CrmUser)
            .where(CrmUser.organization_id == self._organization_id)
            .order_by(func.lower(CrmUser.full_name), CrmUser.crm_id)
        )
        return list(self._session.scalars(statement))

    def get_many(self, ids: Sequence[uuid.UUID]) -> list[CrmUser]:
        """The CRM users of this organization among ``ids`` (unknown ids are left out)."""
        if not ids:
            return []
        statement = select(CrmUser).where(CrmUser.organization_id == self._organization_id, CrmUser.id.in_(ids))
        return list(self._session.scalars(statement))

    def find_by_crm_id(self, crm_id: str) -> CrmUser | None:
        """The CRM user with systemuserid ``crm_id``, or None."""
        statement = select(CrmUser).where(
            CrmUser.organization_id == self._organization_id, CrmUser.crm_id == crm_id.lower()
        )
        return self._session.scalar(statement)

    def count(self) -> int:
        """How many CRM users are imported."""
        statement = select(func.count()).select_from(CrmUser).where(CrmUser.organization_id == self._organization_id)
        return self._session.scalar(statement) or 0

    def last_imported_at(self) -> datetime | None:
        """When the CRM users were last imported, or None."""
        statement = select(func.max(CrmUser.imported_at)).where(CrmUser.organization_id == self._organization_id)
        return self._session.scalar(statement)

    def delete_all(self) -> int:
        """Delete every imported CRM user (seats lose their match). Returns how many were deleted."""
        result = self._session.execute(delete(CrmUser).where(CrmUser.organization_id == self._organization_id))
        return int(getattr(result, "rowcount", 0) or 0)


class SeatRepository(_ScopedRepository):
    """The organization's seats."""

    def add(self, *, user_id: uuid.UUID, state: SeatState, assigned_by: str, crm_sync_enabled: bool = True) -> Seat:
        """Give ``user_id`` a seat, not yet matched (:attr:`MatchOutcome.NOT_IMPORTED`).

        Raises:
            UniqueConstraintError: the user already holds a seat (field ``"user_id"``).
            RowNotFoundError: no such user in this organization.
        """
        if (
            self._session.scalar(
                select(User.id).where(User.organization_id == self._organization_id, User.id == user_id)
            )
            is None
        ):
            raise RowNotFoundError("No such user in this organization.")
        if self.find_by_user(user_id) is not None:
            raise UniqueConstraintError("This user already holds a seat.", field="user_id")
        seat = Seat(
            id=uuid.uuid4(),
            organization_id=self._organization_id,
            user_id=user_id,
            state=state,
            crm_sync_enabled=crm_sync_enabled,
            crm_user_id=None,
            match=MatchOutcome.NOT_IMPORTED,
            assigned_at=self._clock(),
            assigned_by=assigned_by,
        )
        _flush_new(self._session, seat, UniqueConstraintError("This user already holds a seat.", field="user_id"))
        return seat

    def get(self, seat_id: uuid.UUID) -> Seat:
        """The seat ``seat_id`` of this organization.

        Raises:
            RowNotFoundError: no such seat in this organization (including seats of other organizations).
        """
        seat = self._session.scalar(
            select(Seat).where(Seat.organization_id == self._organization_id, Seat.id == seat_id)
        )
        if seat is None:
            raise RowNotFoundError("No such seat in this organization.")
        return seat

    def find_by_user(self, user_id: uuid.UUID) -> Seat | None:
        """The seat held by ``user_id``, or None."""
        return self._session.scalar(
            select(Seat).where(Seat.organization_id == self._organization_id, Seat.user_id == user_id)
        )

    def list_with_users(self) -> list[tuple[Seat, User]]:
        """Every seat with its holder, by the holder's email."""
        statement = (
            select(Seat, User)
            .join(User, User.id == Seat.user_id)
            .where(Seat.organization_id == self._organization_id, User.organization_id == self._organization_id)
            .order_by(func.lower(User.email))
        )
        return [(row[0], row[1]) for row in self._session.execute(statement)]

    def count(self) -> int:
        """How many seats are assigned (invited or active)."""
        statement = select(func.count()).select_from(Seat).where(Seat.organization_id == self._organization_id)
        return self._session.scalar(statement) or 0

    def flush(self) -> None:
        """Send pending changes of seats to the database (inside the unit of work's transaction)."""
        self._session.flush()

    def remove(self, seat_id: uuid.UUID) -> None:
        """Free the seat.

        Raises:
            RowNotFoundError: no such seat in this organization.
        """
        self._session.delete(self.get(seat_id))
        self._session.flush()


class InvitationRepository(_ScopedRepository):
    """Invitations to take a seat."""

    def add(self, *, user_id: uuid.UUID, token_hash: str, invited_by: str, expires_at: datetime) -> Invitation:
        """Record an invitation for ``user_id`` whose token hashes to ``token_hash``.

        Raises:
            StoreError: the user or the organization does not exist.
        """
        invitation = Invitation(
            id=uuid.uuid4(),
            organization_id=self._organization_id,
            user_id=user_id,
            token_hash=token_hash,
            invited_by=invited_by,
            created_at=self._clock(),
            expires_at=expires_at,
            accepted_at=None,
        )
        try:
            _flush_new(self._session, invitation, None)
        except IntegrityError as exc:
            raise StoreError("The invitation could not be saved.") from exc
        return invitation

    def find_by_token_hash(self, token_hash: str) -> Invitation | None:
        """The invitation whose token hashes to ``token_hash``, or None."""
        return self._session.scalar(
            select(Invitation).where(
                Invitation.organization_id == self._organization_id, Invitation.token_hash == token_hash
            )
        )

    def pending_for_user(self, user_id: uuid.UUID) -> list[Invitation]:
        """Invitations of ``user_id`` not yet accepted, newest first."""
        statement = (
            select(Invitation)
            .where(
                Invitation.organization_id == self._organization_id,
                Invitation.user_id == user_id,
                Invitation.accepted_at.is_(None),
            )
            .order_by(Invitation.created_at.desc())
        )
        return list(self._session.scalars(statement))

    def mark_accepted(self, invitation_id: uuid.UUID) -> Invitation:
        """Stamp the invitation accepted now.

        Raises:
            RowNotFoundError: no such invitation in this organization.
        """
        invitation = self._session.scalar(
            select(Invitation).where(
                Invitation.organization_id == self._organization_id, Invitation.id == invitation_id
            )
        )
        if invitation is None:
            raise RowNotFoundError("No such invitation in this organization.")
        invitation.accepted_at = self._clock()
        self._session.flush()
        return invitation


class ApiTokenRepository(_ScopedRepository):
    """Users' API tokens."""

    def add(self, *, user_id: uuid.UUID, name: str, prefix: str, token_hash: str) -> ApiToken:
        """Record a token of ``user_id``.

        Raises:
            StoreError: the user or the organization does not exist.
        """
        token = ApiToken(
            id=uuid.uuid4(),
            organization_id=self._organization_id,
            user_id=user_id,
            name=name,
            prefix=prefix,
            token_hash=token_hash,
            created_at=self._clock(),
        )
        try:
            _flush_new(self._session, token, None)
        except IntegrityError as exc:
            raise StoreError("The API token could not be saved.") from exc
        return token

    def find_active_by_hash(self, token_hash: str) -> ApiToken | None:
        """The unrevoked token hashing to ``token_hash``, or None."""
        return self._session.scalar(
            select(ApiToken).where(
                ApiToken.organization_id == self._organization_id,
                ApiToken.token_hash == token_hash,
                ApiToken.revoked_at.is_(None),
            )
        )

    def list_for_user(self, user_id: uuid.UUID) -> list[ApiToken]:
        """The tokens of ``user_id``, revoked ones included, newest first."""
        statement = (
            select(ApiToken)
            .where(ApiToken.organization_id == self._organization_id, ApiToken.user_id == user_id)
            .order_by(ApiToken.created_at.desc())
        )
        return list(self._session.scalars(statement))

    def touch(self, token: ApiToken) -> None:
        """Stamp the token used now."""
        token.last_used_at = self._clock()
        self._session.flush()

    def revoke(self, *, user_id: uuid.UUID, token_id: uuid.UUID) -> ApiToken:
        """Revoke the token ``token_id`` of ``user_id``. Idempotent.

        Raises:
            RowNotFoundError: the user has no such token.
        """
        token = self._session.scalar(
            select(ApiToken).where(
                ApiToken.organization_id == self._organization_id,
                ApiToken.user_id == user_id,
                ApiToken.id == token_id,
            )
        )
        if token is None:
            raise RowNotFoundError("No such API token.")
        if token.revoked_at is None:
            token.revoked_at = self._clock()
            self._session.flush()
        return token


class WebSessionRepository(_ScopedRepository):
    """Signed-in browser sessions."""

    def add(self, *, user_id: uuid.UUID, token_hash: str, csrf_token: str, expires_at: datetime) -> WebSession:
        """Record a session of ``user_id``.

        Raises:
            StoreError: the user or the organization does not exist.
        """
        web_session = WebSession(
            id=uuid.uuid4(),
            organization_id=self._organization_id,
            user_id=user_id,
            token_hash=token_hash,
            csrf_token=csrf_token,
            created_at=self._clock(),
            expires_at=expires_at,
        )
        try:
            _flush_new(self._session, web_session, None)
        except IntegrityError as exc:
            raise StoreError("The session could not be saved.") from exc
        return web_session

    def find_live_by_hash(self, token_hash: str) -> WebSession | None:
        """The unexpired session whose token hashes to ``token_hash``, or None."""
        return self._session.scalar(
            select(WebSession).where(
                WebSession.organization_id == self._organization_id,
                WebSession.token_hash == token_hash,
                WebSession.expires_at > self._clock(),
            )
        )

    def delete_by_hash(self, token_hash: str) -> None:
        """End the session whose token hashes to ``token_hash``. Idempotent."""
        self._session.execute(
            delete(WebSession).where(
                WebSession.organization_id == self._organization_id, WebSession.token_hash == token_hash
            )
        )

    def delete_for_user(self, user_id: uuid.UUID) -> None:
        """End every session of ``user_id`` (after a password change, or when the user is removed)."""
        self._session.execute(
            delete(WebSession).where(WebSession.organization_id == self._organization_id, WebSession.user_id == user_id)
        )


def organization_of_token(
    session_factory: sessionmaker[Session], table: type[ApiToken | WebSession | Invitation], token_hash: str
) -> uuid.UUID | None:
    """The organization owning the row of ``table`` whose token hashes to ``token_hash``, or None.

    The caller then opens a unit of work scoped to that organization and re-reads the row there, so every check
    of the token itself (expiry, revocation) runs in scoped code.
    """
    with session_factory() as session:
        return session.scalar(select(table.organization_id).where(table.token_hash == token_hash))
