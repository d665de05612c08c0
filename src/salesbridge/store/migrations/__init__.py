"""Alembic migrations of the store; run them with :func:`salesbridge.store.database.migrate`."""
