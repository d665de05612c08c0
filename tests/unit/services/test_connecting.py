"""The rules of connecting to the CRM, on the in-memory store with the CRM edge faked: the first connection's
states, a failed re-connect that keeps the working connection, what is refused before anything is sent, and the
audit trail; then the status, and disconnecting. (The same use cases against SQLite, PostgreSQL and the sandbox:
tests/integration/services/test_connect.py and test_disconnect.py.)"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from tests.fakes.store import FakeStore

from salesbridge.crm.ports import (
    CallerIdentity,
    ColumnInfo,
    CrmRecord,
    PrivilegeDepth,
    PrivilegeGrant,
    RecordPage,
    RecordQuery,
    TableInfo,
)
from salesbridge.domain.crm_requirements import RequiredTable
from salesbridge.domain.workspace import CrmCredentials, ImportState
from salesbridge.errors import (
    DifferentCrmOrganizationError,
    NotFoundError,
    SignInRejectedError,
    TransientError,
    UnknownOrganizationError,
)
from salesbridge.services.connecting import INITIAL_IMPORT_REASON, connect_crm, create_organization
from salesbridge.services.crm_status import crm_status
from salesbridge.services.disconnect import disconnect_crm, disconnect_preview
from salesbridge.services.preflight import OutcomeKind
from salesbridge.web.localized import crm_last_error

ORG_URL = "https://acme.crm.dynamics.com"
TENANT = "8c3b0000-0000-0000-0000-00000000ac3e"
CONNECTING_USER = "11111111-0000-0000-0000-000000000001"
REQUIREMENTS = (RequiredTable("lead", ("leadid", "subject"), "prvReadLead"),)
ANA = CrmRecord(
    "systemuser", "00000000-0000-0000-0000-0000000000a1", {"fullname": "Ana", "internalemailaddress": "ana@acme.test"}
)
ROBOT = CrmRecord(
    "systemuser", CONNECTING_USER, {"fullname": "Sync Robot", "applicationid": "5f3c0000-0000-0000-0000-000000000001"}
)


class FakeTargets:
    """Admits every URL; the organization's challenge names :data:`TENANT` (the network edge, faked)."""

    def __init__(self) -> None:
        self.discovered: list[str] = []

    def org_url(self, url: str) -> str:
        return url.rstrip("/").lower()

    def authority(self, url: str) -> str:
        return url.rstrip("/")

    def ca_bundle_names(self) -> tuple[str, ...]:
        return ()

    def ca_bundle_pem(self, name: str) -> str:
        raise AssertionError("no bundle is offered")

    def checked_pem(self, pem: str) -> str:
        return pem

    async def discover(self, org_url: str, ca_bundle_pem: str | None) -> tuple[str, str]:
        self.discovered.append(org_url)
        return TENANT, f"https://login.microsoftonline.com/{TENANT}"


class FakeDynamics:
    """One Dynamics organization as a CRM session factory (the CRM edge, faked): it accepts ``secret``, grants
    ``depth`` on every privilege, has the ``lead`` table, and lists ``users`` (or fails to, with ``users_fail``)."""

    def __init__(
        self,
        *,
        secret: str = "right",
        depth: PrivilegeDepth = PrivilegeDepth.GLOBAL,
        users: tuple[CrmRecord, ...] = (ANA, ROBOT),
        users_fail: bool = False,
    ) -> None:
        self.secret, self.depth, self.users, self.users_fail = secret, depth, users, users_fail
        self.sessions: list[CrmCredentials] = []
        self._credentials: CrmCredentials | None = None
        self.closed = 0

    def __call__(self, credentials: CrmCredentials) -> FakeDynamics:
        self.sessions.append(credentials)
        self._credentials = credentials
        return self

    @property
    def metadata(self) -> FakeDynamics:
        return self

    @property
    def reader(self) -> FakeDynamics:
        return self

    async def close(self) -> None:
        self.closed += 1

    async def who_am_i(self) -> CallerIdentity:
        assert self._credentials is not None
        if self._credentials.client_secret.get_secret_value() != self.secret:
            raise SignInRejectedError("AADSTS7000215: invalid client secret", credential="the client secret")
        return CallerIdentity(user_id=CONNECTING_USER, business_unit_id="bu", organization_id="org")

    async def user_privileges(self, user_id: str) -> tuple[PrivilegeGrant, ...]:
        return (PrivilegeGrant(name="prvReadLead", depth=self.depth, privilege_id="1"),)

    async def user_privilege(self, user_id: str, privilege_name: str) -> tuple[PrivilegeGrant, ...]:
        return await self.user_privileges(user_id)

    async def table(self, table: str) -> TableInfo:
        if table != "lead":
            raise NotFoundError(f"no table {table}")
        return TableInfo("lead", "leads", "leadid", is_change_tracked=True)

    async def columns(self, table: str) -> list[ColumnInfo]:
        return [ColumnInfo("leadid", "Uniqueidentifier"), ColumnInfo("subject", "String")]

    async def query(self, query: RecordQuery) -> AsyncIterator[RecordPage]:
        assert query.table == "systemuser"
        if self.users_fail:
            raise TransientError("the CRM timed out reading systemusers")
        yield RecordPage(self.users)


