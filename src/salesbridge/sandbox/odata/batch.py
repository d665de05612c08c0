"""OData ``$batch`` for the sandbox: parsing, execution with Dataverse's semantics, serialisation.

A batch body is a sequence of items; each item is either one operation (:class:`BatchPart`) or a change set
(:class:`ChangeSet`) whose operations commit or roll back together. :func:`parse_batch` turns the request
body into those items; :func:`execute_batch` runs them through an injected request handler, one after the
other, and answers with the multipart/mixed response Dataverse sends. Nothing here knows about tables or
storage: the engine supplies ``handle`` (one inner request in, one response out) and ``transaction`` (a
context manager that rolls back when an exception leaves it).

Dataverse behaviour followed here (``reference/dataverse.md`` §3.5, and Microsoft's page
``webapi/execute-batch-operations-using-web-api.md``):

* at most 1,000 operations per batch, change-set members included; no nested batches; no GET in a change set;
* operations run sequentially, responses come back in request order;
* without ``Prefer: odata.continue-on-error`` execution stops at the first failure and the batch answers
  ``400`` with the responses produced so far, the failure last; with it the batch answers ``200`` and every
  item has a response;
* a failing change set is rolled back and answered by the failing operation's response alone (still wrapped
  in a change-set part, with its ``Content-ID``);
* inside a change set ``$n`` names the entity URL produced by the operation with ``Content-ID: n``, as a
  request URL (``PATCH $1``, ``PUT $1/lastname``) or as an ``@odata.bind`` / ``@odata.id`` value in the body.

The parser is tolerant of what real clients send: LF or CRLF line endings, quoted or bare boundary
parameters, headers with or without a space after the colon, absolute / root-relative / relative request
URLs, and unencoded spaces in the query string (Microsoft's Python SDK sends ``$filter=name eq 'x'`` raw).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, unquote

import orjson

from salesbridge.sandbox.errors import DataverseError, bad_request
from salesbridge.sandbox.odata.messages import ApiRequest, ApiResponse, Headers

MAX_OPERATIONS = 1000
"""Dataverse's limit on operations in one batch (change-set members count individually)."""

DEFAULT_API_ROOT = "/api/data/v9.2/"

_CRLF = b"\r\n"
_METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})
# Resource paths that start with "$" but are not Content-ID references.
_SYSTEM_RESOURCES = frozenset({"$batch", "$metadata", "$entity", "$crossjoin", "$all", "$root"})
_INHERITED_HEADERS = ("Authorization",)
# Impersonation travels as a unit: a part naming its own caller must not also inherit the outer one.
_IMPERSONATION_HEADERS = ("CallerObjectId", "MSCRMCallerID")
_PARAMETER = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_ABSOLUTE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
# Characters that may stay literal in a query string; everything else (spaces, quotes, non-ASCII) is
# percent-encoded, as an HTTP client does before it sends a top-level request.
_QUERY_SAFE = "!$&'()*+,;=:@/?%-._~[]"
_STREAMING_JSON = "odata.streaming=true"


@dataclass
class BatchPart:
    """One operation of a batch.

    Attributes:
        request: The inner request. ``path`` is relative to the API root and percent-decoded, ``raw_query``
            the (re-encoded) query string, ``headers`` and ``body`` those of the part. ``caller_id`` and
            ``base_url`` are left empty: :func:`execute_batch` fills them from the outer request.
        content_id: The part's ``Content-ID``, if any; echoed in its response.
        reference: When the request URL is a Content-ID reference (``$1``, ``$1/lastname``), the
            referenced Content-ID (``"1"``); ``request.path`` then keeps the unresolved ``$1/lastname``.
    """

    request: ApiRequest
    content_id: str | None = None
    reference: str | None = None


@dataclass
class ChangeSet:
    """Operations that succeed or fail together (never GETs)."""

    parts: list[BatchPart] = field(default_factory=list)


BatchItem = BatchPart | ChangeSet


# ---------------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------------


