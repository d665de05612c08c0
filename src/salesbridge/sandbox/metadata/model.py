"""Names and limits of the metadata model: the roots this API answers, type names, navigation properties,
column types accepted in bodies and keys, and the limits Dataverse enforces on definitions."""

from __future__ import annotations

import re

from salesbridge.sandbox.catalogue.definitions import (
    AttributeType,
)

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

ENTITY_TYPE = "EntityMetadata"
ATTRIBUTE_TYPE = "AttributeMetadata"
RELATIONSHIP_TYPE = "OneToManyRelationshipMetadata"
KEY_TYPE = "EntityKeyMetadata"
OPTION_SET_TYPE = "OptionSetMetadata"

ENTITY_NAVIGATION = (
    "Attributes",
    "Keys",
    "ManyToOneRelationships",
    "OneToManyRelationships",
    "ManyToManyRelationships",
)
NAVIGATION = frozenset({*ENTITY_NAVIGATION, "OptionSet", "GlobalOptionSet"})
SUPPORTED_OPTIONS = frozenset({"$select", "$filter", "$expand"})
FIRST_CUSTOM_TYPE_CODE = 10000
MAX_KEY_ATTRIBUTES = 16
MAX_KEYS = 10
INT32 = (-2147483648, 2147483647)
INT64 = (-9223372036854775808, 9223372036854775807)
MONEY_LIMIT = 922337203685477.0
NUMBER_LIMIT = 100000000000.0
FIRST_OPTION_VALUE = 100000000
SCHEMA_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Key columns Dataverse accepts (``define-alternate-keys-entity.md``: decimal, whole number, text, date and
#: time, lookup, choice); unique identifiers are accepted too.
KEY_TYPES = frozenset(
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

TYPE_NAMES: dict[AttributeType, str] = {kind: f"{kind.value}Type" for kind in AttributeType}

#: ``@odata.type`` of a column definition in a request body (without namespace and ``Complex`` prefix).
BODY_TYPES: dict[str, AttributeType] = {
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
CREATABLE_TYPES = frozenset(BODY_TYPES.values()) - {AttributeType.LOOKUP}

#: Attribute casts Dataverse knows but the sandbox never has columns of (a cast to them answers no columns).
EMPTY_CASTS = frozenset(
    {
        "MultiSelectPicklistAttributeMetadata",
        "ImageAttributeMetadata",
        "FileAttributeMetadata",
        "ManagedPropertyAttributeMetadata",
    }
)
OPTION_CASTS = frozenset(
    {"PicklistAttributeMetadata", "StateAttributeMetadata", "StatusAttributeMetadata", "BooleanAttributeMetadata"}
)


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
