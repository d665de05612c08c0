"""The Microsoft Dynamics 365 connector: the only code that sends requests to the Dataverse Web API."""

from salesbridge.crm.dynamics.auth import (
    AccessToken,
    CertificateCredential,
    ClientCredentials,
    MsalTokenProvider,
    TokenProvider,
)
from salesbridge.crm.dynamics.batch import (
    BatchOperation,
    ChangeSet,
    OperationOutcome,
    OperationResult,
    build_batch,
    execute_batch,
    parse_batch_response,
)
from salesbridge.crm.dynamics.bulk import BulkMessage, BulkSupportProbe, BulkWriter, WireRecord
from salesbridge.crm.dynamics.changes import ChangeTrackingReader
from salesbridge.crm.dynamics.client import (
    CallClass,
    ClientCounters,
    DynamicsClient,
    DynamicsResponse,
    Timeouts,
)
from salesbridge.crm.dynamics.connector import (
    DynamicsConnection,
    DynamicsConnector,
    DynamicsReader,
    DynamicsWriter,
)
from salesbridge.crm.dynamics.errors import translate_error
from salesbridge.crm.dynamics.metadata import DynamicsMetadata
from salesbridge.crm.dynamics.paging import NextLinkPaginator, PageRequest, iterate_pages
from salesbridge.crm.dynamics.redaction import redact_text, redact_url
from salesbridge.crm.dynamics.throttling import ConcurrencyLimit, RetryPolicy

__all__ = [
    "AccessToken",
    "BatchOperation",
    "BulkMessage",
    "BulkSupportProbe",
    "BulkWriter",
    "CallClass",
    "CertificateCredential",
    "ChangeSet",
    "ChangeTrackingReader",
    "ClientCounters",
    "ClientCredentials",
    "ConcurrencyLimit",
    "DynamicsClient",
    "DynamicsConnection",
    "DynamicsConnector",
    "DynamicsMetadata",
    "DynamicsReader",
    "DynamicsResponse",
    "DynamicsWriter",
    "MsalTokenProvider",
    "NextLinkPaginator",
    "OperationOutcome",
    "OperationResult",
    "PageRequest",
    "RetryPolicy",
    "Timeouts",
    "TokenProvider",
    "WireRecord",
    "build_batch",
    "execute_batch",
    "iterate_pages",
    "parse_batch_response",
    "redact_text",
    "redact_url",
    "translate_error",
]