def parse_batch(content_type: str, body: bytes, *, api_root: str) -> list[BatchPart | ChangeSet]:
    """Parse a ``$batch`` request body into its operations and change sets, in order.

    Args:
        content_type: The outer ``Content-Type`` header: ``multipart/mixed`` with a ``boundary`` parameter.
        body: The raw request body.
        api_root: URL path of the API root (``/api/data/v9.2/``); absolute and root-relative request URLs
            must lie under it and are made relative to it.

    Returns:
        The batch items in request order. Each request's ``path`` is relative to the API root, except that
        of a Content-ID reference, which stays ``$n…`` until execution (see :attr:`BatchPart.reference`).

    Raises:
        DataverseError: 400 for a body that is not a well-formed batch: wrong content type or no boundary,
            missing closing delimiter, a part without ``Content-Type: application/http`` or with a malformed
            request line or header, an unsupported method, a GET in a change set, a change set inside a change
            set, a nested ``$batch``, a URL outside the API root, a Content-ID repeated within a change set,
            or more than 1,000 operations.
    """
    boundary = _boundary(content_type, "batch request")
    root = "/" + api_root.strip("/") + "/"
    items: list[BatchPart | ChangeSet] = []
    operations = 0
    for raw_part in _split_multipart(body, boundary, "batch request"):
        mime_headers, content = _split_headers(raw_part, "batch part")
        media_type, params = _media_type(mime_headers.get("Content-Type") or "")
        if media_type == "multipart/mixed":
            change_set = _parse_change_set(params, content, root)
            operations += len(change_set.parts)
            items.append(change_set)
        else:
            items.append(_parse_operation(mime_headers, content, root, in_change_set=False))
            operations += 1
        if operations > MAX_OPERATIONS:
            raise bad_request(
                f"The batch request contains more than {MAX_OPERATIONS} operations, which is the maximum "
                f"number of requests allowed in a batch."
            )
    return items


def _parse_change_set(params: dict[str, str], content: bytes, root: str) -> ChangeSet:
    boundary = params.get("boundary")
    if not boundary:
        raise bad_request("A change set part has Content-Type multipart/mixed without a boundary parameter.")
    change_set = ChangeSet()
    seen: set[str] = set()
    for raw_part in _split_multipart(content, boundary, "change set"):
        part_headers, part_content = _split_headers(raw_part, "change set part")
        media_type, _ = _media_type(part_headers.get("Content-Type") or "")
        if media_type == "multipart/mixed":
            raise bad_request("A change set cannot contain another change set.")
        part = _parse_operation(part_headers, part_content, root, in_change_set=True)
        if part.content_id is not None:
            if part.content_id in seen:
                raise bad_request(f"The Content-ID '{part.content_id}' occurs more than once in a change set.")
            seen.add(part.content_id)
        change_set.parts.append(part)
    return change_set


def _parse_operation(mime_headers: Headers, content: bytes, root: str, *, in_change_set: bool) -> BatchPart:
    media_type, _ = _media_type(mime_headers.get("Content-Type") or "")
    if media_type != "application/http":
        shown = mime_headers.get("Content-Type") or "(none)"
        raise bad_request(f"A batch part must have Content-Type application/http or multipart/mixed; found '{shown}'.")
    encoding = (mime_headers.get("Content-Transfer-Encoding") or "binary").strip().lower()
    if encoding not in ("binary", "8bit", "7bit"):
        raise bad_request(f"Content-Transfer-Encoding '{encoding}' is not supported in a batch; use binary.")
    request_line, rest = _first_line(content)
    if request_line is None:
        raise bad_request("A batch part has no request line.")
    method, target = _request_line(request_line)
    headers, request_body = _split_headers(rest, "request in a batch part")
    if not request_body.strip():
        request_body = b""
    content_id = mime_headers.get("Content-ID") or headers.get("Content-ID")
    content_id = content_id.strip() if content_id else None
    if in_change_set and method == "GET":
        raise bad_request("GET requests are not allowed in a change set; send them outside the change set.")
    reference = _reference_name(target)
    if reference is not None:
        path, _, query = target.partition("?")
        return BatchPart(
            ApiRequest(method, path, _requote(query), headers, request_body),
            content_id=content_id or None,
            reference=reference,
        )
    path, raw_query = _relative_target(target, root)
    if path.strip("/").casefold() == "$batch":
        raise bad_request("A batch request cannot contain another batch request.")
    return BatchPart(ApiRequest(method, path, raw_query, headers, request_body), content_id=content_id or None)


