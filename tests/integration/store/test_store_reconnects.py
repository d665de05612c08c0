"""A PostgreSQL server that drops every connection (a restart, a failover) costs the store nothing: the next unit of
work reconnects instead of failing with the pooled connection's "terminating connection due to administrator
command" (found by the fault matrix's "PostgreSQL restarted mid-run" cell: each pooled connection of the console, a
worker or the import failed one request, page or job after the restart)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from tests.integration.conftest import PostgresCluster

from salesbridge.services.connecting import create_organization
from salesbridge.store.database import create_engine_for, create_session_factory, migrate
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has no server to lose
def test_units_of_work_after_the_server_dropped_every_connection_reconnect(
    database_url: str, postgres_cluster: PostgresCluster
) -> None:
    postgres_url = database_url
    migrate(postgres_url)
    engine = create_engine_for(postgres_url)
    store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))
    organization_id = create_organization(store, slug="acme", seats=3)
    with store(organization_id, read_only=True) as uow:
        assert uow.import_runs.recent() == []  # a connection now waits in the pool
    database = postgres_url.rsplit("/", 1)[1]
    postgres_cluster.execute_autocommit(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"
    )
    with store(organization_id, read_only=True) as uow:
        assert uow.import_runs.recent() == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()
