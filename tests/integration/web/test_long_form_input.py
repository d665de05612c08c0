"""Every form of the console given very long text (issue 16, "Hostile input"): each field of every page form (routes
discovered from the app, fields from their declared form parameters) filled with 60,000 characters (under the 64 KiB
body bound) is refused with a page saying why or accepted, never a 500 nor FastAPI's JSON (16 forms answered JSON
before); with 100 kB the request is refused before it is read (413), as a page a person can read in their language.
SQLite only: the bounds and rules do not depend on the store."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from fastapi.params import Form
from tests.integration.web.conftest import ACME_ADMIN, Browser, Console, Person
from tests.integration.web.test_route_audit import endpoints

OpenBrowser = Callable[[Person | None], Browser]
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
UNDER_THE_BOUND = 60_000
OVER_THE_BOUND = 100_000


def _form_routes(console: Console) -> list[tuple[str, list[str]]]:
    """(URL, form field names) of every changing page route taking form fields (the CSRF token aside)."""
    routes = []
    for endpoint in endpoints(console):
        if endpoint.is_api or endpoint.method != "POST":
            continue
        fields = [
            param.alias
            for param in endpoint.dependant.body_params
            if isinstance(param.field_info, Form) and param.alias != "csrf_token"
        ]
        if fields:
            routes.append((endpoint.url(), fields))
    return routes


def test_every_form_field_given_60000_characters_is_answered_without_a_500(
    console: Console, browser: OpenBrowser
) -> None:
    admin = browser(ACME_ADMIN)
    routes = _form_routes(console)
    assert len(routes) > 15, routes
    failed = {}
    for url, fields in routes:
        text = "<b>x</b>" + "y" * (UNDER_THE_BOUND // len(fields) - 8)
        answer = admin.client.post(
            url, data={**admin.csrf_data(), **dict.fromkeys(fields, text)}, follow_redirects=False
        )
        if answer.status_code >= 500:
            failed[url] = answer.status_code
        elif not answer.headers.get("content-type", "").startswith("text/html") and answer.status_code != 303:
            failed[url] = f"{answer.status_code} answered as {answer.headers.get('content-type')}, not a page"
        elif answer.headers.get("content-type", "").startswith("text/html") and "<b>x</b>" in answer.text:
            failed[url] = "the markup was echoed unescaped"
    assert failed == {}
    assert admin.client.get("/lists").status_code == 200, "the console still answers"


def test_a_form_of_100_kb_is_refused_before_it_is_read_with_a_page_in_the_users_language(
    browser: OpenBrowser,
) -> None:
    admin = browser(ACME_ADMIN)
    for language, sentence in (("en", "too large"), ("es", "demasiado grande")):
        refused = admin.client.post(
            f"/lists/{uuid.uuid4()}/rename",
            data={**admin.csrf_data(), "name": "x" * OVER_THE_BOUND},
            headers={"Accept-Language": language},
        )
        assert refused.status_code == 413
        assert refused.headers["content-type"].startswith("text/html")
        assert sentence in refused.text
        assert "<h1>" in refused.text, "a page, not JSON (it was JSON on every console form)"
    api = admin.client.post("/api/v1/me/lists", json={"name": "x" * OVER_THE_BOUND}, headers=admin.csrf_headers())
    assert api.status_code == 413
    assert api.json() == {"detail": "The request is too large."}, "the API still answers JSON"
