"""Where a connection to Dynamics may go, and how the tenant of an organization is found.

An organization's administrator types the organization URL (and may type the authority): without a rule, the
server would send requests to any host and port they name, and its answers would tell open ports from closed
ones. :class:`EndpointPolicy` admits Dynamics 365's own hosts (the organization on a ``crm*`` domain of a
Microsoft cloud, the authority on Microsoft Entra ID's sign-in hosts) on the standard HTTPS port, and hosts the
operator allows by setting (the local sandbox, a test server).

Dataverse answers an unauthenticated request with ``WWW-Authenticate: Bearer authorization_uri=<authority>/oauth2/
authorize, resource_id=<org>/`` (learn.microsoft.com, "Use OAuth authentication with Microsoft Dataverse",
"Discover the authority at run time"): :func:`discover_authority` reads the tenant and its authority from it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from pydantic import SecretStr

from salesbridge.crm.dynamics.client import DynamicsClient, Timeouts
from salesbridge.crm.dynamics.throttling import RetryPolicy
from salesbridge.crm.dynamics.trust import CaBundleDirectory, CaCertificates
from salesbridge.errors import ConfigError, EndpointNotAllowedError, UnexpectedResponseError
from salesbridge.i18n import N_

# Dataverse environments: <name>.crm[N].dynamics.com (commercial clouds; crm9 is GCC), .crm.microsoftdynamics.us
# (GCC High), .crm.appsplatform.us (DoD), .crm.dynamics.cn (21Vianet); ApiUrl may add ".api" (Global Discovery
# Service docs, learn.microsoft.com/power-apps/developer/data-platform/discovery-service).
_DYNAMICS_ORG_HOST = re.compile(
    r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.api)?"
    r"\.crm\d{0,2}\.(?:dynamics\.com|dynamics\.cn|microsoftdynamics\.us|appsplatform\.us)$"
)
ENTRA_AUTHORITY_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "login.microsoftonline.us",
        "login.partner.microsoftonline.cn",
        "login.chinacloudapi.cn",
    }
)
"""Microsoft Entra ID's sign-in hosts: the public cloud (and its aliases), US Government, China (21Vianet)."""

_AUTHORIZE_SUFFIX = re.compile(r"/oauth2(?:/v2\.0)?/authorize/?$", re.IGNORECASE)
_CHALLENGE_PARAMETER = re.compile(r'([A-Za-z_]+)\s*=\s*(?:"([^"]*)"|([^,\s]+))')


ORG_URL_NOT_ALLOWED = N_(
    "The organization URL must be a Dynamics 365 address, like https://contoso.crm.dynamics.com (https, no "
    "port, path or query)."
)
AUTHORITY_NOT_ALLOWED = N_(
    "The identity authority must be a Microsoft Entra ID address, like https://login.microsoftonline.com/<tenant id>."
)


@dataclass(frozen=True)
class TenantAuthority:
    """The tenant an organization belongs to, and the authority issuing its tokens.

    Attributes:
        tenant_id: The directory (tenant) id, lower case when it is a GUID.
        authority: ``https://login.microsoftonline.com/<tenant id>`` (no trailing slash).
    """

    tenant_id: str
    authority: str


def _host_entry(entry: str) -> str:
    return entry.strip().lower().rstrip("/")


class EndpointPolicy:
    """Which hosts connections may reach: Dynamics 365's own on port 443, plus ``extra_hosts``.

    Args:
        extra_hosts: Hosts the operator allows besides Dynamics 365's, as ``host`` (any port) or ``host:port``.
    """

    def __init__(self, extra_hosts: Iterable[str] = ()) -> None:
        self._extra = frozenset(_host_entry(entry) for entry in extra_hosts if entry.strip())

    def org_url(self, url: str) -> str:
        """``url`` as ``https://host[:port]`` (lower case, no default port) once admitted as an organization URL.

        Raises:
            EndpointNotAllowedError: not https, carries credentials, a path other than ``/``, a query or a
                fragment, or its host (and port) is neither a Dynamics 365 organization nor allowed.
        """
        parts = _split(url, ORG_URL_NOT_ALLOWED)
        if parts.path not in ("", "/") or not self._admits(parts, _is_dynamics_org_host):
            raise EndpointNotAllowedError(ORG_URL_NOT_ALLOWED)
        return f"https://{_origin(parts)}"

    def authority(self, url: str) -> str:
        """``url`` without its trailing slash once admitted as an identity authority.

        Raises:
            EndpointNotAllowedError: not https with a tenant path, or its host (and port) is neither Microsoft
                Entra ID's nor allowed.
        """
        parts = _split(url, AUTHORITY_NOT_ALLOWED)
        if parts.path.strip("/") == "" or not self._admits(parts, ENTRA_AUTHORITY_HOSTS.__contains__):
            raise EndpointNotAllowedError(AUTHORITY_NOT_ALLOWED)
        return f"https://{_origin(parts)}{parts.path.rstrip('/')}"

    def _admits(self, parts: SplitResult, is_microsoft: Callable[[str], bool]) -> bool:
        host = (parts.hostname or "").lower()
        try:
            port = parts.port
        except ValueError:
            return False
        if host in self._extra or (port is not None and f"{host}:{port}" in self._extra):
            return True
        return port in (None, 443) and is_microsoft(host)


