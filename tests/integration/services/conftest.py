"""Fixtures of the connect use-case tests: real sandboxes over TLS on 127.0.0.1, and a real SQLite store.

The module-wide sandbox holds, besides the standard application user (System Administrator), a second
application user whose role lacks ``prvReadLead`` and reads opportunities at Local depth only. A second sandbox
has a catalogue in which opportunity is not change-tracked and has no ``stepname`` column.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from salesbridge.crm.dynamics import ClientCredentials, DynamicsConnection, DynamicsConnector, RetryPolicy
from salesbridge.crm.dynamics.endpoints import DynamicsTargets, EndpointPolicy
from salesbridge.crm.dynamics.trust import CaCertificates
from salesbridge.domain.workspace import CaBundle, CrmCredentials
from salesbridge.sandbox.assembly import Sandbox, build_sandbox
from salesbridge.sandbox.catalogue.standard_tables import build_standard_catalogue
from salesbridge.sandbox.organization.foundation import ROOT_BUSINESS_UNIT_ID, RowWriter
from salesbridge.sandbox.organization.security import Depth
from salesbridge.sandbox.server.serving import serve_in_thread
from salesbridge.services.connecting import connect_crm, create_organization
from salesbridge.services.ports import CrmSession, CrmSessionFactory
from salesbridge.store import create_engine_for, create_session_factory
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory

if TYPE_CHECKING:
    from typer.testing import CliRunner

SANDBOX_TARGETS = DynamicsTargets(EndpointPolicy(["127.0.0.1"]))
"""Dynamics 365's hosts and the sandboxes' (127.0.0.1, any port), as an operator allows them by setting."""

LIMITED_CLIENT_ID = "0b7c3f3e-51a2-4a3e-9d5e-3f0c6a1d2b11"
LIMITED_SECRET = "limited-" + "s" * 40


@dataclass(frozen=True)
class RunningSandbox:
    """A sandbox served over TLS, with what a client needs to reach it."""

    sandbox: Sandbox
    org_url: str
    tenant_id: str
    client_id: str
    client_secret: str
    ca_bundle: Path

    @property
    def authority(self) -> str:
        """The sandbox's identity authority."""
        return f"{self.org_url}/{self.tenant_id}"

    def credentials(
        self,
        *,
        client_id: str | None = None,
        secret: str | None = None,
        ca_bundle: bool = True,
        tenant_id: str | None = None,
        authority: str | None = None,
    ) -> CrmCredentials:
        """Credentials of the standard application user unless told otherwise, with the sandbox's CA uploaded;
        tenant and authority are discovered unless given. ``ca_bundle=False`` trusts the system CAs only (which do
        not include the sandbox's throwaway CA)."""
        return CrmCredentials(
            org_url=self.org_url,
            tenant_id=tenant_id,
            client_id=client_id or self.client_id,
            client_secret=SecretStr(secret or self.client_secret),
            ca_bundle=CaBundle(self.ca_bundle.read_text(encoding="ascii")) if ca_bundle else None,
            authority=authority,
        )

    def connected_credentials(self) -> CrmCredentials:
        """The credentials as a connection keeps them once connected (tenant and authority known), for opening
        sessions directly."""
        return self.credentials(tenant_id=self.tenant_id, authority=self.authority)


def add_limited_application_user(sandbox: Sandbox) -> None:
    """Register an application whose user reads everything at Global depth except leads (not at all) and
    opportunities (Local only)."""
    state = sandbox.services.state
    security = state.security
    role_id = str(uuid.uuid4())
    user_id = str(uuid.uuid4())
    object_id = str(uuid.uuid4())
    privileges = {name: Depth.GLOBAL for name in security.all_privilege_names() if name != "prvReadLead"}
    privileges["prvReadOpportunity"] = Depth.LOCAL
    with state.storage.transaction():
        RowWriter(state).insert(
            "systemuser",
            {
                "systemuserid": user_id,
                "lastname": "# limited application",
                "applicationid": LIMITED_CLIENT_ID,
                "azureactivedirectoryobjectid": object_id,
                "accessmode": 4,
                "isdisabled": 0,
                "businessunitid": ROOT_BUSINESS_UNIT_ID,
                "businessunitid__type": "businessunit",
            },
        )
        security.grant(role_id, privileges)
        security.assign_role(user_id, role_id)
    sandbox.services.issuer.register_client(LIMITED_CLIENT_ID, LIMITED_SECRET, object_id)


