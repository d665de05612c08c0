"""The metadata API of the sandbox: ``EntityDefinitions``, ``GlobalOptionSetDefinitions``, ``RelationshipDefinitions``.

Reads follow ``webapi/query-metadata-web-api.md`` and ``webapi/retrieve-metadata-name-metadataid.md`` of
``MicrosoftDocs/powerapps-docs``: tables by ``LogicalName`` or ``MetadataId``; their ``Attributes`` (optionally
cast to ``Microsoft.Dynamics.CRM.<Type>AttributeMetadata`` to reach type-specific properties and to expand
``OptionSet``/``GlobalOptionSet``), ``ManyToOneRelationships``, ``OneToManyRelationships`` and ``Keys``;
``$select``, ``$filter`` (metadata filters: enum literals such as
``Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'`` and complex-property paths such as
``CanChangeTrackingBeEnabled/Value``) and ``$expand``. Metadata collections are never paged. ``MetadataId``
is always returned; labels are ``Label`` objects whose user label is English (1033).

Writes are those a solution installer makes (``create-update-entity-definitions-using-web-api.md``,
``create-update-column-definitions-using-web-api.md``, ``create-update-entity-relationships-using-web-api.md``):
custom tables (``POST EntityDefinitions`` and the ``CreateEntities`` action Microsoft's Python SDK uses),
columns (``POST …/Attributes``; lookups through ``POST RelationshipDefinitions`` with a ``Lookup``), column
deletion, ``PUT``/``PATCH`` of a table (labels, change tracking, notes, activities), alternate keys
(``POST …/Keys``, backed by a unique SQLite index). Each write changes the catalogue, the storage and the
security model together; when a step fails, the catalogue changes are undone and the caller's transaction
rolls back the database.

Choices the docs leave open are marked *undocumented* where they are made.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from salesbridge.sandbox.catalogue.cascades import standard_cascade
from salesbridge.sandbox.catalogue.definitions import (
    BULK_MESSAGES,
    LOOKUP_TYPES,
    METADATA_TYPE_NAMES,
    REFERENTIAL,
    AttributeDef,
    AttributeType,
    CascadeConfiguration,
    EntityDef,
    KeyDef,
    OptionDef,
    OwnershipType,
    RelationshipDef,
    RequiredLevel,
    quote_ident,
    stable_id,
)
from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.catalogue.standard_activities import activity_columns
from salesbridge.sandbox.catalogue.standard_tables import (
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
from salesbridge.sandbox.catalogue.standard_tables import state as state_option
from salesbridge.sandbox.catalogue.standard_tables import status as status_option
from salesbridge.sandbox.errors import (
    DataverseError,
    bad_request,
    method_not_allowed,
    property_not_found,
    query_syntax_error,
    resource_not_found,
    unsupported_query_option,
)
from salesbridge.sandbox.odata.messages import ApiRequest, ApiResponse
from salesbridge.sandbox.odata.paths import Segment, parse_guid, parse_named_args, unquote_literal
from salesbridge.sandbox.organization.foundation import RowWriter
from salesbridge.sandbox.organization.saved_definitions import save_definitions
from salesbridge.sandbox.organization.security import VERBS, Depth, privilege_id, privilege_name
from salesbridge.sandbox.organization.state import SandboxState

__all__ = ["METADATA_ROOTS", "handle_metadata", "plural_name"]

#: First path segments this module answers (the engine routes them here).
METADATA_ROOTS = (
    "EntityDefinitions",
    "GlobalOptionSetDefinitions",
    "RelationshipDefinitions",
    "CreateEntities",
    "Microsoft.Dynamics.CRM.CreateEntities",
)

ENGLISH = 1033
SPANISH = 3082
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
CRM = "Microsoft.Dynamics.CRM."

_ENTITY_TYPE = "EntityMetadata"
_ATTRIBUTE_TYPE = "AttributeMetadata"
_RELATIONSHIP_TYPE = "OneToManyRelationshipMetadata"
_KEY_TYPE = "EntityKeyMetadata"
_OPTION_SET_TYPE = "OptionSetMetadata"

_ENTITY_NAVIGATION = (
    "Attributes",
    "Keys",
    "ManyToOneRelationships",
    "OneToManyRelationships",
    "ManyToManyRelationships",
)
_NAVIGATION = frozenset({*_ENTITY_NAVIGATION, "OptionSet", "GlobalOptionSet"})
_SUPPORTED_OPTIONS = frozenset({"$select", "$filter", "$expand"})
_FIRST_CUSTOM_TYPE_CODE = 10000
_MAX_KEY_ATTRIBUTES = 16
_MAX_KEYS = 10
_INT32 = (-2147483648, 2147483647)
_INT64 = (-9223372036854775808, 9223372036854775807)
_MONEY_LIMIT = 922337203685477.0
_NUMBER_LIMIT = 100000000000.0
_FIRST_OPTION_VALUE = 100000000
_SCHEMA_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Key columns Dataverse accepts (``define-alternate-keys-entity.md``: decimal, whole number, text, date and
#: time, lookup, choice); unique identifiers are accepted too.
_KEY_TYPES = frozenset(
    {
        AttributeType.STRING,
        AttributeType.INTEGER,
        AttributeType.BIGINT,
        AttributeType.DECIMAL,
        AttributeType.DATETIME,
        AttributeType.LOOKUP,
        AttributeType.CUSTOMER,
        AttributeType.OWNER,
        AttributeType.PICKLIST,
        AttributeType.UNIQUEIDENTIFIER,
    }
)

_TYPE_NAMES: dict[AttributeType, str] = {kind: f"{kind.value}Type" for kind in AttributeType}

#: ``@odata.type`` of a column definition in a request body (without namespace and ``Complex`` prefix).
_BODY_TYPES: dict[str, AttributeType] = {
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
    "LookupAttributeMetadata": AttributeType.LOOKUP,
}
_CREATABLE_TYPES = frozenset(_BODY_TYPES.values()) - {AttributeType.LOOKUP}

#: Attribute casts Dataverse knows but the sandbox never has columns of (a cast to them answers no columns).
_EMPTY_CASTS = frozenset(
    {
        "MultiSelectPicklistAttributeMetadata",
        "ImageAttributeMetadata",
        "FileAttributeMetadata",
        "ManagedPropertyAttributeMetadata",
    }
)
_OPTION_CASTS = frozenset(
    {"PicklistAttributeMetadata", "StateAttributeMetadata", "StatusAttributeMetadata", "BooleanAttributeMetadata"}
)


# --------------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------------


def handle_metadata(
    state: SandboxState, request: ApiRequest, segments: list[Segment], *, caller_id: str, api_url: str
) -> ApiResponse:
    """Answer one metadata request.

    Args:
        state: The sandbox state; writes change its catalogue, storage and security model.
        request: The request (method, query string, JSON body).
        segments: The split path; ``segments[0].name`` is one of :data:`METADATA_ROOTS`.
        caller_id: The effective systemuser (privileges are checked for writes).
        api_url: The absolute API root (``https://host/api/data/v9.2/``) for ``@odata.context`` and
            ``OData-EntityId``.

    Returns:
        200 with the JSON of a read; 204 with ``OData-EntityId`` for a create; 204 for an update or delete;
        200 with a ``CreateEntitiesResponse`` for the ``CreateEntities`` action.

    Raises:
        DataverseError: 404 for an unknown segment, table (``0x80040217``), column, key, relationship or
            choice; 400 for invalid query options or bodies; 403 without the customization privilege; 405 for
            a method the resource does not support. Catalogue changes of a failed write are undone; the
            caller's transaction must roll back the database.
    """
    call = _Call(state, request, caller_id, api_url)
    head = segments[0]
    if head.name == "EntityDefinitions":
        return _entity_definitions(call, segments)
    if head.name == "RelationshipDefinitions":
        return _relationship_definitions(call, segments)
    if head.name == "GlobalOptionSetDefinitions":
        return _global_option_set_definitions(call, segments)
    if head.name in ("CreateEntities", f"{CRM}CreateEntities") and head.args is None and len(segments) == 1:
        if request.method != "POST":
            raise method_not_allowed(f"The HTTP method '{request.method}' is not allowed on '{head.name}'.")
        return _create_entities_action(call)
    raise resource_not_found(head.name)


def plural_name(name: str) -> str:
    """The collection name Dataverse derives from a table name: ``es`` after s/x, ``ies`` after consonant+y.

    ``new_bankaccount`` → ``new_bankaccounts``; ``new_box`` → ``new_boxes``; ``new_city`` → ``new_cities``.
    """
    lowered = name.lower()
    if lowered.endswith(("s", "x")):
        return f"{name}es"
    if lowered.endswith("y") and len(name) > 1 and lowered[-2] not in "aeiou":
        return f"{name[:-1]}ies"
    return f"{name}s"


@dataclass
class _Call:
    """One request being answered."""

    state: SandboxState
    request: ApiRequest
    caller_id: str
    api_url: str

    @property
    def catalogue(self) -> Catalogue:
        return self.state.catalogue

    def query(self) -> _Query:
        return _parse_query(self.request.query)

    def context(self, fragment: str) -> str:
        return f"{self.api_url}$metadata#{fragment}"

    def body(self) -> dict[str, Any]:
        try:
            body = self.request.json()
        except ValueError:
            raise bad_request("The request body is not valid JSON.", "0x80048d19") from None
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object.", "0x80048d19")
        return body

    def require(self, privilege: str) -> None:
        self.state.security.require_named(self.caller_id, privilege)


def _ok(payload: Mapping[str, Any]) -> ApiResponse:
    return ApiResponse.json(200, payload, {"OData-Version": "4.0"})


def _no_content(entity_id: str | None = None) -> ApiResponse:
    headers = {"OData-Version": "4.0"}
    if entity_id is not None:
        headers["OData-EntityId"] = entity_id
    return ApiResponse.empty(204, headers)


# --------------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------------


def _entity_not_found(name: str | None, metadata_id: str = EMPTY_GUID) -> DataverseError:
    """404 ObjectDoesNotExist as RetrieveEntity answers it (a lookup by MetadataId has no name: ``null``)."""
    return DataverseError(
        404, "0x80040217", f"Could not find an entity with name {name or 'null'} and id {metadata_id}"
    )


def _attribute_not_found(entity: EntityDef, name: str) -> DataverseError:
    # undocumented: the wording of RetrieveAttribute's ObjectDoesNotExist.
    return DataverseError(
        404,
        "0x80040217",
        f"Could not find an attribute with specified name: {name} on entity: {entity.logical_name}.",
    )


def _not_found(kind: str, name: str) -> DataverseError:
    # undocumented: the wording for keys, relationships and global choices.
    return DataverseError(404, "0x80040217", f"Could not find {kind} with name {name}.")


def _duplicate_entity() -> DataverseError:
    """InvalidSchemaName ``0x8004700b`` (``includes/data-service-error-codes.md``)."""
    return DataverseError(
        400, "0x8004700b", "An entity with the specified name already exists. Please specify a unique name."
    )


def _duplicate_attribute(schema_name: str, entity: str) -> DataverseError:
    """DuplicateAttributeSchemaName ``0x80047013``."""
    return DataverseError(
        400,
        "0x80047013",
        f"An attribute with the specified name {schema_name} already exists on entity {entity}. "
        f"Please specify a unique name.",
    )


def _not_customizable(what: str) -> DataverseError:
    # undocumented: the code of this refusal (InvalidArgument here).
    return bad_request(f"The specified {what} is not a custom {what} and cannot be deleted.")


# --------------------------------------------------------------------------------------------------------
# Query options: $select, $filter, $expand
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Expand:
    """One ``$expand`` item with its nested ``$select``/``$filter``."""

    name: str
    select: tuple[str, ...] | None = None
    filter: _Node | None = None


@dataclass(frozen=True)
class _Query:
    select: tuple[str, ...] | None = None
    filter: _Node | None = None
    expand: tuple[_Expand, ...] = ()


def _parse_query(pairs: Sequence[tuple[str, str]]) -> _Query:
    seen: dict[str, str] = {}
    for name, value in pairs:
        if not name.startswith("$"):
            continue  # parameter aliases and non-OData parameters (SolutionUniqueName …) are not options
        if name not in _SUPPORTED_OPTIONS:
            raise unsupported_query_option(name)
        if name in seen:
            raise query_syntax_error(
                f"Query option '{name}' was specified more than once, but it must be specified at most once."
            )
        seen[name] = value
    return _Query(
        select=_parse_select(seen["$select"]) if "$select" in seen else None,
        filter=_parse_filter(seen["$filter"]) if "$filter" in seen else None,
        expand=_parse_expand(seen["$expand"]) if "$expand" in seen else (),
    )


def _parse_select(text: str) -> tuple[str, ...] | None:
    if not text.strip() or text.strip() == "*":
        return None
    names = []
    for item in text.split(","):
        name = item.strip()
        if not _IDENTIFIER.match(name):
            raise query_syntax_error(f"Syntax error in $select '{text}': '{name}' is not a property name.")
        names.append(name)
    return tuple(names)


def _split_top(text: str, separator: str) -> list[str]:
    """Split at ``separator`` outside parentheses and quotes."""
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for index, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part.strip() for part in parts]


def _parse_expand(text: str) -> tuple[_Expand, ...]:
    items: list[_Expand] = []
    for item in _split_top(text, ","):
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?", item, re.DOTALL)
        if match is None:
            raise query_syntax_error(f"Syntax error in $expand '{text}' at '{item}'.")
        name, inner = match.group(1), match.group(2)
        select: tuple[str, ...] | None = None
        condition: _Node | None = None
        for option in _split_top(inner or "", ";"):
            if not option:
                continue
            key, sep, value = option.partition("=")
            key = key.strip()
            if not sep:
                raise query_syntax_error(f"Syntax error in $expand '{text}' at '{option}'.")
            if key == "$select":
                select = _parse_select(value)
            elif key == "$filter":
                condition = _parse_filter(value)
            else:
                raise query_syntax_error(f"The query option '{key}' is not supported inside $expand of metadata.")
        items.append(_Expand(name, select, condition))
    return tuple(items)


def _project(
    row: Mapping[str, Any], select: tuple[str, ...] | None, type_name: str, allowed: Iterable[str]
) -> dict[str, Any]:
    """``row`` restricted to ``select`` (plus ``@odata.type`` and ``MetadataId``, always returned).

    Raises:
        DataverseError: 400 ``0x80060888`` for a name that is no property of ``type_name``.
    """
    if select is None:
        return dict(row)
    known = set(allowed)
    result: dict[str, Any] = {}
    if "@odata.type" in row:
        result["@odata.type"] = row["@odata.type"]
    for name in select:
        if name not in known:
            raise property_not_found(name, type_name)
        if name in _NAVIGATION:
            continue  # a navigation property in $select adds nothing to a minimal-metadata answer
        result[name] = row.get(name)
    if "MetadataId" in row:
        result["MetadataId"] = row["MetadataId"]
    return result


def _validate(query: _Query, type_name: str, allowed: frozenset[str]) -> None:
    """Check ``$select`` and the properties ``$filter`` names before any row is looked at.

    Raises:
        DataverseError: 400 ``0x80060888`` for a name that is no property of ``type_name``.
    """
    if query.select is not None:
        _project({}, query.select, type_name, allowed)
    if query.filter is not None:
        _check_filter_paths(query.filter, allowed, type_name)


def _context_select(select: tuple[str, ...] | None, expand: Sequence[_Expand] = ()) -> str:
    """The ``(a,b,Nav(c))`` part of an ``@odata.context``."""
    items = list(select or ())
    for item in expand:
        items.append(f"{item.name}({','.join(item.select or ())})")
    return f"({','.join(items)})" if items else ""


# --------------------------------------------------------------------------------------------------------
# $filter over metadata: a small parser and an evaluator over the JSON of each definition
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Path:
    segments: tuple[str, ...]


@dataclass(frozen=True)
class _Const:
    value: object


@dataclass(frozen=True)
class _Compare:
    op: str
    left: _Node
    right: _Node


@dataclass(frozen=True)
class _Logic:
    op: str
    operands: tuple[_Node, ...]


@dataclass(frozen=True)
class _Not:
    operand: _Node


@dataclass(frozen=True)
class _Function:
    name: str
    target: _Path
    value: str


_Node = _Path | _Const | _Compare | _Logic | _Not | _Function

_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))
    |(?P<enum>[A-Za-z_][\w.]*'(?:[^']|'')*')
    |(?P<string>'(?:[^']|'')*')
    |(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.]))
    |(?P<ident>[A-Za-z_][\w.]*)
    |(?P<punct>[(),/])""",
    re.VERBOSE,
)
_OPERATORS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_STRING_FUNCTIONS = frozenset({"contains", "startswith", "endswith"})


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise query_syntax_error(f"Syntax error at position {pos} in '{text}'.")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append((kind, match.group()))
        pos = match.end()
    tokens.append(("end", ""))
    return tokens


