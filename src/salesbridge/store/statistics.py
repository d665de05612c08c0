"""The query planner's statistics of the store's tables, refreshed after bulk writes (PostgreSQL).

PostgreSQL plans from statistics that ``ANALYZE`` gathers; autovacuum gathers them about a minute after a table
changes much. Until then a table just filled by an import, a matching run or a people load has none (or those of an
empty table): the planner estimates one row for every condition and picks plans that read a whole table once per
row of another (a 5,000-record list's page took 1.3 s, its people 1.9 s, instead of milliseconds). PostgreSQL's
own advice after a bulk load is to ANALYZE; :func:`refresh_statistics` does that for the tables that need it only,
so a sync that changed little costs one catalog query.

SQLite keeps no statistics unless asked (``ANALYZE`` writes ``sqlite_stat1``) and plans these queries well without
them: nothing is done there.

Not scoped by organization: statistics describe whole tables, and hold no row of any organization.
"""

from __future__ import annotations

import logging
from typing import Final

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from salesbridge.store.tables import Base

log = logging.getLogger(__name__)

MIN_PAGES: Final = 128
"""Pages (8 KiB each: 1 MiB) a table must have grown by since its last ANALYZE, besides doubling, to be analyzed
again here; smaller growth is left to autovacuum."""
MIN_CHANGES: Final = 1_000
"""Rows changed since the last ANALYZE below which a table is left to autovacuum (it has statistics already)."""

# Growth is read from the table's size on disk, which is exact at once; the change counters of
# pg_stat_user_tables reach the statistics system up to a second after the writing transaction commits.
_STALE: Final = text(
    """
    SELECT c.relname
    FROM pg_class AS c
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
    LEFT JOIN pg_stat_user_tables AS s ON s.relid = c.oid
    WHERE n.nspname = current_schema()
      AND c.relkind = 'r'
      AND (
        c.reltuples < 0
        OR pg_relation_size(c.oid) / current_setting('block_size')::bigint
           > GREATEST(2 * c.relpages, c.relpages + :min_pages)
        OR COALESCE(s.n_mod_since_analyze, 0) > GREATEST(:min_changes, c.reltuples)
      )
    ORDER BY c.relname
    """
)


def refresh_statistics(engine: Engine, *, min_pages: int = MIN_PAGES) -> list[str]:
    """ANALYZE each table of the store whose planner statistics are missing (never analyzed), or which has more
    than doubled on disk since (by at least ``min_pages`` pages), or has had more rows changed since than the
    statistics describe (at least :data:`MIN_CHANGES`): what a bulk write leaves behind. Returns the tables
    analyzed, by name. Idempotent: a second call finds nothing stale. Nothing on SQLite.

    Maintenance, not part of what called it: a failure (the database refusing, a connection lost) is logged and
    leaves the rest to autovacuum; nothing is raised. Waits while autovacuum analyzes the same table."""
    if engine.dialect.name != "postgresql":
        return []
    known = set(Base.metadata.tables)
    analyzed: list[str] = []
    try:
        with engine.connect() as connection:
            found = connection.execute(_STALE, {"min_changes": MIN_CHANGES, "min_pages": min_pages})
            stale = [str(row[0]) for row in found]
        for name in stale:
            if name not in known:
                continue  # Alembic's version table, procrastinate's: not ours to plan for
            quoted = engine.dialect.identifier_preparer.quote(name)
            with engine.begin() as connection:
                connection.exec_driver_sql(f"ANALYZE {quoted}")
            analyzed.append(name)
    except SQLAlchemyError as error:
        log.warning("Refreshing the planner statistics stopped (%s); autovacuum will do it", type(error).__name__)
    return analyzed
