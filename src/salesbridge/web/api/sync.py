"""``/api/v1/orgs/{org}/crm/sync``: the CRM import's status, "Sync now", Sync health, and Retry of the records the
import skipped (administrators only).

The status is ``salesbridge sync status --json``'s body; Sync health is the console page's
(``/settings/crm/health``): each table, the records the import skipped, the activities writeback could not deliver,
and the recent import runs. Retrying skipped records is the page's Retry one / Retry all."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import Field

from salesbridge.i18n import translate
from salesbridge.services.sync import request_sync, sync_status
from salesbridge.services.sync_health import (
    MAX_IMPORT_ERRORS,
    MAX_RUNS,
    RunLine,
    SyncHealth,
    retry_import_errors,
    sync_health,
)
from salesbridge.services.writeback import problem_json
from salesbridge.web.api.schemas import ORGANIZATION_ERRORS, ApiInput, ApiModel, IsoTime
from salesbridge.web.api.writeback import ProblemOut
from salesbridge.web.localized import (
    sync_status_json,
    table_import_json,
    writeback_app_missing_message,
    writeback_throttled_message,
)
from salesbridge.web.security import AdminPrincipal, Services

router = APIRouter(prefix="/api/v1/orgs/{org}/crm", tags=["sync"], responses=ORGANIZATION_ERRORS)


class TableImportOut(ApiModel):
    """Where the import of one CRM table stands."""

    table: str = Field(description="The CRM table's logical name (`contact`).")
    table_label: str = Field(description="The table by its name, in the caller's language (`Contacts`).")
    mode: str = Field(description="How changes are read: change tracking, or the modified-on fallback.")
    last_success_at: IsoTime | None
    rows_imported: int = Field(description="Rows imported by the last run.")
    rows_deleted: int = Field(description="Rows deleted by the last run.")
    row_count: int
    consecutive_failures: int
    failing_since: IsoTime | None
    last_error: str | None
    updated_at: IsoTime = Field(description="When the table's import state last changed (Sync health's last change).")


class SyncStatusOut(ApiModel):
    """Where the organization's CRM import stands."""

    organization: str
    connected: bool
    interval_minutes: int
    last_sync_at: IsoTime | None = Field(description="When the last successful import finished.")
    running_since: IsoTime | None
    queued: bool
    failing: bool
    failing_since: IsoTime | None
    failure_reason: str | None
    failure_message: str | None = Field(description="The failure in words, in the caller's language.")
    consecutive_failures: int
    next_run_at: IsoTime | None
    throttled_until: IsoTime | None = Field(
        default=None,
        description="While the running import is throttled by Dynamics (429): until when Dynamics asked it to wait.",
    )
    throttled_message: str | None = Field(
        default=None, description="That throttling in words, with the next try, in the caller's language."
    )
    tables: list[TableImportOut]


class ImportErrorOut(ApiModel):
    """A CRM record the import skipped while the rest of its page was stored."""

    table: str
    crm_id: str
    name: str | None = Field(description="The record's name, when it was imported before it failed.")
    code: str | None = Field(description="Dynamics' error code, when the retry met one.")
    message: str
    attempts: int
    first_failed_at: IsoTime
    last_failed_at: IsoTime


class ImportRunOut(ApiModel):
    """A finished import run."""

    id: uuid.UUID
    reason: str
    succeeded: bool
    error: str | None = Field(description="Why it failed, as it came; null when it succeeded.")
    requested_at: IsoTime
    started_at: IsoTime | None
    finished_at: IsoTime
    duration_s: float | None = Field(description="Seconds from start to end; null for a run that never started.")
    rows: int | None = Field(description="Rows stored and deleted, every table; null when the run did not count.")
    rows_imported: int | None
    rows_deleted: int | None
    requests_made: int | None = Field(description="Web API requests sent, retries included.")
    throttled: int | None = Field(description="Service-protection answers (429) met.")


class SyncHealthOut(ApiModel):
    """How the import from the CRM and the writeback to it are doing, as the Sync health page shows it."""

    tables: list[TableImportOut]
    import_errors: list[ImportErrorOut] = Field(
        description=f"The records the import skipped, most recent failure first (at most {MAX_IMPORT_ERRORS})."
    )
    import_error_count: int = Field(description="All of them.")
    writeback_errors: list[ProblemOut] = Field(
        description="The failing and parked activities, newest first (at most 200), as `GET …/writeback/status` "
        "gives them."
    )
    writeback_error_count: int = Field(description="All of them.")
    crm_app_missing: bool = Field(description="Activities wait because the CRM-side app's tables were removed.")
    crm_app_missing_message: str | None = Field(
        description="That in words, with what to do, in the caller's language; null otherwise."
    )
    writeback_throttled_until: IsoTime | None = Field(
        description="While Dynamics throttles the writeback drain: the next try; null otherwise."
    )
    writeback_throttled_message: str | None = Field(
        description="That throttling in words, in the caller's language; null otherwise."
    )
    runs: list[ImportRunOut] = Field(description=f"The newest finished import runs, newest first (at most {MAX_RUNS}).")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _run_json(line: RunLine) -> dict[str, Any]:
    run = line.run
    return {
        "id": run.id,
        "reason": run.reason,
        "succeeded": line.succeeded,
        "error": run.error,
        "requested_at": run.requested_at.isoformat(),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "duration_s": line.duration_s,
        "rows": line.rows,
        "rows_imported": run.rows_imported,
        "rows_deleted": run.rows_deleted,
        "requests_made": run.requests_made,
        "throttled": run.throttled,
    }


