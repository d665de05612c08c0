"""The exception tree of salesbridge, grouped by what the caller should do.

::

    SalesbridgeError                  root; never raised directly
    ├── ConfigError                   fix the configuration; abort at startup
    │   ├── CredentialKeyError        the credential key is malformed, or its key file is unsafe or unreadable
    │   └── UnsupportedJobError       the configured job engine cannot run this task (SALESBRIDGE_JOBS)
    ├── InvalidRequestError           the caller's input breaks a rule; nothing changed; the message says what to fix
    │   ├── SeatLimitError            more seats asked for than the contract has left; .seats_left
    │   ├── EndpointNotAllowedError   an organization URL or authority outside Dynamics' hosts (and the operator's)
    │   ├── CaBundleError             a CA bundle that is not PEM certificates, or not offered under that name
    │   ├── DifferentCrmOrganizationError  another Dynamics organization's data is still here: purge it first
    │   ├── StageNotOfferedError      a pipeline stage not offered for its source; .offered (labels, values)
    │   ├── CrmAppPrivilegesError     the CRM-side app needs privileges the application user lacks; .missing
    │   ├── CrmAppBlockedError        the CRM lacks what only its administrator can add for the app; .items
    │   ├── MatchChangedError         an Edit match made on a stale view: the match changed meanwhile; .changed_by
    │   ├── ActivityChangedError      an activity edited from a stale version: someone edited it meanwhile; .version
    │   ├── CrmAppRequiredError       writeback enabled while the CRM-side app is not installed (or is outdated)
    │   ├── ClientIdReusedError       an activity logged with a client id its author used for another activity
    │   ├── WritebackPrivilegesError  writeback enabled while the application user lacks privileges it needs
    │   ├── AccountError              an account use case refused; the message is for the person who caused it
    │   │   ├── InvalidInputError     a value breaks a rule (email, password, name, language); .field
    │   │   ├── ContractFullError     every seat of the contract is assigned
    │   │   ├── SignInFailedError     wrong workspace, email or password (never says which)
    │   │   ├── SessionRequiredError  API tokens are created from a session or the command line, not a token
    │   │   ├── InvitationInvalidError    the invitation is unknown, expired or used
    │   │   ├── AdministratorRequiredError  for administrators of the organization only
    │   │   └── SeatRequiredError     for the organization's seat holders (and administrators) only
    │   └── TryAgainLaterError        refused for now (too many attempts, too busy); retry after .retry_after_s
    │       ├── SignInThrottledError  too many failed sign-ins; no password was checked; .retry_at
    │       └── PasswordHashingBusyError  every password-hashing slot stayed taken
    ├── ConsoleAccessError            the console refuses the request before any use case; .status_code .detail
    │   ├── NotAuthenticatedError     401: sign in (or send a valid API token)
    │   ├── ForbiddenError            403: the principal lacks the route's permission
    │   │   └── CsrfRejectedError     403: a state-changing request without its CSRF token
    │   └── ConsoleNotFoundError      404: not there for this principal (other organizations included)
    ├── ImportCancelledError          stop the import quietly: disconnected, cancelled or taken over (not a failure)
    ├── ImportBusyError               another worker's import of the organization holds its lease: retry the job later
    ├── ImportFailedError             an import job's run ended failed (recorded): fail the job, do not retry it
    ├── WorkHorseError                an import's own process could not start or crashed; its run resumes later
    ├── MailDeliveryError             the SMTP server could not be reached or refused a message; nothing was sent
    ├── StoreError                    the store refused an operation; fail this unit of work
    │   ├── RowNotFoundError          no such row in this organization
    │   │   ├── UnknownOrganizationError  no organization has the given slug
    │   │   ├── ApiTokenNotFoundError the user has no such API token
    │   │   ├── JobNotFoundError      no such job (for this organization)
    │   │   └── MatchNotFoundError    no such CRM record, person, company or review pair (in this organization)
    │   ├── UniqueConstraintError     a row with the same unique value already exists in this organization
    │   ├── ConcurrentWriteError      another transaction wrote the same unique key first; run the unit again
    │   ├── UndecryptableSecretError  a stored secret does not decrypt with the current credential key
    │   └── RecordRefusedError    a value of a record the store cannot keep (PostgreSQL: a NUL character)
    └── CrmError                      answered by (or on the way to) the CRM; .status .code .request_id
        ├── TransientError            retry with backoff
        │   ├── RateLimitedError      429 / service protection; .retry_after_s
        │   ├── UpstreamUnavailableError  5xx, timeouts, connection failures
        │   └── TokenRefreshError     the identity provider could not be reached or failed
        ├── PermanentError            do not retry; fail this unit of work
        │   ├── AuthError             rejected sign-in, 401 after a refresh, 403
        │   │   ├── TokenRejectedError    401: the access token was refused (refresh once, then give up)
        │   │   └── SignInRejectedError   the identity provider refused the credentials; .credential
        │   ├── NotFoundError         404
        │   │   └── CrmTableMissingError  a table the request needs is not in the CRM (its app removed); .table
        │   ├── ConcurrencyConflictError  412: re-read and decide, never retry blindly
        │   │   └── DuplicateRecordError  412/duplicate key: a record with this id or key already exists
        │   ├── RequestRejectedError  other 4xx (and 501)
        │   ├── UnexpectedResponseError   an answer the connector cannot use (bad JSON, foreign link, loop)
        │   └── TlsVerificationError  the server's certificate is not trusted: check the CA bundle
        ├── RecordError               skip this record, carry on with the page
        └── ResyncRequiredError       the incremental position is gone: read everything again

Errors from the CRM carry the HTTP status, the Dataverse error code, the message and the request id.
They never carry tokens, secrets, or query strings.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from salesbridge.i18n import N_
from salesbridge.message_ids import Label


class SalesbridgeError(Exception):
    """Root of every salesbridge error."""


class ConfigError(SalesbridgeError):
    """The configuration is missing or invalid."""


class CredentialKeyError(ConfigError):
    """The credential-encryption key is malformed, or its key file is readable by others or unreadable.

    The message names the key file and what to do; it never contains the key.
    """


class UnsupportedJobError(ConfigError):
    """The configured job engine (``SALESBRIDGE_JOBS``) cannot run this task or command: the embedded runner runs
    imports only, and workers run with procrastinate only."""


class InvalidRequestError(SalesbridgeError):
    """The caller's input breaks a rule of the workspace (an email already taken, a seat that cannot be changed
    this way). Nothing was changed; the message says what to fix and may be shown to the user as is.

    Args:
        message: An English message id of the translation catalogue, with ``{name}`` fields.
        **fields: The values of the fields.
    """

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message.format(**fields))
        self.message_id = message
        self.fields = fields

    def localized(self, locale: str) -> str:
        """The message in ``locale`` (English when the locale or the message is not translated)."""
        from salesbridge.i18n import translate  # the catalogue loads on first use, not on import of the tree

        return translate(self.message_id, locale).format(**self.fields)


class SeatLimitError(InvalidRequestError):
    """Assigning would hold more seats than the contract has.

    Attributes:
        seats_left: How many seats can still be assigned.
        requested: How many were asked for.
    """

    def __init__(self, message: str, *, left: int, requested: int) -> None:
        super().__init__(message, left=left, requested=requested)
        self.seats_left = left
        self.requested = requested


class TryAgainLaterError(InvalidRequestError):
    """The request was refused for now, before anything was checked or changed: too many failed attempts, or too
    many requests at once. The same request may succeed after ``retry_after_s``.

    Attributes:
        retry_after_s: Seconds to wait before retrying (at least 1).
    """

    def __init__(self, message: str, *, retry_after_s: float, **fields: object) -> None:
        super().__init__(message, **fields)
        self.retry_after_s = max(retry_after_s, 1.0)


class EndpointNotAllowedError(InvalidRequestError):
    """An organization URL or identity authority outside Dynamics 365's hosts and those the operator allows."""


