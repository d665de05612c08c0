"""Bulk actions: CreateMultiple, UpdateMultiple, UpsertMultiple — atomic, on tables configured for them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from salesbridge.sandbox.catalogue.definitions import BULK_MESSAGES, EntityDef
from salesbridge.sandbox.errors import DataverseError, bad_request, payload_error, resource_not_found
from salesbridge.sandbox.odata.messages import ApiRequest, ApiResponse
from salesbridge.sandbox.odata.paths import parse_entity_reference, parse_guid, parse_key
from salesbridge.sandbox.webapi.records import (
    Caller,
    RecordWriter,
    alternate_key_columns,
    find_record_id,
    key_values_for_create,
)

if TYPE_CHECKING:
    from salesbridge.sandbox.webapi.context import RequestContext


def handle_bulk_action(
    engine: RequestContext, request: ApiRequest, caller: Caller, entity: EntityDef, action: str
) -> ApiResponse:
    """POST ``<set>/Microsoft.Dynamics.CRM.<action>``. All targets are written in one transaction.

    Raises:
        DataverseError: 404 for an unknown action; 400 for DeleteMultiple (standard tables only here); 400
            when the table lacks the message's sdkmessagefilter,
            when a target lacks ``@odata.type`` or names another table; 400 ``0x80040216`` when an
            UpsertMultiple target that creates a record repeats its alternate key's columns in the body (an
            existing record ignores them instead); any write error of a target (the whole call is rolled back by
            the caller's transaction).
    """
    if action == "DeleteMultiple":
        # bulk-operations.md, "DeleteMultiple availability": only elastic tables have it (the sandbox has none);
        # on a standard table "you get the error: DeleteMultiple has not yet been implemented." The page gives
        # the message only: status and code are those of the sandbox's other refused messages.
        raise DataverseError(400, "0x80040265", "DeleteMultiple has not yet been implemented.")
    if action not in BULK_MESSAGES:
        raise resource_not_found(f"Microsoft.Dynamics.CRM.{action}")
    if action not in entity.bulk_messages:
        raise DataverseError(
            400,
            "0x80040265",
            f"The '{action}' method does not support entities of type '{entity.logical_name}'. "
            f"MessageProcessorCache returned MessageProcessor.Empty.",
        )
    try:
        body = request.json()
    except ValueError:
        raise payload_error(entity.entity_set_name, "The request body is not valid JSON.") from None
    targets = body.get("Targets") if isinstance(body, dict) else None
    if not isinstance(targets, list):
        raise bad_request("The 'Targets' parameter is required.")
    expected = f"Microsoft.Dynamics.CRM.{entity.logical_name}"
    writer = RecordWriter(engine.state, caller, engine.api_url(request))
    ids: list[str] = []
    for target in targets:
        if not isinstance(target, dict):
            raise bad_request("Each target must be a JSON object.")
        odata_type = str(target.get("@odata.type", "")).lstrip("#")
        if not odata_type:
            raise bad_request(
                "The '@odata.type' annotation is required on every target of a bulk operation.", "0x80048d19"
            )
        if odata_type != expected:
            raise bad_request(f"All targets must be of type '{expected}'; found '{odata_type}'.", "0x80048d19")
        ids.append(_apply(engine, writer, entity, action, dict(target)))
    if action == "CreateMultiple":
        context = f"{engine.api_url(request)}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse"
        return ApiResponse.json(200, {"@odata.context": context, "Ids": ids})
    # UpdateMultiple and UpsertMultiple answer 204 without a body: "The UpsertMultiple action returns 204
    # NoContent. The UpsertMultipleResponse complex type is not returned." (webapi/reference/upsertmultiple).
    return ApiResponse.empty(204)


def _apply(engine: RequestContext, writer: RecordWriter, entity: EntityDef, action: str, target: dict[str, Any]) -> str:
    reference = target.pop("@odata.id", None)
    target.pop("@odata.type", None)
    if action == "CreateMultiple":
        return writer.create(entity, target)
    key = None
    if reference:
        parsed = parse_entity_reference(str(reference), "")
        if parsed is None or parsed[0] != entity.entity_set_name:
            raise bad_request(f"The '@odata.id' '{reference}' does not identify a '{entity.logical_name}' record.")
        key = parse_key(parsed[1])
    elif target.get(entity.primary_id):
        guid = parse_guid(str(target[entity.primary_id]))
        if guid is None:
            raise payload_error(entity.entity_set_name, f"'{target[entity.primary_id]}' is not a valid GUID.")
        key = parse_key(guid)
    if key is None:
        if action == "UpdateMultiple":
            raise bad_request(f"UpdateMultiple requires the primary key '{entity.primary_id}' on every target.")
        return writer.create(entity, target)
    record_id = find_record_id(engine.state, entity, key)
    key_columns = alternate_key_columns(entity, key) if action == "UpsertMultiple" else frozenset()
    if record_id is None:
        if action == "UpdateMultiple":
            raise DataverseError(
                404, "0x80040217", f"Entity '{entity.logical_name}' With Id = {key.guid} Does Not Exist"
            )
        if key_columns & target.keys():
            # Observed on Dataverse (microsoft/PowerPlatform-DataverseClient-Python#127): an UpsertMultiple
            # target that creates a record must carry its alternate key in "@odata.id" only.
            raise DataverseError(400, "0x80040216", "An unexpected error occurred.")
        return writer.create(entity, target, record_id=key.guid, key_values=key_values_for_create(entity, key))
    target.pop(entity.primary_id, None)
    for column in key_columns:
        target.pop(column, None)
    writer.update(entity, record_id, target)
    return record_id
