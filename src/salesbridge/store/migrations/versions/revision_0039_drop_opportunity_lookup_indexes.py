"""Drop migration 0024's JSON expression indexes of the opportunities' lookups (``customerid``, ``parentcontactid``,
``originatingleadid``) and migration 0030's PostgreSQL statistics on the same expressions: no read uses them.

They served the influenced-pipeline report, which since migration 0032 finds the opportunities naming a record
through ``crm_opportunity_records`` and reads their facts from ``crm_opportunity_facts`` (migration 0035), never the
JSON. The one read left that follows those lookups in the JSON, the lists' follow-up of changed people
(:meth:`salesbridge.store.lists.CrmRecordQueries.naming`), writes other expressions (``lower(CAST(JSON_EXTRACT(data,
?) AS VARCHAR))`` on SQLite, ``lower(data #>> '{lookup,id}')`` on PostgreSQL), which an expression index or
statistic cannot serve: with 40,000 opportunities its plan is the organization's opportunities by primary key
(SQLite) or by migration 0023's index (PostgreSQL) on both with and without these, while a query written with the
indexes' own expression does take them. Each opportunity written cost three index entries (each a JSON parse) for
nothing. The downgrade recreates them as migrations 0024 and 0030 made them.

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from salesbridge.store.migrations.versions import revision_0024_opportunities_by_named_record as by_named_record
from salesbridge.store.migrations.versions import revision_0030_opportunity_lookup_statistics as lookup_statistics

revision: str = "0039"
down_revision: str | None = "0038"
branch_labels: str | None = None
depends_on: str | None = None

LOOKUPS = ("customerid", "parentcontactid", "originatingleadid")


def upgrade() -> None:
    """Drop the statistics (PostgreSQL), then the indexes."""
    if op.get_bind().dialect.name == "postgresql":
        for lookup in LOOKUPS:
            op.execute(sa.text(f"DROP STATISTICS st_crm_records_{lookup}"))
    for lookup in LOOKUPS:
        op.execute(sa.text(f"DROP INDEX ix_crm_records_opportunities_{lookup}"))


def downgrade() -> None:
    """Recreate the indexes (migration 0024), then the statistics (migration 0030, PostgreSQL)."""
    by_named_record.upgrade()
    lookup_statistics.upgrade()
