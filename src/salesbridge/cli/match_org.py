"""``salesbridge match run|report|evaluate|export-unmatched --org ORG``: matching an organization's CRM records with
its people and companies, on the ``match`` group (:func:`register`).

- ``run``: a matching run now (incremental: new or changed records only; ``--full`` compares everything and
  re-estimates the weights); what it did.
- ``report``: accounts, contacts and leads — matched, in review, unmatched (counts and shares) — and the last run.
- ``evaluate``: the scorer's precision, recall and F1 against the organization's corrections and reviews.
- ``export-unmatched``: every record of a table tied to no one (in review included) to a CSV file (no cap; UTF-8
  with a byte order mark; cells a spreadsheet would run as formulas neutralised).

Exit codes: 0 on success; 1 when the command failed (no such organization, a file that cannot be written); 2 for
bad usage (a table that is not account, contact or lead). ``--json`` prints JSON only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.table import Table
from rich.text import Text

from salesbridge.cli.invocation import DbUrlOption, JsonOption, LangOption, OrgOption, workspace
from salesbridge.cli.rendering import console, errors_reported, failure
from salesbridge.i18n import N_, count_text, decimal_text, translate
from salesbridge.services.organizations import require_organization
from salesbridge.web.localized import crm_table

if TYPE_CHECKING:
    import uuid

    from salesbridge.bootstrap import Workspace
    from salesbridge.services.matching import Evaluation, MatchReport, MatchRunSummary

TableOption = Annotated[
    str, typer.Option("--table", help="The CRM table: contact, lead or account.", case_sensitive=False)
]
OutOption = Annotated[
    Path, typer.Option("--out", help="The CSV file to write (replaced if it exists).", dir_okay=False)
]
FullOption = Annotated[
    bool, typer.Option("--full", help="Compare every record again and re-estimate the weights (slower).")
]
TABLES: tuple[Literal["account", "contact", "lead"], ...] = ("account", "contact", "lead")


def register(group: typer.Typer) -> None:
    """Add ``run``, ``report``, ``evaluate`` and ``export-unmatched`` to the ``match`` group."""
    group.command("run")(match_run)
    group.command("report")(match_report_command)
    group.command("evaluate")(match_evaluate)
    group.command("export-unmatched")(export_unmatched)


def match_run(
    ctx: typer.Context,
    org: OrgOption,
    full: FullOption = False,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Match the organization's CRM contacts, leads and accounts with its people and companies now (incremental
    unless --full), and print what the run did."""
    from salesbridge.services.matching import run_matching

    with errors_reported(lang):
        opened, organization_id = _organization(ctx, db_url, org)
        summary = run_matching(opened.store, organization_id, full=full, clock=opened.clock)
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False))
        return
    _print_run(summary, lang)