def _origin(parts: SplitResult) -> str:
    """``host[:port]`` in lower case, without the default port (the same organization is written one way)."""
    netloc = parts.netloc.lower()
    return netloc.removesuffix(":443")


def _is_dynamics_org_host(host: str) -> bool:
    return _DYNAMICS_ORG_HOST.match(host) is not None


def _split(url: str, message: str) -> SplitResult:
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != "https" or not parts.hostname or parts.username or parts.password:
        raise EndpointNotAllowedError(message)
    if parts.query or parts.fragment:
        raise EndpointNotAllowedError(message)
    return parts


def authority_from_challenge(challenge: str) -> TenantAuthority:
    """The tenant and authority named by a Dataverse bearer challenge.

    ``Bearer authorization_uri=https://login.microsoftonline.com/<tenant>/oauth2/authorize, resource_id=…``
    gives ``TenantAuthority("<tenant>", "https://login.microsoftonline.com/<tenant>")``.

    Raises:
        UnexpectedResponseError: the challenge names no ``authorization_uri`` with a tenant.
    """
    scheme, _, parameters = challenge.strip().partition(" ")
    values = {name.lower(): quoted or bare for name, quoted, bare in _CHALLENGE_PARAMETER.findall(parameters)}
    uri = values.get("authorization_uri", "")
    parts = urlsplit(uri)
    authority = _AUTHORIZE_SUFFIX.sub("", parts.path)
    tenant = authority.rstrip("/").rsplit("/", 1)[-1]
    if scheme.lower() != "bearer" or parts.scheme != "https" or not parts.netloc or not tenant:
        raise UnexpectedResponseError("The organization's bearer challenge names no authority with a tenant.")
    return TenantAuthority(
        tenant_id=_normalise_tenant(tenant), authority=f"https://{parts.netloc.lower()}{authority.rstrip('/')}"
    )


def _normalise_tenant(tenant: str) -> str:
    try:
        return str(uuid.UUID(tenant))
    except ValueError:
        return tenant.lower()


class _NoTokens:
    """The token source of the discovery request, which is sent without one."""

    async def bearer_token(self, *, force_refresh: bool = False) -> SecretStr:  # noqa: ARG002 - the port's signature
        raise ConfigError("Discovering the authority sends no token.")


async def discover_authority(
    org_url: str, *, ca_bundle: Path | CaCertificates | None = None, timeouts: Timeouts | None = None
) -> TenantAuthority:
    """The tenant and authority of the organization at ``org_url``, from its answer to an unauthenticated GET of
    the Web API root. Sends one request; safe to repeat.

    Raises:
        UpstreamUnavailableError, TlsVerificationError: the organization could not be reached.
        UnexpectedResponseError: it answered without a usable bearer challenge.
        CrmError: any other failure, as translated by :func:`~salesbridge.crm.dynamics.errors.translate_error`.
    """
    client = DynamicsClient(
        org_url, _NoTokens(), timeouts=timeouts, retry_policy=RetryPolicy(max_attempts=1), ca_bundle=ca_bundle
    )
    async with client:
        return authority_from_challenge(await client.authentication_challenge())


class DynamicsTargets:
    """What an administrator may connect to, as the operator configured it: hosts (:class:`EndpointPolicy`),
    the CA bundles offered by name (:class:`CaBundleDirectory`), and tenant discovery. Implements the connect use
    case's ``ConnectTargets`` port.

    Args:
        policy: The hosts admitted.
        ca_bundles: The bundles offered by name.
        timeouts: Timeouts of the discovery request.
    """

    def __init__(
        self,
        policy: EndpointPolicy | None = None,
        ca_bundles: CaBundleDirectory | None = None,
        *,
        timeouts: Timeouts | None = None,
    ) -> None:
        self._policy = policy or EndpointPolicy()
        self._ca_bundles = ca_bundles or CaBundleDirectory(None)
        self._timeouts = timeouts or Timeouts(connect_s=10.0, read_s=20.0)

    def org_url(self, url: str) -> str:
        """See :meth:`EndpointPolicy.org_url`."""
        return self._policy.org_url(url)

    def authority(self, url: str) -> str:
        """See :meth:`EndpointPolicy.authority`."""
        return self._policy.authority(url)

    def ca_bundle_names(self) -> tuple[str, ...]:
        """The names of the CA bundles offered."""
        return self._ca_bundles.names()

    def ca_bundle_pem(self, name: str) -> str:
        """The PEM certificates of the bundle offered as ``name``.

        Raises:
            CaBundleError: none is offered as ``name``, or it holds no valid certificate.
        """
        return self._ca_bundles.certificates(name).pem

    def checked_pem(self, pem: str) -> str:
        """``pem`` once validated as PEM certificates.

        Raises:
            CaBundleError: it is not.
        """
        return CaCertificates(pem).pem

    async def discover(self, org_url: str, ca_bundle_pem: str | None) -> tuple[str, str]:
        """(tenant id, authority) of the organization at ``org_url`` (already admitted). See
        :func:`discover_authority` for what is raised."""
        found = await discover_authority(
            org_url, ca_bundle=CaCertificates(ca_bundle_pem) if ca_bundle_pem else None, timeouts=self._timeouts
        )
        return found.tenant_id, found.authority
