"""The CRM-side app: install it in the organization's Dynamics 365, and say where it stands (``crm app install``,
``crm app status``, the console's "Get it now").

What the app is and the diff come from :mod:`salesbridge.domain.crm_app`; the CRM is reached through the stored
connection's :class:`~salesbridge.services.ports.CrmAppSession`. Installing runs a pre-flight in the style of
Connect (the application user's privileges, by name) and creates only what the CRM lacks; it never changes or
deletes a definition, so installing again changes nothing and written-back data is never lost.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from salesbridge.crm.ports import CrmIdentity
from salesbridge.domain.crm_app import (
    CRM_APP,
    CUSTOMIZATION_PRIVILEGES,
    AppState,
    CrmApp,
    MissingItem,
    MissingKind,
    ObservedCrm,
    app_state,
    installed_version,
    missing_items,
    missing_privileges,
    writeback_privileges,
)
from salesbridge.domain.workspace import CrmCredentials
from salesbridge.domain.writeback import DataItem
from salesbridge.errors import CrmAppBlockedError, CrmAppPrivilegesError, CrmError, InvalidRequestError
from salesbridge.message_ids import N_
from salesbridge.services.organizations import require_organization
from salesbridge.services.ports import CrmAppSession, CrmAppSessionFactory, StoreAccess
from salesbridge.services.writeback_outbox import requeue_after_app_install

_STATE_LABELS = {
    AppState.INSTALLED: N_("Installed"),
    AppState.OUTDATED: N_("Outdated: parts are missing"),
    AppState.MISSING: N_("Not installed"),
}

Audit = Callable[[str, dict[str, Any]], Awaitable[None]]

NOT_CONNECTED = N_("Connect to the CRM first, on the CRM Settings page.")


@dataclass(frozen=True)
class CrmAppStatus:
    """Where the CRM-side app stands in an organization's Dynamics 365.

    Attributes:
        organization: The organization's slug.
        state: ``installed``, ``outdated`` (some of it is missing) or ``missing`` (none of its tables exists).
        version: The app version this salesbridge installs.
        installed_version: The version that created the app's tables found (their marker), None when none.
        missing: What the CRM lacks, in creation order; the items no install can create last.
        missing_privileges: Privileges the application user lacks to write back, by name.
    """

    organization: str
    state: AppState
    version: int
    installed_version: int | None
    missing: tuple[MissingItem, ...]
    missing_privileges: tuple[str, ...]

    @property
    def state_label(self) -> str:
        """The state in words: a message id, the edges translate it."""
        return _STATE_LABELS[self.state]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping (``state_label`` is the English message id)."""
        return {
            "organization": self.organization,
            "state": self.state.value,
            "state_label": self.state_label,
            "version": self.version,
            "installed_version": self.installed_version,
            "missing": [
                {"kind": item.kind.value, "table": item.table, "name": item.name, "installable": item.installable}
                for item in self.missing
            ],
            "missing_privileges": list(self.missing_privileges),
        }


@dataclass(frozen=True)
class CrmAppInstall:
    """The end of an install: what it created (empty when all was there) and the status after it."""

    created: tuple[MissingItem, ...]
    status: CrmAppStatus


def _connected_credentials(store: StoreAccess, slug: str) -> tuple[uuid.UUID, CrmCredentials]:
    organization_id = require_organization(store, slug)
    with store(organization_id, read_only=True) as uow:
        connection = uow.crm_connection.find()
        if connection is None or not connection.is_connected:
            raise InvalidRequestError(NOT_CONNECTED)
        return organization_id, uow.crm_connection.credentials()


async def _held_privileges(identity: CrmIdentity) -> frozenset[str]:
    caller = await identity.who_am_i()
    return frozenset(grant.name for grant in await identity.user_privileges(caller.user_id))


def _status(slug: str, observed: ObservedCrm, held: frozenset[str], app: CrmApp) -> CrmAppStatus:
    return CrmAppStatus(
        organization=slug,
        state=app_state(observed, app),
        version=app.version,
        installed_version=installed_version(observed, app),
        missing=missing_items(observed, app),
        missing_privileges=missing_privileges(held, writeback_privileges(app)),
    )


