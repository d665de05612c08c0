"""``/api/v1/orgs/{org}/people`` and ``/api/v1/orgs/{org}/companies``: the workspace's people and companies.

* Bulk upsert (administrators; an API token or a session): up to 10,000 rows per request, idempotent by external id.
  Rows the workspace's rules refuse are answered one by one (index, field, reason in the caller's language) while
  the good rows load, all in one transaction; a request with more rows is refused whole (422, nothing written).
  The body bound of these routes is raised to :data:`~salesbridge.web.request_limits.BULK_BODY_BYTES`.
* Reads (seat holders and administrators): one by id or by external id, and a paged search.

A row whose JSON types are wrong (a number where text is expected) makes the request unreadable: 422 with
FastAPI's list of problems, nothing written.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Response
from pydantic import Field

from salesbridge.domain.people import Company, Person
from salesbridge.i18n import translate
from salesbridge.services.people import (
    MAX_ROWS_PER_REQUEST,
    Page,
    RowProblem,
    UpsertReport,
    company_by_external_id,
    company_by_id,
    delete_company,
    delete_person,
    person_by_external_id,
    person_by_id,
    search_companies,
    search_people,
    upsert_companies,
    upsert_people,
)
from salesbridge.web.api.schemas import ORGANIZATION_ERRORS, ApiInput, ApiModel, IsoTime, errors
from salesbridge.web.security import AdminPrincipal, SeatHolderPrincipal, Services

router = APIRouter(prefix="/api/v1/orgs/{org}", tags=["people"], responses=ORGANIZATION_ERRORS)

MAX_PAGE = 200


class PersonIn(ApiInput):
    """A person to insert or update, found by ``external_id``. Text is trimmed; empty optional text is null. A
    value the workspace refuses (too long, a control character, no name at all) leaves this row out. Updating, a
    field left out (or null) keeps the stored value; send it empty to empty it."""

    external_id: str = Field(description="The id the source gives the person (at most 255 characters).")
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = Field(
        default=None, description="Default: first and last name joined. A person needs one of the three."
    )
    headline: str | None = Field(default=None, description="Job title or headline.")
    company_name: str | None = Field(default=None, description="The current company, as named by the source.")
    company_external_id: str | None = Field(
        default=None,
        description="The current company's `external_id` among the workspace's companies (load them first): the "
        "person is tied to it (matching then counts it as evidence).",
    )
    past_companies: list[str] = Field(default_factory=list, description="At most 50.")
    city: str | None = None
    region: str | None = None
    country: str | None = None
    emails: list[str] = Field(default_factory=list, description="At most 50.")
    phones: list[str] = Field(default_factory=list, description="At most 50.")
    profile_url: str | None = Field(default=None, description="e.g. the LinkedIn profile's URL.")
    source: str | None = Field(default=None, description="Where the person comes from; default `api`.")


class CompanyIn(ApiInput):
    """A company to insert or update, found by ``external_id``; as :class:`PersonIn`. Its domain is the registrable
    domain of ``website`` (a free-mail provider's never identifies a company)."""

    external_id: str = Field(description="The id the source gives the company (at most 255 characters).")
    name: str
    website: str | None = None
    industry: str | None = None
    employee_count: int | None = Field(default=None, description="0 or more.")
    city: str | None = None
    region: str | None = None
    country: str | None = None
    phone: str | None = None
    profile_url: str | None = None


class PeopleIn(ApiInput):
    """People to insert or update."""

    people: list[PersonIn] = Field(description=f"At most {MAX_ROWS_PER_REQUEST:,} rows.")


class CompaniesIn(ApiInput):
    """Companies to insert or update."""

    companies: list[CompanyIn] = Field(description=f"At most {MAX_ROWS_PER_REQUEST:,} rows.")


class RowErrorOut(ApiModel):
    """A row left out."""

    index: int = Field(description="The row's position in the request, from 0.")
    field: str | None = Field(description="The field refused (null: the row as a whole).")
    reason: str = Field(description="Why, in the caller's language.")


class UpsertOut(ApiModel):
    """What the upsert did. The good rows are written even when others are refused."""

    received: int
    inserted: int
    updated: int = Field(description="Rows whose stored values changed.")
    unchanged: int = Field(description="Rows already stored as given.")
    refused: int
    errors: list[RowErrorOut] = Field(description="Each row left out, by index.")


class PersonOut(ApiModel):
    """A person of the workspace."""

    id: uuid.UUID
    external_id: str
    full_name: str
    first_name: str | None
    last_name: str | None
    headline: str | None
    company_id: uuid.UUID | None = Field(description="The workspace's company, when known.")
    company_name: str | None
    past_companies: list[str]
    city: str | None
    region: str | None
    country: str | None
    emails: list[str]
    phones: list[str]
    profile_url: str | None
    source: str | None
    updated_at: IsoTime


class CompanyOut(ApiModel):
    """A company of the workspace."""

    id: uuid.UUID
    external_id: str
    name: str
    website: str | None
    domain: str | None = Field(description="The registrable domain of the website.")
    industry: str | None
    employee_count: int | None
    city: str | None
    region: str | None
    country: str | None
    phone: str | None
    profile_url: str | None
    updated_at: IsoTime


class PeoplePageOut(ApiModel):
    """A page of people, by name."""

    total: int = Field(description="How many match in all.")
    limit: int
    offset: int
    items: list[PersonOut]


class CompaniesPageOut(ApiModel):
    """A page of companies, by name."""

    total: int = Field(description="How many match in all.")
    limit: int
    offset: int
    items: list[CompanyOut]


def _upsert_out(report: UpsertReport, locale: str) -> UpsertOut:
    return UpsertOut(
        received=report.received,
        inserted=report.inserted,
        updated=report.updated,
        unchanged=report.unchanged,
        refused=len(report.problems),
        errors=[_row_error(problem, locale) for problem in report.problems],
    )


def _row_error(problem: RowProblem, locale: str) -> RowErrorOut:
    return RowErrorOut(
        index=problem.index, field=problem.field, reason=translate(problem.message, locale).format(**problem.fields)
    )


def person_out(person: Person) -> PersonOut:
    """A stored person as the API gives it."""
    assert person.id is not None
    assert person.updated_at is not None
    return PersonOut(
        id=person.id,
        external_id=person.external_id,
        full_name=person.full_name,
        first_name=person.first_name,
        last_name=person.last_name,
        headline=person.headline,
        company_id=person.company_id,
        company_name=person.company_name,
        past_companies=list(person.past_companies),
        city=person.city,
        region=person.region,
        country=person.country,
        emails=list(person.emails),
        phones=list(person.phones),
        profile_url=person.profile_url,
        source=person.source,
        updated_at=person.updated_at.isoformat(),
    )


def company_out(company: Company) -> CompanyOut:
    """A stored company as the API gives it."""
    assert company.id is not None
    assert company.updated_at is not None
    return CompanyOut(
        id=company.id,
        external_id=company.external_id,
        name=company.name,
        website=company.website,
        domain=company.domain,
        industry=company.industry,
        employee_count=company.employee_count,
        city=company.city,
        region=company.region,
        country=company.country,
        phone=company.phone,
        profile_url=company.profile_url,
        updated_at=company.updated_at.isoformat(),
    )


def _rows(items: list[PersonIn] | list[CompanyIn]) -> list[dict[str, Any]]:
    # Only the fields the caller sent (not null): those left out keep a stored person's or company's values, and
    # take the domain's defaults for a new one (source: `api`).
    return [item.model_dump(exclude_none=True, exclude_unset=True) for item in items]


Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"At most {MAX_PAGE}.")]
MAX_OFFSET: Final = 2**31 - 1
"""The largest ``offset`` a page takes: both databases' integers hold it (a larger one was a 500)."""
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"At most {MAX_OFFSET}.")]
SearchQuery = Annotated[str, Query(max_length=200, description="Every word must match (any case); empty: all.")]


