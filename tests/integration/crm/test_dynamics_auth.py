"""MsalTokenProvider against a small Entra-compatible authority served over TLS on 127.0.0.1.

The authority answers OpenID discovery and the client-credentials token endpoint the way Microsoft Entra
does, including its AADSTS errors; MSAL itself, ``requests`` and TLS with a private CA run for real.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import jwt
import pytest
import trustme
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography import x509
from pydantic import SecretStr

from salesbridge.crm.dynamics.auth import CertificateCredential, ClientCredentials, MsalTokenProvider
from salesbridge.crm.dynamics.trust import CaCertificates
from salesbridge.errors import AuthError, ConfigError, TlsVerificationError, TokenRefreshError

TENANT = "5f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5"
CLIENT_ID = "0e4b1d6a-6f4b-4c57-9d1a-3c2e8b7a6f10"
SECRET = "s3cr3t~value-that-must-never-leak"
SCOPE = "https://org.crm.dynamics.com/.default"


@dataclass
class FakeEntra:
    """Discovery and token endpoints of one tenant; counts token requests."""

    base_url: str = ""
    expires_in: int = 3600
    token_requests: int = 0
    unavailable: bool = False
    client_certificate: x509.Certificate | None = None
    assertions: list[dict[str, object]] = field(default_factory=list)

    async def discovery(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        if tenant != TENANT:
            return web.json_response(
                {
                    "error": "invalid_tenant",
                    "error_description": f"AADSTS90002: Tenant '{tenant}' not found. Trace ID: 1 Correlation ID: 2",
                    "error_codes": [90002],
                },
                status=400,
            )
        return web.json_response(
            {
                "issuer": f"{self.base_url}/{TENANT}/v2.0",
                "authorization_endpoint": f"{self.base_url}/{TENANT}/oauth2/v2.0/authorize",
                "token_endpoint": f"{self.base_url}/{TENANT}/oauth2/v2.0/token",
            }
        )

    async def token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = await request.post()
        if self.unavailable:
            return web.json_response(
                {"error": "temporarily_unavailable", "error_description": "AADSTS50196: try later."}, status=503
            )
        if form.get("client_id") != CLIENT_ID:
            return _aadsts(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the directory.",
            )
        if "client_assertion" in form:
            assert self.client_certificate is not None
            claims = jwt.decode(
                str(form["client_assertion"]),
                self.client_certificate.public_key(),  # type: ignore[arg-type]
                algorithms=["RS256", "PS256"],
                audience=f"{self.base_url}/{TENANT}/oauth2/v2.0/token",
            )
            self.assertions.append(claims)
        elif form.get("client_secret") != SECRET:
            return _aadsts(401, "invalid_client", 7000215, "Invalid client secret provided.")
        return web.json_response(
            {"token_type": "Bearer", "expires_in": self.expires_in, "access_token": f"at-{self.token_requests}"}
        )


def _aadsts(status: int, error: str, number: int, text: str) -> web.Response:
    return web.json_response(
        {
            "error": error,
            "error_description": f"AADSTS{number}: {text} Trace ID: abc Correlation ID: def Timestamp: 2026-01-01",
            "error_codes": [number],
        },
        status=status,
    )


@dataclass
class Authority:
    entra: FakeEntra
    ca_bundle: Path
    ca: trustme.CA


@pytest.fixture
async def authority(tmp_path: Path) -> AsyncIterator[Authority]:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_bundle))
    entra = FakeEntra()
    app = web.Application()
    app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", entra.discovery)
    app.router.add_post("/{tenant}/oauth2/v2.0/token", entra.token)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(ssl=server_context)
    entra.base_url = str(server.make_url("")).rstrip("/")
    yield Authority(entra, ca_bundle, ca)
    await server.close()


class ProviderFactory(Protocol):
    def __call__(
        self,
        *,
        tenant: str = ...,
        client_id: str = ...,
        secret: str = ...,
        ca_bundle: Path | CaCertificates | None = ...,
        certificate: CertificateCredential | None = ...,
    ) -> MsalTokenProvider: ...


@pytest.fixture
def provider(authority: Authority) -> Iterator[ProviderFactory]:
    """Builds providers against the authority, and closes them before the authority stops."""
    built: list[MsalTokenProvider] = []

    def build(
        *,
        tenant: str = TENANT,
        client_id: str = CLIENT_ID,
        secret: str = SECRET,
        ca_bundle: Path | CaCertificates | None = None,
        certificate: CertificateCredential | None = None,
    ) -> MsalTokenProvider:
        credentials = ClientCredentials(
            tenant_id=tenant,
            client_id=client_id,
            client_secret=None if certificate else SecretStr(secret),
            certificate=certificate,
        )
        tokens = MsalTokenProvider(
            credentials,
            scope=SCOPE,
            authority=f"{authority.entra.base_url}/{tenant}",
            validate_authority=False,
            instance_discovery=False,
            ca_bundle=ca_bundle or authority.ca_bundle,
            timeout_s=5,
        )
        built.append(tokens)
        return tokens

    yield build
    for tokens in built:
        tokens.close()


async def test_a_token_is_cached_until_a_forced_refresh(authority: Authority, provider: ProviderFactory) -> None:
    tokens = provider()

    first = await tokens.bearer_token()
    second = await tokens.bearer_token()
    refreshed = await tokens.bearer_token(force_refresh=True)

    assert first.get_secret_value() == second.get_secret_value() == "at-1"
    assert refreshed.get_secret_value() == "at-2"
    assert authority.entra.token_requests == 2


async def test_a_token_about_to_expire_is_replaced_before_it_does(
    authority: Authority, provider: ProviderFactory
) -> None:
    authority.entra.expires_in = 240  # inside the 300 s refresh margin
    tokens = provider()

    await tokens.bearer_token()
    await tokens.bearer_token()

    assert authority.entra.token_requests == 2


async def test_a_certificate_signs_the_client_assertion(authority: Authority, provider: ProviderFactory) -> None:
    leaf = authority.ca.issue_cert("salesbridge-client", key_type=trustme.KeyType.RSA)  # Entra signs with RSA
    authority.entra.client_certificate = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
    certificate = CertificateCredential(
        private_key_pem=SecretStr(leaf.private_key_pem.bytes().decode()),
        public_certificate_pem=leaf.cert_chain_pems[0].bytes().decode(),
    )

    token = await provider(certificate=certificate).bearer_token()

    assert token.get_secret_value() == "at-1"
    (claims,) = authority.entra.assertions
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert float(str(claims["exp"])) > datetime.now(UTC).timestamp()


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        pytest.param({"secret": "wrong"}, "client secret", id="AADSTS7000215-invalid-secret"),
        pytest.param(
            {"client_id": "11111111-2222-3333-4444-555555555555"},
            "client (application) id",
            id="AADSTS700016-unknown-client",
        ),
        pytest.param({"tenant": "no-such-tenant"}, "tenant id", id="AADSTS90002-unknown-tenant"),
    ],
)
async def test_a_rejected_sign_in_names_the_credential_to_check(
    provider: ProviderFactory, caplog: pytest.LogCaptureFixture, overrides: dict[str, str], names: str
) -> None:
    caplog.set_level(logging.DEBUG)

    with pytest.raises(AuthError) as raised:
        await provider(**overrides).bearer_token()

    assert names in raised.value.message
    logged = "\n".join(record.getMessage() for record in caplog.records if record.name != "aiohttp.access")
    for text in (raised.value.message, repr(raised.value), logged):
        assert SECRET not in text


async def test_an_untrusted_authority_certificate_is_a_tls_error(provider: ProviderFactory, tmp_path: Path) -> None:
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))

    with pytest.raises(TlsVerificationError, match="CA bundle"):
        await provider(ca_bundle=other_ca).bearer_token()


async def test_an_unavailable_token_endpoint_is_transient(authority: Authority, provider: ProviderFactory) -> None:
    authority.entra.unavailable = True

    with pytest.raises(TokenRefreshError):
        await provider().bearer_token()


def test_exactly_one_credential_is_required() -> None:
    with pytest.raises(ConfigError):
        ClientCredentials(tenant_id=TENANT, client_id=CLIENT_ID)


async def test_the_environment_neither_widens_nor_replaces_the_given_cas(
    authority: Authority, provider: ProviderFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    given = CaCertificates(authority.ca_bundle.read_text(encoding="ascii"))
    other = CaCertificates(other_ca.read_text(encoding="ascii"))

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_ca))
    token = await provider(ca_bundle=given).bearer_token()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.ca_bundle))
    with pytest.raises(TlsVerificationError):
        await provider(ca_bundle=other).bearer_token()

    assert token.get_secret_value()


async def test_an_unreachable_authority_is_named_without_the_exception_class(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    tokens = MsalTokenProvider(
        ClientCredentials(tenant_id=TENANT, client_id=CLIENT_ID, client_secret=SecretStr(SECRET)),
        scope=SCOPE,
        authority=f"https://127.0.0.1:{closed}/{TENANT}",
        validate_authority=False,
        instance_discovery=False,
        timeout_s=5,
    )
    try:
        with pytest.raises(TokenRefreshError) as raised:
            await tokens.bearer_token()
    finally:
        tokens.close()

    assert raised.value.message == f"Could not reach the identity provider at https://127.0.0.1:{closed}/{TENANT}."
