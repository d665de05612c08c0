"""What the Web API's handlers of bound functions and bulk actions need from the request engine that dispatches
to them, as a protocol, so that they do not import the engine that imports them."""

from __future__ import annotations

from typing import Protocol

from salesbridge.sandbox.odata.messages import ApiRequest
from salesbridge.sandbox.odata.paths import unquote_literal
from salesbridge.sandbox.organization.state import SandboxState


class RequestContext(Protocol):
    """The dispatching engine, as the handlers see it."""

    @property
    def state(self) -> SandboxState:
        """The organization's state the request works on."""
        ...

    def api_url(self, request: ApiRequest) -> str:
        """The Web API's root URL as the caller addressed it (``…/api/data/v9.2/``)."""
        ...


def function_parameter(request: ApiRequest, raw: str) -> str:
    """Resolve a function parameter literal, following ``@p1`` aliases to the query string."""
    value = raw.strip()
    if value.startswith("@"):
        for name, alias_value in request.query:
            if name == value:
                return alias_value
        return ""
    return unquote_literal(value)
