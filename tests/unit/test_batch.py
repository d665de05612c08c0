"""Tests of ``$batch``: parsing, execution semantics and the multipart response (salesbridge.sandbox.odata.batch).

The request examples are Microsoft's, from ``webapi/execute-batch-operations-using-web-api.md`` (with the
``[Organization URI]`` placeholder filled in). Execution runs against :class:`FakeWebApi`, a small in-memory
store, and a ``transaction`` that snapshots and restores it; responses are checked by parsing them back.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from salesbridge.sandbox.errors import (
    DataverseError,
    max_length_exceeded,
    record_not_found,
    resource_not_found,
)
from salesbridge.sandbox.odata.batch import MAX_OPERATIONS, BatchPart, ChangeSet, execute_batch, parse_batch
from salesbridge.sandbox.odata.messages import ApiRequest, ApiResponse, Headers

ORG = "https://org.example.crm.dynamics.com"
API_ROOT = "/api/data/v9.2/"
API = f"{ORG}{API_ROOT}"
ACCOUNT_1 = "00000000-0000-0000-0000-000000000001"


# --------------------------------------------------------------------------------------------------------
# Microsoft's request examples, verbatim apart from the organization URL placeholder.
# --------------------------------------------------------------------------------------------------------

DOC_BATCH_WITHOUT_CHANGE_SET = """\
--batch_80dd1615-2a10-428a-bb6f-0e559792721f
Content-Type: application/http
Content-Transfer-Encoding: binary

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 1 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--batch_80dd1615-2a10-428a-bb6f-0e559792721f
Content-Type: application/http
Content-Transfer-Encoding: binary

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 2 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--batch_80dd1615-2a10-428a-bb6f-0e559792721f
Content-Type: application/http
Content-Transfer-Encoding: binary

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 3 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--batch_80dd1615-2a10-428a-bb6f-0e559792721f
Content-Type: application/http
Content-Transfer-Encoding: binary

GET /api/data/v9.2/accounts(00000000-0000-0000-0000-000000000001)/Account_Tasks?$select=subject HTTP/1.1


--batch_80dd1615-2a10-428a-bb6f-0e559792721f--

"""

DOC_BATCH_WITH_CHANGE_SET = """\
--batch_22975cad-7f57-410d-be15-6363209367ea
Content-Type: multipart/mixed; boundary="changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a"

--changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 1 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 2 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 3

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 3 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a--

--batch_22975cad-7f57-410d-be15-6363209367ea
Content-Type: application/http
Content-Transfer-Encoding: binary

GET /api/data/v9.2/accounts(00000000-0000-0000-0000-000000000001)/Account_Tasks?$select=subject HTTP/1.1


--batch_22975cad-7f57-410d-be15-6363209367ea--

"""

DOC_REFERENCES_IN_BODY = """\
--batch_AAA123
Content-Type: multipart/mixed; boundary=changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

POST [Organization URI]/api/data/v9.2/leads HTTP/1.1
Content-Type: application/json

{
    "firstname":"first name",
    "lastname":"last name"
}

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

POST [Organization URI]/api/data/v9.2/contacts HTTP/1.1
Content-Type: application/json

{"firstname":"first name"}

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 3

POST [Organization URI]/api/data/v9.2/accounts HTTP/1.1
Content-Type: application/json

{
    "name":"IcM Account",
    "originatingleadid@odata.bind":"$1",
    "primarycontactid@odata.bind":"$2"
}

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab--
--batch_AAA123--
"""

DOC_REFERENCE_IN_URL = """\
--batch_AAA123
Content-Type: multipart/mixed; boundary=changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

POST [Organization URI]/api/data/v9.2/contacts HTTP/1.1
Content-Type: application/json

{
  "firstname":"First Name",
  "lastname":"Last name"
}

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab
Content-Transfer-Encoding: binary
Content-Type: application/http
Content-ID: 2

PUT $1/lastname HTTP/1.1
Content-Type: application/json

{
  "value":"BBBBB"
}

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab--
--batch_AAA123--
"""

DOC_REFERENCES_WITH_ODATA_ID = """\
--batch_AAA123
Content-Type: multipart/mixed; boundary=changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab
Content-Type:application/http
Content-Transfer-Encoding:binary
Content-ID:1

POST [Organization URI]/api/data/v9.2/accounts HTTP/1.1
Content-Type: application/json

{ "name":"Account Name"}

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab
Content-Type:application/http
Content-Transfer-Encoding:binary
Content-ID:2

POST [Organization URI]/api/data/v9.2/contacts HTTP/1.1
Content-Type:application/json

{ "firstname":"Contact first name"}

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab
Content-Type:application/http
Content-Transfer-Encoding:binary
Content-ID:3

PUT $1/primarycontactid/$ref HTTP/1.1
Content-Type:application/json

{"@odata.id":"$2"}

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab--
--batch_AAA123--
"""

DOC_REFERENCES_IN_URL_AND_NAVIGATION = """\
--batch_AAA123
Content-Type: multipart/mixed; boundary=changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

POST [Organization URI]/api/data/v9.2/accounts HTTP/1.1
Content-Type: application/json

{ "name":"Account name"}

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

POST [Organization URI]/api/data/v9.2/contacts HTTP/1.1
Content-Type: application/json

{
  "firstname":"Contact first name"
}

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 3

PATCH $1 HTTP/1.1
Content-Type: application/json

{
  "primarycontactid@odata.bind":"$2"
}

--changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab--
--batch_AAA123--
"""

DOC_FORWARD_REFERENCE = """\
--batch_AAA123
Content-Type: multipart/mixed; boundary=changeset_BBB456

--changeset_BBB456
Content-Type: application/http
Content-Transfer-Encoding:binary
Content-ID: 2

