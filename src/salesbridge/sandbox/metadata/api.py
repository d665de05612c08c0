"""The metadata API of the sandbox: ``EntityDefinitions``, ``GlobalOptionSetDefinitions``, ``RelationshipDefinitions``.

Reads follow ``webapi/query-metadata-web-api.md`` and ``webapi/retrieve-metadata-name-metadataid.md`` of
``MicrosoftDocs/powerapps-docs``: tables by ``LogicalName`` or ``MetadataId``; their ``Attributes`` (optionally
cast to ``Microsoft.Dynamics.CRM.<Type>AttributeMetadata`` to reach type-specific properties and to expand
``OptionSet``/``GlobalOptionSet``), ``ManyToOneRelationships``, ``OneToManyRelationships`` and ``Keys``;
``$select``, ``$filter`` (metadata filters: enum literals such as
``Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'`` and complex-property paths such as
``CanChangeTrackingBeEnabled/Value``) and ``$expand``. Metadata collections are never paged. ``MetadataId``
is always returned; labels are ``Label`` objects whose user label is English (1033).

Writes are those a solution installer makes (``create-update-entity-definitions-using-web-api.md``,
``create-update-column-definitions-using-web-api.md``, ``create-update-entity-relationships-using-web-api.md``):
custom tables (``POST EntityDefinitions`` and the ``CreateEntities`` action Microsoft's Python SDK uses),
columns (``POST …/Attributes``; lookups through ``POST RelationshipDefinitions`` with a ``Lookup``), column
deletion, ``PUT``/``PATCH`` of a table (labels, change tracking, notes, activities), alternate keys
(``POST …/Keys``, backed by a unique SQLite index). Each write changes the catalogue, the storage and the
security model together; when a step fails, the catalogue changes are undone and the caller's transaction
rolls back the database.

Choices the docs leave open are marked *undocumented* where they are made.
"""

from __future__ import annotations

from salesbridge.sandbox.errors import (
    method_not_allowed,
    resource_not_found,
)
from salesbridge.sandbox.metadata.model import CRM
from salesbridge.sandbox.metadata.reads import (
    entity_definitions,
    global_option_set_definitions,
    relationship_definitions,
)
from salesbridge.sandbox.metadata.request import Call
from salesbridge.sandbox.metadata.tables import create_entities_action
from salesbridge.sandbox.odata.messages import ApiRequest, ApiResponse
from salesbridge.sandbox.odata.paths import Segment
from salesbridge.sandbox.organization.state import SandboxState


def handle_metadata(
    state: SandboxState, request: ApiRequest, segments: list[Segment], *, caller_id: str, api_url: str
) -> ApiResponse:
    """Answer one metadata request.

    Args:
        state: The sandbox state; writes change its catalogue, storage and security model.
        request: The request (method, query string, JSON body).
        segments: The split path; ``segments[0].name`` is one of :data:`METADATA_ROOTS`.
        caller_id: The effective systemuser (privileges are checked for writes).
        api_url: The absolute API root (``https://host/api/data/v9.2/``) for ``@odata.context`` and
            ``OData-EntityId``.

    Returns:
        200 with the JSON of a read; 204 with ``OData-EntityId`` for a create; 204 for an update or delete;
        200 with a ``CreateEntitiesResponse`` for the ``CreateEntities`` action.

    Raises:
        DataverseError: 404 for an unknown segment, table (``0x80040217``), column, key, relationship or
            choice; 400 for invalid query options or bodies; 403 without the customization privilege; 405 for
            a method the resource does not support. Catalogue changes of a failed write are undone; the
            caller's transaction must roll back the database.
    """
    call = Call(state, request, caller_id, api_url)
    head = segments[0]
    if head.name == "EntityDefinitions":
        return entity_definitions(call, segments)
    if head.name == "RelationshipDefinitions":
        return relationship_definitions(call, segments)
    if head.name == "GlobalOptionSetDefinitions":
        return global_option_set_definitions(call, segments)
    if head.name in ("CreateEntities", f"{CRM}CreateEntities") and head.args is None and len(segments) == 1:
        if request.method != "POST":
            raise method_not_allowed(f"The HTTP method '{request.method}' is not allowed on '{head.name}'.")
        return create_entities_action(call)
    raise resource_not_found(head.name)
