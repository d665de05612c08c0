"""Creating an organization, connecting it to Dynamics 365 after a pre-flight, and reading the connection's status.

Before anything is sent, the organization URL and authority are checked against the hosts the operator admits
(:class:`ConnectTargets`); when no authority is given, the tenant and its authority are discovered from the
organization's answer to an unauthenticated request. The pre-flight then runs in order: token → WhoAmI → the
connecting user's read privileges on every required table → metadata of every required table and column → change
tracking on every imported table. Every failure ends as one :class:`ConnectOutcome`; :func:`outcome_for_error` is
the one place where connector errors become outcomes. A failed attempt never replaces a working connection.
Nothing here builds HTTP clients: the caller passes a :data:`CrmSessionFactory` and :class:`ConnectTargets` (and a
unit-of-work factory, and a clock), which keeps the use cases testable against any CRM and any store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from salesbridge.crm.ports import CrmMetadata, CrmReader, PrivilegeGrant
from salesbridge.domain.crm_requirements import REQUIRED_TABLES, RequiredTable, depth_suffices
from salesbridge.domain.workspace import CaBundle
from salesbridge.domain.workspace import CrmCredentials as CrmCredentials  # for crm_settings.py until converted
from salesbridge.errors import (
    AuthError,
    CaBundleError,
    CrmError,
    NotFoundError,
    SalesbridgeError,
    SignInRejectedError,
    TlsVerificationError,
    TokenRejectedError,
    TransientError,
)
from salesbridge.errors import UnknownOrganizationError as UnknownOrganizationError  # importers until converted
from salesbridge.i18n import N_, translate
from salesbridge.services import ports
from salesbridge.services.crm_users import import_crm_users
from salesbridge.services.ports import CrmSessionFactory as CrmSessionFactory  # for crm_settings.py until converted
from salesbridge.services.ports import OrganizationFinder, PreflightCrm
from salesbridge.store.tables import ConnectionState
from salesbridge.store.uow import SqlAlchemyUnitOfWork

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


UnitOfWorkOpener = Callable[[uuid.UUID], SqlAlchemyUnitOfWork]
"""LEGACY, for services not yet converted to ports (use :data:`salesbridge.services.ports.UnitOfWorkOpener`)."""


class StoreAccess(ports.StoreAccess, Protocol):
    """LEGACY, for services not yet converted to ports: :class:`salesbridge.services.ports.StoreAccess` whose units
    of work are the store's own (:class:`salesbridge.store.uow.UnitOfWorkFactory`). Removed with the last of them."""

    def __call__(self, organization_id: uuid.UUID, *, read_only: bool = False) -> SqlAlchemyUnitOfWork:
        """A new, not yet opened, unit of work scoped to ``organization_id``; ``read_only`` when it only reads."""
        ...


class DifferentCrmOrganizationError(SalesbridgeError):
    """The organization is connected to another Dynamics organization, or holds data imported from one that has
    not been purged.

    Attributes:
        org_url: The organization URL of the existing connection, or of the remaining imported data.
    """

    MESSAGE = N_(
        "This organization is connected to another Dynamics organization ({org_url}), or still holds data "
        "imported from it. That data must be purged before connecting a different one: disconnect CRM sync "
        "with \u201cYes, clean up all previously imported CRM data\u201d first."
    )

    def __init__(self, org_url: str) -> None:
        super().__init__(translate(self.MESSAGE).format(org_url=org_url))
        self.org_url = org_url

    def localized(self, locale: str) -> str:
        """The refusal in ``locale``."""
        return translate(self.MESSAGE, locale).format(org_url=self.org_url)


class OutcomeKind(StrEnum):
    """How a connection attempt ended."""

    CONNECTED = "connected"
    CONNECTION_ERROR = "connection_error"
    API_ERROR = "api_error"
    INSUFFICIENT_PRIVILEGES = "insufficient_privileges"
    MISSING_OBJECTS = "missing_objects"
    SIGN_IN_REJECTED = "sign_in_rejected"
    TENANT_MISMATCH = "tenant_mismatch"


_MESSAGE_IDS = {
    OutcomeKind.CONNECTED: N_("Successfully connected, sync in progress"),
    OutcomeKind.CONNECTION_ERROR: N_("CRM connection error. Try again later."),
    OutcomeKind.API_ERROR: N_("An error occurred with the CRM API. Try again later."),
    OutcomeKind.INSUFFICIENT_PRIVILEGES: N_(
        "Your CRM account doesn't have sufficient access privileges. Check with your CRM administrator."
    ),
    OutcomeKind.MISSING_OBJECTS: N_("The CRM objects required by your company could not be read."),
    OutcomeKind.SIGN_IN_REJECTED: N_("The sign-in to Microsoft Entra ID was rejected: check {credential}."),
    OutcomeKind.TENANT_MISMATCH: N_(
        "The tenant id does not match this Dynamics organization, which belongs to tenant {tenant}: correct it, "
        "or leave it empty to use the organization's."
    ),
}

