"""SQLAlchemy 2 typed declarative rows of the store.

Every row except :class:`Organization`, :class:`SignInFailure` and :class:`CrmRequestBudget` (keyed by a Dynamics
organization and application user, which several workspaces may share) carries ``organization_id``; repositories
filter every query by it.
Datetimes are timezone-aware UTC on the way in and on the way out, on every backend (see :class:`UtcDateTime`).
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    Uuid,
    func,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The states are domain values; the store's modules import them from here with the tables whose columns they type.
from salesbridge.domain.lists import ListKind as ListKind
from salesbridge.domain.pipeline import StageSource as StageSource
from salesbridge.domain.seat_matching import MatchOutcome
from salesbridge.domain.sync_runs import SyncMode as SyncMode
from salesbridge.domain.workspace import ConnectionState as ConnectionState
from salesbridge.domain.workspace import ImportState as ImportState
from salesbridge.domain.workspace import SeatState as SeatState

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and returned timezone-aware.

    Binding a naive datetime raises ``ValueError``: the store never guesses a timezone. SQLite keeps no zone, so
    values are normalised to UTC before storing and marked UTC when read back.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetimes are refused by the store; pass a timezone-aware UTC datetime")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base; constraint names follow :data:`NAMING_CONVENTION` so migrations can name them."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Organization(Base):
    """A customer: one contract with a number of seats. Its id is chosen by the caller (idempotent creation)."""

    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    seats_purchased: Mapped[int] = mapped_column(Integer)
    crm_sync_all_seats: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """"Sync CRM for all seats automatically": when False, each seat's own ``crm_sync_enabled`` decides."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    def __repr__(self) -> str:
        return f"Organization(id={self.id!s}, slug={self.slug!r}, seats_purchased={self.seats_purchased})"


class User(Base):
    """A person of an organization. Emails are unique per organization, ignoring case.

    ``password_hash`` is an argon2 hash, None until the user has set a password (an invited user, or one who only
    uses API tokens). ``locale`` is the console language (``en`` or ``es``). ``entra_object_id`` is the person's
    Microsoft Entra object id when known; seat matching prefers it to the email.
    """

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean)
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    locale: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    entra_object_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    def __repr__(self) -> str:
        return f"User(id={self.id!s}, organization_id={self.organization_id!s}, is_admin={self.is_admin})"


Index("uq_users_organization_id_lower_email", User.organization_id, func.lower(User.email), unique=True)


class AuditEntry(Base):
    """Who did what, when, in an organization. Append-only."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_audit_entries_organization_id_created_at", "organization_id", "created_at"),
        # Migration 0043: the Audit page's lists of actions and actors, and its entries of one action or actor, read
        # in index order, never sorted.
        Index("ix_audit_entries_organization_id_action_created_at", "organization_id", "action", "created_at"),
        Index("ix_audit_entries_organization_id_actor_created_at", "organization_id", "actor", "created_at"),
    )

    def __repr__(self) -> str:
        return f"AuditEntry(id={self.id}, organization_id={self.organization_id!s}, action={self.action!r})"


class CrmConnection(Base):
    """An organization's connection to its Dynamics 365 environment; at most one per organization.

    The client secret is stored only encrypted (see :mod:`salesbridge.store.secrets`); ``repr()`` omits it.
    """

    __tablename__ = "crm_connections"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), unique=True
    )
    org_url: Mapped[str] = mapped_column(String(2048))
    tenant_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(64))
    client_secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    ca_bundle_pem: Mapped[str | None] = mapped_column(Text, default=None)
    """PEM certificates of the CAs the connection trusts instead of the system's, or None for the system's."""
    ca_bundle_name: Mapped[str | None] = mapped_column(String(255), default=None)
    """The name of the operator's bundle ``ca_bundle_pem`` was copied from; None when it was uploaded."""
    authority: Mapped[str | None] = mapped_column(String(2048), default=None)
    """The identity authority when it is not Microsoft's public one for the tenant (a sovereign cloud, the
    sandbox); None means ``https://login.microsoftonline.com/<tenant_id>``."""
    state: Mapped[ConnectionState] = mapped_column(
        Enum(
            ConnectionState,
            native_enum=False,
            length=16,
            values_callable=lambda states: [state.value for state in states],
            validate_strings=True,
        )
    )
    connected_crm_user_id: Mapped[str | None] = mapped_column(String(64))
    connected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    base_currency_id: Mapped[str | None] = mapped_column(String(64), default=None)
    """The CRM organization's base currency (``organization.basecurrencyid``), read by each import; None before."""
    currency_codes: Mapped[dict[str, str] | None] = mapped_column(JSON, default=None)
    """ISO 4217 code of each CRM currency by ``transactioncurrencyid``, read by each import; None before."""

    def __repr__(self) -> str:
        return (
            f"CrmConnection(organization_id={self.organization_id!s}, org_url={self.org_url!r}, "
            f"client_id={self.client_id!r}, client_secret=**********, state={self.state.value!r})"
        )

    __str__ = __repr__


