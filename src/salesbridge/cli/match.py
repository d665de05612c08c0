"""``salesbridge match``: the matching commands. This module holds the group and the file-to-file linker,
``salesbridge match people|companies --left L.csv --right R.csv --out M.csv``, which runs the same engine as the
product (salesbridge.matching) on two CSV files and needs no database.

Input: the columns of ``people import`` / ``companies import`` (read by salesbridge.domain.csv_rows: names matched
ignoring case with common aliases, UTF-8 with or without BOM or Latin-1, each bad line reported with its number and
reason while the good ones are matched). Only ``id`` is required. People files may also carry ``date_of_birth``
(or ``birth_date``, ``dob``), read here (the shared reader does not read it). Output:
``left_id,right_id,score,band`` — one row per pair in the match or review band, one-to-one on both sides (each id at
most once, best pairs first), ``score`` the calibrated probability; cells neutralised for spreadsheets.

Exit codes (docs/admin.md, "Matching two files"): 0 when the output was written (even if some lines were refused:
they are listed); 1 when a file was refused as a whole (not text, no id column, empty) or the output could not be
written; 2 for bad usage (a missing file).

The organization commands (``match run|report|evaluate|export-unmatched``) live in salesbridge.cli.match_org and are
added to this group by its ``register(app)`` at the bottom of this module.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from salesbridge.cli.invocation import JsonOption, LangOption
from salesbridge.cli.rendering import console, errors_reported, failure
from salesbridge.domain.csv_rows import (
    CompanyRow,
    CsvKind,
    LineProblem,
    PersonRow,
    neutralise_for_spreadsheet,
    read_company_csv,
    read_people_csv,
)
from salesbridge.i18n import N_, translate
from salesbridge.web.localized import line_problem_text

if TYPE_CHECKING:
    from salesbridge.matching import CompanyRecord, PersonRecord

app = typer.Typer(help="Matching CRM records with people and companies.", no_args_is_help=True)

InFileOption = Annotated[
    Path,
    typer.Option(exists=True, file_okay=True, dir_okay=False, readable=True, help="A CSV file (UTF-8 or Latin-1)."),
]
OutFileOption = Annotated[
    Path, typer.Option("--out", dir_okay=False, help="The CSV file of pairs to write (replaced if it exists).")
]
RegionOption = Annotated[
    str | None,
    typer.Option(
        "--default-region", help="Country (ISO code, e.g. ES) of phone numbers written without a country code."
    ),
]

OUTPUT_COLUMNS = ("left_id", "right_id", "score", "band")


@app.command("people")
def match_people(
    left: Annotated[Path, typer.Option("--left", exists=True, dir_okay=False, help="CRM people (CSV).")],
    right: Annotated[Path, typer.Option("--right", exists=True, dir_okay=False, help="Workspace people (CSV).")],
    out: OutFileOption,
    default_region: RegionOption = None,
    as_json: JsonOption = False,
    lang: LangOption = "en",
) -> None:
    """Match two CSV files of people (columns: id, first_name, last_name, email, phone, job_title, company_name,
    linkedin_url, street, city, postcode, region, country; only id is required). Writes left_id, right_id, score,
    band (match or review), each id at most once."""
    _link_files(CsvKind.PEOPLE, left, right, out, default_region, as_json=as_json, lang=lang)


@app.command("companies")
def match_companies(
    left: Annotated[Path, typer.Option("--left", exists=True, dir_okay=False, help="CRM accounts (CSV).")],
    right: Annotated[Path, typer.Option("--right", exists=True, dir_okay=False, help="Workspace companies (CSV).")],
    out: OutFileOption,
    default_region: RegionOption = None,
    as_json: JsonOption = False,
    lang: LangOption = "en",
) -> None:
    """Match two CSV files of companies (columns: id, name, website, phone, industry, employee_count, street, city,
    postcode, region, country, linkedin_url; only id is required); otherwise as ``match people``."""
    _link_files(CsvKind.COMPANIES, left, right, out, default_region, as_json=as_json, lang=lang)


def _person(row: PersonRow) -> PersonRecord:
    from salesbridge.matching import PersonRecord

    return PersonRecord(
        id=row.external_id,
        full_name=row.full_name,
        first_name=row.first_name,
        last_name=row.last_name,
        emails=row.emails,
        phones=row.phones,
        job_title=row.job_title,
        company_name=row.company_name,
        profile_url=row.linkedin_url,
        street=row.street,
        city=row.city,
        postcode=row.postcode,
        region=row.region,
        country=row.country,
    )


def _company(row: CompanyRow) -> CompanyRecord:
    from salesbridge.matching import CompanyRecord

    employees: int | None = None
    if row.employee_count:
        digits = "".join(ch for ch in row.employee_count if ch.isdigit())
        employees = int(digits) if digits and len(digits) < 10 else None
    return CompanyRecord(
        id=row.external_id,
        name=row.name,
        website=row.website,
        phone=row.phones[0] if row.phones else None,
        industry=row.industry,
        employee_count=employees,
        street=row.street,
        city=row.city,
        postcode=row.postcode,
        region=row.region,
        country=row.country,
        profile_url=row.linkedin_url,
    )


class _Side:
    """One file read: its records, its refused lines and its header warnings."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[Any] = []
        self.problems: list[LineProblem] = []
        self.warnings: list[LineProblem] = []


