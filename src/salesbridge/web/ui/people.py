"""The People and Companies pages of every seat holder: a search (name, company, title, place) a page at a time,
and a page for each person and each company with their fields."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from salesbridge.services.people_directory import companies_page, company_profile, people_page, person_profile
from salesbridge.web.security import SeatHolderPrincipal, Services
from salesbridge.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/people")
def people_list(
    request: Request, principal: SeatHolderPrincipal, services: Services, q: str = "", page: int = 1
) -> Response:
    """The organization's people whose name, company, title or place holds every word of ``q``, 25 a page."""
    found = people_page(services.store, principal.organization_slug, query=q, page=page)
    return render(request, "people.html", {"found": found}, principal=principal)


@router.get("/people/{person_id}")
def person_page(request: Request, person_id: uuid.UUID, principal: SeatHolderPrincipal, services: Services) -> Response:
    """A person's fields (404 for a person of another organization)."""
    profile = person_profile(services.store, principal.organization_slug, person_id)
    return render(request, "person.html", {"profile": profile, "person": profile.person}, principal=principal)


@router.get("/companies")
def companies_list(
    request: Request, principal: SeatHolderPrincipal, services: Services, q: str = "", page: int = 1
) -> Response:
    """The organization's companies whose name, domain, industry or place holds every word of ``q``, 25 a page."""
    found = companies_page(services.store, principal.organization_slug, query=q, page=page)
    return render(request, "companies.html", {"found": found}, principal=principal)


@router.get("/companies/{company_id}")
def company_page(
    request: Request, company_id: uuid.UUID, principal: SeatHolderPrincipal, services: Services
) -> Response:
    """A company's fields (404 for a company of another organization)."""
    company = company_profile(services.store, principal.organization_slug, company_id)
    return render(request, "company.html", {"company": company}, principal=principal)
