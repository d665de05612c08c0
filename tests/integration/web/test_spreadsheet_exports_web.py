"""Every CSV export of the console is written one way (:mod:`salesbridge.web.spreadsheet_csv`), on SQLite and
PostgreSQL: a list, a report, the audit log and the unmatched CRM records each start with the UTF-8 byte order mark,
neutralise every cell a spreadsheet would run (``=HYPERLINK(…)``, ``+``, ``-``, ``@``, a tab, a carriage return),
keep the accents, and name their columns in the reader's language (Spanish here)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable

import pytest
from tests.integration.web.conftest import ACME_ADMIN, ACME_SELLER, Browser, Console, Person

from salesbridge.domain.sync_runs import RecordRow
from salesbridge.domain.workspace import SeatState

OpenBrowser = Callable[[Person | None], Browser]

BOM = "\ufeff".encode()
RISKY = ('=HYPERLINK("http://evil.test","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\tTab", "\rReturn")
"""Cells a spreadsheet would run as formulas: each must come back with a leading ``'``."""
ACCENTED = "Begoña Muñoz-Peñalver"
OWNER = "5a000000-0000-0000-0000-0000000000aa"


def _leads(number: int) -> str:
    return f"1ead0000-0000-0000-0000-{number:012d}"


def _seed(console: Console) -> uuid.UUID:
    """Leads named by each of :data:`RISKY` and :data:`ACCENTED` (owned by "Ñandú Owner", matched to nobody) in the
    seller's list "Q1"; seat holders and audit entries named the same way. Returns the list's id."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    names = (*RISKY, ACCENTED)
    with console.store(organization_id) as uow:
        uow.crm_records.upsert_many("systemuser", [RecordRow(OWNER, "Ñandú Owner", None, None, 0, {})], generation=1)
        uow.crm_records.upsert_many(
            "lead", [RecordRow(_leads(n), name, OWNER, None, 0, {}) for n, name in enumerate(names)], generation=1
        )
        seller = uow.users.find_by_email(ACME_SELLER.email)
        assert seller is not None
        q1 = uow.lists.create_manual(seller.id, "Q1")
        for n in range(len(names)):
            uow.lists.add_item(q1.id, "lead", _leads(n))
        for n, name in enumerate(names):
            user = uow.users.add(email=f"risky{n}@acme.test", display_name=name)
            uow.seats.add(user_id=user.id, state=SeatState.ACTIVE, assigned_by=ACME_ADMIN.email)
            uow.audit.record(actor=name, action="list.created", details={"name": name})
        uow.commit()
    return q1.id


def _read(body: bytes) -> list[list[str]]:
    """The rows of a CSV download, after checking that it starts with the byte order mark."""
    assert body.startswith(BOM), body[:20]
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def _assert_neutralised(rows: list[list[str]]) -> None:
    cells = [cell for row in rows for cell in row]
    for risky in RISKY:
        assert "'" + risky in cells, risky
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert any(ACCENTED in cell for cell in cells)


@pytest.fixture
def spanish_admin(console: Console, browser: OpenBrowser) -> Browser:
    admin = browser(ACME_ADMIN)
    assert admin.client.put("/api/v1/me/locale", json={"locale": "es"}, headers=admin.csrf_headers()).is_success
    return admin


def test_a_list_export_is_for_spreadsheets_in_the_readers_language(console: Console, browser: OpenBrowser) -> None:
    q1 = _seed(console)
    seller = browser(ACME_SELLER)  # Spanish

    rows = _read(seller.client.get(f"/lists/{q1}/export.csv").content)

    assert rows[0] == ["Nombre", "Tipo", "Propietario", "Estado", "Id. del CRM", "Añadidos"]
    _assert_neutralised(rows)
    assert rows[-1][1:4] == ["Cliente potencial", "Ñandú Owner", "Aún sin coincidencia"]


def test_a_report_export_is_for_spreadsheets_in_the_readers_language(console: Console, spanish_admin: Browser) -> None:
    _seed(console)

    download = spanish_admin.client.get("/admin/reports/seats.csv")

    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    rows = _read(download.content)  # was: no byte order mark, and Excel showed "BegoÃ±a"
    assert rows[0] == [
        "Titular de licencia",
        "Correo electrónico",
        "Sincronización del CRM",
        "Actividades en los últimos 30 días",
        "Última actividad",
    ]
    _assert_neutralised(rows)


def test_the_audit_log_export_is_for_spreadsheets_in_the_readers_language(
    console: Console, spanish_admin: Browser
) -> None:
    _seed(console)

    rows = _read(spanish_admin.client.get("/admin/audit/export.csv", params={"action": "list.created"}).content)

    assert rows[0] == ["Cuándo (UTC)", "Quién", "Acción", "Qué", "Detalles"]
    assert len(rows) == 1 + len(RISKY) + 1
    _assert_neutralised([row[1:2] for row in rows[1:]])  # the actors
    assert all(row[4].startswith("Nombre: ") for row in rows[1:])  # a labelled detail: its label first


def test_the_unmatched_export_names_its_columns_in_the_readers_language_in_the_console_only(
    console: Console, spanish_admin: Browser
) -> None:
    _seed(console)

    rows = _read(spanish_admin.client.get("/admin/matching/unmatched.csv", params={"table": "lead"}).content)
    api = _read(spanish_admin.client.get("/api/v1/orgs/acme/matching/unmatched", params={"table": "lead"}).content)

    assert rows[0] == [
        "Id. del CRM",
        "Nombre",
        "Correo electrónico",
        "Cargo",
        "Empresa",
        "Teléfono",
        "Ciudad",
        "País",
        "Propietario",
        "Enlace al registro del CRM",
    ]
    _assert_neutralised(rows)
    assert api[0][:2] == ["crm_id", "name"]  # programs read the API's file by its column names
    assert api[1:] == rows[1:]
