"""Creating and deleting alternate keys, each backed by a unique SQLite index."""

from __future__ import annotations

import sqlite3
from typing import Any

from salesbridge.sandbox.catalogue.definitions import (
    EntityDef,
    KeyDef,
    quote_ident,
)
from salesbridge.sandbox.errors import (
    bad_request,
)
from salesbridge.sandbox.metadata.bodies import label_text, required_text
from salesbridge.sandbox.metadata.changes import Changes, apply
from salesbridge.sandbox.metadata.model import IDENTIFIER, KEY_TYPES, MAX_KEY_ATTRIBUTES, MAX_KEYS
from salesbridge.sandbox.metadata.request import Call, attribute_not_found
from salesbridge.sandbox.metadata.serialisation import failed_keys_of, save_failed_keys

# --------------------------------------------------------------------------------------------------------
# Alternate keys
# --------------------------------------------------------------------------------------------------------


def create_key(call: Call, entity: EntityDef, body: dict[str, Any]) -> KeyDef:
    """POST an ``EntityKeyMetadata``: a key definition and its unique index.

    When existing rows already repeat a key value the index cannot be built; as in Dataverse the request
    still succeeds and the key reports ``EntityKeyIndexStatus`` ``Failed`` (it is not usable in URLs).

    Raises:
        DataverseError: 403 without ``prvWriteEntity``; 400 for an invalid or duplicate key.
    """
    call.require("prvWriteEntity")
    schema_name = required_text(body, "SchemaName", "key")
    logical_name = str(body.get("LogicalName") or schema_name).lower()
    if not IDENTIFIER.match(logical_name):
        raise bad_request(f"'{schema_name}' is not a valid key name.")
    columns = body.get("KeyAttributes")
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
        raise bad_request("KeyAttributes must be a non-empty array of column logical names.")
    names = tuple(str(c).lower() for c in columns)
    if len(names) > MAX_KEY_ATTRIBUTES or len(set(names)) != len(names):
        raise bad_request(f"A key has 1 to {MAX_KEY_ATTRIBUTES} distinct columns.")
    for name in names:
        attribute = entity.attribute(name)
        if attribute is None:
            raise attribute_not_found(entity, name)
        if attribute.type not in KEY_TYPES or not attribute.is_stored:
            raise bad_request(f"The column '{name}' of type {attribute.type.value} cannot be part of a key.")
    existing = [*entity.keys, *failed_keys_of(call.state, entity)]
    if any(k.logical_name == logical_name for k in existing):
        raise bad_request(f"A key named '{schema_name}' already exists on '{entity.logical_name}'.")
    if any(set(k.key_attributes) == set(names) for k in existing):
        raise bad_request(f"A key on the columns {', '.join(names)} already exists on '{entity.logical_name}'.")
    if len(existing) >= MAX_KEYS:
        raise bad_request(f"A table has at most {MAX_KEYS} keys.")
    key = KeyDef(
        logical_name=logical_name,
        key_attributes=names,
        schema_name=schema_name,
        display_name=label_text(body.get("DisplayName")) or schema_name,
    )

    def work(changes: Changes) -> None:
        try:
            call.state.storage.create_index(entity.logical_name, list(names), unique=True)
        except sqlite3.IntegrityError:
            save_failed_keys(call.state, entity, [*failed_keys_of(call.state, entity), key])
            return
        changes.set_field(entity, "keys", [*entity.keys, key])

    apply(call, work)
    return key


def delete_key(call: Call, entity: EntityDef, key: KeyDef, *, failed: bool) -> None:
    call.require("prvWriteEntity")

    def work(changes: Changes) -> None:
        if failed:
            save_failed_keys(
                call.state,
                entity,
                [k for k in failed_keys_of(call.state, entity) if k.logical_name != key.logical_name],
            )
            return
        changes.set_field(entity, "keys", [k for k in entity.keys if k.logical_name != key.logical_name])
        # The index Storage.create_index made for the key (same naming).
        index = quote_ident(f"{entity.logical_name}__{'_'.join(key.key_attributes)}")
        call.state.storage.conn.execute(f"DROP INDEX IF EXISTS {index}")

    apply(call, work)
