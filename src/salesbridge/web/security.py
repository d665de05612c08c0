"""Who may call a route, and the checks every request passes: authentication, organization scope, permission, CSRF.

Every route declares exactly one :class:`Permission` by depending on :func:`require`::

    @router.get("/api/v1/orgs/{org}/users")
    def users(principal: AdminPrincipal, services: Services) -> list[UserOut]: ...

The dependency, in order:

1. **Authenticates**: an ``Authorization: Bearer sb_…`` API token (API routes only, under ``/api/``), else the
   session cookie. Nobody, on a route other than PUBLIC → :class:`NotAuthenticatedError` (API: 401 JSON; pages: 303
   to ``/sign-in?next=<path>``).
2. **Scopes**: when the path has ``{org}``, it must be the principal's organization slug, else
   :class:`ConsoleNotFoundError` (404: other organizations are never revealed, not even as "forbidden").
3. **Authorizes**: SEAT_HOLDER needs a seat (administrators pass too), ADMIN needs an administrator, else
   :class:`ForbiddenError` (API: 403 JSON; pages: a 403 page).
4. **Checks CSRF** on POST, PUT, PATCH and DELETE: a cookie-authenticated request must carry its session's token
   in the ``X-CSRF-Token`` header or the ``csrf_token`` form field; an anonymous request (PUBLIC forms such as
   sign-in) must carry the double-submit token of the :data:`CSRF_COOKIE` cookie. Bearer-token requests are
   exempt (a browser never adds that header by itself). A missing or wrong token → :class:`CsrfRejectedError` (403).

What the dependency learned is kept on ``request.state.auth`` (:class:`RequestAuth`) for the templates.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from salesbridge.errors import ConsoleNotFoundError, CsrfRejectedError, ForbiddenError, NotAuthenticatedError
from salesbridge.services.accounts import Principal
from salesbridge.web.context import ConsoleServices, console_config, console_services


class Permission(StrEnum):
    """What a caller must be to use a route."""

    PUBLIC = "public"
    """Anyone, signed in or not."""
    SIGNED_IN = "signed_in"
    """Any user of an organization."""
    SEAT_HOLDER = "seat_holder"
    """A user holding a seat of the contract; administrators too."""
    ADMIN = "admin"
    """An administrator of the organization."""


UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER: Final = "X-CSRF-Token"
CSRF_FIELD: Final = "csrf_token"
API_PREFIX: Final = "/api/"


def session_cookie_name(secure: bool) -> str:
    """The session cookie: ``__Host-`` prefixed (Secure, Path=/, no Domain) when served over HTTPS."""
    return "__Host-salesbridge_session" if secure else "salesbridge_session"


def csrf_cookie_name(secure: bool) -> str:
    """The double-submit CSRF cookie of anonymous forms."""
    return "__Host-salesbridge_csrf" if secure else "salesbridge_csrf"


@dataclass(frozen=True)
class RequestAuth:
    """What :func:`require` learned about a request.

    Attributes:
        principal: Who is signed in, or None.
        csrf_token: The token forms of this request's page must carry: the session's, or (anonymous) the
            double-submit cookie's.
        set_csrf_cookie: The anonymous double-submit token is new and must be set as :func:`csrf_cookie_name`.
        via_bearer: Authenticated by an API token.
    """

    principal: Principal | None
    csrf_token: str
    set_csrf_cookie: bool = False
    via_bearer: bool = False


def is_api_request(request: Request) -> bool:
    """True for the JSON API (answers in JSON, accepts API tokens)."""
    return request.url.path.startswith(API_PREFIX)


_bearer = HTTPBearer(auto_error=False, description="An API token, `sb_…`, created on the Account page.")


def _authenticate(
    request: Request, services: ConsoleServices, bearer: HTTPAuthorizationCredentials | None
) -> RequestAuth:
    secure = console_config(request).secure_cookies
    if bearer is not None and is_api_request(request):
        principal = services.accounts.principal_for_api_token(bearer.credentials)
        if principal is None:
            raise NotAuthenticatedError
        return RequestAuth(principal, csrf_token="", via_bearer=True)
    session_token = request.cookies.get(session_cookie_name(secure))
    context = services.accounts.session(session_token) if session_token else None
    if context is not None:
        return RequestAuth(context.principal, context.csrf_token)
    existing = request.cookies.get(csrf_cookie_name(secure))
    if existing:
        return RequestAuth(None, existing)
    return RequestAuth(None, secrets.token_urlsafe(32), set_csrf_cookie=True)


async def _submitted_csrf_token(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def _expected_csrf_tokens(request: Request, auth: RequestAuth, permission: Permission) -> list[str]:
    expected = [] if auth.set_csrf_cookie else [auth.csrf_token]
    if permission is Permission.PUBLIC and auth.principal is not None:
        # A PUBLIC form (sign-in) rendered before this browser signed in carries the double-submit token.
        double_submit = request.cookies.get(csrf_cookie_name(console_config(request).secure_cookies))
        if double_submit:
            expected.append(double_submit)
    return [token for token in expected if token]


def _csrf_matches(submitted: str, expected: list[str]) -> bool:
    matches = [secrets.compare_digest(submitted.encode(), token.encode()) for token in expected]
    return bool(submitted) and any(matches)


PermissionDependency = Callable[..., Awaitable[Principal | None]]


def require(permission: Permission) -> PermissionDependency:
    """A FastAPI dependency that enforces ``permission`` (see the module docstring) and returns the principal.

    For PUBLIC it returns the signed-in principal or None; otherwise a :class:`Principal`. The returned callable
    carries ``__permission__`` so route audits can read what each route declares.

    Raises (to the app's handlers):
        NotAuthenticatedError, ConsoleNotFoundError, ForbiddenError, CsrfRejectedError.
    """

    async def dependency(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal | None:
        services = console_services(request)
        auth = await run_in_threadpool(_authenticate, request, services, bearer)
        request.state.auth = auth
        principal = auth.principal
        if principal is None and permission is not Permission.PUBLIC:
            raise NotAuthenticatedError
        if principal is not None and permission is not Permission.PUBLIC:
            org = request.path_params.get("org")
            if org is not None and org != principal.organization_slug:
                raise ConsoleNotFoundError
            if permission is Permission.ADMIN and not principal.is_admin:
                raise ForbiddenError
            if permission is Permission.SEAT_HOLDER and not (principal.has_seat or principal.is_admin):
                raise ForbiddenError
        if request.method in UNSAFE_METHODS and not auth.via_bearer:
            expected = _expected_csrf_tokens(request, auth, permission)
            if not _csrf_matches(await _submitted_csrf_token(request), expected):
                raise CsrfRejectedError
        return principal

    dependency.__permission__ = permission  # type: ignore[attr-defined]
    dependency.__name__ = f"require_{permission.value}"
    dependency.__qualname__ = dependency.__name__
    return dependency


def declared_permissions(call: Any) -> Permission | None:
    """The permission a dependency callable declares through :func:`require`, or None."""
    value = getattr(call, "__permission__", None)
    return value if isinstance(value, Permission) else None


require_public = require(Permission.PUBLIC)
require_signed_in = require(Permission.SIGNED_IN)
require_seat_holder = require(Permission.SEAT_HOLDER)
require_admin = require(Permission.ADMIN)

PublicPrincipal = Annotated[Principal | None, Depends(require_public)]
"""A PUBLIC route: the signed-in principal, or None."""
SignedInPrincipal = Annotated[Principal, Depends(require_signed_in)]
"""A SIGNED_IN route."""
SeatHolderPrincipal = Annotated[Principal, Depends(require_seat_holder)]
"""A SEAT_HOLDER route."""
AdminPrincipal = Annotated[Principal, Depends(require_admin)]
"""An ADMIN route."""
Services = Annotated[ConsoleServices, Depends(console_services)]
"""The console's services (no permission of its own)."""


def request_auth(request: Request) -> RequestAuth | None:
    """What :func:`require` stored on the request, or None when it did not run (static files, 404s)."""
    auth = getattr(request.state, "auth", None)
    return auth if isinstance(auth, RequestAuth) else None
