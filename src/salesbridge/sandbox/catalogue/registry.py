"""The catalogue: every table, relationship and global choice the sandbox knows, with lookups by name."""

from __future__ import annotations

from dataclasses import dataclass, field

from salesbridge.sandbox.catalogue.definitions import (
    HIERARCHICAL_RELATIONSHIPS,
    EntityDef,
    ManyToManyDef,
    OptionDef,
    RelationshipDef,
)
from salesbridge.sandbox.errors import resource_not_found


@dataclass
class Catalogue:
    """Tables by logical name and by entity set, relationships, and global option sets.

    Mutable: the metadata API adds custom tables, columns, keys and relationships at run time.
    """

    entities: dict[str, EntityDef] = field(default_factory=dict)
    relationships: dict[str, RelationshipDef] = field(default_factory=dict)
    global_option_sets: dict[str, tuple[OptionDef, ...]] = field(default_factory=dict)
    many_to_many: dict[str, ManyToManyDef] = field(default_factory=dict)
    _by_set: dict[str, EntityDef] = field(default_factory=dict)

    def add_entity(self, entity: EntityDef) -> EntityDef:
        """Register a table (replacing one with the same logical name)."""
        self.entities[entity.logical_name] = entity
        self._by_set[entity.entity_set_name] = entity
        return entity

    def add_relationship(self, relationship: RelationshipDef) -> RelationshipDef:
        """Register a one-to-many relationship."""
        self.relationships[relationship.schema_name] = relationship
        return relationship

    def add_many_to_many(self, relationship: ManyToManyDef) -> ManyToManyDef:
        """Register a many-to-many relationship."""
        self.many_to_many[relationship.schema_name] = relationship
        return relationship

    def many_to_many_of(self, logical_name: str) -> list[ManyToManyDef]:
        """The many-to-many relationships this table takes part in."""
        return [r for r in self.many_to_many.values() if logical_name in (r.entity1, r.entity2)]

    def many_to_many_nav(self, logical_name: str, nav: str) -> tuple[ManyToManyDef, str, str, str] | None:
        """The many-to-many relationship behind a collection-valued navigation property of ``logical_name``,
        with its own intersect column, the other side's column and the other table; or None."""
        for relationship in self.many_to_many.values():
            side = relationship.side(logical_name, nav)
            if side is not None:
                return relationship, *side
        return None

    def entity(self, logical_name: str) -> EntityDef:
        """The table with this logical name; raises a 404 DataverseError if unknown."""
        entity = self.entities.get(logical_name)
        if entity is None:
            raise resource_not_found(logical_name)
        return entity

    def find_entity(self, logical_name: str) -> EntityDef | None:
        """The table with this logical name, or None."""
        return self.entities.get(logical_name)

    def entity_by_set(self, entity_set_name: str) -> EntityDef | None:
        """The table behind an entity set name, or None."""
        return self._by_set.get(entity_set_name)

    def many_to_one(self, logical_name: str) -> list[RelationshipDef]:
        """Relationships in which this table holds the lookup."""
        return [r for r in self.relationships.values() if r.referencing_entity == logical_name]

    def hierarchical(self, logical_name: str) -> RelationshipDef | None:
        """The table's hierarchical relationship (to itself: ``account_parent_account``), or None."""
        for relationship in self.many_to_one(logical_name):
            if (
                relationship.schema_name in HIERARCHICAL_RELATIONSHIPS
                and relationship.referenced_entity == logical_name
            ):
                return relationship
        return None

    def one_to_many(self, logical_name: str) -> list[RelationshipDef]:
        """Relationships in which this table is the one referenced."""
        return [r for r in self.relationships.values() if r.referenced_entity == logical_name]

    def single_valued_nav(self, logical_name: str, nav: str) -> RelationshipDef | None:
        """The relationship behind a single-valued navigation property (case-sensitive), or None.

        Activity tables derive from activitypointer in Dataverse's schema, so they also answer to its
        system navigation properties (``ownerid``, ``createdby``…) — but not to its ``regardingobjectid_*``
        ones, which each activity table names with its own suffix.
        """
        for relationship in self.relationships.values():
            if relationship.referencing_entity == logical_name and relationship.referencing_nav == nav:
                return relationship
        entity = self.entities.get(logical_name)
        if entity is not None and entity.is_activity and not nav.startswith("regardingobjectid"):
            for relationship in self.relationships.values():
                if (
                    relationship.referencing_entity == "activitypointer"
                    and relationship.referencing_nav == nav
                    and relationship.referencing_attribute in entity.attributes
                ):
                    return relationship
        return None

    def collection_nav(self, logical_name: str, nav: str) -> RelationshipDef | None:
        """The relationship behind a collection-valued navigation property (case-sensitive), or None."""
        for relationship in self.relationships.values():
            if relationship.referenced_entity == logical_name and relationship.referenced_nav == nav:
                return relationship
        return None

    def nav_for_lookup(self, logical_name: str, attribute: str, target: str) -> RelationshipDef | None:
        """The relationship a lookup value of ``attribute`` pointing at ``target`` travels through."""
        fallback = None
        for relationship in self.relationships.values():
            if relationship.referencing_entity != logical_name:
                continue
            if relationship.referencing_attribute != attribute:
                continue
            if relationship.referenced_entity == target:
                return relationship
            if relationship.referenced_entity == "owner" and target in ("systemuser", "team"):
                fallback = relationship
        return fallback
