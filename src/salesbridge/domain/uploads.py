"""A CSV file of people or companies uploaded on the console, and where its load stands. Pure: no I/O.

An upload is queued when the file is received, running while its load job reads it, then succeeded (it ran to the
end of the file, whatever lines it refused) or failed (the file was refused as a whole, or the load broke off:
:attr:`Upload.error`). Progress counters are written after each batch of the load.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from salesbridge.domain.csv_rows import CsvKind, LineProblem
from salesbridge.message_ids import N_

UPLOAD_INTERRUPTED: Final = N_(
    "The load stopped before the end of the file ({reason}). The rows loaded so far stay; upload the file again to "
    "load the rest."
)
"""Why an upload failed when its load broke off (the store went away, a bug): ``reason`` is the error's text."""

UPLOAD_STALLED: Final = N_(
    "The load stopped before the end of the file: the process running it ended. The rows loaded so far stay; upload "
    "the file again to load the rest."
)
"""Why a running upload is shown failed once it has run for :data:`STALLED_AFTER` (its process died)."""

STALLED_AFTER: Final = timedelta(minutes=15)
"""A load of the largest file the console takes ends within a few minutes; one running this long has lost its
process (a restart, a killed worker) and will not end by itself."""


class UploadState(enum.StrEnum):
    """Where an upload's load stands."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def active(self) -> bool:
        """Queued or running: the page keeps refreshing."""
        return self in (UploadState.QUEUED, UploadState.RUNNING)


@dataclass(frozen=True, kw_only=True)
class UploadProgress:
    """Counters of a load, as written after each batch."""

    bytes_read: int = 0
    lines_read: int = 0
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0

    @property
    def loaded(self) -> int:
        """Rows written or already as given."""
        return self.inserted + self.updated + self.unchanged


@dataclass(frozen=True, kw_only=True)
class Upload:
    """An uploaded file and its load.

    Attributes:
        id: The upload's id.
        kind: People or companies.
        file_name: As the browser named it.
        size_bytes: The file's size.
        state: Where the load stands.
        progress: Counters so far (final once the load ended).
        problems: Every refused line, in line order (filled when the load ends).
        warnings: Columns ignored (filled when the load ends).
        error: Why the whole file failed (a message id and its fields), or None.
        created_by: The administrator who uploaded it.
        created_at, started_at, finished_at: UTC times.
    """

    id: uuid.UUID
    kind: CsvKind
    file_name: str
    size_bytes: int
    state: UploadState
    progress: UploadProgress
    problems: tuple[LineProblem, ...]
    warnings: tuple[LineProblem, ...]
    error: LineProblem | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    def stalled(self, now: datetime) -> bool:
        """Running for :data:`STALLED_AFTER` or more: its process ended without finishing it."""
        return (
            self.state is UploadState.RUNNING and self.started_at is not None and now - self.started_at >= STALLED_AFTER
        )

    @property
    def percent(self) -> int:
        """How much of the file was read, 0 to 100."""
        if self.size_bytes <= 0:
            return 100 if not self.state.active else 0
        return min(100, self.progress.bytes_read * 100 // self.size_bytes)