@router.post("/people", summary="Insert or update people (bulk, by external id)", responses=errors(413))
def upsert_people_route(org: str, body: PeopleIn, principal: AdminPrincipal, services: Services) -> UpsertOut:  # noqa: ARG001
    """Up to 10,000 people; each row is inserted, updated or left unchanged by its ``external_id``. Rows the
    workspace refuses are listed in ``errors`` (index, field, reason) while the others load, in one transaction.
    422 (nothing written) for more than 10,000 rows; 413 for a body over 20 MiB. Audited."""
    report = upsert_people(services.store, principal.organization_id, _rows(body.people), actor=principal.email)
    return _upsert_out(report, principal.locale)


@router.post("/companies", summary="Insert or update companies (bulk, by external id)", responses=errors(413))
def upsert_companies_route(org: str, body: CompaniesIn, principal: AdminPrincipal, services: Services) -> UpsertOut:  # noqa: ARG001
    """As for people: up to 10,000 companies, by ``external_id``; refused rows in ``errors``. Audited."""
    report = upsert_companies(services.store, principal.organization_id, _rows(body.companies), actor=principal.email)
    return _upsert_out(report, principal.locale)


@router.get("/people", summary="Search the workspace's people")
def list_people(
    org: str,  # noqa: ARG001
    principal: SeatHolderPrincipal,
    services: Services,
    q: SearchQuery = "",
    limit: Limit = 50,
    offset: Offset = 0,
) -> PeoplePageOut:
    """The people whose name, company, title or place contains every word of ``q``, by name, a page at a time."""
    page: Page[Person] = search_people(services.store, principal.organization_id, q, limit=limit, offset=offset)
    return PeoplePageOut(
        total=page.total, limit=limit, offset=offset, items=[person_out(person) for person in page.items]
    )


