"""Living within Dataverse's service-protection limits: when to retry, and how many requests to run at once."""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from salesbridge.domain.request_budget import DATAVERSE_MAX_CONCURRENCY
from salesbridge.errors import RateLimitedError, SalesbridgeError, TransientError

__all__ = ["DATAVERSE_MAX_CONCURRENCY", "ConcurrencyLimit", "RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """Decides whether and how long to wait before retrying a failed call. Pure: no clock, no sleep.

    Retries only :class:`TransientError`. A 429 waits exactly what ``Retry-After`` asked; otherwise the wait
    is exponential backoff with full jitter: uniform in ``[0, min(max_backoff_s, base_backoff_s * 2**(n-1))]``.
    A call that is not idempotent is retried only after a throttle (the server did not run it).

    Attributes:
        max_attempts: Attempts in total, the first one included.
        max_total_wait_s: Give up when the time already spent plus the next wait would exceed this.
        base_backoff_s: Backoff ceiling of the first retry.
        max_backoff_s: Backoff ceiling of any retry.
        random_fraction: Source of jitter in [0, 1); injected so tests are deterministic.
    """

    max_attempts: int = 6
    max_total_wait_s: float = 300.0
    base_backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    random_fraction: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def decide(
        self, attempt: int, error: SalesbridgeError, elapsed_s: float, *, is_idempotent: bool = True
    ) -> float | None:
        """The seconds to wait before the next attempt, or None to give up and raise ``error``.

        Args:
            attempt: The attempt that just failed, counting from 1.
            error: Its error.
            elapsed_s: Seconds since the first attempt started (waits and request times included).
            is_idempotent: Whether running the call twice is harmless.
        """
        if not isinstance(error, TransientError) or attempt >= self.max_attempts:
            return None
        if isinstance(error, RateLimitedError) and error.retry_after_s is not None:
            wait_s = error.retry_after_s
        elif not is_idempotent and not isinstance(error, RateLimitedError):
            return None
        else:
            ceiling_s = min(self.max_backoff_s, self.base_backoff_s * 2 ** (attempt - 1))
            wait_s = self.random_fraction() * ceiling_s
        if elapsed_s + wait_s > self.max_total_wait_s:
            return None
        return wait_s


class ConcurrencyLimit:
    """A semaphore whose size can change while it is in use (``x-ms-dop-hint`` moves it).

    Shrinking never interrupts running holders: new ones wait until enough have left. Waiters are served
    first come, first served. Releasing is synchronous, so a cancelled holder never leaks its slot.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("A concurrency limit must be at least 1.")
        self._limit = limit
        self._in_use = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def limit(self) -> int:
        """How many holders are allowed at once."""
        return self._limit

    @property
    def in_use(self) -> int:
        """How many holders there are now."""
        return self._in_use

    def resize(self, limit: int) -> None:
        """Allow ``limit`` holders from now on (at least 1)."""
        self._limit = max(1, limit)
        self._wake()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the duration of the block."""
        while self._in_use >= self._limit or self._waiters_ahead():
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                # A waiter woken and then cancelled must hand its turn on.
                if waiter.done() and not waiter.cancelled():
                    self._wake()
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            if self._in_use < self._limit:
                break
        self._in_use += 1
        try:
            yield
        finally:
            self._in_use -= 1
            self._wake()

    def _waiters_ahead(self) -> bool:
        return any(not waiter.done() for waiter in self._waiters)

    def _wake(self) -> None:
        free = self._limit - self._in_use
        for waiter in list(self._waiters):
            if free <= 0:
                break
            if not waiter.done():
                waiter.set_result(None)
                self._waiters.remove(waiter)
                free -= 1
