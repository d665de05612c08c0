"""Conversion of column values between Web API JSON, storage, and formatted (display) text."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from salesbridge.sandbox.catalogue.definitions import AttributeDef, AttributeType, EntityDef
from salesbridge.sandbox.errors import DataverseError, max_length_exceeded, payload_error
from salesbridge.sandbox.odata.filter.syntax_tree import Edm
from salesbridge.sandbox.odata.paths import parse_guid

_EDM_BY_TYPE: dict[AttributeType, Edm] = {
    AttributeType.STRING: Edm.STRING,
    AttributeType.MEMO: Edm.STRING,
    AttributeType.ENTITYNAME: Edm.STRING,
    AttributeType.INTEGER: Edm.INT32,
    AttributeType.PICKLIST: Edm.INT32,
    AttributeType.STATE: Edm.INT32,
    AttributeType.STATUS: Edm.INT32,
    AttributeType.BIGINT: Edm.INT64,
    AttributeType.DECIMAL: Edm.DECIMAL,
    AttributeType.MONEY: Edm.DECIMAL,
    AttributeType.DOUBLE: Edm.DOUBLE,
    AttributeType.BOOLEAN: Edm.BOOLEAN,
    AttributeType.UNIQUEIDENTIFIER: Edm.GUID,
    AttributeType.LOOKUP: Edm.GUID,
    AttributeType.CUSTOMER: Edm.GUID,
    AttributeType.OWNER: Edm.GUID,
}


def edm_type(attribute: AttributeDef) -> Edm:
    """The EDM type a column has in the Web API (lookups: the ``_x_value`` GUID)."""
    if attribute.type == AttributeType.DATETIME:
        return Edm.DATE if attribute.date_only else Edm.DATETIMEOFFSET
    return _EDM_BY_TYPE.get(attribute.type, Edm.STRING)


def format_timestamp(moment: datetime) -> str:
    """A UTC instant as Dataverse writes it: ``2023-04-07T21:59:01Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO-8601 instant; a value without offset is taken as UTC (Dataverse does the same).

    Raises:
        ValueError: when the text is not a date-time.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _literal_error(entity: EntityDef, value: object, attribute: AttributeDef) -> DataverseError:
    return payload_error(
        entity.entity_set_name,
        f"Cannot convert the literal '{value}' to the expected type '{edm_type(attribute)}'.",
    )


def _utf16_length(text: str) -> int:
    """MaxLength counts UTF-16 code units (.NET's String.Length, SQL Server's nvarchar): most emoji count twice."""
    return len(text) + sum(1 for character in text if ord(character) > 0xFFFF)


def to_storage(entity: EntityDef, attribute: AttributeDef, value: Any) -> Any:
    """Validate a JSON value for a column and convert it to its storage form.

    Raises:
        DataverseError: 400 ``0x80048d19`` for a value of the wrong type, ``0x80044331`` for a string
            longer than MaxLength, ``0x8004431a`` for a choice value outside the option set.
    """
    if value is None:
        return None
    kind = attribute.type
    if kind in (AttributeType.STRING, AttributeType.MEMO, AttributeType.ENTITYNAME):
        if not isinstance(value, str):
            raise _literal_error(entity, value, attribute)
        if attribute.max_length is not None and _utf16_length(value) > attribute.max_length:
            raise max_length_exceeded(attribute.logical_name, entity.logical_name, attribute.max_length)
        return value
    if kind == AttributeType.BOOLEAN:
        if not isinstance(value, bool):
            raise _literal_error(entity, value, attribute)
        return 1 if value else 0
    if kind in (AttributeType.INTEGER, AttributeType.BIGINT, AttributeType.PICKLIST):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _literal_error(entity, value, attribute)
        if kind == AttributeType.PICKLIST and attribute.options and attribute.option(value) is None:
            raise DataverseError(
                400,
                "0x8004431a",
                f"A validation error occurred. The value {value} of '{attribute.logical_name}' on record "
                f"of type '{entity.logical_name}' is outside the valid range.",
            )
        if attribute.min_value is not None and value < attribute.min_value:
            raise _range_error(entity, attribute, value)
        if attribute.max_value is not None and value > attribute.max_value:
            raise _range_error(entity, attribute, value)
        return value
    if kind in (AttributeType.STATE, AttributeType.STATUS):
        if isinstance(value, bool) or not isinstance(value, int) or attribute.option(value) is None:
            raise DataverseError(
                400,
                "0x8004431a",
                f"{value} is not a valid {attribute.logical_name} value for {entity.logical_name}.",
            )
        return value
    if kind in (AttributeType.MONEY, AttributeType.DECIMAL, AttributeType.DOUBLE):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _literal_error(entity, value, attribute)
        try:
            number = float(value)
        except ValueError:
            raise _literal_error(entity, value, attribute) from None
        if attribute.min_value is not None and number < attribute.min_value:
            raise _range_error(entity, attribute, number)
        if attribute.max_value is not None and number > attribute.max_value:
            raise _range_error(entity, attribute, number)
        return number
    if kind == AttributeType.DATETIME:
        if not isinstance(value, str):
            raise _literal_error(entity, value, attribute)
        try:
            if attribute.date_only:
                return date.fromisoformat(value[:10]).isoformat()
            return format_timestamp(parse_timestamp(value))
        except ValueError:
            raise _literal_error(entity, value, attribute) from None
    if kind == AttributeType.UNIQUEIDENTIFIER:
        guid = parse_guid(value) if isinstance(value, str) else None
        if guid is None:
            raise _literal_error(entity, value, attribute)
        return guid
    raise _literal_error(entity, value, attribute)


def _range_error(entity: EntityDef, attribute: AttributeDef, value: object) -> DataverseError:
    return DataverseError(
        400,
        "0x80044331",
        f"A validation error occurred.  The value of '{attribute.logical_name}' on record of type "
        f"'{entity.logical_name}' is outside the valid range. Accepted Values: {attribute.min_value} to "
        f"{attribute.max_value}. Value: {value}",
    )


def formatted_value(attribute: AttributeDef, value: Any) -> str | None:
    """The ``OData.Community.Display.V1.FormattedValue`` of a non-lookup column, or None when it has none."""
    if value is None:
        return None
    kind = attribute.type
    if kind in (AttributeType.PICKLIST, AttributeType.STATE, AttributeType.STATUS):
        option = attribute.option(int(value))
        return option.label if option else str(value)
    if kind == AttributeType.BOOLEAN:
        return attribute.true_label if value else attribute.false_label
    if kind == AttributeType.MONEY:
        return f"${float(value):,.2f}"
    if kind in (AttributeType.INTEGER, AttributeType.BIGINT):
        return f"{int(value):,}"
    if kind in (AttributeType.DECIMAL, AttributeType.DOUBLE):
        return f"{float(value):,.2f}"
    if kind == AttributeType.DATETIME:
        if attribute.date_only:
            day = date.fromisoformat(str(value))
            return f"{day.month}/{day.day}/{day.year}"
        moment = parse_timestamp(str(value))
        hour = moment.hour % 12 or 12
        suffix = "AM" if moment.hour < 12 else "PM"
        return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment.minute:02d} {suffix}"
    return None