class CaBundleError(InvalidRequestError):
    """A CA bundle cannot be used: it is not PEM certificates, or no bundle is offered under that name. One
    message for every cause, so that the answer reveals nothing about the server's files."""

    MESSAGE = N_(
        "The CA bundle cannot be used: choose one of the bundles offered, or paste PEM certificates "
        "(-----BEGIN CERTIFICATE-----)."
    )

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)


class DifferentCrmOrganizationError(InvalidRequestError):
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
        super().__init__(self.MESSAGE, org_url=org_url)
        self.org_url = org_url


class CrmAppPrivilegesError(InvalidRequestError):
    """The CRM-side app was not installed: the application user lacks privileges it needs. Nothing was created.

    Attributes:
        missing: The privilege names, in a stable order (``prvCreateEntity``, ``prvActOnBehalfOfAnotherUser``…).
    """

    MESSAGE = N_(
        "The CRM-side app was not installed: the application user lacks these privileges: {privileges}. Add them "
        "to its security role in Dynamics 365, then install again."
    )

    def __init__(self, missing: tuple[str, ...]) -> None:
        super().__init__(self.MESSAGE, privileges=", ".join(missing))
        self.missing = missing


class CrmAppBlockedError(InvalidRequestError):
    """The CRM-side app was not installed: the CRM lacks something only its administrator can add (a standard
    table, activities enabled on a table) or a table of the app's name exists but is not an activity table.
    Nothing was created.

    Attributes:
        items: What is missing, in words (``contact: activities not enabled``).
    """

    MESSAGE = N_("The CRM-side app was not installed: a Dynamics 365 administrator must first fix: {items}.")

    def __init__(self, items: tuple[str, ...]) -> None:
        super().__init__(self.MESSAGE, items="; ".join(items))
        self.items = items


