"""Reports in a real browser (issue 15's admin's day): the demo workspace imported and matched, a seller's activity
on a contact of an account with opportunities, logged before them; the administrator opens Reports from the menu,
reads influenced pipeline and won revenue as their locale writes them (the same figures the service computes: the
hand count against the sandbox is tests/integration/services/test_reports.py), sees each report's chart and table,
and downloads the influenced opportunities as CSV. In English on a desktop and in Spanish on a 390 px phone;
screenshots of each."""

from __future__ import annotations

import csv
import uuid
from datetime import UTC, datetime
from pathlib import Path

from babel.numbers import format_currency
from playwright.sync_api import Browser, expect
from tests.e2e.conftest import SyncedConsole, demo_page_in, screenshot

from salesbridge.bootstrap import load_demo_people
from salesbridge.domain.writeback import ActivityDraft, DataItem, Direction
from salesbridge.services.activities import log_activity
from salesbridge.services.reports import read_reports
from salesbridge.store.uow import utc_now

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TEXTS = {
    "en": {"title": "Reports", "header": "Opportunity", "value": "Value (USD)"},
    "es": {"title": "Informes", "header": "Oportunidad", "value": "Valor (USD)"},
}


def _organization_id(console: SyncedConsole) -> uuid.UUID:
    organization_id = console.store.organization_id("demo")
    assert organization_id is not None
    return organization_id


def _activity_before_the_opportunities(console: SyncedConsole) -> None:
    """The seller's call, dated 2020, with a person tied to a contact whose account has opportunities."""
    load_demo_people(console.store, console.sandbox)
    with console.store(_organization_id(console), read_only=True) as uow:
        accounts = {record.parent_id for record in uow.crm_records.records("opportunity") if record.parent_id}
        contacts = {
            record.crm_id: record.parent_id for record in uow.crm_records.records("contact") if record.parent_id
        }
        links = uow.matches.links("contact", [crm_id for crm_id, parent in contacts.items() if parent in accounts])
        seller = uow.users.find_by_email(console.seller_email)
    assert seller is not None
    person = next(link.target_id for _crm_id, link in sorted(links.items()) if link.is_tie)
    draft = ActivityDraft(
        client_id=str(uuid.uuid4()),
        item=DataItem.CALL,
        person_id=person,
        company_id=None,
        subject=None,
        body="First call about the project",
        direction=Direction.OUTGOING,
        occurred_at=datetime(2020, 1, 6, 9, 0, tzinfo=UTC),
    )
    log_activity(console.store, _organization_id(console), seller.id, draft, clock=utc_now)


def test_the_admin_reads_influenced_pipeline_and_won_revenue_and_downloads_them(
    chromium: Browser, synced_console: SyncedConsole, tmp_path: Path
) -> None:
    console = synced_console
    _activity_before_the_opportunities(console)
    expected = read_reports(console.store, "demo", clock=utc_now).influence
    assert expected.pipeline_count + expected.won_count > 0, "the demo must give the report something to count"

    for lang, size, viewport in (("en", "desktop", DESKTOP), ("es", "phone", PHONE)):
        admin = demo_page_in(chromium, console, console.admin_email, lang, viewport)
        if size == "desktop":
            admin.get_by_test_id("nav-reports").click()
        else:
            admin.goto(console.url("/admin/reports"))
        expect(admin.locator("h1")).to_have_text(TEXTS[lang]["title"])
        for testid, value in (("influenced-pipeline", expected.pipeline_value), ("won-revenue", expected.won_value)):
            # The sandbox's base currency (organization.basecurrencyid, imported), as the page's language writes it.
            expect(admin.get_by_test_id(testid)).to_contain_text(format_currency(value, "USD", locale=lang))
        expect(admin.get_by_test_id("influence-row")).to_have_count(len(expected.opportunities))
        expect(admin.get_by_test_id("influence-value-header")).to_have_text(TEXTS[lang]["value"])  # the base's code
        for section in ("report-influence", "report-written-back", "report-match-rate", "report-seats"):
            expect(admin.get_by_test_id(section)).to_be_visible()
        expect(admin.locator("[data-testid=report-influence] svg[role=img]")).to_have_count(1)
        expect(admin.locator("[data-testid=report-match-rate] svg[role=img]")).to_have_count(1)
        expect(admin.get_by_test_id("seats-with-sync")).not_to_have_text("0")
        assert admin.evaluate("document.scrollingElement.scrollWidth") <= viewport["width"], "scrolls sideways"
        screenshot(admin, f"reports-{lang}-{size}")

        with admin.expect_download() as download:
            admin.get_by_test_id("download-influence").click()
        saved = tmp_path / f"influence-{lang}.csv"
        download.value.save_as(saved)
        assert saved.read_bytes().startswith("\ufeff".encode()), "Excel reads the accents only with the mark"
        with saved.open(encoding="utf-8-sig", newline="") as file:
            rows = list(csv.reader(file))
        assert rows[0][0] == TEXTS[lang]["header"]
        assert rows[0][3] == TEXTS[lang]["value"]
        assert {row[1] for row in rows[1:]} == {item.crm_id for item in expected.opportunities}
        admin.context.close()
