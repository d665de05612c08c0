"""``/api/v1/orgs/{org}/crm/connection``: the organization's connection to Dynamics 365, and ``…/crm/app``: where
the CRM-side app writeback needs stands in it, and installing or repairing it (administrators only)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ConfigDict, Field, SecretStr

from salesbridge.domain.workspace import MAX_PEM_CHARS, CrmCredentials
from salesbridge.services.connecting import chosen_ca_bundle, connect_crm
from salesbridge.services.crm_app import crm_app_status, install_crm_app
from salesbridge.services.crm_status import crm_status
from salesbridge.services.disconnect import disconnect_crm
from salesbridge.services.preflight import OutcomeKind
from salesbridge.web.api.schemas import (
    ORGANIZATION_ERRORS,
    ApiInput,
    ApiModel,
    ErrorOut,
    IsoTime,
    UnprocessableOut,
    errors,
)
from salesbridge.web.api.writeback import no_app_sessions
from salesbridge.web.localized import (
    connection_outcome_json,
    crm_app_status_json,
    crm_status_json,
    disconnect_json,
)
from salesbridge.web.security import AdminPrincipal, Services

router = APIRouter(prefix="/api/v1/orgs/{org}/crm", tags=["crm"], responses=ORGANIZATION_ERRORS)


class ConnectionIn(ApiInput):
    """What an administrator gives to connect: the organization URL and an application's credentials. Use an
    integration user's application. The secret is stored encrypted and never returned. The tenant and authority
    are discovered from the organization when omitted."""

    model_config = ConfigDict(extra="forbid")

    org_url: str = Field(description="https://<org>.crm.dynamics.com (a Dynamics 365 address)", max_length=2048)
    client_id: str = Field(min_length=1, max_length=64)
    client_secret: SecretStr = Field(min_length=1, max_length=1024)
    tenant_id: str | None = Field(
        default=None,
        max_length=256,
        description="The Entra tenant (directory) id; discovered from the organization when omitted, refused when "
        "it is an id that differs from the organization's.",
    )
    authority: str | None = Field(
        default=None,
        max_length=2048,
        description="Identity authority (a Microsoft Entra ID address); discovered from the organization when omitted.",
    )
    ca_bundle_name: str | None = Field(
        default=None,
        max_length=100,
        description="A CA bundle the operator offers (GET …/crm/ca-bundles), to trust instead of the system's CAs.",
    )
    ca_bundle_pem: str | None = Field(
        default=None,
        max_length=MAX_PEM_CHARS,
        description="PEM certificates of the CAs to trust instead of the system's (instead of ca_bundle_name).",
    )


class CaBundlesOut(ApiModel):
    """The CA bundles the operator offers."""

    names: list[str]


class QueuedImportOut(ApiModel):
    """An import waiting for the import engine."""

    id: str
    requested_at: IsoTime
    reason: str
    state: str


ConnectionErrorCode = Literal[
    "connection_error", "api_error", "insufficient_privileges", "missing_objects", "sign_in_rejected", "tenant_mismatch"
]
"""How a failed connection attempt ended, for programs: the failed values of ``OutcomeKind``."""


class CrmStatusOut(ApiModel):
    """Where the CRM connection stands. Never the secret."""

    organization: str
    state: str = Field(description="connected | failed | disconnected | not_configured")
    state_label: str = Field(description="The state in words, in the caller's language.")
    org_url: str | None
    ca_bundle_name: str | None = Field(
        description="The operator's CA bundle the connection trusts (GET …/crm/ca-bundles), when it uses one."
    )
    crm_user_id: str | None = Field(description="The CRM user the connection acts as, when connected.")
    crm_user_name: str | None
    connected_since: IsoTime | None
    last_error: str | None = Field(description="The last failed attempt's reason, in the caller's language.")
    last_error_code: ConnectionErrorCode | None = Field(
        description="The last failed attempt's outcome as a stable code, for programs (the `outcome` of "
        "`POST …/crm/connection`): `connection_error`, `api_error`, `insufficient_privileges` and "
        "`missing_objects` (the admin guide's four errors), `sign_in_rejected`, `tenant_mismatch`; null without a "
        "last error."
    )
    queued_imports: list[QueuedImportOut]


class ConnectionOutcomeOut(ApiModel):
    """How a connection attempt ended, and the connection's state after it (``salesbridge crm connect --json``
    prints the same)."""

    outcome: OutcomeKind = Field(
        description="How it ended, a stable code for programs: `connected`, or one of `status.last_error_code`'s."
    )
    connected: bool
    message: str = Field(description="One sentence, in the caller's language.")
    missing_privileges: list[str]
    missing_objects: list[str]
    kept_connection: bool = Field(description="A failed attempt left the working connection as it was.")
    status: CrmStatusOut


class PurgeCountsOut(ApiModel):
    """Rows the purge deleted, per table (all zero without the purge)."""

    crm_records: int
    table_sync_states: int
    crm_users: int
    import_requests: int
    system_list_items: int
    system_lists: int


class DisconnectOut(ApiModel):
    """What a disconnect did."""

    organization: str
    org_url: str | None
    was_connected: bool = Field(description="Stored credentials were deleted (false: there were none).")
    purged: bool
    cancelled_imports: int
    deleted: PurgeCountsOut
    seats_reset: int = Field(description="Seats that lost their CRM match with the purge.")
    message: str


class MissingItemOut(ApiModel):
    """One thing Dynamics lacks of the CRM-side app."""

    kind: Literal[
        "table", "column", "key", "standard_table", "activities", "notes", "key_not_active", "not_an_activity"
    ]
    table: str = Field(description="The table concerned (logical name).")
    name: str | None = Field(description="The column or key (logical name); null for a table-level item.")
    installable: bool = Field(description="Installing the app creates it (otherwise a Dynamics administrator must).")
    label: str = Field(description="What is missing in words, in the caller's language, as CRM Settings says it.")


class CrmAppStatusOut(ApiModel):
    """Where the CRM-side app writeback needs stands in the organization's Dynamics 365."""

    organization: str
    state: Literal["installed", "outdated", "missing"]
    state_label: str = Field(description="The state in words, in the caller's language.")
    version: int = Field(description="The app version this salesbridge installs.")
    installed_version: int | None = Field(description="The version that created the app's tables; null when none.")
    missing: list[MissingItemOut] = Field(description="What Dynamics lacks, in creation order.")
    missing_privileges: list[str] = Field(description="Privileges the application user lacks to write back.")