class _FilterParser:
    """Recursive descent: ``or`` < ``and`` < ``not`` < comparison, with parentheses."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def parse(self) -> _Node:
        node = self._or()
        if self.tokens[self.index][0] != "end":
            raise self._error()
        return node

    def _error(self) -> DataverseError:
        value = self.tokens[self.index][1]
        shown = value or "end of input"
        return query_syntax_error(f"Syntax error at '{shown}' in $filter '{self.text}'.")

    def _peek(self) -> tuple[str, str]:
        return self.tokens[self.index]

    def _keyword(self, word: str) -> bool:
        kind, value = self._peek()
        if kind == "ident" and value == word:
            self.index += 1
            return True
        return False

    def _punct(self, char: str) -> bool:
        if self._peek() == ("punct", char):
            self.index += 1
            return True
        return False

    def _or(self) -> _Node:
        operands = [self._and()]
        while self._keyword("or"):
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else _Logic("or", tuple(operands))

    def _and(self) -> _Node:
        operands = [self._unary()]
        while self._keyword("and"):
            operands.append(self._unary())
        return operands[0] if len(operands) == 1 else _Logic("and", tuple(operands))

    def _unary(self) -> _Node:
        if self._keyword("not"):
            return _Not(self._unary())
        left = self._operand()
        kind, value = self._peek()
        if kind == "ident" and value in _OPERATORS:
            self.index += 1
            return _Compare(value, left, self._operand())
        return left

    def _operand(self) -> _Node:
        kind, value = self._peek()
        if self._punct("("):
            node = self._or()
            if not self._punct(")"):
                raise self._error()
            return node
        self.index += 1
        if kind == "string":
            return _Const(value[1:-1].replace("''", "'"))
        if kind == "enum":
            return _Const(value[value.index("'") + 1 : -1].replace("''", "'"))
        if kind == "guid":
            return _Const(value.lower())
        if kind == "number":
            return _Const(float(value) if any(c in value for c in ".eE") else int(value))
        if kind == "ident":
            if value in ("true", "false"):
                return _Const(value == "true")
            if value == "null":
                return _Const(None)
            if value in _STRING_FUNCTIONS and self._peek() == ("punct", "("):
                return self._function(value)
            segments = [value]
            while self._punct("/"):
                name_kind, name = self._peek()
                if name_kind != "ident":
                    raise self._error()
                self.index += 1
                segments.append(name)
            return _Path(tuple(segments))
        self.index -= 1
        raise self._error()

    def _function(self, name: str) -> _Node:
        self._punct("(")
        target = self._operand()
        if not self._punct(","):
            raise self._error()
        value = self._operand()
        if not self._punct(")"):
            raise self._error()
        if not isinstance(target, _Path) or not isinstance(value, _Const) or not isinstance(value.value, str):
            raise query_syntax_error(
                f"No function signature for the function with name '{name}' matches the specified arguments."
            )
        return _Function(name, target, value.value)


def _parse_filter(text: str) -> _Node:
    if not text.strip():
        raise query_syntax_error("The $filter query option is empty.")
    return _FilterParser(text).parse()


def _resolve_path(row: Mapping[str, Any], path: _Path, type_name: str) -> Any:
    value: Any = row
    for index, name in enumerate(path.segments):
        if value is None:
            return None
        if not isinstance(value, Mapping) or name not in value:
            if index == 0:
                raise property_not_found(name, type_name)
            raise query_syntax_error(
                f"Could not find a property named '{name}' in the path '{'/'.join(path.segments)}'."
            )
        value = value[name]
    return value


def _evaluate(node: _Node, row: Mapping[str, Any], type_name: str) -> Any:
    if isinstance(node, _Const):
        return node.value
    if isinstance(node, _Path):
        return _resolve_path(row, node, type_name)
    if isinstance(node, _Not):
        return not _evaluate(node.operand, row, type_name)
    if isinstance(node, _Logic):
        results = (bool(_evaluate(operand, row, type_name)) for operand in node.operands)
        return all(results) if node.op == "and" else any(results)
    if isinstance(node, _Function):
        value = _resolve_path(row, node.target, type_name)
        if not isinstance(value, str):
            return False
        if node.name == "contains":
            return node.value in value
        if node.name == "startswith":
            return value.startswith(node.value)
        return value.endswith(node.value)
    left = _evaluate(node.left, row, type_name)
    right = _evaluate(node.right, row, type_name)
    if isinstance(left, str) and _is_guid_text(left) and isinstance(right, str):
        left, right = left.lower(), right.lower()
    if node.op == "eq":
        return left == right
    if node.op == "ne":
        return left != right
    if left is None or right is None:
        return False
    try:
        if node.op == "gt":
            return left > right
        if node.op == "ge":
            return left >= right
        if node.op == "lt":
            return left < right
        return left <= right
    except TypeError:
        raise query_syntax_error(f"The operands of '{node.op}' are of incompatible types.") from None


def _is_guid_text(text: str) -> bool:
    return parse_guid(text) is not None and len(text) == 36


def _matches(row: Mapping[str, Any], condition: _Node | None, type_name: str) -> bool:
    return condition is None or bool(_evaluate(condition, row, type_name))


# --------------------------------------------------------------------------------------------------------
# Serialisation: labels, managed properties, options
# --------------------------------------------------------------------------------------------------------


def _localized(text: str, language: int, managed: bool, key: str) -> dict[str, Any]:
    return {
        "Label": text,
        "LanguageCode": language,
        "IsManaged": managed,
        "MetadataId": stable_id("label", key, str(language)),
        "HasChanged": None,
    }


def _label(text: str | None, *, managed: bool, key: str, spanish: str | None = None) -> dict[str, Any]:
    """A ``Label``: localized labels (English, and Spanish when known) and the user's (English) label."""
    if not text:
        return {"LocalizedLabels": [], "UserLocalizedLabel": None}
    english = _localized(text, ENGLISH, managed, key)
    labels = [english]
    if spanish:
        labels.append(_localized(spanish, SPANISH, managed, key))
    return {"LocalizedLabels": labels, "UserLocalizedLabel": dict(english)}


def _managed(value: object, name: str, *, can_change: bool = True) -> dict[str, Any]:
    """A ``BooleanManagedProperty``-shaped value."""
    return {"Value": value, "CanBeChanged": can_change, "ManagedPropertyLogicalName": name}


def _option(option: OptionDef, kind: AttributeType, managed: bool, key: str) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    if kind == AttributeType.STATE:
        payload["@odata.type"] = f"#{CRM}StateOptionMetadata"
    elif kind == AttributeType.STATUS:
        payload["@odata.type"] = f"#{CRM}StatusOptionMetadata"
    payload.update(
        {
            "Value": option.value,
            "Color": None,
            "IsManaged": managed,
            "ExternalValue": None,
            "ParentValues": [],
            "Tag": None,
            "IsHidden": False,
            "MetadataId": None,
            "HasChanged": None,
            "Label": _label(option.label, managed=managed, key=f"{key}:{option.value}", spanish=option.label_es),
            "Description": _label(None, managed=managed, key=""),
        }
    )
    if kind == AttributeType.STATE:
        payload["DefaultStatus"] = option.default_status
        payload["InvariantName"] = option.label.replace(" ", "")
    elif kind == AttributeType.STATUS:
        payload["State"] = option.state
        payload["TransitionData"] = None
    return payload


def _option_set(
    name: str,
    kind: AttributeType,
    options: Sequence[OptionDef],
    *,
    is_global: bool,
    managed: bool,
    display: str,
    true_label: str = "Yes",
    false_label: str = "No",
) -> dict[str, Any]:
    """An ``OptionSetMetadata`` (or ``BooleanOptionSetMetadata`` for Boolean columns)."""
    key = f"optionset:{name}"
    payload: dict[str, Any] = {
        "MetadataId": stable_id("optionset", name),
        "HasChanged": None,
        "IsCustomOptionSet": not managed,
        "IsGlobal": is_global,
        "IsManaged": managed,
        "IsCustomizable": _managed(True, "iscustomizable", can_change=False),
        "Name": name,
        "ExternalTypeName": None,
        "OptionSetType": "Boolean" if kind == AttributeType.BOOLEAN else kind.value,
        "IntroducedVersion": "1.0",
        "DisplayName": _label(display, managed=managed, key=f"{key}:display"),
        "Description": _label(None, managed=managed, key=""),
    }
    if kind == AttributeType.BOOLEAN:
        payload["@odata.type"] = f"#{CRM}BooleanOptionSetMetadata"
        payload["TrueOption"] = _option(OptionDef(1, true_label), kind, managed, key)
        payload["FalseOption"] = _option(OptionDef(0, false_label), kind, managed, key)
    else:
        payload["@odata.type"] = f"#{CRM}{_OPTION_SET_TYPE}"
        payload["Options"] = [_option(option, kind, managed, key) for option in options]
    return payload


