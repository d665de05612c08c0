"""Match rate over time (issue 15, "Reports"): ``match_rate_snapshots``.

After each matching run, one row per CRM table the run decides (``account``, ``contact``, ``lead``): the table's
imported records (``total``) and how many were tied to a person or company (``matched``) or waiting in review
(``review``) when the run committed (``taken_at``). The reports page draws the match rate from them.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``match_rate_snapshots``."""
    op.create_table(
        "match_rate_snapshots",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("crm_table", sa.String(64), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("review", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name="fk_match_rate_snapshots_organization_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "taken_at", "crm_table", name="pk_match_rate_snapshots"),
    )


def downgrade() -> None:
    """Drop ``match_rate_snapshots``."""
    op.drop_table("match_rate_snapshots")