def _serve(sandbox: Sandbox, tmp: Path) -> Iterator[RunningSandbox]:
    from salesbridge.sandbox.server.tls import create_tls_material

    material = create_tls_material(tmp)
    with serve_in_thread(sandbox.app, tls=material) as server:
        info = sandbox.connection_info(server.base_url, str(material.ca_bundle))
        yield RunningSandbox(
            sandbox, info["org_url"], info["tenant_id"], info["client_id"], info["client_secret"], material.ca_bundle
        )


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """The standard sandbox (no seed data), with the limited application user too."""
    sandbox = build_sandbox()
    add_limited_application_user(sandbox)
    yield from _serve(sandbox, tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def customised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """A sandbox whose opportunity table is not change-tracked and lacks ``stepname``."""
    catalogue = build_standard_catalogue()
    opportunity = catalogue.entity("opportunity")
    opportunity.change_tracking_enabled = False
    del opportunity.attributes["stepname"]
    yield from _serve(build_sandbox(catalogue=catalogue), tmp_path_factory.mktemp("tls"))


@pytest.fixture
def store(migrated_url: str) -> Iterator[UnitOfWorkFactory]:
    """Units of work on a migrated store: every test using it runs on SQLite and on PostgreSQL."""
    engine = create_engine_for(migrated_url)
    yield UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))
    engine.dispose()


@pytest.fixture
def sessions() -> CrmSessionFactory:
    """Builds the real Dynamics connector, one attempt per call so that failures come back at once."""
    return _dynamics_session


def _dynamics_session(credentials: CrmCredentials) -> CrmSession:
    connection = DynamicsConnection(
        org_url=credentials.org_url,
        credentials=ClientCredentials(
            tenant_id=credentials.tenant_id or "",
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
        ),
        authority=credentials.authority,
        validate_authority=False,
        instance_discovery=False,
        ca_bundle=CaCertificates(credentials.ca_bundle.pem) if credentials.ca_bundle else None,
    )
    return DynamicsConnector.connect(connection, retry_policy=RetryPolicy(max_attempts=1))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """A sandbox seeded with the demo organization (people, a disabled user, an application user)."""
    from salesbridge.sandbox.seeds.seeding import parse_seed

    yield from _serve(build_sandbox(seed=parse_seed("demo")), tmp_path_factory.mktemp("tls"))


@pytest.fixture
def fresh_demo(
    tmp_path_factory: pytest.TempPathFactory, sandbox_signing_key: rsa.RSAPrivateKey
) -> Iterator[RunningSandbox]:
    """A demo sandbox of this test alone (tests change its data)."""
    from salesbridge.sandbox.seeds.seeding import parse_seed

    yield from _serve(
        build_sandbox(signing_key=sandbox_signing_key, seed=parse_seed("demo")), tmp_path_factory.mktemp("tls")
    )


@pytest.fixture
async def acme(store: UnitOfWorkFactory, sessions: CrmSessionFactory, fresh_demo: RunningSandbox) -> uuid.UUID:
    """Organization ``acme`` (5 seats) connected to ``fresh_demo``; a module with an ``acme`` of its own uses that
    one instead."""
    organization_id = create_organization(store, slug="acme", seats=5)
    outcome = await connect_crm(
        store, sessions, slug="acme", credentials=fresh_demo.credentials(), targets=SANDBOX_TARGETS
    )
    assert outcome.is_connected
    return organization_id


def connected_cli(tmp_path: Path, sandbox: RunningSandbox, *, seats: int) -> CliRunner:
    """The real CLI on a SQLite file of its own, with organization ``acme`` (``seats`` seats) connected to
    ``sandbox`` through ``salesbridge crm connect``."""
    from typer.testing import CliRunner

    from salesbridge.cli import app

    runner = CliRunner(
        env={
            "SALESBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "SALESBRIDGE_CREDENTIAL_KEY": generate_key().get_secret_value(),
            "SALESBRIDGE_CRM_ALLOWED_HOSTS": "127.0.0.1",
            "COLUMNS": "200",
        }
    )
    assert runner.invoke(app, ["org", "create", "acme", "--seats", str(seats)]).exit_code == 0
    secret = tmp_path / "secret.txt"
    secret.write_text(sandbox.client_secret, encoding="utf-8")
    connected = runner.invoke(
        app,
        [
            "crm", "connect", "--org", "acme", "--url", sandbox.org_url,
            "--client-id", sandbox.client_id, "--client-secret-file", str(secret),
            "--ca-bundle", str(sandbox.ca_bundle),
        ],
    )  # fmt: skip
    assert connected.exit_code == 0, connected.output
    return runner
