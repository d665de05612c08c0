"""The fast service tests' shared fixtures: a still clock and an empty in-memory store on it."""

from __future__ import annotations

import pytest
from tests.fakes.store import FakeClock, FakeStore


@pytest.fixture
def clock() -> FakeClock:
    """A clock that stands still until a test moves it."""
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> FakeStore:
    """An empty in-memory store, stamping with :func:`clock`."""
    return FakeStore(clock=clock)
