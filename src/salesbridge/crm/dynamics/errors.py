"""The one place where a failed Dataverse response becomes an error of the salesbridge tree."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

import orjson

from salesbridge.crm.dynamics.redaction import redact_text
from salesbridge.errors import (
    AuthError,
    ConcurrencyConflictError,
    CrmError,
    DuplicateRecordError,
    NotFoundError,
    RateLimitedError,
    RequestRejectedError,
    ResyncRequiredError,
    TokenRejectedError,
    UnexpectedResponseError,
    UpstreamUnavailableError,
)

REQUEST_ID_HEADERS = ("x-ms-service-request-id", "req_id", "x-ms-request-id")
"""Response headers that carry the server's request id, in order of preference."""

_EXPIRED_VERSION_STAMP = frozenset({"0x80044352", "-2147204270"})
# Service protection: number of requests, execution time, concurrent requests (api-limits.md).
_SERVICE_PROTECTION = frozenset({"0x80072322", "0x80072321", "0x80072326", "-2147015902", "-2147015903", "-2147015898"})
# DuplicateRecord, DuplicateRecordEntityKey.
_DUPLICATE = frozenset({"0x80040237", "0x80060892", "-2147220937", "-2147088238"})
_MAX_MESSAGE_CHARS = 2000


def translate_error(
    status: int,
    body: bytes | str | Mapping[str, Any] | None,
    headers: Mapping[str, str],
    *,
    request_id: str | None = None,
    now: datetime | None = None,
) -> CrmError:
    """Turn a failed response (status >= 400) into the error the caller should act on.

    Keys on the Dataverse error code first (an expired change-tracking token or a service-protection code
    means the same whatever the status), then on the status. Pure: no I/O, no clock unless ``now`` is given.

    Args:
        status: The HTTP status.
        body: The raw body, or an already-parsed JSON object. Dataverse sends
            ``{"error": {"code": "0x…", "message": "…"}}``; anything else is tolerated.
        headers: The response headers (any case). ``Retry-After`` (seconds or an HTTP date) and the
            request-id headers are read.
        request_id: The request id when known from elsewhere (a batch part); otherwise read from headers.
        now: The current time, to turn an HTTP-date ``Retry-After`` into seconds; the response's ``Date``
            header is used when None.

    Returns:
        ResyncRequiredError (code 0x80044352), RateLimitedError (429 or a service-protection code),
        TokenRejectedError (401), AuthError (403), NotFoundError (404), DuplicateRecordError (412 or a
        duplicate-key code), ConcurrencyConflictError (other 412), UpstreamUnavailableError (408, 5xx except
        501), RequestRejectedError (other 4xx, 501), UnexpectedResponseError (a status that is not an error).
        The message names the status and code and quotes the server's message, redacted of secrets.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    code, server_message = _read_error_body(body)
    request_id = request_id or next((lowered[name] for name in REQUEST_ID_HEADERS if lowered.get(name)), None)
    normalized_code = (code or "").lower()
    context: dict[str, Any] = {"status": status, "code": code, "request_id": request_id}

    def message(summary: str) -> str:
        label = f"HTTP {status}, {code}" if code else f"HTTP {status}"
        return f"{summary} ({label}): {server_message}"

    if normalized_code in _EXPIRED_VERSION_STAMP:
        return ResyncRequiredError(
            message("The change-tracking token expired; read the table again in full"), **context
        )
    if status == HTTPStatus.TOO_MANY_REQUESTS or normalized_code in _SERVICE_PROTECTION:
        retry_after_s = _retry_after_s(lowered, now)
        waited = f"; retry after {retry_after_s:g} s" if retry_after_s is not None else ""
        return RateLimitedError(
            message(f"Dynamics throttled the request{waited}"), retry_after_s=retry_after_s, **context
        )
    if status == HTTPStatus.UNAUTHORIZED:
        return TokenRejectedError(message("Dynamics refused the access token"), **context)
    if status == HTTPStatus.FORBIDDEN:
        return AuthError(message("Dynamics denied access"), **context)
    if status == HTTPStatus.NOT_FOUND:
        return NotFoundError(message("Not found in Dynamics"), **context)
    if normalized_code in _DUPLICATE or (
        status == HTTPStatus.PRECONDITION_FAILED and "already exists" in server_message.lower()
    ):
        return DuplicateRecordError(message("The record already exists in Dynamics"), **context)
    if status == HTTPStatus.PRECONDITION_FAILED:
        return ConcurrencyConflictError(message("The record changed in Dynamics since it was read"), **context)
    if status == HTTPStatus.NOT_IMPLEMENTED:
        # 501 means "this operation is not supported here": retrying cannot make it supported.
        return RequestRejectedError(message("Dynamics does not support this operation"), **context)
    if status == HTTPStatus.REQUEST_TIMEOUT or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return UpstreamUnavailableError(message("Dynamics is unavailable"), **context)
    if status >= HTTPStatus.BAD_REQUEST:
        return RequestRejectedError(message("Dynamics rejected the request"), **context)
    return UnexpectedResponseError(message("Dynamics answered with a status that is not an error"), **context)


def _read_error_body(body: bytes | str | Mapping[str, Any] | None) -> tuple[str | None, str]:
    """(code, message) from an OData error body; the message falls back to the body text or a placeholder."""
    parsed: Any = body
    if isinstance(body, bytes | str):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        if not text.strip():
            return None, "(no error details in the response)"
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None, _clean(text)
    if not isinstance(parsed, Mapping):
        return None, "(no error details in the response)"
    error = parsed.get("error", parsed)
    if not isinstance(error, Mapping):
        return None, _clean(str(error))
    code = error.get("code")
    code_text = str(code).strip() if code not in (None, "") else None
    raw_message = error.get("message") or error.get("Message") or "(no message)"
    return code_text or None, _clean(str(raw_message))


def _clean(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > _MAX_MESSAGE_CHARS:
        text = text[:_MAX_MESSAGE_CHARS] + "…"
    return redact_text(text)


def _retry_after_s(lowered_headers: Mapping[str, str], now: datetime | None) -> float | None:
    value = lowered_headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        reference = now or parsedate_to_datetime(lowered_headers.get("date", ""))
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None or reference.tzinfo is None:
        return None
    return max(0.0, (when - reference).total_seconds())
