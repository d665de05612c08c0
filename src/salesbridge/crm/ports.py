"""The ports through which the product reads and writes a CRM, and the plain values they exchange.

Nothing here knows about HTTP, OData annotations or Dataverse's wire shapes: tables and columns are named by
their logical names, lookups are :class:`LookupValue`, row versions and change positions are opaque strings.
Implementations live in technology packages (``crm/dynamics``); tests use fakes of these protocols.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol, TypeAlias

from salesbridge.domain.crm_app import CrmApp, MissingItem, ObservedCrm
from salesbridge.errors import CrmError


@dataclass(frozen=True)
class RequestUsage:
    """What a session sent to the CRM so far: Web API requests (each retry counts) and the 429 answers (service
    protection) among them."""

    requests: int = 0
    throttled: int = 0
    paused_s: float = 0.0
    """Seconds the session still holds its requests back because Dynamics answered 429 with ``Retry-After`` (0
    when it does not wait)."""


@dataclass(frozen=True)
class LookupValue:
    """A reference from one record to another.

    Attributes:
        id: The referenced record's id (a lowercase GUID).
        table: The referenced table's logical name; None when the CRM did not say (reads without annotations).
    """

    id: str
    table: str | None = None


ColumnValue: TypeAlias = str | int | float | bool | LookupValue | None
"""A column's value: JSON scalars as the CRM sends them (dates as ISO-8601 text), or a lookup."""


@dataclass(frozen=True)
class CrmRecord:
    """One row of a CRM table.

    Attributes:
        table: Logical name of the table (``contact``).
        id: Primary key, a lowercase GUID.
        values: Column logical name → value. Lookup columns are keyed by the lookup's name
            (``parentcustomerid``) and hold a :class:`LookupValue`.
        version: Opaque row version, to pass back as ``expected_version`` on conditional writes.
        formatted: Column → display text in the caller's language (labels of choices, names of lookups),
            when formatted values were requested.
    """

    table: str
    id: str
    values: Mapping[str, ColumnValue]
    version: str | None = None
    formatted: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Tombstone:
    """A row that left the table since the last change token (``reason`` is ``deleted`` in practice)."""

    table: str
    id: str
    reason: str


@dataclass(frozen=True)
class ChangeToken:
    """An opaque position in a table's change stream. Store ``value`` as text; never parse it."""

    value: str


@dataclass(frozen=True)
class RecordPage:
    """One page of a query, in server order."""

    records: tuple[CrmRecord, ...]


@dataclass(frozen=True)
class ChangePage:
    """One page of a change-tracking read.

    Attributes:
        records: Rows created or updated since the token (new and updated rows look the same).
        tombstones: Rows deleted since the token.
        token: The position after this read, present on the last page only. Persist it with the page's rows.
        resume: Where the read continues after this page (absent on the last page). Persist it with the page's
            rows: passing it as ``resume`` to ``read_changes`` continues an interrupted read from the next page.
    """

    records: tuple[CrmRecord, ...]
    tombstones: tuple[Tombstone, ...] = ()
    token: ChangeToken | None = None
    resume: ChangeToken | None = None

    @property
    def is_last(self) -> bool:
        """True on the page that carries the next change token."""
        return self.token is not None


@dataclass(frozen=True)
class RowPage:
    """One page of a change-tracking read in bulk form, for importers that store rows as they come.

    Attributes:
        rows: ``(id, values)`` per created or updated row; values are JSON scalars keyed by column logical name,
            a lookup as ``{"id": …, "table": …}`` (or None); the primary key is not repeated in the values.
        deleted_ids: Ids of rows deleted since the token.
        token: As :attr:`ChangePage.token` (last page only).
        resume: As :attr:`ChangePage.resume`.
    """

    rows: list[tuple[str, dict[str, object]]]
    deleted_ids: list[str]
    token: ChangeToken | None = None
    resume: ChangeToken | None = None


ComparisonOperator: TypeAlias = Literal["eq", "ne", "gt", "ge", "lt", "le"]
ConditionValue: TypeAlias = str | int | float | bool | datetime | None


@dataclass(frozen=True)
class Condition:
    """``column <operator> value``. Datetimes must be timezone-aware; lookups compare by id."""

    column: str
    operator: ComparisonOperator
    value: ConditionValue