class CrmAppInstallOut(ApiModel):
    """What installing the CRM-side app did, and where it stands after."""

    created: list[str] = Field(description="What was created in Dynamics, in creation order; empty when all was there.")
    status: CrmAppStatusOut


@router.get("/ca-bundles", summary="The CA bundles the operator offers")
def ca_bundles(org: str, principal: AdminPrincipal, services: Services) -> CaBundlesOut:  # noqa: ARG001
    """The names an administrator may give as ``ca_bundle_name`` when connecting."""
    return CaBundlesOut(names=list(services.crm_targets.ca_bundle_names()))


@router.get("/connection", summary="The CRM connection's state")
def get_connection(org: str, principal: AdminPrincipal, services: Services) -> CrmStatusOut:  # noqa: ARG001
    """State (``Connected to Microsoft Dynamics``…), organization URL, CRM user, connected since, last error,
    queued imports. Never the secret."""
    return CrmStatusOut.model_validate(
        crm_status_json(crm_status(services.store, slug=principal.organization_slug), principal.locale)
    )


@router.get("/app", summary="The CRM-side app's state", responses=errors(502))
async def get_crm_app(org: str, principal: AdminPrincipal, services: Services) -> CrmAppStatusOut:  # noqa: ARG001
    """Asks Dynamics where the CRM-side app stands, as CRM Settings and ``salesbridge crm app status --json`` give
    it: installed, outdated (what is missing, in words) or not installed, and the privileges the application user
    lacks to write back. 422 while the organization is not connected; 502 when Dynamics cannot be asked."""
    status = await crm_app_status(
        services.store, services.crm_app_sessions or no_app_sessions, slug=principal.organization_slug
    )
    return CrmAppStatusOut.model_validate(crm_app_status_json(status, principal.locale))


