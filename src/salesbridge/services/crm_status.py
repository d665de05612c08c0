"""Where an organization's CRM connection stands: its state, the user it acts as, its last error and the queued
imports (the CRM Settings page's connection section, ``crm status``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from salesbridge.domain.workspace import ConnectionState
from salesbridge.message_ids import N_
from salesbridge.services.organizations import require_organization
from salesbridge.services.ports import StoreAccess
from salesbridge.services.preflight import read_last_error


@dataclass(frozen=True)
class QueuedImport:
    """An import waiting for the import engine."""

    id: str
    requested_at: datetime
    reason: str
    state: str


_STATE_LABELS = {
    "connected": N_("Connected to Microsoft Dynamics"),
    "failed": N_("Connection failed"),
    "disconnected": N_("Not connected"),
    "not_configured": N_("No CRM connection"),
}


@dataclass(frozen=True)
class CrmStatus:
    """Where an organization's CRM connection stands.

    Attributes:
        organization: The organization's slug.
        state: ``connected``, ``failed``, ``disconnected`` (also: disconnected without the purge, so imported
            data remains; ``org_url`` then says where it came from) or ``not_configured`` (no connection stored,
            no imported data).
        org_url: The Dynamics organization URL, when configured.
        crm_user_id: The CRM user the connection acts as, when connected.
        crm_user_name: That user's full name, once the CRM users are imported.
        connected_since: When the connection was last accepted, when connected.
        last_error: The last failed attempt's reason, when the last attempt failed (English, as stored).
        queued_imports: Imports waiting for the import engine.
        ca_bundle_name: The operator's CA bundle the connection trusts, when it uses one.
    """

    organization: str
    state: str
    org_url: str | None = None
    crm_user_id: str | None = None
    crm_user_name: str | None = None
    connected_since: datetime | None = None
    last_error: str | None = None
    queued_imports: tuple[QueuedImport, ...] = ()
    ca_bundle_name: str | None = None

    @property
    def last_error_code(self) -> str | None:
        """The last failed attempt's outcome as a stable code (``connection_error``, ``api_error``,
        ``insufficient_privileges``, ``missing_objects``, ``sign_in_rejected``, ``tenant_mismatch``: the values of
        :class:`~salesbridge.services.preflight.OutcomeKind`), for programs; None without a last error, or for a
        stored text no outcome writes."""
        stored = read_last_error(self.last_error) if self.last_error else None
        return stored.kind.value if stored else None

    @property
    def state_label(self) -> str:
        """The state in words (``Connected to Microsoft Dynamics``): a message id, the edges translate it."""
        return _STATE_LABELS.get(self.state, self.state)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping; times are ISO-8601 UTC. Carries no secret. ``state_label`` is a message id and
        ``last_error`` the stored English text: ``salesbridge.web.localized.crm_status_json`` gives both in the
        reader's language."""
        return {
            "organization": self.organization,
            "state": self.state,
            "state_label": self.state_label,
            "org_url": self.org_url,
            "ca_bundle_name": self.ca_bundle_name,
            "crm_user_id": self.crm_user_id,
            "crm_user_name": self.crm_user_name,
            "connected_since": self.connected_since.isoformat() if self.connected_since else None,
            "last_error": self.last_error,
            "last_error_code": self.last_error_code,
            "queued_imports": [
                {
                    "id": queued.id,
                    "requested_at": queued.requested_at.isoformat(),
                    "reason": queued.reason,
                    "state": queued.state,
                }
                for queued in self.queued_imports
            ],
        }


def crm_status(store: StoreAccess, *, slug: str) -> CrmStatus:
    """The CRM connection status of the organization ``slug``. Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
    """
    organization_id = require_organization(store, slug)
    with store(organization_id, read_only=True) as uow:
        connection = uow.crm_connection.find()
        crm_user = (
            uow.crm_users.find_by_crm_id(connection.connected_crm_user_id)
            if connection is not None and connection.connected_crm_user_id
            else None
        )
        queued = tuple(
            QueuedImport(str(request.id), request.requested_at, request.reason, request.state.value)
            for request in uow.import_requests.queued()
        )
        # Disconnected without the purge: no credentials, but the imported data (and where it came from) remain.
        leftover = connection is None and uow.imported_data.remains()
        leftover_from = uow.imported_data.origin_org_url() if leftover else None
    if leftover:
        return CrmStatus(organization=slug, state="disconnected", org_url=leftover_from, queued_imports=queued)
    if connection is None:
        return CrmStatus(organization=slug, state="not_configured", queued_imports=queued)
    connected = connection.state is ConnectionState.CONNECTED
    return CrmStatus(
        organization=slug,
        state=connection.state.value,
        org_url=connection.org_url,
        crm_user_id=connection.connected_crm_user_id if connected else None,
        crm_user_name=crm_user.full_name if connected and crm_user is not None else None,
        connected_since=connection.connected_at if connected else None,
        last_error=connection.last_error,
        queued_imports=queued,
        ca_bundle_name=connection.ca_bundle_name,
    )
