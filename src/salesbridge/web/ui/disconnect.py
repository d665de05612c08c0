"""The "Disconnect CRM sync" form of the CRM Settings page (section ``templates/_disconnect.html``) and its
confirmation page (``templates/disconnect_confirm.html``).

Disconnecting takes two steps: the section's form opens the confirmation page, which says what will be deleted
(with counts, from :func:`~salesbridge.services.disconnect.disconnect_preview`) and what is kept; only its form,
which carries ``confirm=yes``, disconnects. The check is the server's: a POST without ``confirm=yes`` deletes
nothing and goes to the confirmation page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from salesbridge.services.disconnect import disconnect_crm, disconnect_preview
from salesbridge.web.localized import disconnect_lines
from salesbridge.web.security import AdminPrincipal, Services
from salesbridge.web.templating import render

router = APIRouter(include_in_schema=False)

CONFIRMED = "yes"


@router.get("/settings/crm/disconnect")
def confirm_disconnect_page(
    request: Request, principal: AdminPrincipal, services: Services, purge: str = ""
) -> Response:
    """What disconnecting (with the clean-up when ``purge=yes``) would delete now, and the button that does it.
    Reads only."""
    purged = purge == "yes"
    preview = disconnect_preview(services.store, slug=principal.organization_slug)
    context = {"purge": purged, "lines": disconnect_lines(preview, purge=purged, locale=principal.locale)}
    return render(request, "disconnect_confirm.html", context, principal=principal)


@router.post("/settings/crm/disconnect")
def disconnect_page(
    request: Request,  # noqa: ARG001
    principal: AdminPrincipal,
    services: Services,
    purge: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Disconnect CRM sync once confirmed; with "Yes, clean up all previously imported CRM data", purge too. Back
    to CRM Settings, which reads the new state itself (no refresh needed). Idempotent. Without ``confirm=yes``
    nothing happens: the confirmation page is shown instead."""
    purged = purge == "yes"
    if confirm != CONFIRMED:
        return RedirectResponse(f"/settings/crm/disconnect?purge={'yes' if purged else 'no'}", status_code=303)
    disconnect_crm(services.store, slug=principal.organization_slug, purge=purged, actor=principal.email)
    notice = "purged" if purged else "disconnected"
    return RedirectResponse(f"/settings/crm?notice={notice}#disconnect", status_code=303)
