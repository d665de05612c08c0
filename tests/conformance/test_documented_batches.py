"""The examples of Microsoft's page on ``$batch``, replayed against the sandbox as the page writes them.

Source: ``MicrosoftDocs/powerapps-docs``, ``powerapps-docs/developer/data-platform/webapi/``
``execute-batch-operations-using-web-api.md`` (section named in each test). Each request body is the page's,
with its line ends (LF) and ``[Organization URI]`` replaced by the sandbox's; each response is parsed part by part
and compared with the page's: statuses, the ``Content-ID``s, ``Location``/``OData-EntityId`` headers and the
bodies' keys and annotations — not ids, ETag values or timestamps. The page's account
``00000000-0000-0000-0000-000000000001`` is created once.

One sandbox for the module (issue 17: the suite must stay fast).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.conformance.conftest import API, BASE_URL, WebApi, open_api

from salesbridge.sandbox.assembly import build_sandbox

ACCOUNT = "00000000-0000-0000-0000-000000000001"
ENTITY_ID = re.compile(re.escape(API) + r"(\w+)\(([0-9a-f-]{36})\)$")
TOO_LONG = "Subject is too long " + "x" * 190


@pytest.fixture(scope="module")
def docs_api(sandbox_signing_key: rsa.RSAPrivateKey) -> Iterator[WebApi]:
    with open_api(build_sandbox(signing_key=sandbox_signing_key)) as api:
        api.create("accounts", {"accountid": ACCOUNT, "name": "Sample account"})
        yield api


@dataclass
class Part:
    """One answer of a batch response: its MIME headers, the inner HTTP status, headers and body."""

    mime: dict[str, str]
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""

    def json(self) -> Any:
        return json.loads(self.body)


def _boundary(content_type: str) -> str:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    assert match, content_type
    return match.group(1)


def _headers(block: str) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in block.splitlines() if line.strip())
    return {name.strip().lower(): value.strip() for name, value in pairs}


def _parts(text: str, boundary: str) -> list[Part]:
    """The parts of a multipart batch (or change set) response, change sets flattened in order."""
    assert text.rstrip().endswith(f"--{boundary}--"), text[-200:]
    parts: list[Part] = []
    for chunk in text.split(f"--{boundary}")[1:-1]:
        mime_block, _, rest = chunk.strip("\r\n").partition("\r\n\r\n")
        mime = _headers(mime_block)
        if mime["content-type"].startswith("multipart/mixed"):
            inner = _parts(rest, _boundary(mime["content-type"]))
            assert all(part.mime["content-type"] == "application/http" for part in inner)
            parts.extend(inner)
            continue
        assert mime["content-type"] == "application/http"
        assert mime["content-transfer-encoding"] == "binary"
        head, _, body = rest.partition("\r\n\r\n")
        status_line, _, header_block = head.partition("\r\n")
        assert status_line.startswith("HTTP/1.1 "), status_line
        parts.append(Part(mime, int(status_line.split()[1]), _headers(header_block), body.strip("\r\n")))
    return parts


def _send(api: WebApi, request: str, *, prefer: str | None = None) -> tuple[Any, list[Part]]:
    """POST the page's request (its headers line, a blank line and the body) to ``$batch``."""
    content_type, body = request.split("\n\n", 1)
    headers = {"Content-Type": content_type.removeprefix("Content-Type: "), "If-None-Match": "null"}
    if prefer:
        headers["Prefer"] = prefer
    body = body.replace("[Organization URI]", BASE_URL).replace("[Organization Uri]", BASE_URL)
    response = api.post("$batch", content=body.encode(), headers=headers)
    assert response.headers["OData-Version"] == "4.0"
    response_type = response.headers["Content-Type"]
    assert response_type.startswith("multipart/mixed; boundary=batchresponse_")
    return response, _parts(response.text, _boundary(response_type))


def _created(part: Part, entity_set: str) -> str:
    """A create's answer as the page shows it: 204, ``Location`` = ``OData-EntityId``, no body."""
    assert part.status == 204
    assert part.headers["odata-version"] == "4.0"
    assert part.headers["location"] == part.headers["odata-entityid"]
    match = ENTITY_ID.match(part.headers["odata-entityid"])
    assert match, part.headers
    assert match.group(1) == entity_set
    assert part.body == ""
    return match.group(2)


