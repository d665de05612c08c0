"""The "Disconnect CRM sync" form of the CRM Settings page (section ``templates/_disconnect.html``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from salesbridge.services.disconnect import disconnect_crm
from salesbridge.web.security import AdminPrincipal, Services

router = APIRouter(include_in_schema=False)


@router.post("/settings/crm/disconnect")
def disconnect_page(
    request: Request,  # noqa: ARG001
    principal: AdminPrincipal,
    services: Services,
    purge: Annotated[str, Form()] = "",
) -> Response:
    """Disconnect CRM sync; with the box "Yes, clean up all previously imported CRM data" ticked, purge too. Back
    to CRM Settings, which reads the new state itself (no refresh needed). Idempotent."""
    purged = purge == "yes"
    disconnect_crm(services.store, slug=principal.organization_slug, purge=purged, actor=principal.email)
    notice = "purged" if purged else "disconnected"
    return RedirectResponse(f"/settings/crm?notice={notice}#disconnect", status_code=303)
