"""Reading an uploaded CSV of people or companies into validated rows and per-line problems. Pure: no store, no
I/O beyond reading the bytes or the binary stream it is given (stdlib ``csv``, ``codecs`` and ``io`` only).

Contract (docs/admin.md, "Loading people and companies from CSV"):

- The header is the first non-empty line. Column names are matched ignoring case, spaces, ``_``, ``-`` and ``.``,
  with common aliases (:data:`PEOPLE_COLUMNS`, :data:`COMPANY_COLUMNS`). Only ``id`` is required: without it the
  file is refused (:class:`~salesbridge.errors.InvalidRequestError`, nothing is read). Unknown columns are ignored and
  reported once as a warning; so is a second column giving the same single-valued field. Every email column adds to
  ``emails`` and every phone column to ``phones`` (a cell may hold several, separated by ``;``).
- Encoding: a UTF-8 byte order mark means UTF-8. Otherwise the first :data:`SAMPLE_BYTES` are decoded as UTF-8
  strictly; if that works the file is UTF-8 (a later line that is not UTF-8 is refused on its own), else Latin-1.
  A file with many NUL bytes or other control characters in that sample (UTF-16 without a mark, a spreadsheet's binary
  format, an image) or with a UTF-16/32 mark is refused as a whole.
- Line numbers are physical lines of the file, the header's line counting as 1, so a quoted cell spanning lines
  moves the following numbers on. Lines end with ``\\n`` or ``\\r\\n``.
- Bad lines are left out with their line number and a reason (a message id with fields, translated at the edge)
  while the good lines load: broken quoting; a quote still open after :data:`MAX_RECORD_LINES` lines or
  :data:`MAX_RECORD_BYTES` bytes (taken as unterminated: its first line is refused and reading resumes on the next
  line, so a stray quote never swallows the rest of the file); a line longer than :data:`MAX_RECORD_BYTES` (skipped
  without being held in memory); a cell longer than :data:`MAX_CELL_CHARS` characters; more cells than the header
  has columns (fewer are fine: the missing cells are empty); no id; an id already given on an earlier line (the
  first line wins, the later one is refused); a NUL character. Blank lines (or lines of empty cells) are skipped.
- Cells are kept as they came (stripped of surrounding spaces). Cells a spreadsheet would run as formulas are kept
  as text and named in the row's ``formula_fields``; exports pass every cell through
  :func:`neutralise_for_spreadsheet`.
- Memory is bounded by one record (at most :data:`MAX_RECORD_LINES` lines of :data:`MAX_RECORD_BYTES` bytes in all),
  one read chunk, one batch and the ids seen so far (to refuse duplicates: about 100 bytes per row).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import BinaryIO, Final, Generic, TypeVar

from salesbridge.errors import InvalidRequestError
from salesbridge.message_ids import N_

__all__ = [
    "COMPANY_COLUMNS",
    "DEFAULT_BATCH_SIZE",
    "LINE_PROBLEM",
    "MAX_CELL_CHARS",
    "MAX_COLUMNS",
    "MAX_RECORD_BYTES",
    "MAX_RECORD_LINES",
    "PEOPLE_COLUMNS",
    "SAMPLE_BYTES",
    "CompanyRow",
    "CsvBatch",
    "CsvKind",
    "CsvReading",
    "LineProblem",
    "PersonRow",
    "looks_like_formula",
    "neutralise_for_spreadsheet",
    "read_company_csv",
    "read_people_csv",
]

MAX_CELL_CHARS: Final = 10_000
"""Longest cell kept, in characters (after stripping spaces); a line with a longer cell is refused."""
MAX_RECORD_BYTES: Final = 1_000_000
"""Longest line, and longest record (a quoted cell may span lines), in bytes of the file."""
MAX_RECORD_LINES: Final = 100
"""Most physical lines one record may span; a quote still open past them is taken as unterminated."""
MAX_COLUMNS: Final = 200
"""Most columns a header may have."""
SAMPLE_BYTES: Final = 64 * 1024
"""How much of the file decides its encoding."""
DEFAULT_BATCH_SIZE: Final = 1_000
"""Rows per batch unless the caller asks otherwise."""
_CHUNK_BYTES: Final = 64 * 1024

LINE_PROBLEM: Final = N_("Line {line}: {reason}")
"""How the edges show a :class:`LineProblem`: ``reason`` is its message, translated and formatted first."""

_NO_ID: Final = N_("The line has no id.")
_DUPLICATE_ID: Final = N_("The id {id} is already on line {first_line}; only that line is loaded.")
_CELL_TOO_LONG: Final = N_("The {column} cell is longer than {limit} characters.")
_LINE_TOO_LONG: Final = N_("The line is longer than {limit} bytes.")
_TOO_MANY_CELLS: Final = N_("The line has {count} cells but the header has {columns} columns.")
_UNTERMINATED_QUOTE: Final = N_(
    "A quote opened on this line is not closed within {lines} lines; the line was left out and reading went on "
    "with the next line."
)
_BROKEN_QUOTING: Final = N_("The quoting of the line is broken (a quote inside a cell must be doubled).")
_NOT_UTF8: Final = N_("The line is not valid UTF-8, unlike the rest of the file.")
_BINARY: Final = N_("The line contains a NUL character (binary data).")
_UNKNOWN_COLUMNS: Final = N_("Columns ignored (not recognised): {columns}.")
_REPEATED_COLUMNS: Final = N_("Columns ignored (an earlier column gives the same field): {columns}.")

_NO_ID_COLUMN: Final = N_(
    "The file has no id column. Add a column named id (or external_id) that identifies each row, then load it again."
)
_NOT_TEXT: Final = N_(
    "The file is not text in UTF-8 or Latin-1 (it may be UTF-16 or a spreadsheet file). Save it as CSV UTF-8 and "
    "load it again."
)
_NO_HEADER: Final = N_("The file is empty: it has no header line.")
_TOO_MANY_COLUMNS: Final = N_("The header has {count} columns; at most {limit} are read.")
_BAD_HEADER: Final = N_("The header (line {line}) cannot be read: check its quoting, length and encoding.")


class CsvKind(StrEnum):
    """What a file holds."""

    PEOPLE = "people"
    COMPANIES = "companies"


def _normalised(name: str) -> str:
    return " ".join(re.sub(r"[_\-.]", " ", name.strip().lower()).split())


def _aliases(table: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    return {_normalised(alias): field_name for field_name, aliases in table.items() for alias in aliases}


PEOPLE_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    "external_id": ("id", "external_id", "external id", "record id"),
    "full_name": ("full_name", "name", "full name", "contact name", "person"),
    "first_name": ("first_name", "firstname", "given name", "forename"),
    "last_name": ("last_name", "lastname", "surname", "family name"),
    "emails": ("email", "e-mail", "email address", "e-mail address", "emails", "work email"),
    "phones": ("phone", "telephone", "mobile", "phone number", "mobile phone", "phones", "tel"),
    "job_title": ("job_title", "title", "headline", "position"),
    "company_name": ("company_name", "company", "organization", "organisation", "employer"),
    "company_external_id": ("company_external_id", "company id", "company external id", "employer id"),
    "linkedin_url": ("linkedin_url", "profile url", "linkedin", "linkedin profile"),
    "street": ("street", "address", "street address"),
    "city": ("city", "town"),
    "postcode": ("postcode", "zip", "postal code", "zip code", "post code"),
    "region": ("region", "state", "province", "county"),
    "country": ("country",),
}
"""Person fields → the column names read for them (matched by :func:`_normalised` form)."""

COMPANY_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    "external_id": ("id", "external_id", "external id", "record id"),
    "name": ("name", "company name", "company", "account name", "organization", "organisation"),
    "website": ("website", "domain", "url", "web site"),
    "phones": ("phone", "telephone", "phone number", "phones", "tel"),
    "industry": ("industry",),
    "employee_count": ("employee_count", "employees", "size", "number of employees", "headcount"),
    "street": ("street", "address", "street address"),
    "city": ("city", "town"),
    "postcode": ("postcode", "zip", "postal code", "zip code", "post code"),
    "region": ("region", "state", "province", "county"),
    "country": ("country",),
    "linkedin_url": ("linkedin_url", "profile url", "linkedin", "linkedin profile"),
}
"""Company fields → the column names read for them (matched by :func:`_normalised` form)."""

_MULTI_VALUED: Final = frozenset({"emails", "phones"})
_ALIASES: Final = {CsvKind.PEOPLE: _aliases(PEOPLE_COLUMNS), CsvKind.COMPANIES: _aliases(COMPANY_COLUMNS)}


@dataclass(frozen=True)
class PersonRow:
    """A person as a CSV line gives it: every value optional except the id, as text (stripped; empty is None)."""

    line: int
    external_id: str
    full_name: str | None = None
    """One column holding the whole name (most exports have one); taken as is, first and last name when given."""
    first_name: str | None = None
    last_name: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    job_title: str | None = None
    company_name: str | None = None
    company_external_id: str | None = None
    """The ``id`` of the person's current company in the workspace's companies (its employer), when the file knows
    it."""
    linkedin_url: str | None = None
    street: str | None = None
    city: str | None = None
    postcode: str | None = None
    region: str | None = None
    country: str | None = None
    formula_fields: tuple[str, ...] = ()
    """Fields holding a value a spreadsheet would run as a formula (:func:`looks_like_formula`); kept as text."""


@dataclass(frozen=True)
class CompanyRow:
    """A company as a CSV line gives it: every value optional except the id, as text (stripped; empty is None)."""

    line: int
    external_id: str
    name: str | None = None
    website: str | None = None
    phones: tuple[str, ...] = ()
    industry: str | None = None
    employee_count: str | None = None
    street: str | None = None
    city: str | None = None
    postcode: str | None = None
    region: str | None = None
    country: str | None = None
    linkedin_url: str | None = None
    formula_fields: tuple[str, ...] = ()
    """Fields holding a value a spreadsheet would run as a formula (:func:`looks_like_formula`); kept as text."""


RowT = TypeVar("RowT", PersonRow, CompanyRow)


@dataclass(frozen=True)
class LineProblem:
    """Why a line was left out (or, for warnings, what was ignored).

    Attributes:
        line: Physical line of the file (the header's is 1; a quoted cell spanning lines counts each of them).
        message: English message id with ``{name}`` fields; translate it at the edge.
        fields: The fields' values.
    """

    line: int
    message: str
    fields: Mapping[str, object] = field(default_factory=dict)

    def english(self) -> str:
        """The reason in English (for logs; people read it translated)."""
        return self.message.format(**self.fields)


@dataclass(frozen=True)
class CsvBatch(Generic[RowT]):
    """Up to a batch size of good rows and the problems of the lines read with them, in line order."""

    rows: tuple[RowT, ...]
    problems: tuple[LineProblem, ...]
    bytes_read: int
    """Bytes of the file read so far (for a progress bar)."""


def looks_like_formula(value: str) -> bool:
    """True when a spreadsheet would run ``value`` as a formula: it starts with ``=``, ``@``, a tab or a carriage
    return, or with ``+``/``-`` followed by more than a number or a phone number (``+34 600 000 000`` is data)."""
    if not value:
        return False
    if value[0] in "=@\t\r":
        return True
    return value[0] in "+-" and re.fullmatch(r"[+\-]?[0-9 ().\-/]*", value) is None


def neutralise_for_spreadsheet(value: str) -> str:
    """``value`` made safe for a CSV a spreadsheet opens (OWASP, CSV injection): a value starting with ``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return gets a leading ``'`` so it shows as text; others are unchanged. The
    CSV writer still quotes the cell (and doubles its quotes)."""
    return "'" + value if value and value[0] in "=+-@\t\r" else value


class CsvReading(Generic[RowT]):
    """An opened CSV: the header is read and checked; :meth:`batches` reads the rest once, streaming.

    Attributes:
        kind: People or companies.
        encoding: ``"utf-8"`` or ``"latin-1"``.
        columns: Each read column's header (as in the file) → the field it fills.
        warnings: Columns ignored, on line of the header.
        bytes_read, lines_read, rows_read, lines_refused: Counters, up to date after each batch.
    """

    def __init__(
        self,
        kind: CsvKind,
        source: bytes | BinaryIO,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.kind = kind
        self._batch_size = batch_size
        self._on_progress = on_progress
        self._stream: BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else source
        self.bytes_read = 0
        self.lines_read = 0
        self.rows_read = 0
        self.lines_refused = 0
        self._started = False
        sample = self._stream.read(SAMPLE_BYTES)
        self._count(len(sample))
        self.encoding, sample = _encoding_of(sample)
        self._records = self._assembled(self._lines(sample))
        header = self._header()
        self._fields, self.columns, self.warnings = _header_fields(kind, header)
        self._names = [name.strip() for name in header[1]]
        self._width = len(header[1])
        self._seen: dict[str, int] = {}

    # Reading bytes into physical lines (bounded) ---------------------------------------------------------------

    def _count(self, size: int) -> None:
        self.bytes_read += size
        if self._on_progress is not None:
            self._on_progress(self.bytes_read)

    def _lines(self, first: bytes) -> Iterator[bytes | None]:
        """Each physical line without its ``\\n`` (a ``\\r`` before it dropped), or None for a line longer than
        :data:`MAX_RECORD_BYTES` (skipped, never held)."""
        pending = b""
        dropping = False
        chunk = first
        while chunk:
            start = 0
            while (end := chunk.find(b"\n", start)) >= 0:
                piece = chunk[start:end]
                if dropping or len(pending) + len(piece) > MAX_RECORD_BYTES:
                    yield None
                else:
                    line = pending + piece
                    yield line[:-1] if line.endswith(b"\r") else line
                pending, dropping, start = b"", False, end + 1
            if not dropping:
                rest = chunk[start:]
                if len(pending) + len(rest) > MAX_RECORD_BYTES:
                    pending, dropping = b"", True
                else:
                    pending += rest
            chunk = self._stream.read(_CHUNK_BYTES)
            self._count(len(chunk))
        if dropping:
            yield None
        elif pending:
            yield pending[:-1] if pending.endswith(b"\r") else pending

    def _assembled(self, lines: Iterator[bytes | None]) -> Iterator[tuple[int, list[str] | LineProblem]]:
        """Records as (first line, cells) or (line, problem); quotes are balanced over lines. A quote still open
        past the limits, or a record of several lines that does not parse, gives its first line back as a problem
        and reading resumes on the next line (so one stray quote costs one line)."""
        numbered = enumerate(lines, start=1)
        pushed_back: deque[tuple[int, bytes | None]] = deque()

        def next_line() -> tuple[int, bytes | None] | None:
            if pushed_back:
                return pushed_back.popleft()
            return next(numbered, None)

        while (first := next_line()) is not None:
            number, line = first
            self.lines_read = max(self.lines_read, number)
            if line is None:
                yield number, LineProblem(number, _LINE_TOO_LONG, {"limit": MAX_RECORD_BYTES})
                continue
            parts = [line]
            size, quotes = len(line), line.count(b'"')
            taken: list[tuple[int, bytes | None]] = []
            while quotes % 2:
                following = next_line()
                if following is None:
                    break
                taken.append(following)
                if following[1] is None or len(taken) >= MAX_RECORD_LINES:
                    break
                size += len(following[1]) + 1
                if size > MAX_RECORD_BYTES:
                    break
                parts.append(following[1])
                quotes += following[1].count(b'"')
            if quotes % 2:
                pushed_back.extendleft(reversed(taken))
                yield number, LineProblem(number, _UNTERMINATED_QUOTE, {"lines": MAX_RECORD_LINES})
                continue
            self.lines_read = max(self.lines_read, number + len(taken))
            try:
                text = "\n".join(part.decode(self.encoding) for part in parts)
            except UnicodeDecodeError:
                yield number, LineProblem(number, _NOT_UTF8)
                continue
            if "\x00" in text:
                yield number, LineProblem(number, _BINARY)
                continue
            cells = _cells(text)
            if cells is None and taken:
                pushed_back.extendleft(reversed(taken))
            yield number, LineProblem(number, _BROKEN_QUOTING) if cells is None else cells

    # The header ----------------------------------------------------------------------------------------------

    def _header(self) -> tuple[int, list[str]]:
        for number, record in self._records:
            if isinstance(record, LineProblem):
                raise InvalidRequestError(_BAD_HEADER, line=number)
            cells = record
            if any(cell.strip() for cell in cells):
                if len(cells) > MAX_COLUMNS:
                    raise InvalidRequestError(_TOO_MANY_COLUMNS, count=len(cells), limit=MAX_COLUMNS)
                return number, cells
        raise InvalidRequestError(_NO_HEADER)

    # Rows ----------------------------------------------------------------------------------------------------

    def batches(self) -> Iterator[CsvBatch[RowT]]:
        """The good rows and the problems of the rest, ``batch_size`` rows at a time, in line order; a last batch
        may hold fewer rows (or only problems). Reads the file once: a second call raises ``RuntimeError``."""
        if self._started:
            raise RuntimeError("a CSV is read once")
        self._started = True
        rows: list[RowT] = []
        problems: list[LineProblem] = []
        for number, record in self._records:
            outcome = record if isinstance(record, LineProblem) else self._row(number, record)
            if outcome is None:
                continue
            if isinstance(outcome, LineProblem):
                self.lines_refused += 1
                problems.append(outcome)
                continue
            self.rows_read += 1
            rows.append(outcome)
            if len(rows) >= self._batch_size:
                yield CsvBatch(tuple(rows), tuple(problems), self.bytes_read)
                rows, problems = [], []
        if rows or problems:
            yield CsvBatch(tuple(rows), tuple(problems), self.bytes_read)

    def _row(self, number: int, cells: list[str]) -> RowT | LineProblem | None:
        if not any(cell.strip() for cell in cells):
            return None
        if len(cells) > self._width:
            return LineProblem(number, _TOO_MANY_CELLS, {"count": len(cells), "columns": self._width})
        values: dict[str, object] = {}
        formulas: list[str] = []
        for index, cell in enumerate(cells):
            field_name = self._fields[index]
            if field_name is None:
                continue
            value = cell.strip()
            if len(value) > MAX_CELL_CHARS:
                return LineProblem(number, _CELL_TOO_LONG, {"column": self._names[index], "limit": MAX_CELL_CHARS})
            if not value:
                continue
            if field_name in _MULTI_VALUED:
                found = [part.strip() for part in value.split(";") if part.strip()]
                earlier = values.get(field_name, ())
                assert isinstance(earlier, tuple)
                values[field_name] = earlier + tuple(part for part in found if part not in earlier)
                found_formula = any(looks_like_formula(part) for part in found)
            else:
                values[field_name] = value
                found_formula = looks_like_formula(value)
            if found_formula and field_name not in formulas:
                formulas.append(field_name)
        external_id = values.pop("external_id", None)
        if not isinstance(external_id, str):
            return LineProblem(number, _NO_ID)
        first_line = self._seen.setdefault(external_id, number)
        if first_line != number:
            return LineProblem(number, _DUPLICATE_ID, {"id": external_id, "first_line": first_line})
        row_type = PersonRow if self.kind is CsvKind.PEOPLE else CompanyRow
        row: RowT = row_type(line=number, external_id=external_id, formula_fields=tuple(formulas), **values)  # type: ignore[arg-type,assignment]
        return row


def _cells(text: str) -> list[str] | None:
    """The cells of one record, or None when its quoting is broken."""
    try:
        return next(csv.reader((text,), strict=True), [])
    except csv.Error:
        return None


def _encoding_of(sample: bytes) -> tuple[str, bytes]:
    """The file's encoding judged on its first bytes, and those bytes without a UTF-8 byte order mark; raises
    :class:`InvalidRequestError` for a file that is not UTF-8 or Latin-1 text."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8", sample[len(codecs.BOM_UTF8) :]
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InvalidRequestError(_NOT_TEXT)
    # Text has next to no control characters; UTF-16 text has a NUL every other byte, binary formats have many.
    controls = sum(sample.count(bytes([code])) for code in range(32) if code not in (9, 10, 13))
    if controls * 100 > len(sample):
        raise InvalidRequestError(_NOT_TEXT)
    try:
        # A multi-byte character cut at the end of the sample is not an error: decode incrementally.
        codecs.getincrementaldecoder("utf-8")("strict").decode(sample, final=len(sample) < SAMPLE_BYTES)
    except UnicodeDecodeError:
        return "latin-1", sample
    return "utf-8", sample


def _header_fields(
    kind: CsvKind, header: tuple[int, list[str]]
) -> tuple[list[str | None], dict[str, str], tuple[LineProblem, ...]]:
    number, names = header
    aliases = _ALIASES[kind]
    fields: list[str | None] = []
    columns: dict[str, str] = {}
    unknown: list[str] = []
    repeated: list[str] = []
    given: set[str] = set()
    for name in names:
        field_name = aliases.get(_normalised(name))
        if field_name is None:
            if name.strip():
                unknown.append(name.strip())
        elif field_name in given and field_name not in _MULTI_VALUED:
            repeated.append(name.strip())
            field_name = None
        else:
            given.add(field_name)
            columns[name] = field_name
        fields.append(field_name)
    if "external_id" not in given:
        raise InvalidRequestError(_NO_ID_COLUMN)
    warnings = []
    if unknown:
        warnings.append(LineProblem(number, _UNKNOWN_COLUMNS, {"columns": ", ".join(unknown)}))
    if repeated:
        warnings.append(LineProblem(number, _REPEATED_COLUMNS, {"columns": ", ".join(repeated)}))
    return fields, columns, tuple(warnings)


def read_people_csv(
    source: bytes | BinaryIO,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: Callable[[int], None] | None = None,
) -> CsvReading[PersonRow]:
    """Open a CSV of people (see the module's contract). ``on_progress`` gets the bytes read so far after each
    read. Raises :class:`InvalidRequestError` (nothing read) when the file is not UTF-8 or Latin-1 text, is empty,
    has no id column or more than :data:`MAX_COLUMNS` columns, or its header line cannot be read."""
    return CsvReading(CsvKind.PEOPLE, source, batch_size=batch_size, on_progress=on_progress)


def read_company_csv(
    source: bytes | BinaryIO,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: Callable[[int], None] | None = None,
) -> CsvReading[CompanyRow]:
    """Open a CSV of companies; otherwise as :func:`read_people_csv`."""
    return CsvReading(CsvKind.COMPANIES, source, batch_size=batch_size, on_progress=on_progress)
