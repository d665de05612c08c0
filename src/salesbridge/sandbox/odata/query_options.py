"""System query options and the ``Prefer`` header of the sandbox's Web API, parsed and validated.

Follows ``webapi/query/overview.md``: option names are case-sensitive; ``$skip``, ``$search`` and
``$format`` are refused; parameter aliases (``@p1=...``) serve ``$filter`` and ``$orderby`` (not ``$expand``)
and an alias without a value is null. Parameters that start with neither ``$`` nor ``@`` (``tag``, say) are
not query options and are ignored here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from salesbridge.sandbox.errors import DataverseError, query_syntax_error, unsupported_query_option
from salesbridge.sandbox.odata.filter.parser import parse_filter, parse_orderby
from salesbridge.sandbox.odata.filter.syntax_tree import Expr, OrderByItem

#: Dataverse's largest page: ``odata.maxpagesize`` above it is capped.
MAX_PAGE_SIZE = 5000

FORMATTED_VALUE = "OData.Community.Display.V1.FormattedValue"

_UNSUPPORTED_BY_DATAVERSE = frozenset({"$skip", "$search", "$format"})
_SINGLE_VALUED = frozenset(
    {"$select", "$filter", "$orderby", "$top", "$count", "$expand", "$skiptoken", "$deltatoken", "$id"}
)
_SANDBOX_REFUSED = {
    "$apply": "The sandbox doesn't support $apply (aggregation and grouping); query rows and aggregate them.",
    "fetchXml": "The sandbox doesn't support FetchXML queries (fetchXml); use OData query options.",
    "savedQuery": "The sandbox doesn't support running saved views (savedQuery); use OData query options.",
    "userQuery": "The sandbox doesn't support running personal views (userQuery); use OData query options.",
    "sql": "The sandbox doesn't support SQL queries (sql); use OData query options.",
}
_EXPAND_OPTIONS = frozenset({"$select", "$filter", "$orderby", "$top", "$expand"})
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SELECT_ITEM_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*")


# --------------------------------------------------------------------------------------------------------
# Prefer
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prefer:
    """The preferences of a ``Prefer`` header that the sandbox honours.

    ``include_annotations`` holds the patterns of ``odata.include-annotations`` (``*``,
    ``Microsoft.Dynamics.CRM.*``, exact terms, ``-term`` to exclude); ``maxpagesize`` is already capped at
    :data:`MAX_PAGE_SIZE`.
    """

    maxpagesize: int | None = None
    include_annotations: tuple[str, ...] = ()
    track_changes: bool = False
    return_representation: bool = False
    continue_on_error: bool = False

    def wants_annotation(self, term: str) -> bool:
        """Whether ``odata.include-annotations`` asks for the annotation ``term`` (case-insensitive)."""
        included = False
        for pattern in self.include_annotations:
            if pattern.startswith("-"):
                if _term_matches(pattern[1:], term):
                    return False
            elif _term_matches(pattern, term):
                included = True
        return included

    def applied_header(self) -> str | None:
        """The ``Preference-Applied`` value for a read, or None when no read preference applies.

        ``return=representation`` and ``odata.continue-on-error`` are echoed by the write and ``$batch``
        paths themselves, so they are not part of this value.
        """
        applied: list[str] = []
        if self.maxpagesize is not None:
            applied.append(f"odata.maxpagesize={self.maxpagesize}")
        if self.include_annotations:
            applied.append(f'odata.include-annotations="{",".join(self.include_annotations)}"')
        if self.track_changes:
            applied.append("odata.track-changes")
        return ",".join(applied) or None


def _term_matches(pattern: str, term: str) -> bool:
    pattern = pattern.lower()
    term = term.lower()
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return term.startswith(pattern[:-1])
    return pattern == term


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_prefer(value: str | None) -> Prefer:
    """Parse a ``Prefer`` header (comma-separated preferences, RFC 7240).

    Unknown preferences and malformed values are ignored, as RFC 7240 asks of servers; preference names are
    case-insensitive. ``odata.maxpagesize`` must be a positive integer and is capped at 5,000.

    Never raises.
    """
    if not value:
        return Prefer()
    maxpagesize: int | None = None
    annotations: list[str] = []
    track_changes = return_representation = continue_on_error = False
    for item in _split_outside_quotes(value, ","):
        # Preference parameters (";name=value") carry nothing the sandbox uses.
        preference = _split_outside_quotes(item, ";")[0].strip()
        if not preference:
            continue
        name, has_value, raw = preference.partition("=")
        name = name.strip().lower()
        text = raw.strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1]
        if name == "odata.maxpagesize" and has_value and text.isdigit() and int(text) > 0:
            maxpagesize = min(int(text), MAX_PAGE_SIZE)
        elif name == "odata.include-annotations" and has_value:
            annotations.extend(term.strip() for term in text.split(",") if term.strip())
        elif name == "odata.track-changes":
            track_changes = True
        elif name == "return":
            return_representation = text.lower() == "representation"
        elif name in ("odata.continue-on-error", "continue-on-error"):
            continue_on_error = not has_value or text.lower() == "true"
    return Prefer(
        maxpagesize=maxpagesize,
        include_annotations=tuple(annotations),
        track_changes=track_changes,
        return_representation=return_representation,
        continue_on_error=continue_on_error,
    )


# --------------------------------------------------------------------------------------------------------
# Query options
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpandOption:
    """One ``$expand`` item: a navigation property and its nested options."""

    nav: str
    select: tuple[str, ...] | None = None
    filter: Expr | None = None
    orderby: tuple[OrderByItem, ...] = ()
    top: int | None = None
    expand: tuple[ExpandOption, ...] = ()
    #: ``nav/$ref``: references (``@odata.id``) instead of the related records.
    ref: bool = False
    #: The nested options as written, in order (for the expanded collection's ``@odata.nextLink``).
    pairs: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def nested(self) -> bool:
        """Whether this item or one inside it holds a nested ``$expand``."""
        return bool(self.expand)


@dataclass(frozen=True)
class QueryOptions:
    """The system query options of one request. ``select`` is None when every column is wanted."""

    select: tuple[str, ...] | None = None
    filter: Expr | None = None
    orderby: tuple[OrderByItem, ...] = ()
    top: int | None = None
    count: bool = False
    expand: tuple[ExpandOption, ...] = ()
    skiptoken: str | None = None
    deltatoken: str | None = None


def _duplicate(name: str) -> DataverseError:
    return query_syntax_error(
        f"Query option '{name}' was specified more than once, but it must be specified at most once."
    )


def parse_select(text: str) -> tuple[str, ...] | None:
    """Parse ``$select`` into property names (checked against the table later); ``*`` or blank means all.

    Raises:
        DataverseError: 400 ``0x80060888`` for an empty item or a name that is not an identifier.
    """
    if not text.strip() or text.strip() == "*":
        return None
    names: list[str] = []
    for item in text.split(","):
        name = item.strip()
        if not _SELECT_ITEM_RE.fullmatch(name):
            shown = f"'{name}'" if name else "an empty item"
            raise query_syntax_error(f"Syntax error in $select '{text}': {shown} is not a property name.")
        names.append(name)
    return tuple(names)


def parse_top(text: str, option: str = "$top") -> int:
    """Parse ``$top`` (a non-negative integer).

    Raises:
        DataverseError: 400 ``0x80060888`` for anything else.
    """
    value = text.strip()
    if not value.isdigit() or not value.isascii():
        raise query_syntax_error(
            f"Invalid value '{text}' for {option} query option found. The {option} query option requires a "
            f"non-negative integer value."
        )
    return int(value)


def _parse_count(text: str) -> bool:
    if text == "true":
        return True
    if text == "false":
        return False
    raise query_syntax_error(f"'{text}' is not a valid count option.")


def split_top_level(text: str, separator: str) -> list[str]:
    """Split at ``separator`` outside parentheses and quoted strings.

    Raises:
        DataverseError: 400 for unbalanced parentheses or an unterminated string.
    """
    parts: list[str] = []
    depth = 0
    start = 0
    index = 0
    while index < len(text):
        char = text[index]
        if char in "'\"":
            close = text.find(char, index + 1)
            while char == "'" and close >= 0 and close + 1 < len(text) and text[close + 1] == "'":
                close = text.find(char, close + 2)
            if close < 0:
                raise query_syntax_error(f"There is an unterminated literal at position {len(text)} in '{text}'.")
            index = close
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise query_syntax_error(f"Syntax error: unbalanced ')' at position {index} in '{text}'.")
        elif char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
        index += 1
    if depth != 0:
        raise query_syntax_error(f"Syntax error: ')' expected at position {len(text)} in '{text}'.")
    parts.append(text[start:])
    return parts


def parse_expand(text: str) -> tuple[ExpandOption, ...]:
    """Parse ``$expand``: comma-separated ``nav`` or ``nav($select=…;$filter=…;$orderby=…;$top=…;$expand=…)``.

    Raises:
        DataverseError: 400 ``0x80060888`` for a syntax error, a nested option Dataverse does not accept
            inside ``$expand`` (``$count``, ``$skip``, ``$levels``, ``*``…), a repeated nested option, or a
            parameter alias (aliases are not allowed in ``$expand``).
    """
    items: list[ExpandOption] = []
    for raw in split_top_level(text, ","):
        item = raw.strip()
        nav, paren, rest = item.partition("(")
        nav = nav.strip()
        if not paren and nav.endswith("/$ref"):
            name = nav[: -len("/$ref")]
            if not _NAME_RE.fullmatch(name):
                raise query_syntax_error(f"Syntax error in $expand '{text}': '{name}' is not a navigation property.")
            items.append(ExpandOption(name, ref=True))
            continue
        if nav == "*":
            raise query_syntax_error("The sandbox doesn't support '$expand=*'; name the navigation properties.")
        if not _NAME_RE.fullmatch(nav):
            shown = f"'{nav}'" if nav else "an empty item"
            raise query_syntax_error(f"Syntax error in $expand '{text}': {shown} is not a navigation property.")
        if not paren:
            items.append(ExpandOption(nav))
            continue
        if not rest.endswith(")"):
            raise query_syntax_error(f"Syntax error in $expand '{text}': ')' expected after the options of '{nav}'.")
        items.append(_expand_item(nav, rest[:-1], text))
    return tuple(items)


def _expand_item(nav: str, body: str, text: str) -> ExpandOption:
    values: dict[str, str] = {}
    for raw in split_top_level(body, ";"):
        part = raw.strip()
        if not part:
            continue
        name, equals, value = part.partition("=")
        name = name.strip()
        if not equals:
            raise query_syntax_error(f"Syntax error in $expand '{text}': '{part}' is not an option of '{nav}'.")
        if name not in _EXPAND_OPTIONS:
            raise query_syntax_error(
                f"The query option '{name}' isn't supported inside $expand (in '{nav}'); use $select, "
                f"$filter, $orderby, $top or $expand."
            )
        if name in values:
            raise _duplicate(f"{nav}/{name}")
        values[name] = value
    no_aliases: Mapping[str, str] = {}
    return ExpandOption(
        nav=nav,
        pairs=tuple(values.items()),
        select=parse_select(values["$select"]) if "$select" in values else None,
        filter=parse_filter(values["$filter"], no_aliases, allow_aliases=False) if "$filter" in values else None,
        orderby=tuple(_orderby_without_aliases(values["$orderby"])) if "$orderby" in values else (),
        top=parse_top(values["$top"]) if "$top" in values else None,
        expand=parse_expand(values["$expand"]) if "$expand" in values else (),
    )


def _orderby_without_aliases(text: str) -> list[OrderByItem]:
    if "@" in text:
        raise query_syntax_error(
            f"Parameter aliases can't be used inside $expand (found in '$orderby={text}'); they are allowed "
            f"in $filter and $orderby but not inside $expand."
        )
    return parse_orderby(text)


def parse_query_options(pairs: Sequence[tuple[str, str]]) -> QueryOptions:
    """Parse the decoded query string pairs of a request into :class:`QueryOptions`.

    Args:
        pairs: ``(name, value)`` pairs in order, already URL-decoded.

    Returns:
        The options; ``$filter`` and ``$orderby`` have their parameter aliases resolved.

    Raises:
        DataverseError: 400 ``0x80060888`` for ``$skip``/``$search``/``$format`` (not supported by
            Dataverse), an unknown ``$`` option (names are case-sensitive), an option or alias given twice,
            ``$apply``/``fetchXml``/``savedQuery``/``userQuery`` (not supported by the sandbox), or a
            malformed value (see :func:`~salesbridge.sandbox.odata.filter.parser.parse_filter` and the ``parse_*``
            helpers).
    """
    aliases: dict[str, str] = {}
    values: dict[str, str] = {}
    for name, value in pairs:
        if name in _SANDBOX_REFUSED:
            raise DataverseError(400, "0x80060888", _SANDBOX_REFUSED[name])
        if name.startswith("@"):
            if name in aliases:
                raise _duplicate(name)
            aliases[name] = value
        elif name.startswith("$"):
            if name in _UNSUPPORTED_BY_DATAVERSE or name not in _SINGLE_VALUED:
                raise unsupported_query_option(name)
            if name in values:
                raise _duplicate(name)
            values[name] = value
    return QueryOptions(
        select=parse_select(values["$select"]) if "$select" in values else None,
        filter=parse_filter(values["$filter"], aliases) if "$filter" in values else None,
        orderby=tuple(parse_orderby(values["$orderby"], aliases)) if "$orderby" in values else (),
        top=parse_top(values["$top"]) if "$top" in values else None,
        count=_parse_count(values["$count"]) if "$count" in values else False,
        expand=parse_expand(values["$expand"]) if "$expand" in values else (),
        skiptoken=values.get("$skiptoken"),
        deltatoken=values.get("$deltatoken"),
    )
