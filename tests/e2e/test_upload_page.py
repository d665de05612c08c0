"""The CSV upload page in a real browser, in English and in Spanish: an administrator reaches it from the People page,
uploads a people file with a few bad lines, sees it wait, watches the page refresh itself until the job (the
embedded runner, started once the upload waits) has loaded it, reads the counts and the refused lines, and downloads
them; a seller gets neither the link nor the page."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from tests.e2e.conftest import LiveConsole, choose_language, screenshot, sign_in_to

from salesbridge.bootstrap import dynamics_session
from salesbridge.jobs.runner import EmbeddedRunner
from salesbridge.store.uow import utc_now

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

GOOD_ROWS = 1_500  # two batches of the load
PEOPLE_CSV = (
    "Id;First Name;Surname;E-mail;Company\n".replace(";", ",")
    + "".join(f"p{n},Ana{n},Torres,ana{n}@contoso.es,Contoso\n" for n in range(GOOD_ROWS))
    + "bad-1,,,nobody@contoso.es,Contoso\n"
    + 'bad-2,"Bob,Smith,bob@fabrikam.com,Fabrikam\n'
    + "p0,Ana,Again,ana@contoso.es,Contoso\n"
)

TEXTS = {
    "en": {
        "link": "Upload CSV",
        "heading": "Upload people or companies",
        "waiting": "Waiting",
        "refreshing": "This page refreshes itself until the load ends.",
        "done": "Done",
        "no_name": f"Line {GOOD_ROWS + 2}: The line has no name: give a full name, a first name or a last name.",
        "repeated": f"Line {GOOD_ROWS + 4}: The id p0 is already on line 2; only that line is loaded.",
        "header": ["Line", "Reason"],
    },
    "es": {
        "link": "Subir CSV",
        "heading": "Subir personas o empresas",
        "waiting": "En espera",
        "refreshing": "Esta página se actualiza sola hasta que termina la carga.",
        "done": "Hecha",
        "no_name": f"Línea {GOOD_ROWS + 2}: La línea no tiene nombre: "
        "indica el nombre completo, el nombre o los apellidos.",
        "repeated": f"Línea {GOOD_ROWS + 4}: El id p0 ya está en la línea 2; solo se carga esa línea.",
        "header": ["Línea", "Motivo"],
    },
}


@pytest.fixture
def runner(live_console: LiveConsole) -> Iterator[EmbeddedRunner]:
    """The embedded engine's runner on the console's store, not started: the test starts it."""
    found = EmbeddedRunner(
        live_console.store,
        dynamics_session,
        live_console.store.connected_organization_ids,
        clock=utc_now,
        poll_interval_s=0.3,
    )
    yield found
    found.stop()


def _admin(chromium: Browser, console: LiveConsole, lang: str, viewport: dict[str, int]) -> Page:
    page = chromium.new_context(viewport=viewport, accept_downloads=True).new_page()  # type: ignore[arg-type]
    page.set_default_timeout(20_000)
    sign_in_to(page, console.base_url, "acme", "admin@acme.test", console.password)
    if lang != "en":
        choose_language(page, console.url("/account"), lang)
    return page


@pytest.mark.parametrize(("lang", "viewport"), [("en", DESKTOP), ("es", PHONE)])
def test_an_administrator_uploads_a_file_watches_it_load_and_downloads_the_refused_lines(
    chromium: Browser,
    live_console: LiveConsole,
    runner: EmbeddedRunner,
    tmp_path: Path,
    lang: str,
    viewport: dict[str, int],
) -> None:
    text = TEXTS[lang]
    file = tmp_path / "people.csv"
    file.write_text(PEOPLE_CSV, encoding="utf-8")
    admin = _admin(chromium, live_console, lang, viewport)

    admin.get_by_test_id("nav-people").click()
    expect(admin.get_by_test_id("upload-link")).to_have_text(text["link"])
    admin.get_by_test_id("upload-link").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text(text["heading"])
    assert admin.evaluate("document.scrollingElement.scrollWidth") <= viewport["width"]
    admin.get_by_test_id("upload-kind").select_option("people")
    admin.get_by_test_id("upload-file").set_input_files(str(file))
    admin.get_by_test_id("upload-submit").click()

    state = admin.get_by_test_id("upload-state")
    expect(state).to_have_text(text["waiting"])
    expect(admin.get_by_text(text["refreshing"])).to_be_visible()
    screenshot(admin, f"upload-{lang}-{viewport['width']}-waiting")
    assert admin.evaluate("document.scrollingElement.scrollWidth") <= viewport["width"]

    runner.start()  # the job runs now; the page refreshes itself until it has ended
    expect(state).to_have_attribute("data-state", "succeeded", timeout=30_000)
    expect(state).to_have_text(text["done"])
    expect(admin.get_by_test_id("count-inserted")).to_have_text(f"{GOOD_ROWS:,}")
    expect(admin.get_by_test_id("count-refused")).to_have_text("3")
    problems = admin.get_by_test_id("upload-problem")
    expect(problems).to_have_count(3)
    expect(problems.nth(0)).to_have_text(text["no_name"])
    expect(problems.nth(2)).to_have_text(text["repeated"])
    expect(admin.get_by_text(text["refreshing"])).to_have_count(0)
    assert admin.evaluate("document.scrollingElement.scrollWidth") <= viewport["width"]
    screenshot(admin, f"upload-{lang}-{viewport['width']}-done")

    with admin.expect_download() as download_info:
        admin.get_by_test_id("problems-download").click()
    downloaded = Path(download_info.value.path())
    rows = list(csv.reader(io.StringIO(downloaded.read_bytes().decode("utf-8-sig"))))
    assert rows[0] == text["header"]
    assert [row[0] for row in rows[1:]] == [str(GOOD_ROWS + 2), str(GOOD_ROWS + 3), str(GOOD_ROWS + 4)]


def test_a_seller_has_neither_the_link_nor_the_page(chromium: Browser, live_console: LiveConsole) -> None:
    page = chromium.new_context().new_page()
    sign_in_to(page, live_console.base_url, "acme", "vendedora@acme.test", live_console.password)

    page.get_by_test_id("nav-people").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_test_id("upload-link")).to_have_count(0)
    answer = page.goto(live_console.url("/admin/uploads"))
    assert answer is not None
    assert answer.status == 403
