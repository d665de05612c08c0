"""Open a long list quickly (issue 15, pages under 200 ms): the list items indexed by organization and list.

A list's page and the Lists page read one list's items, scoped by organization (``organization_id = ? AND list_id
= ?``). With an index of the organization alone (migration 0004) and the primary key led by the list, SQLite took
the organization's index, reading every item of every list of the organization (each seller's auto-saved lists
hold thousands) to keep one list's. This index serves both conditions at once on SQLite and PostgreSQL; it replaces
the index of the organization alone, whose queries (a purge deletes the organization's items) read its prefix.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Index the items by organization and list; drop the index of the organization alone."""
    op.create_index("ix_list_items_organization_id_list_id", "list_items", ["organization_id", "list_id"])
    op.drop_index("ix_list_items_organization_id", table_name="list_items")


def downgrade() -> None:
    """Back to the index of the organization alone."""
    op.create_index("ix_list_items_organization_id", "list_items", ["organization_id"])
    op.drop_index("ix_list_items_organization_id_list_id", table_name="list_items")