def _boundary(content_type: str, what: str) -> str:
    media_type, params = _media_type(content_type)
    if media_type != "multipart/mixed":
        shown = content_type or "(none)"
        raise bad_request(f"The {what} must have Content-Type multipart/mixed; found '{shown}'.")
    boundary = params.get("boundary")
    if not boundary:
        raise bad_request(f"The {what}'s Content-Type multipart/mixed has no boundary parameter.")
    return boundary


def _media_type(value: str) -> tuple[str, dict[str, str]]:
    """``multipart/mixed; boundary="b"`` → (``multipart/mixed``, {``boundary``: ``b``})."""
    media_type = value.split(";", 1)[0].strip().lower()
    params: dict[str, str] = {}
    for match in _PARAMETER.finditer(value):
        raw = match.group(2).strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params.setdefault(match.group(1).lower(), raw)
    return media_type, params


def _lines(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(start, end of text, start of next line) for each line; the text excludes its LF or CRLF."""
    position, size = 0, len(data)
    while position < size:
        newline = data.find(b"\n", position)
        if newline < 0:
            yield position, size, size
            return
        end = newline - 1 if newline > position and data[newline - 1] == 0x0D else newline
        yield position, end, newline + 1
        position = newline + 1


def _split_multipart(body: bytes, boundary: str, what: str) -> list[bytes]:
    """The body parts between ``--boundary`` delimiters (preamble and epilogue dropped).

    The line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1), so it is not part of the
    preceding body part.
    """
    delimiter = b"--" + boundary.encode("utf-8")
    closing = delimiter + b"--"
    parts: list[bytes] = []
    part_start: int | None = None
    previous_end = 0
    for start, end, following in _lines(body):
        # Transport padding (trailing whitespace) is allowed after a delimiter.
        line = body[start:end].rstrip(b" \t")
        if line in (delimiter, closing):
            if part_start is not None:
                # previous_end is where the text of the line before the delimiter ended, i.e. the part
                # without the line break that belongs to the delimiter.
                parts.append(body[part_start : max(previous_end, part_start)])
            if line == closing:
                return parts
            part_start = following
        previous_end = end
    if part_start is None:
        raise bad_request(f"The {what} body contains no '--{boundary}' delimiter.")
    raise bad_request(f"The {what} body is not terminated by the closing delimiter '--{boundary}--'.")


def _first_line(data: bytes) -> tuple[str | None, bytes]:
    """The first non-blank line (decoded) and everything after it."""
    for start, end, following in _lines(data):
        if data[start:end].strip():
            return _decode(data[start:end]).strip(), data[following:]
    return None, b""


def _split_headers(data: bytes, what: str) -> tuple[Headers, bytes]:
    """Header lines up to the first blank line, and the rest. Without a blank line, everything is headers."""
    pairs: list[tuple[str, str]] = []
    for start, end, following in _lines(data):
        line = _decode(data[start:end])
        if not line.strip():
            return Headers(pairs), data[following:]
        if line[0] in " \t" and pairs:
            name, value = pairs[-1]
            pairs[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip()
        if not colon or not _HEADER_NAME.fullmatch(name):
            raise bad_request(f"Malformed header line in a {what}: '{line}'.")
        pairs.append((name, value.strip()))
    return Headers(pairs), b""


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _request_line(line: str) -> tuple[str, str]:
    """``METHOD target HTTP/1.1`` → (method, target). The target may contain spaces (unencoded queries)."""
    method, _, rest = line.partition(" ")
    target, _, version = rest.strip().rpartition(" ")
    if not target.strip() or version.upper() not in ("HTTP/1.1", "HTTP/1.0"):
        raise bad_request(f"Malformed request line in a batch part: '{line}'. Expected 'METHOD URL HTTP/1.1'.")
    method = method.upper()
    if method not in _METHODS:
        raise bad_request(f"The HTTP method '{method}' is not supported in a batch request.")
    return method, target.strip()


def _reference_name(target: str) -> str | None:
    """``$1/lastname`` → ``1``; None for anything that is not a Content-ID reference."""
    if not target.startswith("$"):
        return None
    head = re.split(r"[/?]", target, maxsplit=1)[0]
    if len(head) < 2 or head.casefold() in _SYSTEM_RESOURCES:
        return None
    return head[1:]


def _relative_target(target: str, root: str) -> tuple[str, str]:
    """Absolute, root-relative or relative URL → (percent-decoded path relative to ``root``, raw query).

    Raises:
        DataverseError: 400 when an absolute or root-relative URL lies outside ``root``.
    """
    without_fragment = target.split("#", 1)[0]
    absolute = _ABSOLUTE_URL.match(without_fragment)
    url = without_fragment[absolute.end() :] if absolute else without_fragment
    path, _, query = url.partition("?")
    if absolute or path.startswith("/"):
        folded = path.casefold()
        if folded.startswith(root.casefold()):
            path = path[len(root) :]
        elif folded == root.rstrip("/").casefold():
            path = ""
        else:
            raise bad_request(f"The request URL '{target}' in a batch part is not under the service root '{root}'.")
    return unquote(path), _requote(query)


def _requote(query: str) -> str:
    return quote(query, safe=_QUERY_SAFE)


# ---------------------------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Answer:
    """One operation's response, with the Content-ID to echo."""

    content_id: str | None
    response: ApiResponse

    @property
    def failed(self) -> bool:
        return self.response.status >= 400