def sync_health_out(health: SyncHealth, locale: str) -> SyncHealthOut:
    """Sync health as the API gives it: what the page shows, its sentences in ``locale``."""
    return SyncHealthOut.model_validate(
        {
            "tables": [table_import_json(table, locale) for table in health.tables],
            "import_errors": [
                {
                    "table": error.table,
                    "crm_id": error.crm_id,
                    "name": health.record_names.get((error.table, error.crm_id)),
                    "code": error.code,
                    "message": error.message,
                    "attempts": error.attempts,
                    "first_failed_at": error.first_failed_at.isoformat(),
                    "last_failed_at": error.last_failed_at.isoformat(),
                }
                for error in health.import_errors
            ],
            "import_error_count": health.import_error_count,
            "writeback_errors": [
                problem_json(problem, lambda message: translate(message, locale)) for problem in health.writeback_errors
            ],
            "writeback_error_count": health.writeback_error_count,
            "crm_app_missing": health.crm_app_missing,
            "crm_app_missing_message": writeback_app_missing_message(health.crm_app_missing, locale),
            "writeback_throttled_until": _iso(health.writeback_throttled_until),
            "writeback_throttled_message": writeback_throttled_message(health.writeback_throttled_until, locale),
            "runs": [_run_json(line) for line in reversed(health.runs)],
        }
    )


class SyncQueuedOut(ApiModel):
    """The queued import."""

    run_id: uuid.UUID


class SkippedRecordIn(ApiInput):
    """A record the import skipped, as Sync health lists it."""

    table: str = Field(min_length=1, max_length=64, description="The CRM table's logical name (`account`).")
    crm_id: str = Field(min_length=1, max_length=64, description="The record's id in the CRM.")


class RetryImportIn(ApiInput):
    """Which skipped records to read again."""

    records: list[SkippedRecordIn] = Field(
        default_factory=list,
        max_length=MAX_IMPORT_ERRORS,
        description=f"Those records; empty: every one (the newest {MAX_IMPORT_ERRORS}).",
    )


class ImportRetryOut(ApiModel):
    """What the retry did, per record read again."""

    stored: int = Field(description="Read and stored: no longer skipped.")
    gone: int = Field(description="Deleted from Dynamics since: deleted here too, no longer skipped.")
    failed: int = Field(description="Failed again: still skipped, with Dynamics' error and one attempt more.")


@router.get("/sync", summary="The CRM import's status")
def get_sync_status(org: str, principal: AdminPrincipal, services: Services) -> SyncStatusOut:  # noqa: ARG001
    """The last sync date, the running or queued import, failures (since when, why, the next retry) and each
    table's import."""
    status = sync_status(services.store, slug=principal.organization_slug, clock=services.clock)
    return SyncStatusOut.model_validate(sync_status_json(status, principal.locale))


@router.get("/sync/health", summary="Sync health")
def get_sync_health(org: str, principal: AdminPrincipal, services: Services) -> SyncHealthOut:  # noqa: ARG001
    """What the Sync health page shows: each imported table (rows, last change, last error and since when), the
    records the import skipped (Dynamics' code and message, attempts), the failing and parked activities, whether
    they wait for the CRM-side app or Dynamics throttles the drain (in words), and the newest finished import runs
    (duration, rows, requests, 429s met)."""
    health = sync_health(services.store, principal.organization_id, clock=services.clock)
    return sync_health_out(health, principal.locale)


@router.post("/sync", status_code=202, summary="Sync now")
def sync_now(org: str, principal: AdminPrincipal, services: Services) -> SyncQueuedOut:  # noqa: ARG001
    """Queue an import (the queued one when there is one already). 202 with the run id; 422 when not connected."""
    run_id = request_sync(services.store, slug=principal.organization_slug, actor=principal.email)
    if services.wake_importer is not None:
        services.wake_importer()
    return SyncQueuedOut(run_id=run_id)


@router.post("/sync/import-errors/retry", summary="Retry the records the import skipped")
async def retry_skipped_records(
    org: str,  # noqa: ARG001
    body: RetryImportIn,
    principal: AdminPrincipal,
    services: Services,
) -> ImportRetryOut:
    """Reads the skipped records named (else every one) from Dynamics again and stores each as the import would,
    as Sync health's Retry does: how many were stored, gone from Dynamics (deleted here too) and failed again (their
    error updated, Dynamics unreachable included). 422 while the organization is not connected. Audited."""
    records = [(record.table, record.crm_id.lower()) for record in body.records]
    outcome = await retry_import_errors(
        services.store, services.crm_sessions, principal.organization_id, records, actor=principal.email
    )
    return ImportRetryOut(stored=outcome.stored, gone=outcome.gone, failed=outcome.failed)