class StageNotOfferedError(InvalidRequestError):
    """A pipeline stage that is not among the stages offered for its stage source. The message names the offered
    ones, each by its label (in the reader's language: :meth:`localized` translates the labels that are message
    ids) and its value.

    Attributes:
        stage: The stage as given.
        source: The stage source (``salesstage``, ``salesstagecode``, ``stepname``).
        offered: The offered stages: (label, value) pairs.
    """

    MESSAGE = N_("{stage} is not a stage of {source}. Choose one of: {allowed}.")

    def __init__(self, stage: str, source: str, offered: tuple[tuple[Label, str], ...]) -> None:
        super().__init__(self.MESSAGE, stage=stage, source=source, allowed=_allowed(offered, lambda text: text))
        self.stage = stage
        self.source = source
        self.offered = offered

    def localized(self, locale: str) -> str:
        """The message in ``locale``, the offered labels that are message ids translated too."""
        from salesbridge.i18n import translate  # the catalogue loads on first use, not on import of the tree

        allowed = _allowed(self.offered, lambda text: translate(text, locale))
        return translate(self.message_id, locale).format(stage=self.stage, source=self.source, allowed=allowed)


def _allowed(offered: tuple[tuple[Label, str], ...], translate: Callable[[str], str]) -> str:
    return ", ".join(f"{label.read(translate)} ({value})" for label, value in offered) or "\u2014"


class MatchChangedError(InvalidRequestError):
    """An Edit match (confirm, unlink, link) was made on what the caller saw, but the CRM record's match changed
    since (another seat holder or a matching run): nothing was changed; look at it again.

    Attributes:
        changed_by: The display name of who changed it; None when a matching run did.
    """

    def __init__(self, message: str, *, changed_by: str | None, **fields: object) -> None:
        super().__init__(message, **fields)
        self.changed_by = changed_by


class ActivityChangedError(InvalidRequestError):
    """An activity was edited from a version that is no longer its latest (someone else edited it meanwhile):
    nothing was changed; read it again.

    Attributes:
        version: The activity's version now.
    """

    MESSAGE = N_("This activity was changed meanwhile (it is now at version {version}): look at it again.")

    def __init__(self, *, version: int) -> None:
        super().__init__(self.MESSAGE, version=version)
        self.version = version