@dataclass
class _ChangeSetAnswer:
    """A change set's responses: all of them, or only the failing one after a rollback."""

    answers: list[_Answer]
    failed: bool


class _RollBackError(Exception):
    """Raised out of ``transaction()`` to undo a change set."""


def execute_batch(
    items: list[BatchPart | ChangeSet],
    *,
    handle: Callable[[ApiRequest], ApiResponse],
    transaction: Callable[[], AbstractContextManager[None]],
    continue_on_error: bool,
    outer: ApiRequest,
    api_root: str = DEFAULT_API_ROOT,
) -> ApiResponse:
    """Run parsed batch items in order and build the multipart/mixed batch response.

    Each inner request gets ``caller_id`` and ``base_url`` from ``outer``, and ``outer``'s
    ``Authorization`` header and impersonation headers (``CallerObjectId`` / ``MSCRMCallerID``) unless the
    part sets its own. A change set runs inside one ``transaction()``; when one of its operations fails
    (status >= 400, or ``handle`` raising :class:`DataverseError`) an exception is raised out of the
    context manager to roll it back, and the change set is answered by that failure alone. Content-ID
    references (``$n`` URLs and ``@odata.bind`` / ``@odata.id`` values) resolve to the absolute entity URL
    (``OData-EntityId``, else ``Location``, else a JSON body's ``@odata.id``) of an earlier operation of the
    same change set; any other
    reference fails that operation with 400 "Content-ID Reference: '$n' does not exist in the batch context.".

    Args:
        items: The output of :func:`parse_batch`.
        handle: Answers one inner request. May raise :class:`DataverseError`, which becomes the operation's
            error response. Any other exception propagates (after rolling back an open change set).
        transaction: Returns a context manager that commits on normal exit and rolls back when an exception
            leaves it.
        continue_on_error: The outer request carried ``Prefer: odata.continue-on-error``.
        outer: The ``$batch`` request itself.
        api_root: URL path of the API root, used to make a referenced entity URL relative again.

    Returns:
        ``200`` with every item's response when nothing failed or ``continue_on_error`` is set; otherwise
        ``400`` with the responses up to and including the first failure (later items are not run). The
        body is multipart/mixed with a fresh ``batchresponse_<uuid>`` boundary; with ``continue_on_error``
        the response also carries ``Preference-Applied: odata.continue-on-error``.
    """
    root = "/" + api_root.strip("/") + "/"
    results: list[_Answer | _ChangeSetAnswer] = []
    stopped = False
    for item in items:
        result: _Answer | _ChangeSetAnswer
        if isinstance(item, ChangeSet):
            result = _run_change_set(item, handle, transaction, outer, root)
        else:
            result = _Answer(item.content_id, _run_part(item, {}, handle, outer, root))
        results.append(result)
        if result.failed and not continue_on_error:
            stopped = True
            break
    boundary = f"batchresponse_{uuid.uuid4()}"
    response = ApiResponse(400 if stopped else 200, Headers(), _serialise(results, boundary))
    response.headers.set("Content-Type", f"multipart/mixed; boundary={boundary}")
    response.headers.set("OData-Version", "4.0")
    if continue_on_error:
        response.headers.set("Preference-Applied", "odata.continue-on-error")
    return response


