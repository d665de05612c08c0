"""An in-memory store that implements :mod:`salesbridge.services.ports`, for testing the rules of a service in
milliseconds, without a database or the sandbox.

It keeps the contracts the services rely on (scoping by organization, case-insensitive emails, unique seats per
user, stable CRM user ids, rollback unless committed, read-only units refusing writes) and nothing else: the
real store's behaviour is proven by the integration tests on SQLite and PostgreSQL.

::

    store = FakeStore(clock=clock)
    acme = store.add_organization("acme", seats_purchased=3)
    service = SeatService(store, clock=clock)

To support a new repository: add its rows to :class:`_Tables`, a class implementing its protocol over them, and a
property on :class:`FakeUnitOfWork`.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from pydantic import SecretStr

from salesbridge.domain.clock import Clock as Clock
from salesbridge.domain.crm_changes import NoticedChange
from salesbridge.domain.crm_import import StoredFields, import_specs, stored_fields
from salesbridge.domain.csv_rows import CsvKind, LineProblem
from salesbridge.domain.currencies import CrmCurrencies
from salesbridge.domain.jobs import (
    CANCELLED_IMPORT_ERROR,
    IMPORT_ORGANIZATION,
    TASK_RAISED_ERROR,
    TASK_SPECS,
    Job,
    JobState,
)
from salesbridge.domain.lists import SYSTEM_LIST_NAMES, AutoSaveBasis, ItemDiff, ListItem, ListKind, SavedList
from salesbridge.domain.match_links import (
    Badge,
    KeySide,
    LinkBand,
    LinkCounts,
    LinkOrigin,
    MatchLink,
    MatchRejection,
    MatchState,
    TargetKind,
)
from salesbridge.domain.people import UNKNOWN_COMPANY_MESSAGE, Company, Person, keeping_stored, search_words
from salesbridge.domain.pipeline import PROCESS_STEP, AutoSaveChoices, CrmSettings, RecordFacts, StageSource, lookup
from salesbridge.domain.reports import MatchRateSnapshot
from salesbridge.domain.search_folding import fold_for_search
from salesbridge.domain.seat_matching import MatchOutcome
from salesbridge.domain.sign_in_throttle import SignInAdmission, SignInThrottlePolicy
from salesbridge.domain.sync_health import SkippedRecord
from salesbridge.domain.sync_runs import (
    STOPPED_WORKER_ERROR,
    ImportedRecord,
    ImportRun,
    ImportSettings,
    RecordRow,
    RecordState,
    RunCounts,
    SyncMode,
    TableCheckpoint,
)
from salesbridge.domain.uploads import Upload, UploadProgress, UploadState
from salesbridge.domain.workspace import (
    ApiToken,
    AuditEntry,
    CaBundle,
    ConnectionState,
    CrmConnection,
    CrmCredentials,
    CrmUser,
    CrmUserSync,
    CrmUserValues,
    ImportState,
    Invitation,
    Organization,
    Seat,
    SeatState,
    User,
    WebSession,
)
from salesbridge.domain.writeback import (
    ITEM_TABLES,
    REGARDING_PREFERENCE,
    Activity,
    ActivityDraft,
    DataItem,
    Delivery,
    DeliveryState,
    FailureOutcome,
    Regarding,
    SeatHold,
    StatusCount,
    WritebackSettings,
    crm_activity_id,
)
from salesbridge.errors import (
    ActivityChangedError,
    InvalidInputError,
    RowNotFoundError,
    StoreError,
    UniqueConstraintError,
    UnsupportedJobError,
)
from salesbridge.services.ports import StoreAccess, UpsertCounts


class FakeClock:
    """A clock that stands still until moved. Timezone-aware UTC."""

    def __init__(self, now: datetime = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class ReadOnlyError(StoreError):
    """A read-only unit of work was asked to write."""


@dataclass
class _Tables:
    """One organization's rows. Values are frozen, so a shallow copy of the dicts is a snapshot."""

    organization: Organization | None = None
    users: dict[uuid.UUID, User] = field(default_factory=dict)
    seats: dict[uuid.UUID, Seat] = field(default_factory=dict)
    crm_users: dict[uuid.UUID, CrmUser] = field(default_factory=dict)
    invitations: dict[str, Invitation] = field(default_factory=dict)  # by token hash
    api_tokens: dict[str, ApiToken] = field(default_factory=dict)  # by token hash
    web_sessions: dict[str, WebSession] = field(default_factory=dict)  # by token hash
    audit: list[AuditEntry] = field(default_factory=list)
    crm_connection: CrmConnection | None = None
    client_secret: SecretStr | None = None
    crm_currencies: CrmCurrencies = field(default_factory=CrmCurrencies)  # kept with the connection
    # The import plane (sync runs, connect, disconnect):
    import_runs: dict[uuid.UUID, ImportRun] = field(default_factory=dict)  # in the order queued
    table_checkpoints: dict[str, TableCheckpoint] = field(default_factory=dict)
    crm_records: dict[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)  # by (table, crm id)
    crm_record_generations: dict[tuple[str, str], int] = field(default_factory=dict)  # when absent: 1
    import_settings: ImportSettings | None = None  # None: what crm_settings says
    # Lists and CRM settings:
    crm_settings: CrmSettings | None = None
    auto_save_rules: dict[uuid.UUID, AutoSaveChoices] = field(default_factory=dict)  # by user id
    saved_lists: dict[uuid.UUID, SavedList] = field(default_factory=dict)
    list_items: dict[tuple[uuid.UUID, str, str], ListItem] = field(default_factory=dict)  # by (list, table, crm id)
    auto_save_basis: dict[None, AutoSaveBasis] = field(default_factory=dict)  # at most one, under None
    # Background jobs (the job API), by id:
    jobs: dict[str, _FakeJob] = field(default_factory=dict)
    # The workspace's own people and companies, by external id:
    people: dict[str, Person] = field(default_factory=dict)
    companies: dict[str, Company] = field(default_factory=dict)
    # Matching (FakeMatches): links by (table, crm id), rejections by (table, crm id, target), keys by (side, ref):
    crm_record_written_at: dict[tuple[str, str], datetime] = field(default_factory=dict)
    match_links: dict[tuple[str, str], MatchLink] = field(default_factory=dict)
    match_rejections: dict[tuple[str, str, uuid.UUID], MatchRejection] = field(default_factory=dict)
    match_keys: dict[tuple[KeySide, str], frozenset[str]] = field(default_factory=dict)
    match_state: MatchState | None = None
    # Console uploads (FakeUploads), by id in the order added, and their files until their loads end:
    uploads: dict[uuid.UUID, Upload] = field(default_factory=dict)
    upload_files: dict[uuid.UUID, bytes] = field(default_factory=dict)
    # Writeback (FakeActivities, FakeWritebackSettings): activities by id in the order added, their leases:
    writeback_settings: WritebackSettings | None = None
    activities: dict[uuid.UUID, Activity] = field(default_factory=dict)
    activity_leases: dict[uuid.UUID, datetime] = field(default_factory=dict)
    writeback_throttled_until: datetime | None = None
    # The records the import skipped (FakeSkippedRecords), by table and id:
    skipped_records: dict[tuple[str, str], SkippedRecord] = field(default_factory=dict)
    # What the import noticed change (FakeNoticedChanges), in the order seen:
    crm_record_changes: list[tuple[NoticedChange, datetime]] = field(default_factory=list)
    # The match rate recorded after each matching run (FakeReports), in the order taken:
    match_rates: list[MatchRateSnapshot] = field(default_factory=list)

    def snapshot(self) -> _Tables:
        return _Tables(**{name: copy.copy(value) for name, value in vars(self).items()})


class _Repository:
    def __init__(self, unit: FakeUnitOfWork) -> None:
        self._unit = unit

    @property
    def _t(self) -> _Tables:
        return self._unit._tables()

    def _now(self) -> datetime:
        return self._unit.store.clock()

    def _write(self) -> _Tables:
        if self._unit.read_only:
            raise ReadOnlyError("This unit of work is read-only.")
        return self._t


class FakeOrganizationRepository(_Repository):
    def create(self, *, slug: str, name: str, seats_purchased: int) -> Organization:
        existing = self._t.organization
        if existing is not None:
            if existing.slug != slug:
                raise UniqueConstraintError("This organization id already exists with another slug.", field="id")
            return existing
        if self._unit.store.organization_id(slug) is not None:
            raise UniqueConstraintError(f"The organization slug {slug!r} is taken.", field="slug")
        organization = Organization(
            id=self._unit.organization_id,
            slug=slug,
            name=name,
            seats_purchased=seats_purchased,
            crm_sync_all_seats=True,
            created_at=self._now(),
        )
        self._write().organization = organization
        return organization

    def get(self) -> Organization:
        if self._t.organization is None:
            raise RowNotFoundError("The organization does not exist.")
        return self._t.organization

    def set_crm_sync_all_seats(self, enabled: bool) -> Organization:
        organization = replace(self.get(), crm_sync_all_seats=enabled)
        self._write().organization = organization
        return organization


class FakeUserRepository(_Repository):
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
        if self.find_by_email(email) is not None:
            raise UniqueConstraintError("A user with this email already exists in the organization.", field="email")
        user = User(
            id=uuid.uuid4(),
            organization_id=self._unit.organization_id,
            email=email,
            display_name=display_name,
            is_admin=is_admin,
            password_hash=password_hash,
            locale=locale,
            entra_object_id=entra_object_id.lower() if entra_object_id else None,
            created_at=self._now(),
        )
        self._write().users[user.id] = user
        return user

    def get(self, user_id: uuid.UUID) -> User:
        user = self._t.users.get(user_id)
        if user is None:
            raise RowNotFoundError("No such user in this organization.")
        return user

    def find_by_email(self, email: str) -> User | None:
        return next((user for user in self._t.users.values() if user.email.lower() == email.lower()), None)

    def list_all(self) -> list[User]:
        return sorted(self._t.users.values(), key=lambda user: user.email.lower())

    def update(
        self,
        user_id: uuid.UUID,
        *,
        email: str | None = None,
        display_name: str | None = None,
        password_hash: str | None = None,
        locale: str | None = None,
    ) -> User:
        user = self.get(user_id)
        if email is not None:
            other = self.find_by_email(email)
            if other is not None and other.id != user_id:
                raise UniqueConstraintError("A user with this email already exists in the organization.", field="email")
        changes: dict[str, Any] = {
            name: value
            for name, value in (
                ("email", email),
                ("display_name", display_name),
                ("password_hash", password_hash),
                ("locale", locale),
            )
            if value is not None
        }
        user = replace(user, **changes)
        self._write().users[user_id] = user
        return user


