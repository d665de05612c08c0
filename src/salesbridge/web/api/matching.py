"""``/api/v1/orgs/{org}/matching``: matching CRM records with the workspace's people and companies.

* Administrators: the match report (accounts, contacts and leads: matched, in review, unmatched), the review queue
  (candidate pairs side by side; accept or reject), the scorer's evaluation against the corrections, and every
  unmatched record of a table as CSV (streamed, no cap, cells a spreadsheet would run as formulas neutralised).
* Seat holders (and administrators): a CRM record's link, the links of a person or a company, and "Edit match"
  (link to another, unlink, confirm), seen by everyone in the organization and kept across imports and re-matching.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import Field

from salesbridge.domain.people import Company, Person
from salesbridge.errors import MatchChangedError, MatchNotFoundError
from salesbridge.services.matching import (
    UNCHECKED,
    ComparedField,
    CorrectionAction,
    CrmRecordView,
    MatchLinkView,
    correct_match,
    count_review,
    decide_review,
    evaluate,
    link_of_crm_record,
    links_of_company,
    links_of_person,
    match_report,
    review_queue,
)
from salesbridge.services.people import company_by_id, person_by_id
from salesbridge.web.api.people import CompanyOut, Offset, PersonOut, company_out, person_out
from salesbridge.web.api.schemas import ORGANIZATION_ERRORS, ApiInput, ApiModel, IsoTime, errors
from salesbridge.web.security import AdminPrincipal, SeatHolderPrincipal, Services
from salesbridge.web.spreadsheet_csv import chunks
from salesbridge.web.unmatched_export import spooled_unmatched_csv

router = APIRouter(prefix="/api/v1/orgs/{org}", tags=["matching"], responses=ORGANIZATION_ERRORS)

CrmTable = Literal["account", "contact", "lead"]
Kind = Literal["people", "companies"]


class TableReportOut(ApiModel):
    """One CRM table's records by where matching left them; shares from 0 to 1 (0 when the table is empty)."""

    table: CrmTable
    total: int
    matched: int
    review: int
    unmatched: int
    matched_share: float
    review_share: float
    unmatched_share: float


class MatchReportOut(ApiModel):
    """The match report and the last run."""

    tables: list[TableReportOut] = Field(description="account, contact and lead, in that order.")
    last_run_at: IsoTime | None
    last_summary: dict[str, Any] | None = Field(description="What the last run did (counts, compared pairs).")


class CrmRecordOut(ApiModel):
    """A CRM record's key fields; ``url`` opens it in Dynamics."""

    table: CrmTable
    crm_id: str
    name: str | None
    email: str | None
    job_title: str | None
    company_name: str | None
    phone: str | None
    city: str | None
    country: str | None
    website: str | None
    owner_name: str | None
    url: str | None


class ComparedFieldOut(ApiModel):
    """One field of a decision, the CRM's value on the left."""

    field: str = Field(description="`email`, `name`, `company`, `title`, `phone`, `place`…")
    level: str = Field(description="exact | equivalent | similar | different | missing")
    detail: str | None = Field(description="e.g. `nickname`, `initial`, `legal_form`, `past_company`.")
    weight: float = Field(description="What the field added to the match weight (log2).")
    left: str | None
    right: str | None
    differs: bool


class MatchLinkOut(ApiModel):
    """What matching decided for one CRM record, and why."""

    table: CrmTable
    crm_id: str
    record: CrmRecordOut | None = Field(description="Null: the CRM record is gone (the next run drops the link).")
    target_kind: Literal["person", "company"]
    target_id: uuid.UUID | None = Field(description="Null: explicitly no match (a correction).")
    band: Literal["match", "review", "no_match"]
    origin: Literal["scorer", "correction"]
    probability: float | None
    reasons: list[ComparedFieldOut]
    decided_by: str | None = Field(description="Who corrected it; null: the scorer.")
    decided_at: IsoTime
    stale_fields: list[str] = Field(description="Fields the CRM and the workspace disagree on (Out of date).")
    duplicate: bool = Field(description="The target holds another CRM record of this table (a CRM duplicate).")


class ReviewItemOut(ApiModel):
    """A candidate pair waiting for an administrator."""

    table: CrmTable
    crm_id: str
    record: CrmRecordOut
    target_kind: Literal["person", "company"]
    person: PersonOut | None
    company: CompanyOut | None
    probability: float | None
    fields: list[ComparedFieldOut] = Field(description="Side by side; `differs` marks those to look at.")


class ReviewPageOut(ApiModel):
    """A page of the review queue, most probable first."""

    kind: Kind
    total: int
    limit: int
    offset: int
    items: list[ReviewItemOut]


