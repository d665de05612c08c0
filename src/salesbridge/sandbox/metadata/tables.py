"""Creating, updating and deleting tables: system columns and relationships of a custom table, notes and
activities, privileges and bulk-message filters, the ``CreateEntities`` action."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from salesbridge.sandbox.catalogue.builders import (
    ACTIVE_STATES,
    ACTIVE_STATUSES,
    SYSTEM,
    audit_columns,
    currency_columns,
    import_columns,
    lookup,
    memo,
    owner_columns,
    party_list,
    pk,
    state_columns,
    timezone_columns,
)
from salesbridge.sandbox.catalogue.builders import state as state_option
from salesbridge.sandbox.catalogue.builders import status as status_option
from salesbridge.sandbox.catalogue.cascades import standard_cascade
from salesbridge.sandbox.catalogue.definitions import (
    BULK_MESSAGES,
    AttributeDef,
    AttributeType,
    EntityDef,
    OwnershipType,
    RelationshipDef,
    RequiredLevel,
    quote_ident,
    stable_id,
)
from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.catalogue.standard_activities import activity_columns
from salesbridge.sandbox.errors import (
    DataverseError,
    bad_request,
)
from salesbridge.sandbox.metadata.bodies import (
    attribute_from_body,
    body_type,
    check_schema_name,
    label_text,
    required_text,
)
from salesbridge.sandbox.metadata.changes import Changes, apply
from salesbridge.sandbox.metadata.model import (
    CRM,
    FIRST_CUSTOM_TYPE_CODE,
    IDENTIFIER,
    METADATA_ROOTS,
    MONEY_LIMIT,
    plural_name,
)
from salesbridge.sandbox.metadata.request import Call, duplicate_attribute, duplicate_entity, not_customizable, ok
from salesbridge.sandbox.metadata.serialisation import failed_keys_meta
from salesbridge.sandbox.odata.messages import ApiResponse
from salesbridge.sandbox.organization.foundation import RowWriter
from salesbridge.sandbox.organization.security import VERBS, Depth, privilege_name
from salesbridge.sandbox.organization.state import SandboxState

# --------------------------------------------------------------------------------------------------------
# Creating tables
# --------------------------------------------------------------------------------------------------------


def _system_columns(entity: EntityDef, primary: AttributeDef) -> list[AttributeDef]:
    """The platform columns of a new custom table (standard and activity tables differ)."""
    if entity.is_activity:
        states = (
            state_option(0, "Open", 1),
            state_option(1, "Completed", 2),
            state_option(2, "Canceled", 3),
            state_option(3, "Scheduled", 4),
        )
        statuses = (
            status_option(1, "Open", 0),
            status_option(2, "Completed", 1),
            status_option(3, "Canceled", 2),
            status_option(4, "Scheduled", 3),
        )
        columns = [c for c in activity_columns(primary.max_length or 200) if c.logical_name != "subject"]
        columns += [
            primary,
            memo("description", "Description", 2000),
            *state_columns(states, statuses, "Activity Status"),
            *(
                party_list(name, label)
                for name, label in (
                    ("from", "From"),
                    ("to", "To"),
                    ("cc", "CC"),
                    ("bcc", "BCC"),
                    ("requiredattendees", "Required Attendees"),
                    ("optionalattendees", "Optional Attendees"),
                    ("organizer", "Organizer"),
                    ("customers", "Customers"),
                    ("partners", "Outsource Vendors"),
                    ("resources", "Resources"),
                )
            ),
        ]
        return columns
    key = pk(entity.primary_id, entity.display_name)
    key.schema_name = f"{entity.schema_name}Id"
    columns = [key, primary, *state_columns(ACTIVE_STATES, ACTIVE_STATUSES), *import_columns(), *timezone_columns()]
    if entity.ownership_type == OwnershipType.USER_OWNED:
        columns += owner_columns()
    else:
        columns.append(lookup("organizationid", "Organization Id", "organization", required=SYSTEM, read_only=True))
    return columns + audit_columns()


@dataclass(frozen=True)
class RelationshipSpec:
    schema_name: str
    referencing_entity: str
    referencing_attribute: str
    referenced_entity: str
    referencing_nav: str
    referenced_nav: str | None = None


def resolve_spec(catalogue: Catalogue, spec: RelationshipSpec, *, custom: bool = False) -> RelationshipDef | None:
    """A relationship from a spec; None when one of its tables is not in the catalogue."""
    if catalogue.find_entity(spec.referencing_entity) is None:
        return None
    if spec.referenced_entity == "owner":
        referenced_attribute = "ownerid"
    else:
        target = catalogue.find_entity(spec.referenced_entity)
        if target is None:
            return None
        referenced_attribute = target.primary_id
    referencing = catalogue.entity(spec.referencing_entity)
    return RelationshipDef(
        schema_name=spec.schema_name,
        referencing_entity=spec.referencing_entity,
        referencing_attribute=spec.referencing_attribute,
        referenced_entity=spec.referenced_entity,
        referenced_attribute=referenced_attribute,
        referencing_nav=spec.referencing_nav,
        referenced_nav=spec.referenced_nav or spec.schema_name,
        is_custom=custom,
        cascade=standard_cascade(
            spec.schema_name,
            spec.referencing_entity,
            spec.referencing_attribute,
            referencing_is_activity=referencing.is_activity,
        ),
    )


def _system_relationships(catalogue: Catalogue, entity: EntityDef) -> list[RelationshipSpec]:
    """Relationships Dataverse creates with a custom table.

    Ordinary tables: ``lk_<table>_createdby`` …, ``owner_<table>``, ``business_unit_<table>``, ``user_<table>``,
    ``team_<table>`` (or ``organization_<table>``), navigation properties named after the lookups. Activities
    follow the names Dataverse gives activity tables (``<table>_systemuser_createdby`` with
    ``createdby_<table>``, ``<target>_<entity set>`` with ``regardingobjectid_<target>_<table>``,
    ``<table>_activity_parties``).
    """
    name = entity.logical_name
    specs: list[RelationshipSpec] = []
    audit = ("createdby", "createdonbehalfby", "modifiedby", "modifiedonbehalfby")
    if entity.is_activity:
        specs += [RelationshipSpec(f"{name}_systemuser_{a}", name, a, "systemuser", f"{a}_{name}") for a in audit]
        specs += [
            RelationshipSpec(f"{name}_owner_ownerid", name, "ownerid", "owner", f"ownerid_{name}"),
            RelationshipSpec(
                f"{name}_businessunit_owningbusinessunit",
                name,
                "owningbusinessunit",
                "businessunit",
                f"owningbusinessunit_{name}",
            ),
            RelationshipSpec(f"{name}_systemuser_owninguser", name, "owninguser", "systemuser", f"owninguser_{name}"),
            RelationshipSpec(f"{name}_team_owningteam", name, "owningteam", "team", f"owningteam_{name}"),
            RelationshipSpec(
                f"{name}_transactioncurrency_transactioncurrencyid",
                name,
                "transactioncurrencyid",
                "transactioncurrency",
                f"transactioncurrencyid_{name}",
            ),
        ]
        for target in _regarding_targets(catalogue):
            specs.append(
                RelationshipSpec(
                    f"{target}_{entity.entity_set_name}",
                    name,
                    "regardingobjectid",
                    target,
                    f"regardingobjectid_{target}_{name}",
                )
            )
        specs.append(
            RelationshipSpec(
                f"{name}_activity_parties", "activityparty", "activityid", name, f"activityid_{name}_activityparty"
            )
        )
    else:
        specs += [RelationshipSpec(f"lk_{name}_{a}", name, a, "systemuser", a) for a in audit]
        if entity.ownership_type == OwnershipType.USER_OWNED:
            specs += [
                RelationshipSpec(f"owner_{name}", name, "ownerid", "owner", "ownerid"),
                RelationshipSpec(
                    f"business_unit_{name}", name, "owningbusinessunit", "businessunit", "owningbusinessunit"
                ),
                RelationshipSpec(f"user_{name}", name, "owninguser", "systemuser", "owninguser"),
                RelationshipSpec(f"team_{name}", name, "owningteam", "team", "owningteam"),
            ]
        else:
            specs.append(
                RelationshipSpec(f"organization_{name}", name, "organizationid", "organization", "organizationid")
            )
    return specs


def _regarding_targets(catalogue: Catalogue) -> list[str]:
    """Tables an activity can be regarding: those with activities enabled."""
    return [e.logical_name for e in catalogue.entities.values() if e.has_activities and not e.is_activity]


def _enable_notes(changes: Changes, entity: EntityDef) -> None:
    """``<table>_Annotations``: notes attached through ``objectid_<table>``."""
    catalogue = changes.catalogue
    annotation = catalogue.find_entity("annotation")
    if annotation is None or annotation.attribute("objectid") is None:
        return
    spec = RelationshipSpec(
        f"{entity.logical_name}_Annotations",
        "annotation",
        "objectid",
        entity.logical_name,
        f"objectid_{entity.logical_name}",
    )
    relationship = resolve_spec(catalogue, spec)
    if relationship is not None and relationship.schema_name not in catalogue.relationships:
        changes.add_relationship(relationship)
        changes.add_target(annotation, "objectid", entity.logical_name)


def _enable_activities(changes: Changes, entity: EntityDef) -> None:
    """Let every activity table be regarding ``entity`` (``regardingobjectid_<table>_<activity>``)."""
    catalogue = changes.catalogue
    for activity in list(catalogue.entities.values()):
        if not activity.is_activity or activity.attribute("regardingobjectid") is None:
            continue
        if activity.logical_name == "activitypointer":
            schema, nav = f"{entity.logical_name}_ActivityPointers", f"regardingobjectid_{entity.logical_name}"
        else:
            collection = activity.entity_set_name if activity.is_custom else f"{activity.schema_name}s"
            schema = f"{entity.logical_name}_{collection}"
            nav = f"regardingobjectid_{entity.logical_name}_{activity.logical_name}"
        spec = RelationshipSpec(schema, activity.logical_name, "regardingobjectid", entity.logical_name, nav)
        relationship = resolve_spec(catalogue, spec)
        if relationship is not None and relationship.schema_name not in catalogue.relationships:
            changes.add_relationship(relationship)
            changes.add_target(activity, "regardingobjectid", entity.logical_name)


def _default_subject() -> AttributeDef:
    """The primary name column an activity table gets when its definition brings none."""
    return AttributeDef(
        logical_name="subject",
        type=AttributeType.STRING,
        display_name="Subject",
        schema_name="Subject",
        max_length=200,
        required_level=RequiredLevel.APPLICATION_REQUIRED,
        is_primary_name=True,
    )


def next_type_code(catalogue: Catalogue) -> int:
    used = [e.object_type_code for e in catalogue.entities.values() if e.object_type_code >= FIRST_CUSTOM_TYPE_CODE]
    return max(used, default=FIRST_CUSTOM_TYPE_CODE - 1) + 1


def _ownership(body: Mapping[str, Any]) -> OwnershipType:
    value = body.get("OwnershipType", OwnershipType.USER_OWNED.value)
    if value in (OwnershipType.USER_OWNED.value, OwnershipType.ORGANIZATION_OWNED.value):
        return OwnershipType(value)
    raise DataverseError(400, "0x8004700d", "The specified ownership type mask is not valid for this operation")


def create_entity(call: Call, body: dict[str, Any]) -> EntityDef:
    """Create a custom table from an ``EntityMetadata`` body; returns it.

    Raises:
        DataverseError: 403 without ``prvCreateEntity``; 400 ``0x8004700b`` when the name is taken, 400 for an
            invalid definition (no string primary name column, activity rules, bad names).
    """
    call.require("prvCreateEntity")
    catalogue = call.catalogue
    schema_name = required_text(body, "SchemaName", "table")
    check_schema_name(schema_name, "table")
    logical_name = schema_name.lower()
    if catalogue.find_entity(logical_name) is not None:
        raise duplicate_entity()
    set_name = body.get("EntitySetName") or plural_name(logical_name)
    if not isinstance(set_name, str) or not IDENTIFIER.match(set_name):
        raise bad_request(f"'{set_name}' is not a valid EntitySetName.")
    if catalogue.entity_by_set(set_name) is not None or set_name in METADATA_ROOTS:
        raise duplicate_entity()
    is_activity = body.get("IsActivity") is True
    ownership = _ownership(body)
    has_notes = body.get("HasNotes") is True
    has_activities = body.get("HasActivities") is True
    if is_activity:
        if ownership != OwnershipType.USER_OWNED:
            raise DataverseError(400, "0x8004700d", "The specified ownership type mask is not valid for this operation")
        if has_activities:
            raise DataverseError(
                400,
                "0x8004F121",
                "A custom entity defined as an activity must not have a relationship with Activities.",
            )
        if body.get("HasNotes") is False:
            raise DataverseError(
                400,
                "0x8004F123",
                "A custom entity defined as an activity must have a relationship to Notes by default.",
            )
        has_notes = True
    raw_attributes = body.get("Attributes") or []
    if not isinstance(raw_attributes, list) or not all(isinstance(a, Mapping) for a in raw_attributes):
        raise bad_request("Attributes must be an array of column definitions.")
    primaries = [a for a in raw_attributes if a.get("IsPrimaryName") is True]
    if len(primaries) > 1 or (not primaries and not is_activity):
        raise bad_request("The table definition must include exactly one primary name column (IsPrimaryName true).")
    if primaries:
        if body_type(primaries[0]) != AttributeType.STRING:
            raise DataverseError(400, "0x8004700e", "Primary UI Attribute has to be of type String")
        # An activity's primary column is the platform's Subject, named so in the definition (custom-activities.md;
        # the SDK sample "Create a custom activity entity" sets PrimaryAttribute SchemaName "Subject").
        subject = is_activity and str(primaries[0].get("SchemaName") or "") == "Subject"
        primary = attribute_from_body(primaries[0], catalogue, primary=True, platform_name=subject)
    else:
        primary = _default_subject()
    if is_activity and primary.logical_name != "subject":
        raise DataverseError(
            400,
            "0x8004F127",
            "A custom entity defined as an activity cannot have primary attribute other than subject.",
        )
    others = [attribute_from_body(a, catalogue) for a in raw_attributes if not primaries or a is not primaries[0]]
    display = label_text(body.get("DisplayName")) or schema_name
    entity = EntityDef(
        logical_name=logical_name,
        entity_set_name=set_name,
        primary_id="activityid" if is_activity else f"{logical_name}id",
        primary_name=primary.logical_name,
        object_type_code=next_type_code(catalogue),
        display_name=display,
        display_collection_name=label_text(body.get("DisplayCollectionName")) or plural_name(display),
        schema_name=schema_name,
        ownership_type=ownership,
        is_activity=is_activity,
        is_custom=True,
        change_tracking_enabled=body.get("ChangeTrackingEnabled") is True,
        has_notes=has_notes,
        has_activities=has_activities,
        bulk_messages=frozenset(BULK_MESSAGES),
        description=label_text(body.get("Description")) or "",
    )
    entity.add(*_system_columns(entity, primary))
    if is_activity:
        entity.attributes["regardingobjectid"].targets = tuple(_regarding_targets(catalogue))
    for attribute in others:
        if attribute.type == AttributeType.LOOKUP:
            raise bad_request("Lookup columns are created through RelationshipDefinitions, not with the table.")
        if entity.attribute(attribute.logical_name) is not None:
            raise duplicate_attribute(attribute.schema_name, logical_name)
        entity.add(attribute)
        if attribute.type == AttributeType.MONEY:
            add_money_companions(entity, attribute)

    def work(changes: Changes) -> None:
        changes.add_entity(entity)
        for spec in _system_relationships(catalogue, entity):
            relationship = resolve_spec(catalogue, spec)
            if relationship is not None and relationship.schema_name not in catalogue.relationships:
                changes.add_relationship(relationship)
        if has_money(entity):
            add_currency_relationship(changes, entity)
        if is_activity:
            changes.add_target(catalogue.find_entity("activityparty"), "activityid", logical_name)
        if has_notes:
            _enable_notes(changes, entity)
        if has_activities:
            _enable_activities(changes, entity)
        call.state.storage.ensure_table(entity)
        grant_to_administrators(call.state, entity)
        _register_bulk_messages(call.state, entity)

    apply(call, work)
    return entity


def grant_to_administrators(state: SandboxState, entity: EntityDef) -> None:
    """Privilege rows for the new table, held at Global depth by every System Administrator role."""
    if state.catalogue.find_entity("privilege") is None or state.catalogue.find_entity("role") is None:
        return  # a catalogue without the security tables has no privileges to keep
    security = state.security
    security.ensure_privileges()
    grants = {privilege_name(verb, entity): Depth.GLOBAL for verb in VERBS}
    rows = state.storage.conn.execute('SELECT roleid FROM "role" WHERE name = ?', ("System Administrator",))
    for (role_id,) in rows.fetchall():
        security.grant(str(role_id), grants)


def _register_bulk_messages(state: SandboxState, entity: EntityDef) -> None:
    """``sdkmessagefilter`` rows for the table's bulk messages, so support probes find them."""
    if state.catalogue.find_entity("sdkmessagefilter") is None or state.catalogue.find_entity("sdkmessage") is None:
        return
    writer = RowWriter(state)
    for message in sorted(entity.bulk_messages):
        message_id = state.storage.scalar('SELECT sdkmessageid FROM "sdkmessage" WHERE name = ?', (message,))
        if message_id is None:
            continue
        writer.insert(
            "sdkmessagefilter",
            {
                "sdkmessagefilterid": stable_id("sdkmessagefilter", message, entity.logical_name),
                "sdkmessageid": str(message_id),
                "sdkmessageid__type": "sdkmessage",
                "primaryobjecttypecode": entity.logical_name,
            },
        )