async def crm_app_status(
    store: StoreAccess, sessions: CrmAppSessionFactory, *, slug: str, app: CrmApp = CRM_APP
) -> CrmAppStatus:
    """Where the app stands in the Dynamics 365 the organization ``slug`` is connected to. Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        InvalidRequestError: the organization is not connected to a CRM.
        CrmError: the CRM could not be read.
    """
    _, credentials = await asyncio.to_thread(_connected_credentials, store, slug)
    session = sessions(credentials)
    try:
        held = await _held_privileges(session.metadata)
        observed = await session.app.observe(app)
    finally:
        await session.close()
    return _status(slug, observed, held, app)


async def install_crm_app(
    store: StoreAccess,
    sessions: CrmAppSessionFactory,
    *,
    slug: str,
    actor: str = "cli",
    app: CrmApp = CRM_APP,
) -> CrmAppInstall:
    """Install (or upgrade) the app in the organization's Dynamics 365: create what it lacks, nothing else.

    Pre-flight first, nothing created when it fails: what no install can create (a standard table, activities
    enabled on a regarded table, a table of the app's name that is not an activity) refuses with
    :class:`CrmAppBlockedError`; privileges the application user lacks (the customization privileges when anything
    is to be created, and those writeback needs) refuse with :class:`CrmAppPrivilegesError`, naming them.
    Idempotent: a second install finds nothing missing and sends no write. Audited: ``crm.app_installed`` (what
    was created), ``crm.app_install_failed`` (why). Once installed, the activities that waited for the app's tables
    (removed from Dynamics) are queued again and a drain is asked for.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        InvalidRequestError: the organization is not connected to a CRM.
        CrmAppBlockedError, CrmAppPrivilegesError: the pre-flight failed; nothing was created.
        CrmError: the CRM refused a read or a create (what was created before it stays; install again).
    """
    organization_id, credentials = await asyncio.to_thread(_connected_credentials, store, slug)

    async def audit(action: str, details: dict[str, Any]) -> None:
        await asyncio.to_thread(_audit, store, organization_id, action, {"version": app.version, **details}, actor)

    session = sessions(credentials)
    try:
        try:
            installed = await _install(session, slug, app, audit)
        except CrmError as error:
            await audit("crm.app_install_failed", {"reason": error.message})
            raise
    finally:
        await session.close()
    if installed.status.state is AppState.INSTALLED:
        created = {item.table for item in installed.created if item.kind is MissingKind.TABLE}
        recreated = frozenset(DataItem(table.data_item) for table in app.tables if table.logical_name in created)
        await asyncio.to_thread(_app_back, store, organization_id, recreated)
    return installed


async def _install(session: CrmAppSession, slug: str, app: CrmApp, audit: Audit) -> CrmAppInstall:
    held = await _held_privileges(session.metadata)
    observed = await session.app.observe(app)
    missing = missing_items(observed, app)
    # A key whose index Dataverse is still building (or could not build) is reported, not an obstacle.
    blocking = tuple(
        str(item) for item in missing if not item.installable and item.kind is not MissingKind.KEY_NOT_ACTIVE
    )
    if blocking:
        await audit("crm.app_install_failed", {"blocked_by": list(blocking)})
        raise CrmAppBlockedError(blocking)
    to_create = tuple(item for item in missing if item.installable)
    required = (*(CUSTOMIZATION_PRIVILEGES if to_create else ()), *writeback_privileges(app))
    lacking = missing_privileges(held, required)
    if lacking:
        await audit("crm.app_install_failed", {"missing_privileges": list(lacking)})
        raise CrmAppPrivilegesError(lacking)
    if to_create:
        await session.app.create(app, to_create)
        observed = await session.app.observe(app)
    status = _status(slug, observed, held, app)
    await audit(
        "crm.app_installed",
        {"created": [str(item) for item in to_create], "state": status.state.value},
    )
    return CrmAppInstall(created=to_create, status=status)


def _audit(store: StoreAccess, organization_id: uuid.UUID, action: str, details: dict[str, Any], actor: str) -> None:
    with store(organization_id) as uow:
        uow.audit.record(actor=actor, action=action, details=details)
        uow.commit()


def _app_back(store: StoreAccess, organization_id: uuid.UUID, recreated: frozenset[DataItem]) -> None:
    """The app is whole again: what waited for its tables (removed from Dynamics meanwhile) goes now, and what was
    written to tables created anew again (their rows went with the removed ones)."""
    with store(organization_id) as uow:
        requeue_after_app_install(uow, recreated=recreated)
        uow.commit()
