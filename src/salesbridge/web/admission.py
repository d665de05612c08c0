"""Admission of password checks at the web edge: requests wait their turn on the event loop, not in threads.

Checking a password (argon2) is memory-hard and CPU-bound, and the service layer bounds how many run at once
(:class:`salesbridge.services.sign_in_guard.PasswordHashingGate`). A burst of people signing in at the same
moment — an office at nine — must neither be refused nor take the web server's worker threads while it waits:
here a request waits as a suspended coroutine (a few kilobytes, no thread) until one of ``threads`` password
checking threads is free, and only a queue longer than ``max_waiting``, or a wait longer than ``wait_s``, is told
to try again.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from typing import Final, TypeVar

import anyio
import anyio.to_thread

from salesbridge.errors import PasswordHashingBusyError
from salesbridge.services.sign_in_guard import MAX_CONCURRENT_HASHING

T = TypeVar("T")

ADMISSION_WAIT_S: Final = 20.0
"""Longest wait for a password-checking thread, in seconds. At about 0.1 s a check on two cores, four threads
clear some 800 sign-ins in that time."""
MAX_WAITING: Final = 1024
"""Requests waiting at once; more are told to try again at once (the queue then could not clear in the wait)."""


class PasswordCheckAdmission:
    """Runs blocking password work on a worker thread once one of ``threads`` admissions is free.

    One per app. Its limiter belongs to an event loop, so it keeps one per loop, created on first use there: a
    served app has one loop; test clients may run one each.

    Args:
        threads: Password checks at once (as many as the service's hashing gate has slots, so that nothing admitted
            here waits again there).
        wait_s: Longest wait for admission, in seconds.
        max_waiting: Requests waiting for admission at once.
    """

    def __init__(
        self, threads: int = MAX_CONCURRENT_HASHING, *, wait_s: float = ADMISSION_WAIT_S, max_waiting: int = MAX_WAITING
    ) -> None:
        if threads < 1 or max_waiting < 0:
            raise ValueError("admission needs at least one thread and no negative number of waiters")
        self._threads = threads
        self._wait_s = wait_s
        self._max_waiting = max_waiting
        self._waiting = 0
        self._lock = threading.Lock()
        self._limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
            weakref.WeakKeyDictionary()
        )

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` on a worker thread, once admitted.

        Raises:
            PasswordHashingBusyError: too many requests were waiting, or none was admitted within the wait
                (``work`` did not run).
        """
        limiter = self._limiter()
        busy = PasswordHashingBusyError(retry_after_s=max(self._wait_s / 4, 1.0))
        with self._lock:
            if self._waiting >= self._max_waiting:
                raise busy
            self._waiting += 1
        admitted = False
        try:
            with anyio.move_on_after(self._wait_s):
                await limiter.acquire()
                admitted = True
        finally:
            with self._lock:
                self._waiting -= 1
        if not admitted:
            raise busy
        try:
            return await anyio.to_thread.run_sync(work)
        finally:
            limiter.release()

    def _limiter(self) -> anyio.CapacityLimiter:
        loop = asyncio.get_running_loop()
        with self._lock:
            limiter = self._limiters.get(loop)
            if limiter is None:
                limiter = self._limiters[loop] = anyio.CapacityLimiter(self._threads)
            return limiter
