"""What activity writeback relies on, as Dataverse does it: writes under impersonation on the bulk and the ``$batch``
paths, activity parties in upsert bodies, the record's activity list, note upserts, and the privileges involved.

Sources (``MicrosoftDocs/powerapps-docs``, ``powerapps-docs/developer/data-platform/``):
``webapi/compose-http-requests-handle-errors.md`` (``MSCRMCallerID`` / ``CallerObjectId``: the request runs as that
user; the application user needs ``prvActOnBehalfOfAnotherUser``; ``createdonbehalfby`` names it),
``activityparty-entity.md`` (participation types; a party list column holds the parties of one type),
``webapi/associate-disassociate-entities-using-web-api.md`` (``<activity>_activity_parties``),
``activitypointer-activity-entity.md`` (every activity in ``activitypointers``), ``webapi/reference/upsertmultiple``
and ``use-upsert-insert-update-record.md`` (PATCH by id is an upsert), ``security-access-rights.md`` (setting
``ownerid`` takes Assign, not Append To).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson
from tests.conformance.conftest import WebApi
from tests.conformance.test_security import make_user

from salesbridge.crm.dynamics.app_installer import column_body, key_body, relationship_body, table_body
from salesbridge.domain.crm_app import CRM_APP, ColumnKind
from salesbridge.sandbox.assembly import Sandbox
from salesbridge.sandbox.organization.foundation import SYSTEM_ADMINISTRATOR_ROLE_ID
from salesbridge.sandbox.organization.security import Depth

CRLF = "\r\n"


def install_app(api: WebApi) -> None:
    """The CRM-side app, created with the bodies salesbridge's installer sends."""
    for table in CRM_APP.tables:
        assert api.post("EntityDefinitions", json=table_body(table, CRM_APP.version)).status_code == 204
        path = f"EntityDefinitions(LogicalName='{table.logical_name}')"
        for column in table.columns:
            if column.kind is ColumnKind.LOOKUP:
                response = api.post("RelationshipDefinitions", json=relationship_body(table, column))
            else:
                response = api.post(f"{path}/Attributes", json=column_body(column))
            assert response.status_code in (200, 204), response.text
        for key in table.keys:
            assert api.post(f"{path}/Keys", json=key_body(key)).status_code in (200, 204)


def inmail(record_id: str, seller: str, contact: str, *, subject: str, to: str | None = None) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.sbr_inmail",
        "@odata.id": f"sbr_inmails({record_id})",
        "subject": subject,
        "sbr_body": "Hello",
        "sbr_externalid": f"ext-{record_id}",
        "ownerid_sbr_inmail@odata.bind": f"/systemusers({seller})",
        "sbr_SellerId@odata.bind": f"/systemusers({seller})",
        "regardingobjectid_contact_sbr_inmail@odata.bind": f"/contacts({contact})",
        "sbr_inmail_activity_parties": [
            {"partyid_systemuser@odata.bind": f"/systemusers({seller})", "participationtypemask": 1},
            {"partyid_contact@odata.bind": f"/contacts({to or contact})", "participationtypemask": 2},
        ],
    }


def parties(api: WebApi, activity: str) -> set[tuple[int, str]]:
    rows = api.get(
        f"activityparties?$select=participationtypemask,_partyid_value&$filter=_activityid_value eq {activity}"
    ).json()["value"]
    return {(row["participationtypemask"], row["_partyid_value"]) for row in rows}


def caller(seller: str) -> dict[str, str]:
    return {"MSCRMCallerID": seller}


def part(method: str, url: str, body: dict[str, Any], headers: dict[str, str]) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary", "", f"{method} {url} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += ["Content-Type: application/json; type=entry", "", orjson.dumps(body).decode()]
    return CRLF.join(lines)


def send_batch(api: WebApi, parts: list[str]) -> tuple[int, list[int]]:
    body = "".join(f"--b1{CRLF}{p}{CRLF}" for p in parts) + f"--b1--{CRLF}"
    response = api.post(
        "$batch",
        content=body.encode(),
        headers={"Content-Type": "multipart/mixed; boundary=b1", "Prefer": "odata.continue-on-error"},
    )
    return response.status_code, [int(code) for code in re.findall(r"HTTP/1\.1 (\d{3})", response.text)]


