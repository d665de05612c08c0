"""redact_url / redact_text: what may appear in an error message or a log record."""

from __future__ import annotations

import pytest

from salesbridge.crm.dynamics.redaction import redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://org.crm.dynamics.com/api/data/v9.2/contacts?$select=fullname&$filter=emailaddress1 eq 'a@b.c'",
            "https://org.crm.dynamics.com/api/data/v9.2/contacts?$select=fullname&$filter=***",
            id="filter-values-hidden-select-kept",
        ),
        pytest.param(
            "https://org.crm.dynamics.com/api/data/v9.2/contacts?$deltatoken=919042%2108%2f22",
            "https://org.crm.dynamics.com/api/data/v9.2/contacts?$deltatoken=***",
            id="change-token-hidden",
        ),
        pytest.param(
            "https://user:pa55@login.example.com:8443/t/oauth2/v2.0/token?client_secret=abc&code=xyz#frag",
            "https://login.example.com:8443/t/oauth2/v2.0/token?client_secret=***&code=***",
            id="userinfo-fragment-and-secrets-gone",
        ),
        pytest.param(
            "https://org.crm.dynamics.com/api/data/v9.2/accounts(7eb682f1-ca75-e511-80d4-00155d2a68d1)",
            "https://org.crm.dynamics.com/api/data/v9.2/accounts(7eb682f1-ca75-e511-80d4-00155d2a68d1)",
            id="record-path-kept",
        ),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        pytest.param("Authorization: Bearer abc.def-ghi", "abc.def-ghi", id="bearer"),
        pytest.param("token eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln was refused", "eyJhbGciOiJSUzI1NiJ9", id="jwt"),
        pytest.param("client_secret=hunter2&grant_type=client_credentials", "hunter2", id="form-secret"),
        pytest.param('{"password": "pa55word"}', "pa55word", id="json-ish-password"),
        pytest.param("access_token=tok123;", "tok123", id="access-token"),
        pytest.param(
            "Cannot GET https://org.crm.dynamics.com/api/data/v9.2/contacts?$filter=lastname%20eq%20'Doe'",
            "Doe",
            id="url-query",
        ),
    ],
)
def test_redact_text_masks_secrets(text: str, secret: str) -> None:
    assert secret not in redact_text(text)


def test_redact_text_keeps_ordinary_error_messages() -> None:
    message = "Principal user (Id=1) is missing prvReadAccount privilege. ErrorCode: 0x80040220"

    assert redact_text(message) == message
