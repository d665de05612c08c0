"""The exception tree of salesbridge, grouped by what the caller should do.

::

    SalesbridgeError                  root; never raised directly
    ├── ConfigError                   fix the configuration; abort at startup
    │   └── CredentialKeyError        the credential key is malformed, or its key file is unsafe or unreadable
    ├── InvalidRequestError           the caller's input breaks a rule; nothing changed; the message says what to fix
    │   ├── SeatLimitError            more seats asked for than the contract has left; .seats_left
    │   ├── EndpointNotAllowedError   an organization URL or authority outside Dynamics' hosts (and the operator's)
    │   ├── CaBundleError             a CA bundle that is not PEM certificates, or not offered under that name
    │   └── TryAgainLaterError        refused for now (too many attempts, too busy); retry after .retry_after_s
    ├── StoreError                    the store refused an operation; fail this unit of work
    │   ├── RowNotFoundError          no such row in this organization
    │   │   └── UnknownOrganizationError  no organization has the given slug
    │   ├── UniqueConstraintError     a row with the same unique value already exists in this organization
    │   └── UndecryptableSecretError  a stored secret does not decrypt with the current credential key
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

from salesbridge.i18n import N_


class SalesbridgeError(Exception):
    """Root of every salesbridge error."""


class ConfigError(SalesbridgeError):
    """The configuration is missing or invalid."""


class CredentialKeyError(ConfigError):
    """The credential-encryption key is malformed, or its key file is readable by others or unreadable.

    The message names the key file and what to do; it never contains the key.
    """


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


class StoreError(SalesbridgeError):
    """The store refused an operation; the unit of work that met it is rolled back."""


class RowNotFoundError(StoreError):
    """The row does not exist in the organization the repository is scoped to."""


class UnknownOrganizationError(RowNotFoundError):
    """No organization has the given slug."""


class UniqueConstraintError(StoreError):
    """A row with the same unique value (for example a user's email) already exists in this organization.

    Attributes:
        field: The logical name of the value that clashed (``"email"``, ``"slug"``).
    """

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


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
