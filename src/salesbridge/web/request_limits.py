"""Bounds on what a request may carry, enforced before anything else reads it (authentication included).

* **Body**: :data:`DEFAULT_BODY_BYTES` (64 KiB) for every route, larger only where a route needs it
  (:data:`ROUTE_BODY_BYTES`: Connect, whose form may carry a pasted CA bundle; the people and companies bulk
  upserts, 10,000 rows of JSON; the console's CSV upload). A ``Content-Length`` over the
  bound is answered 413 at once, without reading the body; a body streamed without one (chunked) is counted as
  it arrives and refused with 413 as soon as it passes the bound: nothing more is read into memory (the server
  discards the rest of the request as it arrives).
* **Headers**: a request whose headers together exceed :data:`MAX_HEADER_BYTES` is answered 431. ``salesbridge
  serve`` also bounds them in the HTTP parser (:data:`MAX_HEADER_BYTES` is uvicorn's
  ``h11_max_incomplete_event_size``), so an oversized header is refused before it is held in memory.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salesbridge.i18n import N_, normalize_locale, translate
from salesbridge.web.security import API_PREFIX

DEFAULT_BODY_BYTES: Final = 64 * 1024
"""The body bound of every route that does not name another: forms and JSON of a few fields."""

CONNECT_BODY_BYTES: Final = 4 * 1024 * 1024
"""Connect's body bound: a pasted CA bundle (up to a million characters), percent-encoded in a form."""

UPLOAD_BODY_BYTES: Final = 33 * 1024 * 1024
"""The console's CSV upload (``/admin/uploads``): a file of up to 32 MiB and its multipart envelope."""

BULK_BODY_BYTES: Final = 20 * 1024 * 1024
"""The people and companies bulk upserts' body bound: 10,000 rows of JSON at about 2 KB each (a full person with
two emails, two phones and a profile URL takes well under 1 KB)."""

ACTIVITY_BODY_BYTES: Final = 2 * 1024 * 1024
"""A logged or edited activity's body bound (``/api/v1/orgs/{org}/activities``): its text may hold 100,000
characters, which JSON may escape to up to 12 bytes each (``\\ud83d\\ude00``) for characters beyond the BMP."""

MAX_HEADER_BYTES: Final = 16 * 1024
"""The bound on a request's headers together (names and values), in bytes."""


@dataclass(frozen=True)
class BodyBound:
    """A body bound for the paths matching ``path`` (a regular expression matched against the whole path).

    Attributes:
        path: The routes concerned.
        max_bytes: The largest body they accept, in bytes.
    """

    path: re.Pattern[str]
    max_bytes: int


ROUTE_BODY_BYTES: Final[tuple[BodyBound, ...]] = (
    BodyBound(re.compile(r"/settings/crm/connection"), CONNECT_BODY_BYTES),
    BodyBound(re.compile(r"/api/v1/orgs/[^/]+/crm/connection"), CONNECT_BODY_BYTES),
    BodyBound(re.compile(r"/api/v1/orgs/[^/]+/(?:people|companies)"), BULK_BODY_BYTES),
    BodyBound(re.compile(r"/admin/uploads"), UPLOAD_BODY_BYTES),
    BodyBound(re.compile(r"/api/v1/orgs/[^/]+/activities(?:/[^/]+)?"), ACTIVITY_BODY_BYTES),
)
"""The routes allowed more than :data:`DEFAULT_BODY_BYTES`."""


TOO_LARGE: Final = N_("The request is too large.")
PAGE_TOO_LARGE: Final = N_("What you sent is too large. Go back and shorten the text, or choose a smaller file.")
HEADERS_TOO_LARGE: Final = N_("The request's headers are too large.")
BAD_LENGTH: Final = N_("The request's Content-Length is not a number.")


class RequestLimitsMiddleware:
    """Refuses oversized headers (431) and bodies (413) before the app sees them. Pure ASGI: the body is never
    buffered here, only counted as the app reads it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default_body_bytes: int = DEFAULT_BODY_BYTES,
        route_body_bytes: Sequence[BodyBound] = ROUTE_BODY_BYTES,
        max_header_bytes: int = MAX_HEADER_BYTES,
    ) -> None:
        self._app = app
        self._default_body_bytes = default_body_bytes
        self._route_body_bytes = tuple(route_body_bytes)
        self._max_header_bytes = max_header_bytes

    def body_bound(self, path: str) -> int:
        """The largest body, in bytes, a request to ``path`` may carry."""
        for bound in self._route_body_bytes:
            if bound.path.fullmatch(path):
                return bound.max_bytes
        return self._default_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        # Nobody is signed in yet: the refusals speak the browser's language.
        languages = [value for name, value in headers if name == b"accept-language"]
        locale = normalize_locale(languages[0][:256].decode("latin-1") if languages else None)
        if sum(len(name) + len(value) for name, value in headers) > self._max_header_bytes:
            await _refuse(send, 431, translate(HEADERS_TOO_LARGE, locale))
            return
        bound = self.body_bound(scope["path"])
        declared = [value for name, value in headers if name == b"content-length"]
        if declared:
            try:
                length = int(declared[0])
            except ValueError:
                await _refuse(send, 400, translate(BAD_LENGTH, locale))
                return
            if length > bound:
                if scope["path"].startswith(API_PREFIX):
                    await _refuse(send, 413, translate(TOO_LARGE, locale))
                else:  # a console form: a page the person reads, not JSON
                    await _refuse_page(send, 413, translate(PAGE_TOO_LARGE, locale), locale)
                return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > bound:
                    # An HTTPException: FastAPI's body parsing passes it on as is (any other error it reports as
                    # a malformed body), and the app's handler answers it.
                    raise HTTPException(413, translate(TOO_LARGE, locale))
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self._app(scope, counted_receive, tracked_send)
        except HTTPException as refused:
            # Raised where nothing turned it into a response (outside FastAPI's routes): answer it here.
            if started or refused.status_code != 413 or received <= bound:
                raise
            await _refuse(send, 413, translate(TOO_LARGE, locale))


async def _refuse_page(send: Send, status: int, sentence: str, locale: str) -> None:
    """A minimal page saying ``sentence`` (no template: nothing about the request or its sender is known yet)."""
    text = html.escape(sentence)
    body = (
        f'<!doctype html><html lang="{html.escape(locale)}"><head><meta charset="utf-8"><title>{text}</title>'
        f"</head><body><main><h1>{text}</h1></main></body></html>"
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
