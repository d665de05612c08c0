"""Input that must be refused at the edge, the same way by the API and the console (issue 10, item 10), on SQLite and
PostgreSQL: control characters (NUL included) in emails, list names and token names were stored (a NUL in an email
broke its owner's CRM match); a lone surrogate in JSON (``"\\ud800"``) or a body that is not UTF-8 gave a 500
without the security headers; a 500 lacked them too."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from tests.integration.web.conftest import ACME_ADMIN, ACME_SELLER, BASE_URL, Browser, Console, Person, csrf_of, invite

from salesbridge.web.app import create_app

OpenBrowser = Callable[[Person | None], Browser]

CONTROL_TEXTS = ["a\x00b", "tab\there", "line\nbreak", "bell\x07", "c1\x85", "del\x7f"]


def _has_security_headers(response: object) -> bool:
    headers = response.headers  # type: ignore[attr-defined]
    return headers.get("x-content-type-options") == "nosniff" and "default-src 'self'" in headers.get(
        "content-security-policy", ""
    )


@pytest.mark.parametrize("name", CONTROL_TEXTS)
def test_token_names_with_control_characters_are_refused_by_api_and_console(browser: OpenBrowser, name: str) -> None:
    admin = browser(ACME_ADMIN)
    api = admin.client.post("/api/v1/me/tokens", json={"name": name}, headers=admin.csrf_headers())
    page = admin.client.post("/account/tokens", data={**admin.csrf_data(), "name": name})

    assert api.status_code == 422, api.text
    assert "control characters" in api.json()["detail"]
    assert page.status_code == 400  # the Account page's answer to a refused form
    assert "control characters" in page.text
    assert admin.client.get("/api/v1/me/tokens").json() == []


@pytest.mark.parametrize("name", CONTROL_TEXTS)
def test_list_names_with_control_characters_are_refused_by_api_and_console(browser: OpenBrowser, name: str) -> None:
    seller = browser(ACME_SELLER)
    api = seller.client.post("/api/v1/me/lists", json={"name": name}, headers=seller.csrf_headers())
    page = seller.client.post("/lists", data={**seller.csrf_data(), "name": name})
    created = seller.client.post("/api/v1/me/lists", json={"name": "Q3"}, headers=seller.csrf_headers())
    renamed = seller.client.patch(
        f"/api/v1/me/lists/{created.json()['id']}", json={"name": name}, headers=seller.csrf_headers()
    )

    assert api.status_code == 422, api.text
    assert page.status_code == 422
    assert "caracteres de control" in page.text  # the seller reads Spanish
    assert renamed.status_code == 422, renamed.text
    names = [saved["name"] for saved in seller.client.get("/api/v1/me/lists").json()]
    assert not any(name in existing for existing in names)


def test_control_characters_in_the_spanish_console_are_explained_in_spanish(browser: OpenBrowser) -> None:
    admin = browser(ACME_ADMIN)
    assert admin.client.put("/api/v1/me/locale", json={"locale": "es"}, headers=admin.csrf_headers()).status_code < 300

    refused = admin.client.post("/api/v1/me/tokens", json={"name": "ci\x00"}, headers=admin.csrf_headers())

    assert refused.status_code == 422
    assert "caracteres de control" in refused.json()["detail"]


@pytest.mark.parametrize("email", ["ana\x00@acme.test", "ana@acme.test\n", "ana@acme\x1b.test", "ana@acme.test\x85"])
def test_a_seat_holders_email_with_control_characters_is_refused(
    console: Console, browser: OpenBrowser, email: str
) -> None:
    admin = browser(ACME_ADMIN)
    seats = admin.client.get("/api/v1/orgs/acme/seats").json()["seats"]
    seller_seat = next(seat for seat in seats if seat["email"] == ACME_SELLER.email)

    refused = admin.client.put(
        f"/api/v1/orgs/acme/seats/{seller_seat['id']}/email", json={"email": email}, headers=admin.csrf_headers()
    )

    form = admin.client.post(f"/seats/{seller_seat['id']}/email", data={**admin.csrf_data(), "email": email})

    assert refused.status_code == 422, refused.text
    assert form.status_code == 422
    assert "Enter a valid email address" in form.text
    emails = [seat["email"] for seat in admin.client.get("/api/v1/orgs/acme/seats").json()["seats"]]
    assert ACME_SELLER.email in emails


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/me/lists", b'{"name": "\\ud800"}'),
        ("/api/v1/me/tokens", b'{"name": "ok", "other": ["\\udfff"]}'),
        ("/api/v1/me/locale", b'{"locale": "\\ud800"}'),
        ("/api/v1/me/lists", b'{"name": "\xff\xfe"}'),
        ("/api/v1/me/lists", b'{"name": '),
    ],
    ids=["lone surrogate", "lone surrogate elsewhere", "lone surrogate, no text rule", "not UTF-8", "truncated"],
)
def test_unreadable_json_gets_422_json_with_the_security_headers(browser: OpenBrowser, path: str, body: bytes) -> None:
    admin = browser(ACME_ADMIN)
    method = admin.client.put if path.endswith("locale") else admin.client.post

    refused = method(path, content=body, headers={**admin.csrf_headers(), "content-type": "application/json"})

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/json"
    assert isinstance(refused.json()["detail"], list)
    assert _has_security_headers(refused)


class _BrokenStore:
    """A store that fails every use: an unexpected error, as a database gone away would give."""

    def __call__(self, *_args: object, **_kwargs: object) -> object:
        raise RuntimeError("the store is gone")

    def __getattr__(self, _name: str) -> object:
        raise RuntimeError("the store is gone")


def test_a_500_carries_the_security_headers(console: Console) -> None:
    # Accounts keep the real store (signing in works); the CRM status page's store is broken.
    services = dataclasses.replace(console.services, store=_BrokenStore())  # type: ignore[arg-type]
    app = create_app(services, public_base_url=BASE_URL)
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        form = client.get("/sign-in")
        signed_in = client.post(
            "/sign-in",
            data={
                "workspace": ACME_ADMIN.org,
                "email": ACME_ADMIN.email,
                "password": ACME_ADMIN.password,
                "csrf_token": csrf_of(form.text),
            },
            follow_redirects=False,
        )
        assert signed_in.status_code == 303
        failed = client.get("/api/v1/orgs/acme/crm/connection")

    assert failed.status_code == 500
    assert _has_security_headers(failed)


@pytest.mark.parametrize(("workspace", "email"), [("ac\x00me", ACME_ADMIN.email), ("acme", "ada\x00@acme.test")])
def test_a_sign_in_naming_nul_is_refused_like_an_unknown_account(
    browser: OpenBrowser, workspace: str, email: str
) -> None:
    """PostgreSQL refuses a NUL in a query: the sign-in answered 500. Now it is an account that does not exist."""
    anonymous = browser(None)

    def attempt(workspace: str, email: str) -> tuple[int, str]:
        form = anonymous.client.get("/sign-in")
        answer = anonymous.client.post(
            "/sign-in",
            data={
                "workspace": workspace,
                "email": email,
                "password": "wrong password 42",
                "csrf_token": csrf_of(form.text),
            },
            follow_redirects=False,
        )
        return answer.status_code, answer.text

    refused = attempt(workspace, email)
    unknown = attempt("acme", "nobody@acme.test")

    assert refused[0] == unknown[0] != 500
    assert "The workspace, email or password is not correct." in refused[1]


def test_a_name_with_control_characters_cannot_accept_an_invitation(console: Console, browser: OpenBrowser) -> None:
    token = invite(console, "nora@acme.test")
    anonymous = browser(None)
    page = anonymous.client.get(f"/invitations/{token}")
    password = "tulip harbour violin seventeen"
    form = {"password": password, "password_confirmation": password, "csrf_token": csrf_of(page.text)}

    refused = anonymous.client.post(f"/invitations/{token}", data={**form, "display_name": "Nora\x00 N"})
    accepted = anonymous.client.post(
        f"/invitations/{token}", data={**form, "display_name": "Nora N"}, follow_redirects=False
    )

    assert refused.status_code in (400, 422)
    assert "control characters" in refused.text
    assert accepted.status_code == 303, accepted.text[:300]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/me/lists", {"name": "Q3", "shared": True}),
        ("/api/v1/me/tokens", {"name": "laptop", "expires_in_dayz": 30}),
    ],
)
def test_a_field_the_body_does_not_describe_is_refused_by_name_and_nothing_is_written(
    browser: OpenBrowser, path: str, body: dict[str, object]
) -> None:
    """A misspelt or invented field must not be dropped without a word: the caller would believe it took effect."""
    admin = browser(ACME_ADMIN)
    response = admin.client.post(path, json=body, headers=admin.csrf_headers())

    assert response.status_code == 422, response.text
    unknown = next(key for key in body if key != "name")
    assert any(problem["loc"][-1] == unknown for problem in response.json()["detail"])
    assert body["name"] not in [kept["name"] for kept in admin.client.get(path).json()]
