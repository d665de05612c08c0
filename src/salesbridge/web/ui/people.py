"""The People and Companies pages of every seat holder: a search (name, company, title, place) a page at a time,
filtered by badge (In CRM, Not in CRM, Out of date); a page for each person and each company with their fields,
badges, the CRM records tied to them (key fields, owner, View in CRM, CRM duplicates), why each matched, and "Save
to list"; and "Edit match": any seat holder ties a CRM record to another person or company, unties it, or confirms
it (visible to everyone in the organization, audited). Their activities and "Log a note / call / message" come from
:mod:`salesbridge.web.ui.writeback`."""

from __future__ import annotations

import uuid
from dataclasses import replace
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from salesbridge.domain.match_links import TARGET_KINDS, Badge, TargetKind
from salesbridge.errors import InvalidRequestError, MatchChangedError, RowNotFoundError
from salesbridge.message_ids import N_
from salesbridge.services.accounts import Principal
from salesbridge.services.crm_details import crm_details
from salesbridge.services.lists import add_to_list, own_lists
from salesbridge.services.matching import UNCHECKED, CorrectionAction, Unchecked, correct_match
from salesbridge.services.organizations import require_organization
from salesbridge.services.people import delete_company, delete_person
from salesbridge.services.people_directory import (
    CompanyProfile,
    PersonProfile,
    TiedRecords,
    companies_page,
    company_profile,
    match_editing,
    people_page,
    person_profile,
    records_to_tie,
)
from salesbridge.web.context import ConsoleServices
from salesbridge.web.localized import match_reason_text
from salesbridge.web.security import AdminPrincipal, SeatHolderPrincipal, Services
from salesbridge.web.templating import render
from salesbridge.web.ui.writeback import (
    ActivityForm,
    activities_page,
    activities_section,
    edit_from_form,
    log_from_form,
)

router = APIRouter(include_in_schema=False)

FormText = Annotated[str, Form()]


def _badge(value: str) -> Badge | None:
    """The badge filter of a page's query (an unknown value filters nothing)."""
    try:
        return Badge(value) if value else None
    except ValueError:
        return None


def _matching_context(principal: Principal, services: ConsoleServices, crm: TiedRecords) -> dict[str, Any]:
    """What the CRM part of a person's or company's page needs: the reasons in the reader's words, and the
    reader's own lists to save to."""
    return {
        "crm": crm,
        "reason_text": partial(match_reason_text, locale=principal.locale),
        "own_lists": own_lists(services.store, principal.organization_slug, principal.email),
    }


@router.get("/people")
def people_list(
    request: Request,
    principal: SeatHolderPrincipal,
    services: Services,
    q: str = "",
    page: int = 1,
    badge: str = "",
) -> Response:
    """The organization's people whose name, company, title or place holds every word of ``q``, 25 a page, only
    those with ``badge`` (in_crm, not_in_crm, out_of_date) when given, each with their badges."""
    found = people_page(services.store, principal.organization_slug, query=q, page=page, badge=_badge(badge))
    context = {"found": found, "notice": request.query_params.get("notice")}
    return render(request, "people.html", context, principal=principal)


@router.get("/people/{person_id}")
def person_page(
    request: Request, person_id: uuid.UUID, principal: SeatHolderPrincipal, services: Services, crm_q: str = ""
) -> Response:
    """A person's fields, badges and CRM records, the CRM contacts and leads named like ``crm_q`` to tie to them,
    and their activities (404 for a person of another organization)."""
    return _profile_page(request, principal, services, TargetKind.PERSON, person_id, crm_q=crm_q)


