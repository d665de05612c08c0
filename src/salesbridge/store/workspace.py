"""Repositories of the workspace: seats, imported CRM users, invitations, API tokens, web sessions, and the log
of failed sign-ins.

Like every repository of the store, each is scoped to one organization and filters every statement by it. Tokens
(invitations, API tokens, web sessions) are stored only as SHA-256 hex digests: the store never holds a usable
token. :func:`organization_of_token` is the one unscoped read here; it turns a presented token into the
organization that scopes the unit of work which then checks it. :class:`SignInFailureLog` is unscoped too: it
counts sign-in attempts before any organization is known.

The repositories implement the protocols of :mod:`salesbridge.services.ports`: they return values of
:mod:`salesbridge.domain.workspace` (converted by :func:`~salesbridge.store.repositories.as_value`), never rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from salesbridge.domain import workspace as domain
from salesbridge.domain.seat_matching import MatchOutcome
from salesbridge.domain.sign_in_throttle import SignInAdmission, SignInThrottlePolicy, ThrottleRule
from salesbridge.domain.workspace import CrmUserSync as CrmUserSync  # tests and the import engine import them here
from salesbridge.domain.workspace import CrmUserValues as CrmUserValues
from salesbridge.errors import RowNotFoundError, StoreError, UniqueConstraintError
from salesbridge.store.repositories import _flush_new, _ScopedRepository, as_value
from salesbridge.store.tables import (
    ApiToken,
    CrmUser,
    Invitation,
    Seat,
    SeatState,
    SignInFailure,
    User,
    WebSession,
)


class CrmUserRepository(_ScopedRepository):
    """The organization's imported CRM users."""

    def replace_all(self, users: Iterable[CrmUserValues]) -> CrmUserSync:
        """Make the stored CRM users exactly ``users``: upsert by ``crm_id`` (ours ids stay stable, so seats keep
        their match) and delete the ones the CRM no longer has. Idempotent.

        Raises:
            StoreError: the organization does not exist.
        """
        now = self._clock()
        existing = {row.crm_id: row for row in self._rows()}
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

    def list_all(self) -> list[domain.CrmUser]:
        """Every imported CRM user, by name."""
        return [as_value(domain.CrmUser, row) for row in self._rows()]

    def find_by_crm_id(self, crm_id: str) -> domain.CrmUser | None:
        """The CRM user with systemuserid ``crm_id``, or None."""
        statement = select(CrmUser).where(
            CrmUser.organization_id == self._organization_id, CrmUser.crm_id == crm_id.lower()
        )
        row = self._session.scalar(statement)
        return as_value(domain.CrmUser, row) if row is not None else None

    def find(self, crm_user_id: uuid.UUID) -> domain.CrmUser | None:
        """See the port."""
        statement = select(CrmUser).where(CrmUser.organization_id == self._organization_id, CrmUser.id == crm_user_id)
        row = self._session.scalar(statement)
        return as_value(domain.CrmUser, row) if row is not None else None

    def count(self) -> int:
        """How many CRM users are imported."""
        statement = select(func.count()).select_from(CrmUser).where(CrmUser.organization_id == self._organization_id)
        return self._session.scalar(statement) or 0

    def last_imported_at(self) -> datetime | None:
        """When the CRM users were last imported, or None."""
        statement = select(func.max(CrmUser.imported_at)).where(CrmUser.organization_id == self._organization_id)
        return self._session.scalar(statement)

    def _rows(self) -> list[CrmUser]:
        statement = (
            select(CrmUser)
            .where(CrmUser.organization_id == self._organization_id)
            .order_by(func.lower(CrmUser.full_name), CrmUser.crm_id)
        )
        return list(self._session.scalars(statement))


