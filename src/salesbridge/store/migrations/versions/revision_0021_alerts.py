"""Alerts by email (issue 15, "Email"): ``alert_states`` and ``alert_preferences``.

``alert_states`` keeps, per organization and alert kind (``sync_failing``, ``writeback_failing``,
``crm_app_missing``), the episode in progress: whether the condition holds (``active``), since when
(``started_at``), when its email went out (``notified_at``: None while it has still to be sent, so a failed send is
tried again next round and a sent one is never repeated within the episode), when the last episode ended
(``ended_at``) and when the condition was last checked (``checked_at``: the CRM app check reads Dynamics, so it runs
at a slower pace than the round). ``alert_preferences`` keeps an administrator's choice per kind; no row means the
default, on.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``alert_states`` and ``alert_preferences``."""
    op.create_table(
        "alert_states",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.String(1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name="fk_alert_states_organization_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "kind", name="pk_alert_states"),
    )
    op.create_table(
        "alert_preferences",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name="fk_alert_preferences_organization_id_organizations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_alert_preferences_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "kind", name="pk_alert_preferences"),
    )


def downgrade() -> None:
    """Drop ``alert_preferences`` and ``alert_states``."""
    op.drop_table("alert_preferences")
    op.drop_table("alert_states")
