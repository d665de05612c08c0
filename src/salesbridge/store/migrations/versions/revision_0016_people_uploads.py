"""CSV files of people or companies an administrator uploads on the console, waiting for (or done by) their load
job: ``people_uploads``.

The file itself is kept in the row (``content``) until its load ends: a database row survives a restart of the
console, is visible to a procrastinate worker on another machine, and commits together with the job that loads it
(no file without its job, no job without its file). The load writes its progress (bytes and lines read, rows
loaded, lines refused) after each batch and, at the end, every refused line (``problems``, JSON); ``content`` is
then emptied.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``people_uploads``."""
    op.create_table(
        "people_uploads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("bytes_read", sa.BigInteger(), nullable=False),
        sa.Column("lines_read", sa.Integer(), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name="fk_people_uploads_organization_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_people_uploads"),
    )
    op.create_index("ix_people_uploads_organization_id_created_at", "people_uploads", ["organization_id", "created_at"])
    op.create_index("ix_people_uploads_state", "people_uploads", ["state"])


def downgrade() -> None:
    """Drop ``people_uploads``."""
    op.drop_index("ix_people_uploads_state", table_name="people_uploads")
    op.drop_index("ix_people_uploads_organization_id_created_at", table_name="people_uploads")
    op.drop_table("people_uploads")
