"""The one CSV writer of the exports (:mod:`salesbridge.web.spreadsheet_csv`): byte order mark, every cell
neutralised for spreadsheets, accents kept, the header translated for a reader and kept as given for programs."""

from __future__ import annotations

import csv
import io

from salesbridge.web.spreadsheet_csv import chunks, spooled_spreadsheet_csv, spreadsheet_csv_bytes

RISKY = ('=HYPERLINK("http://evil.test","x")', "+1+cmd", "-2+3", "@SUM(A1:A9)", "\tTab", "\rReturn")
ACCENTED = "Begoña Muñoz-Peñalver"


def _read(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_the_writer_neutralises_every_cell_and_translates_only_for_a_reader() -> None:
    body = spreadsheet_csv_bytes(["Name", "Owner"], [[risky, None] for risky in RISKY] + [[ACCENTED, 7]], locale="es")
    rows = _read(body)
    assert rows[0] == ["Nombre", "Propietario"]
    assert [row[0] for row in rows[1:-1]] == ["'" + risky for risky in RISKY]
    assert rows[-1] == [ACCENTED, "7"]
    assert _read(spreadsheet_csv_bytes(["crm_id"], [], locale=None)) == [["crm_id"]]


def test_a_spooled_export_streams_in_chunks_what_the_writer_writes() -> None:
    rows = [[f"{ACCENTED} {n}", "=1+1"] for n in range(5_000)]  # past the chunk size
    spool = spooled_spreadsheet_csv(["Name", "Owner"], iter(rows), locale="en")
    streamed = b"".join(chunks(spool))
    assert spool.closed
    assert streamed == spreadsheet_csv_bytes(["Name", "Owner"], rows, locale="en")
    assert _read(streamed)[1] == [f"{ACCENTED} 0", "'=1+1"]
