"""Creating and deleting custom many-to-many relationships, each with its intersect table.

Follows ``webapi/create-update-entity-relationships-using-web-api.md`` ("Create a Many-to-Many relationship"):
``POST RelationshipDefinitions`` with ``@odata.type`` ``Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata``,
``Entity1LogicalName``, ``Entity2LogicalName`` and ``IntersectEntityName``; the navigation properties are
``Entity1NavigationPropertyName`` / ``Entity2NavigationPropertyName`` (default: the SchemaName). The intersect
table is a read-only table (``<intersect>set``) holding one row per associated pair.
"""

from __future__ import annotations

from typing import Any

from salesbridge.sandbox.catalogue.builders import bigint, guid, pk
from salesbridge.sandbox.catalogue.definitions import EntityDef, ManyToManyDef, OwnershipType
from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.errors import bad_request
from salesbridge.sandbox.metadata.bodies import check_schema_name, required_text
from salesbridge.sandbox.metadata.changes import Changes, apply
from salesbridge.sandbox.metadata.model import CRM, IDENTIFIER
from salesbridge.sandbox.metadata.request import Call, entity_not_found, not_customizable
from salesbridge.sandbox.metadata.tables import grant_to_administrators, next_type_code

MANY_TO_MANY_TYPE = "ManyToManyRelationshipMetadata"


def is_many_to_many(body: dict[str, Any]) -> bool:
    """Whether a ``RelationshipDefinitions`` body defines a many-to-many relationship."""
    return str(body.get("@odata.type") or "").lstrip("#").removeprefix(CRM) == MANY_TO_MANY_TYPE


def create_many_to_many(call: Call, body: dict[str, Any]) -> ManyToManyDef:
    """POST ``RelationshipDefinitions`` with a ``ManyToManyRelationshipMetadata``: the relationship and its
    intersect table.

    Raises:
        DataverseError: 403 without ``prvCreateEntity``; 404 for an unknown table; 400 for a missing or taken
            name (relationship, intersect table or navigation property).
    """
    call.require("prvCreateEntity")
    catalogue = call.catalogue
    schema_name = required_text(body, "SchemaName", "relationship")
    check_schema_name(schema_name, "relationship")
    taken = [*catalogue.relationships, *catalogue.many_to_many]
    if any(name.lower() == schema_name.lower() for name in taken):
        raise bad_request(f"A relationship with the name '{schema_name}' already exists.")
    sides: list[str] = []
    for key in ("Entity1LogicalName", "Entity2LogicalName"):
        name = required_text(body, key, "relationship").lower()
        if catalogue.find_entity(name) is None:
            raise entity_not_found(name)
        sides.append(name)
    if sides[0] == sides[1]:
        raise bad_request("The sandbox doesn't support many-to-many relationships between a table and itself.")
    intersect_schema = str(body.get("IntersectEntityName") or schema_name)
    check_schema_name(intersect_schema, "table")
    if catalogue.find_entity(intersect_schema.lower()) is not None:
        raise bad_request(f"An entity with the name '{intersect_schema.lower()}' already exists.")
    navs = [str(body.get(f"Entity{n}NavigationPropertyName") or schema_name) for n in (1, 2)]
    for side, nav in zip(sides, navs, strict=True):
        if not IDENTIFIER.match(nav):
            raise bad_request(f"'{nav}' is not a valid navigation property name.")
        if (
            catalogue.single_valued_nav(side, nav) is not None
            or catalogue.collection_nav(side, nav) is not None
            or catalogue.many_to_many_nav(side, nav) is not None
        ):
            raise bad_request(f"The navigation property '{nav}' already exists on '{side}'.")
    relationship = ManyToManyDef(
        schema_name=schema_name,
        entity1=sides[0],
        entity2=sides[1],
        intersect=intersect_schema.lower(),
        entity1_nav=navs[0],
        entity2_nav=navs[1],
    )
    entity = intersect_entity(catalogue, relationship, intersect_schema)

    def work(changes: Changes) -> None:
        changes.add_entity(entity)
        changes.add_many_to_many(relationship)
        storage = call.state.storage
        storage.ensure_table(entity)
        storage.create_index(
            entity.logical_name, [relationship.entity1_column, relationship.entity2_column], unique=True
        )
        storage.create_index(entity.logical_name, [relationship.entity2_column])
        grant_to_administrators(call.state, entity)

    apply(call, work)
    return relationship


def intersect_entity(catalogue: Catalogue, relationship: ManyToManyDef, schema_name: str) -> EntityDef:
    """The intersect table of ``relationship``: its key, the two sides' keys and the row version."""
    name = relationship.intersect
    entity = EntityDef(
        logical_name=name,
        entity_set_name=f"{name}set",
        primary_id=f"{name}id",
        primary_name="",
        object_type_code=next_type_code(catalogue),
        schema_name=schema_name,
        ownership_type=OwnershipType.NONE,
        is_custom=True,
        is_read_only=True,
        change_tracking_enabled=False,
        can_change_tracking_be_enabled=False,
    )
    entity.add(
        pk(f"{name}id", schema_name),
        guid(relationship.entity1_column, relationship.entity1, create=False, update=False),
        guid(relationship.entity2_column, relationship.entity2, create=False, update=False),
        bigint("versionnumber", "Version Number", read_only=True),
    )
    return entity


def delete_many_to_many(call: Call, relationship: ManyToManyDef) -> None:
    """DELETE a custom many-to-many relationship, its intersect table and the associations in it.

    Raises:
        DataverseError: 403 without ``prvCreateEntity``; 400 for a system relationship.
    """
    call.require("prvCreateEntity")
    if not relationship.is_custom:
        raise not_customizable("relationship")
    entity = call.catalogue.find_entity(relationship.intersect)

    def work(changes: Changes) -> None:
        changes.remove_many_to_many(relationship)
        if entity is not None:
            changes.remove_entity(entity)
            call.state.storage.conn.execute(f'DROP TABLE IF EXISTS "{entity.logical_name}"')

    apply(call, work)