POST [Organization URI]/api/data/v9.2/phonecalls HTTP/1.1
Content-Type: application/json;type=entry

{
    "phonenumber":"911",
    "regardingobjectid_account_phonecall@odata.bind" : "$1"
}

--changeset_BBB456
Content-Type: application/http
Content-Transfer-Encoding:binary
Content-ID: 1

POST [Organization URI]/api/data/v9.2/accounts HTTP/1.1
Content-Type: application/json;type=entry

{
    "name":"QQQQ",
    "revenue": 1.50
}

--changeset_BBB456--
--batch_AAA123--
"""

_TOO_LONG = "Subject is too long " + "x" * 200

DOC_FIRST_OF_THREE_FAILS = f"""\
--batch_431faf5a-f979-4ee6-a374-d242f8962d41
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-Length: 436

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{{
  "subject": "{_TOO_LONG}",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}}
--batch_431faf5a-f979-4ee6-a374-d242f8962d41
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-Length: 250

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{{
  "subject": "Task 2 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}}
--batch_431faf5a-f979-4ee6-a374-d242f8962d41
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-Length: 250

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{{
  "subject": "Task 3 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}}
--batch_431faf5a-f979-4ee6-a374-d242f8962d41--

"""

# The Content-Type header each example was sent with, as written in the doc.
DOC_CONTENT_TYPES = {
    "without-change-set": 'multipart/mixed; boundary="batch_80dd1615-2a10-428a-bb6f-0e559792721f"',
    "with-change-set": 'multipart/mixed; boundary="batch_22975cad-7f57-410d-be15-6363209367ea"',
    "references-in-body": "multipart/mixed;boundary=batch_AAA123",
    "reference-in-url": "multipart/mixed;boundary=batch_AAA123",
    "references-with-odata-id": "multipart/mixed;boundary=batch_AAA123",
    "references-in-url-and-navigation": "multipart/mixed;boundary=batch_AAA123",
    "forward-reference": "multipart/mixed;boundary=batch_AAA123",
    "first-of-three-fails": 'multipart/mixed; boundary="batch_431faf5a-f979-4ee6-a374-d242f8962d41"',
}
DOC_BODIES = {
    "without-change-set": DOC_BATCH_WITHOUT_CHANGE_SET,
    "with-change-set": DOC_BATCH_WITH_CHANGE_SET,
    "references-in-body": DOC_REFERENCES_IN_BODY,
    "reference-in-url": DOC_REFERENCE_IN_URL,
    "references-with-odata-id": DOC_REFERENCES_WITH_ODATA_ID,
    "references-in-url-and-navigation": DOC_REFERENCES_IN_URL_AND_NAVIGATION,
    "forward-reference": DOC_FORWARD_REFERENCE,
    "first-of-three-fails": DOC_FIRST_OF_THREE_FAILS,
}

TASKS_OF_ACCOUNT_1 = f"accounts({ACCOUNT_1})/Account_Tasks"

# (method, path, raw_query, content_id, reference) per operation; a list marks a change set.
Shape = tuple[str, str, str, str | None, str | None]
DOC_SHAPES: dict[str, list[Shape | list[Shape]]] = {
    "without-change-set": [
        ("POST", "tasks", "", None, None),
        ("POST", "tasks", "", None, None),
        ("POST", "tasks", "", None, None),
        ("GET", TASKS_OF_ACCOUNT_1, "$select=subject", None, None),
    ],
    "with-change-set": [
        [
            ("POST", "tasks", "", "1", None),
            ("POST", "tasks", "", "2", None),
            ("POST", "tasks", "", "3", None),
        ],
        ("GET", TASKS_OF_ACCOUNT_1, "$select=subject", None, None),
    ],
    "references-in-body": [
        [
            ("POST", "leads", "", "1", None),
            ("POST", "contacts", "", "2", None),
            ("POST", "accounts", "", "3", None),
        ],
    ],
    "reference-in-url": [
        [("POST", "contacts", "", "1", None), ("PUT", "$1/lastname", "", "2", "1")],
    ],
    "references-with-odata-id": [
        [
            ("POST", "accounts", "", "1", None),
            ("POST", "contacts", "", "2", None),
            ("PUT", "$1/primarycontactid/$ref", "", "3", "1"),
        ],
    ],
    "references-in-url-and-navigation": [
        [
            ("POST", "accounts", "", "1", None),
            ("POST", "contacts", "", "2", None),
            ("PATCH", "$1", "", "3", "1"),
        ],
    ],
    "forward-reference": [
        [("POST", "phonecalls", "", "2", None), ("POST", "accounts", "", "1", None)],
    ],
    "first-of-three-fails": [
        ("POST", "tasks", "", None, None),
        ("POST", "tasks", "", None, None),
        ("POST", "tasks", "", None, None),
    ],
}


def doc_body(name: str, line_ending: str = "\n") -> bytes:
    """A doc example as bytes, with the placeholder filled in and the chosen line endings."""
    text = DOC_BODIES[name].replace("[Organization URI]", ORG)
    return text.replace("\n", line_ending).encode("utf-8")


def parse_doc(name: str, line_ending: str = "\n") -> list[BatchPart | ChangeSet]:
    return parse_batch(DOC_CONTENT_TYPES[name], doc_body(name, line_ending), api_root=API_ROOT)


def shape(items: list[BatchPart | ChangeSet]) -> list[Shape | list[Shape]]:
    def one(part: BatchPart) -> Shape:
        request = part.request
        return (request.method, request.path, request.raw_query, part.content_id, part.reference)

    return [[one(p) for p in item.parts] if isinstance(item, ChangeSet) else one(item) for item in items]


def operations(items: list[BatchPart | ChangeSet]) -> list[BatchPart]:
    flat: list[BatchPart] = []
    for item in items:
        flat.extend(item.parts if isinstance(item, ChangeSet) else [item])
    return flat


# --------------------------------------------------------------------------------------------------------
# A small in-memory Web API for execution tests.
# --------------------------------------------------------------------------------------------------------

_PATH = re.compile(r"(?P<set>\w+)(?:\((?P<key>[0-9a-f-]{36})\))?(?:/(?P<prop>\w+))?(?P<ref>/\$ref)?")


@dataclass
class FakeWebApi:
    """Entity sets of dict records with create / read / update / delete, just enough to run batches.

    Errors come back both ways the real engine may produce them: raised (validation) and returned (404).
    """

    tables: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    requests: list[ApiRequest] = field(default_factory=list)
    created: int = 0
    rollbacks: int = 0

    def handle(self, request: ApiRequest) -> ApiResponse:
        self.requests.append(request)
        match = _PATH.fullmatch(request.path)
        if match is None:
            raise resource_not_found(request.path)
        entity_set, key, prop, ref = match.group("set", "key", "prop", "ref")
        table = self.tables.setdefault(entity_set, {})
        if key is None:
            if request.method == "POST":
                return self._create(entity_set, table, request.json())
            return ApiResponse.json(200, {"value": list(table.values())})
        record = table.get(key)
        if record is None:
            return ApiResponse.json(404, record_not_found(entity_set, key).body())
        url = f"{request.base_url}{API_ROOT}{entity_set}({key})"
        if request.method == "GET" and prop:
            related = [r for t in self.tables.values() for r in t.values() if f"({key})" in json.dumps(r)]
            return ApiResponse.json(200, {"value": [r for r in related if r is not record]})
        if request.method == "GET":
            return ApiResponse.json(200, record)
        if request.method == "DELETE":
            del table[key]
            return ApiResponse.empty(204)
        if request.method == "PUT" and ref:
            record[f"{prop}@ref"] = request.json()["@odata.id"]
            return ApiResponse.empty(204, {"OData-Version": "4.0"})
        if request.method == "PUT":
            record[prop] = request.json()["value"]
            return ApiResponse.empty(204, {"OData-Version": "4.0"})
        record.update(request.json())
        return ApiResponse.empty(204, {"OData-Version": "4.0", "OData-EntityId": url})

    def _create(self, entity_set: str, table: dict[str, dict[str, Any]], data: dict[str, Any]) -> ApiResponse:
        if len(data.get("subject", "")) > 200:
            raise max_length_exceeded("subject", "task", 200)
        self.created += 1
        key = f"aaaaaaaa-0000-0000-0000-{self.created:012d}"
        table[key] = {"id": key, **data}
        return ApiResponse.empty(204, {"OData-Version": "4.0", "OData-EntityId": f"{API}{entity_set}({key})"})

    @contextmanager
    def transaction(self) -> Iterator[None]:
        snapshot = copy.deepcopy(self.tables)
        try:
            yield
        except BaseException:
            self.tables = snapshot
            self.rollbacks += 1
            raise

    def records(self, entity_set: str) -> list[dict[str, Any]]:
        return list(self.tables.get(entity_set, {}).values())


def outer_request(**headers: str) -> ApiRequest:
    return ApiRequest(
        "POST",
        "$batch",
        headers=Headers({"Authorization": "Bearer outer-token", **headers}),
        caller_id="11111111-1111-1111-1111-111111111111",
        base_url=ORG,
    )


def run(
    api: FakeWebApi,
    items: list[BatchPart | ChangeSet],
    *,
    continue_on_error: bool = False,
    outer: ApiRequest | None = None,
) -> ApiResponse:
    return execute_batch(
        items,
        handle=api.handle,
        transaction=api.transaction,
        continue_on_error=continue_on_error,
        outer=outer or outer_request(),
        api_root=API_ROOT,
    )


# --------------------------------------------------------------------------------------------------------
# A strict parser for the multipart response (CRLF only), to check what execute_batch writes.
# --------------------------------------------------------------------------------------------------------


@dataclass
class PartResponse:
    mime: dict[str, str]
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _boundary_of(content_type: str) -> str:
    match = re.fullmatch(r"multipart/mixed; boundary=(\S+)", content_type)
    assert match, content_type
    return match.group(1)


def _header_block(block: bytes) -> dict[str, str]:
    assert b"\n" not in block.replace(b"\r\n", b""), f"bare LF in headers: {block!r}"
    headers: dict[str, str] = {}
    for line in block.decode().split("\r\n"):
        name, _, value = line.partition(": ")
        assert name, f"malformed header line {line!r}"
        assert value, f"malformed header line {line!r}"
        headers[name] = value
    return headers


def parse_multipart(content_type: str, body: bytes) -> list[PartResponse | list[PartResponse]]:
    """Split a multipart/mixed response into application/http parts; change sets become nested lists."""
    boundary = _boundary_of(content_type).encode()
    opening, closing = b"--" + boundary + b"\r\n", b"\r\n--" + boundary + b"--"
    if body.rstrip(b"\r\n") == b"--" + boundary + b"--":
        return []
    assert body.endswith(closing + b"\r\n") or body.endswith(closing), body[-200:]
    assert body.startswith(opening), body[:200]
    inner = body[len(opening) : body.rindex(closing)]
    parsed: list[PartResponse | list[PartResponse]] = []
    for raw in inner.split(b"\r\n--" + boundary + b"\r\n"):
        head, _, content = raw.partition(b"\r\n\r\n")
        mime = _header_block(head)
        if mime["Content-Type"].startswith("multipart/mixed"):
            nested = parse_multipart(mime["Content-Type"], content)
            assert all(isinstance(p, PartResponse) for p in nested)
            parsed.append([p for p in nested if isinstance(p, PartResponse)])
            continue
        assert mime["Content-Type"] == "application/http"
        assert mime["Content-Transfer-Encoding"] == "binary"
        status_line, _, rest = content.partition(b"\r\n")
        match = re.fullmatch(rb"HTTP/1\.1 (\d{3}) (.+)", status_line)
        assert match, status_line
        header_block, _, part_body = rest.partition(b"\r\n\r\n")
        parsed.append(
            PartResponse(mime, int(match.group(1)), match.group(2).decode(), _header_block(header_block), part_body)
        )
    return parsed


def parse_response(response: ApiResponse) -> list[PartResponse | list[PartResponse]]:
    content_type = response.headers.get("Content-Type") or ""
    assert re.fullmatch(r"multipart/mixed; boundary=batchresponse_[0-9a-f-]{36}", content_type), content_type
    return parse_multipart(content_type, response.body)


def failed_change_set_answer(response: ApiResponse) -> PartResponse:
    """The one answer of a response holding a single change set that failed."""
    (change_set_answers,) = parse_response(response)
    assert isinstance(change_set_answers, list)
    (failure,) = change_set_answers
    return failure


def flatten(parts: list[PartResponse | list[PartResponse]]) -> list[PartResponse]:
    flat: list[PartResponse] = []
    for part in parts:
        flat.extend(part if isinstance(part, list) else [part])
    return flat


# --------------------------------------------------------------------------------------------------------
# Builders for hand-written batch bodies (CRLF, outer boundary "b").
# --------------------------------------------------------------------------------------------------------

HTTP_PART = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary"


def part(request: str, *, content_id: str | None = None, mime: str = HTTP_PART) -> str:
    """One body part: MIME headers, blank line, the inner request (the delimiter follows)."""
    head = mime + (f"\r\nContent-ID: {content_id}" if content_id is not None else "")
    return f"{head}\r\n\r\n{request}\r\n"


def change_set(*parts: str, boundary: str = "c") -> str:
    inner = "".join(f"--{boundary}\r\n{p}" for p in parts)
    return f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n{inner}--{boundary}--\r\n"


def batch(*parts: str) -> bytes:
    return ("".join(f"--b\r\n{p}" for p in parts) + "--b--\r\n").encode()


def parse(*parts: str) -> list[BatchPart | ChangeSet]:
    return parse_batch("multipart/mixed; boundary=b", batch(*parts), api_root=API_ROOT)


def post(path: str, payload: dict[str, Any]) -> str:
    return f"POST {path} HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{json.dumps(payload)}"


MISSING = "bbbbbbbb-0000-0000-0000-000000000000"
TOO_LONG_TASK = post("tasks", {"subject": _TOO_LONG})


# --------------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("line_ending", ["\n", "\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("name", list(DOC_BODIES))
def test_doc_examples_parse_to_their_operations(name: str, line_ending: str) -> None:
    assert shape(parse_doc(name, line_ending)) == DOC_SHAPES[name]


@pytest.mark.parametrize("line_ending", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_part_headers_and_json_body_are_kept(line_ending: str) -> None:
    first = operations(parse_doc("with-change-set", line_ending))[0]
    assert first.request.headers.get("Content-Type") == "application/json; type=entry"
    assert json.loads(first.request.body) == {
        "subject": "Task 1 in batch",
        "regardingobjectid_account_task@odata.bind": f"accounts({ACCOUNT_1})",
    }


def test_get_part_followed_by_blank_lines_has_an_empty_body() -> None:
    get = parse_doc("without-change-set")[-1]
    assert isinstance(get, BatchPart)
    assert get.request.body == b""


def test_body_keeps_its_bytes_up_to_the_line_break_before_the_delimiter() -> None:
    (item,) = parse(part('POST tasks HTTP/1.1\r\n\r\n{"a":"é"}  '))
    assert isinstance(item, BatchPart)
    assert item.request.body == '{"a":"é"}  '.encode()


@pytest.mark.parametrize(
    ("target", "path", "raw_query"),
    [
        (f"{API}tasks", "tasks", ""),
        ("http://localhost:8080/api/data/v9.2/tasks?$top=2", "tasks", "$top=2"),
        ("/api/data/v9.2/tasks", "tasks", ""),
        ("/API/Data/V9.2/tasks", "tasks", ""),
        ("tasks", "tasks", ""),
        (f"accounts({ACCOUNT_1})/Account_Tasks?$select=subject", TASKS_OF_ACCOUNT_1, "$select=subject"),
        ("/api/data/v9.2/", "", ""),
        ("accounts(name='a%20b')", "accounts(name='a b')", ""),
        ("accounts?$filter=name eq 'Café'", "accounts", "$filter=name%20eq%20'Caf%C3%A9'"),
        ("accounts?$filter=name%20eq%20'x'", "accounts", "$filter=name%20eq%20'x'"),
        ("$metadata", "$metadata", ""),
        ("WhoAmI", "WhoAmI", ""),
    ],
    ids=[
        "absolute",
        "absolute-other-host-with-query",
        "root-relative",
        "root-relative-other-case",
        "relative",
        "relative-with-query",
        "service-root",
        "percent-encoded-path-is-decoded",
        "raw-spaces-in-query-are-encoded",
        "encoded-query-kept",
        "system-resource-is-not-a-reference",
        "function",
    ],
)
def test_request_urls_are_made_relative_to_the_api_root(target: str, path: str, raw_query: str) -> None:
    (item,) = parse(part(f"GET {target} HTTP/1.1\r\n"))
    assert isinstance(item, BatchPart)
    assert (item.request.path, item.request.raw_query, item.reference) == (path, raw_query, None)


@pytest.mark.parametrize(
    ("target", "reference"),
    [("$1", "1"), ("$1/lastname", "1"), ("$12/primarycontactid/$ref", "12"), ("$new-account", "new-account")],
    ids=["bare", "property", "ref", "non-numeric-content-id"],
)
def test_content_id_reference_urls_are_kept_for_execution(target: str, reference: str) -> None:
    (item,) = parse(change_set(part(f"DELETE {target} HTTP/1.1\r\n")))
    assert isinstance(item, ChangeSet)
    assert (item.parts[0].request.path, item.parts[0].reference) == (target, reference)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (batch(part("GET tasks HTTP/1.1", mime="Content-Transfer-Encoding: binary")), "found '(none)'"),
        (batch(part("GET tasks HTTP/1.1", mime="Content-Type: text/plain")), "found 'text/plain'"),
        (batch(part("GET tasks HTTP/1.1", mime=f"{HTTP_PART[:-6]}base64")), "'base64' is not supported"),
        (batch(part("")), "no request line"),
        (batch(part("GET tasks")), "Malformed request line"),
        (batch(part("GET HTTP/1.1")), "Malformed request line"),
        (batch(part("MERGE tasks HTTP/1.1")), "'MERGE' is not supported"),
        (batch(part("GET tasks HTTP/1.1\r\nnot a header")), "Malformed header line"),
        (batch(part('POST tasks HTTP/1.1\r\n{"subject": "no blank line"}')), "Malformed header line"),
        (batch(part("POST $batch HTTP/1.1")), "cannot contain another batch"),
        (batch(part("POST /api/data/v9.2/$batch HTTP/1.1")), "cannot contain another batch"),
        (batch(part("GET /api/data/v9.1/tasks HTTP/1.1")), "not under the service root"),
        (batch(part("GET https://host/other/tasks HTTP/1.1")), "not under the service root"),
        (batch(change_set(part("GET tasks HTTP/1.1"))), "GET requests are not allowed in a change set"),
        (
            batch(change_set(part(post("tasks", {}), content_id="1"), part(post("tasks", {}), content_id="1"))),
            "'1' occurs more than once",
        ),
        (batch("Content-Type: multipart/mixed\r\n\r\n"), "without a boundary"),
        (
            batch(change_set(change_set(part(post("tasks", {})), boundary="d"))),
            "cannot contain another change set",
        ),
        (b"hello", "contains no '--b' delimiter"),
        (batch(part("GET tasks HTTP/1.1"))[: -len(b"--b--\r\n")], "closing delimiter '--b--'"),
    ],
    ids=[
        "part-without-content-type",
        "part-with-other-content-type",
        "base64-transfer-encoding",
        "empty-part",
        "request-line-without-version",
        "request-line-without-url",
        "unsupported-method",
        "malformed-inner-header",
        "body-without-blank-line",
        "nested-batch-relative",
        "nested-batch-root-relative",
        "other-api-version",
        "absolute-url-outside-root",
        "get-in-change-set",
        "duplicate-content-id-in-change-set",
        "change-set-without-boundary",
        "nested-change-set",
        "no-delimiter",
        "no-closing-delimiter",
    ],
)
def test_malformed_batches_are_refused_with_400(body: bytes, message: str) -> None:
    with pytest.raises(DataverseError) as caught:
        parse_batch("multipart/mixed; boundary=b", body, api_root=API_ROOT)
    assert caught.value.status == 400
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("application/json", "must have Content-Type multipart/mixed"),
        ("multipart/mixed", "no boundary parameter"),
    ],
    ids=["not-multipart", "no-boundary"],
)
def test_outer_content_type_must_be_multipart_with_boundary(content_type: str, message: str) -> None:
    with pytest.raises(DataverseError, match=message) as caught:
        parse_batch(content_type, batch(part("GET tasks HTTP/1.1")), api_root=API_ROOT)
    assert caught.value.status == 400


def _many(count: int, per_change_set: int) -> bytes:
    create = part(post("tasks", {}))
    sets, singles = divmod(count, per_change_set) if per_change_set else (0, count)
    return batch(*[change_set(*[create] * per_change_set)] * sets, *[create] * singles)


@pytest.mark.parametrize(
    ("count", "per_change_set", "accepted"),
    [
        (MAX_OPERATIONS, 0, True),
        (MAX_OPERATIONS + 1, 0, False),
        (MAX_OPERATIONS, 100, True),
        (MAX_OPERATIONS + 1, 100, False),
    ],
    ids=["1000-parts", "1001-parts", "1000-in-change-sets", "1001-counting-change-set-members"],
)
def test_at_most_1000_operations(count: int, per_change_set: int, accepted: bool) -> None:
    body = _many(count, per_change_set)
    if accepted:
        assert len(operations(parse_batch("multipart/mixed; boundary=b", body, api_root=API_ROOT))) == count
        return
    with pytest.raises(DataverseError, match="more than 1000 operations") as caught:
        parse_batch("multipart/mixed; boundary=b", body, api_root=API_ROOT)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "body",
    [
        b"preamble\r\n" + batch(part("GET tasks HTTP/1.1\r\n\r\n")) + b"epilogue",
        b"--b  \r\nContent-Type:application/http\r\n\r\nGET tasks HTTP/1.1\r\n\r\n--b--",
        b"--b\nContent-Type: application/http\n\n\nGET tasks HTTP/1.1\n--b--\n",
        b"--b\r\nContent-Type: application/http\r\n\r\nget tasks http/1.1\r\n\r\n--b--\r\n",
        batch(part("GET tasks HTTP/1.1", mime="Content-Type: application/http\r\n  ; msgtype=request")),
    ],
    ids=[
        "preamble-and-epilogue",
        "padding-and-no-space-after-colon",
        "LF-and-blank-line-before-request",
        "lower-case-method",
        "folded-header",
    ],
)
def test_tolerated_variations(body: bytes) -> None:
    (item,) = parse_batch('multipart/mixed; charset=utf-8; boundary="b"', body, api_root=API_ROOT)
    assert isinstance(item, BatchPart)
    assert (item.request.method, item.request.path) == ("GET", "tasks")


def test_empty_batch_parses_and_answers_200() -> None:
    assert parse_batch("multipart/mixed; boundary=b", b"--b--\r\n", api_root=API_ROOT) == []
    response = run(FakeWebApi(), [])
    assert response.status == 200
    assert parse_response(response) == []


# --------------------------------------------------------------------------------------------------------
# Execution
# --------------------------------------------------------------------------------------------------------


def test_doc_change_set_example_runs_and_answers_like_dataverse() -> None:
    api = FakeWebApi(tables={"accounts": {ACCOUNT_1: {"id": ACCOUNT_1, "name": "A"}}})
    response = run(api, parse_doc("with-change-set"))
    assert response.status == 200
    assert response.headers.get("OData-Version") == "4.0"
    created, get = parse_response(response)
    assert isinstance(created, list)
    assert isinstance(get, PartResponse)
    assert [(p.mime["Content-ID"], p.status, p.reason) for p in created] == [
        ("1", 204, "No Content"),
        ("2", 204, "No Content"),
        ("3", 204, "No Content"),
    ]
    for answer in created:
        assert list(answer.headers) == ["OData-Version", "Location", "OData-EntityId"]
        assert answer.headers["Location"] == answer.headers["OData-EntityId"]
        assert re.fullmatch(rf"{re.escape(API)}tasks\([0-9a-f-]{{36}}\)", answer.headers["OData-EntityId"])
    assert "Content-ID" not in get.mime
    assert (get.status, get.reason) == (200, "OK")
    assert get.headers["Content-Type"] == "application/json; odata.metadata=minimal; odata.streaming=true"
    # The GET after the change set sees its three committed tasks.
    subjects = [t["subject"] for t in get.json()["value"]]
    assert subjects == ["Task 1 in batch", "Task 2 in batch", "Task 3 in batch"]


def test_change_set_failure_rolls_back_and_answers_only_the_failure() -> None:
    api = FakeWebApi()
    items = parse(
        change_set(
            part(post("tasks", {"subject": "ok"}), content_id="1"),
            part(post("tasks", {"subject": "also ok"}), content_id="2"),
            part(TOO_LONG_TASK, content_id="3"),
        )
    )
    response = run(api, items)
    assert response.status == 400
    failure = failed_change_set_answer(response)
    assert (failure.mime["Content-ID"], failure.status, failure.reason) == ("3", 400, "Bad Request")
    assert list(failure.headers) == ["REQ_ID", "Content-Type", "OData-Version"]
    assert failure.headers["Content-Type"] == "application/json; odata.metadata=minimal"
    assert failure.json()["error"]["code"] == "0x80044331"
    assert api.records("tasks") == []
    assert api.rollbacks == 1


def test_change_set_failure_returned_as_a_response_also_rolls_back() -> None:
    api = FakeWebApi()
    items = parse(
        change_set(
            part(post("accounts", {"name": "kept?"})),
            part(f'PATCH accounts({MISSING}) HTTP/1.1\r\n\r\n{{"name": "x"}}'),
        )
    )
    response = run(api, items, continue_on_error=True)
    assert response.status == 200
    failure = failed_change_set_answer(response)
    assert failure.status == 404
    assert api.records("accounts") == []


@pytest.mark.parametrize(
    "name",
    [
        "references-in-body",
        "reference-in-url",
        "references-with-odata-id",
        "references-in-url-and-navigation",
    ],
)
def test_doc_content_id_reference_examples_resolve_to_entity_urls(name: str) -> None:
    api = FakeWebApi()
    response = run(api, parse_doc(name))
    assert response.status == 200
    assert all(p.status == 204 for p in flatten(parse_response(response)))
    # Each example creates one record per entity set.
    created = {entity_set: f"{API}{entity_set}({key})" for entity_set, table in api.tables.items() for key in table}
    last = api.requests[-1]
    if name == "references-in-body":
        (account,) = api.records("accounts")
        assert account["originatingleadid@odata.bind"] == created["leads"]
        assert account["primarycontactid@odata.bind"] == created["contacts"]
    elif name == "reference-in-url":
        assert last.path == created["contacts"].removeprefix(API) + "/lastname"
        assert api.records("contacts")[0]["lastname"] == "BBBBB"
    elif name == "references-with-odata-id":
        assert last.path == created["accounts"].removeprefix(API) + "/primarycontactid/$ref"
        assert api.records("accounts")[0]["primarycontactid@ref"] == created["contacts"]
    else:
        assert last.path == created["accounts"].removeprefix(API)
        assert api.records("accounts")[0]["primarycontactid@odata.bind"] == created["contacts"]


def test_patch_of_a_reference_answers_with_location_like_the_doc() -> None:
    api = FakeWebApi()
    _, _, patch = flatten(parse_response(run(api, parse_doc("references-in-url-and-navigation"))))
    assert patch.mime["Content-ID"] == "3"
    account = f"{API}accounts(aaaaaaaa-0000-0000-0000-000000000001)"
    assert patch.headers["Location"] == patch.headers["OData-EntityId"] == account


def test_collection_bind_values_resolve_and_bodies_without_references_are_untouched() -> None:
    api = FakeWebApi()
    untouched = '{"name": "n",  "revenue": 1.50}'
    items = parse(
        change_set(
            part(post("tasks", {"subject": "a"}), content_id="t1"),
            part(post("tasks", {"subject": "b"}), content_id="t2"),
            part(f"POST accounts HTTP/1.1\r\n\r\n{untouched}"),
            part(post("accounts", {"name": "$t1", "Account_Tasks@odata.bind": ["$t1", "$t2"]})),
        )
    )
    assert run(api, items).status == 200
    assert api.requests[2].body == untouched.encode()
    account = api.records("accounts")[1]
    assert account["name"] == "$t1"
    assert account["Account_Tasks@odata.bind"] == [
        f"{API}tasks(aaaaaaaa-0000-0000-0000-000000000001)",
        f"{API}tasks(aaaaaaaa-0000-0000-0000-000000000002)",
    ]


def test_doc_forward_reference_fails_with_400_and_creates_nothing() -> None:
    api = FakeWebApi()
    response = run(api, parse_doc("forward-reference"))
    assert response.status == 400
    failure = failed_change_set_answer(response)
    assert (failure.mime["Content-ID"], failure.status) == ("2", 400)
    assert failure.json()["error"]["message"] == "Content-ID Reference: '$1' does not exist in the batch context."
    assert api.requests == []
    assert api.records("accounts") == []


@pytest.mark.parametrize(
    "parts",
    [
        [change_set(part("DELETE $1 HTTP/1.1"))],
        [part("DELETE $1 HTTP/1.1")],
        [change_set(part(post("accounts", {"parentaccountid@odata.bind": "$9"})))],
        [
            change_set(part(post("accounts", {"name": "a"}), content_id="1")),
            change_set(part("DELETE $1 HTTP/1.1"), boundary="d"),
        ],
    ],
    ids=["unknown-in-url", "outside-a-change-set", "unknown-in-bind", "from-another-change-set"],
)
def test_references_that_name_no_earlier_entity_fail(parts: list[str]) -> None:
    response = run(FakeWebApi(), parse(*parts), continue_on_error=True)
    failure = flatten(parse_response(response))[-1]
    assert failure.status == 400
    message = failure.json()["error"]["message"]
    assert re.fullmatch(r"Content-ID Reference: '\$\d' does not exist in the batch context\.", message)


def test_doc_error_example_stops_at_the_first_failure_with_outer_400() -> None:
    api = FakeWebApi()
    response = run(api, parse_doc("first-of-three-fails"))
    assert response.status == 400
    (failure,) = parse_response(response)
    assert isinstance(failure, PartResponse)
    assert (failure.status, failure.reason) == (400, "Bad Request")
    assert failure.json() == {
        "error": {
            "code": "0x80044331",
            "message": "A validation error occurred.  The length of the 'subject' attribute of the 'task' "
            "entity exceeded the maximum allowed length of '200'.",
        }
    }
    assert len(api.requests) == 1
    assert api.records("tasks") == []


def test_doc_error_example_with_continue_on_error_answers_200_with_every_part() -> None:
    api = FakeWebApi()
    response = run(api, parse_doc("first-of-three-fails"), continue_on_error=True)
    assert response.status == 200
    assert response.headers.get("Preference-Applied") == "odata.continue-on-error"
    assert [p.status for p in flatten(parse_response(response))] == [400, 204, 204]
    assert len(api.records("tasks")) == 2


@pytest.mark.parametrize(
    ("continue_on_error", "outer_status", "statuses", "executed"),
    [(False, 400, [204, 404], 2), (True, 200, [204, 404, 204], 3)],
    ids=["stop-at-first-error", "continue-on-error"],
)
def test_later_failure_keeps_earlier_responses(
    continue_on_error: bool, outer_status: int, statuses: list[int], executed: int
) -> None:
    api = FakeWebApi()
    items = parse(
        part(post("tasks", {"subject": "one"})),
        part(f"GET tasks({MISSING}) HTTP/1.1"),
        part(post("tasks", {"subject": "three"})),
    )
    response = run(api, items, continue_on_error=continue_on_error)
    assert response.status == outer_status
    assert [p.status for p in flatten(parse_response(response))] == statuses
    assert len(api.requests) == executed


def test_failed_change_set_stops_the_batch_but_earlier_items_stay_committed() -> None:
    api = FakeWebApi()
    items = parse(
        part(post("accounts", {"name": "committed"})),
        change_set(part(post("tasks", {"subject": "rolled back"})), part(TOO_LONG_TASK)),
        part(post("accounts", {"name": "never run"})),
    )
    response = run(api, items)
    assert response.status == 400
    single, failed_set = parse_response(response)
    assert isinstance(single, PartResponse)
    assert single.status == 204
    assert isinstance(failed_set, list)
    assert [p.status for p in failed_set] == [400]
    assert [a["name"] for a in api.records("accounts")] == ["committed"]
    assert api.records("tasks") == []


def test_raised_dataverse_error_keeps_its_headers() -> None:
    def throttled(request: ApiRequest) -> ApiResponse:
        raise DataverseError(429, "0x80072322", "Too many requests.", headers={"Retry-After": "7"})

    response = execute_batch(
        parse(part("GET tasks HTTP/1.1")),
        handle=throttled,
        transaction=FakeWebApi().transaction,
        continue_on_error=False,
        outer=outer_request(),
    )
    (answer,) = parse_response(response)
    assert isinstance(answer, PartResponse)
    assert (answer.status, answer.reason, answer.headers["Retry-After"]) == (429, "Too Many Requests", "7")
    assert answer.json() == {"error": {"code": "0x80072322", "message": "Too many requests."}}


@pytest.mark.parametrize(
    ("outer_headers", "part_headers", "expected"),
    [
        ({}, "", ("Bearer outer-token", None, None)),
        ({"CallerObjectId": "outer-object"}, "", ("Bearer outer-token", "outer-object", None)),
        (
            {"CallerObjectId": "outer-object"},
            "MSCRMCallerID: part-user",
            ("Bearer outer-token", None, "part-user"),
        ),
        (
            {"MSCRMCallerID": "outer-user"},
            "Authorization: Bearer part-token\r\nMSCRMCallerID: part-user",
            ("Bearer part-token", None, "part-user"),
        ),
    ],
    ids=["authorization", "outer-impersonation", "part-impersonation-replaces-outer", "part-sets-its-own"],
)
def test_inner_requests_inherit_identity_from_the_outer_request(
    outer_headers: dict[str, str], part_headers: str, expected: tuple[str | None, ...]
) -> None:
    api = FakeWebApi()
    run(api, parse(part(f"GET tasks HTTP/1.1\r\n{part_headers}")), outer=outer_request(**outer_headers))
    (inner,) = api.requests
    assert (inner.caller_id, inner.base_url) == ("11111111-1111-1111-1111-111111111111", ORG)
    names = ("Authorization", "CallerObjectId", "MSCRMCallerID")
    assert tuple(inner.headers.get(name) for name in names) == expected


def test_parsed_items_are_not_modified_by_execution() -> None:
    items = parse_doc("references-in-url-and-navigation")
    before = shape(items)
    bodies = [p.request.body for p in operations(items)]
    run(FakeWebApi(), items)
    assert shape(items) == before
    assert [p.request.body for p in operations(items)] == bodies
    assert all(p.request.caller_id is None for p in operations(items))


def test_response_uses_fresh_boundaries_and_crlf() -> None:
    items = parse_doc("with-change-set", "\n")
    first, second = run(FakeWebApi(), items), run(FakeWebApi(), items)
    assert first.headers.get("Content-Type") != second.headers.get("Content-Type")
    text = first.body.decode()
    assert re.search(r"^Content-Type: multipart/mixed; boundary=changesetresponse_[0-9a-f-]{36}\r$", text, re.M)
    assert "\n" not in text.replace("\r\n", "")


# --------------------------------------------------------------------------------------------------------
# Microsoft's Python SDK (powerplatform-dataverse-client): its builder writes the request, its parser
# reads our response.
# --------------------------------------------------------------------------------------------------------


@dataclass
class SdkHttpResponse:
    """The attributes of a ``requests`` response that the SDK's batch response parser reads."""

    status_code: int
    headers: dict[str, str]
    text: str

    @classmethod
    def of(cls, response: ApiResponse) -> SdkHttpResponse:
        content_type = response.headers.get("Content-Type") or ""
        return cls(response.status, {"Content-Type": content_type}, response.body.decode())


@pytest.fixture
def sdk() -> tuple[Any, Any]:
    return importlib.import_module("PowerPlatform.Dataverse.data._batch_base"), importlib.import_module(
        "PowerPlatform.Dataverse.data._raw_request"
    )


def test_sdk_built_batch_runs_and_its_parser_reads_our_response(sdk: tuple[Any, Any]) -> None:
    base, raw = sdk
    sdk_api = "https://localhost:8443/api/data/v9.2"
    account = json.dumps({"name": "Ünïcode"}, ensure_ascii=False)
    contact = json.dumps({"parentcustomerid_account@odata.bind": "$1"})
    writes = base._ChangeSetBatchItem(
        requests=[
            raw._RawRequest("POST", f"{sdk_api}/accounts", body=account, content_id=1),
            raw._RawRequest("PATCH", "$1", body='{"telephone1": "555"}', headers={"If-Match": "*"}, content_id=2),
            raw._RawRequest("POST", f"{sdk_api}/contacts", body=contact, content_id=3),
        ]
    )
    listing = raw._RawRequest(
        "GET",
        f"{sdk_api}/accounts?$select=name&$filter=name eq 'Ünïcode'",
        headers={"Prefer": "odata.maxpagesize=5"},
    )
    missing = raw._RawRequest("DELETE", f"{sdk_api}/accounts({MISSING})", headers={"If-Match": "*"})
    builder = base._BatchBase(None)
    body = builder._build_batch_body([writes, listing, missing], "batch_sdk")

    items = parse_batch('multipart/mixed; boundary="batch_sdk"', body.encode("utf-8"), api_root=API_ROOT)
    assert shape(items) == [
        [
            ("POST", "accounts", "", "1", None),
            ("PATCH", "$1", "", "2", "1"),
            ("POST", "contacts", "", "3", None),
        ],
        ("GET", "accounts", "$select=name&$filter=name%20eq%20'%C3%9Cn%C3%AFcode'", None, None),
        ("DELETE", f"accounts({MISSING})", "", None, None),
    ]
    assert operations(items)[1].request.headers.get("If-Match") == "*"
    assert operations(items)[3].request.headers.get("Prefer") == "odata.maxpagesize=5"

    api = FakeWebApi()
    response = run(api, items, continue_on_error=True)
    account_url = f"{API}accounts(aaaaaaaa-0000-0000-0000-000000000001)"
    assert api.records("contacts")[0]["parentcustomerid_account@odata.bind"] == account_url
    assert api.records("accounts")[0] == {"id": account_url[-37:-1], "name": "Ünïcode", "telephone1": "555"}

    result = builder._parse_batch_response(SdkHttpResponse.of(response))
    statuses = [(r.status_code, r.content_id) for r in result.responses]
    assert statuses == [(204, "1"), (204, "2"), (204, "3"), (200, None), (404, None)]
    assert result.responses[0].entity_id == "aaaaaaaa-0000-0000-0000-000000000001"
    assert result.responses[3].data is not None
    assert result.responses[4].error_code == "0x80040217"


def test_sdk_parser_reads_a_stopped_batch(sdk: tuple[Any, Any]) -> None:
    base, _ = sdk
    response = run(FakeWebApi(), parse_doc("first-of-three-fails"))
    result = base._BatchBase(None)._parse_batch_response(SdkHttpResponse.of(response))
    assert [(r.status_code, r.error_code) for r in result.responses] == [(400, "0x80044331")]