class ImportRequest(Base):
    """A request to import the organization's CRM data, queued by the connect flow and picked up by the import
    engine (a later capability)."""

    __tablename__ = "import_requests"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id", ondelete="CASCADE"))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(100))
    state: Mapped[ImportState] = mapped_column(
        Enum(
            ImportState,
            native_enum=False,
            length=16,
            values_callable=lambda states: [state.value for state in states],
            validate_strings=True,
        )
    )
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    """While running: the worker renews it; an expired lease means the worker died and the run may be taken."""
    error: Mapped[str | None] = mapped_column(Text, default=None)
    rows_imported: Mapped[int | None] = mapped_column(Integer, default=None)
    rows_deleted: Mapped[int | None] = mapped_column(Integer, default=None)
    requests_made: Mapped[int | None] = mapped_column(Integer, default=None)
    """Web API requests the run sent (retries included); None for runs that ended before counting."""
    throttled: Mapped[int | None] = mapped_column(Integer, default=None)
    """429 answers (service protection) the run met."""
    throttled_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    """While running: the end of the latest ``Retry-After`` Dynamics answered the run's requests with."""

    __table_args__ = (
        # Migration 0043: the console's reads of the runs in index order, never sorted (the runs are never pruned);
        # the (organization, state, requested at) index took over from (organization, state), its prefix.
        Index("ix_import_requests_organization_id_requested_at", "organization_id", "requested_at"),
        Index("ix_import_requests_organization_id_state_requested_at", "organization_id", "state", "requested_at"),
        Index("ix_import_requests_organization_id_state_finished_at", "organization_id", "state", "finished_at"),
    )

    def __repr__(self) -> str:
        return (
            f"ImportRequest(id={self.id!s}, organization_id={self.organization_id!s}, reason={self.reason!r}, "
            f"state={self.state.value!r})"
        )


def _string_enum(enum_class: type[enum.StrEnum], length: int = 16) -> Enum:
    return Enum(
        enum_class,
        native_enum=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class CrmUser(Base):
    """A user of the connected Dynamics organization (``systemuser``), imported for seat matching and assignment.

    ``crm_id`` is the systemuserid (lowercase GUID). Application users and disabled users are kept (a seat may
    point at one, and the console says why it does not match) but are never offered for assignment.
    """

    __tablename__ = "crm_users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id", ondelete="CASCADE"))
    crm_id: Mapped[str] = mapped_column(String(64))
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    entra_object_id: Mapped[str | None] = mapped_column(String(64))
    is_disabled: Mapped[bool] = mapped_column(Boolean)
    is_application: Mapped[bool] = mapped_column(Boolean)
    access_mode: Mapped[int | None] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("uq_crm_users_organization_id_crm_id", "organization_id", "crm_id", unique=True),)

    def __repr__(self) -> str:
        return f"CrmUser(organization_id={self.organization_id!s}, crm_id={self.crm_id!r})"


Index("ix_crm_users_organization_id_lower_email", CrmUser.organization_id, func.lower(CrmUser.email))


class Seat(Base):
    """A seat of the organization's contract, held by one user.

    ``crm_sync_enabled`` is the seat's own switch, which counts only while the organization's
    ``crm_sync_all_seats`` is off. ``crm_user_id`` and ``match`` are the outcome of the last matching.
    """

    __tablename__ = "seats"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    state: Mapped[SeatState] = mapped_column(_string_enum(SeatState))
    crm_sync_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    crm_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("crm_users.id", ondelete="SET NULL"))
    match: Mapped[MatchOutcome] = mapped_column(_string_enum(MatchOutcome, length=24))
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime)
    assigned_by: Mapped[str] = mapped_column(String(320))

    __table_args__ = (Index("ix_seats_organization_id", "organization_id"),)

    def __repr__(self) -> str:
        return f"Seat(id={self.id!s}, organization_id={self.organization_id!s}, state={self.state.value!r})"