# --------------------------------------------------------------------------------------------------------
# Serialisation: tables, columns, relationships, keys
# --------------------------------------------------------------------------------------------------------


def _entity_row(catalogue: Catalogue, entity: EntityDef) -> dict[str, Any]:
    """Every ``EntityMetadata`` property of a table (navigation properties excluded)."""
    managed = not entity.is_custom
    key = f"entity:{entity.logical_name}"
    is_party = any(
        r.referencing_entity == "activityparty"
        and r.referencing_attribute == "partyid"
        and r.referenced_entity == entity.logical_name
        for r in catalogue.relationships.values()
    )
    privileges = []
    for verb in VERBS:
        name = privilege_name(verb, entity)
        privileges.append(
            {
                "CanBeBasic": entity.ownership_type == OwnershipType.USER_OWNED,
                "CanBeDeep": entity.ownership_type == OwnershipType.USER_OWNED,
                "CanBeGlobal": True,
                "CanBeLocal": entity.ownership_type == OwnershipType.USER_OWNED,
                "CanBeEntityReference": False,
                "CanBeParentEntityReference": False,
                "Name": name,
                "PrivilegeId": privilege_id(name),
                "PrivilegeType": verb,
            }
        )
    return {
        "MetadataId": entity.metadata_id,
        "HasChanged": None,
        "LogicalName": entity.logical_name,
        "SchemaName": entity.schema_name,
        "EntitySetName": entity.entity_set_name,
        "LogicalCollectionName": entity.entity_set_name,
        "CollectionSchemaName": plural_name(entity.schema_name),
        "PrimaryIdAttribute": entity.primary_id,
        "PrimaryNameAttribute": entity.primary_name or None,
        "PrimaryImageAttribute": None,
        "ObjectTypeCode": entity.object_type_code,
        "OwnershipType": entity.ownership_type.value,
        "TableType": "Standard",
        "IsActivity": entity.is_activity,
        "IsActivityParty": is_party,
        "ActivityTypeMask": 1 if entity.is_activity else 0,
        "IsCustomEntity": entity.is_custom,
        "IsManaged": managed,
        "IsPrivate": False,
        "IsIntersect": False,
        "IsLogicalEntity": False,
        "IsChildEntity": False,
        "IsBPFEntity": False,
        "IsStateModelAware": entity.attribute("statecode") is not None,
        "IsReadOnlyInMobileClient": _managed(False, "canmodifymobileclientreadonly"),
        "ChangeTrackingEnabled": entity.change_tracking_enabled,
        "CanChangeTrackingBeEnabled": _managed(
            entity.can_change_tracking_be_enabled, "canchangetrackingbeenabled", can_change=False
        ),
        "IsOptimisticConcurrencyEnabled": entity.is_optimistic_concurrency_enabled,
        "HasNotes": entity.has_notes,
        "HasActivities": entity.has_activities,
        "HasFeedback": False,
        "HasEmailAddresses": entity.attribute("emailaddress1") is not None,
        "IsAuditEnabled": _managed(False, "canmodifyauditsettings"),
        "IsRetrieveAuditEnabled": False,
        "IsRetrieveMultipleAuditEnabled": False,
        "IsCustomizable": _managed(True, "iscustomizable", can_change=not managed),
        "IsRenameable": _managed(True, "isrenameable"),
        "IsMappable": _managed(True, "ismappable", can_change=False),
        "IsValidForQueue": _managed(False, "canmodifyqueuesettings"),
        "IsConnectionsEnabled": _managed(False, "canmodifyconnectionsettings"),
        "IsDuplicateDetectionEnabled": _managed(False, "canmodifyduplicatedetectionsettings"),
        "IsMailMergeEnabled": _managed(True, "canmodifymailmergesettings"),
        "IsVisibleInMobile": _managed(False, "canmodifymobilevisibility"),
        "IsVisibleInMobileClient": _managed(False, "canmodifymobileclientvisibility"),
        "IsOfflineInMobileClient": _managed(False, "canmodifymobileclientoffline"),
        "CanCreateAttributes": _managed(not entity.is_read_only, "cancreateattributes", can_change=False),
        "CanCreateForms": _managed(True, "cancreateforms"),
        "CanCreateViews": _managed(True, "cancreateviews"),
        "CanCreateCharts": _managed(True, "cancreatecharts"),
        "CanBeRelatedEntityInRelationship": _managed(True, "canberelatedentityinrelationship"),
        "CanBePrimaryEntityInRelationship": _managed(True, "canbeprimaryentityinrelationship"),
        "CanBeInManyToMany": _managed(True, "canbeinmanytomany"),
        "CanBeInCustomEntityAssociation": _managed(True, "canbeincustomentityassociation"),
        "CanEnableSyncToExternalSearchIndex": _managed(True, "canenablesynctoexternalsearchindex"),
        "CanModifyAdditionalSettings": _managed(True, "canmodifyadditionalsettings"),
        "CanChangeHierarchicalRelationship": _managed(True, "canchangehierarchicalrelationship"),
        "SyncToExternalSearchIndex": False,
        "IsValidForAdvancedFind": True,
        "IsImportable": True,
        "IsEnabledForCharts": True,
        "IsEnabledForTrace": False,
        "IsQuickCreateEnabled": False,
        "IsAvailableOffline": False,
        "IsReadingPaneEnabled": True,
        "IsAIRUpdated": False,
        "IsDocumentManagementEnabled": False,
        "IsOneNoteIntegrationEnabled": False,
        "IsKnowledgeManagementEnabled": False,
        "IsInteractionCentricEnabled": False,
        "IsSLAEnabled": False,
        "IsMSTeamsIntegrationEnabled": False,
        "IsBusinessProcessEnabled": False,
        "AutoRouteToOwnerQueue": False,
        "AutoCreateAccessTeams": False,
        "CanTriggerWorkflow": True,
        "DaysSinceRecordLastModified": 0,
        "EntityColor": None,
        "EntityHelpUrl": None,
        "EntityHelpUrlEnabled": False,
        "IconLargeName": None,
        "IconMediumName": None,
        "IconSmallName": None,
        "IconVectorName": None,
        "ExternalName": None,
        "ExternalCollectionName": None,
        "DataProviderId": None,
        "DataSourceId": None,
        "RecurrenceBaseEntityLogicalName": None,
        "ReportViewName": f"Filtered{entity.schema_name}",
        "IntroducedVersion": "1.0" if entity.is_custom else "5.0.0.0",
        "DisplayName": _label(entity.display_name, managed=managed, key=f"{key}:display"),
        "DisplayCollectionName": _label(entity.display_collection_name, managed=managed, key=f"{key}:plural"),
        "Description": _label(entity.description, managed=managed, key=f"{key}:description"),
        "Privileges": privileges,
    }


def _attribute_common(entity: EntityDef, attribute: AttributeDef, column_number: int) -> dict[str, Any]:
    """The ``AttributeMetadata`` properties every column has."""
    managed = not attribute.is_custom
    key = f"attribute:{entity.logical_name}:{attribute.logical_name}"
    return {
        "@odata.type": f"#{CRM}{METADATA_TYPE_NAMES[attribute.type]}",
        "MetadataId": attribute.metadata_id(entity.logical_name),
        "HasChanged": None,
        "LogicalName": attribute.logical_name,
        "SchemaName": attribute.schema_name,
        "EntityLogicalName": entity.logical_name,
        "AttributeType": attribute.type.value,
        "AttributeTypeName": {"Value": _TYPE_NAMES[attribute.type]},
        "AttributeOf": None,
        "ColumnNumber": column_number,
        "DisplayName": _label(attribute.display_name, managed=managed, key=f"{key}:display"),
        "Description": _label(attribute.description, managed=managed, key=f"{key}:description"),
        "RequiredLevel": _managed(attribute.required_level.value, "canmodifyrequirementlevelsettings"),
        "IsValidForCreate": attribute.is_valid_for_create,
        "IsValidForUpdate": attribute.is_valid_for_update,
        "IsValidForRead": attribute.is_valid_for_read,
        "IsValidForForm": True,
        "IsValidForGrid": True,
        "IsValidODataAttribute": True,
        "IsValidForAdvancedFind": _managed(attribute.is_stored, "canmodifysearchsettings"),
        "IsPrimaryId": attribute.is_primary_id,
        "IsPrimaryName": attribute.is_primary_name,
        "IsCustomAttribute": attribute.is_custom,
        "IsManaged": managed,
        "IsLogical": not attribute.is_stored,
        "IsSecured": False,
        "IsFilterable": attribute.is_stored,
        "IsSearchable": attribute.is_stored,
        "IsRetrievable": True,
        "IsRequiredForForm": attribute.required_level == RequiredLevel.SYSTEM_REQUIRED,
        "IsDataSourceSecret": False,
        "IsAuditEnabled": _managed(True, "canmodifyauditsettings"),
        "IsCustomizable": _managed(True, "iscustomizable", can_change=not managed),
        "IsRenameable": _managed(True, "isrenameable"),
        "IsGlobalFilterEnabled": _managed(False, "canmodifyglobalfiltersettings"),
        "IsSortableEnabled": _managed(False, "canmodifyissortablesettings"),
        "CanModifyAdditionalSettings": _managed(True, "canmodifyadditionalsettings"),
        "CanBeSecuredForCreate": attribute.is_custom,
        "CanBeSecuredForRead": attribute.is_custom,
        "CanBeSecuredForUpdate": attribute.is_custom,
        "SourceType": 0,
        "AutoNumberFormat": None,
        "ExternalName": None,
        "LinkedAttributeId": None,
        "DeprecatedVersion": None,
        "IntroducedVersion": "1.0" if attribute.is_custom else "5.0.0.0",
    }


def _attribute_specific(entity: EntityDef, attribute: AttributeDef) -> dict[str, Any]:
    """The properties of the column's derived metadata type (``MaxLength``, ``Targets``, ``Precision`` …)."""
    kind = attribute.type
    if kind == AttributeType.STRING:
        length = attribute.max_length or 100
        return {
            "MaxLength": length,
            "DatabaseLength": length * 2,
            "Format": "Text",
            "FormatName": {"Value": "Text"},
            "ImeMode": "Auto",
            "IsLocalizable": False,
            "YomiOf": None,
            "FormulaDefinition": None,
            "SourceTypeMask": 0,
        }
    if kind == AttributeType.MEMO:
        length = attribute.max_length or 2000
        return {
            "MaxLength": length,
            "DatabaseLength": length * 2,
            "Format": "TextArea",
            "FormatName": {"Value": "TextArea"},
            "ImeMode": "Auto",
            "IsLocalizable": False,
        }
    if kind in (AttributeType.INTEGER, AttributeType.BIGINT):
        low, high = _INT32 if kind == AttributeType.INTEGER else _INT64
        payload: dict[str, Any] = {
            "MinValue": _number(attribute.min_value, low),
            "MaxValue": _number(attribute.max_value, high),
        }
        if kind == AttributeType.INTEGER:
            payload.update({"Format": "None", "FormulaDefinition": None, "SourceTypeMask": 0})
        return payload
    if kind in (AttributeType.DECIMAL, AttributeType.DOUBLE, AttributeType.MONEY):
        limit = _MONEY_LIMIT if kind == AttributeType.MONEY else _NUMBER_LIMIT
        payload = {
            "Precision": attribute.precision if attribute.precision is not None else 2,
            "MinValue": attribute.min_value if attribute.min_value is not None else -limit,
            "MaxValue": attribute.max_value if attribute.max_value is not None else limit,
            "ImeMode": "Auto",
        }
        if kind == AttributeType.MONEY:
            is_base = attribute.logical_name.endswith("_base")
            payload.update(
                {
                    "PrecisionSource": 2,
                    "IsBaseCurrency": is_base,
                    "CalculationOf": attribute.logical_name[: -len("_base")] if is_base else None,
                    "FormulaDefinition": None,
                    "SourceTypeMask": 0,
                }
            )
        else:
            payload.update({"FormulaDefinition": None, "SourceTypeMask": 0})
        return payload
    if kind == AttributeType.BOOLEAN:
        return {"DefaultValue": bool(attribute.default_value), "FormulaDefinition": None, "SourceTypeMask": 0}
    if kind == AttributeType.DATETIME:
        behavior = "DateOnly" if attribute.date_only else "UserLocal"
        return {
            "Format": "DateOnly" if attribute.date_only else "DateAndTime",
            "DateTimeBehavior": {"Value": behavior},
            "CanChangeDateTimeBehavior": _managed(attribute.is_custom, "canchangedatetimebehavior"),
            "ImeMode": "Inactive",
            "MinSupportedValue": "1753-01-01T00:00:00Z",
            "MaxSupportedValue": "9999-12-30T23:59:59Z",
            "FormulaDefinition": None,
            "SourceTypeMask": 0,
        }
    if kind in LOOKUP_TYPES or kind == AttributeType.PARTYLIST:
        return {"Targets": list(attribute.targets), "Format": "None"}
    if kind in (AttributeType.PICKLIST, AttributeType.STATUS):
        default = attribute.default_value if isinstance(attribute.default_value, int) else -1
        payload = {"DefaultFormValue": default, "FormulaDefinition": None, "SourceTypeMask": 0}
        if kind == AttributeType.PICKLIST:
            payload.update({"ParentPicklistLogicalName": None, "ChildPicklistLogicalNames": []})
        return payload
    if kind == AttributeType.STATE:
        return {"DefaultFormValue": -1}
    if kind == AttributeType.ENTITYNAME:
        return {"IsEntityReferenceStored": True}
    del entity
    return {}


