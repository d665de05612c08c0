"""Issue 15's small console fixes (SQLite and PostgreSQL), in English and Spanish: Sync health and CRM Settings name
the CRM tables as the rest of the console does (not ``contact``, ``opportunity``); a failing activity's Dynamics
message is shown once on the Writeback page and on Sync health, in the same rows; the Reports' value column names
the organization's base currency when it is known, on the page and in the CSV file."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from tests.integration.web.conftest import ACME_ADMIN, Browser, Console, Person
from tests.integration.web.test_crm_details_web import ACCOUNT, CONTACT, EUR, USD, give_currencies, tie
from tests.integration.web.test_people_web import seed_people
from tests.integration.web.test_writeback_web import _log

from salesbridge.domain.match_links import TargetKind
from salesbridge.domain.sync_runs import RecordRow, SyncMode
from salesbridge.domain.writeback import DataItem, DeliveryState

OpenBrowser = Callable[[Person | None], Browser]

MESSAGE = "Principal user is missing prvCreateNote privilege"


def _in(admin: Browser, lang: str) -> Browser:
    assert admin.client.put("/api/v1/me/locale", json={"locale": lang}, headers=admin.csrf_headers()).is_success
    return admin


def _seed_tables(console: Console) -> None:
    """Checkpoints of the contact and opportunity tables, and a skipped account record."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        for table in ("contact", "opportunity"):
            state = uow.sync_states.get_or_create(table, mode=SyncMode.CHANGE_TRACKING)
            uow.sync_states.save(replace(state, row_count=12))
        uow.import_record_errors.record(
            "account", "8d1f0c2e-0000-4000-8000-000000000001", code="0x80040216", message="An unexpected error"
        )
        uow.commit()


@pytest.mark.parametrize(
    ("lang", "names"),
    [
        ("en", {"contact": "Contacts", "opportunity": "Opportunities", "account": "Accounts"}),
        ("es", {"contact": "Contactos", "opportunity": "Oportunidades", "account": "Cuentas"}),
    ],
)
def test_sync_health_and_crm_settings_name_the_crm_tables_in_the_readers_language(
    console: Console, browser: OpenBrowser, lang: str, names: dict[str, str]
) -> None:
    _seed_tables(console)
    admin = _in(browser(ACME_ADMIN), lang)

    health = admin.client.get("/settings/crm/health").text
    settings = admin.client.get("/settings/crm").text

    for table in ("contact", "opportunity"):
        assert re.search(rf'data-testid="health-table-row" data-table="{table}">\s*<td>{names[table]}</td>', health)
        assert re.search(rf'data-testid="sync-table-row" data-table="{table}">\s*<td>{names[table]}</td>', settings)
    assert f'data-testid="import-error-table">{names["account"]}</td>' in health
    for raw in ("<code>contact</code>", "<code>opportunity</code>", "<code>account</code>"):
        assert raw not in health
        assert raw not in settings
    table_names = re.search(r'data-table-names="([^"]*)"', settings)  # for the rows sync_status.js adds later
    assert table_names is not None
    assert f"&#34;opportunity&#34;: &#34;{names['opportunity']}&#34;" in table_names.group(1)


@pytest.mark.parametrize(
    ("lang", "state"),
    [("en", "Not delivered (retry it once fixed)"), ("es", "No entregada (reinténtalo cuando esté resuelto)")],
)
def test_a_failing_activitys_dynamics_message_is_shown_once_in_the_same_rows_on_both_pages(
    console: Console, browser: OpenBrowser, lang: str, state: str
) -> None:
    ids = seed_people(console)
    parked = _log(
        console, ids["p-robert"], item=DataItem.NOTE, state=DeliveryState.QUEUED, error=("0x80040220", MESSAGE)
    )
    admin = _in(browser(ACME_ADMIN), lang)

    rows = {}
    for page, testid in (("/admin/writeback", "writeback-problem"), ("/settings/crm/health", "writeback-error")):
        html = admin.client.get(page).text
        row = re.search(rf'<tr data-testid="{testid}" data-activity-id="{parked}" [^>]*>(.*?)</tr>', html, re.S)
        assert row is not None, page
        rows[page] = row.group(1)

    for page, row in rows.items():
        assert row.count(MESSAGE) == 1, page  # was: also in the state under the title ("…: <message>")
        assert f"<code>0x80040220</code> {MESSAGE}</td>" in row
        assert f'-state">{state}</span>' in row
    shared = [re.sub(r'data-testid="writeback-\w+|action="[^"]*"', "", row) for row in rows.values()]
    assert shared[0] == shared[1], "one partial draws both pages' rows"


def _influenced_opportunity(console: Console) -> None:
    """An open opportunity of the account of Robert Smith's contact, created after the seller's note on him."""
    ids = seed_people(console)
    _log(
        console,
        ids["p-robert"],
        item=DataItem.NOTE,
        state=DeliveryState.QUEUED,
        occurred_at=console.clock() - timedelta(days=30),
    )
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    data = {
        "name": "Contoso rollout",
        "statecode": 0,
        "estimatedvalue": 1000.0,
        "createdon": (console.clock() - timedelta(days=1)).isoformat(),
        "parentaccountid": {"id": ACCOUNT, "table": "account"},
    }
    with console.store(organization_id) as uow:
        uow.crm_records.upsert_many("account", [RecordRow(ACCOUNT, "Contoso CRM", None, None, 0, {})], generation=1)
        uow.crm_records.upsert_many("contact", [RecordRow(CONTACT, "Robert Smith", None, ACCOUNT, 0, {})], generation=1)
        uow.crm_records.upsert_many(
            "opportunity", [RecordRow(str(uuid.uuid4()), "Contoso rollout", None, ACCOUNT, 0, data)], generation=1
        )
        uow.matches.put([tie("contact", CONTACT, TargetKind.PERSON, ids["p-robert"])])
        uow.commit()


@pytest.mark.parametrize(
    ("lang", "known", "unknown"),
    [("en", "Value (EUR)", "Value (base currency)"), ("es", "Valor (EUR)", "Valor (divisa base)")],
)
def test_the_reports_value_column_names_the_base_currency_when_known(
    console: Console, browser: OpenBrowser, lang: str, known: str, unknown: str
) -> None:
    _influenced_opportunity(console)
    admin = _in(browser(ACME_ADMIN), lang)

    def headers() -> tuple[str, list[str]]:
        page = admin.client.get("/admin/reports").text
        header = re.search(r'data-testid="influence-value-header">([^<]*)<', page)
        assert header is not None
        body = admin.client.get("/admin/reports/influence.csv").content
        assert body.startswith("\ufeff".encode())
        return header.group(1), next(csv.reader(io.StringIO(body.decode("utf-8-sig"))))

    before_import = headers()
    give_currencies(console, EUR, {USD: "USD", EUR: "EUR"})
    after_import = headers()

    assert before_import[0] == unknown
    assert before_import[1][3] == unknown
    assert after_import[0] == known
    assert after_import[1][3] == known
    assert after_import[1][4] in ("Currency", "Divisa", "Moneda")  # the code's own column stays
