"""Reading definitions from request bodies: labels, schema names, column types, required levels, ranges and
choices."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from salesbridge.sandbox.catalogue.definitions import (
    AttributeDef,
    AttributeType,
    OptionDef,
    RequiredLevel,
    stable_id,
)
from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.errors import (
    bad_request,
)
from salesbridge.sandbox.metadata.model import (
    BODY_TYPES,
    CREATABLE_TYPES,
    CRM,
    ENGLISH,
    FIRST_OPTION_VALUE,
    INT32,
    INT64,
    MONEY_LIMIT,
    NUMBER_LIMIT,
    SCHEMA_NAME,
    SPANISH,
)
from salesbridge.sandbox.metadata.request import not_found

# --------------------------------------------------------------------------------------------------------
# Reading definitions from request bodies
# --------------------------------------------------------------------------------------------------------


def label_text(label: object) -> str | None:
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


def required_text(body: Mapping[str, Any], name: str, what: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"The {name} of the {what} is required.")
    return value.strip()


def check_schema_name(schema_name: str, what: str) -> None:
    """Custom tables and columns need a customization prefix (``new_BankAccount``).

    Raises:
        DataverseError: 400 for a name without prefix or with characters other than letters, digits and ``_``.
    """
    if not SCHEMA_NAME.match(schema_name):
        # undocumented: the code and wording of the prefix check.
        raise bad_request(
            f"Invalid schema name '{schema_name}' for the {what}: a schema name must start with a customization "
            f"prefix followed by '_' (new_Example) and contain only letters, digits and underscores.",
        )


def body_type(body: Mapping[str, Any]) -> AttributeType:
    odata_type = str(body.get("@odata.type") or "").lstrip("#")
    if odata_type:
        name = odata_type.removeprefix(CRM).removeprefix("Complex")
        kind = BODY_TYPES.get(name)
        if kind is None:
            raise bad_request(f"The sandbox cannot create columns of type '{odata_type}'.", "0x80048d19")
        return kind
    declared = body.get("AttributeType")
    for kind in CREATABLE_TYPES | {AttributeType.LOOKUP}:
        if declared == kind.value:
            return kind
    raise bad_request(
        "The column definition needs an '@odata.type' such as Microsoft.Dynamics.CRM.StringAttributeMetadata."
    )


def required_level_in(body: Mapping[str, Any]) -> RequiredLevel:
    level = body.get("RequiredLevel")
    value = level.get("Value") if isinstance(level, Mapping) else level
    if value is None:
        return RequiredLevel.NONE
    for candidate in RequiredLevel:
        if candidate.value == value:
            return candidate
    raise bad_request(f"'{value}' is not a valid AttributeRequiredLevel.")


def number_in(body: Mapping[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request(f"The {name} of a column must be a number.")
    if not low <= value <= high:
        raise bad_request(f"The {name} {value} is outside the range {low} to {high}.")
    return float(value)


def attribute_from_body(
    body: Mapping[str, Any], catalogue: Catalogue, *, primary: bool = False, platform_name: bool = False
) -> AttributeDef:
    """An :class:`AttributeDef` from an ``AttributeMetadata`` body (custom column).

    ``platform_name``: the column is a platform column named without a customization prefix (the ``Subject`` an
    activity table's definition brings); it is not marked custom.

    Raises:
        DataverseError: 400 for a missing or invalid schema name, an unsupported type, or invalid limits.
    """
    kind = body_type(body)
    schema_name = required_text(body, "SchemaName", "column")
    if not platform_name:
        check_schema_name(schema_name, "column")
    logical_name = str(body.get("LogicalName") or schema_name).lower()
    if logical_name != schema_name.lower():
        raise bad_request(f"The LogicalName '{logical_name}' must be the lowercase SchemaName '{schema_name}'.")
    common: dict[str, Any] = {
        "logical_name": logical_name,
        "type": kind,
        "schema_name": schema_name,
        "display_name": label_text(body.get("DisplayName")) or schema_name,
        "description": label_text(body.get("Description")) or "",
        "required_level": required_level_in(body),
        "is_custom": not platform_name,
        "is_primary_name": primary,
    }
    if kind == AttributeType.STRING:
        length = number_in(body, "MaxLength", 100, 1, 4000)
        return AttributeDef(max_length=int(length), **common)
    if kind == AttributeType.MEMO:
        length = number_in(body, "MaxLength", 2000, 1, 1048576)
        return AttributeDef(max_length=int(length), **common)
    if kind in (AttributeType.INTEGER, AttributeType.BIGINT):
        low, high = INT32 if kind == AttributeType.INTEGER else INT64
        minimum = number_in(body, "MinValue", low, low, high)
        maximum = number_in(body, "MaxValue", high, low, high)
        return AttributeDef(min_value=minimum, max_value=maximum, **_checked_range(common, minimum, maximum))
    if kind in (AttributeType.DECIMAL, AttributeType.DOUBLE, AttributeType.MONEY):
        limit = MONEY_LIMIT if kind == AttributeType.MONEY else NUMBER_LIMIT
        most = {AttributeType.DECIMAL: 10, AttributeType.DOUBLE: 5, AttributeType.MONEY: 4}[kind]
        precision = int(number_in(body, "Precision", 2, 0, most))
        minimum = number_in(body, "MinValue", -limit, -limit, limit)
        maximum = number_in(body, "MaxValue", limit, -limit, limit)
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
            true_label=label_text(true_option.get("Label") if isinstance(true_option, Mapping) else None) or "Yes",
            false_label=label_text(false_option.get("Label") if isinstance(false_option, Mapping) else None) or "No",
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
            raise not_found("an option set", key or bind)
    elif option_set is not None and option_set.get("IsGlobal"):
        global_name = str(option_set.get("Name") or "")
        if global_name not in catalogue.global_option_sets:
            raise not_found("an option set", global_name)
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
            value = FIRST_OPTION_VALUE + index
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"The option value '{value}' is not an integer.")
        if any(option.value == value for option in options):
            raise bad_request(f"The option value {value} is used twice.")
        label = label_text(item.get("Label")) or str(value)
        options.append(OptionDef(value, label, _spanish_text(item.get("Label"))))
    if isinstance(default, int) and default >= 0 and all(option.value != default for option in options):
        raise bad_request(f"The DefaultFormValue {default} is not one of the options.")
    return AttributeDef(
        options=tuple(options),
        default_value=default if isinstance(default, int) and default >= 0 else None,
        **common,
    )
