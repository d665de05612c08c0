"""PostgreSQL: statistics on the opportunity lookups migration 0024 indexes, so the planner uses those indexes.

PostgreSQL keeps no statistics for the expressions of partial indexes. Without them it guessed that a list of
2,000 record ids matches every opportunity and filtered them all, parsing each one's JSON three times (the
influenced-pipeline report: 1 s for 100,000 opportunities). Extended statistics on the same expressions
(PostgreSQL 14 and later) tell it how few match. SQLite needs nothing: its planner takes the index.

Dropped by migration 0039, with migration 0024's indexes: no read uses them since migration 0032.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | None = None
depends_on: str | None = None

LOOKUPS = ("customerid", "parentcontactid", "originatingleadid")


def upgrade() -> None:
    """On PostgreSQL, keep statistics on each lookup's lower-cased id."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for lookup in LOOKUPS:
        op.execute(
            sa.text(
                f"CREATE STATISTICS st_crm_records_{lookup} ON (lower((data -> '{lookup}') ->> 'id')) FROM crm_records"
            )
        )


def downgrade() -> None:
    """Drop the statistics (PostgreSQL)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for lookup in LOOKUPS:
        op.execute(sa.text(f"DROP STATISTICS st_crm_records_{lookup}"))
