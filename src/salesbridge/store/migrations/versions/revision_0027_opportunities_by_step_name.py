"""Open CRM Settings quickly (issue 15): a partial expression index of the imported opportunities by their stage's
name (``stepname``), opportunity rows only.

The pipeline section offers the stage names the opportunities use. Without an index, finding them read the JSON of
every opportunity of the organization (300 ms for 100,000 on SQLite); with it, each distinct name is one step
down the index (:meth:`salesbridge.store.lists.CrmRecordQueries.distinct_step_names`, whose expression must stay
identical to this one).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | None = None
depends_on: str | None = None

_NAME = "ix_crm_records_opportunities_stepname"


def upgrade() -> None:
    """Index the opportunities by organization and stage name."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    expression = "(data ->> 'stepname')" if postgresql else "json_extract(data, '$.stepname')"
    op.execute(
        sa.text(f"CREATE INDEX {_NAME} ON crm_records (organization_id, {expression}) WHERE table_name = 'opportunity'")
    )


def downgrade() -> None:
    """Drop the index."""
    op.execute(sa.text(f"DROP INDEX {_NAME}"))
