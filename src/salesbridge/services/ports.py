"""The ports of the use cases: everything a service needs from the outside world, as protocols, in one module.

Services depend on these and on the values of :mod:`salesbridge.domain` only; never on SQLAlchemy or
:mod:`salesbridge.store`. The store implements the store ports structurally (:class:`salesbridge.store.uow.
UnitOfWorkFactory` is a :class:`StoreAccess`, :class:`salesbridge.store.uow.SqlAlchemyUnitOfWork` a
:class:`UnitOfWork`), the Dynamics connector the CRM ones; tests use ``tests.fakes.store.FakeStore``.

Repositories return frozen domain values (snapshots: changing one changes nothing stored) and change the store only
through methods that take ids and values. Every repository is scoped to the unit of work's organization. A
repository method that is not listed here is not part of the port, whatever the store offers.

The import engine's ports (:mod:`salesbridge.sync.ports`) are part of these: :class:`UnitOfWork`'s imported records
and checkpoints extend them, so a service can hand its store to the engine.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, Self

from pydantic import SecretStr

from salesbridge.crm.ports import CrmIdentity, CrmMetadata, CrmReader
from salesbridge.domain.clock import Clock as Clock
from salesbridge.domain.lists import ItemDiff, ListItem, ListKind, SavedList
from salesbridge.domain.pipeline import AutoSaveChoices, CrmSettings, RecordFacts, StageSource
from salesbridge.domain.seat_matching import MatchOutcome
from salesbridge.domain.sign_in_throttle import SignInAdmission, SignInThrottlePolicy
from salesbridge.domain.sync_runs import ImportedRecord, ImportRun, ImportSettings, TableCheckpoint
from salesbridge.domain.workspace import (
    ApiToken,
    AuditEntry,
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
from salesbridge.sync.ports import ImportedRecords, TableCheckpoints

# ------------------------------------------------------------------------------------------------------- the CRM


class PreflightCrm(CrmIdentity, CrmMetadata, Protocol):
    """The CRM calls the connect pre-flight makes: identity, privileges and metadata."""


class CrmSession(Protocol):
    """An open connection to one CRM organization; nothing is sent before the first call."""

    @property
    def metadata(self) -> PreflightCrm:
        """Identity, privileges and metadata of the organization."""
        ...

    @property
    def reader(self) -> CrmReader:
        """Reads records of the organization."""
        ...

    async def close(self) -> None:
        """Release the connection's resources. Idempotent."""
        ...


CrmSessionFactory = Callable[[CrmCredentials], CrmSession]
"""Builds a session for the given credentials (the Dynamics connector in production)."""


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
        self, *, limit: int = 50, offset: int = 0, action: str | None = None, actor: str | None = None
    ) -> Sequence[AuditEntry]:
        """Up to ``limit`` entries after the first ``offset``, newest first; only those of ``action`` and of
        ``actor`` when given."""
        ...

    def count(self, *, action: str | None = None, actor: str | None = None) -> int:
        """How many entries there are (of ``action`` and of ``actor`` when given)."""
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


# ---------------------------------------------------------------------------- the import plane (sync, disconnect)


class ImportQueue(Protocol):
    """The organization's queue of CRM imports."""

    def enqueue(self, *, reason: str) -> ImportRun:
        """Queue an import unless one is queued already (that one is returned unchanged). Idempotent.

        Raises:
            StoreError: the organization does not exist.
        """
        ...

    def queued(self) -> list[ImportRun]:
        """The queued imports, oldest first."""
        ...


class ImportRunRepository(ImportQueue, Protocol):
    """Imports as runs: queued → running (leased) → succeeded | failed. At most one runs per organization."""

    def running(self) -> ImportRun | None:
        """The run holding a live lease, or None."""
        ...

    def fail_expired(self) -> int:
        """Fail the running runs whose lease expired with :data:`salesbridge.domain.sync_runs.STOPPED_WORKER_ERROR`;
        how many. Idempotent."""
        ...

    def claim(self, *, lease: timedelta) -> ImportRun | None:
        """Start the oldest queued run under ``lease`` unless another holds a live lease (expired ones are failed
        first); the claimed run, or None. Two claimants never both win."""
        ...

    def renew(self, run_id: uuid.UUID, *, lease: timedelta) -> bool:
        """Extend a running run's lease; False when it no longer runs (cancelled or taken over)."""
        ...

    def finish(self, run_id: uuid.UUID, *, error: str | None = None) -> None:
        """Mark a running run succeeded (``error`` None) or failed; a run no longer running is left alone."""
        ...

    def recent(self, *, limit: int = 20) -> list[ImportRun]:
        """The newest runs, newest first."""
        ...

    def last_finished(self, state: ImportState) -> ImportRun | None:
        """The run that most recently ended in ``state``, or None."""
        ...

    def last_finished_at(self) -> datetime | None:
        """When the newest finished run ended (success or failure), or None."""
        ...


