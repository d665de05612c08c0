"""Workspace: the identity authority of CRM connections, passwords and languages of users, seats, CRM users,
invitations, API tokens and web sessions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def _organization_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["organization_id"], ["organizations.id"], name=f"fk_{table}_organization_id_organizations", ondelete="CASCADE"
    )


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE")


def upgrade() -> None:
    """Add the workspace columns and tables."""
    with op.batch_alter_table("organizations") as organizations:
        organizations.add_column(
            sa.Column("crm_sync_all_seats", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    with op.batch_alter_table("crm_connections") as crm_connections:
        crm_connections.add_column(sa.Column("authority", sa.String(2048), nullable=True))
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("password_hash", sa.String(255), nullable=True))
        users.add_column(sa.Column("locale", sa.String(8), server_default="en", nullable=False))
        users.add_column(sa.Column("entra_object_id", sa.String(64), nullable=True))
    op.create_table(
        "crm_users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("crm_id", sa.String(64), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("entra_object_id", sa.String(64), nullable=True),
        sa.Column("is_disabled", sa.Boolean(), nullable=False),
        sa.Column("is_application", sa.Boolean(), nullable=False),
        sa.Column("access_mode", sa.Integer(), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        _organization_fk("crm_users"),
        sa.PrimaryKeyConstraint("id", name="pk_crm_users"),
    )
    op.create_index("uq_crm_users_organization_id_crm_id", "crm_users", ["organization_id", "crm_id"], unique=True)
    op.create_index(
        "ix_crm_users_organization_id_lower_email", "crm_users", ["organization_id", sa.text("lower(email)")]
    )
    op.create_table(
        "seats",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("crm_sync_enabled", sa.Boolean(), nullable=False),
        sa.Column("crm_user_id", sa.Uuid(), nullable=True),
        sa.Column("match", sa.String(24), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.String(320), nullable=False),
        _organization_fk("seats"),
        _user_fk("seats"),
        sa.ForeignKeyConstraint(
            ["crm_user_id"], ["crm_users.id"], name="fk_seats_crm_user_id_crm_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_seats"),
        sa.UniqueConstraint("user_id", name="uq_seats_user_id"),
    )
    op.create_index("ix_seats_organization_id", "seats", ["organization_id"])
    op.create_table(
        "invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("invited_by", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        _organization_fk("invitations"),
        _user_fk("invitations"),
        sa.PrimaryKeyConstraint("id", name="pk_invitations"),
        sa.UniqueConstraint("token_hash", name="uq_invitations_token_hash"),
    )
    op.create_index("ix_invitations_user_id", "invitations", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        _organization_fk("api_tokens"),
        _user_fk("api_tokens"),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        _organization_fk("web_sessions"),
        _user_fk("web_sessions"),
        sa.PrimaryKeyConstraint("id", name="pk_web_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_web_sessions_token_hash"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])


def downgrade() -> None:
    """Drop the workspace tables and columns."""
    for table in ("web_sessions", "api_tokens", "invitations", "seats", "crm_users"):
        op.drop_table(table)
    with op.batch_alter_table("users") as users:
        users.drop_column("entra_object_id")
        users.drop_column("locale")
        users.drop_column("password_hash")
    with op.batch_alter_table("crm_connections") as crm_connections:
        crm_connections.drop_column("authority")
    with op.batch_alter_table("organizations") as organizations:
        organizations.drop_column("crm_sync_all_seats")
