"""Assembling a running sandbox: state, seed, identity, app, and the ``sandbox.json`` it hands out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from starlette.applications import Starlette

from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.identity.tokens import TokenIssuer
from salesbridge.sandbox.organization.foundation import (
    ApplicationUser,
    add_client_secret,
    build_foundation,
    client_secret_hashes,
    create_state,
)
from salesbridge.sandbox.organization.state import SandboxConfig, system_clock
from salesbridge.sandbox.server.app import SandboxServices, create_app
from salesbridge.sandbox.server.faults import FaultConfig, FaultInjector
from salesbridge.sandbox.server.protection import ProtectionLimits, ServiceProtection

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from salesbridge.sandbox.seeds.seeding import SeedSpec

TENANT_ID = "5f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5"


@dataclass
class Sandbox:
    """A ready sandbox: its ASGI app, services, and the application user's credentials."""

    app: Starlette
    services: SandboxServices
    application: ApplicationUser

    def connection_info(self, base_url: str, ca_bundle: str | None = None) -> dict[str, str]:
        """The facts a client needs (the content of ``sandbox.json``)."""
        base = base_url.rstrip("/")
        info = {
            "base_url": base,
            "org_url": base,
            "api_url": f"{base}/api/data/v9.2/",
            "tenant_id": self.services.issuer.tenant_id,
            "authority": f"{base}/{self.services.issuer.tenant_id}",
            "client_id": self.application.client_id,
            "client_secret": self.application.client_secret,
            "admin_token": self.services.admin_token,
        }
        if ca_bundle:
            info["ca_bundle"] = ca_bundle
        return info


def build_sandbox(
    *,
    db_path: str | None = None,
    seed: SeedSpec | None = None,
    config: SandboxConfig | None = None,
    limits: ProtectionLimits | None = None,
    faults: FaultConfig | None = None,
    clock: Callable[[], datetime] = system_clock,
    progress: Callable[[int], None] | None = None,
    catalogue: Catalogue | None = None,
    signing_key: rsa.RSAPrivateKey | None = None,
) -> Sandbox:
    """Open or create a sandbox database, seed it, and build the app. Idempotent on an existing file, except
    that every build adds a client secret to the application user (the database keeps only hashes of secrets,
    so the previous ones cannot be handed out again; they stay valid).

    ``catalogue`` replaces the standard tables (for example one with a table's change tracking turned off).
    ``signing_key`` signs the access tokens (a new 2048-bit RSA key when None; tests that build many sandboxes
    pass one key, as generating it is most of an empty sandbox's build time).
    """
    state = create_state(db_path, config=config, clock=clock, catalogue=catalogue)
    registration = build_foundation(state)
    application = add_client_secret(state, registration)
    if seed is not None:
        from salesbridge.sandbox.seeds.seeding import apply_seed

        apply_seed(state, seed, progress=progress)
    issuer = TokenIssuer(TENANT_ID, clock=clock, signing_key=signing_key)
    for secret_hash in client_secret_hashes(state):
        issuer.register_client_secret_hash(application.client_id, secret_hash, application.object_id)
    services = SandboxServices(
        state=state,
        issuer=issuer,
        protection=ServiceProtection(limits),
        faults=FaultInjector(faults),
    )
    return Sandbox(app=create_app(services), services=services, application=application)