class CrmAppRequiredError(InvalidRequestError):
    """Writeback cannot be enabled: the CRM-side app is not installed in the organization's Dynamics 365, or parts
    of it are missing. Nothing was changed; install it ("Get it now", ``salesbridge crm app install``) first.

    Attributes:
        state: The app's state (``missing``, ``outdated``), or None when the organization is not connected.
    """

    MESSAGE = N_(
        "Writeback needs the CRM-side app installed in Dynamics 365 first: install it (Get it now), then enable "
        "writeback."
    )

    def __init__(self, *, state: str | None) -> None:
        super().__init__(self.MESSAGE)
        self.state = state


class WritebackPrivilegesError(InvalidRequestError):
    """Writeback cannot be enabled: the CRM-side app is installed, but the application user lacks privileges that
    writing back needs (acting on behalf of the sellers, creating activities and notes…); every delivery would be
    refused. Nothing was changed.

    Attributes:
        missing: The privilege names, in a stable order.
    """

    MESSAGE = N_(
        "Writeback was not turned on: the application user lacks these privileges: {privileges}. Add them to its "
        "security role in Dynamics 365, then turn writeback on."
    )

    def __init__(self, missing: tuple[str, ...]) -> None:
        super().__init__(self.MESSAGE, privileges=", ".join(missing))
        self.missing = missing


class ClientIdReusedError(InvalidRequestError):
    """An activity was logged with a client id its author already used for a different activity (another type,
    person, company, time, direction or conversation): not a retry. Nothing was stored; the client needs a new id.

    Attributes:
        activity_id: The stored activity holding that client id.
    """

    MESSAGE = N_("This activity id was already used for another activity: send it with a new id.")

    def __init__(self, *, activity_id: object) -> None:
        super().__init__(self.MESSAGE)
        self.activity_id = activity_id


class AccountError(InvalidRequestError):
    """A refusal of an account use case whose message is shown to the person who caused it.

    ``str(error)`` is English; :meth:`localized` gives it in another supported language.
    """

    MESSAGE: str = N_("The request could not be completed.")

    def __init__(self, message_id: str | None = None, **fields: Any) -> None:
        super().__init__(message_id or self.MESSAGE, **fields)


class InvalidInputError(AccountError):
    """A value given by the caller breaks a rule (email format, password policy, name length, language, the text
    rules of :mod:`salesbridge.domain.text_rules`: control characters, organization slugs).

    Attributes:
        field: The input that was refused (``"email"``, ``"password"``, ``"display_name"``, ``"locale"``,
            ``"name"``, ``"slug"``).
    """

    def __init__(self, message_id: str, *, field: str, **fields: Any) -> None:
        self.field = field
        super().__init__(message_id, **fields)


class ContractFullError(AccountError):
    """Every seat of the organization's contract is already assigned."""

    MESSAGE = N_("All {seats} seats of your contract are assigned. Free a seat or buy more before adding one.")


class SignInFailedError(AccountError):
    """The workspace, email or password is wrong; deliberately does not say which. (Not
    :class:`SignInRejectedError`, which is the identity provider refusing the CRM application's credentials.)"""

    MESSAGE = N_("The workspace, email or password is not correct.")


class SessionRequiredError(AccountError):
    """Creating API tokens needs a signed-in session (or the command line): a token cannot mint tokens."""

    MESSAGE = N_("API tokens can be created only from the Account page or the command line, not with an API token.")


class InvitationInvalidError(AccountError):
    """The invitation does not exist, has expired or was already accepted."""

    MESSAGE = N_("This invitation is not valid: it may have expired or been used already. Ask your administrator.")


class AdministratorRequiredError(AccountError):
    """The use case is for administrators of the organization only."""

    MESSAGE = N_("Only administrators of your organization can do this.")


