"""The unit of work, and the store access that opens one per organization."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from salesbridge.domain.clock import Clock as Clock
from salesbridge.domain.sign_in_throttle import SignInAdmission, SignInThrottlePolicy
from salesbridge.services.ports.home import HomeVisitRepository, ListSizeQueries, NoticedChangeRepository
from salesbridge.services.ports.imports import (
    CrmSettingsRepository,
    ImportCheckpoints,
    ImportedDataRepository,
    ImportedRecordRepository,
    ImportQueue,
    ImportRecordErrors,
    ImportRunRepository,
)
from salesbridge.services.ports.jobs import JobOverview, JobQueue
from salesbridge.services.ports.lists import (
    AutoSaveRuleRepository,
    CrmRecordQueries,
    ListRepository,
    ListTableQueries,
)
from salesbridge.services.ports.matching import MatchRepository
from salesbridge.services.ports.notifications import AlertRepository
from salesbridge.services.ports.people import CompanyRepository, PersonRepository, UploadRepository
from salesbridge.services.ports.reports import ReportQueries
from salesbridge.services.ports.workspace import (
    ApiTokenRepository,
    AuditLog,
    CrmConnectionRepository,
    CrmUserRepository,
    InvitationRepository,
    OrganizationRepository,
    SeatRepository,
    UserRepository,
    WebSessionRepository,
)
from salesbridge.services.ports.writeback import ActivityRepository, WritebackSettingsRepository

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
    def import_record_errors(self) -> ImportRecordErrors: ...

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

    @property
    def list_tables(self) -> ListTableQueries:
        """A list's records sorted, filtered and paged by the store; the start of each list."""
        ...

    @property
    def people(self) -> PersonRepository:
        """The workspace's own people (kept across disconnects)."""
        ...

    @property
    def companies(self) -> CompanyRepository:
        """The workspace's own companies (kept across disconnects)."""
        ...

    @property
    def uploads(self) -> UploadRepository:
        """CSV files of people and companies uploaded on the console, and their loads."""
        ...

    @property
    def matches(self) -> MatchRepository:
        """Matching's links, rejected pairs, keys and state (CRM records ↔ people and companies)."""
        ...

    @property
    def activities(self) -> ActivityRepository:
        """The activities sellers logged and their outbox entries (writeback; kept across disconnects)."""
        ...

    @property
    def writeback_settings(self) -> WritebackSettingsRepository:
        """The organization's writeback settings (on or off, the data items)."""
        ...

    @property
    def crm_record_changes(self) -> NoticedChangeRepository:
        """What the import saw change on CRM records (a new owner, a stage moved, a job change)."""
        ...

    @property
    def home_visits(self) -> HomeVisitRepository:
        """When each user opened their home."""
        ...

    @property
    def list_sizes(self) -> ListSizeQueries:
        """How many records lists hold."""
        ...

    @property
    def alerts(self) -> AlertRepository:
        """The organization's alert episodes and its administrators' alert choices."""
        ...

    @property
    def reports(self) -> ReportQueries:
        """What the administrators' reports read, and the match-rate snapshots."""
        ...

    @property
    def jobs(self) -> JobQueue:
        """The organization's background jobs: deferred in this transaction (the job API)."""
        ...

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

    def refresh_statistics(self) -> list[str]:
        """After bulk writes have committed, refresh the database's planner statistics where they are missing or
        stale (the tables refreshed; maintenance: never raises)."""
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

    def queued_uploads(self) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """Every organization's queued uploads as (organization id, upload id), oldest first (what the embedded
        runner loads)."""
        ...

    @property
    def jobs(self) -> JobOverview:
        """Every organization's background jobs (the operators' view; reads only)."""
        ...
