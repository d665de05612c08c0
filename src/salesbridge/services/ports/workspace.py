"""The workspace's repositories: organizations, people, seats, CRM users, invitations, tokens,
sessions, the audit log and the CRM connection."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import SecretStr

from salesbridge.domain.clock import Clock as Clock
from salesbridge.domain.currencies import CrmCurrencies
from salesbridge.domain.seat_matching import MatchOutcome
from salesbridge.domain.workspace import (
    ApiToken,
    AuditEntry,
    CrmConnection,
    CrmCredentials,
    CrmUser,
    CrmUserSync,
    CrmUserValues,
    Invitation,
    Organization,
    Seat,
    SeatState,
    User,
    WebSession,
)

# ------------------------------------------------------------------------------------------------- repositories


class OrganizationRepository(Protocol):
    """The scoped organization, and nothing else."""

    def create(self, *, slug: str, name: str, seats_purchased: int) -> Organization:
        """Create the scoped organization. Idempotent for the same slug.

        Raises:
            UniqueConstraintError: another organization has ``slug``, or this id exists with another slug.
        """
        ...

    def get(self) -> Organization:
        """The scoped organization.

        Raises:
            RowNotFoundError: it does not exist.
        """
        ...

    def set_crm_sync_all_seats(self, enabled: bool) -> Organization:
        """Turn "Sync CRM for all seats automatically" on or off. Idempotent.

        Raises:
            RowNotFoundError: the organization does not exist.
        """
        ...


class UserRepository(Protocol):
    """Users of the organization. Emails compare case-insensitively and are stored as given."""

    def add(
        self,
        *,
        email: str,
        display_name: str,
        is_admin: bool = False,
        password_hash: str | None = None,
        locale: str = "en",
        entra_object_id: str | None = None,
    ) -> User:
        """Add a user with a fresh id.

        Raises:
            UniqueConstraintError: a user of the organization has this email, in any case (field ``"email"``).
        """
        ...

    def get(self, user_id: uuid.UUID) -> User:
        """The user ``user_id``.

        Raises:
            RowNotFoundError: no such user in this organization.
        """
        ...

    def find_by_email(self, email: str) -> User | None:
        """The user whose email equals ``email`` ignoring case, or None."""
        ...

    def list_all(self) -> list[User]:
        """Every user, by lower-cased email."""
        ...

    def update(
        self,
        user_id: uuid.UUID,
        *,
        email: str | None = None,
        display_name: str | None = None,
        password_hash: str | None = None,
        locale: str | None = None,
    ) -> User:
        """Change the given fields; None leaves a field as it is. Returns the user as changed.

        Raises:
            RowNotFoundError: no such user in this organization.
            UniqueConstraintError: another user has ``email`` (field ``"email"``).
        """
        ...


class SeatRepository(Protocol):
    """The organization's seats."""

    def add(self, *, user_id: uuid.UUID, state: SeatState, assigned_by: str, crm_sync_enabled: bool = True) -> Seat:
        """Give ``user_id`` a seat, not yet matched (:attr:`MatchOutcome.NOT_IMPORTED`).

        Raises:
            UniqueConstraintError: the user already holds a seat (field ``"user_id"``).
            RowNotFoundError: no such user in this organization.
        """
        ...

    def get(self, seat_id: uuid.UUID) -> Seat:
        """The seat ``seat_id``.

        Raises:
            RowNotFoundError: no such seat in this organization.
        """
        ...

    def find_by_user(self, user_id: uuid.UUID) -> Seat | None:
        """The seat held by ``user_id``, or None."""
        ...

    def list_with_users(self) -> list[tuple[Seat, User]]:
        """Every seat with its holder, by the holder's lower-cased email."""
        ...

    def count(self) -> int:
        """How many seats are assigned (invited or active)."""
        ...

    def set_state(self, seat_id: uuid.UUID, state: SeatState) -> Seat:
        """Make the seat ``state``. Idempotent.

        Raises:
            RowNotFoundError: no such seat in this organization.
        """
        ...

    def set_crm_sync(self, seat_id: uuid.UUID, enabled: bool) -> Seat:
        """Turn the seat's own CRM sync switch on or off. Idempotent.

        Raises:
            RowNotFoundError: no such seat in this organization.
        """
        ...

    def set_matches(self, matches: Mapping[uuid.UUID, tuple[MatchOutcome, uuid.UUID | None]]) -> None:
        """Record the outcome of matching: for each seat id, how it matched and the CRM user (:attr:`CrmUser.id`)
        it matched. Seats not named keep theirs; unknown seat ids are ignored."""
        ...


class CrmUserRepository(Protocol):
    """The organization's imported CRM users."""

    def replace_all(self, users: Iterable[CrmUserValues]) -> CrmUserSync:
        """Make the stored CRM users exactly ``users``: upsert by ``crm_id`` (ids stay stable) and delete the
        others. Idempotent.

        Raises:
            StoreError: the organization does not exist.
        """
        ...

    def list_all(self) -> list[CrmUser]:
        """Every imported CRM user, by lower-cased name then ``crm_id``."""
        ...

    def find_by_crm_id(self, crm_id: str) -> CrmUser | None:
        """The CRM user with systemuserid ``crm_id`` (any case), or None."""
        ...

    def find(self, crm_user_id: uuid.UUID) -> CrmUser | None:
        """The organization's CRM user with our id ``crm_user_id`` (a seat's ``crm_user_id``), or None."""
        ...

    def last_imported_at(self) -> datetime | None:
        """When the CRM users were last imported, or None."""
        ...


