"""The unit of work: one transaction, and the repositories of one organization inside it.

::

    with SqlAlchemyUnitOfWork(session_factory, organization_id, cipher=cipher) as uow:
        uow.users.add(email="ana@example.com", display_name="Ana")
        uow.audit.record(actor="ana@example.com", action="user.added")
        uow.commit()

Leaving the block without ``commit()`` — normally or by an exception — rolls everything back.

A unit of work may write unless opened ``read_only=True`` (see :meth:`UnitOfWorkFactory.__call__`). On SQLite a
writing one takes the database's write lock at its first statement and holds it until it ends (waiting its turn
if another holds it): keep slow work (HTTP calls, password hashing) out of it where the code allows, and never
open a second writing unit of work on the same thread while one is open.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from salesbridge.store.activities import ActivityRepository, WritebackSettingsRepository
from salesbridge.store.alerts import AlertRepository
from salesbridge.store.checkpoints import WalCheckpointer
from salesbridge.store.database import read_only_engine
from salesbridge.store.home import CrmRecordChangeRepository, HomeVisitRepository, ListSizes
from salesbridge.store.imports import CrmRecordRepository, ImportRunRepository, TableSyncStateRepository
from salesbridge.store.jobs import (
    EmbeddedJobOverview,
    EmbeddedJobQueue,
    JobEngine,
    ProcrastinateJobOverview,
    ProcrastinateJobQueue,
)
from salesbridge.store.list_tables import ListTableQueries
from salesbridge.store.lists import AutoSaveRulesRepository, CrmRecordQueries, CrmSettingsRepository, ListRepository
from salesbridge.store.matching import MatchRepository
from salesbridge.store.people import CompanyRepository, PersonRepository
from salesbridge.store.purge import ImportedDataRepository
from salesbridge.store.reports import ReportQueries
from salesbridge.store.repositories import (
    AuditLog,
    Clock,
    CrmConnectionRepository,
    ImportRequestRepository,
    OrganizationRepository,
    UserRepository,
)
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.statistics import refresh_statistics
from salesbridge.store.sync_health import ImportRecordErrorRepository
from salesbridge.store.tables import ApiToken, ConnectionState, CrmConnection, Invitation, Organization, WebSession
from salesbridge.store.uploads import UploadRepository, queued_uploads
from salesbridge.store.workspace import (
    ApiTokenRepository,
    CrmUserRepository,
    InvitationRepository,
    SeatRepository,
    SignInFailureLog,
    WebSessionRepository,
    organization_of_token,
)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class SqlAlchemyUnitOfWork:
    """A transaction scoped to one organization; rolls back on exit unless :meth:`commit` was called.

    The repositories (``organization``, ``users``, ``audit``, ``crm_connection``, ``import_requests``,
    ``crm_users``, ``seats``, ``invitations``, ``api_tokens``, ``web_sessions``) exist only inside the
    ``with`` block and see only ``organization_id``'s rows. Rows they return stay readable (detached) after the
    block, with the values last seen. Not reentrant; use one per thread.
    """

    organization: OrganizationRepository
    users: UserRepository
    audit: AuditLog
    crm_connection: CrmConnectionRepository
    import_requests: ImportRequestRepository
    crm_users: CrmUserRepository
    seats: SeatRepository
    invitations: InvitationRepository
    api_tokens: ApiTokenRepository
    web_sessions: WebSessionRepository
    crm_records: CrmRecordRepository
    sync_states: TableSyncStateRepository
    import_runs: ImportRunRepository
    import_record_errors: ImportRecordErrorRepository
    crm_settings: CrmSettingsRepository
    auto_save_rules: AutoSaveRulesRepository
    lists: ListRepository
    crm_record_queries: CrmRecordQueries
    list_tables: ListTableQueries
    imported_data: ImportedDataRepository
    people: PersonRepository
    companies: CompanyRepository
    uploads: UploadRepository
    matches: MatchRepository
    activities: ActivityRepository
    writeback_settings: WritebackSettingsRepository
    alerts: AlertRepository
    crm_record_changes: CrmRecordChangeRepository
    home_visits: HomeVisitRepository
    list_sizes: ListSizes
    reports: ReportQueries
    jobs: EmbeddedJobQueue | ProcrastinateJobQueue

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        organization_id: uuid.UUID,
        *,
        cipher: CredentialCipher,
        clock: Clock = utc_now,
        job_engine: JobEngine = JobEngine.EMBEDDED,
    ) -> None:
        self._session_factory = session_factory
        self.organization_id = organization_id
        self._cipher = cipher
        self._clock = clock
        self._job_engine = job_engine
        self._session: Session | None = None

    def __enter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("this unit of work is already open")
        session = self._session_factory()
        self._session = session
        self.organization = OrganizationRepository(session, self.organization_id, clock=self._clock)
        self.users = UserRepository(session, self.organization_id, clock=self._clock)
        self.audit = AuditLog(session, self.organization_id, clock=self._clock)
        self.crm_connection = CrmConnectionRepository(
            session, self.organization_id, clock=self._clock, cipher=self._cipher
        )
        self.import_requests = ImportRequestRepository(session, self.organization_id, clock=self._clock)
        scope = (session, self.organization_id)
        self.crm_users = CrmUserRepository(*scope, clock=self._clock)
        self.seats = SeatRepository(*scope, clock=self._clock)
        self.invitations = InvitationRepository(*scope, clock=self._clock)
        self.api_tokens = ApiTokenRepository(*scope, clock=self._clock)
        self.web_sessions = WebSessionRepository(*scope, clock=self._clock)
        self.crm_records = CrmRecordRepository(*scope, clock=self._clock)
        self.sync_states = TableSyncStateRepository(*scope, clock=self._clock)
        self.import_runs = ImportRunRepository(*scope, clock=self._clock)
        self.import_record_errors = ImportRecordErrorRepository(*scope, clock=self._clock)
        self.crm_settings = CrmSettingsRepository(*scope, clock=self._clock)
        self.auto_save_rules = AutoSaveRulesRepository(*scope, clock=self._clock)
        self.lists = ListRepository(*scope, clock=self._clock)
        self.crm_record_queries = CrmRecordQueries(*scope, clock=self._clock)
        self.list_tables = ListTableQueries(*scope, clock=self._clock)
        self.imported_data = ImportedDataRepository(*scope, clock=self._clock)
        self.people = PersonRepository(*scope, clock=self._clock)
        self.companies = CompanyRepository(*scope, clock=self._clock)
        self.uploads = UploadRepository(*scope, clock=self._clock)
        self.matches = MatchRepository(*scope, clock=self._clock)
        self.activities = ActivityRepository(*scope, clock=self._clock)
        self.writeback_settings = WritebackSettingsRepository(*scope, clock=self._clock)
        self.alerts = AlertRepository(*scope, clock=self._clock)
        self.crm_record_changes = CrmRecordChangeRepository(*scope, clock=self._clock)
        self.home_visits = HomeVisitRepository(*scope, clock=self._clock)
        self.list_sizes = ListSizes(*scope, clock=self._clock)
        self.reports = ReportQueries(*scope, clock=self._clock)
        job_queue = ProcrastinateJobQueue if self._job_engine is JobEngine.PROCRASTINATE else EmbeddedJobQueue
        self.jobs = job_queue(*scope, clock=self._clock)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session = self._require_session()
        try:
            if exc_type is not None:
                session.rollback()  # also expires the rows, so nothing half-done is read by mistake
        finally:
            # close() rolls back whatever was not committed and detaches the rows without expiring them, so rows
            # returned inside the block stay readable after it.
            session.close()
            self._session = None

    def commit(self) -> None:
        """Commit the work so far. The unit of work stays usable; later work needs another ``commit()``.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database refused the commit (the work is rolled back).
        """
        self._require_session().commit()

    def rollback(self) -> None:
        """Discard the work since the last commit."""
        self._require_session().rollback()

    def _require_session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is not open; use it in a with block")
        return self._session


def lookup_organization_id(session_factory: sessionmaker[Session], slug: str) -> uuid.UUID | None:
    """The id of the organization with ``slug``, or None. The one unscoped read: it turns a slug from a URL or a
    sign-in into the id that scopes a unit of work."""
    with session_factory() as session:
        return session.scalar(select(Organization.id).where(Organization.slug == slug))


class UnitOfWorkFactory:
    """Opens organization-scoped units of work on one database, and turns organization slugs into ids.

    Args:
        session_factory: Sessions of the store's database.
        cipher: Encrypts and decrypts stored CRM secrets.
        clock: Stamps rows; timezone-aware UTC.
        job_engine: Which engine's tables the units of work defer jobs into (``SALESBRIDGE_JOBS``; procrastinate
            needs PostgreSQL).
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        cipher: CredentialCipher,
        clock: Clock = utc_now,
        job_engine: JobEngine = JobEngine.EMBEDDED,
    ) -> None:
        self._session_factory = session_factory
        self._cipher = cipher
        self._clock = clock
        self._job_engine = job_engine
        self.jobs: EmbeddedJobOverview | ProcrastinateJobOverview = (
            ProcrastinateJobOverview(session_factory)
            if job_engine is JobEngine.PROCRASTINATE
            else EmbeddedJobOverview(session_factory)
        )
        self.sign_in_failures = SignInFailureLog(session_factory)
        bind = session_factory.kw.get("bind")
        self._read_session_factory = session_factory
        if isinstance(bind, Engine):
            self._read_session_factory = sessionmaker(
                class_=session_factory.class_, **{**session_factory.kw, "bind": read_only_engine(bind)}
            )
        self.checkpointer: WalCheckpointer | None = None
        if (
            isinstance(bind, Engine)
            and bind.dialect.name == "sqlite"
            and bind.url.database not in (None, "", ":memory:")
        ):
            self.checkpointer = WalCheckpointer(bind)

    def bulk_writes(self) -> AbstractContextManager[None]:
        """A block of bulk writes (an import): on a SQLite file, its write-ahead log is checkpointed from a thread
        of its own meanwhile (:mod:`salesbridge.store.checkpoints`); elsewhere nothing changes."""
        return self.checkpointer.running() if self.checkpointer is not None else nullcontext()

    def refresh_statistics(self) -> list[str]:
        """After bulk writes (an import, a matching run, a people load) have committed: on PostgreSQL, ANALYZE the
        tables whose planner statistics are missing or stale (see :mod:`salesbridge.store.statistics`), so the
        next reads are planned from what the tables hold. The tables analyzed; none on SQLite. Never raises."""
        bind = self._session_factory.kw.get("bind")
        return refresh_statistics(bind) if isinstance(bind, Engine) else []

    def __call__(self, organization_id: uuid.UUID, *, read_only: bool = False) -> SqlAlchemyUnitOfWork:
        """A new (not yet opened) unit of work scoped to ``organization_id``.

        ``read_only=True`` declares that it only reads: on SQLite it then never waits for a writer; any write in it
        raises (:func:`salesbridge.store.database.read_only_engine`). Otherwise it may write, and on SQLite its
        transactions begin ``IMMEDIATE``: they wait for the write lock instead of failing when another connection
        writes between their reads and their writes.
        """
        sessions = self._read_session_factory if read_only else self._session_factory
        return SqlAlchemyUnitOfWork(
            sessions, organization_id, cipher=self._cipher, clock=self._clock, job_engine=self._job_engine
        )

    def organization_id(self, slug: str) -> uuid.UUID | None:
        """The id of the organization with ``slug``, or None."""
        return lookup_organization_id(self._read_session_factory, slug)

    def organization_of_session(self, token_hash: str) -> uuid.UUID | None:
        """The organization of the web session whose token hashes to ``token_hash``, or None."""
        return organization_of_token(self._read_session_factory, WebSession, token_hash)

    def organization_of_api_token(self, token_hash: str) -> uuid.UUID | None:
        """The organization of the API token hashing to ``token_hash``, or None."""
        return organization_of_token(self._read_session_factory, ApiToken, token_hash)

    def organization_of_invitation(self, token_hash: str) -> uuid.UUID | None:
        """The organization of the invitation whose token hashes to ``token_hash``, or None."""
        return organization_of_token(self._read_session_factory, Invitation, token_hash)

    def connected_organization_ids(self) -> list[uuid.UUID]:
        """The organizations with a connected CRM (what the import scheduler looks after)."""
        with self._read_session_factory() as session:
            statement = select(CrmConnection.organization_id).where(CrmConnection.state == ConnectionState.CONNECTED)
            return list(session.scalars(statement))

    def queued_uploads(self) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """Every organization's queued uploads as (organization id, upload id), oldest first."""
        return queued_uploads(self._read_session_factory)

    def slug_of(self, organization_id: uuid.UUID) -> str | None:
        """The slug of organization ``organization_id``, or None."""
        with self._read_session_factory() as session:
            return session.scalar(select(Organization.slug).where(Organization.id == organization_id))