class Invitation(Base):
    """An invitation for a user to set a password and take their seat. Only the token's SHA-256 is stored."""

    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    def __repr__(self) -> str:
        return f"Invitation(id={self.id!s}, organization_id={self.organization_id!s}, user_id={self.user_id!s})"


class ApiToken(Base):
    """A user's token for programmatic clients. Only the token's SHA-256 and a short display prefix are stored."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    """When the token was last used, to within the store's granularity (not stamped on every call)."""
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    def __repr__(self) -> str:
        return f"ApiToken(id={self.id!s}, organization_id={self.organization_id!s}, prefix={self.prefix!r})"


class WebSession(Base):
    """A signed-in browser session. Only the session token's SHA-256 is stored; signing out deletes the row."""

    __tablename__ = "web_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)

    def __repr__(self) -> str:
        return f"WebSession(id={self.id!s}, organization_id={self.organization_id!s}, user_id={self.user_id!s})"


class SignInFailure(Base):
    """One failed (or still running) sign-in attempt counted against ``subject``: the SHA-256 of an account
    (workspace and email as typed) or of a client address. The one row without an organization: sign-ins are
    throttled before any organization is known, and unknown workspaces like known ones, so that the throttle
    reveals nothing. Rows older than the longest throttling window are deleted as attempts come in."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_subject_failed_at", "subject", "failed_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    subject: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)

    def __repr__(self) -> str:
        return f"SignInFailure(id={self.id!s}, failed_at={self.failed_at.isoformat()})"


class CrmRecord(Base):
    """One imported row of a CRM table (account, contact, lead, opportunity, systemuser, team, connection).

    ``data`` holds the imported columns as the CRM sent them (lookups as ``{"id": …, "table": …}``); ``name``,
    ``owner_id``, ``parent_id`` and ``state_code`` are copies of the columns the workspace queries, so lists and
    matching never parse JSON in SQL. ``generation`` is the full read that last saw the row: after a full read
    completes, rows of older generations are gone from the CRM.
    """

    __tablename__ = "crm_records"

    # No foreign key to organizations: PostgreSQL checks one with a query per inserted row, half the server's work
    # of a full import (migration 0011). Records are written by the import of a stored organization and deleted by
    # its purge.
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    crm_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(400))
    owner_id: Mapped[str | None] = mapped_column(String(36))
    parent_id: Mapped[str | None] = mapped_column(String(36))
    state_code: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    generation: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime)

    # No index on owner_id or parent_id: a full import writes rows in id order, and an index on either column
    # would take each row to a random place of a B-tree larger than the page cache (three quarters of a million
    # row import's time). Queries by owner or parent read one table's rows of the organization in one pass.

    def __repr__(self) -> str:
        return f"CrmRecord(organization_id={self.organization_id!s}, table={self.table_name!r}, id={self.crm_id!r})"


# The one exception: the opportunities (few beside contacts) by parent, for a person's or company's open
# opportunities (migration 0023). Partial, so importing the other tables costs what it did.
_ONLY_OPPORTUNITIES = text("table_name = 'opportunity'")
Index(
    "ix_crm_records_opportunities_parent_id",
    CrmRecord.organization_id,
    CrmRecord.parent_id,
    sqlite_where=_ONLY_OPPORTUNITIES,
    postgresql_where=_ONLY_OPPORTUNITIES,
)

MIGRATION_ONLY_INDEXES = frozenset(
    {
        "ix_crm_records_opportunities_stepname",
        "ix_people_organization_id_search_text",
        "ix_companies_organization_id_search_text",
    }
)
"""Indexes one model index cannot say, so the migrations alone create them and schema comparisons leave them out
(:func:`salesbridge.store.jobs.belongs_to_the_models`): the partial index of the opportunities on a JSON expression
written per backend (``json_extract`` on SQLite, ``->>`` on PostgreSQL; migrations 0027, 0029), and the people's
and companies' search texts on SQLite only (migration 0028). Migration 0024's lookup indexes were dropped by 0039."""


class CrmOpportunityRecord(Base):
    """A record an imported opportunity names (:func:`salesbridge.domain.reports.named_records`: its account, its
    contacts, its lead; ids in lower case), so the influenced-pipeline report finds the opportunities of the
    records with workspace activity through one index (migration 0032).

    Derived from ``crm_records``: the import writes an opportunity's rows with it, in the same transaction (an
    upsert replaces them; a deletion and a full read's sweep remove them), and the purge deletes them with it.
    """

    __tablename__ = "crm_opportunity_records"

    # No foreign key, as crm_records (migration 0011): written by the import, deleted with the records.
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    opportunity_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    record_table: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(36), primary_key=True)

    __table_args__ = (
        Index("ix_crm_opportunity_records_record", "organization_id", "record_table", "record_id", "opportunity_id"),
    )


class CrmOpportunityFacts(Base):
    """An imported opportunity's name and the columns the influenced-pipeline report reads
    (:func:`salesbridge.domain.reports.report_facts`), so the report judges the opportunities of the records with
    workspace activity without reading their whole rows (migration 0035).

    Derived from ``crm_records`` like :class:`CrmOpportunityRecord`, and kept with it: the import writes an
    opportunity's facts with it, in the same transaction (an upsert replaces them; a deletion and a full read's
    sweep remove them), and the purge deletes them with it.
    """

    __tablename__ = "crm_opportunity_facts"

    # No foreign key, as crm_records (migration 0011): written by the import, deleted with the records.
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    opportunity_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(400))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)


class TableSyncState(Base):
    """Where the import of one CRM table stands: its checkpoint and its health.

    Checkpoint: ``delta_token`` (change tracking) or ``cursor_modified_on`` + ``cursor_ids`` (the closed-range
    fallback); ``resume_link`` is the next page of an interrupted read; ``reading_generation`` is set while a full
    read is in progress, and ``reading_replaces_rows`` says whether rows were stored when it started (if not,
    nothing older than the read can remain, and its completion deletes nothing). Health: the last success,
    counts of the last run, and consecutive failures since when.
    """

    __tablename__ = "table_sync_states"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    mode: Mapped[SyncMode] = mapped_column(_string_enum(SyncMode, length=24))
    delta_token: Mapped[str | None] = mapped_column(Text, default=None)
    resume_link: Mapped[str | None] = mapped_column(Text, default=None)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    reading_generation: Mapped[int | None] = mapped_column(Integer, default=None)
    reading_replaces_rows: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    cursor_modified_on: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    cursor_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_full_read_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    rows_imported: Mapped[int] = mapped_column(Integer, default=0)
    rows_deleted: Mapped[int] = mapped_column(Integer, default=0)
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    def __repr__(self) -> str:
        return f"TableSyncState(organization_id={self.organization_id!s}, table={self.table_name!r})"


class SkippedImportRecord(Base):
    """A CRM record the import could not store (the rest of its page was stored), with Dynamics' error code (when
    there is one) and message; deleted when the record is stored again."""

    __tablename__ = "crm_import_record_errors"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    crm_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str | None] = mapped_column(String(64), default=None)
    message: Mapped[str] = mapped_column(Text)
    first_failed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_failed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=1)


class CrmSettings(Base):
    """The organization's CRM settings: where an opportunity enters the pipeline, where a won opportunity's
    value lives, automatic saving, and the import schedule. One row per organization, created on first save."""

    __tablename__ = "crm_settings"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    stage_source: Mapped[StageSource] = mapped_column(_string_enum(StageSource, length=24))
    stage_threshold: Mapped[str | None] = mapped_column(String(200), default=None)
    """The first stage inside the pipeline: an option value (as text) of a choice column, or a step name."""
    won_value_column: Mapped[str] = mapped_column(String(100))
    won_value_base_currency: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_save_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    sync_interval_minutes: Mapped[int] = mapped_column(Integer, default=15)
    contact_profile_url_column: Mapped[str | None] = mapped_column(String(100), default=None)
    """The contact column holding a LinkedIn profile URL (a text column the administrator mapped); None: none."""
    lead_profile_url_column: Mapped[str | None] = mapped_column(String(100), default=None)
    account_profile_url_column: Mapped[str | None] = mapped_column(String(100), default=None)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AutoSaveRules(Base):
    """A user's choice of what is saved into their lists automatically."""

    __tablename__ = "auto_save_rules"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id", ondelete="CASCADE"))
    accounts_of_open_opportunities: Mapped[bool] = mapped_column(Boolean, default=True)
    accounts_owned: Mapped[bool] = mapped_column(Boolean, default=False)
    leads_of_open_opportunities: Mapped[bool] = mapped_column(Boolean, default=True)
    leads_of_owned_accounts: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AutoSaveBasis(Base):
    """What the organization's auto-saved lists were last computed from: the pipeline settings' fingerprint and,
    per workspace user (their id as text), a digest of the CRM user their seat matches and of their rules."""

    __tablename__ = "auto_save_bases"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    settings: Mapped[str] = mapped_column(String(128))
    owners: Mapped[dict[str, str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SavedList(Base):
    """A user's list of accounts or of leads and contacts."""

    __tablename__ = "saved_lists"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id", ondelete="CASCADE"))
    owner_user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ListKind] = mapped_column(_string_enum(ListKind, length=16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ListItem(Base):
    """A CRM record in a list. Items of system lists carry ``reason`` (the rule that put them there)."""

    __tablename__ = "list_items"

    list_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("saved_lists.id", ondelete="CASCADE"), primary_key=True)
    crm_table: Mapped[str] = mapped_column(String(64), primary_key=True)
    crm_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id", ondelete="CASCADE"))
    reason: Mapped[str | None] = mapped_column(String(64), default=None)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)

    # By organization and list (migration 0034): a list's items, scoped by organization, in one range.
    __table_args__ = (Index("ix_list_items_organization_id_list_id", "organization_id", "list_id"),)


class CrmRequestBudget(Base):
    """Dataverse's service-protection window of one Dynamics organization (its URL) and application user (client
    id), shared by every worker: the state of :class:`~salesbridge.domain.request_budget.BudgetWindow`.

    Not a workspace's row: Dataverse limits the application user on the organization, so two workspaces connected
    to one Dynamics organization with one application user draw on one budget. It holds counters only (no
    customer data, no secret).
    """

    __tablename__ = "crm_request_budgets"

    org_url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)


