"""The unmatched CRM records of a table as a CSV file a spreadsheet opens safely
(:mod:`salesbridge.web.spreadsheet_csv`), for the API, the console and the command line (no web framework is
imported): every unmatched record (no cap), a column per :data:`~salesbridge.services.matching.UNMATCHED_COLUMNS`.
The console's download names the columns in the reader's language; the API's and the command's keep the column
names (``crm_id``, ``name``…) that programs read them by."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Final

from salesbridge.i18n import N_
from salesbridge.services.matching import UNMATCHED_COLUMNS, unmatched_rows
from salesbridge.services.ports import StoreAccess, UnitOfWork
from salesbridge.web.spreadsheet_csv import spooled_spreadsheet_csv, write_spreadsheet_csv

UNMATCHED_HEADERS: Final[Mapping[str, str]] = {
    "crm_id": N_("CRM id"),
    "name": N_("Name"),
    "website": N_("Website"),
    "email": N_("Email"),
    "job_title": N_("Job title"),
    "company": N_("Company"),
    "phone": N_("Phone"),
    "city": N_("City"),
    "country": N_("Country"),
    "owner": N_("Owner"),
    "url": N_("Link to the CRM record"),
}
"""Each column's header for a reader (a message id), by column name."""


def write_unmatched_csv(
    store: StoreAccess, organization_id: uuid.UUID, table: str, out: IO[bytes], *, locale: str | None = None
) -> int:
    """Write every unmatched record of ``table`` (account, contact or lead) to ``out`` as CSV (see the module):
    the header in ``locale``, or the column names when None; the number of records written. Reads in one read-only
    unit of work; another table is refused before anything is written.

    Raises:
        InvalidRequestError: ``table`` is not account, contact or lead.
    """
    with store(organization_id, read_only=True) as uow:
        rows = _rows(uow, table)
        return write_spreadsheet_csv(out, _header(table, locale), rows, locale=locale)


def spooled_unmatched_csv(
    store: StoreAccess, organization_id: uuid.UUID, table: str, *, locale: str | None = None
) -> IO[bytes]:
    """:func:`write_unmatched_csv` into a spooled file, rewound (:func:`~salesbridge.web.spreadsheet_csv.chunks`
    streams and closes it): memory stays bounded whatever the count, and no transaction stays open while a client
    downloads it.

    Raises:
        InvalidRequestError: ``table`` is not account, contact or lead.
    """
    with store(organization_id, read_only=True) as uow:
        rows = _rows(uow, table)
        return spooled_spreadsheet_csv(_header(table, locale), rows, locale=locale)


def _header(table: str, locale: str | None) -> Sequence[str]:
    columns = UNMATCHED_COLUMNS.get(table, ())
    return columns if locale is None else [UNMATCHED_HEADERS[column] for column in columns]


def _rows(uow: UnitOfWork, table: str) -> Iterator[list[str]]:
    """The records' cells; another table is refused here, before the caller writes anything."""
    rows = unmatched_rows(uow, table)
    first = next(rows, None)  # a generator: it checks the table when first read
    columns = UNMATCHED_COLUMNS[table]

    def cells() -> Iterator[list[str]]:
        if first is None:
            return
        yield [first.get(column, "") for column in columns]
        for row in rows:
            yield [row.get(column, "") for column in columns]

    return cells()