# The birth date is the file linker's extra column (benchmarks, files with it): the shared CSV reader does not read
# it (the workspace does not store one), so it is taken here, by id, from the lines that reader accepted.
_BIRTH_COLUMNS = frozenset({"date of birth", "birth date", "birthdate", "dob", "birthday"})
_ID_COLUMNS = frozenset({"id", "external id", "record id"})


def _column(name: str) -> str:
    """A header name as the shared reader compares it: lower case, "_", "-" and "." as spaces."""
    return " ".join(name.strip().lower().replace("_", " ").replace("-", " ").replace(".", " ").split())


def _birth_dates(path: Path, ids: set[str]) -> dict[str, str]:
    """id → birth date for the accepted ids, read with the csv module (UTF-8 with or without BOM, else Latin-1)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    found: dict[str, str] = {}
    try:
        reader = csv.reader(io.StringIO(text))
        header = [_column(name) for name in next(reader)]
        birth_at = next((at for at, name in enumerate(header) if name in _BIRTH_COLUMNS), None)
        id_at = next((at for at, name in enumerate(header) if name in _ID_COLUMNS), None)
        if birth_at is None or id_at is None:
            return found
        while True:
            try:
                cells = next(reader)
            except csv.Error:
                continue  # a line the shared reader refused too (a huge cell): the next one is read
            if len(cells) > max(id_at, birth_at):
                record_id, born = cells[id_at].strip(), cells[birth_at].strip()
                if record_id in ids and born and record_id not in found:
                    found[record_id] = born
    except StopIteration:
        pass
    return found


def _without_birth_column(warning: LineProblem) -> LineProblem | None:
    """The header warning without the birth date column (it is read after all); ``None`` when nothing is left."""
    columns = warning.fields.get("columns")
    if not isinstance(columns, str):
        return warning
    names = columns.split(", ")
    kept = [name for name in names if _column(name) not in _BIRTH_COLUMNS]
    if len(kept) == len(names):
        return warning
    return LineProblem(warning.line, warning.message, {**warning.fields, "columns": ", ".join(kept)}) if kept else None


def _read(kind: CsvKind, path: Path, progress: Progress) -> _Side:
    side = _Side(path)
    task = progress.add_task(path.name, total=path.stat().st_size)

    def on_progress(bytes_read: int) -> None:
        progress.update(task, completed=bytes_read)

    with path.open("rb") as stream:
        if kind is CsvKind.PEOPLE:
            people = read_people_csv(stream, on_progress=on_progress)
            side.warnings.extend(people.warnings)
            for batch in people.batches():
                side.records.extend(_person(row) for row in batch.rows)
                side.problems.extend(batch.problems)
        else:
            companies = read_company_csv(stream, on_progress=on_progress)
            side.warnings.extend(companies.warnings)
            for company_batch in companies.batches():
                side.records.extend(_company(row) for row in company_batch.rows)
                side.problems.extend(company_batch.problems)
    progress.update(task, completed=path.stat().st_size)
    if kind is CsvKind.PEOPLE and side.records:
        births = _birth_dates(path, {record.id for record in side.records})
        if births:
            side.records = [
                replace(record, birth_date=births[record.id]) if record.id in births else record
                for record in side.records
            ]
            side.warnings = [kept for kept in map(_without_birth_column, side.warnings) if kept is not None]
    return side


def _link_files(
    kind: CsvKind, left: Path, right: Path, out: Path, default_region: str | None, *, as_json: bool, lang: str
) -> None:
    with (
        errors_reported(lang),
        # With --json stdout holds the JSON only: no progress is drawn.
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
        ) as progress,
    ):
        sides = (_read(kind, left, progress), _read(kind, right, progress))
        # No byte counts on this row (its own progress has no size): hidden once matching ends.
        task = progress.add_task(translate(N_("Matching"), lang), total=None)
        from salesbridge.matching import Band, Matcher

        region = default_region.upper() if default_region else None
        matcher = (
            Matcher.people(default_region=region)
            if kind is CsvKind.PEOPLE
            else Matcher.companies(default_region=region)
        )
        result = matcher.link(sides[0].records, sides[1].records, one_to_one="both")
        progress.remove_task(task)
        try:
            with out.open("w", encoding="utf-8", newline="") as stream:
                writer = csv.writer(stream)
                writer.writerow(OUTPUT_COLUMNS)
                for decision in result.decisions:
                    writer.writerow(
                        [
                            neutralise_for_spreadsheet(decision.left_id),
                            neutralise_for_spreadsheet(decision.right_id),
                            f"{decision.probability:.4f}",
                            decision.band.value,
                        ]
                    )
        except OSError as exc:
            raise failure(
                translate(N_("The output file {path} cannot be written: {reason}"), lang).format(
                    path=out, reason=exc.strerror or exc
                )
            ) from None
    matches = sum(1 for d in result.decisions if d.band is Band.MATCH)
    summary = {
        "left_records": len(sides[0].records),
        "right_records": len(sides[1].records),
        "compared_pairs": result.compared_pairs,
        "matches": matches,
        "reviews": len(result.decisions) - matches,
        "out": str(out),
    }
    if as_json:
        payload: dict[str, object] = dict(summary)
        for name, side in zip(("left", "right"), sides, strict=True):
            payload[f"{name}_problems"] = [
                {"line": p.line, "message": line_problem_text(p, lang)} for p in side.problems
            ]
            payload[f"{name}_warnings"] = [
                {"line": p.line, "message": line_problem_text(p, lang)} for p in side.warnings
            ]
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    for side in sides:
        for item in (*side.warnings, *side.problems):
            console.print(Text(f"{side.path.name}: {line_problem_text(item, lang)}", style="yellow"))
    table = Table(title=translate(N_("Matching done"), lang), title_justify="left", show_header=False)
    table.add_column()
    table.add_column(justify="right")
    for label, count in (
        (N_("Left records"), summary["left_records"]),
        (N_("Right records"), summary["right_records"]),
        (N_("Candidate pairs compared"), summary["compared_pairs"]),
        (N_("Automatic matches"), summary["matches"]),
        (N_("Pairs to review"), summary["reviews"]),
    ):
        table.add_row(translate(label, lang), f"{count:,}")
    console.print(table)
    console.print(Text(translate(N_("Pairs written to {path}"), lang).format(path=out)))


def _register_organization_commands() -> None:
    # salesbridge.cli.match_org (H5) adds run, report, evaluate and export-unmatched to this group.
    try:
        from salesbridge.cli import match_org
    except ImportError:  # pragma: no cover - only while match_org is being written
        return
    match_org.register(app)


_register_organization_commands()
