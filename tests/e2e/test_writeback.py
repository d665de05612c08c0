"""Activity writeback in a real browser (issue 14's Done-when), in English and in Spanish, on a 390 px wide phone:
an administrator presses "Get it now" on CRM Settings (the CRM-side app is installed in the demo sandbox over
TLS) and enables writeback for notes and InMail only; a seller logs a note on a person's page and it appears in the
sandbox on the person's CRM contact; a message the seller logs stays in the workspace, its page saying why."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from tests.e2e.conftest import SyncedConsole, demo_page_in, run_async, screenshot

from salesbridge.bootstrap import dynamics_session, load_demo_people
from salesbridge.domain.crm_app import AppState
from salesbridge.domain.writeback import (
    MAX_CALL_BODY_LENGTH,
    ActivityDraft,
    DataItem,
    DeliveryState,
    Direction,
    WritebackSettings,
    crm_activity_id,
    dataverse_length,
)
from salesbridge.services.crm_app import crm_app_status

PHONE = {"width": 390, "height": 844}

TEXTS = {
    "en": {
        "not_installed": "Not installed",
        "installed": "Installed",
        "get_it_now": "Get it now",
        "app_required": "Writeback needs the CRM-side app installed",
        "saved": "Saved.",
        "logged": "Logged.",
        "delivered": "Written to your CRM",
        "kept": "Kept in the workspace",
    },
    "es": {
        "not_installed": "No instalada",
        "installed": "Instalada",
        "get_it_now": "Descargar",
        "app_required": "La reescritura necesita",
        "saved": "Guardado.",
        "logged": "Registrado.",
        "delivered": "Escrita en tu CRM",
        "kept": "Se queda en el espacio de trabajo",
    },
}
DEADLINE_S = 60
"""How long the runner may take to deliver (a bound for the wait, not a measured duration)."""


def signed_in(chromium: Browser, console: SyncedConsole, email: str, lang: str) -> Page:
    """``email`` signed in to the demo workspace on a phone, reading ``lang``."""
    return demo_page_in(chromium, console, email, lang, PHONE)


def fits_the_phone(page: Page) -> bool:
    """No sideways scrolling at :data:`PHONE` width."""
    return bool(page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"])


def _app_state(console: SyncedConsole) -> AppState:
    status = run_async(crm_app_status(console.store, dynamics_session, slug="demo"))
    return status.state


def admin_is_refused_then_gets_the_app(admin: Page, console: SyncedConsole, lang: str) -> None:
    """On CRM Settings the app is not installed: turning writeback on is refused, saying why; "Get it now" installs
    the app in the sandbox."""
    texts = TEXTS[lang]
    admin.goto(console.url("/settings/crm"))
    section = admin.get_by_test_id("writeback-settings")
    expect(section.get_by_test_id("crm-app-state")).to_have_attribute("data-state", "missing")
    expect(section.get_by_test_id("crm-app-state")).to_contain_text(texts["not_installed"])
    expect(section.get_by_test_id("crm-app-missing")).to_be_visible()
    expect(section.get_by_test_id("writeback-needs-app")).to_be_visible()
    section.get_by_test_id("writeback-yes").check()
    section.get_by_test_id("writeback-save").click()
    section = admin.get_by_test_id("writeback-settings")
    expect(section.get_by_test_id("writeback-error")).to_contain_text(texts["app_required"])
    assert _settings(console).enabled is False
    install = section.get_by_test_id("crm-app-install")
    expect(install).to_have_text(texts["get_it_now"])
    assert fits_the_phone(admin)
    screenshot(admin, f"writeback-app-missing-phone-{lang}")
    install.click()
    section = admin.get_by_test_id("writeback-settings")
    expect(section.get_by_test_id("writeback-notice")).to_be_visible()
    expect(section.get_by_test_id("crm-app-state")).to_have_attribute("data-state", "installed")
    expect(section.get_by_test_id("crm-app-state")).to_contain_text(texts["installed"])
    expect(section.get_by_test_id("crm-app-install")).to_have_count(0)
    assert _app_state(console) is AppState.INSTALLED


def admin_enables_notes_and_inmail(admin: Page, console: SyncedConsole, lang: str) -> None:
    """Yes, and only notes and InMail."""
    section = admin.get_by_test_id("writeback-settings")
    section.get_by_test_id("writeback-yes").check()
    section.get_by_test_id("writeback-some-items").check()
    for item, wanted in (("inmail", True), ("message", False), ("note", True), ("call", False)):
        section.get_by_test_id(f"writeback-item-{item}").set_checked(wanted)
    section.get_by_test_id("writeback-save").click()
    section = admin.get_by_test_id("writeback-settings")
    expect(section.get_by_test_id("writeback-notice")).to_have_text(TEXTS[lang]["saved"])
    expect(section.get_by_test_id("writeback-yes")).to_be_checked()
    expect(section.get_by_test_id("writeback-item-message")).not_to_be_checked()
    settings = _settings(console)
    assert settings.enabled
    assert settings.items == {DataItem.NOTE, DataItem.INMAIL}
    assert fits_the_phone(admin)
    screenshot(admin, f"writeback-enabled-phone-{lang}")


def _organization_id(console: SyncedConsole) -> uuid.UUID:
    organization_id = console.store.organization_id("demo")
    assert organization_id is not None
    return organization_id


def _settings(console: SyncedConsole) -> WritebackSettings:
    with console.store(_organization_id(console), read_only=True) as uow:
        return uow.writeback_settings.get()


def a_person_with_a_contact(console: SyncedConsole) -> tuple[uuid.UUID, str]:
    """The demo workspace's people loaded and matched; a person tied to a CRM contact, and the contact's id."""
    load_demo_people(console.store, console.sandbox)
    with console.store(_organization_id(console), read_only=True) as uow:
        contacts = [record.crm_id for record in uow.crm_records.records("contact")]
        links = uow.matches.links("contact", contacts)
    link = next(link for _crm_id, link in sorted(links.items()) if link.target_id is not None)
    assert link.target_id is not None
    return link.target_id, link.crm_id


def _delivery(console: SyncedConsole, activity_id: uuid.UUID) -> DeliveryState:
    with console.store(_organization_id(console), read_only=True) as uow:
        return uow.activities.get(activity_id).delivery.state


def _wait_for_delivery(console: SyncedConsole, activity_id: uuid.UUID) -> None:
    """Until the console's runner has delivered the activity (a deadline, not a measured duration)."""
    deadline = time.monotonic() + DEADLINE_S
    while _delivery(console, activity_id) is not DeliveryState.DELIVERED:
        assert time.monotonic() < deadline, f"not delivered: {_delivery(console, activity_id)}"
        time.sleep(0.2)


