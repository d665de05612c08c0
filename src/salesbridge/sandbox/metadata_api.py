"""The metadata API: EntityDefinitions, attributes and their casts, relationships, keys, and creating
custom tables, columns and alternate keys as a solution installer does.

Shapes follow ``webapi/query-metadata-web-api.md`` and ``create-update-entity-definitions-using-web-api.md``:
labels as ``{"LocalizedLabels": [...], "UserLocalizedLabel": {...}}``, managed properties as
``{"Value": …, "CanBeChanged": …}``, ``@odata.type`` on attributes. Metadata collections are not paged.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from salesbridge.sandbox.errors import DataverseError, bad_request, method_not_allowed, resource_not_found
from salesbridge.sandbox.messages import ApiRequest, ApiResponse
from salesbridge.sandbox.routing import Segment, parse_guid, parse_named_args, unquote_literal
from salesbridge.sandbox.schema import (
    BULK_MESSAGES,
    METADATA_TYPE_NAMES,
    AttributeDef,
    AttributeType,
    EntityDef,
    KeyDef,
    OptionDef,
    OwnershipType,
    RelationshipDef,
    RequiredLevel,
    stable_id,
)
from salesbridge.sandbox.security import Depth, privilege_name
from salesbridge.sandbox.state import SandboxState

CAST_PREFIX = "Microsoft.Dynamics.CRM."
_NULL_ID = "00000000-0000-0000-0000-000000000000"
_ACTIVITY_TARGETS = ("account", "contact", "lead", "opportunity")
_ATTRIBUTE_TYPE_NAMES = {
    AttributeType.STRING: "StringType",
    AttributeType.MEMO: "MemoType",
    AttributeType.INTEGER: "IntegerType",
    AttributeType.BIGINT: "BigIntType",
    AttributeType.DECIMAL: "DecimalType",
    AttributeType.DOUBLE: "DoubleType",
    AttributeType.MONEY: "MoneyType",
    AttributeType.BOOLEAN: "BooleanType",
    AttributeType.DATETIME: "DateTimeType",
    AttributeType.UNIQUEIDENTIFIER: "UniqueidentifierType",
    AttributeType.LOOKUP: "LookupType",
    AttributeType.CUSTOMER: "CustomerType",
    AttributeType.OWNER: "OwnerType",
    AttributeType.PICKLIST: "PicklistType",
    AttributeType.STATE: "StateType",
    AttributeType.STATUS: "StatusType",
    AttributeType.ENTITYNAME: "EntityNameType",
    AttributeType.PARTYLIST: "PartyListType",
    AttributeType.VIRTUAL: "VirtualType",
}
_CREATABLE_TYPES = {
    "StringAttributeMetadata": AttributeType.STRING,
    "MemoAttributeMetadata": AttributeType.MEMO,
    "IntegerAttributeMetadata": AttributeType.INTEGER,
    "BigIntAttributeMetadata": AttributeType.BIGINT,
    "DecimalAttributeMetadata": AttributeType.DECIMAL,
    "DoubleAttributeMetadata": AttributeType.DOUBLE,
    "MoneyAttributeMetadata": AttributeType.MONEY,
    "BooleanAttributeMetadata": AttributeType.BOOLEAN,
    "DateTimeAttributeMetadata": AttributeType.DATETIME,
    "PicklistAttributeMetadata": AttributeType.PICKLIST,
    "UniqueIdentifierAttributeMetadata": AttributeType.UNIQUEIDENTIFIER,
}


def label(text: str, text_es: str | None = None) -> dict[str, Any]:
    """A Label object (English, plus Spanish when known)."""
    localized = [{"Label": text, "LanguageCode": 1033, "IsManaged": True, "MetadataId": None, "HasChanged": None}]
    if text_es:
        localized.append(
            {"Label": text_es, "LanguageCode": 3082, "IsManaged": True, "MetadataId": None, "HasChanged": None}
        )
    return {"LocalizedLabels": localized, "UserLocalizedLabel": localized[0]}


def _managed(value: object, name: str = "") -> dict[str, Any]:
    return {"Value": value, "CanBeChanged": True, "ManagedPropertyLogicalName": name}


def entity_metadata(entity: EntityDef) -> dict[str, Any]:
    """EntityMetadata of a table (without its collections)."""
    return {
        "MetadataId": entity.metadata_id,
        "LogicalName": entity.logical_name,
        "SchemaName": entity.schema_name,
        "EntitySetName": entity.entity_set_name,
        "LogicalCollectionName": entity.entity_set_name,
        "CollectionSchemaName": entity.schema_name + "s",
        "PrimaryIdAttribute": entity.primary_id,
        "PrimaryNameAttribute": entity.primary_name,
        "ObjectTypeCode": entity.object_type_code,
        "OwnershipType": entity.ownership_type.value,
        "IsActivity": entity.is_activity,
        "IsCustomEntity": entity.is_custom,
        "IsManaged": not entity.is_custom,
        "ChangeTrackingEnabled": entity.change_tracking_enabled,
        "CanChangeTrackingBeEnabled": _managed(entity.can_change_tracking_be_enabled, "canchangetrackingbeenabled"),
        "IsOptimisticConcurrencyEnabled": entity.is_optimistic_concurrency_enabled,
        "HasNotes": entity.has_notes,
        "HasActivities": entity.has_activities,
        "DisplayName": label(entity.display_name),
        "DisplayCollectionName": label(entity.display_collection_name),
        "Description": label(entity.description) if entity.description else label(""),
    }


def option_metadata(option: OptionDef) -> dict[str, Any]:
    """OptionMetadata (with State on status options and DefaultStatus on state options)."""
    value: dict[str, Any] = {
        "Value": option.value,
        "Label": label(option.label, option.label_es),
        "Description": label(""),
        "Color": None,
        "IsManaged": True,
    }
    if option.state is not None:
        value["State"] = option.state
    if option.default_status is not None:
        value["DefaultStatus"] = option.default_status
    return value


def attribute_metadata(entity: EntityDef, attribute: AttributeDef) -> dict[str, Any]:
    """AttributeMetadata of a column, with the fields of its type."""
    kind = attribute.type
    value: dict[str, Any] = {
        "@odata.type": f"#{CAST_PREFIX}{METADATA_TYPE_NAMES[kind]}",
        "MetadataId": attribute.metadata_id(entity.logical_name),
        "LogicalName": attribute.logical_name,
        "SchemaName": attribute.schema_name,
        "EntityLogicalName": entity.logical_name,
        "AttributeType": kind.value,
        "AttributeTypeName": {"Value": _ATTRIBUTE_TYPE_NAMES[kind]},
        "DisplayName": label(attribute.display_name),
        "Description": label(attribute.description),
        "RequiredLevel": _managed(attribute.required_level.value, "canmodifyrequirementlevelsettings"),
        "IsValidForCreate": attribute.is_valid_for_create,
        "IsValidForUpdate": attribute.is_valid_for_update,
        "IsValidForRead": attribute.is_valid_for_read,
        "IsPrimaryId": attribute.is_primary_id,
        "IsPrimaryName": attribute.is_primary_name,
        "IsCustomAttribute": attribute.is_custom,
        "IsLogical": not attribute.is_stored,
        "AttributeOf": None,
    }
    if kind in (AttributeType.STRING, AttributeType.MEMO):
        value["MaxLength"] = attribute.max_length
        value["Format"] = "Text" if kind == AttributeType.STRING else "TextArea"
    if attribute.is_lookup or kind == AttributeType.PARTYLIST:
        value["Targets"] = list(attribute.targets)
    if kind == AttributeType.DATETIME:
        value["Format"] = "DateOnly" if attribute.date_only else "DateAndTime"
        value["DateTimeBehavior"] = {"Value": "DateOnly" if attribute.date_only else "UserLocal"}
    if kind in (
        AttributeType.INTEGER,
        AttributeType.BIGINT,
        AttributeType.DECIMAL,
        AttributeType.DOUBLE,
        AttributeType.MONEY,
    ):
        value["MinValue"] = attribute.min_value
        value["MaxValue"] = attribute.max_value
        if kind in (AttributeType.DECIMAL, AttributeType.DOUBLE, AttributeType.MONEY):
            value["Precision"] = attribute.precision if attribute.precision is not None else 2
    return value


def option_sets(attribute: AttributeDef, options: tuple[OptionDef, ...]) -> dict[str, Any]:
    """The OptionSet / GlobalOptionSet pair of a choice column (exactly one is non-null)."""
    option_set: dict[str, Any] = {
        "MetadataId": stable_id("optionset", attribute.global_option_set or attribute.logical_name),
        "Name": attribute.global_option_set or attribute.logical_name,
        "IsGlobal": attribute.global_option_set is not None,
        "OptionSetType": attribute.type.value if attribute.type != AttributeType.PICKLIST else "Picklist",
    }
    if attribute.type == AttributeType.BOOLEAN:
        option_set["OptionSetType"] = "Boolean"
        option_set["TrueOption"] = option_metadata(OptionDef(1, attribute.true_label))
        option_set["FalseOption"] = option_metadata(OptionDef(0, attribute.false_label))
    else:
        option_set["Options"] = [option_metadata(o) for o in options]
    if attribute.global_option_set:
        return {"OptionSet": None, "GlobalOptionSet": option_set}
    return {"OptionSet": option_set, "GlobalOptionSet": None}


def relationship_metadata(relationship: RelationshipDef) -> dict[str, Any]:
    """OneToManyRelationshipMetadata."""
    return {
        "@odata.type": f"#{CAST_PREFIX}OneToManyRelationshipMetadata",
        "MetadataId": relationship.metadata_id(),
        "SchemaName": relationship.schema_name,
        "RelationshipType": "OneToManyRelationship",
        "IsCustomRelationship": relationship.is_custom,
        "ReferencedEntity": relationship.referenced_entity,
        "ReferencedAttribute": relationship.referenced_attribute,
        "ReferencingEntity": relationship.referencing_entity,
        "ReferencingAttribute": relationship.referencing_attribute,
        "ReferencedEntityNavigationPropertyName": relationship.referenced_nav,
        "ReferencingEntityNavigationPropertyName": relationship.referencing_nav,
    }


def key_metadata(entity: EntityDef, key: KeyDef) -> dict[str, Any]:
    """EntityKeyMetadata."""
    return {
        "MetadataId": key.metadata_id(entity.logical_name),
        "LogicalName": key.logical_name,
        "SchemaName": key.schema_name or key.logical_name,
        "EntityLogicalName": entity.logical_name,
        "KeyAttributes": list(key.key_attributes),
        "DisplayName": label(key.display_name or key.logical_name),
        "EntityKeyIndexStatus": "Active",
    }


class _MetadataFilter:
    """A small evaluator for the ``$filter`` expressions metadata queries use (eq/ne joined by and/or)."""

    _CLAUSE = re.compile(r"^\s*([A-Za-z_/]+)\s+(eq|ne)\s+(.+?)\s*$")

    def __init__(self, text: str) -> None:
        self.groups: list[list[tuple[list[str], str, object]]] = []
        for alternative in re.split(r"\s+or\s+", text.strip()):
            clauses = []
            for clause in re.split(r"\s+and\s+", alternative.strip().strip("()")):
                match = self._CLAUSE.match(clause.strip("() "))
                if not match:
                    raise bad_request(f"The metadata query filter '{clause}' is not supported.", "0x80060888")
                clauses.append((match.group(1).split("/"), match.group(2), self._literal(match.group(3))))
            self.groups.append(clauses)

    @staticmethod
    def _literal(text: str) -> object:
        enum = re.match(r"^Microsoft\.Dynamics\.CRM\.\w+'(.*)'$", text)
        if enum:
            return enum.group(1)
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if text.startswith("'"):
            return unquote_literal(text)
        try:
            return int(text)
        except ValueError:
            return parse_guid(text) or text

    def matches(self, item: dict[str, Any]) -> bool:
        for clauses in self.groups:
            if all(self._clause(item, path, op, expected) for path, op, expected in clauses):
                return True
        return False

    @staticmethod
    def _clause(item: dict[str, Any], path: list[str], op: str, expected: object) -> bool:
        value: Any = item
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and isinstance(expected, str):
            equal = value.lower() == expected.lower()
        else:
            equal = value == expected
        return equal if op == "eq" else not equal


def _query(request: ApiRequest) -> dict[str, str]:
    return dict(request.query)


def _select(item: dict[str, Any], select: str | None, always: tuple[str, ...] = ("MetadataId",)) -> dict[str, Any]:
    if not select:
        return item
    names = [n.strip() for n in select.split(",") if n.strip()]
    return {k: v for k, v in item.items() if k in names or k in always or k == "@odata.type"}


def _parse_expand(text: str | None) -> dict[str, dict[str, str]]:
    """``Attributes($select=a,b),Keys`` → ``{"Attributes": {"$select": "a,b"}, "Keys": {}}``."""
    result: dict[str, dict[str, str]] = {}
    if not text:
        return result
    depth, start = 0, 0
    parts = []
    for index, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    for part in parts:
        name, _, rest = part.strip().partition("(")
        options: dict[str, str] = {}
        for option in rest.rstrip(")").split(";"):
            key, sep, value = option.partition("=")
            if sep:
                options[key.strip()] = value.strip()
        result[name.strip()] = options
    return result


class MetadataApi:
    """Answers metadata requests for one caller."""

    def __init__(self, state: SandboxState, request: ApiRequest, caller_id: str, api_url: str) -> None:
        self.state = state
        self.request = request
        self.caller_id = caller_id
        self.api_url = api_url
        self.catalogue = state.catalogue

    def find_entity(self, args: str | None) -> EntityDef:
        """The table named by ``LogicalName='x'`` or a MetadataId; 404 ``0x80040217`` when unknown."""
        text = args or ""
        guid = parse_guid(text)
        name = ""
        if guid:
            for entity in self.catalogue.entities.values():
                if entity.metadata_id == guid:
                    return entity
        else:
            named = parse_named_args(text)
            name = unquote_literal(named.get("LogicalName", "")).lower()
            found = self.catalogue.find_entity(name)
            if found is not None:
                return found
        raise DataverseError(
            404,
            "0x80040217",
            f"Could not find an entity with name {name or 'null'} and id {guid or _NULL_ID}",
        )

    def entity_json(self, entity: EntityDef, select: str | None, expand: dict[str, dict[str, str]]) -> dict[str, Any]:
        item = _select(entity_metadata(entity), select)
        for name, options in expand.items():
            if name == "Attributes":
                attributes = [attribute_metadata(entity, a) for a in entity.attributes.values()]
                item[name] = self._filtered(attributes, options)
            elif name == "ManyToOneRelationships":
                rows = [relationship_metadata(r) for r in self.catalogue.many_to_one(entity.logical_name)]
                item[name] = self._filtered(rows, options)
            elif name == "OneToManyRelationships":
                rows = [relationship_metadata(r) for r in self.catalogue.one_to_many(entity.logical_name)]
                item[name] = self._filtered(rows, options)
            elif name == "ManyToManyRelationships":
                item[name] = []
            elif name == "Keys":
                item[name] = self._filtered([key_metadata(entity, k) for k in entity.keys], options)
            else:
                raise resource_not_found(name)
        return item

    def _filtered(self, rows: list[dict[str, Any]], options: dict[str, str]) -> list[dict[str, Any]]:
        if "$filter" in options:
            condition = _MetadataFilter(options["$filter"])
            rows = [r for r in rows if condition.matches(r)]
        return [_select(r, options.get("$select")) for r in rows]

    def handle(self, segments: list[Segment]) -> ApiResponse:
        head = segments[0]
        if head.name == "GlobalOptionSetDefinitions":
            return self._global_option_set(head)
        if head.name == "RelationshipDefinitions":
            return self._relationship_definitions(head)
        query = _query(self.request)
        method = self.request.method
        if head.args is None:
            if len(segments) > 1:
                raise resource_not_found(segments[1].name)
            if method == "GET":
                return self._entity_collection(query)
            if method == "POST":
                return self._create_entity()
            raise method_not_allowed(f"The HTTP method '{method}' is not allowed on EntityDefinitions.")
        entity = self.find_entity(head.args)
        if len(segments) == 1:
            if method == "GET":
                item = self.entity_json(entity, query.get("$select"), _parse_expand(query.get("$expand")))
                suffix = f"({query['$select']})" if query.get("$select") else ""
                context = f"{self.api_url}$metadata#EntityDefinitions{suffix}/$entity"
                return ApiResponse.json(200, {"@odata.context": context, **item})
            if method in ("PUT", "PATCH"):
                return self._update_entity(entity)
            raise method_not_allowed(f"The HTTP method '{method}' is not allowed on this table definition.")
        second = segments[1]
        if second.name == "Attributes":
            return self._attributes(entity, segments[1:], query)
        if second.name in ("ManyToOneRelationships", "OneToManyRelationships"):
            relationships = (
                self.catalogue.many_to_one(entity.logical_name)
                if second.name == "ManyToOneRelationships"
                else self.catalogue.one_to_many(entity.logical_name)
            )
            rows = self._filtered([relationship_metadata(r) for r in relationships], query)
            context = f"{self.api_url}$metadata#EntityDefinitions('{entity.metadata_id}')/{second.name}"
            return ApiResponse.json(200, {"@odata.context": context, "value": rows})
        if second.name == "Keys":
            if method == "POST":
                return self._create_key(entity)
            rows = self._filtered([key_metadata(entity, k) for k in entity.keys], query)
            context = f"{self.api_url}$metadata#EntityDefinitions('{entity.metadata_id}')/Keys"
            return ApiResponse.json(200, {"@odata.context": context, "value": rows})
        raise resource_not_found(second.name)

    def _entity_collection(self, query: dict[str, str]) -> ApiResponse:
        condition = _MetadataFilter(query["$filter"]) if query.get("$filter") else None
        expand = _parse_expand(query.get("$expand"))
        values = []
        for entity in self.catalogue.entities.values():
            full = entity_metadata(entity)
            if condition is not None and not condition.matches(full):
                continue
            values.append(self.entity_json(entity, query.get("$select"), expand))
        suffix = f"({query['$select']})" if query.get("$select") else ""
        return ApiResponse.json(
            200, {"@odata.context": f"{self.api_url}$metadata#EntityDefinitions{suffix}", "value": values}
        )

    def _attributes(self, entity: EntityDef, segments: list[Segment], query: dict[str, str]) -> ApiResponse:
        attributes_segment = segments[0]
        cast = segments[1].name if len(segments) > 1 else None
        method = self.request.method
        if attributes_segment.args is not None:
            named = parse_named_args(attributes_segment.args) if "=" in attributes_segment.args else {}
            name = unquote_literal(named.get("LogicalName", "")).lower()
            guid = parse_guid(attributes_segment.args)
            attribute = (
                entity.attribute(name)
                if name
                else next((a for a in entity.attributes.values() if a.metadata_id(entity.logical_name) == guid), None)
            )
            if attribute is None:
                raise DataverseError(
                    404,
                    "0x80040217",
                    f"Could not find attribute with name {name or guid} on entity {entity.logical_name}",
                )
            if method == "DELETE":
                return self._delete_attribute(entity, attribute)
            item = self._attribute_json(entity, attribute, query)
            context = f"{self.api_url}$metadata#EntityDefinitions('{entity.metadata_id}')/Attributes/$entity"
            return ApiResponse.json(200, {"@odata.context": context, **item})
        if method == "POST":
            return self._create_attribute(entity)
        type_name = ""
        if cast:
            type_name = cast.removeprefix(CAST_PREFIX)
            if type_name not in set(METADATA_TYPE_NAMES.values()) or type_name in ("AttributeMetadata",):
                raise resource_not_found(cast)
        rows = [
            self._attribute_json(entity, a, {})
            for a in entity.attributes.values()
            if not type_name or METADATA_TYPE_NAMES[a.type] == type_name
        ]
        rows_filtered = self._filtered(rows, {k: v for k, v in query.items() if k in ("$filter",)})
        select = query.get("$select")
        expand = _parse_expand(query.get("$expand"))
        result = []
        for row in rows_filtered:
            attribute = entity.attributes[row["LogicalName"]]
            item = _select(row, select)
            item.update(self._attribute_expansions(attribute, expand))
            result.append(item)
        context = f"{self.api_url}$metadata#EntityDefinitions('{entity.metadata_id}')/Attributes"
        if cast:
            context += f"/{cast}"
        return ApiResponse.json(200, {"@odata.context": context, "value": result})

    def _attribute_json(self, entity: EntityDef, attribute: AttributeDef, query: dict[str, str]) -> dict[str, Any]:
        item = _select(attribute_metadata(entity, attribute), query.get("$select"))
        item.update(self._attribute_expansions(attribute, _parse_expand(query.get("$expand"))))
        return item

    def _attribute_expansions(self, attribute: AttributeDef, expand: dict[str, dict[str, str]]) -> dict[str, Any]:
        if not expand:
            return {}
        choice = attribute.type in (
            AttributeType.PICKLIST,
            AttributeType.STATE,
            AttributeType.STATUS,
            AttributeType.BOOLEAN,
        )
        if not choice:
            raise bad_request("OptionSet can only be expanded on choice columns; cast the Attributes segment first.")
        options = attribute.options
        if attribute.global_option_set:
            options = self.catalogue.global_option_sets.get(attribute.global_option_set, options)
        sets = option_sets(attribute, options)
        return {name: sets[name] for name in expand if name in sets}

    def _global_option_set(self, head: Segment) -> ApiResponse:
        named = parse_named_args(head.args or "")
        name = unquote_literal(named.get("Name", ""))
        options = self.catalogue.global_option_sets.get(name)
        if options is None:
            raise DataverseError(404, "0x80040217", f"Could not find optionset with name {name}")
        payload = {
            "@odata.context": f"{self.api_url}$metadata#GlobalOptionSetDefinitions/$entity",
            "@odata.type": f"#{CAST_PREFIX}OptionSetMetadata",
            "MetadataId": stable_id("optionset", name),
            "Name": name,
            "IsGlobal": True,
            "OptionSetType": "Picklist",
            "Options": [option_metadata(o) for o in options],
        }
        return ApiResponse.json(200, payload)

    def _relationship_definitions(self, head: Segment) -> ApiResponse:
        if self.request.method == "POST" and head.args is None:
            return self._create_relationship()
        named = parse_named_args(head.args or "")
        name = unquote_literal(named.get("SchemaName", ""))
        relationship = self.catalogue.relationships.get(name)
        if relationship is None:
            raise DataverseError(404, "0x80040217", f"Could not find relationship with name {name}")
        payload = {
            "@odata.context": f"{self.api_url}$metadata#RelationshipDefinitions/$entity",
            **relationship_metadata(relationship),
        }
        return ApiResponse.json(200, payload)

    def _body(self) -> dict[str, Any]:
        try:
            body = self.request.json()
        except ValueError:
            raise bad_request("The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object.")
        return body

    def _require_customizer(self) -> None:
        self.state.security.require_named(self.caller_id, "prvCreateEntity")

    def _create_key(self, entity: EntityDef) -> ApiResponse:
        self._require_customizer()
        body = self._body()
        schema = str(body.get("SchemaName") or "")
        attributes = [str(a).lower() for a in body.get("KeyAttributes") or []]
        if not schema or not attributes:
            raise bad_request("SchemaName and KeyAttributes are required to create a key.")
        for name in attributes:
            if entity.attribute(name) is None:
                raise bad_request(f"The attribute '{name}' does not exist on entity '{entity.logical_name}'.")
        if any(k.logical_name == schema.lower() for k in entity.keys):
            raise DataverseError(400, "0x80060887", f"An entity key with the name {schema} already exists.")
        key = KeyDef(
            schema.lower(),
            tuple(attributes),
            schema_name=schema,
            display_name=_label_text(body.get("DisplayName")) or schema,
        )
        entity.keys.append(key)
        try:
            self.state.storage.create_index(entity.logical_name, attributes, unique=True)
        except sqlite3.IntegrityError as exc:
            entity.keys.remove(key)
            raise DataverseError(
                400, "0x80060892", f"The key {schema} cannot be activated: existing records violate it ({exc})."
            ) from None
        url = f"{self.api_url}EntityDefinitions({entity.metadata_id})/Keys({key.metadata_id(entity.logical_name)})"
        return ApiResponse.empty(204, {"OData-EntityId": url})

    def _create_entity(self) -> ApiResponse:
        self._require_customizer()
        body = self._body()
        schema = str(body.get("SchemaName") or "")
        logical = schema.lower()
        if not re.match(r"^[a-z][a-z0-9]*_[a-z0-9_]+$", logical):
            raise bad_request(f"'{schema}' is not a valid table name: it needs a publisher prefix, e.g. new_{schema}.")
        if self.catalogue.find_entity(logical) is not None:
            raise DataverseError(400, "0x80040237", f"An entity with the specified name {logical} already exists.")
        is_activity = bool(body.get("IsActivity"))
        primary_id = "activityid" if is_activity else f"{logical}id"
        entity = EntityDef(
            logical_name=logical,
            entity_set_name=_plural(logical),
            primary_id=primary_id,
            primary_name="subject" if is_activity else "",
            object_type_code=10000 + len([e for e in self.catalogue.entities.values() if e.is_custom]),
            display_name=_label_text(body.get("DisplayName")) or schema,
            display_collection_name=_label_text(body.get("DisplayCollectionName")) or schema,
            schema_name=schema,
            ownership_type=OwnershipType(str(body.get("OwnershipType") or "UserOwned")),
            is_activity=is_activity,
            is_custom=True,
            change_tracking_enabled=bool(body.get("ChangeTrackingEnabled", False)),
            has_notes=bool(body.get("HasNotes", False)),
            has_activities=bool(body.get("HasActivities", False)),
            bulk_messages=frozenset(BULK_MESSAGES),
            description=_label_text(body.get("Description")),
        )
        entity.add(
            AttributeDef(primary_id, AttributeType.UNIQUEIDENTIFIER, is_primary_id=True, is_valid_for_update=False)
        )
        for item in body.get("Attributes") or []:
            attribute = _attribute_from_body(item)
            if item.get("IsPrimaryName"):
                attribute.is_primary_name = True
                entity.primary_name = attribute.logical_name
            entity.add(attribute)
        if not entity.primary_name:
            raise bad_request("A table needs a primary name column (an attribute with IsPrimaryName: true).")
        self._add_system_columns(entity)
        self.catalogue.add_entity(entity)
        self._add_system_relationships(entity)
        self.state.storage.ensure_table(entity)
        self._grant_to_administrators(entity)
        self._bulk_filters(entity)
        return ApiResponse.empty(204, {"OData-EntityId": f"{self.api_url}EntityDefinitions({entity.metadata_id})"})

    def _add_system_columns(self, entity: EntityDef) -> None:
        entity.add(
            _system_column("createdon", AttributeType.DATETIME, "Created On"),
            _system_column("modifiedon", AttributeType.DATETIME, "Modified On"),
            _system_column("createdby", AttributeType.LOOKUP, "Created By", targets=("systemuser",)),
            _system_column("modifiedby", AttributeType.LOOKUP, "Modified By", targets=("systemuser",)),
            _system_column("versionnumber", AttributeType.BIGINT, "Version Number"),
            AttributeDef(
                "statecode",
                AttributeType.STATE,
                "Status",
                options=(OptionDef(0, "Active", default_status=1), OptionDef(1, "Inactive", default_status=2)),
            ),
            AttributeDef(
                "statuscode",
                AttributeType.STATUS,
                "Status Reason",
                options=(OptionDef(1, "Active", state=0), OptionDef(2, "Inactive", state=1)),
            ),
        )
        if entity.ownership_type == OwnershipType.USER_OWNED:
            entity.add(
                AttributeDef("ownerid", AttributeType.OWNER, "Owner", targets=("systemuser", "team")),
                _system_column("owninguser", AttributeType.LOOKUP, "", targets=("systemuser",)),
                _system_column("owningteam", AttributeType.LOOKUP, "", targets=("team",)),
                _system_column("owningbusinessunit", AttributeType.LOOKUP, "", targets=("businessunit",)),
            )
        if entity.is_activity:
            entity.add(
                AttributeDef("subject", AttributeType.STRING, "Subject", max_length=400, is_primary_name=True),
                AttributeDef("description", AttributeType.MEMO, "Description", max_length=2000),
                AttributeDef("regardingobjectid", AttributeType.LOOKUP, "Regarding", targets=_ACTIVITY_TARGETS),
                _system_column("activitytypecode", AttributeType.ENTITYNAME, "Activity Type"),
                AttributeDef("scheduledstart", AttributeType.DATETIME, "Start Date"),
                AttributeDef("scheduledend", AttributeType.DATETIME, "Due Date"),
                AttributeDef("actualstart", AttributeType.DATETIME, "Actual Start"),
                AttributeDef("actualend", AttributeType.DATETIME, "Actual End"),
                _system_column("createdonbehalfby", AttributeType.LOOKUP, "", targets=("systemuser",)),
                _system_column("modifiedonbehalfby", AttributeType.LOOKUP, "", targets=("systemuser",)),
            )

    def _add_system_relationships(self, entity: EntityDef) -> None:
        name = entity.logical_name
        pairs = [
            ("createdby", "systemuser", f"lk_{name}_createdby"),
            ("modifiedby", "systemuser", f"lk_{name}_modifiedby"),
        ]
        if entity.ownership_type == OwnershipType.USER_OWNED:
            pairs += [
                ("ownerid", "owner", f"owner_{name}"),
                ("owninguser", "systemuser", f"user_{name}"),
                ("owningteam", "team", f"team_{name}"),
                ("owningbusinessunit", "businessunit", f"business_unit_{name}"),
            ]
        for attribute, target, schema in pairs:
            referenced_attribute = "ownerid" if target == "owner" else f"{target}id"
            self.catalogue.add_relationship(
                RelationshipDef(
                    schema, name, attribute, target, referenced_attribute, attribute, schema, is_custom=True
                )
            )
        if entity.is_activity:
            for target in _ACTIVITY_TARGETS:
                target_entity = self.catalogue.find_entity(target)
                if target_entity is None:
                    continue
                self.catalogue.add_relationship(
                    RelationshipDef(
                        f"{name}_{target}",
                        name,
                        "regardingobjectid",
                        target,
                        target_entity.primary_id,
                        f"regardingobjectid_{target}_{name}",
                        f"{target}_{name}",
                        is_custom=True,
                    )
                )
            if self.catalogue.find_entity("activityparty") is not None:
                self.catalogue.add_relationship(
                    RelationshipDef(
                        f"{name}_activity_parties",
                        "activityparty",
                        "activityid",
                        name,
                        "activityid",
                        f"activityid_{name}",
                        f"{name}_activity_parties",
                        is_custom=True,
                    )
                )

    def _grant_to_administrators(self, entity: EntityDef) -> None:
        security = self.state.security
        security.ensure_privileges()
        roles = self.state.storage.query('SELECT roleid FROM "role" WHERE name = ?', ["System Administrator"])[1]
        verbs = ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share")
        for (role_id,) in roles:
            security.grant(str(role_id), {privilege_name(v, entity): Depth.GLOBAL for v in verbs})

    def _bulk_filters(self, entity: EntityDef) -> None:
        storage = self.state.storage
        for message in entity.bulk_messages:
            message_id = storage.scalar('SELECT sdkmessageid FROM "sdkmessage" WHERE name = ?', (message,))
            if message_id is None:
                continue
            storage.insert(
                "sdkmessagefilter",
                {
                    "sdkmessagefilterid": stable_id("sdkmessagefilter", message, entity.logical_name),
                    "sdkmessageid": message_id,
                    "sdkmessageid__type": "sdkmessage",
                    "primaryobjecttypecode": entity.logical_name,
                    "versionnumber": storage.next_version(),
                },
            )

    def _update_entity(self, entity: EntityDef) -> ApiResponse:
        self._require_customizer()
        body = self._body()
        if "ChangeTrackingEnabled" in body:
            wanted = bool(body["ChangeTrackingEnabled"])
            if not wanted and entity.change_tracking_enabled:
                raise bad_request("Change tracking cannot be disabled once it is enabled.")
            entity.change_tracking_enabled = wanted
        for field_name, attribute_name in (("HasNotes", "has_notes"), ("HasActivities", "has_activities")):
            if field_name in body:
                setattr(entity, attribute_name, bool(body[field_name]))
        return ApiResponse.empty(204)

    def _create_attribute(self, entity: EntityDef) -> ApiResponse:
        self._require_customizer()
        attribute = _attribute_from_body(self._body())
        if entity.attribute(attribute.logical_name) is not None:
            raise DataverseError(
                400, "0x80044363", f"An attribute with the specified name {attribute.logical_name} already exists."
            )
        entity.add(attribute)
        self.state.storage.ensure_table(entity)
        attribute_id = attribute.metadata_id(entity.logical_name)
        url = f"{self.api_url}EntityDefinitions({entity.metadata_id})/Attributes({attribute_id})"
        return ApiResponse.empty(204, {"OData-EntityId": url})

    def _delete_attribute(self, entity: EntityDef, attribute: AttributeDef) -> ApiResponse:
        self._require_customizer()
        if not attribute.is_custom:
            raise DataverseError(
                400, "0x80048403", f"The attribute {attribute.logical_name} is not custom and cannot be deleted."
            )
        del entity.attributes[attribute.logical_name]
        return ApiResponse.empty(204)

    def _create_relationship(self) -> ApiResponse:
        self._require_customizer()
        body = self._body()
        lookup = body.get("Lookup") or {}
        referencing = self.catalogue.find_entity(str(body.get("ReferencingEntity", "")).lower())
        referenced = self.catalogue.find_entity(str(body.get("ReferencedEntity", "")).lower())
        schema = str(body.get("SchemaName") or "")
        lookup_schema = str(lookup.get("SchemaName") or "")
        if referencing is None or referenced is None or not schema or not lookup_schema:
            raise bad_request("SchemaName, ReferencedEntity, ReferencingEntity and Lookup.SchemaName are required.")
        attribute = AttributeDef(
            lookup_schema.lower(),
            AttributeType.LOOKUP,
            _label_text(lookup.get("DisplayName")) or lookup_schema,
            schema_name=lookup_schema,
            targets=(referenced.logical_name,),
            is_custom=True,
        )
        referencing.add(attribute)
        relationship = RelationshipDef(
            schema,
            referencing.logical_name,
            attribute.logical_name,
            referenced.logical_name,
            referenced.primary_id,
            str(body.get("ReferencingEntityNavigationPropertyName") or lookup_schema),
            str(body.get("ReferencedEntityNavigationPropertyName") or schema),
            is_custom=True,
        )
        self.catalogue.add_relationship(relationship)
        self.state.storage.ensure_table(referencing)
        return ApiResponse.empty(
            204, {"OData-EntityId": f"{self.api_url}RelationshipDefinitions({relationship.metadata_id()})"}
        )


def _system_column(name: str, kind: AttributeType, display: str = "", *, targets: tuple[str, ...] = ()) -> AttributeDef:
    """A column the platform maintains (not writable through the API)."""
    return AttributeDef(
        name, kind, display or name, targets=targets, is_valid_for_create=False, is_valid_for_update=False
    )


def _label_text(value: object) -> str:
    if isinstance(value, dict):
        localized = value.get("LocalizedLabels") or []
        if localized and isinstance(localized[0], dict):
            return str(localized[0].get("Label") or "")
        user = value.get("UserLocalizedLabel")
        if isinstance(user, dict):
            return str(user.get("Label") or "")
    return ""


def _plural(name: str) -> str:
    if name.endswith(("s", "x", "z", "ch", "sh")):
        return name + "es"
    if name.endswith("y") and len(name) > 1 and name[-2] not in "aeiou":
        return name[:-1] + "ies"
    return name + "s"


def _attribute_from_body(item: dict[str, Any]) -> AttributeDef:
    odata_type = str(item.get("@odata.type", "")).lstrip("#").removeprefix(CAST_PREFIX)
    kind = _CREATABLE_TYPES.get(odata_type)
    if kind is None:
        raise bad_request(f"Creating a column of type '{odata_type or 'unknown'}' is not supported.")
    schema = str(item.get("SchemaName") or "")
    if not schema:
        raise bad_request("SchemaName is required to create a column.")
    required = (item.get("RequiredLevel") or {}).get("Value") or "None"
    options: tuple[OptionDef, ...] = ()
    if kind == AttributeType.PICKLIST:
        option_set = item.get("OptionSet") or {}
        options = tuple(
            OptionDef(int(o.get("Value")), _label_text(o.get("Label")) or str(o.get("Value")))
            for o in option_set.get("Options") or []
        )
    behavior = (item.get("DateTimeBehavior") or {}).get("Value")
    return AttributeDef(
        schema.lower(),
        kind,
        _label_text(item.get("DisplayName")) or schema,
        schema_name=schema,
        max_length=int(item["MaxLength"]) if item.get("MaxLength") is not None else None,
        options=options,
        required_level=RequiredLevel(str(required)),
        is_custom=True,
        date_only=behavior == "DateOnly" or item.get("Format") == "DateOnly",
        precision=int(item["Precision"]) if item.get("Precision") is not None else None,
        min_value=float(item["MinValue"]) if item.get("MinValue") is not None else None,
        max_value=float(item["MaxValue"]) if item.get("MaxValue") is not None else None,
        description=_label_text(item.get("Description")),
    )


def handle_metadata(
    state: SandboxState, request: ApiRequest, segments: list[Segment], *, caller_id: str, api_url: str
) -> ApiResponse:
    """Answer a request whose first segment is EntityDefinitions, GlobalOptionSetDefinitions or
    RelationshipDefinitions.

    Raises:
        DataverseError: 404 for unknown tables, columns or segments; 400 for invalid definitions; 403
            without the customization privilege on writes.
    """
    return MetadataApi(state, request, caller_id, api_url).handle(segments)
