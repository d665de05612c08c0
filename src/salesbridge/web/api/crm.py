"""``/api/v1/orgs/{org}/crm/connection``: the organization's connection to Dynamics 365 (administrators only)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, SecretStr, field_validator

from salesbridge.services.connect import CrmCredentials, DifferentCrmOrganizationError, connect_crm, crm_status
from salesbridge.services.disconnect import disconnect_crm
from salesbridge.web.security import AdminPrincipal, Services

router = APIRouter(prefix="/api/v1/orgs/{org}/crm", tags=["crm"])


class ConnectionIn(BaseModel):
    """What an administrator gives to connect: the organization URL and an application's credentials. Use an
    integration user's application. The secret is stored encrypted and never returned."""

    org_url: str = Field(description="https://<org>.crm.dynamics.com", max_length=2048)
    tenant_id: str = Field(min_length=1, max_length=64)
    client_id: str = Field(min_length=1, max_length=64)
    client_secret: SecretStr = Field(min_length=1)
    authority: str | None = Field(
        default=None, description="Identity authority; https://login.microsoftonline.com/<tenant> when omitted."
    )
    ca_bundle_path: str | None = Field(
        default=None, description="A PEM file on the server with the CAs to trust instead of the system's."
    )

    @field_validator("org_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://") or len(value) <= len("https://"):
            raise ValueError("the organization URL must start with https://")
        return value.rstrip("/")

    @field_validator("ca_bundle_path")
    @classmethod
    def _existing_file(cls, value: str | None) -> str | None:
        if value and not Path(value).is_file():
            raise ValueError("no such file on the server")
        return value or None


def connection_outcome_json(outcome: Any, locale: str) -> dict[str, Any]:
    """An outcome of :func:`connect_crm` as JSON (message in ``locale``; no secret)."""
    return {
        "outcome": outcome.kind.value,
        "connected": outcome.is_connected,
        "message": outcome.message(locale),
        "missing_privileges": [str(privilege) for privilege in outcome.missing_privileges],
        "missing_objects": list(outcome.missing_objects),
        "reason": outcome.reason,
    }


@router.get("/connection", summary="The CRM connection's state")
def get_connection(org: str, principal: AdminPrincipal, services: Services) -> dict[str, Any]:  # noqa: ARG001
    """State (``Connected to Microsoft Dynamics``…), organization URL, CRM user, connected since, last error,
    queued imports. Never the secret."""
    return crm_status(services.store, slug=principal.organization_slug).to_json(principal.locale)


@router.post("/connection", summary="Connect to Microsoft Dynamics 365")
async def connect(
    org: str,  # noqa: ARG001
    body: ConnectionIn,
    principal: AdminPrincipal,
    services: Services,
) -> JSONResponse:
    """Runs the pre-flight (sign-in, WhoAmI, privileges, tables and columns, change tracking), then stores the
    connection. 200 when connected; 422 with the outcome (one of the four errors of the admin guide, or a
    rejected sign-in naming the credential to check) otherwise; 409 when another Dynamics organization is
    connected and its data has not been purged."""
    credentials = CrmCredentials(
        org_url=body.org_url,
        tenant_id=body.tenant_id,
        client_id=body.client_id,
        client_secret=body.client_secret,
        ca_bundle=Path(body.ca_bundle_path) if body.ca_bundle_path else None,
        authority=body.authority,
    )
    try:
        outcome = await connect_crm(
            services.store,
            services.crm_sessions,
            slug=principal.organization_slug,
            credentials=credentials,
            actor=principal.email,
        )
    except DifferentCrmOrganizationError as refused:
        return JSONResponse({"detail": refused.localized(principal.locale)}, status_code=409)
    if outcome.is_connected and services.wake_importer is not None:
        services.wake_importer()  # the first import is queued; start it now
    payload = connection_outcome_json(outcome, principal.locale)
    payload["status"] = crm_status(services.store, slug=principal.organization_slug).to_json(principal.locale)
    return JSONResponse(payload, status_code=200 if outcome.is_connected else 422)


@router.delete("/connection", summary="Disconnect CRM sync")
def disconnect(
    org: str,  # noqa: ARG001
    principal: AdminPrincipal,
    services: Services,
    purge: Annotated[
        bool, Query(description="Yes, clean up all previously imported CRM data (users, seats, manual lists stay).")
    ] = False,
) -> dict[str, Any]:
    """Cancels queued and running imports and deletes the stored credentials; with ``purge=true`` also deletes
    all previously imported CRM data and resets every seat's CRM match. Idempotent: 200 with the outcome (what
    was cancelled and deleted, per table) every time."""
    outcome = disconnect_crm(services.store, slug=principal.organization_slug, purge=purge, actor=principal.email)
    return outcome.to_json(principal.locale)
