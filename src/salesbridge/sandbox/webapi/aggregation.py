"""FetchXML (``?fetchXml=``) and ``$apply`` on an entity set: filters, joins, grouping and aggregates.

Follows ``webapi/use-fetchxml-web-api.md`` (the FetchXML is URL-encoded in ``fetchXml``; properties whose value is
null are left out of the results), ``fetchxml/aggregate-data.md`` (``aggregate="true"``, ``groupby`` and the
aggregate functions ``count``, ``countcolumn``, ``sum``, ``avg``, ``min``, ``max``, each result named by its
``alias``), and ``webapi/query/aggregate-data.md`` (``$apply`` with ``filter``, ``groupby`` and ``aggregate``;
a grouped property through a lookup is named ``<table>_<column>`` and comes after the aggregates; with
``odata.include-annotations`` the groups and aggregates carry their formatted values; ``groupby`` of a date and
time column is refused, as the page says Dataverse does).

The subset: ``fetch`` with ``top``, ``count``, ``page``, ``aggregate``, ``distinct``; ``entity`` and nested
``link-entity`` (``inner``/``outer``) with ``attribute`` / ``all-attributes``, ``order`` and ``filter``
(``and``/``or``, nested) of ``condition`` with the operators in :data:`_OPERATORS`. Anything else is refused
with a 400, never ignored.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from salesbridge.sandbox.catalogue.definitions import AttributeDef, AttributeType, EntityDef, quote_ident
from salesbridge.sandbox.errors import DataverseError, query_syntax_error
from salesbridge.sandbox.odata.filter.parser import parse_filter
from salesbridge.sandbox.odata.filter.sql import compile_filter
from salesbridge.sandbox.odata.messages import ApiResponse
from salesbridge.sandbox.odata.query_options import split_top_level
from salesbridge.sandbox.odata.values import formatted_value
from salesbridge.sandbox.webapi.reading import FORMATTED, Reader, _annotations_before_values, projection_for

MORE_RECORDS = "Microsoft.Dynamics.CRM.morerecords"
_FETCH_ERROR = "0x80041102"
_OPERATORS = frozenset(
    {"eq", "ne", "gt", "ge", "lt", "le", "like", "not-like", "begins-with", "ends-with", "in", "not-in", "null"}
    | {"not-null"}
)
_COMPARISONS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_FETCH_AGGREGATES = {"sum": "SUM", "avg": "AVG", "min": "MIN", "max": "MAX"}
#: A sum over no values is 0 (fetchxml/aggregate-data.md: the group of the account without employees totals 0).
_FETCH_ZERO_WHEN_EMPTY = frozenset({"sum"})
_APPLY_AGGREGATES = {
    "sum": "SUM({})",
    "average": "AVG({})",
    "min": "MIN({})",
    "max": "MAX({})",
    "countdistinct": "COUNT(DISTINCT {})",
}
_NUMBERS = (AttributeType.INTEGER, AttributeType.BIGINT, AttributeType.PICKLIST, AttributeType.STATE)


def _fetch_error(message: str) -> DataverseError:
    return DataverseError(400, _FETCH_ERROR, message)


def _column(entity: EntityDef, name: str) -> AttributeDef:
    attribute = entity.attribute(name)
    if attribute is None or not attribute.is_stored:
        raise DataverseError(
            400, "0x80041103", f"'{entity.logical_name}' entity doesn't contain attribute with Name = '{name}'."
        )
    return attribute


def _stored(attribute: AttributeDef, text: str | None) -> Any:
    """A FetchXML condition value (text) in the column's storage form."""
    if text is None:
        return None
    kind = attribute.type
    if kind == AttributeType.BOOLEAN:
        return 1 if text.strip().lower() in ("1", "true") else 0
    if kind in (*_NUMBERS, AttributeType.STATUS):
        try:
            return int(text)
        except ValueError:
            raise _fetch_error(f"'{text}' is not a valid value for '{attribute.logical_name}'.") from None
    if kind in (AttributeType.MONEY, AttributeType.DECIMAL, AttributeType.DOUBLE):
        try:
            return float(text)
        except ValueError:
            raise _fetch_error(f"'{text}' is not a valid value for '{attribute.logical_name}'.") from None
    if kind == AttributeType.UNIQUEIDENTIFIER or attribute.is_lookup:
        return text.strip().strip("{}").lower()
    return text


