"""What each organization's auto-saved lists were last computed from (``auto_save_bases``).

After an import, auto-save recomputes only the sellers its changes touch. Seats, their CRM sync switches, the
users' rules and the pipeline settings can also change between imports; comparing them with what the lists were
last computed from tells which sellers' lists must be computed again. One row per organization: a fingerprint of
the pipeline settings and, per workspace user, a digest of the CRM user their seat matches and their rules (no CRM
data in clear).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``auto_save_bases``."""
    op.create_table(
        "auto_save_bases",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("settings", sa.String(128), nullable=False),
        sa.Column("owners", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_auto_save_bases_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_auto_save_bases")),
    )


def downgrade() -> None:
    """Drop ``auto_save_bases``."""
    op.drop_table("auto_save_bases")
