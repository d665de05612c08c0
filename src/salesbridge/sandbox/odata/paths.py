"""Parsing of Web API resource paths: ``accounts(…)/primarycontactid/$ref``, keys, function parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass

from salesbridge.sandbox.errors import bad_request

_GUID = re.compile(r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$")


@dataclass(frozen=True)
class Segment:
    """One path segment: a name and, when present, the raw text inside its parentheses."""

    name: str
    args: str | None = None


def split_path(path: str) -> list[Segment]:
    """Split a path relative to the API root into segments, respecting quotes and parentheses.

    Raises:
        DataverseError: 400 when parentheses or quotes are unbalanced.
    """
    segments: list[Segment] = []
    i, n = 0, len(path)
    while i < n:
        if path[i] == "/":
            i += 1
            continue
        start = i
        while i < n and path[i] not in "/(":
            i += 1
        name = path[start:i]
        args = None
        if i < n and path[i] == "(":
            depth, j, in_quote = 0, i, False
            while j < n:
                ch = path[j]
                if ch == "'":
                    in_quote = not in_quote
                elif not in_quote and ch == "(":
                    depth += 1
                elif not in_quote and ch == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= n:
                raise bad_request(f"Bad Request - Error in query syntax: unbalanced parentheses in '{path}'.")
            args = path[i + 1 : j]
            i = j + 1
        segments.append(Segment(name, args))
    return segments


def parse_guid(text: str) -> str | None:
    """A lowercase GUID from ``text`` (braces allowed), or None."""
    match = _GUID.match(text.strip())
    return match.group(1).lower() if match else None


def split_args(args: str) -> list[str]:
    """Split ``a=1,b='x,y'`` at top-level commas."""
    parts: list[str] = []
    depth, in_quote, start = 0, False, 0
    for index, ch in enumerate(args):
        if ch == "'":
            in_quote = not in_quote
        elif in_quote:
            continue
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(args[start:index])
            start = index + 1
    parts.append(args[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_named_args(args: str) -> dict[str, str]:
    """``Name='x',Other=@p1`` → ``{"Name": "'x'", "Other": "@p1"}`` (values left as raw literals)."""
    named: dict[str, str] = {}
    for part in split_args(args):
        name, sep, value = part.partition("=")
        if not sep:
            raise bad_request(f"Bad Request - Error in query syntax: expected name=value in '{args}'.")
        named[name.strip()] = value.strip()
    return named


def unquote_literal(value: str) -> str:
    """``'O''Brian'`` → ``O'Brian``; anything unquoted is returned as it is."""
    if len(value) >= 2 and value[0] == "'" and value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return value


@dataclass(frozen=True)
class RecordKey:
    """A record key from a URL: a primary-key GUID or alternate-key column values (raw literals)."""

    guid: str | None = None
    values: tuple[tuple[str, str], ...] = ()


def parse_key(args: str) -> RecordKey:
    """Parse the parentheses of ``accounts(<guid>)`` / ``accounts(accountnumber='A1',name='x')``.

    Raises:
        DataverseError: 400 when the key is not a GUID nor a list of name=value pairs.
    """
    guid = parse_guid(args)
    if guid:
        return RecordKey(guid=guid)
    if "=" not in args:
        raise bad_request(f"Bad Request - Error in query syntax: '{args}' is not a valid key.", "0x80060888")
    named = parse_named_args(args)
    return RecordKey(values=tuple(sorted(named.items())))


def parse_entity_reference(url: str, api_root_url: str) -> tuple[str, str] | None:
    """``/contacts(<id>)``, ``contacts(<id>)`` or an absolute URL → (entity set, key args), or None."""
    text = url.strip()
    if text.startswith(("http://", "https://")):
        marker = "/api/data/v9.2/"
        position = text.find(marker)
        if position < 0:
            return None
        text = text[position + len(marker) :]
    elif api_root_url and text.startswith(api_root_url):
        text = text[len(api_root_url) :]
    text = text.lstrip("/")
    match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\((.*)\)$", text)
    if not match:
        return None
    return match.group(1), match.group(2)
