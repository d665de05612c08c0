"""People and their credentials: creating users, signing in and out, browser sessions, API tokens, the console
language and accepting invitations.

Secrets never leave this module except once: a new session token or API token is returned as a
:class:`~pydantic.SecretStr` to the caller that created it. The store keeps only SHA-256 digests of tokens and
argon2 hashes of passwords; nothing here returns, logs or audits either. Sign-in answers every failure (unknown
organization, unknown user, user without password, wrong password) with the same :class:`SignInRejectedError`,
after about the same amount of work (a password is always verified, against a dummy hash when there is no user).

Sign-in is throttled (:mod:`salesbridge.domain.sign_in_throttle`): failures are counted per account as typed and
per client address in the store, so every console process sees them; an attempt over a limit is refused with
:class:`SignInThrottledError` before any password is hashed. Hashing itself goes through a
:class:`~salesbridge.services.sign_in_guard.PasswordHashingGate`, and never inside a unit of work.

Passwords must be at least 12 characters and hard to guess (:mod:`salesbridge.domain.password_strength`).
API tokens expire (90 days unless chosen otherwise), can be created only by a signed-in session or the command
line (never by another token), and record their last use to within :data:`TOKEN_USE_GRANULARITY`.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import SecretStr

from salesbridge.domain.password_strength import PasswordWeakness, password_weakness
from salesbridge.domain.sign_in_throttle import SignInThrottlePolicy, account_subject, address_subject
from salesbridge.errors import InvalidRequestError, RowNotFoundError, TryAgainLaterError, UniqueConstraintError
from salesbridge.i18n import N_, SUPPORTED_LOCALES
from salesbridge.services.connect import StoreAccess, UnknownOrganizationError
from salesbridge.services.ports import Clock
from salesbridge.services.crm_users import rematch_seats
from salesbridge.services.sign_in_guard import PasswordHashingBusyError, PasswordHashingGate
from salesbridge.store.tables import SeatState, User
from salesbridge.store.uow import SqlAlchemyUnitOfWork

SESSION_LIFETIME: Final = timedelta(hours=12)
"""How long a browser session lasts after sign-in (not extended by use)."""
MIN_PASSWORD_LENGTH: Final = 12
MAX_PASSWORD_LENGTH: Final = 1024
API_TOKEN_PREFIX: Final = "sb_"
API_TOKEN_DISPLAY_LENGTH: Final = 8
"""How many leading characters of an API token are kept to tell tokens apart (``sb_`` + 5)."""
API_TOKEN_LIFETIME_DAYS: Final = 90
"""How long a new API token lasts unless its creator chooses otherwise."""
API_TOKEN_LIFETIME_CHOICES_DAYS: Final = (7, 30, 90, 180, 365)
"""The lifetimes the console offers; the API and the command line accept any number of days up to the last."""
TOKEN_USE_GRANULARITY: Final = timedelta(minutes=5)
"""An API token's "last used" is written at most once per this interval (not on every call)."""

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def token_digest(token: str) -> str:
    """The SHA-256 hex digest under which a session, invitation or API token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


class AccountError(InvalidRequestError):
    """A refusal of an account use case whose message is shown to the person who caused it.

    ``str(error)`` is English; :meth:`localized` gives it in another supported language.
    """

    MESSAGE: str = N_("The request could not be completed.")

    def __init__(self, message_id: str | None = None, **fields: Any) -> None:
        super().__init__(message_id or self.MESSAGE, **fields)


class InvalidInputError(AccountError):
    """A value given by the caller breaks a rule (email format, password policy, name length, language).

    Attributes:
        field: The input that was refused (``"email"``, ``"password"``, ``"display_name"``, ``"locale"``,
            ``"name"``).
    """

    def __init__(self, message_id: str, *, field: str, **fields: Any) -> None:
        self.field = field
        super().__init__(message_id, **fields)


class ContractFullError(AccountError):
    """Every seat of the organization's contract is already assigned."""

    MESSAGE = N_("All {seats} seats of your contract are assigned. Free a seat or buy more before adding one.")


class SignInRejectedError(AccountError):
    """The workspace, email or password is wrong; deliberately does not say which."""

    MESSAGE = N_("The workspace, email or password is not correct.")


