"""Creating an organization and connecting it to Dynamics 365 after a pre-flight.

Before anything is sent, the organization URL and authority are checked against the hosts the operator admits
(:class:`ConnectTargets`); when no authority is given, the tenant and its authority are discovered from the
organization's answer to an unauthenticated request. The pre-flight and its outcomes are
:mod:`salesbridge.services.preflight`; the connection's status is :mod:`salesbridge.services.crm_status`. A failed
attempt never replaces a working connection. Nothing here builds HTTP clients: the caller passes a
:data:`CrmSessionFactory` and :class:`ConnectTargets` (and the store), which keeps the use cases testable against
any CRM and any store (``tests/unit/services/test_connecting.py`` runs them on ``tests.fakes``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from salesbridge.crm.ports import CrmReader
from salesbridge.domain.crm_requirements import REQUIRED_TABLES, RequiredTable
from salesbridge.domain.text_rules import checked_free_text, checked_organization_slug
from salesbridge.domain.workspace import CaBundle, ConnectionState, CrmCredentials
from salesbridge.errors import CaBundleError, CrmError, DifferentCrmOrganizationError
from salesbridge.services.crm_users import import_crm_users
from salesbridge.services.organizations import require_organization
from salesbridge.services.ports import CrmSessionFactory, StoreAccess, UnitOfWork
from salesbridge.services.preflight import ConnectOutcome, OutcomeKind, last_error_text, outcome_for_error, preflight
from salesbridge.services.sync import queue_import

INITIAL_IMPORT_REASON = "initial import after connect"


class ConnectTargets(Protocol):
    """Where administrators may connect, as the operator configured it, and tenant discovery
    (:class:`salesbridge.crm.dynamics.endpoints.DynamicsTargets`)."""

    def org_url(self, url: str) -> str:
        """``url`` normalised (``https://host[:port]``) once admitted.

        Raises:
            EndpointNotAllowedError: not an organization URL the operator admits.
        """
        ...

    def authority(self, url: str) -> str:
        """``url`` normalised once admitted as an identity authority.

        Raises:
            EndpointNotAllowedError: not an authority the operator admits.
        """
        ...

    def ca_bundle_names(self) -> tuple[str, ...]:
        """The names of the CA bundles the operator offers."""
        ...

    def ca_bundle_pem(self, name: str) -> str:
        """The PEM certificates of the bundle offered as ``name``.

        Raises:
            CaBundleError: none is offered as ``name``, or it is unusable.
        """
        ...

    def checked_pem(self, pem: str) -> str:
        """``pem`` once validated as PEM certificates.

        Raises:
            CaBundleError: it is not.
        """
        ...

    async def discover(self, org_url: str, ca_bundle_pem: str | None) -> tuple[str, str]:
        """(tenant id, authority) named by the organization's answer to an unauthenticated request.

        Raises:
            CrmError: the organization could not be reached or gave no usable challenge.
        """
        ...


def chosen_ca_bundle(targets: ConnectTargets, *, name: str | None = None, pem: str | None = None) -> CaBundle | None:
    """The CA bundle an administrator chose: one the operator offers (``name``) or uploaded PEM text (``pem``);
    None (the system's CAs) when neither is given.

    Raises:
        CaBundleError: both are given, the name is not offered, or the text is not PEM certificates (one
            message for every cause).
    """
    name, pem = (name or "").strip() or None, (pem or "").strip() or None
    if name and pem:
        raise CaBundleError
    if name:
        return CaBundle(pem=targets.ca_bundle_pem(name), name=name)
    if pem:
        return CaBundle(pem=targets.checked_pem(pem))
    return None


def checked_new_organization(*, slug: str, name: str | None = None, seats: int = 0) -> tuple[str, str | None]:
    """The slug and display name :func:`create_organization` would keep. Pure: an entry point that would create
    something before the use case runs (``org create`` creates the store) checks first.

    Raises:
        InvalidInputError: ``slug`` breaks the organization slug rule (:func:`checked_organization_slug`), or the
            name holds a control character.
        ValueError: ``seats`` is negative.
    """
    slug = checked_organization_slug(slug)
    if name is not None:
        name = checked_free_text(name, field="name") or None
    if seats < 0:
        raise ValueError("The number of seats cannot be negative.")
    return slug, name


def create_organization(
    store: StoreAccess, *, slug: str, name: str | None = None, seats: int = 0, actor: str = "cli"
) -> uuid.UUID:
    """Create the organization ``slug`` (display name ``name``, defaulting to the slug) and audit it.

    Idempotent: an existing organization with this slug is returned unchanged and nothing is audited.

    Raises:
        InvalidInputError: ``slug`` breaks the organization slug rule (:func:`checked_organization_slug`), or the
            name holds a control character.
        ValueError: ``seats`` is negative.
        UniqueConstraintError: the slug was taken concurrently.
    """
    slug, name = checked_new_organization(slug=slug, name=name, seats=seats)
    existing = store.organization_id(slug)
    if existing is not None:
        return existing
    organization_id = uuid.uuid4()
    with store(organization_id) as uow:
        uow.organization.create(slug=slug, name=name or slug, seats_purchased=seats)
        uow.audit.record(actor=actor, action="organization.created", details={"slug": slug, "seats": seats})
        uow.commit()
    return organization_id


def _same_org_url(left: str, right: str) -> bool:
    return left.rstrip("/").lower() == right.rstrip("/").lower()


def _conflicting_org_url_of(store: StoreAccess, organization_id: uuid.UUID, org_url: str) -> str | None:
    with store(organization_id) as uow:
        return _conflicting_org_url(uow, org_url)


def _conflicting_org_url(uow: UnitOfWork, org_url: str) -> str | None:
    """The other Dynamics organization that connecting ``org_url`` would mix data with, or None.

    Refused: a connected organization with another URL, and imported data (records, CRM users, checkpoints) that
    came from another URL, whether its connection is still stored (then its URL says where the data came from) or
    was disconnected without the purge (then the audit log does). Allowed: the same URL, replacing a failed
    attempt that imported nothing, and data whose origin was never recorded (nothing to compare with).
    """
    existing = uow.crm_connection.find()
    if existing is not None and not _same_org_url(existing.org_url, org_url):
        if existing.state is ConnectionState.CONNECTED or uow.imported_data.remains():
            return existing.org_url
        return None
    if existing is None and uow.imported_data.remains():
        origin = uow.imported_data.origin_org_url()
        if origin is not None and not _same_org_url(origin, org_url):
            return origin
    return None


async def connect_crm(
    store: StoreAccess,
    sessions: CrmSessionFactory,
    *,
    slug: str,
    credentials: CrmCredentials,
    targets: ConnectTargets,
    actor: str = "cli",
    requirements: Sequence[RequiredTable] = REQUIRED_TABLES,
) -> ConnectOutcome:
    """Connect the organization ``slug`` to the Dynamics organization of ``credentials`` after a pre-flight.

    The organization URL (and the authority, when given) must be admitted by ``targets`` before anything is sent.
    Without an authority, the tenant and authority are discovered from the organization; a tenant id given as an
    id that differs from the organization's ends as ``tenant_mismatch``.

    On success the connection (secret encrypted) is stored as connected, an audit entry is written and the first
    import is queued. A failed attempt is audited; it is stored as failed only when the organization has no working
    connection: a working one stays exactly as it was, imports included (``kept_connection`` says so). Safe to
    repeat: reconnecting the same Dynamics organization replaces the credentials and queues no second import.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        EndpointNotAllowedError: the organization URL or authority is not admitted (nothing sent, nothing stored).
        DifferentCrmOrganizationError: the organization is connected to another Dynamics organization, or holds
            data imported from one that was not purged (checked before anything is sent to the CRM).
    """
    # The store is blocking: its work runs on a worker thread, never on the event loop.
    organization_id = await asyncio.to_thread(require_organization, store, slug)
    org_url = targets.org_url(credentials.org_url)
    authority = targets.authority(credentials.authority) if credentials.authority else None
    conflicting = await asyncio.to_thread(_conflicting_org_url_of, store, organization_id, org_url)
    if conflicting is not None:
        raise DifferentCrmOrganizationError(conflicting)
    attempt = dataclasses.replace(credentials, org_url=org_url, authority=authority)

    async def record(outcome: ConnectOutcome) -> ConnectOutcome:
        return await asyncio.to_thread(_record, store(organization_id), attempt, outcome, actor=actor)

    if authority is None:
        try:
            tenant_id, discovered = await targets.discover(
                org_url, credentials.ca_bundle.pem if credentials.ca_bundle else None
            )
        except CrmError as error:
            return await record(outcome_for_error(error))
        authority = targets.authority(discovered)
        if credentials.tenant_id and not _same_tenant(credentials.tenant_id, tenant_id):
            return await record(ConnectOutcome(OutcomeKind.TENANT_MISMATCH, discovered_tenant_id=tenant_id))
        attempt = dataclasses.replace(attempt, tenant_id=credentials.tenant_id or tenant_id, authority=authority)
    elif not attempt.tenant_id:
        attempt = dataclasses.replace(attempt, tenant_id=authority.rstrip("/").rsplit("/", 1)[-1])
    session = sessions(attempt)
    try:
        outcome = await record(await preflight(session.metadata, requirements))
        if outcome.is_connected:
            await _import_crm_users_after_connect(store, organization_id, session.reader, actor=actor)
    finally:
        await session.close()
    return outcome


def _same_tenant(given: str, discovered: str) -> bool:
    """Whether a given tenant can be the discovered one: equal ids, or a domain name (a verified domain of the
    tenant, which only the identity provider can check)."""
    try:
        return uuid.UUID(given.strip()) == uuid.UUID(discovered)
    except ValueError:
        return True


async def _import_crm_users_after_connect(
    store: StoreAccess, organization_id: uuid.UUID, reader: CrmReader, *, actor: str
) -> None:
    # The connection stands even when this first read of the users fails: seat management imports them again
    # on demand, and the failure is audited so the administrator can see it. The store work of both runs on a
    # worker thread, never on the event loop.
    try:
        await import_crm_users(store, organization_id, reader, actor=actor)
    except CrmError as error:
        await asyncio.to_thread(_audit_users_import_failed, store, organization_id, error.message, actor=actor)


def _audit_users_import_failed(store: StoreAccess, organization_id: uuid.UUID, reason: str, *, actor: str) -> None:
    with store(organization_id) as uow:
        uow.audit.record(actor=actor, action="crm.users_import_failed", details={"reason": reason})
        uow.commit()


def stored_credentials(uow: UnitOfWork) -> CrmCredentials:
    """The credentials of the organization's stored CRM connection, secret decrypted.

    Raises:
        RowNotFoundError: the organization has no CRM connection.
        UndecryptableSecretError: the secret was encrypted with another credential key.
    """
    return uow.crm_connection.credentials()


def _record(uow: UnitOfWork, credentials: CrmCredentials, outcome: ConnectOutcome, *, actor: str) -> ConnectOutcome:
    """Store and audit the attempt's outcome; a failure leaves a working connection untouched. Returns the
    outcome, marked ``kept_connection`` when it did."""
    details: dict[str, Any] = {"org_url": credentials.org_url, "client_id": credentials.client_id}
    with uow:
        existing = uow.crm_connection.find()
        if not outcome.is_connected and existing is not None and existing.state is ConnectionState.CONNECTED:
            outcome = dataclasses.replace(outcome, kept_connection=True)
            details |= _failure_details(outcome)
            uow.audit.record(actor=actor, action="crm.connect_failed", details=details)
            uow.commit()
            return outcome
        uow.crm_connection.save_credentials(
            org_url=credentials.org_url,
            tenant_id=credentials.tenant_id or "",
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            ca_bundle_pem=credentials.ca_bundle.pem if credentials.ca_bundle else None,
            ca_bundle_name=credentials.ca_bundle.name if credentials.ca_bundle else None,
            authority=credentials.authority,
        )
        if outcome.crm_user_id is not None:
            uow.crm_connection.mark_connected(crm_user_id=outcome.crm_user_id)
            request = queue_import(uow, reason=INITIAL_IMPORT_REASON)  # and its job, in this transaction
            details |= {"crm_user_id": outcome.crm_user_id, "import_request_id": str(request.id)}
            uow.audit.record(actor=actor, action="crm.connected", details=details)
        else:
            uow.crm_connection.mark_failed(error=last_error_text(outcome))
            uow.audit.record(actor=actor, action="crm.connect_failed", details=details | _failure_details(outcome))
        uow.commit()
    return outcome


def _failure_details(outcome: ConnectOutcome) -> dict[str, Any]:
    """What the audit log keeps of a failed attempt: the outcome, its details and the underlying error's text."""
    return {
        "outcome": outcome.kind.value,
        "details": outcome.details(),
        "reason": outcome.reason,
        "kept_working_connection": outcome.kept_connection,
    }
