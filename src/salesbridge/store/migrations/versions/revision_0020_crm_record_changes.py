"""What changed in the CRM for a seller's records (issue 15, the seller's home): ``crm_record_changes`` and
``home_visits``.

``crm_record_changes`` is written by the import in the same transaction as the page that changed the record: one
row per noticed change of a stored record (``kind`` ``owner``: a new owner; ``stage``: an opportunity's stage or
state moved; ``job``: a contact's or lead's account or job title changed), with the value before and after, and the
record's owner and parent after the change (so a seller's home finds the changes of records they own or whose
account is in their lists without reading ``crm_records``). ``home_visits`` keeps, per user, when they last opened
their home and the visit before it: the home shows the changes since the previous visit.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``crm_record_changes`` and ``home_visits``."""
    op.create_table(
        "crm_record_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("crm_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("before_value", sa.String(400), nullable=True),
        sa.Column("after_value", sa.String(400), nullable=True),
        sa.Column("owner_id", sa.String(36), nullable=True),
        sa.Column("parent_id", sa.String(36), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name="fk_crm_record_changes_organization_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_crm_record_changes"),
    )
    op.create_index(
        "ix_crm_record_changes_organization_id_changed_at", "crm_record_changes", ["organization_id", "changed_at"]
    )
    op.create_table(
        "home_visits",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("previous_visit_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name="fk_home_visits_organization_id_organizations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_home_visits_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name="pk_home_visits"),
    )


def downgrade() -> None:
    """Drop ``home_visits`` and ``crm_record_changes``."""
    op.drop_table("home_visits")
    op.drop_index("ix_crm_record_changes_organization_id_changed_at", table_name="crm_record_changes")
    op.drop_table("crm_record_changes")
