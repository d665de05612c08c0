"""CA bundles kept with the connection: PEM content instead of a path on the server.

An administrator no longer names a file on the server (which let any organization's administrator learn whether
a file exists): a connection keeps the PEM certificates it trusts (``ca_bundle_pem``), uploaded or copied from a
bundle the operator offers by name (``ca_bundle_name``). Existing connections keep working: the content of the
file their ``ca_bundle_path`` named is copied when it can be read and holds certificates; otherwise they fall back
to the system's CAs and the administrator connects again with an uploaded or offered bundle.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"
_MAX_PEM_CHARS = 1_000_000


def _readable_pem(path: str) -> str | None:
    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return text if _PEM_CERTIFICATE in text and len(text) <= _MAX_PEM_CHARS else None


def upgrade() -> None:
    """Add ``ca_bundle_pem`` and ``ca_bundle_name``, copy the content of existing bundle files, drop the path."""
    with op.batch_alter_table("crm_connections") as connections:
        connections.add_column(sa.Column("ca_bundle_pem", sa.Text(), nullable=True))
        connections.add_column(sa.Column("ca_bundle_name", sa.String(255), nullable=True))
    table = sa.table(
        "crm_connections",
        sa.column("id", sa.Uuid()),
        sa.column("ca_bundle_path", sa.String(4096)),
        sa.column("ca_bundle_pem", sa.Text()),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(table.c.id, table.c.ca_bundle_path).where(table.c.ca_bundle_path.is_not(None)))
    for row_id, path in rows.all():
        pem = _readable_pem(str(path))
        if pem is not None:
            bind.execute(table.update().where(table.c.id == row_id).values(ca_bundle_pem=pem))
    with op.batch_alter_table("crm_connections") as connections:
        connections.drop_column("ca_bundle_path")


def downgrade() -> None:
    """Bring back ``ca_bundle_path`` (empty: the content cannot become a server path again) and drop the content."""
    with op.batch_alter_table("crm_connections") as connections:
        connections.add_column(sa.Column("ca_bundle_path", sa.String(4096), nullable=True))
        connections.drop_column("ca_bundle_name")
        connections.drop_column("ca_bundle_pem")
