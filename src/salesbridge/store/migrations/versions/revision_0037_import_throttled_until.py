"""A running import says how long Dynamics throttles it: ``import_requests.throttled_until``, the end of the latest
``Retry-After`` its requests were answered with (UTC), written while the run waits, so that the console and
``salesbridge sync status`` say "Dynamics is throttling requests: next try at …" instead of nothing. NULL for runs
never throttled.

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``throttled_until`` to ``import_requests``."""
    with op.batch_alter_table("import_requests") as batch:
        batch.add_column(sa.Column("throttled_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop ``throttled_until``."""
    with op.batch_alter_table("import_requests") as batch:
        batch.drop_column("throttled_until")
