"""Writing activities back to Dynamics (writeback): :class:`~salesbridge.crm.ports.ActivityWriter` over the Web API.

Each record is an upsert of a row whose id the caller fixed (the same for every delivery), written as its seller:
every request (or ``$batch`` part) carries the seller's ``MSCRMCallerID``, so Dataverse checks the seller's
privileges and records the seller as ``createdby`` / ``modifiedby`` and the application user as
``createdonbehalfby`` (compose-http-requests-handle-errors.md, "impersonate another user"). The row is owned by
the seller (``ownerid``), regards the matched contact, lead or account (``regardingobjectid_<target>_<activity>``;
a note is attached through ``objectid_<target>``) and, for activities, has its activity parties: the seller as
sender (participation type 1) and the regarded contact or lead, with the activity's other participants, as
recipients (2) of what the seller sent, the other way round for what they received, deep-inserted through
``<activity>_activity_parties`` as Dataverse takes them on create and update (an update replaces the parties of the
types it gives, so writing again never doubles them; activityparty-entity.md,
associate-disassociate-entities-using-web-api.md). Navigation names come from the organization's metadata.

Requests, as few as Dataverse allows (bulk-operations.md, execute-batch-operations-using-web-api.md):

* tables that take ``UpsertMultiple`` (the app's custom activity tables): one call per seller and up to
  :data:`~salesbridge.crm.dynamics.bulk.DEFAULT_BULK_CHUNK_SIZE` records, chunks in parallel within the client's
  concurrency cap. A standard table rolls a failing call back entirely; when Dynamics refuses the call (not a
  transient failure), its records are sent again through ``$batch`` so that only the records Dynamics refuses
  fail, each with its own error ("fall back to ``$batch``", bulk-operations.md, "On error behavior");
* the others (notes, phone calls): ``$batch`` of independent ``PATCH``-by-id upserts with
  ``Prefer: odata.continue-on-error``, each part as its seller, so each record succeeds or fails alone.

Every failure keeps Dynamics' error as :func:`~salesbridge.crm.dynamics.errors.translate_error` made it (its code
and message), transient or permanent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final

from salesbridge.crm.dynamics.batch import BatchOperation, OperationOutcome, execute_batch
from salesbridge.crm.dynamics.bulk import (
    DEFAULT_BATCH_CHUNK_SIZE,
    DEFAULT_BULK_CHUNK_SIZE,
    BulkMessage,
    BulkSupportProbe,
    check_chunking,
)
from salesbridge.crm.dynamics.client import (
    CallClass,
    DynamicsClient,
    JsonObject,
    impersonating,
    quote_literal,
    record_path,
)
from salesbridge.crm.dynamics.metadata import DynamicsMetadata
from salesbridge.crm.ports import ActivityRecord, TableInfo, WriteFailure, WriteReport
from salesbridge.domain.crm_app import CRM_APP, PUBLISHER_PREFIX, app_table
from salesbridge.errors import (
    CrmError,
    CrmTableMissingError,
    NotFoundError,
    RequestRejectedError,
    TransientError,
    UnexpectedResponseError,
)

NOTE_TABLE: Final = "annotation"
PHONE_CALL_TABLE: Final = "phonecall"
APP_TABLES: Final = frozenset(table.logical_name for table in CRM_APP.tables)
SENDER: Final = 1
"""``participationtypemask`` of the sender (activityparty-entity.md)."""
TO_RECIPIENT: Final = 2
"""``participationtypemask`` of a recipient in the To field."""
PARTY_TARGETS: Final = frozenset({"contact", "lead"})
"""Regarded tables that are also the activity's recipient (an account regarded is not a person spoken to)."""

_PREFIX = PUBLISHER_PREFIX
_Entry = tuple[ActivityRecord, JsonObject]