class ReviewDecisionIn(ApiInput):
    """A pair of the review queue."""

    table: CrmTable
    crm_id: str
    target_id: uuid.UUID


class ReviewDecisionOut(ApiModel):
    """The CRM record's link after the decision (null after a reject: the pair is never proposed again)."""

    link: MatchLinkOut | None


class CorrectionIn(ApiInput):
    """An Edit match: ``link`` to ``target_id`` (a person for contacts and leads, a company for accounts),
    ``unlink`` (no match), or ``confirm`` the current link. Send ``expected_target_id`` (the target you saw, null
    for none) so that an edit made on a stale view is refused (409) instead of overwriting someone else's change."""

    action: CorrectionAction
    target_id: uuid.UUID | None = Field(
        default=None, description="Required for `link`; for `confirm`, the target you confirm (409 if it changed)."
    )
    expected_target_id: uuid.UUID | None = Field(
        default=None,
        description="The target you saw (null: none). When given and the record's target differs now, 409.",
    )


class EvaluationOut(ApiModel):
    """The scorer against the organization's corrections, accepted reviews and rejections; precision, recall and F1
    are null while nothing is labelled."""

    labelled: int
    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float | None
    recall: float | None
    f1: float | None


def _record(view: CrmRecordView) -> dict[str, Any]:
    return {name: getattr(view, name) for name in CrmRecordOut.model_fields}


def _fields(fields: tuple[ComparedField, ...]) -> list[dict[str, Any]]:
    return [{name: getattr(item, name) for name in ComparedFieldOut.model_fields} for item in fields]


def link_out(view: MatchLinkView) -> MatchLinkOut:
    """A link as the API gives it."""
    return MatchLinkOut.model_validate(
        {
            "table": view.table,
            "crm_id": view.crm_id,
            "record": _record(view.record) if view.record is not None else None,
            "target_kind": view.target_kind.value,
            "target_id": view.target_id,
            "band": view.band.value,
            "origin": view.origin.value,
            "probability": view.probability,
            "reasons": _fields(view.reasons),
            "decided_by": view.decided_by,
            "decided_at": view.decided_at.isoformat(),
            "stale_fields": list(view.stale_fields),
            "duplicate": view.duplicate,
        }
    )


