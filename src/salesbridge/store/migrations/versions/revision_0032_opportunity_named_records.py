"""Read the influenced-pipeline report quickly (issue 15, Reports): each imported opportunity's named records in a
small indexed table, ``crm_opportunity_records`` (organization, opportunity id, record table, record id).

The report looks for the opportunities that name one of the records with workspace activity: their account
(``parentaccountid``, else ``customerid`` when an account), contacts (``parentcontactid``, ``customerid`` when a
contact) and lead (``originatingleadid``). Through the JSON expression indexes of migration 0024 that is four
reads per chunk of record ids, one per lookup (116 ms on SQLite, 317 ms on PostgreSQL for 5,000 of 100,000
opportunities). With this table it is one range of one narrow index per touched table. The import writes an
opportunity's rows in the same transaction as the opportunity (an upsert replaces them, a deletion or a full
read's sweep removes them) and the purge deletes them with the records. This migration fills the table for the
opportunities already imported, with the rule of :func:`salesbridge.domain.reports.named_records` written in SQL
(ids in lower case; an empty lookup names nothing, nor one longer than a record id can be, 36 characters).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "crm_opportunity_records"
INDEX = "ix_crm_opportunity_records_record"


def _backfill(postgresql: bool) -> str:
    """The INSERT … SELECT of every imported opportunity's named records (a UNION: each pair once)."""

    def column(lookup: str, key: str) -> str:
        if postgresql:
            return f"((data -> '{lookup}') ->> '{key}')"
        return f"json_extract(data, '$.{lookup}.{key}')"

    def named(lookup: str) -> str:
        return f"NULLIF({column(lookup, 'id')}, '')"

    def customer(table: str) -> str:
        return f"CASE WHEN {column('customerid', 'table')} = '{table}' THEN {named('customerid')} END"

    parts = (
        ("account", f"COALESCE({named('parentaccountid')}, {customer('account')})"),
        ("contact", named("parentcontactid")),
        ("contact", customer("contact")),
        ("lead", named("originatingleadid")),
    )
    selects = " UNION ".join(
        f"SELECT organization_id, crm_id, '{table}', lower({expression}) FROM crm_records "
        f"WHERE table_name = 'opportunity' AND length({expression}) <= 36"
        for table, expression in parts
    )
    return f"INSERT INTO {TABLE} (organization_id, opportunity_id, record_table, record_id) {selects}"


def upgrade() -> None:
    """Create the table and its index by record, and fill them from the imported opportunities."""
    op.create_table(
        TABLE,
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("opportunity_id", sa.String(length=36), nullable=False),
        sa.Column("record_table", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "opportunity_id", "record_table", "record_id"),
    )
    op.create_index(INDEX, TABLE, ["organization_id", "record_table", "record_id", "opportunity_id"])
    op.execute(sa.text(_backfill(op.get_bind().dialect.name == "postgresql")))


def downgrade() -> None:
    """Drop the table."""
    op.drop_index(INDEX, table_name=TABLE)
    op.drop_table(TABLE)
