"""The request budget's rules (BudgetWindow, pure, time passed in) and the holders that draw on it (fake clock and
sleep): what a request costs, when the next one may start, pauses, concurrency shares, leases."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

import pytest
from tests.fakes.monotonic import FakeTime

from salesbridge.crm.budget import BudgetHolder, ProcessLedger, RequestBudget
from salesbridge.domain.request_budget import (
    BudgetKey,
    BudgetLimits,
    BudgetWindow,
    LeaseAsk,
    LeaseGrant,
    Settlement,
)

SMALL = BudgetLimits(
    requests_per_window=100,
    execution_s_per_window=20.0,
    window_s=60.0,
    headroom=1.0,
    bucket_s=5.0,
    margin_s=2.0,
    lease_s=1.0,
    max_concurrency=52,
)
KEY = BudgetKey.of("https://Contoso.crm.dynamics.com/", "ABC")


def test_a_key_ignores_case_and_a_trailing_slash() -> None:
    assert BudgetKey.of("https://contoso.crm.dynamics.com", "abc") == KEY


def test_limits_refuse_a_margin_shorter_than_a_lease() -> None:
    with pytest.raises(ValueError, match="margin"):
        BudgetLimits(margin_s=1.0, lease_s=2.0)


def test_the_headroom_holds_back_a_fraction_of_dataverse_limits() -> None:
    limits = BudgetLimits()

    assert limits.granted_requests == 5700
    assert limits.granted_execution_s == pytest.approx(1140.0)


def test_requests_are_granted_up_to_the_limit_then_the_wait_ends_when_the_oldest_leave() -> None:
    window = BudgetWindow(SMALL)

    first = window.lease(1000.0, LeaseAsk("a", want=60))
    second = window.lease(1001.0, LeaseAsk("a", want=60))
    refused = window.lease(1002.0, LeaseAsk("a", want=1))

    assert (first.granted, second.granted, refused.granted) == (60, 40, 0)
    # Charged at 1000 (bucket 200): counted while the ring holds it, ceil((60 + 2) / 5) + 1 = 14 buckets.
    assert refused.wait_s == pytest.approx((200 + 14) * 5.0 - 1002.0)
    assert window.lease(1002.0 + refused.wait_s - 0.01, LeaseAsk("a", want=1)).granted == 0
    assert window.lease(1002.0 + refused.wait_s, LeaseAsk("a", want=100)).granted == 100


def test_every_request_stays_counted_at_least_a_window_and_the_margin() -> None:
    for granted_at in (1000.0, 1002.5, 1004.99):
        window = BudgetWindow(SMALL)
        window.lease(granted_at, LeaseAsk("a", want=1))

        assert window.requests_in_window(granted_at + SMALL.window_s + SMALL.margin_s) == 1


def test_no_sliding_window_ever_holds_more_than_the_limit() -> None:
    # Holders ask at random moments for random slices and give random parts back; whatever they do, the requests
    # granted within any window plus margin never exceed the limit (the property Dataverse enforces).
    rng = random.Random(12)
    window = BudgetWindow(SMALL)
    sent: list[list[float]] = []  # [granted at, requests sent of that grant]
    open_leases: dict[str, tuple[LeaseGrant, list[float]]] = {}
    now = 0.0
    for _ in range(3000):
        now += rng.expovariate(20.0)
        holder = rng.choice("abc")
        settlement = None
        if holder in open_leases:
            previous, entry = open_leases.pop(holder)
            unused = rng.randint(0, previous.granted)
            entry[1] -= unused  # never sent
            settlement = Settlement(bucket=previous.bucket, unused=unused)
        grant = window.lease(now, LeaseAsk(holder, want=rng.randint(1, 30), settlement=settlement))
        if grant.granted:
            entry = [now, float(grant.granted)]
            sent.append(entry)
            open_leases[holder] = (grant, entry)
        horizon = now - SMALL.window_s - SMALL.margin_s
        assert sum(count for at, count in sent if at > horizon) <= SMALL.requests_per_window
    # ... and the budget was used, not merely refused: most of the limit in every window the run spans.
    windows = now / (SMALL.window_s + SMALL.margin_s + SMALL.bucket_s)
    assert sum(count for _, count in sent) > 0.8 * SMALL.requests_per_window * windows


def test_time_spent_stops_grants_until_it_leaves_the_window() -> None:
    window = BudgetWindow(SMALL)
    lease = window.lease(1000.0, LeaseAsk("a", want=1))

    still = window.lease(1001.0, LeaseAsk("a", settlement=Settlement(lease.bucket, execution_s=19.0)))
    spent = window.lease(1002.0, LeaseAsk("a", settlement=Settlement(still.bucket, execution_s=1.5)))

    assert still.granted == 1
    assert spent.granted == 0
    assert spent.wait_s > 0
    assert window.execution_in_window(1002.0) == pytest.approx(20.5)
    assert window.lease(1002.0 + spent.wait_s, LeaseAsk("a")).granted == 1


def test_unused_requests_are_given_back() -> None:
    window = BudgetWindow(SMALL)
    lease = window.lease(1000.0, LeaseAsk("a", want=50))

    window.lease(1001.0, LeaseAsk("a", want=0, settlement=Settlement(lease.bucket, unused=45)))

    assert window.requests_in_window(1001.0) == 5


def test_a_pause_holds_every_holder_back_until_it_ends() -> None:
    window = BudgetWindow(SMALL)
    window.lease(1000.0, LeaseAsk("a", want=0, pause_s=7.0))

    other = window.lease(1002.0, LeaseAsk("b", want=1))
    later = window.lease(1007.0, LeaseAsk("b", want=1))

    assert (other.granted, other.wait_s) == (0, pytest.approx(5.0))
    assert later.granted == 1


def test_a_shorter_pause_does_not_cut_a_longer_one() -> None:
    window = BudgetWindow(SMALL)
    window.lease(1000.0, LeaseAsk("a", want=0, pause_s=30.0))
    window.lease(1001.0, LeaseAsk("b", want=0, pause_s=2.0))

    assert window.lease(1010.0, LeaseAsk("b")).wait_s == pytest.approx(20.0)


@pytest.mark.parametrize(("hint", "holders", "share"), [(None, 1, 52), (8, 1, 8), (8, 2, 4), (500, 2, 26), (3, 4, 1)])
def test_concurrency_is_the_dop_hint_capped_at_52_split_among_the_holders(
    hint: int | None, holders: int, share: int
) -> None:
    window = BudgetWindow(SMALL)
    for number in range(holders):
        grant = window.lease(1000.0, LeaseAsk(f"h{number}", dop_hint=hint))

    assert grant.concurrency == share


def test_a_holder_that_left_or_went_quiet_no_longer_takes_a_share() -> None:
    window = BudgetWindow(SMALL)
    window.lease(1000.0, LeaseAsk("a", dop_hint=10))
    window.lease(1000.0, LeaseAsk("b"))
    window.lease(1000.0, LeaseAsk("c"))

    assert window.lease(1001.0, LeaseAsk("a")).concurrency == 3
    window.lease(1002.0, LeaseAsk("c", want=0, leaving=True))
    assert window.lease(1003.0, LeaseAsk("a")).concurrency == 5
    assert window.lease(1003.0 + SMALL.holder_ttl_s, LeaseAsk("a")).concurrency == 10


def test_what_is_left_is_shared_among_the_holders() -> None:
    window = BudgetWindow(SMALL)
    window.lease(1000.0, LeaseAsk("a", want=90))
    window.lease(1000.0, LeaseAsk("b", want=0))  # b is not yet a holder: asking for nothing does not register

    assert window.lease(1001.0, LeaseAsk("b", want=50)).granted == 5  # 10 left, a and b: 5 each


def test_the_state_round_trips_and_garbage_is_an_empty_window() -> None:
    window = BudgetWindow(SMALL)
    window.lease(1000.0, LeaseAsk("a", want=30, pause_s=0.0, dop_hint=6))
    window.lease(1000.0, LeaseAsk("a", want=0, pause_s=3.0))

    copy = BudgetWindow.from_state(window.to_state(), SMALL)

    assert copy == window
    assert BudgetWindow.from_state({"requests": [1, 2], "execution_s": [0.0]}, SMALL) == BudgetWindow(SMALL)
    assert BudgetWindow.from_state({"requests": "x"}, SMALL) == BudgetWindow(SMALL)


def test_a_clock_that_goes_back_charges_the_newest_bucket() -> None:
    window = BudgetWindow(SMALL)
    window.lease(1000.0, LeaseAsk("a", want=10))

    back = window.lease(990.0, LeaseAsk("a", want=10))

    assert back.granted == 10
    assert window.requests_in_window(1000.0) == 20


# Holders: the async gate, with a clock and a sleep that move together.


@dataclass
class CountingLedger:
    """A ledger that counts the calls made on it (the ProcessLedger does the work)."""

    inner: ProcessLedger
    asks: list[LeaseAsk] = field(default_factory=list)

    def lease(self, key: BudgetKey, ask: LeaseAsk) -> LeaseGrant:
        self.asks.append(ask)
        return self.inner.lease(key, ask)


def gate(
    time: FakeTime, *, slice_size: int = 1, limits: BudgetLimits = SMALL, blocking: bool = False
) -> tuple[RequestBudget, CountingLedger]:
    ledger = CountingLedger(ProcessLedger(limits, clock=time.clock))
    budget = RequestBudget(
        ledger, slice_size=slice_size, blocking=blocking, lease_s=limits.lease_s, sleep=time.sleep, clock=time.clock
    )
    return budget, ledger


async def test_far_from_the_limit_a_slice_costs_one_ledger_call_per_fifty_requests() -> None:
    time = FakeTime()
    budget, ledger = gate(time, slice_size=50)
    holder = budget.holder(KEY)

    for _ in range(100):
        assert await holder.acquire() is None

    assert len(ledger.asks) == 2
    assert time.sleeps == []


async def test_an_expired_lease_gives_back_what_it_did_not_use() -> None:
    time = FakeTime()
    budget, ledger = gate(time, slice_size=50)
    holder = budget.holder(KEY)
    await holder.acquire()
    await holder.acquire()

    time.now_s += SMALL.lease_s
    await holder.acquire()

    assert ledger.asks[-1].settlement == Settlement(bucket=200, unused=48, execution_s=0.0)
    assert ledger.inner.requests_in_window(KEY) == 2 + 50


async def test_a_spent_budget_waits_then_goes_on() -> None:
    time = FakeTime()
    budget, _ = gate(time)
    holder = budget.holder(KEY)
    for _ in range(SMALL.requests_per_window):
        await holder.acquire()

    assert await holder.acquire() is None

    assert len(time.sleeps) == 1
    assert time.now_s >= 1000.0 + SMALL.window_s + SMALL.margin_s


async def test_a_caller_that_cannot_wait_is_told_how_long_without_waiting() -> None:
    time = FakeTime()
    budget, _ = gate(time)
    holder = budget.holder(KEY)
    for _ in range(SMALL.requests_per_window):
        await holder.acquire()

    still_s = await holder.acquire(max_wait_s=10.0)

    assert still_s is not None
    assert still_s > 10.0
    assert time.sleeps == []


async def test_a_pause_from_one_holder_holds_the_others_back() -> None:
    time = FakeTime()
    budget, _ = gate(time)
    throttled, other = budget.holder(KEY), budget.holder(KEY)
    await throttled.acquire()
    await other.acquire()

    await throttled.pause(9.0)
    await other.acquire()

    assert time.sleeps == [pytest.approx(9.0)]
    assert other.waited_s == pytest.approx(9.0)


async def test_another_key_is_not_held_back() -> None:
    time = FakeTime()
    budget, _ = gate(time)
    throttled = budget.holder(KEY)
    await throttled.pause(9.0)

    await budget.holder(BudgetKey.of("https://fabrikam.crm.dynamics.com", "abc")).acquire()

    assert time.sleeps == []


async def test_execution_time_is_reported_with_the_next_lease() -> None:
    time = FakeTime()
    budget, ledger = gate(time)
    holder = budget.holder(KEY)
    await holder.acquire()

    holder.record(2.5)
    await holder.acquire()

    assert ledger.asks[-1].settlement is not None
    assert ledger.asks[-1].settlement.execution_s == 2.5


async def test_a_new_dop_hint_divides_among_the_sharers_before_the_next_lease() -> None:
    time = FakeTime()
    budget, ledger = gate(time)
    first, second = budget.holder(KEY), budget.holder(KEY)
    await first.acquire()
    await second.acquire()

    assert second.concurrency == 26  # 52 between two

    second.note_dop_hint(10)

    assert second.concurrency == 5  # at once, before it tells the ledger
    await second.acquire()
    assert second.concurrency == 5
    assert ledger.asks[-1].dop_hint == 10
    await first.acquire()
    assert first.concurrency == 5


async def test_closing_settles_and_leaves() -> None:
    time = FakeTime()
    budget, ledger = gate(time, slice_size=50)
    holder: BudgetHolder = budget.holder(KEY)
    await holder.acquire()

    await holder.close()

    assert ledger.asks[-1].leaving
    assert ledger.inner.requests_in_window(KEY) == 1


async def test_requests_finding_the_lease_empty_together_share_one_renewal() -> None:
    time = FakeTime()
    budget, ledger = gate(time, slice_size=50, blocking=True)  # ledger calls in a thread: the others run meanwhile
    holder = budget.holder(KEY)

    await asyncio.gather(*(holder.acquire() for _ in range(10)))

    assert len(ledger.asks) == 1
    assert ledger.inner.requests_in_window(KEY) == 50