def test_upsert_multiple_as_a_seller_records_the_seller_as_creator_and_owner_with_parties_and_pointer(
    api: WebApi, sandbox: Sandbox
) -> None:
    install_app(api)
    seller = make_user(sandbox, "Seller")
    contact = api.create("contacts", {"lastname": "Lee"})
    record = str(uuid.uuid4())

    response = api.post(
        "sbr_inmails/Microsoft.Dynamics.CRM.UpsertMultiple",
        json={"Targets": [inmail(record, seller, contact, subject="Hi")]},
        headers=caller(seller),
    )

    assert response.status_code in (200, 204), response.text
    row = api.get(
        f"sbr_inmails({record})?$select=_createdby_value,_createdonbehalfby_value,_ownerid_value,_sbr_sellerid_value"
    ).json()
    assert row["_createdby_value"] == seller
    assert row["_ownerid_value"] == seller
    assert row["_sbr_sellerid_value"] == seller
    assert row["_createdonbehalfby_value"] == sandbox.application.systemuser_id
    assert parties(api, record) == {(1, seller), (2, contact)}
    pointers = api.get(
        "activitypointers?$select=activityid,activitytypecode,_createdby_value"
        f"&$filter=_regardingobjectid_value eq {contact}"
    ).json()["value"]
    assert [(p["activityid"], p["activitytypecode"], p["_createdby_value"]) for p in pointers] == [
        (record, "sbr_inmail", seller)
    ]


def test_upserting_again_replaces_the_parties_of_the_types_it_sends_and_keeps_the_others(
    api: WebApi, sandbox: Sandbox
) -> None:
    install_app(api)
    seller = make_user(sandbox, "Seller")
    first, second, copied = (api.create("contacts", {"lastname": name}) for name in ("Lee", "Kim", "Cc"))
    record = str(uuid.uuid4())
    target = inmail(record, seller, first, subject="Hi")
    target["sbr_inmail_activity_parties"].append(
        {"partyid_contact@odata.bind": f"/contacts({copied})", "participationtypemask": 3}
    )
    action = "sbr_inmails/Microsoft.Dynamics.CRM.UpsertMultiple"
    assert api.post(action, json={"Targets": [target]}, headers=caller(seller)).status_code in (200, 204)

    for _ in range(2):  # the same delivery twice: the parties are not doubled
        again = inmail(record, seller, first, subject="Edited", to=second)
        assert api.post(action, json={"Targets": [again]}, headers=caller(seller)).status_code in (200, 204)

    assert parties(api, record) == {(1, seller), (2, second), (3, copied)}
    assert api.get(f"sbr_inmails({record})?$select=subject").json()["subject"] == "Edited"


def test_batch_parts_run_as_the_seller_each_names_and_patch_upserts_notes_and_calls(
    api: WebApi, sandbox: Sandbox
) -> None:
    ann, bob = make_user(sandbox, "Ann"), make_user(sandbox, "Bob")
    contact = api.create("contacts", {"lastname": "Lee"})
    note, call = str(uuid.uuid4()), str(uuid.uuid4())

    def note_body(text: str) -> dict[str, Any]:
        return {
            "subject": "Met",
            "notetext": text,
            "ownerid@odata.bind": f"/systemusers({ann})",
            "objectid_contact@odata.bind": f"/contacts({contact})",
        }

    call_body = {
        "subject": "Called",
        "description": "Talked",
        "directioncode": True,
        "ownerid@odata.bind": f"/systemusers({bob})",
        "regardingobjectid_contact_phonecall@odata.bind": f"/contacts({contact})",
        "phonecall_activity_parties": [
            {"partyid_systemuser@odata.bind": f"/systemusers({bob})", "participationtypemask": 1},
            {"partyid_contact@odata.bind": f"/contacts({contact})", "participationtypemask": 2},
        ],
    }
    status, codes = send_batch(
        api,
        [
            part("PATCH", f"annotations({note})", note_body("First"), caller(ann)),
            part("PATCH", f"phonecalls({call})", call_body, caller(bob)),
        ],
    )
    assert (status, codes) == (200, [204, 204])
    status, codes = send_batch(api, [part("PATCH", f"annotations({note})", note_body("Second"), caller(ann))])
    assert (status, codes) == (200, [204])

    app_user = sandbox.application.systemuser_id
    written = api.get(
        f"annotations?$select=notetext,_createdby_value,_createdonbehalfby_value&$filter=_objectid_value eq {contact}"
    ).json()["value"]
    assert [(n["notetext"], n["_createdby_value"], n["_createdonbehalfby_value"]) for n in written] == [
        ("Second", ann, app_user)
    ]
    row = api.get(f"phonecalls({call})?$select=_createdby_value,_createdonbehalfby_value,_ownerid_value").json()
    assert (row["_createdby_value"], row["_ownerid_value"], row["_createdonbehalfby_value"]) == (bob, bob, app_user)
    assert parties(api, call) == {(1, bob), (2, contact)}


