"""Accounts and sign-in: the use cases through the console and directly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr
from sqlalchemy import select
from tests.integration.web.conftest import (
    ACME_ADMIN,
    ACME_SELLER,
    PASSWORD,
    Browser,
    Console,
    Person,
    csrf_of,
    fast_hasher,
    invite,
)

from salesbridge.errors import ContractFullError, InvalidInputError, SignInFailedError
from salesbridge.services.accounts import AccountService, token_digest
from salesbridge.store.tables import ApiToken, SeatState, User, WebSession

BEARER = "Authorization"


def test_signing_in_opens_a_session_and_stores_only_digests(console: Console) -> None:
    signed_in = console.accounts.sign_in("acme", "ADMIN@acme.test", SecretStr(PASSWORD))

    assert signed_in.principal.email == ACME_ADMIN.email
    assert signed_in.principal.is_admin
    assert signed_in.principal.has_seat
    assert signed_in.expires_at == console.clock() + timedelta(hours=12)
    token = signed_in.session_token.get_secret_value()
    assert token not in repr(signed_in)
    assert signed_in.csrf_token not in repr(signed_in)
    with console.session_factory() as session:
        stored = session.scalars(select(WebSession.token_hash)).all()
        hashes = session.scalars(select(User.password_hash)).all()
    assert stored == [token_digest(token)]
    assert all(value is not None and value.startswith("$argon2id$") for value in hashes)
    assert all(PASSWORD not in (value or "") for value in hashes)


@pytest.mark.parametrize(
    ("org", "email", "password"),
    [
        ("nowhere", ACME_ADMIN.email, PASSWORD),
        ("acme", "nobody@acme.test", PASSWORD),
        ("acme", ACME_ADMIN.email, "wrong password!!"),
        ("globex", ACME_ADMIN.email, PASSWORD),
    ],
)
def test_every_sign_in_failure_is_the_same_error(console: Console, org: str, email: str, password: str) -> None:
    with pytest.raises(SignInFailedError) as caught:
        console.accounts.sign_in(org, email, SecretStr(password))

    assert str(caught.value) == "The workspace, email or password is not correct."


def test_the_sign_in_page_does_not_say_which_part_was_wrong(browser: Callable[[Person | None], Browser]) -> None:
    client = browser(None).client
    answers = []
    for email, password in [("nobody@acme.test", PASSWORD), (ACME_ADMIN.email, "wrong password!!")]:
        form = client.get("/sign-in")
        data = {"workspace": "acme", "email": email, "password": password, "csrf_token": csrf_of(form.text)}
        response = client.post("/sign-in", data=data, follow_redirects=False)
        answers.append((response.status_code, "The workspace, email or password is not correct." in response.text))

    assert answers == [(400, True), (400, True)]


def test_a_session_expires_after_twelve_hours(console: Console, browser: Callable[[Person | None], Browser]) -> None:
    admin = browser(ACME_ADMIN)
    assert admin.client.get("/", follow_redirects=False).status_code == 200

    console.clock.advance(timedelta(hours=12, seconds=1))

    response = admin.client.get("/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Faccount"


def test_signing_out_ends_the_session(console: Console, browser: Callable[[Person | None], Browser]) -> None:
    admin = browser(ACME_ADMIN)
    session_cookie = admin.client.cookies["__Host-salesbridge_session"]

    response = admin.client.post("/sign-out", data=admin.csrf_data(), follow_redirects=False)

    assert response.status_code == 303
    assert console.accounts.session(session_cookie) is None
    assert admin.client.get("/api/v1/me").status_code == 401


def test_session_cookies_are_secure_and_http_only(
    console: Console, browser: Callable[[Person | None], Browser]
) -> None:
    client = browser(None).client
    form = client.get("/sign-in")
    data = {"workspace": "acme", "email": ACME_ADMIN.email, "password": PASSWORD, "csrf_token": csrf_of(form.text)}

    response = client.post("/sign-in?x=1", data={**data, "next": "//evil.example/"}, follow_redirects=False)

    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-salesbridge_session=")
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    assert response.headers["location"] == "/"


def test_api_tokens_are_created_used_and_revoked(console: Console, browser: Callable[[Person | None], Browser]) -> None:
    admin = browser(ACME_ADMIN)
    created = admin.client.post("/api/v1/me/tokens", json={"name": "script"}, headers=admin.csrf_headers())
    assert created.status_code == 201
    token, token_id = created.json()["token"], created.json()["api_token"]["id"]
    assert token.startswith("sb_")
    assert created.json()["api_token"]["prefix"] == token[:8]
    bearer = browser(None).client
    headers = {BEARER: f"Bearer {token}"}

    assert bearer.get("/api/v1/me", headers=headers).json()["email"] == ACME_ADMIN.email
    # Bearer requests need no CSRF token; pages never accept bearer tokens.
    assert bearer.put("/api/v1/me/locale", json={"locale": "en"}, headers=headers).status_code == 200
    assert bearer.get("/account", headers=headers, follow_redirects=False).status_code == 303
    listed = admin.client.get("/api/v1/me/tokens").json()
    assert {item["name"] for item in listed} == {"script"}
    assert next(item for item in listed if item["id"] == token_id)["last_used_at"] is not None
    assert token not in admin.client.get("/api/v1/me/tokens").text
    with console.session_factory() as session:
        assert token_digest(token) in session.scalars(select(ApiToken.token_hash)).all()

    revoked = admin.client.delete(f"/api/v1/me/tokens/{token_id}", headers=admin.csrf_headers())

    assert revoked.status_code == 204
    assert bearer.get("/api/v1/me", headers=headers).status_code == 401
    assert admin.client.delete(f"/api/v1/me/tokens/{token_id}", headers=admin.csrf_headers()).status_code == 204


def test_the_account_page_shows_a_new_token_once(browser: Callable[[Person | None], Browser]) -> None:
    admin = browser(ACME_ADMIN)

    page = admin.client.post("/account/tokens", data={**admin.csrf_data(), "name": "laptop"})

    assert page.status_code == 200
    assert 'data-testid="new-token">sb_' in page.text
    token = page.text.split('data-testid="new-token">')[1].split("<")[0]
    assert token not in admin.client.get("/account").text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"password": SecretStr("too short")}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"display_name": "  "}, "display_name"),
        ({"locale": "fr"}, "locale"),
        ({"email": ACME_ADMIN.email.upper()}, "email"),
    ],
)
def test_new_users_must_follow_the_rules(console: Console, changes: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {
        "email": "new@acme.test",
        "display_name": "New",
        "password": SecretStr("a long enough password"),
        "is_admin": False,
        "with_seat": False,
        "actor": "test",
        **changes,
    }
    with pytest.raises(InvalidInputError) as caught:
        console.accounts.create_user("acme", **arguments)  # type: ignore[arg-type]

    assert caught.value.field == field


def test_seats_beyond_the_contract_are_refused(console: Console) -> None:
    console.accounts.create_user(
        "globex", email="two@globex.test", display_name="Two", password=None, is_admin=False, with_seat=True, actor="t"
    )
    with pytest.raises(ContractFullError) as caught:
        console.accounts.create_user(
            "globex",
            email="three@globex.test",
            display_name="3",
            password=None,
            is_admin=False,
            with_seat=True,
            actor="t",
        )

    assert "All 2 seats" in str(caught.value)
    assert "Todos los 2" in caught.value.localized("es") or "2" in caught.value.localized("es")


def test_weaker_password_hashes_are_upgraded_at_sign_in(console: Console) -> None:
    stronger = AccountService(console.store, clock=console.clock, hasher=PasswordHasher(time_cost=2, memory_cost=2048))
    with console.session_factory() as session:
        before = session.scalar(select(User.password_hash).where(User.email == ACME_SELLER.email))

    stronger.sign_in("acme", ACME_SELLER.email, SecretStr(PASSWORD))

    with console.session_factory() as session:
        after = session.scalar(select(User.password_hash).where(User.email == ACME_SELLER.email))
    assert before != after
    assert after is not None
    assert "m=2048,t=2" in after
    stronger.sign_in("acme", ACME_SELLER.email, SecretStr(PASSWORD))


def test_an_invitation_is_accepted_once(console: Console, browser: Callable[[Person | None], Browser]) -> None:
    token = invite(console, "ines@acme.test")
    client = browser(None).client
    form = client.get(f"/invitations/{token}")
    assert form.status_code == 200
    assert "ines@acme.test" in form.text
    data = {
        "csrf_token": csrf_of(form.text),
        "display_name": "Inés",
        "password": "a very good password",
        "password_confirmation": "a very good password",
    }

    accepted = client.post(f"/invitations/{token}", data=data, follow_redirects=False)

    assert accepted.status_code == 303
    me = client.get("/api/v1/me").json()
    assert (me["email"], me["display_name"], me["has_seat"]) == ("ines@acme.test", "Inés", True)
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        user = uow.users.find_by_email("ines@acme.test")
        assert user is not None
        seat = uow.seats.find_by_user(user.id)
        assert seat is not None
        assert seat.state is SeatState.ACTIVE
    assert client.get(f"/invitations/{token}").status_code == 404
    again = client.post(f"/invitations/{token}", data=data, follow_redirects=False)
    assert again.status_code == 404
    console.accounts.sign_in("acme", "ines@acme.test", SecretStr("a very good password"))


def test_an_expired_invitation_is_refused(console: Console, browser: Callable[[Person | None], Browser]) -> None:
    token = invite(console, "late@acme.test", expires_in=timedelta(hours=1))
    console.clock.advance(timedelta(hours=2))

    assert browser(None).client.get(f"/invitations/{token}").status_code == 404


def test_the_language_follows_the_user(browser: Callable[[Person | None], Browser]) -> None:
    admin = browser(ACME_ADMIN)
    assert '<html lang="en">' in admin.client.get("/").text

    changed = admin.client.put("/api/v1/me/locale", json={"locale": "es"}, headers=admin.csrf_headers())

    assert changed.json()["locale"] == "es"
    home = admin.client.get("/").text
    assert '<html lang="es">' in home
    assert "Cerrar sesión" in home
    assert admin.client.put("/api/v1/me/locale", json={"locale": "fr"}, headers=admin.csrf_headers()).status_code == 422
    redirect = admin.client.post("/account/locale", data={**admin.csrf_data(), "locale": "en"}, follow_redirects=False)
    assert redirect.status_code == 303
    assert '<html lang="en">' in admin.client.get("/").text


def test_anonymous_pages_speak_the_browsers_language(browser: Callable[[Person | None], Browser]) -> None:
    client = browser(None).client

    assert '<html lang="es">' in client.get("/sign-in", headers={"Accept-Language": "es-ES,es;q=0.9"}).text
    assert '<html lang="en">' in client.get("/sign-in?lang=en", headers={"Accept-Language": "es"}).text


def test_every_response_carries_the_security_headers(browser: Callable[[Person | None], Browser]) -> None:
    client = browser(None).client
    for path in ["/sign-in", "/healthz", "/static/console.css", "/api/v1/openapi.json", "/nowhere"]:
        headers = client.get(path).headers
        assert "default-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"


def test_the_openapi_document_describes_the_api(browser: Callable[[Person | None], Browser]) -> None:
    document = browser(None).client.get("/api/v1/openapi.json").json()

    assert {"/api/v1/me", "/api/v1/me/tokens", "/api/v1/me/tokens/{token_id}", "/api/v1/me/locale"} <= set(
        document["paths"]
    )
    assert not any(path.startswith(("/sign-in", "/account")) for path in document["paths"])


def test_unused_fixture_hasher_is_argon2id() -> None:
    assert fast_hasher().hash("x").startswith("$argon2id$")
