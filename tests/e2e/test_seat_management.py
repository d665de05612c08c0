"""Connecting to the CRM and managing seats in a real browser, in English and in Spanish: the admin connects on
CRM Settings (a wrong secret first, shown inline), turns automatic sync off, selects every CRM user with the
top-left checkbox, deselects some, assigns three seats, disables CRM sync for one seat and sees the badges
change; a seller cannot open the admin pages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.e2e.conftest import LiveConsole, screenshot, sign_in_to

from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.seeds.seeding import parse_seed
from salesbridge.sandbox.server.serving import serve_in_thread
from salesbridge.sandbox.server.tls import create_tls_material


@dataclass(frozen=True)
class DemoCrm:
    """The demo sandbox served over TLS with its throwaway CA."""

    info: dict[str, str]
    ca_bundle: Path


@pytest.fixture(scope="module")
def demo_crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoCrm]:
    sandbox = build_sandbox(seed=parse_seed("demo"))
    material = create_tls_material(tmp_path_factory.mktemp("tls"))
    with serve_in_thread(sandbox.app, tls=material) as server:
        yield DemoCrm(sandbox.connection_info(server.base_url, str(material.ca_bundle)), material.ca_bundle)


TEXTS = {
    "en": {
        "connected": "Connected to Microsoft Dynamics",
        "success": "Successfully connected, sync in progress",
        "rejected": "The sign-in to Microsoft Entra ID was rejected",
        "in_crm": "In CRM",
        "no_crm_user": "No CRM user has the email admin@acme.test.",
        "seats_heading": "Seat management",
        "assign_heading": "Assign seats from CRM",
        "forbidden": "You don't have access to this page",
    },
    "es": {
        "connected": "Conectado a Microsoft Dynamics",
        "success": "Conexión realizada, sincronización en curso",
        "rejected": "Microsoft Entra ID ha rechazado el inicio de sesión",
        "in_crm": "En el CRM",
        "no_crm_user": "Ningún usuario del CRM tiene el correo electrónico admin@acme.test.",
        "seats_heading": "Gestión de licencias",
        "assign_heading": "Asignar licencias desde el CRM",
        "forbidden": "No tienes acceso a esta página",
    },
}


def sign_in(page: Page, console: LiveConsole, email: str) -> None:
    sign_in_to(page, console.base_url, "acme", email, console.password)


def choose_language(page: Page, lang: str) -> None:
    page.get_by_test_id("nav-account").click()
    page.get_by_test_id("locale-select").select_option(lang)
    page.get_by_test_id("locale-save").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)


def connect(page: Page, crm: DemoCrm, secret: str) -> None:
    """Connect with the URL, the application and its secret; the sandbox's CA is pasted (no operator bundle is
    offered here) and the tenant is discovered."""
    page.get_by_test_id("org-url").fill(crm.info["org_url"])
    page.get_by_test_id("client-id").fill(crm.info["client_id"])
    page.get_by_test_id("client-secret").fill(secret)
    if not page.get_by_test_id("ca-bundle-pem").is_visible():
        page.get_by_text("Advanced").or_(page.get_by_text("Opciones avanzadas")).click()
    page.get_by_test_id("ca-bundle-pem").fill(crm.ca_bundle.read_text(encoding="ascii"))
    page.get_by_test_id("connect-submit").click()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_an_admin_connects_assigns_seats_from_crm_and_switches_one_seat_off(
    page: Page, live_console: LiveConsole, demo_crm: DemoCrm, lang: str
) -> None:
    texts = TEXTS[lang]
    sign_in(page, live_console, "admin@acme.test")
    choose_language(page, lang)

    page.get_by_test_id("nav-crm-settings").click()
    connect(page, demo_crm, "not-the-secret")
    expect(page.get_by_test_id("connect-outcome")).to_contain_text(texts["rejected"])
    expect(page.get_by_test_id("client-secret")).to_have_value("")
    screenshot(page, f"crm-settings-rejected-{lang}")
    connect(page, demo_crm, demo_crm.info["client_secret"])
    expect(page.get_by_test_id("connect-outcome")).to_contain_text(texts["connected"])
    expect(page.get_by_test_id("connect-outcome")).to_contain_text(texts["success"])
    expect(page.get_by_test_id("crm-state")).to_have_text(texts["connected"])
    expect(page.get_by_test_id("crm-user")).not_to_have_text("—")
    page.get_by_test_id("sync-all-no").check()
    page.get_by_test_id("sync-all-save").click()
    expect(page.get_by_test_id("sync-all-no")).to_be_checked()
    screenshot(page, f"crm-settings-connected-{lang}")

    page.get_by_test_id("nav-seats").click()
    expect(page.get_by_role("heading", name=texts["seats_heading"], exact=True)).to_be_visible()
    page.get_by_test_id("assign-from-crm").click()
    expect(page.get_by_role("heading", name=texts["assign_heading"], exact=True)).to_be_visible()
    boxes = page.get_by_test_id("crm-user-checkbox")
    total = boxes.count()
    assert total >= 6
    page.get_by_test_id("select-all").check()
    for index in range(total):
        expect(boxes.nth(index)).to_be_checked()
    for index in range(3, total):
        boxes.nth(index).uncheck()
    expect(page.get_by_test_id("select-all")).not_to_be_checked()
    assert page.get_by_test_id("select-all").evaluate("box => box.indeterminate") is True
    chosen = [page.get_by_test_id("crm-user-row").nth(index).get_attribute("data-email") for index in range(3)]
    screenshot(page, f"assign-from-crm-{lang}")
    page.get_by_test_id("assign-submit").click()

    expect(page.get_by_test_id("invitation")).to_have_count(3)
    badges = page.get_by_test_id("in-crm-badge")
    expect(badges).to_have_count(3)
    expect(badges.first).to_have_text(texts["in_crm"])
    for email in chosen:
        expect(page.locator(f'[data-testid=seat-row][data-email="{email}"] [data-testid=in-crm-badge]')).to_be_visible()
    screenshot(page, f"seats-assigned-{lang}")

    first = page.locator(f'[data-testid=seat-row][data-email="{chosen[0]}"]')
    first.get_by_test_id("seat-menu").locator("summary").click()
    first.get_by_test_id("disable-sync").click()
    expect(page.get_by_test_id("in-crm-badge")).to_have_count(2)
    first = page.locator(f'[data-testid=seat-row][data-email="{chosen[0]}"]')
    expect(first.get_by_test_id("in-crm-badge")).to_have_count(0)
    first.get_by_test_id("seat-menu").locator("summary").click()
    expect(first.get_by_test_id("enable-sync")).to_be_visible()
    screenshot(page, f"seat-sync-disabled-{lang}")

    admin_row = page.locator('[data-testid=seat-row][data-email="admin@acme.test"]')
    expect(admin_row.get_by_test_id("match-reason")).to_contain_text(texts["no_crm_user"])


def test_the_seat_limit_is_explained_and_nothing_is_assigned(
    page: Page, live_console: LiveConsole, demo_crm: DemoCrm
) -> None:
    sign_in(page, live_console, "admin@acme.test")
    page.get_by_test_id("nav-crm-settings").click()
    connect(page, demo_crm, demo_crm.info["client_secret"])
    expect(page.get_by_test_id("crm-state")).to_have_text("Connected to Microsoft Dynamics")
    page.goto(live_console.url("/seats/assign-from-crm"))

    page.get_by_test_id("select-all").check()
    page.get_by_test_id("assign-submit").click()

    expect(page.get_by_test_id("form-error")).to_contain_text("only 3 seats are left in your contract")
    expect(page.get_by_test_id("crm-user-checkbox").first).to_be_checked()
    page.goto(live_console.url("/seats"))
    expect(page.get_by_test_id("seat-row")).to_have_count(2)


def test_a_seller_cannot_open_seat_management_or_crm_settings(page: Page, live_console: LiveConsole) -> None:
    sign_in(page, live_console, "vendedora@acme.test")

    for path in ("/seats", "/seats/assign-from-crm", "/settings/crm"):
        response = page.goto(live_console.url(path))
        assert response is not None
        assert response.status == 403
        expect(page.get_by_role("heading", name=TEXTS["es"]["forbidden"])).to_be_visible()
    screenshot(page, "seats-forbidden-es")
