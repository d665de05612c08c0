"""Fakes at the edges for the connector's integration tests: a scripted Dataverse served by a real aiohttp
server, a clock and sleep that move together, and a token provider that hands out numbered tokens.

The connector's whole HTTP stack (aiohttp, orjson, headers, timeouts) runs for real; only Dataverse's
behaviour is scripted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict
from pydantic import SecretStr
from tests.fakes.monotonic import FakeTime

__all__ = ["API", "FakeDataverse", "FakeTime", "FakeTokens", "answer", "dataverse_error", "fail"]

API = "/api/data/v9.2/"

Responder = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class RecordedRequest:
    """One request the fake received."""

    method: str
    path_qs: str
    headers: CIMultiDict[str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class FakeDataverse:
    """Answers each (method, path) from a script of responders; the last responder repeats.

    ``path`` is relative to the API root (``contacts``, ``$batch``). Every request is recorded.
    """

    base_url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    scripts: dict[tuple[str, str], list[Responder]] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0

    @property
    def api_url(self) -> str:
        return f"{self.base_url}{API}"

    def on(self, method: str, path: str, *responders: Responder) -> None:
        self.scripts[(method, path)] = list(responders)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path_qs.split("?")[0] == API + path]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(RecordedRequest(request.method, request.raw_path, CIMultiDict(request.headers), body))
        path = request.path[len(API) :] if request.path.startswith(API) else request.path
        script = self.scripts.get((request.method, path))
        if not script:
            return dataverse_error(404, "0x0", f"Resource not found for the segment '{path}'.")
        responder = script.pop(0) if len(script) > 1 else script[0]
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await responder(request)
        finally:
            self.in_flight -= 1


def dataverse_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """A Dataverse-shaped error response."""
    return web.json_response(
        {"error": {"code": code, "message": message}},
        status=status,
        headers={"x-ms-service-request-id": f"req-{status}", **(headers or {})},
    )


def answer(
    status: int = 200, body: Any = None, headers: dict[str, str] | None = None, *, delay_s: float = 0.0
) -> Responder:
    """A responder that waits ``delay_s`` and answers ``status`` with a JSON ``body`` (or none)."""

    async def respond(request: web.Request) -> web.StreamResponse:
        if delay_s:
            await asyncio.sleep(delay_s)
        if body is None:
            return web.Response(status=status, headers=headers)
        return web.Response(
            status=status,
            body=orjson.dumps(body),
            content_type="application/json",
            headers=headers,
        )

    return respond


def fail(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Responder:
    """A responder that answers a Dataverse error."""

    async def respond(request: web.Request) -> web.StreamResponse:
        return dataverse_error(status, code, message, headers)

    return respond


@dataclass
class FakeTokens:
    """Hands out ``token-1``; each forced refresh hands out the next number."""

    prefix: str = "token"
    issued: int = 1
    calls: list[bool] = field(default_factory=list)

    async def bearer_token(self, *, force_refresh: bool = False) -> SecretStr:
        self.calls.append(force_refresh)
        if force_refresh:
            self.issued += 1
        return SecretStr(f"{self.prefix}-{self.issued}")
