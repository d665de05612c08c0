"""Many-record writes: CreateMultiple / UpsertMultiple where the table supports them, ``$batch`` otherwise.

Not every table supports the bulk messages (account and contact historically did not; Microsoft's advice is
to probe ``sdkmessagefilters``, bulk-operations.md). The probe's answer is cached per client, i.e. per
organization, and table. Either path is atomic per chunk on standard tables: a chunk is written entirely or
not at all, so failures are reported per chunk. Every record carries a client-chosen id, so a retried chunk
can never write a record twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from salesbridge.crm.dynamics.batch import BatchOperation, ChangeSet, execute_batch
from salesbridge.crm.dynamics.client import (
    CallClass,
    DynamicsClient,
    JsonObject,
    quote_literal,
    record_path,
    require_identifier,
)
from salesbridge.crm.ports import TableInfo, WriteFailure, WriteReport
from salesbridge.errors import CrmError, PermanentError, UnexpectedResponseError

_logger = logging.getLogger(__name__)

DEFAULT_BULK_CHUNK_SIZE = 1000
"""Records per CreateMultiple/UpsertMultiple call (Microsoft's suggested start for small rows)."""
DEFAULT_BATCH_CHUNK_SIZE = 100
"""Records per ``$batch`` change set on the fallback path."""


MAX_BATCH_CHUNK_SIZE = 1000
"""Operations per ``$batch`` request at most (Dataverse's limit, execute-batch-operations-using-web-api.md)."""


def check_chunking(*, bulk_chunk_size: int, batch_chunk_size: int, parallel: int) -> None:
    """The one check of a many-record writer's chunking (:class:`BulkWriter`, the activity writer).

    Raises:
        ValueError: a chunk size below 1, a ``$batch`` chunk above :data:`MAX_BATCH_CHUNK_SIZE`, or fewer than one
            request in flight.
    """
    if bulk_chunk_size < 1 or not 1 <= batch_chunk_size <= MAX_BATCH_CHUNK_SIZE or parallel < 1:
        raise ValueError("Chunk sizes must be positive (at most 1,000 per batch) and parallel_chunks >= 1.")


class BulkMessage(StrEnum):
    """The bulk messages this module uses."""

    CREATE_MULTIPLE = "CreateMultiple"
    UPSERT_MULTIPLE = "UpsertMultiple"


@dataclass(frozen=True)
class WireRecord:
    """A record ready for the wire: its id and its Web API body (lookups already as ``@odata.bind``)."""

    id: str
    body: JsonObject


class BulkSupportProbe:
    """Whether a table supports a bulk message, asked once per table and message and then remembered.

    Args:
        client: The organization's client (the cache is per organization because it is per client).
    """

    def __init__(self, client: DynamicsClient) -> None:
        self._client = client
        self._known: dict[tuple[str, BulkMessage], bool] = {}

    async def supports(self, message: BulkMessage, table: str) -> bool:
        """True when an ``sdkmessagefilter`` binds ``message`` to ``table``.

        A probe the server refuses (no read access to sdkmessagefilter, say) counts as "not supported": the
        fallback works everywhere, only slower.

        Raises:
            TransientError: The probe could not be answered now; nothing is cached.
        """
        key = (require_identifier(table).lower(), message)
        if key not in self._known:
            try:
                page = await self._client.get_json(
                    "sdkmessagefilters",
                    params={
                        "$select": "sdkmessagefilterid",
                        "$filter": f"sdkmessageid/name eq {quote_literal(message.value)} and "
                        f"primaryobjecttypecode eq {quote_literal(key[0])}",
                    },
                )
                self._known[key] = bool(page.get("value"))
            except PermanentError as error:
                _logger.warning(
                    "Could not tell whether %s supports %s (%s); using $batch instead.", key[0], message, error.message
                )
                self._known[key] = False
        return self._known[key]


class BulkWriter:
    """Writes many records of one table in chunks, through bulk messages or ``$batch`` change sets.

    Args:
        client: The organization's client.
        probe: Remembers which tables support bulk messages; one per organization.
        bulk_chunk_size: Records per bulk call.
        batch_chunk_size: Records per ``$batch`` change set (at most 1,000).
        parallel_chunks: Chunks in flight at once (the client's concurrency cap applies as well).
    """

    def __init__(
        self,
        client: DynamicsClient,
        *,
        probe: BulkSupportProbe | None = None,
        bulk_chunk_size: int = DEFAULT_BULK_CHUNK_SIZE,
        batch_chunk_size: int = DEFAULT_BATCH_CHUNK_SIZE,
        parallel_chunks: int = 4,
    ) -> None:
        check_chunking(bulk_chunk_size=bulk_chunk_size, batch_chunk_size=batch_chunk_size, parallel=parallel_chunks)
        self._client = client
        self._probe = probe or BulkSupportProbe(client)
        self._bulk_chunk_size = bulk_chunk_size
        self._batch_chunk_size = batch_chunk_size
        self._parallel = asyncio.Semaphore(parallel_chunks)

    async def create_many(self, table: TableInfo, records: Sequence[WireRecord]) -> WriteReport:
        """Create records with their ids. A chunk whose records partly exist fails as a whole.

        Returns:
            Ids written, and failures per chunk (each with the error that stopped it).
        """
        return await self._write(BulkMessage.CREATE_MULTIPLE, table, records)

    async def upsert_many(self, table: TableInfo, records: Sequence[WireRecord]) -> WriteReport:
        """Create or update records by id. Idempotent.

        Returns:
            Ids written, and failures per chunk.
        """
        return await self._write(BulkMessage.UPSERT_MULTIPLE, table, records)

    async def _write(self, message: BulkMessage, table: TableInfo, records: Sequence[WireRecord]) -> WriteReport:
        if not records:
            return WriteReport(written=())
        if await self._probe.supports(message, table.logical_name):
            size, send = self._bulk_chunk_size, self._send_bulk
        else:
            size, send = self._batch_chunk_size, self._send_batch
        chunks = [records[start : start + size] for start in range(0, len(records), size)]

        async def guarded(chunk: Sequence[WireRecord]) -> WriteFailure | None:
            async with self._parallel:
                try:
                    await send(message, table, chunk)
                except CrmError as error:
                    return WriteFailure(record_ids=tuple(record.id for record in chunk), error=error)
                return None

        outcomes = await asyncio.gather(*(guarded(chunk) for chunk in chunks))
        failures = tuple(outcome for outcome in outcomes if outcome is not None)
        failed = {record_id for failure in failures for record_id in failure.record_ids}
        return WriteReport(written=tuple(record.id for record in records if record.id not in failed), failures=failures)

    async def _send_bulk(self, message: BulkMessage, table: TableInfo, chunk: Sequence[WireRecord]) -> None:
        odata_type = f"Microsoft.Dynamics.CRM.{table.logical_name}"
        if message is BulkMessage.CREATE_MULTIPLE:
            targets = [
                {**record.body, table.primary_id_column: record.id, "@odata.type": odata_type} for record in chunk
            ]
        else:
            # The key travels only in @odata.id: repeating it in the body breaks the create path.
            targets = [
                {
                    **{name: value for name, value in record.body.items() if name != table.primary_id_column},
                    "@odata.type": odata_type,
                    "@odata.id": record_path(table.entity_set_name, record.id),
                }
                for record in chunk
            ]
        response = await self._client.post_json(
            f"{table.entity_set_name}/Microsoft.Dynamics.CRM.{message.value}",
            {"Targets": targets},
            is_idempotent=True,  # client-chosen ids: a repeat fails as a duplicate or rewrites the same values
            call_class=CallClass.BULK,
        )
        if message is BulkMessage.CREATE_MULTIPLE and response.body:
            ids = response.json().get("Ids")
            if isinstance(ids, list) and len(ids) != len(chunk):
                raise UnexpectedResponseError(
                    f"CreateMultiple on '{table.logical_name}' returned {len(ids)} ids for {len(chunk)} records."
                )

    async def _send_batch(self, message: BulkMessage, table: TableInfo, chunk: Sequence[WireRecord]) -> None:
        if message is BulkMessage.CREATE_MULTIPLE:
            operations = tuple(
                BatchOperation("POST", table.entity_set_name, {**record.body, table.primary_id_column: record.id})
                for record in chunk
            )
        else:
            operations = tuple(
                BatchOperation("PATCH", record_path(table.entity_set_name, record.id), record.body) for record in chunk
            )
        outcomes = await execute_batch(self._client, [ChangeSet(operations)], is_idempotent=True)
        error = next((outcome.error for outcome in outcomes if outcome.error is not None), None)
        if error is not None:
            raise error
        if not all(outcome.is_done for outcome in outcomes):
            raise UnexpectedResponseError(
                f"The $batch writing {len(chunk)} '{table.logical_name}' records came back without every response."
            )
