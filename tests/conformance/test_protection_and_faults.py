"""Service protection limits (api-limits.md) and the sandbox's fault injection."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from tests.conformance.conftest import BASE_URL, WebApi, _token

from salesbridge.sandbox.assembly import Sandbox, build_sandbox
from salesbridge.sandbox.server.faults import FaultConfig
from salesbridge.sandbox.server.protection import ProtectionLimits, ServiceProtection


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def limited(clock: ManualClock) -> Iterator[tuple[WebApi, Sandbox]]:
    sandbox = build_sandbox()
    sandbox.services.protection = ServiceProtection(ProtectionLimits(requests_per_window=3, window_s=300), clock=clock)
    from salesbridge.sandbox.server.app import create_app

    app = create_app(sandbox.services)
    with TestClient(app, base_url=BASE_URL) as client:
        yield WebApi(client, _token(sandbox)), sandbox


def test_too_many_requests_answers_429_with_retry_after(limited: tuple[WebApi, Sandbox], clock: ManualClock) -> None:
    api, _ = limited
    for _ in range(3):
        assert api.get("WhoAmI").status_code == 200
    response = api.get("WhoAmI")
    assert response.status_code == 429
    assert response.json()["error"] == {
        "code": "0x80072322",
        "message": "Number of requests exceeded the limit of 3 over time window of 300 seconds.",
    }
    assert int(response.headers["Retry-After"]) == 300
    clock.now += 301
    assert api.get("WhoAmI").status_code == 200


def test_execution_time_and_concurrency_limits_use_their_own_codes(clock: ManualClock) -> None:
    protection = ServiceProtection(ProtectionLimits(execution_ms_per_window=100, max_concurrent=1), clock=clock)
    protection.admit("user")
    with pytest.raises(Exception) as concurrent:
        protection.admit("user")
    assert getattr(concurrent.value, "code", None) == "0x80072326"
    protection.release("user", 150)
    with pytest.raises(Exception) as slow:
        protection.admit("user")
    assert getattr(slow.value, "code", None) == "0x80072321"
    assert getattr(slow.value, "status", None) == 429


def test_burst_remaining_header(limited: tuple[WebApi, Sandbox]) -> None:
    api, _ = limited
    assert api.get("WhoAmI").headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "2"


@pytest.fixture
def admin(api: WebApi, sandbox: Sandbox) -> dict[str, str]:
    return {"X-Sandbox-Admin-Token": sandbox.services.admin_token}


def test_faults_are_configured_through_the_admin_endpoint(api: WebApi, admin: dict[str, str]) -> None:
    assert api.client.put(f"{BASE_URL}/_sandbox/faults", json={"throttle_rate": 1.0}, headers=admin).status_code == 200
    response = api.get("WhoAmI")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    api.client.put(f"{BASE_URL}/_sandbox/faults", json={"throttle_rate": 0.0, "unavailable_rate": 1.0}, headers=admin)
    assert api.get("WhoAmI").status_code == 503


def test_the_admin_endpoint_needs_its_token(api: WebApi) -> None:
    assert api.client.put(f"{BASE_URL}/_sandbox/faults", json={"throttle_rate": 1.0}).status_code == 403
    assert api.get("WhoAmI").status_code == 200


def test_bad_fault_settings_are_refused_and_change_nothing(api: WebApi, admin: dict[str, str]) -> None:
    response = api.client.put(f"{BASE_URL}/_sandbox/faults", json={"throttle_rate": 2}, headers=admin)
    assert response.status_code == 400
    assert api.client.get(f"{BASE_URL}/_sandbox/faults", headers=admin).json()["throttle_rate"] == 0.0


def test_faults_are_deterministic_for_a_seed(sandbox: Sandbox) -> None:
    def draws() -> list[bool]:
        sandbox.services.faults.configure(FaultConfig(seed=42, throttle_rate=0.5))
        return [sandbox.services.faults.decide().throttle for _ in range(50)]

    first = draws()
    assert first == draws()
    assert 10 < sum(first) < 40


def test_token_revocation(api: WebApi, admin: dict[str, str]) -> None:
    assert api.get("WhoAmI").status_code == 200
    assert api.client.post(f"{BASE_URL}/_sandbox/revoke-tokens", headers=admin).status_code == 200
    assert api.get("WhoAmI").status_code == 401


def test_clock_shift_expires_delta_tokens(api: WebApi, admin: dict[str, str]) -> None:
    api.create("accounts", {"name": "x"})
    link = api.get("accounts?$select=name", headers={"Prefer": "odata.track-changes"}).json()["@odata.deltaLink"]
    api.client.post(f"{BASE_URL}/_sandbox/shift-clock", json={"days": 30}, headers=admin)
    response = api.get(link, headers={"Prefer": "odata.track-changes"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x80044352"
