"""Imported records without owner and parent indexes; full reads know whether they replace stored rows.

The two secondary indexes of ``crm_records`` cost three quarters of a full import's time (every row inserted
at a random place of two B-trees larger than the page cache); the few queries by owner or parent read an
organization's rows of one table in one pass instead.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_INDEXES = {
    "ix_crm_records_organization_id_table_name_owner_id": "owner_id",
    "ix_crm_records_organization_id_table_name_parent_id": "parent_id",
}


def upgrade() -> None:
    """Drop the owner and parent indexes; add ``table_sync_states.reading_replaces_rows``."""
    for name in _INDEXES:
        op.drop_index(name, table_name="crm_records")
    with op.batch_alter_table("table_sync_states") as states:
        states.add_column(sa.Column("reading_replaces_rows", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    """Restore the indexes; drop the column."""
    with op.batch_alter_table("table_sync_states") as states:
        states.drop_column("reading_replaces_rows")
    for name, column in _INDEXES.items():
        op.create_index(name, "crm_records", ["organization_id", "table_name", column])
