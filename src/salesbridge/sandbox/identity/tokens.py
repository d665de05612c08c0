"""The sandbox's identity provider: an Entra-compatible token service for the client-credentials grant.

:class:`TokenIssuer` plays Microsoft Entra ID for one tenant. It knows a set of confidential clients
(application registrations with a client secret and/or a certificate), issues RS256-signed access tokens
with Entra's claims for ``<resource>/.default`` scopes, and validates them for the Web API
(:meth:`TokenIssuer.verify`). Failures of the token endpoint carry Entra's error shape — ``error``,
``error_description`` starting with ``AADSTS<code>:``, ``error_codes``, ``timestamp``, ``trace_id``,
``correlation_id`` — and its HTTP statuses.

Its HTTP endpoints are in :mod:`salesbridge.sandbox.identity.endpoints`, the form of kept client secrets in
:mod:`salesbridge.sandbox.identity.client_secrets`. Nothing here contacts Microsoft.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from salesbridge.sandbox.errors import DataverseError
from salesbridge.sandbox.identity.client_secrets import SecretHash

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
"""The only ``client_assertion_type`` accepted (RFC 7523 §2.2)."""

DEFAULT_TOKEN_LIFETIME = timedelta(hours=1)
"""Entra's default access-token lifetime for the client-credentials grant."""

ASSERTION_CLOCK_SKEW = timedelta(minutes=5)
"""Tolerance when checking a client assertion's ``exp``/``nbf`` (the client signs with its own clock)."""

_RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
_ISSUER_SUFFIX = "v2.0"


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (the default clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class TokenClaims:
    """What a valid access token says about its bearer.

    Attributes:
        object_id: ``oid`` — the service principal's object id in the tenant.
        client_id: ``appid``/``azp`` — the application (client) id.
        tenant_id: ``tid``.
        expires_at: ``exp`` as a timezone-aware UTC datetime.
    """

    object_id: str
    client_id: str
    tenant_id: str
    expires_at: datetime


class InvalidTokenError(DataverseError):
    """401 from the Web API for a bearer token that is missing or not acceptable.

    ``reason`` says why (``missing``, ``malformed``, ``signature``, ``audience``, ``issuer``, ``expired``,
    ``not_yet_valid``, ``revoked``) — for logs and tests; the HTTP answer does not reveal it.
    """

    def __init__(self, reason: str) -> None:
        if reason == "expired":
            super().__init__(401, "0x80041d52", "The OAuth token has expired")
        else:
            super().__init__(401, "0x80044302", "Request is not authenticated.")
        self.reason = reason


class TokenRequestError(Exception):
    """A failed token (or discovery) request, in Entra's terms.

    Attributes:
        status: HTTP status (400 or 401).
        error: The OAuth 2.0 ``error`` value (``invalid_client``, ``unauthorized_client``, …).
        code: The AADSTS number.
        message: The AADSTS message (without the ``AADSTS<code>:`` prefix and the trace lines).
    """

    def __init__(self, status: int, error: str, code: int, message: str) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.status = status
        self.error = error
        self.code = code
        self.message = message

    def body(self, *, now: datetime, correlation_id: str | None = None) -> dict[str, Any]:
        """The JSON error body Entra sends, stamped with ``now`` and a fresh trace id.

        Args:
            now: The time of the answer (timezone-aware).
            correlation_id: The client's ``client-request-id`` if it sent one; otherwise a new id is used.
        """
        trace_id = str(uuid.uuid4())
        correlation = correlation_id or str(uuid.uuid4())
        timestamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return {
            "error": self.error,
            "error_description": (
                f"AADSTS{self.code}: {self.message}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation}"
                f"\r\nTimestamp: {timestamp}"
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation,
        }


@dataclass(frozen=True)
class _Certificate:
    public_key: rsa.RSAPublicKey
    sha1: bytes
    sha256: bytes
    not_before: datetime
    not_after: datetime


@dataclass
class _Client:
    client_id: str
    object_id: str
    secret_hashes: list[SecretHash] = field(default_factory=list)
    certificates: list[_Certificate] = field(default_factory=list)


class TokenIssuer:
    """Entra ID for one tenant: registered confidential clients, token issuance and validation.

    Thread-safe: the HTTP server and tests may call it from different threads.

    Args:
        tenant_id: The tenant (directory) id, a GUID string.
        clock: Returns the current time, timezone-aware UTC; drives ``iat``/``exp`` and expiry checks.
        token_lifetime: Lifetime of issued access tokens (whole seconds).
        signing_key: The RSA key tokens are signed with; a new 2048-bit key is generated when omitted.
        clock_skew: Tolerance :meth:`verify` allows past ``exp`` and before ``nbf`` (none by default, so a
            token stops working exactly when it expires).
    """

    def __init__(
        self,
        tenant_id: str,
        *,
        clock: Callable[[], datetime] = utc_now,
        token_lifetime: timedelta = DEFAULT_TOKEN_LIFETIME,
        signing_key: rsa.RSAPrivateKey | None = None,
        clock_skew: timedelta = timedelta(0),
    ) -> None:
        if token_lifetime < timedelta(seconds=1):
            raise ValueError("The token lifetime must be at least one second.")
        self._tenant_id = tenant_id.lower()
        self._clock = clock
        self._lifetime_s = int(token_lifetime.total_seconds())
        self._skew_s = clock_skew.total_seconds()
        self._key = signing_key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public_key = self._key.public_key()
        self._jwk: dict[str, Any] = dict(RSAAlgorithm.to_jwk(self._public_key, as_dict=True))
        self._kid = _jwk_thumbprint(self._jwk)
        self._clients: dict[str, _Client] = {}
        self._live: dict[str, int] = {}  # jti -> exp of every token issued and not revoked, in issue order
        self._lock = threading.Lock()

    @property
    def tenant_id(self) -> str:
        """The tenant id (lower case)."""
        return self._tenant_id

    @property
    def key_id(self) -> str:
        """The ``kid`` of the signing key (its RFC 7638 JWK thumbprint)."""
        return self._kid

    @property
    def token_lifetime(self) -> timedelta:
        """Lifetime of issued tokens."""
        return timedelta(seconds=self._lifetime_s)

    # -- registry ----------------------------------------------------------------------------------------

    def register_client(self, client_id: str, secret: str, object_id: str) -> None:
        """Register a confidential client with a client secret (or add a secret to a registered one).

        Only a salted SHA-256 hash of the secret is kept (:class:`SecretHash`).

        Args:
            client_id: The application (client) id.
            secret: The client secret value.
            object_id: The service principal's object id (the ``oid`` of its tokens).

        Raises:
            ValueError: An argument is empty, or ``client_id`` is registered with another object id.
        """
        if not secret:
            raise ValueError("client_id, secret and object_id must not be empty.")
        self.register_client_secret_hash(client_id, SecretHash.of(secret), object_id)

    def register_client_secret_hash(self, client_id: str, secret_hash: SecretHash, object_id: str) -> None:
        """Register a confidential client by the hash of its client secret (one kept from an earlier start).

        Raises:
            ValueError: ``client_id`` or ``object_id`` is empty, or ``client_id`` is registered with another
                object id.
        """
        if not client_id or not object_id:
            raise ValueError("client_id, secret and object_id must not be empty.")
        with self._lock:
            self._client_for_registration(client_id, object_id).secret_hashes.append(secret_hash)

    def register_client_certificate(
        self, client_id: str, certificate: x509.Certificate | bytes | str, object_id: str
    ) -> None:
        """Register a confidential client with a certificate credential (or add one to a registered client).

        The client then authenticates with an RFC 7523 ``client_assertion``: a JWT signed (RS256 or PS256)
        with the certificate's private key, naming the certificate by ``x5t`` or ``x5t#S256`` — what MSAL
        sends for ``client_credential={"private_key": …, "thumbprint"/"public_certificate": …}``.

        Args:
            client_id: The application (client) id.
            certificate: The X.509 certificate (object or PEM); its key must be RSA.
            object_id: The service principal's object id.

        Raises:
            ValueError: The certificate is not PEM/RSA, or ``client_id`` is registered with another object id.
        """
        if isinstance(certificate, str):
            certificate = certificate.encode("ascii")
        if isinstance(certificate, bytes):
            certificate = x509.load_pem_x509_certificate(certificate)
        public_key = certificate.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise ValueError("Only RSA certificates can be client credentials.")
        entry = _Certificate(
            public_key=public_key,
            sha1=certificate.fingerprint(hashes.SHA1()),  # x5t is defined as SHA-1
            sha256=certificate.fingerprint(hashes.SHA256()),
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
        )
        with self._lock:
            self._client_for_registration(client_id, object_id).certificates.append(entry)

    def _client_for_registration(self, client_id: str, object_id: str) -> _Client:
        client = self._clients.get(client_id.lower())
        if client is None:
            client = _Client(client_id=client_id, object_id=object_id)
            self._clients[client_id.lower()] = client
        elif client.object_id.lower() != object_id.lower():
            raise ValueError(f"Client '{client_id}' is registered with another object id.")
        return client

    # -- issuing -----------------------------------------------------------------------------------------

    def issue(self, client_id: str, client_secret: str, scope: str, *, authority: str | None = None) -> dict[str, Any]:
        """The client-credentials grant with a client secret.

        Args:
            client_id: The application (client) id.
            client_secret: The secret value.
            scope: Space-separated scopes; exactly one must be ``<resource>/.default`` (``openid``,
                ``profile``, ``offline_access`` and ``email`` are ignored).
            authority: Base URL of the authority (``https://host:port``), used for the ``iss`` claim;
                defaults to the resource's origin (in the sandbox both are served from one address).

        Returns:
            Entra's token response: ``token_type`` (``Bearer``), ``expires_in``, ``ext_expires_in`` and
            ``access_token``.

        Raises:
            TokenRequestError: ``unauthorized_client`` (400, AADSTS700016) for an unknown client,
                ``invalid_client`` (401, AADSTS7000215) for a wrong secret, ``invalid_scope`` (400,
                AADSTS70011) for a missing or unusable scope.
        """
        client = self._known_client(client_id)
        if not client_secret:
            raise _missing_credential()
        if not any(secret_hash.matches(client_secret) for secret_hash in client.secret_hashes):
            raise TokenRequestError(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                f"value, not the client secret ID, for a secret added to app '{client.client_id}'.",
            )
        return self._mint(client, _resource_of(scope), authority=authority, credential_type="1")

    def issue_for_assertion(
        self,
        client_id: str,
        client_assertion: str,
        scope: str,
        *,
        token_endpoint: str,
        authority: str | None = None,
    ) -> dict[str, Any]:
        """The client-credentials grant with a certificate-signed client assertion (RFC 7523).

        Args:
            client_id: The application (client) id.
            client_assertion: The JWT the client signed: ``iss`` = ``sub`` = ``client_id``, ``aud`` = the token
                endpoint, ``exp`` (and optionally ``nbf``) around now, header ``x5t`` or ``x5t#S256``.
            scope: As for :meth:`issue`.
            token_endpoint: The URL the request was sent to (the expected ``aud``).
            authority: As for :meth:`issue`.

        Returns:
            The token response, as for :meth:`issue`.

        Raises:
            TokenRequestError: ``unauthorized_client`` (400) for an unknown client; ``invalid_client`` (401)
                for a malformed assertion (AADSTS50027), an unknown certificate or bad signature
                (AADSTS700027), a wrong ``iss``/``sub`` (AADSTS700021) or ``aud`` (AADSTS700023), or an
                assertion outside its validity (AADSTS700024); ``invalid_scope`` as for :meth:`issue`.
        """
        client = self._known_client(client_id)
        self._check_assertion(client, client_assertion, token_endpoint)
        return self._mint(client, _resource_of(scope), authority=authority, credential_type="2")

    def token_request(
        self,
        form: Mapping[str, str],
        *,
        token_endpoint: str,
        authority: str,
        authorization: str | None = None,
    ) -> dict[str, Any]:
        """Answer one token-endpoint request (the form fields of ``POST …/oauth2/v2.0/token``).

        Args:
            form: The decoded form fields.
            token_endpoint: The URL the request was sent to.
            authority: The authority's base URL (``scheme://host:port``).
            authorization: The ``Authorization`` header, for ``client_secret_basic`` authentication.

        Returns:
            The token response.

        Raises:
            TokenRequestError: Anything Entra would refuse; besides the errors of :meth:`issue` and
                :meth:`issue_for_assertion`: a missing parameter (400 ``invalid_request``, AADSTS900144), a
                grant other than ``client_credentials`` (400 ``unsupported_grant_type``, AADSTS70003), no
                credential (401 ``invalid_client``, AADSTS7000218).
        """
        grant_type = form.get("grant_type")
        if not grant_type:
            raise _missing_parameter("grant_type")
        if grant_type != "client_credentials":
            raise TokenRequestError(
                400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'."
            )
        basic_id, basic_secret = _basic_credentials(authorization)
        client_id = form.get("client_id") or basic_id
        if not client_id:
            raise _missing_parameter("client_id")
        scope = form.get("scope", "")
        assertion = form.get("client_assertion")
        if assertion:
            assertion_type = form.get("client_assertion_type")
            if assertion_type != CLIENT_ASSERTION_TYPE:
                raise TokenRequestError(
                    401,
                    "invalid_client",
                    50027,
                    f"Invalid JWT token. The client_assertion_type '{assertion_type}' is not supported; "
                    f"use '{CLIENT_ASSERTION_TYPE}'.",
                )
            return self.issue_for_assertion(
                client_id, assertion, scope, token_endpoint=token_endpoint, authority=authority
            )
        secret = form.get("client_secret") or (basic_secret if basic_id == client_id else None)
        if not secret:
            self._known_client(client_id)
            raise _missing_credential()
        return self.issue(client_id, secret, scope, authority=authority)

    def _known_client(self, client_id: str) -> _Client:
        with self._lock:
            client = self._clients.get(client_id.lower())
        if client is None:
            raise TokenRequestError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{self._tenant_id}'. "
                "This can happen if the application has not been installed by the administrator of the tenant "
                "or consented to by any user in the tenant. You may have sent your authentication request to "
                "the wrong tenant.",
            )
        return client

    def _check_assertion(self, client: _Client, assertion: str, token_endpoint: str) -> None:
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.DecodeError:
            raise _invalid_assertion("JWT token is invalid or malformed.") from None
        algorithm = header.get("alg")
        if algorithm not in ("RS256", "PS256"):
            raise _invalid_assertion(f"Invalid JWT token. The signing algorithm '{algorithm}' is not supported.")
        wanted_sha256 = _b64url_decode(header.get("x5t#S256"))
        wanted_sha1 = _b64url_decode(header.get("x5t"))
        if wanted_sha256 is None and wanted_sha1 is None:
            raise _invalid_assertion("Invalid JWT token. No certificate thumbprint specified in token header.")
        shown = (wanted_sha1 if wanted_sha1 is not None else wanted_sha256 or b"").hex().upper()
        certificate = next(
            (
                entry
                for entry in client.certificates
                if (wanted_sha256 is not None and entry.sha256 == wanted_sha256)
                or (wanted_sha1 is not None and entry.sha1 == wanted_sha1)
            ),
            None,
        )
        if certificate is None:
            raise TokenRequestError(
                401,
                "invalid_client",
                700027,
                "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of "
                f"key used by client: '{shown}']",
            )
        try:
            claims = jwt.decode(
                assertion,
                certificate.public_key,
                algorithms=[algorithm],
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
            )
        except jwt.InvalidSignatureError:
            raise TokenRequestError(
                401,
                "invalid_client",
                700027,
                "Client assertion contains an invalid signature. [Reason - Key was found, but use of the key to "
                f"verify the signature failed., Thumbprint of key used by client: '{shown}']",
            ) from None
        except jwt.PyJWTError:
            raise _invalid_assertion("JWT token is invalid or malformed.") from None
        issuer, subject = str(claims.get("iss", "")), str(claims.get("sub", ""))
        if issuer.lower() != client.client_id.lower() or subject.lower() != client.client_id.lower():
            raise TokenRequestError(
                401,
                "invalid_client",
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter.",
            )
        if not _audience_matches(claims.get("aud"), self._assertion_audiences(token_endpoint)):
            raise TokenRequestError(
                401, "invalid_client", 700023, "Client assertion audience claim does not match Realm issuer."
            )
        now = self._clock()
        expires, not_before = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(expires, int | float) or not isinstance(not_before, int | float):
            raise _invalid_assertion("JWT token is invalid or malformed.")
        skew = ASSERTION_CLOCK_SKEW.total_seconds()
        if now.timestamp() > expires + skew or now.timestamp() + skew < not_before:
            raise TokenRequestError(
                401,
                "invalid_client",
                700024,
                f"Client assertion is not within its valid time range. Current time: {_entra_time(now.timestamp())}, "
                f"assertion valid from {_entra_time(not_before)}, expiry time of assertion {_entra_time(expires)}.",
            )

    def _assertion_audiences(self, token_endpoint: str) -> set[str]:
        parts = urlsplit(token_endpoint)
        base = f"{parts.scheme}://{parts.netloc}/{self._tenant_id}"
        return {
            _normalize(token_endpoint),
            _normalize(f"{base}/oauth2/v2.0/token"),
            _normalize(f"{base}/oauth2/token"),
        }

    def _mint(self, client: _Client, resource: str, *, authority: str | None, credential_type: str) -> dict[str, Any]:
        issued_at = int(self._clock().timestamp())
        expires = issued_at + self._lifetime_s
        token_id = str(uuid.uuid4())
        base = (authority or _origin(resource)).rstrip("/")
        issuer = f"{base}/{self._tenant_id}/{_ISSUER_SUFFIX}"
        claims = {
            "aud": resource,
            "iss": issuer,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": expires,
            "appid": client.client_id,
            "appidacr": credential_type,
            "azp": client.client_id,
            "azpacr": credential_type,
            "idp": issuer,
            "idtyp": "app",
            "oid": client.object_id,
            "sub": client.object_id,
            "tid": self._tenant_id,
            "ver": "2.0",
            "jti": token_id,
            "uti": base64.urlsafe_b64encode(uuid.UUID(token_id).bytes).decode("ascii").rstrip("="),
        }
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self._kid})
        with self._lock:
            self._forget_expired(issued_at)
            self._live[token_id] = expires
        return {
            "token_type": "Bearer",
            "expires_in": self._lifetime_s,
            "ext_expires_in": self._lifetime_s,
            "access_token": token,
        }

    def _forget_expired(self, now: int) -> None:
        """Drop registry entries of tokens expired by ``now`` (they fail on expiry anyway). Lock held."""
        while self._live:
            token_id, expires = next(iter(self._live.items()))
            if expires > now:
                return
            del self._live[token_id]

    # -- validating --------------------------------------------------------------------------------------

    def verify(self, token: str, *, audience: str) -> TokenClaims:
        """Validate an access token presented to the resource ``audience``.

        Args:
            token: The bearer token (the value after ``Bearer``).
            audience: The resource's URL (the org URL); compared with ``aud`` ignoring a trailing slash and
                letter case.

        Returns:
            The bearer's claims.

        Raises:
            InvalidTokenError: (a 401 :class:`DataverseError`) the token is missing, malformed, not signed by
                this issuer, for another tenant or audience, expired (code ``0x80041d52``), not yet valid, or
                revoked by :meth:`revoke_all`.
        """
        if not token:
            raise InvalidTokenError("missing")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise InvalidTokenError("malformed") from None
        if header.get("alg") != "RS256" or header.get("kid") != self._kid:
            raise InvalidTokenError("signature")
        try:
            claims = jwt.decode(
                token,
                self._public_key,
                algorithms=["RS256"],
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "require": ["aud", "iss", "exp", "nbf", "tid", "oid", "appid", "jti"],
                },
            )
        except jwt.InvalidSignatureError:
            raise InvalidTokenError("signature") from None
        except jwt.PyJWTError:
            raise InvalidTokenError("malformed") from None
        if str(claims["tid"]).lower() != self._tenant_id or not str(claims["iss"]).lower().endswith(
            f"/{self._tenant_id}/{_ISSUER_SUFFIX}"
        ):
            raise InvalidTokenError("issuer")
        if not _audience_matches(claims["aud"], {_normalize(audience)}):
            raise InvalidTokenError("audience")
        expires, not_before = claims["exp"], claims["nbf"]
        if not isinstance(expires, int) or not isinstance(not_before, int):
            raise InvalidTokenError("malformed")
        now = self._clock().timestamp()
        if now >= expires + self._skew_s:
            raise InvalidTokenError("expired")
        if now + self._skew_s < not_before:
            raise InvalidTokenError("not_yet_valid")
        with self._lock:
            live = claims["jti"] in self._live
        if not live:
            raise InvalidTokenError("revoked")
        return TokenClaims(
            object_id=str(claims["oid"]),
            client_id=str(claims["appid"]),
            tenant_id=str(claims["tid"]),
            expires_at=datetime.fromtimestamp(expires, UTC),
        )

    def revoke_all(self) -> None:
        """Invalidate every token issued so far (fault injection: token revocation). New tokens work."""
        with self._lock:
            self._live.clear()

    # -- documents ---------------------------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set with the signing key (``GET /{tenant}/discovery/v2.0/keys``)."""
        key = {"kty": "RSA", "use": "sig", "kid": self._kid, "alg": "RS256"}
        key.update({name: self._jwk[name] for name in ("n", "e")})
        return {"keys": [key]}

    def openid_configuration(self, authority: str) -> dict[str, Any]:
        """The tenant's OpenID discovery document, with every URL under ``authority`` (``scheme://host:port``)."""
        tenant = f"{authority.rstrip('/')}/{self._tenant_id}"
        return {
            "token_endpoint": f"{tenant}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "grant_types_supported": ["client_credentials"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{tenant}/{_ISSUER_SUFFIX}",
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{tenant}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{tenant}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{tenant}/oauth2/v2.0/logout",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "azp", "ver", "jti"],
        }

    def now(self) -> datetime:
        """The issuer's current time (its injected clock)."""
        return self._clock()


