"""Sign-in throttling and API token expiry.

``sign_in_failures`` counts failed sign-ins per account and per client address (as digests), shared by every
console process on the store. It is the one table without an organization: a sign-in is throttled before any
organization is known, and unknown workspaces must be throttled like known ones (or the throttle would reveal
which exist). ``api_tokens.expires_at``: tokens created before this revision expire 90 days after the upgrade.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

_EXISTING_TOKENS_LIFETIME = timedelta(days=90)


def upgrade() -> None:
    """Create ``sign_in_failures``; add ``api_tokens.expires_at``, filled for existing tokens."""
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sign_in_failures"),
    )
    op.create_index("ix_sign_in_failures_subject_failed_at", "sign_in_failures", ["subject", "failed_at"])
    op.create_index("ix_sign_in_failures_failed_at", "sign_in_failures", ["failed_at"])
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    expires_at = datetime.now(UTC) + _EXISTING_TOKENS_LIFETIME
    if op.get_bind().dialect.name == "sqlite":
        expires_at = expires_at.replace(tzinfo=None)  # the store keeps naive UTC on SQLite (UtcDateTime)
    api_tokens = sa.table("api_tokens", sa.column("expires_at", sa.DateTime(timezone=True)))
    op.execute(api_tokens.update().values(expires_at=expires_at))
    with warnings.catch_warnings():
        # SQLite rebuilds the table, reflecting ``users`` (a foreign key's target) on the way, whose lower(email)
        # index SQLAlchemy cannot reflect and warns about; the index is not part of this table.
        warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based index")
        with op.batch_alter_table("api_tokens") as tokens:
            tokens.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    """Drop ``api_tokens.expires_at`` and ``sign_in_failures``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based index")
        with op.batch_alter_table("api_tokens") as tokens:
            tokens.drop_column("expires_at")
    op.drop_index("ix_sign_in_failures_failed_at", table_name="sign_in_failures")
    op.drop_index("ix_sign_in_failures_subject_failed_at", table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
