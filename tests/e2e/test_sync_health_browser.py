"""Sync health in a real browser (issue 15's admin's day): a writeback failure injected in the sandbox (Dynamics
answering 503) shows on the Sync health page with Dynamics' code and message; once the CRM is back, Retry on that
row delivers the activity and the page has nothing failing. In English on a desktop and in Spanish on a 390 px
phone, with the history of runs shown as charts and a table; a screenshot and axe-core's results (no serious or
critical violation) of the page with its failing row. Then the CRM app's tables deleted in Dynamics: an InMail
waits, and the page says in Spanish that the app is missing and to reinstall it, until the app is installed
again and the InMail is delivered; and an import throttled by Dynamics, which CRM Settings' Sync section says
(in Spanish) with the time of the next try."""

from __future__ import annotations

import time
import uuid

from playwright.sync_api import Browser, Page, expect
from tests.e2e.axe import assert_accessible, with_axe
from tests.e2e.conftest import SyncedConsole, choose_language, run_async, screenshot, sign_in_demo
from tests.e2e.test_writeback import a_person_with_a_contact

from salesbridge.bootstrap import dynamics_session
from salesbridge.domain.writeback import ActivityDraft, DataItem, DeliveryState, Direction, WritebackSettings
from salesbridge.sandbox.server.faults import FaultConfig
from salesbridge.services.activities import log_activity
from salesbridge.services.crm_app import install_crm_app
from salesbridge.services.writeback import set_writeback_settings
from salesbridge.store.uow import utc_now

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
DEADLINE_S = 60
"""How long the console's runner may take to try or deliver an activity (a bound for the wait, not a measure)."""
TEXTS = {
    "en": {"title": "Sync health", "retried": "Activities queued again for your CRM: 1."},
    "es": {"title": "Estado de la sincronización", "retried": "Actividades puestas de nuevo en cola para tu CRM: 1."},
}


def _organization_id(console: SyncedConsole) -> uuid.UUID:
    organization_id = console.store.organization_id("demo")
    assert organization_id is not None
    return organization_id


def _delivery(console: SyncedConsole, activity_id: uuid.UUID) -> DeliveryState:
    with console.store(_organization_id(console), read_only=True) as uow:
        return uow.activities.get(activity_id).delivery.state


def _wait_for(console: SyncedConsole, activity_id: uuid.UUID, state: DeliveryState) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while _delivery(console, activity_id) is not state:
        assert time.monotonic() < deadline, f"still {_delivery(console, activity_id)}, not {state}"
        time.sleep(0.2)


def _writeback_on(console: SyncedConsole) -> None:
    """The CRM-side app installed and writeback on, as an administrator would on CRM Settings."""
    run_async(install_crm_app(console.store, dynamics_session, slug="demo"))
    run_async(
        set_writeback_settings(
            console.store,
            dynamics_session,
            _organization_id(console),
            WritebackSettings(enabled=True),
            actor=console.admin_email,
        )
    )


def _seller_logs_a_note(
    console: SyncedConsole, person_id: uuid.UUID, body: str, item: DataItem = DataItem.NOTE
) -> uuid.UUID:
    organization_id = _organization_id(console)
    with console.store(organization_id, read_only=True) as uow:
        seller = uow.users.find_by_email(console.seller_email)
    assert seller is not None
    draft = ActivityDraft(
        client_id=str(uuid.uuid4()),
        item=item,
        person_id=person_id,
        company_id=None,
        subject=None,
        body=body,
        direction=Direction.OUTGOING,
        occurred_at=utc_now(),
    )
    activity, _ = log_activity(console.store, organization_id, seller.id, draft, clock=utc_now)
    return activity.id


def _admin(chromium: Browser, console: SyncedConsole, lang: str, viewport: dict[str, int]) -> Page:
    page = with_axe(chromium.new_context(viewport=viewport)).new_page()  # type: ignore[arg-type]
    page.set_default_timeout(15_000)
    sign_in_demo(page, console, console.admin_email)
    choose_language(page, console.url("/account"), lang)
    return page


ONE_LINE = (
    "button => { const text = document.createRange(); text.selectNodeContents(button);"
    " return text.getClientRects().length === 1; }"
)
"""Whether a button's label is on one line (a word split by wrapping makes more line boxes)."""