def _tasks_of_the_account(part: Part, subjects: list[str], ids: list[str]) -> None:
    """The page's last answer: the account's tasks with ``$select=subject``, key order as shown."""
    assert part.status == 200
    assert part.headers["content-type"].startswith("application/json; odata.metadata=minimal")
    assert part.headers["odata-version"] == "4.0"
    body = part.json()
    assert list(body) == ["@odata.context", "value"]
    assert body["@odata.context"] == f"{API}$metadata#tasks(subject)"
    found = [task for task in body["value"] if task["activityid"] in ids]
    assert [list(task) for task in found] == [["@odata.etag", "subject", "activityid"]] * len(ids)
    assert sorted(task["subject"] for task in found) == subjects


def _task_post(subject: str, boundary: str, content_id: str | None = None) -> str:
    content_id_line = f"Content-ID: {content_id}\n" if content_id else ""
    return f"""--{boundary}
Content-Type: application/http
Content-Transfer-Encoding: binary
{content_id_line}
POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{{
  "subject": "{subject}",
  "regardingobjectid_account_task@odata.bind": "accounts({ACCOUNT})"
}}
"""


GET_TASKS = f"""Content-Type: application/http
Content-Transfer-Encoding: binary

GET /api/data/v9.2/accounts({ACCOUNT})/Account_Tasks?$select=subject HTTP/1.1


"""
SUBJECTS = ["Task 1 in batch", "Task 2 in batch", "Task 3 in batch"]


def test_batch_requests(docs_api: WebApi) -> None:
    """ "Batch requests" / "Batch responses": three task creates and a read of the account's tasks, no change set
    → 200; three 204s with ``Location`` and ``OData-EntityId``, then the 200 with the three tasks."""
    boundary = "batch_80dd1615-2a10-428a-bb6f-0e559792721f"
    request = (
        f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
        + "".join(_task_post(subject, boundary) for subject in SUBJECTS)
        + f"--{boundary}\n{GET_TASKS}--{boundary}--\n"
    )
    response, parts = _send(docs_api, request)
    assert response.status_code == 200
    assert len(parts) == 4
    ids = [_created(part, "tasks") for part in parts[:3]]
    assert all("content-id" not in part.mime for part in parts)
    _tasks_of_the_account(parts[3], SUBJECTS, ids)


def test_change_sets(docs_api: WebApi) -> None:
    """ "Change sets": the three creates in a change set with Content-IDs 1-3, the read outside it → a change set
    response (its own ``changesetresponse_`` boundary) echoing the Content-IDs, then the read."""
    boundary = "batch_22975cad-7f57-410d-be15-6363209367ea"
    change_set = "changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a"
    request = (
        f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
        f'--{boundary}\nContent-Type: multipart/mixed; boundary="{change_set}"\n\n'
        + "".join(_task_post(subject, change_set, str(n)) for n, subject in enumerate(SUBJECTS, start=1))
        + f"--{change_set}--\n\n--{boundary}\n{GET_TASKS}--{boundary}--\n"
    )
    response, parts = _send(docs_api, request)
    assert response.status_code == 200
    assert re.search(r"Content-Type: multipart/mixed; boundary=\"?changesetresponse_", response.text)
    assert [part.mime.get("content-id") for part in parts] == ["1", "2", "3", None]
    ids = [_created(part, "tasks") for part in parts[:3]]
    _tasks_of_the_account(parts[3], SUBJECTS, ids)


CHANGE_SET = "changeset_dd81ccab-11ce-4d57-b91d-12c4e25c3cab"


def _change_set_request(operations: str) -> str:
    return (
        "Content-Type: multipart/mixed;boundary=batch_AAA123\n\n"
        f"--batch_AAA123\nContent-Type: multipart/mixed; boundary={CHANGE_SET}\n\n"
        f"{operations}--{CHANGE_SET}--\n--batch_AAA123--\n"
    )


