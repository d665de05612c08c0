"""``$filter``/``$orderby`` syntax trees compiled to SQLite SQL over the sandbox's storage layout.

The target is the layout of :mod:`salesbridge.sandbox.organization.database`: one table per Dataverse table,
lookups as ``<attribute>`` (GUID) plus ``<attribute>__type``, text ``COLLATE NOCASE``, booleans 0/1, date-times
as ISO UTC text. Every error is a 400 :class:`DataverseError`, worded like Dataverse's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import MAXYEAR, UTC, date, datetime, time, timedelta

from salesbridge.sandbox.catalogue.definitions import AttributeDef, EntityDef, quote_ident
from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.errors import DataverseError, property_not_found, query_syntax_error
from salesbridge.sandbox.odata.filter.parser import GUID_RE, number_literal, parse_datetime
from salesbridge.sandbox.odata.filter.query_functions import (
    CALENDAR_FUNCTIONS,
    CALLER_FUNCTIONS,
    DAY_FUNCTIONS,
    FISCAL_CALENDAR_FUNCTIONS,
    FISCAL_PERIOD_AND_YEAR_FUNCTIONS,
    FISCAL_PERIODS,
    FISCAL_VALUE_FUNCTIONS,
    HIERARCHY_FUNCTIONS,
    LIST_FUNCTIONS,
    NULL_FUNCTIONS,
    RELATIVE_X_FUNCTIONS,
    UNSUPPORTED_QUERY_FUNCTIONS,
    RangeBounds,
    calendar_range,
    fiscal_period_range,
    fiscal_range,
    fiscal_year_range,
    like_pattern,
    midnight,
    relative_range,
)
from salesbridge.sandbox.odata.filter.syntax_tree import (
    CRM_NAMESPACE,
    MAX_CONDITIONS,
    NUMERIC_EDM,
    TEMPORAL_EDM,
    BoolOp,
    Comparison,
    Edm,
    Expr,
    Lambda,
    ListLiteral,
    Literal,
    Not,
    OrderByItem,
    PropertyPath,
    QueryFunction,
    StringFunction,
)
from salesbridge.sandbox.odata.values import edm_type

_OPERATOR_KIND = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
}
_SQL_OPERATOR = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_FLIPPED = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}

# --------------------------------------------------------------------------------------------------------
# Compiler
# --------------------------------------------------------------------------------------------------------


def _family(edm: Edm) -> str:
    if edm in NUMERIC_EDM:
        return "number"
    if edm in TEMPORAL_EDM:
        return "temporal"
    return edm.value


def _incompatible(left: str, right: str, op: str) -> DataverseError:
    return query_syntax_error(
        f"A binary operator with incompatible types was detected. Found operand types '{left}' and "
        f"'{right}' for operator kind '{_OPERATOR_KIND[op]}'."
    )


def utc_text(moment: datetime) -> str:
    """A date-time in the storage form ``YYYY-MM-DDTHH:MM:SSZ`` (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _storage_value(attribute: AttributeDef, literal: Literal) -> object:
    """The SQLite value a type-checked literal compares as against ``attribute``."""
    value = literal.value
    edm = edm_type(attribute)
    if edm == Edm.BOOLEAN:
        return 1 if value else 0
    if edm == Edm.DATE:
        if isinstance(value, datetime):
            return value.date().isoformat()
        assert isinstance(value, date)
        return value.isoformat()
    if edm == Edm.DATETIMEOFFSET:
        if isinstance(value, datetime):
            return utc_text(value)
        assert isinstance(value, date)
        return utc_text(datetime.combine(value, time(), UTC))
    if edm == Edm.GUID:
        return str(value).lower()
    return value


def _text_value(attribute: AttributeDef, literal: Literal, function: str) -> object:
    """A query function value (a string in Dataverse's signatures) converted to the column's storage form.

    Raises:
        DataverseError: 400 when the value does not fit the column's type.
    """
    if literal.edm is None:
        raise query_syntax_error(f"The function '{function}' doesn't accept null values.")
    edm = edm_type(attribute)
    value = literal.value
    if edm == Edm.STRING:
        if literal.edm not in (Edm.STRING, *NUMERIC_EDM):
            raise query_syntax_error(
                f"The value '{value}' given to '{function}' doesn't match the type {edm.value} of "
                f"'{attribute.logical_name}'."
            )
        return str(value)
    if literal.edm != Edm.STRING:
        if _family(literal.edm) != _family(edm):
            raise query_syntax_error(
                f"The value '{value}' given to '{function}' doesn't match the type {edm.value} of "
                f"'{attribute.logical_name}'."
            )
        return _storage_value(attribute, literal)
    text = str(value).strip()
    try:
        if edm in NUMERIC_EDM:
            number = number_literal(text)
            return number.value
        if edm == Edm.BOOLEAN:
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return 1 if lowered in ("true", "1") else 0
        if edm == Edm.GUID:
            if not GUID_RE.fullmatch(text.strip("{}")):
                raise ValueError(text)
            return text.strip("{}").lower()
        if edm in TEMPORAL_EDM:
            parsed: datetime | date = parse_datetime(text) if "T" in text.upper() else date.fromisoformat(text)
            return _storage_value(attribute, Literal(parsed, Edm.DATE))
    except ValueError:
        raise query_syntax_error(
            f"The value '{text}' given to '{function}' isn't a valid {edm.value} for '{attribute.logical_name}'."
        ) from None
    return text


@dataclass(frozen=True)
class CallerFacts:
    """Who asks, for the query functions about the caller (``EqualUserId``, ``EqualBusinessId``,
    ``EqualUserTeams`` …)."""

    user_id: str
    business_unit_id: str | None
    team_ids: tuple[str, ...]


@dataclass(frozen=True)
class _Scope:
    entity: EntityDef
    alias: str


@dataclass(frozen=True)
class _Column:
    attribute: AttributeDef
    sql: str
    edm: Edm
    name: str


@dataclass(frozen=True)
class _Context:
    """Where names resolve: the queried table, the lambda variables in scope, and the innermost scope."""

    root: _Scope
    variables: Mapping[str, _Scope]
    inner: _Scope

    def scope_of(self, path: PropertyPath) -> _Scope:
        return self.variables[path.variable] if path.variable else self.root


def _resolve_column(
    entity: EntityDef, alias: str, name: str, catalogue: Catalogue | None, *, lenient_lookup: bool = False
) -> _Column:
    """The column behind a property name, with Dataverse's rules for lookups.

    Raises:
        DataverseError: 400 ``0x80060888`` when the name is not a readable structural property: unknown
            names, a lookup's logical name (only ``_x_value`` exists), navigation properties.
    """
    attribute: AttributeDef | None = None
    if name.startswith("_") and name.endswith("_value") and len(name) > 7:
        candidate = entity.attribute(name[1:-6])
        if candidate is not None and candidate.is_lookup:
            attribute = candidate
    else:
        candidate = entity.attribute(name)
        if candidate is not None and (not candidate.is_lookup or lenient_lookup):
            attribute = candidate
    if attribute is None or not attribute.is_stored or not attribute.is_valid_for_read:
        if catalogue is None:
            raise property_not_found(name, entity.logical_name)
        relationship = catalogue.single_valued_nav(entity.logical_name, name)
        if relationship is not None:
            lookup = f"_{relationship.referencing_attribute}_value"
            raise query_syntax_error(
                f"The navigation property '{name}' can't be compared with a value; compare the lookup "
                f"property '{lookup}' instead, or a property of the related row ('{name}/<property>')."
            )
        if catalogue.collection_nav(entity.logical_name, name) is not None:
            raise query_syntax_error(
                f"The collection-valued navigation property '{name}' is not a single value; use a lambda "
                f"('{name}/any(x:x/<property> eq ...)')."
            )
        raise property_not_found(name, entity.logical_name)
    sql = f"{alias}.{quote_ident(attribute.logical_name)}"
    return _Column(attribute, sql, edm_type(attribute), name)


class _Compiler:
    def __init__(
        self, catalogue: Catalogue, root: _Scope, now: datetime, caller: Callable[[], CallerFacts] | None = None
    ) -> None:
        self.catalogue = catalogue
        self.caller = caller
        self.root = root
        self.now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
        self.params: list[object] = []
        self.conditions = 0
        self._alias_count = 0

    def _count(self) -> None:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise DataverseError(400, "0x8004430C", "Number of conditions in query exceeded maximum limit.")

    def _new_alias(self) -> str:
        self._alias_count += 1
        return f"{self.root.alias}_{self._alias_count}"

    # -- boolean structure --------------------------------------------------------------------------

    def compile(self, node: Expr, context: _Context) -> str:
        if isinstance(node, BoolOp):
            joiner = " AND " if node.op == "and" else " OR "
            return "(" + joiner.join(self.compile(operand, context) for operand in node.operands) + ")"
        if isinstance(node, Not):
            return f"NOT ({self.compile(node.operand, context)})"
        if isinstance(node, Comparison):
            return self._comparison(node, context)
        if isinstance(node, StringFunction):
            return self._string_function(node, context)
        if isinstance(node, Lambda):
            return self._lambda(node, context)
        return self._query_function(node, context)

    # -- paths --------------------------------------------------------------------------------------

    def _via_path(self, scope: _Scope, segments: Sequence[str], build: Callable[[_Column], str]) -> str:
        """SQL applying ``build`` to the column at the end of ``segments``, through single-valued
        navigation properties as ``IN (SELECT <pk> ...)`` subqueries."""
        if len(segments) == 1:
            return build(_resolve_column(scope.entity, scope.alias, segments[0], self.catalogue))
        nav, rest = segments[0], segments[1:]
        relationship = self.catalogue.single_valued_nav(scope.entity.logical_name, nav)
        if relationship is None:
            if self.catalogue.collection_nav(scope.entity.logical_name, nav) is not None:
                raise query_syntax_error(
                    f"The parent value for a property access of a property '{rest[0]}' is not a single "
                    f"value. Property access can only be applied to a single value."
                )
            raise property_not_found(nav, scope.entity.logical_name)
        self._count()
        if relationship.referenced_entity == "owner":
            candidates = [self.catalogue.find_entity(name) for name in ("systemuser", "team")]
        else:
            candidates = [self.catalogue.find_entity(relationship.referenced_entity)]
        targets = [t for t in candidates if t is not None and self._has_property(t, rest[0])]
        if not targets:
            raise property_not_found(rest[0], relationship.referenced_entity)
        branches = []
        for target in targets:
            sub = self._new_alias()
            inner = self._via_path(_Scope(target, sub), rest, build)
            branches.append(
                f"{scope.alias}.{quote_ident(relationship.referencing_attribute)} IN (SELECT "
                f"{sub}.{quote_ident(target.primary_id)} FROM {quote_ident(target.logical_name)} AS {sub} "
                f"WHERE {inner})"
            )
        return branches[0] if len(branches) == 1 else "(" + " OR ".join(branches) + ")"

    def _has_property(self, entity: EntityDef, name: str) -> bool:
        if name.startswith("_") and name.endswith("_value"):
            attribute = entity.attribute(name[1:-6])
            return attribute is not None and attribute.is_lookup
        attribute = entity.attribute(name)
        if attribute is not None and not attribute.is_lookup:
            return True
        logical = entity.logical_name
        return (
            self.catalogue.single_valued_nav(logical, name) is not None
            or self.catalogue.collection_nav(logical, name) is not None
        )

    # -- comparisons --------------------------------------------------------------------------------

    def _comparison(self, node: Comparison, context: _Context) -> str:
        left, right, op = node.left, node.right, node.op
        if isinstance(left, PropertyPath) and isinstance(right, PropertyPath):
            return self._column_comparison(node, left, right, context)
        if isinstance(left, Literal) and isinstance(right, Literal):
            raise query_syntax_error(
                "A comparison needs a property on at least one side; comparing two literals isn't supported."
            )
        property_first = isinstance(left, PropertyPath)
        path = left if isinstance(left, PropertyPath) else right
        literal = right if isinstance(right, Literal) else left
        assert isinstance(path, PropertyPath)
        assert isinstance(literal, Literal)
        sql_op = op if property_first else _FLIPPED[op]

        def build(column: _Column) -> str:
            self._count()
            if literal.value is None:
                if op == "eq":
                    return f"{column.sql} IS NULL"
                if op == "ne":
                    return f"{column.sql} IS NOT NULL"
                # Ordering against null is unknown for every row, as in SQL Server.
                return "0"
            assert literal.edm is not None
            if _family(literal.edm) != _family(column.edm):
                shown = (
                    (column.edm.value, literal.edm.value) if property_first else (literal.edm.value, column.edm.value)
                )
                raise _incompatible(*shown, op)
            self.params.append(_storage_value(column.attribute, literal))
            return f"{column.sql} {_SQL_OPERATOR[sql_op]} ?"

        return self._via_path(context.scope_of(path), path.segments, build)

    def _column_comparison(self, node: Comparison, left: PropertyPath, right: PropertyPath, context: _Context) -> str:
        if len(left.segments) > 1 or len(right.segments) > 1 or left.variable != right.variable:
            raise query_syntax_error(
                f"Column comparison is only supported between columns of the same row: '{left.text}' and "
                f"'{right.text}' are in different tables."
            )
        scope = context.scope_of(left)
        first = _resolve_column(scope.entity, scope.alias, left.segments[0], self.catalogue)
        second = _resolve_column(scope.entity, scope.alias, right.segments[0], self.catalogue)
        if _family(first.edm) != _family(second.edm):
            raise _incompatible(first.edm.value, second.edm.value, node.op)
        self._count()
        return f"{first.sql} {_SQL_OPERATOR[node.op]} {second.sql}"

    def _string_function(self, node: StringFunction, context: _Context) -> str:
        def build(column: _Column) -> str:
            if column.edm != Edm.STRING:
                raise query_syntax_error(
                    f"No function signature for the function with name '{node.name}' matches the specified "
                    f"arguments. The function signatures considered are: {node.name}(Edm.String "
                    f"Nullable=true, Edm.String Nullable=true)."
                )
            self._count()
            template, pattern = like_pattern(node.name, str(node.value.value))
            self.params.append(pattern)
            return template.format(col=column.sql)

        return self._via_path(context.scope_of(node.target), node.target.segments, build)

    # -- lambdas ------------------------------------------------------------------------------------

    def _lambda(self, node: Lambda, context: _Context) -> str:
        scope = context.scope_of(node.source)
        *through, nav = node.source.segments
        if through:
            raise query_syntax_error(
                f"Lambda operators on collection-valued navigation properties nested in a lookup "
                f"('{node.source.text}') aren't supported."
            )
        relationship = self.catalogue.collection_nav(scope.entity.logical_name, nav)
        if relationship is None:
            if self.catalogue.single_valued_nav(scope.entity.logical_name, nav) is not None:
                raise query_syntax_error(
                    f"The '{node.kind}' operator needs a collection-valued navigation property; '{nav}' is "
                    f"single-valued (filter on '{nav}/<property>' instead)."
                )
            raise property_not_found(nav, scope.entity.logical_name)
        child = self.catalogue.find_entity(relationship.referencing_entity)
        if child is None:
            raise property_not_found(nav, scope.entity.logical_name)
        self._count()
        sub = self._new_alias()
        link = (
            f"{sub}.{quote_ident(relationship.referencing_attribute)} = "
            f"{scope.alias}.{quote_ident(scope.entity.primary_id)}"
        )
        source = f"SELECT 1 FROM {quote_ident(child.logical_name)} AS {sub} WHERE {link}"
        if node.predicate is None:
            return f"EXISTS ({source})"
        assert node.variable is not None
        child_scope = _Scope(child, sub)
        inner = _Context(context.root, {**context.variables, node.variable: child_scope}, child_scope)
        predicate = self.compile(node.predicate, inner)
        if node.kind == "any":
            return f"EXISTS ({source} AND {predicate})"
        # Modelled on FetchXML's link-type 'all' (fetchxml/filter-rows.md): a related row must exist and none
        # may fail, so rows without related rows don't match, unlike OData's vacuous truth.
        return f"(EXISTS ({source}) AND NOT EXISTS ({source} AND NOT ({predicate})))"

    # -- Dataverse query functions ------------------------------------------------------------------

    def _query_function(self, node: QueryFunction, context: _Context) -> str:
        name = node.name
        full = CRM_NAMESPACE + name
        if name in UNSUPPORTED_QUERY_FUNCTIONS:
            raise query_syntax_error(f"The query function '{full}' isn't supported by the sandbox.")
        if name in CALLER_FUNCTIONS and self.caller is None:
            # Aggregations and FetchXML compile filters without a caller.
            raise query_syntax_error(f"The query function '{full}' isn't supported by the sandbox here.")
        if name in LIST_FUNCTIONS:
            expected = {"PropertyName", "PropertyValues"}
        elif (
            name in DAY_FUNCTIONS
            or name in RELATIVE_X_FUNCTIONS
            or name in FISCAL_VALUE_FUNCTIONS
            or name in HIERARCHY_FUNCTIONS
        ):
            expected = {"PropertyName", "PropertyValue"}
        elif name in FISCAL_PERIOD_AND_YEAR_FUNCTIONS:
            expected = {"PropertyName", "PropertyValue1", "PropertyValue2"}
        elif (
            name in CALENDAR_FUNCTIONS
            or name in NULL_FUNCTIONS
            or name in CALLER_FUNCTIONS
            or name in FISCAL_CALENDAR_FUNCTIONS
        ):
            expected = {"PropertyName"}
        else:
            raise query_syntax_error(
                f"An unknown function with name '{full}' was found. This may also be a function import or a "
                f"key lookup on a navigation property, which is not allowed."
            )
        given = {key for key, _ in node.params}
        unexpected = sorted(given - expected)
        if unexpected:
            raise query_syntax_error(f"The parameter '{unexpected[0]}' is not valid for the function '{full}'.")
        missing = sorted(expected - given)
        if missing:
            raise query_syntax_error(f"The function '{full}' requires the parameter '{missing[0]}'.")
        column = self._function_column(node, context)
        self._count()
        if name in NULL_FUNCTIONS:
            return f"{column.sql} IS {'NOT ' if name == 'NotNull' else ''}NULL"
        if name in LIST_FUNCTIONS:
            return self._list_function(node, column)
        if name in CALLER_FUNCTIONS and self.caller is not None:
            return self._caller_function(name, column, self.caller())
        if name in HIERARCHY_FUNCTIONS:
            return self._hierarchy_function(node, column, context)
        if name in DAY_FUNCTIONS:
            return self._day_function(node, column)
        if column.edm not in TEMPORAL_EDM:
            raise query_syntax_error(
                f"The function '{full}' needs a date and time column; '{column.name}' is {column.edm.value}."
            )
        if name in CALENDAR_FUNCTIONS:
            return self._range_sql(column, calendar_range(name, self.now))
        if (
            name in FISCAL_CALENDAR_FUNCTIONS
            or name in FISCAL_VALUE_FUNCTIONS
            or name in FISCAL_PERIOD_AND_YEAR_FUNCTIONS
        ):
            return self._fiscal_function(node, column)
        count_value = node.param("PropertyValue")
        count = self._integer_param(count_value, full)
        bounds, time_based = relative_range(name, self.now, count)
        if time_based and column.edm == Edm.DATE:
            raise query_syntax_error(f"The function '{full}' can't be used with the date-only column '{column.name}'.")
        return self._range_sql(column, bounds)

    def _function_column(self, node: QueryFunction, context: _Context) -> _Column:
        value = node.param("PropertyName")
        if not isinstance(value, Literal) or value.edm != Edm.STRING:
            raise query_syntax_error(
                f"The parameter 'PropertyName' of '{CRM_NAMESPACE}{node.name}' must be a property name in quotes."
            )
        text = str(value.value)
        scope = context.inner
        if "/" in text:
            variable, _, text = text.partition("/")
            if variable not in context.variables or "/" in text:
                raise property_not_found(f"{variable}/{text}", scope.entity.logical_name)
            scope = context.variables[variable]
        return _resolve_column(scope.entity, scope.alias, text, self.catalogue, lenient_lookup=True)

    def _caller_function(self, name: str, column: _Column, caller: CallerFacts) -> str:
        """``EqualUserId`` and the rest: the column holds the caller's id, business unit or one of its teams.
        The negations leave out nulls, as ``ne`` does."""
        if name.endswith("UserId"):
            values = [caller.user_id]
        elif name.endswith("BusinessId"):
            values = [caller.business_unit_id] if caller.business_unit_id else []
        elif name == "EqualUserTeams":
            values = list(caller.team_ids)
        else:
            values = [caller.user_id, *caller.team_ids]
        if not values:
            return "0" if name.startswith("Equal") else f"{column.sql} IS NOT NULL"
        self.params.extend(values)
        negation = "NOT " if name.startswith("Not") else ""
        return f"{column.sql} {negation}IN ({', '.join('?' for _ in values)})"

    def _hierarchy_function(self, node: QueryFunction, column: _Column, context: _Context) -> str:
        """``Under``, ``Above`` and the rest: the rows below (or above) a row through the table's hierarchical
        relationship, a recursive subquery. ``PropertyName`` is the table's primary key."""
        full = CRM_NAMESPACE + node.name
        entity = context.inner.entity
        relationship = self.catalogue.hierarchical(entity.logical_name)
        if relationship is None:
            raise query_syntax_error(
                f"The table '{entity.logical_name}' has no hierarchical relationship for '{full}'."
            )
        if column.attribute.logical_name != entity.primary_id:
            raise query_syntax_error(f"The function '{full}' applies to the primary key '{entity.primary_id}'.")
        value = node.param("PropertyValue")
        if not isinstance(value, Literal) or not GUID_RE.fullmatch(str(value.value).strip("{}")):
            raise query_syntax_error(f"The parameter 'PropertyValue' of '{full}' must be the id of a row.")
        table = quote_ident(entity.logical_name)
        key = quote_ident(entity.primary_id)
        parent = quote_ident(relationship.referencing_attribute)
        walk = self._new_alias()
        if node.name in ("Above", "AboveOrEqual"):
            step = (
                f"SELECT h.{parent} FROM {table} AS h WHERE h.{key} = ? "
                f"UNION SELECT h.{parent} FROM {table} AS h JOIN {walk} ON h.{key} = {walk}.id"
            )
        else:
            step = (
                f"SELECT h.{key} FROM {table} AS h WHERE h.{parent} = ? "
                f"UNION SELECT h.{key} FROM {table} AS h JOIN {walk} ON h.{parent} = {walk}.id"
            )
        self.params.append(str(value.value).strip("{}").lower())
        related = f"(WITH RECURSIVE {walk}(id) AS ({step}) SELECT id FROM {walk} WHERE id IS NOT NULL)"
        if node.name == "NotUnder":
            return f"{column.sql} NOT IN {related}"
        if node.name.endswith("OrEqual"):
            self.params.append(str(value.value).strip("{}").lower())
            return f"({column.sql} IN {related} OR {column.sql} = ?)"
        return f"{column.sql} IN {related}"

    def _fiscal_function(self, node: QueryFunction, column: _Column) -> str:
        """The fiscal functions, over calendar years and their quarters (the default fiscal settings)."""
        full = CRM_NAMESPACE + node.name
        if node.name in FISCAL_CALENDAR_FUNCTIONS:
            return self._range_sql(column, fiscal_range(node.name, self.now))
        if node.name == "InFiscalYear":
            return self._range_sql(column, fiscal_year_range(self._year(node, "PropertyValue", full)))
        if node.name == "InFiscalPeriod":
            # A period of any year: the quarter of the value's month.
            self.params.append(self._period(node, "PropertyValue", full))
            return f"((CAST(strftime('%m', {column.sql}) AS INTEGER) + 2) / 3) = ?"
        period = self._period(node, "PropertyValue1", full)
        year = self._year(node, "PropertyValue2", full)
        return self._range_sql(column, fiscal_period_range(node.name, period, year))

    def _period(self, node: QueryFunction, parameter: str, full: str) -> int:
        period = self._integer_param(node.param(parameter), full, parameter)
        if not 1 <= period <= FISCAL_PERIODS:
            raise query_syntax_error(
                f"The fiscal period {period} given to '{full}' doesn't exist; the fiscal year has {FISCAL_PERIODS}."
            )
        return period

    def _year(self, node: QueryFunction, parameter: str, full: str) -> int:
        year = self._integer_param(node.param(parameter), full, parameter)
        if not 1 <= year <= MAXYEAR - 1:
            raise query_syntax_error(f"The fiscal year {year} given to '{full}' isn't a valid year.")
        return year

    @staticmethod
    def _integer_param(value: Literal | ListLiteral | None, function: str, parameter: str = "PropertyValue") -> int:
        if isinstance(value, Literal) and isinstance(value.value, int) and not isinstance(value.value, bool):
            return value.value
        if isinstance(value, Literal) and isinstance(value.value, str) and re.fullmatch(r"\s*\d+\s*", value.value):
            return int(value.value)
        raise query_syntax_error(f"The parameter '{parameter}' of '{function}' must be a whole number.")

    def _list_function(self, node: QueryFunction, column: _Column) -> str:
        full = CRM_NAMESPACE + node.name
        values = node.param("PropertyValues")
        if not isinstance(values, ListLiteral):
            raise query_syntax_error(
                f"The parameter 'PropertyValues' of '{full}' must be an array such as [\"a\",\"b\"]."
            )
        converted = [_text_value(column.attribute, item, full) for item in values.items]
        if node.name in ("Between", "NotBetween"):
            if len(converted) != 2:
                raise query_syntax_error(f"The function '{full}' needs exactly two values in 'PropertyValues'.")
            self.params.extend(converted)
            negation = "NOT " if node.name == "NotBetween" else ""
            return f"{column.sql} {negation}BETWEEN ? AND ?"
        if not converted:
            raise query_syntax_error(f"The function '{full}' needs at least one value in 'PropertyValues'.")
        self.params.extend(converted)
        negation = "NOT " if node.name == "NotIn" else ""
        return f"{column.sql} {negation}IN ({', '.join('?' for _ in converted)})"

    def _day_function(self, node: QueryFunction, column: _Column) -> str:
        full = CRM_NAMESPACE + node.name
        if column.edm not in TEMPORAL_EDM:
            raise query_syntax_error(
                f"The function '{full}' needs a date and time column; '{column.name}' is {column.edm.value}."
            )
        value = node.param("PropertyValue")
        day: date
        if isinstance(value, Literal) and isinstance(value.value, datetime):
            day = value.value.astimezone(UTC).date()
        elif isinstance(value, Literal) and isinstance(value.value, date):
            day = value.value
        elif isinstance(value, Literal) and isinstance(value.value, str):
            try:
                text = value.value.strip()
                day = parse_datetime(text).astimezone(UTC).date() if "T" in text.upper() else date.fromisoformat(text)
            except ValueError:
                raise query_syntax_error(f"The value '{value.value}' given to '{full}' isn't a valid date.") from None
        else:
            raise query_syntax_error(f"The parameter 'PropertyValue' of '{full}' must be a date.")
        start, end = midnight(day), midnight(day + timedelta(days=1))
        if node.name == "On":
            return self._range_sql(column, (start, end, False))
        if node.name == "OnOrAfter":
            return self._range_sql(column, (start, None, False))
        return self._range_sql(column, (None, end, False))

    def _range_sql(self, column: _Column, bounds: RangeBounds) -> str:
        start, end, end_inclusive = bounds
        clauses: list[str] = []
        if column.edm == Edm.DATE:
            # A date-only value stands for its whole day; it matches when that day overlaps the range.
            if start is not None:
                clauses.append(f"{column.sql} >= ?")
                self.params.append(start.date().isoformat())
            if end is not None:
                at_midnight = end.timetz().replace(tzinfo=None) == time()
                clauses.append(f"{column.sql} {'<' if at_midnight and not end_inclusive else '<='} ?")
                self.params.append(end.date().isoformat())
        else:
            if start is not None:
                clauses.append(f"{column.sql} >= ?")
                self.params.append(utc_text(start))
            if end is not None:
                clauses.append(f"{column.sql} {'<=' if end_inclusive else '<'} ?")
                self.params.append(utc_text(end))
        return "(" + " AND ".join(clauses) + ")"


def compile_filter(
    expr: Expr,
    entity: EntityDef,
    catalogue: Catalogue,
    *,
    alias: str,
    now: datetime,
    caller: Callable[[], CallerFacts] | None = None,
) -> tuple[str, list[object]]:
    """Compile a parsed ``$filter`` to an SQLite Boolean expression over ``entity`` aliased ``alias``.

    Navigation through lookups becomes ``IN (SELECT <pk> ...)`` subqueries and lambdas ``EXISTS``
    subqueries; their table aliases are ``<alias>_<n>``, so they never clash with the caller's.

    Args:
        expr: The tree from :func:`parse_filter`.
        entity: The queried table.
        catalogue: Tables and relationships, for navigation properties.
        alias: The SQL alias of ``entity`` in the enclosing query.
        now: The current time (relative date functions such as ``LastXDays``); naive means UTC.
        caller: Who asks, called only when a function about the caller (``EqualUserId`` …) is used; without
            it those functions are refused.

    Returns:
        The SQL fragment, with ``?`` placeholders, and its parameters in order.

    Raises:
        DataverseError: 400 ``0x80060888`` for an unknown property (``Could not find a property named …``),
            a lookup named without ``_x_value``, mismatched operand types (``A binary operator with
            incompatible types was detected …``), an unsupported query function or a bad function argument;
            400 ``0x8004430C`` for more than 500 conditions.
    """
    root = _Scope(entity, alias)
    compiler = _Compiler(catalogue, root, now, caller)
    sql = compiler.compile(expr, _Context(root, {}, root))
    return sql, compiler.params


def compile_orderby(
    items: Sequence[OrderByItem], entity: EntityDef, *, alias: str, catalogue: Catalogue | None = None
) -> str:
    """Compile ``$orderby`` items to an SQL ``ORDER BY`` list (without the keywords).

    With ``catalogue``, lookups sort by the primary name of the related row, as Dataverse does (order-rows.md,
    "Lookup columns"); without it, by their ``_x_value`` GUID. Choices sort by their integer value; text
    sorts case-insensitively through the columns' collation.

    Raises:
        DataverseError: 400 ``0x80060888`` for an unknown property, a lookup named without ``_x_value``, or a
            path through a navigation property (which the sandbox does not sort by).
    """
    parts: list[str] = []
    for item in items:
        if "/" in item.path:
            raise query_syntax_error(
                f"Ordering by a property of a related table ('{item.path}') isn't supported; order by a "
                f"column of '{entity.logical_name}'."
            )
        column = _resolve_column(entity, alias, item.path, None)
        key = _lookup_name_sql(column, catalogue) if catalogue is not None and column.attribute.is_lookup else None
        parts.append(f"{key or column.sql} {'DESC' if item.descending else 'ASC'}")
    return ", ".join(parts)


def _lookup_name_sql(column: _Column, catalogue: Catalogue) -> str | None:
    """The primary name of the row a lookup points to (the first of its target tables that has it), or None
    when no target table is known."""
    names = []
    for target_name in column.attribute.targets:
        target = catalogue.find_entity(target_name)
        if target is None or not target.primary_name:
            continue
        names.append(
            f"(SELECT ordered_by.{quote_ident(target.primary_name)} FROM {quote_ident(target.logical_name)} "
            f"AS ordered_by WHERE ordered_by.{quote_ident(target.primary_id)} = {column.sql})"
        )
    if not names:
        return None
    return names[0] if len(names) == 1 else f"COALESCE({', '.join(names)})"
