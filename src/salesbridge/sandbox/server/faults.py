"""Fault injection for tests and benchmarks: off by default, deterministic for a given seed.

Faults: 429 (service protection, with Retry-After), 503, added latency, a connection reset in the middle
of a response body, token revocation, and a clock shift that expires change-tracking tokens.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class FaultConfig:
    """Probabilities are per Web API request (0.0 to 1.0); ``latency_ms`` is added to every request."""

    seed: int = 0
    throttle_rate: float = 0.0
    throttle_retry_after_s: int = 2
    unavailable_rate: float = 0.0
    reset_rate: float = 0.0
    latency_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], base: FaultConfig | None = None) -> FaultConfig:
        """A configuration updated from JSON values.

        Raises:
            ValueError: for an unknown field or a probability outside 0 and 1.
        """
        known = {f.name: f.type for f in fields(cls)}
        current = asdict(base or cls())
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"Unknown fault setting '{name}'. Known: {', '.join(sorted(known))}.")
            current[name] = value
        config = cls(
            seed=int(current["seed"]),
            throttle_rate=float(current["throttle_rate"]),
            throttle_retry_after_s=int(current["throttle_retry_after_s"]),
            unavailable_rate=float(current["unavailable_rate"]),
            reset_rate=float(current["reset_rate"]),
            latency_ms=float(current["latency_ms"]),
        )
        for rate in (config.throttle_rate, config.unavailable_rate, config.reset_rate):
            if not 0.0 <= rate <= 1.0:
                raise ValueError("Fault rates must be between 0 and 1.")
        return config


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request."""

    throttle: bool = False
    unavailable: bool = False
    reset: bool = False
    latency_s: float = 0.0


class FaultInjector:
    """Draws fault decisions from a seeded random generator."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        """Replace the configuration and reseed."""
        self.config = config
        self._random = random.Random(config.seed)

    @property
    def active(self) -> bool:
        """Whether any fault is configured."""
        c = self.config
        return bool(c.throttle_rate or c.unavailable_rate or c.reset_rate or c.latency_ms)

    def decide(self) -> FaultDecision:
        """The faults for the next request."""
        c = self.config
        if not self.active:
            return FaultDecision()
        draw = self._random.random
        return FaultDecision(
            throttle=draw() < c.throttle_rate,
            unavailable=draw() < c.unavailable_rate,
            reset=draw() < c.reset_rate,
            latency_s=c.latency_ms / 1000.0,
        )
