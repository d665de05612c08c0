"""The web console: a FastAPI app with a JSON API under ``/api/v1`` and server-rendered pages under ``/``.

* OpenAPI: ``/api/v1/openapi.json`` (the interactive docs pages are off: they load assets from a CDN).
* Static files: ``/static`` (hand-written CSS, no third-party assets).
* Every route declares one :class:`~salesbridge.web.security.Permission`; see :mod:`salesbridge.web.security`.
* Security headers on every response, errors and 500s included (the outermost layer): a strict CSP
  (``default-src 'self'``, no inline script, no framing), ``nosniff``, ``Referrer-Policy: same-origin``; HSTS when
  served over HTTPS.
* Before any route (authentication included): request size bounds (:mod:`salesbridge.web.request_limits`: 413,
  431) and trusted hosts (a ``Host`` other than the public base URL's or an allowed host: 400).

Adding an area: write ``web/api/<area>.py`` and/or ``web/ui/<area>.py`` each exposing ``router`` (an
``APIRouter``), and add it to :data:`ROUTERS` below — one line.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final, Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salesbridge.errors import (
    AccountError,
    AdministratorRequiredError,
    ConsoleAccessError,
    CrmError,
    DifferentCrmOrganizationError,
    InvalidRequestError,
    NotAuthenticatedError,
    RowNotFoundError,
    SeatLimitError,
    SessionRequiredError,
    TryAgainLaterError,
)
from salesbridge.i18n import N_
from salesbridge.web.admission import PasswordCheckAdmission
from salesbridge.web.api import account as api_account
from salesbridge.web.api import activities as api_activities
from salesbridge.web.api import crm as api_crm
from salesbridge.web.api import jobs as api_jobs
from salesbridge.web.api import lists as api_lists
from salesbridge.web.api import matching as api_matching
from salesbridge.web.api import organization as api_organization
from salesbridge.web.api import people as api_people
from salesbridge.web.api import seats as api_seats
from salesbridge.web.api import sync as api_sync
from salesbridge.web.api import writeback as api_writeback
from salesbridge.web.context import DEFAULT_PUBLIC_BASE_URL, ConsoleConfig, ConsoleServices
from salesbridge.web.request_limits import RequestLimitsMiddleware
from salesbridge.web.security import PublicPrincipal, is_api_request, request_auth
from salesbridge.web.templating import render
from salesbridge.web.ui import account as ui_account
from salesbridge.web.ui import admin as ui_admin
from salesbridge.web.ui import crm_settings as ui_crm_settings
from salesbridge.web.ui import disconnect as ui_disconnect
from salesbridge.web.ui import favicon as ui_favicon
from salesbridge.web.ui import jobs as ui_jobs
from salesbridge.web.ui import lists as ui_lists
from salesbridge.web.ui import matching as ui_matching
from salesbridge.web.ui import people as ui_people
from salesbridge.web.ui import reports as ui_reports
from salesbridge.web.ui import seats as ui_seats
from salesbridge.web.ui import sync as ui_sync
from salesbridge.web.ui import sync_health as ui_sync_health
from salesbridge.web.ui import uploads as ui_uploads
from salesbridge.web.ui import writeback as ui_writeback

__all__ = ["ROUTERS", "ConsoleServices", "create_app"]

STATIC_DIR: Final = Path(__file__).parent / "static"
OPENAPI_URL: Final = "/api/v1/openapi.json"

health_router = APIRouter()


@health_router.get("/healthz", include_in_schema=False)
def healthz(_principal: PublicPrincipal) -> dict[str, str]:
    """Liveness: the app answers. Touches nothing else."""
    return {"status": "ok"}


ROUTERS: Final[tuple[APIRouter, ...]] = (
    health_router,
    ui_favicon.router,
    api_account.router,
    api_organization.router,
    api_seats.router,
    api_crm.router,
    ui_account.router,
    ui_admin.router,
    ui_seats.router,
    api_sync.router,
    ui_sync.router,
    ui_crm_settings.router,
    ui_disconnect.router,
    api_lists.router,
    ui_lists.router,
    api_jobs.router,
    ui_jobs.router,
    api_people.router,
    api_matching.router,
    api_activities.router,
    api_writeback.router,
    ui_uploads.router,
    ui_people.router,
    ui_matching.router,
    ui_writeback.router,
    ui_sync_health.router,
    ui_reports.router,
)
"""Every router of the console, API and pages. Add one line per new area."""

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    """Adds the security headers to every response (pure ASGI, so streaming and static files keep working)."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self._app = app
        self._headers: list[tuple[bytes, bytes]] = [
            (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if hsts:
            self._headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_with_headers(event: Message) -> None:
            if event["type"] == "http.response.start":
                present = {name.lower() for name, _value in event.get("headers", [])}
                extra = [(name, value) for name, value in self._headers if name not in present]
                event["headers"] = [*event.get("headers", []), *extra]
            await send(event)

        await self._app(scope, receive, send_with_headers)


class BackgroundService(Protocol):
    """Something that runs beside the app (the import runner): started with it, stopped with it."""

    def start(self) -> None:
        """Start; idempotent."""
        ...

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop and wait; idempotent."""
        ...


_TOO_LARGE_RESPONSE: Final = {
    "description": "The request body is larger than the route accepts.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
}


class _ConsoleApp(FastAPI):
    """FastAPI, wrapped in the layers that must see every request and every response first: Starlette puts
    ``add_middleware`` layers inside its ServerErrorMiddleware, whose 500s would then lack the security headers,
    and the request bounds and host check must come before anything reads the request."""

    def build_middleware_stack(self) -> ASGIApp:
        config: ConsoleConfig = self.state.console_config
        stack = super().build_middleware_stack()
        stack = TrustedHostMiddleware(stack, allowed_hosts=config.trusted_hosts, www_redirect=False)
        stack = RequestLimitsMiddleware(stack)
        return SecurityHeadersMiddleware(stack, hsts=config.secure_cookies)

    def openapi(self) -> dict[str, Any]:
        """FastAPI's document, with 413 on every operation that takes a body: the request bounds answer it in front
        of every route (found by schemathesis: a long list of ids got a 413 its operation did not document)."""
        if self.openapi_schema is not None:
            return self.openapi_schema
        document = super().openapi()  # cached by FastAPI: changed in place once
        for item in document.get("paths", {}).values():
            for operation in item.values():
                if isinstance(operation, dict) and "requestBody" in operation:
                    operation["responses"].setdefault("413", _TOO_LARGE_RESPONSE)
        return document


def create_app(
    services: ConsoleServices,
    *,
    secure_cookies: bool = True,
    background: Sequence[BackgroundService] = (),
    public_base_url: str = DEFAULT_PUBLIC_BASE_URL,
    allowed_hosts: Sequence[str] = (),
) -> FastAPI:
    """The console app calling ``services``.

    Args:
        secure_cookies: Serve cookies ``Secure`` with the ``__Host-`` prefix, and send HSTS. Turn off only for
            plain HTTP on the loopback interface (local use and browser tests).
        background: Started when the app starts serving, stopped when it shuts down.
        public_base_url: The console's public address; absolute links start with it, and its host is trusted.
        allowed_hosts: Other ``Host`` names to answer; any other gets 400.
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for service in background:
            service.start()
        try:
            yield
        finally:
            for service in background:
                service.stop()

    app = _ConsoleApp(
        lifespan=lifespan,
        title="salesbridge console API",
        version="1",
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.services = services
    app.state.password_checks = PasswordCheckAdmission()
    app.state.console_config = ConsoleConfig(
        secure_cookies=secure_cookies, public_base_url=public_base_url, allowed_hosts=tuple(allowed_hosts)
    )
    app.add_exception_handler(ConsoleAccessError, _access_refused)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _unreadable_request)  # type: ignore[arg-type]
    app.add_exception_handler(AccountError, _account_error)  # type: ignore[arg-type]
    app.add_exception_handler(RowNotFoundError, _not_found)  # type: ignore[arg-type]
    app.add_exception_handler(InvalidRequestError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(TryAgainLaterError, _try_again_later)  # type: ignore[arg-type]
    app.add_exception_handler(CrmError, _crm_unavailable)  # type: ignore[arg-type]
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


_ERROR_TITLES = {
    403: N_("You don't have access to this page"),
    404: N_("Page not found"),
    422: N_("The form could not be sent"),
}
_ERROR_TEXTS = {
    403: N_("This page is for administrators of your organization. Ask an administrator if you need access."),
    404: N_("The page you asked for doesn't exist, or you don't have access to it."),
    422: N_(
        "A field holds a value the console does not accept: too long, or not of the kind expected. Go back, "
        "correct it and send the form again."
    ),
}


def error_page(request: Request, status_code: int) -> Response:
    """The 403, 404 or 422 page (other codes show the 404 wording's title with their own status)."""
    auth = request_auth(request)
    principal = auth.principal if auth is not None else None
    return render(
        request,
        "error.html",
        {
            "status_code": status_code,
            "title_id": _ERROR_TITLES.get(status_code, _ERROR_TITLES[404]),
            "text_id": _ERROR_TEXTS.get(status_code, _ERROR_TEXTS[404]),
        },
        principal=principal,
        status_code=status_code,
    )


async def _access_refused(request: Request, exc: ConsoleAccessError) -> Response:
    if is_api_request(request):
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticatedError) else None
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
    if isinstance(exc, NotAuthenticatedError):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(ui_account.sign_in_url(target), status_code=303)
    return error_page(request, exc.status_code)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI's 400 for a JSON body that is not UTF-8
        return _unreadable([{"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error", "input": {}}])
    if is_api_request(request) or exc.status_code not in (403, 404):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    return error_page(request, exc.status_code)


async def _unreadable_request(request: Request, exc: RequestValidationError) -> Response:
    problems = jsonable_encoder(exc.errors())
    if not is_api_request(request) and request.method in ("GET", "HEAD") and _only_in_the_address(problems):
        # A console address whose id or page number cannot be read (a link cut short, a typo) names no page:
        # the console's "Page not found", not FastAPI's JSON. (Sign-in was required before parameters are read.)
        return error_page(request, 404)
    if not is_api_request(request) and request.method == "POST":
        # A console form with a value its route refuses before any use case sees it (a 300-character tenant id,
        # a hidden id edited): a page saying so, not FastAPI's JSON (found by sending every form field 60 kB).
        return error_page(request, 422)
    return _unreadable(problems)


def _only_in_the_address(problems: list[Any]) -> bool:
    return all(isinstance(problem, dict) and problem.get("loc", ("",))[0] in ("path", "query") for problem in problems)


def _unreadable(problems: list[Any]) -> Response:
    """422 with FastAPI's list of problems, each refused value echoed only as text UTF-8 can carry (a lone
    surrogate echoed as is made the response itself fail, with a 500)."""
    return JSONResponse({"detail": _encodable(problems)}, status_code=422)


def _encodable(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_encodable(key): _encodable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_encodable(item) for item in value]
    return value


async def _account_error(request: Request, exc: AccountError) -> Response:
    status_code = 403 if isinstance(exc, AdministratorRequiredError | SessionRequiredError) else 422
    if is_api_request(request):
        auth = request_auth(request)
        locale = auth.principal.locale if auth is not None and auth.principal is not None else "en"
        return JSONResponse({"detail": exc.localized(locale)}, status_code=status_code)
    if status_code == 403:
        return error_page(request, 403)
    return JSONResponse({"detail": str(exc)}, status_code=status_code)


async def _not_found(request: Request, exc: RowNotFoundError) -> Response:  # noqa: ARG001
    if is_api_request(request):
        return JSONResponse({"detail": "Not found."}, status_code=404)
    return error_page(request, 404)


async def _invalid_request(request: Request, exc: InvalidRequestError) -> Response:
    auth = request_auth(request)
    locale = auth.principal.locale if auth is not None and auth.principal is not None else "en"
    body: dict[str, object] = {"detail": exc.localized(locale)}
    if isinstance(exc, SeatLimitError):
        body |= {"seats_left": exc.seats_left, "requested": exc.requested}
        return JSONResponse(body, status_code=409)
    if isinstance(exc, DifferentCrmOrganizationError):  # purge the other organization's data first
        return JSONResponse(body, status_code=409)
    return JSONResponse(body, status_code=422)


async def _try_again_later(request: Request, exc: TryAgainLaterError) -> Response:
    auth = request_auth(request)
    locale = auth.principal.locale if auth is not None and auth.principal is not None else "en"
    return JSONResponse(
        {"detail": exc.localized(locale), "retry_after_s": math.ceil(exc.retry_after_s)},
        status_code=ui_account.try_again_later_status(exc),
        headers=ui_account.retry_after_header(exc),
    )


async def _crm_unavailable(request: Request, exc: CrmError) -> Response:  # noqa: ARG001
    # The CRM's own words (no token, no secret: the connector's errors never carry them).
    return JSONResponse({"detail": exc.message, "crm_status": exc.status, "crm_code": exc.code}, status_code=502)