def test_reference_uris_in_request_body(docs_api: WebApi) -> None:
    """ "Reference URIs in request body": a lead ($1) and a contact ($2) bound to a new account in one change
    set → three creates; the account's lookups point at them."""
    response, parts = _send(
        docs_api,
        _change_set_request(
            f"""--{CHANGE_SET}
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

POST [Organization URI]/api/data/v9.2/leads HTTP/1.1
Content-Type: application/json

{{
    "firstname":"first name",
    "lastname":"last name"
}}

--{CHANGE_SET}
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

POST [Organization URI]/api/data/v9.2/contacts HTTP/1.1
Content-Type: application/json

{{"firstname":"first name"}}

--{CHANGE_SET}
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 3

POST [Organization URI]/api/data/v9.2/accounts HTTP/1.1
Content-Type: application/json

{{
    "name":"IcM Account",
    "originatingleadid@odata.bind":"$1",
    "primarycontactid@odata.bind":"$2"
}}

"""
        ),
    )
    assert response.status_code == 200
    assert [part.mime["content-id"] for part in parts] == ["1", "2", "3"]
    lead, contact, account = (
        _created(part, name) for part, name in zip(parts, ("leads", "contacts", "accounts"), strict=True)
    )
    read = docs_api.get(f"accounts({account})?$select=name,_originatingleadid_value,_primarycontactid_value").json()
    assert (read["_originatingleadid_value"], read["_primarycontactid_value"]) == (lead, contact)


def test_reference_uri_in_request_url(docs_api: WebApi) -> None:
    """ "Reference URI in request URL": ``PUT $1/lastname`` after the contact's create → 204 without
    ``Location``; the contact's last name is the new one."""
    response, parts = _send(
        docs_api,
        _change_set_request(
            f"""--{CHANGE_SET}
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

POST [Organization URI]/api/data/v9.2/contacts HTTP/1.1
Content-Type: application/json

{{
  "firstname":"First Name",
  "lastname":"Last name"
}}

--{CHANGE_SET}
Content-Transfer-Encoding: binary
Content-Type: application/http
Content-ID: 2

PUT $1/lastname HTTP/1.1
Content-Type: application/json

{{
  "value":"BBBBB"
}}

"""
        ),
    )
    assert response.status_code == 200
    contact = _created(parts[0], "contacts")
    assert (parts[1].mime["content-id"], parts[1].status, parts[1].body) == ("2", 204, "")
    assert "location" not in parts[1].headers
    assert docs_api.get(f"contacts({contact})?$select=lastname").json()["lastname"] == "BBBBB"


def test_reference_uris_in_url_and_request_body_using_odata_id(docs_api: WebApi) -> None:
    """ "Reference URIs in URL and request body using @odata.id": ``PUT $1/primarycontactid/$ref`` with
    ``{"@odata.id":"$2"}`` (the page's headers without a space after the colon) → 204; the account's primary
    contact is the new contact."""
    response, parts = _send(
        docs_api,
        _change_set_request(
            f"""--{CHANGE_SET}
Content-Type:application/http
Content-Transfer-Encoding:binary
Content-ID:1

POST [Organization URI]/api/data/v9.2/accounts HTTP/1.1
Content-Type: application/json

{{ "name":"Account Name"}}

--{CHANGE_SET}
Content-Type:application/http
Content-Transfer-Encoding:binary
Content-ID:2

POST [Organization URI]/api/data/v9.2/contacts HTTP/1.1
Content-Type:application/json

{{ "firstname":"Contact first name"}}

--{CHANGE_SET}
Content-Type:application/http
Content-Transfer-Encoding:binary
Content-ID:3

PUT $1/primarycontactid/$ref HTTP/1.1
Content-Type:application/json

{{"@odata.id":"$2"}}

"""
        ),
    )
    assert response.status_code == 200
    account, contact = _created(parts[0], "accounts"), _created(parts[1], "contacts")
    assert (parts[2].mime["content-id"], parts[2].status, parts[2].body) == ("3", 204, "")
    read = docs_api.get(f"accounts({account})?$select=_primarycontactid_value").json()
    assert read["_primarycontactid_value"] == contact