@router.post("/app/install", summary="Install or repair the CRM-side app", responses=errors(502))
async def install_crm_app_route(org: str, principal: AdminPrincipal, services: Services) -> CrmAppInstallOut:  # noqa: ARG001
    """Creates in Dynamics what writeback needs and the CRM lacks (the app's tables, columns and keys), as CRM
    Settings' "Get it now" and ``salesbridge crm app install --json`` do: nothing else, nothing deleted, nothing sent
    when all is there. 422, nothing created, when the application user lacks privileges (named), when Dynamics
    lacks what only its administrator can add, or while the organization is not connected; 502 when Dynamics
    refuses or cannot be reached (what was created stays: install again). Audited."""
    done = await install_crm_app(
        services.store,
        services.crm_app_sessions or no_app_sessions,
        slug=principal.organization_slug,
        actor=principal.email,
    )
    return CrmAppInstallOut.model_validate(
        {
            "created": [str(item) for item in done.created],
            "status": crm_app_status_json(done.status, principal.locale),
        }
    )


@router.post(
    "/connection",
    summary="Connect to Microsoft Dynamics 365",
    responses={
        409: {"model": ErrorOut, "description": "Another Dynamics organization's data has not been purged."},
        422: {
            "model": ConnectionOutcomeOut | UnprocessableOut,
            "description": "Not connected: the outcome; or an address, CA bundle or value that is not accepted.",
        },
    },
)
async def connect(
    org: str,  # noqa: ARG001
    body: ConnectionIn,
    principal: AdminPrincipal,
    services: Services,
    response: Response,
) -> ConnectionOutcomeOut:
    """Checks the organization URL (a Dynamics 365 address unless the operator allows others), discovers the
    tenant, runs the pre-flight (sign-in, WhoAmI, privileges, tables and columns, change tracking), then stores
    the connection. 200 when connected; 422 with the outcome (one of the four errors of the admin guide, a
    rejected sign-in naming the credential to check, or a tenant id that does not match) otherwise, and a
    working connection then stays as it was (``kept_connection``); 422 with ``detail`` for an address or CA
    bundle that is not accepted; 409 when another Dynamics organization is connected and its data has not been
    purged."""
    credentials = CrmCredentials(
        org_url=body.org_url,
        tenant_id=(body.tenant_id or "").strip() or None,
        client_id=body.client_id.strip(),
        client_secret=body.client_secret,
        ca_bundle=chosen_ca_bundle(services.crm_targets, name=body.ca_bundle_name, pem=body.ca_bundle_pem),
        authority=(body.authority or "").strip() or None,
    )
    outcome = await connect_crm(
        services.store,
        services.crm_sessions,
        slug=principal.organization_slug,
        credentials=credentials,
        targets=services.crm_targets,
        actor=principal.email,
    )
    if outcome.is_connected and services.wake_importer is not None:
        services.wake_importer()  # the first import is queued; start it now
    status = await run_in_threadpool(crm_status, services.store, slug=principal.organization_slug)
    payload = connection_outcome_json(outcome, status, principal.locale)
    response.status_code = 200 if outcome.is_connected else 422
    return ConnectionOutcomeOut.model_validate(payload)


@router.delete("/connection", summary="Disconnect CRM sync")
def disconnect(
    org: str,  # noqa: ARG001
    principal: AdminPrincipal,
    services: Services,
    purge: Annotated[
        bool, Query(description="Yes, clean up all previously imported CRM data (users, seats, manual lists stay).")
    ] = False,
) -> DisconnectOut:
    """Cancels queued and running imports and deletes the stored credentials; with ``purge=true`` also deletes
    all previously imported CRM data and resets every seat's CRM match. Idempotent: 200 with the outcome (what
    was cancelled and deleted, per table) every time."""
    outcome = disconnect_crm(services.store, slug=principal.organization_slug, purge=purge, actor=principal.email)
    return DisconnectOut.model_validate(disconnect_json(outcome, principal.locale))
