"""The Background jobs page in a real browser: an administrator reaches it from the navigation, reads what waits,
runs and failed (and why), cancels the running import and retries the failed one, in English and in Spanish, on a
desktop and on a 390 px wide phone without sideways scrolling; a seller gets neither the link nor the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from tests.e2e.conftest import LiveConsole, choose_language, screenshot, sign_in_to

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
CRM_REFUSAL = "Principal user (Id=7c1e…) is missing prvReadContact privilege (Id=0b7…) on OTC=2 for entity 'contact'."

TEXTS = {
    "en": {
        "nav": "Jobs",
        "heading": "Background jobs",
        "task": "CRM import",
        "failed": "Failed",
        "cancelled": "Cancelled by an administrator.",
        "requeued": "The job was queued again.",
    },
    "es": {
        "nav": "Tareas",
        "heading": "Tareas en segundo plano",
        "task": "Importación del CRM",
        "failed": "Fallida",
        "cancelled": "Cancelada por un administrador.",
        "requeued": "La tarea se ha vuelto a poner en cola.",
    },
}


def _seed_jobs(console: LiveConsole) -> None:
    """acme's import runs: one failed with Dynamics' refusal, then one running (no runner serves this console,
    so they stay as they are until the administrator acts)."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        failed = uow.import_runs.enqueue(reason="scheduled")
        assert uow.import_runs.claim(lease=timedelta(hours=1)) is not None
        uow.import_runs.finish(failed.id, error=CRM_REFUSAL)
        uow.commit()
    with console.store(organization_id) as uow:
        uow.import_runs.enqueue(reason="sync now")
        assert uow.import_runs.claim(lease=timedelta(hours=1)) is not None
        uow.commit()


def _admin(chromium: Browser, console: LiveConsole, lang: str, viewport: dict[str, int]) -> Page:
    page = chromium.new_context(viewport=viewport).new_page()  # type: ignore[arg-type]
    page.set_default_timeout(15_000)
    sign_in_to(page, console.base_url, "acme", "admin@acme.test", console.password)
    if lang != "en":
        choose_language(page, console.url("/account"), lang)
    return page


@pytest.mark.parametrize(("lang", "viewport"), [("en", DESKTOP), ("es", PHONE)])
def test_an_administrator_cancels_the_running_import_and_retries_the_failed_one(
    chromium: Browser, live_console: LiveConsole, lang: str, viewport: dict[str, int]
) -> None:
    _seed_jobs(live_console)
    text = TEXTS[lang]
    admin = _admin(chromium, live_console, lang, viewport)

    admin.get_by_test_id("nav-jobs").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text(text["heading"])
    expect(admin.get_by_test_id("nav-jobs")).to_have_text(text["nav"])
    expect(admin.get_by_test_id("nav-jobs")).to_have_attribute("aria-current", "page")
    jobs = admin.get_by_test_id("job-row")
    expect(jobs).to_have_count(2)
    failed = admin.locator("[data-testid=job-row][data-state=failed]")
    expect(failed.get_by_test_id("job-task")).to_contain_text(text["task"])
    expect(failed.get_by_test_id("job-state")).to_have_text(text["failed"])
    expect(failed.get_by_test_id("job-error")).to_contain_text(CRM_REFUSAL)  # Dynamics' reason, as it came
    expect(failed.get_by_test_id("job-attempts")).to_have_text("1")
    assert admin.evaluate("document.scrollingElement.scrollWidth") <= viewport["width"]
    screenshot(admin, f"jobs-{lang}-{viewport['width']}")

    admin.locator("[data-testid=job-row][data-state=running]").get_by_test_id("job-cancel").click()
    expect(admin.get_by_test_id("notice")).to_be_visible()
    expect(admin.locator("[data-testid=job-row][data-state=running]")).to_have_count(0)
    expect(admin.locator("[data-testid=job-row][data-state=cancelled]").get_by_test_id("job-error")).to_have_text(
        text["cancelled"]
    )

    admin.locator("[data-testid=job-row][data-state=failed]").get_by_test_id("job-retry").click()
    expect(admin.get_by_test_id("notice")).to_have_text(text["requeued"])
    expect(admin.locator("[data-testid=job-row][data-state=queued]")).to_have_count(1)
    assert admin.evaluate("document.scrollingElement.scrollWidth") <= viewport["width"]
    screenshot(admin, f"jobs-{lang}-{viewport['width']}-after")


def test_a_seller_has_neither_the_link_nor_the_page(chromium: Browser, live_console: LiveConsole) -> None:
    _seed_jobs(live_console)
    seller = chromium.new_context().new_page()
    sign_in_to(seller, live_console.base_url, "acme", "vendedora@acme.test", live_console.password)
    expect(seller.get_by_test_id("nav-jobs")).to_have_count(0)
    answer = seller.goto(live_console.url("/admin/jobs"))
    assert answer is not None
    assert answer.status == 403
    expect(seller.get_by_test_id("job-row")).to_have_count(0)
