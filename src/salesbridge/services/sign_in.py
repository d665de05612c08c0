"""Signing in and out, and browser sessions: the part of the account use cases that checks passwords.

Secrets leave this module only once: a new session token is returned as a :class:`~pydantic.SecretStr` to the
caller that signed in. The store keeps only SHA-256 digests of tokens and argon2 hashes of passwords; nothing here
returns, logs or audits either. Sign-in answers every failure (unknown organization, unknown user, user without
password, wrong password) with the same :class:`SignInFailedError`, after about the same amount of work (a
password is always verified, against a dummy hash when there is no user).

Sign-in is throttled (:mod:`salesbridge.domain.sign_in_throttle`): failures are counted per account as typed and
per client address in the store, so every console process sees them; an attempt over a limit is refused with
:class:`SignInThrottledError` before any password is hashed. Hashing itself goes through a
:class:`~salesbridge.services.sign_in_guard.PasswordHashingGate`, and never inside a unit of work.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import uuid
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import SecretStr

from salesbridge.domain.sign_in_throttle import SignInThrottlePolicy, account_subject, address_subject
from salesbridge.domain.text_rules import has_refused_characters
from salesbridge.domain.workspace import User
from salesbridge.errors import PasswordHashingBusyError, RowNotFoundError, SignInFailedError, SignInThrottledError
from salesbridge.services.account_rules import SESSION_LIFETIME, Principal, SessionContext, SignedIn, token_digest
from salesbridge.services.ports import Clock, StoreAccess, UnitOfWork
from salesbridge.services.sign_in_guard import PasswordHashingGate

LOCKOUT_ACTOR = "sign-in"
"""The actor of the audit entry saying an account's sign-in is locked: the throttle, not whoever failed."""


class SignInUseCases:
    """Sign-in, sign-out and sessions of every organization in one store; the base of
    :class:`~salesbridge.services.accounts.AccountService`, which adds the rest.

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
        # Verified when there is no user, so that an unknown email costs as much as a wrong password. Hashed on the
        # first sign-in rather than here: every CLI command and every console builds this service, most of them
        # never sign anyone in, and one argon2 hash is 64 MiB and a good part of a second of CPU.
        self._dummy_hash: str | None = None
        self._dummy_lock = threading.Lock()

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
            SignInFailedError: the organization or user is unknown, the user has no password, or the password
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
            if admission.locks_until is not None:
                self._audit_lockout(slug, email, admission.locks_until)
            raise SignInFailedError
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

    def _audit_lockout(self, slug: str, email: str, until: datetime) -> None:
        """Audit, in the account's organization, that its sign-in is locked until ``until`` after repeated
        failures (whoever made them: the actor is the throttle). Nothing for an account that does not exist:
        there is no organization to tell, and the throttle reveals nothing about which accounts exist."""
        if not slug or has_refused_characters(slug) or has_refused_characters(email):
            return
        organization_id = self._store.organization_id(slug)
        if organization_id is None:
            return
        with self._store(organization_id) as uow:
            user = uow.users.find_by_email(email)
            if user is None:
                return
            uow.audit.record(
                actor=LOCKOUT_ACTOR,
                action="user.sign_in_locked",
                details={
                    "user_id": str(user.id),
                    "failed_attempts": self._throttle.per_account.limit,
                    "locked_until": until.isoformat(),
                },
            )
            uow.commit()

    def _verified_user(self, slug: str, email: str, secret: str) -> tuple[uuid.UUID, User] | None:
        """The organization and user whose password ``secret`` is, or None; always spends one verification.

        Raises:
            PasswordHashingBusyError: no hashing slot came free.
        """
        dummy_hash = self._dummy()  # before the lookup: the first attempt costs the same whoever it names
        # Text no store can hold (a NUL: PostgreSQL refuses it) names nobody: answered like an unknown account.
        storable = not has_refused_characters(slug) and not has_refused_characters(email)
        organization_id = self._store.organization_id(slug) if slug and storable else None
        user = None
        if organization_id is not None:
            with self._store(organization_id, read_only=True) as uow:
                user = uow.users.find_by_email(email)
        if organization_id is None or user is None or user.password_hash is None:
            self._burn(dummy_hash, secret)
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

    def _dummy(self) -> str:
        """The hash verified when there is no user to check: made once, on first use, in a hashing slot.

        Raises:
            PasswordHashingBusyError: no hashing slot came free.
        """
        with self._dummy_lock:
            if self._dummy_hash is None:
                self._dummy_hash = self._hashing.run(lambda: self._hasher.hash(secrets.token_urlsafe(16)))
            return self._dummy_hash

    def _burn(self, dummy_hash: str, secret: str) -> None:
        """Spend the time (and hashing slot) a real verification takes."""
        with contextlib.suppress(VerificationError, InvalidHashError), self._hashing.slot():
            self._hasher.verify(dummy_hash, secret)

    def _hash(self, password: SecretStr | str) -> str:
        """A fresh argon2 hash of ``password``, in a hashing slot."""
        secret = password.get_secret_value() if isinstance(password, SecretStr) else password
        return self._hashing.run(lambda: self._hasher.hash(secret))

    def _open_session(self, uow: UnitOfWork, user: User, org_slug: str) -> SignedIn:
        token = secrets.token_urlsafe(32)
        csrf_token = secrets.token_urlsafe(32)
        expires_at = self._clock() + self._session_lifetime
        uow.web_sessions.add(
            user_id=user.id, token_hash=token_digest(token), csrf_token=csrf_token, expires_at=expires_at
        )
        return SignedIn(self._principal(uow, user, org_slug), SecretStr(token), csrf_token, expires_at)

    @staticmethod
    def _principal(uow: UnitOfWork, user: User, org_slug: str | None = None) -> Principal:
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