@pytest.fixture
def acme(store: FakeStore) -> uuid.UUID:
    return create_organization(store, slug="acme", name="Acme", seats=3, actor="ops")


def credentials(secret: str = "right", *, org_url: str = ORG_URL, tenant_id: str | None = None) -> CrmCredentials:
    return CrmCredentials(org_url=org_url, client_id="app-1", client_secret=SecretStr(secret), tenant_id=tenant_id)


async def connect(store: FakeStore, crm: FakeDynamics, secret: str = "right", **kwargs: object) -> OutcomeKind:
    outcome = await connect_crm(
        store,
        crm,
        slug="acme",
        credentials=credentials(secret, **kwargs),  # type: ignore[arg-type]
        targets=FakeTargets(),
        actor="ana@acme.test",
        requirements=REQUIREMENTS,
    )
    return outcome.kind


def queued(store: FakeStore, organization_id: uuid.UUID) -> list[str]:
    with store(organization_id, read_only=True) as uow:
        return [run.reason for run in uow.import_requests.queued()]


def test_creating_an_organization_is_audited_once(store: FakeStore, acme: uuid.UUID) -> None:
    again = create_organization(store, slug="acme", seats=9)

    assert again == acme
    assert store.audit_actions(acme) == ["organization.created"]
    assert crm_status(store, slug="acme").state == "not_configured"


async def test_a_first_connection_is_stored_audited_imports_the_users_and_queues_one_import(
    store: FakeStore, acme: uuid.UUID
) -> None:
    crm = FakeDynamics()

    assert await connect(store, crm) is OutcomeKind.CONNECTED

    status = crm_status(store, slug="acme")
    assert (status.state, status.org_url, status.crm_user_id) == ("connected", ORG_URL, CONNECTING_USER)
    assert status.crm_user_name == "Sync Robot", "the CRM users were imported on the connect's session"
    assert [queued.reason for queued in status.queued_imports] == [INITIAL_IMPORT_REASON]
    assert store.audit_actions(acme) == ["organization.created", "crm.connected", "crm.users_imported"]
    assert crm.sessions[0].tenant_id == TENANT, "the tenant was discovered from the organization"
    assert crm.closed == 1

    assert await connect(store, crm) is OutcomeKind.CONNECTED, "reconnecting the same organization"
    assert queued(store, acme) == [INITIAL_IMPORT_REASON], "no second import is queued"


async def test_a_failed_first_connection_is_stored_as_failed_with_its_reason(store: FakeStore, acme: uuid.UUID) -> None:
    assert await connect(store, FakeDynamics(depth=PrivilegeDepth.LOCAL)) is OutcomeKind.INSUFFICIENT_PRIVILEGES

    status = crm_status(store, slug="acme")
    assert status.state == "failed"
    assert crm_last_error(status, "en") == (
        "Your CRM account doesn't have sufficient access privileges. Check with your CRM administrator.\n"
        "prvReadLead (Global, held: Local)"
    )
    assert crm_last_error(status, "es") != crm_last_error(status, "en")
    assert queued(store, acme) == []
    assert store.audit_actions(acme)[-1] == "crm.connect_failed"


