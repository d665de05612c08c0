"""The audit log page (SQLite and PostgreSQL): actions by name and details as labelled values in the reader's
language, 50 entries a page, a filter by action and by person; administrators only."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta

from tests.integration.web.conftest import ACME_ADMIN, ACME_SELLER, GLOBEX_ADMIN, Browser, Console, Person

OpenBrowser = Callable[[Person | None], Browser]


def _record(console: Console, count: int) -> None:
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    for number in range(count):
        console.clock.advance(timedelta(seconds=1))
        with console.store(organization_id) as uow:
            uow.audit.record(
                actor="sync",
                action="crm.imported",
                details={"run_id": f"run-{number}", "rows_imported": 1200 + number, "rows_deleted": 0},
            )
            uow.commit()
    with console.store(organization_id) as uow:
        uow.audit.record(
            actor=ACME_ADMIN.email,
            action="crm.settings_changed",
            details={"auto_save_enabled": {"from": True, "to": False}},
        )
        uow.commit()


def _rows(html: str) -> list[str]:
    return re.findall(r'data-testid="audit-row" data-action="([^"]+)"', html)


def test_actions_and_details_read_naturally_in_the_readers_language(console: Console, browser: OpenBrowser) -> None:
    _record(console, 1)
    admin = browser(ACME_ADMIN)
    page = admin.client.get("/admin/audit")
    assert page.status_code == 200
    assert "CRM settings changed" in page.text
    assert "<dt>Auto-save</dt><dd>Yes → No</dd>" in page.text
    assert "<dt>Rows imported</dt><dd>1,200</dd>" in page.text
    assert "crm.settings_changed</code>" not in page.text  # a name, not the code
    assert "run-0" not in page.text  # internal ids are left out
    assert "{&#34;" not in page.text  # no JSON
    assert "Signed in" in page.text  # the sign-in of this test

    admin.client.post("/account/locale", data={**admin.csrf_data(), "locale": "es"})
    spanish = admin.client.get("/admin/audit").text
    assert "Configuración del CRM modificada" in spanish
    assert "<dt>Guardado automático</dt><dd>Sí → No</dd>" in spanish
    assert "Ha iniciado sesión" in spanish
    assert "El importador" in spanish


def test_fifty_entries_a_page_and_filters_by_action_and_person(console: Console, browser: OpenBrowser) -> None:
    _record(console, 60)
    admin = browser(ACME_ADMIN)
    with console.store(console.store.organization_id("acme")) as uow:  # type: ignore[arg-type]
        total = uow.audit.count()  # the seeding's entries, the 61 above and the sign-in
    assert 62 < total <= 100

    first = admin.client.get("/admin/audit")
    assert len(_rows(first.text)) == 50
    assert _rows(first.text)[0] == "user.signed_in"  # newest first
    assert f"{total} entries · page 1 of 2" in first.text
    assert 'href="/admin/audit?page=2&amp;action=&amp;actor=&amp;since=&amp;until="' in first.text
    second = admin.client.get("/admin/audit?page=2")
    assert len(_rows(second.text)) == total - 50
    assert 'data-testid="audit-older"' not in second.text
    assert 'data-testid="audit-newer"' in second.text
    past_the_end = admin.client.get("/admin/audit?page=9")
    assert "page 2 of 2" in past_the_end.text

    imports = admin.client.get("/admin/audit?action=crm.imported")
    assert set(_rows(imports.text)) == {"crm.imported"}
    assert "60 entries · page 1 of 2" in imports.text
    assert 'href="/admin/audit?page=2&amp;action=crm.imported&amp;actor=&amp;since=&amp;until="' in imports.text
    by_admin = admin.client.get("/admin/audit", params={"actor": ACME_ADMIN.email})
    assert set(_rows(by_admin.text)) == {"crm.settings_changed", "user.signed_in"}
    assert f'<option value="{ACME_ADMIN.email}" selected>' in by_admin.text
    nothing = admin.client.get("/admin/audit", params={"actor": ACME_ADMIN.email, "action": "crm.imported"})
    assert _rows(nothing.text) == []
    assert "No entry matches this filter." in nothing.text


def test_the_audit_log_is_for_the_organizations_administrators(console: Console, browser: OpenBrowser) -> None:
    _record(console, 1)
    assert browser(ACME_SELLER).client.get("/admin/audit").status_code == 403
    other = browser(GLOBEX_ADMIN).client.get("/admin/audit?action=crm.imported")
    assert other.status_code == 200
    assert _rows(other.text) == []


def _record_days(console: Console) -> None:
    """An entry a day for three days (the console's clock moved a day each time), then a list created by someone
    whose email a spreadsheet would take for a formula."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    for day in range(3):
        with console.store(organization_id) as uow:
            uow.audit.record(actor="sync", action="crm.imported", details={"rows_imported": day})
            uow.commit()
        console.clock.advance(timedelta(days=1))
    with console.store(organization_id) as uow:
        # A valid email address that a spreadsheet would take for a formula.
        uow.audit.record(actor="=1+2@acme.test", action="list.created", details={"name": "Q4 targets"})
        uow.commit()


def test_a_date_range_filters_the_page_and_a_day_that_does_not_read_is_refused(
    console: Console, browser: OpenBrowser
) -> None:
    first_day = console.clock().date()
    _record_days(console)
    admin = browser(ACME_ADMIN)
    second_day = (first_day + timedelta(days=1)).isoformat()
    one_day = admin.client.get("/admin/audit", params={"since": second_day, "until": second_day})
    assert one_day.status_code == 200
    assert _rows(one_day.text) == ["crm.imported"]
    assert "<dt>Rows imported</dt><dd>1</dd>" in one_day.text
    assert f'value="{second_day}"' in one_day.text
    assert 'data-testid="audit-filter-clear"' in one_day.text
    from_second = admin.client.get("/admin/audit", params={"since": second_day, "action": "crm.imported"})
    assert len(_rows(from_second.text)) == 2
    assert f"since={second_day}" in from_second.text  # the export link keeps the filter

    refused = admin.client.get("/admin/audit", params={"since": "31/12/2026"})
    assert refused.status_code == 400
    assert "Enter dates as year-month-day, for example 2026-12-31." in refused.text
    admin.client.post("/account/locale", data={**admin.csrf_data(), "locale": "es"})
    assert "Escribe las fechas como año-mes-día" in admin.client.get("/admin/audit?until=mañana").text


def test_the_export_has_every_matching_entry_with_formula_cells_neutralised(
    console: Console, browser: OpenBrowser
) -> None:
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:  # more than one batch of the export (1,000)
        for number in range(1_205):
            uow.audit.record(actor="sync", action="crm.imported", details={"rows_imported": number})
        uow.commit()
    console.clock.advance(timedelta(seconds=1))
    _record_days(console)
    admin = browser(ACME_ADMIN)
    everything = admin.client.get("/admin/audit/export.csv")
    assert everything.status_code == 200
    assert everything.headers["content-type"] == "text/csv; charset=utf-8"
    assert everything.headers["content-disposition"] == 'attachment; filename="audit-log.csv"'
    assert everything.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(everything.content.decode("utf-8-sig"))))
    assert rows[0] == ["When (UTC)", "Who", "Action", "What", "Details"]
    actions = [row[2] for row in rows[1:]]
    assert actions.count("crm.imported") == 1_205 + 3
    assert actions[0] == "user.signed_in"  # newest first
    (created,) = [row for row in rows[1:] if row[2] == "list.created"]
    assert created[1] == "'=1+2@acme.test"  # a cell starting with = is shown as text
    assert created[4] == "Name: Q4 targets"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)

    admin.client.post("/account/locale", data={**admin.csrf_data(), "locale": "es"})
    only = admin.client.get("/admin/audit/export.csv", params={"action": "list.created", "actor": "=1+2@acme.test"})
    spanish = list(csv.reader(io.StringIO(only.content.decode("utf-8-sig"))))
    assert spanish[0] == ["Cuándo (UTC)", "Quién", "Acción", "Qué", "Detalles"]
    assert [row[3] for row in spanish[1:]] == ["Lista creada"]
    assert admin.client.get("/admin/audit/export.csv?since=ayer").status_code == 400
    assert browser(ACME_SELLER).client.get("/admin/audit/export.csv").status_code == 403


