"""Sync health as the use cases see it: the CRM records an import could not store. Pure; no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SkippedRecord:
    """A CRM record the import skipped (the rest of its page was stored).

    Attributes:
        table: The CRM table's logical name.
        crm_id: The record's id (lower case).
        code: Dynamics' error code, when Dynamics gave one.
        message: What went wrong, as Dynamics (or the connector) said it.
        attempts: How many times it failed, retries included.
    """

    table: str
    crm_id: str
    code: str | None
    message: str
    first_failed_at: datetime
    last_failed_at: datetime
    attempts: int
