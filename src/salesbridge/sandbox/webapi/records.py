"""Record writes with Dataverse's semantics: create, update, upsert, delete, binds, deep insert.

All functions run inside a storage transaction opened by the caller, check privileges, maintain the system
columns (created/modified on and by, owner, business unit, versionnumber, computed names, base-currency
twins) and mirror activities into ``activitypointer``.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

from salesbridge.sandbox.catalogue.definitions import (
    AttributeType,
    CascadeType,
    EntityDef,
    OwnershipType,
    RelationshipDef,
    fill_state_and_status,
    lookup_type_column,
    quote_ident,
)
from salesbridge.sandbox.errors import (
    DataverseError,
    bad_request,
    duplicate_record,
    payload_error,
    record_not_found,
    undeclared_property,
)
from salesbridge.sandbox.odata.paths import RecordKey, parse_entity_reference, parse_key, unquote_literal
from salesbridge.sandbox.odata.values import format_timestamp, to_storage
from salesbridge.sandbox.organization.security import RecordOwner
from salesbridge.sandbox.organization.state import SandboxState

_SYSTEM_COLUMNS = frozenset(
    {
        "createdon",
        "modifiedon",
        "createdby",
        "modifiedby",
        "versionnumber",
        "createdonbehalfby",
        "modifiedonbehalfby",
    }
)
_COMPUTED_NAMES = {"fullname": ("firstname", "lastname")}


@dataclass(frozen=True)
class Caller:
    """Who a write runs as: the effective user, and the application user acting on its behalf (if any)."""

    user_id: str
    impersonator_id: str | None = None


def key_predicate(entity: EntityDef, key: RecordKey) -> tuple[str, list[Any]]:
    """SQL predicate (unaliased) selecting a record by its key.

    Raises:
        DataverseError: 400 when the named key is not the primary key nor an alternate key.
    """
    if key.guid:
        return f'"{entity.primary_id}" = ?', [key.guid]
    names = tuple(sorted(name for name, _ in key.values))
    if names == (entity.primary_id,):
        guid_text = key.values[0][1]
        return f'"{entity.primary_id}" = ?', [unquote_literal(guid_text).strip("{}").lower()]
    for alt in entity.keys:
        if tuple(sorted(alt.key_attributes)) == names:
            clauses, params = [], []
            for name, raw in key.values:
                attribute = entity.attribute(name)
                column = name
                if attribute is None and name.startswith("_") and name.endswith("_value"):
                    column = name[1:-6]
                clauses.append(f'"{column}" = ?')
                params.append(_key_literal(raw))
            return " AND ".join(clauses), params
    raise bad_request(
        f"The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.{entity.logical_name}'. "
        f"Ensure that the names and number of key properties match the declared or alternate key properties "
        f"for the resource 'Microsoft.Dynamics.CRM.{entity.logical_name}'.",
        "0x80060888",
    )


def _key_literal(raw: str) -> Any:
    text = raw.strip()
    if text.startswith("'"):
        return unquote_literal(text)
    if text in ("true", "false"):
        return 1 if text == "true" else 0
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text.lower()


def find_record_id(state: SandboxState, entity: EntityDef, key: RecordKey) -> str | None:
    """The primary key of the record a URL key names, or None when there is no such record."""
    where, params = key_predicate(entity, key)
    value = state.storage.scalar(f'SELECT "{entity.primary_id}" FROM "{entity.logical_name}" WHERE {where}', params)
    return None if value is None else str(value)


def key_values_for_create(entity: EntityDef, key: RecordKey) -> dict[str, Any]:
    """Column values an upsert by alternate key must set when it creates the record."""
    values: dict[str, Any] = {}
    for name, raw in key.values:
        if name == entity.primary_id:
            values[name] = unquote_literal(raw).strip("{}").lower()
        else:
            values[name] = _key_literal(raw)
    return values


def alternate_key_columns(entity: EntityDef, key: RecordKey) -> frozenset[str]:
    """The columns an alternate key from a URL names; empty for a primary key (GUID or ``<pk>=<guid>``)."""
    names = frozenset(name for name, _ in key.values)
    return frozenset() if key.guid or names == {entity.primary_id} else names


def record_owner(state: SandboxState, entity: EntityDef, record_id: str) -> RecordOwner:
    """The owner facts of a stored record (for access checks)."""
    if entity.ownership_type != OwnershipType.USER_OWNED or entity.attribute("ownerid") is None:
        return RecordOwner(None, None, None)
    row = state.storage.conn.execute(
        f'SELECT ownerid, ownerid__type, owningbusinessunit FROM "{entity.logical_name}" '
        f'WHERE "{entity.primary_id}" = ?',
        (record_id,),
    ).fetchone()
    if row is None:
        return RecordOwner(None, None, None)
    return RecordOwner(row[0], row[1], row[2])


def resolve_reference(state: SandboxState, entity_set_hint: str, url: str, api_url: str) -> tuple[EntityDef, str]:
    """Resolve ``/contacts(<id>)`` (or an alternate-key / absolute form) to (table, existing record id).

    Raises:
        DataverseError: 400 for an unparseable reference, 404 when the table or record does not exist.
    """
    parsed = parse_entity_reference(url, api_url)
    if parsed is None:
        raise payload_error(entity_set_hint, f"The URI '{url}' is not valid because it is not based on '{api_url}'.")
    set_name, key_text = parsed
    target = state.catalogue.entity_by_set(set_name)
    if target is None:
        raise DataverseError(404, "0x0", f"Resource not found for the segment '{set_name}'.")
    key = parse_key(key_text)
    record_id = find_record_id(state, target, key)
    if record_id is None:
        missing = key.guid or key_text
        raise record_not_found(target.logical_name, missing)
    return target, record_id


class RecordWriter:
    """Applies writes for one caller. Construct per request."""

    def __init__(self, state: SandboxState, caller: Caller, api_url: str) -> None:
        self.state = state
        self.caller = caller
        self.api_url = api_url
        self.storage = state.storage
        self.security = state.security

    def create(
        self,
        entity: EntityDef,
        body: dict[str, Any],
        *,
        record_id: str | None = None,
        key_values: dict[str, Any] | None = None,
    ) -> str:
        """Create a record; returns its id. A primary key in the body (or ``record_id``) is honoured.

        Raises:
            DataverseError: 412 ``0x80040237`` when the id exists; 400 for invalid payloads; 403 without
                the create privilege; 405 on read-only tables.
        """
        if entity.is_read_only:
            raise DataverseError(405, "0x80060888", f"The '{entity.logical_name}' entity cannot be created.")
        self.security.require(self.caller.user_id, "Create", entity)
        values, children, associations = self._prepare(entity, body, creating=True)
        for name, value in (key_values or {}).items():
            values.setdefault(name, value)
        pk = values.pop(entity.primary_id, None) or record_id or str(uuid.uuid4())
        if self.storage.get(entity.logical_name, entity.primary_id, pk) is not None:
            raise duplicate_record()
        now = format_timestamp(self.state.now())
        values[entity.primary_id] = pk
        # overriddencreatedon (a migration column, valid on create) set createdon in _prepare: Dataverse keeps it.
        values.setdefault("createdon", now)
        values["modifiedon"] = now
        self._set_lookup(values, "createdby", self.caller.user_id, "systemuser")
        self._set_lookup(values, "modifiedby", self.caller.user_id, "systemuser")
        if self.caller.impersonator_id:
            self._set_lookup(values, "createdonbehalfby", self.caller.impersonator_id, "systemuser")
            self._set_lookup(values, "modifiedonbehalfby", self.caller.impersonator_id, "systemuser")
        if entity.ownership_type == OwnershipType.USER_OWNED and entity.attribute("ownerid"):
            if not values.get("ownerid"):
                values["ownerid"] = self.caller.user_id
                values[lookup_type_column("ownerid")] = "systemuser"
            elif values["ownerid"] != self.caller.user_id:
                # Creating a record owned by someone else assigns it (security-access-rights.md).
                self.security.require(self.caller.user_id, "Assign", entity)
            self._apply_owner(values)
        self._apply_defaults(entity, values)
        self._apply_computed(entity, values, None)
        if entity.attribute("versionnumber"):
            values["versionnumber"] = self.storage.next_version()
        values = {k: v for k, v in values.items() if k in self._columns(entity)}
        try:
            self.storage.insert(entity.logical_name, values)
        except sqlite3.IntegrityError as exc:
            raise DataverseError(
                412,
                "0x80060892",
                f"Entity Key violated. A record with the same value for the key already exists. ({exc})",
            ) from None
        if entity.is_activity:
            self._mirror_activity(entity, pk)
        for relationship, items in children:
            self._create_children(entity, pk, relationship, items)
        for relationship, target_ids in associations:
            self._associate_collection(relationship, pk, target_ids, entity)
        return pk

    def update(self, entity: EntityDef, record_id: str, body: dict[str, Any]) -> None:
        """Update an existing record.

        Raises:
            DataverseError: 404 when it does not exist; 403 without write access; 400 for invalid payloads.
        """
        existing = self.storage.get(entity.logical_name, entity.primary_id, record_id)
        if existing is None:
            raise record_not_found(entity.logical_name, record_id)
        if entity.is_read_only:
            raise DataverseError(405, "0x80060888", f"The '{entity.logical_name}' entity cannot be updated.")
        owner = record_owner(self.state, entity, record_id)
        self.security.require_record(self.caller.user_id, "Write", entity, record_id, owner)
        values, children, associations = self._prepare(entity, body, creating=False)
        values.pop(entity.primary_id, None)
        if "ownerid" in values and values["ownerid"] != existing.get("ownerid"):
            self.security.require_record(self.caller.user_id, "Assign", entity, record_id, owner)
            self._apply_owner(values)
        values["modifiedon"] = format_timestamp(self.state.now())
        self._set_lookup(values, "modifiedby", self.caller.user_id, "systemuser")
        if self.caller.impersonator_id:
            self._set_lookup(values, "modifiedonbehalfby", self.caller.impersonator_id, "systemuser")
        self._apply_computed(entity, values, existing)
        if entity.attribute("versionnumber"):
            values["versionnumber"] = self.storage.next_version()
        values = {k: v for k, v in values.items() if k in self._columns(entity)}
        self.storage.update(entity.logical_name, entity.primary_id, record_id, values)
        if entity.is_activity:
            self._mirror_activity(entity, record_id)
        for relationship, items in children:
            if relationship.referencing_entity == "activityparty":
                self._replace_parties(record_id, items)
            self._create_children(entity, record_id, relationship, items)
        for relationship, target_ids in associations:
            self._associate_collection(relationship, record_id, target_ids, entity)

    def _replace_parties(self, activity_id: str, items: list[dict[str, Any]]) -> None:
        """Remove the activity's parties of the participation types an update sends parties of.

        An activity's parties are the values of its party-list columns (``from``, ``to``…, one per participation
        type): an update that sets parties of a type replaces that column's value, as setting the party list does
        (activityparty-entity.md); the parties of the other types stay. Part of the activity's update, so no
        privilege of its own is checked.
        """
        masks = {item.get("participationtypemask") for item in items}
        rows = self.storage.conn.execute(
            'SELECT activitypartyid, participationtypemask FROM "activityparty" WHERE activityid = ?', (activity_id,)
        ).fetchall()
        for party_id, mask in rows:
            if mask in masks:
                self.storage.delete("activityparty", "activitypartyid", party_id)

    def delete(self, entity: EntityDef, record_id: str) -> None:
        """Delete a record, applying each one-to-many relationship's Delete cascade to the records referencing it.

        As Dataverse does (configure-entity-relationship-cascading-behavior.md): Cascade deletes the referencing
        records (recursively; *undocumented*: the caller's privileges are checked on the record deleted, not on
        the ones its cascade reaches), RemoveLink clears their lookup (a new row version, so change tracking
        reports them as updated), Restrict refuses the delete while any exists, NoCascade leaves them. An
        activity also takes its activitypointer row with it.

        Raises:
            DataverseError: 404 when it does not exist; 403 without delete access; 405 ``0x80040227``
                (CannotDeleteDueToAssociation) when a Restrict relationship has referencing records.
        """
        if self.storage.get(entity.logical_name, entity.primary_id, record_id) is None:
            raise record_not_found(entity.logical_name, record_id)
        if entity.is_read_only:
            raise DataverseError(405, "0x80060888", f"The '{entity.logical_name}' entity cannot be deleted.")
        owner = record_owner(self.state, entity, record_id)
        self.security.require_record(self.caller.user_id, "Delete", entity, record_id, owner)
        self._delete_with_cascades(entity, record_id, set())

    def _delete_with_cascades(self, entity: EntityDef, record_id: str, deleted: set[str]) -> None:
        deleted.add(record_id)
        catalogue = self.state.catalogue
        relationships = [
            r
            for r in catalogue.one_to_many(entity.logical_name)
            if r.cascade.delete != CascadeType.NO_CASCADE and catalogue.find_entity(r.referencing_entity)
        ]
        referencing = [(r, self._referencing_ids(r, record_id)) for r in relationships]
        for relationship, ids in referencing:
            if relationship.cascade.delete == CascadeType.RESTRICT and ids:
                raise DataverseError(
                    405,
                    "0x80040227",
                    "The object you tried to delete is associated with another object and cannot be deleted.",
                )
        self._remove(entity, record_id)
        if entity.is_activity:
            pointer = catalogue.find_entity("activitypointer")
            if pointer is not None and entity.logical_name != "activitypointer":
                self._remove(pointer, record_id)
        for relationship, ids in referencing:
            if relationship.cascade.delete == CascadeType.CASCADE:
                child = catalogue.entity(relationship.referencing_entity)
                for child_id in ids:
                    if child_id not in deleted and self.storage.get(child.logical_name, child.primary_id, child_id):
                        self._delete_with_cascades(child, child_id, deleted)
        for relationship, ids in referencing:
            if relationship.cascade.delete == CascadeType.REMOVE_LINK:
                child = catalogue.entity(relationship.referencing_entity)
                for child_id in ids:
                    if child_id not in deleted:
                        self._remove_link(child, child_id, relationship.referencing_attribute)

    def _referencing_ids(self, relationship: RelationshipDef, record_id: str) -> list[str]:
        child = self.state.catalogue.entity(relationship.referencing_entity)
        self.storage.ensure_lookup_index(child.logical_name, relationship.referencing_attribute)
        rows = self.storage.conn.execute(
            f"SELECT {quote_ident(child.primary_id)} FROM {quote_ident(child.logical_name)} "
            f"WHERE {quote_ident(relationship.referencing_attribute)} = ?",
            (record_id,),
        )
        return [str(row[0]) for row in rows]

    def _remove_link(self, entity: EntityDef, record_id: str, attribute: str) -> None:
        """Clear one lookup as a RemoveLink cascade does: an update of the row (modified on/by, new version)."""
        self._write_stamped(entity, record_id, {attribute: None, lookup_type_column(attribute): None})

    def _write_stamped(self, entity: EntityDef, record_id: str, values: dict[str, Any]) -> None:
        """Update ``values`` with modified on/by and a new row version; mirror an activity's pointer row."""
        values["modifiedon"] = format_timestamp(self.state.now())
        self._set_lookup(values, "modifiedby", self.caller.user_id, "systemuser")
        if entity.attribute("versionnumber"):
            values["versionnumber"] = self.storage.next_version()
        values = {k: v for k, v in values.items() if k in self._columns(entity)}
        self.storage.update(entity.logical_name, entity.primary_id, record_id, values)
        if entity.is_activity:
            self._mirror_activity(entity, record_id)

    def _remove(self, entity: EntityDef, record_id: str) -> None:
        self.storage.delete(entity.logical_name, entity.primary_id, record_id)
        if entity.change_tracking_enabled:
            self.storage.add_tombstone(
                entity.logical_name,
                record_id,
                self.storage.next_version(),
                format_timestamp(self.state.now()),
            )

    def set_lookup(
        self,
        entity: EntityDef,
        record_id: str,
        attribute: str,
        target: EntityDef | None,
        target_id: str | None,
    ) -> None:
        """Set or clear one lookup of an existing record (``$ref`` operations)."""
        body_values: dict[str, Any] = {
            attribute: target_id,
            lookup_type_column(attribute): target.logical_name if target else None,
        }
        existing = self.storage.get(entity.logical_name, entity.primary_id, record_id)
        if existing is None:
            raise record_not_found(entity.logical_name, record_id)
        owner = record_owner(self.state, entity, record_id)
        self.security.require_record(self.caller.user_id, "Write", entity, record_id, owner)
        if attribute == "ownerid":
            self._apply_owner(body_values)
        self._write_stamped(entity, record_id, body_values)

    def _columns(self, entity: EntityDef) -> set[str]:
        return set(self.storage.columns(entity.logical_name))

    def _set_lookup(self, values: dict[str, Any], attribute: str, target_id: str, target: str) -> None:
        values[attribute] = target_id
        values[lookup_type_column(attribute)] = target

    def _prepare(
        self, entity: EntityDef, body: dict[str, Any], *, creating: bool
    ) -> tuple[
        dict[str, Any],
        list[tuple[RelationshipDef, list[dict[str, Any]]]],
        list[tuple[RelationshipDef, list[str]]],
    ]:
        if not isinstance(body, dict):
            raise payload_error(entity.entity_set_name, "The payload must be a JSON object.")
        catalogue = self.state.catalogue
        values: dict[str, Any] = {}
        children: list[tuple[RelationshipDef, list[dict[str, Any]]]] = []
        associations: list[tuple[RelationshipDef, list[str]]] = []
        for key, value in body.items():
            if key.startswith("@") or ("@" in key and not key.endswith("@odata.bind")):
                continue
            if key.endswith("@odata.bind"):
                nav = key[: -len("@odata.bind")]
                single = catalogue.single_valued_nav(entity.logical_name, nav)
                if single is not None:
                    self._bind(entity, single, value, values)
                    continue
                collection = catalogue.collection_nav(entity.logical_name, nav)
                if collection is not None and isinstance(value, list):
                    ids = []
                    for url in value:
                        child_entity, child_id = resolve_reference(
                            self.state, entity.entity_set_name, str(url), self.api_url
                        )
                        if child_entity.logical_name != collection.referencing_entity:
                            raise payload_error(entity.entity_set_name, f"Invalid reference '{url}' for '{nav}'.")
                        ids.append(child_id)
                    associations.append((collection, ids))
                    continue
                raise undeclared_property(entity.entity_set_name, nav)
            single = catalogue.single_valued_nav(entity.logical_name, key)
            if single is not None and value is None:
                # associate-disassociate-entities-using-web-api.md: "Or, just use the name of the single-valued
                # navigation property" set to null, to remove the reference.
                self._bind(entity, single, None, values)
                continue
            if single is not None and isinstance(value, dict):
                target = self._deep_target(single)
                target_id = RecordWriter(self.state, self.caller, self.api_url).create(target, value)
                self._set_lookup(values, single.referencing_attribute, target_id, target.logical_name)
                continue
            collection = catalogue.collection_nav(entity.logical_name, key)
            if collection is not None:
                if not isinstance(value, list):
                    raise payload_error(entity.entity_set_name, f"A collection was expected for '{key}'.")
                children.append((collection, [dict(item) for item in value]))
                continue
            attribute = entity.attribute(key)
            if attribute is None or attribute.is_lookup or not attribute.is_stored:
                raise payload_error(
                    entity.entity_set_name,
                    f"The property '{key}' does not exist on type 'Microsoft.Dynamics.CRM.{entity.logical_name}'. "
                    f"Make sure to only use property names that are defined by the type or mark the type as open type.",
                )
            if key in _SYSTEM_COLUMNS or key in _COMPUTED_NAMES:
                continue
            if creating and not attribute.is_valid_for_create and not attribute.is_primary_id:
                continue
            if (
                not creating
                and not attribute.is_valid_for_update
                and attribute.type not in (AttributeType.STATE, AttributeType.STATUS)
            ):
                continue
            if key == "overriddencreatedon" and value is not None:
                values["createdon"] = to_storage(entity, attribute, value)
            values[key] = to_storage(entity, attribute, value)
        return values, children, associations

    def _deep_target(self, relationship: RelationshipDef) -> EntityDef:
        if relationship.referenced_entity == "owner":
            raise payload_error(relationship.referencing_entity, "Deep insert is not supported for owner.")
        return self.state.catalogue.entity(relationship.referenced_entity)

    def _bind(self, entity: EntityDef, relationship: RelationshipDef, value: Any, values: dict[str, Any]) -> None:
        attribute = relationship.referencing_attribute
        # A note's objecttypecode names the table of the record it is attached to (annotation-note-entity.md):
        # Dataverse sets it from objectid; views of notes filter on it.
        names_object_type = entity.logical_name == "annotation" and attribute == "objectid"
        if value is None:
            values[attribute] = None
            values[lookup_type_column(attribute)] = None
            if names_object_type:
                values["objecttypecode"] = None
            return
        target, target_id = resolve_reference(self.state, entity.entity_set_name, str(value), self.api_url)
        allowed = relationship.referenced_entity
        if allowed == "owner":
            if target.logical_name not in ("systemuser", "team"):
                raise payload_error(entity.entity_set_name, f"'{value}' is not a valid owner.")
        elif target.logical_name != allowed:
            raise payload_error(
                entity.entity_set_name,
                f"A resource reference to '{target.entity_set_name}' cannot be bound to navigation property "
                f"'{relationship.referencing_nav}', which expects '{allowed}'.",
            )
        if attribute != "ownerid":
            # Setting the owner is governed by Assign, not Append/AppendTo (security-access-rights.md: "Update of
            # the ownerid column ... ASSIGN"); create and update check it.
            self.security.require(self.caller.user_id, "Append", entity)
            self.security.require(self.caller.user_id, "AppendTo", target)
        if target.logical_name == "systemuser" and attribute == "ownerid":
            disabled = self.storage.scalar('SELECT isdisabled FROM "systemuser" WHERE systemuserid = ?', (target_id,))
            if disabled:
                raise DataverseError(400, "0x80040225", f"The specified user(Id = {target_id}) is disabled.")
        values[attribute] = target_id
        values[lookup_type_column(attribute)] = target.logical_name
        if names_object_type:
            values["objecttypecode"] = target.logical_name

    def _apply_owner(self, values: dict[str, Any]) -> None:
        owner_id = values.get("ownerid")
        owner_type = values.get(lookup_type_column("ownerid")) or "systemuser"
        if owner_id is None:
            return
        if owner_type == "team":
            self._set_lookup(values, "owningteam", owner_id, "team")
            values["owninguser"] = None
            values[lookup_type_column("owninguser")] = None
        else:
            self._set_lookup(values, "owninguser", owner_id, "systemuser")
            values["owningteam"] = None
            values[lookup_type_column("owningteam")] = None
        unit = self.security.business_unit_of(owner_id)
        if unit:
            self._set_lookup(values, "owningbusinessunit", unit, "businessunit")

    def _apply_defaults(self, entity: EntityDef, values: dict[str, Any]) -> None:
        fill_state_and_status(entity, values)
        for attribute in entity.attributes.values():
            if attribute.logical_name not in values and attribute.is_stored and attribute.default_value is not None:
                values[attribute.logical_name] = attribute.default_value
        if entity.is_activity and "activitytypecode" in self._columns(entity):
            values["activitytypecode"] = entity.logical_name
        has_money = any(
            a.type == AttributeType.MONEY and values.get(a.logical_name) is not None for a in entity.attributes.values()
        )
        if has_money and "transactioncurrencyid" in self._columns(entity) and not values.get("transactioncurrencyid"):
            currency = self.state.config.base_currency_id
            self._set_lookup(values, "transactioncurrencyid", currency, "transactioncurrency")
            values.setdefault("exchangerate", 1.0)

    def _apply_computed(self, entity: EntityDef, values: dict[str, Any], existing: dict[str, Any] | None) -> None:
        current = dict(existing or {})
        current.update(values)
        if entity.attribute("fullname") and ("firstname" in values or "lastname" in values or existing is None):
            parts = [current.get("firstname"), current.get("lastname")]
            values["fullname"] = " ".join(p for p in parts if p) or None
        if entity.attribute("yomifullname") and "fullname" in values:
            values["yomifullname"] = values["fullname"]
        rate = float(current.get("exchangerate") or 1.0)
        for attribute in entity.attributes.values():
            if attribute.type != AttributeType.MONEY or attribute.logical_name.endswith("_base"):
                continue
            twin = f"{attribute.logical_name}_base"
            if entity.attribute(twin) and attribute.logical_name in values:
                amount = values[attribute.logical_name]
                values[twin] = None if amount is None else round(float(amount) / rate, 4)
        if entity.logical_name == "contact" and "parentcustomerid" in values:
            if current.get(lookup_type_column("parentcustomerid")) == "account":
                values["accountid"] = values["parentcustomerid"]
                values[lookup_type_column("accountid")] = "account"
            else:
                values["accountid"] = None

    def _mirror_activity(self, entity: EntityDef, record_id: str) -> None:
        pointer = self.state.catalogue.find_entity("activitypointer")
        if pointer is None or entity.logical_name == "activitypointer":
            return
        row = self.storage.get(entity.logical_name, entity.primary_id, record_id)
        if row is None:
            return
        columns = set(self.storage.columns("activitypointer"))
        mirrored = {k: v for k, v in row.items() if k in columns}
        mirrored["activitytypecode"] = entity.logical_name
        mirrored["activityid"] = record_id
        if self.storage.get("activitypointer", "activityid", record_id) is None:
            self.storage.insert("activitypointer", mirrored)
        else:
            self.storage.update("activitypointer", "activityid", record_id, mirrored)

    def _create_children(
        self, parent: EntityDef, parent_id: str, relationship: RelationshipDef, items: list[dict[str, Any]]
    ) -> None:
        child_entity = self.state.catalogue.entity(relationship.referencing_entity)
        link = {
            relationship.referencing_attribute: parent_id,
            lookup_type_column(relationship.referencing_attribute): parent.logical_name,
        }
        for item in items:
            RecordWriter(self.state, self.caller, self.api_url).create(child_entity, item, key_values=link)

    def _associate_collection(
        self, relationship: RelationshipDef, parent_id: str, child_ids: list[str], parent: EntityDef
    ) -> None:
        child_entity = self.state.catalogue.entity(relationship.referencing_entity)
        for child_id in child_ids:
            self.set_lookup(child_entity, child_id, relationship.referencing_attribute, parent, parent_id)
