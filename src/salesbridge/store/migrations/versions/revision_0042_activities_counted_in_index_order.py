"""The activities counted in index order: four indexes on ``activities`` that let the console's and the alerts'
recurring counts read an index in the order they group by, instead of sorting every activity of the organization.

- ``ix_activities_organization_id_item_author_state_hold`` (``organization_id, item, author_user_id, state,
  hold``): the writeback status (per data item, seller, state and hold), on the Writeback and CRM health pages.
- ``ix_activities_organization_id_state_author_item_occurred`` (``organization_id, state, author_user_id, item,
  occurred_at``): the Reports page's written-back activity per seller, data item and week.
- ``ix_activities_organization_id_regarding_occurred`` (``organization_id, regarding_table, regarding_id,
  occurred_at``): the first activity written on each CRM record (Reports: influenced pipeline).
- ``ix_activities_organization_id_author_occurred`` (``organization_id, author_user_id, occurred_at``): each
  seat's activities of the last days and its latest (Reports: seats).

SQLite sorts a GROUP BY that no index orders in the process that asks (its sorter takes memory in proportion to the
rows, in ever larger buffers as the table grows); a long-running console reading these on every page load and every
minute grew by about 15 MiB an hour on SQLite with the activities (docs/reliability.md § Soak). PostgreSQL sorts in
its server; the indexes make its counts index-only as well.

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision: str = "0042"
down_revision: str | None = "0041"
branch_labels: str | None = None
depends_on: str | None = None

INDEXES: dict[str, list[str]] = {
    "ix_activities_organization_id_item_author_state_hold": [
        "organization_id",
        "item",
        "author_user_id",
        "state",
        "hold",
    ],
    "ix_activities_organization_id_state_author_item_occurred": [
        "organization_id",
        "state",
        "author_user_id",
        "item",
        "occurred_at",
    ],
    "ix_activities_organization_id_regarding_occurred": [
        "organization_id",
        "regarding_table",
        "regarding_id",
        "occurred_at",
    ],
    "ix_activities_organization_id_author_occurred": ["organization_id", "author_user_id", "occurred_at"],
}


def upgrade() -> None:
    """Create the indexes."""
    for name, columns in INDEXES.items():
        op.create_index(name, "activities", columns)


def downgrade() -> None:
    """Drop the indexes."""
    for name in INDEXES:
        op.drop_index(name, table_name="activities")
