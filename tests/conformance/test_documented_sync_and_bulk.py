"""The change-tracking, upsert and bulk-operation examples of Microsoft's documentation, replayed.

Source: ``MicrosoftDocs/powerapps-docs``, ``powerapps-docs/developer/data-platform/`` —
``use-change-tracking-synchronize-data-external-systems.md``, ``use-upsert-insert-update-record.md`` ("Web API
sample code") and ``bulk-operations.md`` (section named in each test). Each test sends the documented request and
compares status, headers, keys (in the example's order where clients see it), annotations and types with the
documented response — not ids, ETag values, tokens or timestamps. The pages' custom tables (``example_record``
with two integer alternate-key columns, ``sample_example``) are created through the metadata API first.

One sandbox for the module (issue 17: the suite must stay fast).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.conformance.conftest import API, WebApi, open_api
from tests.conformance.documented import ok

from salesbridge.sandbox.assembly import build_sandbox

TRACK = {"Prefer": "odata.track-changes"}
DELTA_SELECT = "$select=name,accountnumber,telephone1,fax"


def _label(text: str) -> dict[str, Any]:
    return {"LocalizedLabels": [{"Label": text, "LanguageCode": 1033}]}


def _table(schema: str, attributes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
        "SchemaName": schema,
        "DisplayName": _label(schema),
        "DisplayCollectionName": _label(f"{schema}s"),
        "OwnershipType": "UserOwned",
        "HasNotes": False,
        "HasActivities": False,
        "Attributes": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                "SchemaName": f"{schema.split('_')[0]}_Name",
                "IsPrimaryName": True,
                "MaxLength": 100,
                "RequiredLevel": {"Value": "None"},
                "DisplayName": _label("Name"),
            },
            *attributes,
        ],
    }


def _integer(schema: str) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.IntegerAttributeMetadata",
        "SchemaName": schema,
        "RequiredLevel": {"Value": "None"},
        "DisplayName": _label(schema),
    }


@pytest.fixture(scope="module")
def docs_api(sandbox_signing_key: rsa.RSAPrivateKey) -> Iterator[WebApi]:
    with open_api(build_sandbox(signing_key=sandbox_signing_key)) as api:
        tables = (
            _table("example_Record", [_integer("example_Key1"), _integer("example_Key2")]),
            _table("sample_Example", []),
        )
        for table in tables:
            response = api.post("EntityDefinitions", json=table)
            assert response.status_code == 204, response.text
        key = {
            "SchemaName": "example_keys",
            "DisplayName": _label("Keys"),
            "KeyAttributes": ["example_key1", "example_key2"],
        }
        response = api.post("EntityDefinitions(LogicalName='example_record')/Keys", json=key)
        assert response.status_code == 204, response.text
        yield api


# --- use-change-tracking-synchronize-data-external-systems.md ---------------------------------------------------


def test_tables_with_change_tracking_enabled(docs_api: WebApi) -> None:
    """ "Enable change tracking for a table", the two ``EntityDefinitions`` queries: only the selected property
    (and ``MetadataId``) of the tables whose ``ChangeTrackingEnabled`` is true; account is one, and the second
    query leaves the custom tables out."""
    body = ok(docs_api.get("EntityDefinitions?$select=SchemaName&$filter=ChangeTrackingEnabled eq true"))
    assert body["@odata.context"] == f"{API}$metadata#EntityDefinitions(SchemaName)"
    assert {tuple(row) for row in body["value"]} == {("SchemaName", "MetadataId")}
    assert "Account" in {row["SchemaName"] for row in body["value"]}
    system = ok(
        docs_api.get(
            "EntityDefinitions?$filter=ChangeTrackingEnabled eq true and IsCustomEntity eq false&$select=LogicalName"
        )
    )
    names = {row["LogicalName"] for row in system["value"]}
    assert "account" in names
    assert not names & {"example_record", "sample_example"}


def test_the_csdl_annotates_the_entity_sets_with_change_tracking(docs_api: WebApi) -> None:
    """ "Enable change tracking for a table", 2: ``$metadata?annotations=true`` carries
    ``Org.OData.Capabilities.V1.ChangeTracking`` (``Supported`` true) on the entity sets of tracked tables."""
    response = docs_api.get("$metadata?annotations=true", headers={"Accept": "application/xml"})
    assert response.status_code == 200
    match = re.search(r'<EntitySet Name="accounts"[^>]*>(.*?)</EntitySet>', response.text, re.S)
    assert match, response.text[:500]
    assert re.sub(r"\s+", "", match.group(1)) == (
        '<AnnotationTerm="Org.OData.Capabilities.V1.ChangeTracking"><Record>'
        '<PropertyValueProperty="Supported"Bool="true"/></Record></Annotation>'
    )


def test_tables_not_eligible_for_change_tracking(docs_api: WebApi) -> None:
    """ "Tables not eligible for change tracking": a filter on the managed property's ``Value``; each row has the
    two selected properties, both false."""
    body = ok(
        docs_api.get(
            "EntityDefinitions?$select=SchemaName,ChangeTrackingEnabled"
            "&$filter=ChangeTrackingEnabled eq false and CanChangeTrackingBeEnabled/Value eq false"
        )
    )
    for row in body["value"]:
        assert list(row) == ["SchemaName", "ChangeTrackingEnabled", "MetadataId"]
        assert row["ChangeTrackingEnabled"] is False


def test_retrieve_changes_in_tables(docs_api: WebApi) -> None:
    """ "Retrieve changes in tables using Web API example": the initial request (``Preference-Applied``, the
    context, the ``@odata.deltaLink`` with the same ``$select``, rows keyed as shown), then the delta link after a
    create and a delete: a ``/$delta`` context, the new row, and the deleted one as a ``$deletedEntity`` with
    ``id`` and ``reason``; its ``$count`` form counts the two changes."""
    doomed = docs_api.create("accounts", {"name": "To be deleted"})
    docs_api.create("accounts", {"name": "Monte Orton", "telephone1": "555000", "fax": "10101"})
    response = docs_api.get(f"accounts?{DELTA_SELECT}", headers={**TRACK, "Content-Type": "application/json"})
    body = ok(response)
    assert response.headers["Preference-Applied"] == "odata.track-changes"
    assert list(body) == ["@odata.context", "@odata.deltaLink", "value"]
    assert body["@odata.context"] == f"{API}$metadata#accounts(name,accountnumber,telephone1,fax)"
    link = body["@odata.deltaLink"]
    assert link.startswith(f"{API}accounts?{DELTA_SELECT}&$deltatoken=")
    [monte] = [row for row in body["value"] if row["name"] == "Monte Orton"]
    assert list(monte) == ["@odata.etag", "name", "accountnumber", "telephone1", "fax", "accountid"]
    assert (monte["accountnumber"], monte["telephone1"], monte["fax"]) == (None, "555000", "10101")

    added = docs_api.create("accounts", {"name": "Added after", "telephone1": "555001", "fax": "10102"})
    assert docs_api.delete(f"accounts({doomed})").status_code == 204
    delta = ok(docs_api.get(link, headers={"Content-Type": "application/json"}))
    assert list(delta) == ["@odata.context", "@odata.deltaLink", "value"]
    assert delta["@odata.context"] == f"{API}$metadata#accounts(name,accountnumber,telephone1,fax)/$delta"
    assert "$deltatoken=" in delta["@odata.deltaLink"]
    changed, deleted = delta["value"]
    assert list(changed) == ["@odata.etag", "name", "accountnumber", "telephone1", "fax", "accountid"]
    assert changed["accountid"] == added
    assert deleted == {"@odata.context": f"{API}$metadata#accounts/$deletedEntity", "id": doomed, "reason": "deleted"}

    token = parse_qs(urlsplit(link).query)["$deltatoken"][0]
    count = docs_api.get(f"accounts/$count?$deltatoken={token}")
    assert count.status_code == 200
    assert count.text == "2"


@pytest.mark.parametrize("option", ["$filter=name ne null", "$orderby=name", "$expand=primarycontactid", "$top=1"])
def test_query_options_not_supported_in_change_tracking(docs_api: WebApi, option: str) -> None:
    """ "Query options not supported in Change Tracking Web API request": 400 naming the option."""
    response = docs_api.get(f"accounts?$select=name&{option}", headers=TRACK)
    assert response.status_code == 400
    name = option.split("=", 1)[0].lstrip("$")
    assert (
        response.json()["error"]["message"]
        == f'The "${name}" query parameter isn\'t supported when Change Tracking is enabled.'
    )


# --- use-upsert-insert-update-record.md, "Web API sample code" --------------------------------------------------

UPSERT_HEADERS = {"If-None-Match": "null", "Content-Type": "application/json"}


def test_create_and_update_with_upsert(docs_api: WebApi) -> None:
    """ "Create with upsert" and "Update with upsert": both 204 with the same ``OData-EntityId`` in the alternate
    key form of the request; one record, renamed."""
    url = "example_records(example_key1=2,example_key2=2)"
    for name in ("2:2", "2:2 Updated"):
        response = docs_api.patch(url, json={"example_name": name}, headers=UPSERT_HEADERS)
        assert response.status_code == 204, response.text
        assert response.headers["OData-Version"] == "4.0"
        assert response.headers["OData-EntityId"] == f"{API}{url}"
        assert response.content == b""
    rows = ok(docs_api.get("example_records?$select=example_name,example_key1,example_key2"))["value"]
    assert [(r["example_name"], r["example_key1"], r["example_key2"]) for r in rows] == [("2:2 Updated", 2, 2)]


def test_upsert_with_return_representation(docs_api: WebApi) -> None:
    """ "Create with upsert and return=representation preference" → 201 and "Update with Upsert and
    return=representation preference" → 200: the ``ETag`` header equal to the body's ``@odata.etag``, the context
    naming the selection, the keys in the example's order; the create also tells ``Preference-Applied``."""
    url = "example_records(example_key1=3,example_key2=3)?$select=example_recordid"
    headers = {**UPSERT_HEADERS, "Prefer": "return=representation"}
    ids = []
    for name, status in (("3:3", 201), ("3:3 Updated", 200)):
        response = docs_api.patch(url, json={"example_name": name}, headers=headers)
        body = ok(response, status)
        assert response.headers["Content-Type"].startswith("application/json; odata.metadata=minimal")
        assert response.headers["ETag"] == body["@odata.etag"]
        assert list(body) == ["@odata.context", "@odata.etag", "example_recordid"]
        assert body["@odata.context"] == f"{API}$metadata#example_records(example_recordid)/$entity"
        ids.append(body["example_recordid"])
        if status == 201:
            assert response.headers["Preference-Applied"] == "return=representation"
    assert ids[0] == ids[1]
    uuid.UUID(ids[0])


