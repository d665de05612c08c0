"""``$filter`` over metadata: the Web API's one parser, evaluated over the JSON of each definition.

Definitions are not rows of a database, so the metadata API evaluates the syntax tree of
:func:`~salesbridge.sandbox.odata.filter.parser.parse_filter` in memory. It accepts what Dataverse accepts on
``EntityDefinitions`` and its parts: comparisons (paths into complex properties such as
``IsCustomizable/Value`` included), ``and``/``or``/``not``, ``contains``/``startswith``/``endswith``, and
enumeration members (``Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'``); lambdas and Dataverse query
functions are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from salesbridge.sandbox.errors import property_not_found, query_syntax_error
from salesbridge.sandbox.odata.filter.parser import parse_filter
from salesbridge.sandbox.odata.filter.syntax_tree import (
    BoolOp,
    Comparison,
    Expr,
    Lambda,
    Literal,
    Not,
    PropertyPath,
    QueryFunction,
    StringFunction,
)
from salesbridge.sandbox.odata.paths import parse_guid


def parse_metadata_filter(text: str) -> Expr:
    """Parse a ``$filter`` of a metadata request.

    Raises:
        DataverseError: 400 for an empty or malformed filter, a lambda or a query function (no metadata
            property is a collection, and query functions apply to data only).
    """
    if not text.strip():
        raise query_syntax_error("The $filter query option is empty.")
    condition = parse_filter(text, allow_aliases=False)
    _refuse_data_only(condition)
    return condition


def check_filter_paths(node: Expr | Literal | PropertyPath, allowed: frozenset[str], type_name: str) -> None:
    """Every property path of a filter starts with a property of the type.

    Raises:
        DataverseError: 400 ``0x80060888`` naming the first unknown property.
    """
    if isinstance(node, PropertyPath):
        if node.segments[0] not in allowed:
            raise property_not_found(node.segments[0], type_name)
    elif isinstance(node, Comparison):
        check_filter_paths(node.left, allowed, type_name)
        check_filter_paths(node.right, allowed, type_name)
    elif isinstance(node, BoolOp):
        for operand in node.operands:
            check_filter_paths(operand, allowed, type_name)
    elif isinstance(node, Not):
        check_filter_paths(node.operand, allowed, type_name)
    elif isinstance(node, StringFunction):
        check_filter_paths(node.target, allowed, type_name)


def matches(row: Mapping[str, Any], condition: Expr | None, type_name: str) -> bool:
    """Whether a definition's JSON satisfies ``condition`` (every row does without one).

    Raises:
        DataverseError: 400 for a path through a property the row does not have, or operands of
            incompatible types.
    """
    return condition is None or bool(_evaluate(condition, row, type_name))


def _refuse_data_only(node: Expr) -> None:
    if isinstance(node, Lambda | QueryFunction):
        raise query_syntax_error("Lambda operators and query functions cannot be used to filter metadata.")
    if isinstance(node, BoolOp):
        for operand in node.operands:
            _refuse_data_only(operand)
    elif isinstance(node, Not):
        _refuse_data_only(node.operand)


def _resolve_path(row: Mapping[str, Any], path: PropertyPath, type_name: str) -> Any:
    value: Any = row
    for index, name in enumerate(path.segments):
        if value is None:
            return None
        if not isinstance(value, Mapping) or name not in value:
            if index == 0:
                raise property_not_found(name, type_name)
            raise query_syntax_error(f"Could not find a property named '{name}' in the path '{path.text}'.")
        value = value[name]
    return value


def _operand(node: Literal | PropertyPath, row: Mapping[str, Any], type_name: str) -> Any:
    if isinstance(node, Literal):
        return node.value
    return _resolve_path(row, node, type_name)


def _evaluate(node: Expr, row: Mapping[str, Any], type_name: str) -> bool:
    if isinstance(node, Not):
        return not _evaluate(node.operand, row, type_name)
    if isinstance(node, BoolOp):
        results = (_evaluate(operand, row, type_name) for operand in node.operands)
        return all(results) if node.op == "and" else any(results)
    if isinstance(node, StringFunction):
        value = _resolve_path(row, node.target, type_name)
        pattern = str(node.value.value)
        if not isinstance(value, str):
            return False
        if node.name == "contains":
            return pattern in value
        if node.name == "startswith":
            return value.startswith(pattern)
        return value.endswith(pattern)
    if not isinstance(node, Comparison):
        raise query_syntax_error("Lambda operators and query functions cannot be used to filter metadata.")
    return _compare(node.op, _operand(node.left, row, type_name), _operand(node.right, row, type_name))


def _compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, str) and _is_guid_text(left) and isinstance(right, str):
        left, right = left.lower(), right.lower()
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        if op == "gt":
            return bool(left > right)
        if op == "ge":
            return bool(left >= right)
        if op == "lt":
            return bool(left < right)
        return bool(left <= right)
    except TypeError:
        raise query_syntax_error(f"The operands of '{op}' are of incompatible types.") from None


def _is_guid_text(text: str) -> bool:
    return parse_guid(text) is not None and len(text) == 36
