"""Adding, updating and deleting columns; a money column gets the companions of
:func:`.tables.add_money_companions`."""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

from salesbridge.sandbox.catalogue.definitions import (
    METADATA_TYPE_NAMES,
    AttributeDef,
    AttributeType,
    EntityDef,
    quote_ident,
)
from salesbridge.sandbox.errors import (
    bad_request,
)
from salesbridge.sandbox.metadata.bodies import attribute_from_body, body_type, label_text, number_in, required_level_in
from salesbridge.sandbox.metadata.changes import Changes, apply
from salesbridge.sandbox.metadata.model import CRM
from salesbridge.sandbox.metadata.request import Call, duplicate_attribute, not_customizable
from salesbridge.sandbox.metadata.serialisation import failed_keys_of
from salesbridge.sandbox.metadata.tables import add_currency_relationship, add_money_companions

# --------------------------------------------------------------------------------------------------------
# Columns
# --------------------------------------------------------------------------------------------------------


def add_column(call: Call, entity: EntityDef, body: dict[str, Any]) -> AttributeDef:
    """POST a column definition to a table's ``Attributes``.

    Raises:
        DataverseError: 403 without ``prvCreateAttribute``; 400 ``0x80047013`` when the name is taken; 400 for
            lookups (created through ``RelationshipDefinitions``) and invalid definitions.
    """
    call.require("prvCreateAttribute")
    if entity.is_read_only:
        raise bad_request(f"Columns cannot be added to the '{entity.logical_name}' table.")
    if body_type(body) == AttributeType.LOOKUP:
        raise bad_request(
            "Lookup columns are created with their relationship: POST a OneToManyRelationshipMetadata with a Lookup "
            "to RelationshipDefinitions."
        )
    attribute = attribute_from_body(body, call.catalogue)
    if entity.attribute(attribute.logical_name) is not None:
        raise duplicate_attribute(attribute.schema_name, entity.logical_name)
    if attribute.type == AttributeType.MONEY and entity.attribute(f"{attribute.logical_name}_base") is not None:
        raise duplicate_attribute(f"{attribute.schema_name}_Base", entity.logical_name)

    def work(changes: Changes) -> None:
        changes.add_attribute(entity, attribute)
        if attribute.type == AttributeType.MONEY:
            add_money_companions(entity, attribute, changes)
            add_currency_relationship(changes, entity)
        call.state.storage.ensure_table(entity)

    apply(call, work)
    return attribute


def update_attribute(call: Call, attribute: AttributeDef, body: dict[str, Any]) -> None:
    """PUT/PATCH of a column: labels, required level, ``MaxLength``, ``MinValue``/``MaxValue``, ``Precision``.

    Raises:
        DataverseError: 403 without ``prvCreateAttribute``; 400 when the body changes the column's type or
            names, or sets invalid limits.
    """
    call.require("prvCreateAttribute")
    odata_type = str(body.get("@odata.type") or "").lstrip("#").removeprefix(CRM)
    declared = body.get("AttributeType")
    if (odata_type and odata_type != METADATA_TYPE_NAMES[attribute.type]) or (
        declared is not None and declared != attribute.type.value
    ):
        raise bad_request(f"The type of the column '{attribute.logical_name}' cannot be changed.")
    if body.get("LogicalName", attribute.logical_name) != attribute.logical_name:
        raise bad_request("The LogicalName of a column cannot be changed.")
    values: dict[str, Any] = {}
    text = label_text(body.get("DisplayName"))
    if text is not None:
        values["display_name"] = text
    text = label_text(body.get("Description"))
    if text is not None:
        values["description"] = text
    if "RequiredLevel" in body:
        values["required_level"] = required_level_in(body)
    if attribute.type in (AttributeType.STRING, AttributeType.MEMO) and "MaxLength" in body:
        high = 4000 if attribute.type == AttributeType.STRING else 1048576
        values["max_length"] = int(number_in(body, "MaxLength", attribute.max_length or 100, 1, high))
    if attribute.type in (
        AttributeType.INTEGER,
        AttributeType.BIGINT,
        AttributeType.DECIMAL,
        AttributeType.DOUBLE,
        AttributeType.MONEY,
    ):
        for name, field_name in (("MinValue", "min_value"), ("MaxValue", "max_value")):
            if name in body:
                values[field_name] = number_in(body, name, 0, -float("inf"), float("inf"))
        if "Precision" in body and attribute.type not in (AttributeType.INTEGER, AttributeType.BIGINT):
            values["precision"] = int(number_in(body, "Precision", 2, 0, 10))
        low = values.get("min_value", attribute.min_value)
        high_value = values.get("max_value", attribute.max_value)
        if low is not None and high_value is not None and low > high_value:
            raise bad_request(f"The MinValue {low} is greater than the MaxValue {high_value}.")

    def work(changes: Changes) -> None:
        for name, value in values.items():
            changes.set_field(attribute, name, value)

    apply(call, work)


def delete_attribute(call: Call, entity: EntityDef, attribute: AttributeDef) -> None:
    """DELETE a custom column (a lookup with its relationships; a currency column with its base twin).

    Raises:
        DataverseError: 403 without ``prvCreateAttribute``; 400 for a system column, the primary name column
            or a column of an alternate key.
    """
    call.require("prvCreateAttribute")
    if not attribute.is_custom or attribute.is_primary_name or attribute.is_primary_id:
        raise not_customizable("attribute")
    for key in [*entity.keys, *failed_keys_of(call.state, entity)]:
        if attribute.logical_name in key.key_attributes:
            raise bad_request(
                f"The column '{attribute.logical_name}' cannot be deleted: the alternate key '{key.logical_name}' "
                f"uses it.",
            )
    names = [attribute.logical_name]
    twin = entity.attribute(f"{attribute.logical_name}_base")
    if attribute.type == AttributeType.MONEY and twin is not None and twin.is_custom:
        names.append(twin.logical_name)
    relationships = [
        r
        for r in call.catalogue.relationships.values()
        if r.referencing_entity == entity.logical_name and r.referencing_attribute == attribute.logical_name
    ]

    def work(changes: Changes) -> None:
        for relationship in relationships:
            changes.remove_relationship(relationship)
        for name in names:
            changes.remove_attribute(entity, name)
        storage = call.state.storage
        for name in names:
            columns = [name, f"{name}__type"] if attribute.is_lookup else [name]
            for column in columns:
                # A column that is missing or indexed simply stays, unused.
                with contextlib.suppress(sqlite3.OperationalError):
                    storage.conn.execute(
                        f"ALTER TABLE {quote_ident(entity.logical_name)} DROP COLUMN {quote_ident(column)}"
                    )
        storage.ensure_table(entity)

    apply(call, work)