# --- bulk-operations.md ------------------------------------------------------------------------------------------


def test_create_multiple_and_update_multiple(docs_api: WebApi) -> None:
    """ "CreateMultiple" (Web API): 200 with the ``CreateMultipleResponse`` context and the ``Ids`` in order;
    "UpdateMultiple" with those ids (the page's ``?tag=`` parameter included) → 204 without a body."""
    targets = [
        {"sample_name": f"sample record 000000{n}", "@odata.type": "Microsoft.Dynamics.CRM.sample_example"}
        for n in (1, 2, 3)
    ]
    response = docs_api.post(
        "sample_examples/Microsoft.Dynamics.CRM.CreateMultiple",
        json={"Targets": targets},
        headers={"If-None-Match": "null", "Content-Type": "application/json; charset=utf-8"},
    )
    body = ok(response)
    assert list(body) == ["@odata.context", "Ids"]
    assert body["@odata.context"] == f"{API}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse"
    ids = body["Ids"]
    assert len(ids) == 3
    for n, record in enumerate(ids, start=1):
        read = docs_api.get(f"sample_examples({record})?$select=sample_name").json()
        assert read["sample_name"] == f"sample record 000000{n}"

    updates = [
        {
            "sample_name": f"sample record 000000{n} Updated",
            "@odata.type": "Microsoft.Dynamics.CRM.sample_example",
            "sample_exampleid": record,
        }
        for n, record in enumerate(ids, start=1)
    ]
    response = docs_api.post(
        "sample_examples/Microsoft.Dynamics.CRM.UpdateMultiple?tag=CreateUpdateMultiple",
        json={"Targets": updates},
        headers={"If-None-Match": "null", "Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 204, response.text
    assert response.headers["OData-Version"] == "4.0"
    assert response.content == b""
    names = [docs_api.get(f"sample_examples({r})?$select=sample_name").json()["sample_name"] for r in ids]
    assert names == [f"sample record 000000{n} Updated" for n in (1, 2, 3)]


def test_availability_with_standard_tables(docs_api: WebApi) -> None:
    """ "Availability with standard tables" (Web API): the ``sdkmessagefilters`` query with parameter aliases
    returns one filter for ``sample_example`` and ``CreateMultiple``, keyed as the example."""
    response = docs_api.get(
        "sdkmessagefilters?$select=sdkmessagefilterid"
        "&$filter=sdkmessageid/name eq @message and primaryobjecttypecode eq @table"
        "&@message='CreateMultiple'&@table='sample_example'",
        headers={"Content-Type": "application/json"},
    )
    body = ok(response)
    assert body["@odata.context"] == f"{API}$metadata#sdkmessagefilters(sdkmessagefilterid)"
    [row] = body["value"]
    assert list(row) == ["@odata.etag", "sdkmessagefilterid"]
    uuid.UUID(row["sdkmessagefilterid"])


def test_delete_multiple_on_a_standard_table(docs_api: WebApi) -> None:
    """ "DeleteMultiple availability": on a standard table the action fails with "DeleteMultiple has not yet been
    implemented." (the sandbox has no elastic tables, so this is the only DeleteMultiple it answers)."""
    record = docs_api.create("sample_examples", {"sample_name": "kept"})
    response = docs_api.post(
        "sample_examples/Microsoft.Dynamics.CRM.DeleteMultiple",
        json={"Targets": [{"@odata.type": "Microsoft.Dynamics.CRM.sample_example", "sample_exampleid": record}]},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"] == "DeleteMultiple has not yet been implemented."
    assert docs_api.get(f"sample_examples({record})?$select=sample_name").status_code == 200