_ALL_CREDENTIALS = N_("the tenant id, client id and client secret")


@dataclass(frozen=True)
class MissingPrivilege:
    """A read privilege the connecting user lacks, or holds at too narrow a depth.

    Attributes:
        name: ``prvReadLead``.
        required_depth: ``Global`` or ``Basic``.
        held_depth: The depth the user holds, or None when not held at all.
    """

    name: str
    required_depth: str
    held_depth: str | None = None

    def __str__(self) -> str:
        held = f", held: {self.held_depth}" if self.held_depth else ""
        return f"{self.name} ({self.required_depth}{held})"


@dataclass(frozen=True)
class ConnectOutcome:
    """The end of a connection attempt.

    Attributes:
        kind: What happened.
        missing_privileges: For ``insufficient_privileges``: what the user lacks (empty when the CRM refused
            a call without naming the privilege; ``reason`` then says what was refused).
        missing_objects: For ``missing_objects``: ``table``, ``table.column`` or ``table: change tracking``.
        credential_to_check: For ``sign_in_rejected``: the message id (English text) of the credential to
            check, with why when the identity provider said (``the client secret (it has expired: …)``).
        crm_user_id: For ``connected``: the CRM user the connection acts as.
        reason: The underlying error's text (no secret, no token), for the audit log and the operator's log;
            never shown to administrators (it may tell open ports from closed ones, or carry provider codes).
        discovered_tenant_id: For ``tenant_mismatch``: the tenant the organization belongs to.
        kept_connection: A failed attempt left the organization's working connection (and its imports) as it
            was.
    """

    kind: OutcomeKind
    missing_privileges: tuple[MissingPrivilege, ...] = ()
    missing_objects: tuple[str, ...] = ()
    credential_to_check: str | None = None
    crm_user_id: str | None = None
    reason: str | None = None
    discovered_tenant_id: str | None = None
    kept_connection: bool = False

    @property
    def is_connected(self) -> bool:
        """True when the connection was accepted."""
        return self.kind is OutcomeKind.CONNECTED

    def message(self, locale: str = "en") -> str:
        """The outcome's headline in ``locale``, worded as in the admin guide.

        An unsupported locale means English.
        """
        text = translate(_MESSAGE_IDS[self.kind], locale)
        if self.kind is OutcomeKind.SIGN_IN_REJECTED:
            return text.format(credential=translate(self.credential_to_check or _ALL_CREDENTIALS, locale))
        if self.kind is OutcomeKind.TENANT_MISMATCH:
            return text.format(tenant=self.discovered_tenant_id or "?")
        return text

    def details(self) -> list[str]:
        """The missing privileges or objects, one per line (empty for other kinds)."""
        return [str(privilege) for privilege in self.missing_privileges] + list(self.missing_objects)


_KEPT_CONNECTION = N_("The working connection stays in use; nothing was changed.")


def kept_connection_notice(locale: str = "en") -> str:
    """The sentence added to a failed attempt's message when the working connection was kept, in ``locale``."""
    return translate(_KEPT_CONNECTION, locale)


def outcome_for_error(error: CrmError) -> ConnectOutcome:
    """The outcome of a pre-flight that failed with ``error``: the one mapping from the error tree to outcomes.

    * Network, DNS, TLS, timeouts, 5xx and throttling (:class:`TransientError`, :class:`TlsVerificationError`)
      → ``connection_error``.
    * A rejected sign-in (the identity provider refused the credentials, or the CRM refused the token)
      → ``sign_in_rejected``, naming the credential to check when the identity provider said which.
    * Access denied by the CRM (403) → ``insufficient_privileges``.
    * Anything else the CRM answered → ``api_error``.
    """
    reason = error.message
    if isinstance(error, TransientError | TlsVerificationError):
        return ConnectOutcome(OutcomeKind.CONNECTION_ERROR, reason=reason)
    if isinstance(error, SignInRejectedError):
        credential = error.credential or _ALL_CREDENTIALS
        return ConnectOutcome(OutcomeKind.SIGN_IN_REJECTED, credential_to_check=credential, reason=reason)
    if isinstance(error, TokenRejectedError) or (isinstance(error, AuthError) and error.status is None):
        return ConnectOutcome(OutcomeKind.SIGN_IN_REJECTED, credential_to_check=_ALL_CREDENTIALS, reason=reason)
    if isinstance(error, AuthError):
        return ConnectOutcome(OutcomeKind.INSUFFICIENT_PRIVILEGES, reason=reason)
    return ConnectOutcome(OutcomeKind.API_ERROR, reason=reason)


