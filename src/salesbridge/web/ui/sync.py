"""The "Sync now" button of the CRM Settings page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from salesbridge.errors import InvalidRequestError
from salesbridge.services.sync import request_sync
from salesbridge.web.security import AdminPrincipal, Services

router = APIRouter(include_in_schema=False)


@router.post("/settings/crm/sync-now")
def sync_now(request: Request, principal: AdminPrincipal, services: Services) -> Response:  # noqa: ARG001
    """Queue an import and wake the runner; back to CRM Settings, which follows the import by itself."""
    try:
        request_sync(services.store, slug=principal.organization_slug, actor=principal.email)
    except InvalidRequestError:
        return RedirectResponse("/settings/crm?notice=not-connected", status_code=303)
    if services.wake_importer is not None:
        services.wake_importer()
    return RedirectResponse("/settings/crm?notice=sync-requested#sync", status_code=303)