@dataclass(frozen=True)
class SortKey:
    """One ``ORDER BY`` term."""

    column: str
    descending: bool = False


@dataclass(frozen=True)
class RecordQuery:
    """A read of one table: all conditions must hold (AND).

    Attributes:
        table: Logical name of the table.
        columns: Columns to return (the primary key always comes back); empty means every column.
        conditions: Conditions joined with AND.
        order_by: Sort keys, applied in order.
        page_size: Rows per page, 1-5,000.
        include_formatted: Ask for display labels of choices and lookups (:attr:`CrmRecord.formatted`).
    """

    table: str
    columns: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()
    order_by: tuple[SortKey, ...] = ()
    page_size: int = 5000
    include_formatted: bool = False


@dataclass(frozen=True)
class NewRecord:
    """A record to write with a client-chosen id, which makes the write safe to retry."""

    id: str
    values: Mapping[str, ColumnValue]


@dataclass(frozen=True)
class WriteFailure:
    """Records that were not written, and why. Bulk writes are atomic per chunk, so failures come in groups."""

    record_ids: tuple[str, ...]
    error: CrmError


@dataclass(frozen=True)
class WriteReport:
    """The outcome of a multi-record write: every record id is in exactly one of the two groups."""

    written: tuple[str, ...]
    failures: tuple[WriteFailure, ...] = ()

    @property
    def is_complete(self) -> bool:
        """True when every record was written."""
        return not self.failures


class Ownership(StrEnum):
    """Who owns the rows of a table."""

    USER = "user"
    ORGANIZATION = "organization"
    BUSINESS = "business"
    NONE = "none"


@dataclass(frozen=True)
class TableInfo:
    """Facts about a table.

    Attributes:
        logical_name: ``account``.
        entity_set_name: The collection name in URLs (``accounts``); not always the plural of the logical name.
        primary_id_column: ``accountid``; activities use ``activityid``.
        primary_name_column: ``name``; None for tables without one.
        display_name: The table's label in the requested language, when it has one.
        is_change_tracked: Whether change tracking is enabled, i.e. :meth:`CrmReader.read_changes` works.
        is_activity: Whether the table is an activity (task, phone call, custom activity).
        ownership: Who owns its rows.
    """

    logical_name: str
    entity_set_name: str
    primary_id_column: str
    primary_name_column: str | None = None
    display_name: str | None = None
    is_change_tracked: bool = False
    is_activity: bool = False
    ownership: Ownership = Ownership.NONE


@dataclass(frozen=True)
class ColumnInfo:
    """Facts about a column.

    Attributes:
        logical_name: ``parentcustomerid``.
        type: The CRM's attribute type (``String``, ``Lookup``, ``Customer``, ``Owner``, ``Picklist``, ``DateTime``…).
        display_name: The column's label in the requested language, when it has one.
        is_lookup: Whether values are references to other records.
        is_valid_for_create: Whether a create may set it.
        is_valid_for_update: Whether an update may set it.
    """

    logical_name: str
    type: str
    display_name: str | None = None
    is_lookup: bool = False
    is_valid_for_create: bool = True
    is_valid_for_update: bool = True


@dataclass(frozen=True)
class OptionInfo:
    """One value of a choice column, with its label in the requested language (None when it has none)."""

    value: int
    label: str | None


@dataclass(frozen=True)
class LookupRelation:
    """A many-to-one relationship: ``column`` on this table refers to ``target_table``.

    Polymorphic lookups (customer, regarding, owner) have one relation per target table.

    Attributes:
        column: The referencing column (``regardingobjectid``).
        target_table: The referenced table (``account``).
        target_column: The referenced column, usually the target's primary key.
        navigation_name: The name a write uses to set this lookup (``regardingobjectid_account_task``).
        schema_name: The relationship's schema name (``Account_Tasks``).
    """

    column: str
    target_table: str
    target_column: str
    navigation_name: str
    schema_name: str


@dataclass(frozen=True)
class CallerIdentity:
    """Who the connection acts as."""

    user_id: str
    business_unit_id: str
    organization_id: str


class PrivilegeDepth(StrEnum):
    """How far a privilege reaches: own records, business unit, business unit and children, organization."""

    BASIC = "Basic"
    LOCAL = "Local"
    DEEP = "Deep"
    GLOBAL = "Global"