def _json_ready(summary: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(summary) if summary is not None else None


@router.get("/matching/report", summary="The match report")
def report(org: str, principal: AdminPrincipal, services: Services) -> MatchReportOut:  # noqa: ARG001
    """Accounts, contacts and leads: matched, in review and unmatched (counts and shares), and the last run."""
    with services.store(principal.organization_id, read_only=True) as uow:
        found = match_report(uow)
    return MatchReportOut.model_validate(
        {
            "tables": [vars(table) for table in found.tables],
            "last_run_at": found.last_run_at.isoformat() if found.last_run_at else None,
            "last_summary": _json_ready(found.last_summary),
        }
    )


@router.get("/matching/evaluation", summary="The scorer's precision and recall against the corrections")
def evaluation(org: str, principal: AdminPrincipal, services: Services) -> EvaluationOut:  # noqa: ARG001
    """Each labelled CRM record (corrected, reviewed or rejected) decided again by the scorer alone."""
    with services.store(principal.organization_id, read_only=True) as uow:
        found = evaluate(uow)
    return EvaluationOut.model_validate(vars(found))


@router.get("/matching/review", summary="The review queue")
def review(
    org: str,  # noqa: ARG001
    principal: AdminPrincipal,
    services: Services,
    kind: Kind = "people",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> ReviewPageOut:
    """Candidate pairs of contacts and leads with people (``kind=people``) or of accounts with companies
    (``kind=companies``), most probable first."""
    with services.store(principal.organization_id, read_only=True) as uow:
        items = review_queue(uow, kind=kind, limit=limit, offset=offset)
        total = count_review(uow, kind=kind)
    return ReviewPageOut(
        kind=kind,
        total=total,
        limit=limit,
        offset=offset,
        items=[
            ReviewItemOut.model_validate(
                {
                    "table": item.table,
                    "crm_id": item.crm_id,
                    "record": _record(item.record),
                    "target_kind": item.target_kind.value,
                    "person": person_out(item.target) if isinstance(item.target, Person) else None,
                    "company": company_out(item.target) if isinstance(item.target, Company) else None,
                    "probability": item.probability,
                    "fields": _fields(item.fields),
                }
            )
            for item in items
        ],
    )


def _decide(
    body: ReviewDecisionIn, principal: AdminPrincipal, services: Services, *, accept: bool
) -> ReviewDecisionOut:
    decided = decide_review(
        services.store,
        principal.organization_id,
        actor=principal,
        table=body.table,
        crm_id=body.crm_id,
        target_id=body.target_id,
        accept=accept,
    )
    return ReviewDecisionOut(link=link_out(decided) if decided is not None else None)


@router.post("/matching/review/accept", summary="Accept a pair of the review queue", responses=errors(404))
def accept(org: str, body: ReviewDecisionIn, principal: AdminPrincipal, services: Services) -> ReviewDecisionOut:  # noqa: ARG001
    """Tie the CRM record to the proposed person or company (a correction: re-matching keeps it). 404 when the
    pair is not in review. Audited."""
    return _decide(body, principal, services, accept=True)


@router.post("/matching/review/reject", summary="Reject a pair of the review queue", responses=errors(404))
def reject(org: str, body: ReviewDecisionIn, principal: AdminPrincipal, services: Services) -> ReviewDecisionOut:  # noqa: ARG001
    """The pair is never proposed again. 404 when it is not in review. Audited."""
    return _decide(body, principal, services, accept=False)


@router.get("/matching/links/{table}/{crm_id}", summary="A CRM record's link", responses=errors(404))
def crm_record_link(
    org: str,  # noqa: ARG001
    table: CrmTable,
    crm_id: str,
    principal: SeatHolderPrincipal,
    services: Services,
) -> MatchLinkOut:
    """What matching decided for the CRM record; 404 when it has no link (never matched, or unknown)."""
    with services.store(principal.organization_id, read_only=True) as uow:
        found = link_of_crm_record(uow, table, crm_id)
    if found is None:
        raise MatchNotFoundError("No link for this CRM record.")
    return link_out(found)


@router.put("/matching/links/{table}/{crm_id}", summary="Edit match", responses=errors(404, 409))
def edit_match(
    org: str,  # noqa: ARG001
    table: CrmTable,
    crm_id: str,
    body: CorrectionIn,
    principal: SeatHolderPrincipal,
    services: Services,
) -> MatchLinkOut:
    """Link the CRM record to another person or company, unlink it, or confirm its link. Seen by everyone in the
    organization, kept across imports and re-matching. 404 for a CRM record or target the organization does not
    have; 422 for ``link`` without ``target_id``; 409 (nothing changed) when the record's target is no longer
    ``expected_target_id`` (when sent) or a ``confirm``'s ``target_id``. Audited."""
    expected = body.expected_target_id if "expected_target_id" in body.model_fields_set else UNCHECKED
    try:
        changed = correct_match(
            services.store,
            principal.organization_id,
            actor=principal,
            table=table,
            crm_id=crm_id,
            action=body.action,
            target_id=body.target_id,
            expected_target_id=expected,
        )
    except MatchChangedError as stale:
        raise HTTPException(status_code=409, detail=stale.localized(principal.locale)) from stale
    return link_out(changed)


@router.get("/people/{person_id}/links", summary="The CRM records tied to a person", responses=errors(404))
def person_links(
    org: str,  # noqa: ARG001
    person_id: uuid.UUID,
    principal: SeatHolderPrincipal,
    services: Services,
) -> list[MatchLinkOut]:
    """The person's CRM contacts and leads (and candidates in review), with why each matched."""
    person_by_id(services.store, principal.organization_id, person_id)  # 404 when not the organization's
    with services.store(principal.organization_id, read_only=True) as uow:
        return [link_out(view) for view in links_of_person(uow, person_id)]


@router.get("/companies/{company_id}/links", summary="The CRM accounts tied to a company", responses=errors(404))
def company_links(
    org: str,  # noqa: ARG001
    company_id: uuid.UUID,
    principal: SeatHolderPrincipal,
    services: Services,
) -> list[MatchLinkOut]:
    """The company's CRM accounts (and candidates in review), with why each matched."""
    company_by_id(services.store, principal.organization_id, company_id)  # 404 when not the organization's
    with services.store(principal.organization_id, read_only=True) as uow:
        return [link_out(view) for view in links_of_company(uow, company_id)]


@router.get(
    "/matching/unmatched",
    summary="Every unmatched CRM record of a table, as CSV",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The CSV file."}},
)
async def unmatched(org: str, table: CrmTable, principal: AdminPrincipal, services: Services) -> StreamingResponse:  # noqa: ARG001
    """Every CRM record of ``table`` tied to no person or company (those in review included): no cap; UTF-8 with a
    byte order mark; cells a spreadsheet would run as formulas neutralised (a leading ``'``)."""
    spool = await run_in_threadpool(spooled_unmatched_csv, services.store, principal.organization_id, table)
    return StreamingResponse(
        chunks(spool),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="unmatched-{table}.csv"'},
    )
