"""Signing in and out in a real browser, in English and in Spanish; what a seller may not see."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from tests.e2e.conftest import LiveConsole, screenshot


def _sign_in(page: Page, console: LiveConsole, email: str, *, lang: str = "en") -> None:
    page.goto(console.url(f"/sign-in?lang={lang}"))
    page.get_by_test_id("workspace").fill("acme")
    page.get_by_test_id("email").fill(email)
    page.get_by_test_id("password").fill(console.password)
    page.get_by_test_id("sign-in-submit").click()


def test_an_english_speaking_admin_signs_in_switches_to_spanish_and_signs_out(
    page: Page, live_console: LiveConsole
) -> None:
    page.goto(live_console.url("/sign-in?lang=en"))
    expect(page.get_by_role("heading", name="Sign in to salesbridge")).to_be_visible()
    screenshot(page, "sign-in-en")

    _sign_in(page, live_console, "admin@acme.test")

    expect(page.get_by_test_id("home-title")).to_have_text("Welcome, Ada Admin")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("nav-seats")).to_have_text("Seat management")
    expect(page.get_by_test_id("nav-crm-settings")).to_have_text("CRM Settings")
    screenshot(page, "home-admin-en")

    page.get_by_test_id("nav-account").click()
    page.get_by_test_id("locale-select").select_option("es")
    page.get_by_test_id("locale-save").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", name="Cuenta", exact=True)).to_be_visible()
    page.get_by_test_id("token-name").fill("portátil")
    page.get_by_test_id("token-create").click()
    expect(page.get_by_test_id("new-token")).to_contain_text("sb_")
    screenshot(page, "account-es-new-token")

    page.get_by_test_id("sign-out").click()
    expect(page).to_have_url(live_console.url("/sign-in?lang=es"))
    page.goto(live_console.url("/account"))
    expect(page).to_have_url(live_console.url("/sign-in?next=%2Faccount"))


def test_a_spanish_speaking_seller_sees_no_admin_links_and_is_refused_admin_pages(
    page: Page, live_console: LiveConsole
) -> None:
    page.goto(live_console.url("/sign-in?lang=es"))
    expect(page.get_by_role("heading", name="Inicia sesión en salesbridge")).to_be_visible()
    screenshot(page, "sign-in-es")

    _sign_in(page, live_console, "vendedora@acme.test", lang="es")

    expect(page.get_by_test_id("home-title")).to_have_text("Te damos la bienvenida, Valeria Vendedora")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_test_id("nav-seats")).to_have_count(0)
    expect(page.get_by_test_id("nav-crm-settings")).to_have_count(0)
    expect(page.get_by_test_id("nav-audit")).to_have_count(0)
    screenshot(page, "home-seller-es")

    response = page.goto(live_console.url("/admin/audit"))
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", name="No tienes acceso a esta página")).to_be_visible()
    screenshot(page, "forbidden-es")

    page.goto(live_console.url("/"))
    page.get_by_test_id("sign-out").click()
    expect(page.get_by_role("heading", name="Inicia sesión en salesbridge")).to_be_visible()


def test_a_wrong_password_is_refused_in_the_chosen_language(page: Page, live_console: LiveConsole) -> None:
    page.goto(live_console.url("/sign-in?lang=es"))
    page.get_by_test_id("workspace").fill("acme")
    page.get_by_test_id("email").fill("admin@acme.test")
    page.get_by_test_id("password").fill("not the password")
    page.get_by_test_id("sign-in-submit").click()

    expect(page.get_by_test_id("form-error")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    screenshot(page, "sign-in-rejected-es")


def test_repeated_wrong_passwords_are_throttled_with_a_time_to_retry_at_phone_size(
    page: Page, live_console: LiveConsole
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    for attempt in range(6):
        page.goto(live_console.url("/sign-in?lang=es"))
        page.get_by_test_id("workspace").fill("acme")
        page.get_by_test_id("email").fill("vendedora@acme.test")
        # The sixth try is the right password: the account is locked all the same.
        page.get_by_test_id("password").fill(live_console.password if attempt == 5 else f"wrong guess {attempt}!")
        page.get_by_test_id("sign-in-submit").click()
        expect(page.get_by_test_id("form-error")).to_be_visible()

    error = page.get_by_test_id("form-error")
    expect(error).to_contain_text("Demasiados intentos fallidos de inicio de sesión. Vuelve a intentarlo dentro de")
    expect(error).to_contain_text("UTC")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "sign-in-throttled-es-phone")
