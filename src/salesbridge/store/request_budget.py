"""Dataverse's request budget shared through the database: the ledger workers on several machines lease from.

One row of ``crm_request_budgets`` per (organization URL, application user) holds the window's counters
(:class:`~salesbridge.domain.request_budget.BudgetWindow`). Every call is one short transaction: the row is read
``FOR UPDATE`` (so concurrent workers take turns on it), the pure rules are applied, the row is written back. Workers
lease slices of requests (50 by default: :class:`~salesbridge.crm.budget.RequestBudget` ``slice_size``), so the
database is asked once per slice, not once per request. The calls block: the budget runs them in a worker thread.

On PostgreSQL the time is the database's (``clock_timestamp()``), so workers whose clocks disagree still agree on
the window; elsewhere (SQLite, one machine) it is this machine's wall clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from salesbridge.domain.request_budget import BudgetKey, BudgetLimits, BudgetWindow, LeaseAsk, LeaseGrant
from salesbridge.errors import StoreError
from salesbridge.store.tables import CrmRequestBudget

__all__ = ["DatabaseBudgetLedger"]

_ROW = CrmRequestBudget


class DatabaseBudgetLedger:
    """The ledger of :mod:`salesbridge.crm.budget` kept in ``crm_request_budgets``; safe for any number of processes.

    Args:
        engine: The store's engine (PostgreSQL for several machines).
        limits: Applied to every key (every process sharing the table must use the same).
        clock: Seconds since the epoch; the database's clock when None on PostgreSQL, else ``time.time``
            (injected by tests).
    """

    def __init__(
        self, engine: Engine, limits: BudgetLimits | None = None, *, clock: Callable[[], float] | None = None
    ) -> None:
        self.engine = engine
        self.limits = limits or BudgetLimits()
        self._clock = clock
        self._on_postgresql = engine.dialect.name == "postgresql"

    def lease(self, key: BudgetKey, ask: LeaseAsk) -> LeaseGrant:
        """Apply ``ask`` to the window of ``key`` in one transaction and return the grant (see
        :meth:`BudgetWindow.lease`). Creates the row on first use.

        Raises:
            StoreError: the database could not be reached or refused the transaction.
        """
        try:
            with self.engine.begin() as connection:
                window, now = self._locked_window(connection, key)
                grant = window.lease(now, ask)
                connection.execute(
                    update(_ROW)
                    .where(_ROW.org_url == key.org_url, _ROW.client_id == key.client_id)
                    .values(state=window.to_state())
                )
                return grant
        except SQLAlchemyError as exc:
            raise StoreError(f"The shared request budget could not be updated ({type(exc).__name__}).") from exc

    def requests_in_window(self, key: BudgetKey) -> int:
        """Requests counted for ``key`` now (0 when it never leased).

        Raises:
            StoreError: the database could not be reached.
        """
        try:
            with self.engine.begin() as connection:
                window, now = self._locked_window(connection, key)
                return window.requests_in_window(now)
        except SQLAlchemyError as exc:
            raise StoreError(f"The shared request budget could not be read ({type(exc).__name__}).") from exc

    def _locked_window(self, connection: Connection, key: BudgetKey) -> tuple[BudgetWindow, float]:
        insert = postgresql_insert if self._on_postgresql else sqlite_insert
        connection.execute(
            insert(_ROW)
            .values(org_url=key.org_url, client_id=key.client_id, state={})
            .on_conflict_do_nothing(index_elements=[_ROW.org_url, _ROW.client_id])
        )
        now_column = func.extract("epoch", func.clock_timestamp()) if self._on_postgresql and not self._clock else None
        columns = [_ROW.state] if now_column is None else [_ROW.state, now_column]
        row = connection.execute(
            select(*columns).where(_ROW.org_url == key.org_url, _ROW.client_id == key.client_id).with_for_update()
        ).one()
        now = float(row[1]) if now_column is not None else (self._clock or time.time)()
        return BudgetWindow.from_state(dict(row[0] or {}), self.limits), now
