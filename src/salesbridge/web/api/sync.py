"""``/api/v1/orgs/{org}/crm/sync``: the CRM import's status, and "Sync now" (administrators only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from salesbridge.services.sync import request_sync, sync_status
from salesbridge.web.security import AdminPrincipal, Services

router = APIRouter(prefix="/api/v1/orgs/{org}/crm", tags=["sync"])


@router.get("/sync", summary="The CRM import's status")
def get_sync_status(org: str, principal: AdminPrincipal, services: Services) -> dict[str, Any]:  # noqa: ARG001
    """The last sync date, the running or queued import, failures (since when, why, the next retry) and each
    table's import."""
    return sync_status(services.store, slug=principal.organization_slug, clock=services.clock).to_json(principal.locale)


@router.post("/sync", status_code=202, summary="Sync now")
def sync_now(org: str, principal: AdminPrincipal, services: Services) -> JSONResponse:  # noqa: ARG001
    """Queue an import (the queued one when there is one already). 202 with the run id; 422 when not connected."""
    run_id = request_sync(services.store, slug=principal.organization_slug, actor=principal.email)
    if services.wake_importer is not None:
        services.wake_importer()
    return JSONResponse({"run_id": str(run_id)}, status_code=202)
