"""Keeping the definitions the metadata API creates (tables, columns, keys, relationships) in the database.

A sandbox started on a file (``--db``) rebuilds its standard catalogue from code, then lays over it the tables and
relationships kept here, so what a client created through ``EntityDefinitions``/``RelationshipDefinitions``
survives a restart as it does in Dataverse. Only what differs from the catalogue the sandbox started with is
kept: a custom table whole, a standard table once a column or key was added to it or a property changed, and
relationships that are new or changed. The record is one JSON document in the sandbox's key/value table,
written in the transaction of the metadata request that changed it.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from typing import Any

from salesbridge.sandbox.catalogue.definitions import (
    AttributeDef,
    AttributeType,
    CascadeConfiguration,
    CascadeType,
    EntityDef,
    KeyDef,
    ManyToManyDef,
    OptionDef,
    OwnershipType,
    RelationshipDef,
    RequiredLevel,
)
from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.catalogue.standard_tables import build_standard_catalogue
from salesbridge.sandbox.organization.database import Storage

DEFINITIONS_META_KEY = "definitions"


@dataclasses.dataclass(frozen=True)
class DefinitionBaseline:
    """The serialised tables and relationships of the catalogue as the sandbox started, before any overlay."""

    entities: dict[str, dict[str, Any]]
    relationships: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, catalogue: Catalogue) -> DefinitionBaseline:
        """Snapshot ``catalogue``."""
        return cls(
            {name: entity_to_json(entity) for name, entity in catalogue.entities.items()},
            {name: relationship_to_json(r) for name, r in catalogue.relationships.items()},
        )


@cache
def standard_baseline() -> DefinitionBaseline:
    """The baseline of a fresh standard catalogue (:func:`build_standard_catalogue` builds the same one every time).
    Serialising its tables took half of building a sandbox, so it is done once per process; the one value is
    shared by every sandbox and only ever read."""
    return DefinitionBaseline.of(build_standard_catalogue())


def save_definitions(storage: Storage, catalogue: Catalogue, baseline: DefinitionBaseline) -> None:
    """Keep every table and relationship of ``catalogue`` that differs from ``baseline``, and every many-to-many
    relationship. Idempotent."""
    entities = [
        serialised
        for name, entity in catalogue.entities.items()
        if (serialised := entity_to_json(entity)) != baseline.entities.get(name)
    ]
    relationships = [
        serialised
        for name, relationship in catalogue.relationships.items()
        if (serialised := relationship_to_json(relationship)) != baseline.relationships.get(name)
    ]
    # Every many-to-many relationship in the catalogue was created through the metadata API.
    many_to_many = [dataclasses.asdict(relationship) for relationship in catalogue.many_to_many.values()]
    document = {"entities": entities, "relationships": relationships, "many_to_many": many_to_many}
    storage.set_meta(DEFINITIONS_META_KEY, json.dumps(document))


def restore_definitions(storage: Storage, catalogue: Catalogue) -> None:
    """Lay the kept tables and relationships over ``catalogue`` (replacing ones with the same name)."""
    stored = storage.get_meta(DEFINITIONS_META_KEY)
    if not stored:
        return
    document = json.loads(stored)
    for entity in document["entities"]:
        catalogue.add_entity(entity_from_json(entity))
    for relationship in document["relationships"]:
        catalogue.add_relationship(relationship_from_json(relationship))
    for values in document.get("many_to_many", []):
        catalogue.add_many_to_many(ManyToManyDef(**values))


def entity_to_json(entity: EntityDef) -> dict[str, Any]:
    """A table as JSON-ready values."""
    values = {f.name: getattr(entity, f.name) for f in dataclasses.fields(entity)}
    values["bulk_messages"] = sorted(entity.bulk_messages)
    values["attributes"] = [_attribute_to_json(a) for a in entity.attributes.values()]
    values["keys"] = [dataclasses.asdict(key) for key in entity.keys]
    return values


def entity_from_json(values: dict[str, Any]) -> EntityDef:
    """The inverse of :func:`entity_to_json`."""
    attributes = [_attribute_from_json(a) for a in values["attributes"]]
    return EntityDef(
        **{
            **values,
            "ownership_type": OwnershipType(values["ownership_type"]),
            "bulk_messages": frozenset(values["bulk_messages"]),
            "attributes": {a.logical_name: a for a in attributes},
            "keys": [KeyDef(**{**key, "key_attributes": tuple(key["key_attributes"])}) for key in values["keys"]],
        }
    )


def relationship_to_json(relationship: RelationshipDef) -> dict[str, Any]:
    """A relationship as JSON-ready values."""
    return dataclasses.asdict(relationship)


def relationship_from_json(values: dict[str, Any]) -> RelationshipDef:
    """The inverse of :func:`relationship_to_json`."""
    cascade = CascadeConfiguration(**{name: CascadeType(value) for name, value in values["cascade"].items()})
    return RelationshipDef(**{**values, "cascade": cascade})


def _attribute_to_json(attribute: AttributeDef) -> dict[str, Any]:
    return dataclasses.asdict(attribute)


def _attribute_from_json(values: dict[str, Any]) -> AttributeDef:
    return AttributeDef(
        **{
            **values,
            "type": AttributeType(values["type"]),
            "required_level": RequiredLevel(values["required_level"]),
            "targets": tuple(values["targets"]),
            "options": tuple(OptionDef(**option) for option in values["options"]),
        }
    )
