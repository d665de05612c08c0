"""CSV files for spreadsheets: the one way every export of the console (and the unmatched export of the API and
the command line) writes them. No web framework is imported (the command line uses it too).

Contract of every file written here:

- UTF-8 with a byte order mark, so that Excel reads the accents (without it, it guesses a legacy code page);
- a header row: message ids translated into the reader's ``locale`` (or, with ``locale=None``, written as given:
  column names for programs that read them by name, as the API's and the command's unmatched export, or a header
  the caller put in the reader's language itself, as a report's value column naming the currency);
- every cell, header included, passed through :func:`~salesbridge.domain.csv_rows.neutralise_for_spreadsheet`
  (OWASP, CSV injection: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
  leading ``'``), then quoted by :mod:`csv` as needed; ``None`` is an empty cell, other values their ``str``;
- rows are written as they come (an iterator is read once, never held), into the caller's binary file or a spooled
  one (:func:`spooled_spreadsheet_csv`) that a response then streams a chunk at a time (:func:`chunks`).
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Final

from salesbridge.domain.csv_rows import neutralise_for_spreadsheet
from salesbridge.i18n import translate

__all__ = [
    "BYTE_ORDER_MARK",
    "CHUNK_BYTES",
    "MEDIA_TYPE",
    "SPOOL_BYTES",
    "chunks",
    "spooled_spreadsheet_csv",
    "spreadsheet_csv_bytes",
    "write_spreadsheet_csv",
]

BYTE_ORDER_MARK: Final = "\ufeff"
MEDIA_TYPE: Final = "text/csv; charset=utf-8"
SPOOL_BYTES: Final = 1024 * 1024
"""A spooled export stays in memory up to this size, then spills to a temporary file."""
CHUNK_BYTES: Final = 64 * 1024
"""The size of the pieces a spooled export is streamed in."""


def write_spreadsheet_csv(
    out: IO[bytes], header: Sequence[str], rows: Iterable[Iterable[object]], *, locale: str | None
) -> int:
    """Write ``header`` and ``rows`` to ``out`` as CSV for a spreadsheet (see the module); the number of rows
    written. ``out`` stays open (it is the caller's); an exception raised by ``rows`` propagates after what was
    written before it."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        text.write(BYTE_ORDER_MARK)
        writer = csv.writer(text)
        names = header if locale is None else [translate(name, locale) for name in header]
        writer.writerow([neutralise_for_spreadsheet(name) for name in names])
        written = 0
        for row in rows:
            writer.writerow([neutralise_for_spreadsheet("" if cell is None else str(cell)) for cell in row])
            written += 1
        text.flush()
    finally:
        text.detach()
    return written


def spreadsheet_csv_bytes(header: Sequence[str], rows: Iterable[Iterable[object]], *, locale: str | None) -> bytes:
    """:func:`write_spreadsheet_csv` in memory, for an export of a bounded size (a page's rows)."""
    out = io.BytesIO()
    write_spreadsheet_csv(out, header, rows, locale=locale)
    return out.getvalue()


def spooled_spreadsheet_csv(
    header: Sequence[str], rows: Iterable[Iterable[object]], *, locale: str | None
) -> IO[bytes]:
    """:func:`write_spreadsheet_csv` into a spooled file, rewound: memory stays bounded whatever the count, and a
    unit of work ``rows`` reads from can end before a client downloads the file. The caller closes it
    (:func:`chunks` does); it is closed here when ``rows`` raises."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned open, closed by chunks()
    try:
        write_spreadsheet_csv(spool, header, rows, locale=locale)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def chunks(spool: IO[bytes]) -> Iterator[bytes]:
    """The spooled file's bytes, a chunk at a time; closes it at the end (or when the client goes away)."""
    try:
        while chunk := spool.read(CHUNK_BYTES):
            yield chunk
    finally:
        spool.close()
