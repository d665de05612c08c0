"""Transport-independent request and response values of the Web API.

The engine handles an :class:`ApiRequest` and returns an :class:`ApiResponse`; the ASGI adapter and the
``$batch`` executor both build requests of this shape, so a request inside a batch is handled exactly as a
top-level one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

JSON_CONTENT_TYPE = "application/json; odata.metadata=minimal"


#: Headers whose repeated fields are one comma-separated list (RFC 9110 §5.3): count-rows.md sends
#: ``odata.maxpagesize`` and ``odata.include-annotations`` in two ``Prefer`` headers, and both apply.
_LIST_HEADERS = frozenset({"prefer"})


class Headers:
    """Case-insensitive header mapping (first value wins, except that repeated ``Prefer`` fields combine)."""

    def __init__(self, items: Mapping[str, str] | list[tuple[str, str]] | None = None) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        pairs = items.items() if isinstance(items, Mapping) else (items or [])
        for name, value in pairs:
            key = name.lower()
            if key in _LIST_HEADERS and key in self._items:
                first_name, first_value = self._items[key]
                self._items[key] = (first_name, f"{first_value}, {value}")
            else:
                self._items.setdefault(key, (name, value))

    def get(self, name: str, default: str | None = None) -> str | None:
        """The header's value, or ``default``."""
        item = self._items.get(name.lower())
        return item[1] if item else default

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def set(self, name: str, value: str) -> None:
        """Set (replace) a header."""
        self._items[name.lower()] = (name, value)

    def items(self) -> list[tuple[str, str]]:
        """Headers as (name, value) pairs, in their original spelling."""
        return list(self._items.values())


@dataclass
class ApiRequest:
    """One Web API request. ``path`` is relative to the API root (``accounts(…)``, ``$batch``, ``WhoAmI``).

    ``query`` holds the decoded query string pairs in order; ``raw_query`` the undecoded string.
    ``caller_id`` is the authenticated systemuser (set by the adapter after token validation).
    """

    method: str
    path: str
    raw_query: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    caller_id: str | None = None
    base_url: str = ""

    @property
    def query(self) -> list[tuple[str, str]]:
        """Decoded query string pairs, in order."""
        return parse_qsl(self.raw_query, keep_blank_values=True)

    def json(self) -> Any:
        """The body parsed as JSON (raises ValueError on invalid JSON)."""
        if not self.body:
            return None
        return orjson.loads(self.body)


@dataclass
class ApiResponse:
    """One Web API response."""

    status: int
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, payload: object, headers: Mapping[str, str] | None = None) -> ApiResponse:
        """A JSON response with Dataverse's content type."""
        response = cls(status, Headers(dict(headers or {})), orjson.dumps(payload))
        response.headers.set("Content-Type", JSON_CONTENT_TYPE)
        return response

    @classmethod
    def raw_json(cls, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> ApiResponse:
        """A JSON response whose body is already serialised."""
        response = cls(status, Headers(dict(headers or {})), body)
        response.headers.set("Content-Type", JSON_CONTENT_TYPE)
        return response

    @classmethod
    def empty(cls, status: int = 204, headers: Mapping[str, str] | None = None) -> ApiResponse:
        """A response without a body."""
        return cls(status, Headers(dict(headers or {})), b"")