def create_entities_action(call: Call) -> ApiResponse:
    """``POST CreateEntities`` (Microsoft's Python SDK): create every table of ``Entities``.

    Raises:
        DataverseError: as :func:`create_entity`; 400 without an ``Entities`` array.
    """
    body = call.body()
    definitions = body.get("Entities")
    if not isinstance(definitions, list) or not definitions or not all(isinstance(d, dict) for d in definitions):
        raise bad_request("The 'Entities' parameter must be a non-empty array of entity definitions.")
    created: list[EntityDef] = []
    try:
        for definition in definitions:
            created.append(create_entity(call, definition))
    except BaseException:
        for entity in created:
            _forget_created(call, entity)
        raise
    # undocumented: the shape of CreateEntitiesResponse (clients read the tables back from EntityDefinitions).
    return ok(
        {
            "@odata.context": call.context(f"{CRM}CreateEntitiesResponse"),
            "EntityIds": [entity.metadata_id for entity in created],
        }
    )


def _forget_created(call: Call, entity: EntityDef) -> None:
    changes = Changes(call.catalogue)
    _detach_entity(changes, entity)


# --------------------------------------------------------------------------------------------------------
# Updating and deleting tables
# --------------------------------------------------------------------------------------------------------


def update_entity(call: Call, entity: EntityDef, body: dict[str, Any], *, replace: bool) -> None:
    """PUT/PATCH of a table: labels, ``ChangeTrackingEnabled``, ``HasNotes`` and ``HasActivities``.

    Change tracking, notes and activities can be enabled, never disabled again. Other properties of a PUT
    body are accepted as they are and ignored.

    Raises:
        DataverseError: 403 without ``prvWriteEntity``; 400 when disabling one of those settings or enabling
            change tracking where ``CanChangeTrackingBeEnabled`` is false.
    """
    call.require("prvWriteEntity")
    del replace  # PUT replaces the definition in Dataverse; the sandbox applies the properties it models.
    for name in ("LogicalName", "SchemaName", "EntitySetName", "IsActivity", "OwnershipType"):
        current = {
            "LogicalName": entity.logical_name,
            "SchemaName": entity.schema_name,
            "EntitySetName": entity.entity_set_name,
            "IsActivity": entity.is_activity,
            "OwnershipType": entity.ownership_type.value,
        }[name]
        if name in body and body[name] != current:
            raise bad_request(f"The {name} of a table cannot be changed.")
    tracking = body.get("ChangeTrackingEnabled")
    if tracking is False and entity.change_tracking_enabled:
        raise bad_request(f"Change tracking cannot be disabled on the '{entity.logical_name}' table once enabled.")
    if tracking is True and not entity.change_tracking_enabled and not entity.can_change_tracking_be_enabled:
        raise bad_request(f"Change tracking cannot be enabled on the '{entity.logical_name}' table.")
    for name, flag in (("HasNotes", entity.has_notes), ("HasActivities", entity.has_activities)):
        if body.get(name) is False and flag:
            raise bad_request(f"{name} cannot be turned off on the '{entity.logical_name}' table once enabled.")
    if body.get("HasActivities") is True and entity.is_activity:
        raise DataverseError(
            400, "0x8004F121", "A custom entity defined as an activity must not have a relationship with Activities."
        )

    def work(changes: Changes) -> None:
        if tracking is True:
            changes.set_field(entity, "change_tracking_enabled", True)
        for name, attribute in (
            ("DisplayName", "display_name"),
            ("DisplayCollectionName", "display_collection_name"),
            ("Description", "description"),
        ):
            text = label_text(body.get(name))
            if text is not None:
                changes.set_field(entity, attribute, text)
        if body.get("HasNotes") is True and not entity.has_notes:
            changes.set_field(entity, "has_notes", True)
            _enable_notes(changes, entity)
        if body.get("HasActivities") is True and not entity.has_activities:
            changes.set_field(entity, "has_activities", True)
            _enable_activities(changes, entity)

    apply(call, work)


