"""$batch through the whole stack, and CreateMultiple / UpdateMultiple / UpsertMultiple
(execute-batch-operations-using-web-api.md, bulk-operations.md)."""

from __future__ import annotations

import re
import uuid

from tests.conformance.conftest import API, WebApi

CRLF = "\r\n"


def batch_body(boundary: str, parts: list[str]) -> bytes:
    text = "".join(f"--{boundary}{CRLF}{part}{CRLF}" for part in parts) + f"--{boundary}--{CRLF}"
    return text.encode()


def operation(method: str, url: str, body: str | None = None, content_id: str | None = None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    lines += ["", f"{method} {url} HTTP/1.1"]
    if body is not None:
        lines += ["Content-Type: application/json; type=entry", "", body]
    else:
        lines += ["", ""]
    return CRLF.join(lines)


def change_set(boundary: str, operations: list[str]) -> str:
    inner = batch_body(boundary, operations).decode()
    return f"Content-Type: multipart/mixed; boundary={boundary}{CRLF}{CRLF}{inner}"


def send_batch(api: WebApi, parts: list[str], *, continue_on_error: bool = False) -> tuple[int, str]:
    headers = {"Content-Type": "multipart/mixed; boundary=batch_1"}
    if continue_on_error:
        headers["Prefer"] = "odata.continue-on-error"
    response = api.post("$batch", content=batch_body("batch_1", parts), headers=headers)
    assert response.headers["Content-Type"].startswith("multipart/mixed; boundary=batchresponse_")
    return response.status_code, response.text


def statuses(text: str) -> list[int]:
    return [int(code) for code in re.findall(r"HTTP/1\.1 (\d{3})", text)]


def test_a_change_set_with_content_id_references_creates_everything(api: WebApi) -> None:
    parts = [
        change_set(
            "changeset_1",
            [
                operation("POST", "/api/data/v9.2/accounts", '{"name": "Batch account"}', "1"),
                operation(
                    "POST",
                    "/api/data/v9.2/tasks",
                    '{"subject": "Task 1 in batch", "regardingobjectid_account_task@odata.bind": "$1"}',
                    "2",
                ),
            ],
        ),
        operation("GET", f"{API}accounts?$select=name&$filter=name eq 'Batch account'"),
    ]
    status, text = send_batch(api, parts)
    assert status == 200
    assert statuses(text) == [204, 204, 200]
    assert "Batch account" in text
    tasks = api.get("tasks?$select=subject,_regardingobjectid_value").json()["value"]
    assert tasks[0]["_regardingobjectid_value"] is not None


def test_a_failing_change_set_rolls_back_and_stops_the_batch(api: WebApi) -> None:
    parts = [
        change_set(
            "changeset_1",
            [
                operation("POST", "accounts", '{"name": "Rolled back"}', "1"),
                operation("POST", "tasks", '{"subject": "' + "x" * 201 + '"}', "2"),
            ],
        ),
        operation("POST", "accounts", '{"name": "Never reached"}'),
    ]
    status, text = send_batch(api, parts)
    assert status == 400
    assert "0x80044331" in text
    names = {row["name"] for row in api.get("accounts?$select=name").json()["value"]}
    assert "Rolled back" not in names
    assert "Never reached" not in names


def test_continue_on_error_answers_200_with_every_part(api: WebApi) -> None:
    parts = [
        operation("POST", "accounts", '{"name": "First"}'),
        operation("POST", "tasks", '{"subject": "' + "x" * 201 + '"}'),
        operation("POST", "accounts", '{"name": "Third"}'),
    ]
    status, text = send_batch(api, parts, continue_on_error=True)
    assert status == 200
    assert statuses(text) == [204, 400, 204]
    names = {row["name"] for row in api.get("accounts?$select=name").json()["value"]}
    assert {"First", "Third"} <= names


def test_more_than_1000_operations_are_refused(api: WebApi) -> None:
    parts = [operation("GET", "WhoAmI")] * 1001
    response = api.post(
        "$batch", content=batch_body("batch_1", parts), headers={"Content-Type": "multipart/mixed; boundary=batch_1"}
    )
    assert response.status_code == 400


def test_create_multiple_returns_the_ids(api: WebApi) -> None:
    targets = [{"@odata.type": "Microsoft.Dynamics.CRM.account", "name": f"Bulk {i}"} for i in range(3)]
    response = api.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets})
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"] == f"{API}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse"
    assert len(body["Ids"]) == 3
    assert api.get(f"accounts({body['Ids'][0]})?$select=name").json()["name"] == "Bulk 0"