class SeatRequiredError(AccountError):
    """The use case is for the organization's seat holders (and administrators) only."""

    MESSAGE = N_("Only people with a seat in your organization can do this.")


class SignInThrottledError(TryAgainLaterError):
    """Too many failed sign-ins for this account or from this address: no password was checked.

    Attributes:
        retry_at: When the next attempt will be allowed.
    """

    MESSAGE = N_("Too many failed sign-ins. Try again in {minutes} min (after {time} UTC).")

    def __init__(self, retry_at: datetime, *, now: datetime) -> None:
        seconds = max((retry_at - now).total_seconds(), 1.0)
        super().__init__(
            self.MESSAGE, retry_after_s=math.ceil(seconds), minutes=math.ceil(seconds / 60), time=f"{retry_at:%H:%M}"
        )
        self.retry_at = retry_at


class PasswordHashingBusyError(TryAgainLaterError):
    """Every password-hashing slot stayed taken for the whole wait: nothing was checked or changed."""

    MESSAGE = N_("Too many people are signing in right now. Try again in a few seconds.")

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(self.MESSAGE, retry_after_s=retry_after_s)


class ConsoleAccessError(SalesbridgeError):
    """A request the console refuses before any use case runs (:func:`salesbridge.web.security.require`); the
    app's exception handlers turn it into a response (the API's JSON, a page, or the sign-in redirect).

    Attributes:
        status_code: The HTTP status of the refusal.
        detail: The API's English ``detail``.
    """

    status_code = 400
    detail = "Bad request."


class NotAuthenticatedError(ConsoleAccessError):
    """Nobody is signed in, or the session or API token is unknown, expired or revoked."""

    status_code = 401
    detail = "Not authenticated."


class ForbiddenError(ConsoleAccessError):
    """The principal lacks the route's permission."""

    status_code = 403
    detail = "You do not have permission to do this."


class CsrfRejectedError(ForbiddenError):
    """A state-changing request without the right CSRF token."""

    detail = "The form has expired or did not come from this site. Reload the page and try again."


class ConsoleNotFoundError(ConsoleAccessError):
    """The resource does not exist for this principal (including every resource of another organization)."""

    status_code = 404
    detail = "Not found."


class ImportCancelledError(SalesbridgeError):
    """The import run stopped because the organization was disconnected, or its run was cancelled or taken over
    by another worker: not a failure, nothing to retry."""


class ImportBusyError(SalesbridgeError):
    """An import job found the organization's run still leased by another worker (one that died holds it until
    the lease expires): the job engine retries the job later, with backoff, and it then resumes the run."""


class ImportFailedError(SalesbridgeError):
    """An import job's run ended failed (Dynamics refused or failed, or the organization was not connected): the
    run is recorded failed with ``reason`` before this is raised, so that the job engine fails the job too. Not
    retried by the job engine: the schedule retries failed imports with its own backoff.

    Attributes:
        run_id: The import run that failed.
        reason: Why (as the run records it).
    """

    def __init__(self, run_id: uuid.UUID, reason: str) -> None:
        super().__init__(f"The import run {run_id} failed: {reason}")
        self.run_id = run_id
        self.reason = reason


class WorkHorseError(SalesbridgeError):
    """The process the embedded runner started for an import could not start, crashed or answered something else
    than an outcome (its log is in the console's): nothing the import committed is lost, and a run it left running
    is failed and replaced once its lease expires, as after any dead worker."""


class MailDeliveryError(SalesbridgeError):
    """An email could not be sent: the SMTP server could not be reached (or its TLS certificate was not trusted),
    or it refused the sign-in, the sender or the recipient. Nothing was sent; the caller decides whether to try
    again (alerts do, next round). The message names the server and what failed, never the password."""


class StoreError(SalesbridgeError):
    """The store refused an operation; the unit of work that met it is rolled back."""


class RowNotFoundError(StoreError):
    """The row does not exist in the organization the repository is scoped to."""