def match_report_command(
    ctx: typer.Context,
    org: OrgOption,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Accounts, contacts and leads: how many are matched, in review and unmatched, and the last run."""
    from salesbridge.services.matching import match_report

    with errors_reported(lang):
        opened, organization_id = _organization(ctx, db_url, org)
        with opened.store(organization_id, read_only=True) as uow:
            report = match_report(uow)
    if as_json:
        typer.echo(json.dumps(_report_json(report), indent=2, ensure_ascii=False))
        return
    _print_report(report, lang)


def match_evaluate(
    ctx: typer.Context,
    org: OrgOption,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """The scorer's precision, recall and F1 against the organization's corrections (Edit match) and reviews."""
    from salesbridge.services.matching import evaluate

    with errors_reported(lang):
        opened, organization_id = _organization(ctx, db_url, org)
        with opened.store(organization_id, read_only=True) as uow:
            found = evaluate(uow)
    if as_json:
        typer.echo(json.dumps(vars(found), indent=2))
        return
    _print_evaluation(found, lang)


def export_unmatched(
    ctx: typer.Context,
    org: OrgOption,
    table: TableOption,
    out: OutOption,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Write every CRM record of --table that matching left without a person or company to --out (CSV, no cap)."""
    from salesbridge.web.unmatched_export import write_unmatched_csv

    chosen = table.lower()
    if chosen not in TABLES:
        raise failure(translate(N_("Choose --table contact, lead or account."), lang), code=2)
    with errors_reported(lang):
        opened, organization_id = _organization(ctx, db_url, org)
        partial = out.with_name(out.name + ".part")
        try:
            with partial.open("wb") as stream:
                written = write_unmatched_csv(opened.store, organization_id, chosen, stream)
            partial.replace(out)  # the file appears whole, or not at all
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise failure(translate(N_("The file cannot be written: {reason}"), lang).format(reason=exc)) from None
    if as_json:
        typer.echo(json.dumps({"table": chosen, "rows": written, "file": str(out)}, ensure_ascii=False))
        return
    message = translate(N_("{count} unmatched {table} records written to {file}."), lang)
    console.print(Text(message.format(count=count_text(written, lang), table=chosen, file=out)))


def _organization(ctx: typer.Context, db_url: str | None, org: str) -> tuple[Workspace, uuid.UUID]:
    """The workspace of the invocation and the id of organization ``org`` (UnknownOrganizationError otherwise)."""
    opened = workspace(ctx, db_url)
    return opened, require_organization(opened.store, org)


def _share(value: float, lang: str) -> str:
    return f"{decimal_text(value * 100, 1, lang)} %"


def _score(value: float | None, lang: str) -> str:
    """A precision, recall or F1 as ``lang`` writes it; "—" when there is none (nothing labelled yet)."""
    return "—" if value is None else decimal_text(value, 3, lang)


def _report_json(report: MatchReport) -> dict[str, Any]:
    return {
        "tables": [vars(table) for table in report.tables],
        "last_run_at": report.last_run_at.isoformat() if report.last_run_at else None,
        "last_summary": dict(report.last_summary) if report.last_summary is not None else None,
    }


def _print_report(report: MatchReport, lang: str) -> None:
    grid = Table(title=translate(N_("Match report"), lang), title_justify="left")
    grid.add_column(translate(N_("CRM records"), lang))
    for header in (N_("Total"), N_("Matched"), N_("In review"), N_("Unmatched")):
        grid.add_column(translate(header, lang), justify="right")
    for row in report.tables:
        grid.add_row(
            crm_table(row.table, lang),
            count_text(row.total, lang),
            f"{count_text(row.matched, lang)} ({_share(row.matched_share, lang)})",
            f"{count_text(row.review, lang)} ({_share(row.review_share, lang)})",
            f"{count_text(row.unmatched, lang)} ({_share(row.unmatched_share, lang)})",
        )
    console.print(grid)
    if report.last_run_at is None:
        console.print(Text(translate(N_("Matching has not run yet."), lang), style="yellow"))
    else:
        when = report.last_run_at.strftime("%Y-%m-%d %H:%M UTC")
        console.print(Text(translate(N_("Last run: {when}"), lang).format(when=when)))


def _print_run(summary: MatchRunSummary, lang: str) -> None:
    grid = Table(
        title=translate(N_("Full matching run") if summary.full else N_("Matching run"), lang), title_justify="left"
    )
    grid.add_column("")
    for header in (N_("Companies"), N_("People")):
        grid.add_column(translate(header, lang), justify="right")
    for label, name in (
        (N_("CRM records compared again"), "crm_changed"),
        (N_("Workspace records new or changed"), "workspace_changed"),
        (N_("Candidate pairs compared"), "compared_pairs"),
        (N_("Matched"), "matched"),
        (N_("In review"), "review"),
        (N_("No match"), "no_match"),
        (N_("Links removed"), "unlinked"),
        (N_("Corrections kept"), "corrections_kept"),
    ):
        grid.add_row(
            translate(label, lang),
            count_text(getattr(summary.companies, name), lang),
            count_text(getattr(summary.people, name), lang),
        )
    console.print(grid)


def _print_evaluation(found: Evaluation, lang: str) -> None:
    if found.labelled == 0:
        console.print(
            Text(translate(N_("No labelled pairs yet: correct or review matches first."), lang), style="yellow")
        )
    grid = Table(title=translate(N_("The scorer against the corrections"), lang), title_justify="left")
    grid.add_column("")
    grid.add_column("", justify="right")
    for label, value in (
        (N_("Labelled CRM records"), count_text(found.labelled, lang)),
        (N_("Precision"), _score(found.precision, lang)),
        (N_("Recall"), _score(found.recall, lang)),
        ("F1", _score(found.f1, lang)),
        (N_("True positives"), count_text(found.true_positives, lang)),
        (N_("False positives"), count_text(found.false_positives, lang)),
        (N_("False negatives"), count_text(found.false_negatives, lang)),
    ):
        grid.add_row(translate(label, lang), value)
    console.print(grid)