def test_sync_health_retries_and_writeback_changes_read_by_name(console: Console, browser: OpenBrowser) -> None:
    """What an administrator does on Sync health and the Writeback page reads by name in the log, not as codes."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:  # the details writeback.py and sync_health.py record
        uow.audit.record(
            actor=ACME_ADMIN.email,
            action="writeback.settings_changed",
            details={"enabled": True, "items": ["call", "note"], "before": {"enabled": False, "items": "all"}},
        )
        uow.audit.record(
            actor=ACME_ADMIN.email,
            action="crm.import_records_retried",
            details={"stored": 2, "gone": 1, "failed": 0, "named": "all"},
        )
        uow.commit()
    admin = browser(ACME_ADMIN)
    admin.client.post("/account/locale", data={**admin.csrf_data(), "locale": "es"})
    retried = admin.client.post("/settings/crm/health/retry-writeback", data=admin.csrf_data())
    assert retried.status_code == 200  # back on Sync health
    spanish = admin.client.get("/admin/audit").text
    for code in ("writeback.settings_changed", "writeback.retried", "crm.import_records_retried"):
        assert f'data-action="{code}"' in spanish
        assert f"{code}</" not in spanish  # its name, not its code
    assert "Configuración de la reescritura modificada" in spanish
    assert "<dt>Elementos de datos</dt><dd>Llamada; Nota</dd>" in spanish
    assert "<dd>Activada: No; Elementos de datos: Todos</dd>" in spanish
    assert "Reescritura reintentada" in spanish
    assert "<dt>Actividades</dt><dd>Todos</dd>" in spanish
    assert "<dt>Guardados</dt><dd>2</dd>" in spanish


def test_a_date_range_to_the_calendars_last_day_is_read_not_a_server_error(
    console: Console, browser: OpenBrowser
) -> None:
    """A date field lets anyone pick 9999-12-31; the day after it does not exist."""
    _record_days(console)
    admin = browser(ACME_ADMIN)
    wide = {"since": "0001-01-01", "until": "9999-12-31", "action": "crm.imported"}
    page = admin.client.get("/admin/audit", params=wide)
    assert page.status_code == 200
    assert len(_rows(page.text)) == 3
    export = admin.client.get("/admin/audit/export.csv", params=wide)
    assert export.status_code == 200
    assert len(list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))) == 1 + 3


def test_an_entry_without_details_has_no_details_label_on_a_phone(console: Console, browser: OpenBrowser) -> None:
    """Phones show each cell's label above it: a sign-in has no details, so no "Details" over nothing."""
    _record(console, 1)
    page = browser(ACME_ADMIN).client.get("/admin/audit").text
    rows = dict(re.findall(r'data-testid="audit-row" data-action="([^"]+)"(.*?)</tr>', page, re.S))
    assert 'data-label="Details"' not in rows["user.signed_in"]
    assert 'data-label="Details"' in rows["crm.settings_changed"]