class CompanyRow(Base):
    """A company of the workspace (:class:`salesbridge.domain.people.Company`), one per organization and
    ``external_id``. ``sort_name`` and ``search_text`` are computed from the value when it is stored."""

    __tablename__ = "companies"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(300))
    website: Mapped[str | None] = mapped_column(String(2048))
    domain: Mapped[str | None] = mapped_column(String(255))
    industry: Mapped[str | None] = mapped_column(String(200))
    employee_count: Mapped[int | None] = mapped_column(Integer)
    city: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(64))
    profile_url: Mapped[str | None] = mapped_column(String(2048))
    sort_name: Mapped[str] = mapped_column(String(300))
    search_text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("uq_companies_organization_id_external_id", "organization_id", "external_id", unique=True),
        Index("ix_companies_organization_id_sort_name", "organization_id", "sort_name", "id"),
        Index("ix_companies_organization_id_domain", "organization_id", "domain"),
    )


class PersonRow(Base):
    """A person of the workspace (:class:`salesbridge.domain.people.Person`), one per organization and
    ``external_id``. ``sort_name`` and ``search_text`` are computed from the value when it is stored."""

    __tablename__ = "people"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(300))
    headline: Mapped[str | None] = mapped_column(String(500))
    company_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )
    company_name: Mapped[str | None] = mapped_column(String(300))
    company_external_id: Mapped[str | None] = mapped_column(String(255))  # migration 0033
    past_companies: Mapped[list[str]] = mapped_column(JSON)
    city: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(200))
    emails: Mapped[list[str]] = mapped_column(JSON)
    phones: Mapped[list[str]] = mapped_column(JSON)
    profile_url: Mapped[str | None] = mapped_column(String(2048))
    source: Mapped[str | None] = mapped_column(String(64))
    sort_name: Mapped[str] = mapped_column(String(300))
    search_text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("uq_people_organization_id_external_id", "organization_id", "external_id", unique=True),
        Index("ix_people_organization_id_sort_name", "organization_id", "sort_name", "id"),
        # A company loaded after its people finds them (migration 0036).
        Index("ix_people_organization_id_company_external_id", "organization_id", "company_external_id"),
    )