class SignInThrottledError(TryAgainLaterError):
    """Too many failed sign-ins for this account or from this address: no password was checked.

    Attributes:
        retry_at: When the next attempt will be allowed.
    """

    MESSAGE = N_("Too many failed sign-ins. Try again in {minutes} min (after {time} UTC).")

    def __init__(self, retry_at: datetime, *, now: datetime) -> None:
        seconds = max((retry_at - now).total_seconds(), 1.0)
        super().__init__(
            self.MESSAGE, retry_after_s=math.ceil(seconds), minutes=math.ceil(seconds / 60), time=f"{retry_at:%H:%M}"
        )
        self.retry_at = retry_at


class SessionRequiredError(AccountError):
    """Creating API tokens needs a signed-in session (or the command line): a token cannot mint tokens."""

    MESSAGE = N_("API tokens can be created only from the Account page or the command line, not with an API token.")


class InvitationInvalidError(AccountError):
    """The invitation does not exist, has expired or was already accepted."""

    MESSAGE = N_("This invitation is not valid: it may have expired or been used already. Ask your administrator.")


class AdministratorRequiredError(AccountError):
    """The use case is for administrators of the organization only."""

    MESSAGE = N_("Only administrators of your organization can do this.")


class ApiTokenNotFoundError(RowNotFoundError):
    """The user has no API token with this id (tokens of other users and organizations included)."""


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user of an organization, as authenticated by a session or an API token.

    Attributes:
        has_seat: The user holds a seat (invited or active) of the organization's contract.
        locale: The user's console language, ``en`` or ``es``.
        via_api_token: Authenticated by an API token (which may not create tokens).
    """

    organization_id: uuid.UUID
    organization_slug: str
    user_id: uuid.UUID
    email: str
    display_name: str
    is_admin: bool
    has_seat: bool
    locale: str
    via_api_token: bool = False


@dataclass(frozen=True)
class SignedIn:
    """A new browser session. ``session_token`` is the only copy of the token; ``csrf_token`` must accompany
    every state-changing request of the session."""

    principal: Principal
    session_token: SecretStr = field(repr=False)
    csrf_token: str = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True)
class SessionContext:
    """A live browser session: who it belongs to and the token its state-changing requests must carry."""

    principal: Principal
    csrf_token: str = field(repr=False)


@dataclass(frozen=True)
class ApiTokenView:
    """An API token as shown to its owner: never the token itself, only its first characters.

    Attributes:
        last_used_at: When it was last used, to within :data:`TOKEN_USE_GRANULARITY`; None if never.
        is_expired: Its expiry had passed when the view was made.
    """

    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    revoked_at: datetime | None
    is_expired: bool

    @property
    def is_active(self) -> bool:
        """True until revoked or expired."""
        return self.revoked_at is None and not self.is_expired


@dataclass(frozen=True)
class UserView:
    """A user of the organization as an administrator sees it (no password hash)."""

    id: uuid.UUID
    email: str
    display_name: str
    is_admin: bool
    has_seat: bool
    has_password: bool
    locale: str
    created_at: datetime


@dataclass(frozen=True)
class AuditView:
    """One audit entry."""

    created_at: datetime
    actor: str
    action: str
    details: dict[str, Any]


@dataclass(frozen=True)
class InvitationView:
    """What an invitation page shows before it is accepted."""

    organization_slug: str
    organization_name: str
    email: str
    display_name: str
    expires_at: datetime


class AccountService:
    """Use cases for people and credentials of every organization in one store.

    Args:
        store: Opens organization-scoped units of work, finds organizations by slug or token digest, and keeps the
            log of failed sign-ins.
        clock: The current time, timezone-aware UTC (session, invitation and token expiry, ``last_used_at``,
            throttling windows).
        hasher: Hashes and verifies passwords; its parameters decide when a stored hash is upgraded.
        session_lifetime: How long a session lasts.
        throttle: The limits on failed sign-ins.
        hashing: Bounds concurrent hashing; share one per process (a new gate of its own by default).
    """

    def __init__(
        self,
        store: StoreAccess,
        *,
        clock: Clock,
        hasher: PasswordHasher | None = None,
        session_lifetime: timedelta = SESSION_LIFETIME,
        throttle: SignInThrottlePolicy | None = None,
        hashing: PasswordHashingGate | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._hasher = hasher or PasswordHasher()
        self._session_lifetime = session_lifetime
        self._throttle = throttle or SignInThrottlePolicy()
        self._hashing = hashing or PasswordHashingGate()
        # Verified when there is no user, so that an unknown email costs as much as a wrong password.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    # ----------------------------------------------------------------------------------------------- users

    def create_user(
        self,
        org_slug: str,
        *,
        email: str,
        display_name: str,
        password: SecretStr | None,
        is_admin: bool,
        with_seat: bool,
        locale: str = "en",
        actor: str,
    ) -> Principal:
        """Add a user to the organization ``org_slug``, with an active seat when ``with_seat``, and audit it.

        A user without a password can use API tokens, or set one by accepting an invitation. Not idempotent: a
        second call with the same email is refused.

        Raises:
            UnknownOrganizationError: no organization has ``org_slug``.
            InvalidInputError: the email, name, password or language breaks a rule, or the email is taken.
            ContractFullError: ``with_seat`` and every purchased seat is assigned.
            PasswordHashingBusyError: too many passwords are being hashed at once; nothing was created.
        """
        email = checked_email(email)
        display_name = _checked_display_name(display_name)
        locale = _checked_locale(locale)
        password_hash = (
            self._hash(checked_password(password, personal=(email, display_name, org_slug))) if password else None
        )
        organization_id = self._require_organization(org_slug)
        with self._store(organization_id) as uow:
            try:
                user = uow.users.add(
                    email=email,
                    display_name=display_name,
                    is_admin=is_admin,
                    password_hash=password_hash,
                    locale=locale,
                )
            except UniqueConstraintError:
                raise InvalidInputError(N_("A user with this email already exists."), field="email") from None
            if with_seat:
                self._add_active_seat(uow, user.id, actor=actor)
            uow.audit.record(
                actor=actor,
                action="user.created",
                details={
                    "user_id": str(user.id),
                    "email": email,
                    "is_admin": is_admin,
                    "seat": with_seat,
                    "has_password": password_hash is not None,
                },
            )
            principal = self._principal(uow, user, org_slug)
            uow.commit()
        return principal

    def principal_of(self, org_slug: str, email: str) -> Principal:
        """The user ``email`` of ``org_slug`` as a principal, for trusted callers (the command line). Reads only.

        Raises:
            UnknownOrganizationError: no organization has ``org_slug``.
            RowNotFoundError: the organization has no user with this email.
        """
        organization_id = self._require_organization(org_slug)
        with self._store(organization_id, read_only=True) as uow:
            user = uow.users.find_by_email(email.strip())
            if user is None:
                raise RowNotFoundError(f"No user of {org_slug} has the email {email!r}.")
            return self._principal(uow, user, org_slug)

    def list_users(self, principal: Principal) -> list[UserView]:
        """Every user of the principal's organization, by email. Reads only.

        Raises:
            AdministratorRequiredError: the principal is not an administrator.
        """
        _require_admin(principal)
        with self._store(principal.organization_id, read_only=True) as uow:
            seated = {seat.user_id for seat, _user in uow.seats.list_with_users()}
            return [
                UserView(
                    id=user.id,
                    email=user.email,
                    display_name=user.display_name,
                    is_admin=user.is_admin,
                    has_seat=user.id in seated,
                    has_password=user.password_hash is not None,
                    locale=user.locale,
                    created_at=user.created_at,
                )
                for user in uow.users.list_all()
            ]

    def recent_audit(self, principal: Principal, *, limit: int = 50) -> list[AuditView]:
        """Up to ``limit`` audit entries of the principal's organization, newest first. Reads only.

        Raises:
            AdministratorRequiredError: the principal is not an administrator.
        """
        _require_admin(principal)
        with self._store(principal.organization_id, read_only=True) as uow:
            return [
                AuditView(entry.created_at, entry.actor, entry.action, dict(entry.details or {}))
                for entry in uow.audit.recent(limit=limit)
            ]

    def set_locale(self, principal: Principal, locale: str) -> Principal:
        """Make ``locale`` (``en`` or ``es``) the user's console language. Idempotent.

        Raises:
            InvalidInputError: the language is not supported.
            RowNotFoundError: the user no longer exists.
        """
        locale = _checked_locale(locale)
        with self._store(principal.organization_id) as uow:
            uow.users.update(principal.user_id, locale=locale)
            uow.commit()
        return replace(principal, locale=locale)

    # -------------------------------------------------------------------------------------------- sessions

    def sign_in(self, org_slug: str, email: str, password: SecretStr, *, address: str | None = None) -> SignedIn:
        """Check the password of ``email`` in ``org_slug`` and open a session; audit it.

        Throttled first: when the account (as typed) or the client ``address`` has failed too often lately, the
        attempt is refused before any password is hashed. A failure counts against both; a success clears the
        account's failures and never counts against the address. An outdated password hash (weaker parameters
        than the hasher's) is replaced by a fresh one.

        Args:
            address: The client's IP address; None when unknown (the command line), then only the account is
                throttled.

        Raises:
            SignInThrottledError: too many failed sign-ins for this account or from this address; says when to
                try again.
            PasswordHashingBusyError: too many passwords are being checked at once; nothing was counted.
            SignInRejectedError: the organization or user is unknown, the user has no password, or the password
                is wrong (one error for all, so nobody learns which accounts exist).
        """
        secret = password.get_secret_value()
        slug, email = org_slug.strip(), email.strip()
        account = account_subject(slug, email)
        client = address_subject(address) if address else None
        failures = self._store.sign_in_failures
        admission = failures.admit(account=account, address=client, policy=self._throttle, now=self._clock())
        if admission.retry_at is not None or admission.attempt_id is None:
            raise SignInThrottledError(admission.retry_at or self._clock(), now=self._clock())
        try:
            verified = self._verified_user(slug, email, secret)
        except PasswordHashingBusyError:
            failures.withdraw(admission.attempt_id)
            raise
        if verified is None:
            failures.failed(address=client, now=self._clock())
            raise SignInRejectedError
        failures.succeeded(account=account)
        organization_id, user = verified
        new_hash = None
        if self._hasher.check_needs_rehash(user.password_hash or ""):
            with contextlib.suppress(PasswordHashingBusyError):  # the upgrade waits for a calmer sign-in
                new_hash = self._hash(secret)
        with self._store(organization_id) as uow:
            if new_hash is not None:
                uow.users.update(user.id, password_hash=new_hash)
            signed_in = self._open_session(uow, user, slug)
            uow.audit.record(actor=user.email, action="user.signed_in", details={"user_id": str(user.id)})
            uow.commit()
        return signed_in

    def _verified_user(self, slug: str, email: str, secret: str) -> tuple[uuid.UUID, User] | None:
        """The organization and user whose password ``secret`` is, or None; always spends one verification.

        Raises:
            PasswordHashingBusyError: no hashing slot came free.
        """
        organization_id = self._store.organization_id(slug) if slug else None
        user = None
        if organization_id is not None:
            with self._store(organization_id, read_only=True) as uow:
                user = uow.users.find_by_email(email)
        if organization_id is None or user is None or user.password_hash is None:
            self._burn(secret)
            return None
        stored_hash = user.password_hash
        try:
            self._hashing.run(lambda: self._hasher.verify(stored_hash, secret))
        except (VerificationError, InvalidHashError):
            return None
        return organization_id, user

    def session(self, session_token: str) -> SessionContext | None:
        """The live session of ``session_token``, or None when it is unknown, expired or signed out. Reads only."""
        if not session_token:
            return None
        digest = token_digest(session_token)
        organization_id = self._store.organization_of_session(digest)
        if organization_id is None:
            return None
        with self._store(organization_id, read_only=True) as uow:
            web_session = uow.web_sessions.find_live_by_hash(digest)
            if web_session is None or web_session.expires_at <= self._clock():
                return None
            try:
                user = uow.users.get(web_session.user_id)
            except RowNotFoundError:
                return None
            return SessionContext(self._principal(uow, user), web_session.csrf_token)

    def sign_out(self, session_token: str) -> None:
        """End the session of ``session_token`` and audit it. Idempotent: an unknown token does nothing."""
        if not session_token:
            return
        digest = token_digest(session_token)
        organization_id = self._store.organization_of_session(digest)
        if organization_id is None:
            return
        with self._store(organization_id) as uow:
            web_session = uow.web_sessions.find_live_by_hash(digest)
            uow.web_sessions.delete_by_hash(digest)
            if web_session is not None:
                user = uow.users.get(web_session.user_id)
                uow.audit.record(actor=user.email, action="user.signed_out", details={"user_id": str(user.id)})
            uow.commit()

    # ------------------------------------------------------------------------------------------ API tokens

    def create_api_token(
        self, principal: Principal, name: str, *, expires_in_days: int = API_TOKEN_LIFETIME_DAYS
    ) -> tuple[ApiTokenView, SecretStr]:
        """Create an API token named ``name`` for the principal, expiring in ``expires_in_days``; audit it. The
        returned secret is the only copy. Not idempotent.

        Raises:
            SessionRequiredError: the principal was authenticated by an API token.
            InvalidInputError: the name is empty or longer than 100 characters, or the lifetime is not 1 to 365
                days.
        """
        if principal.via_api_token:
            raise SessionRequiredError
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInputError(N_("Give the token a name of 1 to 100 characters."), field="name")
        longest = API_TOKEN_LIFETIME_CHOICES_DAYS[-1]
        if not 1 <= expires_in_days <= longest:
            raise InvalidInputError(
                N_("Choose a token lifetime of 1 to {days} days."), field="expires_in_days", days=longest
            )
        token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._store(principal.organization_id) as uow:
            row = uow.api_tokens.add(
                user_id=principal.user_id,
                name=name,
                prefix=token[:API_TOKEN_DISPLAY_LENGTH],
                token_hash=token_digest(token),
                expires_at=self._clock() + timedelta(days=expires_in_days),
            )
            uow.audit.record(
                actor=principal.email,
                action="api_token.created",
                details={
                    "token_id": str(row.id),
                    "name": name,
                    "prefix": row.prefix,
                    "expires_at": row.expires_at.isoformat(),
                },
            )
            view = self._token_view(row)
            uow.commit()
        return view, SecretStr(token)

    def principal_for_api_token(self, token: str) -> Principal | None:
        """Who the API token ``token`` acts for; None when unknown, revoked or expired.

        Stamps the token used now when its stamp is older than :data:`TOKEN_USE_GRANULARITY`, in a write of its
        own; most calls only read.
        """
        if not token.startswith(API_TOKEN_PREFIX):
            return None
        digest = token_digest(token)
        organization_id = self._store.organization_of_api_token(digest)
        if organization_id is None:
            return None
        with self._store(organization_id, read_only=True) as uow:
            row = uow.api_tokens.find_active_by_hash(digest)
            if row is None:
                return None
            try:
                user = uow.users.get(row.user_id)
            except RowNotFoundError:
                return None
            principal = replace(self._principal(uow, user), via_api_token=True)
        if row.last_used_at is None or row.last_used_at <= self._clock() - TOKEN_USE_GRANULARITY:
            with self._store(organization_id) as uow:
                if uow.api_tokens.touch(row.id, granularity=TOKEN_USE_GRANULARITY):
                    uow.commit()
        return principal

    def list_api_tokens(self, principal: Principal) -> list[ApiTokenView]:
        """The principal's own tokens, revoked and expired ones included, newest first. Reads only."""
        with self._store(principal.organization_id, read_only=True) as uow:
            return [self._token_view(row) for row in uow.api_tokens.list_for_user(principal.user_id)]

    def revoke_api_token(self, principal: Principal, token_id: uuid.UUID) -> ApiTokenView:
        """Revoke the principal's token ``token_id``; audit the first revocation. Idempotent.

        Raises:
            ApiTokenNotFoundError: the principal has no such token.
        """
        with self._store(principal.organization_id) as uow:
            try:
                before = next(
                    (row.revoked_at for row in uow.api_tokens.list_for_user(principal.user_id) if row.id == token_id),
                    None,
                )
                row = uow.api_tokens.revoke(user_id=principal.user_id, token_id=token_id)
            except RowNotFoundError:
                raise ApiTokenNotFoundError("No such API token.") from None
            if before is None:
                uow.audit.record(
                    actor=principal.email,
                    action="api_token.revoked",
                    details={"token_id": str(row.id), "prefix": row.prefix},
                )
            view = self._token_view(row)
            uow.commit()
        return view

    # ----------------------------------------------------------------------------------------- invitations

    def describe_invitation(self, token: str) -> InvitationView | None:
        """The pending, unexpired invitation of ``token``, or None. Reads only."""
        digest = token_digest(token)
        organization_id = self._store.organization_of_invitation(digest)
        if organization_id is None:
            return None
        with self._store(organization_id, read_only=True) as uow:
            invitation = uow.invitations.find_by_token_hash(digest)
            if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= self._clock():
                return None
            user = uow.users.get(invitation.user_id)
            organization = uow.organization.get()
            return InvitationView(
                organization.slug, organization.name, user.email, user.display_name, invitation.expires_at
            )

    def accept_invitation(self, token: str, password: SecretStr, display_name: str) -> SignedIn:
        """Accept the invitation of ``token``: set the user's name and password, activate their seat, mark the
        invitation accepted, audit it and open a session. Not repeatable: a second call is refused.

        Raises:
            InvalidInputError: the name or password breaks a rule.
            InvitationInvalidError: the invitation is unknown, expired or already accepted.
            ContractFullError: the user had no seat and every purchased seat is assigned.
            PasswordHashingBusyError: too many passwords are being hashed at once; nothing changed.
        """
        display_name = _checked_display_name(display_name)
        invitation_view = self.describe_invitation(token)
        if invitation_view is None:
            raise InvitationInvalidError
        personal = (invitation_view.email, display_name, invitation_view.organization_slug)
        password_hash = self._hash(checked_password(password, personal=personal))
        digest = token_digest(token)
        organization_id = self._store.organization_of_invitation(digest)
        if organization_id is None:
            raise InvitationInvalidError
        with self._store(organization_id) as uow:
            invitation = uow.invitations.find_by_token_hash(digest)
            if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= self._clock():
                raise InvitationInvalidError
            user = uow.users.update(invitation.user_id, display_name=display_name, password_hash=password_hash)
            seat = uow.seats.find_by_user(user.id)
            if seat is None:
                self._add_active_seat(uow, user.id, actor=user.email)
            else:
                # The seat row belongs to this unit of work's session; the commit below saves the change.
                seat.state = SeatState.ACTIVE
            uow.invitations.mark_accepted(invitation.id)
            uow.audit.record(
                actor=user.email,
                action="invitation.accepted",
                details={"user_id": str(user.id), "invitation_id": str(invitation.id)},
            )
            signed_in = self._open_session(uow, user, uow.organization.get().slug)
            uow.commit()
        return signed_in

    # ------------------------------------------------------------------------------------------- internals

    def _require_organization(self, slug: str) -> uuid.UUID:
        organization_id = self._store.organization_id(slug)
        if organization_id is None:
            raise UnknownOrganizationError(
                f"No organization is called {slug!r}: create it with `salesbridge org create {slug}`."
            )
        return organization_id

    def _burn(self, secret: str) -> None:
        """Spend the time (and hashing slot) a real verification takes."""
        with contextlib.suppress(VerificationError, InvalidHashError), self._hashing.slot():
            self._hasher.verify(self._dummy_hash, secret)

    def _hash(self, password: SecretStr | str) -> str:
        """A fresh argon2 hash of ``password``, in a hashing slot."""
        secret = password.get_secret_value() if isinstance(password, SecretStr) else password
        return self._hashing.run(lambda: self._hasher.hash(secret))

    def _token_view(self, row: Any) -> ApiTokenView:
        return ApiTokenView(
            row.id,
            row.name,
            row.prefix,
            row.created_at,
            row.last_used_at,
            row.expires_at,
            row.revoked_at,
            is_expired=row.expires_at <= self._clock(),
        )

    def _add_active_seat(self, uow: SqlAlchemyUnitOfWork, user_id: uuid.UUID, *, actor: str) -> None:
        seats = uow.organization.get().seats_purchased
        if uow.seats.count() >= seats:
            raise ContractFullError(seats=seats)
        uow.seats.add(user_id=user_id, state=SeatState.ACTIVE, assigned_by=actor)
        rematch_seats(uow)

    def _open_session(self, uow: SqlAlchemyUnitOfWork, user: User, org_slug: str) -> SignedIn:
        token = secrets.token_urlsafe(32)
        csrf_token = secrets.token_urlsafe(32)
        expires_at = self._clock() + self._session_lifetime
        uow.web_sessions.add(
            user_id=user.id, token_hash=token_digest(token), csrf_token=csrf_token, expires_at=expires_at
        )
        return SignedIn(self._principal(uow, user, org_slug), SecretStr(token), csrf_token, expires_at)

    @staticmethod
    def _principal(uow: SqlAlchemyUnitOfWork, user: User, org_slug: str | None = None) -> Principal:
        return Principal(
            organization_id=user.organization_id,
            organization_slug=org_slug or uow.organization.get().slug,
            user_id=user.id,
            email=user.email,
            display_name=user.display_name,
            is_admin=user.is_admin,
            has_seat=uow.seats.find_by_user(user.id) is not None,
            locale=user.locale,
        )


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise AdministratorRequiredError


