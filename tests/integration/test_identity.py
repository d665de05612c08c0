"""The sandbox's identity provider, TLS material and server runner, exercised by the real client libraries.

An app made of ``identity_routes`` and one protected route (``GET /api/data/v9.2/WhoAmI``) runs under uvicorn
over TLS with a throwaway CA; MSAL for Python and azure-identity obtain tokens from it unmodified (only told
not to do instance discovery and to trust the CA) and the protected route validates them. The app records
every request, so the tests also pin down exactly which URLs each client library asks for.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import ssl
import stat
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import msal
import pytest
import requests
import trustme
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CertificateCredential, ClientSecretCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from tests.conftest import ServeApp

from salesbridge.sandbox.errors import DataverseError
from salesbridge.sandbox.identity.endpoints import bearer_challenge, identity_routes
from salesbridge.sandbox.identity.tokens import CLIENT_ASSERTION_TYPE, InvalidTokenError, TokenIssuer, TokenRequestError
from salesbridge.sandbox.server.serving import RunningServer, serve_in_thread, write_state_file
from salesbridge.sandbox.server.tls import TlsMaterial, create_tls_material

TENANT = "5f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5"
CLIENT_ID = "0e4b1d6a-6f4b-4c57-9d1a-3c2e8b7a6f10"
SECRET = "Sb8Q~sandbox-secret-value-0123456789abcdef"
OBJECT_ID = "3d9c6a1e-2b7f-4c85-a0d4-6e1f9b2c7a53"
CERT_CLIENT_ID = "7c2e9f14-58a3-4b6d-9e01-b4a7c3d2e8f5"
CERT_OBJECT_ID = "a61f0c3b-9d24-4e7a-8b5c-12e3f4a5b6c7"
WHO_AM_I = "/api/data/v9.2/WhoAmI"


class ManualClock:
    """An injected clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class RecordingApp:
    """ASGI middleware remembering ``METHOD /path`` of every HTTP request."""

    app: ASGIApp
    requests: list[str] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.requests.append(f"{scope['method']} {scope['path']}")
        await self.app(scope, receive, send)


def protected_app(issuer: TokenIssuer) -> Starlette:
    """The identity endpoints plus a WhoAmI that answers with the verified claims, or 401 and the challenge."""

    async def who_am_i(request: Request) -> Response:
        base_url = f"{request.url.scheme}://{request.url.netloc}"
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer":
                raise InvalidTokenError("missing")
            claims = issuer.verify(token.strip(), audience=base_url)
        except DataverseError as error:
            return JSONResponse(
                error.body(),
                status_code=error.status,
                headers={"WWW-Authenticate": bearer_challenge(base_url, issuer.tenant_id)},
            )
        return JSONResponse(
            {
                "object_id": claims.object_id,
                "client_id": claims.client_id,
                "tenant_id": claims.tenant_id,
                "expires_at": claims.expires_at.isoformat(),
            }
        )

    return Starlette(routes=[*identity_routes(issuer), Route(WHO_AM_I, who_am_i, methods=["GET"])])


