"""Open a seller's home quickly (issue 15, "what changed in the CRM for my records"): indexes of the noticed CRM
changes by record, by account and by owner.

The home looks for the changes to the seller's records: those in the seller's lists, those whose account is in
them, and those their CRM user owns or owned. With only the index by time (migration 0020) every change since the
previous visit was tested against the seller's lists (6 s for 50,000 changes and a list of 5,000 on SQLite). With
these, each part is a range of an index: the seller's list items probe the changes by record and by account, and
the CRM user's changes are read by owner (now, or before a change of owner).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | None = None
depends_on: str | None = None

INDEXES = {
    "ix_crm_record_changes_record": ["organization_id", "table_name", "crm_id", "changed_at"],
    "ix_crm_record_changes_parent_id": ["organization_id", "parent_id", "changed_at"],
    "ix_crm_record_changes_owner_id": ["organization_id", "owner_id", "changed_at"],
    "ix_crm_record_changes_before_value": ["organization_id", "kind", "before_value", "changed_at"],
}


def upgrade() -> None:
    """Index the changes by record, account, owner and previous owner."""
    for name, columns in INDEXES.items():
        op.create_index(name, "crm_record_changes", columns)


def downgrade() -> None:
    """Drop the indexes."""
    for name in INDEXES:
        op.drop_index(name, table_name="crm_record_changes")
