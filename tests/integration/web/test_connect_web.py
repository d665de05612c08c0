"""Connect to CRM through ``POST /api/v1/orgs/{org}/crm/connection`` and the CRM Settings form, against a real
sandbox over TLS (SQLite and PostgreSQL): discovery, a failed re-connect that keeps the working connection, and the
refusals that keep an organization's administrator from probing the server."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.integration.services.conftest import RunningSandbox, _serve
from tests.integration.web.conftest import ACME_ADMIN, BASE_URL, Browser, Console, sign_in
from typer.testing import CliRunner

from salesbridge.cli import app as cli_app
from salesbridge.crm.dynamics.endpoints import DynamicsTargets, EndpointPolicy
from salesbridge.crm.dynamics.trust import CaBundleDirectory
from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.store.secrets import generate_key
from salesbridge.web.app import create_app


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    yield from _serve(build_sandbox(), tmp_path_factory.mktemp("tls"))


@pytest.fixture
def offered(tmp_path: Path, running: RunningSandbox) -> Path:
    folder = tmp_path / "bundles"
    folder.mkdir()
    (folder / "sandbox.pem").write_text(running.ca_bundle.read_text(encoding="ascii"), encoding="ascii")
    return folder


def _admin(console: Console, targets: DynamicsTargets) -> Iterator[Browser]:
    app = create_app(dataclasses.replace(console.services, crm_targets=targets), public_base_url=BASE_URL)
    with TestClient(app, base_url=BASE_URL) as client:
        yield Browser(client, sign_in(client, ACME_ADMIN))


@pytest.fixture
def admin(console: Console, offered: Path) -> Iterator[Browser]:
    """The administrator of ``acme`` on a console whose operator allows 127.0.0.1 and offers the sandbox's CA."""
    yield from _admin(console, DynamicsTargets(EndpointPolicy(["127.0.0.1"]), CaBundleDirectory(offered)))


@pytest.fixture
def strict_admin(console: Console) -> Iterator[Browser]:
    """The administrator of ``acme`` on a console with the default settings: Dynamics 365's hosts only."""
    yield from _admin(console, DynamicsTargets())


def _connect(admin: Browser, running: RunningSandbox, **fields: str) -> dict[str, object]:
    body = {"org_url": running.org_url, "client_id": running.client_id, "client_secret": running.client_secret}
    response = admin.client.post("/api/v1/orgs/acme/crm/connection", json=body | fields, headers=admin.csrf_headers())
    payload: dict[str, object] = response.json()
    payload["http_status"] = response.status_code
    return payload


def test_the_api_connects_with_only_the_url_the_application_and_an_offered_ca(
    admin: Browser, running: RunningSandbox
) -> None:
    assert admin.client.get("/api/v1/orgs/acme/crm/ca-bundles").json() == {"names": ["sandbox"]}

    connected = _connect(admin, running, ca_bundle_name="sandbox")

    assert connected["http_status"] == 200, connected
    assert connected["connected"] is True
    status = admin.client.get("/api/v1/orgs/acme/crm/connection").json()
    assert status["state"] == "connected"


def test_a_failed_reconnect_through_the_api_keeps_the_working_connection(
    admin: Browser, running: RunningSandbox
) -> None:
    pem = running.ca_bundle.read_text(encoding="ascii")
    assert _connect(admin, running, ca_bundle_pem=pem)["connected"] is True

    failed = _connect(admin, running, ca_bundle_pem=pem, client_secret="not-the-secret")

    assert failed["http_status"] == 422
    assert failed["outcome"] == "sign_in_rejected"
    assert failed["kept_connection"] is True
    assert "reason" not in failed, "the underlying error stays in the audit log"
    assert "AADSTS" not in str(failed)
    assert failed["message"] == (
        "The sign-in to Microsoft Entra ID was rejected: check the client secret (it is wrong: copy the secret's "
        "value, not its id)."
    )
    status = failed["status"]
    assert isinstance(status, dict)
    assert (status["state"], status["last_error"]) == ("connected", None)


def test_the_api_refuses_hosts_outside_dynamics_and_server_paths(
    strict_admin: Browser, running: RunningSandbox
) -> None:
    outside = _connect(strict_admin, running)
    path = _connect(strict_admin, running, ca_bundle_path="/root/.ssh/id_rsa")

    assert outside["http_status"] == 422
    assert str(outside["detail"]).startswith("The organization URL must be a Dynamics 365 address")
    assert path["http_status"] == 422, "a server path is no longer accepted at all"
    assert "ca_bundle_path" in str(path["detail"]), "refused as an unknown field, whatever the file"
    status = strict_admin.client.get("/api/v1/orgs/acme/crm/connection").json()
    assert status["state"] == "not_configured"


def test_the_form_answers_one_sentence_for_any_unusable_ca_bundle(
    admin: Browser, running: RunningSandbox, tmp_path: Path
) -> None:
    page = admin.client.get("/settings/crm")
    form = {
        "csrf_token": admin.csrf,
        "org_url": running.org_url,
        "client_id": running.client_id,
        "client_secret": running.client_secret,
    }
    answers = {
        name: admin.client.post("/settings/crm/connection", data=form | {"ca_bundle_name": name})
        for name in ("no-such-bundle", "../../../etc/passwd", str(tmp_path))
    }
    answers["not pem"] = admin.client.post("/settings/crm/connection", data=form | {"ca_bundle_pem": "hello"})

    assert page.status_code == 200
    assert 'data-testid="ca-bundle-name"' in page.text
    for answer in answers.values():
        assert answer.status_code == 422
        assert "The CA bundle cannot be used: choose one of the bundles offered" in answer.text
    assert len({answer.text.count("CA bundle") for answer in answers.values()}) == 1


def test_a_failed_attempt_gives_its_code_in_the_api_and_the_clis_json_alike(
    admin: Browser, running: RunningSandbox, migrated_url: str, tmp_path: Path
) -> None:
    failed = _connect(admin, running, ca_bundle_pem=running.ca_bundle.read_text(encoding="ascii"), client_secret="x")
    status = admin.client.get("/api/v1/orgs/acme/crm/connection").json()
    secret = tmp_path / "secret.txt"
    secret.write_text("x", encoding="utf-8")
    cli = CliRunner(
        env={
            "SALESBRIDGE_DATABASE_URL": migrated_url,
            "SALESBRIDGE_CREDENTIAL_KEY": generate_key().get_secret_value(),
            "SALESBRIDGE_CRM_ALLOWED_HOSTS": "127.0.0.1",
        }
    )
    connect = ["crm", "connect", "--org", "acme", "--url", running.org_url, "--client-id", running.client_id,
               "--client-secret-file", str(secret), "--ca-bundle", str(running.ca_bundle), "--json"]  # fmt: skip

    again = cli.invoke(cli_app, connect)

    assert failed.pop("http_status") == 422
    assert failed["outcome"] == "sign_in_rejected"
    assert (status["state"], status["last_error_code"]) == ("failed", "sign_in_rejected")
    assert status["last_error"].startswith("The sign-in to Microsoft Entra ID was rejected")  # the sentence stays
    assert failed["status"] == status
    assert again.exit_code == 1, again.output
    assert json.loads(again.stdout) == failed, "the CLI prints what the API answers"
