"""``/api/v1/orgs/{org}/jobs``: the organization's background jobs (administrators only), and cancelling or
retrying one. Whichever engine runs them: in the embedded runner the organization's import runs are its jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from salesbridge.domain.jobs import JobState
from salesbridge.services.jobs import cancel_job, organization_jobs, retry_job
from salesbridge.web.api.schemas import ORGANIZATION_ERRORS, ApiModel, IsoTime, errors
from salesbridge.web.job_descriptions import SHOWN_STATES, describe
from salesbridge.web.security import AdminPrincipal, Services

router = APIRouter(prefix="/api/v1/orgs/{org}/jobs", tags=["jobs"], responses=ORGANIZATION_ERRORS)


class JobOut(ApiModel):
    """One background job of the organization."""

    id: str = Field(description="The engine's id of the job (opaque): pass it back to cancel or retry.")
    task: str = Field(description="The task's code, e.g. `import_organization`.")
    organization_id: str | None = Field(
        description="The organization's id (a UUID), as `salesbridge jobs list --json` gives it."
    )
    task_name: str = Field(description="The task in words, in the caller's language.")
    state: JobState
    state_name: str = Field(description="The state in words, in the caller's language.")
    attempts: int = Field(description="How many times it started, retries included.")
    queued_at: IsoTime | None
    scheduled_at: IsoTime | None = Field(description="Not to start before this time, when set.")
    started_at: IsoTime | None = Field(description="When its current or last attempt started.")
    finished_at: IsoTime | None
    reason: str | None = Field(description="Why it was queued, as recorded (`sync now`, `scheduled`…).")
    reason_text: str | None = Field(description="Why it was queued, in the caller's language.")
    error: str | None = Field(description="Why it failed or was cancelled, as recorded.")
    error_text: str | None = Field(
        description="Why it failed or was cancelled, in the caller's language (Dynamics 365's own message as is)."
    )
    cancel_requested: bool = Field(
        description="Running and asked to stop (cancelling): it ends at its next step, e.g. an import's next page."
    )
    can_cancel: bool = Field(description="Waiting or running, and not asked to stop yet: it may be cancelled.")
    can_retry: bool = Field(description="Failed or cancelled: it may be queued again.")


class JobsOut(ApiModel):
    """The organization's jobs, newest first."""

    organization: str
    jobs: list[JobOut]


@router.get("", summary="Background jobs")
def list_jobs(
    org: str,  # noqa: ARG001 - documented in OpenAPI; require() checks it is the principal's
    principal: AdminPrincipal,
    services: Services,
    state: Annotated[
        list[JobState] | None, Query(description="Only jobs in these states (repeat it); default: all but done.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobsOut:
    """The organization's jobs newest first: by default those waiting, running, failed or cancelled."""
    jobs = organization_jobs(
        services.store, slug=principal.organization_slug, states=state or SHOWN_STATES, limit=limit
    )
    return JobsOut(
        organization=principal.organization_slug,
        jobs=[JobOut.model_validate(describe(job, principal.locale).to_json()) for job in jobs],
    )


@router.post("/{job_id}/cancel", summary="Cancel a job", responses=errors(422))
def cancel(org: str, job_id: str, principal: AdminPrincipal, services: Services) -> JobOut:  # noqa: ARG001
    """Cancel a waiting or running job: a waiting one never runs, a running import stops at its next page. 404 for
    another organization's job; 422 when it has already ended. Audited."""
    job = cancel_job(services.store, job_id, actor=principal.email, organization_id=principal.organization_id)
    return JobOut.model_validate(describe(job, principal.locale).to_json())


@router.post("/{job_id}/retry", summary="Retry a job", responses=errors(422))
def retry(org: str, job_id: str, principal: AdminPrincipal, services: Services) -> JobOut:  # noqa: ARG001
    """Queue a failed or cancelled job again, now; the job queued. 404 for another organization's job; 422 when it
    is waiting, running or done. Audited."""
    job = retry_job(services.store, job_id, actor=principal.email, organization_id=principal.organization_id)
    if services.wake_importer is not None:
        services.wake_importer()
    return JobOut.model_validate(describe(job, principal.locale).to_json())
