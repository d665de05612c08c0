"""DynamicsClient against a scripted Dataverse on a real port: headers, retries and waits, token refresh,
concurrency, timeouts, counters, and what reaches error messages and logs."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
from fake_dataverse import API, FakeDataverse, FakeTime, FakeTokens, answer, fail

from salesbridge.crm.dynamics.client import DynamicsClient, Timeouts
from salesbridge.crm.dynamics.throttling import RetryPolicy
from salesbridge.errors import (
    AuthError,
    DuplicateRecordError,
    NotFoundError,
    RateLimitedError,
    RequestRejectedError,
    TokenRejectedError,
    UnexpectedResponseError,
    UpstreamUnavailableError,
)

ACCOUNT_ID = "7eb682f1-ca75-e511-80d4-00155d2a68d1"
WHO = {"UserId": "u", "BusinessUnitId": "b", "OrganizationId": "o"}
THROTTLED = ("0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds.")


def client_for(dataverse: FakeDataverse, fake_time: FakeTime, **options: object) -> DynamicsClient:
    return DynamicsClient(
        dataverse.base_url,
        FakeTokens(),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        **options,  # type: ignore[arg-type]
    )


async def test_get_sends_dataverse_default_headers(client: DynamicsClient, dataverse: FakeDataverse) -> None:
    dataverse.on("GET", "WhoAmI", answer(200, WHO))

    assert await client.get_json("WhoAmI") == WHO

    headers = dataverse.requests[0].headers
    assert headers["Accept"] == "application/json"
    assert headers["OData-MaxVersion"] == "4.0"
    assert headers["OData-Version"] == "4.0"
    assert headers["If-None-Match"] == "null"
    assert headers["Authorization"] == "Bearer token-1"
    assert "Content-Type" not in headers


async def test_post_sends_orjson_body_without_the_get_only_header(
    client: DynamicsClient, dataverse: FakeDataverse
) -> None:
    dataverse.on(
        "POST", "accounts", answer(204, headers={"OData-EntityId": f"{dataverse.api_url}accounts({ACCOUNT_ID})"})
    )

    created = await client.create("accounts", {"name": "Contoso"}, primary_id_column="accountid", record_id=ACCOUNT_ID)

    request = dataverse.requests[0]
    assert created == ACCOUNT_ID
    assert request.json() == {"name": "Contoso", "accountid": ACCOUNT_ID}
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "If-None-Match" not in request.headers


async def test_a_429_waits_exactly_retry_after_then_succeeds(
    client: DynamicsClient, dataverse: FakeDataverse, fake_time: FakeTime
) -> None:
    dataverse.on("GET", "WhoAmI", fail(429, *THROTTLED, headers={"Retry-After": "7"}), answer(200, WHO))

    await client.get_json("WhoAmI")

    assert fake_time.sleeps == [7.0]
    counters = client.counters
    assert (counters.requests, counters.retries, counters.throttles, counters.failures) == (2, 1, 1, 0)
    assert counters.waited_s == 7.0


async def test_a_throttle_holds_back_the_next_requests_of_the_client(
    dataverse: FakeDataverse, fake_time: FakeTime
) -> None:
    dataverse.on("GET", "WhoAmI", fail(429, *THROTTLED, headers={"Retry-After": "5"}))
    dataverse.on("GET", "accounts", answer(200, {"value": []}))

    async with client_for(dataverse, fake_time, retry_policy=RetryPolicy(max_attempts=1)) as dynamics:
        with pytest.raises(RateLimitedError):
            await dynamics.get_json("WhoAmI")
        await dynamics.get_json("accounts")

    # Dataverse throttles the user, so the next request waits out the Retry-After before it is sent.
    assert fake_time.sleeps == [5.0]


async def test_5xx_backs_off_exponentially_with_full_jitter(
    client: DynamicsClient, dataverse: FakeDataverse, fake_time: FakeTime
) -> None:
    unavailable = fail(503, "0x80040216", "The service is temporarily unavailable.")
    dataverse.on("GET", "WhoAmI", unavailable, unavailable, unavailable, answer(200, WHO))

    await client.get_json("WhoAmI")

    # random_fraction is 0.5: half of 1, 2, 4 seconds.
    assert fake_time.sleeps == [0.5, 1.0, 2.0]
    assert client.counters.retries == 3


async def test_gives_up_after_the_last_attempt_with_status_code_and_request_id(
    client: DynamicsClient, dataverse: FakeDataverse, fake_time: FakeTime
) -> None:
    dataverse.on("GET", "WhoAmI", fail(503, "0x80040216", "The service is temporarily unavailable."))

    with pytest.raises(UpstreamUnavailableError) as raised:
        await client.get_json("WhoAmI")

    assert (raised.value.status, raised.value.code, raised.value.request_id) == (503, "0x80040216", "req-503")
    assert len(dataverse.requests) == 4
    assert len(fake_time.sleeps) == 3
    assert client.counters.failures == 1


async def test_a_retry_after_beyond_the_wait_budget_surfaces_at_once(
    dataverse: FakeDataverse, fake_time: FakeTime
) -> None:
    dataverse.on("GET", "WhoAmI", fail(429, *THROTTLED, headers={"Retry-After": "600"}))

    async with client_for(dataverse, fake_time, retry_policy=RetryPolicy(max_total_wait_s=300)) as dynamics:
        with pytest.raises(RateLimitedError) as raised:
            await dynamics.get_json("WhoAmI")

    assert raised.value.retry_after_s == 600
    assert fake_time.sleeps == []


async def test_a_create_without_its_id_is_retried_after_a_throttle_but_not_after_a_5xx(
    client: DynamicsClient, dataverse: FakeDataverse, fake_time: FakeTime
) -> None:
    dataverse.on(
        "POST",
        "Microsoft.Dynamics.CRM.SomeAction",
        fail(429, *THROTTLED, headers={"Retry-After": "1"}),
        fail(502, "", "Bad gateway"),
        answer(200, {}),
    )

    with pytest.raises(UpstreamUnavailableError):
        await client.post_json("Microsoft.Dynamics.CRM.SomeAction", {}, is_idempotent=False)

    assert len(dataverse.requests) == 2
    assert fake_time.sleeps == [1.0]


async def test_a_401_refreshes_the_token_once_and_succeeds(
    client: DynamicsClient, dataverse: FakeDataverse, tokens: FakeTokens, fake_time: FakeTime
) -> None:
    dataverse.on("GET", "WhoAmI", fail(401, "0x80044302", "Request is not authenticated."), answer(200, WHO))

    await client.get_json("WhoAmI")

    assert [r.headers["Authorization"] for r in dataverse.requests] == ["Bearer token-1", "Bearer token-2"]
    assert tokens.calls == [False, True]
    assert fake_time.sleeps == []
    assert client.counters.token_refreshes == 1


async def test_a_second_401_with_a_fresh_token_is_an_auth_error(
    client: DynamicsClient, dataverse: FakeDataverse
) -> None:
    dataverse.on("GET", "WhoAmI", fail(401, "0x80044302", "Request is not authenticated."))

    with pytest.raises(TokenRejectedError) as raised:
        await client.get_json("WhoAmI")

    assert isinstance(raised.value, AuthError)
    assert len(dataverse.requests) == 2


async def test_a_403_keeps_the_dataverse_code_and_message(client: DynamicsClient, dataverse: FakeDataverse) -> None:
    message = "Principal user (Id=u, type=8) is missing prvReadAccount privilege (Id=p) on OTC=1 for entity 'account'."
    dataverse.on("GET", "accounts", fail(403, "0x80040220", message))

    with pytest.raises(AuthError) as raised:
        await client.get_json("accounts")

    assert raised.value.code == "0x80040220"
    assert "prvReadAccount" in raised.value.message
    assert len(dataverse.requests) == 1


async def test_the_dop_hint_sets_the_concurrency_cap_never_above_52(
    client: DynamicsClient, dataverse: FakeDataverse
) -> None:
    dataverse.on(
        "GET",
        "WhoAmI",
        answer(200, WHO, headers={"x-ms-dop-hint": "12"}),
        answer(200, WHO, headers={"x-ms-dop-hint": "500"}),
    )

    await client.get_json("WhoAmI")
    assert client.concurrency_limit == 12
    await client.get_json("WhoAmI")
    assert client.concurrency_limit == 52


async def test_requests_in_flight_never_exceed_the_cap(dataverse: FakeDataverse, fake_time: FakeTime) -> None:
    dataverse.on("GET", "WhoAmI", answer(200, WHO, delay_s=0.05))

    async with client_for(dataverse, fake_time, initial_concurrency=3) as dynamics:
        await asyncio.gather(*(dynamics.get_json("WhoAmI") for _ in range(12)))

    assert dataverse.max_in_flight == 3


async def test_a_timeout_becomes_upstream_unavailable(dataverse: FakeDataverse, fake_time: FakeTime) -> None:
    dataverse.on("GET", "WhoAmI", answer(200, WHO, delay_s=2))

    async with client_for(
        dataverse,
        fake_time,
        timeouts=Timeouts(read_s=0.2),
        retry_policy=RetryPolicy(max_attempts=2, random_fraction=lambda: 0.0),
    ) as dynamics:
        with pytest.raises(UpstreamUnavailableError) as raised:
            await dynamics.get_json("WhoAmI")

    assert "TimeoutError" in raised.value.message
    assert len(dataverse.requests) == 2


async def test_a_refused_connection_becomes_upstream_unavailable(fake_time: FakeTime) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free, and nothing listens on it once the socket closes

    async with DynamicsClient(
        f"http://127.0.0.1:{port}", FakeTokens(), retry_policy=RetryPolicy(max_attempts=1), sleep=fake_time.sleep
    ) as dynamics:
        with pytest.raises(UpstreamUnavailableError) as raised:
            await dynamics.get_json("WhoAmI")

    assert "ClientConnectorError" in raised.value.message


async def test_update_is_update_only_and_conditional_writes_send_their_headers(
    client: DynamicsClient, dataverse: FakeDataverse
) -> None:
    path = f"accounts({ACCOUNT_ID})"
    dataverse.on(
        "PATCH",
        path,
        answer(204),
        fail(412, "0x80040237", "A record with matching key values already exists."),
        answer(201, {"accountid": ACCOUNT_ID}),
        fail(404, "0x80040217", f"Entity 'account' With Id = {ACCOUNT_ID} Does Not Exist"),
    )

    await client.update("accounts", ACCOUNT_ID, {"name": "A"})
    assert await client.create_if_absent("accounts", ACCOUNT_ID, {"name": "A"}) is False
    assert await client.upsert("accounts", ACCOUNT_ID, {"name": "A"}, primary_id_column="accountid") is True
    with pytest.raises(NotFoundError):
        await client.update("accounts", ACCOUNT_ID, {"name": "A"}, if_match='W/"12"')

    update, create_only, upsert, conditional = dataverse.requests
    assert update.headers["If-Match"] == "*"
    assert create_only.headers["If-None-Match"] == "*"
    assert "If-Match" not in upsert.headers
    assert "If-None-Match" not in upsert.headers
    assert upsert.headers["Prefer"] == "return=representation"
    assert upsert.path_qs.endswith("?$select=accountid")
    assert conditional.headers["If-Match"] == 'W/"12"'


async def test_a_duplicate_create_is_a_duplicate_record_error(client: DynamicsClient, dataverse: FakeDataverse) -> None:
    dataverse.on("POST", "accounts", fail(412, "0x80040237", "A record with matching key values already exists."))

    with pytest.raises(DuplicateRecordError):
        await client.create("accounts", {}, primary_id_column="accountid", record_id=ACCOUNT_ID)


async def test_links_outside_the_organization_are_refused(client: DynamicsClient, dataverse: FakeDataverse) -> None:
    with pytest.raises(UnexpectedResponseError):
        await client.get_json("https://evil.example/api/data/v9.2/contacts?$skiptoken=1")

    assert dataverse.requests == []


async def test_query_values_are_percent_encoded(client: DynamicsClient, dataverse: FakeDataverse) -> None:
    dataverse.on("GET", "contacts", answer(200, {"value": []}))

    await client.get_json("contacts", params={"$select": "fullname", "$filter": "lastname eq 'O''Brian & Co+'"})

    assert dataverse.requests[0].path_qs == (
        f"{API}contacts?$select=fullname&$filter=lastname%20eq%20'O''Brian%20%26%20Co%2B'"
    )


async def test_no_token_secret_or_filter_value_reaches_errors_or_logs(
    dataverse: FakeDataverse, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQifQ.c2lnbmF0dXJl"
    echoed = f"Invalid header Authorization: Bearer {token}; client_secret=hunter2"
    dataverse.on("GET", "contacts", fail(503, "", echoed), fail(400, "0x80060888", echoed))
    caplog.set_level(logging.DEBUG)

    async with DynamicsClient(
        dataverse.base_url,
        FakeTokens(prefix=token),
        retry_policy=RetryPolicy(random_fraction=lambda: 0.0),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    ) as dynamics:
        with pytest.raises(RequestRejectedError) as raised:
            await dynamics.get_json("contacts", params={"$filter": "emailaddress1 eq 'jane@example.com'"})

    # The fake server's own access log (aiohttp.access) is the far side of the wire, not salesbridge.
    logged = "\n".join(record.getMessage() for record in caplog.records if record.name != "aiohttp.access")
    for text in (str(raised.value), repr(raised.value), logged):
        assert token not in text
        assert "hunter2" not in text
        assert "jane@example.com" not in text
    assert "$filter=***" in logged