def checked_email(email: str) -> str:
    """``email`` without surrounding spaces.

    Raises:
        InvalidInputError: it is not an email address (field ``"email"``).
    """
    email = email.strip()
    if len(email) > 320 or not _EMAIL.match(email):
        raise InvalidInputError(N_("Enter a valid email address, like name@example.com."), field="email")
    return email


def _checked_display_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInputError(N_("Enter a name of 1 to 200 characters."), field="display_name")
    return name


_WEAKNESS_MESSAGES: Final = {
    PasswordWeakness.COMMON_PASSWORD: N_(
        "This password is too easy to guess: it is one of the passwords people use most, or built from them. "
        "Try a few unrelated words together."
    ),
    PasswordWeakness.COMMON_WORDS: N_(
        "This password is too easy to guess: it is mostly a common word or name. Add a few unrelated words."
    ),
    PasswordWeakness.PERSONAL: N_(
        "This password is too easy to guess: it contains your name, email or workspace. Choose words unrelated to you."
    ),
    PasswordWeakness.REPEATS: N_(
        'This password is too easy to guess: it repeats characters or words (like "aaaa" or "abcabc").'
    ),
    PasswordWeakness.SEQUENCE: N_(
        'This password is too easy to guess: it is a sequence (like "abcd" or "9876"). Use a few unrelated words.'
    ),
    PasswordWeakness.KEYBOARD: N_(
        'This password is too easy to guess: it follows the keyboard (like "qwerty"). Use a few unrelated words.'
    ),
    PasswordWeakness.DATES: N_(
        "This password is too easy to guess: dates and years are among the first things tried. Use a few "
        "unrelated words."
    ),
    PasswordWeakness.GUESSABLE: N_("This password is too easy to guess. Try a few unrelated words together."),
}


def checked_password(password: SecretStr | None, *, personal: Iterable[str] = ()) -> SecretStr:
    """``password`` when it is 12 to 1,024 characters long and hard enough to guess
    (:func:`~salesbridge.domain.password_strength.password_weakness`, with ``personal``: the email, name and
    workspace of its owner).

    Raises:
        InvalidInputError: it breaks a rule (field ``"password"``); the message says which and why.
    """
    value = password.get_secret_value() if password is not None else ""
    if len(value) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            N_("Choose a password of at least {length} characters."), field="password", length=MIN_PASSWORD_LENGTH
        )
    if len(value) > MAX_PASSWORD_LENGTH:
        raise InvalidInputError(
            N_("Choose a password of at most {length} characters."), field="password", length=MAX_PASSWORD_LENGTH
        )
    weakness = password_weakness(value, personal=personal)
    if weakness is not None:
        raise InvalidInputError(_WEAKNESS_MESSAGES[weakness], field="password")
    return SecretStr(value)


def _checked_locale(locale: str) -> str:
    if locale not in SUPPORTED_LOCALES:
        raise InvalidInputError(N_("Choose English (en) or Spanish (es)."), field="locale")
    return locale