def _number(value: float | None, default: int) -> int | float:
    if value is None:
        return default
    return int(value) if float(value).is_integer() else value


def _attribute_row(entity: EntityDef, attribute: AttributeDef, column_number: int = 0) -> dict[str, Any]:
    row = _attribute_common(entity, attribute, column_number)
    row.update(_attribute_specific(entity, attribute))
    return row


def _attribute_rows(entity: EntityDef) -> list[tuple[AttributeDef, dict[str, Any]]]:
    return [
        (attribute, _attribute_row(entity, attribute, number))
        for number, attribute in enumerate(entity.attributes.values(), start=1)
    ]


def _base_attribute_properties() -> frozenset[str]:
    sample = EntityDef("x", "xs", "xid", "name", 0)
    return frozenset(_attribute_common(sample, AttributeDef("a", AttributeType.VIRTUAL), 0))


_BASE_ATTRIBUTE_PROPERTIES = _base_attribute_properties()


def _cast_properties(cast: str) -> frozenset[str]:
    """The properties ``$select`` may name after a cast to ``cast`` (base plus derived)."""
    sample = EntityDef("x", "xs", "xid", "name", 0)
    names = set(_BASE_ATTRIBUTE_PROPERTIES)
    for kind in _cast_types(cast):
        names.update(_attribute_specific(sample, AttributeDef("a", kind)))
    if cast in _OPTION_CASTS:
        names.update({"OptionSet", "GlobalOptionSet"})
    return frozenset(names)


def _cast_types(cast: str) -> frozenset[AttributeType]:
    return frozenset(kind for kind, name in METADATA_TYPE_NAMES.items() if name == cast)


def _relationship_row(relationship: RelationshipDef, *, typed: bool) -> dict[str, Any]:
    """A ``OneToManyRelationshipMetadata``; ``typed`` adds ``@odata.type`` (RelationshipDefinitions)."""
    managed = not relationship.is_custom
    row: dict[str, Any] = {}
    if typed:
        row["@odata.type"] = f"#{CRM}{_RELATIONSHIP_TYPE}"
    row.update(
        {
            "MetadataId": relationship.metadata_id(),
            "HasChanged": None,
            "SchemaName": relationship.schema_name,
            "RelationshipType": "OneToManyRelationship",
            "IsCustomRelationship": relationship.is_custom,
            "IsManaged": managed,
            "IsValidForAdvancedFind": True,
            "IsHierarchical": False,
            "IsCustomizable": _managed(True, "iscustomizable", can_change=not managed),
            "SecurityTypes": "Append" if managed else "None",
            "IntroducedVersion": "1.0" if relationship.is_custom else "5.0.0.0",
            "ReferencedAttribute": relationship.referenced_attribute,
            "ReferencedEntity": relationship.referenced_entity,
            "ReferencingAttribute": relationship.referencing_attribute,
            "ReferencingEntity": relationship.referencing_entity,
            "ReferencedEntityNavigationPropertyName": relationship.referenced_nav,
            "ReferencingEntityNavigationPropertyName": relationship.referencing_nav,
            "RelationshipBehavior": 0,
            "IsDenormalizedLookup": None,
            "DenormalizedAttributeName": None,
            "EntityKey": None,
            "RelationshipAttributes": [],
            "CascadeConfiguration": relationship.cascade.to_metadata(),
            "AssociatedMenuConfiguration": {
                "Behavior": "UseCollectionName",
                "Group": "Details",
                "Label": _label(None, managed=managed, key=""),
                "Order": 10000,
                "IsCustomizable": True,
                "Icon": None,
                "ViewId": EMPTY_GUID,
                "AvailableOffline": True,
                "MenuId": None,
                "QueryApi": None,
            },
        }
    )
    return row


def _key_row(entity: EntityDef, key: KeyDef, status: str = "Active") -> dict[str, Any]:
    managed = False  # keys only come from the metadata API: unmanaged customizations
    return {
        "MetadataId": key.metadata_id(entity.logical_name),
        "HasChanged": None,
        "LogicalName": key.logical_name,
        "SchemaName": key.schema_name or key.logical_name,
        "EntityLogicalName": entity.logical_name,
        "KeyAttributes": list(key.key_attributes),
        "DisplayName": _label(
            key.display_name or key.schema_name or key.logical_name,
            managed=managed,
            key=f"key:{entity.logical_name}:{key.logical_name}",
        ),
        "EntityKeyIndexStatus": status,
        "AsyncJob": None,
        "IsCustomizable": _managed(True, "iscustomizable"),
        "IsManaged": managed,
        "IsSecondaryKey": False,
        "IsExportKey": False,
        "IsSynchronous": False,
        "IntroducedVersion": "1.0",
    }


def _failed_keys(state: SandboxState, entity: EntityDef) -> list[KeyDef]:
    """Keys whose unique index could not be built (duplicate values): ``EntityKeyIndexStatus`` Failed."""
    stored = state.storage.get_meta(_failed_keys_meta(entity))
    if not stored:
        return []
    return [
        KeyDef(item["logical_name"], tuple(item["key_attributes"]), item["schema_name"], item["display_name"])
        for item in json.loads(stored)
    ]


def _failed_keys_meta(entity: EntityDef) -> str:
    return f"metadata:failed_keys:{entity.logical_name}"


def _save_failed_keys(state: SandboxState, entity: EntityDef, keys: Sequence[KeyDef]) -> None:
    state.storage.set_meta(
        _failed_keys_meta(entity),
        json.dumps(
            [
                {
                    "logical_name": k.logical_name,
                    "key_attributes": list(k.key_attributes),
                    "schema_name": k.schema_name,
                    "display_name": k.display_name,
                }
                for k in keys
            ]
        ),
    )


# --------------------------------------------------------------------------------------------------------
# Addressing: keys in parentheses
# --------------------------------------------------------------------------------------------------------


def _named_key(args: str, name: str) -> str | None:
    """The value of ``Name='x'`` in ``args``; None when ``args`` is a GUID.

    Raises:
        DataverseError: 400 when ``args`` is neither a GUID nor ``<name>='…'``.
    """
    if parse_guid(args) is not None:
        return None
    try:
        named = parse_named_args(args)
    except DataverseError:
        named = {}
    if set(named) != {name}:
        raise bad_request(
            f"Bad Request - Error in query syntax: '{args}' is not a valid key; use a MetadataId or {name}='…'.",
            "0x80060888",
        )
    return unquote_literal(named[name])


def _entity_for(call: _Call, segment: Segment) -> tuple[EntityDef, str]:
    """The table a ``EntityDefinitions(…)`` segment names, and its ``@odata.context`` path.

    Raises:
        DataverseError: 404 ``0x80040217`` for an unknown table.
    """
    args = segment.args or ""
    name = _named_key(args, "LogicalName")
    if name is not None:
        entity = call.catalogue.find_entity(name.lower())
        if entity is None:
            raise _entity_not_found(name)
        return entity, f"EntityDefinitions('{entity.logical_name}')"
    metadata_id = parse_guid(args) or ""
    for entity in call.catalogue.entities.values():
        if entity.metadata_id == metadata_id:
            return entity, f"EntityDefinitions({metadata_id})"
    raise _entity_not_found(None, metadata_id)


def _attribute_for(entity: EntityDef, segment: Segment) -> AttributeDef:
    args = segment.args or ""
    name = _named_key(args, "LogicalName")
    if name is not None:
        attribute = entity.attribute(name.lower())
        if attribute is None:
            raise _attribute_not_found(entity, name)
        return attribute
    metadata_id = parse_guid(args) or ""
    for attribute in entity.attributes.values():
        if attribute.metadata_id(entity.logical_name) == metadata_id:
            return attribute
    raise _attribute_not_found(entity, metadata_id)


def _entity_url(call: _Call, entity: EntityDef) -> str:
    return f"{call.api_url}EntityDefinitions(LogicalName='{entity.logical_name}')"


# --------------------------------------------------------------------------------------------------------
# EntityDefinitions
# --------------------------------------------------------------------------------------------------------


def _entity_definitions(call: _Call, segments: list[Segment]) -> ApiResponse:
    head = segments[0]
    method = call.request.method
    if head.args is None:
        if len(segments) > 1:
            raise resource_not_found(segments[1].name)
        if method == "GET":
            return _list_entities(call)
        if method == "POST":
            entity = _create_entity(call, call.body())
            return _no_content(f"{call.api_url}EntityDefinitions({entity.metadata_id})")
        raise method_not_allowed(f"The HTTP method '{method}' is not allowed on 'EntityDefinitions'.")
    entity, path = _entity_for(call, head)
    if len(segments) == 1:
        if method == "GET":
            return _get_entity(call, entity)
        if method in ("PUT", "PATCH"):
            _update_entity(call, entity, call.body(), replace=method == "PUT")
            return _no_content()
        if method == "DELETE":
            _delete_entity(call, entity)
            return _no_content()
        raise method_not_allowed(f"The HTTP method '{method}' is not allowed on this table definition.")
    second = segments[1]
    rest = segments[2:]
    if second.name == "Attributes":
        return _attributes(call, entity, path, second, rest)
    if second.name in ("ManyToOneRelationships", "OneToManyRelationships"):
        return _entity_relationships(call, entity, path, second, rest)
    if second.name == "ManyToManyRelationships" and second.args is None and not rest:
        _only(call, "GET")
        return _ok({"@odata.context": call.context(f"{path}/ManyToManyRelationships"), "value": []})
    if second.name == "Keys":
        return _keys(call, entity, path, second, rest)
    raise resource_not_found(second.name)


def _only(call: _Call, *methods: str) -> None:
    if call.request.method not in methods:
        raise method_not_allowed(f"The HTTP method '{call.request.method}' is not allowed on this resource.")


def _entity_payload(call: _Call, entity: EntityDef, query: _Query, row: dict[str, Any] | None = None) -> dict[str, Any]:
    full = row if row is not None else _entity_row(call.catalogue, entity)
    allowed = set(full) | set(_ENTITY_NAVIGATION)
    payload = _project(full, query.select, _ENTITY_TYPE, allowed)
    for item in query.expand:
        payload[item.name] = _expand_entity(call, entity, item)
    return payload


def _expand_entity(call: _Call, entity: EntityDef, item: _Expand) -> list[dict[str, Any]]:
    if item.name == "Attributes":
        rows = [row for _, row in _attribute_rows(entity)]
        type_name, allowed = _ATTRIBUTE_TYPE, _BASE_ATTRIBUTE_PROPERTIES
    elif item.name in ("ManyToOneRelationships", "OneToManyRelationships"):
        rows = [_relationship_row(r, typed=False) for r in _relationships_of(call.catalogue, entity, item.name)]
        type_name, allowed = _RELATIONSHIP_TYPE, _RELATIONSHIP_PROPERTIES
    elif item.name == "Keys":
        rows = [_key_row(entity, key) for key in entity.keys]
        rows += [_key_row(entity, key, "Failed") for key in _failed_keys(call.state, entity)]
        type_name, allowed = _KEY_TYPE, _KEY_PROPERTIES
    elif item.name == "ManyToManyRelationships":
        return []
    else:
        raise property_not_found(item.name, _ENTITY_TYPE)
    _validate(_Query(item.select, item.filter), type_name, allowed)
    return [_project(row, item.select, type_name, allowed) for row in rows if _matches(row, item.filter, type_name)]


_SAMPLE_RELATIONSHIP = RelationshipDef("s", "a", "b", "c", "d", "e", "f")
_RELATIONSHIP_PROPERTIES = frozenset(_relationship_row(_SAMPLE_RELATIONSHIP, typed=True))
_KEY_PROPERTIES = frozenset(_key_row(EntityDef("x", "xs", "xid", "name", 0), KeyDef("k", ("a",))))


def _list_entities(call: _Call) -> ApiResponse:
    query = call.query()
    values = []
    type_name = _ENTITY_TYPE
    _validate(query, type_name, _ENTITY_PROPERTIES)
    for entity in call.catalogue.entities.values():
        row = _entity_row(call.catalogue, entity)
        if not _matches(row, query.filter, type_name):
            continue
        values.append(_entity_payload(call, entity, query, row))
    context = call.context(f"EntityDefinitions{_context_select(query.select, query.expand)}")
    return _ok({"@odata.context": context, "value": values})