def dataverse_time(moment: datetime) -> str:
    """A timezone-aware time as Dataverse's UTC text, ``2026-12-01T09:30:00Z``.

    Raises:
        ValueError: ``moment`` is naive.
    """
    if moment.tzinfo is None:
        raise ValueError("Times written to Dynamics must be timezone-aware.")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DynamicsActivityWriter:
    """:class:`~salesbridge.crm.ports.ActivityWriter` over the Web API.

    Args:
        client: The organization's client (its concurrency cap bounds the chunks in flight as well).
        metadata: Its metadata: entity sets and the navigation names lookups are written through.
        probe: Which tables take ``UpsertMultiple``; one per organization (shared with the connector's writer).
        bulk_chunk_size: Records per ``UpsertMultiple`` call.
        batch_chunk_size: Records per ``$batch`` (at most 1,000).
        parallel_chunks: Requests in flight at once.
    """

    def __init__(
        self,
        client: DynamicsClient,
        metadata: DynamicsMetadata,
        *,
        probe: BulkSupportProbe | None = None,
        bulk_chunk_size: int = DEFAULT_BULK_CHUNK_SIZE,
        batch_chunk_size: int = DEFAULT_BATCH_CHUNK_SIZE,
        parallel_chunks: int = 4,
    ) -> None:
        check_chunking(bulk_chunk_size=bulk_chunk_size, batch_chunk_size=batch_chunk_size, parallel=parallel_chunks)
        self._client = client
        self._metadata = metadata
        self._probe = probe or BulkSupportProbe(client)
        self._bulk_chunk_size = bulk_chunk_size
        self._batch_chunk_size = batch_chunk_size
        self._parallel = asyncio.Semaphore(parallel_chunks)

    async def write_activities(self, records: Sequence[ActivityRecord]) -> WriteReport:
        """Upsert every record as its owner, with its parties. See the port.

        Returns:
            The ids written, and the failures with Dynamics' errors: per ``UpsertMultiple`` call when it failed
            transiently (the whole call may be retried), per table when its metadata could not be read (a missing
            app table is a :class:`~salesbridge.errors.NotFoundError`), else per record.

        Raises:
            ValueError: A malformed record (an id or owner that is not a GUID, a regarded record without its
                table, a table writeback does not write): a caller's mistake, not Dynamics'.
        """
        by_table: dict[str, list[ActivityRecord]] = {}
        for record in records:
            by_table.setdefault(record.table, []).append(record)
        bulk: dict[tuple[str, str], list[_Entry]] = {}
        batched: dict[str, list[_Entry]] = {}
        tables: dict[str, TableInfo] = {}
        unwritable: list[WriteFailure] = []
        for name, group in by_table.items():
            try:
                info = tables[name] = await self._table(name)
                entries = [(record, await self._body(info, record)) for record in group]
                takes_bulk = await self._probe.supports(BulkMessage.UPSERT_MULTIPLE, name)
            except CrmError as error:
                # The table's (or a regarded table's) metadata could not be read: its records fail, the rest go.
                unwritable.append(WriteFailure(tuple(record.id for record in group), error))
                continue
            for entry in entries:
                if takes_bulk:
                    bulk.setdefault((name, entry[0].owner_id.lower()), []).append(entry)
                else:
                    batched.setdefault(name, []).append(entry)
        jobs: list[Awaitable[WriteReport]] = []
        for (table, owner), entries in bulk.items():
            size = self._bulk_chunk_size
            jobs += [
                self._upsert_multiple(tables[table], owner, entries[i : i + size]) for i in range(0, len(entries), size)
            ]
        for table, entries in batched.items():
            size = self._batch_chunk_size
            jobs += [self._guarded_batch(tables[table], entries[i : i + size]) for i in range(0, len(entries), size)]
        reports = await asyncio.gather(*jobs)
        failures = (*unwritable, *(failure for report in reports for failure in report.failures))
        return WriteReport(
            written=tuple(record_id for report in reports for record_id in report.written),
            failures=await self._missing_tables_named(failures, {r.id: r.table for r in records}),
        )

    async def _table(self, name: str) -> TableInfo:
        """The table's metadata; a table Dynamics does not have is a :class:`CrmTableMissingError`."""
        try:
            return await self._metadata.table(name)
        except CrmTableMissingError:
            raise
        except NotFoundError as error:
            raise _table_missing(name, error) from error

    async def _missing_tables_named(
        self, failures: Sequence[WriteFailure], table_of: Mapping[str, str]
    ) -> tuple[WriteFailure, ...]:
        """``failures``, a "not found" that came from a table gone from Dynamics (its app's tables removed while
        the drain ran: Dynamics then answers 404 for the table's entity set) told apart from one about a record:
        the table's definition is asked for again (not from the cache), once per table with such a failure. A
        refusal of a write to one of the app's tables that lacks some of the app's columns is the app missing too,
        not the record's fault: the app being installed again (its tables are created before their columns), or
        its columns removed. Parked, the activity would wait for a retry by hand; missing, for the app."""
        gone: dict[str, CrmTableMissingError | None] = {}
        named: list[WriteFailure] = []
        for failure in failures:
            error = failure.error
            table = table_of.get(failure.record_ids[0]) if failure.record_ids else None
            app_refused = isinstance(error, RequestRejectedError) and table in APP_TABLES
            if (
                table is None
                or not (isinstance(error, NotFoundError) or app_refused)
                or isinstance(error, CrmTableMissingError)
            ):
                named.append(failure)
                continue
            if table not in gone:
                gone[table] = await self._absent(table)
            missing = gone[table]
            named.append(failure if missing is None else WriteFailure(failure.record_ids, missing))
        if any(missing is not None for missing in gone.values()):
            # The app's tables are changing (removed, or being installed): what the cache holds of them is stale,
            # and a write once the app is whole again must read them anew.
            self._metadata.forget()
        return tuple(named)

    async def _absent(self, table: str) -> CrmTableMissingError | None:
        """The table gone, or (one of the app's) lacking some of the app's columns, as an error; None when it is
        whole or Dynamics could not tell (the record's own error then stands)."""
        definition = f"EntityDefinitions(LogicalName={quote_literal(table)})"
        try:
            await self._client.get_json(definition, params={"$select": "LogicalName"})
            if table not in APP_TABLES:
                return None
            page = await self._client.get_json(f"{definition}/Attributes", params={"$select": "LogicalName"})
        except NotFoundError as gone:
            return _table_missing(table, gone)
        except CrmError:
            return None  # could not tell: the record's own "not found" stands
        rows = page.get("value") if isinstance(page, dict) else None
        if not isinstance(rows, list):
            return None
        present = {str(row.get("LogicalName", "")).lower() for row in rows if isinstance(row, dict)}
        lacking = [column.logical_name for column in app_table(table).columns if column.logical_name not in present]
        if not lacking:
            return None
        return CrmTableMissingError(
            f"The table '{table}' lacks the CRM app's column(s) {', '.join(lacking)} in Dynamics 365 (the app being "
            "installed, or its columns removed).",
            table=table,
        )

    async def _upsert_multiple(self, table: TableInfo, owner: str, entries: Sequence[_Entry]) -> WriteReport:
        ids = tuple(record.id for record, _ in entries)
        targets = [
            {
                **body,
                "@odata.type": f"Microsoft.Dynamics.CRM.{table.logical_name}",
                "@odata.id": record_path(table.entity_set_name, record.id),
            }
            for record, body in entries
        ]
        async with self._parallel:
            try:
                await self._client.post_json(
                    f"{table.entity_set_name}/Microsoft.Dynamics.CRM.{BulkMessage.UPSERT_MULTIPLE.value}",
                    {"Targets": targets},
                    is_idempotent=True,  # upserts by fixed ids: a repeat writes the same rows again
                    headers=impersonating(owner),
                    call_class=CallClass.BULK,
                )
                return WriteReport(written=ids)
            except TransientError as error:
                return WriteReport(written=(), failures=(WriteFailure(ids, error),))
            except CrmError as error:
                if len(entries) == 1:
                    return WriteReport(written=(), failures=(WriteFailure(ids, error),))
        # Dynamics refused the call and rolled all of it back: find the records it refuses, one part each.
        return await self._guarded_batch(table, entries)

    async def _guarded_batch(self, table: TableInfo, entries: Sequence[_Entry]) -> WriteReport:
        async with self._parallel:
            return await self._batch(table, entries)

    async def _batch(self, table: TableInfo, entries: Sequence[_Entry]) -> WriteReport:
        operations = [
            BatchOperation(
                "PATCH",
                record_path(table.entity_set_name, record.id),
                body,
                headers=impersonating(record.owner_id),
            )
            for record, body in entries
        ]
        try:
            outcomes = await execute_batch(self._client, operations, continue_on_error=True, is_idempotent=True)
        except CrmError as whole:
            return WriteReport(written=(), failures=(WriteFailure(tuple(r.id for r, _ in entries), whole),))
        written: list[str] = []
        failures: list[WriteFailure] = []
        for (record, _), outcome in zip(entries, _padded(outcomes, len(entries)), strict=True):
            if outcome is not None and outcome.is_done:
                written.append(record.id)
                continue
            refused = outcome.error if outcome is not None else None
            failures.append(
                WriteFailure(
                    (record.id,),
                    refused
                    or UnexpectedResponseError(
                        f"The $batch writing '{table.logical_name}' records came back without a response for one."
                    ),
                )
            )
        return WriteReport(written=tuple(written), failures=tuple(failures))

    async def _body(self, table: TableInfo, record: ActivityRecord) -> JsonObject:
        """The Web API body of one record (its id travels in the URL or ``@odata.id``, never in the body)."""
        name = table.logical_name
        regarding = record.regarding
        if regarding.table is None:
            raise ValueError(f"The record an activity regards must name its table ({record.id}).")
        body: JsonObject = {"subject": record.subject}
        body[await self._bind_name(name, "ownerid", "systemuser")] = await self._reference(
            "systemuser", record.owner_id
        )
        if name == NOTE_TABLE:
            body["notetext"] = record.body
            body[await self._bind_name(name, "objectid", regarding.table)] = await self._reference(
                regarding.table, regarding.id
            )
            return body
        if name == PHONE_CALL_TABLE:
            body["description"] = record.body
            body["directioncode"] = record.outgoing
        elif name in APP_TABLES:
            body[f"{_PREFIX}_body"] = record.body
            body[f"{_PREFIX}_direction"] = record.outgoing
            body[f"{_PREFIX}_senton"] = dataverse_time(record.occurred_at)
            body[f"{_PREFIX}_conversationid"] = record.conversation_id
            body[f"{_PREFIX}_externalid"] = record.external_id
            body[await self._bind_name(name, f"{_PREFIX}_sellerid", "systemuser")] = await self._reference(
                "systemuser", record.owner_id
            )
        else:
            raise ValueError(f"Writeback does not write to table '{name}'.")
        # actualend: when it happened, on every activity; activitypointers (the record's activity list) has it.
        body["actualend"] = dataverse_time(record.occurred_at)
        body[await self._bind_name(name, "regardingobjectid", regarding.table)] = await self._reference(
            regarding.table, regarding.id
        )
        seller: JsonObject = {"partyid_systemuser@odata.bind": await self._reference("systemuser", record.owner_id)}
        people: list[JsonObject] = []
        # The regarded contact or lead first, then each participant once (one matched to the regarded record, or
        # named twice, would be the same party twice).
        seen: set[tuple[str, str]] = set()
        for party in (regarding, *record.participants):
            if party.table not in PARTY_TARGETS or (party.table, party.id.lower()) in seen:
                continue
            seen.add((party.table, party.id.lower()))
            people.append({f"partyid_{party.table}@odata.bind": await self._reference(party.table, party.id)})
        # Sent by the seller: from the seller to the people; received: from the people to the seller.
        senders, recipients = ([seller], people) if record.outgoing else (people, [seller])
        body[f"{name}_activity_parties"] = [
            *({**party, "participationtypemask": SENDER} for party in senders),
            *({**party, "participationtypemask": TO_RECIPIENT} for party in recipients),
        ]
        return body

    async def _bind_name(self, table: str, column: str, target: str) -> str:
        try:
            return f"{await self._metadata.navigation_name(table, column, target)}@odata.bind"
        except ValueError as missing:
            # The CRM lacks the relationship (an app column missing, activities not enabled on the target).
            raise RequestRejectedError(
                f"Dynamics has no relationship from '{table}.{column}' to '{target}': {missing} Install the CRM app "
                "again (salesbridge crm app install) or enable activities and notes on that table."
            ) from missing

    async def _reference(self, table: str, record_id: str) -> str:
        info = await self._metadata.table(table)
        return "/" + record_path(info.entity_set_name, record_id)


def _padded(outcomes: Sequence[OperationOutcome], count: int) -> list[OperationOutcome | None]:
    """``outcomes`` as long as the request was (a batch answered short leaves the rest without a response)."""
    return [*outcomes[:count], *([None] * (count - len(outcomes)))]


def _table_missing(table: str, error: CrmError) -> CrmTableMissingError:
    return CrmTableMissingError(
        f"The table '{table}' does not exist in Dynamics 365 (removed?): {error.message}",
        table=table,
        status=error.status,
        code=error.code,
    )
