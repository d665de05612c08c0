"""LEGACY: the store as the services not yet converted to ports see it (``services/lists.py``,
``services/crm_settings.py``, the import run of ``services/import_run.py``), with the store's own unit of work.
Converted services use :mod:`salesbridge.services.ports`; remove this module with the last of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Protocol

from salesbridge.services import ports
from salesbridge.store.uow import SqlAlchemyUnitOfWork

UnitOfWorkOpener = Callable[[uuid.UUID], SqlAlchemyUnitOfWork]
"""LEGACY (use :data:`salesbridge.services.ports.UnitOfWorkOpener`): a new, not yet opened, unit of work."""


class StoreAccess(ports.StoreAccess, Protocol):
    """LEGACY: :class:`salesbridge.services.ports.StoreAccess` whose units of work are the store's own
    (:class:`salesbridge.store.uow.UnitOfWorkFactory`). Removed with the last unconverted service."""

    def __call__(self, organization_id: uuid.UUID, *, read_only: bool = False) -> SqlAlchemyUnitOfWork:
        """A new, not yet opened, unit of work scoped to ``organization_id``; ``read_only`` when it only reads."""
        ...


PostImport = Callable[[SqlAlchemyUnitOfWork], None]
"""Runs in the transaction that ends a successful import (see :mod:`salesbridge.services.import_run`)."""
