"""The update, delete and conditional-operation examples of Microsoft's Web API documentation, replayed.

Source: ``MicrosoftDocs/powerapps-docs``, ``powerapps-docs/developer/data-platform/webapi/`` —
``update-delete-entities-using-web-api.md`` and ``perform-conditional-operations-using-web-api.md`` (page and
section named in each test). Each test sends the documented request (the documents' account
``00000000-0000-0000-0000-000000000001`` is created by the test itself) and compares status, headers, keys,
annotations and types with the documented response — not ids, ETag values or timestamps.

One sandbox for the module (issue 17: the suite must stay fast); each test works on an account of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.conformance.conftest import API, WebApi, open_api

from salesbridge.sandbox.assembly import build_sandbox

SAMPLE_UPDATE = {
    "name": "Updated Sample Account ",
    "creditonhold": True,
    "address1_latitude": 47.639583,
    "description": "This is the updated description of the sample account",
    "revenue": 6000000,
    "accountcategorycode": 2,
}
STALE_ETAG = 'W/"470867"'
ROW_VERSION_MISMATCH = "The version of the existing record doesn't match the RowVersion property provided."


@pytest.fixture(scope="module")
def docs_api(sandbox_signing_key: rsa.RSAPrivateKey) -> Iterator[WebApi]:
    with open_api(build_sandbox(signing_key=sandbox_signing_key)) as api:
        yield api


#: The documents' sample account (the body of create-entity-web-api.md's "Basic Create").
SAMPLE_ACCOUNT = {
    "name": "Sample Account",
    "creditonhold": False,
    "address1_latitude": 47.639583,
    "description": "This is the description of the sample account",
    "revenue": 5000000,
    "accountcategorycode": 1,
}


#: The keys of the sample account returned with ``$select=name,creditonhold,address1_latitude,description,revenue,
#: accountcategorycode,createdon`` ("... with data returned"): the context, the ETag, the selected columns, the key
#: and the money column's currency lookup.
SAMPLE_REPRESENTATION = {
    "@odata.context",
    "@odata.etag",
    "accountid",
    "accountcategorycode",
    "description",
    "address1_latitude",
    "creditonhold",
    "name",
    "createdon",
    "revenue",
    "_transactioncurrencyid_value",
}


def _sample_account(api: WebApi) -> str:
    """The documents' sample account ("Create with data returned" of create-entity-web-api.md), a new id."""
    return api.create("accounts", SAMPLE_ACCOUNT)


def _no_content(response: Any) -> None:
    assert response.status_code == 204, response.text
    assert response.headers["OData-Version"] == "4.0"
    assert response.content == b""


def _error(response: Any, status: int, message: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["code"], str)
    if message is not None:
        assert error["message"] == message


# --- webapi/update-delete-entities-using-web-api.md --------------------------------------------------------------


def test_basic_update(docs_api: WebApi) -> None:
    """update-delete-entities-using-web-api.md, "Basic update": 204, no body; the columns hold the new values."""
    account = _sample_account(docs_api)
    _no_content(docs_api.patch(f"accounts({account})", json=SAMPLE_UPDATE, headers={"If-Match": "*"}))
    read = docs_api.get(f"accounts({account})?$select={','.join(SAMPLE_UPDATE)}").json()
    assert {key: read[key] for key in SAMPLE_UPDATE} == SAMPLE_UPDATE


