"""Matching CRM records with the workspace's people and companies: ``match_links``, ``match_rejections``,
``match_keys`` and ``match_state``.

- ``match_links``: one row per CRM record (``crm_table`` contact, lead or account and ``crm_id``) that the scorer or
  a person decided something about. ``target_kind`` is ``person`` or ``company``; ``target_id`` the workspace's
  person or company (null with ``band`` ``no_match``: a correction saying "no match"). ``band`` is ``match`` (tied)
  or ``review`` (a candidate waiting for an admin). ``decision`` is the scorer's decision as JSON (probability,
  weight, per-field reasons); ``origin`` is ``scorer`` or ``correction`` (a correction wins over the scorer until
  one of its records is deleted). ``stale_fields`` lists the fields on which the CRM and the workspace disagree
  ("Out of date": company, title). The primary key makes a CRM record tie to at most one target.
- ``match_rejections``: pairs an admin rejected in review; the scorer never proposes them again.
- ``match_keys``: the blocking keys of each side (``crm_person``: contacts and leads, ``crm_company``: accounts,
  ``person``, ``company``) so that an incremental run finds the candidates of changed records without reading
  everything. ``ref`` is ``table:id`` on the CRM side and the person's or company's id on the workspace's.
- ``match_state``: per organization, the estimated models (JSON), the watermarks of the last run, its summary,
  and ``requested_at`` (a run was asked for since the last one: the embedded runner's queue, which has no jobs but
  imports). A run locks this row, so two runs of one organization never interleave.

No foreign key to people or companies (``target_id`` points at either): a run drops links whose target is gone.
A disconnect's purge deletes every row of these tables (they all describe CRM records); people and companies stay.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def _organization_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["organization_id"], ["organizations.id"], name=f"fk_{table}_organization_id_organizations", ondelete="CASCADE"
    )


def _decided_by_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["decided_by"], ["users.id"], name=f"fk_{table}_decided_by_users", ondelete="SET NULL"
    )


def upgrade() -> None:
    """Create the four match tables."""
    op.create_table(
        "match_links",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("crm_table", sa.String(64), nullable=False),
        sa.Column("crm_id", sa.String(36), nullable=False),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=True),
        sa.Column("band", sa.String(16), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("decision", sa.JSON(), nullable=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stale_fields", sa.JSON(), nullable=False),
        _organization_fk("match_links"),
        _decided_by_fk("match_links"),
        sa.PrimaryKeyConstraint("organization_id", "crm_table", "crm_id", name="pk_match_links"),
    )
    op.create_index("ix_match_links_organization_id_target_id", "match_links", ["organization_id", "target_id"])
    op.create_index(
        "ix_match_links_organization_id_crm_table_band", "match_links", ["organization_id", "crm_table", "band"]
    )
    op.create_table(
        "match_rejections",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("crm_table", sa.String(64), nullable=False),
        sa.Column("crm_id", sa.String(36), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        _organization_fk("match_rejections"),
        _decided_by_fk("match_rejections"),
        sa.PrimaryKeyConstraint("organization_id", "crm_table", "crm_id", "target_id", name="pk_match_rejections"),
    )
    op.create_table(
        "match_keys",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("side", sa.String(16), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("ref", sa.String(120), nullable=False),
        _organization_fk("match_keys"),
        sa.PrimaryKeyConstraint("organization_id", "side", "key", "ref", name="pk_match_keys"),
    )
    op.create_index("ix_match_keys_organization_id_side_ref", "match_keys", ["organization_id", "side", "ref"])
    op.create_table(
        "match_state",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("people_model", sa.JSON(), nullable=True),
        sa.Column("companies_model", sa.JSON(), nullable=True),
        sa.Column("crm_watermark", sa.DateTime(timezone=True), nullable=True),
        sa.Column("people_watermark", sa.DateTime(timezone=True), nullable=True),
        sa.Column("companies_watermark", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_full_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_summary", sa.JSON(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        _organization_fk("match_state"),
        sa.PrimaryKeyConstraint("organization_id", name="pk_match_state"),
    )


def downgrade() -> None:
    """Drop the four match tables."""
    op.drop_table("match_state")
    op.drop_table("match_keys")
    op.drop_table("match_rejections")
    op.drop_table("match_links")
