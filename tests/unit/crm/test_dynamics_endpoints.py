"""Which hosts a connection may reach, and reading the tenant from Dataverse's bearer challenge."""

from __future__ import annotations

import pytest

from salesbridge.crm.dynamics.endpoints import EndpointPolicy, TenantAuthority, authority_from_challenge
from salesbridge.errors import EndpointNotAllowedError, UnexpectedResponseError

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("https://contoso.crm.dynamics.com", "https://contoso.crm.dynamics.com"),
        ("https://Contoso.CRM4.dynamics.com/", "https://contoso.crm4.dynamics.com"),
        ("https://contoso.crm9.dynamics.com:443", "https://contoso.crm9.dynamics.com"),
        ("https://contoso.api.crm.dynamics.com", "https://contoso.api.crm.dynamics.com"),
        ("https://contoso.crm.microsoftdynamics.us", "https://contoso.crm.microsoftdynamics.us"),
        ("https://contoso.crm.appsplatform.us", "https://contoso.crm.appsplatform.us"),
        ("https://contoso.crm.dynamics.cn", "https://contoso.crm.dynamics.cn"),
    ],
)
def test_dynamics_organizations_are_admitted(url: str, normalised: str) -> None:
    assert EndpointPolicy().org_url(url) == normalised


@pytest.mark.parametrize(
    "url",
    [
        "http://contoso.crm.dynamics.com",
        "https://contoso.crm.dynamics.com:8443",
        "https://127.0.0.1",
        "https://localhost:22",
        "https://169.254.169.254/latest/meta-data",
        "https://contoso.crm.dynamics.com.evil.example",
        "https://evil.example/contoso.crm.dynamics.com",
        "https://user:password@contoso.crm.dynamics.com",
        "https://contoso.crm.dynamics.com/api/data/v9.2",
        "https://contoso.crm.dynamics.com?x=1",
        "https://login.microsoftonline.com",
        "file:///root/.ssh/id_rsa",
        "contoso.crm.dynamics.com",
    ],
)
def test_anything_else_is_refused_as_an_organization(url: str) -> None:
    with pytest.raises(EndpointNotAllowedError) as refused:
        EndpointPolicy().org_url(url)

    assert refused.value.localized("en").startswith("The organization URL must be a Dynamics 365 address")


@pytest.mark.parametrize(
    "url",
    [
        f"https://login.microsoftonline.com/{TENANT}",
        f"https://login.microsoftonline.us/{TENANT}/",
        f"https://login.partner.microsoftonline.cn/{TENANT}",
    ],
)
def test_entra_authorities_are_admitted(url: str) -> None:
    assert EndpointPolicy().authority(url) == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "https://login.microsoftonline.com",
        f"https://login.microsoftonline.com:8443/{TENANT}",
        f"https://127.0.0.1:9443/{TENANT}",
        f"https://login.microsoftonline.com.evil.example/{TENANT}",
    ],
)
def test_other_authorities_are_refused(url: str) -> None:
    with pytest.raises(EndpointNotAllowedError):
        EndpointPolicy().authority(url)


def test_the_operator_may_allow_a_host_or_one_port_of_it() -> None:
    policy = EndpointPolicy(["127.0.0.1", " Sandbox.Internal:8443 ", ""])

    assert policy.org_url("https://127.0.0.1:50123") == "https://127.0.0.1:50123"
    assert policy.authority(f"https://127.0.0.1:50123/{TENANT}") == f"https://127.0.0.1:50123/{TENANT}"
    assert policy.org_url("https://sandbox.internal:8443") == "https://sandbox.internal:8443"
    with pytest.raises(EndpointNotAllowedError):
        policy.org_url("https://sandbox.internal:8444")
    with pytest.raises(EndpointNotAllowedError):
        policy.org_url("https://127.0.0.2")


def test_the_challenge_names_the_tenant_and_its_authority() -> None:
    challenge = (
        f"Bearer authorization_uri=https://login.microsoftonline.com/{TENANT.upper()}/oauth2/authorize, "
        "resource_id=https://contoso.crm.dynamics.com/"
    )

    assert authority_from_challenge(challenge) == TenantAuthority(
        tenant_id=TENANT, authority=f"https://login.microsoftonline.com/{TENANT.upper()}"
    )
    quoted = f'Bearer authorization_uri="https://login.microsoftonline.us/{TENANT}/oauth2/v2.0/authorize"'
    assert authority_from_challenge(quoted).authority == f"https://login.microsoftonline.us/{TENANT}"


@pytest.mark.parametrize(
    "challenge",
    [
        "Basic realm=dynamics",
        "Bearer resource_id=https://contoso.crm.dynamics.com/",
        "Bearer authorization_uri=http://login.microsoftonline.com/t/oauth2/authorize",
        "Bearer authorization_uri=https://login.microsoftonline.com/oauth2/authorize",
    ],
)
def test_a_challenge_without_a_tenant_is_unexpected(challenge: str) -> None:
    with pytest.raises(UnexpectedResponseError):
        authority_from_challenge(challenge)