def _output(attribute: AttributeDef | None, value: Any) -> Any:
    if attribute is not None and attribute.type == AttributeType.BOOLEAN and value is not None:
        return bool(value)
    return value


@dataclass
class _Node:
    """An ``entity`` or ``link-entity`` of a FetchXML query, with its SQL alias."""

    entity: EntityDef
    element: ET.Element
    sql_alias: str
    alias: str
    links: list[_Node] = field(default_factory=list)


class FetchQuery:
    """One FetchXML query against ``entity`` for a caller."""

    def __init__(self, reader: Reader, entity: EntityDef, text: str) -> None:
        self.reader = reader
        self.state = reader.state
        self.entity = entity
        try:
            self.root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise _fetch_error(f"The FetchXML is not well-formed: {exc}.") from None
        element = self.root.find("entity")
        if self.root.tag != "fetch" or element is None:
            raise _fetch_error("A FetchXML query is a <fetch> element holding one <entity>.")
        if element.get("name") != entity.logical_name:
            raise _fetch_error(
                f"The entity name specified in FetchXml does not match the entity name in the EntitySet or "
                f"EntitySetName: '{element.get('name')}' is not '{entity.logical_name}'."
            )
        self.aggregate = self.root.get("aggregate") == "true"
        self.params: list[Any] = []
        self.joins: list[str] = []
        self.counter = 0
        self.main = _Node(entity, element, "t", entity.logical_name)
        self._link(self.main)

    def _link(self, node: _Node) -> None:
        for element in node.element.findall("link-entity"):
            target = self.state.catalogue.find_entity(element.get("name") or "")
            if target is None:
                raise _fetch_error(f"The link-entity names an unknown table '{element.get('name')}'.")
            self.counter += 1
            link = _Node(target, element, f"l{self.counter}", element.get("alias") or f"{target.logical_name}1")
            from_column = _column(target, element.get("from") or target.primary_id)
            to_column = _column(node.entity, element.get("to") or node.entity.primary_id)
            kind = (element.get("link-type") or "inner").lower()
            if kind not in ("inner", "outer"):
                raise _fetch_error(f"The sandbox doesn't support link-type '{kind}'.")
            on = (
                f"{link.sql_alias}.{quote_ident(from_column.logical_name)} = "
                f"{node.sql_alias}.{quote_ident(to_column.logical_name)}"
            )
            if kind == "outer":
                # An outer link's own filter restricts what is joined, not the rows of the query.
                for child in element.findall("filter"):
                    on += f" AND {self._filter(link, child)}"
            join = "LEFT JOIN" if kind == "outer" else "JOIN"
            self.joins.append(f" {join} {quote_ident(target.logical_name)} AS {link.sql_alias} ON {on}")
            node.links.append(link)
            self._link(link)

    def _nodes(self, node: _Node | None = None) -> list[_Node]:
        node = node or self.main
        found = [node]
        for link in node.links:
            found += self._nodes(link)
        return found

    def _condition(self, node: _Node, element: ET.Element) -> str:
        attribute = _column(node.entity, element.get("attribute") or "")
        column = f"{node.sql_alias}.{quote_ident(attribute.logical_name)}"
        operator = element.get("operator") or "eq"
        if operator not in _OPERATORS:
            raise _fetch_error(f"The sandbox doesn't support the FetchXML condition operator '{operator}'.")
        text = attribute.type in (AttributeType.STRING, AttributeType.MEMO)
        collate = " COLLATE NOCASE" if text else ""
        if operator == "null":
            return f"{column} IS NULL"
        if operator == "not-null":
            return f"{column} IS NOT NULL"
        if operator in ("in", "not-in"):
            values = [_stored(attribute, v.text) for v in element.findall("value")]
            if not values:
                raise _fetch_error(f"The condition on '{attribute.logical_name}' needs <value> elements.")
            self.params += values
            negation = "NOT " if operator == "not-in" else ""
            return f"{column}{collate} {negation}IN ({', '.join('?' for _ in values)})"
        value = element.get("value")
        if value is None:
            raise _fetch_error(f"The condition on '{attribute.logical_name}' needs a value.")
        if operator in ("like", "not-like", "begins-with", "ends-with"):
            pattern = {"begins-with": f"{value}%", "ends-with": f"%{value}"}.get(operator, value)
            self.params.append(pattern)
            return f"{column} {'NOT ' if operator == 'not-like' else ''}LIKE ?"
        self.params.append(_stored(attribute, value))
        return f"{column}{collate} {_COMPARISONS[operator]} ?"

    def _filter(self, node: _Node, element: ET.Element) -> str:
        kind = (element.get("type") or "and").lower()
        if kind not in ("and", "or"):
            raise _fetch_error(f"'{kind}' is not a filter type; use 'and' or 'or'.")
        parts = []
        for child in element:
            if child.tag == "condition":
                parts.append(self._condition(node, child))
            elif child.tag == "filter":
                parts.append(self._filter(node, child))
        return f"({f' {kind.upper()} '.join(parts) or '1 = 1'})"

    def _where(self) -> list[str]:
        clauses = []
        for node in self._nodes():
            outer = node is not self.main and (node.element.get("link-type") or "inner").lower() == "outer"
            if outer:
                continue
            clauses += [self._filter(node, element) for element in node.element.findall("filter")]
        scope = self.state.security.read_scope(self.reader.caller_id, self.entity, "t")
        if scope is not None:
            clauses.append(scope[0])
            self.params += scope[1]
        return clauses

    def run(self) -> ApiResponse:
        """Answer the query.

        Raises:
            DataverseError: 400 for what the sandbox can't answer or a malformed query; 403 without read access.
        """
        return self._aggregate() if self.aggregate else self._rows()

    def _page(self) -> tuple[int | None, int]:
        top = self.root.get("top")
        count = self.root.get("count")
        page = int(self.root.get("page") or 1)
        if top is not None:
            return int(top), 0
        if count is not None:
            return int(count), (page - 1) * int(count)
        return self.state.config.max_page_size, 0

    def _rows(self) -> ApiResponse:
        entity = self.entity
        link_columns: list[tuple[str, AttributeDef, str]] = []
        for node in self._nodes()[1:]:
            for element in node.element.findall("attribute"):
                attribute = _column(node.entity, element.get("name") or "")
                key = element.get("alias") or f"{node.alias}.{attribute.logical_name}"
                link_columns.append((key, attribute, f"{node.sql_alias}.{quote_ident(attribute.logical_name)}"))
        clauses = self._where()
        params_where = list(self.params)
        order = []
        for element in self.main.element.findall("order"):
            attribute = _column(entity, element.get("attribute") or "")
            direction = "DESC" if element.get("descending") == "true" else "ASC"
            order.append(f"t.{quote_ident(attribute.logical_name)} {direction}")
        order.append(f"t.{quote_ident(entity.primary_id)}")
        limit, offset = self._page()
        distinct = "DISTINCT " if self.root.get("distinct") == "true" else ""
        selected = [f"t.{quote_ident(entity.primary_id)}", *(sql for _, _, sql in link_columns)]
        sql = (
            f"SELECT {distinct}{', '.join(selected)} FROM {quote_ident(entity.logical_name)} AS t{''.join(self.joins)}"
        )
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY {', '.join(order)} LIMIT ? OFFSET ?"
        _, rows = self.state.storage.query(sql, [*params_where, (limit or 0) + 1, offset])
        more = limit is not None and len(rows) > limit
        rows = rows[:limit]
        main_element = self.main.element
        if main_element.find("all-attributes") is not None:
            select = None
        else:
            names = []
            for element in main_element.findall("attribute"):
                attribute = _column(entity, element.get("name") or "")
                names.append(attribute.json_name)
            select = tuple(names) or (entity.primary_id,)
        projection = projection_for(entity, select)
        ids = [str(row[0]) for row in rows]
        items = self._main_items(entity, projection, ids)
        values = []
        for row, item in zip(rows, items, strict=True):
            value = {k: v for k, v in item.items() if v is not None}
            for (key, attribute, _), cell in zip(link_columns, row[1:], strict=True):
                if cell is not None:
                    value[key] = _output(attribute, cell)
            values.append(value)
        payload: dict[str, Any] = {"@odata.context": self.reader.context_url(entity, projection)}
        if more and self.reader.prefer.wants_annotation(MORE_RECORDS):
            payload[f"@{MORE_RECORDS}"] = True
        payload["value"] = values
        return ApiResponse.raw_json(200, orjson.dumps(payload), self.reader.applied_headers())

    def _main_items(self, entity: EntityDef, projection: Any, ids: list[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        columns = projection.selected_columns(entity)
        unique = sorted(set(ids))
        sql = (
            f"SELECT {', '.join(quote_ident(c) for c in columns)}, {quote_ident(entity.primary_id)} FROM "
            f"{quote_ident(entity.logical_name)} WHERE {quote_ident(entity.primary_id)} IN "
            f"({', '.join('?' for _ in unique)})"
        )
        _, rows = self.state.storage.query(sql, unique)
        serialized = self.reader.serialize(
            entity, projection, [r[:-1] for r in rows], has_version="versionnumber" in columns
        )
        by_id = {str(row[-1]): item for row, item in zip(rows, serialized, strict=True)}
        return [dict(by_id[i]) for i in ids]

    def _aggregate(self) -> ApiResponse:
        aliases: dict[str, str] = {}
        selects: list[str] = []
        outputs: list[tuple[str, AttributeDef | None]] = []
        groups: list[str] = []
        for node in self._nodes():
            for element in node.element.findall("attribute"):
                attribute = _column(node.entity, element.get("name") or "")
                alias = element.get("alias")
                if not alias:
                    raise _fetch_error("Every attribute of an aggregate query needs an alias.")
                column = f"{node.sql_alias}.{quote_ident(attribute.logical_name)}"
                function = (element.get("aggregate") or "").lower()
                grouping = element.get("dategrouping")
                if element.get("groupby") == "true":
                    expression = _date_part(attribute, column, grouping) if grouping else column
                    selects.append(expression)
                    groups.append(expression)
                    aliases[alias] = expression
                    outputs.append((alias, None if grouping else attribute))
                elif function == "count":
                    selects.append("COUNT(*)")
                    aliases[alias] = "COUNT(*)"
                    outputs.append((alias, None))
                elif function == "countcolumn":
                    distinct = "DISTINCT " if element.get("distinct") == "true" else ""
                    selects.append(f"COUNT({distinct}{column})")
                    outputs.append((alias, None))
                elif function in _FETCH_AGGREGATES:
                    expression = f"{_FETCH_AGGREGATES[function]}({column})"
                    if function in _FETCH_ZERO_WHEN_EMPTY:
                        expression = f"COALESCE({expression}, 0)"
                    selects.append(expression)
                    aliases[alias] = expression
                    outputs.append((alias, None))
                else:
                    raise _fetch_error(
                        f"The attribute '{alias}' of an aggregate query needs groupby=\"true\" or an aggregate "
                        "(count, countcolumn, sum, avg, min, max)."
                    )
        clauses = self._where()
        sql = f"SELECT {', '.join(selects)} FROM {quote_ident(self.entity.logical_name)} AS t{''.join(self.joins)}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        if groups:
            # "When grouping, you should specify an order element with an alias value set to the alias of the
            # group" (fetchxml/aggregate-data.md); the groups themselves order the rest.
            order = []
            for element in self.main.element.findall("order"):
                name = element.get("alias") or ""
                if name not in aliases:
                    raise _fetch_error(f"An aggregate query orders by the alias of a group or aggregate, not '{name}'.")
                order.append(f"{aliases[name]} {'DESC' if element.get('descending') == 'true' else 'ASC'}")
            sql += f" GROUP BY {', '.join(groups)} ORDER BY {', '.join([*order, *groups])}"
        _, rows = self.state.storage.query(sql, self.params)
        values = _rows_of(rows, outputs)
        payload = {"@odata.context": f"{self.reader.api_url}$metadata#{self.entity.entity_set_name}", "value": values}
        return ApiResponse.raw_json(200, orjson.dumps(payload), self.reader.applied_headers())


_DATE_PARTS = {
    "day": "CAST(strftime('%d', {c}) AS INTEGER)",
    # Weeks start on Sunday and 1 January is in week 1 (en-US, the sandbox's only user settings).
    "week": "((CAST(strftime('%j', {c}) AS INTEGER) - 1 + CAST(strftime('%w', strftime('%Y', {c}) || '-01-01') "
    "AS INTEGER)) / 7 + 1)",
    "month": "CAST(strftime('%m', {c}) AS INTEGER)",
    "quarter": "((CAST(strftime('%m', {c}) AS INTEGER) + 2) / 3)",
    "year": "CAST(strftime('%Y', {c}) AS INTEGER)",
    # The default fiscal settings: the calendar year, by quarters.
    "fiscal-period": "('Quarter ' || ((CAST(strftime('%m', {c}) AS INTEGER) + 2) / 3) || ' FY' || strftime('%Y', {c}))",
    "fiscal-year": "('FY' || strftime('%Y', {c}))",
}


def _date_part(attribute: AttributeDef, column: str, grouping: str) -> str:
    """The SQL of a ``dategrouping`` (fetchxml/aggregate-data.md, "Grouping by parts of a date"), in UTC."""
    if attribute.type != AttributeType.DATETIME:
        raise _fetch_error(f"dategrouping applies to date and time columns, not '{attribute.logical_name}'.")
    template = _DATE_PARTS.get(grouping.lower())
    if template is None:
        raise _fetch_error(f"The sandbox doesn't support dategrouping '{grouping}'.")
    # Stored as YYYY-MM-DDTHH:MM:SSZ; SQLite's date functions want it without the zone letter.
    return template.format(c=f"replace({column}, 'Z', '')")


def _rows_of(rows: Sequence[Sequence[Any]], outputs: list[tuple[str, AttributeDef | None]]) -> list[dict[str, Any]]:
    """Result rows as JSON objects; null values are left out (as FetchXML does, and $apply for groups)."""
    values = []
    for row in rows:
        item = {}
        for (name, attribute), cell in zip(outputs, row, strict=True):
            if cell is not None:
                item[name] = _output(attribute, cell)
        values.append(item)
    return values


def run_apply(reader: Reader, entity: EntityDef, text: str) -> ApiResponse:
    """``$apply``: ``filter(…)``, ``groupby((…))`` and ``groupby((…),aggregate(…))``, ``aggregate(…)``, chained
    with ``/``.

    Raises:
        DataverseError: 400 ``0x80060888`` for a transformation or aggregate the sandbox doesn't support.
    """
    state = reader.state
    clauses: list[str] = []
    params: list[Any] = []
    groups: list[tuple[str, str, AttributeDef]] = []
    aggregates: list[tuple[str, str, AttributeDef | None]] = []
    joins: dict[str, str] = {}
    for step in split_top_level(text, "/"):
        step = step.strip()
        name, _, rest = step.partition("(")
        body = rest[:-1] if rest.endswith(")") else None
        if body is None:
            raise query_syntax_error(f"'{step}' is not a $apply transformation.")
        if name == "filter":
            sql, filter_params = compile_filter(
                parse_filter(body, {}), entity, state.catalogue, alias="t", now=state.now()
            )
            clauses.append(f"({sql})")
            params += filter_params
        elif name == "groupby":
            parts = split_top_level(body, ",")
            properties = parts[0].strip()
            if not (properties.startswith("(") and properties.endswith(")")):
                raise query_syntax_error("groupby takes a parenthesised list of properties: groupby((a,b)).")
            for item in split_top_level(properties[1:-1], ","):
                groups.append(_group_column(reader, entity, item.strip(), joins))
            for extra in parts[1:]:
                extra = extra.strip()
                if not (extra.startswith("aggregate(") and extra.endswith(")")):
                    raise query_syntax_error(f"The sandbox doesn't support '{extra}' inside groupby.")
                aggregates += _aggregates(entity, extra[len("aggregate(") : -1])
        elif name == "aggregate":
            aggregates += _aggregates(entity, body)
        else:
            raise query_syntax_error(f"The sandbox doesn't support the $apply transformation '{name}'.")
    scope = state.security.read_scope(reader.caller_id, entity, "t")
    if scope is not None:
        clauses.append(scope[0])
        params += scope[1]
    # The row's own groups, then the aggregates, then the groups through a lookup (the order of the page's
    # "Total account revenue by primary contact name": ``total`` before ``contact_fullname``).
    own = [group for group in groups if group[1].startswith("t.")]
    related = [group for group in groups if not group[1].startswith("t.")]
    selects = [column for _, column, _ in own] + [expression for _, expression, _ in aggregates]
    selects += [column for _, column, _ in related]
    if not selects:
        raise query_syntax_error("$apply needs a groupby or an aggregate.")
    sql = f"SELECT {', '.join(selects)} FROM {quote_ident(entity.logical_name)} AS t{''.join(joins.values())}"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    if groups:
        columns = ", ".join(column for _, column, _ in groups)
        sql += f" GROUP BY {columns} ORDER BY {columns}"
    _, rows = state.storage.query(sql, params)
    outputs: list[tuple[str, AttributeDef | None]] = [(key, attribute) for key, _, attribute in own]
    outputs += [(alias, None) for alias, _, _ in aggregates]
    outputs += [(key, attribute) for key, _, attribute in related]
    values = _rows_of(rows, outputs)
    if reader.prefer.wants_annotation(FORMATTED):
        formats: list[tuple[str, AttributeDef | None, bool]] = [(key, attribute, False) for key, _, attribute in own]
        formats += [(alias, attribute, attribute is None) for alias, _, attribute in aggregates]
        formats += [(key, attribute, False) for key, _, attribute in related]
        values = [_formatted(item, formats) for item in values]
    payload = {"@odata.context": f"{reader.api_url}$metadata#{entity.entity_set_name}", "value": values}
    return ApiResponse.raw_json(200, orjson.dumps(payload), reader.applied_headers())


def orders_by_an_aggregate(query: dict[str, str]) -> bool:
    """Whether ``$orderby`` names the alias of one of ``$apply``'s aggregates (``… as total`` and
    ``$orderby=total``), which aggregate-data.md says Dataverse refuses."""
    aliases = set(re.findall(r"\bas\s+(\w+)", query.get("$apply", "")))
    ordered = {part.split()[0] for part in query.get("$orderby", "").split(",") if part.split()}
    return bool(aliases & ordered)


def _formatted(item: dict[str, Any], formats: list[tuple[str, AttributeDef | None, bool]]) -> dict[str, Any]:
    """``item`` with each value's formatted value right before it (aggregate-data.md: ``"count@…": "8"``,
    ``"total@…": "$440,000.00"``, a choice's label); a count is a whole number, other aggregates take their
    column's format."""
    for name, attribute, is_count in formats:
        value = item.get(name)
        if value is None:
            continue
        text = f"{int(value):,}" if is_count else formatted_value(attribute, value) if attribute else None
        if text is not None:
            item[f"{name}@{FORMATTED}"] = text
    return _annotations_before_values(item)


def _group_column(reader: Reader, entity: EntityDef, item: str, joins: dict[str, str]) -> tuple[str, str, AttributeDef]:
    """(output name, SQL column, attribute) of a groupby property: ``statuscode``, ``_x_value`` or ``nav/column``."""
    if "/" in item:
        nav, _, name = item.partition("/")
        relationship = reader.catalogue.single_valued_nav(entity.logical_name, nav)
        if relationship is None:
            raise query_syntax_error(f"'{nav}' is not a single-valued navigation property of '{entity.logical_name}'.")
        target = reader.catalogue.entity(relationship.referenced_entity)
        attribute = _column(target, name)
        alias = f"g{len(joins) + 1}"
        joins.setdefault(
            nav,
            f" LEFT JOIN {quote_ident(target.logical_name)} AS {alias} ON {alias}.{quote_ident(target.primary_id)} = "
            f"t.{quote_ident(relationship.referencing_attribute)}",
        )
        joined = joins[nav].split(" AS ", 1)[1].split(" ", 1)[0]
        return (
            f"{target.logical_name}_{attribute.logical_name}",
            f"{joined}.{quote_ident(attribute.logical_name)}",
            attribute,
        )
    name = item[1:-6] if item.startswith("_") and item.endswith("_value") else item
    attribute = _column(entity, name)
    if attribute.type == AttributeType.DATETIME:
        # aggregate-data.md: "groupby with datetime values is not supported" (FetchXML's dategrouping is).
        raise query_syntax_error(f"groupby with datetime values is not supported: '{attribute.logical_name}'.")
    return attribute.json_name, f"t.{quote_ident(attribute.logical_name)}", attribute


def _aggregates(entity: EntityDef, body: str) -> list[tuple[str, str, AttributeDef | None]]:
    """``x with sum as total, $count as count`` → [(alias, SQL expression, the column whose format the result
    takes: None for a count)]."""
    found: list[tuple[str, str, AttributeDef | None]] = []
    for item in split_top_level(body, ","):
        words = item.split()
        if len(words) == 3 and words[0] == "$count" and words[1] == "as":
            found.append((words[2], "COUNT(*)", None))
            continue
        if len(words) != 5 or words[1] != "with" or words[3] != "as" or words[2] not in _APPLY_AGGREGATES:
            raise query_syntax_error(
                f"'{item.strip()}' is not an aggregate the sandbox supports: '<property> with "
                "sum|average|min|max|countdistinct as <alias>' or '$count as <alias>'."
            )
        attribute = _column(entity, words[0])
        template = _APPLY_AGGREGATES[words[2]]
        expression = template.format(f"t.{quote_ident(attribute.logical_name)}")
        found.append((words[4], expression, None if words[2] == "countdistinct" else attribute))
    return found