class SeatRepository(_ScopedRepository):
    """The organization's seats."""

    def add(
        self, *, user_id: uuid.UUID, state: SeatState, assigned_by: str, crm_sync_enabled: bool = True
    ) -> domain.Seat:
        """Give ``user_id`` a seat, not yet matched (:attr:`MatchOutcome.NOT_IMPORTED`).

        Raises:
            UniqueConstraintError: the user already holds a seat (field ``"user_id"``).
            RowNotFoundError: no such user in this organization.
        """
        self._require_user(user_id)
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
        return as_value(domain.Seat, seat)

    def get(self, seat_id: uuid.UUID) -> domain.Seat:
        """The seat ``seat_id`` of this organization.

        Raises:
            RowNotFoundError: no such seat in this organization (including seats of other organizations).
        """
        return as_value(domain.Seat, self._row(seat_id))

    def find_by_user(self, user_id: uuid.UUID) -> domain.Seat | None:
        """The seat held by ``user_id``, or None."""
        row = self._session.scalar(
            select(Seat).where(Seat.organization_id == self._organization_id, Seat.user_id == user_id)
        )
        return as_value(domain.Seat, row) if row is not None else None

    def list_with_users(self) -> list[tuple[domain.Seat, domain.User]]:
        """Every seat with its holder, by the holder's email."""
        statement = (
            select(Seat, User)
            .join(User, User.id == Seat.user_id)
            .where(Seat.organization_id == self._organization_id, User.organization_id == self._organization_id)
            .order_by(func.lower(User.email))
        )
        return [
            (as_value(domain.Seat, row[0]), as_value(domain.User, row[1])) for row in self._session.execute(statement)
        ]

    def count(self) -> int:
        """How many seats are assigned (invited or active)."""
        statement = select(func.count()).select_from(Seat).where(Seat.organization_id == self._organization_id)
        return self._session.scalar(statement) or 0

    def set_state(self, seat_id: uuid.UUID, state: SeatState) -> domain.Seat:
        """Make the seat ``state``. Idempotent.

        Raises:
            RowNotFoundError: no such seat in this organization.
        """
        seat = self._row(seat_id)
        seat.state = state
        self._session.flush()
        return as_value(domain.Seat, seat)

    def set_crm_sync(self, seat_id: uuid.UUID, enabled: bool) -> domain.Seat:
        """Turn the seat's own CRM sync switch on or off. Idempotent.

        Raises:
            RowNotFoundError: no such seat in this organization.
        """
        seat = self._row(seat_id)
        seat.crm_sync_enabled = enabled
        self._session.flush()
        return as_value(domain.Seat, seat)

    def set_matches(self, matches: Mapping[uuid.UUID, tuple[MatchOutcome, uuid.UUID | None]]) -> None:
        """Record the outcome of matching: for each seat id, how it matched and the CRM user it matched. Seats
        not named keep theirs; unknown seat ids are ignored. Only seats whose match changed are written."""
        if not matches:
            return
        statement = select(Seat).where(Seat.organization_id == self._organization_id, Seat.id.in_(list(matches)))
        for seat in self._session.scalars(statement):
            outcome, crm_user_id = matches[seat.id]
            if seat.match != outcome or seat.crm_user_id != crm_user_id:
                seat.match, seat.crm_user_id = outcome, crm_user_id
        self._session.flush()

    def remove(self, seat_id: uuid.UUID) -> None:
        """Free the seat.

        Raises:
            RowNotFoundError: no such seat in this organization.
        """
        self._session.delete(self._row(seat_id))
        self._session.flush()

    def _row(self, seat_id: uuid.UUID) -> Seat:
        return self._scoped_row(Seat, seat_id, missing="No such seat in this organization.")


class InvitationRepository(_ScopedRepository):
    """Invitations to take a seat."""

    def add(self, *, user_id: uuid.UUID, token_hash: str, invited_by: str, expires_at: datetime) -> domain.Invitation:
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
        return as_value(domain.Invitation, invitation)

    def find_by_token_hash(self, token_hash: str) -> domain.Invitation | None:
        """The invitation whose token hashes to ``token_hash``, or None."""
        row = self._session.scalar(
            select(Invitation).where(
                Invitation.organization_id == self._organization_id, Invitation.token_hash == token_hash
            )
        )
        return as_value(domain.Invitation, row) if row is not None else None

    def mark_accepted(self, invitation_id: uuid.UUID) -> domain.Invitation:
        """Stamp the invitation accepted now.

        Raises:
            RowNotFoundError: no such invitation in this organization.
        """
        invitation = self._scoped_row(Invitation, invitation_id, missing="No such invitation in this organization.")
        invitation.accepted_at = self._clock()
        self._session.flush()
        return as_value(domain.Invitation, invitation)