def _run_change_set(
    change_set: ChangeSet,
    handle: Callable[[ApiRequest], ApiResponse],
    transaction: Callable[[], AbstractContextManager[None]],
    outer: ApiRequest,
    root: str,
) -> _ChangeSetAnswer:
    answers: list[_Answer] = []
    failure: _Answer | None = None
    entity_urls: dict[str, str] = {}
    try:
        with transaction():
            for part in change_set.parts:
                answer = _Answer(part.content_id, _run_part(part, entity_urls, handle, outer, root))
                if answer.failed:
                    failure = answer
                    raise _RollBackError
                answers.append(answer)
                url = _entity_url(answer.response)
                if part.content_id is not None and url is not None:
                    entity_urls[part.content_id] = url
    except _RollBackError:
        pass
    if failure is not None:
        return _ChangeSetAnswer([failure], failed=True)
    return _ChangeSetAnswer(answers, failed=False)


def _run_part(
    part: BatchPart,
    entity_urls: dict[str, str],
    handle: Callable[[ApiRequest], ApiResponse],
    outer: ApiRequest,
    root: str,
) -> ApiResponse:
    try:
        return handle(_inner_request(part, entity_urls, outer, root))
    except DataverseError as error:
        response = ApiResponse.json(error.status, error.body())
        for name, value in error.headers.items():
            response.headers.set(name, value)
        return response


def _inner_request(part: BatchPart, entity_urls: dict[str, str], outer: ApiRequest, root: str) -> ApiRequest:
    """The request ``handle`` sees: references resolved, identity and credentials inherited from ``outer``.

    Raises:
        DataverseError: 400 for a Content-ID reference that names no earlier entity in the change set.
    """
    request = part.request
    path = request.path
    if part.reference is not None:
        base, _ = _relative_target(_resolve_reference(part.reference, entity_urls), root)
        path = base.rstrip("/") + path[len(part.reference) + 1 :]
    headers = Headers(request.headers.items())
    for name in _INHERITED_HEADERS:
        _inherit(headers, outer.headers, name)
    if not any(name in headers for name in _IMPERSONATION_HEADERS):
        for name in _IMPERSONATION_HEADERS:
            _inherit(headers, outer.headers, name)
    return ApiRequest(
        method=request.method,
        path=path,
        raw_query=request.raw_query,
        headers=headers,
        body=_resolve_body(request.body, entity_urls),
        caller_id=outer.caller_id,
        base_url=outer.base_url,
    )


def _inherit(headers: Headers, outer: Headers, name: str) -> None:
    value = outer.get(name)
    if value is not None and name not in headers:
        headers.set(name, value)


def _resolve_reference(name: str, entity_urls: dict[str, str]) -> str:
    url = entity_urls.get(name)
    if url is None:
        raise bad_request(f"Content-ID Reference: '${name}' does not exist in the batch context.")
    return url


def _resolve_body(body: bytes, entity_urls: dict[str, str]) -> bytes:
    """Replace ``$n`` values of ``…@odata.bind`` and ``@odata.id`` properties with entity URLs.

    The body is returned byte-for-byte unchanged when it holds no reference (or is not JSON).
    """
    if b'"$' not in body:
        return body
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if not _replace_references(document, entity_urls):
        return body
    return orjson.dumps(document)


