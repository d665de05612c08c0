"""Administration pages: the organization's recent audit trail."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from salesbridge.web.security import AdminPrincipal, Services
from salesbridge.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/admin/audit")
def audit_page(request: Request, principal: AdminPrincipal, services: Services) -> Response:
    """The newest 100 audit entries of the administrator's organization."""
    entries = services.accounts.recent_audit(principal, limit=100)
    return render(request, "admin_audit.html", {"entries": entries}, principal=principal)
