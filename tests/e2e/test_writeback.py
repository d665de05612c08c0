"""Activity writeback in a real browser (issue 14's Done-when), in English and in Spanish, on a 390 px wide phone:
an administrator presses "Get it now" on CRM Settings (the CRM-side app is installed in the demo sandbox over
TLS) and enables writeback for notes and InMail only; a seller logs a note on a person's page and it appears in the
sandbox on the person's CRM contact; a message the seller logs stays in the workspace, its page saying why."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect
from tests.e2e.conftest import SyncedConsole, run_async, screenshot, sign_in_demo

from salesbridge.bootstrap import dynamics_session
from salesbridge.domain.crm_app import AppState
from salesbridge.services.crm_app import crm_app_status

PHONE = {"width": 390, "height": 844}

TEXTS = {
    "en": {
        "not_installed": "Not installed",
        "installed": "Installed",
        "get_it_now": "Get it now",
    },
    "es": {
        "not_installed": "No instalada",
        "installed": "Instalada",
        "get_it_now": "Descargar",
    },
}


def signed_in(chromium: Browser, console: SyncedConsole, email: str, lang: str) -> Page:
    """``email`` signed in to the demo workspace on a phone, reading ``lang``."""
    page = chromium.new_context(viewport=PHONE).new_page()  # type: ignore[arg-type]
    page.set_default_timeout(15_000)
    sign_in_demo(page, console, email)
    page.goto(console.url("/account"))
    page.get_by_test_id("locale-select").select_option(lang)
    page.get_by_test_id("locale-save").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)
    return page


def fits_the_phone(page: Page) -> bool:
    """No sideways scrolling at :data:`PHONE` width."""
    return bool(page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"])


def _app_state(console: SyncedConsole) -> AppState:
    status = run_async(crm_app_status(console.store, dynamics_session, slug="demo"))
    return status.state


def admin_gets_the_app(admin: Page, console: SyncedConsole, lang: str) -> None:
    """On CRM Settings the app is not installed; "Get it now" installs it in the sandbox."""
    texts = TEXTS[lang]
    admin.goto(console.url("/settings/crm"))
    section = admin.get_by_test_id("writeback-settings")
    expect(section.get_by_test_id("crm-app-state")).to_have_attribute("data-state", "missing")
    expect(section.get_by_test_id("crm-app-state")).to_contain_text(texts["not_installed"])
    expect(section.get_by_test_id("crm-app-missing")).to_be_visible()
    install = section.get_by_test_id("crm-app-install")
    expect(install).to_have_text(texts["get_it_now"])
    assert fits_the_phone(admin)
    screenshot(admin, f"writeback-app-missing-phone-{lang}")
    install.click()
    expect(section.get_by_test_id("writeback-notice")).to_be_visible()
    expect(section.get_by_test_id("crm-app-state")).to_have_attribute("data-state", "installed")
    expect(section.get_by_test_id("crm-app-state")).to_contain_text(texts["installed"])
    expect(section.get_by_test_id("crm-app-install")).to_have_count(0)
    assert _app_state(console) is AppState.INSTALLED


@pytest.mark.parametrize("lang", ["en", "es"])
def test_an_admin_gets_the_app(chromium: Browser, synced_console: SyncedConsole, lang: str) -> None:
    admin = signed_in(chromium, synced_console, synced_console.admin_email, lang)
    admin_gets_the_app(admin, synced_console, lang)
