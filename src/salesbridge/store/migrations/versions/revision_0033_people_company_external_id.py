"""People: ``people.company_external_id``, the external id of the person's current company (its employer) as the
source gave it.

A people CSV (column ``company_external_id``), the API or the demo generator may name a person's employer by the
company's external id. ``company_id`` ties the person to that company once the workspace holds it; the external id
is kept as given so that a company loaded after its people is still found (matching reads either), and so that a
later load of the same person keeps it. Matching's "shared people" comparison of accounts and companies counts the
people tied to an account's contacts whose employer is the company. Null: the employer is not known as a company.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("people") as people:
        people.add_column(sa.Column("company_external_id", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("people") as people:
        people.drop_column("company_external_id")
