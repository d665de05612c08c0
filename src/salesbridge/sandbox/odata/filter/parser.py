"""OData ``$filter`` and ``$orderby`` of the sandbox: a parser to a small AST, and a compiler to SQLite SQL.

The grammar is the part of OData 4.0 that Dataverse accepts (``webapi/query/filter-rows.md``):

* comparisons ``eq ne gt ge lt le``; ``and``, ``or``, ``not`` with OData precedence (``not`` binds tightest,
  then comparisons, then ``and``, then ``or``); parentheses;
* literals: ``'text'`` (``''`` escapes a quote), integers and decimals (``M``/``D``/``F``/``L`` suffixes
  tolerated), ``true``/``false``, ``null``, unquoted GUIDs, ``DateTimeOffset`` (``2025-01-01T00:00:00Z`` or
  with an offset) and ``Date`` (``2025-01-01``);
* property paths (``name``, ``_parentcustomerid_value``, ``primarycontactid/fullname``), parameter aliases
  (``@p1``);
* ``contains``/``startswith``/``endswith``, whose literal keeps SQL Server's wildcards (``%``, ``_``,
  ``[abc]``, ``[^abc]``) as Dataverse does;
* lambdas on collection-valued navigation properties (``Account_Tasks/any(t:t/statecode eq 1)``, ``all``);
* Dataverse query functions (``Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=["a","b"])`` …).

The compiler targets the storage layout of :mod:`salesbridge.sandbox.organization.database`: one table per Dataverse
table, lookups as ``<attribute>`` (GUID) plus ``<attribute>__type``, text ``COLLATE NOCASE``, booleans 0/1,
date-times as ISO UTC text. Every error is a 400 :class:`DataverseError`, worded like Dataverse's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from salesbridge.sandbox.catalogue.definitions import AttributeDef, AttributeType, EntityDef, quote_ident
from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.errors import DataverseError, property_not_found, query_syntax_error

#: Dataverse's limit on conditions (and link-entities) in one query (``TooManyConditionsInQuery``).
MAX_CONDITIONS = 500
#: The namespace Dataverse query functions are called with.
CRM_NAMESPACE = "Microsoft.Dynamics.CRM."

# Nesting (parentheses, aliases, lambdas) deeper than this is refused rather than risking recursion limits.
_MAX_DEPTH = 100

COMPARISON_OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le")

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
# AST
# --------------------------------------------------------------------------------------------------------


class Edm(StrEnum):
    """The EDM primitive types the filter language deals in."""

    STRING = "Edm.String"
    INT32 = "Edm.Int32"
    INT64 = "Edm.Int64"
    DECIMAL = "Edm.Decimal"
    DOUBLE = "Edm.Double"
    SINGLE = "Edm.Single"
    BOOLEAN = "Edm.Boolean"
    GUID = "Edm.Guid"
    DATETIMEOFFSET = "Edm.DateTimeOffset"
    DATE = "Edm.Date"


NUMERIC_EDM = frozenset({Edm.INT32, Edm.INT64, Edm.DECIMAL, Edm.DOUBLE, Edm.SINGLE})
_TEMPORAL_EDM = frozenset({Edm.DATETIMEOFFSET, Edm.DATE})


@dataclass(frozen=True)
class Literal:
    """A constant. ``edm`` is None for ``null``.

    ``value`` is ``str`` for strings and GUIDs (GUIDs lowercased), ``int``/``float`` for numbers, ``bool``,
    ``datetime`` (timezone-aware) for DateTimeOffset and ``date`` for Date.
    """

    value: object
    edm: Edm | None
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class ListLiteral:
    """A JSON-style array, only valid as a query function parameter (``PropertyValues=["a","b"]``)."""

    items: tuple[Literal, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class PropertyPath:
    """A property, possibly through single-valued navigation properties (``primarycontactid/fullname``).

    ``variable`` names the lambda variable the path starts from (``t`` in ``t/subject``), or is None for
    the queried table itself.
    """

    segments: tuple[str, ...]
    variable: str | None = None
    pos: int = field(default=0, compare=False)

    @property
    def text(self) -> str:
        """The path as written."""
        return "/".join((self.variable, *self.segments) if self.variable else self.segments)


Operand = Literal | PropertyPath


@dataclass(frozen=True)
class Comparison:
    """``left <op> right`` with ``op`` one of :data:`COMPARISON_OPERATORS`."""

    op: str
    left: Operand
    right: Operand
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class BoolOp:
    """``and`` / ``or`` over two or more operands (chains are flattened)."""

    op: str
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    """``not <operand>``."""

    operand: Expr


@dataclass(frozen=True)
class StringFunction:
    """``contains``/``startswith``/``endswith`` of a string property and a string literal."""

    name: str
    target: PropertyPath
    value: Literal
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Lambda:
    """``<collection>/any(v:<predicate>)`` or ``all``; ``any()`` has neither variable nor predicate."""

    kind: str
    source: PropertyPath
    variable: str | None
    predicate: Expr | None
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class QueryFunction:
    """A Dataverse query function; ``name`` without the ``Microsoft.Dynamics.CRM.`` namespace."""

    name: str
    params: tuple[tuple[str, Literal | ListLiteral], ...]
    pos: int = field(default=0, compare=False)

    def param(self, name: str) -> Literal | ListLiteral | None:
        """The value of a named parameter, or None."""
        for key, value in self.params:
            if key == name:
                return value
        return None


Expr = Comparison | BoolOp | Not | StringFunction | Lambda | QueryFunction
_Node = Expr | Operand | ListLiteral


@dataclass(frozen=True)
class OrderByItem:
    """One ``$orderby`` item: a property path (``a`` or ``a/b``) and the direction."""

    path: str
    descending: bool = False


# --------------------------------------------------------------------------------------------------------
# Lexer
# --------------------------------------------------------------------------------------------------------


class _Kind(StrEnum):
    IDENT = "identifier"
    STRING = "string"
    JSON_STRING = "quoted string"
    NUMBER = "number"
    GUID = "guid"
    DATETIME = "datetime"
    DATE = "date"
    ALIAS = "alias"
    PUNCT = "punctuation"
    END = "end"


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    text: str
    pos: int


_GUID_RE = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![\w-])")
_DATETIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?(?![\w:.+-])", re.IGNORECASE
)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?![\w:.-])")
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDfFlL]?(?![\w.])")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_ALIAS_RE = re.compile(r"@[A-Za-z_][A-Za-z0-9_]*")
_PUNCTUATION = "()[],/:="


def _tokenize(text: str) -> list[_Token]:
    """Split ``text`` into tokens.

    Raises:
        DataverseError: 400 for an unterminated string or a character that starts no token.
    """
    tokens: list[_Token] = []
    pos = 0
    length = len(text)
    while pos < length:
        char = text[pos]
        if char.isspace():
            pos += 1
            continue
        if char == "'":
            end = pos + 1
            while True:
                end = text.find("'", end)
                if end < 0:
                    raise query_syntax_error(f"There is an unterminated literal at position {length} in '{text}'.")
                if end + 1 < length and text[end + 1] == "'":
                    end += 2
                    continue
                break
            tokens.append(_Token(_Kind.STRING, text[pos : end + 1], pos))
            pos = end + 1
            continue
        if char == '"':
            end = pos + 1
            while end < length and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if end >= length:
                raise query_syntax_error(f"There is an unterminated literal at position {length} in '{text}'.")
            tokens.append(_Token(_Kind.JSON_STRING, text[pos : end + 1], pos))
            pos = end + 1
            continue
        if char in _PUNCTUATION:
            tokens.append(_Token(_Kind.PUNCT, char, pos))
            pos += 1
            continue
        for kind, pattern in (
            (_Kind.ALIAS, _ALIAS_RE),
            (_Kind.GUID, _GUID_RE),
            (_Kind.DATETIME, _DATETIME_RE),
            (_Kind.DATE, _DATE_RE),
            (_Kind.NUMBER, _NUMBER_RE),
            (_Kind.IDENT, _IDENT_RE),
        ):
            match = pattern.match(text, pos)
            if match:
                tokens.append(_Token(kind, match.group(), pos))
                pos = match.end()
                break
        else:
            raise query_syntax_error(f"Syntax error: character '{char}' is not valid at position {pos} in '{text}'.")
    tokens.append(_Token(_Kind.END, "", length))
    return tokens


# --------------------------------------------------------------------------------------------------------
# Literal values
# --------------------------------------------------------------------------------------------------------


def _parse_datetime(text: str) -> datetime:
    """A DateTimeOffset literal as an aware datetime; without an offset the value is taken as UTC.

    Raises:
        ValueError: when ``text`` is not a valid date-time.
    """
    match = re.fullmatch(r"(.*T\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]\d{2}:\d{2})?", text, re.IGNORECASE)
    if match is None:
        raise ValueError(text)
    main, fraction, offset = match.groups()
    # fromisoformat takes at most microseconds; Dataverse keeps whole seconds anyway.
    normalized = (
        main + (fraction[:7] if fraction else "") + ("+00:00" if not offset or offset.upper() == "Z" else offset)
    )
    return datetime.fromisoformat(normalized)


def _number_literal(text: str) -> Literal:
    suffix = text[-1].lower() if text[-1].isalpha() and text[-1].lower() in "mdfl" else ""
    body = text[:-1] if suffix else text
    is_integral = re.fullmatch(r"-?\d+", body) is not None
    if suffix == "l" and not is_integral:
        raise ValueError(text)
    if is_integral and suffix in ("", "l"):
        value = int(body)
        if -(2**31) <= value < 2**31 and suffix == "":
            return Literal(value, Edm.INT32)
        if -(2**63) <= value < 2**63:
            return Literal(value, Edm.INT64)
        return Literal(float(value), Edm.DECIMAL)
    edm = {"d": Edm.DOUBLE, "f": Edm.SINGLE}.get(suffix, Edm.DECIMAL)
    if "e" in body.lower() and suffix == "":
        edm = Edm.DOUBLE
    return Literal(float(body), edm)


def _literal_from_token(token: _Token, text: str) -> Literal:
    """The literal a token stands for.

    Raises:
        DataverseError: 400 for a malformed literal (an impossible date, say).
    """
    try:
        if token.kind == _Kind.STRING:
            return Literal(token.text[1:-1].replace("''", "'"), Edm.STRING, token.pos)
        if token.kind == _Kind.JSON_STRING:
            value = json.loads(token.text)
            return Literal(str(value), Edm.STRING, token.pos)
        if token.kind == _Kind.GUID:
            return Literal(token.text.lower(), Edm.GUID, token.pos)
        if token.kind == _Kind.DATETIME:
            return Literal(_parse_datetime(token.text), Edm.DATETIMEOFFSET, token.pos)
        if token.kind == _Kind.DATE:
            return Literal(date.fromisoformat(token.text), Edm.DATE, token.pos)
        if token.kind == _Kind.NUMBER:
            number = _number_literal(token.text)
            return Literal(number.value, number.edm, token.pos)
    except ValueError:
        pass
    raise query_syntax_error(f"Unrecognized literal '{token.text}' at position {token.pos} in '{text}'.")


# --------------------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------------------

_KEYWORD_LITERALS = {"true": True, "false": False, "null": None}
_STRING_FUNCTIONS = frozenset({"contains", "startswith", "endswith"})
# OData functions Dataverse's $filter does not accept; named so the error says "not supported", not "unknown".
_UNSUPPORTED_FUNCTIONS = frozenset(
    [
        "tolower",
        "toupper",
        "trim",
        "length",
        "indexof",
        "substring",
        "concat",
        "year",
        "month",
        "day",
        "hour",
        "minute",
        "second",
        "fractionalseconds",
        "date",
        "time",
        "now",
        "totaloffsetminutes",
        "mindatetime",
        "maxdatetime",
        "round",
        "floor",
        "ceiling",
        "cast",
        "isof",
    ]
)
_ARITHMETIC = frozenset({"add", "sub", "mul", "div", "mod"})


class _Parser:
    """Recursive descent over the token list; one instance per text (aliases get their own instance)."""

    def __init__(
        self,
        text: str,
        aliases: Mapping[str, str] | None,
        *,
        allow_aliases: bool,
        variables: tuple[str, ...] = (),
        depth: int = 0,
        resolving: frozenset[str] = frozenset(),
    ) -> None:
        self.text = text
        self.aliases = aliases or {}
        self.allow_aliases = allow_aliases
        self.variables = variables
        self.depth = depth
        self.resolving = resolving
        self.tokens = _tokenize(text)
        self.index = 0

    # -- token helpers ------------------------------------------------------------------------------

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def _peek(self, offset: int = 1) -> _Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def _advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != _Kind.END:
            self.index += 1
        return token

    def _is(self, kind: _Kind, text: str | None = None) -> bool:
        token = self.current
        return token.kind == kind and (text is None or token.text == text)

    def _is_punct(self, char: str) -> bool:
        return self._is(_Kind.PUNCT, char)

    def _expect_punct(self, char: str) -> _Token:
        if not self._is_punct(char):
            raise self._error(f"'{char}' expected")
        return self._advance()

    def _error(self, what: str, token: _Token | None = None) -> DataverseError:
        token = token or self.current
        found = "the end of the expression" if token.kind == _Kind.END else f"'{token.text}'"
        return query_syntax_error(f"Syntax error: {what} at position {token.pos} in '{self.text}' (found {found}).")

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise query_syntax_error(
                f"The query is nested too deeply (more than {_MAX_DEPTH} levels) in '{self.text}'."
            )

    def _leave(self) -> None:
        self.depth -= 1

    # -- entry points -------------------------------------------------------------------------------

    def parse_boolean(self) -> Expr:
        if self._is(_Kind.END):
            raise query_syntax_error(f"Expression expected at position {self.current.pos} in '{self.text}'.")
        node = self._or()
        if not self._is(_Kind.END):
            raise self._error("')' or operator expected")
        return self._require_boolean(node, "The $filter expression")

    def parse_node(self) -> _Node:
        if self._is(_Kind.END):
            raise query_syntax_error(f"Expression expected at position {self.current.pos} in '{self.text}'.")
        node = self._or()
        if not self._is(_Kind.END):
            raise self._error("')' or operator expected")
        return node

    def parse_parameter_value(self) -> Literal | ListLiteral:
        value = self._parameter_value()
        if not self._is(_Kind.END):
            raise self._error("end of parameter value expected")
        return value

    def parse_orderby(self) -> list[OrderByItem]:
        items: list[OrderByItem] = []
        while True:
            if self._is(_Kind.ALIAS):
                token = self._advance()
                path = self._alias_path(token)
            else:
                path = self._plain_path()
            descending = False
            if self._is(_Kind.IDENT, "asc") or self._is(_Kind.IDENT, "desc"):
                descending = self._advance().text == "desc"
            items.append(OrderByItem(path, descending))
            if self._is(_Kind.END):
                return items
            if not self._is_punct(","):
                raise self._error("',' or the end of $orderby expected")
            self._advance()

    # -- boolean structure --------------------------------------------------------------------------

    def _require_boolean(self, node: _Node, where: str) -> Expr:
        if isinstance(node, Literal | PropertyPath | ListLiteral):
            shown = f"the property '{node.text}'" if isinstance(node, PropertyPath) else "a literal"
            raise query_syntax_error(
                f"{where} must be a Boolean expression such as a comparison, a function call or a lambda, "
                f"but {shown} was found in '{self.text}'. Compare properties explicitly "
                f"(for example 'donotemail eq true')."
            )
        return node

    def _or(self) -> _Node:
        first = self._and()
        if not self._is(_Kind.IDENT, "or"):
            return first
        operands = [self._require_boolean(first, "The operand of 'or'")]
        while self._is(_Kind.IDENT, "or"):
            self._advance()
            operands.append(self._require_boolean(self._and(), "The operand of 'or'"))
        return BoolOp("or", tuple(operands))

    def _and(self) -> _Node:
        first = self._comparison()
        if not self._is(_Kind.IDENT, "and"):
            return first
        operands = [self._require_boolean(first, "The operand of 'and'")]
        while self._is(_Kind.IDENT, "and"):
            self._advance()
            operands.append(self._require_boolean(self._comparison(), "The operand of 'and'"))
        return BoolOp("and", tuple(operands))

    def _comparison(self) -> _Node:
        start = self.current
        left = self._unary()
        token = self.current
        if token.kind == _Kind.IDENT and token.text in _ARITHMETIC:
            raise query_syntax_error(
                f"The arithmetic operator '{token.text}' at position {token.pos} isn't supported in '{self.text}'."
            )
        if not (token.kind == _Kind.IDENT and token.text in COMPARISON_OPERATORS):
            return left
        self._advance()
        right = self._unary()
        for operand in (left, right):
            if not isinstance(operand, Literal | PropertyPath):
                raise query_syntax_error(
                    f"The operands of '{token.text}' at position {token.pos} must be properties or "
                    f"literals in "
                    f"'{self.text}'; use parentheses to group Boolean expressions."
                )
        assert isinstance(left, Literal | PropertyPath)
        assert isinstance(right, Literal | PropertyPath)
        follower = self.current
        if follower.kind == _Kind.IDENT and follower.text in COMPARISON_OPERATORS:
            raise self._error("'and', 'or' or ')' expected", follower)
        return Comparison(token.text, left, right, start.pos)

    def _unary(self) -> _Node:
        if self._is(_Kind.IDENT, "not"):
            token = self._advance()
            self._enter()
            operand = self._unary()
            self._leave()
            if not isinstance(operand, Comparison | BoolOp | Not | StringFunction | Lambda | QueryFunction):
                raise query_syntax_error(
                    f"The 'not' operator at position {token.pos} must be followed by a Boolean expression in "
                    f"'{self.text}'. 'not' binds tighter than comparisons: write 'not (name eq 'x')'."
                )
            return Not(operand)
        return self._primary()

    # -- primaries ----------------------------------------------------------------------------------

    def _primary(self) -> _Node:
        token = self.current
        if self._is_punct("("):
            self._advance()
            self._enter()
            node = self._or()
            self._leave()
            if not self._is_punct(")"):
                raise self._error("')' or operator expected")
            self._advance()
            return node
        if token.kind == _Kind.ALIAS:
            self._advance()
            return self._alias_node(token)
        if token.kind in (_Kind.STRING, _Kind.GUID, _Kind.DATETIME, _Kind.DATE, _Kind.NUMBER):
            self._advance()
            return _literal_from_token(token, self.text)
        if token.kind == _Kind.IDENT:
            if token.text in _KEYWORD_LITERALS:
                self._advance()
                value = _KEYWORD_LITERALS[token.text]
                return Literal(value, None if value is None else Edm.BOOLEAN, token.pos)
            if self._peek().kind == _Kind.PUNCT and self._peek().text == "(":
                return self._function_call()
            return self._path()
        raise self._error("expression expected")

    def _alias_text(self, token: _Token) -> str | None:
        if not self.allow_aliases:
            raise query_syntax_error(
                f"Parameter aliases can't be used here (found '{token.text}' at position {token.pos} in "
                f"'{self.text}'); they are allowed in $filter and $orderby but not inside $expand."
            )
        name = token.text
        if name in self.resolving:
            raise query_syntax_error(f"The parameter alias '{name}' refers to itself.")
        return self.aliases.get(name)

    def _sub_parser(self, token: _Token, text: str) -> _Parser:
        return _Parser(
            text,
            self.aliases,
            allow_aliases=True,
            variables=self.variables,
            depth=self.depth + 1,
            resolving=self.resolving | {token.text},
        )

    def _alias_node(self, token: _Token) -> _Node:
        text = self._alias_text(token)
        if text is None:
            return Literal(None, None, token.pos)
        return self._sub_parser(token, text).parse_node()

    def _alias_path(self, token: _Token) -> str:
        text = self._alias_text(token)
        if text is None:
            raise query_syntax_error(f"The parameter alias '{token.text}' used in $orderby has no value.")
        parser = self._sub_parser(token, text)
        path = parser._plain_path()
        if not parser._is(_Kind.END):
            raise parser._error("a property path expected")
        return path

    def _plain_path(self) -> str:
        token = self.current
        if token.kind != _Kind.IDENT:
            raise self._error("property name expected")
        parts = [self._advance().text]
        while self._is_punct("/"):
            self._advance()
            if not self._is(_Kind.IDENT):
                raise self._error("property name expected")
            parts.append(self._advance().text)
        return "/".join(parts)

    def _path(self) -> _Node:
        start = self.current
        first = self._advance().text
        variable = first if first in self.variables else None
        segments: list[str] = [] if variable else [first]
        while self._is_punct("/"):
            self._advance()
            token = self.current
            if token.kind != _Kind.IDENT:
                raise self._error("property name expected")
            if token.text in ("any", "all") and self._peek().kind == _Kind.PUNCT and self._peek().text == "(":
                if not segments:
                    raise self._error("a collection-valued navigation property expected before a lambda", token)
                return self._lambda(PropertyPath(tuple(segments), variable, start.pos))
            segments.append(self._advance().text)
        if not segments:
            raise query_syntax_error(
                f"The lambda variable '{first}' at position {start.pos} must be followed by a property "
                f"('{first}/<property>') in '{self.text}'."
            )
        return PropertyPath(tuple(segments), variable, start.pos)

    def _lambda(self, source: PropertyPath) -> Lambda:
        kind_token = self._advance()
        self._expect_punct("(")
        if self._is_punct(")"):
            self._advance()
            if kind_token.text == "all":
                raise self._error("a lambda variable and predicate expected for 'all'", kind_token)
            return Lambda("any", source, None, None, kind_token.pos)
        if not self._is(_Kind.IDENT) or "." in self.current.text:
            raise self._error("lambda variable name expected")
        variable = self._advance().text
        if variable in self.variables:
            raise self._error(f"the lambda variable '{variable}' is already in use")
        self._expect_punct(":")
        outer = self.variables
        self.variables = (*outer, variable)
        self._enter()
        predicate = self._require_boolean(self._or(), "The predicate of a lambda")
        self._leave()
        self.variables = outer
        self._expect_punct(")")
        return Lambda(kind_token.text, source, variable, predicate, kind_token.pos)

    def _function_call(self) -> _Node:
        token = self._advance()
        name = token.text
        if name.startswith(CRM_NAMESPACE):
            return self._query_function(token)
        if name in _STRING_FUNCTIONS:
            return self._string_function(token)
        if name in _UNSUPPORTED_FUNCTIONS:
            raise query_syntax_error(
                f"The function '{name}' at position {token.pos} isn't supported in '{self.text}'. String "
                f"comparisons are already case-insensitive."
                if name in ("tolower", "toupper")
                else f"The function '{name}' at position {token.pos} isn't supported in '{self.text}'."
            )
        raise query_syntax_error(
            f"An unknown function with name '{name}' was found. This may also be a function import or a key "
            f"lookup on a navigation property, which is not allowed."
        )

    def _string_function(self, token: _Token) -> StringFunction:
        self._expect_punct("(")
        self._enter()
        args: list[_Node] = [self._or()]
        while self._is_punct(","):
            self._advance()
            args.append(self._or())
        self._leave()
        self._expect_punct(")")
        signature = (
            f"No function signature for the function with name '{token.text}' matches the specified "
            f"arguments. The function signatures considered are: {token.text}(Edm.String Nullable=true, "
            f"Edm.String Nullable=true)."
        )
        if len(args) != 2:
            raise query_syntax_error(signature)
        target, value = args
        if not isinstance(target, PropertyPath):
            raise query_syntax_error(
                f"The first argument of '{token.text}' at position {token.pos} must be a property in '{self.text}'."
            )
        if not isinstance(value, Literal) or value.edm != Edm.STRING:
            if isinstance(value, Literal) and value.edm is not None:
                raise query_syntax_error(signature)
            raise query_syntax_error(
                f"The second argument of '{token.text}' at position {token.pos} must be a string literal in "
                f"'{self.text}'."
            )
        return StringFunction(token.text, target, value, token.pos)

    def _query_function(self, token: _Token) -> QueryFunction:
        self._expect_punct("(")
        params: list[tuple[str, Literal | ListLiteral]] = []
        seen: set[str] = set()
        if not self._is_punct(")"):
            while True:
                if not self._is(_Kind.IDENT):
                    raise self._error("parameter name expected")
                name_token = self._advance()
                if name_token.text in seen:
                    raise self._error(f"the parameter '{name_token.text}' is given twice", name_token)
                seen.add(name_token.text)
                self._expect_punct("=")
                params.append((name_token.text, self._parameter_value()))
                if not self._is_punct(","):
                    break
                self._advance()
        self._expect_punct(")")
        return QueryFunction(token.text[len(CRM_NAMESPACE) :], tuple(params), token.pos)

    def _parameter_value(self) -> Literal | ListLiteral:
        token = self.current
        if token.kind == _Kind.ALIAS:
            self._advance()
            text = self._alias_text(token)
            if text is None:
                return Literal(None, None, token.pos)
            return self._sub_parser(token, text).parse_parameter_value()
        if self._is_punct("["):
            self._advance()
            items: list[Literal] = []
            if not self._is_punct("]"):
                while True:
                    item = self.current
                    if item.kind not in (_Kind.JSON_STRING, _Kind.STRING, _Kind.NUMBER, _Kind.GUID):
                        raise self._error("a quoted value expected in the array")
                    self._advance()
                    items.append(_literal_from_token(item, self.text))
                    if not self._is_punct(","):
                        break
                    self._advance()
            if not self._is_punct("]"):
                raise self._error("',' or ']' expected in the array")
            self._advance()
            return ListLiteral(tuple(items), token.pos)
        if token.kind in (_Kind.STRING, _Kind.GUID, _Kind.DATETIME, _Kind.DATE, _Kind.NUMBER):
            self._advance()
            return _literal_from_token(token, self.text)
        if token.kind == _Kind.IDENT and token.text in _KEYWORD_LITERALS:
            self._advance()
            value = _KEYWORD_LITERALS[token.text]
            return Literal(value, None if value is None else Edm.BOOLEAN, token.pos)
        raise self._error("a parameter value expected")


def parse_filter(text: str, aliases: Mapping[str, str] | None = None, *, allow_aliases: bool = True) -> Expr:
    """Parse a ``$filter`` expression.

    Args:
        text: The decoded ``$filter`` value.
        aliases: Parameter alias values by name (``{"@p1": "'x'"}``); an alias without a value is null.
        allow_aliases: False inside ``$expand``, where Dataverse does not accept aliases.

    Returns:
        The expression tree; properties are not checked here (see :func:`compile_filter`).

    Raises:
        DataverseError: 400 ``0x80060888`` for a syntax error (the message gives the position and token),
            an unknown or unsupported function, or an expression that is not Boolean.
    """
    return _Parser(text, aliases, allow_aliases=allow_aliases).parse_boolean()


def parse_orderby(text: str, aliases: Mapping[str, str] | None = None) -> list[OrderByItem]:
    """Parse an ``$orderby`` value (``revenue desc,name``; aliases such as ``@p1 asc`` are resolved).

    Raises:
        DataverseError: 400 ``0x80060888`` for a syntax error or an alias without a value.
    """
    if not text.strip():
        raise query_syntax_error("The $orderby query option is empty.")
    return _Parser(text, aliases, allow_aliases=True).parse_orderby()


# --------------------------------------------------------------------------------------------------------
# Compiler
# --------------------------------------------------------------------------------------------------------

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


def _family(edm: Edm) -> str:
    if edm in NUMERIC_EDM:
        return "number"
    if edm in _TEMPORAL_EDM:
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
            number = _number_literal(text)
            return number.value
        if edm == Edm.BOOLEAN:
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return 1 if lowered in ("true", "1") else 0
        if edm == Edm.GUID:
            if not _GUID_RE.fullmatch(text.strip("{}")):
                raise ValueError(text)
            return text.strip("{}").lower()
        if edm in _TEMPORAL_EDM:
            parsed: datetime | date = _parse_datetime(text) if "T" in text.upper() else date.fromisoformat(text)
            return _storage_value(attribute, Literal(parsed, Edm.DATE))
    except ValueError:
        raise query_syntax_error(
            f"The value '{text}' given to '{function}' isn't a valid {edm.value} for '{attribute.logical_name}'."
        ) from None
    return text


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


_RangeBounds = tuple[datetime | None, datetime | None, bool]


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    next_first = date(year + (month // 12), month % 12 + 1, 1)
    last_day = (next_first - timedelta(days=1)).day
    return date(year, month, min(day.day, last_day))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _relative_range(name: str, now: datetime, count: int) -> tuple[_RangeBounds, bool]:
    """The instant range ``[start, end)`` (``end`` inclusive when the flag says so) a relative date
    function selects, and whether the function is time-based (hours, minutes).

    "Last X" ranges run from midnight X units back to now; "Next X" from now to the end of the X-th unit;
    weeks start on Sunday (en-US, the sandbox's only locale).
    """
    today = now.date()
    day_count = {"Days": 1, "Weeks": 7}
    for prefix in ("LastX", "NextX", "OlderThanX"):
        if not name.startswith(prefix):
            continue
        unit = name[len(prefix) :]
        if unit in ("Hours", "Minutes"):
            delta = timedelta(hours=count) if unit == "Hours" else timedelta(minutes=count)
            if prefix == "LastX":
                return (now - delta, now, True), True
            if prefix == "NextX":
                return (now, now + delta, True), True
            return (None, now - delta, False), True
        if unit in day_count:
            span = timedelta(days=count * day_count[unit])
            if prefix == "LastX":
                return (_midnight(today - span), now, True), False
            if prefix == "NextX":
                return (now, _midnight(today + span + timedelta(days=1)), False), False
            return (None, now - span, False), False
        months = count if unit == "Months" else count * 12
        if prefix == "LastX":
            return (_midnight(_add_months(today, -months)), now, True), False
        if prefix == "NextX":
            return (now, _midnight(_add_months(today, months) + timedelta(days=1)), False), False
        return (None, datetime.combine(_add_months(today, -months), now.timetz()), False), False
    raise AssertionError(name)


def _calendar_range(name: str, now: datetime) -> _RangeBounds:
    today = now.date()
    if name in ("Today", "Yesterday", "Tomorrow"):
        day = today + timedelta(days={"Today": 0, "Yesterday": -1, "Tomorrow": 1}[name])
        return _midnight(day), _midnight(day + timedelta(days=1)), False
    if name == "Last7Days":
        return _midnight(today - timedelta(days=7)), now, True
    if name == "Next7Days":
        return now, _midnight(today + timedelta(days=8)), False
    if name.endswith("Week"):
        sunday = today - timedelta(days=(today.weekday() + 1) % 7)
        start = sunday + timedelta(days={"This": 0, "Last": -7, "Next": 7}[name[:4]])
        return _midnight(start), _midnight(start + timedelta(days=7)), False
    if name.endswith("Month"):
        first = _add_months(today.replace(day=1), {"This": 0, "Last": -1, "Next": 1}[name[:4]])
        return _midnight(first), _midnight(_add_months(first, 1)), False
    first_of_year = date(today.year + {"This": 0, "Last": -1, "Next": 1}[name[:4]], 1, 1)
    return _midnight(first_of_year), _midnight(date(first_of_year.year + 1, 1, 1)), False


_RELATIVE_X = frozenset(
    f"{prefix}{unit}"
    for prefix in ("LastX", "NextX", "OlderThanX")
    for unit in ("Minutes", "Hours", "Days", "Weeks", "Months", "Years")
) - {"LastXMinutes", "NextXMinutes"}
_CALENDAR = frozenset(
    [
        "Today",
        "Yesterday",
        "Tomorrow",
        "Last7Days",
        "Next7Days",
        "ThisWeek",
        "LastWeek",
        "NextWeek",
        "ThisMonth",
        "LastMonth",
        "NextMonth",
        "ThisYear",
        "LastYear",
        "NextYear",
    ]
)
_DAY_FUNCTIONS = frozenset({"On", "OnOrAfter", "OnOrBefore"})
_LIST_FUNCTIONS = frozenset({"In", "NotIn", "Between", "NotBetween"})
_NULL_FUNCTIONS = frozenset({"Null", "NotNull"})
#: Dataverse query functions the sandbox does not evaluate (fiscal periods, hierarchies, users, choices).
UNSUPPORTED_QUERY_FUNCTIONS = frozenset(
    [
        "Above",
        "AboveOrEqual",
        "Contains",
        "DoesNotContain",
        "ContainValues",
        "DoesNotContainValues",
        "EqualBusinessId",
        "EqualRoleBusinessId",
        "EqualUserId",
        "EqualUserLanguage",
        "EqualUserOrUserHierarchy",
        "EqualUserOrUserHierarchyAndTeams",
        "EqualUserOrUserTeams",
        "EqualUserTeams",
        "InFiscalPeriod",
        "InFiscalPeriodAndYear",
        "InFiscalYear",
        "InOrAfterFiscalPeriodAndYear",
        "InOrBeforeFiscalPeriodAndYear",
        "LastFiscalPeriod",
        "LastFiscalYear",
        "LastXFiscalPeriods",
        "LastXFiscalYears",
        "NextFiscalPeriod",
        "NextFiscalYear",
        "NextXFiscalPeriods",
        "NextXFiscalYears",
        "NotEqualBusinessId",
        "NotEqualUserId",
        "NotUnder",
        "ThisFiscalPeriod",
        "ThisFiscalYear",
        "Under",
        "UnderOrEqual",
    ]
)


def _like_pattern(function: str, text: str) -> tuple[str, str]:
    """SQL for a Dataverse LIKE-style literal: ``(operator template, pattern)``.

    The template has ``{col}`` for the column. ``%``/``_`` stay wildcards and ``[...]`` sets are honoured
    as SQL Server does; sets of one literal character (``[%]``) become escapes, any other set needs GLOB
    over the lower-cased value, since SQLite's LIKE has no character classes.
    """
    parts: list[tuple[str, str]] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "%":
            parts.append(("any", ""))
        elif char == "_":
            parts.append(("one", ""))
        elif char == "[":
            close = text.find("]", index + 2)
            if close < 0:
                parts.append(("lit", char))
            else:
                parts.append(("set", text[index + 1 : close]))
                index = close
        else:
            parts.append(("lit", char))
        index += 1
    if function in ("contains", "endswith"):
        parts.insert(0, ("any", ""))
    if function in ("contains", "startswith"):
        parts.append(("any", ""))
    simple = all(kind != "set" or (len(body) == 1 and body != "^") for kind, body in parts)
    if simple:
        out: list[str] = []
        for kind, body in parts:
            if kind == "any":
                out.append("%")
            elif kind == "one":
                out.append("_")
            else:
                out.append("\\" + body if body in ("%", "_", "\\") else body)
        return "{col} LIKE ? ESCAPE '\\'", "".join(out)
    glob: list[str] = []
    for kind, body in parts:
        if kind == "any":
            glob.append("*")
        elif kind == "one":
            glob.append("?")
        elif kind == "set":
            glob.append("[" + body.lower() + "]")
        else:
            glob.append("[" + body + "]" if body in "*?[" else body.lower())
    return "lower({col}) GLOB ?", "".join(glob)


class _Compiler:
    def __init__(self, catalogue: Catalogue, root: _Scope, now: datetime) -> None:
        self.catalogue = catalogue
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
            template, pattern = _like_pattern(node.name, str(node.value.value))
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
        if name in _LIST_FUNCTIONS:
            expected = {"PropertyName", "PropertyValues"}
        elif name in _DAY_FUNCTIONS or name in _RELATIVE_X:
            expected = {"PropertyName", "PropertyValue"}
        elif name in _CALENDAR or name in _NULL_FUNCTIONS:
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
        if name in _NULL_FUNCTIONS:
            return f"{column.sql} IS {'NOT ' if name == 'NotNull' else ''}NULL"
        if name in _LIST_FUNCTIONS:
            return self._list_function(node, column)
        if name in _DAY_FUNCTIONS:
            return self._day_function(node, column)
        if column.edm not in _TEMPORAL_EDM:
            raise query_syntax_error(
                f"The function '{full}' needs a date and time column; '{column.name}' is {column.edm.value}."
            )
        if name in _CALENDAR:
            return self._range_sql(column, _calendar_range(name, self.now))
        count_value = node.param("PropertyValue")
        count = self._integer_param(count_value, full)
        bounds, time_based = _relative_range(name, self.now, count)
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

    @staticmethod
    def _integer_param(value: Literal | ListLiteral | None, function: str) -> int:
        if isinstance(value, Literal) and isinstance(value.value, int) and not isinstance(value.value, bool):
            return value.value
        if isinstance(value, Literal) and isinstance(value.value, str) and re.fullmatch(r"\s*\d+\s*", value.value):
            return int(value.value)
        raise query_syntax_error(f"The parameter 'PropertyValue' of '{function}' must be a whole number.")

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
        if column.edm not in _TEMPORAL_EDM:
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
                day = _parse_datetime(text).astimezone(UTC).date() if "T" in text.upper() else date.fromisoformat(text)
            except ValueError:
                raise query_syntax_error(f"The value '{value.value}' given to '{full}' isn't a valid date.") from None
        else:
            raise query_syntax_error(f"The parameter 'PropertyValue' of '{full}' must be a date.")
        start, end = _midnight(day), _midnight(day + timedelta(days=1))
        if node.name == "On":
            return self._range_sql(column, (start, end, False))
        if node.name == "OnOrAfter":
            return self._range_sql(column, (start, None, False))
        return self._range_sql(column, (None, end, False))

    def _range_sql(self, column: _Column, bounds: _RangeBounds) -> str:
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
    expr: Expr, entity: EntityDef, catalogue: Catalogue, *, alias: str, now: datetime
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

    Returns:
        The SQL fragment, with ``?`` placeholders, and its parameters in order.

    Raises:
        DataverseError: 400 ``0x80060888`` for an unknown property (``Could not find a property named …``),
            a lookup named without ``_x_value``, mismatched operand types (``A binary operator with
            incompatible types was detected …``), an unsupported query function or a bad function argument;
            400 ``0x8004430C`` for more than 500 conditions.
    """
    root = _Scope(entity, alias)
    compiler = _Compiler(catalogue, root, now)
    sql = compiler.compile(expr, _Context(root, {}, root))
    return sql, compiler.params


def compile_orderby(items: Sequence[OrderByItem], entity: EntityDef, *, alias: str) -> str:
    """Compile ``$orderby`` items to an SQL ``ORDER BY`` list (without the keywords).

    Lookups sort by their ``_x_value`` GUID; text sorts case-insensitively through the columns' collation.

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
        parts.append(f"{column.sql} {'DESC' if item.descending else 'ASC'}")
    return ", ".join(parts)
