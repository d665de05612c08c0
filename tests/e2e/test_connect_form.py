"""The Connect to CRM form in a real browser against the sandbox over TLS: collapsed behind "Change connection"
while connected, a re-connect needing neither authority nor a CA path (the operator offers the sandbox's CA by
name, the tenant is discovered), and a failed re-connect shown as one clean sentence that keeps the connection."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from tests.e2e.conftest import SyncedConsole, screenshot, sign_in_demo


def _open_crm_settings(page: Page, synced_console: SyncedConsole) -> None:
    sign_in_demo(page, synced_console, synced_console.admin_email)
    page.goto(synced_console.url("/settings/crm"))
    expect(page.get_by_test_id("crm-state")).to_contain_text("Conectado a Microsoft Dynamics")


def test_the_connected_form_is_collapsed_and_reconnects_with_discovery_and_an_offered_ca(
    page: Page, synced_console: SyncedConsole
) -> None:
    _open_crm_settings(page, synced_console)

    expect(page.get_by_test_id("connect-form")).to_be_hidden()
    page.get_by_test_id("change-connection-toggle").click()
    expect(page.get_by_test_id("connect-form")).to_be_visible()
    expect(page.get_by_test_id("tenant-id")).to_be_hidden(), "the tenant id sits under Advanced, not needed"
    expect(page.get_by_test_id("ca-bundle-name")).to_have_value("sandbox")
    application = synced_console.sandbox.application
    page.get_by_test_id("client-id").fill(application.client_id)
    page.get_by_test_id("client-secret").fill(application.client_secret)
    page.get_by_test_id("connect-submit").click()

    expect(page.get_by_test_id("connect-outcome")).to_contain_text("Conexión realizada, sincronización en curso")
    expect(page.get_by_test_id("crm-state")).to_contain_text("Conectado a Microsoft Dynamics")
    screenshot(page, "crm-connect-reconnected")


def test_a_failed_reconnect_is_one_clean_sentence_and_keeps_the_connection(
    page: Page, synced_console: SyncedConsole
) -> None:
    _open_crm_settings(page, synced_console)

    page.get_by_test_id("change-connection-toggle").click()
    page.get_by_test_id("client-id").fill(synced_console.sandbox.application.client_id)
    page.get_by_test_id("client-secret").fill("not-the-secret")
    page.get_by_test_id("connect-submit").click()

    outcome = page.get_by_test_id("connect-outcome")
    expect(outcome).to_contain_text(
        "Microsoft Entra ID ha rechazado el inicio de sesión: comprueba el secreto de cliente (es incorrecto: copia "
        "el valor del secreto, no su id.)."
    )
    expect(page.get_by_test_id("connect-kept")).to_contain_text("Se sigue usando la conexión que funcionaba")
    text = outcome.inner_text()
    for leak in ("AADSTS", "Error:", "ConnectionError", "Sign-in to Microsoft Entra ID was rejected"):
        assert leak not in text, text
    assert text.count("secreto de cliente") == 1, text
    expect(page.get_by_test_id("crm-state")).to_contain_text("Conectado a Microsoft Dynamics")
    expect(page.get_by_test_id("crm-last-error")).to_have_count(0)
    screenshot(page, "crm-connect-failed-kept")
