"""Matching's administration pages: the match report (accounts, contacts and leads: matched, in review, unmatched,
counts and shares; every unmatched record as CSV, no cap) and the review queue (candidate pairs side by side,
differing fields highlighted, accept or reject)."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from salesbridge.domain.match_links import TARGET_KINDS
from salesbridge.domain.people import Person
from salesbridge.errors import InvalidRequestError, MatchNotFoundError, RowNotFoundError
from salesbridge.message_ids import N_
from salesbridge.services.matching import (
    ReviewItem,
    count_review,
    decide_review,
    match_report,
    review_queue,
)
from salesbridge.web.localized import match_reason_text
from salesbridge.web.security import AdminPrincipal, Services
from salesbridge.web.spreadsheet_csv import MEDIA_TYPE, chunks
from salesbridge.web.templating import render
from salesbridge.web.unmatched_export import spooled_unmatched_csv

router = APIRouter(include_in_schema=False)

REVIEW_PAGE_SIZE: Final = 20

Kind = Literal["people", "companies"]
KINDS: Final[tuple[Kind, ...]] = ("people", "companies")


@dataclass(frozen=True)
class SideBySide:
    """One row of a review pair: a field's value in the CRM and in the workspace, as they are stored, and whether
    the scorer found them different (or only similar): the row to look at."""

    field: str
    crm: str
    workspace: str
    differs: bool


def _joined(*parts: str | None) -> str:
    return ", ".join(part for part in parts if part)


def side_by_side(item: ReviewItem) -> list[SideBySide]:
    """The pair's key fields side by side (people: name, email, title, company, phone, place; companies: name,
    website, phone, place), each highlighted when the scorer's comparison of that field differs; fields the
    scorer compared beyond these follow with its own values."""
    record, target = item.record, item.target
    if isinstance(target, Person):
        rows = {
            "name": (record.name, target.full_name),
            "email": (record.email, _joined(*target.emails)),
            "title": (record.job_title, target.headline),
            "company": (record.company_name, target.company_name),
            "phone": (record.phone, _joined(*target.phones)),
            "place": (_joined(record.city, record.country), _joined(target.city, target.region, target.country)),
        }
    else:
        rows = {
            "name": (record.name, target.name),
            "domain": (record.website, target.website or target.domain),
            "phone": (record.phone, target.phone),
            "place": (_joined(record.city, record.country), _joined(target.city, target.region, target.country)),
        }
    differs = {compared.field for compared in item.fields if compared.differs}
    shown = [
        SideBySide(field, crm or "", workspace or "", field in differs) for field, (crm, workspace) in rows.items()
    ]
    shown += [
        SideBySide(compared.field, compared.left or "", compared.right or "", compared.differs)
        for compared in item.fields
        if compared.field not in rows
    ]
    return shown


@router.get("/admin/matching")
def report_page(request: Request, principal: AdminPrincipal, services: Services) -> Response:
    """The match report of the administrator's organization."""
    with services.store(principal.organization_id, read_only=True) as uow:
        report = match_report(uow)
        waiting = {kind: count_review(uow, kind=kind) for kind in KINDS}
    context = {"report": report, "waiting": waiting, "notice": request.query_params.get("notice")}
    return render(request, "match_report.html", context, principal=principal)


def _kind(value: str) -> Kind:
    return "companies" if value == "companies" else "people"


@router.get("/admin/matching/review")
def review_page(
    request: Request, principal: AdminPrincipal, services: Services, kind: str = "people", page: int = 1
) -> Response:
    """The candidate pairs waiting for review (people or companies), most probable first, 20 a page."""
    chosen = _kind(kind)
    with services.store(principal.organization_id, read_only=True) as uow:
        total = count_review(uow, kind=chosen)
        pages = max(1, math.ceil(total / REVIEW_PAGE_SIZE))
        current = min(max(page, 1), pages)
        items = review_queue(uow, kind=chosen, limit=REVIEW_PAGE_SIZE, offset=(current - 1) * REVIEW_PAGE_SIZE)
        waiting = {other: count_review(uow, kind=other) for other in KINDS}
    context = {
        "kind": chosen,
        "items": items,
        "total": total,
        "page": current,
        "pages": pages,
        "waiting": waiting,
        "reason_text": partial(match_reason_text, locale=principal.locale),
        "side_by_side": side_by_side,
        "notice": request.query_params.get("notice"),
    }
    return render(request, "match_review.html", context, principal=principal)


@router.post("/admin/matching/review")
def decide(
    principal: AdminPrincipal,
    services: Services,
    table: Annotated[str, Form()],
    crm_id: Annotated[str, Form()],
    target_id: Annotated[uuid.UUID, Form()],
    decision: Annotated[str, Form()],
    page: Annotated[int, Form()] = 1,
) -> Response:
    """Accept (tie the pair) or reject (never propose it again) one candidate pair; audited. Back to the queue,
    saying so, or that the pair is no longer waiting (decided by another administrator meanwhile)."""
    if decision not in ("accept", "reject"):
        raise InvalidRequestError(N_("Choose accept or reject."))
    kind = "companies" if table == "account" else "people"
    try:
        decide_review(
            services.store,
            principal.organization_id,
            actor=principal,
            table=table,
            crm_id=crm_id,
            target_id=target_id,
            accept=decision == "accept",
        )
    except MatchNotFoundError:  # another administrator decided it first (or its record went): nothing to do
        return RedirectResponse(f"/admin/matching/review?kind={kind}&page={page}&notice=gone", status_code=303)
    return RedirectResponse(f"/admin/matching/review?kind={kind}&page={page}&notice={decision}ed", status_code=303)


@router.get("/admin/matching/unmatched.csv")
async def unmatched_csv(principal: AdminPrincipal, services: Services, table: str = "contact") -> Response:
    """Every CRM record of ``table`` (account, contact or lead) that matching left without a person or company,
    as CSV (:mod:`salesbridge.web.unmatched_export`, as the API's, the headers in the reader's language): no cap,
    formula cells neutralised. 404 for another table."""
    if table not in TARGET_KINDS:
        raise RowNotFoundError("No such matched table.")
    spool = await run_in_threadpool(
        partial(spooled_unmatched_csv, locale=principal.locale), services.store, principal.organization_id, table
    )
    return StreamingResponse(
        chunks(spool),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="unmatched-{table}.csv"'},
    )
