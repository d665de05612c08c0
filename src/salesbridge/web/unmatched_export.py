"""The unmatched CRM records of a table as a CSV file a spreadsheet opens safely, for the API, the console and the
command line (no web framework is imported): UTF-8 with a byte order mark (so spreadsheets read the accents), a
header of :data:`~salesbridge.services.matching.UNMATCHED_COLUMNS`, every cell passed through
:func:`~salesbridge.domain.csv_rows.neutralise_for_spreadsheet`, every unmatched record (no cap)."""

from __future__ import annotations

import csv
import io
import tempfile
import uuid
from collections.abc import Iterator
from typing import IO, Final

from salesbridge.domain.csv_rows import neutralise_for_spreadsheet
from salesbridge.services.matching import UNMATCHED_COLUMNS, unmatched_rows
from salesbridge.services.ports import StoreAccess

SPOOL_BYTES: Final = 1024 * 1024
"""An export stays in memory up to this size, then spills to a temporary file."""
CHUNK_BYTES: Final = 64 * 1024


def write_unmatched_csv(store: StoreAccess, organization_id: uuid.UUID, table: str, out: IO[bytes]) -> int:
    """Write every unmatched record of ``table`` (account, contact or lead) to ``out`` as CSV (see the module);
    the number of records written. Reads in one read-only unit of work.

    Raises:
        InvalidRequestError: ``table`` is not account, contact or lead.
    """
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        columns = UNMATCHED_COLUMNS.get(table, ())
        written = 0
        with store(organization_id, read_only=True) as uow:
            rows = unmatched_rows(uow, table)
            first = next(rows, None)  # a generator: another table is refused here, before anything is written
            text.write("\ufeff")
            writer = csv.writer(text)
            writer.writerow(columns)
            for row in _chain(first, rows):
                writer.writerow([neutralise_for_spreadsheet(row.get(column, "")) for column in columns])
                written += 1
        text.flush()
    finally:
        text.detach()  # ``out`` stays open: it is the caller's
    return written


def _chain(first: dict[str, str] | None, rest: Iterator[dict[str, str]]) -> Iterator[dict[str, str]]:
    if first is not None:
        yield first
        yield from rest


def spooled_unmatched_csv(store: StoreAccess, organization_id: uuid.UUID, table: str) -> IO[bytes]:
    """:func:`write_unmatched_csv` into a spooled file, rewound: memory stays bounded whatever the count, and no
    transaction stays open while a client downloads it. The caller closes it (:func:`chunks` does)."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned open, closed by chunks()
    try:
        write_unmatched_csv(store, organization_id, table, spool)
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
