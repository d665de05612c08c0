"""Access tokens for Dataverse: OAuth 2.0 client credentials through MSAL, with a client secret or a certificate.

MSAL is synchronous (it uses ``requests``), so every call into it runs in a worker thread. Tokens are kept in
memory until shortly before they expire, so the common path costs no thread hop at all; MSAL's own cache sits
behind that and is cleared when the CRM refuses a token.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

import msal  # type: ignore[import-untyped]  # MSAL ships no type information
import requests
from pydantic import SecretStr

from salesbridge.crm.dynamics.redaction import redact_text
from salesbridge.crm.dynamics.trust import CaCertificates, PinnedTrustAdapter, trusted_cas
from salesbridge.errors import ConfigError, SignInRejectedError, TlsVerificationError, TokenRefreshError
from salesbridge.i18n import N_

_logger = logging.getLogger(__name__)

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"

# AADSTS error numbers that point at one credential: the message id telling the admin which one to check, and why.
_CREDENTIAL_HINTS: Mapping[int, str] = MappingProxyType(
    {
        7000215: N_("the client secret (it is wrong: copy the secret's value, not its id)"),
        7000222: N_("the client secret (it has expired: create a new one)"),
        700016: N_("the client (application) id (no application with this id exists in the tenant)"),
        90002: N_("the tenant id (no tenant with this id or domain exists)"),
        900023: N_("the tenant id (it is not a valid tenant id or domain)"),
        700027: N_("the certificate (its signature or thumbprint does not match the one registered)"),
        700024: N_("the certificate (the client assertion is outside its valid time range)"),
        7000112: N_("the client (application) id (the application is disabled)"),
    }
)
_TENANT_ID = N_("the tenant id")
_TRANSIENT_OAUTH_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


class TokenProvider(Protocol):
    """Supplies bearer tokens for the CRM."""

    async def bearer_token(self, *, force_refresh: bool = False) -> SecretStr:
        """A valid access token.

        Args:
            force_refresh: Ignore cached tokens (the CRM just refused the last one).

        Raises:
            AuthError: The identity provider rejected the credentials.
            TokenRefreshError: The identity provider could not be reached or failed; retry later.
        """
        ...


@dataclass(frozen=True)
class CertificateCredential:
    """A certificate registered on the application.

    Attributes:
        private_key_pem: The private key, PEM.
        public_certificate_pem: The certificate, PEM; MSAL derives the SHA-256 thumbprint from it and sends it
            (``x5c``) so certificates can rotate under subject-name/issuer authentication.
        passphrase: The private key's passphrase, when it is encrypted.
    """

    private_key_pem: SecretStr
    public_certificate_pem: str
    passphrase: SecretStr | None = None


@dataclass(frozen=True)
class ClientCredentials:
    """An application's identity in one Entra tenant: a client secret or a certificate (exactly one).

    Attributes:
        tenant_id: The directory (tenant) id or a verified domain.
        client_id: The application (client) id.
        client_secret: The client secret's value.
        certificate: The certificate credential.
    """

    tenant_id: str
    client_id: str
    client_secret: SecretStr | None = None
    certificate: CertificateCredential | None = None

    def __post_init__(self) -> None:
        if (self.client_secret is None) == (self.certificate is None):
            raise ConfigError("Give exactly one credential for the application: a client secret or a certificate.")


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and the instant it stops being valid (UTC)."""

    value: SecretStr
    expires_at: datetime


def _system_now() -> datetime:
    return datetime.now(UTC)


class _AuthorityHttpSession(requests.Session):
    """The HTTP client MSAL uses: a timeout on every request, and CAs the environment cannot override.

    ``requests`` lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` win over a session's own ``verify``
    (psf/requests#3829), which would silently drop the configured CAs: HTTPS goes through a transport pinned to
    them instead. Proxies from the environment still apply.
    """

    def __init__(self, *, cas: CaCertificates | None, timeout_s: float) -> None:
        super().__init__()
        self._timeout_s = timeout_s
        if cas is not None:
            self.mount("https://", PinnedTrustAdapter(cas))

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout_s)
        return super().request(method, url, *args, **kwargs)