class FakeSeatRepository(_Repository):
    def add(self, *, user_id: uuid.UUID, state: SeatState, assigned_by: str, crm_sync_enabled: bool = True) -> Seat:
        self._unit.users.get(user_id)
        if self.find_by_user(user_id) is not None:
            raise UniqueConstraintError("This user already holds a seat.", field="user_id")
        seat = Seat(
            id=uuid.uuid4(),
            user_id=user_id,
            state=state,
            crm_sync_enabled=crm_sync_enabled,
            crm_user_id=None,
            match=MatchOutcome.NOT_IMPORTED,
            assigned_at=self._now(),
            assigned_by=assigned_by,
        )
        self._write().seats[seat.id] = seat
        return seat

    def get(self, seat_id: uuid.UUID) -> Seat:
        seat = self._t.seats.get(seat_id)
        if seat is None:
            raise RowNotFoundError("No such seat in this organization.")
        return seat

    def find_by_user(self, user_id: uuid.UUID) -> Seat | None:
        return next((seat for seat in self._t.seats.values() if seat.user_id == user_id), None)

    def list_with_users(self) -> list[tuple[Seat, User]]:
        pairs = [(seat, self._t.users[seat.user_id]) for seat in self._t.seats.values()]
        return sorted(pairs, key=lambda pair: pair[1].email.lower())

    def count(self) -> int:
        return len(self._t.seats)

    def set_state(self, seat_id: uuid.UUID, state: SeatState) -> Seat:
        return self._replace(seat_id, state=state)

    def set_crm_sync(self, seat_id: uuid.UUID, enabled: bool) -> Seat:
        return self._replace(seat_id, crm_sync_enabled=enabled)

    def set_matches(self, matches: Mapping[uuid.UUID, tuple[MatchOutcome, uuid.UUID | None]]) -> None:
        for seat_id, (outcome, crm_user_id) in matches.items():
            if seat_id in self._t.seats:
                self._replace(seat_id, match=outcome, crm_user_id=crm_user_id)

    def _replace(self, seat_id: uuid.UUID, **changes: Any) -> Seat:
        seat = replace(self.get(seat_id), **changes)
        self._write().seats[seat_id] = seat
        return seat


class FakeCrmUserRepository(_Repository):
    def replace_all(self, users: Iterable[CrmUserValues]) -> CrmUserSync:
        tables = self._write()
        existing = {row.crm_id: row for row in tables.crm_users.values()}
        kept: dict[uuid.UUID, CrmUser] = {}
        seen: set[str] = set()
        for values in users:
            crm_id = values.crm_id.lower()
            if crm_id in seen:
                continue
            seen.add(crm_id)
            previous = existing.get(crm_id)
            row = CrmUser(
                id=previous.id if previous else uuid.uuid4(),
                crm_id=crm_id,
                full_name=values.full_name,
                email=values.email,
                entra_object_id=values.entra_object_id.lower() if values.entra_object_id else None,
                is_disabled=values.is_disabled,
                is_application=values.is_application,
                access_mode=values.access_mode,
                imported_at=self._now(),
            )
            kept[row.id] = row
        added = sum(1 for crm_id in seen if crm_id not in existing)
        removed = sum(1 for crm_id in existing if crm_id not in seen)
        tables.crm_users = kept
        for seat in list(tables.seats.values()):  # the real foreign key sets a gone CRM user's seats to NULL
            if seat.crm_user_id is not None and seat.crm_user_id not in kept:
                tables.seats[seat.id] = replace(seat, crm_user_id=None)
        return CrmUserSync(added=added, updated=len(seen) - added, removed=removed)

    def list_all(self) -> list[CrmUser]:
        return sorted(self._t.crm_users.values(), key=lambda row: (row.full_name.lower(), row.crm_id))

    def find_by_crm_id(self, crm_id: str) -> CrmUser | None:
        return next((row for row in self._t.crm_users.values() if row.crm_id == crm_id.lower()), None)

    def find(self, crm_user_id: uuid.UUID) -> CrmUser | None:
        return next((row for row in self._t.crm_users.values() if row.id == crm_user_id), None)

    def last_imported_at(self) -> datetime | None:
        return max((row.imported_at for row in self._t.crm_users.values()), default=None)


class FakeInvitationRepository(_Repository):
    def add(self, *, user_id: uuid.UUID, token_hash: str, invited_by: str, expires_at: datetime) -> Invitation:
        self._unit.users.get(user_id)
        invitation = Invitation(
            id=uuid.uuid4(),
            user_id=user_id,
            invited_by=invited_by,
            created_at=self._now(),
            expires_at=expires_at,
            accepted_at=None,
        )
        self._write().invitations[token_hash] = invitation
        return invitation

    def find_by_token_hash(self, token_hash: str) -> Invitation | None:
        return self._t.invitations.get(token_hash)

    def mark_accepted(self, invitation_id: uuid.UUID) -> Invitation:
        for token_hash, invitation in self._t.invitations.items():
            if invitation.id == invitation_id:
                accepted = replace(invitation, accepted_at=self._now())
                self._write().invitations[token_hash] = accepted
                return accepted
        raise RowNotFoundError("No such invitation in this organization.")


class FakeApiTokenRepository(_Repository):
    def add(self, *, user_id: uuid.UUID, name: str, prefix: str, token_hash: str, expires_at: datetime) -> ApiToken:
        self._unit.users.get(user_id)
        token = ApiToken(
            id=uuid.uuid4(),
            user_id=user_id,
            name=name,
            prefix=prefix,
            created_at=self._now(),
            last_used_at=None,
            expires_at=expires_at,
            revoked_at=None,
        )
        self._write().api_tokens[token_hash] = token
        return token

    def find_active_by_hash(self, token_hash: str) -> ApiToken | None:
        token = self._t.api_tokens.get(token_hash)
        if token is None or token.revoked_at is not None or token.is_expired(self._now()):
            return None
        return token

    def list_for_user(self, user_id: uuid.UUID) -> list[ApiToken]:
        tokens = [token for token in self._t.api_tokens.values() if token.user_id == user_id]
        return sorted(tokens, key=lambda token: token.created_at, reverse=True)

    def touch(self, token_id: uuid.UUID, *, granularity: timedelta) -> bool:
        now = self._now()
        for token_hash, token in self._t.api_tokens.items():
            if token.id == token_id and (token.last_used_at is None or token.last_used_at <= now - granularity):
                self._write().api_tokens[token_hash] = replace(token, last_used_at=now)
                return True
        return False

    def revoke(self, *, user_id: uuid.UUID, token_id: uuid.UUID) -> ApiToken:
        for token_hash, token in self._t.api_tokens.items():
            if token.id == token_id and token.user_id == user_id:
                if token.revoked_at is None:
                    token = replace(token, revoked_at=self._now())
                    self._write().api_tokens[token_hash] = token
                return token
        raise RowNotFoundError("No such API token.")


class FakeWebSessionRepository(_Repository):
    def add(self, *, user_id: uuid.UUID, token_hash: str, csrf_token: str, expires_at: datetime) -> WebSession:
        self._unit.users.get(user_id)
        web_session = WebSession(
            id=uuid.uuid4(), user_id=user_id, csrf_token=csrf_token, created_at=self._now(), expires_at=expires_at
        )
        self._write().web_sessions[token_hash] = web_session
        return web_session

    def find_live_by_hash(self, token_hash: str) -> WebSession | None:
        web_session = self._t.web_sessions.get(token_hash)
        return web_session if web_session is not None and web_session.expires_at > self._now() else None

    def delete_by_hash(self, token_hash: str) -> None:
        self._write().web_sessions.pop(token_hash, None)