class ApiTokenRepository(_ScopedRepository):
    """Users' API tokens."""

    def add(
        self, *, user_id: uuid.UUID, name: str, prefix: str, token_hash: str, expires_at: datetime
    ) -> domain.ApiToken:
        """Record a token of ``user_id``, valid until ``expires_at``.

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
            expires_at=expires_at,
        )
        try:
            _flush_new(self._session, token, None)
        except IntegrityError as exc:
            raise StoreError("The API token could not be saved.") from exc
        return as_value(domain.ApiToken, token)

    def find_active_by_hash(self, token_hash: str) -> domain.ApiToken | None:
        """The unrevoked, unexpired token hashing to ``token_hash``, or None."""
        row = self._session.scalar(
            select(ApiToken).where(
                ApiToken.organization_id == self._organization_id,
                ApiToken.token_hash == token_hash,
                ApiToken.revoked_at.is_(None),
                ApiToken.expires_at > self._clock(),
            )
        )
        return as_value(domain.ApiToken, row) if row is not None else None

    def list_for_user(self, user_id: uuid.UUID) -> list[domain.ApiToken]:
        """The tokens of ``user_id``, revoked ones included, newest first."""
        statement = (
            select(ApiToken)
            .where(ApiToken.organization_id == self._organization_id, ApiToken.user_id == user_id)
            .order_by(ApiToken.created_at.desc())
        )
        return [as_value(domain.ApiToken, row) for row in self._session.scalars(statement)]

    def touch(self, token_id: uuid.UUID, *, granularity: timedelta) -> bool:
        """Stamp the token ``token_id`` used now, unless its stamp is less than ``granularity`` old, so a busy
        token is written at most once per ``granularity``. One conditional ``UPDATE``: of concurrent calls, one
        writes. Returns whether it wrote.
        """
        now = self._clock()
        result = self._session.execute(
            update(ApiToken)
            .where(
                ApiToken.organization_id == self._organization_id,
                ApiToken.id == token_id,
                or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - granularity),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    def revoke(self, *, user_id: uuid.UUID, token_id: uuid.UUID) -> domain.ApiToken:
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
        return as_value(domain.ApiToken, token)


class WebSessionRepository(_ScopedRepository):
    """Signed-in browser sessions."""

    def add(self, *, user_id: uuid.UUID, token_hash: str, csrf_token: str, expires_at: datetime) -> domain.WebSession:
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
        return as_value(domain.WebSession, web_session)

    def find_live_by_hash(self, token_hash: str) -> domain.WebSession | None:
        """The unexpired session whose token hashes to ``token_hash``, or None."""
        row = self._session.scalar(
            select(WebSession).where(
                WebSession.organization_id == self._organization_id,
                WebSession.token_hash == token_hash,
                WebSession.expires_at > self._clock(),
            )
        )
        return as_value(domain.WebSession, row) if row is not None else None

    def delete_by_hash(self, token_hash: str) -> None:
        """End the session whose token hashes to ``token_hash``. Idempotent."""
        self._session.execute(
            delete(WebSession).where(
                WebSession.organization_id == self._organization_id, WebSession.token_hash == token_hash
            )
        )


class SignInFailureLog:
    """Failed sign-in attempts, shared by every console process on the store (see :class:`SignInFailure`).

    Not scoped by organization, deliberately: attempts are counted before any organization is known. Each method
    is one short transaction of its own, never run while a password is being hashed.
    """

    PURGE_BATCH = 100
    """Expired rows deleted per admission: more than an attempt adds, so the table stays bounded."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def admit(
        self, *, account: str, address: str | None, policy: SignInThrottlePolicy, now: datetime
    ) -> SignInAdmission:
        """Decide whether an attempt on ``account`` from ``address`` (subjects of
        :mod:`salesbridge.domain.sign_in_throttle`) may go ahead at ``now``, and if so count it against the
        account at once, as a failure until :meth:`succeeded` says otherwise. Admissions of one account are
        serialized (a write lock on SQLite, an advisory lock on PostgreSQL), so parallel guessers of one account
        get exactly ``policy.per_account.limit`` attempts per window. The address is only read: a failure counts
        against it when :meth:`failed` records it.
        """
        with self._session_factory() as session, session.begin():
            # A write first: on SQLite it takes the write lock before the reads below (no read-then-upgrade race).
            self._purge(session, now - policy.longest_window)
            if session.get_bind().dialect.name == "postgresql":
                key = int.from_bytes(bytes.fromhex(account[:16]), "big", signed=True)
                session.execute(select(func.pg_advisory_xact_lock(key)))
            account_failures = self._recent_failures(session, account, policy.per_account, now)
            waits = [policy.per_account.retry_at(account_failures, now)]
            if address is not None:
                waits.append(
                    policy.per_address.retry_at(self._recent_failures(session, address, policy.per_address, now), now)
                )
            retry_at = max((moment for moment in waits if moment is not None), default=None)
            if retry_at is not None:
                return SignInAdmission(attempt_id=None, retry_at=retry_at)
            attempt_id = uuid.uuid4()
            session.add(SignInFailure(id=attempt_id, subject=account, failed_at=now))
        locks_until = policy.per_account.retry_at([*account_failures, now], now)
        return SignInAdmission(attempt_id=attempt_id, retry_at=None, locks_until=locks_until)

    def failed(self, *, address: str | None, now: datetime) -> None:
        """The admitted attempt failed: it stays counted against its account, and now counts against ``address``
        too (when known)."""
        if address is None:
            return
        with self._session_factory() as session, session.begin():
            session.add(SignInFailure(id=uuid.uuid4(), subject=address, failed_at=now))

    def succeeded(self, *, account: str) -> None:
        """An attempt on ``account`` succeeded: its failures (this attempt's included) no longer count."""
        with self._session_factory() as session, session.begin():
            session.execute(delete(SignInFailure).where(SignInFailure.subject == account))

    def withdraw(self, attempt_id: uuid.UUID) -> None:
        """The admitted attempt ``attempt_id`` was not made (the server was too busy): it does not count."""
        with self._session_factory() as session, session.begin():
            session.execute(delete(SignInFailure).where(SignInFailure.id == attempt_id))

    @staticmethod
    def _recent_failures(session: Session, subject: str, rule: ThrottleRule, now: datetime) -> list[datetime]:
        # The `limit` most recent failures decide: the attempt waits for the oldest of them to leave the window.
        statement = (
            select(SignInFailure.failed_at)
            .where(SignInFailure.subject == subject, SignInFailure.failed_at > now - rule.window)
            .order_by(SignInFailure.failed_at.desc())
            .limit(rule.limit)
        )
        return list(session.scalars(statement))

    def _purge(self, session: Session, cutoff: datetime) -> None:
        expired = (
            select(SignInFailure.id)
            .where(SignInFailure.failed_at <= cutoff)
            .order_by(SignInFailure.failed_at)
            .limit(self.PURGE_BATCH)
            .with_for_update(skip_locked=True)  # PostgreSQL: rows another admission is purging are left to it
        )
        session.execute(delete(SignInFailure).where(SignInFailure.id.in_(expired)))


def organization_of_token(
    session_factory: sessionmaker[Session], table: type[ApiToken | WebSession | Invitation], token_hash: str
) -> uuid.UUID | None:
    """The organization owning the row of ``table`` whose token hashes to ``token_hash``, or None.

    The caller then opens a unit of work scoped to that organization and re-reads the row there, so every check
    of the token itself (expiry, revocation) runs in scoped code.
    """
    with session_factory() as session:
        return session.scalar(select(table.organization_id).where(table.token_hash == token_hash))