def seller_logs(seller: Page, item: str, body: str, lang: str) -> uuid.UUID:
    """Log ``item`` with ``body`` on the open person page; the new activity's id."""
    seller.get_by_test_id(f"log-{item}-open").click()
    seller.get_by_test_id(f"log-{item}-body").fill(body)
    seller.get_by_test_id(f"log-{item}-submit").click()
    expect(seller.get_by_test_id("activity-notice")).to_have_text(TEXTS[lang]["logged"])
    row = seller.get_by_test_id("activity").filter(has_text=body.splitlines()[0])
    expect(row).to_have_count(1)
    return uuid.UUID(row.get_attribute("data-activity-id") or "")


@pytest.mark.parametrize("lang", ["en", "es"])
def test_writeback_from_get_it_now_to_a_note_in_the_crm_and_a_message_kept_in_the_workspace(
    chromium: Browser, synced_console: SyncedConsole, lang: str
) -> None:
    console, texts = synced_console, TEXTS[lang]
    admin = signed_in(chromium, console, console.admin_email, lang)
    admin_is_refused_then_gets_the_app(admin, console, lang)
    admin_enables_notes_and_inmail(admin, console, lang)
    person_id, contact_id = a_person_with_a_contact(console)

    seller = signed_in(chromium, console, console.seller_email, lang)
    seller.goto(console.url(f"/people/{person_id}"))
    note_text = f"Met at the fair ({lang}).\nWants a demo in March."
    note = seller_logs(seller, "note", note_text, lang)
    _wait_for_delivery(console, note)
    storage = console.sandbox.services.state.storage
    written = storage.get("annotation", "annotationid", crm_activity_id(_organization_id(console), note))
    assert written is not None, "the note is not in the sandbox"
    assert written["notetext"] == note_text
    assert written["objectid"] == contact_id
    seller.reload()
    row = seller.locator(f"[data-testid=activity][data-activity-id='{note}']")
    expect(row).to_have_attribute("data-state", "delivered")
    expect(row.get_by_test_id("activity-reason")).to_have_text(texts["delivered"])

    # An edit of the delivered note updates the same row of the CRM.
    row.get_by_test_id("edit-activity-open").click()
    row.get_by_test_id("edit-activity-body").fill(note_text + "\nBudget approved.")
    row.get_by_test_id("edit-activity-save").click()
    expect(seller.get_by_test_id("activity-notice")).to_be_visible()
    _wait_for_delivery(console, note)
    written = storage.get("annotation", "annotationid", crm_activity_id(_organization_id(console), note))
    assert written is not None
    assert written["notetext"] == note_text + "\nBudget approved."

    message = seller_logs(seller, "message", f"Thanks for the call ({lang})", lang)
    row = seller.locator(f"[data-testid=activity][data-activity-id='{message}']")
    expect(row).to_have_attribute("data-state", "not_written_back")
    expect(row.get_by_test_id("activity-reason")).to_contain_text(texts["kept"])
    assert _delivery(console, message) is DeliveryState.NOT_WRITTEN_BACK
    assert fits_the_phone(seller)
    screenshot(seller, f"writeback-person-activities-phone-{lang}")

    # The administrator's Writeback page counts both, per type and for the seller.
    admin.goto(console.url("/settings/crm"))
    admin.get_by_test_id("writeback-status-link").click()
    expect(admin.locator("[data-testid=writeback-item-row][data-item=note] [data-state=delivered]")).to_have_text("1")
    expect(
        admin.locator("[data-testid=writeback-item-row][data-item=message] [data-state=not_written_back]")
    ).to_have_text("1")
    expect(admin.get_by_test_id("writeback-seller-row")).to_have_count(1)
    expect(admin.get_by_test_id("writeback-no-problems")).to_be_visible()
    assert fits_the_phone(admin)
    screenshot(admin, f"writeback-page-phone-{lang}")


