"""The single choke point through which salesbridge talks to the Dataverse Web API.

It owns the base URL and API version, Dataverse's default headers, bearer authentication, TLS, timeouts per
call class, the retry policy, the per-organization concurrency cap and the counters. Every failed response
goes through :func:`~salesbridge.crm.dynamics.errors.translate_error`; every network failure becomes an
:class:`~salesbridge.errors.UpstreamUnavailableError`. One client serves one organization.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from http import HTTPStatus
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, Self, TypeAlias
from urllib.parse import quote

import aiohttp
import orjson
from multidict import CIMultiDictProxy
from yarl import URL

from salesbridge.crm.budget import BudgetHolder, BudgetKey, RequestBudget
from salesbridge.crm.dynamics.auth import TokenProvider
from salesbridge.crm.dynamics.errors import translate_error
from salesbridge.crm.dynamics.redaction import redact_text, redact_url
from salesbridge.crm.dynamics.throttling import DATAVERSE_MAX_CONCURRENCY, ConcurrencyLimit, RetryPolicy
from salesbridge.crm.dynamics.trust import CaCertificates, client_ssl_context, trusted_cas
from salesbridge.errors import (
    ConcurrencyConflictError,
    CrmError,
    RateLimitedError,
    TlsVerificationError,
    TokenRejectedError,
    TransientError,
    UnexpectedResponseError,
    UpstreamUnavailableError,
)

__all__ = [
    "CALLER_HEADER",
    "CallClass",
    "ClientCounters",
    "DynamicsClient",
    "DynamicsResponse",
    "JsonObject",
    "RetryPolicy",
    "Timeouts",
    "encode_query",
    "impersonating",
    "quote_literal",
    "record_path",
    "require_identifier",
]

_logger = logging.getLogger(__name__)

JsonObject: TypeAlias = dict[str, Any]

API_VERSION = "v9.2"
IDLE_CONNECTION_S = 4.0
"""How long an idle connection stays in the client's pool for reuse. Shorter than the idle timeout of the servers
in front of the Web API (the sandbox closes an idle connection after 5 s, :data:`~salesbridge.sandbox.server.serving.
KEEP_ALIVE_S`; uvicorn's, nginx's and IIS's are 5-120 s): a connection the server has already closed is never
picked for a write. aiohttp's default, 15 s, let a POST go out on such a connection after 5-15 s of quiet; it
failed as ``Can not write request body`` (a create, not idempotent, is not retried: the activities waited for the
next drain)."""
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_ENTITY_ID = re.compile(r"\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\)\s*$")
# Characters left as they are in request paths and query values; Dataverse reads quotes, parentheses,
# commas, colons and '@' (parameter aliases) literally. Everything else (spaces, '+', '&', '#') is escaped.
_PATH_SAFE = "/()$'=,@:;*-._~!%"
_QUERY_VALUE_SAFE = "$'(),:@/*=-._~!"
_DEFAULT_HEADERS: Mapping[str, str] = MappingProxyType(
    {
        "Accept": "application/json",
        "OData-MaxVersion": "4.0",
        "OData-Version": "4.0",
    }
)
_JSON_CONTENT_TYPE = "application/json; charset=utf-8"


class CallClass(Enum):
    """Kinds of call, each with its own timeout (see :class:`Timeouts`)."""

    READ = "read"
    QUERY = "query"
    WRITE = "write"
    BULK = "bulk"


@dataclass(frozen=True)
class Timeouts:
    """Timeouts in seconds: to open a connection, and for a whole call (headers and body) per call class.

    Attributes:
        connect_s: TCP and TLS connection setup.
        read_s: Single records, metadata, functions.
        query_s: Pages of up to 5,000 rows, which take the server seconds to assemble.
        write_s: Single creates, updates, deletes.
        bulk_s: ``$batch`` and CreateMultiple/UpsertMultiple (Microsoft's SDK waits up to 4 minutes).
    """

    connect_s: float = 10.0
    read_s: float = 30.0
    query_s: float = 120.0
    write_s: float = 60.0
    bulk_s: float = 300.0

    def total_s(self, call_class: CallClass) -> float:
        """The whole-call timeout of ``call_class``."""
        return {
            CallClass.READ: self.read_s,
            CallClass.QUERY: self.query_s,
            CallClass.WRITE: self.write_s,
            CallClass.BULK: self.bulk_s,
        }[call_class]


@dataclass
class ClientCounters:
    """What a client has done since it was built. :attr:`DynamicsClient.counters` returns a copy.

    Attributes:
        requests: HTTP requests sent (each retry counts).
        retries: Retries after a transient failure.
        throttles: 429 / service-protection answers received.
        token_refreshes: Forced token refreshes after a 401.
        failures: Calls that ended in an error after any retries.
        bytes_sent: Request body bytes.
        bytes_received: Response body bytes (after decompression).
        waited_s: Seconds spent waiting before retries and in throttle pauses.
    """

    requests: int = 0
    retries: int = 0
    throttles: int = 0
    token_refreshes: int = 0
    failures: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    waited_s: float = 0.0


@dataclass(frozen=True)
class DynamicsResponse:
    """A successful response (or, for ``$batch``, a failed one whose parts must be read)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> JsonObject:
        """The body as a JSON object.

        Raises:
            UnexpectedResponseError: The body is empty, not JSON, or not an object.
        """
        try:
            parsed = orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            raise UnexpectedResponseError(
                f"Dynamics answered HTTP {self.status} with a body that is not JSON.", status=self.status
            ) from exc
        if not isinstance(parsed, dict):
            raise UnexpectedResponseError(
                f"Dynamics answered HTTP {self.status} with JSON that is not an object.", status=self.status
            )
        return parsed

    def entity_id(self) -> str | None:
        """The id in ``OData-EntityId`` (or ``Location``) of a create or upsert, lowercased; None if absent."""
        for name in ("OData-EntityId", "Location"):
            match = _ENTITY_ID.search(self.headers.get(name, ""))
            if match:
                return match.group(1).lower()
        return None


def record_path(entity_set: str, record_id: str) -> str:
    """``accounts(<id>)``.

    Raises:
        ValueError: ``record_id`` is not a GUID (ids never reach a URL unchecked).
    """
    if not _GUID.match(record_id.strip("{}")):
        raise ValueError(f"'{record_id}' is not a GUID.")
    return f"{entity_set}({record_id.strip('{}').lower()})"


def require_identifier(name: str) -> str:
    """``name`` when it is a valid logical or schema name (letters, digits, underscores).

    Raises:
        ValueError: Anything else; names are interpolated into URLs and filters, so they are checked first.
    """
    if not _IDENTIFIER.match(name):
        raise ValueError(f"'{name}' is not a valid Dataverse name.")
    return name


CALLER_HEADER = "MSCRMCallerID"
"""The header that makes one request run as another CRM user (compose-http-requests-handle-errors.md)."""


def impersonating(user_id: str) -> dict[str, str]:
    """The headers of a request (or of one ``$batch`` part) that runs as the CRM user ``user_id``
    (``systemuserid``): Dataverse checks that user's privileges, records them as ``createdby``/``modifiedby``, and
    the application user as ``createdonbehalfby``. The application user needs ``prvActOnBehalfOfAnotherUser``.

    Raises:
        ValueError: ``user_id`` is not a GUID (it goes into a header unchecked otherwise).
    """
    if not _GUID.match(user_id.strip("{}")):
        raise ValueError(f"'{user_id}' is not a GUID.")
    return {CALLER_HEADER: user_id.strip("{}").lower()}


def quote_literal(text: str) -> str:
    """An OData string literal: ``O'Brian`` → ``'O''Brian'``."""
    return "'" + text.replace("'", "''") + "'"


def encode_query(params: Mapping[str, str]) -> str:
    """``$select=a,b&$filter=name%20eq%20'x'``: system option names kept, values percent-encoded where needed."""
    return "&".join(
        f"{quote(name, safe='$@')}={quote(value, safe=_QUERY_VALUE_SAFE)}" for name, value in params.items()
    )


class DynamicsClient:
    """Async client of one organization's Web API. Use as an async context manager, or call :meth:`close`.

    Args:
        org_url: ``https://<org>.crm.dynamics.com``.
        tokens: Supplies bearer tokens.
        api_version: Web API version segment.
        timeouts: Per call class.
        retry_policy: When to retry transient failures.
        ca_bundle: CAs to trust instead of the system's (a private or local server): certificates, or a PEM
            file (operator's tools and tests).
        initial_concurrency: Requests in flight before the server's ``x-ms-dop-hint`` is known.
        max_concurrency: Never more than this many in flight, whatever the hint (capped at 52).
        sleep: Awaitable sleep in seconds; injected by tests.
        clock: Monotonic seconds; injected by tests.
        budget: This client's draw on the service-protection budget of its organization and application user,
            shared with the other clients of that key (:mod:`salesbridge.crm.budget`); when None, a budget of its
            own, which holds this client alone to Dataverse's limits.
        budget_max_wait_s: The longest a request waits for the budget; beyond it the attempt fails with
            :class:`RateLimitedError` carrying the wait still asked for, which the retry policy then retries or
            gives up on like a 429. Unbounded by default (the budget never asks for more than a window or a
            server's pause, and a caller with a deadline cancels).
    """

    def __init__(
        self,
        org_url: str,
        tokens: TokenProvider,
        *,
        api_version: str = API_VERSION,
        timeouts: Timeouts | None = None,
        retry_policy: RetryPolicy | None = None,
        ca_bundle: Path | CaCertificates | None = None,
        initial_concurrency: int = 4,
        max_concurrency: int = DATAVERSE_MAX_CONCURRENCY,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        budget: BudgetHolder | None = None,
        budget_max_wait_s: float = math.inf,
    ) -> None:
        origin = URL(org_url.rstrip("/"))
        if origin.scheme not in ("http", "https") or not origin.host:
            raise ValueError(f"'{redact_url(org_url)}' is not an http(s) URL.")
        self._origin = origin.origin()
        self._api_path = f"{origin.path.rstrip('/')}/api/data/{api_version}/"
        # Links the server hands out may name another version of the same API (v9.0 in Microsoft's examples).
        self._links_path = f"{origin.path.rstrip('/')}/api/data/"
        self.api_url = str(self._origin) + self._api_path
        self._tokens = tokens
        self._timeouts = timeouts or Timeouts()
        self._policy = retry_policy or RetryPolicy()
        self._cas = trusted_cas(ca_bundle)
        self._max_concurrency = max(1, min(max_concurrency, DATAVERSE_MAX_CONCURRENCY))
        self._budget_max_wait_s = budget_max_wait_s
        self._dop_limit = max(1, min(initial_concurrency, self._max_concurrency))
        self._limit = ConcurrencyLimit(self._dop_limit)
        self._budget = budget or RequestBudget.in_process(sleep=sleep, clock=clock).holder(
            BudgetKey.of(org_url, "this-client")
        )
        self._sleep = sleep
        self._clock = clock
        self._counters = ClientCounters()
        self._session: aiohttp.ClientSession | None = None
        self._paused_until = 0.0

    @property
    def api_path(self) -> str:
        """The API root's URL path, ``/api/data/v9.2/`` (``$batch`` parts address requests by it)."""
        return self._api_path

    @property
    def counters(self) -> ClientCounters:
        """A snapshot of the counters."""
        return dataclasses.replace(self._counters)

    @property
    def concurrency_limit(self) -> int:
        """Requests allowed in flight now (follows ``x-ms-dop-hint``)."""
        return self._limit.limit

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool and settle with the request budget. Idempotent."""
        await self._budget.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get_json(
        self,
        target: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        call_class: CallClass = CallClass.READ,
    ) -> JsonObject:
        """GET a JSON object. Idempotent; retried on transient failures.

        Args:
            target: A path relative to the API root (``accounts(<id>)``), or an absolute URL under it (a link
                the server handed out: used verbatim).
            params: Query options, encoded here. Not allowed with an absolute ``target``.
            headers: Extra headers (``Prefer``…).
            call_class: Chooses the timeout.

        Raises:
            CrmError: Any failure, translated; UnexpectedResponseError when the body is not a JSON object.
        """
        response = await self.request("GET", target, params=params, headers=headers, call_class=call_class)
        return response.json()

    async def post_json(
        self,
        target: str,
        body: Any,
        *,
        is_idempotent: bool,
        headers: Mapping[str, str] | None = None,
        call_class: CallClass = CallClass.WRITE,
    ) -> DynamicsResponse:
        """POST a JSON body (an action, a create).

        Args:
            is_idempotent: Whether sending it twice is harmless; if not, only throttled attempts are retried.

        Raises:
            CrmError: Any failure, translated.
        """
        return await self.request(
            "POST", target, json_body=body, headers=headers, call_class=call_class, is_idempotent=is_idempotent
        )

    async def patch(
        self,
        target: str,
        body: Any,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        prefer: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> DynamicsResponse:
        """PATCH a record: an upsert without conditions, update-only with ``If-Match: *``, create-only with
        ``If-None-Match: *``, or conditional on a version with ``If-Match: W/"…"``. Idempotent.

        Raises:
            NotFoundError: ``If-Match`` given and the record does not exist.
            ConcurrencyConflictError: The condition failed (DuplicateRecordError under ``If-None-Match: *``).
            CrmError: Any other failure.
        """
        headers = _conditions(if_match, if_none_match)
        if prefer:
            headers["Prefer"] = prefer
        return await self.request("PATCH", target, params=params, json_body=body, headers=headers)

    async def delete(self, target: str, *, if_match: str | None = None) -> None:
        """DELETE a record, optionally only at a version. Idempotent in effect: a repeat raises NotFoundError.

        Raises:
            NotFoundError: The record does not exist.
            ConcurrencyConflictError: ``if_match`` given and the record changed.
        """
        await self.request("DELETE", target, headers=_conditions(if_match, None))

    async def create(
        self, entity_set: str, values: Mapping[str, Any], *, primary_id_column: str, record_id: str | None = None
    ) -> str:
        """Create a record with a client-chosen id (generated when None); returns the id.

        The id travels in the body, so a retried create cannot make a second record: it fails with
        DuplicateRecordError instead.

        Raises:
            DuplicateRecordError: A record with this id exists.
            CrmError: Any other failure.
        """
        chosen = (record_id or str(uuid.uuid4())).lower()
        record_path(entity_set, chosen)  # validates the id
        body = {**values, primary_id_column: chosen}
        response = await self.post_json(entity_set, body, is_idempotent=True)
        return response.entity_id() or chosen

    async def update(self, entity_set: str, record_id: str, values: Mapping[str, Any], *, if_match: str = "*") -> None:
        """Update an existing record (``If-Match: *`` by default, so it never creates one).

        Raises:
            NotFoundError: The record does not exist.
            ConcurrencyConflictError: ``if_match`` is a version and the record changed.
        """
        await self.patch(record_path(entity_set, record_id), values, if_match=if_match)

    async def create_if_absent(self, entity_set: str, record_id: str, values: Mapping[str, Any]) -> bool:
        """Create the record with ``If-None-Match: *``. Idempotent.

        Returns:
            True when created; False when a record with this id already existed (perhaps made by an earlier
            attempt of this same call).
        """
        try:
            await self.patch(record_path(entity_set, record_id), values, if_none_match="*")
        except ConcurrencyConflictError:
            return False
        return True

    async def upsert(
        self, entity_set: str, record_id: str, values: Mapping[str, Any], *, primary_id_column: str
    ) -> bool:
        """Create or update the record. Idempotent.

        Asks for the representation of the primary key only, so the status tells created (201) from
        updated (200) at the cost of a few bytes.

        Returns:
            True when the record was created, False when it was updated.
        """
        response = await self.patch(
            record_path(entity_set, record_id),
            values,
            prefer="return=representation",
            params={"$select": primary_id_column},
        )
        return response.status == 201

    async def request(
        self,
        method: str,
        target: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        call_class: CallClass | None = None,
        is_idempotent: bool = True,
        accept_multipart_failure: bool = False,
    ) -> DynamicsResponse:
        """Send a request with retries, and return the response of the attempt that succeeded.

        Args:
            method: HTTP method.
            target: Path relative to the API root, or an absolute URL under it.
            params: Query options (only with a relative target).
            json_body: Serialised with orjson when not None.
            body: Raw body (with its Content-Type in ``headers``), when ``json_body`` is None.
            headers: Extra headers; they override the defaults.
            call_class: Chooses the timeout; GET defaults to READ, others to WRITE.
            is_idempotent: Whether the request may run twice; if not, only throttled attempts are retried.
            accept_multipart_failure: Return (instead of raising) a failed ``multipart/mixed`` answer, which
                is how ``$batch`` reports the operation that stopped it.

        Raises:
            RateLimitedError, UpstreamUnavailableError, TokenRefreshError: Still failing after the retries
                the policy allows.
            TokenRejectedError: 401 twice, the second time with a freshly issued token.
            TlsVerificationError: The server's certificate is not trusted.
            UnexpectedResponseError: ``target`` points outside this organization's API.
            CrmError: Any other failure, as translated from the response.
        """
        url = self._resolve(target, params)
        payload = orjson.dumps(json_body) if json_body is not None else (body or b"")
        merged = dict(_DEFAULT_HEADERS)
        if method == "GET":
            # Defeats cached results for expanded collections (compose-http-requests-handle-errors.md).
            merged["If-None-Match"] = "null"
        if json_body is not None:
            merged["Content-Type"] = _JSON_CONTENT_TYPE
        merged.update(headers or {})
        call_class = call_class or (CallClass.READ if method == "GET" else CallClass.WRITE)
        timeout = aiohttp.ClientTimeout(total=self._timeouts.total_s(call_class), sock_connect=self._timeouts.connect_s)
        started = self._clock()
        attempt = 0
        force_refresh = False
        refreshed_after_401 = False
        while True:
            attempt += 1
            try:
                response = await self._send_once(
                    method, url, merged, payload, timeout, force_refresh, accept_multipart_failure
                )
            except TokenRejectedError:
                if refreshed_after_401:
                    self._counters.failures += 1
                    raise
                refreshed_after_401 = force_refresh = True
                self._counters.token_refreshes += 1
                attempt -= 1  # A refused token is not the server failing: it does not use up an attempt.
                continue
            except TransientError as error:
                wait_s = self._policy.decide(attempt, error, self._clock() - started, is_idempotent=is_idempotent)
                if wait_s is None:
                    self._counters.failures += 1
                    raise
                self._counters.retries += 1
                self._counters.waited_s += wait_s
                _logger.warning(
                    "Retrying %s %s in %.2f s (attempt %d failed: %s)",
                    method,
                    redact_url(str(url)),
                    wait_s,
                    attempt,
                    type(error).__name__,
                )
                await self._sleep(wait_s)
                force_refresh = False
                continue
            except CrmError:
                self._counters.failures += 1
                raise
            return response

    async def _send_once(
        self,
        method: str,
        url: URL,
        headers: dict[str, str],
        payload: bytes,
        timeout: aiohttp.ClientTimeout,
        force_refresh: bool,
        accept_multipart_failure: bool,
    ) -> DynamicsResponse:
        await self._wait_out_throttle_pause()
        token = await self._tokens.bearer_token(force_refresh=force_refresh)
        headers = {**headers, "Authorization": f"Bearer {token.get_secret_value()}"}
        status, response_headers, body = await self._exchange(method, url, headers, payload, timeout)
        self._follow_dop_hint(response_headers)
        if status < 400 or (
            accept_multipart_failure and response_headers.get("Content-Type", "").startswith("multipart/mixed")
        ):
            return DynamicsResponse(status=status, headers=response_headers, body=body)
        error = translate_error(status, body, response_headers)
        if isinstance(error, RateLimitedError):
            self._counters.throttles += 1
            if error.retry_after_s:
                # Dataverse throttles the user, not the request: hold every request of this client back, and
                # every other client of the same organization and application user (the shared budget).
                self._paused_until = max(self._paused_until, self._clock() + error.retry_after_s)
                await self._budget.pause(error.retry_after_s)
            _logger.warning("Dynamics throttled %s %s: %s", method, redact_url(str(url)), error.message)
        raise error

    async def _exchange(
        self, method: str, url: URL, headers: Mapping[str, str], payload: bytes, timeout: aiohttp.ClientTimeout
    ) -> tuple[int, CIMultiDictProxy[str], bytes]:
        """Send one request as it is; network and TLS failures become errors of the tree, the answer is returned
        whatever its status."""
        session = self._session_or_open()
        async with self._limit.slot():
            await self._draw_on_budget(method, url)
            self._counters.requests += 1
            self._counters.bytes_sent += len(payload)
            started = self._clock()
            try:
                async with session.request(
                    method, url, data=payload or None, headers=headers, timeout=timeout, allow_redirects=False
                ) as raw:
                    body = await raw.read()
                    status = raw.status
                    response_headers: CIMultiDictProxy[str] = raw.headers
            except aiohttp.ClientConnectorCertificateError as exc:
                raise TlsVerificationError(
                    f"The TLS certificate of {self._origin.host} is not trusted: check the CA bundle. "
                    f"({redact_text(str(exc.certificate_error))})"
                ) from exc
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = redact_text(str(exc)) or "no details"
                raise UpstreamUnavailableError(
                    f"Could not complete {method} {redact_url(str(url))}: {type(exc).__name__} ({reason})."
                ) from exc
            finally:
                # Dataverse counts the server's execution time; the response time is its closest measure.
                self._budget.record(self._clock() - started)
        self._counters.bytes_received += len(body)
        _logger.debug("%s %s -> %d in %.0f ms", method, redact_url(str(url)), status, (self._clock() - started) * 1000)
        return status, response_headers, body

    async def authentication_challenge(self) -> str:
        """The ``WWW-Authenticate`` challenge the organization answers an unauthenticated request with (it names
        the tenant's authority). Sends one GET of the API root without a token; not retried.

        Raises:
            UpstreamUnavailableError, TlsVerificationError: the organization could not be reached.
            UnexpectedResponseError: it answered without a bearer challenge.
            CrmError: any other failure, as translated from the response.
        """
        timeout = aiohttp.ClientTimeout(total=self._timeouts.read_s, sock_connect=self._timeouts.connect_s)
        status, headers, body = await self._exchange(
            "GET", URL(self.api_url, encoded=True), dict(_DEFAULT_HEADERS), b"", timeout
        )
        challenge = headers.get("WWW-Authenticate", "")
        error = translate_error(status, body, headers) if status >= HTTPStatus.BAD_REQUEST else None
        if isinstance(error, TokenRejectedError) and challenge.strip().lower().startswith("bearer"):
            return challenge
        if error is not None and not isinstance(error, TokenRejectedError):
            raise error
        # A success, or a refusal naming no authority, says nothing about the tenant: not a sign-in problem.
        raise UnexpectedResponseError(
            f"{self._origin.host} answered an unauthenticated request with HTTP {status} and no bearer challenge."
        )

    async def _draw_on_budget(self, method: str, url: URL) -> None:
        """Take one request from the budget, waiting up to ``budget_max_wait_s``.

        Raises:
            RateLimitedError: the budget would make the request wait longer than that.
        """
        still_s = await self._budget.acquire(max_wait_s=self._budget_max_wait_s)
        if still_s is not None:
            raise RateLimitedError(
                f"The request budget of this organization and application user is spent: {method} "
                f"{redact_url(str(url))} could start in {still_s:.0f} s.",
                retry_after_s=still_s,
            )
        self._counters.waited_s += self._budget.waited_s
        self._budget.waited_s = 0.0
        share = max(1, min(self._dop_limit, self._budget.concurrency))
        if share != self._limit.limit:
            self._limit.resize(share)

    @property
    def paused_s(self) -> float:
        """Seconds this client still holds its requests back after a 429's ``Retry-After`` (0 when none)."""
        return max(0.0, self._paused_until - self._clock())

    async def _wait_out_throttle_pause(self) -> None:
        remaining_s = self._paused_until - self._clock()
        if remaining_s > 0:
            self._counters.waited_s += remaining_s
            await self._sleep(remaining_s)

    def _follow_dop_hint(self, headers: Mapping[str, str]) -> None:
        hint = headers.get("x-ms-dop-hint")
        if hint and hint.strip().isdigit():
            self._budget.note_dop_hint(int(hint))
            self._dop_limit = max(1, min(int(hint), self._max_concurrency))
            wanted = max(1, min(self._dop_limit, self._budget.concurrency))
            if wanted != self._limit.limit:
                _logger.debug("Concurrency limit %d -> %d (x-ms-dop-hint)", self._limit.limit, wanted)
                self._limit.resize(wanted)

    def is_own_link(self, link: str, *, collection: str | None = None) -> bool:
        """Whether ``link`` is an absolute URL of this organization's Web API (and of ``collection``, if given)."""
        try:
            url = URL(link, encoded=True)
        except ValueError:
            return False
        if not url.is_absolute() or url.origin() != self._origin or not url.path.startswith(self._links_path):
            return False
        return collection is None or url.path.rstrip("/").endswith(f"/{collection}")

    def _resolve(self, target: str, params: Mapping[str, str] | None) -> URL:
        if target.startswith(("http://", "https://")):
            if params:
                raise ValueError("Query options cannot be added to an absolute link; it is used verbatim.")
            url = URL(target, encoded=True)
            if not self.is_own_link(target):
                # Never send the bearer token to a host the organization did not name.
                raise UnexpectedResponseError(f"Refusing to follow a link outside {self.api_url}: {redact_url(target)}")
            return url
        query = f"?{encode_query(params)}" if params else ""
        return URL(f"{self.api_url}{quote(target.lstrip('/'), safe=_PATH_SAFE)}{query}", encoded=True)

    def _session_or_open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                ssl=client_ssl_context(self._cas),
                limit=self._max_concurrency + 4,
                ttl_dns_cache=300,
                keepalive_timeout=IDLE_CONNECTION_S,
            )
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=True)
        return self._session


def _conditions(if_match: str | None, if_none_match: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if if_match is not None:
        headers["If-Match"] = if_match
    if if_none_match is not None:
        headers["If-None-Match"] = if_none_match
    return headers
