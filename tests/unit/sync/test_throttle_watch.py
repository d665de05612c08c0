"""The throttle watch the import run and the writeback drain share (salesbridge.sync.throttle_watch): a new throttle
while the session waits is noted once, at the injected clock plus the wait; a failing note is logged and the watch
goes on. Pure: the session's counters, the clock and the note are plain values and functions."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from salesbridge.crm.ports import RequestUsage
from salesbridge.errors import StoreError
from salesbridge.sync.throttle_watch import ThrottleWatch

START = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@dataclass
class Session:
    """A session's counters, set by the test as Dynamics would move them."""

    usage: RequestUsage = field(default_factory=RequestUsage)
    now: datetime = START

    def clock(self) -> datetime:
        return self.now


def test_a_new_throttle_while_the_session_waits_is_sighted_once_at_the_clock_plus_the_wait() -> None:
    session = Session()
    watch = ThrottleWatch(lambda: session.usage, session.clock, lambda until: None, subject="import 1")
    assert watch.sighted() is None, "never throttled"
    session.usage = RequestUsage(requests=5, throttled=1, paused_s=30.0)
    assert watch.sighted() == START + timedelta(seconds=30)
    session.now = START + timedelta(seconds=10)
    session.usage = RequestUsage(requests=5, throttled=1, paused_s=20.0)
    assert watch.sighted() is None, "the same throttle, still waiting: already sighted"
    session.now = START + timedelta(seconds=40)
    session.usage = RequestUsage(requests=7, throttled=3, paused_s=12.5)
    assert watch.sighted() == START + timedelta(seconds=52.5), "two more throttles: one sighting, the latest wait"


def test_a_throttle_the_session_does_not_wait_for_is_sighted_when_it_waits() -> None:
    session = Session(usage=RequestUsage(requests=3, throttled=1, paused_s=0.0))
    watch = ThrottleWatch(lambda: session.usage, session.clock, lambda until: None, subject="import 1")
    assert watch.sighted() is None, "a 429 without Retry-After: nothing to wait for"
    session.usage = RequestUsage(requests=3, throttled=1, paused_s=4.0)
    assert watch.sighted() == START + timedelta(seconds=4)


async def test_look_hands_the_wait_to_the_note_on_a_worker_thread() -> None:
    session = Session()
    notes: list[tuple[datetime, int]] = []
    watch = ThrottleWatch(
        lambda: session.usage,
        session.clock,
        lambda until: notes.append((until, threading.get_ident())),
        subject="the drain of acme",
    )
    await watch.look()
    assert notes == [], "nothing to note"
    session.usage = RequestUsage(requests=2, throttled=1, paused_s=30.0)
    await watch.look()
    await watch.look()
    assert [until for until, _ in notes] == [START + timedelta(seconds=30)]
    assert notes[0][1] != threading.get_ident(), "the note's store work never runs on the event loop"


async def test_a_failing_note_is_logged_and_the_watch_notes_the_next_throttle(caplog: pytest.LogCaptureFixture) -> None:
    session = Session(usage=RequestUsage(requests=2, throttled=1, paused_s=30.0))
    calls: list[datetime] = []

    def note(until: datetime) -> None:
        calls.append(until)
        if len(calls) == 1:
            raise StoreError("The database is read-only.")

    watch = ThrottleWatch(lambda: session.usage, session.clock, note, subject="import 7")
    with caplog.at_level(logging.WARNING, logger="salesbridge.sync.throttle_watch"):
        await watch.look()
    assert [r.getMessage() for r in caplog.records] == [
        "Could not record that Dynamics throttles import 7: The database is read-only."
    ]
    session.usage = RequestUsage(requests=4, throttled=2, paused_s=5.0)
    await watch.look()
    assert calls == [START + timedelta(seconds=30), START + timedelta(seconds=5)]


async def test_watch_looks_again_and_again_until_cancelled() -> None:
    session = Session()
    loop = asyncio.get_running_loop()
    noted: asyncio.Future[datetime] = loop.create_future()
    watch = ThrottleWatch(
        lambda: session.usage,
        session.clock,
        lambda until: loop.call_soon_threadsafe(noted.set_result, until),
        subject="import 1",
    )
    watching = asyncio.ensure_future(watch.watch(every_s=0))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not noted.done(), "looked, nothing to note yet"
    session.usage = RequestUsage(requests=1, throttled=1, paused_s=8.0)  # thrown once the watch is under way
    assert await asyncio.wait_for(noted, timeout=30) == START + timedelta(seconds=8)
    watching.cancel()
    await asyncio.gather(watching, return_exceptions=True)
    assert watching.cancelled()
