"""The connect use case against real sandboxes over TLS and a real SQLite store: the success path and every
outcome of the admin guide, produced by a real situation each, in English and Spanish."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send
from tests.integration.services.conftest import LIMITED_CLIENT_ID, LIMITED_SECRET, RunningSandbox

from salesbridge.errors import CrmError, RequestRejectedError, TlsVerificationError, UpstreamUnavailableError
from salesbridge.sandbox.server import serve_in_thread
from salesbridge.sandbox.tls import TlsMaterial
from salesbridge.services.connect import (
    ConnectOutcome,
    CrmSessionFactory,
    DifferentCrmOrganizationError,
    MissingPrivilege,
    OutcomeKind,
    UnknownOrganizationError,
    connect_crm,
    create_organization,
    crm_status,
    outcome_for_error,
)
from salesbridge.store.uow import UnitOfWorkFactory


@pytest.fixture
def acme(store: UnitOfWorkFactory) -> str:
    create_organization(store, slug="acme", name="Acme", seats=5)
    return "acme"


async def test_a_successful_connection_is_stored_audited_and_queues_the_first_import(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    outcome = await connect_crm(store, sessions, slug=acme, credentials=running.credentials())

    assert outcome.kind is OutcomeKind.CONNECTED
    assert outcome.message("en") == "Successfully connected, sync in progress"
    assert outcome.message("es") == "Conexión realizada, sincronización en curso"
    status = crm_status(store, slug=acme)
    assert status.state == "connected"
    assert status.state_label("en") == "Connected to Microsoft Dynamics"
    assert status.state_label("es") == "Conectado a Microsoft Dynamics"
    assert status.org_url == running.org_url
    assert status.crm_user_id == outcome.crm_user_id == running.sandbox.application.systemuser_id
    assert status.crm_user_name, "the connected CRM user is shown by name once the CRM users are imported"
    assert status.connected_since is not None
    assert status.connected_since <= datetime.now(UTC)
    assert status.last_error is None
    assert [(queued.state, queued.reason) for queued in status.queued_imports] == [
        ("queued", "initial import after connect")
    ]
    organization_id = store.organization_id(acme)
    assert organization_id is not None
    with store(organization_id) as uow:
        actions = [entry.action for entry in uow.audit.recent()]
        assert uow.crm_connection.client_secret().get_secret_value() == running.client_secret
        assert running.client_secret.encode() not in uow.crm_connection.get().client_secret_encrypted
        crm_user_ids = {row.crm_id for row in uow.crm_users.list_all()}
    assert actions == ["crm.users_imported", "crm.connected", "organization.created"]
    assert running.sandbox.application.systemuser_id in crm_user_ids, "the CRM users are imported on connect"
    as_json = status.to_json("es")
    assert as_json["state_label"] == "Conectado a Microsoft Dynamics"
    assert running.client_secret not in json.dumps(as_json)


async def test_reconnecting_the_same_org_queues_no_second_import(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    await connect_crm(store, sessions, slug=acme, credentials=running.credentials())
    again = await connect_crm(store, sessions, slug=acme, credentials=running.credentials())

    assert again.is_connected
    assert len(crm_status(store, slug=acme).queued_imports) == 1


async def test_a_wrong_secret_is_a_rejected_sign_in_naming_the_client_secret(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    outcome = await connect_crm(store, sessions, slug=acme, credentials=running.credentials(secret="wrong-secret"))

    assert outcome.kind is OutcomeKind.SIGN_IN_REJECTED
    assert outcome.credential_to_check == "the client secret"
    assert "client secret" in outcome.message("en")
    assert "secreto de cliente" in outcome.message("es")
    status = crm_status(store, slug=acme)
    assert status.state == "failed"
    assert status.last_error is not None
    assert "client secret" in status.last_error
    assert "wrong-secret" not in status.last_error
    assert not status.queued_imports


async def test_an_unknown_client_is_a_rejected_sign_in_naming_the_client_id(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    credentials = running.credentials(client_id="8d6c2f1e-0000-4000-8000-000000000001")

    outcome = await connect_crm(store, sessions, slug=acme, credentials=credentials)

    assert outcome.kind is OutcomeKind.SIGN_IN_REJECTED
    assert outcome.credential_to_check == "the client (application) id"


async def test_an_untrusted_certificate_is_a_connection_error(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    outcome = await connect_crm(store, sessions, slug=acme, credentials=running.credentials(ca_bundle=False))

    assert outcome.kind is OutcomeKind.CONNECTION_ERROR
    assert outcome.message("en") == "CRM connection error. Try again later."
    assert outcome.message("es") == "Error de conexión con el CRM. Vuelve a intentarlo más tarde."
    assert crm_status(store, slug=acme).state == "failed"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_closed_port_is_a_connection_error(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    credentials = running.credentials()
    # Sign-in at the sandbox's authority succeeds; the organization itself cannot be reached.
    unreachable = type(credentials)(
        org_url=f"https://127.0.0.1:{_closed_port()}",
        tenant_id=credentials.tenant_id,
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        ca_bundle=credentials.ca_bundle,
        authority=credentials.authority,
    )

    outcome = await connect_crm(store, sessions, slug=acme, credentials=unreachable)

    assert outcome.kind is OutcomeKind.CONNECTION_ERROR


class _LoginPortal:
    """A proxy in front of the organization that answers WhoAmI with its own HTML page (a captive portal or a
    misrouted gateway): a 200 the connector cannot use."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope["path"]).endswith("/WhoAmI"):
            body = b"<html><body>Please sign in to the network</body></html>"
            headers = [(b"content-type", b"text/html"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self._app(scope, receive, send)


async def test_an_answer_the_connector_cannot_use_is_an_api_error(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str, tls_material: TlsMaterial
) -> None:
    with serve_in_thread(_LoginPortal(running.sandbox.app), tls=tls_material) as portal:
        base = portal.base_url.rstrip("/")
        credentials = type(running.credentials())(
            org_url=base,
            tenant_id=running.tenant_id,
            client_id=running.client_id,
            client_secret=running.credentials().client_secret,
            ca_bundle=tls_material.ca_bundle,
            authority=f"{base}/{running.tenant_id}",
        )

        outcome = await connect_crm(store, sessions, slug=acme, credentials=credentials)

    assert outcome.kind is OutcomeKind.API_ERROR, outcome
    assert outcome.message("en") == "An error occurred with the CRM API. Try again later."
    assert outcome.message("es") == "Se ha producido un error con la API del CRM. Vuelve a intentarlo más tarde."


async def test_a_user_without_organization_wide_read_has_insufficient_privileges(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    credentials = running.credentials(client_id=LIMITED_CLIENT_ID, secret=LIMITED_SECRET)

    outcome = await connect_crm(store, sessions, slug=acme, credentials=credentials)

    assert outcome.kind is OutcomeKind.INSUFFICIENT_PRIVILEGES
    assert outcome.missing_privileges == (
        MissingPrivilege("prvReadLead", "Global", None),
        MissingPrivilege("prvReadOpportunity", "Global", "Local"),
    )
    assert outcome.message("en") == (
        "Your CRM account doesn't have sufficient access privileges. Check with your CRM administrator."
    )
    assert outcome.message("es") == (
        "Tu cuenta de CRM no tiene suficientes privilegios de acceso. Consulta a tu administrador de CRM."
    )
    status = crm_status(store, slug=acme)
    assert status.last_error is not None
    assert "prvReadLead" in status.last_error


async def test_a_missing_column_and_change_tracking_are_missing_objects(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, customised: RunningSandbox, acme: str
) -> None:
    outcome = await connect_crm(store, sessions, slug=acme, credentials=customised.credentials())

    assert outcome.kind is OutcomeKind.MISSING_OBJECTS
    assert outcome.missing_objects == ("opportunity.stepname", "opportunity: change tracking")
    assert outcome.message("en") == "The CRM objects required by your company could not be read."
    assert outcome.message("es") == "No se han podido leer los objetos de CRM exigidos por tu empresa."


async def test_connecting_a_different_org_is_refused_until_the_data_is_purged(
    store: UnitOfWorkFactory,
    sessions: CrmSessionFactory,
    running: RunningSandbox,
    customised: RunningSandbox,
    acme: str,
) -> None:
    await connect_crm(store, sessions, slug=acme, credentials=running.credentials())

    with pytest.raises(DifferentCrmOrganizationError, match="purged") as refused:
        await connect_crm(store, sessions, slug=acme, credentials=customised.credentials())

    assert "purgar" in refused.value.localized("es")
    status = crm_status(store, slug=acme)
    assert (status.state, status.org_url) == ("connected", running.org_url)


async def test_an_unknown_organization_is_named(store: UnitOfWorkFactory, sessions: CrmSessionFactory) -> None:
    with pytest.raises(UnknownOrganizationError, match="salesbridge org create nobody"):
        crm_status(store, slug="nobody")


def test_organization_creation_is_idempotent(store: UnitOfWorkFactory) -> None:
    first = create_organization(store, slug="globex", seats=3)

    assert create_organization(store, slug="globex", seats=3) == first
    assert crm_status(store, slug="globex").state == "not_configured"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (UpstreamUnavailableError("503", status=503), OutcomeKind.CONNECTION_ERROR),
        (TlsVerificationError("untrusted"), OutcomeKind.CONNECTION_ERROR),
        (RequestRejectedError("bad request", status=400), OutcomeKind.API_ERROR),
        (CrmError("odd"), OutcomeKind.API_ERROR),
    ],
)
def test_errors_map_to_outcomes_in_one_place(error: CrmError, kind: OutcomeKind) -> None:
    outcome: ConnectOutcome = outcome_for_error(error)

    assert outcome.kind is kind
