"""procrastinate's job tables, on PostgreSQL only (``SALESBRIDGE_JOBS=procrastinate``).

The job engine's schema is part of the store's: a job is deferred in the same transaction as the business change
that causes it (:mod:`salesbridge.store.jobs`), so the tables must exist before the first console process defers
one — whichever process starts first. Every entry point migrates the store at start, so applying the schema here
(and not at a worker's start) leaves no window in which a console defers into missing tables, and one Alembic
revision says which procrastinate schema the store holds.

The SQL is procrastinate's own ``schema.sql`` of the installed version (3.10). A later procrastinate release that
changes its schema ships migration scripts (``procrastinate/sql/migrations``): apply them in a later revision of
ours, the same way. On SQLite nothing happens: the embedded runner (the default) needs no job tables beyond
``import_requests``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

from importlib import resources

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def _procrastinate_schema() -> str:
    return (resources.files("procrastinate.sql") / "schema.sql").read_text(encoding="utf-8")


def upgrade() -> None:
    """Create procrastinate's types, tables, functions and triggers (PostgreSQL only)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # The driver's own connection, with no parameters: the script holds several statements, dollar-quoted
    # function bodies and literal percent signs, which a parameterised execution would misread.
    bind.connection.driver_connection.execute(_procrastinate_schema())  # type: ignore[union-attr]


def downgrade() -> None:
    """Drop procrastinate's objects (PostgreSQL only); queued jobs are lost."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in (
        "procrastinate_events",
        "procrastinate_periodic_defers",
        "procrastinate_jobs",
        "procrastinate_workers",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    functions: list[str] = list(
        bind.exec_driver_sql(
            "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.proname LIKE 'procrastinate\\_%'"
        ).scalars()
    )
    for function in functions:
        op.execute(f"DROP FUNCTION IF EXISTS {function} CASCADE")
    for type_name in ("procrastinate_job_to_defer_v1", "procrastinate_job_event_type", "procrastinate_job_status"):
        op.execute(f"DROP TYPE IF EXISTS {type_name} CASCADE")