def missing_privileges(
    grants: Sequence[PrivilegeGrant], requirements: Sequence[RequiredTable] = REQUIRED_TABLES
) -> tuple[MissingPrivilege, ...]:
    """The read privileges of ``requirements`` that ``grants`` do not cover at the required depth, in order."""
    held: dict[str, str] = {}
    for grant in grants:
        current = held.get(grant.name.lower())
        if current is None or depth_suffices(grant.depth.value, current):
            held[grant.name.lower()] = grant.depth.value
    missing: list[MissingPrivilege] = []
    for table in requirements:
        depth = held.get(table.read_privilege.lower())
        if depth is None or not depth_suffices(depth, table.required_depth):
            missing.append(MissingPrivilege(table.read_privilege, table.required_depth, depth))
    return tuple(dict.fromkeys(missing))


async def missing_objects(crm: CrmMetadata, requirements: Sequence[RequiredTable] = REQUIRED_TABLES) -> tuple[str, ...]:
    """The required tables, columns and settings the CRM lacks: ``lead``, ``opportunity.stepname`` or
    ``opportunity: change tracking``, in requirement order. Metadata comes before change tracking.

    Raises:
        CrmError: a metadata call failed for another reason than an unknown table.
    """
    absent: list[str] = []
    tracking: list[str] = []
    for table in requirements:
        try:
            info = await crm.table(table.logical_name)
        except NotFoundError:
            absent.append(table.logical_name)
            continue
        present = {column.logical_name.lower() for column in await crm.columns(table.logical_name)}
        absent.extend(f"{table.logical_name}.{column}" for column in table.columns if column.lower() not in present)
        if table.change_tracked and not info.is_change_tracked:
            tracking.append(f"{table.logical_name}: change tracking")
    return (*absent, *tracking)


async def preflight(crm: PreflightCrm, requirements: Sequence[RequiredTable] = REQUIRED_TABLES) -> ConnectOutcome:
    """Run the pre-flight against ``crm`` and say how it ended. Sends only reads; safe to repeat.

    Never raises a :class:`CrmError`: errors become outcomes through :func:`outcome_for_error`.
    """
    try:
        identity = await crm.who_am_i()  # the first call also acquires the token
        lacking = missing_privileges(await crm.user_privileges(identity.user_id), requirements)
        if lacking:
            return ConnectOutcome(OutcomeKind.INSUFFICIENT_PRIVILEGES, missing_privileges=lacking)
        absent = await missing_objects(crm, requirements)
        if absent:
            return ConnectOutcome(OutcomeKind.MISSING_OBJECTS, missing_objects=absent)
    except CrmError as error:
        return outcome_for_error(error)
    return ConnectOutcome(OutcomeKind.CONNECTED, crm_user_id=identity.user_id)


def create_organization(
    store: StoreAccess, *, slug: str, name: str | None = None, seats: int = 0, actor: str = "cli"
) -> uuid.UUID:
    """Create the organization ``slug`` (display name ``name``, defaulting to the slug) and audit it.

    Idempotent: an existing organization with this slug is returned unchanged and nothing is audited.

    Raises:
        ValueError: ``seats`` is negative or ``slug`` is empty.
        UniqueConstraintError: the slug was taken concurrently.
    """
    if not slug.strip():
        raise ValueError("The organization slug must not be empty.")
    if seats < 0:
        raise ValueError("The number of seats cannot be negative.")
    existing = store.organization_id(slug)
    if existing is not None:
        return existing
    organization_id = uuid.uuid4()
    with store(organization_id) as uow:
        uow.organization.create(slug=slug, name=name or slug, seats_purchased=seats)
        uow.audit.record(actor=actor, action="organization.created", details={"slug": slug, "seats": seats})
        uow.commit()
    return organization_id


def _require_organization(store: OrganizationFinder, slug: str) -> uuid.UUID:
    organization_id = store.organization_id(slug)
    if organization_id is None:
        raise UnknownOrganizationError(
            f"No organization is called {slug!r}: create it with `salesbridge org create {slug}`."
        )
    return organization_id


