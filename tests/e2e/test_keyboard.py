"""The seller's main flows with the keyboard alone, in English and Spanish: sign in, create a list, search a person,
open them, save them to the list, log a note. Only key presses move through the pages (Tab, Enter, typing; the
address bar is used for the first page only), and every control reached shows where the focus is."""

from __future__ import annotations

import uuid

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import Browser, Page, expect
from tests.e2e.conftest import SyncedConsole, screenshot

from salesbridge.bootstrap import load_demo_people
from salesbridge.services.accounts import AccountService
from salesbridge.store.uow import utc_now

MAX_TABS = 400
"""More Tab presses than any console page has controls before the one sought (a page with more is a finding)."""

FOCUSED = """() => {
  const element = document.activeElement;
  if (!element || element === document.body) return {testid: null, visible: false};
  const style = getComputedStyle(element);
  return {
    testid: element.dataset.testid || element.id || null,
    visible: element.matches(":focus-visible") && (style.outlineStyle !== "none" || style.boxShadow !== "none"),
  };
}"""
"""Which element has the focus (its test id, else its id) and whether the focus ring shows."""


def tab_to(page: Page, wanted: str, *, backwards: bool = False) -> None:
    """Press Tab (Shift+Tab when ``backwards``) until the element whose test id (or id) is ``wanted`` has the
    focus; it must show a focus ring. Fails after :data:`MAX_TABS` presses."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        focused = page.evaluate(FOCUSED)
        if focused["testid"] == wanted:
            assert focused["visible"], f"{wanted} has the focus but shows no focus ring on {page.url}"
            return
    raise AssertionError(f"{MAX_TABS} presses of Tab never reached {wanted} on {page.url}")


def type_into(page: Page, wanted: str, text: str) -> None:
    """Tab to the field ``wanted`` and type ``text``."""
    tab_to(page, wanted)
    page.keyboard.type(text)


def _a_matched_person(console: SyncedConsole) -> tuple[uuid.UUID, str]:
    """The demo's people loaded and matched; a person tied to a CRM contact (id and full name)."""
    load_demo_people(console.store, console.sandbox)
    organization_id = console.store.organization_id("demo")
    assert organization_id is not None
    with console.store(organization_id, read_only=True) as uow:
        contacts = [record.crm_id for record in uow.crm_records.records("contact")]
        links = uow.matches.links("contact", contacts)
        for _crm_id, link in sorted(links.items()):
            person = uow.people.get(link.target_id) if link.target_id is not None else None
            if person is not None and person.id is not None and person.full_name:
                return person.id, person.full_name
    raise AssertionError("the demo has no person tied to a CRM contact")


TEXTS = {
    "en": {"list": "Keyboard prospects", "saved": "Saved to your list.", "logged": "Logged."},
    "es": {"list": "Contactos por teclado", "saved": "Guardado en tu lista.", "logged": "Registrado."},
}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_seller_signs_in_finds_saves_and_logs_a_note_with_the_keyboard_alone(
    chromium: Browser, shared_synced_console: SyncedConsole, lang: str
) -> None:
    console = shared_synced_console
    accounts = AccountService(
        console.store, clock=utc_now, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    accounts.set_locale(accounts.principal_of("demo", console.seller_email), lang)
    person_id, name = _a_matched_person(console)
    text = TEXTS[lang]
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)

    # Sign in: the fields in order, Enter submits.
    page.goto(console.url(f"/sign-in?lang={lang}"))
    type_into(page, "workspace", "demo")
    type_into(page, "email", console.seller_email)
    type_into(page, "password", console.password)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("home-title")).to_be_visible()

    # The skip link comes first and leads past the menu; the menu leads to Lists, where a list is created.
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["visible"]
    expect(page.locator(":focus")).to_have_class("skip-link")
    tab_to(page, "nav-lists")
    page.keyboard.press("Enter")
    expect(page).to_have_url(console.url("/lists"))
    type_into(page, "new-list-name", text["list"])
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("list-name").filter(has_text=text["list"])).to_have_count(1)

    # Search the person from People, open them from the results.
    tab_to(page, "nav-people")
    page.keyboard.press("Enter")
    expect(page).to_have_url(console.url("/people"))
    type_into(page, "people-q", name)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("person-link").first).to_have_text(name)
    tab_to(page, "person-link")
    page.keyboard.press("Enter")
    expect(page).to_have_url(console.url(f"/people/{person_id}"))
    expect(page.get_by_test_id("person-name")).to_have_text(name)

    # Save to the new list: the list chosen by typing its name in the menu, the button pressed with Enter.
    type_into(page, "save-list", text["list"][:8])
    expect(page.get_by_test_id("save-list").locator("option:checked")).to_have_text(text["list"])
    tab_to(page, "save-submit")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("notice")).to_have_text(text["saved"])

    # Log a note: Enter opens the form, the note is typed, Enter on the button logs it.
    tab_to(page, "log-note-open")
    page.keyboard.press("Enter")
    type_into(page, "log-note-body", f"Keyboard note {lang}")
    tab_to(page, "log-note-submit")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("activity-notice")).to_have_text(text["logged"])
    expect(page.get_by_test_id("activity").filter(has_text=f"Keyboard note {lang}")).to_have_count(1)
    screenshot(page, f"keyboard-person-{lang}-desktop")
    context.close()