@dataclass(frozen=True)
class PrivilegeGrant:
    """A privilege held by a user (directly or through a team), at a depth."""

    name: str
    depth: PrivilegeDepth
    privilege_id: str
    business_unit_id: str | None = None


class CrmReader(Protocol):
    """Reads records: by id, by query in pages, and incrementally through change tracking."""

    async def get(self, table: str, record_id: str, *, columns: Sequence[str] = ()) -> CrmRecord:
        """One record by id.

        Raises:
            NotFoundError: The record does not exist (or the caller cannot see it).
            CrmError: Any other failure, already retried when transient.
        """
        ...

    def query(self, query: RecordQuery) -> AsyncIterator[RecordPage]:
        """Pages of the records matching ``query``, in server order; the last page may be empty.

        Raises:
            CrmError: On any page; pages already yielded stay valid.
        """
        ...

    def read_changes(
        self,
        table: str,
        *,
        columns: Sequence[str] = (),
        since: ChangeToken | None = None,
        page_size: int = 5000,
        resume: ChangeToken | None = None,
    ) -> AsyncIterator[ChangePage]:
        """Pages of changes since ``since`` (or every row when None); the last page carries the next token.
        With ``resume`` (a page's :attr:`ChangePage.resume`), the interrupted read continues from that page.

        Raises:
            ResyncRequiredError: The token expired or was refused: discard it and read again with ``since=None``.
            RequestRejectedError: Change tracking is not enabled on the table.
            CrmError: Any other failure.
        """
        ...

    def read_change_rows(
        self,
        table: str,
        *,
        columns: Sequence[str],
        since: ChangeToken | None = None,
        page_size: int = 5000,
        resume: ChangeToken | None = None,
    ) -> AsyncIterator[RowPage]:
        """As :meth:`read_changes`, with rows as plain mappings (see :class:`RowPage`): the fast path of a bulk
        import, doing as little work per row as the wire format allows.

        Raises:
            As :meth:`read_changes`.
        """
        ...


class CrmWriter(Protocol):
    """Writes records. Every method is safe to retry: ids are chosen by the caller."""

    async def create(self, table: str, values: Mapping[str, ColumnValue], *, record_id: str) -> str:
        """Create a record with the given id and return that id.

        Raises:
            DuplicateRecordError: A record with this id exists (for example, an earlier attempt succeeded).
            CrmError: Any other failure.
        """
        ...

    async def create_if_absent(self, table: str, record_id: str, values: Mapping[str, ColumnValue]) -> bool:
        """Create the record unless it exists. Idempotent.

        Returns:
            True when this call created it, False when it already existed (nothing was changed).
        """
        ...

    async def update(
        self, table: str, record_id: str, values: Mapping[str, ColumnValue], *, expected_version: str | None = None
    ) -> None:
        """Update an existing record; never creates one.

        Raises:
            NotFoundError: The record does not exist.
            ConcurrencyConflictError: ``expected_version`` was given and the record changed since.
        """
        ...

    async def upsert(self, table: str, record_id: str, values: Mapping[str, ColumnValue]) -> bool:
        """Create or update the record. Idempotent.

        Returns:
            True when it was created, False when it was updated.
        """
        ...

    async def delete(self, table: str, record_id: str, *, expected_version: str | None = None) -> None:
        """Delete a record.

        Raises:
            NotFoundError: It does not exist (callers retrying a delete may treat this as done).
            ConcurrencyConflictError: ``expected_version`` was given and the record changed since.
        """
        ...

    async def create_many(self, table: str, records: Sequence[NewRecord]) -> WriteReport:
        """Create many records in as few requests as the CRM allows; chunks are atomic."""
        ...

    async def upsert_many(self, table: str, records: Sequence[NewRecord]) -> WriteReport:
        """Create or update many records by id; chunks are atomic."""
        ...


