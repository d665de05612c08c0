"""A monotonic clock and an awaitable sleep that move together: only the code under test's sleeps advance time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    now_s: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now_s

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now_s += seconds
        await asyncio.sleep(0)
