"""``/api/v1/orgs/{org}/crm/sync``: the CRM import's status, and "Sync now" (administrators only)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import Field

from salesbridge.services.sync import request_sync, sync_status
from salesbridge.web.api.schemas import ORGANIZATION_ERRORS, ApiModel, IsoTime
from salesbridge.web.localized import sync_status_json
from salesbridge.web.security import AdminPrincipal, Services

router = APIRouter(prefix="/api/v1/orgs/{org}/crm", tags=["sync"], responses=ORGANIZATION_ERRORS)


class TableImportOut(ApiModel):
    """Where the import of one CRM table stands."""

    table: str
    mode: str = Field(description="How changes are read: change tracking, or the modified-on fallback.")
    last_success_at: IsoTime | None
    rows_imported: int = Field(description="Rows imported by the last run.")
    rows_deleted: int = Field(description="Rows deleted by the last run.")
    row_count: int
    consecutive_failures: int
    failing_since: IsoTime | None
    last_error: str | None


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


class SyncQueuedOut(ApiModel):
    """The queued import."""

    run_id: uuid.UUID


@router.get("/sync", summary="The CRM import's status")
def get_sync_status(org: str, principal: AdminPrincipal, services: Services) -> SyncStatusOut:  # noqa: ARG001
    """The last sync date, the running or queued import, failures (since when, why, the next retry) and each
    table's import."""
    status = sync_status(services.store, slug=principal.organization_slug, clock=services.clock)
    return SyncStatusOut.model_validate(sync_status_json(status, principal.locale))


@router.post("/sync", status_code=202, summary="Sync now")
def sync_now(org: str, principal: AdminPrincipal, services: Services) -> SyncQueuedOut:  # noqa: ARG001
    """Queue an import (the queued one when there is one already). 202 with the run id; 422 when not connected."""
    run_id = request_sync(services.store, slug=principal.organization_slug, actor=principal.email)
    if services.wake_importer is not None:
        services.wake_importer()
    return SyncQueuedOut(run_id=run_id)
