"""Read the influenced-pipeline report quickly (issue 15, Reports): partial expression indexes of the imported
opportunities by the records their lookups name (``customerid``, ``parentcontactid``, ``originatingleadid``).

The report looks for the opportunities that name one of the records with workspace activity. Without an index it
reads the JSON of every opportunity of the organization for each chunk of record ids (0.5-0.6 s on SQLite and
1-1.5 s on PostgreSQL for 100,000 opportunities). Each index holds the lower-cased id of one lookup, opportunity
rows only (``WHERE table_name = 'opportunity'``), so importing contacts, leads and accounts costs what it did.
The expressions are written per backend and must stay identical to the ones
:meth:`salesbridge.store.reports.ReportQueries.opportunities` queries with (an index on an expression is used
only for that expression).

Dropped by migration 0039: since migration 0032 the report reads ``crm_opportunity_records`` instead, and no other
read writes these expressions.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | None = None
depends_on: str | None = None

LOOKUPS = ("customerid", "parentcontactid", "originatingleadid")
"""The opportunity's lookups the report follows (its ``parent_id`` has migration 0023's index)."""

_ONLY_OPPORTUNITIES = "table_name = 'opportunity'"


def _name(lookup: str) -> str:
    return f"ix_crm_records_opportunities_{lookup}"


def upgrade() -> None:
    """Index the opportunities by organization and each named record's lower-cased id."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    for lookup in LOOKUPS:
        expression = (
            f"lower((data -> '{lookup}') ->> 'id')" if postgresql else f"lower(json_extract(data, '$.{lookup}.id'))"
        )
        op.execute(
            sa.text(
                f"CREATE INDEX {_name(lookup)} ON crm_records (organization_id, {expression}) "
                f"WHERE {_ONLY_OPPORTUNITIES}"
            )
        )


def downgrade() -> None:
    """Drop the indexes."""
    for lookup in LOOKUPS:
        op.execute(sa.text(f"DROP INDEX {_name(lookup)}"))
