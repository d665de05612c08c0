"""The connect use case against real sandboxes over TLS and a real SQLite store: the success path and every
outcome of the admin guide, produced by a real situation each, in English and Spanish."""

from __future__ import annotations

import dataclasses
import json
import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tests.integration.off_loop import OffLoopStore
from tests.integration.services.conftest import LIMITED_CLIENT_ID, LIMITED_SECRET, SANDBOX_TARGETS, RunningSandbox

from salesbridge.crm.dynamics import Timeouts
from salesbridge.crm.dynamics.endpoints import DynamicsTargets, EndpointPolicy
from salesbridge.crm.dynamics.trust import CaBundleDirectory
from salesbridge.domain.workspace import CaBundle
from salesbridge.errors import (
    CaBundleError,
    CrmError,
    DifferentCrmOrganizationError,
    EndpointNotAllowedError,
    RequestRejectedError,
    TlsVerificationError,
    UnknownOrganizationError,
    UpstreamUnavailableError,
)
from salesbridge.sandbox.server.serving import serve_in_thread
from salesbridge.sandbox.server.tls import TlsMaterial
from salesbridge.services.connecting import chosen_ca_bundle, connect_crm, create_organization, stored_credentials
from salesbridge.services.crm_status import crm_status
from salesbridge.services.ports import CrmSessionFactory
from salesbridge.services.preflight import ConnectOutcome, MissingPrivilege, OutcomeKind, outcome_for_error
from salesbridge.store.uow import UnitOfWorkFactory
from salesbridge.web.localized import connect_message, crm_last_error, crm_state, crm_status_json


@pytest.fixture
def acme(store: UnitOfWorkFactory) -> str:
    create_organization(store, slug="acme", name="Acme", seats=5)
    return "acme"