def _seed_notes(console: SyncedConsole, person_id: uuid.UUID, count: int) -> None:
    """``count`` notes of the seller on ``person_id``, an hour apart, the newest an hour ago (kept: writeback is
    off)."""
    now = datetime.now(UTC)
    with console.store(_organization_id(console)) as uow:
        seller = uow.users.find_by_email(console.seller_email)
        assert seller is not None
        for n in range(count):
            draft = ActivityDraft(
                client_id=f"seeded-{n}",
                item=DataItem.NOTE,
                person_id=person_id,
                company_id=None,
                subject=None,
                body=f"Seeded note {n + 1}",
                direction=Direction.OUTGOING,
                occurred_at=now - timedelta(hours=n + 1),
            )
            uow.activities.add(seller.id, draft, state=DeliveryState.NOT_WRITTEN_BACK, hold=None)
        uow.commit()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_browser_stops_a_call_at_its_limit_and_many_activities_are_paged_on_a_phone(
    chromium: Browser, synced_console: SyncedConsole, lang: str
) -> None:
    console = synced_console
    person_id, _contact_id = a_person_with_a_contact(console)
    _seed_notes(console, person_id, 25)
    seller = signed_in(chromium, console, console.seller_email, lang)
    seller.goto(console.url(f"/people/{person_id}"))

    # 999 emoji (two UTF-16 units each, as Dataverse counts), a line break and "xyz": 2,002 units typed, the
    # browser keeps 2,000 (the call's limit) and the server takes them.
    seller.get_by_test_id("log-call-open").click()
    body = seller.get_by_test_id("log-call-body")
    body.fill("😀" * 999 + "\nxyz")
    assert body.evaluate("el => el.value.length") == MAX_CALL_BODY_LENGTH
    assert body.input_value() == "😀" * 999 + "\nx"
    seller.get_by_test_id("log-call-submit").click()
    expect(seller.get_by_test_id("activity-notice")).to_have_text(TEXTS[lang]["logged"])
    with console.store(_organization_id(console), read_only=True) as uow:
        calls = uow.activities.search(person_id=person_id, limit=100)
    logged = [activity for activity in calls if activity.item is DataItem.CALL]
    assert [dataverse_length(activity.body) for activity in logged] == [MAX_CALL_BODY_LENGTH]

    # 26 activities: the newest 20 (the call first), then the older 6.
    rows = seller.get_by_test_id("activity")
    expect(rows).to_have_count(20)
    expect(rows.first).to_have_attribute("data-item", "call")
    expect(seller.get_by_test_id("activities-newer")).to_have_count(0)
    assert fits_the_phone(seller)
    screenshot(seller, f"writeback-activities-paged-phone-{lang}")
    seller.get_by_test_id("activities-older").click()
    expect(rows).to_have_count(6)
    expect(rows.last.get_by_test_id("activity-title")).to_have_text("Seeded note 25")
    expect(seller.get_by_test_id("activities-older")).to_have_count(0)
    assert fits_the_phone(seller)
    seller.get_by_test_id("activities-newer").click()
    expect(rows).to_have_count(20)
    expect(rows.first).to_have_attribute("data-item", "call")
