"""A console address whose id or page number cannot be read (a link cut short in an email, a typo) shows the
console's "Page not found" page, in the user's language, not FastAPI's JSON list of problems; the API keeps its 422
JSON; a visitor who is not signed in is still sent to sign in first (SQLite and PostgreSQL). Found by QA on the demo:
``/people/not-a-uuid`` answered ``{"detail":[{"type":"uuid_parsing",…}]}`` to a seller's browser."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.integration.web.conftest import ACME_SELLER, Browser, Person

OpenBrowser = Callable[[Person | None], Browser]

UNREADABLE = [
    "/people/not-a-uuid",
    "/companies/1234",
    "/people?page=abc",
    "/companies?page=1e9x",
]


@pytest.mark.parametrize("path", UNREADABLE)
def test_an_unreadable_console_address_shows_the_not_found_page(browser: OpenBrowser, path: str) -> None:
    seller = browser(ACME_SELLER)

    page = seller.client.get(path)

    assert page.status_code == 404, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "uuid_parsing" not in page.text
    assert 'data-testid="nav-people"' in page.text  # the console's own page, signed in


def test_the_api_still_answers_422_json_and_visitors_still_sign_in_first(browser: OpenBrowser) -> None:
    seller = browser(ACME_SELLER)
    api = seller.client.get("/api/v1/orgs/acme/people/not-a-uuid")
    assert api.status_code == 422
    assert api.json()["detail"][0]["loc"] == ["path", "person_id"]

    visitor = browser(None)
    page = visitor.client.get("/people/not-a-uuid", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/sign-in")
