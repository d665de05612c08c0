"""The fault tests' stores: the integration tests' SQLite file and throwaway PostgreSQL cluster, shared."""

from tests.integration.conftest import database_url, postgres_cluster

__all__ = ["database_url", "postgres_cluster"]
