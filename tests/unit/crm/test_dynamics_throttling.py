"""RetryPolicy decisions (pure, with injected jitter) and the resizable ConcurrencyLimit."""

from __future__ import annotations

import asyncio

import pytest

from salesbridge.crm.dynamics.throttling import ConcurrencyLimit, RetryPolicy
from salesbridge.errors import (
    AuthError,
    ConcurrencyConflictError,
    NotFoundError,
    RateLimitedError,
    RequestRejectedError,
    SalesbridgeError,
    TokenRefreshError,
    UpstreamUnavailableError,
)

POLICY = RetryPolicy(
    max_attempts=5, max_total_wait_s=120, base_backoff_s=2, max_backoff_s=10, random_fraction=lambda: 1.0
)


@pytest.mark.parametrize(
    ("attempt", "error", "elapsed_s", "expected"),
    [
        pytest.param(1, RateLimitedError("t", retry_after_s=7), 0, 7, id="429-waits-retry-after"),
        pytest.param(1, RateLimitedError("t", retry_after_s=0), 0, 0, id="429-retry-after-zero"),
        pytest.param(1, RateLimitedError("t"), 0, 2, id="429-without-retry-after-backs-off"),
        pytest.param(1, UpstreamUnavailableError("u"), 0, 2, id="first-backoff"),
        pytest.param(2, UpstreamUnavailableError("u"), 0, 4, id="doubles"),
        pytest.param(3, UpstreamUnavailableError("u"), 0, 8, id="doubles-again"),
        pytest.param(4, UpstreamUnavailableError("u"), 0, 10, id="capped-at-max-backoff"),
        pytest.param(5, UpstreamUnavailableError("u"), 0, None, id="attempts-exhausted"),
        pytest.param(1, TokenRefreshError("t"), 0, 2, id="token-endpoint-hiccup"),
        pytest.param(1, RateLimitedError("t", retry_after_s=30), 100, None, id="wait-would-exceed-budget"),
        pytest.param(1, RateLimitedError("t", retry_after_s=20), 100, 20, id="wait-just-fits-budget"),
        pytest.param(1, AuthError("a"), 0, None, id="auth-never"),
        pytest.param(1, NotFoundError("n"), 0, None, id="404-never"),
        pytest.param(1, ConcurrencyConflictError("c"), 0, None, id="412-never"),
        pytest.param(1, RequestRejectedError("r"), 0, None, id="400-never"),
        pytest.param(1, SalesbridgeError("s"), 0, None, id="foreign-never"),
    ],
)
def test_decisions(attempt: int, error: SalesbridgeError, elapsed_s: float, expected: float | None) -> None:
    assert POLICY.decide(attempt, error, elapsed_s) == expected


def test_jitter_is_full_between_zero_and_the_ceiling() -> None:
    fractions = iter([0.0, 0.25, 0.999])
    policy = RetryPolicy(base_backoff_s=4, random_fraction=lambda: next(fractions))

    waits = [policy.decide(1, UpstreamUnavailableError("u"), 0) for _ in range(3)]

    assert waits == [0.0, 1.0, pytest.approx(3.996)]


def test_a_call_that_is_not_idempotent_is_retried_only_after_a_throttle() -> None:
    assert POLICY.decide(1, UpstreamUnavailableError("u"), 0, is_idempotent=False) is None
    assert POLICY.decide(1, RateLimitedError("t", retry_after_s=3), 0, is_idempotent=False) == 3
    assert POLICY.decide(1, RateLimitedError("t"), 0, is_idempotent=False) == 2


def test_a_simulated_run_respects_the_total_wait_cap() -> None:
    clock_s = 0.0
    policy = RetryPolicy(
        max_attempts=100, max_total_wait_s=60, base_backoff_s=1, max_backoff_s=30, random_fraction=lambda: 1.0
    )
    attempt = 1
    while (wait_s := policy.decide(attempt, UpstreamUnavailableError("u"), clock_s)) is not None:
        clock_s += wait_s + 0.5  # the request itself takes half a second
        attempt += 1

    assert clock_s <= 60 + 0.5
    assert attempt == 6  # 1 + 2 + 4 + 8 + 16 fit; the next 30 would overshoot


async def test_the_limit_holds_and_follows_resizes() -> None:
    limit = ConcurrencyLimit(2)
    peak = 0
    release = asyncio.Event()

    async def hold() -> None:
        nonlocal peak
        async with limit.slot():
            peak = max(peak, limit.in_use)
            await release.wait()

    tasks = [asyncio.create_task(hold()) for _ in range(6)]
    await asyncio.sleep(0)
    assert limit.in_use == 2
    limit.resize(4)
    await asyncio.sleep(0)
    assert limit.in_use == 4
    release.set()
    await asyncio.gather(*tasks)

    assert peak == 4
    assert limit.in_use == 0


async def test_a_cancelled_waiter_does_not_leak_a_slot() -> None:
    limit = ConcurrencyLimit(1)
    entered = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with limit.slot():
            entered.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await entered.wait()
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter.cancel()
    release.set()
    await holder
    with pytest.raises(asyncio.CancelledError):
        await waiter

    assert limit.in_use == 0
    async with limit.slot():
        assert limit.in_use == 1
