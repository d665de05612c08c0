"""The identity provider over HTTP, and the bearer challenge of the Web API's 401.

:func:`identity_routes` serves the paths MSAL for Python and azure-identity request when instance discovery is
disabled (``instance_discovery=False`` / ``disable_instance_discovery=True``):

- ``GET  /{tenant}/v2.0/.well-known/openid-configuration`` — OpenID discovery (MSAL reads
  ``authorization_endpoint`` and ``token_endpoint`` from it),
- ``POST /{tenant}/oauth2/v2.0/token`` — the token endpoint (form-encoded; ``client_secret`` in the body or
  HTTP Basic, or an RFC 7523 ``client_assertion`` signed with a registered certificate),
- ``GET  /{tenant}/discovery/v2.0/keys`` — the signing keys (JWKS),
- ``GET  /common/discovery/instance`` — instance discovery, for a client pointed at it explicitly.

Every URL in the answers is built from the request's own scheme, host and port, so the documents are right
whatever port the sandbox listens on. Nothing here contacts Microsoft.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from salesbridge.sandbox.identity.tokens import TokenIssuer, TokenRequestError

_JSON = "application/json; charset=utf-8"
_NO_STORE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


def bearer_challenge(base_url: str, tenant_id: str) -> str:
    """The ``WWW-Authenticate`` value of a Web API 401, as Dataverse sends it.

    Args:
        base_url: The org URL, which also serves the authority (``https://host:port``).
        tenant_id: The tenant id.

    Returns:
        ``Bearer authorization_uri=<base>/<tenant>/oauth2/authorize, resource_id=<base>/``.
    """
    base = base_url.rstrip("/")
    return f"Bearer authorization_uri={base}/{tenant_id}/oauth2/authorize, resource_id={base}/"


def identity_routes(issuer: TokenIssuer) -> list[BaseRoute]:
    """The HTTP endpoints of the identity provider, to mount at the root of the sandbox app.

    Args:
        issuer: The token service behind them.

    Returns:
        Routes for OpenID discovery, the token endpoint, the JWKS and instance discovery (see the module
        docstring). Only the issuer's tenant id is served; other tenants get Entra's AADSTS90002.
    """

    async def openid_configuration(request: Request) -> Response:
        try:
            _check_tenant(issuer, request.path_params["tenant"], error="invalid_tenant")
        except TokenRequestError as failure:
            return _error_response(issuer, request, failure)
        return _json(issuer.openid_configuration(_base_url(request)))

    async def keys(request: Request) -> Response:
        try:
            _check_tenant(issuer, request.path_params["tenant"], error="invalid_tenant")
        except TokenRequestError as failure:
            return _error_response(issuer, request, failure)
        return _json(issuer.jwks())

    async def token(request: Request) -> Response:
        base = _base_url(request)
        try:
            _check_tenant(issuer, request.path_params["tenant"], error="invalid_request")
            form = _form_fields(request.headers.get("content-type", ""), await request.body())
            answer = issuer.token_request(
                form,
                token_endpoint=f"{base}{request.url.path}",
                authority=base,
                authorization=request.headers.get("authorization"),
            )
        except TokenRequestError as failure:
            return _error_response(issuer, request, failure)
        return _json(answer, headers=_NO_STORE)

    async def instance_discovery(request: Request) -> Response:
        base = _base_url(request)
        endpoint = request.query_params.get("authorization_endpoint") or f"{base}/common/oauth2/authorize"
        parts = urlsplit(endpoint)
        if parts.netloc.lower() != request.url.netloc.lower():
            failure = TokenRequestError(400, "invalid_instance", 50049, "Unknown or invalid instance.")
            return _error_response(issuer, request, failure)
        tenant = parts.path.strip("/").split("/", 1)[0] or "common"
        host = request.url.netloc
        aliases = list(dict.fromkeys([host, request.url.hostname or host]))
        return _json(
            {
                "tenant_discovery_endpoint": f"{base}/{tenant}/v2.0/.well-known/openid-configuration",
                "api-version": request.query_params.get("api-version", "1.1"),
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": aliases}],
            }
        )

    return [
        Route("/common/discovery/instance", instance_discovery, methods=["GET"]),
        Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
        Route("/{tenant}/discovery/v2.0/keys", keys, methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
    ]


# -- helpers ---------------------------------------------------------------------------------------------


def _check_tenant(issuer: TokenIssuer, tenant: str, *, error: str) -> None:
    if tenant.lower() != issuer.tenant_id:
        raise TokenRequestError(
            400,
            error,
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into "
            "the correct cloud.",
        )


def _base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _json(payload: Mapping[str, Any], *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, headers=dict(headers or {}), media_type=_JSON)


def _error_response(issuer: TokenIssuer, request: Request, failure: TokenRequestError) -> Response:
    correlation = request.headers.get("client-request-id")
    if correlation is not None and not _is_guid(correlation):
        correlation = None
    body = failure.body(now=issuer.now(), correlation_id=correlation)
    headers = {**_NO_STORE, "x-ms-request-id": body["trace_id"]}
    if correlation:
        headers["client-request-id"] = correlation
    return _json(body, status=failure.status, headers=headers)


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The first value of each field of a form-encoded body (anything else reads as an empty form)."""
    if content_type.split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        return {}
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