@router.get("/people/by-external-id/{external_id:path}", summary="A person by external id", responses=errors(404))
def get_person_by_external_id(
    org: str,  # noqa: ARG001
    external_id: str,
    principal: SeatHolderPrincipal,
    services: Services,
) -> PersonOut:
    """The person the source identifies as ``external_id``; 404 when the organization has none."""
    return person_out(person_by_external_id(services.store, principal.organization_id, external_id))


@router.get("/people/{person_id}", summary="A person", responses=errors(404))
def get_person(org: str, person_id: uuid.UUID, principal: SeatHolderPrincipal, services: Services) -> PersonOut:  # noqa: ARG001
    """The person ``person_id``; 404 when the organization has none (another organization's included)."""
    return person_out(person_by_id(services.store, principal.organization_id, person_id))


@router.get("/companies", summary="Search the workspace's companies")
def list_companies(
    org: str,  # noqa: ARG001
    principal: SeatHolderPrincipal,
    services: Services,
    q: SearchQuery = "",
    limit: Limit = 50,
    offset: Offset = 0,
) -> CompaniesPageOut:
    """The companies whose name, domain, industry or place contains every word of ``q``, by name, a page at a
    time."""
    page: Page[Company] = search_companies(services.store, principal.organization_id, q, limit=limit, offset=offset)
    return CompaniesPageOut(
        total=page.total, limit=limit, offset=offset, items=[company_out(company) for company in page.items]
    )


@router.get("/companies/by-external-id/{external_id:path}", summary="A company by external id", responses=errors(404))
def get_company_by_external_id(
    org: str,  # noqa: ARG001
    external_id: str,
    principal: SeatHolderPrincipal,
    services: Services,
) -> CompanyOut:
    """The company the source identifies as ``external_id``; 404 when the organization has none."""
    return company_out(company_by_external_id(services.store, principal.organization_id, external_id))


@router.get("/companies/{company_id}", summary="A company", responses=errors(404))
def get_company(org: str, company_id: uuid.UUID, principal: SeatHolderPrincipal, services: Services) -> CompanyOut:  # noqa: ARG001
    """The company ``company_id``; 404 when the organization has none (another organization's included)."""
    return company_out(company_by_id(services.store, principal.organization_id, company_id))


@router.delete("/people/{person_id}", status_code=204, summary="Delete a person", responses=errors(404))
def delete_person_route(org: str, person_id: uuid.UUID, principal: AdminPrincipal, services: Services) -> Response:  # noqa: ARG001
    """Delete the person (a wrong load, an erasure request): with them go their match links (corrections
    included) — their CRM records show tied to no one at once and are matched again by the next run. 404 for a
    person the organization does not have. Administrators only; audited ``person.deleted``."""
    delete_person(services.store, principal.organization_id, person_id, actor=principal.email)
    return Response(status_code=204)


@router.delete("/companies/{company_id}", status_code=204, summary="Delete a company", responses=errors(404))
def delete_company_route(org: str, company_id: uuid.UUID, principal: AdminPrincipal, services: Services) -> Response:  # noqa: ARG001
    """Delete the company, as a person is deleted; its people keep the company's name but no longer point at it,
    and its accounts' contacts and leads are matched again. Administrators only; audited ``company.deleted``."""
    delete_company(services.store, principal.organization_id, company_id, actor=principal.email)
    return Response(status_code=204)
