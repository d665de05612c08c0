"""The connect pre-flight and how a connection attempt ends.

The pre-flight runs in order: token → WhoAmI → the connecting user's read privileges on every required table →
metadata of every required table and column → change tracking on every imported table. Every failure ends as one
:class:`ConnectOutcome`; :func:`outcome_for_error` is the one place where connector errors become outcomes. The
stored "last error" of a failed attempt is English (:func:`last_error_text`); the edges put outcomes in the
reader's language (``salesbridge.web.localized``: ``connect_message``, ``localized_last_error``). Sends only
reads; stores nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from salesbridge.crm.ports import CrmMetadata, PrivilegeGrant
from salesbridge.domain.crm_requirements import REQUIRED_TABLES, RequiredTable, depth_suffices
from salesbridge.errors import (
    AuthError,
    CrmError,
    NotFoundError,
    SignInRejectedError,
    TlsVerificationError,
    TokenRejectedError,
    TransientError,
)
from salesbridge.message_ids import N_, Label
from salesbridge.services.ports import PreflightCrm


class OutcomeKind(StrEnum):
    """How a connection attempt ended."""

    CONNECTED = "connected"
    CONNECTION_ERROR = "connection_error"
    API_ERROR = "api_error"
    INSUFFICIENT_PRIVILEGES = "insufficient_privileges"
    MISSING_OBJECTS = "missing_objects"
    SIGN_IN_REJECTED = "sign_in_rejected"
    TENANT_MISMATCH = "tenant_mismatch"


OUTCOME_MESSAGES = {
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

"""Each outcome's headline, worded as in the admin guide (message ids; ``{credential}`` is itself a message id)."""

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

    @property
    def message_id(self) -> str:
        """The outcome's headline, worded as in the admin guide: a message id with the fields of
        :attr:`message_fields`."""
        return OUTCOME_MESSAGES[self.kind]

    @property
    def message_fields(self) -> dict[str, Label]:
        """The fields of :attr:`message_id`: the credential to check (a message id), the discovered tenant (as
        it is)."""
        if self.kind is OutcomeKind.SIGN_IN_REJECTED:
            return {"credential": Label(self.credential_to_check or _ALL_CREDENTIALS, is_message_id=True)}
        if self.kind is OutcomeKind.TENANT_MISMATCH:
            return {"tenant": Label(self.discovered_tenant_id or "?")}
        return {}

    @property
    def english_message(self) -> str:
        """The headline in English (the message id with its fields as written): what is stored and logged."""
        return self.message_id.format(**{name: label.text for name, label in self.message_fields.items()})

    def details(self) -> list[str]:
        """The missing privileges or objects, one per line (empty for other kinds)."""
        return [str(privilege) for privilege in self.missing_privileges] + list(self.missing_objects)


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


def last_error_text(outcome: ConnectOutcome) -> str:
    """The stored ``last error``: the outcome's sentence in English, then its details on a second line. The
    underlying error's text stays in the audit log (it may tell open ports from closed ones)."""
    details = outcome.details()
    return outcome.english_message + ("\n" + "; ".join(details) if details else "")


@dataclass(frozen=True)
class StoredFailure:
    """A stored ``last error`` (:func:`last_error_text`) read back.

    Attributes:
        kind: The outcome that wrote it: its stable code (``connection_error``, ``sign_in_rejected``…).
        fields: The values of its sentence's field as written (``credential``: a message id; ``tenant``: as is).
        details: What followed the sentence's line break (the missing privileges or objects), or None when the
            text has no second line.
    """

    kind: OutcomeKind
    fields: dict[str, str]
    details: str | None


def read_last_error(text: str) -> StoredFailure | None:
    """The failed outcome that stored ``text`` as the connection's last error, or None when no outcome writes that
    sentence (a text an older release stored, or none of :data:`OUTCOME_MESSAGES`). Pure."""
    sentence, newline, details = text.partition("\n")
    for kind, message_id in OUTCOME_MESSAGES.items():
        if kind is OutcomeKind.CONNECTED:
            continue
        field = re.search(r"\{(\w+)\}", message_id)
        if field is None:
            if sentence == message_id:
                return StoredFailure(kind, {}, details if newline else None)
            continue
        head, tail = message_id[: field.start()], message_id[field.end() :]
        match = re.fullmatch(re.escape(head) + "(.+)" + re.escape(tail), sentence)
        if match:
            return StoredFailure(kind, {field.group(1): match.group(1)}, details if newline else None)
    return None
