"""The activities waiting for the CRM app, found by index: ``ix_activities_organization_id_error_code_state`` on
``activities (organization_id, error_code, state, next_attempt_at)``, partial (``error_code IS NOT NULL``).

Whether an organization's activities wait for the CRM app's tables (``failing`` with ``crm_app_missing``) used to be
read off the 200 newest failing or parked activities, which said no when more of them, or newer ones failing for
another reason, filled that window. Asked exactly now (the first such activity by next attempt, ``LIMIT 1``), by the
status and by the drain's check of the app on a short cadence while they wait (is one due?), the question is one
index probe however many activities the organization has. Partial: an activity logged and delivered without a
failure has no error code (delivery clears it), so the usual traffic maintains no entry of it.

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0041"
down_revision: str | None = "0040"
branch_labels: str | None = None
depends_on: str | None = None

INDEX = "ix_activities_organization_id_error_code_state"
HAS_ERROR_CODE = sa.text("error_code IS NOT NULL")


def upgrade() -> None:
    """Create the index."""
    op.create_index(
        INDEX,
        "activities",
        ["organization_id", "error_code", "state", "next_attempt_at"],
        sqlite_where=HAS_ERROR_CODE,
        postgresql_where=HAS_ERROR_CODE,
    )


def downgrade() -> None:
    """Drop the index."""
    op.drop_index(INDEX, table_name="activities")
