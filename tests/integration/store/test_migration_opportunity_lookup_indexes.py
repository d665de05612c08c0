"""Migration 0039 on SQLite and PostgreSQL: migration 0024's expression indexes of the opportunities' lookups and
migration 0030's statistics (PostgreSQL) are gone at head, come back on a downgrade to 0038 (over imported
opportunities), and go again on the upgrade; the other opportunity indexes stay throughout."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from salesbridge.store.database import alembic_config, create_engine_for, migrate

DROPPED_INDEXES = {
    "ix_crm_records_opportunities_customerid",
    "ix_crm_records_opportunities_parentcontactid",
    "ix_crm_records_opportunities_originatingleadid",
}
DROPPED_STATISTICS = {"st_crm_records_customerid", "st_crm_records_parentcontactid", "st_crm_records_originatingleadid"}
KEPT_INDEXES = {"ix_crm_records_opportunities_parent_id", "ix_crm_records_opportunities_stepname"}


def _schema(database_url: str) -> tuple[set[str], set[str]]:
    """The names of ``crm_records``' indexes and of the database's extended statistics (none on SQLite)."""
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                indexes = connection.execute(
                    sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'crm_records'")
                )
                statistics = set(connection.execute(sa.text("SELECT stxname FROM pg_statistic_ext")).scalars())
            else:
                indexes = connection.execute(
                    sa.text("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'crm_records'")
                )
                statistics = set()
            return set(indexes.scalars()), statistics
    finally:
        engine.dispose()


def _import_an_opportunity(database_url: str) -> None:
    records = sa.table(
        "crm_records",
        sa.column("organization_id", sa.Uuid()),
        sa.column("table_name", sa.String()),
        sa.column("crm_id", sa.String()),
        sa.column("data", sa.JSON()),
        sa.column("generation", sa.Integer()),
        sa.column("imported_at", sa.DateTime(timezone=True)),
    )
    data = {"customerid": {"id": str(uuid.uuid4()).upper(), "table": "account"}, "parentcontactid": None}
    engine = create_engine_for(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                records.insert().values(
                    organization_id=uuid.uuid4(),
                    table_name="opportunity",
                    crm_id=str(uuid.uuid4()),
                    data=data,
                    generation=1,
                    imported_at=datetime.now(UTC),
                )
            )
    finally:
        engine.dispose()


def test_the_lookup_indexes_and_statistics_are_dropped_and_come_back_on_downgrade(database_url: str) -> None:
    postgresql = database_url.startswith("postgresql")
    migrate(database_url)
    indexes, statistics = _schema(database_url)
    assert not indexes & DROPPED_INDEXES
    assert not statistics & DROPPED_STATISTICS
    assert indexes >= KEPT_INDEXES

    _import_an_opportunity(database_url)
    command.downgrade(alembic_config(database_url), "0038")
    indexes, statistics = _schema(database_url)
    assert indexes >= DROPPED_INDEXES | KEPT_INDEXES
    assert statistics >= (DROPPED_STATISTICS if postgresql else set())

    migrate(database_url)
    indexes, statistics = _schema(database_url)
    assert not indexes & DROPPED_INDEXES
    assert not statistics & DROPPED_STATISTICS
    assert indexes >= KEPT_INDEXES