_SAMPLE_ENTITY = EntityDef("x", "xs", "xid", "name", 0)
_ENTITY_PROPERTIES = frozenset(_entity_row(Catalogue(), _SAMPLE_ENTITY)) | frozenset(_ENTITY_NAVIGATION)


def _get_entity(call: _Call, entity: EntityDef) -> ApiResponse:
    query = call.query()
    payload = {
        "@odata.context": call.context(f"EntityDefinitions{_context_select(query.select, query.expand)}/$entity")
    }
    payload.update(_entity_payload(call, entity, query))
    return _ok(payload)


def _relationships_of(catalogue: Catalogue, entity: EntityDef, which: str) -> list[RelationshipDef]:
    if which == "ManyToOneRelationships":
        return catalogue.many_to_one(entity.logical_name)
    return catalogue.one_to_many(entity.logical_name)


# --------------------------------------------------------------------------------------------------------
# EntityDefinitions(…)/Attributes
# --------------------------------------------------------------------------------------------------------


def _attributes(call: _Call, entity: EntityDef, path: str, segment: Segment, rest: list[Segment]) -> ApiResponse:
    method = call.request.method
    if segment.args is None:
        cast = _cast_of(rest[0]) if rest else None
        if len(rest) > 1:
            raise resource_not_found(rest[1].name)
        if method == "GET":
            return _list_attributes(call, entity, path, cast)
        if method == "POST" and cast is None:
            attribute = _add_attribute(call, entity, call.body())
            return _no_content(f"{_entity_url(call, entity)}/Attributes({attribute.metadata_id(entity.logical_name)})")
        raise method_not_allowed(f"The HTTP method '{method}' is not allowed on 'Attributes'.")
    attribute = _attribute_for(entity, segment)
    if not rest:
        if method == "GET":
            return _get_attribute(call, entity, attribute, path, None)
        if method == "DELETE":
            _delete_attribute(call, entity, attribute)
            return _no_content()
        if method in ("PUT", "PATCH"):
            _update_attribute(call, attribute, call.body())
            return _no_content()
        raise method_not_allowed(f"The HTTP method '{method}' is not allowed on this column definition.")
    cast = _cast_of(rest[0])
    _only(call, "GET")
    if cast is None or cast in _EMPTY_CASTS or attribute.type not in _cast_types(cast):
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
    if cast in _EMPTY_CASTS or cast in METADATA_TYPE_NAMES.values():
        return cast
    raise resource_not_found(segment.name)


def _list_attributes(call: _Call, entity: EntityDef, path: str, cast: str | None) -> ApiResponse:
    query = call.query()
    if cast is None:
        type_name, allowed = _ATTRIBUTE_TYPE, _BASE_ATTRIBUTE_PROPERTIES
        rows = _attribute_rows(entity)
    else:
        type_name, allowed = cast, _cast_properties(cast)
        kinds = _cast_types(cast)
        rows = [(a, row) for a, row in _attribute_rows(entity) if a.type in kinds]
    _validate(query, type_name, allowed)
    _check_expand(query, cast)
    values = []
    for attribute, row in rows:
        if not _matches(row, query.filter, type_name):
            continue
        values.append(_attribute_payload(call, entity, attribute, row, query, type_name, allowed))
    suffix = f"/{CRM}{cast}" if cast else ""
    context = call.context(f"{path}/Attributes{suffix}{_context_select(query.select, query.expand)}")
    return _ok({"@odata.context": context, "value": values})


def _check_filter_paths(node: _Node, allowed: frozenset[str], type_name: str) -> None:
    """Every property path of a filter starts with a property of the type."""
    if isinstance(node, _Path):
        if node.segments[0] not in allowed:
            raise property_not_found(node.segments[0], type_name)
    elif isinstance(node, _Compare):
        _check_filter_paths(node.left, allowed, type_name)
        _check_filter_paths(node.right, allowed, type_name)
    elif isinstance(node, _Logic):
        for operand in node.operands:
            _check_filter_paths(operand, allowed, type_name)
    elif isinstance(node, _Not):
        _check_filter_paths(node.operand, allowed, type_name)
    elif isinstance(node, _Function):
        _check_filter_paths(node.target, allowed, type_name)


def _check_expand(query: _Query, cast: str | None) -> None:
    for item in query.expand:
        if cast not in _OPTION_CASTS or item.name not in ("OptionSet", "GlobalOptionSet"):
            raise property_not_found(item.name, cast or _ATTRIBUTE_TYPE)


def _attribute_payload(
    call: _Call,
    entity: EntityDef,
    attribute: AttributeDef,
    row: dict[str, Any],
    query: _Query,
    type_name: str,
    allowed: frozenset[str],
) -> dict[str, Any]:
    payload = _project(row, query.select, type_name, allowed)
    for item in query.expand:
        option_set = _option_sets(call, entity, attribute).get(item.name)
        if option_set is None:
            payload[item.name] = None
            continue
        option_allowed = set(option_set) | {"Options", "TrueOption", "FalseOption"}
        projected = _project(option_set, item.select, _OPTION_SET_TYPE, option_allowed)
        projected.pop("@odata.type", None)  # the navigation property's declared type is the exact type
        payload[item.name] = projected
    return payload