class InvitationRepository(Protocol):
    """Invitations to take a seat; tokens are kept only as digests."""

    def add(self, *, user_id: uuid.UUID, token_hash: str, invited_by: str, expires_at: datetime) -> Invitation:
        """Record an invitation for ``user_id`` whose token hashes to ``token_hash``."""
        ...

    def find_by_token_hash(self, token_hash: str) -> Invitation | None:
        """The invitation whose token hashes to ``token_hash`` (pending or not), or None."""
        ...

    def mark_accepted(self, invitation_id: uuid.UUID) -> Invitation:
        """Stamp the invitation accepted now.

        Raises:
            RowNotFoundError: no such invitation in this organization.
        """
        ...


class ApiTokenRepository(Protocol):
    """Users' API tokens; tokens are kept only as digests."""

    def add(self, *, user_id: uuid.UUID, name: str, prefix: str, token_hash: str, expires_at: datetime) -> ApiToken:
        """Record a token of ``user_id``, valid until ``expires_at``."""
        ...

    def find_active_by_hash(self, token_hash: str) -> ApiToken | None:
        """The unrevoked, unexpired token hashing to ``token_hash``, or None."""
        ...

    def list_for_user(self, user_id: uuid.UUID) -> list[ApiToken]:
        """The tokens of ``user_id``, revoked and expired ones included, newest first."""
        ...

    def touch(self, token_id: uuid.UUID, *, granularity: timedelta) -> bool:
        """Stamp the token used now unless its stamp is less than ``granularity`` old; whether it wrote."""
        ...

    def revoke(self, *, user_id: uuid.UUID, token_id: uuid.UUID) -> ApiToken:
        """Revoke the token ``token_id`` of ``user_id``. Idempotent.

        Raises:
            RowNotFoundError: the user has no such token.
        """
        ...


class WebSessionRepository(Protocol):
    """Signed-in browser sessions; tokens are kept only as digests."""

    def add(self, *, user_id: uuid.UUID, token_hash: str, csrf_token: str, expires_at: datetime) -> WebSession:
        """Record a session of ``user_id``."""
        ...

    def find_live_by_hash(self, token_hash: str) -> WebSession | None:
        """The unexpired session whose token hashes to ``token_hash``, or None."""
        ...

    def delete_by_hash(self, token_hash: str) -> None:
        """End the session whose token hashes to ``token_hash``. Idempotent."""
        ...


class AuditLog(Protocol):
    """The organization's append-only audit trail. Callers must not put secrets in ``details``."""

    def record(self, *, actor: str, action: str, details: Mapping[str, Any] | None = None) -> None:
        """Append an entry stamped now. ``details`` must be JSON-serialisable."""
        ...

    def recent(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        action: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Sequence[AuditEntry]:
        """Up to ``limit`` entries after the first ``offset``, newest first; only those of ``action`` and of
        ``actor`` when given, recorded at ``since`` or later and before ``until``."""
        ...

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
        ...

    def actions(self) -> list[str]:
        """The distinct actions recorded, sorted."""
        ...

    def actors(self) -> list[str]:
        """The distinct actors, sorted."""
        ...


class CrmConnectionRepository(Protocol):
    """The organization's single CRM connection (its secret stays encrypted in the store)."""

    def find(self) -> CrmConnection | None:
        """The connection, or None when the organization has none."""
        ...

    def currencies(self) -> CrmCurrencies:
        """The CRM's currencies as the last import read them (empty before the first, or without a connection)."""
        ...

    def save_currencies(self, currencies: CrmCurrencies) -> None:
        """Keep the CRM's currencies (the import; nothing when the organization has no connection any more)."""
        ...

    def credentials(self) -> CrmCredentials:
        """The connection's credentials, secret decrypted, to open a CRM session with.

        Raises:
            RowNotFoundError: the organization has no connection.
            UndecryptableSecretError: the secret was encrypted with another key.
        """
        ...

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
    ) -> CrmConnection:
        """Create or replace the credentials (secret stored encrypted); the state becomes ``disconnected`` and the
        previous outcome (CRM user, connected time, last error) is cleared.

        Raises:
            StoreError: the organization does not exist.
        """
        ...

    def mark_connected(self, *, crm_user_id: str) -> CrmConnection:
        """Record a successful connection as the CRM user ``crm_user_id``; clears the last error.

        Raises:
            RowNotFoundError: the organization has no connection.
        """
        ...

    def mark_failed(self, *, error: str) -> CrmConnection:
        """Record a failed attempt with a user-safe ``error`` (no secret, no token).

        Raises:
            RowNotFoundError: the organization has no connection.
        """
        ...

    def delete(self) -> bool:
        """Delete the connection and its stored secret. Idempotent: whether there was one."""
        ...
