"""The import plane as the use cases see it: import runs, each table's import status, and the settings an import
reads, as frozen values. Pure; no I/O.

The store returns these (never its rows) from the repositories of :mod:`salesbridge.services.ports`; the enums are
also the columns' types in :mod:`salesbridge.store.tables`.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
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
        rows_imported: Rows the run stored, every table (a finished run; None before it finished, or for a run
            that failed before it counted them).
        rows_deleted: Rows the run deleted, every table (likewise).
        requests_made: Web API requests the run sent, retries included (a finished run; None before).
        throttled: 429 answers (service protection) the run met (likewise).
        throttled_until: While it runs: the end of the latest ``Retry-After`` Dynamics answered its requests with
            (the run waits until then); None when never throttled.
    """

    id: uuid.UUID
    requested_at: datetime
    reason: str
    state: ImportState
    started_at: datetime | None
    finished_at: datetime | None
    lease_expires_at: datetime | None
    error: str | None
    rows_imported: int | None = None
    rows_deleted: int | None = None
    requests_made: int | None = None
    throttled: int | None = None
    throttled_until: datetime | None = None


@dataclass(frozen=True)
class RunCounts:
    """What a finished import run did (:class:`ImportRun`'s counts of the same names). ``rows_imported`` and
    ``rows_deleted`` are None for a run that failed before reporting them."""

    rows_imported: int | None
    rows_deleted: int | None
    requests_made: int
    throttled: int


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
        profile_url_columns: The column each table keeps a LinkedIn profile URL in (tables with one mapped).
    """

    sync_interval_minutes: int
    won_value_column: str
    won_value_base_currency: bool
    profile_url_columns: Mapping[str, str] = field(default_factory=dict)


CHANGE_LIMIT = 20_000
"""Changed records a run reports one by one; past it, a run says it changed "everything" (its derivations start
from every imported row again, which then costs less than following each change)."""


class RecordState(NamedTuple):
    """What derivations read of a record as stored: its owner, its parent (ids in lower case), its ``statecode``,
    and its imported columns (lookups as ``{"id": …, "table": …}``)."""

    owner_id: str | None
    parent_id: str | None
    state_code: int | None
    data: Mapping[str, Any] = MappingProxyType({})


class RecordChange(NamedTuple):
    """A record an import wrote or deleted, as it was stored before (None: it was new) and after (None: deleted)."""

    crm_id: str
    before: RecordState | None
    after: RecordState | None


def record_changes(
    before: Mapping[str, RecordState], written: Sequence[RecordRow], deleted_ids: Iterable[str]
) -> list[RecordChange]:
    """The changes of a page: each of the ``written`` rows and each of the ``deleted_ids`` that was stored, with
    ``before`` the stored state of those records (absent: not stored)."""
    changes = [
        RecordChange(
            row.crm_id, before.get(row.crm_id), RecordState(row.owner_id, row.parent_id, row.state_code, row.data)
        )
        for row in written
    ]
    changes.extend(RecordChange(crm_id, before[crm_id], None) for crm_id in deleted_ids if crm_id in before)
    return changes


@dataclass
class TableReport:
    """What one table's import did in this run (the import engine counts into it).

    ``changes`` lists the records written or deleted outside full reads, until ``change_limit``; past it,
    ``changes_overflowed`` is set and the list stops growing.
    """

    table: str
    mode: SyncMode
    full_read: bool = False
    rows_imported: int = 0
    rows_deleted: int = 0
    resynced: bool = False
    changes: list[RecordChange] = field(default_factory=list)
    changes_overflowed: bool = False
    change_limit: int = CHANGE_LIMIT
    """The changes listed at most (:data:`CHANGE_LIMIT`; tests pass a small one)."""

    def note_changes(self, changes: Sequence[RecordChange] | None) -> None:
        """Add a page's changes (None: the page did not follow them, as in a full read: everything changed)."""
        if changes is None or len(self.changes) + len(changes) > self.change_limit:
            self.changes_overflowed = True
            self.changes.clear()
        elif not self.changes_overflowed:
            self.changes.extend(changes)


@dataclass(frozen=True)
class ImportChanges:
    """What a run changed, for the derivations that follow it (CRM users, seats, auto-saved lists).

    Attributes:
        everything: True after a full read, a resynchronisation, or more than :data:`CHANGE_LIMIT` changes:
            derive from every imported row. When False, ``tables`` holds every changed record.
        tables: The changed records of each table that had some.
    """

    everything: bool
    tables: Mapping[str, tuple[RecordChange, ...]] = field(default_factory=dict)

    @classmethod
    def all(cls) -> ImportChanges:
        """A run that changed everything (or whose changes are unknown)."""
        return cls(everything=True)

    def of(self, table: str) -> tuple[RecordChange, ...]:
        """The changed records of ``table`` (none when it had none; meaningless when :attr:`everything`)."""
        return self.tables.get(table, ())

    def touches(self, table: str) -> bool:
        """Whether the run may have changed a record of ``table``."""
        return self.everything or bool(self.tables.get(table))

    @property
    def is_empty(self) -> bool:
        """Nothing changed."""
        return not self.everything and not any(self.tables.values())


@dataclass
class ImportReport:
    """What a run did, table by table."""

    tables: list[TableReport] = field(default_factory=list)

    @property
    def changes(self) -> ImportChanges:
        """What the run changed: every record written or deleted, or "everything" after a full read, a
        resynchronisation or more than :data:`CHANGE_LIMIT` changes in all."""
        if any(table.full_read or table.resynced or table.changes_overflowed for table in self.tables):
            return ImportChanges.all()
        if sum(len(table.changes) for table in self.tables) > CHANGE_LIMIT:
            return ImportChanges.all()
        return ImportChanges(
            everything=False, tables={table.table: tuple(table.changes) for table in self.tables if table.changes}
        )

    @property
    def rows_imported(self) -> int:
        """Rows stored in this run, all tables."""
        return sum(table.rows_imported for table in self.tables)

    @property
    def rows_deleted(self) -> int:
        """Rows deleted in this run, all tables."""
        return sum(table.rows_deleted for table in self.tables)
