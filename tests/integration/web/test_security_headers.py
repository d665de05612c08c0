"""Every answer of the console carries the security headers (issue 16): every method of every route in the app's
router (pages and API, discovered from the app as ``test_route_audit.py`` does), called by an administrator, by
nobody and by a changing request without its CSRF token, so successes, redirects, 401, 403, 404 and 422 are all
seen; and the static files, the OpenAPI document, an unknown address, a wrong method, an oversized body (413) and an
unknown host (400) (a 500: ``test_input_rules.py``). HSTS is sent over HTTPS (the console's ``secure_cookies``),
not by a console serving plain HTTP on loopback. The headers do not depend on the store: SQLite only."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from tests.integration.web.conftest import ACME_ADMIN, Browser, Console, Person
from tests.integration.web.test_route_audit import endpoints

from salesbridge.web.app import CONTENT_SECURITY_POLICY, create_app

OpenBrowser = Callable[[Person | None], Browser]
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _missing_headers(response: Response, *, https: bool = True) -> list[str]:
    """The security headers ``response`` lacks or gets wrong."""
    expected = {
        "content-security-policy": CONTENT_SECURITY_POLICY,
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "same-origin",
    }
    if https:
        expected["strict-transport-security"] = "max-age=31536000"
    wrong = [name for name, value in expected.items() if response.headers.get(name) != value]
    if "frame-ancestors 'none'" not in response.headers.get("content-security-policy", ""):
        wrong.append("frame-ancestors")
    if not https and "strict-transport-security" in response.headers:
        wrong.append("strict-transport-security over plain HTTP")
    return wrong


def test_every_route_answers_with_the_security_headers(console: Console, browser: OpenBrowser) -> None:
    admin, nobody = browser(ACME_ADMIN), browser(None)
    seen: dict[str, list[str]] = {}
    statuses: set[int] = set()
    routes = list(endpoints(console))
    assert len(routes) > 100, "the app's router is walked"

    for endpoint in routes:
        url = endpoint.url()
        for who, client in (("admin", admin.client), ("nobody", nobody.client)):
            # Changing requests go without the CSRF token: refused (403) before anything changes.
            response = client.request(endpoint.method, url, follow_redirects=False)
            statuses.add(response.status_code)
            if problems := _missing_headers(response):
                seen[f"{endpoint.method} {url} as {who} → {response.status_code}"] = problems

    assert not seen, seen
    assert {200, 303, 401, 403, 404, 422} <= statuses, sorted(statuses)


def test_static_files_errors_and_refusals_carry_the_security_headers(console: Console, browser: OpenBrowser) -> None:
    client = browser(ACME_ADMIN).client
    answers = {
        "static file": client.get("/static/console.css"),
        "missing static file": client.get("/static/nothing.css"),
        "OpenAPI document": client.get("/api/v1/openapi.json"),
        "unknown page": client.get("/nowhere"),
        "unknown API path": client.get("/api/v1/nowhere"),
        "wrong method": client.request("PATCH", "/sign-in"),
        "oversized body": client.post("/api/v1/me/lists", content=b"x" * 70_000),
        "unknown host": client.get("/sign-in", headers={"Host": "evil.example"}),
    }
    assert answers["static file"].status_code == 200
    assert answers["oversized body"].status_code == 413
    assert answers["unknown host"].status_code == 400
    assert {name: _missing_headers(answer) for name, answer in answers.items() if _missing_headers(answer)} == {}


def test_plain_http_on_loopback_gets_no_hsts(console: Console) -> None:
    app = create_app(console.services, secure_cookies=False, public_base_url="http://127.0.0.1:8000")
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        for path in ("/sign-in", "/static/console.css", "/nowhere"):
            assert _missing_headers(client.get(path), https=False) == [], path
