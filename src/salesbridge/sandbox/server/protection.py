"""Service protection limits, per user, as Dataverse enforces them per web server.

Three measures over a sliding window: number of requests, combined execution time, and concurrent
requests. A breach answers 429 with ``Retry-After`` and the measure's error code.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from salesbridge.sandbox.errors import DataverseError


@dataclass
class ProtectionLimits:
    """Limits per user. Defaults are Dataverse's (6,000 requests and 1,200 s per 300 s, 52 concurrent)."""

    requests_per_window: int = 6000
    execution_ms_per_window: int = 1_200_000
    max_concurrent: int = 52
    window_s: float = 300.0
    enabled: bool = True


@dataclass
class _UserUsage:
    requests: deque[float] = field(default_factory=deque)
    executions: deque[tuple[float, float]] = field(default_factory=deque)
    in_flight: int = 0


class ServiceProtection:
    """Tracks usage and refuses requests over the limits. ``clock`` returns monotonic seconds."""

    def __init__(self, limits: ProtectionLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or ProtectionLimits()
        self.clock = clock
        self._usage: dict[str, _UserUsage] = {}

    def _trim(self, usage: _UserUsage, now: float) -> None:
        horizon = now - self.limits.window_s
        while usage.requests and usage.requests[0] <= horizon:
            usage.requests.popleft()
        while usage.executions and usage.executions[0][0] <= horizon:
            usage.executions.popleft()

    def admit(self, user_id: str) -> None:
        """Count a request starting now.

        Raises:
            DataverseError: 429 with ``Retry-After`` (codes 0x80072322 count, 0x80072321 time,
                0x80072326 concurrency).
        """
        limits = self.limits
        if not limits.enabled:
            return
        now = self.clock()
        usage = self._usage.setdefault(user_id, _UserUsage())
        self._trim(usage, now)
        if usage.in_flight >= limits.max_concurrent:
            raise _throttled(
                "0x80072326",
                f"Number of concurrent requests exceeded the limit of {limits.max_concurrent}.",
                1,
            )
        if len(usage.requests) >= limits.requests_per_window:
            wait = usage.requests[0] + limits.window_s - now
            raise _throttled(
                "0x80072322",
                f"Number of requests exceeded the limit of {limits.requests_per_window} over time window of "
                f"{int(limits.window_s)} seconds.",
                wait,
            )
        spent_ms = sum(ms for _, ms in usage.executions)
        if spent_ms >= limits.execution_ms_per_window:
            wait = usage.executions[0][0] + limits.window_s - now
            raise _throttled(
                "0x80072321",
                f"Combined execution time of incoming requests exceeded limit of {limits.execution_ms_per_window:,} "
                f"milliseconds over time window of {int(limits.window_s)} seconds. Decrease number of concurrent "
                f"requests or reduce the duration of requests and try again later.",
                wait,
            )
        usage.requests.append(now)
        usage.in_flight += 1

    def release(self, user_id: str, elapsed_ms: float) -> None:
        """Record the end of a request admitted by :meth:`admit`."""
        if not self.limits.enabled:
            return
        usage = self._usage.setdefault(user_id, _UserUsage())
        usage.in_flight = max(0, usage.in_flight - 1)
        usage.executions.append((self.clock(), elapsed_ms))

    def remaining_requests(self, user_id: str) -> int:
        """Requests left in the current window (the x-ms-ratelimit-burst-remaining header)."""
        usage = self._usage.get(user_id)
        used = len(usage.requests) if usage else 0
        return max(0, self.limits.requests_per_window - used)


def _throttled(code: str, message: str, retry_after_s: float) -> DataverseError:
    seconds = max(1, math.ceil(retry_after_s))
    return DataverseError(429, code, message, headers={"Retry-After": str(seconds)})
