"""Alerts by email: ``alert_states.resolved_notified_at``, when the end of the last episode was emailed.

An alert episode that was emailed is emailed again once when it ends (the condition cleared): "resolved". The
column is None while that email has still to go out (a failed send is tried again next round, a sent one is never
repeated). Episodes that ended before this revision are taken as told (their ``ended_at``), so upgrading sends no
email about old recoveries.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the column; mark the episodes already over as told."""
    with op.batch_alter_table("alert_states") as table:
        table.add_column(sa.Column("resolved_notified_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        sa.text(
            "UPDATE alert_states SET resolved_notified_at = ended_at "
            "WHERE NOT active AND notified_at IS NOT NULL AND ended_at IS NOT NULL"
        )
    )


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("alert_states") as table:
        table.drop_column("resolved_notified_at")
