"""Catalogue changes of one metadata write, with undo: a failed write leaves the catalogue as it was (the
caller's transaction rolls the database back); a successful one is kept in the database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from salesbridge.sandbox.catalogue.definitions import (
    AttributeDef,
    EntityDef,
    ManyToManyDef,
    RelationshipDef,
)
from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.metadata.request import Call
from salesbridge.sandbox.organization.saved_definitions import save_definitions

# --------------------------------------------------------------------------------------------------------
# Catalogue changes with undo
# --------------------------------------------------------------------------------------------------------


@dataclass
class Changes:
    """Catalogue mutations of one write, recorded so a failure can undo them (the database rolls back itself)."""

    catalogue: Catalogue
    undo: list[Callable[[], object]] = field(default_factory=list)

    def add_entity(self, entity: EntityDef) -> None:
        self.catalogue.add_entity(entity)
        self.undo.append(lambda: _forget_entity(self.catalogue, entity))

    def remove_entity(self, entity: EntityDef) -> None:
        _forget_entity(self.catalogue, entity)
        self.undo.append(lambda: self.catalogue.add_entity(entity))

    def add_relationship(self, relationship: RelationshipDef) -> None:
        self.catalogue.add_relationship(relationship)
        self.undo.append(lambda: self.catalogue.relationships.pop(relationship.schema_name, None))

    def remove_relationship(self, relationship: RelationshipDef) -> None:
        self.catalogue.relationships.pop(relationship.schema_name, None)
        self.undo.append(lambda: self.catalogue.add_relationship(relationship))

    def add_many_to_many(self, relationship: ManyToManyDef) -> None:
        self.catalogue.add_many_to_many(relationship)
        self.undo.append(lambda: self.catalogue.many_to_many.pop(relationship.schema_name, None))

    def remove_many_to_many(self, relationship: ManyToManyDef) -> None:
        self.catalogue.many_to_many.pop(relationship.schema_name, None)
        self.undo.append(lambda: self.catalogue.add_many_to_many(relationship))

    def add_attribute(self, entity: EntityDef, attribute: AttributeDef) -> None:
        previous = entity.attributes.get(attribute.logical_name)
        entity.add(attribute)
        self.undo.append(lambda: _restore(entity.attributes, attribute.logical_name, previous))

    def remove_attribute(self, entity: EntityDef, name: str) -> None:
        previous = entity.attributes.pop(name, None)
        self.undo.append(lambda: _restore(entity.attributes, name, previous))

    def set_field(self, target: object, name: str, value: object) -> None:
        previous = getattr(target, name)
        setattr(target, name, value)
        self.undo.append(lambda: setattr(target, name, previous))

    def add_target(self, entity: EntityDef | None, attribute_name: str, target: str) -> None:
        attribute = entity.attribute(attribute_name) if entity is not None else None
        if attribute is not None and target not in attribute.targets:
            self.set_field(attribute, "targets", (*attribute.targets, target))

    def rollback(self) -> None:
        for step in reversed(self.undo):
            step()
        self.undo.clear()


def _restore(attributes: dict[str, AttributeDef], name: str, previous: AttributeDef | None) -> None:
    if previous is None:
        attributes.pop(name, None)
    else:
        attributes[name] = previous


def _forget_entity(catalogue: Catalogue, entity: EntityDef) -> None:
    """Remove a table from the catalogue.

    The catalogue has no removal API yet, so its entity-set index is updated here (the one place this module
    reaches into it).
    """
    catalogue.entities.pop(entity.logical_name, None)
    by_set: dict[str, EntityDef] = catalogue._by_set
    if by_set.get(entity.entity_set_name) is entity:
        by_set.pop(entity.entity_set_name, None)


def apply(call: Call, work: Callable[[Changes], None]) -> None:
    """Run a write and keep the resulting definitions in the database; undo its catalogue changes (and
    re-raise) when any step fails."""
    changes = Changes(call.catalogue)
    try:
        work(changes)
        baseline = call.state.definition_baseline
        # Only a sandbox on a file starts again with what it kept; for one in memory, serialising the whole
        # catalogue on every metadata write would be work for nobody (it made metadata requests ten times slower).
        on_file = call.state.storage.path not in (None, "", ":memory:")
        if baseline is not None and on_file:
            save_definitions(call.state.storage, call.catalogue, baseline)
    except BaseException:
        changes.rollback()
        call.state.security.invalidate()
        raise
