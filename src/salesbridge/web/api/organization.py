"""``/api/v1/orgs/{org}``: the organization as its administrators see it (users, audit trail)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from salesbridge.web.api.schemas import ORGANIZATION_ERRORS, ApiModel
from salesbridge.web.security import AdminPrincipal, Services

router = APIRouter(prefix="/api/v1/orgs/{org}", tags=["organization"], responses=ORGANIZATION_ERRORS)


class UserOut(ApiModel):
    """A user of the organization."""

    id: uuid.UUID
    email: str
    display_name: str
    is_admin: bool
    has_seat: bool
    has_password: bool
    locale: str
    created_at: datetime


class AuditEntryOut(ApiModel):
    """One entry of the audit trail."""

    created_at: datetime
    actor: str
    action: str
    details: dict[str, Any]


@router.get("/users", summary="Users of the organization")
def list_users(org: str, principal: AdminPrincipal, services: Services) -> list[UserOut]:  # noqa: ARG001
    """Every user of ``org``, by email. Administrators of ``org`` only; other organizations answer 404."""
    return [UserOut(**vars(user)) for user in services.accounts.list_users(principal)]


@router.get("/audit", summary="Recent audit entries")
def recent_audit(
    org: str,  # noqa: ARG001 - documented in OpenAPI; require() checks it is the principal's
    principal: AdminPrincipal,
    services: Services,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[AuditEntryOut]:
    """The newest ``limit`` audit entries of ``org``. Administrators of ``org`` only."""
    return [AuditEntryOut(**vars(entry)) for entry in services.accounts.recent_audit(principal, limit=limit)]
