"""An index of procrastinate's jobs by organization, newest first (PostgreSQL only).

The job API finds an organization's jobs by the ``organization_id`` every deferred job carries in its arguments
(:mod:`salesbridge.store.jobs`): the console's Jobs page and ``salesbridge jobs list --org`` read them newest first.
procrastinate keeps finished jobs, so without this index each read scans every job of every organization.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``ix_procrastinate_jobs_organization`` (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE INDEX ix_procrastinate_jobs_organization ON procrastinate_jobs ((args ->> 'organization_id'), id DESC)"
    )


def downgrade() -> None:
    """Drop the index (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_procrastinate_jobs_organization")
