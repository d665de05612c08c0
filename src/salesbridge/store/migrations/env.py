"""Alembic environment: runs the store's revisions on the app's engine (see ``salesbridge.store.database``).

The URL comes from the Alembic config (set by ``migrate()``), or else from ``Settings().database_url``. Offline
(SQL script) mode is not supported: migrations always run against a live database.
"""

from __future__ import annotations

from alembic import context

from salesbridge.settings import Settings
from salesbridge.store.database import create_engine_for
from salesbridge.store.jobs import belongs_to_the_models
from salesbridge.store.tables import Base


def run_migrations_online() -> None:
    """Apply pending revisions in one transaction per run."""
    url = context.config.get_main_option("sqlalchemy.url") or Settings().database_url
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=True,
                include_name=belongs_to_the_models,  # procrastinate's tables are not the models'
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("salesbridge migrations run online only; use salesbridge.store.database.migrate()")
run_migrations_online()