class ImportCheckpoints(TableCheckpoints, Protocol):
    """Each imported CRM table's checkpoint and health: the import engine's port
    (:class:`salesbridge.sync.ports.TableCheckpoints`), and the services' read of them."""

    def all(self) -> list[TableCheckpoint]:
        """Every imported table's checkpoint, by name."""
        ...


class ImportedRecordRepository(ImportedRecords, Protocol):
    """The imported CRM records: the import engine's port (:class:`salesbridge.sync.ports.ImportedRecords`), and
    reading them whole."""

    def records(self, table: str, *, limit: int | None = None) -> list[ImportedRecord]:
        """Records of ``table`` by id (the ``limit`` first ones)."""
        ...


class CrmSettingsRepository(Protocol):
    """The organization's CRM settings."""

    def import_settings(self) -> ImportSettings:
        """What imports and their schedule read of the settings (the defaults when never saved)."""
        ...

    def get(self) -> CrmSettings:
        """The settings: the stored ones, else the defaults (``updated_at`` None)."""
        ...

    def save(
        self,
        *,
        stage_source: StageSource,
        stage_threshold: str | None,
        won_value_column: str,
        won_value_base_currency: bool,
        auto_save_enabled: bool,
        sync_interval_minutes: int,
    ) -> CrmSettings:
        """Store the settings as given (validation is the use case's), stamped now. Idempotent.

        Raises:
            StoreError: the organization does not exist.
        """
        ...


class ImportedDataRepository(Protocol):
    """The organization's imported CRM data as a whole (records, CRM users, checkpoints, runs, auto-saved lists):
    where it came from, and purging it. The purge methods delete in bulk, without loading rows."""

    def remains(self) -> bool:
        """Whether any imported CRM data is stored: records, CRM users or table checkpoints."""
        ...

    def origin_org_url(self) -> str | None:
        """The Dynamics organization URL the data was imported from, as the audit log last recorded it; or None."""
        ...

    def active_imports(self) -> int:
        """How many imports are queued or running."""
        ...

    def cancel_imports(self, *, error: str) -> int:
        """Fail every queued or running import with ``error``; how many. Idempotent."""
        ...

    def counts(self) -> dict[str, int]:
        """How many rows a purge would delete now, by the names of :meth:`salesbridge.sync.purge.PurgeReport.counts`."""
        ...

    def delete_crm_records(self) -> int:
        """Delete every imported CRM record; how many."""
        ...

    def delete_sync_states(self) -> int:
        """Delete every table's checkpoint and status; how many."""
        ...

    def delete_crm_users(self) -> int:
        """Delete every imported CRM user (seats lose their link); how many."""
        ...

    def delete_system_list_items(self) -> int:
        """Delete the items of the auto-saved lists (manual lists keep theirs); how many."""
        ...

    def delete_system_lists(self) -> int:
        """Delete the auto-saved lists; how many."""
        ...

    def delete_import_requests(self) -> int:
        """Delete every import run, whatever its state; how many."""
        ...


# ----------------------------------------------------------------------------------- lists (and auto-save)


class AutoSaveRuleRepository(Protocol):
    """Each user's auto-save rules (the defaults of :class:`AutoSaveChoices` until the user saves theirs)."""

    def get(self, user_id: uuid.UUID) -> AutoSaveChoices:
        """The user's rules, or the defaults."""
        ...

    def all_stored(self) -> dict[uuid.UUID, AutoSaveChoices]:
        """The stored rules of every user who saved some, by user id."""
        ...

    def save(
        self,
        user_id: uuid.UUID,
        *,
        accounts_of_open_opportunities: bool,
        accounts_owned: bool,
        leads_of_open_opportunities: bool,
        leads_of_owned_accounts: bool,
    ) -> AutoSaveChoices:
        """Store the user's rules. Idempotent.

        Raises:
            RowNotFoundError: no such user in this organization.
        """
        ...