class MsalTokenProvider:
    """Client-credential tokens from Microsoft Entra ID (or a compatible authority) through MSAL.

    Thread-safe for one event loop: concurrent callers share one refresh.

    Args:
        credentials: The application's identity.
        scope: The resource scope, ``https://<org>.crm.dynamics.com/.default``.
        authority: The authority URL; defaults to ``https://login.microsoftonline.com/<tenant id>``.
        validate_authority: Let MSAL check the authority against known Microsoft clouds. Turn off for a
            local or private authority.
        instance_discovery: Let MSAL ask login.microsoftonline.com about the authority. Turn off for a local
            or private authority.
        ca_bundle: CAs to trust for the authority instead of the system's (and of ``REQUESTS_CA_BUNDLE``):
            certificates, or a PEM file (operator's tools and tests).
        timeout_s: Per-request timeout towards the authority, seconds.
        refresh_margin_s: Refresh a cached token this many seconds before it expires.
        now: Clock, returning timezone-aware UTC.
    """

    def __init__(
        self,
        credentials: ClientCredentials,
        *,
        scope: str,
        authority: str | None = None,
        validate_authority: bool = True,
        instance_discovery: bool = True,
        ca_bundle: Path | CaCertificates | None = None,
        timeout_s: float = 30.0,
        refresh_margin_s: float = 300.0,
        now: Callable[[], datetime] = _system_now,
    ) -> None:
        self._credentials = credentials
        self._scope = scope
        self._authority = authority or f"{DEFAULT_AUTHORITY_HOST}/{credentials.tenant_id}"
        self._validate_authority = validate_authority
        self._instance_discovery = instance_discovery
        self._http = _AuthorityHttpSession(cas=trusted_cas(ca_bundle), timeout_s=timeout_s)
        self._refresh_margin = timedelta(seconds=refresh_margin_s)
        self._now = now
        self._application: msal.ConfidentialClientApplication | None = None
        self._token: AccessToken | None = None
        self._lock = asyncio.Lock()

    async def bearer_token(self, *, force_refresh: bool = False) -> SecretStr:
        """A token valid for at least ``refresh_margin_s`` more seconds. See :class:`TokenProvider`.

        Raises:
            SignInRejectedError: Credentials rejected; ``credential`` names the one to check.
            TlsVerificationError: The authority's certificate is not trusted (set the CA bundle).
            TokenRefreshError: The authority could not be reached or failed.
        """
        stale = self._token
        if not force_refresh and stale is not None and self._is_fresh(stale):
            return stale.value
        async with self._lock:
            current = self._token
            # Another caller may have refreshed while this one waited for the lock.
            if current is not None and current is not stale and self._is_fresh(current):
                return current.value
            fresh = await asyncio.to_thread(self._acquire, force_refresh)
            self._token = fresh
            return fresh.value

    def close(self) -> None:
        """Close the connections to the authority. Idempotent; the provider reconnects if used again."""
        self._http.close()

    def _is_fresh(self, token: AccessToken) -> bool:
        return self._now() < token.expires_at - self._refresh_margin

    def _acquire(self, force_refresh: bool) -> AccessToken:
        """Runs in a worker thread."""
        application = self._application_or_build()
        if force_refresh:
            application.remove_tokens_for_client()
        requested_at = self._now()
        try:
            result = application.acquire_token_for_client(scopes=[self._scope])
        except requests.exceptions.SSLError as exc:
            raise _untrusted(self._authority) from exc
        except requests.RequestException as exc:
            raise _unreachable(self._authority, exc) from exc
        except msal.exceptions.MsalServiceError as exc:
            # MSAL raises this when the token endpoint answers 5xx.
            raise TokenRefreshError(
                f"The identity provider at {self._authority} failed: {redact_text(str(exc))}"
            ) from exc
        if not isinstance(result, dict) or "access_token" not in result:
            raise _sign_in_error(result if isinstance(result, dict) else {})
        expires_in_s = float(result.get("expires_in", 3600))
        _logger.debug("Obtained an access token for %s valid for %.0f s.", self._scope, expires_in_s)
        return AccessToken(
            value=SecretStr(str(result["access_token"])),
            expires_at=requested_at + timedelta(seconds=expires_in_s),
        )

    def _application_or_build(self) -> msal.ConfidentialClientApplication:
        if self._application is not None:
            return self._application
        credentials = self._credentials
        credential: str | dict[str, str]
        certificate = credentials.certificate
        if certificate is None:
            # ClientCredentials guarantees exactly one credential.
            credential = credentials.client_secret.get_secret_value() if credentials.client_secret else ""
        else:
            credential = {
                "private_key": certificate.private_key_pem.get_secret_value(),
                "public_certificate": certificate.public_certificate_pem,
            }
            if certificate.passphrase is not None:
                credential["passphrase"] = certificate.passphrase.get_secret_value()
        try:
            # Building the application fetches the authority's OpenID configuration over the network.
            self._application = msal.ConfidentialClientApplication(
                credentials.client_id,
                client_credential=credential,
                authority=self._authority,
                validate_authority=self._validate_authority,
                instance_discovery=self._instance_discovery,
                http_client=self._http,
            )
        except requests.exceptions.SSLError as exc:
            raise _untrusted(self._authority) from exc
        except requests.RequestException as exc:
            raise _unreachable(self._authority, exc) from exc
        except ValueError as exc:
            # MSAL raises ValueError when the authority has no OpenID configuration: usually a wrong tenant.
            raise SignInRejectedError(
                f"The identity provider at {self._authority} did not accept the authority: check the tenant id "
                f"and the authority URL. ({redact_text(str(exc))})",
                credential=_TENANT_ID,
            ) from exc
        return self._application


def _unreachable(authority: str, exc: requests.RequestException) -> TokenRefreshError:
    _logger.info("The identity provider at %s could not be reached: %s", authority, type(exc).__name__)
    return TokenRefreshError(f"Could not reach the identity provider at {authority}.")


def _untrusted(authority: str) -> TlsVerificationError:
    return TlsVerificationError(
        f"The TLS certificate of the identity provider at {authority} is not trusted: check the CA bundle."
    )


def _sign_in_error(result: Mapping[str, Any]) -> SignInRejectedError | TokenRefreshError:
    error = str(result.get("error") or "unknown_error")
    description = redact_text(" ".join(str(result.get("error_description") or "").split()))
    # The description's first line is the useful part; the rest is trace and correlation ids.
    summary = description.split(" Trace ID:")[0].strip()
    if error in _TRANSIENT_OAUTH_ERRORS:
        return TokenRefreshError(f"The identity provider failed ({error}): {summary}", code=error)
    codes = [int(code) for code in result.get("error_codes") or [] if isinstance(code, int)]
    hints = [_CREDENTIAL_HINTS[code] for code in codes if code in _CREDENTIAL_HINTS]
    aadsts = f"AADSTS{codes[0]}" if codes else error
    if hints:
        return SignInRejectedError(
            f"Sign-in to Microsoft Entra ID was rejected: check {hints[0]}. [{aadsts}] {summary}",
            credential=hints[0],
            code=aadsts,
        )
    return SignInRejectedError(
        f"Sign-in to Microsoft Entra ID was rejected ({error}). [{aadsts}] {summary}", code=aadsts
    )