async def test_a_failed_reconnect_keeps_the_working_connection_and_its_import(
    store: FakeStore, acme: uuid.UUID
) -> None:
    crm = FakeDynamics()
    await connect(store, crm)
    with store(acme, read_only=True) as uow:
        before = uow.crm_connection.find()

    outcome = await connect_crm(
        store,
        crm,
        slug="acme",
        credentials=credentials("wrong"),
        targets=FakeTargets(),
        actor="ana@acme.test",
        requirements=REQUIREMENTS,
    )

    assert outcome.kind is OutcomeKind.SIGN_IN_REJECTED
    assert outcome.kept_connection
    with store(acme, read_only=True) as uow:
        assert uow.crm_connection.find() == before
        assert uow.crm_connection.credentials().client_secret.get_secret_value() == "right"
        failure = uow.audit.recent(limit=1)[0]
    assert crm_status(store, slug="acme").state == "connected"
    assert queued(store, acme) == [INITIAL_IMPORT_REASON]
    assert failure.action == "crm.connect_failed"
    assert failure.details["kept_working_connection"] is True
    assert failure.details["outcome"] == "sign_in_rejected"
    assert "wrong" not in str(failure.details), "no secret in the audit log"


async def test_connecting_another_dynamics_organization_is_refused_before_anything_is_sent(
    store: FakeStore, acme: uuid.UUID
) -> None:
    await connect(store, FakeDynamics())
    other = FakeDynamics()

    with pytest.raises(DifferentCrmOrganizationError) as refused:
        await connect(store, other, org_url="https://initech.crm.dynamics.com")

    assert refused.value.org_url == ORG_URL
    assert other.sessions == []


async def test_a_failed_users_import_is_audited_and_the_connection_stands(store: FakeStore, acme: uuid.UUID) -> None:
    assert await connect(store, FakeDynamics(users_fail=True)) is OutcomeKind.CONNECTED

    assert crm_status(store, slug="acme").state == "connected"
    with store(acme, read_only=True) as uow:
        entry = uow.audit.recent(limit=1)[0]
    assert entry.action == "crm.users_import_failed"
    assert entry.details == {"reason": "the CRM timed out reading systemusers"}


async def test_a_tenant_that_is_not_the_organizations_is_refused(store: FakeStore, acme: uuid.UUID) -> None:
    crm = FakeDynamics()

    kind = await connect(store, crm, tenant_id="00000000-0000-0000-0000-000000000bad")

    assert kind is OutcomeKind.TENANT_MISMATCH
    assert crm.sessions == [], "nothing sent with the wrong tenant"
    assert crm_status(store, slug="acme").state == "failed"


async def test_an_unknown_organization_is_refused_before_anything_is_sent(store: FakeStore) -> None:
    crm = FakeDynamics()

    with pytest.raises(UnknownOrganizationError):
        await connect(store, crm)
    with pytest.raises(UnknownOrganizationError):
        crm_status(store, slug="acme")
    assert crm.sessions == []


async def test_disconnecting_cancels_imports_and_the_purge_removes_the_imported_data(
    store: FakeStore, acme: uuid.UUID
) -> None:
    await connect(store, FakeDynamics())
    store.tables(acme).crm_records[("account", "a1")] = {"name": "Contoso"}

    preview = disconnect_preview(store, slug="acme")
    kept = disconnect_crm(store, slug="acme", purge=False, actor="ana@acme.test")

    assert (preview.connected, preview.active_imports, preview.purge.crm_users) == (True, 1, 2)
    assert (kept.was_connected, kept.cancelled_imports, kept.deleted.total) == (True, 1, 0)
    status = crm_status(store, slug="acme")
    assert (status.state, status.org_url) == ("disconnected", ORG_URL), "the data and its origin remain"
    with store(acme, read_only=True) as uow:
        assert [run.state for run in uow.import_runs.recent()] == [ImportState.FAILED]

    purged = disconnect_crm(store, slug="acme", purge=True, actor="ana@acme.test")

    assert (purged.was_connected, purged.deleted.crm_records, purged.deleted.crm_users) == (False, 1, 2)
    assert crm_status(store, slug="acme").state == "not_configured"
    assert store.audit_actions(acme).count("crm.disconnected") == 2
    again = disconnect_crm(store, slug="acme", purge=True, actor="ana@acme.test")
    assert not again.changed_anything
    assert store.audit_actions(acme).count("crm.disconnected") == 2, "nothing to do is not audited"
