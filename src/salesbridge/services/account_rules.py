"""The rules and values of accounts: password and language rules (emails' and names' are in
:mod:`salesbridge.domain.text_rules`), token digests and lifetimes, and the values the account use cases return
(their refusals are :class:`salesbridge.errors.AccountError`'s). Pure: no store, no hashing.

Passwords must be 12 to 1,024 characters and hard to guess (:mod:`salesbridge.domain.password_strength`). API
tokens expire (90 days unless chosen otherwise) and record their last use to within :data:`TOKEN_USE_GRANULARITY`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from pydantic import SecretStr

from salesbridge.domain.password_strength import PasswordWeakness, password_weakness
from salesbridge.domain.workspace import ApiToken
from salesbridge.errors import AdministratorRequiredError, InvalidInputError
from salesbridge.message_ids import N_, SUPPORTED_LOCALES

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


def token_digest(token: str) -> str:
    """The SHA-256 hex digest under which a session, invitation or API token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


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


def require_admin(principal: Principal) -> None:
    """Raises AdministratorRequiredError unless the principal is an administrator of its organization."""
    if not principal.is_admin:
        raise AdministratorRequiredError


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


def checked_locale(locale: str) -> str:
    """``locale`` when the console speaks it.

    Raises:
        InvalidInputError: it is not ``en`` or ``es`` (field ``"locale"``).
    """
    if locale not in SUPPORTED_LOCALES:
        raise InvalidInputError(N_("Choose English (en) or Spanish (es)."), field="locale")
    return locale


def api_token_view(token: ApiToken, *, now: datetime) -> ApiTokenView:
    """How the API token ``token`` is shown to its owner at ``now``."""
    return ApiTokenView(
        token.id,
        token.name,
        token.prefix,
        token.created_at,
        token.last_used_at,
        token.expires_at,
        token.revoked_at,
        is_expired=token.is_expired(now),
    )
