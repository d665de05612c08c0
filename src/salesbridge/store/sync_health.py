"""The store of sync health: the CRM records an import could not store (``crm_import_record_errors``)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, func, select

from salesbridge.domain.sync_health import SkippedRecord
from salesbridge.store.repositories import _ScopedRepository
from salesbridge.store.tables import SkippedImportRecord


def _value(row: SkippedImportRecord) -> SkippedRecord:
    return SkippedRecord(
        table=row.table_name,
        crm_id=row.crm_id,
        code=row.code,
        message=row.message,
        first_failed_at=row.first_failed_at,
        last_failed_at=row.last_failed_at,
        attempts=row.attempts,
    )


class ImportRecordErrorRepository(_ScopedRepository):
    """The organization's records the import skipped, one row per table and record."""

    def record(self, table: str, crm_id: str, *, code: str | None, message: str) -> None:
        """Note that ``crm_id`` of ``table`` failed now with ``code`` and ``message``: a new row, or the record's
        row updated (one more attempt). In the unit of work's transaction (the page's)."""
        now = self._clock()
        row = self._session.get(SkippedImportRecord, (self._organization_id, table, crm_id))
        if row is None:
            self._session.add(
                SkippedImportRecord(
                    organization_id=self._organization_id,
                    table_name=table,
                    crm_id=crm_id,
                    code=code,
                    message=message,
                    first_failed_at=now,
                    last_failed_at=now,
                    attempts=1,
                )
            )
            self._session.flush()
            return
        row.code, row.message, row.last_failed_at, row.attempts = code, message, now, row.attempts + 1

    def clear(self, table: str, crm_ids: Iterable[str]) -> int:
        """Forget the errors of ``crm_ids`` of ``table`` (stored again, or gone from the CRM); how many went."""
        ids = list(crm_ids)
        if not ids:
            return 0
        result = self._session.execute(
            delete(SkippedImportRecord).where(
                SkippedImportRecord.organization_id == self._organization_id,
                SkippedImportRecord.table_name == table,
                SkippedImportRecord.crm_id.in_(ids),
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def any_in(self, table: str) -> bool:
        """Whether any record of ``table`` is skipped."""
        statement = select(SkippedImportRecord.crm_id).where(
            SkippedImportRecord.organization_id == self._organization_id, SkippedImportRecord.table_name == table
        )
        return self._session.scalar(statement.limit(1)) is not None

    def newest(self, *, limit: int) -> list[SkippedRecord]:
        """At most ``limit`` errors, the most recent failure first."""
        statement = (
            select(SkippedImportRecord)
            .where(SkippedImportRecord.organization_id == self._organization_id)
            .order_by(
                SkippedImportRecord.last_failed_at.desc(),
                SkippedImportRecord.table_name,
                SkippedImportRecord.crm_id,
            )
            .limit(limit)
        )
        return [_value(row) for row in self._session.scalars(statement)]

    def count(self) -> int:
        """How many records are in error."""
        return int(
            self._session.scalar(
                select(func.count()).where(SkippedImportRecord.organization_id == self._organization_id)
            )
            or 0
        )
