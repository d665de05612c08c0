"""Count a list's records not matched yet in time proportional to the list, whatever the planner knows: the index of
match links by organization, table and band also carries the CRM id.

A list's ``unmatched`` count asks, for each of the list's records, whether its link is a tie (band ``match`` with a
target). On a PostgreSQL store not yet ANALYZEd the planner estimates one row everywhere, and between the primary
key (organization, table, CRM id) and this index, led by (organization, table) too but smaller, it took this one:
each record then read every tie of its table (5,000 records against 1,000 ties: 5 million index entries, 320-900
ms). With the CRM id after the band, this index answers the record's question exactly as the primary key does
(organization, table, ``band = 'match'``, CRM id), so either choice is one probe. Queries on a prefix of it (the
match report's counts per band, the review queue) read it as before.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision: str = "0040"
down_revision: str | None = "0039"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Index match links by organization, table, band and CRM id; drop the index without the CRM id."""
    op.create_index(
        "ix_match_links_organization_id_crm_table_band_crm_id",
        "match_links",
        ["organization_id", "crm_table", "band", "crm_id"],
    )
    op.drop_index("ix_match_links_organization_id_crm_table_band", table_name="match_links")


def downgrade() -> None:
    """Back to the index by organization, table and band."""
    op.create_index(
        "ix_match_links_organization_id_crm_table_band", "match_links", ["organization_id", "crm_table", "band"]
    )
    op.drop_index("ix_match_links_organization_id_crm_table_band_crm_id", table_name="match_links")
