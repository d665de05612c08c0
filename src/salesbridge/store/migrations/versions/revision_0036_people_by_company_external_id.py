"""A company loaded after its people ties them (``people.company_id``) at once: the people indexed by organization
and ``company_external_id``.

Loading a company looks up the people whose ``company_external_id`` names it (loaded before it, so not tied yet):
without this index every company batch read all the organization's people on SQLite and PostgreSQL.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Index the people by organization and their employer's external id."""
    op.create_index(
        "ix_people_organization_id_company_external_id", "people", ["organization_id", "company_external_id"]
    )


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_people_organization_id_company_external_id", table_name="people")