class CrmMetadata(Protocol):
    """Describes tables, columns, choices and relationships. Answers may be cached by the implementation."""

    async def table(self, table: str) -> TableInfo:
        """Facts about one table.

        Raises:
            NotFoundError: No table has this logical name.
        """
        ...

    async def tables(self) -> list[TableInfo]:
        """Every table of the organization."""
        ...

    async def columns(self, table: str) -> list[ColumnInfo]:
        """The columns of a table."""
        ...

    async def options(self, table: str, column: str) -> list[OptionInfo]:
        """The values of a choice, state, status or yes/no column, labelled in the configured language.

        Raises:
            NotFoundError: The column does not exist.
            ValueError: The column is not a choice (a programming error, not a CRM answer).
        """
        ...

    async def lookups(self, table: str) -> list[LookupRelation]:
        """The many-to-one relationships of a table (one per lookup target)."""
        ...


class CrmIdentity(Protocol):
    """Who the connection is, and what it may do."""

    async def who_am_i(self) -> CallerIdentity:
        """The signed-in user; the cheapest authenticated call, used as the connection check."""
        ...

    async def user_privilege(self, user_id: str, privilege_name: str) -> tuple[PrivilegeGrant, ...]:
        """The grants of one privilege (``prvReadAccount``) to a user; empty when the user does not hold it."""
        ...

    async def user_privileges(self, user_id: str) -> tuple[PrivilegeGrant, ...]:
        """Every privilege grant of a user."""
        ...


class CrmAppInstaller(Protocol):
    """Reads and creates the CRM-side app's definitions (:mod:`salesbridge.domain.crm_app`) through the CRM's
    metadata. Never deletes or changes an existing definition."""

    async def observe(self, app: CrmApp) -> ObservedCrm:
        """What the CRM has of the tables ``app`` concerns (absent tables are left out). Reads only.

        Raises:
            CrmError: a metadata read failed.
        """
        ...

    async def create(self, app: CrmApp, items: Sequence[MissingItem]) -> None:
        """Create the installable ``items`` (tables, then columns, then keys, in the given order); other kinds are
        ignored. Idempotent with a fresh :meth:`observe` before each call: an interrupted run leaves what it
        created, and the next run creates only the rest.

        Raises:
            CrmError: a create was refused (what was created before it stays).
        """
        ...


@dataclass(frozen=True)
class ActivityRecord:
    """An activity to write to the CRM (writeback), in CRM terms.

    Attributes:
        id: The CRM row's id, chosen by the caller and the same for every delivery of the activity
            (:func:`salesbridge.domain.writeback.crm_activity_id`): writing it again updates the same row.
        table: ``sbr_inmail``, ``sbr_message`` (the app's tables), ``annotation`` (a note) or ``phonecall``.
        owner_id: The seller's ``systemuserid``: the row's owner, and the user the write runs as (impersonation),
            so the CRM shows the seller as creator and the application user as "created on behalf by".
        regarding: The contact, lead or account the activity regards (for a note: the record it is attached to).
        subject: The activity's subject (a note's title).
        body: Its text (a note's ``notetext``, a call's ``description``, the app tables' ``sbr_body``).
        occurred_at: When it was sent or held (UTC).
        outgoing: Sent by the seller (True) or received (False); ignored for notes.
        conversation_id: The conversation of an InMail or message; None otherwise.
        external_id: salesbridge's id of the activity (the app tables' ``sbr_externalid``).
        participants: The other people it involves (contacts or leads, each with its table): further activity
            parties on the person's side (recipients of what the seller sent, senders of what they received);
            ignored for notes.
    """

    id: str
    table: str
    owner_id: str
    regarding: LookupValue
    subject: str
    body: str
    occurred_at: datetime
    outgoing: bool
    conversation_id: str | None
    external_id: str
    participants: tuple[LookupValue, ...] = ()


class ActivityWriter(Protocol):
    """Writes activities to the CRM (writeback). Every call is safe to repeat: rows are addressed by their ids."""

    async def write_activities(self, records: Sequence[ActivityRecord]) -> WriteReport:
        """Create or update every record (upsert by id), each as its owner (impersonation), with its activity
        parties (from the owner; to the regarded contact or lead) for activity tables, in as few requests as the
        CRM allows: bulk messages where the table takes them, ``$batch`` otherwise.

        Returns:
            The ids written, and the failures, each with the CRM's error (a :class:`~salesbridge.errors.
            TransientError` is worth retrying; a :class:`~salesbridge.errors.PermanentError` is not). Never raises
            for a failure of some records.
        """
        ...
