"""The Dynamics implementations of the CRM ports, and the assembly of a connector from connection facts.

:class:`DynamicsReader` and :class:`DynamicsWriter` speak in port values (logical names, :class:`LookupValue`,
opaque versions and tokens) and use metadata for everything Dataverse names differently on the wire: entity
set names, ``_x_value`` lookup properties, and the navigation names that lookups are written through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from salesbridge.crm.budget import BudgetKey, RequestBudget
from salesbridge.crm.dynamics.activity_writer import DynamicsActivityWriter
from salesbridge.crm.dynamics.app_installer import DynamicsAppInstaller
from salesbridge.crm.dynamics.auth import ClientCredentials, MsalTokenProvider, TokenProvider
from salesbridge.crm.dynamics.bulk import BulkSupportProbe, BulkWriter, WireRecord
from salesbridge.crm.dynamics.changes import ChangeTrackingReader
from salesbridge.crm.dynamics.client import CallClass, DynamicsClient, JsonObject, RetryPolicy, Timeouts, record_path
from salesbridge.crm.dynamics.metadata import LOOKUP_TYPES, DynamicsMetadata
from salesbridge.crm.dynamics.paging import PageRequest, iterate_pages, prefer_header
from salesbridge.crm.dynamics.rows import filter_clause, order_clause, record_from_row, select_clause
from salesbridge.crm.dynamics.trust import CaCertificates
from salesbridge.crm.ports import (
    ChangePage,
    ChangeToken,
    ColumnValue,
    CrmRecord,
    LookupValue,
    NewRecord,
    RecordPage,
    RecordQuery,
    RequestUsage,
    RowPage,
    TableInfo,
    WriteReport,
)
from salesbridge.errors import RequestRejectedError

LOOKUP_ANNOTATIONS = "Microsoft.Dynamics.CRM.lookuplogicalname"
FORMATTED_ANNOTATIONS = "OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname"


class DynamicsReader:
    """:class:`~salesbridge.crm.ports.CrmReader` over the Web API.

    Args:
        client: The organization's client.
        metadata: Its metadata (entity sets, primary keys, lookup columns).
        prefetch: Fetch the next page while the caller handles the current one.
    """

    def __init__(self, client: DynamicsClient, metadata: DynamicsMetadata, *, prefetch: bool = True) -> None:
        self._client = client
        self._metadata = metadata
        self._prefetch = prefetch
        self._changes = ChangeTrackingReader(client, prefetch=prefetch)

    async def get(self, table: str, record_id: str, *, columns: Sequence[str] = ()) -> CrmRecord:
        """One record by id. See the port.

        Raises:
            NotFoundError: No such record (or table).
            ValueError: ``record_id`` is not a GUID.
        """
        info = await self._metadata.table(table)
        params = {"$select": await self._select(table, columns)} if columns else None
        row = await self._client.get_json(
            record_path(info.entity_set_name, record_id),
            params=params,
            headers={"Prefer": prefer_header(annotations=LOOKUP_ANNOTATIONS)},
        )
        return record_from_row(row, info)

    async def query(self, query: RecordQuery) -> AsyncIterator[RecordPage]:
        """Pages of matching records. See the port.

        Raises:
            NotFoundError: No such table.
            ValueError: A condition's value does not fit its column, or a name is invalid.
            CrmError: Any failure while reading.
        """
        info = await self._metadata.table(query.table)
        params: dict[str, str] = {}
        if query.columns:
            params["$select"] = await self._select(query.table, query.columns)
        if query.conditions or query.order_by:
            types = {column.logical_name: column.type for column in await self._metadata.columns(query.table)}
            lookups = frozenset(name for name, kind in types.items() if kind in LOOKUP_TYPES)
            if query.conditions:
                params["$filter"] = filter_clause(query.conditions, types)
            if query.order_by:
                params["$orderby"] = order_clause(query.order_by, lookups)
        annotations = FORMATTED_ANNOTATIONS if query.include_formatted else LOOKUP_ANNOTATIONS
        first = PageRequest(
            target=info.entity_set_name,
            params=params,
            headers={"Prefer": prefer_header(page_size=query.page_size, annotations=annotations)},
        )
        async for page in iterate_pages(self._client, first, call_class=CallClass.QUERY, prefetch=self._prefetch):
            yield RecordPage(records=tuple(record_from_row(row, info) for row in page.get("value") or []))

    async def read_changes(
        self,
        table: str,
        *,
        columns: Sequence[str] = (),
        since: ChangeToken | None = None,
        page_size: int = 5000,
        resume: ChangeToken | None = None,
    ) -> AsyncIterator[ChangePage]:
        """Pages of changes since ``since``. See the port.

        Raises:
            RequestRejectedError: Change tracking is not enabled on the table.
            ResyncRequiredError: The token expired or does not belong to this organization and table.
            CrmError: Any other failure.
        """
        info = await self._tracked_table(table)
        select = await self._select(table, columns) if columns else ""
        async for page in self._changes.read(
            info, select=select, since=since, page_size=page_size, annotations=LOOKUP_ANNOTATIONS, resume=resume
        ):
            yield page

    async def read_change_rows(
        self,
        table: str,
        *,
        columns: Sequence[str],
        since: ChangeToken | None = None,
        page_size: int = 5000,
        resume: ChangeToken | None = None,
    ) -> AsyncIterator[RowPage]:
        """Pages of changes as plain rows. See the port.

        Raises:
            RequestRejectedError: Change tracking is not enabled on the table.
            ResyncRequiredError: The token expired or does not belong to this organization and table.
            CrmError: Any other failure.
        """
        info = await self._tracked_table(table)
        lookups = frozenset(column.logical_name for column in await self._metadata.columns(table) if column.is_lookup)
        async for page in self._changes.read_rows(
            info, columns=columns, lookup_columns=lookups, since=since, page_size=page_size, resume=resume
        ):
            yield page

    async def _tracked_table(self, table: str) -> TableInfo:
        info = await self._metadata.table(table)
        if not info.is_change_tracked:
            raise RequestRejectedError(
                f"Change tracking is not enabled on table '{info.logical_name}': turn on 'Track changes' in the "
                "table's advanced options in Power Apps."
            )
        return info

    async def _select(self, table: str, columns: Sequence[str]) -> str:
        lookups = frozenset(column.logical_name for column in await self._metadata.columns(table) if column.is_lookup)
        return select_clause(columns, lookups)


class DynamicsWriter:
    """:class:`~salesbridge.crm.ports.CrmWriter` over the Web API.

    Lookups are written through the navigation name metadata gives for (table, column, target table), so
    polymorphic lookups such as ``regardingobjectid`` (``regardingobjectid_account_task``) come out right.

    Args:
        client: The organization's client.
        metadata: Its metadata.
        bulk: Many-record writes; built with defaults when None.
    """

    def __init__(self, client: DynamicsClient, metadata: DynamicsMetadata, *, bulk: BulkWriter | None = None) -> None:
        self._client = client
        self._metadata = metadata
        self._bulk = bulk or BulkWriter(client)

    async def create(self, table: str, values: Mapping[str, ColumnValue], *, record_id: str) -> str:
        """See the port. Raises DuplicateRecordError when the id exists."""
        info = await self._metadata.table(table)
        body = await self.wire_body(info, values)
        return await self._client.create(
            info.entity_set_name, body, primary_id_column=info.primary_id_column, record_id=record_id
        )

    async def create_if_absent(self, table: str, record_id: str, values: Mapping[str, ColumnValue]) -> bool:
        """See the port."""
        info = await self._metadata.table(table)
        return await self._client.create_if_absent(info.entity_set_name, record_id, await self.wire_body(info, values))

    async def update(
        self, table: str, record_id: str, values: Mapping[str, ColumnValue], *, expected_version: str | None = None
    ) -> None:
        """See the port."""
        info = await self._metadata.table(table)
        await self._client.update(
            info.entity_set_name, record_id, await self.wire_body(info, values), if_match=expected_version or "*"
        )

    async def upsert(self, table: str, record_id: str, values: Mapping[str, ColumnValue]) -> bool:
        """See the port."""
        info = await self._metadata.table(table)
        return await self._client.upsert(
            info.entity_set_name,
            record_id,
            await self.wire_body(info, values),
            primary_id_column=info.primary_id_column,
        )

    async def delete(self, table: str, record_id: str, *, expected_version: str | None = None) -> None:
        """See the port."""
        info = await self._metadata.table(table)
        await self._client.delete(record_path(info.entity_set_name, record_id), if_match=expected_version)

    async def create_many(self, table: str, records: Sequence[NewRecord]) -> WriteReport:
        """See the port. CreateMultiple where supported, ``$batch`` change sets otherwise."""
        info = await self._metadata.table(table)
        return await self._bulk.create_many(info, [await self._wire_record(info, record) for record in records])

    async def upsert_many(self, table: str, records: Sequence[NewRecord]) -> WriteReport:
        """See the port. UpsertMultiple where supported, ``$batch`` change sets otherwise."""
        info = await self._metadata.table(table)
        return await self._bulk.upsert_many(info, [await self._wire_record(info, record) for record in records])

    async def wire_body(self, table: TableInfo, values: Mapping[str, ColumnValue]) -> JsonObject:
        """The Web API body of ``values``: lookups become ``<navigation name>@odata.bind: /<set>(<id>)``.

        Raises:
            ValueError: A lookup without a target table, or to a table the column cannot refer to.
            NotFoundError: The target table does not exist.
        """
        body: JsonObject = {}
        for column, value in values.items():
            if isinstance(value, LookupValue):
                if value.table is None:
                    raise ValueError(f"The lookup '{column}' must name the table of the record it refers to.")
                navigation = await self._metadata.navigation_name(table.logical_name, column, value.table)
                target = await self._metadata.table(value.table)
                body[f"{navigation}@odata.bind"] = "/" + record_path(target.entity_set_name, value.id)
            else:
                body[column] = value
        return body

    async def _wire_record(self, table: TableInfo, record: NewRecord) -> WireRecord:
        record_path(table.entity_set_name, record.id)  # validates the id before anything is sent
        return WireRecord(id=record.id.lower(), body=await self.wire_body(table, record.values))


@dataclass(frozen=True)
class DynamicsConnection:
    """The facts needed to reach one Dynamics 365 organization.

    Attributes:
        org_url: ``https://<org>.crm.dynamics.com``.
        credentials: The application's tenant, client id and secret or certificate.
        authority: The identity authority; ``https://login.microsoftonline.com/<tenant>`` when None.
        validate_authority: Let MSAL validate the authority (off for a private or local authority).
        instance_discovery: Let MSAL run instance discovery (off for a private or local authority).
        ca_bundle: CAs to trust for both the authority and the organization instead of the system's:
            certificates, or a PEM file (operator's tools and tests).
        language_code: LCID of metadata labels.
    """

    org_url: str
    credentials: ClientCredentials
    authority: str | None = None
    validate_authority: bool = True
    instance_discovery: bool = True
    ca_bundle: Path | CaCertificates | None = None
    language_code: int = 1033

    @property
    def scope(self) -> str:
        """The client-credentials scope of the organization."""
        return f"{self.org_url.rstrip('/')}/.default"


class DynamicsConnector:
    """Everything needed to work with one organization: client, metadata, reader, writer, the app installer, and
    the activity writer of writeback (``activities``).

    Use as an async context manager (closes the connection pool), or call :meth:`close`.
    """

    def __init__(
        self,
        client: DynamicsClient,
        *,
        language_code: int = 1033,
        bulk: BulkWriter | None = None,
        owned_tokens: MsalTokenProvider | None = None,
    ) -> None:
        self.client = client
        self._owned_tokens = owned_tokens
        self.metadata = DynamicsMetadata(client, language_code=language_code)
        self.reader = DynamicsReader(client, self.metadata)
        self.writer = DynamicsWriter(client, self.metadata, bulk=bulk)
        self.app = DynamicsAppInstaller(client, self.metadata)
        self.activities = DynamicsActivityWriter(client, self.metadata, probe=BulkSupportProbe(client))

    @classmethod
    def connect(
        cls,
        connection: DynamicsConnection,
        *,
        tokens: TokenProvider | None = None,
        timeouts: Timeouts | None = None,
        retry_policy: RetryPolicy | None = None,
        budget: RequestBudget | None = None,
    ) -> Self:
        """Assemble a connector; nothing is sent until the first call.

        Args:
            connection: Where and who.
            tokens: Token source; MSAL client credentials from ``connection`` when None.
            timeouts: Per call class.
            retry_policy: Retry decisions.
            budget: The service-protection budget this connector shares with every other client of the same
                organization and application user (the process's, or the workers' through the database); when
                None, the connector keeps to Dataverse's limits on its own.
        """
        owned = None
        if tokens is None:
            tokens = owned = MsalTokenProvider(
                connection.credentials,
                scope=connection.scope,
                authority=connection.authority,
                validate_authority=connection.validate_authority,
                instance_discovery=connection.instance_discovery,
                ca_bundle=connection.ca_bundle,
            )
        holder = budget.holder(BudgetKey.of(connection.org_url, connection.credentials.client_id)) if budget else None
        client = DynamicsClient(
            connection.org_url,
            tokens,
            timeouts=timeouts,
            retry_policy=retry_policy,
            ca_bundle=connection.ca_bundle,
            budget=holder,
        )
        return cls(client, language_code=connection.language_code, owned_tokens=owned)

    def usage(self) -> RequestUsage:
        """The Web API requests this connector sent (each retry counts), the 429s it met and how long it still waits
        after the latest one, from the client's counters."""
        counters = self.client.counters
        return RequestUsage(requests=counters.requests, throttled=counters.throttles, paused_s=self.client.paused_s)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pools (organization, and the authority when this connector built the tokens).

        Idempotent. Metadata loads still in flight (a caller that stopped waiting, e.g. on its own timeout, leaves
        them running behind a shield) are cancelled first: none may reopen the pool after it closed.
        """
        await self.metadata.cancel_loads()
        await self.client.close()
        if self._owned_tokens is not None:
            self._owned_tokens.close()
