"""Fixtures of the connector's integration tests: the scripted Dataverse on a real 127.0.0.1 port, the fake
clock and sleep, numbered tokens, and a client wired to all three."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from fake_dataverse import FakeDataverse, FakeTime, FakeTokens

from salesbridge.crm.dynamics.client import DynamicsClient
from salesbridge.crm.dynamics.throttling import RetryPolicy


@pytest.fixture
async def dataverse() -> AsyncIterator[FakeDataverse]:
    fake = FakeDataverse()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    fake.base_url = str(server.make_url("")).rstrip("/")
    yield fake
    await server.close()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def tokens() -> FakeTokens:
    return FakeTokens()


@pytest.fixture
async def client(dataverse: FakeDataverse, tokens: FakeTokens, fake_time: FakeTime) -> AsyncIterator[DynamicsClient]:
    async with DynamicsClient(
        dataverse.base_url,
        tokens,
        retry_policy=RetryPolicy(max_attempts=4, random_fraction=lambda: 0.5),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    ) as dynamics:
        yield dynamics
