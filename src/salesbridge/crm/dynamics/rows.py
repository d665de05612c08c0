"""Translation between Dataverse's JSON rows and the port's plain values, both ways. Pure functions.

Reads: ``_parentcustomerid_value`` becomes the lookup ``parentcustomerid``; ``@odata.etag`` becomes the
record's version; formatted-value annotations become :attr:`CrmRecord.formatted`; every other annotation is
dropped. Queries: port conditions become ``$filter`` text with Dataverse's literal rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from salesbridge.crm.dynamics.client import quote_literal, require_identifier
from salesbridge.crm.ports import ColumnValue, Condition, CrmRecord, LookupValue, SortKey, TableInfo, Tombstone
from salesbridge.errors import UnexpectedResponseError

ETAG = "@odata.etag"
FORMATTED_VALUE = "OData.Community.Display.V1.FormattedValue"
LOOKUP_TABLE = "Microsoft.Dynamics.CRM.lookuplogicalname"
DELETED_ENTITY = "$deletedEntity"
_LOOKUP_PROPERTY = re.compile(r"^_(.+)_value$")
# Column types whose literals are bare GUIDs in $filter.
_GUID_TYPES = frozenset({"Uniqueidentifier", "Lookup", "Customer", "Owner"})


def is_tombstone(row: Mapping[str, Any]) -> bool:
    """Whether a change-tracking row is a deleted-row marker (``@odata.context`` ending in ``$deletedEntity``)."""
    context = str(row.get("@odata.context") or "")
    return context.endswith("/" + DELETED_ENTITY) or context.endswith("#" + DELETED_ENTITY)


def tombstone_from_row(row: Mapping[str, Any], table: TableInfo) -> Tombstone:
    """The tombstone of a ``$deletedEntity`` row.

    Raises:
        UnexpectedResponseError: The row has no id.
    """
    record_id = row.get("id")
    if not record_id:
        raise UnexpectedResponseError(f"A deleted-row marker of '{table.logical_name}' arrived without an id.")
    return Tombstone(table=table.logical_name, id=str(record_id).lower(), reason=str(row.get("reason") or "deleted"))


def record_from_row(row: Mapping[str, Any], table: TableInfo) -> CrmRecord:
    """A port record from a Dataverse row of ``table``.

    Raises:
        UnexpectedResponseError: The row lacks the table's primary key.
    """
    record_id = row.get(table.primary_id_column)
    if not record_id:
        raise UnexpectedResponseError(
            f"A '{table.logical_name}' row arrived without its primary key '{table.primary_id_column}'."
        )
    values: dict[str, ColumnValue] = {}
    formatted: dict[str, str] = {}
    for name, value in row.items():
        if "@" in name:
            prop, _, annotation = name.partition("@")
            if annotation == FORMATTED_VALUE and prop and value is not None:
                formatted[_column_of(prop)] = str(value)
            continue
        lookup = _LOOKUP_PROPERTY.match(name)
        if lookup:
            target = row.get(f"{name}@{LOOKUP_TABLE}")
            values[lookup.group(1)] = (
                LookupValue(id=str(value).lower(), table=str(target) if target else None) if value else None
            )
        elif name != table.primary_id_column:
            values[name] = value
    version = row.get(ETAG)
    return CrmRecord(
        table=table.logical_name,
        id=str(record_id).lower(),
        values=values,
        version=str(version) if version else None,
        formatted=formatted,
    )


def _column_of(prop: str) -> str:
    lookup = _LOOKUP_PROPERTY.match(prop)
    return lookup.group(1) if lookup else prop


def wire_name(column: str, lookup_columns: frozenset[str]) -> str:
    """The property a read selects, filters or sorts on: ``_x_value`` for a lookup ``x``, else ``column``.

    Raises:
        ValueError: ``column`` is not a valid name.
    """
    name = require_identifier(column).lower()
    return f"_{name}_value" if name in lookup_columns else name


def select_clause(columns: Sequence[str], lookup_columns: frozenset[str]) -> str:
    """``$select`` text for ``columns`` (lookups selected through their ``_x_value`` property)."""
    return ",".join(wire_name(column, lookup_columns) for column in columns)


def order_clause(order_by: Sequence[SortKey], lookup_columns: frozenset[str]) -> str:
    """``$orderby`` text."""
    return ",".join(
        f"{wire_name(key.column, lookup_columns)} {'desc' if key.descending else 'asc'}" for key in order_by
    )


def filter_clause(conditions: Sequence[Condition], column_types: Mapping[str, str]) -> str:
    """``$filter`` text: the conditions joined with ``and``.

    Args:
        conditions: The port's conditions.
        column_types: Column logical name → attribute type, from metadata (decides lookups and GUID literals).

    Raises:
        ValueError: A naive datetime, or a value the column type cannot take.
    """
    lookup_columns = frozenset(name for name, kind in column_types.items() if kind in {"Lookup", "Customer", "Owner"})
    terms = []
    for condition in conditions:
        column_type = column_types.get(condition.column.lower(), "")
        terms.append(
            f"{wire_name(condition.column, lookup_columns)} {condition.operator} "
            f"{odata_literal(condition.value, column_type)}"
        )
    return " and ".join(terms)


def odata_literal(value: object, column_type: str = "") -> str:
    """An OData literal: ``'O''Brian'``, ``42``, ``true``, ``null``, ``2024-05-01T08:00:00Z``, or a bare GUID
    for GUID-typed columns.

    Raises:
        ValueError: A naive datetime, or an unsupported type.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("Datetimes in conditions must be timezone-aware.")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, LookupValue):
        value = value.id
    if isinstance(value, str):
        if column_type in _GUID_TYPES:
            return _guid_literal(value)
        return quote_literal(value)
    raise ValueError(f"Cannot compare a column with a {type(value).__name__}.")


def _guid_literal(value: str) -> str:
    text = value.strip("{}").lower()
    if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text):
        raise ValueError(f"'{value}' is not a GUID.")
    return text