class ListRepository(Protocol):
    """Users' saved lists and their items (``crm_id`` kept in lower case). The two system lists of a user are
    created on demand, one of each kind."""

    def lists_of(self, user_id: uuid.UUID) -> list[SavedList]:
        """The user's lists: the system lists first, then the others by name."""
        ...

    def system_lists(self) -> list[SavedList]:
        """Every system list of the organization."""
        ...

    def system_list(self, user_id: uuid.UUID, kind: ListKind) -> SavedList:
        """The user's system list of ``kind``, created empty (named from ``SYSTEM_LIST_NAMES``) when missing.

        Raises:
            ValueError: ``kind`` is :attr:`ListKind.MANUAL`.
            RowNotFoundError: it is missing, and there is no such user in this organization.
        """
        ...

    def create_manual(self, user_id: uuid.UUID, name: str) -> SavedList:
        """A new, empty hand-made list of the user, named as given.

        Raises:
            RowNotFoundError: no such user in this organization.
        """
        ...

    def get(self, list_id: uuid.UUID) -> SavedList:
        """The list ``list_id``.

        Raises:
            RowNotFoundError: no such list in this organization.
        """
        ...

    def items(self, list_id: uuid.UUID) -> list[ListItem]:
        """The items of a list, by table then id."""
        ...

    def add_item(self, list_id: uuid.UUID, table: str, crm_id: str, *, reason: str | None = None) -> bool:
        """Put a record in a list; False when it was there already. Idempotent.

        Raises:
            RowNotFoundError: no such list in this organization.
        """
        ...

    def remove_item(self, list_id: uuid.UUID, table: str, crm_id: str) -> bool:
        """Take a record out of a list; False when it was not there. Idempotent."""
        ...

    def rename(self, list_id: uuid.UUID, name: str) -> SavedList:
        """Rename a list (as given: validation is the use case's).

        Raises:
            RowNotFoundError: no such list in this organization.
        """
        ...

    def delete(self, list_id: uuid.UUID) -> int:
        """Delete a list and its items; how many items it held.

        Raises:
            RowNotFoundError: no such list in this organization.
        """
        ...

    def replace_items(self, list_id: uuid.UUID, wanted: Iterable[tuple[str, str, str | None]]) -> ItemDiff:
        """Make the list hold exactly ``wanted`` (``(table, crm_id, reason)``): new items added, gone ones removed,
        changed reasons updated. Idempotent."""
        ...


