"""The workspace's own people and companies (prospect profiles): ``people`` and ``companies``.

Loaded by the organization (CSV, API), idempotent by ``external_id``: one row per organization and external id.
They are the workspace's data, not the CRM's: a disconnect keeps them. ``search_text`` and ``sort_name`` are
computed by the store (casefolded in Python, so SQLite and PostgreSQL search and order alike); emails, phones and
past companies are JSON lists of strings.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def _organization_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["organization_id"], ["organizations.id"], name=f"fk_{table}_organization_id_organizations", ondelete="CASCADE"
    )


def _place_columns() -> list[sa.Column[str]]:
    return [
        sa.Column("city", sa.String(200), nullable=True),
        sa.Column("region", sa.String(200), nullable=True),
        sa.Column("country", sa.String(200), nullable=True),
    ]


def upgrade() -> None:
    """Create ``companies`` and ``people``."""
    op.create_table(
        "companies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("website", sa.String(2048), nullable=True),
        sa.Column("domain", sa.String(255), nullable=True),
        sa.Column("industry", sa.String(200), nullable=True),
        sa.Column("employee_count", sa.Integer(), nullable=True),
        *_place_columns(),
        sa.Column("phone", sa.String(64), nullable=True),
        sa.Column("profile_url", sa.String(2048), nullable=True),
        sa.Column("sort_name", sa.String(300), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _organization_fk("companies"),
        sa.PrimaryKeyConstraint("id", name="pk_companies"),
    )
    op.create_index(
        "uq_companies_organization_id_external_id", "companies", ["organization_id", "external_id"], unique=True
    )
    op.create_index("ix_companies_organization_id_sort_name", "companies", ["organization_id", "sort_name", "id"])
    op.create_index("ix_companies_organization_id_domain", "companies", ["organization_id", "domain"])
    op.create_table(
        "people",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("first_name", sa.String(200), nullable=True),
        sa.Column("last_name", sa.String(200), nullable=True),
        sa.Column("full_name", sa.String(300), nullable=False),
        sa.Column("headline", sa.String(500), nullable=True),
        sa.Column("company_id", sa.Uuid(), nullable=True),
        sa.Column("company_name", sa.String(300), nullable=True),
        sa.Column("past_companies", sa.JSON(), nullable=False),
        *_place_columns(),
        sa.Column("emails", sa.JSON(), nullable=False),
        sa.Column("phones", sa.JSON(), nullable=False),
        sa.Column("profile_url", sa.String(2048), nullable=True),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("sort_name", sa.String(300), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _organization_fk("people"),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name="fk_people_company_id_companies", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_people"),
    )
    op.create_index("uq_people_organization_id_external_id", "people", ["organization_id", "external_id"], unique=True)
    op.create_index("ix_people_organization_id_sort_name", "people", ["organization_id", "sort_name", "id"])
    op.create_index("ix_people_company_id", "people", ["company_id"])


def downgrade() -> None:
    """Drop ``people`` and ``companies``."""
    op.drop_table("people")
    op.drop_table("companies")
