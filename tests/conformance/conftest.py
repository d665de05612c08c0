"""Fixtures of the conformance suite: a sandbox mounted in-process, and an authenticated client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.testclient import TestClient

from salesbridge.sandbox.assembly import Sandbox, build_sandbox

BASE_URL = "https://sandbox.test"
API = f"{BASE_URL}/api/data/v9.2/"


class WebApi:
    """A thin client of the in-process sandbox that sends Dataverse's standard headers."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
        }
        headers.update(extra or {})
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> Any:
        url = path if path.startswith("http") else API + path
        return self.client.request(method, url, json=json, content=content, headers=self.headers(headers))

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def create(self, entity_set: str, body: dict[str, Any]) -> str:
        response = self.post(entity_set, json=body)
        assert response.status_code == 204, response.text
        return str(response.headers["OData-EntityId"]).rsplit("(", 1)[1].rstrip(")")


def _token(sandbox: Sandbox) -> str:
    issued = sandbox.services.issuer.issue(
        sandbox.application.client_id, sandbox.application.client_secret, f"{BASE_URL}/.default"
    )
    return str(issued["access_token"])


@contextmanager
def open_api(sandbox: Sandbox) -> Iterator[WebApi]:
    """A client of ``sandbox`` signed in as its application user, for the modules' own fixtures."""
    with TestClient(sandbox.app, base_url=BASE_URL) as client:
        yield WebApi(client, _token(sandbox))


@pytest.fixture
def sandbox(sandbox_signing_key: rsa.RSAPrivateKey) -> Sandbox:
    """An empty organization (foundation records only)."""
    return build_sandbox(signing_key=sandbox_signing_key)


@pytest.fixture(scope="module")
def demo_sandbox(sandbox_signing_key: rsa.RSAPrivateKey) -> Sandbox:
    """The demo organization, shared by a module's read-only tests."""
    from salesbridge.sandbox.seeds.seeding import parse_seed

    return build_sandbox(seed=parse_seed("demo"), signing_key=sandbox_signing_key)


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[WebApi]:
    with TestClient(sandbox.app, base_url=BASE_URL) as client:
        yield WebApi(client, _token(sandbox))


@pytest.fixture(scope="module")
def demo_api(demo_sandbox: Sandbox) -> Iterator[WebApi]:
    with TestClient(demo_sandbox.app, base_url=BASE_URL) as client:
        yield WebApi(client, _token(demo_sandbox))
