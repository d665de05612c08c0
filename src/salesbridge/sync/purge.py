"""Purging an organization's imported CRM data ("Yes, clean up all previously imported CRM data").

What goes and what stays, per table of the store (every table must be in exactly one of the three maps below; a
test scans the store's metadata and fails on a table nobody decided about):

* **Purged** (:data:`PURGED_TABLES`): rows that exist only because they were read from the CRM, or that describe
  that reading.
* **Partly purged** (:data:`PARTLY_PURGED_TABLES`): tables holding both workspace data and data derived from the
  import.
* **Kept** (:data:`KEPT_TABLES`): the workspace's own data and the administrator's choices.

The purge works inside the caller's unit of work and does not commit. It does not touch seats: their match to a
CRM user is reset by the caller (the disconnect use case matches every seat again, which with no CRM users left
makes each ``not_imported``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

PURGED_TABLES: Final[dict[str, str]] = {
    "crm_records": "imported rows of every CRM table",
    "table_sync_states": "checkpoints (delta tokens, cursors) and health of the import; a reconnect reads in full",
    "crm_users": "imported systemusers; seats stay and are matched again (not imported)",
    "import_requests": "queued, running and past import runs; the audit log keeps the trail",
    "auto_save_bases": "what the system lists were computed from; deleted with them (the next import recomputes)",
    "match_links": "links of CRM records to people and companies, corrections included: they name CRM records",
    "match_rejections": "pairs rejected in review: they name CRM records",
    "match_keys": "blocking keys of both sides; the next run rebuilds them",
    "match_state": "matching's models, watermarks and last run; the next run is a full one",
    "crm_record_changes": "what the import saw change on CRM records (owners, stages, job titles): CRM data, "
    "deleted with the records (ImportedDataRepository.delete_crm_records)",
    "crm_opportunity_records": "the records each imported opportunity names (the reports' index of them): "
    "derived from the records, deleted with them (ImportedDataRepository.delete_crm_records)",
    "crm_opportunity_facts": "each imported opportunity's name and the columns the reports read: derived from the "
    "records, deleted with them (ImportedDataRepository.delete_crm_records)",
    "crm_import_record_errors": "the CRM records the import skipped, with their reasons: deleted with the tables' "
    "health (ImportedDataRepository.delete_sync_states)",
}
"""Tables whose rows of the organization are all deleted, with the reason."""

PARTLY_PURGED_TABLES: Final[dict[str, str]] = {
    "saved_lists": "the system lists (auto-saved, kind ≠ manual) go; manual lists are the users' own and stay",
    "list_items": "items of system lists go; items of manual lists stay (they name CRM records by id only)",
}
"""Tables of which only the rows derived from the import are deleted."""

KEPT_TABLES: Final[dict[str, str]] = {
    "organizations": "the customer itself",
    "users": "the workspace's people",
    "seats": "the contract's seats; only their CRM match is reset",
    "invitations": "workspace invitations",
    "api_tokens": "users' API tokens",
    "web_sessions": "signed-in sessions",
    "sign_in_failures": "failed sign-ins: not CRM data, and not kept per organization",
    "audit_entries": "append-only; the disconnect itself is audited",
    "crm_settings": "the administrator's choices (pipeline stage, won value, schedule), reused on a reconnect",
    "auto_save_rules": "each user's choice of what auto-save keeps",
    "crm_connections": "not data: deleted by the disconnect itself, with or without the purge",
    "crm_request_budgets": "not CRM data and not the organization's: Dataverse's request counters per Dynamics "
    "organization and application user, which other workspaces may share; they expire with the window",
    "people": "the workspace's own people (prospect profiles), loaded by the organization, not read from the CRM",
    "companies": "the workspace's own companies, loaded by the organization, not read from the CRM",
    "people_uploads": "the administrators' CSV uploads of people and companies and their loads: workspace data",
    "activities": "the activities sellers logged and their delivery: workspace data; what was written to the CRM "
    "stays there, and what waits for a match waits for the next import's",
    "writeback_settings": "the administrator's choices (writeback on or off, the data items), reused on a reconnect",
    "writeback_throttles": "until when Dynamics last throttled the writeback drain: no CRM data, and shown only "
    "until a minute after that time",
    "home_visits": "when each user last opened their home: workspace data, no CRM data",
    "match_rate_snapshots": "counts per matching run (records, tied, in review), no CRM data: the reports' match "
    "rate over time survives a reconnect",
    "alert_preferences": "which alert emails each administrator chose: their choice, reused on a reconnect",
    "alert_states": "each alert's episode (since when, emailed or not): no CRM data; an open episode ends when its "
    "condition clears (the first good import after a reconnect)",
}
"""Tables the purge leaves alone, with the reason."""


@dataclass(frozen=True)
class PurgeReport:
    """How many rows of each table the purge deleted (zero when there was nothing to delete).

    Attributes:
        crm_records, table_sync_states, crm_users, import_requests, system_list_items, system_lists: Counts.
    """

    crm_records: int = 0
    table_sync_states: int = 0
    crm_users: int = 0
    import_requests: int = 0
    system_list_items: int = 0
    system_lists: int = 0

    @property
    def total(self) -> int:
        """Every deleted row."""
        return sum(self.counts().values())

    def counts(self) -> dict[str, int]:
        """The counts by name, JSON-ready."""
        return {
            "crm_records": self.crm_records,
            "table_sync_states": self.table_sync_states,
            "crm_users": self.crm_users,
            "import_requests": self.import_requests,
            "system_list_items": self.system_list_items,
            "system_lists": self.system_lists,
        }


class ImportedData(Protocol):
    """The bulk deletes and counts the purge uses (the store's ``ImportedDataRepository``; the services' port
    :class:`salesbridge.services.ports.ImportedDataRepository` includes them)."""

    def counts(self) -> dict[str, int]: ...
    def delete_crm_records(self) -> int: ...
    def delete_sync_states(self) -> int: ...
    def delete_crm_users(self) -> int: ...
    def delete_system_list_items(self) -> int: ...
    def delete_system_lists(self) -> int: ...
    def delete_import_requests(self) -> int: ...


class PurgeScope(Protocol):
    """A unit of work of one organization, as far as the purge is concerned."""

    @property
    def imported_data(self) -> ImportedData: ...


def purge_imported_crm_data(uow: PurgeScope) -> PurgeReport:
    """Delete the unit of work's organization's imported CRM data (see the module docstring), in bulk statements,
    in the unit of work's transaction (the caller commits). Other organizations are never touched.

    Idempotent: a second purge deletes nothing and reports zeros. Rows of the purged tables loaded earlier in the
    same unit of work are stale afterwards.
    """
    data = uow.imported_data
    # Children before parents: list items before their lists; CRM users before nothing (seats SET NULL).
    system_list_items = data.delete_system_list_items()
    system_lists = data.delete_system_lists()
    return PurgeReport(
        crm_records=data.delete_crm_records(),
        table_sync_states=data.delete_sync_states(),
        crm_users=data.delete_crm_users(),
        import_requests=data.delete_import_requests(),
        system_list_items=system_list_items,
        system_lists=system_lists,
    )


def pending_purge(uow: PurgeScope) -> PurgeReport:
    """What :func:`purge_imported_crm_data` would delete now (to say so before asking for confirmation). Reads
    only."""
    return PurgeReport(**uow.imported_data.counts())
