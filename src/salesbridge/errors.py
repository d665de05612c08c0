"""The exception tree of salesbridge, grouped by what the caller should do.

::

    SalesbridgeError                  root; never raised directly
    ├── ConfigError                   fix the configuration; abort at startup
    ├── TransientError                retry with backoff
    │   ├── RateLimitedError          429; .retry_after_s
    │   └── UpstreamUnavailableError  5xx, timeouts, connection failures
    ├── PermanentError                do not retry; fail this unit of work
    │   ├── AuthError                 rejected sign-in, 401 after a refresh, 403
    │   ├── NotFoundError             404
    │   ├── ConcurrencyConflictError  412: re-read and decide, never retry blindly
    │   └── RequestRejectedError      other 4xx
    ├── RecordError                   skip this record, carry on with the page
    └── ResyncRequiredError           the incremental position is gone: read everything again

Errors from the CRM carry the HTTP status, the Dataverse error code, the message and the request id.
They never carry tokens or secrets.
"""

from __future__ import annotations


class SalesbridgeError(Exception):
    """Root of every salesbridge error."""


class ConfigError(SalesbridgeError):
    """The configuration is missing or invalid."""


class CrmError(SalesbridgeError):
    """An error answered by (or on the way to) the CRM."""

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
    """The CRM throttled the request (429)."""

    def __init__(self, message: str, *, retry_after_s: float | None = None, **context: object) -> None:
        super().__init__(message, **context)  # type: ignore[arg-type]
        self.retry_after_s = retry_after_s


class UpstreamUnavailableError(TransientError):
    """The CRM could not be reached or failed (5xx, timeouts, connection errors)."""


class PermanentError(CrmError):
    """Retrying will not help."""


class AuthError(PermanentError):
    """Sign-in rejected, or access denied."""


class NotFoundError(PermanentError):
    """The record or resource does not exist."""


class ConcurrencyConflictError(PermanentError):
    """A conditional write found the record changed or already present (412)."""


class RequestRejectedError(PermanentError):
    """The CRM rejected the request (other 4xx)."""


class RecordError(CrmError):
    """One record cannot be processed; the rest of the page can."""


class ResyncRequiredError(CrmError):
    """The incremental position expired; a full read is required."""
