"""Read the influenced-pipeline report quickly (issue 15, Reports): each imported opportunity's name and the few
columns the report's rule reads, in a small table of their own, ``crm_opportunity_facts`` (organization,
opportunity id, name, facts).

The report judged each opportunity naming a touched record from its whole imported row (``crm_records.data``):
5,000 primary-key reads of the 1,150,000-row table and as many full JSON documents decoded per load (the page's
largest cost with ``crm_opportunity_records``' lookups, migration 0032). The facts are the row's ``statecode``,
stage columns (``salesstage``, ``salesstagecode``, ``stepname``), ``createdon`` and ``actualclosedate`` as
imported, and every column holding a number (the money columns, their ``_base`` twins, ``exchangerate``: the won
value column is the administrator's choice): :func:`salesbridge.domain.reports.report_facts`, of which this
migration keeps a copy. The import writes an opportunity's facts in the same transaction as the opportunity (an
upsert replaces them, a deletion or a full read's sweep removes them) and the purge deletes them with the records.
This migration fills the table from the opportunities already imported.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "crm_opportunity_facts"
_BATCH = 2_000
_COLUMNS = frozenset({"statecode", "salesstage", "salesstagecode", "stepname", "createdon", "actualclosedate"})


def _facts(data: Mapping[str, Any]) -> dict[str, Any]:
    """The rule of ``salesbridge.domain.reports.report_facts`` as of this revision."""
    return {
        column: value
        for column, value in data.items()
        if column in _COLUMNS or (isinstance(value, int | float) and not isinstance(value, bool))
    }


def upgrade() -> None:
    """Create the table and fill it from the imported opportunities."""
    facts = op.create_table(
        TABLE,
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("opportunity_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=400), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "opportunity_id"),
    )
    records = sa.table(
        "crm_records",
        sa.column("organization_id", sa.Uuid()),
        sa.column("table_name", sa.String()),
        sa.column("crm_id", sa.String()),
        sa.column("name", sa.String()),
        sa.column("data", sa.JSON()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(records.c.organization_id, records.c.crm_id, records.c.name, records.c.data)
        .where(records.c.table_name == "opportunity")
        .execution_options(yield_per=_BATCH)
    )
    for batch in rows.partitions(_BATCH):
        bind.execute(
            sa.insert(facts),
            [
                {
                    "organization_id": row.organization_id,
                    "opportunity_id": row.crm_id,
                    "name": row.name,
                    "facts": _facts(row.data or {}),
                }
                for row in batch
            ],
        )


def downgrade() -> None:
    """Drop the table."""
    op.drop_table(TABLE)
