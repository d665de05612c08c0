"""``salesbridge people import`` and ``salesbridge companies import``: loading the workspace's people and companies
from a CSV file, with a progress bar, a summary and every refused line with its number and reason;
``salesbridge people delete`` and ``companies delete``: deleting one by its external id (exit code 1 when there is
none).

Exit codes: 0 when at least one line loaded (inserted, updated or already as given), even if other lines were
refused (they are listed); 1 when nothing loaded or the file was refused as a whole (not text, no ``id`` column,
empty); 2 for bad usage (a missing file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from salesbridge.cli.invocation import DbUrlOption, JsonOption, LangOption, OrgOption, workspace
from salesbridge.cli.rendering import EXIT_FAILURE, console, errors_reported, failure
from salesbridge.domain.csv_rows import CsvKind, LineProblem, read_company_csv, read_people_csv
from salesbridge.i18n import N_, translate
from salesbridge.services.people_load import LoadReport, load_companies, load_people
from salesbridge.web.localized import line_problem_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from salesbridge.services.ports import StoreAccess

people_app = typer.Typer(help="The workspace's people: load them from a CSV file, delete one.", no_args_is_help=True)
companies_app = typer.Typer(
    help="The workspace's companies: load them from a CSV file, delete one.", no_args_is_help=True
)

CsvFileArgument = Annotated[
    Path,
    typer.Argument(exists=True, file_okay=True, dir_okay=False, readable=True, help="The CSV file (UTF-8 or Latin-1)."),
]

_ACTOR = "cli"


@people_app.command("import")
def people_import(
    ctx: typer.Context,
    org: OrgOption,
    file: CsvFileArgument,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Load people from a CSV file (only the id column is required; loading the same id again updates it). Each
    refused line is listed with its number and reason while the good ones load. Exit code 0 when any line loaded,
    1 when none did or the file was refused."""
    _import(ctx, CsvKind.PEOPLE, org, file, as_json=as_json, lang=lang, db_url=db_url)


@companies_app.command("import")
def companies_import(
    ctx: typer.Context,
    org: OrgOption,
    file: CsvFileArgument,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Load companies from a CSV file; otherwise as ``people import``."""
    _import(ctx, CsvKind.COMPANIES, org, file, as_json=as_json, lang=lang, db_url=db_url)


ExternalIdOption = Annotated[str, typer.Option("--id", help="The external id it was loaded with.")]


@people_app.command("delete")
def people_delete(
    ctx: typer.Context,
    org: OrgOption,
    external_id: ExternalIdOption,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Delete the person loaded with --id (a wrong load, an erasure request): their match links go with them
    (corrections included) and their CRM records are matched again by the next run. Audited. Exit code 1 when the
    organization has no such person."""
    _delete(ctx, CsvKind.PEOPLE, org, external_id, as_json=as_json, lang=lang, db_url=db_url)


@companies_app.command("delete")
def companies_delete(
    ctx: typer.Context,
    org: OrgOption,
    external_id: ExternalIdOption,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Delete the company loaded with --id; otherwise as ``people delete`` (its people keep the company's name)."""
    _delete(ctx, CsvKind.COMPANIES, org, external_id, as_json=as_json, lang=lang, db_url=db_url)


def _delete(
    ctx: typer.Context, kind: CsvKind, org: str, external_id: str, *, as_json: bool, lang: str, db_url: str | None
) -> None:
    from salesbridge.services.organizations import require_organization
    from salesbridge.services.people import delete_company, delete_person

    people = kind is CsvKind.PEOPLE
    with errors_reported(lang):
        store = workspace(ctx, db_url).store
        organization_id = require_organization(store, org)
        with store(organization_id, read_only=True) as uow:
            found = (uow.people if people else uow.companies).get_by_external_id(external_id)
        if found is None or found.id is None:
            missing = (
                N_("No person has the id {id} in {org}.") if people else N_("No company has the id {id} in {org}.")
            )
            raise failure(translate(missing, lang).format(id=external_id, org=org))
        (delete_person if people else delete_company)(store, organization_id, found.id, actor=_ACTOR)
    if as_json:
        typer.echo(json.dumps({"kind": kind.value, "external_id": external_id, "deleted": True}, ensure_ascii=False))
        return
    done = (
        N_("Person {id} deleted; their CRM records will be matched again.")
        if people
        else N_("Company {id} deleted; its CRM accounts will be matched again.")
    )
    console.print(Text(translate(done, lang).format(id=external_id)))


def _import(
    ctx: typer.Context, kind: CsvKind, org: str, file: Path, *, as_json: bool, lang: str, db_url: str | None
) -> None:
    size = file.stat().st_size
    with (
        errors_reported(lang),
        file.open("rb") as stream,
        # With --json stdout holds the JSON only: the bar is not drawn.
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
        ) as progress,
    ):
        store = workspace(ctx, db_url).store
        task = progress.add_task(file.name, total=size)

        def on_progress(bytes_read: int) -> None:
            progress.update(task, completed=bytes_read)

        report = _load(kind, store, org, stream, on_progress)
    if as_json:
        typer.echo(json.dumps(_report_json(report, lang), indent=2, ensure_ascii=False))
    else:
        _print_report(report, lang)
    if report.loaded == 0:
        raise typer.Exit(EXIT_FAILURE)


def _load(
    kind: CsvKind, store: StoreAccess, org: str, stream: BinaryIO, on_progress: Callable[[int], None]
) -> LoadReport:
    if kind is CsvKind.PEOPLE:
        return load_people(store, org, read_people_csv(stream, on_progress=on_progress), actor=_ACTOR)
    return load_companies(store, org, read_company_csv(stream, on_progress=on_progress), actor=_ACTOR)


def _report_json(report: LoadReport, lang: str) -> dict[str, object]:
    def problem(item: LineProblem) -> dict[str, object]:
        return {"line": item.line, "message": line_problem_text(item, lang)}

    return {
        "kind": report.kind.value,
        "lines_read": report.lines_read,
        "loaded": report.loaded,
        "inserted": report.inserted,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "refused": report.refused,
        "formula_rows": report.formula_rows,
        "problems": [problem(item) for item in report.problems],
        "warnings": [problem(item) for item in report.warnings],
    }


def _print_report(report: LoadReport, lang: str) -> None:
    for warning in report.warnings:
        console.print(Text(line_problem_text(warning, lang), style="yellow"))
    for item in report.problems:
        console.print(Text(line_problem_text(item, lang)))
    title = N_("People loaded") if report.kind is CsvKind.PEOPLE else N_("Companies loaded")
    table = Table(title=translate(title, lang), title_justify="left", show_header=False)
    table.add_column()
    table.add_column(justify="right")
    for label, count in (
        (N_("Lines read (header included)"), report.lines_read),
        (N_("New"), report.inserted),
        (N_("Updated"), report.updated),
        (N_("Unchanged"), report.unchanged),
        (N_("Lines refused"), report.refused),
        (N_("Rows with a formula-like cell (kept as text)"), report.formula_rows),
    ):
        table.add_row(translate(label, lang), f"{count:,}")
    console.print(table)
    if report.loaded == 0:
        console.print(Text(translate(N_("Nothing was loaded."), lang), style="bold red"))