def test_reference_uris_in_url_and_navigation_properties(docs_api: WebApi) -> None:
    """ "Reference URIs in URL and navigation properties": ``PATCH $1`` binding ``primarycontactid`` to ``$2`` →
    204 whose ``Location``/``OData-EntityId`` name the account, as the page shows for an update in a batch."""
    response, parts = _send(
        docs_api,
        _change_set_request(
            f"""--{CHANGE_SET}
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

POST [Organization URI]/api/data/v9.2/accounts HTTP/1.1
Content-Type: application/json

{{ "name":"Account name"}}

--{CHANGE_SET}
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

POST [Organization URI]/api/data/v9.2/contacts HTTP/1.1
Content-Type: application/json

{{
  "firstname":"Contact first name"
}}

--{CHANGE_SET}
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 3

PATCH $1 HTTP/1.1
Content-Type: application/json

{{
  "primarycontactid@odata.bind":"$2"
}}

"""
        ),
    )
    assert response.status_code == 200
    account, contact = _created(parts[0], "accounts"), _created(parts[1], "contacts")
    assert _created(parts[2], "accounts") == account
    read = docs_api.get(f"accounts({account})?$select=_primarycontactid_value").json()
    assert read["_primarycontactid_value"] == contact


def test_a_content_id_referenced_before_it_is_declared_is_a_bad_request(docs_api: WebApi) -> None:
    """ "Reference URIs in an operation", the note: ``$1`` used before ``Content-ID: 1`` → 400 "Content-ID
    Reference: '$1' does not exist in the batch context."; nothing is created."""
    before = docs_api.get("phonecalls/$count").text
    response = docs_api.post(
        "$batch",
        content=b"""--batch_AAA123
Content-Type: multipart/mixed; boundary=changeset_BBB456

--changeset_BBB456
Content-Type: application/http
Content-Transfer-Encoding:binary
Content-ID: 2

POST https://sandbox.test/api/data/v9.2/phonecalls HTTP/1.1
Content-Type: application/json;type=entry

{
    "phonenumber":"911",
    "regardingobjectid_account_phonecall@odata.bind" : "$1"
}

--changeset_BBB456
Content-Type: application/http
Content-Transfer-Encoding:binary
Content-ID: 1

POST https://sandbox.test/api/data/v9.2/accounts HTTP/1.1
Content-Type: application/json;type=entry

{
    "name":"QQQQ",
    "revenue": 1.50
}

--changeset_BBB456--
--batch_AAA123--
""",
        headers={"Content-Type": "multipart/mixed;boundary=batch_AAA123"},
    )
    assert response.status_code == 400
    assert "Content-ID Reference: '$1' does not exist in the batch context." in response.text
    assert docs_api.get("phonecalls/$count").text == before


def _failing_batch(boundary: str) -> str:
    return (
        f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
        + "".join(_task_post(subject, boundary) for subject in [TOO_LONG, *SUBJECTS[1:]])
        + f"--{boundary}--\n"
    )


def _subject_too_long(part: Part) -> None:
    assert part.status == 400
    assert part.headers["content-type"].startswith("application/json; odata.metadata=minimal")
    assert part.headers["odata-version"] == "4.0"
    assert part.json() == {
        "error": {
            "code": "0x80044331",
            "message": "A validation error occurred.  The length of the 'subject' attribute of the 'task' entity "
            "exceeded the maximum allowed length of '200'.",
        }
    }


def test_handling_errors_stops_at_the_first_error(docs_api: WebApi) -> None:
    """ "Handling errors", "Example" without ``Prefer: odata.continue-on-error``: the batch is 400 and holds only
    the first request's error; the other tasks are not created."""
    response, parts = _send(docs_api, _failing_batch("batch_431faf5a-f979-4ee6-a374-d242f8962d41"))
    assert response.status_code == 400
    [part] = parts
    _subject_too_long(part)


def test_handling_errors_with_continue_on_error(docs_api: WebApi) -> None:
    """ "Handling errors", "Example" with ``Prefer: odata.continue-on-error``: 200, the error, then the two
    creates."""
    response, parts = _send(
        docs_api, _failing_batch("batch_662d4610-7f12-4895-ac4a-3fdf77cc10a1"), prefer="odata.continue-on-error"
    )
    assert response.status_code == 200
    assert len(parts) == 3
    _subject_too_long(parts[0])
    for part in parts[1:]:
        _created(part, "tasks")
