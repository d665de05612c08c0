"""Activity participants (issue 14, "participants"): ``activities.participants``.

The additional people an activity involves besides the person it concerns, as a JSON list of workspace person ids
(text, so SQLite and PostgreSQL store it alike). Existing rows get ``[]``: none. Like ``person_id`` the ids carry
no foreign key: an activity outlives the people it names.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``activities.participants`` (``[]`` for existing rows)."""
    with op.batch_alter_table("activities") as batch:
        batch.add_column(sa.Column("participants", sa.Text(), nullable=False, server_default="[]"))


def downgrade() -> None:
    """Drop ``activities.participants``."""
    with op.batch_alter_table("activities") as batch:
        batch.drop_column("participants")
