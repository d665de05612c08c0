"""Loading the workspace's people and companies from a CSV file already opened by the pure reader
(:mod:`salesbridge.domain.csv_rows`): each good row becomes a :class:`~salesbridge.domain.people.Person` or
:class:`~salesbridge.domain.people.Company` and is upserted by external id; each bad line is reported with its
number and reason while the good ones load.

Contract (docs/admin.md, "Loading people and companies from CSV"):

- Nothing half-written: each batch of the reader (1,000 rows) is written in one transaction and committed before
  the next is read. When the store refuses a batch (:class:`InvalidInputError` from ``upsert_many``), nothing of it
  is written and each of its lines is reported with the store's reason; the other batches still load. Any other
  failure (the database goes away) stops the load: the batches committed before it stay, and loading the same file
  again completes it (loading is idempotent by external id).
- A row whose values the domain refuses (no name, a value too long, a control character, an employee count that is
  not a whole number) is left out as a line problem naming the file's column and the reason; never the whole file.
- A person's company is kept as the name the file gives (``company_name``). A ``company_external_id`` column names
  the person's employer among the workspace's companies: kept as given, and the person is tied to that company
  (``company_id``) when the organization holds it at load time, or else when the company is loaded (in that
  company batch's transaction); a value too long or with control characters is a line problem. Tying a person to
  a company by name is matching's work and comes later. ``street`` and ``postcode`` are read but not stored (people
  and companies keep city, region and country). A company keeps its first phone; its ``domain`` is the registrable
  domain of its website (a free-mail provider's never identifies a company).
- One audit entry per load (``people.imported`` / ``companies.imported``) with the counts, written after the last
  batch, also when nothing loaded; in its transaction, a matching run is requested when a row was inserted or
  updated (:func:`salesbridge.services.matching.request_matching`).

Use cases see the store through :mod:`salesbridge.services.ports` only; messages are message ids, worded at the
edge (:func:`salesbridge.web.localized.line_problem_text`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, TypeVar

from salesbridge.domain.csv_rows import CompanyRow, CsvKind, CsvReading, LineProblem, PersonRow
from salesbridge.domain.people import (
    COMPANY_LOADED_FIELDS,
    NEGATIVE_COUNT_MESSAGE,
    PERSON_LOADED_FIELDS,
    REQUIRED_MESSAGE,
    TOO_LONG_MESSAGE,
    TOO_MANY_MESSAGE,
    Company,
    Person,
    UpsertCounts,
)
from salesbridge.domain.text_rules import CONTROL_CHARACTERS_MESSAGE
from salesbridge.errors import ConcurrentWriteError, InvalidInputError
from salesbridge.message_ids import N_
from salesbridge.services.matching import request_matching
from salesbridge.services.organizations import require_organization
from salesbridge.services.people import upsert_companies_tying_people
from salesbridge.services.ports import StoreAccess, UnitOfWork

__all__ = ["CSV_SOURCE", "LoadReport", "load_companies", "load_people"]

CSV_SOURCE: Final = "csv"
"""The ``source`` of a person loaded from a CSV file."""

_NO_PERSON_NAME: Final = N_("The line has no name: give a full name, a first name or a last name.")
_NO_COMPANY_NAME: Final = N_("The line has no company name.")
_VALUE_TOO_LONG: Final = N_("The {column} value is longer than {limit} characters.")
_VALUE_MISSING: Final = N_("The {column} value is missing.")
_TOO_MANY_VALUES: Final = N_("The {column} cell holds more than {limit} values.")
_NOT_A_COUNT: Final = N_("The {column} value is not a whole number of 0 or more.")
_CONTROL_CHARACTERS: Final = N_("The {column} value contains control characters (such as a tab).")
_VALUE_REFUSED: Final = N_("The {column} value is refused.")
_BATCH_REFUSED: Final = N_(
    "The store refused the batch of up to {size} rows holding this line ({column}); none of them was loaded."
)

_LINE_MESSAGES: Final[Mapping[str, str]] = {
    TOO_LONG_MESSAGE: _VALUE_TOO_LONG,
    REQUIRED_MESSAGE: _VALUE_MISSING,
    TOO_MANY_MESSAGE: _TOO_MANY_VALUES,
    NEGATIVE_COUNT_MESSAGE: _NOT_A_COUNT,
    CONTROL_CHARACTERS_MESSAGE: _CONTROL_CHARACTERS,
}
"""The domain's reasons → the same reason said of a line's column."""

# The stored value's field → the reader's field (the file's column is the one read for it), when the file has no
# column of the stored field's own name (a full name comes from its own column, else from first and last name).
_ROW_FIELDS: Final[Mapping[str, str]] = {
    "headline": "job_title",
    "profile_url": "linkedin_url",
    "full_name": "first_name",
    "phone": "phones",
    "domain": "website",
}

_COUNT: Final = re.compile(r"\d{1,3}(?:[ ,.\u00a0\u202f]\d{3})+|\d+")
"""An employee count as people write it: ``1200``, ``1,200``, ``1.200``, ``1 200``."""

RowT = TypeVar("RowT", PersonRow, CompanyRow)
ValueT = TypeVar("ValueT", Person, Company)


@dataclass(frozen=True)
class LoadReport:
    """What a load did.

    Attributes:
        kind: People or companies.
        lines_read: Physical lines of the file read, the header's included.
        inserted, updated, unchanged: Rows loaded (new, changed, already as given).
        problems: Each line left out, with its number and reason, in line order (all of them: no cap).
        warnings: Columns ignored, on the header's line.
        formula_rows: Rows loaded with a cell a spreadsheet would run as a formula (kept as text; exports
            neutralise them).
    """

    kind: CsvKind
    lines_read: int
    inserted: int
    updated: int
    unchanged: int
    problems: tuple[LineProblem, ...]
    warnings: tuple[LineProblem, ...]
    formula_rows: int

    @property
    def loaded(self) -> int:
        """Rows loaded: inserted, updated or unchanged."""
        return self.inserted + self.updated + self.unchanged

    @property
    def refused(self) -> int:
        """Lines left out."""
        return len(self.problems)


def load_people(
    store: StoreAccess,
    slug: str,
    reading: CsvReading[PersonRow],
    *,
    actor: str,
    progress: Callable[[int], None] | None = None,
    partial: Callable[[LoadReport], None] | None = None,
) -> LoadReport:
    """Load the people of ``reading`` into organization ``slug`` (see the module's contract). ``progress`` gets the
    bytes of the file read so far after each batch is committed (or refused); ``partial`` the report so far.

    Raises:
        UnknownOrganizationError: no organization has ``slug`` (nothing is read).
    """
    return _load(
        store,
        slug,
        reading,
        convert=_person,
        upsert=lambda uow, people: uow.people.upsert_many(
            _with_employers(uow, people), kept=_kept(people, reading, PERSON_LOADED_FIELDS)
        ),
        action="people.imported",
        actor=actor,
        progress=progress,
        partial=partial,
    )


def load_companies(
    store: StoreAccess,
    slug: str,
    reading: CsvReading[CompanyRow],
    *,
    actor: str,
    progress: Callable[[int], None] | None = None,
    partial: Callable[[LoadReport], None] | None = None,
) -> LoadReport:
    """Load the companies of ``reading`` into organization ``slug``; otherwise as :func:`load_people`."""
    return _load(
        store,
        slug,
        reading,
        convert=_company,
        upsert=lambda uow, companies: upsert_companies_tying_people(
            uow, companies, kept=_kept(companies, reading, COMPANY_LOADED_FIELDS), reason="companies.imported"
        ),
        action="companies.imported",
        actor=actor,
        progress=progress,
        partial=partial,
    )


# The reader's field → the stored fields a column of it carries.
_CARRIED: Final[Mapping[str, tuple[str, ...]]] = {
    "job_title": ("headline",),
    "linkedin_url": ("profile_url",),
    "phones": ("phones", "phone"),
    "website": ("website", "domain"),
    "company_external_id": ("company_external_id", "company_id"),
}


def _with_employers(uow: UnitOfWork, people: list[Person]) -> list[Person]:
    """``people`` tied (``company_id``) to the organization's company their ``company_external_id`` names, when it
    holds one; a person whose employer is not (yet) a company of the workspace keeps the external id only."""
    wanted = {person.company_external_id for person in people if person.company_external_id}
    if not wanted:
        return people
    ids = uow.companies.ids_by_external_ids(wanted)
    return [
        replace(person, company_id=ids.get(person.company_external_id)) if person.company_external_id else person
        for person in people
    ]


def _kept(values: Sequence[ValueT], reading: CsvReading[Any], fields: frozenset[str]) -> dict[str, frozenset[str]]:
    """By external id, the fields the file has no column for: a stored person or company keeps them (a file
    without an email column leaves every person's emails as they are)."""
    carried = {name for field in reading.columns.values() for name in _CARRIED.get(field, (field,))}
    kept = fields - carried
    return dict.fromkeys((value.external_id for value in values), kept) if kept else {}


def _load(
    store: StoreAccess,
    slug: str,
    reading: CsvReading[RowT],
    *,
    convert: Callable[[RowT], ValueT],
    upsert: Callable[[UnitOfWork, list[ValueT]], UpsertCounts],
    action: str,
    actor: str,
    progress: Callable[[int], None] | None,
    partial: Callable[[LoadReport], None] | None = None,
) -> LoadReport:
    organization_id = require_organization(store, slug)
    columns = _columns_by_field(reading.columns)
    problems: list[LineProblem] = []
    inserted = updated = unchanged = formula_rows = 0
    for batch in reading.batches():
        read_so_far = batch.bytes_read
        values: list[ValueT] = []
        lines: list[int] = []
        refused: list[LineProblem] = list(batch.problems)
        with_formulas = 0
        for row in batch.rows:
            try:
                values.append(convert(row))
            except InvalidInputError as exc:
                refused.append(_line_problem(row.line, exc, columns))
                continue
            lines.append(row.line)
            with_formulas += bool(row.formula_fields)
        if values:
            try:
                counts = _upsert_batch(store, organization_id, upsert, values)
            except InvalidInputError as exc:
                refused.extend(_batch_refused(lines, exc, columns, len(values)))
            else:
                inserted += counts.inserted
                updated += counts.updated
                unchanged += counts.unchanged
                formula_rows += with_formulas
        problems.extend(sorted(refused, key=_line_of))
        if progress is not None:
            progress(read_so_far)
        if partial is not None:
            partial(_report(reading, inserted, updated, unchanged, problems, formula_rows))
    report = _report(reading, inserted, updated, unchanged, problems, formula_rows)
    with store(organization_id) as uow:
        uow.audit.record(
            actor=actor,
            action=action,
            details={
                "lines": report.lines_read,
                "inserted": report.inserted,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "refused": report.refused,
                "encoding": reading.encoding,
            },
        )
        if report.inserted or report.updated:
            request_matching(uow, reason=action)
        uow.commit()
    store.refresh_statistics()  # a first load fills people or companies: PostgreSQL plans from them now
    return report


_CONCURRENT_ATTEMPTS = 3
"""Attempts of one batch when another load inserts the same external ids at the same moment: the next attempt
reads what that load committed, so a second one almost always suffices."""


def _upsert_batch(
    store: StoreAccess,
    organization_id: uuid.UUID,
    upsert: Callable[[UnitOfWork, list[ValueT]], UpsertCounts],
    values: list[ValueT],
) -> UpsertCounts:
    """Upsert one batch in its own transaction, again when a concurrent load committed the same new ids first.

    Raises:
        InvalidInputError: the store refused the batch (nothing of it is written).
        ConcurrentWriteError: the batch still clashed after every attempt.
    """
    attempt = 1
    while True:
        try:
            with store(organization_id) as uow:
                counts = upsert(uow, values)
                uow.commit()
            return counts
        except ConcurrentWriteError:
            if attempt == _CONCURRENT_ATTEMPTS:
                raise
            attempt += 1


def _report(
    reading: CsvReading[RowT],
    inserted: int,
    updated: int,
    unchanged: int,
    problems: list[LineProblem],
    formula_rows: int,
) -> LoadReport:
    return LoadReport(
        kind=reading.kind,
        lines_read=reading.lines_read,
        inserted=inserted,
        updated=updated,
        unchanged=unchanged,
        problems=tuple(problems),
        warnings=tuple(reading.warnings),
        formula_rows=formula_rows,
    )


def _line_of(problem: LineProblem) -> int:
    return problem.line


def _person(row: PersonRow) -> Person:
    return Person(
        external_id=row.external_id,
        full_name=row.full_name or "",
        first_name=row.first_name,
        last_name=row.last_name,
        headline=row.job_title,
        company_name=row.company_name,
        company_external_id=row.company_external_id,
        city=row.city,
        region=row.region,
        country=row.country,
        emails=row.emails,
        phones=row.phones,
        profile_url=row.linkedin_url,
        source=CSV_SOURCE,
    )


def _company(row: CompanyRow) -> Company:
    # Imported here: the public-suffix list loads on first use, and only a company load needs it.
    from salesbridge.matching.identifiers import company_domain

    website = row.website.strip() if row.website else None
    return Company(
        external_id=row.external_id,
        name=row.name or "",
        website=website,
        domain=company_domain(website) if website else None,
        industry=row.industry,
        employee_count=_employee_count(row.employee_count),
        city=row.city,
        region=row.region,
        country=row.country,
        phone=row.phones[0] if row.phones else None,
        profile_url=row.linkedin_url,
    )


def _employee_count(cell: str | None) -> int | None:
    if cell is None or not cell.strip():
        return None
    text = cell.strip()
    if _COUNT.fullmatch(text) is None:
        raise InvalidInputError(NEGATIVE_COUNT_MESSAGE, field="employee_count")
    return int(re.sub(r"\D", "", text))


def _columns_by_field(columns: Mapping[str, str]) -> dict[str, str]:
    """The reader's field → the file's first column read for it."""
    found: dict[str, str] = {}
    for header, field_name in columns.items():
        found.setdefault(field_name, header)
    return found


def _column(field_name: str, columns: Mapping[str, str]) -> str:
    if field_name in columns:
        return columns[field_name]
    row_field = _ROW_FIELDS.get(field_name, field_name)
    return columns.get(row_field, row_field)


def _line_problem(line: int, error: InvalidInputError, columns: Mapping[str, str]) -> LineProblem:
    if error.message_id == REQUIRED_MESSAGE and error.field in ("full_name", "name"):
        return LineProblem(line, _NO_PERSON_NAME if error.field == "full_name" else _NO_COMPANY_NAME)
    message = _LINE_MESSAGES.get(error.message_id, _VALUE_REFUSED)
    return LineProblem(line, message, {**error.fields, "column": _column(error.field, columns)})


def _batch_refused(
    lines: list[int], error: InvalidInputError, columns: Mapping[str, str], size: int
) -> list[LineProblem]:
    fields = {"size": size, "column": _column(error.field, columns)}
    return [LineProblem(line, _BATCH_REFUSED, fields) for line in lines]
