"""The store: SQLAlchemy 2 tables, organization-scoped repositories, the unit of work, credential encryption and
Alembic migrations. It knows SQL and nothing about HTTP."""

from __future__ import annotations

from salesbridge.store.database import create_engine_for, create_session_factory, migrate
from salesbridge.store.secrets import CredentialCipher, cipher_from_settings
from salesbridge.store.uow import SqlAlchemyUnitOfWork, UnitOfWorkFactory, lookup_organization_id

__all__ = [
    "CredentialCipher",
    "SqlAlchemyUnitOfWork",
    "UnitOfWorkFactory",
    "cipher_from_settings",
    "create_engine_for",
    "create_session_factory",
    "lookup_organization_id",
    "migrate",
]