def _basic_credentials(authorization: str | None) -> tuple[str | None, str | None]:
    """``client_secret_basic`` (RFC 6749 §2.3.1): both parts form-encoded, then Base64."""
    if not authorization:
        return None, None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        return None, None
    return unquote_plus(client_id), unquote_plus(secret)


def _resource_of(scope: str) -> str:
    """The resource of a client-credentials scope (``<resource>/.default`` → ``<resource>``, no trailing slash)."""
    requested = [item for item in scope.split() if item not in _RESERVED_SCOPES]
    if not requested:
        raise TokenRequestError(
            400, "invalid_scope", 70011, "The provided request must include a 'scope' input parameter."
        )
    if (
        len(requested) != 1
        or not requested[0].endswith("/.default")
        or not requested[0][: -len("/.default")].strip("/")
    ):
        raise TokenRequestError(
            400,
            "invalid_scope",
            70011,
            f"The provided value for the input parameter 'scope' is not valid. The scope {' '.join(requested)} is "
            "not valid. Client credential flows must have a scope value with /.default suffixed to the resource "
            "identifier (application ID URI).",
        )
    return requested[0][: -len("/.default")].rstrip("/")


def _origin(resource: str) -> str:
    parts = urlsplit(resource)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else resource


def _normalize(url: str) -> str:
    return url.rstrip("/").lower()


def _audience_matches(value: object, expected: set[str]) -> bool:
    values = value if isinstance(value, list) else [value]
    return any(isinstance(item, str) and _normalize(item) in expected for item in values)


def _jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint of an RSA JWK: SHA-256 over the canonical JSON of ``e``, ``kty``, ``n``."""
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode("ascii")).digest()).decode("ascii").rstrip("=")


def _b64url_decode(value: object) -> bytes | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None


def _entra_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def _missing_parameter(name: str) -> TokenRequestError:
    return TokenRequestError(
        400, "invalid_request", 900144, f"The request body must contain the following parameter: '{name}'."
    )


def _missing_credential() -> TokenRequestError:
    return TokenRequestError(
        401,
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    )


def _invalid_assertion(message: str) -> TokenRequestError:
    return TokenRequestError(401, "invalid_client", 50027, message)
