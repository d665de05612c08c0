"""Loading a CSV of people or companies uploaded on the console, as a background job.

- :func:`start_upload` checks the file's header at once (not text, no id column, empty: refused, nothing kept),
  stores the file in the upload's row and defers its load job (:data:`~salesbridge.domain.jobs.LOAD_PEOPLE_UPLOAD`)
  in the same transaction. In the embedded engine, which runs imports only, the queued upload is its own job: the
  embedded runner loads it (:func:`run_queued_uploads`).
- :func:`run_upload` (the job) loads the file with :mod:`salesbridge.services.people_load`, so the rules, batches,
  audit entry and idempotence are the CSV load's; the upload's progress is written after each batch and its refused
  lines at the end. Run twice, it loads once (the upload is taken by one conditional update).

The file is kept in the store until its load ends: it survives a restart of the console and reaches a worker on
another machine.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextlib import suppress
from typing import Final

from salesbridge.domain.csv_rows import (
    CompanyRow,
    CsvKind,
    CsvReading,
    LineProblem,
    PersonRow,
    read_company_csv,
    read_people_csv,
)
from salesbridge.domain.jobs import LOAD_PEOPLE_UPLOAD, organization_lock
from salesbridge.domain.text_rules import has_refused_characters
from salesbridge.domain.uploads import UPLOAD_INTERRUPTED, Upload, UploadProgress
from salesbridge.errors import InvalidRequestError, RowNotFoundError, UnsupportedJobError
from salesbridge.message_ids import N_
from salesbridge.services.people_load import LoadReport, load_companies, load_people
from salesbridge.services.ports import StoreAccess

__all__ = ["MAX_UPLOAD_BYTES", "recent_uploads", "run_queued_uploads", "run_upload", "start_upload", "upload_of"]

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES: Final = 32 * 1024 * 1024
"""The largest file the console takes (larger files: ``salesbridge people import``)."""

MAX_FILE_NAME: Final = 255
EMPTY_FILE: Final = N_("The file is empty: it has no header line.")
UPLOAD_NOT_FOUND: Final = "No such upload in this organization."
MAX_REASON_CHARS: Final = 500

Reading = CsvReading[PersonRow] | CsvReading[CompanyRow]


def _read(kind: CsvKind, content: bytes) -> Reading:
    """The file opened (its header read and checked); raises InvalidRequestError for a file refused whole."""
    return read_people_csv(content) if kind is CsvKind.PEOPLE else read_company_csv(content)


def _load(
    store: StoreAccess, slug: str, reading: Reading, *, actor: str, partial: Callable[[LoadReport], None]
) -> LoadReport:
    if reading.kind is CsvKind.PEOPLE:
        return load_people(store, slug, reading, actor=actor, partial=partial)  # type: ignore[arg-type]
    return load_companies(store, slug, reading, actor=actor, partial=partial)  # type: ignore[arg-type]


def _file_name(name: str) -> str:
    cleaned = "".join(" " if has_refused_characters(char) else char for char in name).strip()
    return (cleaned or "upload.csv")[:MAX_FILE_NAME]


def start_upload(
    store: StoreAccess, organization_id: uuid.UUID, *, kind: CsvKind, file_name: str, content: bytes, actor: str
) -> Upload:
    """Keep ``content`` as a queued upload of ``kind`` and defer its load; the upload as queued.

    Raises:
        InvalidRequestError: the file is refused as a whole (not UTF-8 or Latin-1 text, empty, no id column, an
            unreadable header): nothing is kept.
    """
    if not content.strip():
        raise InvalidRequestError(EMPTY_FILE)
    _read(kind, content)  # reads the header only: a file refused as a whole is refused now, on the page
    with store(organization_id) as uow:
        upload = uow.uploads.add(kind=kind, file_name=_file_name(file_name), content=content, created_by=actor)
        # The embedded engine runs imports only: there the queued upload is the job, the embedded runner loads it.
        with suppress(UnsupportedJobError):
            uow.jobs.defer(
                LOAD_PEOPLE_UPLOAD,
                args={"upload_id": str(upload.id), "reason": "upload"},
                lock=organization_lock(organization_id),
            )
        uow.commit()
    return upload


def run_upload(store: StoreAccess, organization_id: uuid.UUID, upload_id: uuid.UUID) -> Upload | None:
    """Load the queued upload (the job's work); the upload as it ended, or None when it was not queued (taken by
    another worker, ended, or missing). A file refused as a whole ends the upload failed with the reason; a load
    that breaks off (the store went away) ends it failed with :data:`UPLOAD_INTERRUPTED` and the error is raised
    again (the job fails too)."""
    with store(organization_id) as uow:
        if not uow.uploads.start(upload_id):
            return None
        content = uow.uploads.content(upload_id)
        upload = uow.uploads.get(upload_id)
        uow.commit()
    if content is None or upload is None:
        return None
    reading_box: list[Reading] = []

    def partial(report: LoadReport) -> None:
        with store(organization_id) as uow:
            uow.uploads.record_progress(upload_id, _progress(reading_box[0], report))
            uow.commit()

    try:
        reading = _read(upload.kind, content)
        reading_box.append(reading)
        report = _load(store, store.slug_of(organization_id) or "", reading, actor=upload.created_by, partial=partial)
    except InvalidRequestError as refused:
        _finish(store, organization_id, upload_id, error=LineProblem(0, refused.message_id, refused.fields))
    except Exception as broken:
        reason = str(broken)[:MAX_REASON_CHARS] or type(broken).__name__
        _finish(store, organization_id, upload_id, error=LineProblem(0, UPLOAD_INTERRUPTED, {"reason": reason}))
        raise
    else:
        _finish(store, organization_id, upload_id, reading=reading, report=report)
    with store(organization_id, read_only=True) as uow:
        return uow.uploads.get(upload_id)


def _progress(reading: Reading, report: LoadReport) -> UploadProgress:
    return UploadProgress(
        bytes_read=reading.bytes_read,
        lines_read=reading.lines_read,
        rows_read=reading.rows_read,
        inserted=report.inserted,
        updated=report.updated,
        unchanged=report.unchanged,
        refused=report.refused,
    )


def _finish(
    store: StoreAccess,
    organization_id: uuid.UUID,
    upload_id: uuid.UUID,
    *,
    reading: Reading | None = None,
    report: LoadReport | None = None,
    error: LineProblem | None = None,
) -> None:
    with store(organization_id) as uow:
        if reading is not None and report is not None:
            progress = _progress(reading, report)
            problems, warnings = report.problems, report.warnings
        else:
            current = uow.uploads.get(upload_id)
            progress = current.progress if current is not None else UploadProgress()
            problems, warnings = (), ()
        uow.uploads.finish(upload_id, progress=progress, problems=problems, warnings=warnings, error=error)
        uow.commit()


def run_queued_uploads(store: StoreAccess) -> int:
    """Load every organization's queued uploads, oldest first (the embedded runner's step); how many it loaded.
    A load that breaks off is logged (and recorded on its upload); the others still run."""
    loaded = 0
    for organization_id, upload_id in store.queued_uploads():
        try:
            loaded += run_upload(store, organization_id, upload_id) is not None
        except Exception:
            logger.exception("loading upload %s of organization %s broke off", upload_id, organization_id)
    return loaded


def upload_of(store: StoreAccess, organization_id: uuid.UUID, upload_id: uuid.UUID) -> Upload:
    """The organization's upload ``upload_id``. Reads only.

    Raises:
        RowNotFoundError: no such upload in the organization (another organization's included).
    """
    with store(organization_id, read_only=True) as uow:
        found = uow.uploads.get(upload_id)
    if found is None:
        raise RowNotFoundError(UPLOAD_NOT_FOUND)
    return found


def recent_uploads(store: StoreAccess, organization_id: uuid.UUID, *, limit: int = 20) -> list[Upload]:
    """The organization's latest uploads, newest first. Reads only."""
    with store(organization_id, read_only=True) as uow:
        return uow.uploads.recent(limit=limit)
