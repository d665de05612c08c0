"""The ``$batch`` builder and parser (salesbridge.crm.dynamics.batch).

Expected request bodies follow Microsoft's examples in ``webapi/execute-batch-operations-using-web-api.md``;
the response bodies in ``cases/`` are copied from the same page. The sandbox's own batch parser (written
independently from the same page) must accept what the builder writes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from salesbridge.crm.dynamics.batch import (
    MAX_OPERATIONS,
    BatchOperation,
    ChangeSet,
    ChangeSetResult,
    OperationResult,
    build_batch,
    match_outcomes,
    parse_batch_response,
)
from salesbridge.errors import RequestRejectedError, UnexpectedResponseError
from salesbridge.sandbox.odata.batch import BatchPart
from salesbridge.sandbox.odata.batch import ChangeSet as SandboxChangeSet
from salesbridge.sandbox.odata.batch import parse_batch as sandbox_parse_batch

CASES = Path(__file__).parent / "cases"
ACCOUNT = "00000000-0000-0000-0000-000000000001"
BOUNDARIES = {
    "batch": "batch_22975cad-7f57-410d-be15-6363209367ea",
    "changeset": "changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a",
}


def task(subject: str) -> BatchOperation:
    return BatchOperation(
        "POST", "tasks", {"subject": subject, "regardingobjectid_account_task@odata.bind": f"accounts({ACCOUNT})"}
    )


def read_case(name: str, *, crlf: bool = False) -> bytes:
    text = (CASES / name).read_text(encoding="utf-8")
    return (text.replace("\n", "\r\n") if crlf else text).encode("utf-8")


def boundary_of(name: str) -> str:
    return (CASES / name).read_text(encoding="utf-8").split("\n", 1)[0][2:]


def test_the_change_set_example_is_written_as_microsoft_documents_it() -> None:
    items = [
        ChangeSet((task("Task 1 in batch"), task("Task 2 in batch"), task("Task 3 in batch"))),
        BatchOperation("GET", f"accounts({ACCOUNT})/Account_Tasks?$select=subject"),
    ]

    payload = build_batch(items, new_boundary=BOUNDARIES.__getitem__)

    def member(content_id: int) -> list[str]:
        return [
            f"--{BOUNDARIES['changeset']}",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            f"Content-ID: {content_id}",
            "",
            "POST /api/data/v9.2/tasks HTTP/1.1",
            "Content-Type: application/json; type=entry",
            "",
            f'{{"subject":"Task {content_id} in batch",'
            f'"regardingobjectid_account_task@odata.bind":"accounts({ACCOUNT})"}}',
        ]

    expected = [
        f"--{BOUNDARIES['batch']}",
        f"Content-Type: multipart/mixed; boundary={BOUNDARIES['changeset']}",
        "",
        *member(1),
        *member(2),
        *member(3),
        f"--{BOUNDARIES['changeset']}--",
        "",
        f"--{BOUNDARIES['batch']}",
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "",
        f"GET /api/data/v9.2/accounts({ACCOUNT})/Account_Tasks?$select=subject HTTP/1.1",
        "",
        "",
        f"--{BOUNDARIES['batch']}--",
        "",
    ]
    assert payload.body.decode() == "\r\n".join(expected)
    assert payload.content_type == f"multipart/mixed; boundary={BOUNDARIES['batch']}"
    assert [op.content_id for op in payload.operations] == ["1", "2", "3", None]


def test_the_sandbox_parser_reads_what_the_builder_writes() -> None:
    items = [
        ChangeSet((task("One"), BatchOperation("PATCH", "$1", {"description": "x"}, {"If-Match": "*"}))),
        BatchOperation("GET", "contacts?$select=fullname&$filter=lastname eq 'O''Brian'"),
        BatchOperation("DELETE", f"accounts({ACCOUNT})"),
    ]
    payload = build_batch(items)

    parsed = sandbox_parse_batch(payload.content_type, payload.body, api_root="/api/data/v9.2/")

    change_set, read, delete = parsed
    assert isinstance(change_set, SandboxChangeSet)
    assert [(p.request.method, p.content_id, p.reference) for p in change_set.parts] == [
        ("POST", "1", None),
        ("PATCH", "2", "1"),
    ]
    assert change_set.parts[1].request.headers.get("If-Match") == "*"
    assert isinstance(read, BatchPart)
    assert read.request.path == "contacts"
    assert "lastname%20eq%20'O''Brian'" in read.request.raw_query
    assert isinstance(delete, BatchPart)
    assert delete.request.method == "DELETE"


@pytest.mark.parametrize("crlf", [pytest.param(False, id="LF-as-published"), pytest.param(True, id="CRLF")])
def test_parses_the_response_without_change_sets(crlf: bool) -> None:
    name = "batch_response_without_change_sets.http"

    results = parse_batch_response(f"multipart/mixed; boundary={boundary_of(name)}", read_case(name, crlf=crlf))

    assert all(isinstance(result, OperationResult) for result in results)
    creates, read = results[:3], results[3]
    assert isinstance(read, OperationResult)
    assert [r.status for r in creates if isinstance(r, OperationResult)] == [204, 204, 204]
    assert [r.entity_id for r in creates if isinstance(r, OperationResult)] == [
        "d31ba648-c592-ed11-aad1-000d3a993550",
        "d41ba648-c592-ed11-aad1-000d3a993550",
        "d51ba648-c592-ed11-aad1-000d3a993550",
    ]
    assert read.status == 200
    assert read.body is not None
    assert [row["subject"] for row in read.body["value"]] == ["Task 1 in batch", "Task 2 in batch", "Task 3 in batch"]
    assert read.error is None


def test_parses_the_change_set_response_and_matches_it_to_the_request() -> None:
    name = "batch_response_with_change_set.http"
    items = [ChangeSet((task("1"), task("2"), task("3"))), BatchOperation("GET", "tasks")]

    results = parse_batch_response("multipart/mixed", read_case(name, crlf=True))  # boundary read from the body
    outcomes = match_outcomes(build_batch(items).items, results)

    change_set = results[0]
    assert isinstance(change_set, ChangeSetResult)
    assert [r.content_id for r in change_set.results] == ["1", "2", "3"]
    assert [o.is_done for o in outcomes] == [True, True, True, True]
    assert outcomes[2].result is not None
    assert outcomes[2].result.entity_id == "e93ffc82-e292-ed11-aad1-000d3a9933c9"


def test_a_stopped_batch_reports_the_failure_and_the_operations_never_run() -> None:
    name = "batch_response_stopped_at_error.http"
    items = [task("x" * 201), task("Task 2 in batch"), task("Task 3 in batch")]

    results = parse_batch_response(f"multipart/mixed; boundary={boundary_of(name)}", read_case(name))
    outcomes = match_outcomes(items, results)

    failed = outcomes[0]
    assert isinstance(failed.error, RequestRejectedError)
    assert failed.error.code == "0x80044331"
    assert failed.error.request_id == "5ecd1cb3-1730-4ffc-909c-d44c22270026"
    assert "maximum allowed length of '200'" in failed.error.message
    assert [(o.was_run, o.is_done) for o in outcomes] == [(True, False), (False, False), (False, False)]


def test_continue_on_error_reports_every_operation() -> None:
    name = "batch_response_continue_on_error.http"
    items = [task("x" * 201), task("Task 2 in batch"), task("Task 3 in batch")]

    outcomes = match_outcomes(
        items, parse_batch_response(f'multipart/mixed; boundary="{boundary_of(name)}"', read_case(name))
    )

    assert [o.is_done for o in outcomes] == [False, True, True]
    assert outcomes[0].error is not None
    assert outcomes[0].error.request_id == "de4c5227-4a28-4ebd-8ced-3392ece1697b"


def test_a_rolled_back_change_set_fails_every_member_with_the_cause() -> None:
    response = (
        "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n"
        "--changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        "Content-ID: 2\r\n\r\nHTTP/1.1 412 Precondition Failed\r\nContent-Type: application/json\r\n\r\n"
        '{"error":{"code":"0x80040237","message":"A record with matching key values already exists."}}\r\n'
        "--changesetresponse_2--\r\n--batchresponse_1--\r\n"
    )
    payload = build_batch([ChangeSet((task("a"), task("b"), task("c")))])

    outcomes = match_outcomes(
        payload.items, parse_batch_response("multipart/mixed; boundary=batchresponse_1", response.encode())
    )

    assert [o.result is not None for o in outcomes] == [False, True, False]
    assert all(o.error is outcomes[1].error for o in outcomes)
    assert not any(o.is_done for o in outcomes)


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        pytest.param([], "at least one", id="empty"),
        pytest.param([ChangeSet(())], "at least one", id="empty-change-set"),
        pytest.param([BatchOperation("GET", "tasks")] * (MAX_OPERATIONS + 1), "at most 1000", id="1001-operations"),
        pytest.param([ChangeSet((BatchOperation("GET", "tasks"),))], "GET is not allowed", id="get-in-change-set"),
        pytest.param([ChangeSet((BatchOperation("PATCH", "$1", {}),))], "not declared", id="forward-reference"),
        pytest.param([BatchOperation("PATCH", "$1", {})], "not declared", id="reference-outside-change-set"),
        pytest.param(
            [
                ChangeSet(
                    (BatchOperation("POST", "a", {}, content_id="1"), BatchOperation("POST", "b", {}, content_id="1"))
                )
            ],
            "used twice",
            id="duplicate-content-id",
        ),
    ],
)
def test_malformed_batches_are_refused_before_sending(items: list[BatchOperation | ChangeSet], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        build_batch(items)


def test_exactly_1000_operations_fit() -> None:
    payload = build_batch([ChangeSet(tuple(task(str(n)) for n in range(MAX_OPERATIONS)))])

    assert len(payload.operations) == MAX_OPERATIONS
    assert payload.operations[-1].content_id == "1000"


def test_a_body_that_is_not_multipart_is_unexpected() -> None:
    with pytest.raises(UnexpectedResponseError):
        parse_batch_response("application/json", b'{"error": {}}')
