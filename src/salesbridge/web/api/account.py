"""``/api/v1/me``: the caller's own account, language and API tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import Field

from salesbridge.services.accounts import (
    API_TOKEN_LIFETIME_CHOICES_DAYS,
    API_TOKEN_LIFETIME_DAYS,
    TOKEN_USE_GRANULARITY,
    ApiTokenView,
    Principal,
)
from salesbridge.web.api.schemas import ApiInput, ApiModel, ErrorOut, errors
from salesbridge.web.security import Services, SignedInPrincipal

router = APIRouter(prefix="/api/v1", tags=["account"], responses=errors(401))
_CHANGES = errors(401, 403, 422)
"""A change can also be refused for a session's request without its CSRF token (403), or a bad value (422)."""

_GRANULARITY_MINUTES = int(TOKEN_USE_GRANULARITY.total_seconds() // 60)


class MeOut(ApiModel):
    """The signed-in user."""

    organization: str = Field(description="The organization's slug.")
    user_id: uuid.UUID
    email: str
    display_name: str
    is_admin: bool
    has_seat: bool = Field(description="The user holds a seat of the organization's contract.")
    locale: Literal["en", "es"]

    @classmethod
    def of(cls, principal: Principal) -> MeOut:
        """The view of ``principal``."""
        return cls(
            organization=principal.organization_slug,
            user_id=principal.user_id,
            email=principal.email,
            display_name=principal.display_name,
            is_admin=principal.is_admin,
            has_seat=principal.has_seat,
            locale="es" if principal.locale == "es" else "en",
        )


class ApiTokenOut(ApiModel):
    """An API token, without the token itself."""

    id: uuid.UUID
    name: str
    prefix: str = Field(description="The token's first characters, to tell tokens apart.")
    created_at: datetime
    last_used_at: datetime | None = Field(
        description=f"When it was last used, to within {_GRANULARITY_MINUTES} minutes; null if never."
    )
    expires_at: datetime = Field(description="After this moment the token is refused (401).")
    revoked_at: datetime | None
    is_active: bool = Field(description="Neither revoked nor expired.")

    @classmethod
    def of(cls, view: ApiTokenView) -> ApiTokenOut:
        """The view of ``view``."""
        return cls(
            id=view.id,
            name=view.name,
            prefix=view.prefix,
            created_at=view.created_at,
            last_used_at=view.last_used_at,
            expires_at=view.expires_at,
            revoked_at=view.revoked_at,
            is_active=view.is_active,
        )


class ApiTokenIn(ApiInput):
    """A token to create."""

    name: str = Field(min_length=1, max_length=100, description="What the token is for.")
    expires_in_days: int = Field(
        default=API_TOKEN_LIFETIME_DAYS,
        ge=1,
        le=API_TOKEN_LIFETIME_CHOICES_DAYS[-1],
        description="Days until the token expires.",
    )


class CreatedApiTokenOut(ApiModel):
    """A new token. ``token`` is shown only in this response: store it now."""

    token: str = Field(description="The token, `sb_…`; send it as `Authorization: Bearer <token>`.")
    api_token: ApiTokenOut


class LocaleIn(ApiInput):
    """The console language."""

    locale: Literal["en", "es"]


@router.get("/me", summary="The signed-in user")
def me(principal: SignedInPrincipal) -> MeOut:
    """Who the session or API token belongs to."""
    return MeOut.of(principal)


@router.get("/me/tokens", summary="My API tokens")
def list_tokens(principal: SignedInPrincipal, services: Services) -> list[ApiTokenOut]:
    """The caller's API tokens, revoked ones included, newest first."""
    return [ApiTokenOut.of(view) for view in services.accounts.list_api_tokens(principal)]


@router.post(
    "/me/tokens",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API token",
    responses={
        **_CHANGES,
        403: {
            "model": ErrorOut,
            "description": "The caller is authenticated by an API token (tokens cannot create tokens), or a "
            "session's request lacks its CSRF token.",
        },
    },
)
def create_token(
    body: ApiTokenIn, principal: SignedInPrincipal, services: Services, response: Response
) -> CreatedApiTokenOut:
    """Create a token acting as the caller, from a signed-in session (never with another token). The token is
    returned once and never again; the response is not to be cached (``Cache-Control: no-store``)."""
    view, secret = services.accounts.create_api_token(principal, body.name, expires_in_days=body.expires_in_days)
    response.headers["Cache-Control"] = "no-store"
    return CreatedApiTokenOut(token=secret.get_secret_value(), api_token=ApiTokenOut.of(view))


@router.delete(
    "/me/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API token",
    responses={**_CHANGES, **errors(404)},
)
def revoke_token(token_id: uuid.UUID, principal: SignedInPrincipal, services: Services) -> Response:
    """Revoke one of the caller's tokens. Idempotent."""
    services.accounts.revoke_api_token(principal, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/me/locale", summary="Set my console language", responses=_CHANGES)
def set_locale(body: LocaleIn, principal: SignedInPrincipal, services: Services) -> MeOut:
    """Make ``locale`` the caller's console language. Idempotent."""
    return MeOut.of(services.accounts.set_locale(principal, body.locale))
