"""translate_error: every failed Dataverse response becomes the error its caller should act on; and the
shape of the error tree itself."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

import orjson
import pytest

from salesbridge import errors
from salesbridge.crm.dynamics.errors import translate_error
from salesbridge.errors import (
    AuthError,
    ConcurrencyConflictError,
    ConfigError,
    CrmError,
    DuplicateRecordError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    RecordError,
    RequestRejectedError,
    ResyncRequiredError,
    SalesbridgeError,
    TlsVerificationError,
    TokenRefreshError,
    TokenRejectedError,
    TransientError,
    UnexpectedResponseError,
    UpstreamUnavailableError,
)


def body(code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}})


@pytest.mark.parametrize(
    ("status", "code", "message", "expected"),
    [
        pytest.param(
            429, "0x80072322", "Number of requests exceeded the limit", RateLimitedError, id="429-request-count"
        ),
        pytest.param(429, "0x80072321", "Combined execution time exceeded", RateLimitedError, id="429-execution-time"),
        pytest.param(
            503,
            "0x80072326",
            "Number of concurrent requests exceeded",
            RateLimitedError,
            id="503-with-concurrency-code",
        ),
        pytest.param(500, "0x80040216", "An unexpected error occurred.", UpstreamUnavailableError, id="500"),
        pytest.param(502, "", "Bad gateway", UpstreamUnavailableError, id="502-without-code"),
        pytest.param(503, "0x80040216", "The service is temporarily unavailable.", UpstreamUnavailableError, id="503"),
        pytest.param(504, "", "Gateway timeout", UpstreamUnavailableError, id="504"),
        pytest.param(408, "", "Request timeout", UpstreamUnavailableError, id="408"),
        pytest.param(501, "0x8006088a", "Not implemented", RequestRejectedError, id="501-is-not-transient"),
        pytest.param(401, "0x80044302", "Request is not authenticated.", TokenRejectedError, id="401"),
        pytest.param(
            403, "0x80040220", "Principal user is missing prvReadAccount privilege", AuthError, id="403-privilege"
        ),
        pytest.param(403, "0x80048306", "SecLib::AccessCheckEx failed.", AuthError, id="403-record-access"),
        pytest.param(404, "0x80040217", "Entity 'account' With Id = x Does Not Exist", NotFoundError, id="404-record"),
        pytest.param(404, "0x0", "Resource not found for the segment 'foos'.", NotFoundError, id="404-segment"),
        pytest.param(
            412,
            "",
            "The version of the existing record doesn't match the RowVersion property provided.",
            ConcurrencyConflictError,
            id="412-version-mismatch",
        ),
        pytest.param(
            412,
            "0x80040237",
            "A record with matching key values already exists.",
            DuplicateRecordError,
            id="412-duplicate-id",
        ),
        pytest.param(
            412,
            "",
            "A record with matching key values already exists.",
            DuplicateRecordError,
            id="412-duplicate-without-code",
        ),
        pytest.param(
            400, "0x80060892", "Entity Key account_number violated.", DuplicateRecordError, id="400-duplicate-key"
        ),
        pytest.param(
            400,
            "0x80044352",
            "Version stamp associated with the client has expired.",
            ResyncRequiredError,
            id="400-expired-change-token",
        ),
        pytest.param(
            410,
            "-2147204270",
            "Version stamp associated with the client has expired.",
            ResyncRequiredError,
            id="decimal-expired-change-token",
        ),
        pytest.param(
            400,
            "0x80048d19",
            "Error identified in Payload provided by the user",
            RequestRejectedError,
            id="400-payload",
        ),
        pytest.param(400, "0x80060888", "Could not find a property named 'x'", RequestRejectedError, id="400-uri"),
        pytest.param(405, "", "Method not allowed", RequestRejectedError, id="405"),
        pytest.param(413, "0x8004418a", "Request message length is too large.", RequestRejectedError, id="413"),
        pytest.param(302, "", "Found", UnexpectedResponseError, id="302-not-an-error-status"),
    ],
)
def test_status_and_code_choose_the_error(status: int, code: str, message: str, expected: type[CrmError]) -> None:
    error = translate_error(status, body(code, message), {"x-ms-service-request-id": "req-1"})

    assert type(error) is expected
    assert error.status == status
    assert error.code == (code or None)
    assert error.request_id == "req-1"
    assert message in error.message
    assert f"HTTP {status}" in error.message


@pytest.mark.parametrize(
    ("headers", "expected_s"),
    [
        pytest.param({"Retry-After": "7"}, 7.0, id="seconds"),
        pytest.param({"retry-after": "0"}, 0.0, id="zero-lowercase-name"),
        pytest.param(
            {"Retry-After": "Wed, 21 Oct 2026 07:28:30 GMT", "Date": "Wed, 21 Oct 2026 07:28:00 GMT"},
            30.0,
            id="http-date-against-date-header",
        ),
        pytest.param({}, None, id="absent"),
        pytest.param({"Retry-After": "soon"}, None, id="unreadable"),
    ],
)
def test_retry_after_becomes_seconds(headers: dict[str, str], expected_s: float | None) -> None:
    error = translate_error(429, body("0x80072322", "Too many"), headers)

    assert isinstance(error, RateLimitedError)
    assert error.retry_after_s == expected_s


def test_an_http_date_retry_after_can_use_an_injected_now() -> None:
    now = datetime(2026, 10, 21, 7, 28, 20, tzinfo=UTC)

    error = translate_error(429, b"", {"Retry-After": "Wed, 21 Oct 2026 07:28:30 GMT"}, now=now)

    assert isinstance(error, RateLimitedError)
    assert error.retry_after_s == 10.0


@pytest.mark.parametrize(
    ("headers", "request_id", "expected"),
    [
        pytest.param({"x-ms-service-request-id": "a", "REQ_ID": "b"}, None, "a", id="service-request-id-first"),
        pytest.param({"REQ_ID": "b"}, None, "b", id="batch-part-req-id"),
        pytest.param({"x-ms-request-id": "c"}, None, "c", id="x-ms-request-id"),
        pytest.param({"REQ_ID": "b"}, "given", "given", id="explicit-wins"),
        pytest.param({}, None, None, id="none"),
    ],
)
def test_the_request_id_is_kept(headers: dict[str, str], request_id: str | None, expected: str | None) -> None:
    assert translate_error(500, b"", headers, request_id=request_id).request_id == expected


@pytest.mark.parametrize(
    ("raw", "expected_message"),
    [
        pytest.param(b"", "(no error details in the response)", id="empty-401-body"),
        pytest.param(
            b"Content-ID Reference: '$1' does not exist in the batch context.", "Content-ID Reference", id="plain-text"
        ),
        pytest.param(b"[1, 2]", "(no error details in the response)", id="json-not-an-object"),
        pytest.param({"error": {"code": "0x1", "message": "parsed"}}, "parsed", id="already-parsed"),
        pytest.param(b'{"Message": "legacy shape"}', "legacy shape", id="legacy-shape"),
    ],
)
def test_any_body_is_tolerated(raw: bytes | dict[str, object], expected_message: str) -> None:
    error = translate_error(400, raw, {})

    assert expected_message in error.message


def test_the_message_is_redacted_and_bounded() -> None:
    leaked = "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig and client_secret=hunter2 " + "x" * 5000

    error = translate_error(400, body("0x1", leaked), {})

    assert "eyJhbGciOiJIUzI1NiJ9" not in error.message
    assert "hunter2" not in error.message
    assert len(error.message) < 2200


def test_the_tree_groups_errors_by_what_the_caller_does() -> None:
    expected_parents = {
        ConfigError: SalesbridgeError,
        CrmError: SalesbridgeError,
        TransientError: CrmError,
        RateLimitedError: TransientError,
        UpstreamUnavailableError: TransientError,
        TokenRefreshError: TransientError,
        PermanentError: CrmError,
        AuthError: PermanentError,
        TokenRejectedError: AuthError,
        NotFoundError: PermanentError,
        ConcurrencyConflictError: PermanentError,
        DuplicateRecordError: ConcurrencyConflictError,
        RequestRejectedError: PermanentError,
        UnexpectedResponseError: PermanentError,
        TlsVerificationError: PermanentError,
        RecordError: CrmError,
        ResyncRequiredError: CrmError,
    }
    for error_class, parent in expected_parents.items():
        assert error_class.__bases__ == (parent,), error_class


def test_the_docstring_draws_every_error_class() -> None:
    classes = {name for name, value in inspect.getmembers(errors, inspect.isclass) if issubclass(value, Exception)}
    drawn = errors.__doc__ or ""

    assert {name for name in classes if name not in drawn} == set()
