"""Migrations apply on SQLite and PostgreSQL, are idempotent, and produce exactly the tables the models declare."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from salesbridge.store.database import alembic_config, create_engine_for, migrate
from salesbridge.store.jobs import belongs_to_the_models
from salesbridge.store.tables import Base


def test_migrations_create_every_table_and_are_idempotent(database_url: str) -> None:
    migrate(database_url)
    migrate(database_url)  # a second run has nothing to do

    engine = create_engine_for(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            revision = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    assert {"organizations", "users", "audit_entries", "crm_connections", "import_requests"} <= tables
    assert revision == ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def test_the_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection, warnings.catch_warnings():
        # Alembic cannot compare expression indexes (lower(email)) and warns about skipping them.
        warnings.simplefilter("ignore")
        # procrastinate's job tables (PostgreSQL) are the job engine's schema, not the models'.
        context = MigrationContext.configure(connection, opts={"include_name": belongs_to_the_models})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_every_table_but_organizations_carries_its_organization() -> None:
    # sign_in_failures counts attempts before any organization is known (unknown workspaces included);
    # crm_request_budgets belongs to a Dynamics organization and application user, which workspaces may share.
    for table in Base.metadata.sorted_tables:
        if table.name not in {"organizations", "sign_in_failures", "crm_request_budgets"}:
            assert "organization_id" in table.columns, table.name
            assert not table.columns["organization_id"].nullable, table.name


def test_sqlite_runs_in_wal_mode_with_foreign_keys(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
