"""An organization connected to a sandbox served over TLS, as an administrator connects one (the sandbox's CA
uploaded with the credentials): the set-up of the tests that run imports in real processes."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from pydantic import SecretStr

from salesbridge.bootstrap import dynamics_session
from salesbridge.crm.dynamics.endpoints import DynamicsTargets, EndpointPolicy
from salesbridge.domain.workspace import CaBundle, CrmCredentials
from salesbridge.sandbox.assembly import Sandbox
from salesbridge.services.connecting import connect_crm, create_organization
from salesbridge.services.ports import StoreAccess


def connect_to_sandbox(
    store: StoreAccess, sandbox: Sandbox, base_url: str, ca_bundle: Path, *, slug: str = "acme", seats: int = 5
) -> uuid.UUID:
    """Create the organization ``slug`` and connect it to ``sandbox`` served at ``base_url``; its id."""
    info = sandbox.connection_info(base_url, str(ca_bundle))
    organization_id = create_organization(store, slug=slug, seats=seats)
    credentials = CrmCredentials(
        org_url=info["org_url"],
        client_id=info["client_id"],
        client_secret=SecretStr(info["client_secret"]),
        ca_bundle=CaBundle(ca_bundle.read_text(encoding="ascii")),
    )
    targets = DynamicsTargets(EndpointPolicy(["127.0.0.1"]))
    connected = asyncio.run(connect_crm(store, dynamics_session, slug=slug, credentials=credentials, targets=targets))
    assert connected.is_connected
    return organization_id
