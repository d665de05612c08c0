"""The ports of the use cases: everything a service needs from the outside world, as protocols, in one package:
:mod:`.crm` (the CRM session), :mod:`.workspace` (people, seats, tokens, the audit log, the connection),
:mod:`.imports` (the import plane), :mod:`.lists`, :mod:`.people` (the workspace's people and companies),
:mod:`.jobs` (the job API), :mod:`.matching` (links of CRM records to people and companies),
:mod:`.writeback` (activities, their outbox and the writeback settings), :mod:`.home` (a seller's home), and
:mod:`.unit_of_work` (the transaction and the store access). Import them from here.

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

from salesbridge.domain.clock import Clock
from salesbridge.services.ports.crm import (
    CrmAppSession,
    CrmAppSessionFactory,
    CrmSession,
    CrmSessionFactory,
    PreflightCrm,
    WritebackSession,
    WritebackSessionFactory,
)
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
from salesbridge.services.ports.jobs import JobArgument, JobOverview, JobQueue
from salesbridge.services.ports.lists import (
    AutoSaveRuleRepository,
    CrmRecordQueries,
    ListRepository,
    ListTableQueries,
)
from salesbridge.services.ports.matching import MatchRepository
from salesbridge.services.ports.notifications import AlertRepository, Mailer
from salesbridge.services.ports.people import CompanyRepository, PersonRepository, UploadRepository, UpsertCounts
from salesbridge.services.ports.reports import ReportQueries
from salesbridge.services.ports.unit_of_work import (
    OrganizationFinder,
    SignInFailures,
    StoreAccess,
    UnitOfWork,
    UnitOfWorkOpener,
)
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

__all__ = [
    "ActivityRepository",
    "AlertRepository",
    "ApiTokenRepository",
    "AuditLog",
    "AutoSaveRuleRepository",
    "Clock",
    "CompanyRepository",
    "CrmAppSession",
    "CrmAppSessionFactory",
    "CrmConnectionRepository",
    "CrmRecordQueries",
    "CrmSession",
    "CrmSessionFactory",
    "CrmSettingsRepository",
    "CrmUserRepository",
    "HomeVisitRepository",
    "ImportCheckpoints",
    "ImportQueue",
    "ImportRecordErrors",
    "ImportRunRepository",
    "ImportedDataRepository",
    "ImportedRecordRepository",
    "InvitationRepository",
    "JobArgument",
    "JobOverview",
    "JobQueue",
    "ListRepository",
    "ListSizeQueries",
    "ListTableQueries",
    "Mailer",
    "MatchRepository",
    "NoticedChangeRepository",
    "OrganizationFinder",
    "OrganizationRepository",
    "PersonRepository",
    "PreflightCrm",
    "ReportQueries",
    "SeatRepository",
    "SignInFailures",
    "StoreAccess",
    "UnitOfWork",
    "UnitOfWorkOpener",
    "UploadRepository",
    "UpsertCounts",
    "UserRepository",
    "WebSessionRepository",
    "WritebackSession",
    "WritebackSessionFactory",
    "WritebackSettingsRepository",
]
