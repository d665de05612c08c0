"""The ports of the import engine: what it needs from the store, as protocols. The engine sees domain values
(:class:`salesbridge.domain.sync_runs.TableCheckpoint`, :class:`~salesbridge.domain.sync_runs.RecordRow`) and never a
row; the store implements these structurally (:class:`salesbridge.store.uow.UnitOfWorkFactory`), and so does any
store whose units of work have these repositories (the services' :class:`salesbridge.services.ports.UnitOfWork` is
a wider view of the same unit of work).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, TypeVar

from salesbridge.domain.crm_changes import NoticedChange
from salesbridge.domain.currencies import CrmCurrencies
from salesbridge.domain.sync_runs import RecordRow, RecordState, SyncMode, TableCheckpoint


class ImportedRecords(Protocol):
    """The organization's imported CRM records, written a page at a time."""

    def upsert_many(self, table: str, rows: Sequence[RecordRow], *, generation: int, new: bool = False) -> int:
        """Insert or replace ``rows`` of ``table`` stamped with ``generation``. Idempotent. Returns len(rows).
        ``new``: the caller knows none of them is stored (the store may skip looking for conflicts; the result is
        the same if one is).

        Raises:
            RecordRefusedError: a value of one of ``rows`` cannot be kept; the unit of work must be rolled back.
        """
        ...

    def delete_ids(self, table: str, crm_ids: Iterable[str]) -> int:
        """Delete the records ``crm_ids`` of ``table`` (unknown ids are ignored); how many went."""
        ...

    def sweep_older_generations(
        self, table: str, generation: int, *, after: str | None, limit: int
    ) -> tuple[int, str | None]:
        """Of the next ``limit`` records of ``table`` by id after ``after`` (from the first when None), delete those
        older than ``generation``; how many went, and the id to continue after (None: no record left to look at).
        Repeating a step is harmless."""
        ...

    def any_stored(self, table: str) -> bool:
        """Whether any record of ``table`` is stored."""
        ...

    def count_stored(self, table: str, crm_ids: Iterable[str]) -> int:
        """How many of ``crm_ids`` are stored records of ``table``."""
        ...

    def count(self, table: str) -> int:
        """How many records of ``table`` are stored."""
        ...

    def stored_states(self, table: str, crm_ids: Iterable[str]) -> dict[str, RecordState]:
        """The owner, parent, ``statecode`` and columns of the stored records of ``table`` among ``crm_ids``, by id
        (absent ids are left out). Reads by primary key."""
        ...


class NoticedChanges(Protocol):
    """The changes of stored records a seller is told about (:mod:`salesbridge.domain.crm_changes`)."""

    def add_many(self, changes: Sequence[NoticedChange], *, at: datetime) -> int:
        """Store ``changes`` as seen at ``at``; how many were stored."""
        ...


class TableCheckpoints(Protocol):
    """Each imported table's checkpoint and health."""

    def get_or_create(self, table: str, *, mode: SyncMode) -> TableCheckpoint:
        """The checkpoint of ``table``, created empty in ``mode`` when new; a changed mode restarts from a full
        read."""
        ...

    def save(self, checkpoint: TableCheckpoint) -> None:
        """Store ``checkpoint`` as its table's.

        Raises:
            RowNotFoundError: the table has no checkpoint (:meth:`get_or_create` makes one).
        """
        ...

    def record_failure(self, table: str, *, error: str) -> None:
        """Count a failed import of ``table`` (the checkpoint is left as it was)."""
        ...


class Transaction(Protocol):
    """A unit of work as a transaction: opened with ``with``, rolled back on leaving unless committed."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None:
        """Commit the work so far."""
        ...


class SkippedRecords(Protocol):
    """The records the import could not store (the rest of their page was), kept to be shown and retried."""

    def record(self, table: str, crm_id: str, *, code: str | None, message: str) -> None:
        """Note that ``crm_id`` of ``table`` failed now (one more attempt when it failed before)."""
        ...

    def clear(self, table: str, crm_ids: Iterable[str]) -> int:
        """Forget the errors of ``crm_ids`` of ``table`` (stored now, or gone); how many went."""
        ...

    def any_in(self, table: str) -> bool:
        """Whether any record of ``table`` is skipped."""
        ...


class CrmCurrencyRecord(Protocol):
    """Where the import keeps the CRM's currencies (the organization's CRM connection)."""

    def save_currencies(self, currencies: CrmCurrencies) -> None:
        """Keep ``currencies`` (nothing when the organization has no connection any more)."""
        ...


class ImportUnitOfWork(Transaction, Protocol):
    """One transaction of the import (a page, or a step of a table's bookkeeping); rolled back unless committed."""

    @property
    def crm_records(self) -> ImportedRecords: ...

    @property
    def sync_states(self) -> TableCheckpoints: ...

    @property
    def crm_record_changes(self) -> NoticedChanges: ...

    @property
    def import_record_errors(self) -> SkippedRecords: ...

    @property
    def crm_connection(self) -> CrmCurrencyRecord: ...


UnitOfWorkT_co = TypeVar("UnitOfWorkT_co", bound=ImportUnitOfWork, covariant=True)


class ImportStore(Protocol[UnitOfWorkT_co]):
    """Where the import writes: units of work of one kind (the engine's guard sees that kind)."""

    def __call__(self, organization_id: uuid.UUID) -> UnitOfWorkT_co:
        """A new, not yet opened, unit of work scoped to ``organization_id``."""
        ...

    def bulk_writes(self) -> AbstractContextManager[None]:
        """Bracket the import's writes (SQLite: its write-ahead log is checkpointed in the background meanwhile)."""
        ...
