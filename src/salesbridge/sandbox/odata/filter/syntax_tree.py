"""The syntax tree of OData ``$filter``/``$orderby`` expressions: what :mod:`.parser` produces and every back end
(the SQL compiler of the Web API, the evaluator of the metadata API) consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

#: Dataverse's limit on conditions (and link-entities) in one query (``TooManyConditionsInQuery``).
MAX_CONDITIONS = 500
#: The namespace Dataverse query functions are called with.
CRM_NAMESPACE = "Microsoft.Dynamics.CRM."

COMPARISON_OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le")

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
    #: An enumeration member (``Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'``); the value is its name.
    ENUM = "Edm.Enum"


NUMERIC_EDM = frozenset({Edm.INT32, Edm.INT64, Edm.DECIMAL, Edm.DOUBLE, Edm.SINGLE})
TEMPORAL_EDM = frozenset({Edm.DATETIMEOFFSET, Edm.DATE})


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
Node = Expr | Operand | ListLiteral


@dataclass(frozen=True)
class OrderByItem:
    """One ``$orderby`` item: a property path (``a`` or ``a/b``) and the direction."""

    path: str
    descending: bool = False
