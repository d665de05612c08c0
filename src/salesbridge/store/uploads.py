"""Uploaded CSV files of people and companies and their loads (:class:`salesbridge.services.ports.UploadRepository`).

The file is kept in its row until its load ends (see migration 0016); reads that list uploads never load it.
Problems are stored as JSON lists ``[line, message id, fields]``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session, sessionmaker

from salesbridge.domain.csv_rows import CsvKind, LineProblem
from salesbridge.domain.uploads import Upload, UploadProgress, UploadState
from salesbridge.store.repositories import _ScopedRepository
from salesbridge.store.tables import PeopleUploadRow

_SHOWN = [column for column in PeopleUploadRow.__table__.columns if column.name != "content"]


def _problems(stored: list[Any]) -> tuple[LineProblem, ...]:
    return tuple(LineProblem(int(line), str(message), dict(fields)) for line, message, fields in stored)


def _stored(problems: Sequence[LineProblem]) -> list[Any]:
    return [[problem.line, problem.message, {**problem.fields}] for problem in problems]


def _value(row: Row[Any]) -> Upload:
    return Upload(
        id=row.id,
        kind=CsvKind(row.kind),
        file_name=row.file_name,
        size_bytes=row.size_bytes,
        state=UploadState(row.state),
        progress=UploadProgress(
            bytes_read=row.bytes_read,
            lines_read=row.lines_read,
            rows_read=row.rows_read,
            inserted=row.inserted,
            updated=row.updated,
            unchanged=row.unchanged,
            refused=row.refused,
        ),
        problems=_problems(row.problems),
        warnings=_problems(row.warnings),
        error=_problems([row.error["problem"]])[0] if row.error else None,
        created_by=row.created_by,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def _counters(progress: UploadProgress) -> dict[str, int]:
    return {
        "bytes_read": progress.bytes_read,
        "lines_read": progress.lines_read,
        "rows_read": progress.rows_read,
        "inserted": progress.inserted,
        "updated": progress.updated,
        "unchanged": progress.unchanged,
        "refused": progress.refused,
    }


class UploadRepository(_ScopedRepository):
    """The organization's uploads."""

    def _where(self, upload_id: uuid.UUID) -> Any:
        return (PeopleUploadRow.organization_id == self._organization_id) & (PeopleUploadRow.id == upload_id)

    def add(self, *, kind: CsvKind, file_name: str, content: bytes, created_by: str) -> Upload:
        """A new queued upload holding ``content``."""
        row = PeopleUploadRow(
            id=uuid.uuid4(),
            organization_id=self._organization_id,
            kind=kind.value,
            file_name=file_name,
            size_bytes=len(content),
            content=content,
            state=UploadState.QUEUED.value,
            **_counters(UploadProgress()),
            problems=[],
            warnings=[],
            error=None,
            created_by=created_by,
            created_at=self._clock(),
        )
        self._session.add(row)
        self._session.flush()
        found = self.get(row.id)
        assert found is not None
        return found

    def get(self, upload_id: uuid.UUID) -> Upload | None:
        """The organization's upload ``upload_id``, or None."""
        row = self._session.execute(select(*_SHOWN).where(self._where(upload_id))).first()
        return None if row is None else _value(row)

    def recent(self, *, limit: int = 20) -> list[Upload]:
        """The organization's uploads, newest first."""
        statement = (
            select(*_SHOWN)
            .where(PeopleUploadRow.organization_id == self._organization_id)
            .order_by(PeopleUploadRow.created_at.desc(), PeopleUploadRow.id)
            .limit(limit)
        )
        return [_value(row) for row in self._session.execute(statement)]

    def content(self, upload_id: uuid.UUID) -> bytes | None:
        """The file of a queued or running upload, else None."""
        active = [UploadState.QUEUED.value, UploadState.RUNNING.value]
        statement = select(PeopleUploadRow.content).where(self._where(upload_id), PeopleUploadRow.state.in_(active))
        content: bytes | None = self._session.scalar(statement)
        return content

    def start(self, upload_id: uuid.UUID) -> bool:
        """Queued → running, in one conditional statement (two workers cannot both take it)."""
        result = self._session.execute(
            update(PeopleUploadRow)
            .where(self._where(upload_id), PeopleUploadRow.state == UploadState.QUEUED.value)
            .values(state=UploadState.RUNNING.value, started_at=self._clock())
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    def record_progress(self, upload_id: uuid.UUID, progress: UploadProgress) -> None:
        """Write the counters so far."""
        self._session.execute(update(PeopleUploadRow).where(self._where(upload_id)).values(**_counters(progress)))

    def finish(
        self,
        upload_id: uuid.UUID,
        *,
        progress: UploadProgress,
        problems: Sequence[LineProblem],
        warnings: Sequence[LineProblem],
        error: LineProblem | None = None,
    ) -> None:
        """Succeeded (or failed with ``error``), now; the file emptied."""
        state = UploadState.SUCCEEDED if error is None else UploadState.FAILED
        self._session.execute(
            update(PeopleUploadRow)
            .where(self._where(upload_id))
            .values(
                **_counters(progress),
                state=state.value,
                problems=_stored(problems),
                warnings=_stored(warnings),
                error={"problem": _stored([error])[0]} if error is not None else None,
                content=b"",
                finished_at=self._clock(),
            )
        )


def queued_uploads(session_factory: sessionmaker[Session]) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Every organization's queued uploads as (organization id, upload id), oldest first."""
    with session_factory() as session:
        statement = (
            select(PeopleUploadRow.organization_id, PeopleUploadRow.id)
            .where(PeopleUploadRow.state == UploadState.QUEUED.value)
            .order_by(PeopleUploadRow.created_at, PeopleUploadRow.id)
        )
        return [(row.organization_id, row.id) for row in session.execute(statement)]
