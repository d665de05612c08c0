"""Issue 15's small console fixes in a real browser, on the imported demo workspace, in English and Spanish: Sync
health and CRM Settings name the CRM tables as people know them (not ``contact``, ``opportunity``); a parked
activity's Dynamics message is shown once in its row, on the Writeback page and on Sync health alike; a seller's
"In the CRM" card of a person's tied records shows only while their seat has CRM sync on. One demo console for the
module (building and importing it takes most of the module's 40 to 60 s; six short browser visits follow); the test
that switches a seat's CRM sync off switches it back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect
from tests.e2e.conftest import SyncedConsole, demo_page_in, screenshot
from tests.e2e.test_writeback import a_person_with_a_contact

from salesbridge.domain.writeback import ActivityDraft, DataItem, DeliveryState, Direction, FailureOutcome
from salesbridge.store.uow import utc_now

DESKTOP = {"width": 1280, "height": 900}
MESSAGE = "Principal user (Id=5f0c) is missing prvCreateNote privilege"
TEXTS = {
    "en": {
        "tables": {"contact": "Contacts", "opportunity": "Opportunities", "systemuser": "CRM users"},
        "parked": "Not delivered (retry it once fixed)",
    },
    "es": {
        "tables": {"contact": "Contactos", "opportunity": "Oportunidades", "systemuser": "Usuarios del CRM"},
        "parked": "No entregada (reinténtalo cuando esté resuelto)",
    },
}


@pytest.fixture(scope="module")
def console(shared_synced_console: SyncedConsole) -> SyncedConsole:
    return shared_synced_console


@pytest.fixture(scope="module")
def tied_person(console: SyncedConsole) -> uuid.UUID:
    """A demo person tied to a CRM contact (the demo's people loaded and matched once for the module)."""
    person_id, _contact = a_person_with_a_contact(console)
    return person_id


def _organization_id(console: SyncedConsole) -> uuid.UUID:
    organization_id = console.store.organization_id("demo")
    assert organization_id is not None
    return organization_id


def _parked_note(console: SyncedConsole, person_id: uuid.UUID, body: str) -> uuid.UUID:
    """A seller's note that gave up reaching the CRM with Dynamics' ``MESSAGE``."""
    with console.store(_organization_id(console)) as uow:
        seller = uow.users.find_by_email(console.seller_email)
        assert seller is not None
        draft = ActivityDraft(
            client_id=str(uuid.uuid4()),
            item=DataItem.NOTE,
            person_id=person_id,
            company_id=None,
            subject=body,
            body=body,
            direction=Direction.OUTGOING,
            occurred_at=utc_now(),
        )
        activity, _ = uow.activities.add(seller.id, draft, state=DeliveryState.PARKED, hold=None)
        uow.activities.mark_failed(
            activity.id,
            outcome=FailureOutcome(DeliveryState.PARKED, None),
            error_code="0x80040220",
            error_message=MESSAGE,
        )
        uow.commit()
    return activity.id


@pytest.mark.parametrize("lang", ["en", "es"])
def test_sync_health_and_crm_settings_name_the_tables(chromium: Browser, console: SyncedConsole, lang: str) -> None:
    admin = demo_page_in(chromium, console, console.admin_email, lang, DESKTOP)

    admin.goto(console.url("/settings/crm/health"))
    for table, name in TEXTS[lang]["tables"].items():
        row = admin.locator(f"[data-testid=health-table-row][data-table={table}]")
        expect(row.locator("td").first).to_have_text(name)
    expect(admin.get_by_test_id("health-tables").locator("code")).to_have_count(0)
    screenshot(admin, f"sync-health-tables-{lang}-desktop")

    admin.goto(console.url("/settings/crm"))
    for table, name in TEXTS[lang]["tables"].items():
        row = admin.locator(f"[data-testid=sync-table-row][data-table={table}]")
        expect(row.locator("td").first).to_have_text(name)
    # The names sync_status.js gives the rows of tables imported after the page was drawn.
    names = admin.evaluate("JSON.parse(document.querySelector('[data-sync-status-url]').dataset.tableNames)")
    assert {table: names[table] for table in TEXTS[lang]["tables"]} == TEXTS[lang]["tables"]
    admin.context.close()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_parked_activitys_dynamics_message_is_shown_once_on_both_pages(
    chromium: Browser, console: SyncedConsole, tied_person: uuid.UUID, lang: str
) -> None:
    note = _parked_note(console, tied_person, f"Pricing follow-up ({lang})")
    admin = demo_page_in(chromium, console, console.admin_email, lang, DESKTOP)

    for path, testid in (("/admin/writeback", "writeback-problem"), ("/settings/crm/health", "writeback-error")):
        admin.goto(console.url(path))
        row = admin.locator(f"[data-testid={testid}][data-activity-id='{note}']")
        expect(row).to_be_visible()
        expect(row.get_by_test_id(f"{testid}-message")).to_have_text(f"0x80040220 {MESSAGE}")
        expect(row.get_by_test_id(f"{testid}-state")).to_have_text(TEXTS[lang]["parked"])
        assert row.inner_text().count(MESSAGE) == 1, f"{path}: Dynamics' message is shown more than once"
        screenshot(admin, f"{testid}-row-{lang}-desktop")
    admin.context.close()


@pytest.fixture
def seller_sync_off(console: SyncedConsole) -> Iterator[None]:
    """The demo seller's seat with CRM sync off for the test (every seat's switch and the seller's own), then as
    it was."""
    organization_id = _organization_id(console)
    with console.store(organization_id) as uow:
        seller = uow.users.find_by_email(console.seller_email)
        assert seller is not None
        seat = uow.seats.find_by_user(seller.id)
        assert seat is not None
        every_seat = uow.organization.get().crm_sync_all_seats
        uow.organization.set_crm_sync_all_seats(False)
        uow.seats.set_crm_sync(seat.id, False)
        uow.commit()
    yield
    with console.store(organization_id) as uow:
        uow.organization.set_crm_sync_all_seats(every_seat)
        uow.seats.set_crm_sync(seat.id, seat.crm_sync_enabled)
        uow.commit()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_in_the_crm_card_shows_only_to_a_seat_with_crm_sync_on(
    chromium: Browser, console: SyncedConsole, tied_person: uuid.UUID, lang: str, request: pytest.FixtureRequest
) -> None:
    seller = demo_page_in(chromium, console, console.seller_email, lang, DESKTOP)
    seller.goto(console.url(f"/people/{tied_person}"))
    expect(seller.get_by_test_id("crm-records")).to_be_visible()
    expect(seller.get_by_test_id("crm-record-owner").first).to_be_visible()

    request.getfixturevalue("seller_sync_off")
    seller.reload()

    expect(seller.get_by_test_id("person-name")).to_be_visible()
    expect(seller.get_by_test_id("crm-records")).to_have_count(0)
    expect(seller.get_by_test_id("crm-record-owner")).to_have_count(0)
    expect(seller.get_by_test_id("crm-details")).to_have_count(0)
    screenshot(seller, f"person-crm-sync-off-{lang}-desktop")
    seller.context.close()