class MatchLinkRow(Base):
    """What matching decided about one CRM record (contact, lead or account): its person or company (``band``
    ``match``), a candidate for review (``review``), or, from a correction, explicitly none (``no_match``, no
    target). One row per CRM record: a record ties to at most one target. See migration 0014."""

    __tablename__ = "match_links"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    crm_table: Mapped[str] = mapped_column(String(64), primary_key=True)
    crm_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    target_kind: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    band: Mapped[str] = mapped_column(String(16))
    probability: Mapped[float | None] = mapped_column(Float)
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    origin: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)
    stale_fields: Mapped[list[str]] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_match_links_organization_id_target_id", "organization_id", "target_id"),
        # The CRM id last (migration 0040): a record's tie is one probe of this index as of the primary key.
        Index("ix_match_links_organization_id_crm_table_band_crm_id", "organization_id", "crm_table", "band", "crm_id"),
    )


class MatchRejectionRow(Base):
    """A pair an administrator rejected in review: never proposed again."""

    __tablename__ = "match_rejections"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    crm_table: Mapped[str] = mapped_column(String(64), primary_key=True)
    crm_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    target_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MatchKeyRow(Base):
    """One blocking key (or the fingerprint, ``#…``) of one record of one side (``contact``, ``lead``,
    ``account``, ``person``, ``company``); ``ref`` is the CRM id or the person's or company's id."""

    __tablename__ = "match_keys"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    side: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    ref: Mapped[str] = mapped_column(String(120), primary_key=True)

    __table_args__ = (Index("ix_match_keys_organization_id_side_ref", "organization_id", "side", "ref"),)