def _fits(page: Page, viewport: dict[str, int]) -> bool:
    return bool(page.evaluate("document.scrollingElement.scrollWidth") <= viewport["width"])


def test_sync_health_shows_an_injected_writeback_failure_and_retry_fixes_it(
    chromium: Browser, synced_console: SyncedConsole
) -> None:
    console = synced_console
    _writeback_on(console)
    person_id, _contact = a_person_with_a_contact(console)
    faults = console.sandbox.services.faults
    for lang, size, viewport in (("en", "desktop", DESKTOP), ("es", "phone", PHONE), ("es", "desktop", DESKTOP)):
        faults.configure(FaultConfig(unavailable_rate=1.0))
        try:
            note = _seller_logs_a_note(console, person_id, f"Pricing call notes ({lang}, {size})")
            _wait_for(console, note, DeliveryState.FAILING)
        finally:
            faults.configure(FaultConfig())

        admin = _admin(chromium, console, lang, viewport)
        admin.goto(console.url("/settings/crm"))
        admin.get_by_test_id("sync-health-link").click()
        expect(admin.locator("h1")).to_have_text(TEXTS[lang]["title"])
        row = admin.locator(f"[data-testid=writeback-error][data-activity-id='{note}']")
        expect(row).to_have_attribute("data-state", "failing")
        expect(row.get_by_test_id("writeback-error-message")).to_contain_text("0x80040216")
        expect(admin.get_by_test_id("health-table-row").first).to_be_visible()
        expect(admin.get_by_test_id("run-row").first).to_be_visible()
        expect(admin.locator("[data-testid=runs-chart] svg")).to_have_count(2)
        assert _fits(admin, viewport), "the page scrolls sideways"
        assert row.get_by_test_id("writeback-retry").evaluate(ONE_LINE), "the Retry button's word is split"
        screenshot(admin, f"sync-health-failing-{lang}-{size}")
        assert_accessible(admin, f"sync-health-failing-{lang}-{size}")

        row.get_by_test_id("writeback-retry").click()
        expect(admin.get_by_test_id("notice")).to_have_text(TEXTS[lang]["retried"])
        _wait_for(console, note, DeliveryState.DELIVERED)
        admin.reload()
        expect(admin.locator(f"[data-testid=writeback-error][data-activity-id='{note}']")).to_have_count(0)
        expect(admin.get_by_test_id("no-writeback-errors")).to_be_visible()
        admin.context.close()

    # The CRM app's tables deleted in Dynamics (as a CRM administrator removing them does): the page says so.
    run_async(_remove_app_tables(console))
    inmail = _seller_logs_a_note(console, person_id, "InMail while the app is gone", DataItem.INMAIL)
    _wait_for(console, inmail, DeliveryState.FAILING)
    admin = _admin(chromium, console, "es", DESKTOP)
    admin.goto(console.url("/settings/crm/health"))
    expect(admin.get_by_test_id("crm-app-missing")).to_contain_text(
        "falta la aplicación del CRM en Dynamics 365 (se eliminaron sus tablas). Vuelva a instalarla"
    )
    run_async(install_crm_app(console.store, dynamics_session, slug="demo"))
    _wait_for(console, inmail, DeliveryState.DELIVERED)
    admin.reload()
    expect(admin.get_by_test_id("crm-app-missing")).to_have_count(0)

    # Dynamics throttling every request of an import: CRM Settings' Sync section says so, and when it tries again.
    faults.configure(FaultConfig(throttle_rate=1.0, throttle_retry_after_s=5))
    try:
        admin.goto(console.url("/settings/crm"))
        admin.get_by_test_id("sync-now").click()
        expect(admin.get_by_test_id("sync-throttled")).to_contain_text(
            "Dynamics está limitando las solicitudes (demasiadas en poco tiempo)", timeout=DEADLINE_S * 1000
        )
        expect(admin.get_by_test_id("sync-throttled")).to_contain_text("vuelve a intentarlo a las")
    finally:
        faults.configure(FaultConfig())
    admin.context.close()


async def _remove_app_tables(console: SyncedConsole) -> None:
    with console.store(_organization_id(console), read_only=True) as uow:
        credentials = uow.crm_connection.credentials()
    session = dynamics_session(credentials)
    try:
        for table in ("sbr_inmail", "sbr_message"):
            await session.client.delete(f"EntityDefinitions(LogicalName='{table}')")
    finally:
        await session.close()