class CrmRecordQueries(Protocol):
    """Reads of the imported CRM records (ids compared in lower case). Read-only."""

    def by_owners(self, table: str, owner_ids: Iterable[str]) -> list[RecordFacts]:
        """The records of ``table`` owned by any of ``owner_ids``."""
        ...

    def by_parents(self, table: str, parent_ids: Iterable[str]) -> list[RecordFacts]:
        """The records of ``table`` whose parent is one of ``parent_ids``."""
        ...

    def by_ids(self, table: str, crm_ids: Iterable[str]) -> list[RecordFacts]:
        """The records of ``table`` among ``crm_ids`` (unknown ids left out)."""
        ...

    def names(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
        """The name of each ``(table, crm_id)`` present (absent records left out)."""
        ...

    def search(self, tables: Sequence[str], text: str, *, limit: int = 20) -> list[tuple[str, str, str]]:
        """Up to ``limit`` records of ``tables`` whose name contains ``text`` (any case), by name: ``(table,
        crm_id, name)`` (the id stands for a missing name)."""
        ...

    def distinct_step_names(self, *, limit: int = 200) -> list[str]:
        """The distinct, non-blank ``stepname`` values of the imported opportunities, sorted (at most ``limit``)."""
        ...


# ------------------------------------------------------------------------------------------ the unit of work


class UnitOfWork(Protocol):
    """One transaction, and the repositories of one organization inside it::

        with store(organization_id) as uow:
            uow.seats.set_state(seat_id, SeatState.ACTIVE)
            uow.audit.record(actor=actor, action="seat.activated")
            uow.commit()

    Leaving the block without :meth:`commit` (normally or by an exception) rolls everything back. The
    repositories exist only inside the block. Not reentrant; one per thread.
    """

    @property
    def organization_id(self) -> uuid.UUID:
        """The organization every repository is scoped to."""
        ...

    @property
    def organization(self) -> OrganizationRepository: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def seats(self) -> SeatRepository: ...

    @property
    def crm_users(self) -> CrmUserRepository: ...

    @property
    def invitations(self) -> InvitationRepository: ...

    @property
    def api_tokens(self) -> ApiTokenRepository: ...

    @property
    def web_sessions(self) -> WebSessionRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def crm_connection(self) -> CrmConnectionRepository: ...

    @property
    def import_requests(self) -> ImportQueue: ...

    @property
    def import_runs(self) -> ImportRunRepository: ...

    @property
    def sync_states(self) -> ImportCheckpoints: ...

    @property
    def crm_records(self) -> ImportedRecordRepository: ...

    @property
    def crm_settings(self) -> CrmSettingsRepository: ...

    @property
    def imported_data(self) -> ImportedDataRepository: ...

    @property
    def auto_save_rules(self) -> AutoSaveRuleRepository: ...

    @property
    def lists(self) -> ListRepository: ...

    @property
    def crm_record_queries(self) -> CrmRecordQueries: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None:
        """Commit the work so far; the unit of work stays usable.

        Raises:
            StoreError: the store refused the commit (the work is rolled back).
        """
        ...

    def rollback(self) -> None:
        """Discard the work since the last commit."""
        ...


UnitOfWorkOpener = Callable[[uuid.UUID], UnitOfWork]
"""Returns a new, not yet opened, unit of work scoped to an organization."""


class OrganizationFinder(Protocol):
    """Turns an organization's slug into its id."""

    def organization_id(self, slug: str) -> uuid.UUID | None:
        """The id of the organization with ``slug``, or None."""
        ...


class SignInFailures(Protocol):
    """The log of failed sign-in attempts, shared by every process on the store. Subjects are those of
    :mod:`salesbridge.domain.sign_in_throttle`. Not scoped: attempts come before any organization is known."""

    def admit(
        self, *, account: str, address: str | None, policy: SignInThrottlePolicy, now: datetime
    ) -> SignInAdmission:
        """Admit an attempt, counting it against the account until it succeeds, or say when to retry."""
        ...

    def failed(self, *, address: str | None, now: datetime) -> None:
        """The admitted attempt failed: count it against the address too."""
        ...

    def succeeded(self, *, account: str) -> None:
        """An attempt on the account succeeded: forget its failures."""
        ...

    def withdraw(self, attempt_id: uuid.UUID) -> None:
        """The admitted attempt was not made: do not count it."""
        ...


class StoreAccess(OrganizationFinder, Protocol):
    """Opens units of work, and the few unscoped lookups that find which organization to scope them to."""

    def __call__(self, organization_id: uuid.UUID, *, read_only: bool = False) -> UnitOfWork:
        """A new, not yet opened, unit of work scoped to ``organization_id``; ``read_only`` when it only reads
        (it then never waits for a writer, and cannot write)."""
        ...

    def bulk_writes(self) -> AbstractContextManager[None]:
        """Bracket a block of bulk writes (an import)."""
        ...

    @property
    def sign_in_failures(self) -> SignInFailures:
        """The log of failed sign-in attempts."""
        ...

    def organization_of_session(self, token_hash: str) -> uuid.UUID | None:
        """The organization of the web session whose token hashes to ``token_hash``, or None."""
        ...

    def organization_of_api_token(self, token_hash: str) -> uuid.UUID | None:
        """The organization of the API token hashing to ``token_hash``, or None."""
        ...

    def organization_of_invitation(self, token_hash: str) -> uuid.UUID | None:
        """The organization of the invitation whose token hashes to ``token_hash``, or None."""
        ...

    def slug_of(self, organization_id: uuid.UUID) -> str | None:
        """The slug of organization ``organization_id``, or None."""
        ...

    def connected_organization_ids(self) -> list[uuid.UUID]:
        """The organizations with a connected CRM."""
        ...
