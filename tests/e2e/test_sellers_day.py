"""A seller's day in a real browser (issue 15's Done-when), in English on a desktop and in Spanish on a 390 px
phone: the home shows what changed in the CRM for their records (a job change, "Out of date") and their lists;
from it they open a person, log a note, the console's runner delivers it to the sandbox over TLS, and it appears
delivered in the person's timeline and in the home's recent activity; their list as a table; the administrator's
Reports count it among the seller's notes written back this week. Screenshots of each page."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect
from tests.e2e.conftest import SyncedConsole, demo_page_in, screenshot
from tests.e2e.test_sync_health_browser import _writeback_on
from tests.e2e.test_writeback import a_person_with_a_contact

from salesbridge.domain.crm_changes import ChangeKind, NoticedChange
from salesbridge.domain.writeback import DeliveryState
from salesbridge.services.home import crm_standing
from salesbridge.services.reports import read_reports
from salesbridge.store.uow import utc_now

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
DEADLINE_S = 60
"""How long the console's runner may take to deliver (a bound for the wait, not a measured duration)."""
TEXTS = {
    "en": {
        "changes": "What changed in the CRM",
        "out_of_date": "Out of date",
        "logged": "Logged.",
        "delivered": "Written to your CRM",
        "note": "Note",
    },
    "es": {
        "changes": "Qué ha cambiado en el CRM",
        "out_of_date": "Desactualizado",
        "logged": "Registrado.",
        "delivered": "Escrita en tu CRM",
        "note": "Nota",
    },
}


@dataclass(frozen=True)
class Day:
    """The shared console with writeback on, a person tied to a CRM contact, and the seller's list holding it."""

    console: SyncedConsole
    organization_id: uuid.UUID
    person_id: uuid.UUID
    contact_id: str
    list_id: uuid.UUID


@pytest.fixture(scope="module")
def day(shared_synced_console: SyncedConsole) -> Day:
    console = shared_synced_console
    organization_id = console.store.organization_id("demo")
    assert organization_id is not None
    _writeback_on(console)
    person_id, contact_id = a_person_with_a_contact(console)
    with console.store(organization_id) as uow:
        seller = uow.users.find_by_email(console.seller_email)
        assert seller is not None
        targets = uow.lists.create_manual(seller.id, "Fair follow-ups")
        uow.lists.add_item(targets.id, "contact", contact_id)
        uow.commit()
    return Day(console, organization_id, person_id, contact_id, targets.id)


def _the_import_saw_a_job_change(day: Day) -> None:
    """As the import records it when the contact's job title changes in the CRM (its own test covers that path)."""
    with day.console.store(day.organization_id) as uow:
        seller = uow.users.find_by_email(day.console.seller_email)
        assert seller is not None
        owner = crm_standing(uow, seller.id).crm_user_id
        change = NoticedChange("contact", day.contact_id, ChangeKind.JOB, "Buyer", "Head of Buying", owner, None)
        uow.crm_record_changes.add_many([change], at=utc_now())
        uow.commit()


def _signed_in(chromium: Browser, console: SyncedConsole, lang: str, size: str, *, email: str | None = None) -> Page:
    return demo_page_in(chromium, console, email or console.seller_email, lang, SIZES[size])


def _fits(page: Page, size: str) -> bool:
    return bool(page.evaluate("document.scrollingElement.scrollWidth") <= SIZES[size]["width"])


def _sellers_notes_this_week(day: Day) -> tuple[str, int]:
    """The seller's name as Reports shows it, and their notes written back in the current week (the service's
    count, read before the note of the test is logged)."""
    with day.console.store(day.organization_id, read_only=True) as uow:
        seller = uow.users.find_by_email(day.console.seller_email)
    assert seller is not None
    reports = read_reports(day.console.store, "demo", clock=utc_now)
    this_week = reports.weeks[-1]
    count = sum(
        row.count
        for row in reports.written_back
        if row.seller == seller.display_name and row.item == "note" and row.week == this_week
    )
    return seller.display_name, count


