"""Every route of the console declares exactly one permission, and each declaration is enforced.

Routes are discovered from the app, so routes added later (seats, CRM settings…) are covered without editing this
file. Path parameters get dummy values (``{org}`` the signed-in organization's slug, anything else a random UUID,
or ``1`` for integers).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from tests.integration.web.conftest import ACME_ADMIN, ACME_GUEST, ACME_SELLER, GLOBEX_ADMIN, Browser, Console, Person

from salesbridge.web.security import UNSAFE_METHODS, Permission, declared_permissions

NOT_ROUTES_OF_OURS = {"/static", "/api/v1/openapi.json"}
"""The static files mount and the OpenAPI document: public by nature, declared here explicitly."""


def _permissions(dependant: Dependant) -> list[Permission]:
    found = []
    for dependency in dependant.dependencies:
        permission = declared_permissions(dependency.call)
        if permission is not None:
            found.append(permission)
        found.extend(_permissions(dependency))
    return found


@dataclass(frozen=True)
class RouteInfo:
    """A route as the app serves it (with the prefix and dependencies of the routers that include it)."""

    path: str
    methods: frozenset[str]
    dependant: Dependant | None
    """None for routes that are not API routes (mounts, the OpenAPI document)."""


def routes_of(app: FastAPI) -> Iterator[RouteInfo]:
    """Every route of ``app``, included routers flattened (FastAPI wraps them lazily in recent versions)."""
    contexts: Any = getattr(fastapi.routing, "iter_route_contexts", lambda routes: routes)(app.routes)
    for context in contexts:
        original = getattr(context, "original_route", context)
        dependant = context.dependant if isinstance(original, APIRoute) else None
        methods = frozenset(getattr(context, "methods", None) or ())
        yield RouteInfo(str(context.path), methods, dependant)


@dataclass(frozen=True)
class Endpoint:
    """One method of one route, with its declared permission."""

    method: str
    path: str
    dependant: Dependant
    permission: Permission

    def url(self, org: str = "acme") -> str:
        """The path with dummy parameter values."""
        url = self.path
        for param in self.dependant.path_params:
            value = org if param.name == "org" else ("1" if param.field_info.annotation is int else str(uuid.uuid4()))
            url = url.replace("{" + param.name + "}", value).replace("{" + param.name + ":path}", value)
        return url

    @property
    def is_api(self) -> bool:
        """Part of the JSON API."""
        return self.path.startswith("/api/")

    @property
    def is_unsafe(self) -> bool:
        """Changes state."""
        return self.method in UNSAFE_METHODS

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.permission}]"


def endpoints(console: Console) -> Iterator[Endpoint]:
    """Every method of every API route of the app."""
    for route in routes_of(console.app):
        if route.dependant is not None:
            permissions = _permissions(route.dependant)
            assert len(permissions) == 1, f"{route.path} declares {permissions}"
            for method in sorted(route.methods - {"HEAD"}):
                yield Endpoint(method, route.path, route.dependant, permissions[0])


def test_every_route_declares_exactly_one_permission(console: Console) -> None:
    undeclared = []
    for route in routes_of(console.app):
        if route.dependant is not None:
            count = len(_permissions(route.dependant))
            if count != 1:
                undeclared.append(f"{route.path}: {count} permissions declared")
        elif route.path not in NOT_ROUTES_OF_OURS:
            undeclared.append(f"{route.path} is not an API route with a declared permission")

    assert undeclared == []
    found = {endpoint.path for endpoint in endpoints(console)}
    assert {"/api/v1/me", "/sign-in", "/", "/admin/audit", "/healthz"} <= found


def _request(browser: Browser, endpoint: Endpoint, *, org: str = "acme", with_csrf: bool) -> int:
    kwargs: dict[str, object] = {"follow_redirects": False}
    if endpoint.is_unsafe and with_csrf:
        kwargs["data"] = browser.csrf_data()
        kwargs["headers"] = browser.csrf_headers()
    response = browser.client.request(endpoint.method, endpoint.url(org), **kwargs)  # type: ignore[arg-type]
    return response.status_code


def test_anonymous_callers_are_sent_to_sign_in(console: Console, browser: Callable[[Person | None], Browser]) -> None:
    anonymous = browser(None)
    wrong = []
    for endpoint in endpoints(console):
        if endpoint.permission is Permission.PUBLIC:
            continue
        response = anonymous.client.request(endpoint.method, endpoint.url(), follow_redirects=False)
        if endpoint.is_api:
            ok = response.status_code == 401 and response.json() == {"detail": "Not authenticated."}
        else:
            ok = response.status_code == 303 and response.headers["location"].startswith("/sign-in")
        if not ok:
            wrong.append(f"{endpoint}: {response.status_code}")

    assert wrong == []


def test_sellers_are_refused_admin_routes_and_guests_seat_holder_routes(
    console: Console, browser: Callable[[Person | None], Browser]
) -> None:
    seller, guest = browser(ACME_SELLER), browser(ACME_GUEST)
    wrong = []
    checked = 0
    for endpoint in endpoints(console):
        if endpoint.permission is Permission.ADMIN:
            status = _request(seller, endpoint, with_csrf=True)
        elif endpoint.permission is Permission.SEAT_HOLDER:
            status = _request(guest, endpoint, with_csrf=True)
        else:
            continue
        checked += 1
        if status != 403:
            wrong.append(f"{endpoint}: {status}")

    assert wrong == []
    assert checked > 0


def test_other_organizations_routes_are_not_found(
    console: Console, browser: Callable[[Person | None], Browser]
) -> None:
    outsider = browser(GLOBEX_ADMIN)
    wrong = []
    checked = 0
    for endpoint in endpoints(console):
        if "{org}" not in endpoint.path or endpoint.permission is Permission.PUBLIC:
            continue
        checked += 1
        status = _request(outsider, endpoint, org="acme", with_csrf=True)
        if status != 404:
            wrong.append(f"{endpoint}: {status}")

    assert wrong == []
    assert checked > 0


def test_state_changing_routes_need_the_csrf_token(
    console: Console, browser: Callable[[Person | None], Browser]
) -> None:
    admin, anonymous = browser(ACME_ADMIN), browser(None)
    anonymous.client.get("/sign-in")  # the double-submit cookie is set, but the form token is left out
    wrong = []
    checked = 0
    for endpoint in endpoints(console):
        if not endpoint.is_unsafe:
            continue
        checked += 1
        caller = anonymous if endpoint.permission is Permission.PUBLIC else admin
        status = _request(caller, endpoint, with_csrf=False)
        if status != 403:
            wrong.append(f"{endpoint}: {status}")
        wrong_token = caller.client.request(
            endpoint.method,
            endpoint.url(),
            data={"csrf_token": "forged"},
            headers={"X-CSRF-Token": "forged"},
            follow_redirects=False,
        )
        if wrong_token.status_code != 403:
            wrong.append(f"{endpoint} with a forged token: {wrong_token.status_code}")

    assert wrong == []
    assert checked > 0