def _subject(kind: TargetKind, target_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """The person or company an activity concerns, as the activity functions' keyword argument."""
    return {"person_id": target_id} if kind is TargetKind.PERSON else {"company_id": target_id}


def _profile_page(
    request: Request,
    principal: Principal,
    services: ConsoleServices,
    kind: TargetKind,
    target_id: uuid.UUID,
    *,
    crm_q: str = "",
    refused: ActivityForm | None = None,
    status_code: int = 200,
) -> Response:
    """A person's or a company's page (``refused``: an activity form shown again with why it was refused)."""
    slug = principal.organization_slug
    shown: dict[str, Any]
    profile: PersonProfile | CompanyProfile
    if kind is TargetKind.PERSON:
        person = person_profile(services.store, slug, target_id)
        profile, shown, template = person, {"person": person.person}, "person.html"
    else:
        company = company_profile(services.store, slug, target_id)
        profile, shown, template = company, {"company": company.company}, "company.html"
    action = f"{_target_path(kind, target_id)}/activities"
    context = {
        "activities": activities_section(
            services,
            principal,
            action=action,
            refused=refused,
            page=activities_page(request.query_params.get("activities_page")),
            **_subject(kind, target_id),
        ),
        "crm_q": crm_q,
        "crm_details": crm_details(
            services.store,
            principal.organization_id,
            principal.user_id,
            [(link.table, link.crm_id) for link in profile.crm.tied],
        ),
        "to_tie": records_to_tie(services.store, slug, kind, crm_q),
        "profile": profile,
        **shown,
        "notice": request.query_params.get("notice"),
        "error": request.query_params.get("error"),
        **_matching_context(principal, services, profile.crm),
    }
    return render(request, template, context, principal=principal, status_code=status_code)


def _save_tied(
    principal: Principal, services: ConsoleServices, crm: TiedRecords, list_id: uuid.UUID, page: str
) -> Response:
    """Put the CRM records in ``crm.tied`` in the reader's own list ``list_id``; back to ``page`` saying so."""
    slug, email = principal.organization_slug, principal.email
    if not crm.tied:
        return RedirectResponse(f"{page}?error=nothing-to-save#save", status_code=303)
    try:
        for link in crm.tied:
            add_to_list(services.store, slug, email, list_id, table=link.table, crm_id=link.crm_id, actor=email)
    except InvalidRequestError:  # an auto-saved list, or a record no longer imported: said on the page
        return RedirectResponse(f"{page}?error=not-saved#save", status_code=303)
    return RedirectResponse(f"{page}?notice=saved#save", status_code=303)


@router.post("/people/{person_id}/save")
def save_person(
    person_id: uuid.UUID, principal: SeatHolderPrincipal, services: Services, list_id: Annotated[uuid.UUID, Form()]
) -> Response:
    """Put the CRM records tied to the person (their contact, their lead) in one of the reader's own lists; back
    to the person's page saying so. 404 for another user's list or another organization's person."""
    profile = person_profile(services.store, principal.organization_slug, person_id)
    return _save_tied(principal, services, profile.crm, list_id, f"/people/{person_id}")


@router.post("/companies/{company_id}/save")
def save_company(
    company_id: uuid.UUID, principal: SeatHolderPrincipal, services: Services, list_id: Annotated[uuid.UUID, Form()]
) -> Response:
    """Put the CRM accounts tied to the company in one of the reader's own lists; back to the company's page
    saying so. 404 for another user's list or another organization's company."""
    profile = company_profile(services.store, principal.organization_slug, company_id)
    return _save_tied(principal, services, profile.crm, list_id, f"/companies/{company_id}")


@router.get("/companies")
def companies_list(
    request: Request,
    principal: SeatHolderPrincipal,
    services: Services,
    q: str = "",
    page: int = 1,
    badge: str = "",
) -> Response:
    """The organization's companies whose name, domain, industry or place holds every word of ``q``, 25 a page,
    only those with ``badge`` when given, each with their badges."""
    found = companies_page(services.store, principal.organization_slug, query=q, page=page, badge=_badge(badge))
    context = {"found": found, "notice": request.query_params.get("notice")}
    return render(request, "companies.html", context, principal=principal)


@router.post("/people/{person_id}/delete")
def delete_person_form(person_id: uuid.UUID, principal: AdminPrincipal, services: Services) -> Response:
    """Delete the person (administrators; audited): their match links go with them and their CRM records are
    matched again. Back to People, saying so. 404 for a person of another organization (or gone already)."""
    delete_person(services.store, principal.organization_id, person_id, actor=principal.email)
    return RedirectResponse("/people?notice=deleted", status_code=303)


@router.post("/companies/{company_id}/delete")
def delete_company_form(company_id: uuid.UUID, principal: AdminPrincipal, services: Services) -> Response:
    """As :func:`delete_person_form`, for a company."""
    delete_company(services.store, principal.organization_id, company_id, actor=principal.email)
    return RedirectResponse("/companies?notice=deleted", status_code=303)


@router.get("/companies/{company_id}")
def company_page(
    request: Request, company_id: uuid.UUID, principal: SeatHolderPrincipal, services: Services, crm_q: str = ""
) -> Response:
    """A company's fields, badges and CRM accounts, the CRM accounts named like ``crm_q`` to tie to it, and its
    activities (404 for a company of another organization)."""
    return _profile_page(request, principal, services, TargetKind.COMPANY, company_id, crm_q=crm_q)


@router.get("/matches/{table}/{crm_id}")
def edit_match_page(
    request: Request,
    table: str,
    crm_id: str,
    principal: SeatHolderPrincipal,
    services: Services,
    q: str = "",
) -> Response:
    """Edit match: the CRM record, what it is tied to and why, and the people (or companies) found by ``q`` to
    tie it to instead; unlink and confirm. 404 for a record of another organization, and for a table matching
    does not know (an address cut short or typed: the console's page, not a JSON refusal)."""
    _require_matched_table(table)
    return _edit_page(request, principal, services, table, crm_id, query=q)


def _edit_page(
    request: Request,
    principal: Principal,
    services: ConsoleServices,
    table: str,
    crm_id: str,
    *,
    query: str = "",
    error: str | None = None,
    status_code: int = 422,
) -> Response:
    editing = match_editing(services.store, principal.organization_slug, table, crm_id, query=query)
    context = {
        "editing": editing,
        "link": editing.link,
        "reason_text": partial(match_reason_text, locale=principal.locale),
        "back": _target_path(editing.target_kind, editing.current.id if editing.current else None),
        "error": error,
    }
    return render(request, "match_edit.html", context, principal=principal, status_code=status_code if error else 200)


def _target_path(kind: TargetKind, target_id: uuid.UUID | None) -> str:
    base = "/people" if kind is TargetKind.PERSON else "/companies"
    return f"{base}/{target_id}" if target_id else base


def _require_matched_table(table: str) -> None:
    """Raises RowNotFoundError (the console's 404 page) for a table matching does not know."""
    if table not in TARGET_KINDS:
        raise RowNotFoundError("No such matched table.")


def _seen_target(value: str | None) -> uuid.UUID | Unchecked | None:
    """The form's ``expected_target_id``: absent (unchecked), empty (no target shown) or a target's id.

    Raises:
        ValueError: not an id.
    """
    if value is None:
        return UNCHECKED
    return uuid.UUID(value) if value else None


@router.post("/matches/{table}/{crm_id}")
def edit_match(
    request: Request,
    table: str,
    crm_id: str,
    principal: SeatHolderPrincipal,
    services: Services,
    action: FormText = "",
    target_id: FormText = "",
    expected_target_id: Annotated[str | None, Form()] = None,
) -> Response:
    """Tie the CRM record to ``target_id`` (``link``), untie it (``unlink``: no match) or confirm what it is tied
    to (``confirm``); audited. Back to the page of the person or company it is now tied to (or was, after an
    unlink), saying what changed; a refused edit is explained on the Edit match page (422). ``expected_target_id``
    is the target the page showed ("" for none): when someone changed the match meanwhile, nothing changes and
    the Edit match page is shown again saying who (409). 404 for a record, a person or a company of another
    organization."""
    _require_matched_table(table)
    organization_id = require_organization(services.store, principal.organization_slug)
    before = match_editing(services.store, principal.organization_slug, table, crm_id)
    try:
        try:
            chosen = uuid.UUID(target_id) if target_id else None
            wanted = CorrectionAction(action)
            seen = _seen_target(expected_target_id)
        except ValueError as unreadable:
            raise InvalidRequestError(N_("Choose link, unlink or confirm.")) from unreadable
        after = correct_match(
            services.store,
            organization_id,
            actor=principal,
            table=table,
            crm_id=crm_id,
            action=wanted,
            target_id=chosen,
            expected_target_id=seen,
        )
    except MatchChangedError as stale:
        message = stale.localized(principal.locale)
        return _edit_page(request, principal, services, table, crm_id, error=message, status_code=409)
    except InvalidRequestError as refused:  # e.g. confirming a match someone else removed meanwhile
        return _edit_page(request, principal, services, table, crm_id, error=refused.localized(principal.locale))
    shown = after.target_id or (before.current.id if before.current else None)
    query = urlencode({"notice": f"match-{wanted.value}"})
    return RedirectResponse(f"{_target_path(after.target_kind, shown)}?{query}", status_code=303)


def _logged(
    request: Request,
    principal: Principal,
    services: ConsoleServices,
    kind: TargetKind,
    target_id: uuid.UUID,
    form: ActivityForm,
) -> Response:
    """Log ``form``'s activity on the person or company; back to their activities, or their page again with the
    form and why it was refused (422)."""
    try:
        log_from_form(services, principal, form=form, **_subject(kind, target_id))
    except InvalidRequestError as refused:
        error = replace(form, error=refused.localized(principal.locale))
        return _profile_page(request, principal, services, kind, target_id, refused=error, status_code=422)
    return RedirectResponse(f"{_target_path(kind, target_id)}?notice=activity-logged#activities", status_code=303)


def _edited(
    request: Request,
    principal: Principal,
    services: ConsoleServices,
    kind: TargetKind,
    target_id: uuid.UUID,
    activity_id: uuid.UUID,
    form: ActivityForm,
    expected_version: int | None,
) -> Response:
    """Edit the person's or company's activity ``activity_id`` as ``form`` says; back to their activities, or their
    page again with the form and why it was refused (422)."""
    try:
        edit_from_form(
            services,
            principal,
            activity_id,
            subject=form.subject,
            body=form.body,
            expected_version=expected_version,
            **_subject(kind, target_id),
        )
    except InvalidRequestError as refused:
        error = replace(form, error=refused.localized(principal.locale))
        return _profile_page(request, principal, services, kind, target_id, refused=error, status_code=422)
    return RedirectResponse(f"{_target_path(kind, target_id)}?notice=activity-edited#activities", status_code=303)


@router.post("/people/{person_id}/activities")
def log_person_activity(
    request: Request,
    person_id: uuid.UUID,
    principal: SeatHolderPrincipal,
    services: Services,
    client_id: Annotated[str, Form(max_length=200)],
    item: Annotated[str, Form(max_length=20)],
    body: Annotated[str, Form()] = "",
    subject: Annotated[str, Form()] = "",
    direction: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """ "Log a note / a call / a message" about the person, as the signed-in seat holder; delivered to the CRM as
    the organization's writeback settings say. The form's client id makes a form sent twice log one activity. Back
    to the person's activities saying so; a refused form is shown again with the reason (422). 404 for a person of
    another organization."""
    form = ActivityForm(item, client_id, subject, body, direction)
    return _logged(request, principal, services, TargetKind.PERSON, person_id, form)


@router.post("/companies/{company_id}/activities")
def log_company_activity(
    request: Request,
    company_id: uuid.UUID,
    principal: SeatHolderPrincipal,
    services: Services,
    client_id: Annotated[str, Form(max_length=200)],
    item: Annotated[str, Form(max_length=20)],
    body: Annotated[str, Form()] = "",
    subject: Annotated[str, Form()] = "",
    direction: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """As :func:`log_person_activity`, about a company."""
    form = ActivityForm(item, client_id, subject, body, direction)
    return _logged(request, principal, services, TargetKind.COMPANY, company_id, form)


@router.post("/people/{person_id}/activities/{activity_id}")
def edit_person_activity(
    request: Request,
    person_id: uuid.UUID,
    activity_id: uuid.UUID,
    principal: SeatHolderPrincipal,
    services: Services,
    body: Annotated[str, Form()] = "",
    subject: Annotated[str, Form()] = "",
    expected_version: Annotated[int | None, Form()] = None,
) -> Response:
    """Edit one of the person's activities (its author, or an administrator): a delivered one is written to the
    CRM again. Back to the activities saying so; refused (the text, someone else's activity, or edited meanwhile
    since ``expected_version``) the form is shown again with the reason (422). 404 for an activity of another
    person or organization."""
    form = ActivityForm("", "", subject, body, "", activity_id=activity_id)
    return _edited(request, principal, services, TargetKind.PERSON, person_id, activity_id, form, expected_version)


@router.post("/companies/{company_id}/activities/{activity_id}")
def edit_company_activity(
    request: Request,
    company_id: uuid.UUID,
    activity_id: uuid.UUID,
    principal: SeatHolderPrincipal,
    services: Services,
    body: Annotated[str, Form()] = "",
    subject: Annotated[str, Form()] = "",
    expected_version: Annotated[int | None, Form()] = None,
) -> Response:
    """As :func:`edit_person_activity`, for a company's activity."""
    form = ActivityForm("", "", subject, body, "", activity_id=activity_id)
    return _edited(request, principal, services, TargetKind.COMPANY, company_id, activity_id, form, expected_version)
