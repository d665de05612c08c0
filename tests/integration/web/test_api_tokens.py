"""API tokens: who may create them, expiry, the "last used" stamp written at most every five minutes, and no
caching of token-issuing responses — through the real console on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from tests.integration.web.conftest import ACME_ADMIN, ACME_SELLER, Browser, Console, Person

from salesbridge.store.tables import ApiToken

BrowserFactory = Callable[[Person | None], Browser]


def _create(admin: Browser, **body: Any) -> dict[str, Any]:
    created = admin.client.post("/api/v1/me/tokens", json={"name": "script", **body}, headers=admin.csrf_headers())
    assert created.status_code == 201, created.text
    payload: dict[str, Any] = created.json()
    return payload


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _token_count(console: Console) -> int:
    with console.session_factory() as session:
        return session.scalar(select(func.count()).select_from(ApiToken)) or 0


def test_a_bearer_token_cannot_create_tokens(console: Console, browser: BrowserFactory) -> None:
    token = _create(browser(ACME_ADMIN))["token"]
    robot = browser(None).client

    refused = robot.post("/api/v1/me/tokens", json={"name": "offspring"}, headers=_bearer(token))

    assert refused.status_code == 403
    assert "not with an API token" in refused.json()["detail"]
    assert _token_count(console) == 1
    # The token still works for everything else it is for.
    assert robot.get("/api/v1/me/tokens", headers=_bearer(token)).status_code == 200


def test_the_bearer_refusal_speaks_the_users_language(console: Console, browser: BrowserFactory) -> None:
    token = _create(browser(ACME_SELLER))["token"]

    refused = browser(None).client.post("/api/v1/me/tokens", json={"name": "x"}, headers=_bearer(token))

    assert refused.status_code == 403
    assert "no con otro token de API" in refused.json()["detail"]


def test_token_issuing_responses_are_never_cached(browser: BrowserFactory) -> None:
    admin = browser(ACME_ADMIN)

    created = admin.client.post("/api/v1/me/tokens", json={"name": "script"}, headers=admin.csrf_headers())
    page = admin.client.post("/account/tokens", data={**admin.csrf_data(), "name": "laptop"})

    assert created.headers["cache-control"] == "no-store"
    assert page.headers["cache-control"] == "no-store"
    assert 'data-testid="new-token">sb_' in page.text


def test_tokens_expire_after_90_days_unless_chosen_otherwise(console: Console, browser: BrowserFactory) -> None:
    admin = browser(ACME_ADMIN)
    default = _create(admin)
    weekly = _create(admin, name="weekly", expires_in_days=7)
    robot = browser(None).client
    assert datetime.fromisoformat(default["api_token"]["expires_at"]) == console.clock() + timedelta(days=90)
    assert datetime.fromisoformat(weekly["api_token"]["expires_at"]) == console.clock() + timedelta(days=7)
    too_long = admin.client.post(
        "/api/v1/me/tokens", json={"name": "forever", "expires_in_days": 3650}, headers=admin.csrf_headers()
    )
    assert too_long.status_code == 422

    console.clock.advance(timedelta(days=7))

    assert robot.get("/api/v1/me", headers=_bearer(weekly["token"])).status_code == 401
    assert robot.get("/api/v1/me", headers=_bearer(default["token"])).status_code == 200
    console.clock.advance(timedelta(days=83))
    assert robot.get("/api/v1/me", headers=_bearer(default["token"])).status_code == 401
    listed = {item["name"]: item for item in browser(ACME_ADMIN).client.get("/api/v1/me/tokens").json()}
    assert (listed["script"]["is_active"], listed["weekly"]["is_active"]) == (False, False)


def test_the_account_page_offers_an_expiry_and_shows_expiry_and_last_use(
    console: Console, browser: BrowserFactory
) -> None:
    seller = browser(ACME_SELLER)  # Spanish
    form = seller.client.get("/account").text
    assert '<option value="90" selected>90 días</option>' in form

    page = seller.client.post("/account/tokens", data={**seller.csrf_data(), "name": "móvil", "expires_in_days": "7"})
    token = page.text.split('data-testid="new-token">')[1].split("<")[0]
    browser(None).client.get("/api/v1/me", headers=_bearer(token))
    console.clock.advance(timedelta(days=8))
    shown = browser(ACME_SELLER).client.get("/account").text  # signed in again: sessions last 12 hours

    assert 'data-testid="token-expires"><time datetime="2026-03-09T09:00:00+00:00">9 mar 2026, 9:00 UTC' in shown
    assert 'data-testid="token-last-used"><time datetime="2026-03-02T09:00:00+00:00">' in shown
    assert "Caducado" in shown
    assert "Caduca" in shown


@pytest.fixture
def token_writes(console: Console) -> Iterator[list[str]]:
    """The UPDATE statements sent to ``api_tokens`` while the test runs (seen at the database driver)."""
    engine = console.session_factory.kw["bind"]
    assert isinstance(engine, Engine)
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_TOKENS"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_last_use_is_written_at_most_every_five_minutes(
    console: Console, browser: BrowserFactory, token_writes: list[str]
) -> None:
    created = _create(browser(ACME_ADMIN))
    robot = browser(None).client
    started = console.clock()

    for _ in range(50):
        assert robot.get("/api/v1/me", headers=_bearer(created["token"])).status_code == 200
    console.clock.advance(timedelta(minutes=4, seconds=59))
    for _ in range(50):
        assert robot.get("/api/v1/me", headers=_bearer(created["token"])).status_code == 200

    assert len(token_writes) == 1
    with console.session_factory() as session:
        assert session.scalar(select(ApiToken.last_used_at)) == started

    console.clock.advance(timedelta(seconds=1))
    assert robot.get("/api/v1/me", headers=_bearer(created["token"])).status_code == 200

    assert len(token_writes) == 2
    with console.session_factory() as session:
        assert session.scalar(select(ApiToken.last_used_at)) == started + timedelta(minutes=5)
