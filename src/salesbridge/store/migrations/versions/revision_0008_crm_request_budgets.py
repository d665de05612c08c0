"""Dataverse's service-protection budget shared by every worker: one row per (organization URL, application user).

Dataverse limits requests and execution time per application user and organization, whichever machine sends them;
with workers on several machines (``SALESBRIDGE_JOBS=procrastinate``) the window's counters live here, leased in
short transactions (:mod:`salesbridge.store.request_budget`). The key is the CRM's, not a workspace's: two
workspaces connected to one Dynamics organization with one application user share one limit.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``crm_request_budgets``."""
    op.create_table(
        "crm_request_budgets",
        sa.Column("org_url", sa.String(2048), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("org_url", "client_id", name=op.f("pk_crm_request_budgets")),
    )


def downgrade() -> None:
    """Drop ``crm_request_budgets``."""
    op.drop_table("crm_request_budgets")