class MatchStateRow(Base):
    """Matching's state per organization: estimated models, watermarks, the last run and a pending request."""

    __tablename__ = "match_state"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    people_model: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    companies_model: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    crm_watermark: Mapped[datetime | None] = mapped_column(UtcDateTime)
    people_watermark: Mapped[datetime | None] = mapped_column(UtcDateTime)
    companies_watermark: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_full_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PeopleUploadRow(Base):
    """A CSV of people or companies uploaded on the console and its load (:class:`salesbridge.domain.uploads.Upload`);
    ``content`` holds the file until the load ends. See migration 0016."""

    __tablename__ = "people_uploads"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), index=True)
    bytes_read: Mapped[int] = mapped_column(BigInteger)
    lines_read: Mapped[int] = mapped_column(Integer)
    rows_read: Mapped[int] = mapped_column(Integer)
    inserted: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    refused: Mapped[int] = mapped_column(Integer)
    problems: Mapped[list[Any]] = mapped_column(JSON)
    warnings: Mapped[list[Any]] = mapped_column(JSON)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_people_uploads_organization_id_created_at", "organization_id", "created_at"),)


class WritebackSettingsRow(Base):
    """The organization's writeback settings (:class:`salesbridge.domain.writeback.WritebackSettings`); ``items``
    is a comma-separated list of data item names. No row: the defaults. See migration 0017."""

    __tablename__ = "writeback_settings"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean)
    items: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(320))


class WritebackThrottleRow(Base):
    """Until when Dynamics throttles the organization's writeback drain (the end of the latest ``Retry-After`` it
    waited on). No row: never throttled. See migration 0038."""

    __tablename__ = "writeback_throttles"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    throttled_until: Mapped[datetime] = mapped_column(UtcDateTime)