class FakeAuditLog(_Repository):
    _ids = itertools.count(1)

    def record(self, *, actor: str, action: str, details: Mapping[str, Any] | None = None) -> None:
        entry = AuditEntry(
            id=next(self._ids), actor=actor, action=action, details=dict(details or {}), created_at=self._now()
        )
        self._write().audit.append(entry)

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
        entries = sorted(
            self._filtered(action, actor, since, until), key=lambda entry: (entry.created_at, entry.id), reverse=True
        )
        return entries[offset : offset + limit]

    def count(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        return len(self._filtered(action, actor, since, until))

    def actions(self) -> list[str]:
        return sorted({entry.action for entry in self._t.audit})

    def actors(self) -> list[str]:
        return sorted({entry.actor for entry in self._t.audit})

    def _filtered(
        self, action: str | None, actor: str | None, since: datetime | None = None, until: datetime | None = None
    ) -> list[AuditEntry]:
        return [
            entry
            for entry in self._t.audit
            if (action is None or entry.action == action)
            and (actor is None or entry.actor == actor)
            and (since is None or entry.created_at >= since)
            and (until is None or entry.created_at < until)
        ]


class FakeCrmConnectionRepository(_Repository):
    def find(self) -> CrmConnection | None:
        return self._t.crm_connection

    def currencies(self) -> CrmCurrencies:
        return self._t.crm_currencies if self._t.crm_connection is not None else CrmCurrencies()

    def save_currencies(self, currencies: CrmCurrencies) -> None:
        if self._t.crm_connection is not None:
            self._write().crm_currencies = currencies

    def credentials(self) -> CrmCredentials:
        connection, secret = self._t.crm_connection, self._t.client_secret
        if connection is None or secret is None:
            raise RowNotFoundError("The organization has no CRM connection.")
        return CrmCredentials(
            org_url=connection.org_url,
            tenant_id=connection.tenant_id,
            client_id=connection.client_id,
            client_secret=secret,
            ca_bundle=CaBundle(connection.ca_bundle_pem, connection.ca_bundle_name)
            if connection.ca_bundle_pem
            else None,
            authority=connection.authority,
        )

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
        if self._t.organization is None:
            raise StoreError("The CRM connection could not be saved: the organization does not exist.")
        existing = self._t.crm_connection
        connection = CrmConnection(
            id=existing.id if existing else uuid.uuid4(),
            org_url=org_url,
            tenant_id=tenant_id,
            client_id=client_id,
            ca_bundle_pem=ca_bundle_pem,
            ca_bundle_name=ca_bundle_name,
            authority=authority,
            state=ConnectionState.DISCONNECTED,
            connected_crm_user_id=None,
            connected_at=None,
            last_error=None,
            updated_at=self._now(),
        )
        tables = self._write()
        tables.crm_connection, tables.client_secret = connection, client_secret
        tables.crm_currencies = CrmCurrencies()
        return connection

    def mark_connected(self, *, crm_user_id: str) -> CrmConnection:
        now = self._now()
        return self._replace(
            state=ConnectionState.CONNECTED, connected_crm_user_id=crm_user_id, connected_at=now, last_error=None
        )

    def mark_failed(self, *, error: str) -> CrmConnection:
        return self._replace(state=ConnectionState.FAILED, last_error=error)

    def delete(self) -> bool:
        existed = self._t.crm_connection is not None
        tables = self._write()
        tables.crm_connection, tables.client_secret = None, None
        tables.crm_currencies = CrmCurrencies()
        return existed

    def _replace(self, **changes: Any) -> CrmConnection:
        if self._t.crm_connection is None:
            raise RowNotFoundError("The organization has no CRM connection.")
        connection = replace(self._t.crm_connection, updated_at=self._now(), **changes)
        self._write().crm_connection = connection
        return connection


class FakeImportRunRepository(_Repository):
    """The import queue and its runs (``uow.import_requests`` and ``uow.import_runs`` alike, as in the store)."""

    def enqueue(self, *, reason: str) -> ImportRun:
        queued = self.queued()
        if queued:
            return queued[0]
        if self._t.organization is None:
            raise StoreError("The import could not be queued: the organization does not exist.")
        run = ImportRun(
            id=uuid.uuid4(),
            requested_at=self._now(),
            reason=reason,
            state=ImportState.QUEUED,
            started_at=None,
            finished_at=None,
            lease_expires_at=None,
            error=None,
        )
        self._write().import_runs[run.id] = run
        return run

    def queued(self) -> list[ImportRun]:
        return [run for run in self._runs() if run.state is ImportState.QUEUED]

    def running(self) -> ImportRun | None:
        now = self._now()
        return next(
            (
                run
                for run in self._runs()
                if run.state is ImportState.RUNNING and run.lease_expires_at is not None and run.lease_expires_at > now
            ),
            None,
        )

    def fail_expired(self) -> int:
        now = self._now()
        expired = [
            run
            for run in self._runs()
            if run.state is ImportState.RUNNING and (run.lease_expires_at is None or run.lease_expires_at <= now)
        ]
        for run in expired:
            self._put(run, state=ImportState.FAILED, finished_at=now, lease_expires_at=None, error=STOPPED_WORKER_ERROR)
        return len(expired)

    def claim(self, *, lease: timedelta) -> ImportRun | None:
        self.fail_expired()
        if self.running() is not None:
            return None
        queued = self.queued()
        if not queued:
            return None
        now = self._now()
        return self._put(queued[0], state=ImportState.RUNNING, started_at=now, lease_expires_at=now + lease)

    def renew(self, run_id: uuid.UUID, *, lease: timedelta) -> bool:
        run = self._t.import_runs.get(run_id)
        if run is None or run.state is not ImportState.RUNNING:
            return False
        self._put(run, lease_expires_at=self._now() + lease)
        return True

    def note_throttled(self, run_id: uuid.UUID, *, until: datetime) -> None:
        run = self._t.import_runs.get(run_id)
        if run is not None and run.state is ImportState.RUNNING:
            self._put(run, throttled_until=until)

    def finish(self, run_id: uuid.UUID, *, error: str | None = None, counts: RunCounts | None = None) -> None:
        run = self._t.import_runs.get(run_id)
        if run is not None and run.state is ImportState.RUNNING:
            state = ImportState.FAILED if error else ImportState.SUCCEEDED
            done = {} if counts is None else asdict(counts)
            self._put(run, state=state, finished_at=self._now(), lease_expires_at=None, error=error, **done)

    def recent(self, *, limit: int = 20) -> list[ImportRun]:
        return list(reversed(self._runs()))[:limit]

    def last_finished(self, state: ImportState) -> ImportRun | None:
        ended = [run for run in self._runs() if run.state is state and run.finished_at is not None]
        return max(reversed(ended), key=lambda run: run.finished_at or self._now(), default=None)

    def last_finished_at(self) -> datetime | None:
        return max((run.finished_at for run in self._runs() if run.finished_at is not None), default=None)

    def _runs(self) -> list[ImportRun]:
        """Oldest first (ties in the order queued)."""
        return sorted(self._t.import_runs.values(), key=lambda run: run.requested_at)

    def _put(self, run: ImportRun, **changes: Any) -> ImportRun:
        changed = replace(run, **changes)
        self._write().import_runs[run.id] = changed
        return changed


class FakeImportCheckpoints(_Repository):
    def all(self) -> list[TableCheckpoint]:
        return sorted(self._t.table_checkpoints.values(), key=lambda checkpoint: checkpoint.table_name)

    def get_or_create(self, table: str, *, mode: SyncMode) -> TableCheckpoint:
        checkpoint = self._t.table_checkpoints.get(table)
        if checkpoint is None:
            checkpoint = TableCheckpoint(
                table_name=table,
                mode=mode,
                delta_token=None,
                resume_link=None,
                generation=0,
                reading_generation=None,
                reading_replaces_rows=True,
                cursor_modified_on=None,
                cursor_ids=(),
                last_full_read_at=None,
                last_success_at=None,
                rows_imported=0,
                rows_deleted=0,
                row_count=0,
                consecutive_failures=0,
                failing_since=None,
                last_error=None,
                updated_at=self._now(),
            )
        elif checkpoint.mode is not mode:  # a changed mode restarts from a full read
            checkpoint = replace(
                checkpoint,
                mode=mode,
                delta_token=None,
                resume_link=None,
                reading_generation=None,
                cursor_modified_on=None,
                cursor_ids=(),
                last_full_read_at=None,
            )
        else:
            return checkpoint
        self._write().table_checkpoints[table] = checkpoint
        return checkpoint

    def save(self, checkpoint: TableCheckpoint) -> None:
        if checkpoint.table_name not in self._t.table_checkpoints:
            raise RowNotFoundError(f"The table {checkpoint.table_name!r} has no import checkpoint.")
        self._write().table_checkpoints[checkpoint.table_name] = checkpoint

    def record_failure(self, table: str, *, error: str) -> None:
        checkpoint = self._t.table_checkpoints.get(table)
        if checkpoint is not None:
            now = self._now()
            self._write().table_checkpoints[table] = replace(
                checkpoint,
                consecutive_failures=checkpoint.consecutive_failures + 1,
                failing_since=checkpoint.failing_since or now,
                last_error=error,
                updated_at=now,
            )


class FakeImportedRecords(_Repository):
    """Over ``crm_records`` (the columns, as tests seed them) and ``crm_record_generations``; the queryable fields
    are computed from the columns as the import computes them."""

    def upsert_many(self, table: str, rows: Sequence[RecordRow], *, generation: int, new: bool = False) -> int:
        tables = self._write()
        for row in rows:
            tables.crm_records[(table, row.crm_id)] = row.data
            tables.crm_record_generations[(table, row.crm_id)] = generation
            tables.crm_record_written_at[(table, row.crm_id)] = self._now()
        return len(rows)

    def delete_ids(self, table: str, crm_ids: Iterable[str]) -> int:
        return self._delete([(table, crm_id) for crm_id in set(crm_ids) if (table, crm_id) in self._t.crm_records])

    def sweep_older_generations(
        self, table: str, generation: int, *, after: str | None, limit: int
    ) -> tuple[int, str | None]:
        keys = sorted(key for key in self._t.crm_records if key[0] == table and (after is None or key[1] > after))
        looked = keys[:limit]
        gone = self._delete([key for key in looked if self._generation(key) < generation])
        return gone, looked[-1][1] if len(looked) == limit else None

    def any_stored(self, table: str) -> bool:
        return any(key[0] == table for key in self._t.crm_records)

    def count_stored(self, table: str, crm_ids: Iterable[str]) -> int:
        return sum(1 for crm_id in set(crm_ids) if (table, crm_id) in self._t.crm_records)

    def count(self, table: str) -> int:
        return sum(1 for key in self._t.crm_records if key[0] == table)

    def stored_states(self, table: str, crm_ids: Iterable[str]) -> dict[str, RecordState]:
        spec = import_specs().get(table)
        found: dict[str, RecordState] = {}
        for crm_id in set(crm_ids):
            data = self._t.crm_records.get((table, crm_id))
            if data is not None:
                fields = stored_fields(spec, data) if spec else StoredFields(None, None, None, None)
                found[crm_id] = RecordState(fields.owner_id, fields.parent_id, fields.state_code, data)
        return found

    def records(self, table: str, *, limit: int | None = None) -> list[ImportedRecord]:
        spec = import_specs().get(table)
        found = []
        for (record_table, crm_id), data in sorted(self._t.crm_records.items()):
            if record_table != table:
                continue
            fields = stored_fields(spec, data) if spec else StoredFields(None, None, None, None)
            found.append(
                ImportedRecord(
                    crm_id=crm_id,
                    name=fields.name,
                    owner_id=fields.owner_id,
                    parent_id=fields.parent_id,
                    state_code=fields.state_code,
                    data=data,
                    generation=self._generation((record_table, crm_id)),
                    imported_at=self._t.crm_record_written_at.get((record_table, crm_id), self._now()),
                )
            )
        return found[:limit] if limit is not None else found

    def _generation(self, key: tuple[str, str]) -> int:
        return self._t.crm_record_generations.get(key, 1)

    def _delete(self, keys: list[tuple[str, str]]) -> int:
        tables = self._write()
        for key in keys:
            del tables.crm_records[key]
            tables.crm_record_generations.pop(key, None)
        return len(keys)


class FakeCrmSettingsRepository(_Repository):
    def import_settings(self) -> ImportSettings:
        settings = self.get()
        return self._t.import_settings or ImportSettings(
            sync_interval_minutes=settings.sync_interval_minutes,
            won_value_column=settings.won_value_column,
            won_value_base_currency=settings.won_value_base_currency,
            profile_url_columns=settings.profile_url_columns,
        )

    def get(self) -> CrmSettings:
        return self._t.crm_settings or CrmSettings()

    def save(
        self,
        *,
        stage_source: StageSource,
        stage_threshold: str | None,
        won_value_column: str,
        won_value_base_currency: bool,
        auto_save_enabled: bool,
        sync_interval_minutes: int,
        profile_url_columns: Mapping[str, str] | None = None,
    ) -> CrmSettings:
        if self._t.organization is None:
            raise StoreError("The CRM settings could not be saved: the organization does not exist.")
        mapped = self.get().profile_url_columns if profile_url_columns is None else profile_url_columns
        settings = CrmSettings(
            stage_source=stage_source,
            stage_threshold=stage_threshold,
            won_value_column=won_value_column,
            won_value_base_currency=won_value_base_currency,
            auto_save_enabled=auto_save_enabled,
            sync_interval_minutes=sync_interval_minutes,
            contact_profile_url_column=mapped.get("contact"),
            lead_profile_url_column=mapped.get("lead"),
            account_profile_url_column=mapped.get("account"),
            updated_at=self._now(),
        )
        self._write().crm_settings = settings
        return settings


class FakeAutoSaveRuleRepository(_Repository):
    def get(self, user_id: uuid.UUID) -> AutoSaveChoices:
        return self._t.auto_save_rules.get(user_id) or AutoSaveChoices()

    def all_stored(self) -> dict[uuid.UUID, AutoSaveChoices]:
        return dict(self._t.auto_save_rules)

    def save(
        self,
        user_id: uuid.UUID,
        *,
        accounts_of_open_opportunities: bool,
        accounts_owned: bool,
        leads_of_open_opportunities: bool,
        leads_of_owned_accounts: bool,
    ) -> AutoSaveChoices:
        self._unit.users.get(user_id)  # RowNotFoundError for a user of another organization
        rules = AutoSaveChoices(
            accounts_of_open_opportunities=accounts_of_open_opportunities,
            accounts_owned=accounts_owned,
            leads_of_open_opportunities=leads_of_open_opportunities,
            leads_of_owned_accounts=leads_of_owned_accounts,
        )
        self._write().auto_save_rules[user_id] = rules
        return rules


_LIST_ORDER = {ListKind.CRM_ACCOUNTS: 0, ListKind.CRM_LEADS: 1, ListKind.MANUAL: 2}


class FakeListRepository(_Repository):
    def lists_of(self, user_id: uuid.UUID) -> list[SavedList]:
        theirs = [saved for saved in self._t.saved_lists.values() if saved.owner_user_id == user_id]
        return sorted(theirs, key=lambda saved: (_LIST_ORDER[saved.kind], saved.name.lower(), saved.id))

    def system_lists(self) -> list[SavedList]:
        return [saved for saved in self._t.saved_lists.values() if saved.is_system]

    def system_list(self, user_id: uuid.UUID, kind: ListKind) -> SavedList:
        if kind is ListKind.MANUAL:
            raise ValueError("manual lists are created with create_manual()")
        existing = next((saved for saved in self.lists_of(user_id) if saved.kind is kind), None)
        return existing or self._add(user_id, SYSTEM_LIST_NAMES[kind], kind)

    def create_manual(self, user_id: uuid.UUID, name: str) -> SavedList:
        return self._add(user_id, name, ListKind.MANUAL)

    def _add(self, user_id: uuid.UUID, name: str, kind: ListKind) -> SavedList:
        self._unit.users.get(user_id)  # RowNotFoundError for a user of another organization
        saved = SavedList(id=uuid.uuid4(), owner_user_id=user_id, name=name, kind=kind, created_at=self._now())
        self._write().saved_lists[saved.id] = saved
        return saved

    def get(self, list_id: uuid.UUID) -> SavedList:
        saved = self._t.saved_lists.get(list_id)
        if saved is None:
            raise RowNotFoundError("No such list in this organization.")
        return saved

    def items(self, list_id: uuid.UUID) -> list[ListItem]:
        return [item for key, item in sorted(self._t.list_items.items()) if key[0] == list_id]

    def add_item(self, list_id: uuid.UUID, table: str, crm_id: str, *, reason: str | None = None) -> bool:
        self.get(list_id)
        key = (list_id, table, crm_id.lower())
        if key in self._t.list_items:
            return False
        self._write().list_items[key] = ListItem(
            list_id=list_id, crm_table=table, crm_id=crm_id.lower(), reason=reason, added_at=self._now()
        )
        return True

    def remove_item(self, list_id: uuid.UUID, table: str, crm_id: str) -> bool:
        key = (list_id, table, crm_id.lower())
        if key not in self._t.list_items:
            return False
        del self._write().list_items[key]
        return True

    def rename(self, list_id: uuid.UUID, name: str) -> SavedList:
        renamed = replace(self.get(list_id), name=name)
        self._write().saved_lists[list_id] = renamed
        return renamed

    def delete(self, list_id: uuid.UUID) -> int:
        self.get(list_id)
        tables = self._write()
        held = [key for key in tables.list_items if key[0] == list_id]
        for key in held:
            del tables.list_items[key]
        del tables.saved_lists[list_id]
        return len(held)

    def replace_items(self, list_id: uuid.UUID, wanted: Iterable[tuple[str, str, str | None]]) -> ItemDiff:
        target = {(list_id, table, crm_id.lower()): reason for table, crm_id, reason in wanted}
        tables = self._write()
        existing = {key for key in tables.list_items if key[0] == list_id}
        gone = existing - target.keys()
        for key in gone:
            del tables.list_items[key]
        added = 0
        for key, reason in target.items():
            item = tables.list_items.get(key)
            if item is None:
                added += 1
                tables.list_items[key] = ListItem(
                    list_id=list_id, crm_table=key[1], crm_id=key[2], reason=reason, added_at=self._now()
                )
            elif item.reason != reason:
                tables.list_items[key] = replace(item, reason=reason)
        return ItemDiff(added=added, removed=len(gone))

    def update_items(self, list_id: uuid.UUID, items: Mapping[tuple[str, str], str | None]) -> ItemDiff:
        tables = self._write()
        added = removed = 0
        for (table, crm_id), reason in items.items():
            key = (list_id, table, crm_id.lower())
            item = tables.list_items.get(key)
            if reason is None:
                if item is not None:
                    del tables.list_items[key]
                    removed += 1
            elif item is None:
                added += 1
                tables.list_items[key] = ListItem(
                    list_id=list_id, crm_table=table, crm_id=crm_id.lower(), reason=reason, added_at=self._now()
                )
            elif item.reason != reason:
                tables.list_items[key] = replace(item, reason=reason)
        return ItemDiff(added=added, removed=removed)

    def auto_save_basis(self) -> AutoSaveBasis | None:
        return self._t.auto_save_basis.get(None)

    def save_auto_save_basis(self, basis: AutoSaveBasis) -> None:
        self._write().auto_save_basis[None] = basis


def _state_only(facts: RecordFacts) -> RecordFacts:
    """``facts`` with ``data`` holding only the integer ``statecode``, as the store reads them with data=False."""
    state = facts.data.get("statecode")
    return replace(facts, data={"statecode": state} if type(state) is int else {})


class FakeCrmRecordQueries(_Repository):
    """Reads of ``crm_records`` as :class:`FakeImportedRecords` gives them (fields computed as the import does)."""

    def _facts(self, table: str) -> list[tuple[str | None, RecordFacts]]:
        return [
            (record.name, RecordFacts(table, record.crm_id.lower(), record.owner_id, record.parent_id, record.data))
            for record in self._unit.crm_records.records(table)
        ]

    def _where(self, table: str, attribute: str, values: Iterable[str], data: bool) -> list[RecordFacts]:
        wanted = {value.lower() for value in values}
        found = [facts for _, facts in self._facts(table) if (getattr(facts, attribute) or "").lower() in wanted]
        return found if data else [_state_only(facts) for facts in found]

    def by_owners(self, table: str, owner_ids: Iterable[str], *, data: bool = True) -> list[RecordFacts]:
        return self._where(table, "owner_id", owner_ids, data)

    def by_parents(self, table: str, parent_ids: Iterable[str], *, data: bool = True) -> list[RecordFacts]:
        return self._where(table, "parent_id", parent_ids, data)

    def by_ids(self, table: str, crm_ids: Iterable[str], *, data: bool = True) -> list[RecordFacts]:
        return self._where(table, "crm_id", crm_ids, data)

    def naming(
        self, table: str, columns: Sequence[str], crm_ids: Iterable[str], *, data: bool = True
    ) -> list[RecordFacts]:
        wanted = {crm_id.lower() for crm_id in crm_ids}
        found = [
            facts
            for _, facts in self._facts(table)
            if any(lookup(facts.data, column)[0] in wanted for column in columns)
        ]
        return found if data else [_state_only(facts) for facts in found]

    def names(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
        names: dict[tuple[str, str], str | None] = {}
        for table in {table for table, _ in keys}:
            named = {facts.crm_id: name for name, facts in self._facts(table)}
            names.update({(table, i): named[i] for t, i in keys if t == table and i in named})
        return names

    def search(self, tables: Sequence[str], text: str, *, limit: int = 20) -> list[tuple[str, str, str]]:
        found = [
            (table, facts.crm_id, name or facts.crm_id)
            for table in tables
            for name, facts in self._facts(table)
            if name is not None and fold_for_search(text) in fold_for_search(name)
        ]
        return sorted(found, key=lambda match: (match[2].lower(), match[0], match[1]))[:limit]

    def distinct_step_names(self, *, limit: int = 200) -> list[str]:
        steps = {facts.data.get(PROCESS_STEP) for _, facts in self._facts("opportunity")}
        return sorted(step for step in steps if isinstance(step, str) and step.strip())[:limit]


ORIGIN_ACTIONS = ("crm.connected", "crm.disconnected")


class FakeImportedData(_Repository):
    """Imported data as a whole."""

    def remains(self) -> bool:
        return bool(self._t.crm_records or self._t.crm_users or self._t.table_checkpoints)

    def origin_org_url(self) -> str | None:
        for entry in self._unit.audit.recent(limit=100):
            url = entry.details.get("org_url")
            if entry.action in ORIGIN_ACTIONS and isinstance(url, str) and url:
                return url
        return None

    def active_imports(self) -> int:
        return sum(1 for run in self._t.import_runs.values() if run.state in (ImportState.QUEUED, ImportState.RUNNING))

    def cancel_imports(self, *, error: str) -> int:
        active = [run for run in self._t.import_runs.values() if run.state in (ImportState.QUEUED, ImportState.RUNNING)]
        tables = self._write()
        for run in active:
            tables.import_runs[run.id] = replace(
                run, state=ImportState.FAILED, finished_at=self._now(), lease_expires_at=None, error=error
            )
        return len(active)

    def counts(self) -> dict[str, int]:
        return {
            "crm_records": len(self._t.crm_records),
            "table_sync_states": len(self._t.table_checkpoints),
            "crm_users": len(self._t.crm_users),
            "import_requests": len(self._t.import_runs),
            "system_list_items": sum(1 for key in self._t.list_items if self._t.saved_lists[key[0]].is_system),
            "system_lists": sum(1 for saved in self._t.saved_lists.values() if saved.is_system),
        }

    def delete_crm_records(self) -> int:
        tables = self._write()  # and what matching derived from them, as the store's purge does
        tables.match_links.clear()
        tables.match_rejections.clear()
        tables.match_keys.clear()
        tables.match_state = None
        return self._clear("crm_records")

    def delete_sync_states(self) -> int:
        return self._clear("table_checkpoints")

    def delete_crm_users(self) -> int:
        tables = self._write()
        for seat in list(tables.seats.values()):  # the real foreign key sets the seats' link to NULL
            if seat.crm_user_id is not None:
                tables.seats[seat.id] = replace(seat, crm_user_id=None)
        return self._clear("crm_users")

    def delete_system_list_items(self) -> int:
        tables = self._write()
        held = [key for key in tables.list_items if tables.saved_lists[key[0]].is_system]
        for key in held:
            del tables.list_items[key]
        return len(held)

    def delete_system_lists(self) -> int:
        tables = self._write()
        tables.auto_save_basis.clear()
        system = [list_id for list_id, saved in tables.saved_lists.items() if saved.is_system]
        for list_id in system:
            del tables.saved_lists[list_id]
        return len(system)

    def delete_import_requests(self) -> int:
        return self._clear("import_runs")

    def _clear(self, name: str) -> int:
        rows: dict[Any, Any] = getattr(self._write(), name)
        count = len(rows)
        rows.clear()
        return count


@dataclass(frozen=True)
class _FakeJob:
    job: Job
    lock: str | None
    queueing_lock: str | None
    args: Mapping[str, Any]


class FakeJobQueue(_Repository):
    """The organization's jobs, with a job engine's rules (procrastinate's): a queueing lock admits one waiting job;
    cancel drops a queued job and asks a running one to stop (and ends the import run of an import job: the queued run
    or the running one); retry queues a failed or cancelled one again. Nothing
    runs them: tests call the task functions, or move them with :meth:`FakeStore.end_job`."""

    def defer(
        self,
        task: str,
        *,
        args: Mapping[str, Any],
        lock: str | None = None,
        queueing_lock: str | None = None,
        schedule_at: datetime | None = None,
    ) -> Job | None:
        if task not in TASK_SPECS:
            raise UnsupportedJobError(f"No task is named {task!r}.")
        if queueing_lock is not None and any(
            row.queueing_lock == queueing_lock and row.job.state is JobState.QUEUED for row in self._t.jobs.values()
        ):
            return None
        job = Job(
            id=str(next(self._unit.store.job_ids)),
            task=task,
            organization_id=self._unit.organization_id,
            state=JobState.QUEUED,
            attempts=0,
            scheduled_at=schedule_at,
            queued_at=self._now(),
            reason=args.get("reason"),
        )
        arguments = {**args, "organization_id": str(self._unit.organization_id)}
        self._write().jobs[job.id] = _FakeJob(job, lock, queueing_lock, arguments)
        return job

    def list(self, *, states: Collection[JobState] | None = None, limit: int = 50) -> list[Job]:
        jobs = [row.job for row in self._t.jobs.values() if states is None or row.job.state in states]
        return sorted(jobs, key=lambda job: int(job.id), reverse=True)[:limit]

    def get(self, job_id: str) -> Job | None:
        row = self._t.jobs.get(job_id)
        return row.job if row else None

    def cancel(self, job_id: str) -> bool:
        row = self._t.jobs.get(job_id)
        if row is None or not row.job.state.active or row.job.cancel_requested:
            return False
        if row.job.state is JobState.RUNNING:
            self._set(row, cancel_requested=True)  # until its worker aborts it
        else:
            self._set(row, state=JobState.CANCELLED, finished_at=self._now())
        if row.job.task == IMPORT_ORGANIZATION:  # its run only: the queued one, or the running one
            run_state = ImportState.QUEUED if row.job.state is JobState.QUEUED else ImportState.RUNNING
            tables = self._write()
            for run in [run for run in self._t.import_runs.values() if run.state is run_state]:
                tables.import_runs[run.id] = replace(
                    run,
                    state=ImportState.FAILED,
                    finished_at=self._now(),
                    lease_expires_at=None,
                    error=CANCELLED_IMPORT_ERROR,
                )
        return True

    def record_import_run(self, job_id: str, run_id: uuid.UUID) -> None:
        row = self._t.jobs.get(job_id)
        if row is not None and row.job.task == IMPORT_ORGANIZATION:
            self._write().jobs[job_id] = replace(row, args={**row.args, "run_id": str(run_id)})

    def retry(self, job_id: str) -> Job | None:
        row = self._t.jobs.get(job_id)
        if row is None or row.job.state not in (JobState.FAILED, JobState.CANCELLED):
            return None
        if row.queueing_lock is not None and any(
            other.queueing_lock == row.queueing_lock and other.job.state is JobState.QUEUED
            for other in self._t.jobs.values()
        ):
            return None
        retried = replace(row, args={name: value for name, value in row.args.items() if name != "run_id"})
        return self._set(retried, state=JobState.QUEUED, finished_at=None, error=None).job

    def _set(self, row: _FakeJob, **changes: Any) -> _FakeJob:
        changed = replace(row, job=replace(row.job, **changes))
        self._write().jobs[row.job.id] = changed
        return changed


_ProfileT = TypeVar("_ProfileT", Person, Company)


class _FakeProfiles(_Repository, Generic[_ProfileT]):
    """People or companies by external id, as :mod:`salesbridge.store.people` keeps them."""

    def _rows(self) -> dict[str, _ProfileT]:
        raise NotImplementedError

    def _check(self, values: list[_ProfileT]) -> None:
        """Raise before writing when a value refers to what the organization lacks."""

    def upsert_many(
        self, values: list[_ProfileT], *, kept: Mapping[str, Collection[str]] | None = None
    ) -> UpsertCounts:
        latest = {value.external_id: value for value in values}
        if not latest:
            return UpsertCounts()
        self._check(list(latest.values()))
        self._write()
        rows = self._rows()
        inserted = updated = unchanged = 0
        for external_id, given in latest.items():
            previous = rows.get(external_id)
            value = keeping_stored(previous, given, kept.get(external_id, ())) if previous and kept else given
            if previous is not None and previous == value:
                unchanged += 1
                continue
            inserted += previous is None
            updated += previous is not None
            row_id = uuid.uuid4() if previous is None else previous.id
            rows[external_id] = replace(value, id=row_id, updated_at=self._now())
        return UpsertCounts(inserted=inserted, updated=updated, unchanged=unchanged)

    def get(self, value_id: uuid.UUID) -> _ProfileT | None:
        return next((value for value in self._rows().values() if value.id == value_id), None)

    def get_by_external_id(self, external_id: str) -> _ProfileT | None:
        return self._rows().get(external_id)

    def ids_by_external_ids(self, external_ids: Collection[str]) -> dict[str, uuid.UUID]:
        rows = self._rows()
        return {key: value.id for key in external_ids if (value := rows.get(key)) is not None and value.id}

    def _matching(self, query: str) -> list[_ProfileT]:
        words = search_words(query)
        found = [value for value in self._rows().values() if all(word in value.search_text() for word in words)]
        return sorted(found, key=lambda value: (value.sort_name(), str(value.id)))

    def search(self, query: str = "", *, limit: int = 50, offset: int = 0) -> list[_ProfileT]:
        return self._matching(query)[offset : offset + limit]

    def count(self, query: str = "") -> int:
        return len(self._matching(query))

    def delete(self, value_id: uuid.UUID) -> bool:
        found = self.get(value_id)
        if found is None:
            return False
        self._write()
        del self._rows()[found.external_id]
        return True


class FakePeople(_FakeProfiles[Person]):
    def _rows(self) -> dict[str, Person]:
        return self._t.people

    def _check(self, values: list[Person]) -> None:
        known = {company.id for company in self._t.companies.values()}
        if any(person.company_id is not None and person.company_id not in known for person in values):
            raise InvalidInputError(UNKNOWN_COMPANY_MESSAGE, field="company_id")

    def tie_to_companies(self, external_ids: Collection[str]) -> int:
        companies = {key: company.id for key in external_ids if (company := self._t.companies.get(key)) is not None}
        waiting = [
            person
            for person in self._t.people.values()
            if person.company_external_id in companies and person.company_id != companies[person.company_external_id]
        ]
        if waiting:
            self._write()
        for person in waiting:
            tied = companies[person.company_external_id or ""]
            self._t.people[person.external_id] = replace(person, company_id=tied, updated_at=self._now())
        return len(waiting)


class FakeCompanies(_FakeProfiles[Company]):
    def _rows(self) -> dict[str, Company]:
        return self._t.companies

    def delete(self, value_id: uuid.UUID) -> bool:
        self._write()
        people = self._t.people
        for external_id, person in list(people.items()):
            if person.company_id == value_id:
                people[external_id] = replace(person, company_id=None, updated_at=self._now())
        return super().delete(value_id)


class FakeUploads(_Repository):
    """Console uploads (:class:`salesbridge.services.ports.UploadRepository`): a file is kept until its load ends."""

    def add(self, *, kind: CsvKind, file_name: str, content: bytes, created_by: str) -> Upload:
        upload = Upload(
            id=uuid.uuid4(),
            kind=kind,
            file_name=file_name,
            size_bytes=len(content),
            state=UploadState.QUEUED,
            progress=UploadProgress(),
            problems=(),
            warnings=(),
            error=None,
            created_by=created_by,
            created_at=self._now(),
            started_at=None,
            finished_at=None,
        )
        tables = self._write()
        tables.uploads[upload.id] = upload
        tables.upload_files[upload.id] = content
        return upload

    def get(self, upload_id: uuid.UUID) -> Upload | None:
        return self._t.uploads.get(upload_id)

    def recent(self, *, limit: int = 20) -> list[Upload]:
        newest = sorted(self._t.uploads.values(), key=lambda upload: (upload.created_at, str(upload.id)), reverse=True)
        return newest[:limit]

    def content(self, upload_id: uuid.UUID) -> bytes | None:
        upload = self._t.uploads.get(upload_id)
        return self._t.upload_files.get(upload_id) if upload is not None and upload.state.active else None

    def start(self, upload_id: uuid.UUID) -> bool:
        upload = self._t.uploads.get(upload_id)
        if upload is None or upload.state is not UploadState.QUEUED:
            return False
        self._write().uploads[upload_id] = replace(upload, state=UploadState.RUNNING, started_at=self._now())
        return True

    def record_progress(self, upload_id: uuid.UUID, progress: UploadProgress) -> None:
        upload = self._t.uploads.get(upload_id)
        if upload is not None:
            self._write().uploads[upload_id] = replace(upload, progress=progress)

    def finish(
        self,
        upload_id: uuid.UUID,
        *,
        progress: UploadProgress,
        problems: Sequence[LineProblem],
        warnings: Sequence[LineProblem],
        error: LineProblem | None = None,
    ) -> None:
        upload = self._t.uploads.get(upload_id)
        if upload is None:
            return
        tables = self._write()
        tables.uploads[upload_id] = replace(
            upload,
            state=UploadState.SUCCEEDED if error is None else UploadState.FAILED,
            progress=progress,
            problems=tuple(problems),
            warnings=tuple(warnings),
            error=error,
            finished_at=self._now(),
        )
        tables.upload_files[upload_id] = b""


class FakeUnitOfWork:
    """A unit of work over :class:`FakeStore`'s memory: works on a snapshot of its organization's tables and
    publishes it on :meth:`commit`; leaving the block without committing discards it."""

    def __init__(self, store: FakeStore, organization_id: uuid.UUID, *, read_only: bool) -> None:
        self.store = store
        self.organization_id = organization_id
        self.read_only = read_only
        self._working: _Tables | None = None
        self.organization = FakeOrganizationRepository(self)
        self.users = FakeUserRepository(self)
        self.seats = FakeSeatRepository(self)
        self.crm_users = FakeCrmUserRepository(self)
        self.invitations = FakeInvitationRepository(self)
        self.api_tokens = FakeApiTokenRepository(self)
        self.web_sessions = FakeWebSessionRepository(self)
        self.audit = FakeAuditLog(self)
        self.crm_connection = FakeCrmConnectionRepository(self)
        self.import_runs = FakeImportRunRepository(self)
        self.import_requests = self.import_runs
        self.sync_states = FakeImportCheckpoints(self)
        self.crm_records = FakeImportedRecords(self)
        self.crm_settings = FakeCrmSettingsRepository(self)
        self.imported_data = FakeImportedData(self)
        self.auto_save_rules = FakeAutoSaveRuleRepository(self)
        self.lists = FakeListRepository(self)
        self.crm_record_queries = FakeCrmRecordQueries(self)
        self.jobs = FakeJobQueue(self)
        self.people = FakePeople(self)
        self.companies = FakeCompanies(self)
        self.uploads = FakeUploads(self)
        self.matches = FakeMatches(self)
        self.activities = FakeActivities(self)
        self.writeback_settings = FakeWritebackSettings(self)
        self.crm_record_changes = FakeNoticedChanges(self)
        self.import_record_errors = FakeSkippedRecords(self)
        self.reports = FakeReports(self)

    def __enter__(self) -> Self:
        if self._working is not None:
            raise RuntimeError("this unit of work is already open")
        self._working = self.store.tables(self.organization_id).snapshot()
        self.store.units_opened += 1
        self.store.writing_units_opened += 0 if self.read_only else 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._working = None

    def commit(self) -> None:
        if self.read_only:
            raise ReadOnlyError("This unit of work is read-only.")
        self.store.publish(self.organization_id, self._tables())
        self._working = self._tables().snapshot()

    def rollback(self) -> None:
        self._working = self.store.tables(self.organization_id).snapshot()

    def _tables(self) -> _Tables:
        if self._working is None:
            raise RuntimeError("the unit of work is not open; use it in a with block")
        return self._working


class FakeSignInFailures:
    """The log of failed sign-ins, in memory, with the real log's counting rules."""

    def __init__(self) -> None:
        self.failures: dict[uuid.UUID, tuple[str, datetime]] = {}

    def admit(
        self, *, account: str, address: str | None, policy: SignInThrottlePolicy, now: datetime
    ) -> SignInAdmission:
        def times(subject: str) -> list[datetime]:
            return [moment for who, moment in self.failures.values() if who == subject]

        waits = [policy.per_account.retry_at(times(account), now)]
        if address is not None:
            waits.append(policy.per_address.retry_at(times(address), now))
        retry_at = max((moment for moment in waits if moment is not None), default=None)
        if retry_at is not None:
            return SignInAdmission(attempt_id=None, retry_at=retry_at)
        attempt_id = uuid.uuid4()
        self.failures[attempt_id] = (account, now)
        return SignInAdmission(
            attempt_id=attempt_id, retry_at=None, locks_until=policy.per_account.retry_at(times(account), now)
        )

    def failed(self, *, address: str | None, now: datetime) -> None:
        if address is not None:
            self.failures[uuid.uuid4()] = (address, now)

    def succeeded(self, *, account: str) -> None:
        self.failures = {key: value for key, value in self.failures.items() if value[0] != account}

    def withdraw(self, attempt_id: uuid.UUID) -> None:
        self.failures.pop(attempt_id, None)


class FakeJobOverview:
    """Every organization's jobs (the store's committed tables)."""

    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def list(
        self,
        *,
        organization_id: uuid.UUID | None = None,
        states: Collection[JobState] | None = None,
        limit: int = 100,
    ) -> list[Job]:
        jobs = [
            row.job
            for key, tables in self._store._organizations.items()
            if organization_id is None or key == organization_id
            for row in tables.jobs.values()
            if states is None or row.job.state in states
        ]
        return sorted(jobs, key=lambda job: int(job.id), reverse=True)[:limit]

    def find(self, job_id: str) -> Job | None:
        return next(
            (tables.jobs[job_id].job for tables in self._store._organizations.values() if job_id in tables.jobs), None
        )


class FakeStore:
    """Organizations' tables in memory; implements :class:`salesbridge.services.ports.StoreAccess`.

    Attributes:
        units_opened: How many units of work were opened (to check that a rule refuses before touching the store).
        writing_units_opened: How many of them could write (on SQLite, each takes the write lock).
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or FakeClock()
        self._organizations: dict[uuid.UUID, _Tables] = {}
        self._sign_in_failures = FakeSignInFailures()
        self.units_opened = 0
        self.writing_units_opened = 0
        self.job_ids = itertools.count(1)
        self.jobs = FakeJobOverview(self)

    # ------------------------------------------------------------------------------------------- the port

    def __call__(self, organization_id: uuid.UUID, *, read_only: bool = False) -> FakeUnitOfWork:
        return FakeUnitOfWork(self, organization_id, read_only=read_only)

    def organization_id(self, slug: str) -> uuid.UUID | None:
        return next(
            (
                key
                for key, tables in self._organizations.items()
                if tables.organization and tables.organization.slug == slug
            ),
            None,
        )

    def bulk_writes(self) -> AbstractContextManager[None]:
        @contextmanager
        def nothing() -> Iterator[None]:
            yield

        return nothing()

    def refresh_statistics(self) -> list[str]:
        """Nothing to refresh: the fake plans no query."""
        return []

    @property
    def sign_in_failures(self) -> FakeSignInFailures:
        return self._sign_in_failures

    def organization_of_session(self, token_hash: str) -> uuid.UUID | None:
        return self._owner(lambda tables: token_hash in tables.web_sessions)

    def organization_of_api_token(self, token_hash: str) -> uuid.UUID | None:
        return self._owner(lambda tables: token_hash in tables.api_tokens)

    def organization_of_invitation(self, token_hash: str) -> uuid.UUID | None:
        return self._owner(lambda tables: token_hash in tables.invitations)

    def slug_of(self, organization_id: uuid.UUID) -> str | None:
        organization = self.tables(organization_id).organization
        return organization.slug if organization else None

    def connected_organization_ids(self) -> list[uuid.UUID]:
        return [
            key
            for key, tables in self._organizations.items()
            if tables.crm_connection is not None and tables.crm_connection.is_connected
        ]

    def queued_uploads(self) -> list[tuple[uuid.UUID, uuid.UUID]]:
        queued = [
            (upload.created_at, key, upload.id)
            for key, tables in self._organizations.items()
            for upload in tables.uploads.values()
            if upload.state is UploadState.QUEUED
        ]
        return [(key, upload_id) for _at, key, upload_id in sorted(queued, key=lambda item: (item[0], str(item[2])))]

    # ------------------------------------------------------------------------------ test set-up and checks

    def add_organization(self, slug: str, *, seats_purchased: int = 5, sync_all_seats: bool = True) -> uuid.UUID:
        """Create an organization directly (no audit entry)."""
        organization_id = uuid.uuid4()
        with self(organization_id) as uow:
            uow.organization.create(slug=slug, name=slug.title(), seats_purchased=seats_purchased)
            uow.organization.set_crm_sync_all_seats(sync_all_seats)
            uow.commit()
        return organization_id

    def connect(self, organization_id: uuid.UUID, *, org_url: str = "https://acme.crm.dynamics.com") -> None:
        """Give the organization a working CRM connection."""
        tables = self.tables(organization_id)
        tables.crm_connection = CrmConnection(
            id=uuid.uuid4(),
            org_url=org_url,
            tenant_id="contoso.onmicrosoft.com",
            client_id="00000000-0000-0000-0000-00000000c11e",
            ca_bundle_pem=None,
            ca_bundle_name=None,
            authority=None,
            state=ConnectionState.CONNECTED,
            connected_crm_user_id="11111111-0000-0000-0000-000000000001",
            connected_at=self.clock(),
            last_error=None,
            updated_at=self.clock(),
        )
        tables.client_secret = SecretStr("client-secret")

    def tables(self, organization_id: uuid.UUID) -> _Tables:
        """The committed tables of an organization (empty when unknown)."""
        return self._organizations.setdefault(organization_id, _Tables())

    def publish(self, organization_id: uuid.UUID, tables: _Tables) -> None:
        self._organizations[organization_id] = tables.snapshot()

    def end_job(self, job_id: str, state: JobState) -> None:
        """Move a job as an engine would (start it, end it): ``state`` RUNNING counts an attempt; a failed import
        job shows the reason of the run recorded on it (``record_import_run``), others procrastinate's text."""
        for tables in self._organizations.values():
            row = tables.jobs.get(job_id)
            if row is not None:
                running = state is JobState.RUNNING
                run = tables.import_runs.get(uuid.UUID(row.args["run_id"])) if "run_id" in row.args else None
                failed_run = run.error if run is not None and run.state is ImportState.FAILED else None
                job = replace(
                    row.job,
                    state=state,
                    attempts=row.job.attempts + (1 if running else 0),
                    started_at=self.clock() if running else row.job.started_at,
                    finished_at=None if state.active else self.clock(),
                    error=(failed_run or TASK_RAISED_ERROR) if state is JobState.FAILED else None,
                    cancel_requested=running and row.job.cancel_requested,
                )
                tables.jobs[job_id] = replace(row, job=job)
                return
        raise RowNotFoundError(f"No job {job_id}.")

    def audit_actions(self, organization_id: uuid.UUID) -> list[str]:
        """The committed audit actions of the organization, oldest first."""
        return [entry.action for entry in self.tables(organization_id).audit]

    def _owner(self, holds: Callable[[_Tables], bool]) -> uuid.UUID | None:
        return next((key for key, tables in self._organizations.items() if holds(tables)), None)


def _conforms(store: FakeStore) -> StoreAccess:
    """Checked by mypy (``mypy tests/fakes``): the fake implements the port."""
    return store


class FakeMatches(_Repository):
    """Matching's links, rejections, keys and state (:class:`salesbridge.services.ports.MatchRepository`), over the
    fake's CRM records (their write times in ``crm_record_written_at``) and its people and companies."""

    def _records_of(self, table: str) -> list[ImportedRecord]:
        return self._unit.crm_records.records(table)

    def _targets(self, kind: TargetKind) -> dict[uuid.UUID, Person | Company]:
        values: Iterable[Person | Company] = (
            self._t.people.values() if kind is TargetKind.PERSON else self._t.companies.values()
        )
        return {value.id: value for value in values if value.id is not None}

    def get(self, crm_table: str, crm_id: str) -> MatchLink | None:
        return self._t.match_links.get((crm_table, crm_id))

    def links(self, crm_table: str, crm_ids: Iterable[str]) -> dict[str, MatchLink]:
        return {i: self._t.match_links[(crm_table, i)] for i in set(crm_ids) if (crm_table, i) in self._t.match_links}

    def links_to(self, target_ids: Iterable[uuid.UUID]) -> list[MatchLink]:
        wanted = set(target_ids)
        return [link for _, link in sorted(self._t.match_links.items()) if link.target_id in wanted]

    def corrections(self) -> list[MatchLink]:
        return [link for _, link in sorted(self._t.match_links.items()) if link.origin is LinkOrigin.CORRECTION]

    def _review(self, crm_tables: Sequence[str]) -> list[MatchLink]:
        found = [
            link
            for link in self._t.match_links.values()
            if link.crm_table in crm_tables and link.band is LinkBand.REVIEW
        ]
        return sorted(found, key=lambda link: (-(link.probability or 0.0), link.crm_table, link.crm_id))

    def review(self, crm_tables: Sequence[str], *, limit: int = 50, offset: int = 0) -> list[MatchLink]:
        return self._review(crm_tables)[offset : offset + limit]

    def count_review(self, crm_tables: Sequence[str]) -> int:
        return len(self._review(crm_tables))

    def counts(self, crm_table: str) -> LinkCounts:
        stored = {key[1] for key in self._t.crm_records if key[0] == crm_table}
        links = [
            link
            for (table, crm_id), link in self._t.match_links.items()
            if table == crm_table and crm_id in stored and link.target_id is not None
        ]
        return LinkCounts(
            total=len(stored),
            matched=sum(1 for link in links if link.band is LinkBand.MATCH),
            review=sum(1 for link in links if link.band is LinkBand.REVIEW),
        )

    def put(self, links: Iterable[MatchLink]) -> None:
        tables = self._write()
        for link in links:
            tables.match_links[(link.crm_table, link.crm_id)] = link

    def delete(self, crm_table: str, crm_ids: Iterable[str]) -> int:
        tables = self._write()
        return sum(tables.match_links.pop((crm_table, i), None) is not None for i in set(crm_ids))

    def vanished_crm_ids(self, crm_table: str) -> list[str]:
        named = {crm_id for table, crm_id in self._t.match_links if table == crm_table}
        named |= {crm_id for table, crm_id, _ in self._t.match_rejections if table == crm_table}
        named |= {ref for side, ref in self._t.match_keys if side.value == crm_table}
        return sorted(crm_id for crm_id in named if (crm_table, crm_id) not in self._t.crm_records)

    def vanished_targets(self, kind: TargetKind) -> list[uuid.UUID]:
        known = self._targets(kind)
        tables = ("contact", "lead") if kind is TargetKind.PERSON else ("account",)
        named = {
            link.target_id
            for link in self._t.match_links.values()
            if link.target_kind is kind and link.target_id is not None
        }
        named |= {target for table, _, target in self._t.match_rejections if table in tables}
        return sorted((target for target in named if target not in known), key=str)

    def forget_crm_records(self, crm_table: str, crm_ids: Iterable[str]) -> int:
        ids = set(crm_ids)
        tables = self._write()
        for key in [key for key in tables.match_rejections if key[0] == crm_table and key[1] in ids]:
            del tables.match_rejections[key]
        for side_ref in [side_ref for side_ref in tables.match_keys if side_ref[0] == crm_table and side_ref[1] in ids]:
            del tables.match_keys[side_ref]
        return self.delete(crm_table, ids)

    def forget_targets(self, kind: TargetKind, target_ids: Iterable[uuid.UUID]) -> int:
        ids = set(target_ids)
        tables = self._write()
        gone = [key for key, link in tables.match_links.items() if link.target_kind is kind and link.target_id in ids]
        for key in gone:
            del tables.match_links[key]
        for rejection in [key for key in tables.match_rejections if key[2] in ids]:
            del tables.match_rejections[rejection]
        side = KeySide.PERSON if kind is TargetKind.PERSON else KeySide.COMPANY
        for target in ids:
            tables.match_keys.pop((side, str(target)), None)
        return len(gone)

    def delete_scorer_links(self, crm_tables: Sequence[str]) -> int:
        tables = self._write()
        gone = [
            key for key, link in tables.match_links.items() if key[0] in crm_tables and link.origin is LinkOrigin.SCORER
        ]
        for key in gone:
            del tables.match_links[key]
        return len(gone)

    def reject(self, rejection: MatchRejection) -> None:
        key = (rejection.crm_table, rejection.crm_id, rejection.target_id)
        self._write().match_rejections.setdefault(key, rejection)

    def rejections(self, crm_table: str, crm_ids: Iterable[str]) -> dict[str, set[uuid.UUID]]:
        wanted = set(crm_ids)
        found: dict[str, set[uuid.UUID]] = {}
        for table, crm_id, target in self._t.match_rejections:
            if table == crm_table and crm_id in wanted:
                found.setdefault(crm_id, set()).add(target)
        return found

    def all_rejections(self) -> list[MatchRejection]:
        return [rejection for _, rejection in sorted(self._t.match_rejections.items(), key=lambda item: str(item[0]))]

    def keys_of(self, side: KeySide, refs: Iterable[str]) -> dict[str, set[str]]:
        return {ref: set(self._t.match_keys[(side, ref)]) for ref in set(refs) if (side, ref) in self._t.match_keys}

    def fingerprints(self, side: KeySide, refs: Iterable[str], *, prefix: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for ref in set(refs):
            held = sorted(key for key in self._t.match_keys.get((side, ref), ()) if key.startswith(prefix))
            if held:
                found[ref] = held[0]
        return found

    def replace_keys(self, side: KeySide, keys: Mapping[str, Collection[str]]) -> None:
        tables = self._write()
        for ref, held in keys.items():
            if held:
                tables.match_keys[(side, ref)] = frozenset(held)
            else:
                tables.match_keys.pop((side, ref), None)

    def refs_by_key(self, sides: Collection[KeySide], keys: Collection[str]) -> dict[str, set[tuple[KeySide, str]]]:
        wanted = set(keys)
        found: dict[str, set[tuple[KeySide, str]]] = {}
        for (side, ref), held in self._t.match_keys.items():
            if side in sides:
                for key in held & wanted:
                    found.setdefault(key, set()).add((side, ref))
        return found

    def clear_keys(self, sides: Collection[KeySide]) -> None:
        tables = self._write()
        for key in [key for key in tables.match_keys if key[0] in sides]:
            del tables.match_keys[key]

    def state(self) -> MatchState:
        return self._t.match_state or MatchState()

    def lock_state(self) -> MatchState:
        tables = self._write()  # a fake unit of work publishes whole on commit: nothing interleaves
        if tables.match_state is None:
            tables.match_state = MatchState()
        return tables.match_state

    def save_state(self, state: MatchState) -> None:
        self._write().match_state = state

    def crm_records(self, crm_table: str, *, since: datetime | None = None) -> Iterator[ImportedRecord]:
        return iter([record for record in self._records_of(crm_table) if since is None or record.imported_at > since])

    def crm_records_by_ids(self, crm_table: str, crm_ids: Iterable[str]) -> list[ImportedRecord]:
        wanted = set(crm_ids)
        return [record for record in self._records_of(crm_table) if record.crm_id in wanted]

    def crm_records_by_parents(self, crm_table: str, parent_ids: Iterable[str]) -> list[ImportedRecord]:
        wanted = {parent_id.lower() for parent_id in parent_ids}
        return [record for record in self._records_of(crm_table) if record.parent_id in wanted]

    def unmatched_crm_records(self, crm_table: str) -> Iterator[ImportedRecord]:
        def tied(crm_id: str) -> bool:
            link = self._t.match_links.get((crm_table, crm_id))
            return link is not None and link.is_tie

        return iter([record for record in self._records_of(crm_table) if not tied(record.crm_id)])

    def people(self, *, since: datetime | None = None) -> Iterator[Person]:
        found = [p for p in self._t.people.values() if since is None or (p.updated_at and p.updated_at > since)]
        return iter(sorted(found, key=lambda person: str(person.id)))

    def people_by_ids(self, person_ids: Iterable[uuid.UUID]) -> list[Person]:
        wanted = set(person_ids)
        return [person for person in self._t.people.values() if person.id in wanted]

    def companies(self, *, since: datetime | None = None) -> Iterator[Company]:
        found = [c for c in self._t.companies.values() if since is None or (c.updated_at and c.updated_at > since)]
        return iter(sorted(found, key=lambda company: str(company.id)))

    def companies_by_ids(self, company_ids: Iterable[uuid.UUID]) -> list[Company]:
        wanted = set(company_ids)
        return [company for company in self._t.companies.values() if company.id in wanted]

    def _has_badge(self, target_id: uuid.UUID | None, badge: Badge) -> bool:
        ties = [link for link in self._t.match_links.values() if link.target_id == target_id and link.is_tie]
        if badge is Badge.NOT_IN_CRM:
            return not ties
        return any(link.stale_fields for link in ties) if badge is Badge.OUT_OF_DATE else bool(ties)

    def people_with_badge(self, badge: Badge, query: str = "", *, limit: int = 50, offset: int = 0) -> list[Person]:
        found = [
            person for person in self._unit.people.search(query, limit=1 << 30) if self._has_badge(person.id, badge)
        ]
        return found[offset : offset + limit]

    def count_people_with_badge(self, badge: Badge, query: str = "") -> int:
        return len(self.people_with_badge(badge, query, limit=1 << 30))

    def companies_with_badge(self, badge: Badge, query: str = "", *, limit: int = 50, offset: int = 0) -> list[Company]:
        found = [c for c in self._unit.companies.search(query, limit=1 << 30) if self._has_badge(c.id, badge)]
        return found[offset : offset + limit]

    def count_companies_with_badge(self, badge: Badge, query: str = "") -> int:
        return len(self.companies_with_badge(badge, query, limit=1 << 30))


class FakeNoticedChanges(_Repository):
    """The changes the import noticed, in memory (what the import writes; the home's queries are the store's)."""

    def add_many(self, changes: Sequence[NoticedChange], *, at: datetime) -> int:
        self._write().crm_record_changes.extend((change, at) for change in changes)
        return len(changes)


class FakeSkippedRecords(_Repository):
    """The records the import skipped (:class:`salesbridge.services.ports.ImportRecordErrors`)."""

    def record(self, table: str, crm_id: str, *, code: str | None, message: str) -> None:
        now = self._now()
        known = self._t.skipped_records.get((table, crm_id))
        first, attempts = (now, 1) if known is None else (known.first_failed_at, known.attempts + 1)
        self._write().skipped_records[(table, crm_id)] = SkippedRecord(
            table, crm_id, code, message, first, now, attempts
        )

    def clear(self, table: str, crm_ids: Iterable[str]) -> int:
        gone = [key for key in ((table, crm_id) for crm_id in crm_ids) if key in self._t.skipped_records]
        for key in gone:
            del self._write().skipped_records[key]
        return len(gone)

    def any_in(self, table: str) -> bool:
        return any(key[0] == table for key in self._t.skipped_records)

    def newest(self, *, limit: int) -> list[SkippedRecord]:
        ordered = sorted(self._t.skipped_records.values(), key=lambda s: (s.last_failed_at, s.table, s.crm_id))
        return list(reversed(ordered))[:limit]

    def count(self) -> int:
        return len(self._t.skipped_records)


class FakeWritebackSettings(_Repository):
    """The writeback settings (:class:`salesbridge.services.ports.WritebackSettingsRepository`)."""

    def get(self) -> WritebackSettings:
        return self._t.writeback_settings or WritebackSettings()

    def set(self, settings: WritebackSettings, *, actor: str) -> None:
        self._write().writeback_settings = settings


class FakeActivities(_Repository):
    """Activities and their outbox entries (:class:`salesbridge.services.ports.ActivityRepository`), with the
    store's rules: idempotent capture, claim order and leases, and an edit during delivery sending it back."""

    def _get(self, activity_id: uuid.UUID) -> Activity:
        activity = self._t.activities.get(activity_id)
        if activity is None:
            raise RowNotFoundError("No such activity in this organization.")
        return activity

    def _put(self, activity: Activity, **delivery: Any) -> Activity:
        changed = replace(activity, delivery=replace(activity.delivery, **delivery))
        self._write().activities[activity.id] = changed
        return changed

    def add(
        self, author_user_id: uuid.UUID, draft: ActivityDraft, *, state: DeliveryState, hold: SeatHold | None
    ) -> tuple[Activity, bool]:
        stored = self.find_by_client_id(author_user_id, draft.client_id)
        if stored is not None:
            return stored, False
        now = self._now()
        activity_id = uuid.uuid4()
        activity = Activity(
            id=activity_id,
            author_user_id=author_user_id,
            client_id=draft.client_id,
            item=draft.item,
            person_id=draft.person_id,
            company_id=draft.company_id,
            subject=draft.subject,
            body=draft.body,
            direction=draft.direction,
            occurred_at=draft.occurred_at,
            conversation_id=draft.conversation_id,
            participants=draft.participants,
            version=1,
            created_at=now,
            updated_at=now,
            delivery=Delivery(
                state=state,
                hold=hold,
                attempts=0,
                next_attempt_at=now if state is DeliveryState.QUEUED else None,
                error_code=None,
                error_message=None,
                regarding=None,
                crm_table=ITEM_TABLES[draft.item],
                crm_id=crm_activity_id(self._unit.organization_id, activity_id),
                delivered_version=None,
                delivered_at=None,
            ),
        )
        self._write().activities[activity_id] = activity
        return activity, True

    def edit(self, activity_id: uuid.UUID, *, subject: str | None, body: str, expected_version: int | None) -> Activity:
        activity = self._get(activity_id)
        if expected_version is not None and activity.version != expected_version:
            raise ActivityChangedError(version=activity.version)
        now = self._now()
        edited = replace(activity, subject=subject, body=body, version=activity.version + 1, updated_at=now)
        self._write().activities[activity_id] = edited
        if activity.delivery.state is DeliveryState.DELIVERED:
            edited = self._put(edited, state=DeliveryState.QUEUED, next_attempt_at=now)
        elif activity.delivery.state is DeliveryState.PARKED:
            edited = self._put(edited, state=DeliveryState.QUEUED, next_attempt_at=now, attempts=0)
        return edited

    def get(self, activity_id: uuid.UUID) -> Activity:
        return self._get(activity_id)

    def find_by_client_id(self, author_user_id: uuid.UUID, client_id: str) -> Activity | None:
        return next(
            (a for a in self._t.activities.values() if a.author_user_id == author_user_id and a.client_id == client_id),
            None,
        )

    def search(
        self,
        *,
        person_id: uuid.UUID | None = None,
        company_id: uuid.UUID | None = None,
        author_user_id: uuid.UUID | None = None,
        states: Collection[DeliveryState] = (),
        limit: int = 50,
        offset: int = 0,
    ) -> list[Activity]:
        found = [
            a
            for a in self._t.activities.values()
            if (person_id is None or a.person_id == person_id)
            and (company_id is None or a.company_id == company_id)
            and (author_user_id is None or a.author_user_id == author_user_id)
            and (not states or a.delivery.state in states)
        ]
        found.sort(key=lambda a: (-a.occurred_at.timestamp(), str(a.id)))
        return found[offset : offset + limit]

    def claim(self, *, now: datetime, lease: timedelta, limit: int) -> list[Activity]:
        leases = self._t.activity_leases
        due = sorted(
            (
                a
                for a in self._t.activities.values()
                if a.delivery.state in (DeliveryState.QUEUED, DeliveryState.FAILING)
                and a.delivery.next_attempt_at is not None
                and a.delivery.next_attempt_at <= now
                and (a.id not in leases or leases[a.id] <= now)
            ),
            key=lambda a: (a.delivery.next_attempt_at or now, str(a.id)),
        )[:limit]
        for activity in due:
            self._write().activity_leases[activity.id] = now + lease
        return due

    def mark_delivered(self, delivered: Mapping[uuid.UUID, tuple[int, Regarding]], *, now: datetime) -> None:
        for activity_id, (version, regarding) in delivered.items():
            activity = self._t.activities.get(activity_id)
            if activity is None:
                continue
            edited = activity.version > version
            self._write().activity_leases.pop(activity_id, None)
            self._put(
                activity,
                state=DeliveryState.QUEUED if edited else DeliveryState.DELIVERED,
                next_attempt_at=now if edited else None,
                hold=None,
                attempts=0,
                error_code=None,
                error_message=None,
                regarding=regarding,
                delivered_version=version,
                delivered_at=now,
            )

    def mark_failed(
        self, activity_id: uuid.UUID, *, outcome: FailureOutcome, error_code: str, error_message: str
    ) -> None:
        activity = self._t.activities.get(activity_id)
        if activity is None:
            return
        self._write().activity_leases.pop(activity_id, None)
        self._put(
            activity,
            state=outcome.state,
            next_attempt_at=outcome.next_attempt_at,
            attempts=activity.delivery.attempts + 1,
            error_code=error_code,
            error_message=error_message,
        )

    def mark_waiting(self, activity_id: uuid.UUID, *, state: DeliveryState, hold: SeatHold | None) -> None:
        activity = self._t.activities.get(activity_id)
        if activity is None:
            return
        self._write().activity_leases.pop(activity_id, None)
        self._put(activity, state=state, hold=hold, next_attempt_at=None)

    def requeue(
        self,
        *,
        states: Collection[DeliveryState],
        since: datetime | None = None,
        activity_ids: Sequence[uuid.UUID] = (),
        items: Collection[DataItem] = (),
        error_code: str | None = None,
    ) -> int:
        chosen = [
            a
            for a in self._t.activities.values()
            if a.delivery.state in states
            and (since is None or a.occurred_at >= since)
            and (not activity_ids or a.id in activity_ids)
            and (not items or a.item in items)
            and (error_code is None or a.delivery.error_code == error_code)
        ]
        now = self._now()
        for activity in chosen:
            self._put(activity, state=DeliveryState.QUEUED, hold=None, attempts=0, next_attempt_at=now)
        return len(chosen)

    def _failing_with(self, error_code: str) -> list[Activity]:
        return [
            a
            for a in self._t.activities.values()
            if a.delivery.state is DeliveryState.FAILING and a.delivery.error_code == error_code
        ]

    def failing_with(self, error_code: str, *, due_by: datetime | None = None) -> bool:
        return any(
            due_by is None or (a.delivery.next_attempt_at is not None and a.delivery.next_attempt_at <= due_by)
            for a in self._failing_with(error_code)
        )

    def most_attempts(self, error_code: str) -> int:
        return max((a.delivery.attempts for a in self._failing_with(error_code)), default=0)

    def failing_items(self, error_code: str) -> frozenset[DataItem]:
        return frozenset(a.item for a in self._failing_with(error_code))

    def reschedule_failing(self, error_code: str, *, next_attempt_at: datetime, attempts: int | None = None) -> int:
        chosen = self._failing_with(error_code)
        for activity in chosen:
            kept = activity.delivery.attempts if attempts is None else attempts
            self._put(activity, next_attempt_at=next_attempt_at, attempts=kept)
        return len(chosen)

    def any_due(self, *, now: datetime) -> bool:
        return any(
            a.delivery.state is DeliveryState.QUEUED
            or (
                a.delivery.state is DeliveryState.FAILING
                and a.delivery.next_attempt_at is not None
                and a.delivery.next_attempt_at <= now
            )
            for a in self._t.activities.values()
        )

    def requeue_matched(self) -> int:
        tied = {
            link.target_id
            for link in self._t.match_links.values()
            if link.is_tie and link.crm_table in REGARDING_PREFERENCE
        }
        company_of = {person.id: person.company_id for person in self._t.people.values()}
        chosen = [
            a
            for a in self._t.activities.values()
            if a.delivery.state is DeliveryState.WAITING_FOR_MATCH
            and (a.person_id in tied or a.company_id in tied or company_of.get(a.person_id) in tied)
        ]
        now = self._now()
        for activity in chosen:
            self._put(activity, state=DeliveryState.QUEUED, hold=None, attempts=0, next_attempt_at=now)
        return len(chosen)

    def note_throttled(self, *, until: datetime) -> None:
        known = self._t.writeback_throttled_until
        self._write().writeback_throttled_until = until if known is None or until > known else known

    def throttled_until(self) -> datetime | None:
        return self._t.writeback_throttled_until

    def status(self) -> list[StatusCount]:
        counts: dict[tuple[Any, ...], int] = {}
        for a in self._t.activities.values():
            key = (a.item, a.author_user_id, a.delivery.state, a.delivery.hold)
            counts[key] = counts.get(key, 0) + 1
        return [
            StatusCount(item=item, author_user_id=author, state=state, hold=hold, count=count)
            for (item, author, state, hold), count in counts.items()
        ]

    def count_in(self, states: Collection[DeliveryState]) -> int:
        return sum(1 for a in self._t.activities.values() if a.delivery.state in states)


class FakeReports(_Repository):
    """The match-rate snapshots of :class:`salesbridge.services.ports.ReportQueries` (what a matching run writes);
    the reports' reads are tested against the real store."""

    def record_match_rates(self, counts: Mapping[str, LinkCounts], *, at: datetime) -> None:
        self._write().match_rates.extend(
            MatchRateSnapshot(taken_at=at, table=table, total=value.total, matched=value.matched, review=value.review)
            for table, value in counts.items()
        )

    def match_rates(self, *, runs: int) -> list[MatchRateSnapshot]:
        moments = sorted({snapshot.taken_at for snapshot in self._t.match_rates})[-runs:]
        return [snapshot for snapshot in self._t.match_rates if snapshot.taken_at in moments]