async def test_a_successful_connection_is_stored_audited_and_queues_the_first_import(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    outcome = await connect_crm(store, sessions, slug=acme, credentials=running.credentials(), targets=SANDBOX_TARGETS)

    assert outcome.kind is OutcomeKind.CONNECTED
    assert connect_message(outcome, "en") == "Successfully connected, sync in progress"
    assert connect_message(outcome, "es") == "Conexión realizada, sincronización en curso"
    status = crm_status(store, slug=acme)
    assert status.state == "connected"
    assert crm_state(status, "en") == "Connected to Microsoft Dynamics"
    assert crm_state(status, "es") == "Conectado a Microsoft Dynamics"
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
        assert running.client_secret not in repr(uow.crm_connection.get())  # at rest: test_store_credentials
        crm_user_ids = {row.crm_id for row in uow.crm_users.list_all()}
    assert actions == ["crm.users_imported", "crm.connected", "organization.created"]
    assert running.sandbox.application.systemuser_id in crm_user_ids, "the CRM users are imported on connect"
    as_json = crm_status_json(status, "es")
    assert as_json["state_label"] == "Conectado a Microsoft Dynamics"
    assert running.client_secret not in json.dumps(as_json)


async def test_reconnecting_the_same_org_queues_no_second_import(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    await connect_crm(store, sessions, slug=acme, credentials=running.credentials(), targets=SANDBOX_TARGETS)
    again = await connect_crm(store, sessions, slug=acme, credentials=running.credentials(), targets=SANDBOX_TARGETS)

    assert again.is_connected
    assert len(crm_status(store, slug=acme).queued_imports) == 1


async def test_a_wrong_secret_is_a_rejected_sign_in_naming_the_client_secret(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    outcome = await connect_crm(
        store, sessions, slug=acme, credentials=running.credentials(secret="wrong-secret"), targets=SANDBOX_TARGETS
    )

    assert outcome.kind is OutcomeKind.SIGN_IN_REJECTED
    assert connect_message(outcome, "en") == (
        "The sign-in to Microsoft Entra ID was rejected: check the client secret (it is wrong: copy the secret's "
        "value, not its id)."
    )
    assert connect_message(outcome, "es") == (
        "Microsoft Entra ID ha rechazado el inicio de sesión: comprueba el secreto de cliente (es incorrecto: copia el "
        "valor del secreto, no su id.)."
    )
    status = crm_status(store, slug=acme)
    assert status.state == "failed"
    assert status.last_error == connect_message(outcome, "en"), "one sentence, no provider code, no second copy"
    assert crm_last_error(status, "es") == connect_message(outcome, "es")
    assert not status.queued_imports
    organization_id = store.organization_id(acme)
    assert organization_id is not None
    with store(organization_id) as uow:
        action, details = uow.audit.recent()[0].action, json.dumps(uow.audit.recent()[0].details)
    assert action == "crm.connect_failed"
    assert "AADSTS7000215" in details, "the provider's code stays in the audit log"
    assert "wrong-secret" not in details


async def test_an_unknown_client_is_a_rejected_sign_in_naming_the_client_id(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    credentials = running.credentials(client_id="8d6c2f1e-0000-4000-8000-000000000001")

    outcome = await connect_crm(store, sessions, slug=acme, credentials=credentials, targets=SANDBOX_TARGETS)

    assert outcome.kind is OutcomeKind.SIGN_IN_REJECTED
    assert outcome.credential_to_check == (
        "the client (application) id (no application with this id exists in the tenant)"
    )


async def test_an_untrusted_certificate_is_a_connection_error(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    outcome = await connect_crm(
        store, sessions, slug=acme, credentials=running.credentials(ca_bundle=False), targets=SANDBOX_TARGETS
    )

    assert outcome.kind is OutcomeKind.CONNECTION_ERROR
    assert connect_message(outcome, "en") == "CRM connection error. Try again later."
    assert connect_message(outcome, "es") == "Error de conexión con el CRM. Vuelve a intentarlo más tarde."
    assert crm_status(store, slug=acme).state == "failed"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_closed_port_is_a_connection_error(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    # Sign-in at the sandbox's authority succeeds; the organization itself cannot be reached.
    unreachable = dataclasses.replace(
        running.credentials(authority=running.authority), org_url=f"https://127.0.0.1:{_closed_port()}"
    )

    outcome = await connect_crm(store, sessions, slug=acme, credentials=unreachable, targets=SANDBOX_TARGETS)

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
        credentials = dataclasses.replace(
            running.credentials(),
            org_url=base,
            ca_bundle=CaBundle(tls_material.ca_bundle.read_text(encoding="ascii")),
        )

        outcome = await connect_crm(store, sessions, slug=acme, credentials=credentials, targets=SANDBOX_TARGETS)

    assert outcome.kind is OutcomeKind.API_ERROR, outcome
    assert connect_message(outcome, "en") == "An error occurred with the CRM API. Try again later."
    assert (
        connect_message(outcome, "es") == "Se ha producido un error con la API del CRM. Vuelve a intentarlo más tarde."
    )


async def test_a_user_without_organization_wide_read_has_insufficient_privileges(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    credentials = running.credentials(client_id=LIMITED_CLIENT_ID, secret=LIMITED_SECRET)

    outcome = await connect_crm(store, sessions, slug=acme, credentials=credentials, targets=SANDBOX_TARGETS)

    assert outcome.kind is OutcomeKind.INSUFFICIENT_PRIVILEGES
    assert outcome.missing_privileges == (
        MissingPrivilege("prvReadLead", "Global", None),
        MissingPrivilege("prvReadOpportunity", "Global", "Local"),
    )
    assert connect_message(outcome, "en") == (
        "Your CRM account doesn't have sufficient access privileges. Check with your CRM administrator."
    )
    assert connect_message(outcome, "es") == (
        "Tu cuenta de CRM no tiene suficientes privilegios de acceso. Consulta a tu administrador de CRM."
    )
    status = crm_status(store, slug=acme)
    assert status.last_error is not None
    assert "prvReadLead" in status.last_error


async def test_a_missing_column_and_change_tracking_are_missing_objects(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, customised: RunningSandbox, acme: str
) -> None:
    outcome = await connect_crm(
        store, sessions, slug=acme, credentials=customised.credentials(), targets=SANDBOX_TARGETS
    )

    assert outcome.kind is OutcomeKind.MISSING_OBJECTS
    assert outcome.missing_objects == ("opportunity.stepname", "opportunity: change tracking")
    assert connect_message(outcome, "en") == "The CRM objects required by your company could not be read."
    assert connect_message(outcome, "es") == "No se han podido leer los objetos de CRM exigidos por tu empresa."


async def test_connecting_a_different_org_is_refused_until_the_data_is_purged(
    store: UnitOfWorkFactory,
    sessions: CrmSessionFactory,
    running: RunningSandbox,
    customised: RunningSandbox,
    acme: str,
) -> None:
    await connect_crm(store, sessions, slug=acme, credentials=running.credentials(), targets=SANDBOX_TARGETS)

    with pytest.raises(DifferentCrmOrganizationError, match="purged") as refused:
        await connect_crm(store, sessions, slug=acme, credentials=customised.credentials(), targets=SANDBOX_TARGETS)

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


async def test_a_failed_reconnect_keeps_the_working_connection_and_its_imports(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    first = await connect_crm(store, sessions, slug=acme, credentials=running.credentials(), targets=SANDBOX_TARGETS)
    before = crm_status(store, slug=acme)

    again = await connect_crm(
        store, sessions, slug=acme, credentials=running.credentials(secret="wrong-secret"), targets=SANDBOX_TARGETS
    )

    assert first.is_connected
    assert again.kind is OutcomeKind.SIGN_IN_REJECTED
    assert again.kept_connection
    after = crm_status(store, slug=acme)
    assert (after.state, after.crm_user_id, after.connected_since, after.last_error) == (
        "connected",
        before.crm_user_id,
        before.connected_since,
        None,
    )
    assert after.queued_imports == before.queued_imports
    organization_id = store.organization_id(acme)
    assert organization_id is not None
    assert organization_id in store.connected_organization_ids(), "the import runner keeps importing it"
    with store(organization_id) as uow:
        assert uow.crm_connection.client_secret().get_secret_value() == running.client_secret
        latest = uow.audit.recent()[0]
        action, details = latest.action, dict(latest.details)
    assert action == "crm.connect_failed"
    assert details["kept_working_connection"] is True
    assert details["outcome"] == "sign_in_rejected"


async def test_a_failed_first_connection_is_stored_as_failed(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    outcome = await connect_crm(
        store, sessions, slug=acme, credentials=running.credentials(secret="wrong-secret"), targets=SANDBOX_TARGETS
    )

    assert not outcome.kept_connection
    assert crm_status(store, slug=acme).state == "failed"


async def test_the_tenant_and_authority_are_discovered_from_the_organization_url(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    credentials = running.credentials()
    assert credentials.tenant_id is None
    assert credentials.authority is None

    outcome = await connect_crm(store, sessions, slug=acme, credentials=credentials, targets=SANDBOX_TARGETS)

    assert outcome.is_connected, outcome
    organization_id = store.organization_id(acme)
    assert organization_id is not None
    with store(organization_id) as uow:
        stored = stored_credentials(uow)
    assert (stored.tenant_id, stored.authority) == (running.tenant_id, running.authority)


async def test_a_given_tenant_id_that_disagrees_with_the_organization_is_refused(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    other_tenant = str(uuid.uuid4())

    outcome = await connect_crm(
        store, sessions, slug=acme, credentials=running.credentials(tenant_id=other_tenant), targets=SANDBOX_TARGETS
    )
    matching = await connect_crm(
        store,
        sessions,
        slug=acme,
        credentials=running.credentials(tenant_id=running.tenant_id.upper()),
        targets=SANDBOX_TARGETS,
    )

    assert outcome.kind is OutcomeKind.TENANT_MISMATCH
    assert connect_message(outcome, "en") == (
        f"The tenant id does not match this Dynamics organization, which belongs to tenant {running.tenant_id}: "
        "correct it, or leave it empty to use the organization's."
    )
    assert running.tenant_id in connect_message(outcome, "es")
    assert connect_message(outcome, "es") != connect_message(outcome, "en")
    assert matching.is_connected


async def test_an_organization_outside_dynamics_is_refused_before_anything_is_sent(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    dynamics_only = DynamicsTargets()

    with pytest.raises(EndpointNotAllowedError) as refused_url:
        await connect_crm(store, sessions, slug=acme, credentials=running.credentials(), targets=dynamics_only)
    with pytest.raises(EndpointNotAllowedError) as refused_authority:
        await connect_crm(
            store,
            sessions,
            slug=acme,
            credentials=dataclasses.replace(
                running.credentials(authority=running.authority), org_url="https://contoso.crm4.dynamics.com"
            ),
            targets=dynamics_only,
        )

    assert "Dynamics 365" in refused_url.value.localized("en")
    assert "Dynamics 365" in refused_url.value.localized("es")
    assert "Microsoft Entra ID" in refused_authority.value.localized("en")
    assert crm_status(store, slug=acme).state == "not_configured", "nothing stored"


def _open_port_speaking_no_tls() -> tuple[socket.socket, int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    return listener, int(listener.getsockname()[1])


async def test_open_and_closed_ports_read_the_same(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str
) -> None:
    # The open port accepts and never answers the TLS handshake, so discovering the tenant ends on the connection
    # timeout: the operator's default (10 s) would only make the test wait longer for the same outcome.
    targets = DynamicsTargets(EndpointPolicy(["127.0.0.1"]), timeouts=Timeouts(connect_s=0.5, read_s=1.0))
    listener, open_port = _open_port_speaking_no_tls()
    with listener:
        opened = await connect_crm(
            store,
            sessions,
            slug=acme,
            credentials=dataclasses.replace(running.credentials(), org_url=f"https://127.0.0.1:{open_port}"),
            targets=targets,
        )
    closed = await connect_crm(
        store,
        sessions,
        slug=acme,
        credentials=dataclasses.replace(running.credentials(), org_url=f"https://127.0.0.1:{_closed_port()}"),
        targets=targets,
    )

    assert opened.kind is closed.kind is OutcomeKind.CONNECTION_ERROR
    for locale in ("en", "es"):
        assert connect_message(opened, locale) == connect_message(closed, locale)
    assert crm_status(store, slug=acme).last_error == connect_message(closed, "en")


async def test_a_ca_bundle_offered_by_the_operator_is_chosen_by_name(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str, tmp_path: Path
) -> None:
    offered = tmp_path / "bundles"
    offered.mkdir()
    (offered / "sandbox.pem").write_text(running.ca_bundle.read_text(encoding="ascii"), encoding="ascii")
    targets = DynamicsTargets(EndpointPolicy(["127.0.0.1"]), CaBundleDirectory(offered))

    bundle = chosen_ca_bundle(targets, name="sandbox")
    outcome = await connect_crm(
        store,
        sessions,
        slug=acme,
        credentials=dataclasses.replace(running.credentials(), ca_bundle=bundle),
        targets=targets,
    )

    assert targets.ca_bundle_names() == ("sandbox",)
    assert outcome.is_connected, outcome
    organization_id = store.organization_id(acme)
    assert organization_id is not None
    with store(organization_id) as uow:
        stored = stored_credentials(uow)
    assert stored.ca_bundle is not None
    assert stored.ca_bundle.name == "sandbox"


def test_ca_bundles_reveal_nothing_about_the_servers_files(tmp_path: Path) -> None:
    offered = tmp_path / "bundles"
    offered.mkdir()
    (offered / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    secret_key = tmp_path / "id_rsa"
    secret_key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    targets = DynamicsTargets(ca_bundles=CaBundleDirectory(offered))
    attempts = {
        "missing file": {"name": "no-such-bundle"},
        "path outside the directory": {"name": str(secret_key)},
        "relative escape": {"name": "../id_rsa"},
        "bad file in the directory": {"name": "broken"},
        "uploaded text that is not PEM": {"pem": "hello"},
        "uploaded private key": {"pem": secret_key.read_text()},
    }

    messages = set()
    for attempt in attempts.values():
        with pytest.raises(CaBundleError) as refused:
            chosen_ca_bundle(targets, **attempt)
        messages.add(refused.value.localized("en"))

    assert targets.ca_bundle_names() == ("broken",)
    assert len(messages) == 1, messages


class _NoChallenge:
    """A gateway in front of the organization that drops the bearer challenge from its 401 answers."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def without_challenge(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [(n, v) for n, v in message["headers"] if n.lower() != b"www-authenticate"]
            await send(message)

        await self._app(scope, receive, without_challenge)


async def test_an_organization_that_names_no_authority_is_an_api_error(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str, tls_material: TlsMaterial
) -> None:
    with serve_in_thread(_NoChallenge(running.sandbox.app), tls=tls_material) as gateway:
        credentials = dataclasses.replace(
            running.credentials(),
            org_url=gateway.base_url.rstrip("/"),
            ca_bundle=CaBundle(tls_material.ca_bundle.read_text(encoding="ascii")),
        )

        outcome = await connect_crm(store, sessions, slug=acme, credentials=credentials, targets=SANDBOX_TARGETS)

    assert outcome.kind is OutcomeKind.API_ERROR, outcome
    assert outcome.reason is not None
    assert "no bearer challenge" in outcome.reason


class _SystemusersRefused:
    """A gateway in front of the organization that refuses every query of the systemuser table (single users, as the
    pre-flight reads them, still pass)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/").endswith("/systemusers"):
            body = json.dumps({"error": {"code": "0x80040203", "message": "systemusers cannot be listed today"}})
            headers = [(b"content-type", b"application/json; charset=utf-8")]
            await send({"type": "http.response.start", "status": 400, "headers": headers})
            await send({"type": "http.response.body", "body": body.encode()})
            return
        await self._app(scope, receive, send)


async def test_a_failed_users_import_after_connecting_is_audited_off_the_event_loop(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, running: RunningSandbox, acme: str, tls_material: TlsMaterial
) -> None:
    watched = OffLoopStore(store)
    with serve_in_thread(_SystemusersRefused(running.sandbox.app), tls=tls_material) as gateway:
        credentials = dataclasses.replace(
            running.credentials(),
            org_url=gateway.base_url.rstrip("/"),
            ca_bundle=CaBundle(tls_material.ca_bundle.read_text(encoding="ascii")),
        )

        outcome = await connect_crm(watched, sessions, slug=acme, credentials=credentials, targets=SANDBOX_TARGETS)  # type: ignore[arg-type]

    assert outcome.kind is OutcomeKind.CONNECTED, outcome
    assert watched.on_loop == [], "the connect's store work, the failure's audit included, ran on worker threads"
    organization_id = store.organization_id(acme)
    assert organization_id is not None
    with store(organization_id) as uow:
        failure = uow.audit.recent(limit=1)[0]
    assert failure.action == "crm.users_import_failed"
    assert "systemusers cannot be listed today" in str(failure.details["reason"])
    assert crm_status(store, slug=acme).state == "connected"
