"""``salesbridge worker`` and ``salesbridge jobs``: running procrastinate workers, and the deployment operators' view
of background jobs (list, retry, cancel), whichever engine runs them (``SALESBRIDGE_JOBS``)."""

from __future__ import annotations

import json
from typing import Annotated, Final

import typer
from rich.table import Table

from salesbridge import bootstrap
from salesbridge.cli.invocation import DbUrlOption, JsonOption, LangOption, settings, workspace
from salesbridge.cli.rendering import console, errors_reported
from salesbridge.domain.jobs import Job, JobState
from salesbridge.i18n import N_, translate
from salesbridge.services.jobs import cancel_job, deployment_jobs, retry_job
from salesbridge.web.job_descriptions import describe

app = typer.Typer(
    help="Background jobs of every organization: list, retry a failed one, cancel one (deployment operators).",
    no_args_is_help=True,
)

_ACTOR = "cli"


def worker(
    ctx: typer.Context,
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs this worker runs at once.")] = 1,
    queues: Annotated[
        str | None,
        typer.Option(help="Comma-separated queues to take jobs from (imports, schedule, uploads); all when omitted."),
    ] = None,
    db_url: DbUrlOption = None,
) -> None:
    """Run a job worker until Ctrl+C or SIGTERM (SALESBRIDGE_JOBS=procrastinate, on PostgreSQL): start as many as
    needed, on any number of machines sharing the store."""
    chosen = [queue.strip() for queue in queues.split(",") if queue.strip()] if queues else None
    bootstrap.fewer_malloc_arenas()  # before the worker's threads start
    options = settings(ctx)
    with errors_reported(), bootstrap.free_memory_released(options.free_memory_every_seconds):
        bootstrap.run_worker(options, db_url, concurrency=concurrency, queues=chosen)


# The task and the state stay codes in the table: they are what --state and the operators' scripts use.
_HEADERS: Final = (
    N_("Job"),
    N_("Task"),
    N_("Organization"),
    N_("State"),
    N_("Attempts"),
    N_("When (UTC)"),
    N_("Reason / error"),
)


def _when(job: Job) -> str:
    moment = job.finished_at or job.started_at or job.queued_at or job.scheduled_at
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


@app.command("list")
def jobs_list(
    ctx: typer.Context,
    org: Annotated[str | None, typer.Option(help="Only this organization's jobs.")] = None,
    state: Annotated[list[JobState] | None, typer.Option(help="Only jobs in this state (repeat for several).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """List jobs, newest first: task, organization, state, attempts, when, and why (reason or error, in words in
    --lang). With --json, each job as the API's jobs route gives it (the same fields; ``organization_id`` null for
    deployment-wide jobs), its words in --lang."""
    with errors_reported(lang):
        services = workspace(ctx, db_url)
        jobs = deployment_jobs(services.store, slug=org, states=state or None, limit=limit)
        slugs = {
            job.organization_id: services.store.slug_of(job.organization_id) for job in jobs if job.organization_id
        }
    if as_json:
        typer.echo(json.dumps([describe(job, lang).to_json() for job in jobs], indent=2))
        return
    table = Table()
    for header in _HEADERS:
        table.add_column(translate(header, lang))
    for job in jobs:
        line = describe(job, lang)
        table.add_row(
            job.id,
            job.task,
            (slugs.get(job.organization_id) or str(job.organization_id)) if job.organization_id else "—",
            job.state.value,
            str(job.attempts),
            _when(job),
            line.error or line.reason or "",
        )
    console.print(table)


@app.command("retry")
def jobs_retry(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="The job (from `salesbridge jobs list`).")],
    db_url: DbUrlOption = None,
) -> None:
    """Queue a failed or cancelled job again, now (a retried import queues an import run)."""
    with errors_reported():
        job = retry_job(workspace(ctx, db_url).store, job_id, actor=_ACTOR)
    console.print(f"Job {job.id} ({job.task}) is {job.state.value}.", highlight=False)


@app.command("cancel")
def jobs_cancel(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="The job (from `salesbridge jobs list`).")],
    db_url: DbUrlOption = None,
) -> None:
    """Cancel a job: a queued one never runs; a running import stops at its next page."""
    with errors_reported():
        job = cancel_job(workspace(ctx, db_url).store, job_id, actor=_ACTOR)
    console.print(f"Job {job.id} ({job.task}) is {job.state.value}.", highlight=False)
