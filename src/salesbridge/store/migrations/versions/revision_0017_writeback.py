"""Activity writeback (issue 14): ``writeback_settings`` and ``activities``.

``writeback_settings`` holds one row per organization ("Enable syncing workspace data back to your CRM?" and the
data items written back, a comma-separated list of :class:`~salesbridge.domain.writeback.DataItem` names); no row
means the defaults (off, all items).

``activities`` holds one row per activity a seller logged, together with its outbox entry (``state`` to
``delivered_at``): one row, so the activity and its delivery are written in the same statement and never
disagree. A client's retry is the same row: unique ``(organization_id, author_user_id, client_id)``. The drainer
claims due rows through ``ix_activities_organization_id_state_next_attempt_at`` and leases them
(``claimed_until``).

``person_id``, ``company_id`` and ``author_user_id`` carry no foreign key, like ``match_links``' targets: an activity
is the organization's history and outlives the deletion of the person, company or user it names (it is then shown
as such and waits instead of being delivered nowhere).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``writeback_settings`` and ``activities``."""
    op.create_table(
        "writeback_settings",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(320), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name="fk_writeback_settings_organization_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", name="pk_writeback_settings"),
    )
    op.create_table(
        "activities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("author_user_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(100), nullable=False),
        sa.Column("item", sa.String(16), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("company_id", sa.Uuid(), nullable=True),
        sa.Column("subject", sa.String(200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_id", sa.String(100), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        # The outbox entry.
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("hold", sa.String(24), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("regarding_table", sa.String(16), nullable=True),
        sa.Column("regarding_id", sa.String(36), nullable=True),
        sa.Column("crm_table", sa.String(64), nullable=False),
        sa.Column("crm_id", sa.String(36), nullable=False),
        sa.Column("delivered_version", sa.Integer(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name="fk_activities_organization_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_activities"),
    )
    op.create_index(
        "uq_activities_organization_id_author_user_id_client_id",
        "activities",
        ["organization_id", "author_user_id", "client_id"],
        unique=True,
    )
    op.create_index(
        "ix_activities_organization_id_state_next_attempt_at",
        "activities",
        ["organization_id", "state", "next_attempt_at"],
    )
    op.create_index(
        "ix_activities_organization_id_person_id_occurred_at",
        "activities",
        ["organization_id", "person_id", "occurred_at"],
    )
    op.create_index(
        "ix_activities_organization_id_company_id_occurred_at",
        "activities",
        ["organization_id", "company_id", "occurred_at"],
    )
    op.create_index("ix_activities_organization_id_occurred_at", "activities", ["organization_id", "occurred_at"])


def downgrade() -> None:
    """Drop ``activities`` and ``writeback_settings``."""
    op.drop_index("ix_activities_organization_id_occurred_at", table_name="activities")
    op.drop_index("ix_activities_organization_id_company_id_occurred_at", table_name="activities")
    op.drop_index("ix_activities_organization_id_person_id_occurred_at", table_name="activities")
    op.drop_index("ix_activities_organization_id_state_next_attempt_at", table_name="activities")
    op.drop_index("uq_activities_organization_id_author_user_id_client_id", table_name="activities")
    op.drop_table("activities")
    op.drop_table("writeback_settings")
