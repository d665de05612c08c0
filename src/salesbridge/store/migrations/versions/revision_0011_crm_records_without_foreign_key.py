"""Imported records without a foreign key to their organization.

PostgreSQL checks a foreign key with a query per inserted row (``SELECT 1 FROM organizations … FOR KEY SHARE``):
measured on a binary ``COPY`` of imported contacts, 3 µs of the server's 6 µs per row, the largest single cost of
a full import. Imported records are written only by the import of a stored organization and deleted by the
organization's purge (``ImportedDataRepository.delete_crm_records``); organizations are never deleted while they
hold records, so the cascade had nothing to do. ``organization_id`` stays the leading column of the primary key,
and every query stays scoped by it.

On SQLite, dropping a constraint rebuilds the table (a copy of every imported row, once).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

_FOREIGN_KEY = "fk_crm_records_organization_id_organizations"


def upgrade() -> None:
    """Drop ``crm_records``' foreign key to ``organizations``."""
    with op.batch_alter_table("crm_records") as records:
        records.drop_constraint(_FOREIGN_KEY, type_="foreignkey")


def downgrade() -> None:
    """Restore the foreign key (rows of organizations that no longer exist must be deleted first)."""
    with op.batch_alter_table("crm_records") as records:
        records.create_foreign_key(_FOREIGN_KEY, "organizations", ["organization_id"], ["id"], ondelete="CASCADE")
