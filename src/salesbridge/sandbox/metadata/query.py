"""Query options of metadata requests: ``$select``, ``$filter`` (the Web API's parser, evaluated by
:mod:`.filtering`) and ``$expand``, and projecting definitions onto ``$select``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from salesbridge.sandbox.errors import (
    property_not_found,
    query_syntax_error,
    unsupported_query_option,
)
from salesbridge.sandbox.metadata.filtering import check_filter_paths, parse_metadata_filter
from salesbridge.sandbox.metadata.model import NAVIGATION, SUPPORTED_OPTIONS
from salesbridge.sandbox.odata.filter.syntax_tree import Expr
from salesbridge.sandbox.odata.query_options import parse_select, split_top_level

# --------------------------------------------------------------------------------------------------------
# Query options: $select, $filter, $expand
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expand:
    """One ``$expand`` item with its nested ``$select``/``$filter``."""

    name: str
    select: tuple[str, ...] | None = None
    filter: Expr | None = None


@dataclass(frozen=True)
class MetadataQuery:
    select: tuple[str, ...] | None = None
    filter: Expr | None = None
    expand: tuple[Expand, ...] = ()


def parse_query(pairs: Sequence[tuple[str, str]]) -> MetadataQuery:
    seen: dict[str, str] = {}
    for name, value in pairs:
        if not name.startswith("$"):
            continue  # parameter aliases and non-OData parameters (SolutionUniqueName …) are not options
        if name not in SUPPORTED_OPTIONS:
            raise unsupported_query_option(name)
        if name in seen:
            raise query_syntax_error(
                f"Query option '{name}' was specified more than once, but it must be specified at most once."
            )
        seen[name] = value
    return MetadataQuery(
        select=parse_select(seen["$select"]) if "$select" in seen else None,
        filter=parse_metadata_filter(seen["$filter"]) if "$filter" in seen else None,
        expand=_parse_expand(seen["$expand"]) if "$expand" in seen else (),
    )


def _parse_expand(text: str) -> tuple[Expand, ...]:
    items: list[Expand] = []
    for item in split_top_level(text, ","):
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?", item, re.DOTALL)
        if match is None:
            raise query_syntax_error(f"Syntax error in $expand '{text}' at '{item}'.")
        name, inner = match.group(1), match.group(2)
        select: tuple[str, ...] | None = None
        condition: Expr | None = None
        for option in split_top_level(inner or "", ";"):
            if not option:
                continue
            key, sep, value = option.partition("=")
            key = key.strip()
            if not sep:
                raise query_syntax_error(f"Syntax error in $expand '{text}' at '{option}'.")
            if key == "$select":
                select = parse_select(value)
            elif key == "$filter":
                condition = parse_metadata_filter(value)
            else:
                raise query_syntax_error(f"The query option '{key}' is not supported inside $expand of metadata.")
        items.append(Expand(name, select, condition))
    return tuple(items)


def project(
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
        if name in NAVIGATION:
            continue  # a navigation property in $select adds nothing to a minimal-metadata answer
        result[name] = row.get(name)
    if "MetadataId" in row:
        result["MetadataId"] = row["MetadataId"]
    return result


def validate(query: MetadataQuery, type_name: str, allowed: frozenset[str]) -> None:
    """Check ``$select`` and the properties ``$filter`` names before any row is looked at.

    Raises:
        DataverseError: 400 ``0x80060888`` for a name that is no property of ``type_name``.
    """
    if query.select is not None:
        project({}, query.select, type_name, allowed)
    if query.filter is not None:
        check_filter_paths(query.filter, allowed, type_name)


def context_select(select: tuple[str, ...] | None, expand: Sequence[Expand] = ()) -> str:
    """The ``(a,b,Nav(c))`` part of an ``@odata.context``."""
    items = list(select or ())
    for item in expand:
        items.append(f"{item.name}({','.join(item.select or ())})")
    return f"({','.join(items)})" if items else ""