def _wait_for_delivery(day: Day, activity_id: uuid.UUID) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        with day.console.store(day.organization_id, read_only=True) as uow:
            state = uow.activities.get(activity_id).delivery.state
        if state is DeliveryState.DELIVERED:
            return
        assert time.monotonic() < deadline, f"not delivered: {state}"
        time.sleep(0.2)


@pytest.mark.parametrize(("lang", "size"), [("en", "desktop"), ("es", "phone")])
def test_a_sellers_day_home_person_note_delivered_timeline(chromium: Browser, day: Day, lang: str, size: str) -> None:
    texts, console = TEXTS[lang], day.console
    _the_import_saw_a_job_change(day)
    seller = _signed_in(chromium, console, lang, size)

    seller.goto(console.url("/"))
    expect(seller.get_by_test_id("home-changes")).to_contain_text(texts["changes"])
    change = seller.locator(f"[data-testid=home-change][data-crm-id='{day.contact_id}']").first
    expect(change.get_by_test_id("home-change-out-of-date")).to_have_text(texts["out_of_date"])
    expect(seller.get_by_test_id("home-list").filter(has_text="Fair follow-ups")).to_have_count(1)
    assert _fits(seller, size)
    screenshot(seller, f"home-seller-{lang}-{size}")

    seller_name, notes_before = _sellers_notes_this_week(day)
    change.get_by_test_id("home-change-record").click()
    expect(seller).to_have_url(console.url(f"/people/{day.person_id}"))
    body = f"Met at the fair ({lang}, {size}). Wants a demo."
    seller.get_by_test_id("log-note-open").click()
    seller.get_by_test_id("log-note-body").fill(body)
    seller.get_by_test_id("log-note-submit").click()
    expect(seller.get_by_test_id("activity-notice")).to_have_text(texts["logged"])
    row = seller.get_by_test_id("activity").filter(has_text=body)
    note = uuid.UUID(row.get_attribute("data-activity-id") or "")
    _wait_for_delivery(day, note)

    seller.reload()
    row = seller.locator(f"[data-testid=activity][data-activity-id='{note}']")
    expect(row).to_have_attribute("data-state", "delivered")
    expect(row.get_by_test_id("activity-reason")).to_have_text(texts["delivered"])
    expect(seller.get_by_test_id("crm-details")).to_be_visible()
    assert _fits(seller, size)
    screenshot(seller, f"person-timeline-{lang}-{size}")

    seller.goto(console.url("/"))
    recent = seller.get_by_test_id("home-recent-activity").filter(has_text=body)
    expect(recent).to_have_attribute("data-state", "delivered")
    expect(recent.get_by_test_id("home-recent-reason")).to_have_text(texts["delivered"])

    seller.get_by_test_id("home-list").filter(has_text="Fair follow-ups").get_by_role("link").click()
    expect(seller).to_have_url(console.url(f"/lists/{day.list_id}"))
    seller.get_by_test_id("list-sort").select_option("owner")
    seller.get_by_test_id("list-apply").click()
    expect(seller.get_by_test_id("list-table-row")).to_have_count(1)
    seller.get_by_test_id("list-select-all").check()  # bulk Save to list: every row at once, on a phone too
    expect(seller.get_by_test_id("list-row-check")).to_be_checked()
    assert _fits(seller, size)
    screenshot(seller, f"list-table-{lang}-{size}")

    admin = _signed_in(chromium, console, lang, size, email=console.admin_email)
    admin.goto(console.url("/admin/reports"))
    rows = admin.get_by_test_id("written-back-row").filter(has_text=seller_name).filter(has_text=texts["note"])
    expect(rows.last.get_by_test_id("written-back-count")).to_have_text(str(notes_before + 1))
    assert _fits(admin, size)
