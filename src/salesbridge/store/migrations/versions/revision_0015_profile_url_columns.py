"""The CRM columns an administrator maps to hold a LinkedIn profile URL, per table (``crm_settings``).

Matching compares CRM records by profile URL first; Dynamics has no standard column for it, so organizations keep
it in a custom text column of contact, lead and account, named on CRM Settings. Null: no column mapped.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None

_COLUMNS = ("contact_profile_url_column", "lead_profile_url_column", "account_profile_url_column")


def upgrade() -> None:
    with op.batch_alter_table("crm_settings") as crm_settings:
        for name in _COLUMNS:
            crm_settings.add_column(sa.Column(name, sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crm_settings") as crm_settings:
        for name in reversed(_COLUMNS):
            crm_settings.drop_column(name)
