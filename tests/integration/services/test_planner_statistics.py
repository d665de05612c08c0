"""PostgreSQL's planner statistics after bulk writes (SQLite and PostgreSQL): a first import leaves every table of
the store analyzed, so a list's pages are planned from what the tables hold and not from guesses (a 5,000-record
list's page took 1.3 s, its people 1.9 s, before autovacuum's first pass); a table that has grown past its
statistics since is analyzed again, a table that has not is left alone, and a sync with nothing new analyzes
nothing. SQLite keeps no statistics: nothing is done there."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from tests.integration.conftest import PostgresCluster

from salesbridge.domain.sync_runs import RecordRow
from salesbridge.services.connecting import create_organization
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.ports import CrmSessionFactory
from salesbridge.services.sync import request_sync
from salesbridge.store.database import create_engine_for
from salesbridge.store.statistics import refresh_statistics
from salesbridge.store.tables import Base
from salesbridge.store.uow import UnitOfWorkFactory, utc_now


def _estimates(engine: Engine) -> dict[str, float]:
    """PostgreSQL's row estimate of each of the store's tables (-1: never analyzed)."""
    with engine.connect() as connection:
        found = connection.exec_driver_sql(
            "SELECT c.relname, c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        )
        return {str(name): float(tuples) for name, tuples in found if name in Base.metadata.tables}


def _sqlite_statistics(engine: Engine) -> bool:
    with engine.connect() as connection:
        return connection.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first() is not None


async def test_the_first_import_leaves_every_table_with_planner_statistics(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, acme: uuid.UUID, engine: Engine
) -> None:
    if engine.dialect.name == "postgresql":
        assert min(_estimates(engine).values()) < 0, "a migrated store starts without statistics"
    request_sync(store, slug="acme", actor="admin")
    outcome = await run_pending_import(store, sessions, acme, clock=utc_now)
    assert outcome is not None
    assert outcome.succeeded, outcome.error

    if engine.dialect.name == "postgresql":
        estimates = _estimates(engine)
        assert [name for name, tuples in estimates.items() if tuples < 0] == []
        assert estimates["crm_records"] > 0
    else:
        assert not _sqlite_statistics(engine)
    # A sync that brings nothing new finds nothing stale.
    request_sync(store, slug="acme", actor="admin")
    again = await run_pending_import(store, sessions, acme, clock=utc_now)
    assert again is not None
    assert again.succeeded
    assert store.refresh_statistics() == []


def test_a_table_grown_past_its_statistics_is_analyzed_again_and_only_it(
    store: UnitOfWorkFactory, engine: Engine
) -> None:
    acme = create_organization(store, slug="acme", seats=1)
    first = store.refresh_statistics()
    assert store.refresh_statistics() == []
    if engine.dialect.name != "postgresql":
        assert (first, _sqlite_statistics(engine)) == ([], False)
        return
    assert {"crm_records", "list_items", "match_links", "people"} <= set(first)
    assert _estimates(engine)["crm_records"] == 0, "analyzed while empty"

    def contacts(start: int, count: int) -> None:
        with store(acme) as uow:
            rows = [
                RecordRow(f"c-{n:06d}", f"Contact {n}", None, None, 0, {"jobtitle": "Buyer " * 20})
                for n in range(start, start + count)
            ]
            uow.crm_records.upsert_many("contact", rows, generation=1)
            uow.commit()

    contacts(0, 3)
    assert refresh_statistics(engine, min_pages=8) == [], "three rows: left to autovacuum"
    contacts(3, 600)  # about 40 pages: more than doubled, by more than 8
    assert refresh_statistics(engine, min_pages=8) == ["crm_records"]
    assert _estimates(engine)["crm_records"] == 603
    assert refresh_statistics(engine, min_pages=8) == []


def test_refreshing_statistics_never_fails_its_caller(postgres_cluster: PostgresCluster) -> None:
    """Maintenance after a committed import: a database that cannot be reached is logged, not raised."""
    unreachable = create_engine_for(make_url(postgres_cluster.url("postgres")).set(port=1).render_as_string(False))
    assert refresh_statistics(unreachable) == []
    unreachable.dispose()