def delete_entity(call: Call, entity: EntityDef) -> None:
    """DELETE a custom table: its definition, relationships, rows (an activity's parties too) and storage table.

    Raises:
        DataverseError: 403 without ``prvWriteEntity``; 400 for a system table or one another table's custom
            lookup still refers to.
    """
    call.require("prvWriteEntity")
    if not entity.is_custom:
        raise not_customizable("entity")
    for relationship in call.catalogue.relationships.values():
        if (
            relationship.is_custom
            and relationship.referenced_entity == entity.logical_name
            and relationship.referencing_entity != entity.logical_name
        ):
            raise bad_request(
                f"The table '{entity.logical_name}' cannot be deleted: the relationship "
                f"'{relationship.schema_name}' of '{relationship.referencing_entity}' depends on it.",
            )

    def work(changes: Changes) -> None:
        _detach_entity(changes, entity)
        storage = call.state.storage
        if entity.is_activity and call.catalogue.find_entity("activityparty") is not None:
            # The activities' parties go with them, as their rows in activitypointer do.
            storage.conn.execute(
                f'DELETE FROM "activityparty" WHERE activityid IN '
                f"(SELECT {quote_ident(entity.primary_id)} FROM {quote_ident(entity.logical_name)})"
            )
        storage.conn.execute(f"DROP TABLE IF EXISTS {quote_ident(entity.logical_name)}")
        storage.conn.execute("DELETE FROM _tombstones WHERE entity = ?", (entity.logical_name,))
        if call.catalogue.find_entity("sdkmessagefilter") is not None:
            storage.conn.execute(
                'DELETE FROM "sdkmessagefilter" WHERE primaryobjecttypecode = ?', (entity.logical_name,)
            )
        if call.catalogue.find_entity("activitypointer") is not None and entity.is_activity:
            storage.conn.execute('DELETE FROM "activitypointer" WHERE activitytypecode = ?', (entity.logical_name,))
        storage.set_meta(failed_keys_meta(entity), "[]")

    apply(call, work)