def _same_org_url(left: str, right: str) -> bool:
    return left.rstrip("/").lower() == right.rstrip("/").lower()


def _conflicting_org_url_of(store: StoreAccess, organization_id: uuid.UUID, org_url: str) -> str | None:
    with store(organization_id) as uow:
        return _conflicting_org_url(uow, org_url)


def _conflicting_org_url(uow: SqlAlchemyUnitOfWork, org_url: str) -> str | None:
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
    organization_id = await asyncio.to_thread(_require_organization, store, slug)
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
    # on demand, and the failure is audited so the administrator can see it.
    try:
        await import_crm_users(store, organization_id, reader, actor=actor)
    except CrmError as error:
        with store(organization_id) as uow:
            uow.audit.record(actor=actor, action="crm.users_import_failed", details={"reason": error.message})
            uow.commit()


def stored_credentials(uow: SqlAlchemyUnitOfWork) -> CrmCredentials:
    """The credentials of the organization's stored CRM connection, secret decrypted.

    Raises:
        RowNotFoundError: the organization has no CRM connection.
        UndecryptableSecretError: the secret was encrypted with another credential key.
    """
    connection = uow.crm_connection.get()
    return CrmCredentials(
        org_url=connection.org_url,
        tenant_id=connection.tenant_id,
        client_id=connection.client_id,
        client_secret=uow.crm_connection.client_secret(),
        ca_bundle=CaBundle(connection.ca_bundle_pem, connection.ca_bundle_name) if connection.ca_bundle_pem else None,
        authority=connection.authority,
    )


def _record(
    uow: SqlAlchemyUnitOfWork, credentials: CrmCredentials, outcome: ConnectOutcome, *, actor: str
) -> ConnectOutcome:
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
            request = uow.import_requests.enqueue(reason=INITIAL_IMPORT_REASON)
            details |= {"crm_user_id": outcome.crm_user_id, "import_request_id": str(request.id)}
            uow.audit.record(actor=actor, action="crm.connected", details=details)
        else:
            uow.crm_connection.mark_failed(error=_last_error(outcome))
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


def _last_error(outcome: ConnectOutcome) -> str:
    """The stored ``last error``: the outcome's sentence in English, then its details on a second line. The
    underlying error's text stays in the audit log (it may tell open ports from closed ones)."""
    details = outcome.details()
    return outcome.message("en") + ("\n" + "; ".join(details) if details else "")


def localized_last_error(text: str, locale: str) -> str:
    """A stored ``last error`` (:func:`_last_error`) in ``locale``: its sentence translated when it is one of the
    outcomes' (their message ids are English), its details as they are."""
    sentence, newline, details = text.partition("\n")
    for message_id in _MESSAGE_IDS.values():
        head, field_name, tail = _template_parts(message_id)
        if field_name is None:
            if sentence == message_id:
                return translate(message_id, locale) + newline + details
            continue
        match = re.fullmatch(re.escape(head) + "(.+)" + re.escape(tail), sentence)
        if match:
            value = translate(match.group(1), locale) if field_name == "credential" else match.group(1)
            return translate(message_id, locale).format(**{field_name: value}) + newline + details
    return text


def _template_parts(message_id: str) -> tuple[str, str | None, str]:
    match = re.search(r"\{(\w+)\}", message_id)
    if match is None:
        return message_id, None, ""
    return message_id[: match.start()], match.group(1), message_id[match.end() :]


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
        last_error: The last failed attempt's reason, when the last attempt failed.
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

    def state_label(self, locale: str = "en") -> str:
        """The state in words (``Connected to Microsoft Dynamics``) in ``locale``."""
        return translate(_STATE_LABELS.get(self.state, self.state), locale)

    def last_error_message(self, locale: str = "en") -> str | None:
        """The last failed attempt's sentence in ``locale`` (details on a second line), or None."""
        return localized_last_error(self.last_error, locale) if self.last_error else None

    def to_json(self, locale: str = "en") -> dict[str, Any]:
        """A JSON-ready mapping; times are ISO-8601 UTC. Carries no secret."""
        return {
            "organization": self.organization,
            "state": self.state,
            "state_label": self.state_label(locale),
            "org_url": self.org_url,
            "crm_user_id": self.crm_user_id,
            "crm_user_name": self.crm_user_name,
            "connected_since": self.connected_since.isoformat() if self.connected_since else None,
            "last_error": self.last_error_message(locale),
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
    organization_id = _require_organization(store, slug)
    with store(organization_id) as uow:
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