def test_update_with_data_returned(docs_api: WebApi) -> None:
    """update-delete-entities-using-web-api.md, "Update with data returned": 200, ``Preference-Applied``, the
    selected columns with the key, the ETag and the money column's currency lookup, typed as the example."""
    account = _sample_account(docs_api)
    response = docs_api.patch(
        f"accounts({account})?$select=name,creditonhold,address1_latitude,description,revenue,"
        "accountcategorycode,createdon",
        json={"name": "Updated Sample Account"},
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Prefer": "return=representation",
            "If-Match": "*",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["Preference-Applied"] == "return=representation"
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["@odata.context"].startswith(f"{API}$metadata#accounts")
    assert body["@odata.context"].endswith("/$entity")
    assert set(body) == SAMPLE_REPRESENTATION
    assert body["accountid"] == account
    assert body["@odata.etag"].startswith('W/"')
    assert body["name"] == "Updated Sample Account"
    assert (body["accountcategorycode"], body["creditonhold"]) == (1, False)
    assert body["description"] == "This is the description of the sample account"
    assert isinstance(body["address1_latitude"], float)
    assert isinstance(body["revenue"], int | float)
    assert body["revenue"] == 5000000
    assert body["createdon"].endswith("Z")
    uuid.UUID(body["_transactioncurrencyid_value"])


def test_update_a_single_property_value(docs_api: WebApi) -> None:
    """update-delete-entities-using-web-api.md, "Update a single property value": ``PUT …/name`` → 204."""
    account = _sample_account(docs_api)
    _no_content(docs_api.request("PUT", f"accounts({account})/name", json={"value": "Updated Sample Account Name"}))
    assert docs_api.get(f"accounts({account})?$select=name").json()["name"] == "Updated Sample Account Name"


def test_delete_a_single_property_value(docs_api: WebApi) -> None:
    """update-delete-entities-using-web-api.md, "Delete a single property value": ``DELETE …/description`` →
    204, the column is null."""
    account = _sample_account(docs_api)
    _no_content(docs_api.delete(f"accounts({account})/description", headers={"Content-Type": "application/json"}))
    assert docs_api.get(f"accounts({account})?$select=description").json()["description"] is None


def test_basic_delete(docs_api: WebApi) -> None:
    """update-delete-entities-using-web-api.md, "Basic delete": 204; deleting again (the record is not found)
    → 404."""
    account = _sample_account(docs_api)
    _no_content(docs_api.delete(f"accounts({account})", headers={"Content-Type": "application/json"}))
    again = docs_api.delete(f"accounts({account})", headers={"Content-Type": "application/json"})
    assert again.status_code == 404
    assert again.headers["OData-Version"] == "4.0"


# --- webapi/perform-conditional-operations-using-web-api.md ------------------------------------------------------


def test_prevent_create_in_upsert(docs_api: WebApi) -> None:
    """perform-conditional-operations-using-web-api.md, "Prevent create in upsert": ``If-Match: *`` on a missing
    id → 404 (and nothing created); on an existing one → 204. The page (2022) shows the message
    "account With Id = … Does Not Exist"; Dataverse now says "Entity 'account' With Id = … Does Not Exist", as
    the sandbox does, so the message is compared from the table name on."""
    missing = str(uuid.uuid4())
    response = docs_api.patch(f"accounts({missing})", json=SAMPLE_UPDATE, headers={"If-Match": "*"})
    _error(response, 404, None)
    assert response.json()["error"]["message"].endswith(f"account' With Id = {missing} Does Not Exist")
    assert docs_api.get(f"accounts({missing})?$select=name").status_code == 404
    account = _sample_account(docs_api)
    _no_content(docs_api.patch(f"accounts({account})", json=SAMPLE_UPDATE, headers={"If-Match": "*"}))


def test_prevent_update_in_upsert(docs_api: WebApi) -> None:
    """perform-conditional-operations-using-web-api.md, "Prevent update in upsert": ``If-None-Match: *`` on an
    existing id → 412 with the documented message (and nothing changed); on a missing one → 204, created."""
    account = _sample_account(docs_api)
    _error(
        docs_api.patch(f"accounts({account})", json=SAMPLE_UPDATE, headers={"If-None-Match": "*"}),
        412,
        "A record with matching key values already exists.",
    )
    assert docs_api.get(f"accounts({account})?$select=name").json()["name"] == "Sample Account"
    missing = str(uuid.uuid4())
    _no_content(docs_api.patch(f"accounts({missing})", json=SAMPLE_UPDATE, headers={"If-None-Match": "*"}))
    assert docs_api.get(f"accounts({missing})?$select=name").json()["name"] == SAMPLE_UPDATE["name"]


def test_apply_optimistic_concurrency_on_delete(docs_api: WebApi) -> None:
    """perform-conditional-operations-using-web-api.md, "Apply optimistic concurrency on delete": a stale
    ``If-Match`` → 412 with the documented message; the current ETag → 204."""
    account = _sample_account(docs_api)
    _error(docs_api.delete(f"accounts({account})", headers={"If-Match": STALE_ETAG}), 412, ROW_VERSION_MISMATCH)
    etag = docs_api.get(f"accounts({account})?$select=name").json()["@odata.etag"]
    _no_content(docs_api.delete(f"accounts({account})", headers={"If-Match": etag}))


def test_apply_optimistic_concurrency_on_update(docs_api: WebApi) -> None:
    """perform-conditional-operations-using-web-api.md, "Apply optimistic concurrency on update": a stale
    ``If-Match`` → 412 with the documented message, nothing changed; the current ETag → 204."""
    account = _sample_account(docs_api)
    _error(
        docs_api.patch(f"accounts({account})", json={"name": "Updated Account Name"}, headers={"If-Match": STALE_ETAG}),
        412,
        ROW_VERSION_MISMATCH,
    )
    read = docs_api.get(f"accounts({account})?$select=name").json()
    assert read["name"] == "Sample Account"
    _no_content(
        docs_api.patch(
            f"accounts({account})", json={"name": "Updated Account Name"}, headers={"If-Match": read["@odata.etag"]}
        )
    )


def test_table_must_have_optimistic_concurrency_enabled(docs_api: WebApi) -> None:
    """perform-conditional-operations-using-web-api.md, "Table must have optimistic concurrency enabled": the
    definition's ``IsOptimisticConcurrencyEnabled`` (true for account)."""
    response = docs_api.get("EntityDefinitions(LogicalName='account')?$select=IsOptimisticConcurrencyEnabled")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"] == f"{API}$metadata#EntityDefinitions(IsOptimisticConcurrencyEnabled)/$entity"
    assert list(body) == ["@odata.context", "IsOptimisticConcurrencyEnabled", "MetadataId"]
    assert body["IsOptimisticConcurrencyEnabled"] is True
