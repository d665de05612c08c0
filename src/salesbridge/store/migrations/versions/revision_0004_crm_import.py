"""CRM import: imported records, per-table sync state, CRM settings, auto-save rules, lists; import runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def _organization_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["organization_id"], ["organizations.id"], name=f"fk_{table}_organization_id_organizations", ondelete="CASCADE"
    )


def upgrade() -> None:
    """Create the import tables and extend import requests into runs."""
    with op.batch_alter_table("import_requests") as requests:
        requests.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        requests.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        requests.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        requests.add_column(sa.Column("error", sa.Text(), nullable=True))
    op.create_table(
        "crm_records",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("crm_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(400), nullable=True),
        sa.Column("owner_id", sa.String(36), nullable=True),
        sa.Column("parent_id", sa.String(36), nullable=True),
        sa.Column("state_code", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        _organization_fk("crm_records"),
        sa.PrimaryKeyConstraint("organization_id", "table_name", "crm_id", name="pk_crm_records"),
    )
    op.create_index(
        "ix_crm_records_organization_id_table_name_owner_id",
        "crm_records",
        ["organization_id", "table_name", "owner_id"],
    )
    op.create_index(
        "ix_crm_records_organization_id_table_name_parent_id",
        "crm_records",
        ["organization_id", "table_name", "parent_id"],
    )
    op.create_table(
        "table_sync_states",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(24), nullable=False),
        sa.Column("delta_token", sa.Text(), nullable=True),
        sa.Column("resume_link", sa.Text(), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("reading_generation", sa.Integer(), nullable=True),
        sa.Column("cursor_modified_on", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor_ids", sa.JSON(), nullable=False),
        sa.Column("last_full_read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows_imported", sa.Integer(), nullable=False),
        sa.Column("rows_deleted", sa.Integer(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _organization_fk("table_sync_states"),
        sa.PrimaryKeyConstraint("organization_id", "table_name", name="pk_table_sync_states"),
    )
    op.create_table(
        "crm_settings",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("stage_source", sa.String(24), nullable=False),
        sa.Column("stage_threshold", sa.String(200), nullable=True),
        sa.Column("won_value_column", sa.String(100), nullable=False),
        sa.Column("won_value_base_currency", sa.Boolean(), nullable=False),
        sa.Column("auto_save_enabled", sa.Boolean(), nullable=False),
        sa.Column("sync_interval_minutes", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _organization_fk("crm_settings"),
        sa.PrimaryKeyConstraint("organization_id", name="pk_crm_settings"),
    )
    op.create_table(
        "auto_save_rules",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("accounts_of_open_opportunities", sa.Boolean(), nullable=False),
        sa.Column("accounts_owned", sa.Boolean(), nullable=False),
        sa.Column("leads_of_open_opportunities", sa.Boolean(), nullable=False),
        sa.Column("leads_of_owned_accounts", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_auto_save_rules_user_id_users", ondelete="CASCADE"),
        _organization_fk("auto_save_rules"),
        sa.PrimaryKeyConstraint("user_id", name="pk_auto_save_rules"),
    )
    op.create_table(
        "saved_lists",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("owner_user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _organization_fk("saved_lists"),
        sa.ForeignKeyConstraint(
            ["owner_user_id"], ["users.id"], name="fk_saved_lists_owner_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_saved_lists"),
    )
    op.create_index("ix_saved_lists_owner_user_id", "saved_lists", ["owner_user_id"])
    op.create_table(
        "list_items",
        sa.Column("list_id", sa.Uuid(), nullable=False),
        sa.Column("crm_table", sa.String(64), nullable=False),
        sa.Column("crm_id", sa.String(36), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"], ["saved_lists.id"], name="fk_list_items_list_id_saved_lists", ondelete="CASCADE"
        ),
        _organization_fk("list_items"),
        sa.PrimaryKeyConstraint("list_id", "crm_table", "crm_id", name="pk_list_items"),
    )
    op.create_index("ix_list_items_organization_id", "list_items", ["organization_id"])


def downgrade() -> None:
    """Drop the import tables."""
    for table in ("list_items", "saved_lists", "auto_save_rules", "crm_settings", "table_sync_states", "crm_records"):
        op.drop_table(table)
    with op.batch_alter_table("import_requests") as requests:
        for column in ("error", "lease_expires_at", "finished_at", "started_at"):
            requests.drop_column(column)
