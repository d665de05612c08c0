"""What guards sign-in against overload: the gate that bounds how many passwords are hashed at once.

The throttling rules are pure values of :mod:`salesbridge.domain.sign_in_throttle`; the log of failed attempts is
the port :class:`salesbridge.services.ports.SignInFailures`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, TypeVar

from salesbridge.errors import PasswordHashingBusyError

MAX_CONCURRENT_HASHING: Final = 4
"""Passwords hashed or verified at once per process. argon2id as configured uses 64 MiB each: four bound it to
256 MiB, and two cores cannot hash more at once anyway."""
HASHING_WAIT_S: Final = 2.0
"""How long a request waits for a free hashing slot before it is told to try again."""
MAX_WAITING_FOR_HASHING: Final = 8
"""Requests waiting for a slot at once; more are told to try again at once. Each waiting request holds one of the
web server's worker threads (40 by default): slots and waiters together never take more than 12 of them, so
sign-ins under attack do not slow every other page."""

T = TypeVar("T")


class PasswordHashingGate:
    """Bounds the passwords hashed or verified at once (argon2 is memory-hard: unbounded, 40 parallel guessers
    took a gigabyte). A caller waits up to ``wait_s`` for a slot, then gets :class:`PasswordHashingBusyError`;
    when ``max_waiting`` callers are waiting already, it gets it at once. Nothing queues without bound, in memory
    or in threads. Thread-safe; one gate per process, shared by its services.

    Args:
        slots: Hashings at once.
        wait_s: Longest wait for a slot, in seconds.
        max_waiting: Callers waiting for a slot at once.
    """

    def __init__(
        self,
        slots: int = MAX_CONCURRENT_HASHING,
        *,
        wait_s: float = HASHING_WAIT_S,
        max_waiting: int = MAX_WAITING_FOR_HASHING,
    ) -> None:
        if slots < 1 or max_waiting < 0:
            raise ValueError("the hashing gate needs at least one slot and no negative number of waiters")
        self._slots = threading.BoundedSemaphore(slots)
        self._wait_s = wait_s
        self._max_waiting = max_waiting
        self._waiting = 0
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        """How many callers are waiting for a slot now."""
        with self._lock:
            return self._waiting

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the block.

        Raises:
            PasswordHashingBusyError: no slot came free within the wait, or too many callers were waiting.
        """
        if not self._slots.acquire(blocking=False):
            self._wait_for_slot()
        try:
            yield
        finally:
            self._slots.release()

    def _wait_for_slot(self) -> None:
        busy = PasswordHashingBusyError(retry_after_s=max(self._wait_s, 1.0))
        with self._lock:
            if self._waiting >= self._max_waiting:
                raise busy
            self._waiting += 1
        try:
            acquired = self._slots.acquire(timeout=self._wait_s)
        finally:
            with self._lock:
                self._waiting -= 1
        if not acquired:
            raise busy

    def run(self, work: Callable[[], T]) -> T:
        """``work()`` inside a slot.

        Raises:
            PasswordHashingBusyError: no slot came free within the wait.
        """
        with self.slot():
            return work()
