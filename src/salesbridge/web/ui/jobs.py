"""The Background jobs page: the administrator's organization's waiting, running, failed and cancelled jobs (the
task in words, when, attempts, why it failed), with Cancel and Retry. Whichever engine runs the jobs: in the
embedded runner the organization's import runs are its jobs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from salesbridge.errors import InvalidRequestError
from salesbridge.services.accounts import Principal
from salesbridge.services.jobs import cancel_job, organization_jobs, retry_job
from salesbridge.web.context import ConsoleServices
from salesbridge.web.job_descriptions import SHOWN_STATES, describe
from salesbridge.web.security import AdminPrincipal, Services
from salesbridge.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE = "/admin/jobs"
NOTICES = frozenset({"cancelled", "retried"})


def _jobs_page(
    request: Request, principal: Principal, services: ConsoleServices, *, status_code: int = 200, **context: Any
) -> Response:
    jobs = organization_jobs(services.store, slug=principal.organization_slug, states=SHOWN_STATES, limit=50)
    notice = request.query_params.get("notice")
    return render(
        request,
        "admin_jobs.html",
        {
            "lines": [describe(job, principal.locale) for job in jobs],
            "notice": notice if notice in NOTICES else None,
            **context,
        },
        principal=principal,
        status_code=status_code,
    )


@router.get(PAGE)
def jobs_page(request: Request, principal: AdminPrincipal, services: Services) -> Response:
    """The organization's jobs that wait, run, failed or were cancelled, newest first (50 at most)."""
    return _jobs_page(request, principal, services)


@router.post(PAGE + "/{job_id}/cancel")
def cancel(request: Request, job_id: str, principal: AdminPrincipal, services: Services) -> Response:
    """Cancel a waiting or running job of the organization (a running import stops at its next page); another
    organization's job is not found (404)."""
    try:
        cancel_job(services.store, job_id, actor=principal.email, organization_id=principal.organization_id)
    except InvalidRequestError as refused:
        return _jobs_page(request, principal, services, status_code=422, error=refused.localized(principal.locale))
    return RedirectResponse(PAGE + "?notice=cancelled", status_code=303)


@router.post(PAGE + "/{job_id}/retry")
def retry(request: Request, job_id: str, principal: AdminPrincipal, services: Services) -> Response:
    """Queue a failed or cancelled job of the organization again, now; another organization's job is not found
    (404)."""
    try:
        retry_job(services.store, job_id, actor=principal.email, organization_id=principal.organization_id)
    except InvalidRequestError as refused:
        return _jobs_page(request, principal, services, status_code=422, error=refused.localized(principal.locale))
    if services.wake_importer is not None:
        services.wake_importer()
    return RedirectResponse(PAGE + "?notice=retried", status_code=303)