class ActivityRow(Base):
    """An activity a seller logged and its outbox entry (:class:`salesbridge.domain.writeback.Activity`), one row
    for both so they are written together. ``person_id``, ``company_id`` and ``author_user_id`` carry no foreign
    key: the activity outlives them. See migration 0017."""

    __tablename__ = "activities"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id", ondelete="CASCADE"))
    author_user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    client_id: Mapped[str] = mapped_column(String(100))
    item: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    company_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    direction: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    conversation_id: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(24))
    hold: Mapped[str | None] = mapped_column(String(24))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    regarding_table: Mapped[str | None] = mapped_column(String(16))
    regarding_id: Mapped[str | None] = mapped_column(String(36))
    crm_table: Mapped[str] = mapped_column(String(64))
    crm_id: Mapped[str] = mapped_column(String(36))
    delivered_version: Mapped[int | None] = mapped_column(Integer)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    participants: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON ids; migration 0018

    __table_args__ = (
        Index(
            "uq_activities_organization_id_author_user_id_client_id",
            "organization_id",
            "author_user_id",
            "client_id",
            unique=True,
        ),
        Index("ix_activities_organization_id_state_next_attempt_at", "organization_id", "state", "next_attempt_at"),
        Index("ix_activities_organization_id_person_id_occurred_at", "organization_id", "person_id", "occurred_at"),
        Index("ix_activities_organization_id_company_id_occurred_at", "organization_id", "company_id", "occurred_at"),
        Index("ix_activities_organization_id_occurred_at", "organization_id", "occurred_at"),
        # Migration 0042: the console's and the alerts' recurring counts read in index order, never sorted in the
        # process (SQLite's sorter, growing with the table, fragmented a long-running console's heap).
        Index(
            "ix_activities_organization_id_item_author_state_hold",
            "organization_id",
            "item",
            "author_user_id",
            "state",
            "hold",
        ),
        Index(
            "ix_activities_organization_id_state_author_item_occurred",
            "organization_id",
            "state",
            "author_user_id",
            "item",
            "occurred_at",
        ),
        Index(
            "ix_activities_organization_id_regarding_occurred",
            "organization_id",
            "regarding_table",
            "regarding_id",
            "occurred_at",
        ),
        Index("ix_activities_organization_id_author_occurred", "organization_id", "author_user_id", "occurred_at"),
        # Migration 0043: the newest activities in a state (the failing and parked ones the Writeback and CRM health
        # pages list), one probe per state in index order.
        Index("ix_activities_organization_id_state_occurred", "organization_id", "state", "occurred_at"),
        # Migration 0041: the activities failing with a given code (waiting for the CRM app), asked exactly.
        # Partial: rows without an error code (most) keep no entry.
        Index(
            "ix_activities_organization_id_error_code_state",
            "organization_id",
            "error_code",
            "state",
            "next_attempt_at",
            sqlite_where=text("error_code IS NOT NULL"),
            postgresql_where=text("error_code IS NOT NULL"),
        ),
    )


class MatchRateSnapshotRow(Base):
    """A CRM table's records, tied and in review, when a matching run committed (the reports' match rate over
    time). See migration 0022."""

    __tablename__ = "match_rate_snapshots"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    taken_at: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    crm_table: Mapped[str] = mapped_column(String(64), primary_key=True)
    total: Mapped[int] = mapped_column(Integer)
    matched: Mapped[int] = mapped_column(Integer)
    review: Mapped[int] = mapped_column(Integer)


class CrmRecordChangeRow(Base):
    """A change the import saw on a stored CRM record (:class:`salesbridge.domain.crm_changes.NoticedChange`),
    written with the page that changed it. ``owner_id`` and ``parent_id`` are the record's after the change. See
    migration 0020."""

    __tablename__ = "crm_record_changes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id", ondelete="CASCADE"))
    table_name: Mapped[str] = mapped_column(String(64))
    crm_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))
    before_value: Mapped[str | None] = mapped_column(String(400))
    after_value: Mapped[str | None] = mapped_column(String(400))
    owner_id: Mapped[str | None] = mapped_column(String(36))
    parent_id: Mapped[str | None] = mapped_column(String(36))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_crm_record_changes_organization_id_changed_at", "organization_id", "changed_at"),
        # A seller's home reads the changes of their records by record, account and owner (migration 0026).
        Index("ix_crm_record_changes_record", "organization_id", "table_name", "crm_id", "changed_at"),
        Index("ix_crm_record_changes_parent_id", "organization_id", "parent_id", "changed_at"),
        Index("ix_crm_record_changes_owner_id", "organization_id", "owner_id", "changed_at"),
        Index("ix_crm_record_changes_before_value", "organization_id", "kind", "before_value", "changed_at"),
    )


class HomeVisitRow(Base):
    """When a user last opened their home, and the visit before that (migration 0020)."""

    __tablename__ = "home_visits"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id", ondelete="CASCADE"))
    visited_at: Mapped[datetime] = mapped_column(UtcDateTime)
    previous_visit_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
