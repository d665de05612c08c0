"""The metadata resources: ``EntityDefinitions`` and its ``Attributes``, relationships and ``Keys``,
``RelationshipDefinitions`` and ``GlobalOptionSetDefinitions`` — reads, and the routing of writes to
:mod:`.tables`, :mod:`.columns`, :mod:`.relationships` and :mod:`.keys`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from salesbridge.sandbox.catalogue.definitions import (
    METADATA_TYPE_NAMES,
    AttributeDef,
    AttributeType,
    EntityDef,
    KeyDef,
    ManyToManyDef,
    RelationshipDef,
)
from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.errors import (
    bad_request,
    method_not_allowed,
    property_not_found,
    query_syntax_error,
    resource_not_found,
)
from salesbridge.sandbox.metadata.columns import add_column, delete_attribute, update_attribute
from salesbridge.sandbox.metadata.filtering import matches
from salesbridge.sandbox.metadata.keys import create_key, delete_key
from salesbridge.sandbox.metadata.many_to_many import (
    MANY_TO_MANY_TYPE,
    create_many_to_many,
    delete_many_to_many,
    is_many_to_many,
)
from salesbridge.sandbox.metadata.model import (
    ATTRIBUTE_TYPE,
    CRM,
    EMPTY_CASTS,
    ENTITY_NAVIGATION,
    ENTITY_TYPE,
    KEY_TYPE,
    OPTION_CASTS,
    OPTION_SET_TYPE,
    RELATIONSHIP_TYPE,
)
from salesbridge.sandbox.metadata.query import Expand, MetadataQuery, context_select, project, validate
from salesbridge.sandbox.metadata.relationships import create_relationship, delete_relationship
from salesbridge.sandbox.metadata.request import (
    Call,
    attribute_for,
    entity_for,
    entity_url,
    named_key,
    no_content,
    not_found,
    ok,
)
from salesbridge.sandbox.metadata.serialisation import (
    BASE_ATTRIBUTE_PROPERTIES,
    attribute_row,
    attribute_rows,
    cast_properties,
    cast_types,
    entity_row,
    failed_keys_of,
    key_row,
    many_to_many_row,
    option_set_row,
    relationship_row,
)
from salesbridge.sandbox.metadata.tables import create_entity, delete_entity, update_entity
from salesbridge.sandbox.odata.messages import ApiResponse
from salesbridge.sandbox.odata.paths import Segment, parse_guid

# --------------------------------------------------------------------------------------------------------
# EntityDefinitions
# --------------------------------------------------------------------------------------------------------


def entity_definitions(call: Call, segments: list[Segment]) -> ApiResponse:
    head = segments[0]
    method = call.request.method
    if head.args is None:
        if len(segments) > 1:
            raise resource_not_found(segments[1].name)
        if method == "GET":
            return _list_entities(call)
        if method == "POST":
            entity = create_entity(call, call.body())
            return no_content(f"{call.api_url}EntityDefinitions({entity.metadata_id})")
        raise method_not_allowed(f"The HTTP method '{method}' is not allowed on 'EntityDefinitions'.")
    entity, path = entity_for(call, head)
    if len(segments) == 1:
        if method == "GET":
            return _get_entity(call, entity)
        if method in ("PUT", "PATCH"):
            update_entity(call, entity, call.body(), replace=method == "PUT")
            return no_content()
        if method == "DELETE":
            delete_entity(call, entity)
            return no_content()
        raise method_not_allowed(f"The HTTP method '{method}' is not allowed on this table definition.")
    second = segments[1]
    rest = segments[2:]
    if second.name == "Attributes":
        return _attributes(call, entity, path, second, rest)
    if second.name in ("ManyToOneRelationships", "OneToManyRelationships"):
        return _entity_relationships(call, entity, path, second, rest)
    if second.name == "ManyToManyRelationships" and not rest:
        return _entity_many_to_many(call, entity, path, second)
    if second.name == "Keys":
        return _keys(call, entity, path, second, rest)
    raise resource_not_found(second.name)


def _only(call: Call, *methods: str) -> None:
    if call.request.method not in methods:
        raise method_not_allowed(f"The HTTP method '{call.request.method}' is not allowed on this resource.")


def _entity_payload(
    call: Call, entity: EntityDef, query: MetadataQuery, row: dict[str, Any] | None = None
) -> dict[str, Any]:
    full = row if row is not None else entity_row(call.catalogue, entity)
    allowed = set(full) | set(ENTITY_NAVIGATION)
    payload = project(full, query.select, ENTITY_TYPE, allowed)
    for item in query.expand:
        payload[item.name] = _expand_entity(call, entity, item)
    return payload


def _expand_entity(call: Call, entity: EntityDef, item: Expand) -> list[dict[str, Any]]:
    if item.name == "Attributes":
        rows = [row for _, row in attribute_rows(entity)]
        type_name, allowed = ATTRIBUTE_TYPE, BASE_ATTRIBUTE_PROPERTIES
    elif item.name in ("ManyToOneRelationships", "OneToManyRelationships"):
        rows = [relationship_row(r, typed=False) for r in _relationships_of(call.catalogue, entity, item.name)]
        type_name, allowed = RELATIONSHIP_TYPE, _RELATIONSHIP_PROPERTIES
    elif item.name == "Keys":
        rows = [key_row(entity, key) for key in entity.keys]
        rows += [key_row(entity, key, "Failed") for key in failed_keys_of(call.state, entity)]
        type_name, allowed = KEY_TYPE, _KEY_PROPERTIES
    elif item.name == "ManyToManyRelationships":
        rows = [many_to_many_row(r, typed=False) for r in call.catalogue.many_to_many_of(entity.logical_name)]
        type_name, allowed = MANY_TO_MANY_TYPE, _MANY_TO_MANY_PROPERTIES
    else:
        raise property_not_found(item.name, ENTITY_TYPE)
    validate(MetadataQuery(item.select, item.filter), type_name, allowed)
    return [project(row, item.select, type_name, allowed) for row in rows if matches(row, item.filter, type_name)]


_SAMPLE_RELATIONSHIP = RelationshipDef("s", "a", "b", "c", "d", "e", "f")
_RELATIONSHIP_PROPERTIES = frozenset(relationship_row(_SAMPLE_RELATIONSHIP, typed=True))
_MANY_TO_MANY_PROPERTIES = frozenset(many_to_many_row(ManyToManyDef("s", "a", "b", "c", "d", "e"), typed=True))
_KEY_PROPERTIES = frozenset(key_row(EntityDef("x", "xs", "xid", "name", 0), KeyDef("k", ("a",))))


def _list_entities(call: Call) -> ApiResponse:
    query = call.query()
    values = []
    type_name = ENTITY_TYPE
    validate(query, type_name, _ENTITY_PROPERTIES)
    for entity in call.catalogue.entities.values():
        row = entity_row(call.catalogue, entity)
        if not matches(row, query.filter, type_name):
            continue
        values.append(_entity_payload(call, entity, query, row))
    context = call.context(f"EntityDefinitions{context_select(query.select, query.expand)}")
    return ok({"@odata.context": context, "value": values})


_SAMPLE_ENTITY = EntityDef("x", "xs", "xid", "name", 0)
_ENTITY_PROPERTIES = frozenset(entity_row(Catalogue(), _SAMPLE_ENTITY)) | frozenset(ENTITY_NAVIGATION)


def _get_entity(call: Call, entity: EntityDef) -> ApiResponse:
    query = call.query()
    payload = {"@odata.context": call.context(f"EntityDefinitions{context_select(query.select, query.expand)}/$entity")}
    payload.update(_entity_payload(call, entity, query))
    return ok(payload)


def _relationships_of(catalogue: Catalogue, entity: EntityDef, which: str) -> list[RelationshipDef]:
    if which == "ManyToOneRelationships":
        return catalogue.many_to_one(entity.logical_name)
    return catalogue.one_to_many(entity.logical_name)


# --------------------------------------------------------------------------------------------------------
# EntityDefinitions(…)/Attributes
# --------------------------------------------------------------------------------------------------------


def _attributes(call: Call, entity: EntityDef, path: str, segment: Segment, rest: list[Segment]) -> ApiResponse:
    method = call.request.method
    if segment.args is None:
        cast = _cast_of(rest[0]) if rest else None
        if len(rest) > 1:
            raise resource_not_found(rest[1].name)
        if method == "GET":
            return _list_attributes(call, entity, path, cast)
        if method == "POST" and cast is None:
            attribute = add_column(call, entity, call.body())
            return no_content(f"{entity_url(call, entity)}/Attributes({attribute.metadata_id(entity.logical_name)})")
        raise method_not_allowed(f"The HTTP method '{method}' is not allowed on 'Attributes'.")
    attribute = attribute_for(entity, segment)
    if not rest:
        if method == "GET":
            return _get_attribute(call, entity, attribute, path, None)
        if method == "DELETE":
            delete_attribute(call, entity, attribute)
            return no_content()
        if method in ("PUT", "PATCH"):
            update_attribute(call, attribute, call.body())
            return no_content()
        raise method_not_allowed(f"The HTTP method '{method}' is not allowed on this column definition.")
    cast = _cast_of(rest[0])
    _only(call, "GET")
    if cast is None or cast in EMPTY_CASTS or attribute.type not in cast_types(cast):
        raise resource_not_found(rest[0].name)
    if len(rest) == 1:
        return _get_attribute(call, entity, attribute, path, cast)
    if len(rest) == 2 and rest[1].name in ("OptionSet", "GlobalOptionSet") and rest[1].args is None:
        return _get_option_set_of(call, entity, attribute, path, cast, rest[1].name)
    raise resource_not_found(rest[-1].name)


def _cast_of(segment: Segment) -> str | None:
    """The metadata type a cast segment names (``PicklistAttributeMetadata``).

    Raises:
        DataverseError: 404 for a segment that is not a known attribute cast; 400 for ``EnumAttributeMetadata``.
    """
    if segment.args is not None or not segment.name.startswith(CRM):
        raise resource_not_found(segment.name)
    cast = segment.name[len(CRM) :]
    if cast == "EnumAttributeMetadata":
        raise bad_request(
            "The type 'Microsoft.Dynamics.CRM.EnumAttributeMetadata' cannot be used in a cast; cast to a derived "
            "type such as PicklistAttributeMetadata.",
            "0x80060888",
        )
    if cast in EMPTY_CASTS or cast in METADATA_TYPE_NAMES.values():
        return cast
    raise resource_not_found(segment.name)


def _list_attributes(call: Call, entity: EntityDef, path: str, cast: str | None) -> ApiResponse:
    query = call.query()
    if cast is None:
        type_name, allowed = ATTRIBUTE_TYPE, BASE_ATTRIBUTE_PROPERTIES
        rows = attribute_rows(entity)
    else:
        type_name, allowed = cast, cast_properties(cast)
        kinds = cast_types(cast)
        rows = [(a, row) for a, row in attribute_rows(entity) if a.type in kinds]
    validate(query, type_name, allowed)
    _check_expand(query, cast)
    values = []
    for attribute, row in rows:
        if not matches(row, query.filter, type_name):
            continue
        values.append(_attribute_payload(call, entity, attribute, row, query, type_name, allowed))
    suffix = f"/{CRM}{cast}" if cast else ""
    context = call.context(f"{path}/Attributes{suffix}{context_select(query.select, query.expand)}")
    return ok({"@odata.context": context, "value": values})


def _check_expand(query: MetadataQuery, cast: str | None) -> None:
    for item in query.expand:
        if cast not in OPTION_CASTS or item.name not in ("OptionSet", "GlobalOptionSet"):
            raise property_not_found(item.name, cast or ATTRIBUTE_TYPE)


def _attribute_payload(
    call: Call,
    entity: EntityDef,
    attribute: AttributeDef,
    row: dict[str, Any],
    query: MetadataQuery,
    type_name: str,
    allowed: frozenset[str],
    *,
    entity_path: str | None = None,
) -> dict[str, Any]:
    """A column definition with its expanded option sets. With ``entity_path`` (a single column read), each
    expanded option set carries its own ``@odata.context`` (query-metadata-web-api.md, "Retrieve attributes")."""
    payload = project(row, query.select, type_name, allowed)
    if type_name != ATTRIBUTE_TYPE and payload.get("@odata.type") == f"#{CRM}{type_name}":
        # Read through a cast, the type is the cast's: minimal metadata leaves it out (the picklist examples of
        # query-metadata-web-api.md have no @odata.type).
        del payload["@odata.type"]
    for item in query.expand:
        option_set = _option_sets(call, entity, attribute).get(item.name)
        if option_set is None:
            payload[item.name] = None
            continue
        if entity_path is not None:
            payload[f"{item.name}@odata.context"] = call.context(
                f"{entity_path}/Attributes({attribute.metadata_id(entity.logical_name)})/{CRM}{type_name}/"
                f"{item.name}{context_select(item.select)}/$entity"
            )
        option_allowed = set(option_set) | {"Options", "TrueOption", "FalseOption"}
        projected = project(option_set, item.select, OPTION_SET_TYPE, option_allowed)
        projected.pop("@odata.type", None)  # the navigation property's declared type is the exact type
        payload[item.name] = projected
    return payload


def _option_sets(call: Call, entity: EntityDef, attribute: AttributeDef) -> dict[str, dict[str, Any] | None]:
    """``OptionSet`` and ``GlobalOptionSet`` of a choice, state, status or Boolean column (one of them None)."""
    managed = not attribute.is_custom
    if attribute.global_option_set:
        options = call.catalogue.global_option_sets.get(attribute.global_option_set, attribute.options)
        global_set = option_set_row(
            attribute.global_option_set,
            attribute.type,
            options,
            is_global=True,
            managed=managed,
            display=attribute.display_name,
        )
        return {"OptionSet": None, "GlobalOptionSet": global_set}
    local = option_set_row(
        f"{entity.logical_name}_{attribute.logical_name}",
        attribute.type,
        attribute.options,
        is_global=False,
        managed=managed,
        display=attribute.display_name,
        true_label=attribute.true_label,
        false_label=attribute.false_label,
    )
    return {"OptionSet": local, "GlobalOptionSet": None}


def _get_attribute(call: Call, entity: EntityDef, attribute: AttributeDef, path: str, cast: str | None) -> ApiResponse:
    query = call.query()
    if cast is None:
        type_name, allowed = ATTRIBUTE_TYPE, BASE_ATTRIBUTE_PROPERTIES
        if query.filter is not None:
            raise query_syntax_error("The $filter query option cannot be applied to a single column definition.")
    else:
        type_name, allowed = cast, cast_properties(cast)
    _check_expand(query, cast)
    row = attribute_row(entity, attribute, list(entity.attributes).index(attribute.logical_name) + 1)
    payload: dict[str, Any] = {}
    if cast is None:
        fragment = f"{path}/Attributes{context_select(query.select)}"
    else:
        fragment = f"{path}/Attributes/{CRM}{cast}{context_select(query.select, query.expand)}"
    payload["@odata.context"] = call.context(f"{fragment}/$entity")
    payload.update(_attribute_payload(call, entity, attribute, row, query, type_name, allowed, entity_path=path))
    return ok(payload)


def _get_option_set_of(
    call: Call, entity: EntityDef, attribute: AttributeDef, path: str, cast: str, which: str
) -> ApiResponse:
    query = call.query()
    if cast not in OPTION_CASTS:
        raise resource_not_found(which)
    option_set = _option_sets(call, entity, attribute)[which]
    if option_set is None:
        return no_content()  # a single-valued navigation property without a value
    allowed = set(option_set) | {"Options", "TrueOption", "FalseOption"}
    payload = {
        "@odata.context": call.context(
            f"{path}/Attributes({attribute.metadata_id(entity.logical_name)})/{CRM}{cast}/{which}"
            f"{context_select(query.select)}/$entity"
        )
    }
    payload.update(project(option_set, query.select, OPTION_SET_TYPE, allowed))
    payload.pop("@odata.type", None)  # the navigation property's declared type is the exact type
    return ok(payload)


# --------------------------------------------------------------------------------------------------------
# EntityDefinitions(…)/ManyToOneRelationships, /OneToManyRelationships, RelationshipDefinitions
# --------------------------------------------------------------------------------------------------------


def _entity_relationships(
    call: Call, entity: EntityDef, path: str, segment: Segment, rest: list[Segment]
) -> ApiResponse:
    _only(call, "GET")
    if rest:
        raise resource_not_found(rest[0].name)
    query = call.query()
    if query.expand:
        raise property_not_found(query.expand[0].name, RELATIONSHIP_TYPE)
    type_name = RELATIONSHIP_TYPE
    allowed = _RELATIONSHIP_PROPERTIES
    relationships = _relationships_of(call.catalogue, entity, segment.name)
    if segment.args is not None:
        relationship = _relationship_by_key(relationships, segment.args)
        payload = {"@odata.context": call.context(f"{path}/{segment.name}{context_select(query.select)}/$entity")}
        payload.update(project(relationship_row(relationship, typed=False), query.select, type_name, allowed))
        return ok(payload)
    validate(query, type_name, allowed)
    values = []
    for relationship in relationships:
        row = relationship_row(relationship, typed=False)
        if matches(row, query.filter, type_name):
            values.append(project(row, query.select, type_name, allowed))
    context = call.context(f"{path}/{segment.name}{context_select(query.select)}")
    return ok({"@odata.context": context, "value": values})


def _entity_many_to_many(call: Call, entity: EntityDef, path: str, segment: Segment) -> ApiResponse:
    """``EntityDefinitions(…)/ManyToManyRelationships`` and ``…/ManyToManyRelationships(<id or SchemaName>)``."""
    _only(call, "GET")
    query = call.query()
    if query.expand:
        raise property_not_found(query.expand[0].name, MANY_TO_MANY_TYPE)
    relationships = call.catalogue.many_to_many_of(entity.logical_name)
    if segment.args is not None:
        relationship = _relationship_by_key(relationships, segment.args)
        payload = {"@odata.context": call.context(f"{path}/{segment.name}{context_select(query.select)}/$entity")}
        row = many_to_many_row(relationship, typed=False)
        payload.update(project(row, query.select, MANY_TO_MANY_TYPE, _MANY_TO_MANY_PROPERTIES))
        return ok(payload)
    validate(query, MANY_TO_MANY_TYPE, _MANY_TO_MANY_PROPERTIES)
    values = []
    for relationship in relationships:
        row = many_to_many_row(relationship, typed=False)
        if matches(row, query.filter, MANY_TO_MANY_TYPE):
            values.append(project(row, query.select, MANY_TO_MANY_TYPE, _MANY_TO_MANY_PROPERTIES))
    context = call.context(f"{path}/{segment.name}{context_select(query.select)}")
    return ok({"@odata.context": context, "value": values})


_AnyRelationship = TypeVar("_AnyRelationship", RelationshipDef, ManyToManyDef)


def _relationship_by_key(relationships: Iterable[_AnyRelationship], args: str) -> _AnyRelationship:
    name = named_key(args, "SchemaName")
    metadata_id = parse_guid(args)
    for relationship in relationships:
        if name is not None and relationship.schema_name == name:
            return relationship
        if metadata_id is not None and relationship.metadata_id() == metadata_id:
            return relationship
    raise not_found("a relationship", name or metadata_id or args)


def _find_many_to_many(relationships: Iterable[ManyToManyDef], args: str) -> ManyToManyDef | None:
    name = named_key(args, "SchemaName")
    metadata_id = parse_guid(args)
    for relationship in relationships:
        if (name is not None and relationship.schema_name == name) or relationship.metadata_id() == metadata_id:
            return relationship
    return None


def relationship_definitions(call: Call, segments: list[Segment]) -> ApiResponse:
    head = segments[0]
    method = call.request.method
    rest = segments[1:]
    cast: str | None = None
    if rest:
        if rest[0].args is not None or rest[0].name not in (
            f"{CRM}{RELATIONSHIP_TYPE}",
            f"{CRM}ManyToManyRelationshipMetadata",
        ):
            raise resource_not_found(rest[0].name)
        if len(rest) > 1:
            raise resource_not_found(rest[1].name)
        cast = rest[0].name[len(CRM) :]
    if head.args is None:
        if method == "GET":
            return _list_relationships(call, cast)
        if method == "POST" and cast is None:
            body = call.body()
            created = create_many_to_many(call, body) if is_many_to_many(body) else create_relationship(call, body)
            return no_content(f"{call.api_url}RelationshipDefinitions({created.metadata_id()})")
        raise method_not_allowed(f"The HTTP method '{method}' is not allowed on 'RelationshipDefinitions'.")
    many = _find_many_to_many(call.catalogue.many_to_many.values(), head.args)
    if many is not None:
        if method == "GET" and cast != RELATIONSHIP_TYPE:
            query = call.query()
            suffix = f"/{CRM}{cast}" if cast else ""
            payload = {
                "@odata.context": call.context(f"RelationshipDefinitions{suffix}{context_select(query.select)}/$entity")
            }
            row = many_to_many_row(many, typed=True)
            payload.update(project(row, query.select, MANY_TO_MANY_TYPE, _MANY_TO_MANY_PROPERTIES))
            return ok(payload)
        if method == "DELETE" and cast is None:
            delete_many_to_many(call, many)
            return no_content()
        raise method_not_allowed(f"The HTTP method '{method}' is not allowed on this relationship definition.")
    relationship = _relationship_by_key(call.catalogue.relationships.values(), head.args)
    if method == "GET":
        if cast == "ManyToManyRelationshipMetadata":
            raise resource_not_found(rest[0].name)
        query = call.query()
        type_name = RELATIONSHIP_TYPE if cast else "RelationshipMetadataBase"
        payload = {"@odata.context": call.context(f"RelationshipDefinitions{context_select(query.select)}/$entity")}
        payload.update(
            project(
                relationship_row(relationship, typed=True),
                query.select,
                type_name,
                _RELATIONSHIP_PROPERTIES,
            )
        )
        return ok(payload)
    if method == "DELETE" and cast is None:
        delete_relationship(call, relationship)
        return no_content()
    raise method_not_allowed(f"The HTTP method '{method}' is not allowed on this relationship definition.")


def _list_relationships(call: Call, cast: str | None) -> ApiResponse:
    query = call.query()
    if query.expand:
        raise property_not_found(query.expand[0].name, "RelationshipMetadataBase")
    type_name = cast or "RelationshipMetadataBase"
    allowed = {
        None: _RELATIONSHIP_PROPERTIES | _MANY_TO_MANY_PROPERTIES,
        RELATIONSHIP_TYPE: _RELATIONSHIP_PROPERTIES,
        MANY_TO_MANY_TYPE: _MANY_TO_MANY_PROPERTIES,
    }[cast]
    validate(query, type_name, allowed)
    values = []
    rows: list[dict[str, Any]] = []
    if cast != MANY_TO_MANY_TYPE:
        rows += [relationship_row(relationship, typed=True) for relationship in call.catalogue.relationships.values()]
    if cast != RELATIONSHIP_TYPE:
        rows += [many_to_many_row(relationship, typed=True) for relationship in call.catalogue.many_to_many.values()]
    for row in rows:
        # A property of the other kind of relationship is absent from a row: such a filter matches nothing.
        if matches({name: row.get(name) for name in allowed | set(row)}, query.filter, type_name):
            values.append(project(row, query.select, type_name, allowed & (set(row) | {"@odata.type"})))
    suffix = f"/{CRM}{cast}" if cast else ""
    context = call.context(f"RelationshipDefinitions{suffix}{context_select(query.select)}")
    return ok({"@odata.context": context, "value": values})


# --------------------------------------------------------------------------------------------------------
# EntityDefinitions(…)/Keys
# --------------------------------------------------------------------------------------------------------


def _keys(call: Call, entity: EntityDef, path: str, segment: Segment, rest: list[Segment]) -> ApiResponse:
    if rest:
        raise resource_not_found(rest[0].name)
    method = call.request.method
    type_name = KEY_TYPE
    allowed = _KEY_PROPERTIES
    failed = failed_keys_of(call.state, entity)
    listed = [(key, "Active") for key in entity.keys] + [(key, "Failed") for key in failed]
    if segment.args is None:
        if method == "GET":
            query = call.query()
            if query.expand:
                raise property_not_found(query.expand[0].name, type_name)
            validate(query, type_name, allowed)
            values = []
            for key, status in listed:
                row = key_row(entity, key, status)
                if matches(row, query.filter, type_name):
                    values.append(project(row, query.select, type_name, allowed))
            context = call.context(f"{path}/Keys{context_select(query.select)}")
            return ok({"@odata.context": context, "value": values})
        if method == "POST":
            key = create_key(call, entity, call.body())
            return no_content(f"{entity_url(call, entity)}/Keys({key.metadata_id(entity.logical_name)})")
        raise method_not_allowed(f"The HTTP method '{method}' is not allowed on 'Keys'.")
    name = named_key(segment.args, "LogicalName")
    metadata_id = parse_guid(segment.args)
    for key, status in listed:
        if key.logical_name == name or key.metadata_id(entity.logical_name) == metadata_id:
            if method == "GET":
                query = call.query()
                payload = {"@odata.context": call.context(f"{path}/Keys{context_select(query.select)}/$entity")}
                payload.update(project(key_row(entity, key, status), query.select, type_name, allowed))
                return ok(payload)
            if method == "DELETE":
                delete_key(call, entity, key, failed=status == "Failed")
                return no_content()
            raise method_not_allowed(f"The HTTP method '{method}' is not allowed on this key definition.")
    raise not_found("an entity key", name or metadata_id or segment.args)


# --------------------------------------------------------------------------------------------------------
# GlobalOptionSetDefinitions
# --------------------------------------------------------------------------------------------------------


def global_option_set_definitions(call: Call, segments: list[Segment]) -> ApiResponse:
    head = segments[0]
    if len(segments) > 1:
        raise resource_not_found(segments[1].name)
    _only(call, "GET")
    query = call.query()
    if query.filter is not None:
        # query-metadata-web-api.md: this path does not support $filter.
        raise query_syntax_error("The $filter query option is not supported on GlobalOptionSetDefinitions.")
    if query.expand:
        raise property_not_found(query.expand[0].name, "OptionSetMetadataBase")
    rows = {
        name: option_set_row(name, AttributeType.PICKLIST, options, is_global=True, managed=True, display=name)
        for name, options in call.catalogue.global_option_sets.items()
    }
    allowed = frozenset(option_set_row("x", AttributeType.PICKLIST, (), is_global=True, managed=True, display="x"))
    type_name = "OptionSetMetadataBase"
    if head.args is None:
        values = [project(row, query.select, type_name, allowed) for row in rows.values()]
        context = call.context(f"GlobalOptionSetDefinitions{context_select(query.select)}")
        return ok({"@odata.context": context, "value": values})
    name = named_key(head.args, "Name")
    metadata_id = parse_guid(head.args)
    for set_name, row in rows.items():
        if set_name == name or row["MetadataId"] == metadata_id:
            payload = {
                "@odata.context": call.context(f"GlobalOptionSetDefinitions{context_select(query.select)}/$entity")
            }
            payload.update(project(row, query.select, type_name, allowed))
            return ok(payload)
    raise not_found("an option set", name or metadata_id or head.args)
