"""Open a person's or company's page quickly (issue 15, "In your CRM"): a partial index of the imported
opportunities by their account (``parent_id``).

``crm_records`` has no index on ``parent_id`` (migration 0005: each would send every imported row to a random page of
a B-tree larger than the cache). Opportunities are few beside contacts, and a person's or company's page reads the
open opportunities of one account: without an index that read scans every opportunity of the organization (640 ms
for 200,000 on SQLite on the development machine). The index holds opportunity rows only (``WHERE table_name =
'opportunity'``), so importing contacts, leads and accounts costs what it did.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | None = None
depends_on: str | None = None

_ONLY_OPPORTUNITIES = sa.text("table_name = 'opportunity'")


def upgrade() -> None:
    """Index the opportunities by organization and parent."""
    op.create_index(
        "ix_crm_records_opportunities_parent_id",
        "crm_records",
        ["organization_id", "parent_id"],
        sqlite_where=_ONLY_OPPORTUNITIES,
        postgresql_where=_ONLY_OPPORTUNITIES,
    )


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_crm_records_opportunities_parent_id", table_name="crm_records")
