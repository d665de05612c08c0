"""The Lists page: a seat holder's lists with their records, and their own auto-save rules."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from salesbridge.errors import InvalidRequestError
from salesbridge.services.lists import AutoSaveRulesView, create_list, my_rules, save_my_rules, show_lists
from salesbridge.web.security import SeatHolderPrincipal, Services
from salesbridge.web.templating import render

router = APIRouter(include_in_schema=False)

Checkbox = Annotated[str, Form()]


@router.get("/lists")
def lists_page(request: Request, principal: SeatHolderPrincipal, services: Services) -> Response:
    """The user's two system lists, then their own lists, each with its records; and the auto-save rules form."""
    slug, email = principal.organization_slug, principal.email
    context = {
        "lists": show_lists(services.store, slug, email),
        "rules": my_rules(services.store, slug, email),
        "notice": request.query_params.get("notice"),
    }
    return render(request, "lists.html", context, principal=principal)


@router.post("/lists/rules")
def save_rules(
    principal: SeatHolderPrincipal,
    services: Services,
    accounts_of_open_opportunities: Checkbox = "",
    accounts_owned: Checkbox = "",
    leads_of_open_opportunities: Checkbox = "",
    leads_of_owned_accounts: Checkbox = "",
) -> Response:
    """Save the user's auto-save rules (checkboxes) and recompute the lists."""
    rules = AutoSaveRulesView(
        accounts_of_open_opportunities=accounts_of_open_opportunities == "on",
        accounts_owned=accounts_owned == "on",
        leads_of_open_opportunities=leads_of_open_opportunities == "on",
        leads_of_owned_accounts=leads_of_owned_accounts == "on",
    )
    save_my_rules(services.store, principal.organization_slug, principal.email, rules, actor=principal.email)
    return RedirectResponse("/lists?notice=saved", status_code=303)


@router.post("/lists")
def create_own_list(
    request: Request, principal: SeatHolderPrincipal, services: Services, name: Annotated[str, Form()] = ""
) -> Response:
    """Create a list of the user's own (auto-save never touches it); a bad name is explained on the page."""
    try:
        create_list(services.store, principal.organization_slug, principal.email, name=name, actor=principal.email)
    except InvalidRequestError as refused:
        slug, email = principal.organization_slug, principal.email
        context = {
            "lists": show_lists(services.store, slug, email),
            "rules": my_rules(services.store, slug, email),
            "error": refused.localized(principal.locale),
        }
        return render(request, "lists.html", context, principal=principal, status_code=422)
    return RedirectResponse("/lists?notice=created", status_code=303)
