"""The one parser of OData ``$filter`` and ``$orderby`` in the sandbox: text to a :mod:`.syntax_tree`.

Both the Web API (compiled to SQL by :mod:`.sql`) and the metadata API (evaluated over definitions by
:mod:`salesbridge.sandbox.metadata.filtering`) read their ``$filter`` through it. The grammar is the part of
OData 4.0 that Dataverse accepts (``webapi/query/filter-rows.md``):

* comparisons ``eq ne gt ge lt le``; ``and``, ``or``, ``not`` with OData precedence (``not`` binds tightest,
  then comparisons, then ``and``, then ``or``); parentheses;
* literals: ``'text'`` (``''`` escapes a quote), integers and decimals (``M``/``D``/``F``/``L`` suffixes
  tolerated), ``true``/``false``, ``null``, unquoted GUIDs, ``DateTimeOffset`` (``2025-01-01T00:00:00Z`` or
  with an offset), ``Date`` (``2025-01-01``) and enumeration members
  (``Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'``, used on metadata);
* property paths (``name``, ``_parentcustomerid_value``, ``primarycontactid/fullname``), parameter aliases
  (``@p1``);
* ``contains``/``startswith``/``endswith``, whose literal keeps SQL Server's wildcards (``%``, ``_``,
  ``[abc]``, ``[^abc]``) as Dataverse does;
* lambdas on collection-valued navigation properties (``Account_Tasks/any(t:t/statecode eq 1)``, ``all``);
* Dataverse query functions (``Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=["a","b"])`` …).

Every error is a 400 :class:`DataverseError`, worded like Dataverse's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from salesbridge.sandbox.errors import DataverseError, query_syntax_error
from salesbridge.sandbox.odata.filter.syntax_tree import (
    COMPARISON_OPERATORS,
    CRM_NAMESPACE,
    BoolOp,
    Comparison,
    Edm,
    Expr,
    Lambda,
    ListLiteral,
    Literal,
    Node,
    Not,
    OrderByItem,
    PropertyPath,
    QueryFunction,
    StringFunction,
)

# Nesting (parentheses, aliases, lambdas) deeper than this is refused rather than risking recursion limits.
_MAX_DEPTH = 100


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
    ENUM = "enumeration member"
    PUNCT = "punctuation"
    END = "end"


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    text: str
    pos: int


GUID_RE = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![\w-])")
_DATETIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?(?![\w:.+-])", re.IGNORECASE
)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?![\w:.-])")
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDfFlL]?(?![\w.])")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_ALIAS_RE = re.compile(r"@[A-Za-z_][A-Za-z0-9_]*")
_ENUM_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+'(?:[^']|'')*'")
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
            (_Kind.GUID, GUID_RE),
            (_Kind.DATETIME, _DATETIME_RE),
            (_Kind.DATE, _DATE_RE),
            (_Kind.NUMBER, _NUMBER_RE),
            (_Kind.ENUM, _ENUM_RE),
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


def parse_datetime(text: str) -> datetime:
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


def number_literal(text: str) -> Literal:
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
            return Literal(parse_datetime(token.text), Edm.DATETIMEOFFSET, token.pos)
        if token.kind == _Kind.DATE:
            return Literal(date.fromisoformat(token.text), Edm.DATE, token.pos)
        if token.kind == _Kind.ENUM:
            member = token.text[token.text.index("'") + 1 : -1].replace("''", "'")
            return Literal(member, Edm.ENUM, token.pos)
        if token.kind == _Kind.NUMBER:
            number = number_literal(token.text)
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

    def parse_node(self) -> Node:
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

    def _require_boolean(self, node: Node, where: str) -> Expr:
        if isinstance(node, Literal | PropertyPath | ListLiteral):
            shown = f"the property '{node.text}'" if isinstance(node, PropertyPath) else "a literal"
            raise query_syntax_error(
                f"{where} must be a Boolean expression such as a comparison, a function call or a lambda, "
                f"but {shown} was found in '{self.text}'. Compare properties explicitly "
                f"(for example 'donotemail eq true')."
            )
        return node

    def _or(self) -> Node:
        first = self._and()
        if not self._is(_Kind.IDENT, "or"):
            return first
        operands = [self._require_boolean(first, "The operand of 'or'")]
        while self._is(_Kind.IDENT, "or"):
            self._advance()
            operands.append(self._require_boolean(self._and(), "The operand of 'or'"))
        return BoolOp("or", tuple(operands))

    def _and(self) -> Node:
        first = self._comparison()
        if not self._is(_Kind.IDENT, "and"):
            return first
        operands = [self._require_boolean(first, "The operand of 'and'")]
        while self._is(_Kind.IDENT, "and"):
            self._advance()
            operands.append(self._require_boolean(self._comparison(), "The operand of 'and'"))
        return BoolOp("and", tuple(operands))

    def _comparison(self) -> Node:
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

    def _unary(self) -> Node:
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

    def _primary(self) -> Node:
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
        if token.kind in (_Kind.STRING, _Kind.GUID, _Kind.DATETIME, _Kind.DATE, _Kind.NUMBER, _Kind.ENUM):
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

    def _alias_node(self, token: _Token) -> Node:
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

    def _path(self) -> Node:
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

    def _function_call(self) -> Node:
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
        args: list[Node] = [self._or()]
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
            if text.lstrip().startswith("["):
                _check_json_array(text)
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
        if token.kind in (_Kind.STRING, _Kind.GUID, _Kind.DATETIME, _Kind.DATE, _Kind.NUMBER, _Kind.ENUM):
            self._advance()
            return _literal_from_token(token, self.text)
        if token.kind == _Kind.IDENT and token.text in _KEYWORD_LITERALS:
            self._advance()
            value = _KEYWORD_LITERALS[token.text]
            return Literal(value, None if value is None else Edm.BOOLEAN, token.pos)
        raise self._error("a parameter value expected")


_MISSING_COMMA = (
    "Invalid JSON. A comma character ',' was expected in scope 'Array'. Every two elements in an array and "
    "properties of an object must be separated by commas."
)


def _check_json_array(text: str) -> None:
    """Read an array given to a parameter alias as Dataverse does, as JSON: a string ends at its first closing
    quote, so ``['O'Brian']`` is the string ``'O'`` followed by ``Brian`` — filter-rows.md, "Manage single
    quotes", documents the error. Other faults are left to the filter parser.

    Raises:
        DataverseError: 400 ``0x80060888`` when two elements are not separated by a comma.
    """
    position = text.index("[") + 1
    length = len(text)
    while position < length:
        char = text[position]
        if char.isspace() or char == ",":
            position += 1
            continue
        if char == "]":
            return
        if char not in "'\"":
            position += 1
            continue
        end = position + 1
        while end < length and text[end] != char:
            end += 2 if text[end] == "\\" else 1
        if end >= length:
            return
        position = end + 1
        while position < length and text[position].isspace():
            position += 1
        if position < length and text[position] not in ",]":
            raise query_syntax_error(_MISSING_COMMA)


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
