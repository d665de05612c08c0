"""The workspace as the use cases see it: organizations, users, seats, imported CRM users, invitations, API tokens,
browser sessions, audit entries and the CRM connection, as frozen values. Pure; no I/O.

The store returns these (never its rows) from the repositories of :mod:`salesbridge.services.ports`, and changes
what they describe only through repository methods taking ids and values (``uow.seats.set_state(seat_id,
SeatState.ACTIVE)``): a value is a snapshot, changing it changes nothing stored. The enums here are also the
columns' types in :mod:`salesbridge.store.tables`.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from salesbridge.domain.seat_matching import MatchOutcome


class ConnectionState(enum.StrEnum):
    """Where an organization's CRM connection stands."""

    DISCONNECTED = "disconnected"
    CONNECTED = "connected"
    FAILED = "failed"


class ImportState(enum.StrEnum):
    """Where a requested CRM import stands."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class SeatState(enum.StrEnum):
    """A seat is ``invited`` until its holder accepts the invitation, then ``active``."""

    INVITED = "invited"
    ACTIVE = "active"


@dataclass(frozen=True, kw_only=True)
class Organization:
    """A customer: one contract with a number of seats.

    Attributes:
        crm_sync_all_seats: "Sync CRM for all seats automatically"; when False each seat's own switch decides.
    """

    id: uuid.UUID
    slug: str
    name: str
    seats_purchased: int
    crm_sync_all_seats: bool
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class User:
    """A person of an organization. Emails are unique per organization, ignoring case.

    Attributes:
        password_hash: An argon2 hash; None until the user has set a password.
        locale: The console language, ``en`` or ``es``.
        entra_object_id: The person's Microsoft Entra object id (lowercase) when known.
    """

    id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    display_name: str
    is_admin: bool
    password_hash: str | None = field(repr=False)
    locale: str
    entra_object_id: str | None
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class Seat:
    """A seat of the contract, held by one user.

    Attributes:
        crm_sync_enabled: The seat's own switch; counts only while the organization's ``crm_sync_all_seats`` is off.
        crm_user_id: The matched CRM user (:attr:`CrmUser.id`), from the last matching.
        match: How the holder matched a CRM user, or why not, at the last matching.
    """

    id: uuid.UUID
    user_id: uuid.UUID
    state: SeatState
    crm_sync_enabled: bool
    crm_user_id: uuid.UUID | None
    match: MatchOutcome
    assigned_at: datetime
    assigned_by: str


@dataclass(frozen=True)
class CrmUserValues:
    """One ``systemuser`` as read from the CRM, to store as a :class:`CrmUser`."""

    crm_id: str
    full_name: str
    email: str | None
    entra_object_id: str | None
    is_disabled: bool
    is_application: bool
    access_mode: int | None


@dataclass(frozen=True, kw_only=True)
class CrmUser:
    """An imported user of the connected Dynamics organization.

    Attributes:
        id: Ours; stays the same across imports (seats keep their match).
        crm_id: The systemuserid, lowercase.
    """

    id: uuid.UUID
    crm_id: str
    full_name: str
    email: str | None
    entra_object_id: str | None
    is_disabled: bool
    is_application: bool
    access_mode: int | None
    imported_at: datetime


@dataclass(frozen=True)
class CrmUserSync:
    """What replacing the stored CRM users changed."""

    added: int
    updated: int
    removed: int


@dataclass(frozen=True, kw_only=True)
class Invitation:
    """An invitation for a user to set a password and take their seat (only the token's digest is kept)."""

    id: uuid.UUID
    user_id: uuid.UUID
    invited_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None

    def is_pending(self, now: datetime) -> bool:
        """Not accepted, and not expired at ``now``."""
        return self.accepted_at is None and self.expires_at > now


@dataclass(frozen=True, kw_only=True)
class ApiToken:
    """A user's token for programmatic clients, as stored: its display prefix, never the token.

    Attributes:
        last_used_at: When it was last used, to within the granularity its user chose; None if never.
    """

    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    revoked_at: datetime | None

    def is_expired(self, now: datetime) -> bool:
        """Its expiry has passed at ``now``."""
        return self.expires_at <= now


@dataclass(frozen=True, kw_only=True)
class WebSession:
    """A signed-in browser session (only the session token's digest is kept)."""

    id: uuid.UUID
    user_id: uuid.UUID
    csrf_token: str = field(repr=False)
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """Who did what, when, in an organization."""

    id: int
    actor: str
    action: str
    details: Mapping[str, Any]
    created_at: datetime


MAX_PEM_CHARS = 1_000_000
"""A CA bundle larger than this (the system's whole store is about 200 kB) is refused."""


@dataclass(frozen=True)
class CaBundle:
    """The CAs a connection trusts instead of the system's (a private or local server).

    Attributes:
        pem: PEM certificates, validated.
        name: The name of the operator's bundle they were copied from; None when uploaded.
    """

    pem: str = field(repr=False)
    name: str | None = None


@dataclass(frozen=True, kw_only=True)
class CrmCredentials:
    """What an administrator gives to connect: the organization and an application's credentials.

    Attributes:
        org_url: ``https://<org>.crm.dynamics.com``.
        client_id: The application (client) id.
        client_secret: The client secret; never logged, stored only encrypted.
        tenant_id: The Entra tenant (directory) id or a verified domain; discovered from the organization when
            None (and checked against it when given as an id).
        ca_bundle: CAs to trust instead of the system's.
        authority: The identity authority; discovered from the organization when None. Stored connections
            made before discovery may hold None: ``https://login.microsoftonline.com/<tenant>`` then.
    """

    org_url: str
    client_id: str
    client_secret: SecretStr = field(repr=False)
    tenant_id: str | None = None
    ca_bundle: CaBundle | None = None
    authority: str | None = None


@dataclass(frozen=True, kw_only=True)
class CrmConnection:
    """An organization's stored connection to Dynamics 365, without its secret
    (``uow.crm_connection.credentials()`` decrypts it when a session must be opened).

    Attributes:
        authority: None means ``https://login.microsoftonline.com/<tenant_id>``.
        connected_crm_user_id: The systemuserid the connection acts as, once connected.
    """

    id: uuid.UUID
    org_url: str
    tenant_id: str
    client_id: str
    ca_bundle_pem: str | None = field(repr=False)
    ca_bundle_name: str | None
    authority: str | None
    state: ConnectionState
    connected_crm_user_id: str | None
    connected_at: datetime | None
    last_error: str | None
    updated_at: datetime

    @property
    def is_connected(self) -> bool:
        """The last attempt succeeded and the connection stands."""
        return self.state is ConnectionState.CONNECTED
