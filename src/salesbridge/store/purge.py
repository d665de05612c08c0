"""Bulk removal of an organization's imported CRM data, and the questions the disconnect flow asks about it.

Every statement is one set-based ``DELETE … WHERE organization_id = :org`` (or ``UPDATE``) on an indexed column, so
a purge of a million imported rows is a handful of statements, not a million ORM deletes. The session is not
synchronised row by row (``synchronize_session=False``): rows of these tables loaded earlier in the same unit of
work must not be used after a purge.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Delete, Select, Update, delete, exists, func, select, update
from sqlalchemy.orm import Session

from salesbridge.store.matching import delete_matches
from salesbridge.store.repositories import Clock
from salesbridge.store.tables import (
    AuditEntry,
    AutoSaveBasis,
    CrmOpportunityFacts,
    CrmOpportunityRecord,
    CrmRecord,
    CrmRecordChangeRow,
    CrmUser,
    ImportRequest,
    ImportState,
    ListItem,
    ListKind,
    SavedList,
    SkippedImportRecord,
    TableSyncState,
)

ORIGIN_ACTIONS = ("crm.connected", "crm.disconnected")
"""Audit actions whose ``details["org_url"]`` names the Dynamics organization the imported data comes from."""


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class ImportedDataRepository:
    """The organization's imported CRM data as a whole: purge it, say whether any remains and where it came from.

    Scoped to one organization like every repository; flushes nothing of its own and never commits.
    """

    def __init__(self, session: Session, organization_id: uuid.UUID, *, clock: Clock) -> None:
        self._session = session
        self._organization_id = organization_id
        self._clock = clock

    def _bulk(self, statement: Delete | Update) -> int:
        return _rowcount(self._session.execute(statement.execution_options(synchronize_session=False)))

    def delete_crm_records(self) -> int:
        """Delete every imported CRM record, and what matching derived from them (links to people and companies,
        corrections and rejected pairs included, keys and state: :func:`salesbridge.store.matching.delete_matches`;
        the people and companies stay). Returns how many records went."""
        delete_matches(self._session, self._organization_id)
        # What the import saw change on them goes with them (a seller's home tells of imported records only).
        self._bulk(delete(CrmRecordChangeRow).where(CrmRecordChangeRow.organization_id == self._organization_id))
        # The records the opportunities name and their facts (the reports' index of them) are the records' own.
        self._bulk(delete(CrmOpportunityRecord).where(CrmOpportunityRecord.organization_id == self._organization_id))
        self._bulk(delete(CrmOpportunityFacts).where(CrmOpportunityFacts.organization_id == self._organization_id))
        return self._bulk(delete(CrmRecord).where(CrmRecord.organization_id == self._organization_id))

    def delete_sync_states(self) -> int:
        """Delete every table's checkpoint and health, the records it skipped included (the next import after a
        reconnect is a full read)."""
        self._bulk(delete(SkippedImportRecord).where(SkippedImportRecord.organization_id == self._organization_id))
        return self._bulk(delete(TableSyncState).where(TableSyncState.organization_id == self._organization_id))

    def delete_crm_users(self) -> int:
        """Delete every imported CRM user; seats pointing at one lose the link (``ON DELETE SET NULL``) and must be
        matched again by the caller."""
        return self._bulk(delete(CrmUser).where(CrmUser.organization_id == self._organization_id))

    def delete_system_list_items(self) -> int:
        """Delete every item of the organization's system (auto-saved) lists; items of manual lists stay."""
        system_lists = select(SavedList.id).where(
            SavedList.organization_id == self._organization_id, SavedList.kind != ListKind.MANUAL
        )
        return self._bulk(
            delete(ListItem).where(
                ListItem.organization_id == self._organization_id, ListItem.list_id.in_(system_lists)
            )
        )

    def delete_system_lists(self) -> int:
        """Delete the system lists themselves (auto-save creates them again on the next import), and what they were
        computed from."""
        self._bulk(delete(AutoSaveBasis).where(AutoSaveBasis.organization_id == self._organization_id))
        return self._bulk(
            delete(SavedList).where(
                SavedList.organization_id == self._organization_id, SavedList.kind != ListKind.MANUAL
            )
        )

    def delete_import_requests(self) -> int:
        """Delete every import run, whatever its state (the audit log keeps the trail)."""
        return self._bulk(delete(ImportRequest).where(ImportRequest.organization_id == self._organization_id))

    def cancel_imports(self, *, error: str) -> int:
        """Fail every queued or running import with ``error``; a running import stops before its next page commits
        (its lease can no longer be renewed). Returns how many were cancelled. Idempotent."""
        now: datetime = self._clock()
        statement = (
            update(ImportRequest)
            .where(
                ImportRequest.organization_id == self._organization_id,
                ImportRequest.state.in_([ImportState.QUEUED, ImportState.RUNNING]),
            )
            .values(state=ImportState.FAILED, finished_at=now, lease_expires_at=None, error=error)
        )
        return self._bulk(statement)

    def counts(self) -> dict[str, int]:
        """How many rows a purge would delete now, by the names of
        :meth:`salesbridge.sync.purge.PurgeReport.counts`. Reads only."""
        org = self._organization_id
        system_lists = select(SavedList.id).where(SavedList.organization_id == org, SavedList.kind != ListKind.MANUAL)
        queries: dict[str, Select[Any]] = {
            "crm_records": select(func.count()).select_from(CrmRecord).where(CrmRecord.organization_id == org),
            "table_sync_states": select(func.count())
            .select_from(TableSyncState)
            .where(TableSyncState.organization_id == org),
            "crm_users": select(func.count()).select_from(CrmUser).where(CrmUser.organization_id == org),
            "import_requests": select(func.count())
            .select_from(ImportRequest)
            .where(ImportRequest.organization_id == org),
            "system_list_items": select(func.count())
            .select_from(ListItem)
            .where(ListItem.organization_id == org, ListItem.list_id.in_(system_lists)),
            "system_lists": select(func.count()).select_from(system_lists.subquery()),
        }
        return {name: int(self._session.scalar(query) or 0) for name, query in queries.items()}

    def active_imports(self) -> int:
        """How many imports are queued or running. Reads only."""
        statement = (
            select(func.count())
            .select_from(ImportRequest)
            .where(
                ImportRequest.organization_id == self._organization_id,
                ImportRequest.state.in_([ImportState.QUEUED, ImportState.RUNNING]),
            )
        )
        return int(self._session.scalar(statement) or 0)

    def remains(self) -> bool:
        """Whether any imported CRM data is stored: records, CRM users or table checkpoints."""
        scoped: tuple[Select[Any], ...] = (
            select(CrmRecord.crm_id).where(CrmRecord.organization_id == self._organization_id),
            select(CrmUser.id).where(CrmUser.organization_id == self._organization_id),
            select(TableSyncState.table_name).where(TableSyncState.organization_id == self._organization_id),
        )
        return any(self._session.scalar(select(exists(query))) for query in scoped)

    def origin_org_url(self) -> str | None:
        """The Dynamics organization URL the stored data was imported from, as the audit log last recorded it on
        a connect or a disconnect; None when it never recorded one."""
        statement = (
            select(AuditEntry.details)
            .where(AuditEntry.organization_id == self._organization_id, AuditEntry.action.in_(ORIGIN_ACTIONS))
            .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
            .limit(100)
        )
        entries: list[dict[str, Any]] = list(self._session.scalars(statement))
        for details in entries:
            url = details.get("org_url")
            if isinstance(url, str) and url:
                return url
        return None
