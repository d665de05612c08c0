"""The import plane's repositories (sync, disconnect):
the queue of runs, checkpoints, imported records, CRM settings and the imported data."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol

from salesbridge.domain.clock import Clock as Clock
from salesbridge.domain.pipeline import CrmSettings, StageSource
from salesbridge.domain.sync_health import SkippedRecord
from salesbridge.domain.sync_runs import ImportedRecord, ImportRun, ImportSettings, RunCounts, TableCheckpoint
from salesbridge.domain.workspace import (
    ImportState,
)
from salesbridge.sync.ports import ImportedRecords, SkippedRecords, TableCheckpoints

# ---------------------------------------------------------------------------- the import plane (sync, disconnect)


class ImportQueue(Protocol):
    """The organization's queue of CRM imports."""

    def enqueue(self, *, reason: str) -> ImportRun:
        """Queue an import unless one is queued already (that one is returned unchanged). Idempotent.

        Raises:
            StoreError: the organization does not exist.
        """
        ...

    def queued(self) -> list[ImportRun]:
        """The queued imports, oldest first."""
        ...


class ImportRunRepository(ImportQueue, Protocol):
    """Imports as runs: queued → running (leased) → succeeded | failed. At most one runs per organization."""

    def running(self) -> ImportRun | None:
        """The run holding a live lease, or None."""
        ...

    def fail_expired(self) -> int:
        """Fail the running runs whose lease expired with :data:`salesbridge.domain.sync_runs.STOPPED_WORKER_ERROR`;
        how many. Idempotent."""
        ...

    def claim(self, *, lease: timedelta) -> ImportRun | None:
        """Start the oldest queued run under ``lease`` unless another holds a live lease (expired ones are failed
        first); the claimed run, or None. Two claimants never both win."""
        ...

    def renew(self, run_id: uuid.UUID, *, lease: timedelta) -> bool:
        """Extend a running run's lease; False when it no longer runs (cancelled or taken over)."""
        ...

    def note_throttled(self, run_id: uuid.UUID, *, until: datetime) -> None:
        """Record that Dynamics throttles the running run until ``until`` (its ``Retry-After``); a run no longer
        running is left alone."""
        ...

    def finish(self, run_id: uuid.UUID, *, error: str | None = None, counts: RunCounts | None = None) -> None:
        """Mark a running run succeeded (``error`` None) or failed, with what it did (``counts``) when known; a run
        no longer running is left alone."""
        ...

    def recent(self, *, limit: int = 20) -> list[ImportRun]:
        """The newest runs, newest first."""
        ...

    def last_finished(self, state: ImportState) -> ImportRun | None:
        """The run that most recently ended in ``state``, or None."""
        ...

    def last_finished_at(self) -> datetime | None:
        """When the newest finished run ended (success or failure), or None."""
        ...


class ImportRecordErrors(SkippedRecords, Protocol):
    """The CRM records the import skipped (:class:`~salesbridge.domain.sync_health.SkippedRecord`)."""

    def newest(self, *, limit: int) -> list[SkippedRecord]:
        """At most ``limit`` errors, the most recent failure first."""
        ...

    def count(self) -> int:
        """How many records are in error."""
        ...


class ImportCheckpoints(TableCheckpoints, Protocol):
    """Each imported CRM table's checkpoint and health: the import engine's port
    (:class:`salesbridge.sync.ports.TableCheckpoints`), and the services' read of them."""

    def all(self) -> list[TableCheckpoint]:
        """Every imported table's checkpoint, by name."""
        ...


class ImportedRecordRepository(ImportedRecords, Protocol):
    """The imported CRM records: the import engine's port (:class:`salesbridge.sync.ports.ImportedRecords`), and
    reading them whole."""

    def records(self, table: str, *, limit: int | None = None) -> list[ImportedRecord]:
        """Records of ``table`` by id (the ``limit`` first ones)."""
        ...


class CrmSettingsRepository(Protocol):
    """The organization's CRM settings."""

    def import_settings(self) -> ImportSettings:
        """What imports and their schedule read of the settings (the defaults when never saved)."""
        ...

    def get(self) -> CrmSettings:
        """The settings: the stored ones, else the defaults (``updated_at`` None)."""
        ...

    def save(
        self,
        *,
        stage_source: StageSource,
        stage_threshold: str | None,
        won_value_column: str,
        won_value_base_currency: bool,
        auto_save_enabled: bool,
        sync_interval_minutes: int,
        profile_url_columns: Mapping[str, str] | None = None,
    ) -> CrmSettings:
        """Store the settings as given (validation is the use case's), stamped now. Idempotent.
        ``profile_url_columns`` (table → column) replaces the mapped profile-URL columns (a table left out has
        none); None keeps them as stored.

        Raises:
            StoreError: the organization does not exist.
        """
        ...


class ImportedDataRepository(Protocol):
    """The organization's imported CRM data as a whole (records, CRM users, checkpoints, runs, auto-saved lists):
    where it came from, and purging it. The purge methods delete in bulk, without loading rows."""

    def remains(self) -> bool:
        """Whether any imported CRM data is stored: records, CRM users or table checkpoints."""
        ...

    def origin_org_url(self) -> str | None:
        """The Dynamics organization URL the data was imported from, as the audit log last recorded it; or None."""
        ...

    def active_imports(self) -> int:
        """How many imports are queued or running."""
        ...

    def cancel_imports(self, *, error: str) -> int:
        """Fail every queued or running import with ``error``; how many. Idempotent."""
        ...

    def counts(self) -> dict[str, int]:
        """How many rows a purge would delete now, by the names of :meth:`salesbridge.sync.purge.PurgeReport.counts`."""
        ...

    def delete_crm_records(self) -> int:
        """Delete every imported CRM record; how many."""
        ...

    def delete_sync_states(self) -> int:
        """Delete every table's checkpoint and status; how many."""
        ...

    def delete_crm_users(self) -> int:
        """Delete every imported CRM user (seats lose their link); how many."""
        ...

    def delete_system_list_items(self) -> int:
        """Delete the items of the auto-saved lists (manual lists keep theirs); how many."""
        ...

    def delete_system_lists(self) -> int:
        """Delete the auto-saved lists; how many."""
        ...

    def delete_import_requests(self) -> int:
        """Delete every import run, whatever its state; how many."""
        ...
