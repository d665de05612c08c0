"""The request budget every Dataverse client draws on: a port (:class:`BudgetLedger`), the in-process ledger, and
the asynchronous gate a client holds (:class:`RequestBudget`, :class:`BudgetHolder`).

Dataverse limits each application user on each organization, whatever machine the requests come from (see
:mod:`salesbridge.domain.request_budget` for the arithmetic). A ledger keeps the window of each
:class:`~salesbridge.domain.request_budget.BudgetKey`:

- :class:`ProcessLedger`, in memory, shared by every client of one process (the embedded job backend);
- the store's ``DatabaseBudgetLedger`` (:mod:`salesbridge.store.request_budget`), one row per key in PostgreSQL,
  shared by workers on any number of machines (the procrastinate backend). Bootstrap plugs it in.

A client takes a :class:`BudgetHolder` for its key and calls :meth:`BudgetHolder.acquire` before each request,
:meth:`BudgetHolder.record` after it, :meth:`BudgetHolder.pause` on a 429 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

from salesbridge.domain.request_budget import (
    DATAVERSE_MAX_CONCURRENCY,
    BudgetKey,
    BudgetLimits,
    BudgetWindow,
    LeaseAsk,
    LeaseGrant,
    Settlement,
)
from salesbridge.errors import SalesbridgeError

_logger = logging.getLogger(__name__)

__all__ = [
    "BudgetHolder",
    "BudgetKey",
    "BudgetLedger",
    "BudgetLimits",
    "ProcessLedger",
    "RequestBudget",
]


class BudgetLedger(Protocol):
    """Keeps the windows of the keys. One call is one atomic step (a lock, or one short database transaction).

    Implementations may block (a database round trip); :class:`RequestBudget` runs such ones off the event loop.
    """

    def lease(self, key: BudgetKey, ask: LeaseAsk) -> LeaseGrant:
        """Apply ``ask`` to the window of ``key`` (created empty on first use) and return the grant.

        Raises:
            StoreError: the shared store could not be reached (database ledgers).
        """
        ...


class ProcessLedger:
    """The windows of one process, in memory, under one lock; thread-safe, never blocks for long.

    Args:
        limits: Applied to every key.
        clock: Monotonic seconds (injected by tests).
    """

    def __init__(self, limits: BudgetLimits | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or BudgetLimits()
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[BudgetKey, BudgetWindow] = {}

    def lease(self, key: BudgetKey, ask: LeaseAsk) -> LeaseGrant:
        """See :meth:`BudgetLedger.lease`."""
        with self._lock:
            window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = BudgetWindow(self.limits)
            return window.lease(self._clock(), ask)

    def requests_in_window(self, key: BudgetKey) -> int:
        """Requests counted for ``key`` now."""
        with self._lock:
            window = self._windows.get(key)
            return window.requests_in_window(self._clock()) if window else 0


class RequestBudget:
    """The gate of a process's clients over one ledger.

    Args:
        ledger: Where the windows live.
        slice_size: Requests asked for at once. 1 for an in-process ledger (a lock per request costs nothing);
            more for a database ledger (one transaction per slice rather than per request).
        blocking: Whether ledger calls block (a database): they then run in a worker thread.
        lease_s: How long a lease may be used (the ledger's :attr:`BudgetLimits.lease_s`; the default's when None).
        sleep: Awaitable sleep in seconds (injected by tests).
        clock: Monotonic seconds, for lease expiry (injected by tests).
    """

    def __init__(
        self,
        ledger: BudgetLedger,
        *,
        slice_size: int = 1,
        blocking: bool = False,
        lease_s: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if slice_size < 1:
            raise ValueError("A slice holds at least one request.")
        self._ledger = ledger
        self.slice_size = slice_size
        self._blocking = blocking
        self.lease_s = lease_s if lease_s is not None else BudgetLimits().lease_s
        self.sleep = sleep
        self.clock = clock

    @classmethod
    def in_process(
        cls,
        limits: BudgetLimits | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> RequestBudget:
        """A budget over a fresh :class:`ProcessLedger` (one per process: share it between clients); ``sleep`` and
        ``clock`` serve both (injected by tests)."""
        ledger = ProcessLedger(limits, clock=clock)
        return cls(ledger, lease_s=ledger.limits.lease_s, sleep=sleep, clock=clock)

    def holder(self, key: BudgetKey) -> BudgetHolder:
        """A holder for one client of ``key`` (each client takes its own; they share the key's window)."""
        return BudgetHolder(self, key)

    async def call(self, key: BudgetKey, ask: LeaseAsk) -> LeaseGrant:
        """One ledger call, off the event loop when the ledger blocks."""
        if self._blocking:
            return await asyncio.to_thread(self._ledger.lease, key, ask)
        return self._ledger.lease(key, ask)


class BudgetHolder:
    """One client's draw on its key's budget. Used from one event loop (the client's).

    Far from the limit :meth:`acquire` costs a counter decrement, and a ledger call once per slice.
    """

    def __init__(self, budget: RequestBudget, key: BudgetKey) -> None:
        self._budget = budget
        self.key = key
        self._id = uuid.uuid4().hex
        self._remaining = 0
        self._bucket = 0
        self._expires_at = -math.inf
        self._settled = True
        self._execution_s = 0.0
        self._paused_until = -math.inf
        self._dop_hint: int | None = None
        self._reported_hint: int | None = None
        self._granted_concurrency = DATAVERSE_MAX_CONCURRENCY
        self._sharers = 1
        self._renewal = asyncio.Lock()
        self.waited_s = 0.0
        """Seconds :meth:`acquire` has slept so far (the client moves them to its counters)."""

    async def acquire(self, *, max_wait_s: float = math.inf) -> float | None:
        """Wait until one request may start, and take it. Never raises on its own account: a caller that cannot
        wait bounds the wait with ``max_wait_s`` (or cancels).

        Returns:
            None once the request may start; else, without waiting, the seconds the budget still asks for when
            that is more than what is left of ``max_wait_s`` (the caller then reports a throttle).

        Raises:
            StoreError: the shared ledger could not be reached (a database ledger).
        """
        budget = self._budget
        waited_s = 0.0
        while True:
            now = budget.clock()
            if now < self._paused_until:
                wait_s = self._paused_until - now
            elif self._take_from_lease(now):
                return None
            else:
                # One renewal at a time: requests of this client that find the lease empty together wait for the
                # one renewal instead of each leasing a slice (the extra slices would be charged and wasted).
                async with self._renewal:
                    if self._take_from_lease(budget.clock()):
                        return None
                    grant = await budget.call(self.key, self._ask(budget.slice_size))
                    self._granted_concurrency, self._sharers = grant.concurrency, grant.sharers
                    self._bucket = grant.bucket
                    if grant.granted:
                        self._remaining = grant.granted - 1
                        self._expires_at = budget.clock() + budget.lease_s
                        self._settled = False
                        return None
                    wait_s = grant.wait_s
            if waited_s + wait_s > max_wait_s:
                return wait_s
            waited_s += wait_s
            self.waited_s += wait_s
            await budget.sleep(wait_s)

    def _take_from_lease(self, now: float) -> bool:
        if self._remaining > 0 and now < self._expires_at and self._dop_hint == self._reported_hint:
            self._remaining -= 1
            return True
        return False

    @property
    def concurrency(self) -> int:
        """Requests this holder may have in flight: its share of the key's cap as of its latest lease, or of the
        newest ``x-ms-dop-hint`` it noted since."""
        if self._dop_hint is not None and self._dop_hint != self._reported_hint:
            return max(1, self._dop_hint // self._sharers)
        return self._granted_concurrency

    def record(self, duration_s: float) -> None:
        """Count ``duration_s`` seconds of execution (a request's response time); reported with the next lease."""
        self._execution_s += max(0.0, duration_s)

    def note_dop_hint(self, hint: int) -> None:
        """The server advised ``hint`` requests in flight; shared with the other holders at the next lease."""
        if hint > 0:
            self._dop_hint = hint

    async def pause(self, seconds: float) -> None:
        """The server answered 429 with ``Retry-After: seconds``: no holder of this key starts a request before
        then (the others notice at their next lease, within a lease's length)."""
        self._paused_until = max(self._paused_until, self._budget.clock() + seconds)
        try:
            await self._budget.call(self.key, self._ask(0, pause_s=seconds))
        except SalesbridgeError as error:
            # This client still waits; the others learn of the throttle from their own 429s.
            _logger.warning("Could not share a pause of %.0f s with the other clients: %s", seconds, error)

    async def close(self) -> None:
        """Give back what is left of the lease and report the execution time; stop counting as a holder.
        Idempotent; a ledger that cannot be reached is logged, not raised (its holder entry expires anyway)."""
        try:
            await self._budget.call(self.key, self._ask(0, leaving=True))
        except SalesbridgeError as error:
            _logger.warning("Could not settle with the request budget: %s", error)

    def _ask(self, want: int, *, pause_s: float = 0.0, leaving: bool = False) -> LeaseAsk:
        settlement = None
        if not self._settled or self._execution_s:
            settlement = Settlement(bucket=self._bucket, unused=self._remaining, execution_s=self._execution_s)
        self._settled = True
        self._remaining = 0
        self._execution_s = 0.0
        self._reported_hint = self._dop_hint
        return LeaseAsk(
            holder=self._id,
            want=want,
            settlement=settlement,
            pause_s=pause_s,
            dop_hint=self._dop_hint,
            leaving=leaving,
        )
