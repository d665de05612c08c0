"""Sync health (issue 15): what each import run did, and the records an import skipped.

``import_requests`` gains what a finished run did: ``rows_imported`` and ``rows_deleted`` (every table), and
``requests_made`` and ``throttled`` (Web API requests the run sent, and the 429 answers it met). NULL for runs
before this revision and for runs that ended before counting.

``crm_import_record_errors`` holds one row per CRM record the import could not store (a
:class:`~salesbridge.errors.RecordError`: the rest of its page was stored): its table and id, Dynamics' error code
(when there is one) and message, when it first and last failed and how many times. Written in the transaction of
the page that met it; deleted when the record is stored again (a later page, or the administrator's retry).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the run counts to ``import_requests``; create ``crm_import_record_errors``."""
    with op.batch_alter_table("import_requests") as batch:
        batch.add_column(sa.Column("rows_imported", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rows_deleted", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("requests_made", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("throttled", sa.Integer(), nullable=True))
    op.create_table(
        "crm_import_record_errors",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("crm_id", sa.String(64), nullable=False),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name="fk_crm_import_record_errors_organization_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "table_name", "crm_id", name="pk_crm_import_record_errors"),
    )


def downgrade() -> None:
    """Drop ``crm_import_record_errors`` and the run counts."""
    op.drop_table("crm_import_record_errors")
    with op.batch_alter_table("import_requests") as batch:
        batch.drop_column("throttled")
        batch.drop_column("requests_made")
        batch.drop_column("rows_deleted")
        batch.drop_column("rows_imported")