def test_a_notes_object_type_names_the_table_it_is_attached_to(api: WebApi) -> None:
    """annotation-note-entity.md: objecttypecode is the table of objectid; Dataverse sets it (found by QA: the
    sandbox left it null, so a view of the notes on contacts found none of the written-back notes)."""
    contact = api.create("contacts", {"lastname": "Lee"})
    account = api.create("accounts", {"name": "Lee Ltd"})
    note = str(uuid.uuid4())
    body = {"subject": "Met", "notetext": "Hello", "objectid_contact@odata.bind": f"/contacts({contact})"}
    assert api.patch(f"annotations({note})", json=body).status_code == 204
    on_contacts = api.get("annotations?$select=annotationid&$filter=objecttypecode eq 'contact'").json()["value"]
    assert note in [row["annotationid"] for row in on_contacts]
    moved = {"objectid_account@odata.bind": f"/accounts({account})"}
    assert api.patch(f"annotations({note})", json=moved).status_code == 204
    assert api.get(f"annotations({note})?$select=objecttypecode").json()["objecttypecode"] == "account"


def test_impersonation_without_act_on_behalf_is_refused_in_bulk_calls_and_batch_parts(
    api: WebApi, sandbox: Sandbox
) -> None:
    install_app(api)
    seller = make_user(sandbox, "Seller")
    contact = api.create("contacts", {"lastname": "Lee"})
    sandbox.services.state.security.revoke(SYSTEM_ADMINISTRATOR_ROLE_ID, ["prvActOnBehalfOfAnotherUser"])
    record = str(uuid.uuid4())

    bulk = api.post(
        "sbr_inmails/Microsoft.Dynamics.CRM.UpsertMultiple",
        json={"Targets": [inmail(record, seller, contact, subject="Hi")]},
        headers=caller(seller),
    )
    status, codes = send_batch(
        api, [part("PATCH", f"annotations({record})", {"subject": "x", "notetext": "y"}, caller(seller))]
    )

    assert bulk.status_code == 403
    assert bulk.json()["error"]["code"] == "0x80040220"
    assert "prvActOnBehalfOfAnotherUser" in bulk.json()["error"]["message"]
    assert (status, codes) == (200, [403])
    assert api.get(f"sbr_inmails({record})").status_code == 404
    assert api.get(f"annotations({record})").status_code == 404


def test_owning_a_record_takes_assign_not_append_to_user(api: WebApi, sandbox: Sandbox) -> None:
    state = sandbox.services.state
    activity = state.catalogue.entity("task")
    role = str(uuid.uuid4())
    with state.storage.transaction():
        state.storage.insert("role", {"roleid": role, "name": "Activities only"})
        state.security.grant(role, {f"prv{verb}Activity": Depth.GLOBAL for verb in ("Create", "Read", "Write")})
    seller = make_user(sandbox, "Seller", role=role)
    other = make_user(sandbox, "Other")
    assert activity.is_activity

    own = api.post(
        "tasks", json={"subject": "Mine", "ownerid@odata.bind": f"/systemusers({seller})"}, headers=caller(seller)
    )
    theirs = api.post(
        "tasks", json={"subject": "Theirs", "ownerid@odata.bind": f"/systemusers({other})"}, headers=caller(seller)
    )

    assert own.status_code == 204, own.text
    assert theirs.status_code == 403
    assert "prvAssignActivity" in theirs.json()["error"]["message"]


def test_activity_parties_take_the_activity_privileges_and_have_none_of_their_own(
    api: WebApi, sandbox: Sandbox
) -> None:
    state = sandbox.services.state
    role = str(uuid.uuid4())
    with state.storage.transaction():
        state.storage.insert("role", {"roleid": role, "name": "Calls only"})
        grants = {f"prv{verb}Activity": Depth.BASIC for verb in ("Create", "Read", "Write", "Append")}
        state.security.grant(role, {**grants, "prvReadContact": Depth.GLOBAL, "prvAppendToContact": Depth.GLOBAL})
    seller = make_user(sandbox, "Seller", role=role)
    contact = api.create("contacts", {"lastname": "Lee"})
    call = {
        "subject": "Called",
        "phonecall_activity_parties": [
            {"partyid_contact@odata.bind": f"/contacts({contact})", "participationtypemask": 2}
        ],
    }

    response = api.post("phonecalls", json=call, headers=caller(seller))

    assert response.status_code == 204, response.text
    names = {row["name"] for row in api.get("privileges?$select=name").json()["value"]}
    assert "prvCreateActivity" in names
    assert not {name for name in names if "ActivityParty" in name}


def test_max_length_counts_utf16_code_units_an_emoji_twice(api: WebApi) -> None:
    """A column's MaxLength is in UTF-16 code units (.NET's String.Length, SQL Server's nvarchar): a phone call's
    200-character subject holds 100 emoji, not 101 (found by QA: the sandbox counted code points)."""
    contact = api.create("contacts", {"lastname": "Lee"})
    fits = {"subject": "😀" * 100, "regardingobjectid_contact_phonecall@odata.bind": f"/contacts({contact})"}
    assert api.patch(f"phonecalls({uuid.uuid4()})", json=fits).status_code == 204
    refused = api.patch(f"phonecalls({uuid.uuid4()})", json={**fits, "subject": "😀" * 101})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "0x80044331"
