"""A metadata request being answered: its state, caller and query, its responses, its errors (worded like
Dataverse's), and definitions addressed by key in parentheses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from salesbridge.sandbox.catalogue.definitions import (
    AttributeDef,
    EntityDef,
)
from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.errors import (
    DataverseError,
    bad_request,
)
from salesbridge.sandbox.metadata.model import EMPTY_GUID
from salesbridge.sandbox.metadata.query import MetadataQuery, parse_query
from salesbridge.sandbox.odata.messages import ApiRequest, ApiResponse
from salesbridge.sandbox.odata.paths import Segment, parse_guid, parse_named_args, unquote_literal
from salesbridge.sandbox.organization.state import SandboxState


@dataclass
class Call:
    """One request being answered."""

    state: SandboxState
    request: ApiRequest
    caller_id: str
    api_url: str

    @property
    def catalogue(self) -> Catalogue:
        return self.state.catalogue

    def query(self) -> MetadataQuery:
        return parse_query(self.request.query)

    def context(self, fragment: str) -> str:
        return f"{self.api_url}$metadata#{fragment}"

    def body(self) -> dict[str, Any]:
        try:
            body = self.request.json()
        except ValueError:
            raise bad_request("The request body is not valid JSON.", "0x80048d19") from None
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object.", "0x80048d19")
        return body

    def require(self, privilege: str) -> None:
        self.state.security.require_named(self.caller_id, privilege)


def ok(payload: Mapping[str, Any]) -> ApiResponse:
    return ApiResponse.json(200, payload, {"OData-Version": "4.0"})


def no_content(entity_id: str | None = None) -> ApiResponse:
    headers = {"OData-Version": "4.0"}
    if entity_id is not None:
        headers["OData-EntityId"] = entity_id
    return ApiResponse.empty(204, headers)


# --------------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------------


def entity_not_found(name: str | None, metadata_id: str = EMPTY_GUID) -> DataverseError:
    """404 ObjectDoesNotExist as RetrieveEntity answers it (a lookup by MetadataId has no name: ``null``)."""
    return DataverseError(
        404, "0x80040217", f"Could not find an entity with name {name or 'null'} and id {metadata_id}"
    )


def attribute_not_found(entity: EntityDef, name: str) -> DataverseError:
    # undocumented: the wording of RetrieveAttribute's ObjectDoesNotExist.
    return DataverseError(
        404,
        "0x80040217",
        f"Could not find an attribute with specified name: {name} on entity: {entity.logical_name}.",
    )


def not_found(kind: str, name: str) -> DataverseError:
    # undocumented: the wording for keys, relationships and global choices.
    return DataverseError(404, "0x80040217", f"Could not find {kind} with name {name}.")


def duplicate_entity() -> DataverseError:
    """InvalidSchemaName ``0x8004700b`` (``includes/data-service-error-codes.md``)."""
    return DataverseError(
        400, "0x8004700b", "An entity with the specified name already exists. Please specify a unique name."
    )


def duplicate_attribute(schema_name: str, entity: str) -> DataverseError:
    """DuplicateAttributeSchemaName ``0x80047013``."""
    return DataverseError(
        400,
        "0x80047013",
        f"An attribute with the specified name {schema_name} already exists on entity {entity}. "
        f"Please specify a unique name.",
    )


def not_customizable(what: str) -> DataverseError:
    # undocumented: the code of this refusal (InvalidArgument here).
    return bad_request(f"The specified {what} is not a custom {what} and cannot be deleted.")


# --------------------------------------------------------------------------------------------------------
# Addressing: keys in parentheses
# --------------------------------------------------------------------------------------------------------


def named_key(args: str, name: str) -> str | None:
    """The value of ``Name='x'`` in ``args``; None when ``args`` is a GUID.

    Raises:
        DataverseError: 400 when ``args`` is neither a GUID nor ``<name>='…'``.
    """
    if parse_guid(args) is not None:
        return None
    try:
        named = parse_named_args(args)
    except DataverseError:
        named = {}
    if set(named) != {name}:
        raise bad_request(
            f"Bad Request - Error in query syntax: '{args}' is not a valid key; use a MetadataId or {name}='…'.",
            "0x80060888",
        )
    return unquote_literal(named[name])


def entity_for(call: Call, segment: Segment) -> tuple[EntityDef, str]:
    """The table a ``EntityDefinitions(…)`` segment names, and its ``@odata.context`` path.

    Raises:
        DataverseError: 404 ``0x80040217`` for an unknown table.
    """
    args = segment.args or ""
    name = named_key(args, "LogicalName")
    if name is not None:
        entity = call.catalogue.find_entity(name.lower())
        if entity is None:
            raise entity_not_found(name)
        return entity, f"EntityDefinitions('{entity.logical_name}')"
    metadata_id = parse_guid(args) or ""
    for entity in call.catalogue.entities.values():
        if entity.metadata_id == metadata_id:
            return entity, f"EntityDefinitions({metadata_id})"
    raise entity_not_found(None, metadata_id)


def attribute_for(entity: EntityDef, segment: Segment) -> AttributeDef:
    args = segment.args or ""
    name = named_key(args, "LogicalName")
    if name is not None:
        attribute = entity.attribute(name.lower())
        if attribute is None:
            raise attribute_not_found(entity, name)
        return attribute
    metadata_id = parse_guid(args) or ""
    for attribute in entity.attributes.values():
        if attribute.metadata_id(entity.logical_name) == metadata_id:
            return attribute
    raise attribute_not_found(entity, metadata_id)


def entity_url(call: Call, entity: EntityDef) -> str:
    return f"{call.api_url}EntityDefinitions(LogicalName='{entity.logical_name}')"
