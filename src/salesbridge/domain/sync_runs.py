"""The import plane as the use cases see it: import runs, each table's import status, and the settings an import
reads, as frozen values. Pure; no I/O.

The store returns these (never its rows) from the repositories of :mod:`salesbridge.services.ports`; the enums are
also the columns' types in :mod:`salesbridge.store.tables`.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from salesbridge.domain.workspace import ImportState

STOPPED_WORKER_ERROR = "the worker stopped before the run finished"
"""The error of a run failed because its lease expired: its worker died (killed, crashed, the machine restarted)."""


class SyncMode(enum.StrEnum):
    """How a table is read incrementally."""

    CHANGE_TRACKING = "change_tracking"
    MODIFIED_ON = "modified_on"


@dataclass(frozen=True, kw_only=True)
class ImportRun:
    """A requested import: queued → running (under a lease its worker renews) → succeeded or failed.

    Attributes:
        reason: Why it was queued (``sync now``, ``scheduled``, …).
        lease_expires_at: While running: past it, the worker is taken to have died.
        error: Why it failed; None unless failed.
    """

    id: uuid.UUID
    requested_at: datetime
    reason: str
    state: ImportState
    started_at: datetime | None
    finished_at: datetime | None
    lease_expires_at: datetime | None
    error: str | None


class RecordRow(NamedTuple):
    """One imported CRM record to store: the queryable copies and every imported column (a tuple: millions are
    built)."""

    crm_id: str
    name: str | None
    owner_id: str | None
    parent_id: str | None
    state_code: int | None
    data: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class ImportedRecord:
    """An imported CRM record as stored: the queryable copies, every imported column, and when and in which full
    read (``generation``) it was last written."""

    crm_id: str
    name: str | None
    owner_id: str | None
    parent_id: str | None
    state_code: int | None
    data: Mapping[str, Any]
    generation: int
    imported_at: datetime


@dataclass(frozen=True, kw_only=True)
class TableCheckpoint:
    """Where the import of one CRM table stands: its checkpoint and its health. The import engine changes it with
    :func:`dataclasses.replace` and saves it in the page's transaction.

    Checkpoint: ``delta_token`` (change tracking) or ``cursor_modified_on`` + ``cursor_ids`` (the closed-range
    fallback); ``resume_link`` is the next page of an interrupted read; ``reading_generation`` is set while a full
    read is in progress, and ``reading_replaces_rows`` says whether rows were stored when it started (if not,
    nothing older than the read can remain). Health: the last success, counts of the last run, and consecutive
    failures since when.
    """

    table_name: str
    mode: SyncMode
    delta_token: str | None
    resume_link: str | None
    generation: int
    reading_generation: int | None
    reading_replaces_rows: bool
    cursor_modified_on: datetime | None
    cursor_ids: tuple[str, ...]
    last_full_read_at: datetime | None
    last_success_at: datetime | None
    rows_imported: int
    rows_deleted: int
    row_count: int
    consecutive_failures: int
    failing_since: datetime | None
    last_error: str | None
    updated_at: datetime

    @property
    def table(self) -> str:
        """The table's logical name (``contact``)."""
        return self.table_name


@dataclass(frozen=True, kw_only=True)
class ImportSettings:
    """What an import and its schedule read of the organization's CRM settings (defaults when never saved).

    Attributes:
        sync_interval_minutes: How often the scheduler imports.
        won_value_column: The opportunity column holding a won opportunity's value.
        won_value_base_currency: Whether that value is read in the base currency (``<column>_base``).
    """

    sync_interval_minutes: int
    won_value_column: str
    won_value_base_currency: bool


@dataclass
class TableReport:
    """What one table's import did in this run (the import engine counts into it)."""

    table: str
    mode: SyncMode
    full_read: bool = False
    rows_imported: int = 0
    rows_deleted: int = 0
    resynced: bool = False


@dataclass
class ImportReport:
    """What a run did, table by table."""

    tables: list[TableReport] = field(default_factory=list)

    @property
    def rows_imported(self) -> int:
        """Rows stored in this run, all tables."""
        return sum(table.rows_imported for table in self.tables)

    @property
    def rows_deleted(self) -> int:
        """Rows deleted in this run, all tables."""
        return sum(table.rows_deleted for table in self.tables)
