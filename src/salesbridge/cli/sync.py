"""``salesbridge sync``: importing the CRM into the workspace — run now, and the status."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from salesbridge import bootstrap
from salesbridge.cli.invocation import DbUrlOption, JsonOption, LangOption, OrgOption, workspace
from salesbridge.cli.rendering import console, errors_reported, failure
from salesbridge.i18n import N_, translate
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.sync import request_sync, sync_status
from salesbridge.web.localized import (
    IMPORT_QUEUED,
    import_running_line,
    status_time,
    sync_failure_message,
    sync_status_json,
    sync_throttled_message,
)

if TYPE_CHECKING:
    from salesbridge.bootstrap import Workspace
    from salesbridge.services.sync import RunOutcome

app = typer.Typer(help="Importing the CRM into the workspace: run now, and the status.", no_args_is_help=True)


def import_with_progress(services: Workspace, organization_id: uuid.UUID) -> RunOutcome | None:
    """Run the organization's queued import here, with a progress bar per table; None when another import of it
    holds the lease (or nothing is queued). The garbage collector runs less often meanwhile
    (:func:`bootstrap.fewer_collections`)."""
    with (
        bootstrap.fewer_collections(),
        Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        tasks: dict[str, TaskID] = {}

        def on_page(table: str, rows: int) -> None:
            if table not in tasks:
                tasks[table] = progress.add_task(table, total=None)
            progress.update(tasks[table], completed=rows)

        return asyncio.run(
            run_pending_import(
                services.store,
                services.crm_sessions,
                organization_id,
                clock=services.clock,
                progress=on_page,
                lease=services.import_lease,
            )
        )


@app.command("run")
def sync_run(
    ctx: typer.Context,
    org: OrgOption,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Import the CRM now (the first run reads everything, later runs only what changed), with a progress bar per
    table. Exit code 0 when the import succeeded, 1 otherwise."""
    with errors_reported(lang):
        services = workspace(ctx, db_url)
        run_id = request_sync(services.store, slug=org, actor="cli", run_here=True)
        organization_id = services.store.organization_id(org)
        assert organization_id is not None  # request_sync found it
        outcome = import_with_progress(services, organization_id)
    if outcome is None:
        raise failure("Another import of this organization is running; try again when it ends.")
    if not outcome.succeeded:
        raise failure(f"The import failed: {outcome.error}")
    report = outcome.report
    assert report is not None
    console.print(
        f"[bold green]Imported[/] {report.rows_imported:,} rows, deleted {report.rows_deleted:,} (run {run_id}).",
        highlight=False,
    )


@app.command("status")
def sync_status_command(
    ctx: typer.Context,
    org: OrgOption,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """The last sync date, the running or queued import, failures since when, and each table's import."""
    with errors_reported(lang):
        services = workspace(ctx, db_url)
        status = sync_status(services.store, slug=org, clock=services.clock)
    if as_json:
        typer.echo(json.dumps(sync_status_json(status, lang), indent=2))
        return
    last = status_time(status.last_sync_at) if status.last_sync_at else "—"
    console.print(translate("Last sync", lang) + f": {last}", highlight=False)
    if status.running_since:
        console.print(import_running_line(status.running_since, lang), highlight=False, markup=False)
    elif status.queued:
        console.print(translate(IMPORT_QUEUED, lang), highlight=False, markup=False)
    throttled = sync_throttled_message(status.throttled_until, lang)
    if throttled:
        console.print(throttled, style="bold yellow", highlight=False, markup=False)
    if status.failing:
        message = sync_failure_message(status.failing_since, status.failure_reason, lang)
        console.print(f"[bold red]{message}[/]", highlight=False)
    table = Table()
    for header in (
        N_("Table"),
        N_("Mode"),
        N_("Last success"),
        N_("Rows"),
        N_("Imported"),
        N_("Deleted"),
        N_("Failures"),
    ):
        table.add_column(translate(header, lang))
    for row in status.tables:
        table.add_row(
            row.table,
            row.mode,
            row.last_success_at.strftime("%Y-%m-%d %H:%M") if row.last_success_at else "—",
            f"{row.row_count:,}",
            f"{row.rows_imported:,}",
            f"{row.rows_deleted:,}",
            str(row.consecutive_failures) if row.consecutive_failures else "",
        )
    console.print(table)