def _option_sets(call: _Call, entity: EntityDef, attribute: AttributeDef) -> dict[str, dict[str, Any] | None]:
    """``OptionSet`` and ``GlobalOptionSet`` of a choice, state, status or Boolean column (one of them None)."""
    managed = not attribute.is_custom
    if attribute.global_option_set:
        options = call.catalogue.global_option_sets.get(attribute.global_option_set, attribute.options)
        global_set = _option_set(
            attribute.global_option_set,
            attribute.type,
            options,
            is_global=True,
            managed=managed,
            display=attribute.display_name,
        )
        return {"OptionSet": None, "GlobalOptionSet": global_set}
    local = _option_set(
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


def _get_attribute(call: _Call, entity: EntityDef, attribute: AttributeDef, path: str, cast: str | None) -> ApiResponse:
    query = call.query()
    if cast is None:
        type_name, allowed = _ATTRIBUTE_TYPE, _BASE_ATTRIBUTE_PROPERTIES
        if query.filter is not None:
            raise query_syntax_error("The $filter query option cannot be applied to a single column definition.")
    else:
        type_name, allowed = cast, _cast_properties(cast)
    _check_expand(query, cast)
    row = _attribute_row(entity, attribute, list(entity.attributes).index(attribute.logical_name) + 1)
    payload: dict[str, Any] = {}
    if cast is None:
        fragment = f"{path}/Attributes{_context_select(query.select)}"
    else:
        fragment = f"{path}/Attributes/{CRM}{cast}{_context_select(query.select, query.expand)}"
    payload["@odata.context"] = call.context(f"{fragment}/$entity")
    payload.update(_attribute_payload(call, entity, attribute, row, query, type_name, allowed))
    return _ok(payload)


def _get_option_set_of(
    call: _Call, entity: EntityDef, attribute: AttributeDef, path: str, cast: str, which: str
) -> ApiResponse:
    query = call.query()
    if cast not in _OPTION_CASTS:
        raise resource_not_found(which)
    option_set = _option_sets(call, entity, attribute)[which]
    if option_set is None:
        return _no_content()  # a single-valued navigation property without a value
    allowed = set(option_set) | {"Options", "TrueOption", "FalseOption"}
    payload = {
        "@odata.context": call.context(
            f"{path}/Attributes({attribute.metadata_id(entity.logical_name)})/{CRM}{cast}/{which}"
            f"{_context_select(query.select)}/$entity"
        )
    }
    payload.update(_project(option_set, query.select, _OPTION_SET_TYPE, allowed))
    payload.pop("@odata.type", None)  # the navigation property's declared type is the exact type
    return _ok(payload)


# --------------------------------------------------------------------------------------------------------
# EntityDefinitions(…)/ManyToOneRelationships, /OneToManyRelationships, RelationshipDefinitions
# --------------------------------------------------------------------------------------------------------


def _entity_relationships(
    call: _Call, entity: EntityDef, path: str, segment: Segment, rest: list[Segment]
) -> ApiResponse:
    _only(call, "GET")
    if rest:
        raise resource_not_found(rest[0].name)
    query = call.query()
    if query.expand:
        raise property_not_found(query.expand[0].name, _RELATIONSHIP_TYPE)
    type_name = _RELATIONSHIP_TYPE
    allowed = _RELATIONSHIP_PROPERTIES
    relationships = _relationships_of(call.catalogue, entity, segment.name)
    if segment.args is not None:
        relationship = _relationship_by_key(relationships, segment.args)
        payload = {"@odata.context": call.context(f"{path}/{segment.name}{_context_select(query.select)}/$entity")}
        payload.update(_project(_relationship_row(relationship, typed=False), query.select, type_name, allowed))
        return _ok(payload)
    _validate(query, type_name, allowed)
    values = []
    for relationship in relationships:
        row = _relationship_row(relationship, typed=False)
        if _matches(row, query.filter, type_name):
            values.append(_project(row, query.select, type_name, allowed))
    context = call.context(f"{path}/{segment.name}{_context_select(query.select)}")
    return _ok({"@odata.context": context, "value": values})


def _relationship_by_key(relationships: Iterable[RelationshipDef], args: str) -> RelationshipDef:
    name = _named_key(args, "SchemaName")
    metadata_id = parse_guid(args)
    for relationship in relationships:
        if name is not None and relationship.schema_name == name:
            return relationship
        if metadata_id is not None and relationship.metadata_id() == metadata_id:
            return relationship
    raise _not_found("a relationship", name or metadata_id or args)


def _relationship_definitions(call: _Call, segments: list[Segment]) -> ApiResponse:
    head = segments[0]
    method = call.request.method
    rest = segments[1:]
    cast: str | None = None
    if rest:
        if rest[0].args is not None or rest[0].name not in (
            f"{CRM}{_RELATIONSHIP_TYPE}",
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
            relationship = _create_relationship(call, call.body())
            return _no_content(f"{call.api_url}RelationshipDefinitions({relationship.metadata_id()})")
        raise method_not_allowed(f"The HTTP method '{method}' is not allowed on 'RelationshipDefinitions'.")
    relationship = _relationship_by_key(call.catalogue.relationships.values(), head.args)
    if method == "GET":
        if cast == "ManyToManyRelationshipMetadata":
            raise resource_not_found(rest[0].name)
        query = call.query()
        type_name = _RELATIONSHIP_TYPE if cast else "RelationshipMetadataBase"
        payload = {"@odata.context": call.context(f"RelationshipDefinitions{_context_select(query.select)}/$entity")}
        payload.update(
            _project(
                _relationship_row(relationship, typed=True),
                query.select,
                type_name,
                _RELATIONSHIP_PROPERTIES,
            )
        )
        return _ok(payload)
    if method == "DELETE" and cast is None:
        _delete_relationship(call, relationship)
        return _no_content()
    raise method_not_allowed(f"The HTTP method '{method}' is not allowed on this relationship definition.")


def _list_relationships(call: _Call, cast: str | None) -> ApiResponse:
    query = call.query()
    if query.expand:
        raise property_not_found(query.expand[0].name, "RelationshipMetadataBase")
    type_name = cast or "RelationshipMetadataBase"
    allowed = _RELATIONSHIP_PROPERTIES
    _validate(query, type_name, allowed)
    values = []
    if cast != "ManyToManyRelationshipMetadata":
        for relationship in call.catalogue.relationships.values():
            row = _relationship_row(relationship, typed=True)
            if _matches(row, query.filter, type_name):
                values.append(_project(row, query.select, type_name, allowed))
    suffix = f"/{CRM}{cast}" if cast else ""
    context = call.context(f"RelationshipDefinitions{suffix}{_context_select(query.select)}")
    return _ok({"@odata.context": context, "value": values})


# --------------------------------------------------------------------------------------------------------
# EntityDefinitions(…)/Keys
# --------------------------------------------------------------------------------------------------------


def _keys(call: _Call, entity: EntityDef, path: str, segment: Segment, rest: list[Segment]) -> ApiResponse:
    if rest:
        raise resource_not_found(rest[0].name)
    method = call.request.method
    type_name = _KEY_TYPE
    allowed = _KEY_PROPERTIES
    failed = _failed_keys(call.state, entity)
    listed = [(key, "Active") for key in entity.keys] + [(key, "Failed") for key in failed]
    if segment.args is None:
        if method == "GET":
            query = call.query()
            if query.expand:
                raise property_not_found(query.expand[0].name, type_name)
            _validate(query, type_name, allowed)
            values = []
            for key, status in listed:
                row = _key_row(entity, key, status)
                if _matches(row, query.filter, type_name):
                    values.append(_project(row, query.select, type_name, allowed))
            context = call.context(f"{path}/Keys{_context_select(query.select)}")
            return _ok({"@odata.context": context, "value": values})
        if method == "POST":
            key = _create_key(call, entity, call.body())
            return _no_content(f"{_entity_url(call, entity)}/Keys({key.metadata_id(entity.logical_name)})")
        raise method_not_allowed(f"The HTTP method '{method}' is not allowed on 'Keys'.")
    name = _named_key(segment.args, "LogicalName")
    metadata_id = parse_guid(segment.args)
    for key, status in listed:
        if key.logical_name == name or key.metadata_id(entity.logical_name) == metadata_id:
            if method == "GET":
                query = call.query()
                payload = {"@odata.context": call.context(f"{path}/Keys{_context_select(query.select)}/$entity")}
                payload.update(_project(_key_row(entity, key, status), query.select, type_name, allowed))
                return _ok(payload)
            if method == "DELETE":
                _delete_key(call, entity, key, failed=status == "Failed")
                return _no_content()
            raise method_not_allowed(f"The HTTP method '{method}' is not allowed on this key definition.")
    raise _not_found("an entity key", name or metadata_id or segment.args)


# --------------------------------------------------------------------------------------------------------
# GlobalOptionSetDefinitions
# --------------------------------------------------------------------------------------------------------


def _global_option_set_definitions(call: _Call, segments: list[Segment]) -> ApiResponse:
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
        name: _option_set(name, AttributeType.PICKLIST, options, is_global=True, managed=True, display=name)
        for name, options in call.catalogue.global_option_sets.items()
    }
    allowed = frozenset(_option_set("x", AttributeType.PICKLIST, (), is_global=True, managed=True, display="x"))
    type_name = "OptionSetMetadataBase"
    if head.args is None:
        values = [_project(row, query.select, type_name, allowed) for row in rows.values()]
        context = call.context(f"GlobalOptionSetDefinitions{_context_select(query.select)}")
        return _ok({"@odata.context": context, "value": values})
    name = _named_key(head.args, "Name")
    metadata_id = parse_guid(head.args)
    for set_name, row in rows.items():
        if set_name == name or row["MetadataId"] == metadata_id:
            payload = {
                "@odata.context": call.context(f"GlobalOptionSetDefinitions{_context_select(query.select)}/$entity")
            }
            payload.update(_project(row, query.select, type_name, allowed))
            return _ok(payload)
    raise _not_found("an option set", name or metadata_id or head.args)


# --------------------------------------------------------------------------------------------------------
# Catalogue changes with undo
# --------------------------------------------------------------------------------------------------------


@dataclass
class _Changes:
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


def _apply(call: _Call, work: Callable[[_Changes], None]) -> None:
    """Run a write and keep the resulting definitions in the database; undo its catalogue changes (and
    re-raise) when any step fails."""
    changes = _Changes(call.catalogue)
    try:
        work(changes)
        baseline = call.state.definition_baseline
        if baseline is not None:
            save_definitions(call.state.storage, call.catalogue, baseline)
    except BaseException:
        changes.rollback()
        call.state.security.invalidate()
        raise


# --------------------------------------------------------------------------------------------------------
# Reading definitions from request bodies
# --------------------------------------------------------------------------------------------------------


def _label_text(label: object) -> str | None:
    """The English text of a ``Label`` in a body (else its first localized label, else its user label)."""
    if not isinstance(label, Mapping):
        return None
    localized = [item for item in label.get("LocalizedLabels") or [] if isinstance(item, Mapping)]
    for item in localized:
        if item.get("LanguageCode") == ENGLISH and item.get("Label"):
            return str(item["Label"])
    for item in localized:
        if item.get("Label"):
            return str(item["Label"])
    user = label.get("UserLocalizedLabel")
    if isinstance(user, Mapping) and user.get("Label"):
        return str(user["Label"])
    return None


def _spanish_text(label: object) -> str | None:
    if not isinstance(label, Mapping):
        return None
    for item in label.get("LocalizedLabels") or []:
        if isinstance(item, Mapping) and item.get("LanguageCode") == SPANISH and item.get("Label"):
            return str(item["Label"])
    return None


def _required_text(body: Mapping[str, Any], name: str, what: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"The {name} of the {what} is required.")
    return value.strip()


def _check_schema_name(schema_name: str, what: str) -> None:
    """Custom tables and columns need a customization prefix (``new_BankAccount``).

    Raises:
        DataverseError: 400 for a name without prefix or with characters other than letters, digits and ``_``.
    """
    if not _SCHEMA_NAME.match(schema_name):
        # undocumented: the code and wording of the prefix check.
        raise bad_request(
            f"Invalid schema name '{schema_name}' for the {what}: a schema name must start with a customization "
            f"prefix followed by '_' (new_Example) and contain only letters, digits and underscores.",
        )


def _body_type(body: Mapping[str, Any]) -> AttributeType:
    odata_type = str(body.get("@odata.type") or "").lstrip("#")
    if odata_type:
        name = odata_type.removeprefix(CRM).removeprefix("Complex")
        kind = _BODY_TYPES.get(name)
        if kind is None:
            raise bad_request(f"The sandbox cannot create columns of type '{odata_type}'.", "0x80048d19")
        return kind
    declared = body.get("AttributeType")
    for kind in _CREATABLE_TYPES | {AttributeType.LOOKUP}:
        if declared == kind.value:
            return kind
    raise bad_request(
        "The column definition needs an '@odata.type' such as Microsoft.Dynamics.CRM.StringAttributeMetadata."
    )


def _required_level(body: Mapping[str, Any]) -> RequiredLevel:
    level = body.get("RequiredLevel")
    value = level.get("Value") if isinstance(level, Mapping) else level
    if value is None:
        return RequiredLevel.NONE
    for candidate in RequiredLevel:
        if candidate.value == value:
            return candidate
    raise bad_request(f"'{value}' is not a valid AttributeRequiredLevel.")


def _number_in(body: Mapping[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request(f"The {name} of a column must be a number.")
    if not low <= value <= high:
        raise bad_request(f"The {name} {value} is outside the range {low} to {high}.")
    return float(value)


def _attribute_from_body(body: Mapping[str, Any], catalogue: Catalogue, *, primary: bool = False) -> AttributeDef:
    """An :class:`AttributeDef` from an ``AttributeMetadata`` body (custom column).

    Raises:
        DataverseError: 400 for a missing or invalid schema name, an unsupported type, or invalid limits.
    """
    kind = _body_type(body)
    schema_name = _required_text(body, "SchemaName", "column")
    _check_schema_name(schema_name, "column")
    logical_name = str(body.get("LogicalName") or schema_name).lower()
    if logical_name != schema_name.lower():
        raise bad_request(f"The LogicalName '{logical_name}' must be the lowercase SchemaName '{schema_name}'.")
    common: dict[str, Any] = {
        "logical_name": logical_name,
        "type": kind,
        "schema_name": schema_name,
        "display_name": _label_text(body.get("DisplayName")) or schema_name,
        "description": _label_text(body.get("Description")) or "",
        "required_level": _required_level(body),
        "is_custom": True,
        "is_primary_name": primary,
    }
    if kind == AttributeType.STRING:
        length = _number_in(body, "MaxLength", 100, 1, 4000)
        return AttributeDef(max_length=int(length), **common)
    if kind == AttributeType.MEMO:
        length = _number_in(body, "MaxLength", 2000, 1, 1048576)
        return AttributeDef(max_length=int(length), **common)
    if kind in (AttributeType.INTEGER, AttributeType.BIGINT):
        low, high = _INT32 if kind == AttributeType.INTEGER else _INT64
        minimum = _number_in(body, "MinValue", low, low, high)
        maximum = _number_in(body, "MaxValue", high, low, high)
        return AttributeDef(min_value=minimum, max_value=maximum, **_checked_range(common, minimum, maximum))
    if kind in (AttributeType.DECIMAL, AttributeType.DOUBLE, AttributeType.MONEY):
        limit = _MONEY_LIMIT if kind == AttributeType.MONEY else _NUMBER_LIMIT
        most = {AttributeType.DECIMAL: 10, AttributeType.DOUBLE: 5, AttributeType.MONEY: 4}[kind]
        precision = int(_number_in(body, "Precision", 2, 0, most))
        minimum = _number_in(body, "MinValue", -limit, -limit, limit)
        maximum = _number_in(body, "MaxValue", limit, -limit, limit)
        return AttributeDef(
            precision=precision, min_value=minimum, max_value=maximum, **_checked_range(common, minimum, maximum)
        )
    if kind == AttributeType.BOOLEAN:
        option_set = body.get("OptionSet") if isinstance(body.get("OptionSet"), Mapping) else {}
        assert isinstance(option_set, Mapping)
        true_option = option_set.get("TrueOption") if isinstance(option_set.get("TrueOption"), Mapping) else {}
        false_option = option_set.get("FalseOption") if isinstance(option_set.get("FalseOption"), Mapping) else {}
        default = body.get("DefaultValue")
        return AttributeDef(
            true_label=_label_text(true_option.get("Label") if isinstance(true_option, Mapping) else None) or "Yes",
            false_label=_label_text(false_option.get("Label") if isinstance(false_option, Mapping) else None) or "No",
            default_value=bool(default) if isinstance(default, bool) else False,
            **common,
        )
    if kind == AttributeType.DATETIME:
        behavior = body.get("DateTimeBehavior")
        behavior_value = behavior.get("Value") if isinstance(behavior, Mapping) else behavior
        if behavior_value not in (None, "UserLocal", "DateOnly", "TimeZoneIndependent"):
            raise bad_request(f"'{behavior_value}' is not a valid DateTimeBehavior.")
        return AttributeDef(date_only=behavior_value == "DateOnly", **common)
    if kind == AttributeType.PICKLIST:
        return _picklist_from_body(body, catalogue, common)
    return AttributeDef(**common)


def _checked_range(common: dict[str, Any], minimum: float, maximum: float) -> dict[str, Any]:
    if minimum > maximum:
        raise bad_request(f"The MinValue {minimum} is greater than the MaxValue {maximum}.")
    return common


def _picklist_from_body(body: Mapping[str, Any], catalogue: Catalogue, common: dict[str, Any]) -> AttributeDef:
    bind = body.get("GlobalOptionSet@odata.bind")
    option_set = body.get("OptionSet") if isinstance(body.get("OptionSet"), Mapping) else None
    global_name: str | None = None
    if isinstance(bind, str):
        match = re.search(r"GlobalOptionSetDefinitions\((.*)\)", bind)
        key = match.group(1) if match else ""
        for name in catalogue.global_option_sets:
            if key in (f"Name='{name}'", stable_id("optionset", name)):
                global_name = name
        if global_name is None:
            raise _not_found("an option set", key or bind)
    elif option_set is not None and option_set.get("IsGlobal"):
        global_name = str(option_set.get("Name") or "")
        if global_name not in catalogue.global_option_sets:
            raise _not_found("an option set", global_name)
    default = body.get("DefaultFormValue")
    if global_name is not None:
        return AttributeDef(
            global_option_set=global_name,
            options=catalogue.global_option_sets[global_name],
            default_value=default if isinstance(default, int) and default >= 0 else None,
            **common,
        )
    raw = option_set.get("Options") if option_set is not None else None
    if not isinstance(raw, list) or not raw:
        raise bad_request("A choice column needs an OptionSet with at least one option.")
    options: list[OptionDef] = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise bad_request("Each option must be a JSON object with a Value and a Label.")
        value = item.get("Value")
        if value is None:
            value = _FIRST_OPTION_VALUE + index
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"The option value '{value}' is not an integer.")
        if any(option.value == value for option in options):
            raise bad_request(f"The option value {value} is used twice.")
        label = _label_text(item.get("Label")) or str(value)
        options.append(OptionDef(value, label, _spanish_text(item.get("Label"))))
    if isinstance(default, int) and default >= 0 and all(option.value != default for option in options):
        raise bad_request(f"The DefaultFormValue {default} is not one of the options.")
    return AttributeDef(
        options=tuple(options),
        default_value=default if isinstance(default, int) and default >= 0 else None,
        **common,
    )


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
class _RelationshipSpec:
    schema_name: str
    referencing_entity: str
    referencing_attribute: str
    referenced_entity: str
    referencing_nav: str
    referenced_nav: str | None = None


def _resolve_spec(catalogue: Catalogue, spec: _RelationshipSpec, *, custom: bool = False) -> RelationshipDef | None:
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


def _system_relationships(catalogue: Catalogue, entity: EntityDef) -> list[_RelationshipSpec]:
    """Relationships Dataverse creates with a custom table.

    Ordinary tables: ``lk_<table>_createdby`` …, ``owner_<table>``, ``business_unit_<table>``, ``user_<table>``,
    ``team_<table>`` (or ``organization_<table>``), navigation properties named after the lookups. Activities
    follow the names Dataverse gives activity tables (``<table>_systemuser_createdby`` with
    ``createdby_<table>``, ``<target>_<entity set>`` with ``regardingobjectid_<target>_<table>``,
    ``<table>_activity_parties``).
    """
    name = entity.logical_name
    specs: list[_RelationshipSpec] = []
    audit = ("createdby", "createdonbehalfby", "modifiedby", "modifiedonbehalfby")
    if entity.is_activity:
        specs += [_RelationshipSpec(f"{name}_systemuser_{a}", name, a, "systemuser", f"{a}_{name}") for a in audit]
        specs += [
            _RelationshipSpec(f"{name}_owner_ownerid", name, "ownerid", "owner", f"ownerid_{name}"),
            _RelationshipSpec(
                f"{name}_businessunit_owningbusinessunit",
                name,
                "owningbusinessunit",
                "businessunit",
                f"owningbusinessunit_{name}",
            ),
            _RelationshipSpec(f"{name}_systemuser_owninguser", name, "owninguser", "systemuser", f"owninguser_{name}"),
            _RelationshipSpec(f"{name}_team_owningteam", name, "owningteam", "team", f"owningteam_{name}"),
            _RelationshipSpec(
                f"{name}_transactioncurrency_transactioncurrencyid",
                name,
                "transactioncurrencyid",
                "transactioncurrency",
                f"transactioncurrencyid_{name}",
            ),
        ]
        for target in _regarding_targets(catalogue):
            specs.append(
                _RelationshipSpec(
                    f"{target}_{entity.entity_set_name}",
                    name,
                    "regardingobjectid",
                    target,
                    f"regardingobjectid_{target}_{name}",
                )
            )
        specs.append(
            _RelationshipSpec(
                f"{name}_activity_parties", "activityparty", "activityid", name, f"activityid_{name}_activityparty"
            )
        )
    else:
        specs += [_RelationshipSpec(f"lk_{name}_{a}", name, a, "systemuser", a) for a in audit]
        if entity.ownership_type == OwnershipType.USER_OWNED:
            specs += [
                _RelationshipSpec(f"owner_{name}", name, "ownerid", "owner", "ownerid"),
                _RelationshipSpec(
                    f"business_unit_{name}", name, "owningbusinessunit", "businessunit", "owningbusinessunit"
                ),
                _RelationshipSpec(f"user_{name}", name, "owninguser", "systemuser", "owninguser"),
                _RelationshipSpec(f"team_{name}", name, "owningteam", "team", "owningteam"),
            ]
        else:
            specs.append(
                _RelationshipSpec(f"organization_{name}", name, "organizationid", "organization", "organizationid")
            )
    return specs


def _regarding_targets(catalogue: Catalogue) -> list[str]:
    """Tables an activity can be regarding: those with activities enabled."""
    return [e.logical_name for e in catalogue.entities.values() if e.has_activities and not e.is_activity]


def _enable_notes(changes: _Changes, entity: EntityDef) -> None:
    """``<table>_Annotations``: notes attached through ``objectid_<table>``."""
    catalogue = changes.catalogue
    annotation = catalogue.find_entity("annotation")
    if annotation is None or annotation.attribute("objectid") is None:
        return
    spec = _RelationshipSpec(
        f"{entity.logical_name}_Annotations",
        "annotation",
        "objectid",
        entity.logical_name,
        f"objectid_{entity.logical_name}",
    )
    relationship = _resolve_spec(catalogue, spec)
    if relationship is not None and relationship.schema_name not in catalogue.relationships:
        changes.add_relationship(relationship)
        changes.add_target(annotation, "objectid", entity.logical_name)


def _enable_activities(changes: _Changes, entity: EntityDef) -> None:
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
        spec = _RelationshipSpec(schema, activity.logical_name, "regardingobjectid", entity.logical_name, nav)
        relationship = _resolve_spec(catalogue, spec)
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


def _next_type_code(catalogue: Catalogue) -> int:
    used = [e.object_type_code for e in catalogue.entities.values() if e.object_type_code >= _FIRST_CUSTOM_TYPE_CODE]
    return max(used, default=_FIRST_CUSTOM_TYPE_CODE - 1) + 1


def _ownership(body: Mapping[str, Any]) -> OwnershipType:
    value = body.get("OwnershipType", OwnershipType.USER_OWNED.value)
    if value in (OwnershipType.USER_OWNED.value, OwnershipType.ORGANIZATION_OWNED.value):
        return OwnershipType(value)
    raise DataverseError(400, "0x8004700d", "The specified ownership type mask is not valid for this operation")


def _create_entity(call: _Call, body: dict[str, Any]) -> EntityDef:
    """Create a custom table from an ``EntityMetadata`` body; returns it.

    Raises:
        DataverseError: 403 without ``prvCreateEntity``; 400 ``0x8004700b`` when the name is taken, 400 for an
            invalid definition (no string primary name column, activity rules, bad names).
    """
    call.require("prvCreateEntity")
    catalogue = call.catalogue
    schema_name = _required_text(body, "SchemaName", "table")
    _check_schema_name(schema_name, "table")
    logical_name = schema_name.lower()
    if catalogue.find_entity(logical_name) is not None:
        raise _duplicate_entity()
    set_name = body.get("EntitySetName") or plural_name(logical_name)
    if not isinstance(set_name, str) or not _IDENTIFIER.match(set_name):
        raise bad_request(f"'{set_name}' is not a valid EntitySetName.")
    if catalogue.entity_by_set(set_name) is not None or set_name in METADATA_ROOTS:
        raise _duplicate_entity()
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
        if _body_type(primaries[0]) != AttributeType.STRING:
            raise DataverseError(400, "0x8004700e", "Primary UI Attribute has to be of type String")
        primary = _attribute_from_body(primaries[0], catalogue, primary=True)
    else:
        primary = _default_subject()
    if is_activity and primary.logical_name != "subject":
        raise DataverseError(
            400,
            "0x8004F127",
            "A custom entity defined as an activity cannot have primary attribute other than subject.",
        )
    others = [_attribute_from_body(a, catalogue) for a in raw_attributes if not primaries or a is not primaries[0]]
    display = _label_text(body.get("DisplayName")) or schema_name
    entity = EntityDef(
        logical_name=logical_name,
        entity_set_name=set_name,
        primary_id="activityid" if is_activity else f"{logical_name}id",
        primary_name=primary.logical_name,
        object_type_code=_next_type_code(catalogue),
        display_name=display,
        display_collection_name=_label_text(body.get("DisplayCollectionName")) or plural_name(display),
        schema_name=schema_name,
        ownership_type=ownership,
        is_activity=is_activity,
        is_custom=True,
        change_tracking_enabled=body.get("ChangeTrackingEnabled") is True,
        has_notes=has_notes,
        has_activities=has_activities,
        bulk_messages=frozenset(BULK_MESSAGES),
        description=_label_text(body.get("Description")) or "",
    )
    entity.add(*_system_columns(entity, primary))
    if is_activity:
        entity.attributes["regardingobjectid"].targets = tuple(_regarding_targets(catalogue))
    for attribute in others:
        if attribute.type == AttributeType.LOOKUP:
            raise bad_request("Lookup columns are created through RelationshipDefinitions, not with the table.")
        if entity.attribute(attribute.logical_name) is not None:
            raise _duplicate_attribute(attribute.schema_name, logical_name)
        entity.add(attribute)
        if attribute.type == AttributeType.MONEY:
            _add_money_companions(entity, attribute)

    def work(changes: _Changes) -> None:
        changes.add_entity(entity)
        for spec in _system_relationships(catalogue, entity):
            relationship = _resolve_spec(catalogue, spec)
            if relationship is not None and relationship.schema_name not in catalogue.relationships:
                changes.add_relationship(relationship)
        if _has_money(entity):
            _add_currency_relationship(changes, entity)
        if is_activity:
            changes.add_target(catalogue.find_entity("activityparty"), "activityid", logical_name)
        if has_notes:
            _enable_notes(changes, entity)
        if has_activities:
            _enable_activities(changes, entity)
        call.state.storage.ensure_table(entity)
        _grant_to_administrators(call.state, entity)
        _register_bulk_messages(call.state, entity)

    _apply(call, work)
    return entity


def _grant_to_administrators(state: SandboxState, entity: EntityDef) -> None:
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


def _create_entities_action(call: _Call) -> ApiResponse:
    """``POST CreateEntities`` (Microsoft's Python SDK): create every table of ``Entities``.

    Raises:
        DataverseError: as :func:`_create_entity`; 400 without an ``Entities`` array.
    """
    body = call.body()
    definitions = body.get("Entities")
    if not isinstance(definitions, list) or not definitions or not all(isinstance(d, dict) for d in definitions):
        raise bad_request("The 'Entities' parameter must be a non-empty array of entity definitions.")
    created: list[EntityDef] = []
    try:
        for definition in definitions:
            created.append(_create_entity(call, definition))
    except BaseException:
        for entity in created:
            _forget_created(call, entity)
        raise
    # undocumented: the shape of CreateEntitiesResponse (clients read the tables back from EntityDefinitions).
    return _ok(
        {
            "@odata.context": call.context(f"{CRM}CreateEntitiesResponse"),
            "EntityIds": [entity.metadata_id for entity in created],
        }
    )


def _forget_created(call: _Call, entity: EntityDef) -> None:
    changes = _Changes(call.catalogue)
    _detach_entity(changes, entity)


# --------------------------------------------------------------------------------------------------------
# Updating and deleting tables
# --------------------------------------------------------------------------------------------------------


def _update_entity(call: _Call, entity: EntityDef, body: dict[str, Any], *, replace: bool) -> None:
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

    def work(changes: _Changes) -> None:
        if tracking is True:
            changes.set_field(entity, "change_tracking_enabled", True)
        for name, attribute in (
            ("DisplayName", "display_name"),
            ("DisplayCollectionName", "display_collection_name"),
            ("Description", "description"),
        ):
            text = _label_text(body.get(name))
            if text is not None:
                changes.set_field(entity, attribute, text)
        if body.get("HasNotes") is True and not entity.has_notes:
            changes.set_field(entity, "has_notes", True)
            _enable_notes(changes, entity)
        if body.get("HasActivities") is True and not entity.has_activities:
            changes.set_field(entity, "has_activities", True)
            _enable_activities(changes, entity)

    _apply(call, work)


def _delete_entity(call: _Call, entity: EntityDef) -> None:
    """DELETE a custom table: its definition, relationships, rows and storage table.

    Raises:
        DataverseError: 403 without ``prvWriteEntity``; 400 for a system table or one another table's custom
            lookup still refers to.
    """
    call.require("prvWriteEntity")
    if not entity.is_custom:
        raise _not_customizable("entity")
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

    def work(changes: _Changes) -> None:
        _detach_entity(changes, entity)
        storage = call.state.storage
        storage.conn.execute(f"DROP TABLE IF EXISTS {quote_ident(entity.logical_name)}")
        storage.conn.execute("DELETE FROM _tombstones WHERE entity = ?", (entity.logical_name,))
        if call.catalogue.find_entity("sdkmessagefilter") is not None:
            storage.conn.execute(
                'DELETE FROM "sdkmessagefilter" WHERE primaryobjecttypecode = ?', (entity.logical_name,)
            )
        if call.catalogue.find_entity("activitypointer") is not None and entity.is_activity:
            storage.conn.execute('DELETE FROM "activitypointer" WHERE activitytypecode = ?', (entity.logical_name,))
        storage.set_meta(_failed_keys_meta(entity), "[]")

    _apply(call, work)


def _detach_entity(changes: _Changes, entity: EntityDef) -> None:
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


# --------------------------------------------------------------------------------------------------------
# Columns
# --------------------------------------------------------------------------------------------------------


def _has_money(entity: EntityDef) -> bool:
    return any(a.type == AttributeType.MONEY for a in entity.attributes.values())


def _add_money_companions(entity: EntityDef, attribute: AttributeDef, changes: _Changes | None = None) -> None:
    """A currency column brings its base-currency twin and, once per table, the currency and exchange rate."""
    twin = AttributeDef(
        logical_name=f"{attribute.logical_name}_base",
        type=AttributeType.MONEY,
        display_name=f"{attribute.display_name} (Base)",
        schema_name=f"{attribute.schema_name}_Base",
        precision=4,
        min_value=-_MONEY_LIMIT,
        max_value=_MONEY_LIMIT,
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


def _add_currency_relationship(changes: _Changes, entity: EntityDef) -> None:
    name = entity.logical_name
    if entity.is_activity:
        return  # activities carry their currency relationship from the start
    spec = _RelationshipSpec(
        f"TransactionCurrency_{name}", name, "transactioncurrencyid", "transactioncurrency", "transactioncurrencyid"
    )
    relationship = _resolve_spec(changes.catalogue, spec)
    if relationship is not None and relationship.schema_name not in changes.catalogue.relationships:
        changes.add_relationship(relationship)


def _add_attribute(call: _Call, entity: EntityDef, body: dict[str, Any]) -> AttributeDef:
    """POST a column definition to a table's ``Attributes``.

    Raises:
        DataverseError: 403 without ``prvCreateAttribute``; 400 ``0x80047013`` when the name is taken; 400 for
            lookups (created through ``RelationshipDefinitions``) and invalid definitions.
    """
    call.require("prvCreateAttribute")
    if entity.is_read_only:
        raise bad_request(f"Columns cannot be added to the '{entity.logical_name}' table.")
    if _body_type(body) == AttributeType.LOOKUP:
        raise bad_request(
            "Lookup columns are created with their relationship: POST a OneToManyRelationshipMetadata with a Lookup "
            "to RelationshipDefinitions."
        )
    attribute = _attribute_from_body(body, call.catalogue)
    if entity.attribute(attribute.logical_name) is not None:
        raise _duplicate_attribute(attribute.schema_name, entity.logical_name)
    if attribute.type == AttributeType.MONEY and entity.attribute(f"{attribute.logical_name}_base") is not None:
        raise _duplicate_attribute(f"{attribute.schema_name}_Base", entity.logical_name)

    def work(changes: _Changes) -> None:
        changes.add_attribute(entity, attribute)
        if attribute.type == AttributeType.MONEY:
            _add_money_companions(entity, attribute, changes)
            _add_currency_relationship(changes, entity)
        call.state.storage.ensure_table(entity)

    _apply(call, work)
    return attribute


def _update_attribute(call: _Call, attribute: AttributeDef, body: dict[str, Any]) -> None:
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
    text = _label_text(body.get("DisplayName"))
    if text is not None:
        values["display_name"] = text
    text = _label_text(body.get("Description"))
    if text is not None:
        values["description"] = text
    if "RequiredLevel" in body:
        values["required_level"] = _required_level(body)
    if attribute.type in (AttributeType.STRING, AttributeType.MEMO) and "MaxLength" in body:
        high = 4000 if attribute.type == AttributeType.STRING else 1048576
        values["max_length"] = int(_number_in(body, "MaxLength", attribute.max_length or 100, 1, high))
    if attribute.type in (
        AttributeType.INTEGER,
        AttributeType.BIGINT,
        AttributeType.DECIMAL,
        AttributeType.DOUBLE,
        AttributeType.MONEY,
    ):
        for name, field_name in (("MinValue", "min_value"), ("MaxValue", "max_value")):
            if name in body:
                values[field_name] = _number_in(body, name, 0, -float("inf"), float("inf"))
        if "Precision" in body and attribute.type not in (AttributeType.INTEGER, AttributeType.BIGINT):
            values["precision"] = int(_number_in(body, "Precision", 2, 0, 10))
        low = values.get("min_value", attribute.min_value)
        high_value = values.get("max_value", attribute.max_value)
        if low is not None and high_value is not None and low > high_value:
            raise bad_request(f"The MinValue {low} is greater than the MaxValue {high_value}.")

    def work(changes: _Changes) -> None:
        for name, value in values.items():
            changes.set_field(attribute, name, value)

    _apply(call, work)


def _delete_attribute(call: _Call, entity: EntityDef, attribute: AttributeDef) -> None:
    """DELETE a custom column (a lookup with its relationships; a currency column with its base twin).

    Raises:
        DataverseError: 403 without ``prvCreateAttribute``; 400 for a system column, the primary name column
            or a column of an alternate key.
    """
    call.require("prvCreateAttribute")
    if not attribute.is_custom or attribute.is_primary_name or attribute.is_primary_id:
        raise _not_customizable("attribute")
    for key in [*entity.keys, *_failed_keys(call.state, entity)]:
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

    def work(changes: _Changes) -> None:
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

    _apply(call, work)


# --------------------------------------------------------------------------------------------------------
# Relationships (lookup columns)
# --------------------------------------------------------------------------------------------------------


def _create_relationship(call: _Call, body: dict[str, Any]) -> RelationshipDef:
    """POST ``RelationshipDefinitions`` with a ``OneToManyRelationshipMetadata`` and its ``Lookup``.

    The lookup column is added to the referencing table; its navigation properties are
    ``ReferencingEntityNavigationPropertyName`` (default: the lookup's SchemaName) and
    ``ReferencedEntityNavigationPropertyName`` (default: the relationship's SchemaName).

    Raises:
        DataverseError: 403 without ``prvCreateAttribute``; 404 for an unknown table; 400 for many-to-many
            relationships (not supported), a missing or invalid lookup, or names already taken.
    """
    call.require("prvCreateAttribute")
    odata_type = str(body.get("@odata.type") or "").lstrip("#").removeprefix(CRM)
    if odata_type != _RELATIONSHIP_TYPE:
        raise bad_request(
            "The sandbox creates one-to-many relationships only: set '@odata.type' to "
            "'Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata'."
        )
    catalogue = call.catalogue
    schema_name = _required_text(body, "SchemaName", "relationship")
    _check_schema_name(schema_name, "relationship")
    if schema_name in catalogue.relationships or any(
        r.schema_name.lower() == schema_name.lower() for r in catalogue.relationships.values()
    ):
        raise bad_request(f"A relationship with the name '{schema_name}' already exists.")
    referenced_name = _required_text(body, "ReferencedEntity", "relationship").lower()
    referencing_name = _required_text(body, "ReferencingEntity", "relationship").lower()
    referenced = catalogue.find_entity(referenced_name)
    if referenced is None:
        raise _entity_not_found(referenced_name)
    referencing = catalogue.find_entity(referencing_name)
    if referencing is None:
        raise _entity_not_found(referencing_name)
    if referencing.is_read_only:
        raise bad_request(f"Columns cannot be added to the '{referencing_name}' table.")
    referenced_attribute = str(body.get("ReferencedAttribute") or referenced.primary_id).lower()
    if referenced_attribute != referenced.primary_id:
        raise bad_request(f"The ReferencedAttribute must be the primary key '{referenced.primary_id}'.")
    lookup_body = body.get("Lookup")
    if not isinstance(lookup_body, Mapping):
        raise bad_request("A one-to-many relationship needs the definition of its Lookup column.")
    lookup_type = str(lookup_body.get("@odata.type") or f"{CRM}LookupAttributeMetadata").lstrip("#")
    if lookup_type.removeprefix(CRM).removeprefix("Complex") != "LookupAttributeMetadata":
        raise bad_request("The Lookup of a relationship must be a LookupAttributeMetadata.")
    lookup_schema = _required_text(lookup_body, "SchemaName", "lookup column")
    _check_schema_name(lookup_schema, "column")
    lookup_name = lookup_schema.lower()
    if body.get("ReferencingAttribute") not in (None, lookup_name):
        raise bad_request("The ReferencingAttribute must be the LogicalName of the Lookup.")
    if referencing.attribute(lookup_name) is not None:
        raise _duplicate_attribute(lookup_schema, referencing_name)
    referencing_nav = str(body.get("ReferencingEntityNavigationPropertyName") or lookup_schema)
    referenced_nav = str(body.get("ReferencedEntityNavigationPropertyName") or schema_name)
    for nav in (referencing_nav, referenced_nav):
        if not _IDENTIFIER.match(nav):
            raise bad_request(f"'{nav}' is not a valid navigation property name.")
    if catalogue.single_valued_nav(referencing_name, referencing_nav) is not None or catalogue.collection_nav(
        referencing_name, referencing_nav
    ):
        raise bad_request(f"The navigation property '{referencing_nav}' already exists on '{referencing_name}'.")
    if catalogue.collection_nav(referenced_name, referenced_nav) is not None or catalogue.single_valued_nav(
        referenced_name, referenced_nav
    ):
        raise bad_request(f"The navigation property '{referenced_nav}' already exists on '{referenced_name}'.")
    attribute = AttributeDef(
        logical_name=lookup_name,
        type=AttributeType.LOOKUP,
        schema_name=lookup_schema,
        display_name=_label_text(lookup_body.get("DisplayName")) or lookup_schema,
        description=_label_text(lookup_body.get("Description")) or "",
        required_level=_required_level(lookup_body),
        targets=(referenced_name,),
        is_custom=True,
    )
    try:
        cascade = CascadeConfiguration.from_metadata(body.get("CascadeConfiguration"), REFERENTIAL)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    relationship = RelationshipDef(
        schema_name=schema_name,
        referencing_entity=referencing_name,
        referencing_attribute=lookup_name,
        referenced_entity=referenced_name,
        referenced_attribute=referenced_attribute,
        referencing_nav=referencing_nav,
        referenced_nav=referenced_nav,
        is_custom=True,
        cascade=cascade,
    )

    def work(changes: _Changes) -> None:
        changes.add_attribute(referencing, attribute)
        changes.add_relationship(relationship)
        call.state.storage.ensure_table(referencing)

    _apply(call, work)
    return relationship


def _delete_relationship(call: _Call, relationship: RelationshipDef) -> None:
    """DELETE a custom one-to-many relationship and its lookup column.

    Raises:
        DataverseError: 403 without ``prvCreateAttribute``; 400 for a system relationship.
    """
    call.require("prvCreateAttribute")
    if not relationship.is_custom:
        raise _not_customizable("relationship")
    referencing = call.catalogue.entity(relationship.referencing_entity)
    attribute = referencing.attribute(relationship.referencing_attribute)
    if attribute is None:
        _apply(call, lambda changes: changes.remove_relationship(relationship))
        return
    _delete_attribute(call, referencing, attribute)


# --------------------------------------------------------------------------------------------------------
# Alternate keys
# --------------------------------------------------------------------------------------------------------


def _create_key(call: _Call, entity: EntityDef, body: dict[str, Any]) -> KeyDef:
    """POST an ``EntityKeyMetadata``: a key definition and its unique index.

    When existing rows already repeat a key value the index cannot be built; as in Dataverse the request
    still succeeds and the key reports ``EntityKeyIndexStatus`` ``Failed`` (it is not usable in URLs).

    Raises:
        DataverseError: 403 without ``prvWriteEntity``; 400 for an invalid or duplicate key.
    """
    call.require("prvWriteEntity")
    schema_name = _required_text(body, "SchemaName", "key")
    logical_name = str(body.get("LogicalName") or schema_name).lower()
    if not _IDENTIFIER.match(logical_name):
        raise bad_request(f"'{schema_name}' is not a valid key name.")
    columns = body.get("KeyAttributes")
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
        raise bad_request("KeyAttributes must be a non-empty array of column logical names.")
    names = tuple(str(c).lower() for c in columns)
    if len(names) > _MAX_KEY_ATTRIBUTES or len(set(names)) != len(names):
        raise bad_request(f"A key has 1 to {_MAX_KEY_ATTRIBUTES} distinct columns.")
    for name in names:
        attribute = entity.attribute(name)
        if attribute is None:
            raise _attribute_not_found(entity, name)
        if attribute.type not in _KEY_TYPES or not attribute.is_stored:
            raise bad_request(f"The column '{name}' of type {attribute.type.value} cannot be part of a key.")
    existing = [*entity.keys, *_failed_keys(call.state, entity)]
    if any(k.logical_name == logical_name for k in existing):
        raise bad_request(f"A key named '{schema_name}' already exists on '{entity.logical_name}'.")
    if any(set(k.key_attributes) == set(names) for k in existing):
        raise bad_request(f"A key on the columns {', '.join(names)} already exists on '{entity.logical_name}'.")
    if len(existing) >= _MAX_KEYS:
        raise bad_request(f"A table has at most {_MAX_KEYS} keys.")
    key = KeyDef(
        logical_name=logical_name,
        key_attributes=names,
        schema_name=schema_name,
        display_name=_label_text(body.get("DisplayName")) or schema_name,
    )

    def work(changes: _Changes) -> None:
        try:
            call.state.storage.create_index(entity.logical_name, list(names), unique=True)
        except sqlite3.IntegrityError:
            _save_failed_keys(call.state, entity, [*_failed_keys(call.state, entity), key])
            return
        changes.set_field(entity, "keys", [*entity.keys, key])

    _apply(call, work)
    return key


def _delete_key(call: _Call, entity: EntityDef, key: KeyDef, *, failed: bool) -> None:
    call.require("prvWriteEntity")

    def work(changes: _Changes) -> None:
        if failed:
            _save_failed_keys(
                call.state, entity, [k for k in _failed_keys(call.state, entity) if k.logical_name != key.logical_name]
            )
            return
        changes.set_field(entity, "keys", [k for k in entity.keys if k.logical_name != key.logical_name])
        # The index Storage.create_index made for the key (same naming).
        index = quote_ident(f"{entity.logical_name}__{'_'.join(key.key_attributes)}")
        call.state.storage.conn.execute(f"DROP INDEX IF EXISTS {index}")

    _apply(call, work)
