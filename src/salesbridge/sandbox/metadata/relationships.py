"""Creating and deleting one-to-many relationships, each with its lookup column and cascade configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from salesbridge.sandbox.catalogue.definitions import (
    REFERENTIAL,
    AttributeDef,
    AttributeType,
    CascadeConfiguration,
    RelationshipDef,
)
from salesbridge.sandbox.errors import (
    bad_request,
)
from salesbridge.sandbox.metadata.bodies import check_schema_name, label_text, required_level_in, required_text
from salesbridge.sandbox.metadata.changes import Changes, apply
from salesbridge.sandbox.metadata.columns import delete_attribute
from salesbridge.sandbox.metadata.model import CRM, IDENTIFIER, RELATIONSHIP_TYPE
from salesbridge.sandbox.metadata.request import Call, duplicate_attribute, entity_not_found, not_customizable

# --------------------------------------------------------------------------------------------------------
# Relationships (lookup columns)
# --------------------------------------------------------------------------------------------------------


def create_relationship(call: Call, body: dict[str, Any]) -> RelationshipDef:
    """POST ``RelationshipDefinitions`` with a ``OneToManyRelationshipMetadata`` and its ``Lookup``.

    The lookup column is added to the referencing table; its navigation properties are
    ``ReferencingEntityNavigationPropertyName`` (default: the lookup's SchemaName) and
    ``ReferencedEntityNavigationPropertyName`` (default: the relationship's SchemaName).

    Raises:
        DataverseError: 403 without ``prvCreateAttribute``; 404 for an unknown table; 400 for many-to-many
            relationships (not supported), a missing or invalid lookup, or names already taken.
    """
    call.require("prvCreateAttribute")
    odata_type = str(body.get("@odata.type") or "").lstrip("#").removeprefix(CRM)
    if odata_type != RELATIONSHIP_TYPE:
        raise bad_request(
            "The sandbox creates one-to-many relationships only: set '@odata.type' to "
            "'Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata'."
        )
    catalogue = call.catalogue
    schema_name = required_text(body, "SchemaName", "relationship")
    check_schema_name(schema_name, "relationship")
    if schema_name in catalogue.relationships or any(
        r.schema_name.lower() == schema_name.lower() for r in catalogue.relationships.values()
    ):
        raise bad_request(f"A relationship with the name '{schema_name}' already exists.")
    referenced_name = required_text(body, "ReferencedEntity", "relationship").lower()
    referencing_name = required_text(body, "ReferencingEntity", "relationship").lower()
    referenced = catalogue.find_entity(referenced_name)
    if referenced is None:
        raise entity_not_found(referenced_name)
    referencing = catalogue.find_entity(referencing_name)
    if referencing is None:
        raise entity_not_found(referencing_name)
    if referencing.is_read_only:
        raise bad_request(f"Columns cannot be added to the '{referencing_name}' table.")
    referenced_attribute = str(body.get("ReferencedAttribute") or referenced.primary_id).lower()
    if referenced_attribute != referenced.primary_id:
        raise bad_request(f"The ReferencedAttribute must be the primary key '{referenced.primary_id}'.")
    lookup_body = body.get("Lookup")
    if not isinstance(lookup_body, Mapping):
        raise bad_request("A one-to-many relationship needs the definition of its Lookup column.")
    lookup_type = str(lookup_body.get("@odata.type") or f"{CRM}LookupAttributeMetadata").lstrip("#")
    if lookup_type.removeprefix(CRM).removeprefix("Complex") != "LookupAttributeMetadata":
        raise bad_request("The Lookup of a relationship must be a LookupAttributeMetadata.")
    lookup_schema = required_text(lookup_body, "SchemaName", "lookup column")
    check_schema_name(lookup_schema, "column")
    lookup_name = lookup_schema.lower()
    if body.get("ReferencingAttribute") not in (None, lookup_name):
        raise bad_request("The ReferencingAttribute must be the LogicalName of the Lookup.")
    if referencing.attribute(lookup_name) is not None:
        raise duplicate_attribute(lookup_schema, referencing_name)
    referencing_nav = str(body.get("ReferencingEntityNavigationPropertyName") or lookup_schema)
    referenced_nav = str(body.get("ReferencedEntityNavigationPropertyName") or schema_name)
    for nav in (referencing_nav, referenced_nav):
        if not IDENTIFIER.match(nav):
            raise bad_request(f"'{nav}' is not a valid navigation property name.")
    if catalogue.single_valued_nav(referencing_name, referencing_nav) is not None or catalogue.collection_nav(
        referencing_name, referencing_nav
    ):
        raise bad_request(f"The navigation property '{referencing_nav}' already exists on '{referencing_name}'.")
    if catalogue.collection_nav(referenced_name, referenced_nav) is not None or catalogue.single_valued_nav(
        referenced_name, referenced_nav
    ):
        raise bad_request(f"The navigation property '{referenced_nav}' already exists on '{referenced_name}'.")
    attribute = AttributeDef(
        logical_name=lookup_name,
        type=AttributeType.LOOKUP,
        schema_name=lookup_schema,
        display_name=label_text(lookup_body.get("DisplayName")) or lookup_schema,
        description=label_text(lookup_body.get("Description")) or "",
        required_level=required_level_in(lookup_body),
        targets=(referenced_name,),
        is_custom=True,
    )
    try:
        cascade = CascadeConfiguration.from_metadata(body.get("CascadeConfiguration"), REFERENTIAL)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    relationship = RelationshipDef(
        schema_name=schema_name,
        referencing_entity=referencing_name,
        referencing_attribute=lookup_name,
        referenced_entity=referenced_name,
        referenced_attribute=referenced_attribute,
        referencing_nav=referencing_nav,
        referenced_nav=referenced_nav,
        is_custom=True,
        cascade=cascade,
    )

    def work(changes: Changes) -> None:
        changes.add_attribute(referencing, attribute)
        changes.add_relationship(relationship)
        call.state.storage.ensure_table(referencing)

    apply(call, work)
    return relationship


def delete_relationship(call: Call, relationship: RelationshipDef) -> None:
    """DELETE a custom one-to-many relationship and its lookup column.

    Raises:
        DataverseError: 403 without ``prvCreateAttribute``; 400 for a system relationship.
    """
    call.require("prvCreateAttribute")
    if not relationship.is_custom:
        raise not_customizable("relationship")
    referencing = call.catalogue.entity(relationship.referencing_entity)
    attribute = referencing.attribute(relationship.referencing_attribute)
    if attribute is None:
        apply(call, lambda changes: changes.remove_relationship(relationship))
        return
    delete_attribute(call, referencing, attribute)
