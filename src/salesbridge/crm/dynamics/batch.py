"""OData ``$batch``: building multipart/mixed requests, parsing multipart responses, running a batch.

A batch is a sequence of operations and change sets (operations that commit or roll back together). The
builder writes the wire format of Microsoft's page ``webapi/execute-batch-operations-using-web-api.md``:
CRLF line ends, ``Content-Type: application/http`` parts, ``Content-ID`` on change-set members (``$n`` refers
to the record created by member ``n``), at most 1,000 operations, no GET inside a change set. The parser reads
the response back into per-operation results, tolerating LF line ends and unquoted boundaries, and turns
every failed part into an error through :func:`~salesbridge.crm.dynamics.errors.translate_error`.

Without ``Prefer: odata.continue-on-error`` Dataverse stops at the first failure and answers 400 with the
responses up to and including it; with it, every operation has a response.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any, TypeAlias
from urllib.parse import quote

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from salesbridge.crm.dynamics.client import CallClass, DynamicsClient, JsonObject
from salesbridge.crm.dynamics.errors import translate_error
from salesbridge.errors import CrmError, UnexpectedResponseError

MAX_OPERATIONS = 1000
"""Dataverse's limit on operations in one batch, change-set members included."""

_CRLF = "\r\n"
_REFERENCE = re.compile(r"^\$(\d+)(/.*)?$")
_STATUS_LINE = re.compile(r"^HTTP/\d(?:\.\d)?\s+(\d{3})")
_BOUNDARY = re.compile(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_PATH_SAFE = "/()$'=,@:;*-._~!%"
_QUERY_SAFE = "$'(),:@/*=&-._~!%"


@dataclass(frozen=True)
class BatchOperation:
    """One request inside a batch.

    Attributes:
        method: ``GET``, ``POST``, ``PATCH``, ``PUT`` or ``DELETE``.
        target: Path relative to the API root, with any query (``accounts(<id>)/Account_Tasks?$select=subject``),
            or a reference to an earlier change-set member (``$1``, ``$1/lastname``).
        body: JSON body, or None.
        headers: Extra headers of the operation (``If-Match``, ``Prefer``…).
        content_id: The operation's ``Content-ID``; assigned automatically to change-set members without one.
    """

    method: str
    target: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_id: str | None = None


@dataclass(frozen=True)
class ChangeSet:
    """Operations that commit or roll back together. GETs are not allowed."""

    operations: tuple[BatchOperation, ...]


BatchItem: TypeAlias = BatchOperation | ChangeSet


@dataclass(frozen=True)
class BatchPayload:
    """A built batch: the outer ``Content-Type`` (with its boundary) and the body."""

    content_type: str
    body: bytes
    items: tuple[BatchItem, ...]

    @property
    def operations(self) -> tuple[BatchOperation, ...]:
        """Every operation in order, change-set members in place, Content-IDs assigned."""
        return tuple(_flatten(self.items))


@dataclass(frozen=True)
class OperationResult:
    """The response to one operation.

    Attributes:
        status: Its HTTP status.
        headers: Its headers (case-insensitive).
        body: Its JSON body, when there was one.
        content_id: The ``Content-ID`` echoed back, for change-set members.
        error: The translated error when ``status`` >= 400, else None.
    """

    status: int
    headers: Mapping[str, str]
    body: JsonObject | None
    content_id: str | None = None
    error: CrmError | None = None

    @property
    def entity_id(self) -> str | None:
        """The id in ``OData-EntityId`` (or ``Location``) of a create, lowercased."""
        for name in ("OData-EntityId", "Location"):
            match = re.search(r"\(([0-9a-fA-F-]{36})\)\s*$", self.headers.get(name, ""))
            if match:
                return match.group(1).lower()
        return None


@dataclass(frozen=True)
class ChangeSetResult:
    """The responses of a change set: one per member on success, only the failing one after a rollback."""

    results: tuple[OperationResult, ...]


BatchResponseItem: TypeAlias = OperationResult | ChangeSetResult


@dataclass(frozen=True)
class OperationOutcome:
    """What became of one operation of a batch.

    * done: ``result`` set, ``error`` None;
    * failed: ``result`` set, ``error`` is its error;
    * rolled back because another member of its change set failed: ``result`` None, ``error`` is that error;
    * not run, because the batch stopped at an earlier failure: ``result`` and ``error`` both None.
    """

    operation: BatchOperation
    result: OperationResult | None
    error: CrmError | None

    @property
    def is_done(self) -> bool:
        """Whether the operation ran and succeeded."""
        return self.result is not None and self.error is None

    @property
    def was_run(self) -> bool:
        """Whether the server got to this operation (it may have failed or been rolled back)."""
        return self.result is not None or self.error is not None


def build_batch(
    items: Sequence[BatchItem],
    *,
    api_path: str = "/api/data/v9.2/",
    new_boundary: Callable[[str], str] = lambda kind: f"{kind}_{uuid.uuid4()}",
) -> BatchPayload:
    """Write the multipart/mixed body of a ``$batch`` request. Pure apart from ``new_boundary``.

    Args:
        items: Operations and change sets, in execution order.
        api_path: The API root's URL path; request lines use root-relative URLs under it.
        new_boundary: Makes a boundary from its kind (``batch`` or ``changeset``); injected by tests.

    Raises:
        ValueError: No operations, more than 1,000, an empty change set, a GET in a change set, a duplicate
            Content-ID, or a ``$n`` reference outside a change set or to a member not declared before it.
    """
    items = _assign_content_ids(items)
    count = sum(len(item.operations) if isinstance(item, ChangeSet) else 1 for item in items)
    if count == 0:
        raise ValueError("A batch needs at least one operation.")
    if count > MAX_OPERATIONS:
        raise ValueError(f"A batch holds at most {MAX_OPERATIONS} operations, not {count}.")
    batch_boundary = new_boundary("batch")
    # Each part is followed by CRLF: that CRLF belongs to the next delimiter (RFC 2046 §5.1.1).
    chunks: list[str] = []
    for item in items:
        if isinstance(item, ChangeSet):
            change_boundary = new_boundary("changeset")
            members = "".join(
                f"--{change_boundary}{_CRLF}{_http_part(operation, api_path, content_id=operation.content_id)}{_CRLF}"
                for operation in item.operations
            )
            chunks.append(
                f"Content-Type: multipart/mixed; boundary={change_boundary}{_CRLF}{_CRLF}"
                f"{members}--{change_boundary}--{_CRLF}"
            )
        else:
            chunks.append(_http_part(item, api_path, content_id=item.content_id))
    body = "".join(f"--{batch_boundary}{_CRLF}{chunk}{_CRLF}" for chunk in chunks) + f"--{batch_boundary}--{_CRLF}"
    return BatchPayload(
        content_type=f"multipart/mixed; boundary={batch_boundary}", body=body.encode("utf-8"), items=tuple(items)
    )


def _assign_content_ids(items: Sequence[BatchItem]) -> list[BatchItem]:
    taken = {operation.content_id for operation in _flatten(items) if operation.content_id is not None}
    numbers = (str(number) for number in range(1, 10 * MAX_OPERATIONS) if str(number) not in taken)
    seen: set[str] = set()
    assigned: list[BatchItem] = []
    for item in items:
        if isinstance(item, ChangeSet):
            if not item.operations:
                raise ValueError("A change set needs at least one operation.")
            declared: set[str] = set()
            operations = []
            for operation in item.operations:
                if operation.method.upper() == "GET":
                    raise ValueError("GET is not allowed inside a change set.")
                _check_reference(operation, declared)
                content_id = operation.content_id or next(numbers)
                if content_id in seen:
                    raise ValueError(f"Content-ID '{content_id}' is used twice in the batch.")
                seen.add(content_id)
                declared.add(content_id)
                operations.append(_with_content_id(operation, content_id))
            assigned.append(ChangeSet(tuple(operations)))
        else:
            _check_reference(item, set())
            if item.content_id is not None:
                if item.content_id in seen:
                    raise ValueError(f"Content-ID '{item.content_id}' is used twice in the batch.")
                seen.add(item.content_id)
            assigned.append(item)
    return assigned


def _with_content_id(operation: BatchOperation, content_id: str) -> BatchOperation:
    return BatchOperation(operation.method, operation.target, operation.body, operation.headers, content_id)


def _check_reference(operation: BatchOperation, declared: set[str]) -> None:
    match = _REFERENCE.match(operation.target)
    if match and match.group(1) not in declared:
        raise ValueError(
            f"'{operation.target}' refers to Content-ID {match.group(1)}, which is not declared earlier in the "
            "same change set."
        )


def _http_part(operation: BatchOperation, api_path: str, *, content_id: str | None) -> str:
    mime = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        mime.append(f"Content-ID: {content_id}")
    headers = [f"{name}: {value}" for name, value in operation.headers.items()]
    body = ""
    if operation.body is not None:
        headers.insert(0, "Content-Type: application/json; type=entry")
        body = orjson.dumps(operation.body).decode("utf-8")
    request_line = f"{operation.method.upper()} {_request_url(operation.target, api_path)} HTTP/1.1"
    head = _CRLF.join([request_line, *headers])
    return f"{_CRLF.join(mime)}{_CRLF}{_CRLF}{head}{_CRLF}{_CRLF}{body}"


def _request_url(target: str, api_path: str) -> str:
    if _REFERENCE.match(target):
        return target
    path, _, query = target.lstrip("/").partition("?")
    url = api_path + quote(path, safe=_PATH_SAFE)
    return f"{url}?{quote(query, safe=_QUERY_SAFE)}" if query else url


def _flatten(items: Sequence[BatchItem]) -> Iterator[BatchOperation]:
    for item in items:
        if isinstance(item, ChangeSet):
            yield from item.operations
        else:
            yield item


def parse_batch_response(content_type: str, body: bytes) -> list[BatchResponseItem]:
    """Read a ``$batch`` response into results, in order. Pure.

    Args:
        content_type: The response's ``Content-Type``; when it names no boundary, the body's first delimiter
            line is used.
        body: The multipart/mixed body (CRLF or LF line ends).

    Raises:
        UnexpectedResponseError: The body is not a multipart response, or a part is not an HTTP response.
    """
    text = body.decode("utf-8", "replace").replace("\r\n", "\n")
    boundary = _boundary_of(content_type) or _first_delimiter(text)
    if boundary is None:
        raise UnexpectedResponseError("The $batch response is not multipart: no boundary was found.")
    items: list[BatchResponseItem] = []
    for part in _split_parts(text, boundary):
        mime, content = _split_head(part)
        part_type = mime.get("Content-Type", "")
        if part_type.lower().startswith("multipart/mixed"):
            inner_boundary = _boundary_of(part_type) or _first_delimiter(content)
            if inner_boundary is None:
                raise UnexpectedResponseError("A change set of the $batch response names no boundary.")
            results = []
            for member in _split_parts(content, inner_boundary):
                member_mime, member_content = _split_head(member)
                results.append(_operation_result(member_mime, member_content))
            items.append(ChangeSetResult(tuple(results)))
        else:
            items.append(_operation_result(mime, content))
    return items


def _boundary_of(content_type: str) -> str | None:
    match = _BOUNDARY.search(content_type)
    return (match.group(1) or match.group(2)) if match else None


def _first_delimiter(text: str) -> str | None:
    for line in text.split("\n"):
        if line.strip():
            return line.strip()[2:] if line.startswith("--") else None
    return None


def _split_parts(text: str, boundary: str) -> list[str]:
    delimiter = f"--{boundary}"
    parts: list[str] = []
    current: list[str] | None = None
    for line in text.split("\n"):
        stripped = line.rstrip()
        if stripped == delimiter or stripped == f"{delimiter}--":
            if current is not None:
                parts.append("\n".join(current))
            if stripped.endswith("--") and stripped != delimiter:
                return parts
            current = []
        elif current is not None:
            current.append(line)
    raise UnexpectedResponseError("The $batch response ended without its closing delimiter.")


def _split_head(part: str) -> tuple[CIMultiDictProxy[str], str]:
    head, _, content = part.partition("\n\n")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in head.split("\n"):
        name, colon, value = line.partition(":")
        if colon and name.strip():
            headers.add(name.strip(), value.strip())
    return CIMultiDictProxy(headers), content


def _operation_result(mime: Mapping[str, str], content: str) -> OperationResult:
    content = content.lstrip("\n")
    status_line, _, rest = content.partition("\n")
    match = _STATUS_LINE.match(status_line.strip())
    if match is None:
        raise UnexpectedResponseError("A part of the $batch response is not an HTTP response.")
    status = int(match.group(1))
    headers, raw_body = _split_head(rest) if rest.strip() else (CIMultiDictProxy(CIMultiDict[str]()), "")
    raw_body = raw_body.strip()
    parsed: JsonObject | None = None
    if raw_body:
        try:
            loaded = orjson.loads(raw_body)
            parsed = loaded if isinstance(loaded, dict) else None
        except orjson.JSONDecodeError:
            parsed = None
    content_id = mime.get("Content-ID") or headers.get("Content-ID")
    error = translate_error(status, parsed if parsed is not None else raw_body, headers) if status >= 400 else None
    return OperationResult(status=status, headers=headers, body=parsed, content_id=content_id, error=error)


def match_outcomes(items: Sequence[BatchItem], responses: Sequence[BatchResponseItem]) -> list[OperationOutcome]:
    """Pair every operation with what became of it (see :class:`OperationOutcome`). Pure.

    Raises:
        UnexpectedResponseError: The responses do not line up with the request (a change set answered by a
            single part, or the other way round).
    """
    outcomes: list[OperationOutcome] = []
    remaining = list(responses)
    for item in items:
        response = remaining.pop(0) if remaining else None
        if isinstance(item, ChangeSet):
            if response is not None and not isinstance(response, ChangeSetResult):
                raise UnexpectedResponseError("A change set of the batch was answered by a single response.")
            outcomes.extend(_change_set_outcomes(item, response))
        else:
            if isinstance(response, ChangeSetResult):
                raise UnexpectedResponseError("An operation of the batch was answered by a change set.")
            error = response.error if response is not None else None
            outcomes.append(OperationOutcome(item, response, error))
    return outcomes


def _change_set_outcomes(change_set: ChangeSet, response: ChangeSetResult | None) -> list[OperationOutcome]:
    if response is None:
        return [OperationOutcome(operation, None, None) for operation in change_set.operations]
    failure = next((result for result in response.results if result.error is not None), None)
    if failure is None:
        if all(result.content_id for result in response.results):
            by_id = {result.content_id: result for result in response.results}
            return [OperationOutcome(op, by_id.get(op.content_id), None) for op in change_set.operations]
        return [
            OperationOutcome(op, result, None)
            for op, result in zip_longest(change_set.operations, response.results[: len(change_set.operations)])
            if op is not None
        ]
    # The set was rolled back: the failing member keeps its response, the others share its error.
    outcomes = []
    for operation in change_set.operations:
        if failure.content_id is not None and operation.content_id == failure.content_id:
            outcomes.append(OperationOutcome(operation, failure, failure.error))
        else:
            outcomes.append(OperationOutcome(operation, None, failure.error))
    return outcomes


async def execute_batch(
    client: DynamicsClient,
    items: Sequence[BatchItem],
    *,
    continue_on_error: bool = False,
    is_idempotent: bool | None = None,
) -> list[OperationOutcome]:
    """Send one ``$batch`` and return what became of each operation, in order.

    Args:
        client: The organization's client.
        items: Up to 1,000 operations, alone or in change sets.
        continue_on_error: Run every operation even after failures (``Prefer: odata.continue-on-error``).
        is_idempotent: Whether re-sending the whole batch is harmless; by default, when it holds no POST.
            Creates with client-chosen ids are harmless (a repeat fails as a duplicate): pass True for those.

    Raises:
        ValueError: The batch is malformed (see :func:`build_batch`).
        CrmError: The batch as a whole failed (throttled, unavailable, rejected before any operation ran).
            Failures of single operations are in their outcomes, not raised.
    """
    payload = build_batch(items, api_path=client.api_path)
    headers = {"Content-Type": payload.content_type}
    if continue_on_error:
        headers["Prefer"] = "odata.continue-on-error"
    if is_idempotent is None:
        is_idempotent = all(operation.method.upper() != "POST" for operation in payload.operations)
    response = await client.request(
        "POST",
        "$batch",
        body=payload.body,
        headers=headers,
        call_class=CallClass.BULK,
        is_idempotent=is_idempotent,
        accept_multipart_failure=True,
    )
    parsed = parse_batch_response(response.headers.get("Content-Type", ""), response.body)
    return match_outcomes(payload.items, parsed)