def test_bulk_targets_need_odata_type(api: WebApi) -> None:
    response = api.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": [{"name": "x"}]})
    assert response.status_code == 400


def test_bulk_is_atomic(api: WebApi) -> None:
    targets = [
        {"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "Good"},
        {"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "x" * 500},
    ]
    response = api.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets})
    assert response.status_code == 400
    assert api.get("accounts?$select=name&$filter=name eq 'Good'").json()["value"] == []


def test_update_multiple(api: WebApi) -> None:
    record = api.create("accounts", {"name": "Before"})
    targets = [{"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": record, "name": "After"}]
    assert api.post("accounts/Microsoft.Dynamics.CRM.UpdateMultiple", json={"Targets": targets}).status_code == 204
    assert api.get(f"accounts({record})?$select=name").json()["name"] == "After"


def test_upsert_multiple_by_primary_key_creates_and_updates(api: WebApi) -> None:
    existing = api.create("contacts", {"lastname": "Existing"})
    fresh = str(uuid.uuid4())
    targets = [
        {"@odata.type": "Microsoft.Dynamics.CRM.contact", "@odata.id": f"contacts({existing})", "lastname": "Updated"},
        {"@odata.type": "Microsoft.Dynamics.CRM.contact", "@odata.id": f"contacts({fresh})", "lastname": "Created"},
    ]
    response = api.post("contacts/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": targets})
    # "The UpsertMultiple action returns 204 NoContent" (webapi/reference/upsertmultiple).
    assert (response.status_code, response.content) == (204, b""), response.text
    assert api.get(f"contacts({existing})?$select=lastname").json()["lastname"] == "Updated"
    assert api.get(f"contacts({fresh})?$select=lastname").json()["lastname"] == "Created"


def test_upsert_multiple_by_alternate_key_takes_the_key_from_odata_id_only(api: WebApi) -> None:
    """The key's columns in the body are ignored on the update path and refused on the create path: observed
    on Dataverse by Microsoft's Python SDK team (microsoft/PowerPlatform-DataverseClient-Python#127, "400 ...
    0x80040216 An unexpected error occurred." when creating), and use-upsert-insert-update-record.md for updates.
    """
    key = {"SchemaName": "sb_accountnumber", "KeyAttributes": ["accountnumber"]}
    assert api.post("EntityDefinitions(LogicalName='account')/Keys", json=key).status_code == 204
    existing = api.create("accounts", {"name": "Existing", "accountnumber": "UM-1"})
    action = "accounts/Microsoft.Dynamics.CRM.UpsertMultiple"
    target = {"@odata.type": "Microsoft.Dynamics.CRM.account", "@odata.id": "accounts(accountnumber='UM-1')"}

    updated = api.post(action, json={"Targets": [{**target, "name": "Updated", "accountnumber": "UM-changed"}]})
    assert updated.status_code == 204, updated.text
    assert api.get(f"accounts({existing})?$select=name,accountnumber").json()["accountnumber"] == "UM-1"

    fresh = {"@odata.type": "Microsoft.Dynamics.CRM.account", "@odata.id": "accounts(accountnumber='UM-2')"}
    refused = api.post(action, json={"Targets": [{**fresh, "name": "New", "accountnumber": "UM-2"}]})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "0x80040216"
    assert api.get("accounts?$select=name&$filter=accountnumber eq 'UM-2'").json()["value"] == []
    created = api.post(action, json={"Targets": [{**fresh, "name": "New"}]})
    assert created.status_code == 204, created.text
    assert api.get("accounts(accountnumber='UM-2')?$select=name").json()["name"] == "New"


def test_unsupported_table_answers_and_the_probe_agrees(api: WebApi) -> None:
    targets = [{"@odata.type": "Microsoft.Dynamics.CRM.task", "subject": "x"}]
    assert api.post("tasks/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets}).status_code == 400
    probe = (
        "sdkmessagefilters?$select=sdkmessagefilterid"
        "&$filter=sdkmessageid/name eq @message and primaryobjecttypecode eq @table"
    )
    assert api.get(f"{probe}&@message='CreateMultiple'&@table='task'").json()["value"] == []
    assert len(api.get(f"{probe}&@message='CreateMultiple'&@table='account'").json()["value"]) == 1