class UnknownOrganizationError(RowNotFoundError):
    """No organization has the given slug."""


class JobNotFoundError(RowNotFoundError):
    """No job has this id (or it is another organization's)."""


class MatchNotFoundError(RowNotFoundError):
    """No such CRM record, person or company in the organization (another organization's included), or no such
    pair in review."""


class ApiTokenNotFoundError(RowNotFoundError):
    """The user has no API token with this id (tokens of other users and organizations included)."""


class UniqueConstraintError(StoreError):
    """A row with the same unique value (for example a user's email) already exists in this organization.

    Attributes:
        field: The logical name of the value that clashed (``"email"``, ``"slug"``).
    """

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class ConcurrentWriteError(StoreError):
    """Another transaction wrote the same unique key (an external id) at the same moment and committed first.

    The unit of work is rolled back; running it again reads what the other one wrote and succeeds."""


class RecordRefusedError(StoreError):
    """The store cannot keep a value of one of the records written (PostgreSQL refuses a NUL character in text);
    nothing of the write was kept. Writing the records one by one tells which: the others can be stored."""


class UndecryptableSecretError(StoreError):
    """A stored secret cannot be decrypted with the current key (the key changed); the credential must be re-entered."""


class CrmError(SalesbridgeError):
    """An error answered by (or on the way to) the CRM.

    Attributes:
        message: Human-readable text, free of tokens and secrets.
        status: The HTTP status, when a response was received.
        code: The Dataverse error code (``0x80040220``), when the body carried one.
        request_id: The server's request id (``x-ms-service-request-id`` / ``REQ_ID``), for support tickets.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id


class TransientError(CrmError):
    """Safe to retry with backoff."""


class RateLimitedError(TransientError):
    """The CRM throttled the request (429, or a service-protection error code).

    Attributes:
        retry_after_s: Seconds the server asked us to wait (``Retry-After``), or None when it did not say.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float | None = None,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code, request_id=request_id)
        self.retry_after_s = retry_after_s


class UpstreamUnavailableError(TransientError):
    """The CRM could not be reached or failed (5xx, timeouts, connection errors)."""


class TokenRefreshError(TransientError):
    """The identity provider could not be reached or answered with a server error."""


class PermanentError(CrmError):
    """Retrying will not help."""


class AuthError(PermanentError):
    """Sign-in rejected, or access denied."""


class TokenRejectedError(AuthError):
    """The CRM refused the access token (401); a fresh token may help once."""


class SignInRejectedError(AuthError):
    """The identity provider refused the application's credentials.

    Attributes:
        credential: The English message id (translation catalogue) naming the credential to check and why
            (``the client secret (it has expired: create a new one)``), or None when the provider did not say.
    """

    def __init__(self, message: str, *, credential: str | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.credential = credential


class NotFoundError(PermanentError):
    """The record or resource does not exist."""


class CrmTableMissingError(NotFoundError):
    """A table the request needs does not exist in the CRM: removed (with the CRM app that created it, when it is
    one of the app's tables) or never created. Installing the app again brings it back; retrying before that fails
    the same way.

    Attributes:
        table: The table's logical name.
    """

    def __init__(self, message: str, *, table: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message, status=status, code=code)
        self.table = table


class ConcurrencyConflictError(PermanentError):
    """A conditional write found the record changed or already present (412)."""


class DuplicateRecordError(ConcurrencyConflictError):
    """A record with the same id or alternate key already exists."""


class RequestRejectedError(PermanentError):
    """The CRM rejected the request (other 4xx, or 501 for an unsupported operation)."""


class UnexpectedResponseError(PermanentError):
    """The CRM answered something the connector cannot use: malformed JSON, a link to another host, a loop."""


class TlsVerificationError(PermanentError):
    """The server's TLS certificate could not be verified; the CA bundle is missing or wrong."""


class RecordError(CrmError):
    """One record cannot be processed; the rest of the page can."""


class ResyncRequiredError(CrmError):
    """The incremental position expired; a full read is required."""
