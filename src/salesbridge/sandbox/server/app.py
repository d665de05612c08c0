"""The ASGI application of the sandbox: identity endpoints, the Web API, and a local admin endpoint.

Around the engine it adds what Dataverse's front door does: bearer-token authentication (401 with the
challenge), service protection (429), the informational headers, and injected faults.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from salesbridge.sandbox.errors import DataverseError
from salesbridge.sandbox.identity.endpoints import bearer_challenge, identity_routes
from salesbridge.sandbox.identity.tokens import TokenIssuer
from salesbridge.sandbox.odata.messages import ApiRequest, ApiResponse, Headers
from salesbridge.sandbox.organization.state import SandboxState
from salesbridge.sandbox.server.faults import FaultConfig, FaultInjector
from salesbridge.sandbox.server.protection import ServiceProtection
from salesbridge.sandbox.webapi.dispatch import API_ROOT, Engine, error_response


@dataclass
class SandboxServices:
    """Everything the HTTP layer needs."""

    state: SandboxState
    issuer: TokenIssuer
    protection: ServiceProtection = field(default_factory=ServiceProtection)
    faults: FaultInjector = field(default_factory=FaultInjector)
    admin_token: str = field(default_factory=lambda: secrets.token_hex(32))

    def is_admin(self, request: Request) -> bool:
        """Whether ``request`` carries the admin token (compared in constant time)."""
        presented = request.headers.get("X-Sandbox-Admin-Token", "").encode()
        return hmac.compare_digest(presented, self.admin_token.encode("ascii"))


class _ResetConnectionError(Exception):
    """Raised to drop a connection in the middle of a response body."""


def create_app(services: SandboxServices) -> Starlette:
    """The sandbox's ASGI app. Mountable in-process (``httpx.ASGITransport``) or served by uvicorn."""
    engine = Engine(services.state)

    async def web_api(request: Request) -> Response:
        return await _web_api(services, engine, request)

    async def admin_faults(request: Request) -> Response:
        if not services.is_admin(request):
            return JSONResponse({"error": "The X-Sandbox-Admin-Token header is missing or wrong."}, status_code=403)
        if request.method == "PUT":
            try:
                config = FaultConfig.from_dict(orjson.loads(await request.body()), services.faults.config)
            except (ValueError, orjson.JSONDecodeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            services.faults.configure(config)
        return JSONResponse(services.faults.config.to_dict())

    async def admin_action(request: Request) -> Response:
        if not services.is_admin(request):
            return JSONResponse({"error": "The X-Sandbox-Admin-Token header is missing or wrong."}, status_code=403)
        action = request.path_params["action"]
        if action == "revoke-tokens":
            services.issuer.revoke_all()
            return JSONResponse({"revoked": True})
        if action == "shift-clock":
            body = orjson.loads(await request.body() or b"{}")
            services.state.clock_offset += timedelta(days=float(body.get("days", 0)))
            return JSONResponse({"clock_offset_days": services.state.clock_offset.total_seconds() / 86400})
        return JSONResponse({"error": f"Unknown action '{action}'."}, status_code=404)

    routes = [
        *identity_routes(services.issuer),
        Route("/_sandbox/faults", admin_faults, methods=["GET", "PUT"]),
        Route("/_sandbox/{action}", admin_action, methods=["POST"]),
        Route(API_ROOT.rstrip("/"), web_api, methods=["GET"]),
        Route(API_ROOT + "{path:path}", web_api, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
    ]
    return Starlette(routes=routes)


def _base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


async def _web_api(services: SandboxServices, engine: Engine, request: Request) -> Response:
    request_id = str(uuid.uuid4())
    base_url = _base_url(request)
    decision = services.faults.decide()
    if decision.latency_s:
        await asyncio.sleep(decision.latency_s)
    if decision.unavailable:
        error = DataverseError(503, "0x80040216", "The service is temporarily unavailable. Try again later.")
        return _to_response(error_response(error), request_id, services)
    if decision.throttle:
        seconds = services.faults.config.throttle_retry_after_s
        error = DataverseError(
            429,
            "0x80072322",
            "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
            headers={"Retry-After": str(seconds)},
        )
        return _to_response(error_response(error), request_id, services)
    token = _bearer(request)
    try:
        if token is None:
            raise DataverseError(401, "0x80044302", "Request is not authenticated.")
        claims = services.issuer.verify(token, audience=base_url)
        caller_id = services.state.storage.scalar(
            'SELECT systemuserid FROM "systemuser" WHERE applicationid = ?', (claims.client_id.lower(),)
        )
        if caller_id is None:
            raise DataverseError(
                403,
                "0x80072560",
                f"The user is not a member of the organization. Application '{claims.client_id}' has no "
                "application user.",
            )
    except DataverseError as error:
        response = error_response(error)
        if error.status == 401:
            response.body = b""
            response.headers.set("WWW-Authenticate", bearer_challenge(base_url, services.issuer.tenant_id))
        return _to_response(response, request_id, services)
    user_id = str(caller_id)
    try:
        services.protection.admit(user_id)
    except DataverseError as error:
        return _to_response(error_response(error), request_id, services)
    started = time.perf_counter()
    try:
        api_request = ApiRequest(
            method=request.method,
            path=request.path_params.get("path", ""),
            raw_query=request.url.query,
            headers=Headers(list(request.headers.items())),
            body=await request.body(),
            caller_id=user_id,
            base_url=base_url,
        )
        api_response = engine.handle(api_request)
    finally:
        services.protection.release(user_id, (time.perf_counter() - started) * 1000)
    http_response = _to_response(api_response, request_id, services)
    remaining = str(services.protection.remaining_requests(user_id))
    http_response.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] = remaining
    if decision.reset and len(api_response.body) > 16:
        return _ResettingResponse(api_response.body, http_response)
    return http_response


def _bearer(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _to_response(api_response: ApiResponse, request_id: str, services: SandboxServices) -> Response:
    headers = dict(api_response.headers.items())
    headers.setdefault("OData-Version", "4.0")
    headers["REQ_ID"] = request_id
    headers["x-ms-service-request-id"] = request_id
    headers["x-ms-dop-hint"] = str(services.state.config.dop_hint)
    media_type = headers.pop("Content-Type", None)
    return Response(api_response.body, status_code=api_response.status, headers=headers, media_type=media_type)


class _ResettingResponse(Response):
    """Sends the headers and half of the body, then drops the connection (fault: reset mid-body)."""

    def __init__(self, body: bytes, template: Response) -> None:
        super().__init__(body, status_code=template.status_code, headers=dict(template.headers))
        self._half = body[: len(body) // 2]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        del scope, receive
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self._half, "more_body": True})
        raise _ResetConnectionError("Injected fault: connection reset in the middle of the body.")