def _detach_entity(changes: Changes, entity: EntityDef) -> None:
    """Take a table out of the catalogue with its relationships and the lookup targets naming it."""
    catalogue = changes.catalogue
    for relationship in list(catalogue.relationships.values()):
        if entity.logical_name in (relationship.referencing_entity, relationship.referenced_entity):
            changes.remove_relationship(relationship)
    for other in catalogue.entities.values():
        if other is entity:
            continue
        for attribute in other.attributes.values():
            if entity.logical_name in attribute.targets:
                changes.set_field(attribute, "targets", tuple(t for t in attribute.targets if t != entity.logical_name))
    changes.remove_entity(entity)


# --- money columns: the base-currency twin and the currency lookup Dataverse adds -------------------


def has_money(entity: EntityDef) -> bool:
    return any(a.type == AttributeType.MONEY for a in entity.attributes.values())


def add_money_companions(entity: EntityDef, attribute: AttributeDef, changes: Changes | None = None) -> None:
    """A currency column brings its base-currency twin and, once per table, the currency and exchange rate."""
    twin = AttributeDef(
        logical_name=f"{attribute.logical_name}_base",
        type=AttributeType.MONEY,
        display_name=f"{attribute.display_name} (Base)",
        schema_name=f"{attribute.schema_name}_Base",
        precision=4,
        min_value=-MONEY_LIMIT,
        max_value=MONEY_LIMIT,
        is_valid_for_create=False,
        is_valid_for_update=False,
        is_custom=True,
    )
    additions = [twin] + [c for c in currency_columns() if entity.attribute(c.logical_name) is None]
    for addition in additions:
        if changes is None:
            entity.add(addition)
        else:
            changes.add_attribute(entity, addition)


def add_currency_relationship(changes: Changes, entity: EntityDef) -> None:
    name = entity.logical_name
    if entity.is_activity:
        return  # activities carry their currency relationship from the start
    spec = RelationshipSpec(
        f"TransactionCurrency_{name}", name, "transactioncurrencyid", "transactioncurrency", "transactioncurrencyid"
    )
    relationship = resolve_spec(changes.catalogue, spec)
    if relationship is not None and relationship.schema_name not in changes.catalogue.relationships:
        changes.add_relationship(relationship)
