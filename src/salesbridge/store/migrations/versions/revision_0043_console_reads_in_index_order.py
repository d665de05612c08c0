"""The console's reads of the import runs, the audit log and the activities in a state in index order: indexes that
let the console, the alerts and the import scheduler read what they list in the order they list it, instead of
sorting (or walking) every row of tables that are never pruned.

- ``import_requests`` (about 1,440 runs a day with imports every minute):
  ``ix_import_requests_organization_id_requested_at`` (``organization_id, requested_at``): the newest runs, read
  by the sync-failure notice on every administrator page while connected, the CRM settings and CRM health pages,
  the alerts and the scheduler. ``ix_import_requests_organization_id_state_requested_at`` (``organization_id,
  state, requested_at``): the queued runs oldest first (CRM settings, the scheduler, the runner's claim) and the
  Background jobs page's runs in each state it shows (one probe per state, merged in Python).
  ``ix_import_requests_organization_id_state_finished_at`` (``organization_id, state, finished_at``): the last run
  that succeeded or failed, and when the last run ended (one probe per state). The ``(organization_id, state,
  requested_at)`` index begins with both columns of ``ix_import_requests_organization_id_state`` (``organization_id,
  state``; migration 0002), which it replaces: every statement that used it can use the longer one.
- ``audit_entries``: ``ix_audit_entries_organization_id_action_created_at`` (``organization_id, action,
  created_at``) and ``ix_audit_entries_organization_id_actor_created_at`` (``organization_id, actor, created_at``):
  the Audit page's lists of the actions and actors recorded (a DISTINCT read from the index in order, not sorted),
  and its entries of one action or one actor, newest first (they walked every entry by date, keeping the matches).
- ``activities``: ``ix_activities_organization_id_state_occurred`` (``organization_id, state, occurred_at``): the
  newest activities in a state, the Writeback and CRM health pages' failing and parked ones (one probe per state,
  merged in Python), which walked every activity of the organization by ``occurred_at``.

SQLite sorts in the process that asks, its sorter taking memory in proportion to the rows (migration 0042,
docs/reliability.md § Soak). PostgreSQL sorts in its server; the indexes give it the same ordered reads.

Revision ID: 0043
Revises: 0042
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision: str = "0043"
down_revision: str | None = "0042"
branch_labels: str | None = None
depends_on: str | None = None

INDEXES: dict[str, tuple[str, list[str]]] = {
    "ix_import_requests_organization_id_requested_at": ("import_requests", ["organization_id", "requested_at"]),
    "ix_import_requests_organization_id_state_requested_at": (
        "import_requests",
        ["organization_id", "state", "requested_at"],
    ),
    "ix_import_requests_organization_id_state_finished_at": (
        "import_requests",
        ["organization_id", "state", "finished_at"],
    ),
    "ix_audit_entries_organization_id_action_created_at": (
        "audit_entries",
        ["organization_id", "action", "created_at"],
    ),
    "ix_audit_entries_organization_id_actor_created_at": ("audit_entries", ["organization_id", "actor", "created_at"]),
    "ix_activities_organization_id_state_occurred": ("activities", ["organization_id", "state", "occurred_at"]),
}
REPLACED: tuple[str, str, list[str]] = (
    "ix_import_requests_organization_id_state",
    "import_requests",
    ["organization_id", "state"],
)
"""The index the ``(organization_id, state, requested_at)`` one replaces: its name, table and columns."""


def upgrade() -> None:
    """Create the indexes, then drop the one they replace."""
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)
    name, table, _columns = REPLACED
    op.drop_index(name, table_name=table)


def downgrade() -> None:
    """Recreate the replaced index, then drop the new ones."""
    name, table, columns = REPLACED
    op.create_index(name, table, columns)
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