@dataclass
class Sandbox:
    issuer: TokenIssuer
    clock: ManualClock
    server: RunningServer
    tls: TlsMaterial
    recorder: RecordingApp

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def scope(self) -> str:
        return f"{self.base_url}/.default"

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{TENANT}"

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, verify=self.tls.client_context(), timeout=10)

    def who_am_i(self, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        with self.http() as client:
            return client.get(WHO_AM_I, headers=headers)

    def token_request(self, form: dict[str, str], **kwargs: Any) -> httpx.Response:
        with self.http() as client:
            return client.post(f"/{TENANT}/oauth2/v2.0/token", data=form, **kwargs)

    def msal_app(self, credential: str | dict[str, str] = SECRET, client_id: str = CLIENT_ID) -> Any:
        return msal.ConfidentialClientApplication(
            client_id,
            authority=self.authority,
            client_credential=credential,
            validate_authority=False,
            instance_discovery=False,
            verify=str(self.tls.ca_bundle),
            timeout=10,
        )


@pytest.fixture(autouse=True)
def no_global_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    """``requests`` lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's ``verify`` (which is how MSAL
    passes ``verify=``); clear them so each test decides what is trusted."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture
def sandbox(tls_material: TlsMaterial, serve_app: ServeApp) -> Sandbox:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    issuer = TokenIssuer(TENANT, clock=clock)
    issuer.register_client(CLIENT_ID, SECRET, OBJECT_ID)
    recorder = RecordingApp(protected_app(issuer))
    server = serve_app(recorder, tls=tls_material)
    return Sandbox(issuer, clock, server, tls_material, recorder)


@dataclass(frozen=True)
class ClientCertificate:
    key_pem: str
    cert_pem: str
    sha1_hex: str


def client_certificate() -> ClientCertificate:
    leaf = trustme.CA(key_type=trustme.KeyType.RSA).issue_cert("sandbox-client", key_type=trustme.KeyType.RSA)
    cert_pem = leaf.cert_chain_pems[0].bytes().decode()
    sha1 = x509.load_pem_x509_certificate(cert_pem.encode()).fingerprint(hashes.SHA1())
    return ClientCertificate(leaf.private_key_pem.bytes().decode(), cert_pem, sha1.hex())


# -- (a) MSAL -------------------------------------------------------------------------------------------------


def test_msal_gets_a_token_the_web_api_accepts(sandbox: Sandbox) -> None:
    app = sandbox.msal_app()

    result = app.acquire_token_for_client([sandbox.scope])

    assert result.get("error") is None, result
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] == 3600
    response = sandbox.who_am_i(result["access_token"])
    assert response.status_code == 200, response.text
    assert response.json() == {
        "object_id": OBJECT_ID,
        "client_id": CLIENT_ID,
        "tenant_id": TENANT,
        "expires_at": (sandbox.clock.now + timedelta(hours=1)).isoformat(),
    }
    assert sandbox.recorder.requests == [
        f"GET /{TENANT}/v2.0/.well-known/openid-configuration",
        f"POST /{TENANT}/oauth2/v2.0/token",
        f"GET {WHO_AM_I}",
    ]


def test_msal_trusts_the_ca_through_requests_ca_bundle_alone(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sandbox.tls.ca_bundle))
    app = msal.ConfidentialClientApplication(
        CLIENT_ID,
        authority=sandbox.authority,
        client_credential=SECRET,
        validate_authority=False,
        instance_discovery=False,
        timeout=10,
    )

    result = app.acquire_token_for_client([sandbox.scope])

    assert sandbox.who_am_i(result["access_token"]).status_code == 200


def test_a_requests_ca_bundle_elsewhere_overrides_msals_verify(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(create_tls_material(tmp_path / "other").ca_bundle))

    with pytest.raises(requests.exceptions.SSLError):
        sandbox.msal_app()


def test_msal_serves_a_second_request_from_its_cache(sandbox: Sandbox) -> None:
    app = sandbox.msal_app()

    first = app.acquire_token_for_client([sandbox.scope])
    second = app.acquire_token_for_client([sandbox.scope])

    assert first["access_token"] == second["access_token"]
    assert second["token_source"] == "cache"
    assert sandbox.recorder.requests.count(f"POST /{TENANT}/oauth2/v2.0/token") == 1


def test_the_token_carries_entra_claims(sandbox: Sandbox) -> None:
    token = sandbox.msal_app().acquire_token_for_client([sandbox.scope])["access_token"]

    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})

    assert header["alg"] == "RS256"
    assert header["kid"] == sandbox.issuer.key_id
    assert claims["aud"] == sandbox.base_url
    assert claims["iss"] == f"{sandbox.base_url}/{TENANT}/v2.0"
    assert claims["tid"] == TENANT
    assert claims["oid"] == OBJECT_ID
    assert claims["appid"] == claims["azp"] == CLIENT_ID
    assert claims["appidacr"] == claims["azpacr"] == "1"
    assert claims["iat"] == claims["nbf"] == int(sandbox.clock.now.timestamp())
    assert claims["exp"] == claims["iat"] + 3600
    assert uuid.UUID(claims["jti"])


def test_the_discovery_documents_point_at_the_sandbox_and_its_keys_verify_tokens(sandbox: Sandbox) -> None:
    with sandbox.http() as client:
        configuration = client.get(f"/{TENANT}/v2.0/.well-known/openid-configuration").json()
        keys = client.get(f"/{TENANT}/discovery/v2.0/keys").json()
    token = sandbox.issuer.issue(CLIENT_ID, SECRET, sandbox.scope)["access_token"]

    assert configuration["issuer"] == f"{sandbox.authority}/v2.0"
    assert configuration["token_endpoint"] == f"{sandbox.authority}/oauth2/v2.0/token"
    assert configuration["authorization_endpoint"] == f"{sandbox.authority}/oauth2/v2.0/authorize"
    assert configuration["jwks_uri"] == f"{sandbox.authority}/discovery/v2.0/keys"
    (key,) = keys["keys"]
    assert key["kid"] == sandbox.issuer.key_id
    claims = jwt.decode(
        token,
        jwt.PyJWK(key).key,
        algorithms=["RS256"],
        audience=sandbox.base_url,
        issuer=configuration["issuer"],
    )
    assert claims["oid"] == OBJECT_ID


def test_another_tenant_is_not_found(sandbox: Sandbox) -> None:
    other = str(uuid.uuid4())
    with sandbox.http() as client:
        discovery = client.get(f"/{other}/v2.0/.well-known/openid-configuration")
        token = client.post(
            f"/{other}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET},
        )

    assert discovery.status_code == 400
    assert discovery.json()["error"] == "invalid_tenant"
    assert discovery.json()["error_codes"] == [90002]
    assert token.status_code == 400
    assert token.json()["error_description"].startswith(f"AADSTS90002: Tenant '{other}' not found.")


def test_instance_discovery_answers_for_the_sandbox_host_only(sandbox: Sandbox) -> None:
    with sandbox.http() as client:
        known = client.get(
            "/common/discovery/instance",
            params={"api-version": "1.1", "authorization_endpoint": f"{sandbox.authority}/oauth2/v2.0/authorize"},
        )
        unknown = client.get(
            "/common/discovery/instance",
            params={
                "api-version": "1.1",
                "authorization_endpoint": f"https://example.invalid/{TENANT}/oauth2/authorize",
            },
        )

    assert known.status_code == 200
    assert known.json()["tenant_discovery_endpoint"] == f"{sandbox.authority}/v2.0/.well-known/openid-configuration"
    assert "127.0.0.1" in known.json()["metadata"][0]["aliases"]
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_instance"


# -- (b) azure-identity ---------------------------------------------------------------------------------------


def test_azure_identity_client_secret_credential_gets_a_token_the_web_api_accepts(sandbox: Sandbox) -> None:
    with ClientSecretCredential(
        TENANT,
        CLIENT_ID,
        SECRET,
        authority=f"127.0.0.1:{sandbox.server.port}",
        disable_instance_discovery=True,
        connection_verify=str(sandbox.tls.ca_bundle),
    ) as credential:
        token = credential.get_token(sandbox.scope)

    assert sandbox.who_am_i(token.token).status_code == 200
    assert token.expires_on == pytest.approx(datetime.now(UTC).timestamp() + 3600, abs=60)
    assert sandbox.recorder.requests == [
        f"GET /{TENANT}/v2.0/.well-known/openid-configuration",
        f"POST /{TENANT}/oauth2/v2.0/token",
        f"GET {WHO_AM_I}",
    ]


def test_azure_identity_reports_a_wrong_secret(sandbox: Sandbox) -> None:
    with (
        ClientSecretCredential(
            TENANT,
            CLIENT_ID,
            "not-the-secret",
            authority=f"127.0.0.1:{sandbox.server.port}",
            disable_instance_discovery=True,
            connection_verify=str(sandbox.tls.ca_bundle),
        ) as credential,
        pytest.raises(ClientAuthenticationError, match="AADSTS7000215"),
    ):
        credential.get_token(sandbox.scope)


# -- (c) credential errors, in Entra's shape ------------------------------------------------------------------


def test_a_wrong_secret_is_invalid_client_7000215(sandbox: Sandbox) -> None:
    result = sandbox.msal_app("not-the-secret").acquire_token_for_client([sandbox.scope])

    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith(
        "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client "
        "secret value, not the client secret ID"
    )
    assert "access_token" not in result


def test_an_unknown_client_is_unauthorized_client_700016(sandbox: Sandbox) -> None:
    stranger = str(uuid.uuid4())

    result = sandbox.msal_app(client_id=stranger).acquire_token_for_client([sandbox.scope])

    assert result["error"] == "unauthorized_client"
    assert result["error_codes"] == [700016]
    assert result["error_description"].startswith(
        f"AADSTS700016: Application with identifier '{stranger}' was not found in the directory '{TENANT}'."
    )


def test_error_bodies_have_entras_fields_and_statuses(sandbox: Sandbox) -> None:
    correlation = str(uuid.uuid4())

    response = sandbox.token_request(
        {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "x", "scope": sandbox.scope},
        headers={"client-request-id": correlation},
    )

    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id"}
    assert body["correlation_id"] == correlation
    assert body["timestamp"] == sandbox.clock.now.strftime("%Y-%m-%d %H:%M:%SZ")
    assert f"\r\nTrace ID: {body['trace_id']}\r\nCorrelation ID: {correlation}\r\n" in body["error_description"]
    assert response.headers["cache-control"].startswith("no-store")


@pytest.mark.parametrize(
    ("form", "status", "error", "code"),
    [
        ({"client_id": CLIENT_ID, "client_secret": SECRET, "scope": "<scope>"}, 400, "invalid_request", 900144),
        ({"grant_type": "password", "client_id": CLIENT_ID, "scope": "<scope>"}, 400, "unsupported_grant_type", 70003),
        (
            {"grant_type": "client_credentials", "client_secret": SECRET, "scope": "<scope>"},
            400,
            "invalid_request",
            900144,
        ),
        (
            {"grant_type": "client_credentials", "client_id": CLIENT_ID, "scope": "<scope>"},
            401,
            "invalid_client",
            7000218,
        ),
        (
            {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET},
            400,
            "invalid_scope",
            70011,
        ),
        (
            {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET, "scope": "user.read"},
            400,
            "invalid_scope",
            70011,
        ),
        (
            {
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": SECRET,
                "scope": "<scope> <other>",
            },
            400,
            "invalid_scope",
            70011,
        ),
    ],
    ids=["no-grant", "password-grant", "no-client", "no-credential", "no-scope", "not-default", "two-resources"],
)
def test_malformed_token_requests(sandbox: Sandbox, form: dict[str, str], status: int, error: str, code: int) -> None:
    other = "https://other.example/.default"
    if "scope" in form:
        form = {**form, "scope": form["scope"].replace("<other>", other).replace("<scope>", sandbox.scope)}

    response = sandbox.token_request(form)

    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.json()["error_codes"] == [code]
    assert response.json()["error_description"].startswith(f"AADSTS{code}: ")


def test_http_basic_client_authentication_works(sandbox: Sandbox) -> None:
    response = sandbox.token_request(
        {"grant_type": "client_credentials", "scope": sandbox.scope}, auth=(CLIENT_ID, SECRET)
    )

    assert response.status_code == 200, response.text
    assert sandbox.who_am_i(response.json()["access_token"]).status_code == 200


def test_a_double_slash_scope_names_the_same_resource(sandbox: Sandbox) -> None:
    token = sandbox.issuer.issue(CLIENT_ID, SECRET, f"{sandbox.base_url}//.default")["access_token"]

    assert sandbox.who_am_i(token).status_code == 200


def test_secrets_are_not_kept_in_clear(sandbox: Sandbox) -> None:
    assert SECRET not in repr(vars(sandbox.issuer))
    assert all(SECRET not in repr(vars(client)) for client in vars(sandbox.issuer)["_clients"].values())


# -- (d) the Web API refuses bad tokens with 401 and the challenge ---------------------------------------------


def assert_challenged(sandbox: Sandbox, response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        f"Bearer authorization_uri={sandbox.base_url}/{TENANT}/oauth2/authorize, resource_id={sandbox.base_url}/"
    )


def test_a_token_works_until_it_expires(sandbox: Sandbox) -> None:
    token = sandbox.msal_app().acquire_token_for_client([sandbox.scope])["access_token"]

    sandbox.clock.advance(timedelta(seconds=3599))
    assert sandbox.who_am_i(token).status_code == 200
    sandbox.clock.advance(timedelta(seconds=1))
    response = sandbox.who_am_i(token)

    assert_challenged(sandbox, response)
    assert response.json()["error"]["code"] == "0x80041d52"


def test_a_missing_or_garbled_token_is_challenged(sandbox: Sandbox) -> None:
    assert_challenged(sandbox, sandbox.who_am_i(None))
    garbled = sandbox.who_am_i("not-a-token")
    assert_challenged(sandbox, garbled)
    assert garbled.json()["error"]["code"] == "0x80044302"


def test_revoked_tokens_are_refused_and_new_ones_work(sandbox: Sandbox) -> None:
    old = sandbox.issuer.issue(CLIENT_ID, SECRET, sandbox.scope)["access_token"]

    sandbox.issuer.revoke_all()
    new = sandbox.issuer.issue(CLIENT_ID, SECRET, sandbox.scope)["access_token"]

    assert_challenged(sandbox, sandbox.who_am_i(old))
    assert sandbox.who_am_i(new).status_code == 200


def test_a_token_for_another_resource_is_refused(sandbox: Sandbox) -> None:
    foreign = sandbox.issuer.issue(CLIENT_ID, SECRET, "https://contoso.crm.dynamics.com/.default")["access_token"]
    other_name = sandbox.issuer.issue(CLIENT_ID, SECRET, f"https://localhost:{sandbox.server.port}/.default")[
        "access_token"
    ]

    assert_challenged(sandbox, sandbox.who_am_i(foreign))
    assert_challenged(sandbox, sandbox.who_am_i(other_name))
    with pytest.raises(InvalidTokenError) as raised:
        sandbox.issuer.verify(foreign, audience=sandbox.base_url)
    assert raised.value.reason == "audience"


def test_a_tampered_token_is_refused(sandbox: Sandbox) -> None:
    token = sandbox.issuer.issue(CLIENT_ID, SECRET, sandbox.scope)["access_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["oid"] = str(uuid.uuid4())
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    forged = f"{header}.{forged_payload}.{signature}"

    assert_challenged(sandbox, sandbox.who_am_i(forged))
    with pytest.raises(InvalidTokenError) as raised:
        sandbox.issuer.verify(forged, audience=sandbox.base_url)
    assert raised.value.reason == "signature"


def test_a_token_signed_by_another_key_is_refused(sandbox: Sandbox) -> None:
    impostor = TokenIssuer(TENANT, clock=sandbox.clock)
    impostor.register_client(CLIENT_ID, SECRET, OBJECT_ID)
    token = impostor.issue(CLIENT_ID, SECRET, sandbox.scope)["access_token"]

    assert_challenged(sandbox, sandbox.who_am_i(token))


def test_an_unsigned_token_is_refused(sandbox: Sandbox) -> None:
    genuine = jwt.decode(
        sandbox.issuer.issue(CLIENT_ID, SECRET, sandbox.scope)["access_token"], options={"verify_signature": False}
    )
    unsigned = jwt.encode(genuine, key=None, algorithm="none", headers={"kid": sandbox.issuer.key_id})

    assert_challenged(sandbox, sandbox.who_am_i(unsigned))


def test_verify_rejects_a_token_from_before_its_issue_time(sandbox: Sandbox) -> None:
    token = sandbox.issuer.issue(CLIENT_ID, SECRET, sandbox.scope)["access_token"]
    sandbox.clock.advance(timedelta(seconds=-30))

    with pytest.raises(InvalidTokenError) as raised:
        sandbox.issuer.verify(token, audience=sandbox.base_url)
    assert raised.value.reason == "not_yet_valid"
    assert raised.value.status == 401


# -- certificate credentials (RFC 7523 client assertions) -----------------------------------------------------


@pytest.fixture
def certificate(sandbox: Sandbox) -> ClientCertificate:
    registered = client_certificate()
    sandbox.issuer.register_client_certificate(CERT_CLIENT_ID, registered.cert_pem, CERT_OBJECT_ID)
    return registered


def test_msal_certificate_credential_with_sha256_thumbprint(sandbox: Sandbox, certificate: ClientCertificate) -> None:
    app = sandbox.msal_app(
        {"private_key": certificate.key_pem, "public_certificate": certificate.cert_pem}, client_id=CERT_CLIENT_ID
    )

    result = app.acquire_token_for_client([sandbox.scope])

    assert result.get("error") is None, result
    response = sandbox.who_am_i(result["access_token"])
    assert response.status_code == 200
    assert response.json()["object_id"] == CERT_OBJECT_ID
    assert jwt.decode(result["access_token"], options={"verify_signature": False})["appidacr"] == "2"


def test_msal_certificate_credential_with_sha1_thumbprint(sandbox: Sandbox, certificate: ClientCertificate) -> None:
    app = sandbox.msal_app(
        {"private_key": certificate.key_pem, "thumbprint": certificate.sha1_hex}, client_id=CERT_CLIENT_ID
    )

    result = app.acquire_token_for_client([sandbox.scope])

    assert result.get("error") is None, result
    assert sandbox.who_am_i(result["access_token"]).status_code == 200


def test_azure_identity_certificate_credential(sandbox: Sandbox, certificate: ClientCertificate) -> None:
    with CertificateCredential(
        TENANT,
        CERT_CLIENT_ID,
        certificate_data=(certificate.key_pem + certificate.cert_pem).encode(),
        authority=f"127.0.0.1:{sandbox.server.port}",
        disable_instance_discovery=True,
        connection_verify=str(sandbox.tls.ca_bundle),
    ) as credential:
        token = credential.get_token(sandbox.scope)

    assert sandbox.who_am_i(token.token).status_code == 200


def test_an_unregistered_certificate_is_700027(sandbox: Sandbox, certificate: ClientCertificate) -> None:
    stranger = client_certificate()
    app = sandbox.msal_app(
        {"private_key": stranger.key_pem, "public_certificate": stranger.cert_pem}, client_id=CERT_CLIENT_ID
    )

    result = app.acquire_token_for_client([sandbox.scope])

    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [700027]
    assert "The key was not found." in result["error_description"]


def test_client_assertion_claims_are_checked(sandbox: Sandbox, certificate: ClientCertificate) -> None:
    endpoint = f"{sandbox.authority}/oauth2/v2.0/token"
    now = int(sandbox.clock.now.timestamp())
    headers = {"x5t": base64.urlsafe_b64encode(bytes.fromhex(certificate.sha1_hex)).decode().rstrip("=")}

    def attempt(**overrides: Any) -> TokenRequestError:
        claims = {"aud": endpoint, "iss": CERT_CLIENT_ID, "sub": CERT_CLIENT_ID, "exp": now + 600, "jti": "1"}
        claims.update(overrides)
        assertion = jwt.encode(claims, certificate.key_pem, algorithm="RS256", headers=headers)
        with pytest.raises(TokenRequestError) as raised:
            sandbox.issuer.token_request(
                {
                    "grant_type": "client_credentials",
                    "client_id": CERT_CLIENT_ID,
                    "client_assertion_type": CLIENT_ASSERTION_TYPE,
                    "client_assertion": assertion,
                    "scope": sandbox.scope,
                },
                token_endpoint=endpoint,
                authority=sandbox.base_url,
            )
        return raised.value

    assert attempt(iss=CLIENT_ID).code == 700021
    assert attempt(aud="https://login.microsoftonline.com/common/oauth2/v2.0/token").code == 700023
    assert attempt(exp=now - 3600).code == 700024
    assert attempt(nbf=now + 3600).code == 700024
    assert {attempt(exp=now - 3600).status, attempt(exp=now - 3600).error} == {401, "invalid_client"}


# -- TLS material, the server runner, the state file ----------------------------------------------------------


def test_tls_material_files_and_modes(tmp_path: Path) -> None:
    material = create_tls_material(tmp_path / "state")

    assert {path.name for path in (tmp_path / "state").iterdir()} == {"ca.pem", "server.pem", "server.key"}
    assert stat.S_IMODE(material.private_key.stat().st_mode) == 0o600
    assert material.ca_bundle.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in material.ca_bundle.read_text() + material.cert_chain.read_text()
    assert material.hosts == ("127.0.0.1", "localhost")


def test_every_start_makes_a_new_ca(tmp_path: Path) -> None:
    first = create_tls_material(tmp_path).ca_bundle.read_bytes()
    second = create_tls_material(tmp_path).ca_bundle.read_bytes()

    assert first != second


def test_the_server_is_trusted_under_both_names_and_only_through_the_ca(sandbox: Sandbox, tmp_path: Path) -> None:
    with httpx.Client(verify=sandbox.tls.client_context()) as client:
        by_name = client.get(f"https://localhost:{sandbox.server.port}/{TENANT}/discovery/v2.0/keys")
    other_ca = create_tls_material(tmp_path / "other")

    assert by_name.status_code == 200
    with httpx.Client(verify=other_ca.client_context()) as client, pytest.raises(httpx.ConnectError):
        client.get(f"{sandbox.base_url}/{TENANT}/discovery/v2.0/keys")


def test_serve_in_thread_picks_a_port_and_stops_cleanly() -> None:
    async def hello(request: Request) -> Response:
        return JSONResponse({"hello": "world"})

    app = Starlette(routes=[Route("/", hello)])
    with serve_in_thread(app) as server:
        assert server.port > 0
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        with httpx.Client() as client:
            assert client.get(server.base_url).json() == {"hello": "world"}
        with pytest.raises(OSError, match="in use"):
            serve_in_thread(app, port=server.port)
    assert not server.running
    with httpx.Client() as client, pytest.raises(httpx.ConnectError):
        client.get(server.base_url)


def test_write_state_file_is_private_and_complete(tmp_path: Path) -> None:
    info = {"base_url": "https://127.0.0.1:1", "client_secret": SECRET}

    first = write_state_file(tmp_path / "state", info)
    again = write_state_file(tmp_path / "state", {**info, "base_url": "https://127.0.0.1:2"})

    assert first == again == tmp_path / "state" / "sandbox.json"
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert json.loads(first.read_text())["base_url"] == "https://127.0.0.1:2"
    assert [path.name for path in first.parent.iterdir()] == ["sandbox.json"]


SERVE_FOREVER_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from salesbridge.sandbox.server.serving import serve_forever
    from salesbridge.sandbox.server.tls import create_tls_material

    async def ping(request):
        return PlainTextResponse("pong")

    def ready(base_url):
        print(base_url, flush=True)

    serve_forever(
        Starlette(routes=[Route("/ping", ping)]),
        host="127.0.0.1",
        port=0,
        tls=create_tls_material(Path(sys.argv[1])),
        on_ready=ready,
    )
    print("stopped", flush=True)
    """
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_forever_reports_its_url_and_stops_on_a_signal(tmp_path: Path, signum: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE_FOREVER_SCRIPT, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("https://127.0.0.1:")
        with httpx.Client(verify=ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))) as client:
            assert client.get(f"{base_url}/ping").text == "pong"
        process.send_signal(signum)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert out.strip() == "stopped"


def test_the_serve_app_fixture_serves_https_on_a_free_port(serve_app: ServeApp, tls_material: TlsMaterial) -> None:
    server = serve_app(Starlette(), tls=tls_material)

    assert server.base_url == f"https://127.0.0.1:{server.port}"
    assert server.running


@pytest.fixture
def stopped_server() -> Iterator[RunningServer]:
    server = serve_in_thread(Starlette())
    server.stop()
    yield server
    server.stop()


def test_stop_is_idempotent(stopped_server: RunningServer) -> None:
    stopped_server.stop()

    assert not stopped_server.running
