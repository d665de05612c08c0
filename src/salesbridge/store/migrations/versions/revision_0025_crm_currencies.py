"""Money with its currency (issue 15): the connected CRM's currencies, read by each import.

``crm_connections.base_currency_id`` is the organization's base currency (Dataverse ``organization.basecurrencyid``)
and ``currency_codes`` the ISO 4217 code of each of the CRM's currencies by id (``transactioncurrency``
``isocurrencycode``): the reports' amounts are in the base currency, an opportunity's own value in its
``transactioncurrencyid``. Both are None until the first import after connecting (a disconnect deletes the row).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the currency columns."""
    with op.batch_alter_table("crm_connections") as batch:
        batch.add_column(sa.Column("base_currency_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("currency_codes", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop the currency columns."""
    with op.batch_alter_table("crm_connections") as batch:
        batch.drop_column("currency_codes")
        batch.drop_column("base_currency_id")