def _replace_references(node: Any, entity_urls: dict[str, str]) -> bool:
    changed = False
    if isinstance(node, list):
        for element in node:
            changed = _replace_references(element, entity_urls) or changed
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "@odata.id" or key.endswith("@odata.bind"):
                if isinstance(value, str) and value.startswith("$"):
                    node[key] = _resolve_reference(value[1:], entity_urls)
                    changed = True
                elif isinstance(value, list):
                    for index, element in enumerate(value):
                        if isinstance(element, str) and element.startswith("$"):
                            value[index] = _resolve_reference(element[1:], entity_urls)
                            changed = True
                        else:
                            changed = _replace_references(element, entity_urls) or changed
            else:
                changed = _replace_references(value, entity_urls) or changed
    return changed


def _entity_url(response: ApiResponse) -> str | None:
    """The absolute URL of the entity an operation created or touched, if it says."""
    url = response.headers.get("OData-EntityId") or response.headers.get("Location")
    if url:
        return url
    # A create with Prefer: return=representation answers 201 with the entity in the body.
    if response.body[:1] == b"{":
        try:
            document = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            return None
        candidate = document.get("@odata.id") if isinstance(document, dict) else None
        return candidate if isinstance(candidate, str) and candidate else None
    return None


# ---------------------------------------------------------------------------------------------------------
# Serialisation
# ---------------------------------------------------------------------------------------------------------


def _serialise(results: list[_Answer | _ChangeSetAnswer], boundary: str) -> bytes:
    chunks: list[bytes] = []
    for result in results:
        chunks.append(b"--" + boundary.encode() + _CRLF)
        if isinstance(result, _ChangeSetAnswer):
            inner = f"changesetresponse_{uuid.uuid4()}"
            chunks.append(f"Content-Type: multipart/mixed; boundary={inner}".encode() + _CRLF + _CRLF)
            for answer in result.answers:
                chunks.append(b"--" + inner.encode() + _CRLF + _http_part(answer) + _CRLF)
            chunks.append(b"--" + inner.encode() + b"--" + _CRLF)
        else:
            chunks.append(_http_part(result) + _CRLF)
    chunks.append(b"--" + boundary.encode() + b"--" + _CRLF)
    return b"".join(chunks)


def _http_part(answer: _Answer) -> bytes:
    """An ``application/http`` body part holding one response (without the line break that ends it)."""
    head = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if answer.content_id is not None:
        head.append(f"Content-ID: {answer.content_id}")
    response = answer.response
    lines = [f"HTTP/1.1 {response.status} {_reason(response.status)}".rstrip()]
    lines.extend(f"{name}: {value}" for name, value in _response_headers(response))
    text = "\r\n".join(head) + "\r\n\r\n" + "\r\n".join(lines) + "\r\n\r\n"
    return text.encode("utf-8") + response.body


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _response_headers(response: ApiResponse) -> list[tuple[str, str]]:
    """A part's headers in the order Dataverse writes them: REQ_ID, Content-Type, OData-Version, Location,
    OData-EntityId, then the rest."""
    headers = response.headers
    ordered: list[tuple[str, str]] = []
    if response.status >= 400:
        ordered.append(("REQ_ID", headers.get("REQ_ID") or str(uuid.uuid4())))
    content_type = headers.get("Content-Type")
    if content_type is not None:
        ordered.append(("Content-Type", _streaming(content_type) if response.status < 400 else content_type))
    ordered.append(("OData-Version", headers.get("OData-Version") or "4.0"))
    entity_id = headers.get("OData-EntityId")
    location = headers.get("Location") or entity_id
    if location is not None:
        ordered.append(("Location", location))
    if entity_id is not None:
        ordered.append(("OData-EntityId", entity_id))
    placed = {"req_id", "content-type", "odata-version", "location", "odata-entityid"}
    ordered.extend((name, value) for name, value in headers.items() if name.lower() not in placed)
    return ordered


def _streaming(content_type: str) -> str:
    """Successful JSON bodies inside a batch are announced as streamed, as Dataverse does."""
    media_type, params = _media_type(content_type)
    if media_type != "application/json" or "odata.metadata" not in params or "odata.streaming" in params:
        return content_type
    return f"{content_type}; {_STREAMING_JSON}"


__all__ = [
    "DEFAULT_API_ROOT",
    "MAX_OPERATIONS",
    "BatchItem",
    "BatchPart",
    "ChangeSet",
    "execute_batch",
    "parse_batch",
]
