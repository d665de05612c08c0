"""A drain says how long Dynamics throttles it: ``writeback_throttles.throttled_until``, one row per organization,
the end of the latest ``Retry-After`` the drain's requests were answered with (UTC), written while the drain waits,
so that ``salesbridge writeback status`` and the Writeback page say "Dynamics is throttling requests: writeback
tries again at …" instead of nothing. No row: never throttled.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``writeback_throttles``."""
    op.create_table(
        "writeback_throttles",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("throttled_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name="fk_writeback_throttles_organization_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", name="pk_writeback_throttles"),
    )


def downgrade() -> None:
    """Drop ``writeback_throttles``."""
    op.drop_table("writeback_throttles")
