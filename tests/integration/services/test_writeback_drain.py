"""The writeback drainer end to end on SQLite and PostgreSQL, against a real sandbox over TLS with the CRM-side app
installed: activities logged by a seller are written on the contact matching picked, owned and created by the
seller's CRM user; an activity waits for a match and goes when matching ties its person; a seat whose CRM sync is
off holds its activities, saying why, until it is turned on; an edit updates the CRM row; a record Dynamics refuses
is parked with Dynamics' code and message, a CRM that is down leaves the batch failing with a backoff; writeback
turned off meanwhile keeps the activity in the workspace.

Nothing is faked: the workspace is connected, imported and matched through its use cases, the CRM is the sandbox
behind real TLS, and its failures are the sandbox's own (a deleted record, injected 503s).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from tests.fakes.store import FakeClock
from tests.integration.services.conftest import SANDBOX_TARGETS, RunningSandbox, _serve

from salesbridge.bootstrap import console_services
from salesbridge.crm.dynamics import DynamicsConnector
from salesbridge.crm.ports import ActivityRecord, LookupValue, RequestUsage, WriteReport
from salesbridge.domain.crm_app import CRM_APP, MissingKind, missing_items
from salesbridge.domain.people import Company, Person
from salesbridge.domain.workspace import SeatState
from salesbridge.domain.writeback import (
    APP_CHECK_FIRST,
    ActivityDraft,
    DataItem,
    DeliveryState,
    Direction,
    SeatHold,
    WritebackSettings,
    crm_activity_id,
)
from salesbridge.errors import CrmTableMissingError
from salesbridge.i18n import translate
from salesbridge.jobs.runner import EmbeddedRunner
from salesbridge.sandbox.assembly import Sandbox, build_sandbox
from salesbridge.sandbox.organization.foundation import SALESPERSON_ROLE_ID, RowWriter
from salesbridge.sandbox.server.faults import FaultConfig
from salesbridge.services.activities import (
    CRM_APP_MISSING_REASON,
    delivery_reason,
    edit_activity,
    get_activity,
    log_activity,
)
from salesbridge.services.connecting import connect_crm, create_organization
from salesbridge.services.crm_app import install_crm_app
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.matching import run_requested_matching
from salesbridge.services.people import delete_person
from salesbridge.services.ports import CrmSessionFactory
from salesbridge.services.seats import SeatService
from salesbridge.services.sync import request_sync
from salesbridge.services.writeback import CRM_APP_MISSING_STATUS, set_writeback_settings, writeback_status
from salesbridge.store.uow import UnitOfWorkFactory, utc_now
from salesbridge.sync.writeback import CLAIM_CHUNK, DEFAULT_LEASE, DrainSummary, drain_organization, has_due
from salesbridge.web.app import create_app
from salesbridge.web.localized import writeback_throttled_message

WHEN = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
ACTIVITY_COLUMNS = "_createdby_value,_createdonbehalfby_value,_ownerid_value,_regardingobjectid_value,subject"


@pytest.fixture
def crm(tmp_path_factory: pytest.TempPathFactory, sandbox_signing_key: rsa.RSAPrivateKey) -> Iterator[RunningSandbox]:
    """A sandbox of the test's own: matching sees no other test's contacts."""
    yield from _serve(build_sandbox(signing_key=sandbox_signing_key), tmp_path_factory.mktemp("tls"))


@dataclass
class Acme:
    """Organization ``acme`` connected to the sandbox with the app installed and writeback on: seller Ana holds an
    active seat matched (by email) to a CRM user with Dynamics' Salesperson role, and person ``p1`` is tied to a
    contact of the CRM."""

    store: UnitOfWorkFactory
    sessions: CrmSessionFactory
    crm: RunningSandbox
    connector: DynamicsConnector
    id: uuid.UUID
    ana: uuid.UUID
    ana_crm: str
    person: uuid.UUID
    contact: str
    tag: str

    def draft(self, client_id: str, item: DataItem, *, person: uuid.UUID | None = None, **values: Any) -> ActivityDraft:
        return ActivityDraft(
            client_id=client_id,
            item=item,
            person_id=person or self.person,
            company_id=None,
            subject=values.get("subject"),
            body=values.get("body", f"About the renewal ({item.value})"),
            direction=values.get("direction", Direction.OUTGOING),
            occurred_at=WHEN,
            conversation_id=values.get("conversation_id"),
        )

    def log(self, client_id: str, item: DataItem, **values: Any) -> uuid.UUID:
        activity, created = log_activity(
            self.store, self.id, self.ana, self.draft(client_id, item, **values), clock=utc_now
        )
        assert created
        return activity.id

    async def drain(self) -> dict[str, Any]:
        summary = await drain_organization(self.store, self.sessions, self.id, clock=utc_now)  # type: ignore[arg-type]
        return summary.to_dict()

    def state(self, activity_id: uuid.UUID) -> tuple[DeliveryState, SeatHold | None]:
        delivery = get_activity(self.store, self.id, activity_id).delivery
        return delivery.state, delivery.hold

    def crm_id(self, activity_id: uuid.UUID) -> str:
        return crm_activity_id(self.id, activity_id)

    async def row(self, entity_set: str, activity_id: uuid.UUID, select: str = ACTIVITY_COLUMNS) -> dict[str, Any]:
        found: dict[str, Any] = await self.connector.client.get_json(
            f"{entity_set}({self.crm_id(activity_id)})", params={"$select": select}
        )
        return found

    async def pointers(self, regarding: str) -> dict[str, str]:
        page = await self.connector.client.get_json(
            "activitypointers",
            params={"$select": "activityid,activitytypecode", "$filter": f"_regardingobjectid_value eq {regarding}"},
        )
        return {row["activityid"]: row["activitytypecode"] for row in page["value"]}

    async def contact_for(self, first: str, last: str, email: str) -> str:
        contact_id = str(uuid.uuid4())
        await self.connector.writer.create(
            "contact", {"firstname": first, "lastname": last, "emailaddress1": email}, record_id=contact_id
        )
        return contact_id

    def add_person(self, person: Person) -> uuid.UUID:
        """Load ``person`` into the workspace; its id."""
        with self.store(self.id) as uow:
            uow.people.upsert_many([person])
            stored = uow.people.get_by_external_id(person.external_id)
            uow.commit()
        assert stored is not None
        assert stored.id is not None
        return stored.id

    async def sync_and_match(self) -> None:
        request_sync(self.store, slug="acme", actor="admin@acme.test")
        outcome = await run_pending_import(self.store, self.sessions, self.id, clock=utc_now)
        assert outcome is not None
        assert outcome.succeeded, outcome.error
        run_requested_matching(self.store, self.id, clock=utc_now)


def add_seller(sandbox: Sandbox, name: str, email: str) -> str:
    """A CRM user with Dynamics' Salesperson role (the seller the activities are written as)."""
    state = sandbox.services.state
    application_user = sandbox.application.systemuser_id
    with state.storage.transaction():
        user = RowWriter(state).insert(
            "systemuser",
            {
                "firstname": name,
                "lastname": "Seller",
                "fullname": f"{name} Seller",
                "internalemailaddress": email,
                "azureactivedirectoryobjectid": str(uuid.uuid4()),
                "isdisabled": 0,
                "accessmode": 0,
                "businessunitid": state.security.business_unit_of(application_user),
                "businessunitid__type": "businessunit",
            },
        )
        state.security.assign_role(user, SALESPERSON_ROLE_ID)
    return str(user)


@pytest.fixture
async def acme(store: UnitOfWorkFactory, sessions: CrmSessionFactory, crm: RunningSandbox) -> AsyncIterator[Acme]:
    tag = uuid.uuid4().hex[:8]
    organization_id = create_organization(store, slug="acme", seats=5)
    outcome = await connect_crm(store, sessions, slug="acme", credentials=crm.credentials(), targets=SANDBOX_TARGETS)
    assert outcome.is_connected
    await install_crm_app(store, sessions, slug="acme")  # type: ignore[arg-type]
    email = f"ana.{tag}@acme.test"
    ana_crm = add_seller(crm.sandbox, "Ana", email)
    person_email = f"pat.{tag}@contoso.com"
    with store(organization_id) as uow:
        ana = uow.users.add(email=email, display_name="Ana Seller").id
        uow.seats.add(user_id=ana, state=SeatState.ACTIVE, assigned_by="admin@acme.test")
        uow.people.upsert_many(
            [Person(external_id="p1", first_name="Patricia", last_name=f"Lee{tag}", emails=(person_email,))]
        )
        person = uow.people.get_by_external_id("p1")
        uow.commit()
    assert person is not None
    assert person.id is not None
    connector = sessions(crm.connected_credentials())
    assert isinstance(connector, DynamicsConnector)
    workspace = Acme(store, sessions, crm, connector, organization_id, ana, ana_crm, person.id, "", tag)
    workspace.contact = await workspace.contact_for("Patricia", f"Lee{tag}", person_email)
    await workspace.sync_and_match()  # imports the seller (the seat matches by email) and the contact
    with store(organization_id, read_only=True) as uow:
        seat = uow.seats.find_by_user(ana)
        assert seat is not None
        assert seat.crm_user_id is not None
        assert [link.crm_id for link in uow.matches.links_to([person.id]) if link.is_tie] == [workspace.contact]
    await set_writeback_settings(
        store,
        sessions,  # type: ignore[arg-type]
        organization_id,
        WritebackSettings(enabled=True),
        actor="admin@acme.test",
    )
    yield workspace
    await connector.close()


@contextmanager
def seller_api(acme: Acme) -> Iterator[TestClient]:
    """The console's API (built by the composition root) with Ana's bearer token, as her phone sends it."""
    services = console_services(acme.store, targets=SANDBOX_TARGETS, sessions=acme.sessions)
    principal = services.accounts.principal_of("acme", f"ana.{acme.tag}@acme.test")
    _, token = services.accounts.create_api_token(principal, "phone")
    app = create_app(services, public_base_url="https://console.test")
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
    with TestClient(app, base_url="https://console.test", headers=headers) as client:
        yield client


def logged(response: Any) -> uuid.UUID:
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


async def test_an_inmail_a_message_a_note_and_a_call_logged_through_the_api_land_on_the_matched_contact_as_the_seller(
    acme: Acme,
) -> None:
    activities = "/api/v1/orgs/acme/activities"
    base = {"person_id": str(acme.person), "occurred_at": WHEN.isoformat()}
    with seller_api(acme) as phone:
        inmail = logged(
            phone.post(
                activities,
                json={
                    **base,
                    "client_id": "i-1",
                    "type": "inmail",
                    "subject": "Hello Pat",
                    "body": "Hi!",
                    "conversation_id": "conv-1",
                },
            )
        )
        message = logged(
            phone.post(
                activities,
                json={
                    **base,
                    "client_id": "m-1",
                    "type": "message",
                    "body": "Thanks!\nSee you",
                    "direction": "incoming",
                },
            )
        )
        note = logged(
            phone.post(
                activities,
                json={**base, "client_id": "n-1", "type": "note", "subject": "Met at the fair", "body": "Wants a demo"},
            )
        )
        call = logged(
            phone.post(
                activities, json={**base, "client_id": "c-1", "type": "call", "subject": "Intro call", "body": "20 min"}
            )
        )

        summary = await acme.drain()

        assert (summary["delivered"], summary["writes"], summary["failing"], summary["parked"]) == (4, 1, 0, 0)
        application_user = acme.crm.sandbox.application.systemuser_id
        for entity_set, activity_id, subject in (
            ("sbr_inmails", inmail, "Hello Pat"),
            ("sbr_messages", message, "Thanks!"),
            ("phonecalls", call, "Intro call"),
        ):
            row = await acme.row(entity_set, activity_id)
            assert (row["_ownerid_value"], row["_createdby_value"]) == (acme.ana_crm, acme.ana_crm), entity_set
            assert row["_createdonbehalfby_value"] == application_user
            assert (row["_regardingobjectid_value"], row["subject"]) == (acme.contact, subject)
        inmail_row = await acme.row("sbr_inmails", inmail, "sbr_externalid,sbr_conversationid,_sbr_sellerid_value")
        assert (inmail_row["sbr_externalid"], inmail_row["sbr_conversationid"]) == (str(inmail), "conv-1")
        assert inmail_row["_sbr_sellerid_value"] == acme.ana_crm
        note_row = await acme.row(
            "annotations",
            note,
            "subject,notetext,_objectid_value,_ownerid_value,_createdby_value,_createdonbehalfby_value",
        )
        assert (note_row["subject"], note_row["_objectid_value"]) == ("Met at the fair", acme.contact)
        assert (note_row["_ownerid_value"], note_row["_createdby_value"]) == (acme.ana_crm, acme.ana_crm)
        assert note_row["_createdonbehalfby_value"] == application_user
        assert await acme.pointers(acme.contact) == {
            acme.crm_id(inmail): "sbr_inmail",
            acme.crm_id(message): "sbr_message",
            acme.crm_id(call): "phonecall",
        }
        for activity_id in (inmail, message, note, call):
            delivery = phone.get(f"{activities}/{activity_id}").json()["delivery"]
            assert delivery["state"] == "delivered"
            assert delivery["regarding"] == {"table": "contact", "crm_id": acme.contact}
        assert (await acme.drain())["claimed"] == 0, "nothing is due once delivered"

        edited = phone.patch(
            f"{activities}/{message}", json={"subject": "Thanks again", "body": "Edited", "expected_version": 1}
        )
        assert edited.status_code == 200, edited.text
        assert (await acme.drain())["delivered"] == 1
        row = await acme.row("sbr_messages", message, "subject,sbr_body")
        assert (row["subject"], row["sbr_body"]) == ("Thanks again", "Edited")
        assert len(await acme.pointers(acme.contact)) == 3, "the edit updated its row; it made no other"


async def test_an_activity_waits_for_a_match_and_is_delivered_when_matching_ties_its_person(acme: Acme) -> None:
    email = f"sam.{acme.tag}@fabrikam.com"
    sam = acme.add_person(Person(external_id="p2", first_name="Samuel", last_name=f"Ortiz{acme.tag}", emails=(email,)))
    prospect = acme.add_person(Person(external_id="p9", first_name="Priya", last_name=f"Nair{acme.tag}"))
    waiting = acme.log("w-1", DataItem.NOTE, person=sam)
    unmatched = acme.log("w-2", DataItem.INMAIL, person=prospect)  # a prospect the CRM does not hold

    summary = await acme.drain()

    assert (summary["waiting_for_match"], summary["writes"]) == (2, 0)
    assert acme.state(waiting) == (DeliveryState.WAITING_FOR_MATCH, None)
    contact = await acme.contact_for("Samuel", f"Ortiz{acme.tag}", email)
    await acme.sync_and_match()  # the run ties Samuel and puts his waiting activity back in the queue
    assert acme.state(waiting) == (DeliveryState.QUEUED, None)
    assert acme.state(unmatched) == (DeliveryState.WAITING_FOR_MATCH, None), "still untied: left waiting"

    summary = await acme.drain()
    assert (summary["claimed"], summary["delivered"]) == (1, 1), "the drain decided only what the run tied"
    row = await acme.row("annotations", waiting, "_objectid_value,_ownerid_value")
    assert (row["_objectid_value"], row["_ownerid_value"]) == (contact, acme.ana_crm)


async def test_a_seat_whose_crm_sync_is_off_holds_its_activity_saying_why_until_it_is_turned_on(acme: Acme) -> None:
    seats = SeatService(acme.store, clock=utc_now)
    queued = acme.log("s-1", DataItem.CALL)
    seats.set_sync_all_seats("acme", enabled=False, actor="admin@acme.test")
    with acme.store(acme.id, read_only=True) as uow:
        seat = uow.seats.find_by_user(acme.ana)
    assert seat is not None
    seats.set_seat_crm_sync("acme", seat.id, enabled=False, actor="admin@acme.test")

    summary = await acme.drain()

    assert (summary["waiting_for_seat"], summary["writes"]) == (1, 0)
    assert acme.state(queued) == (DeliveryState.WAITING_FOR_SEAT, SeatHold.CRM_SYNC_OFF)
    reason = delivery_reason(get_activity(acme.store, acme.id, queued).delivery)
    assert reason.read(lambda message: message) == "Waiting: CRM sync is off for the seller's seat"
    assert reason.read(lambda message: translate(message, "es")).startswith("En espera")
    seats.set_seat_crm_sync("acme", seat.id, enabled=True, actor="admin@acme.test")
    assert acme.state(queued) == (DeliveryState.QUEUED, None)
    assert (await acme.drain())["delivered"] == 1
    assert (await acme.row("phonecalls", queued))["_ownerid_value"] == acme.ana_crm

    seats.set_seat_crm_sync("acme", seat.id, enabled=False, actor="admin@acme.test")
    later = acme.log("s-2", DataItem.CALL)
    assert acme.state(later) == (DeliveryState.WAITING_FOR_SEAT, SeatHold.CRM_SYNC_OFF)
    seats.set_sync_all_seats("acme", enabled=True, actor="admin@acme.test")  # "Sync CRM for all seats"
    assert acme.state(later) == (DeliveryState.QUEUED, None)
    assert (await acme.drain())["delivered"] == 1


async def test_an_edit_of_a_delivered_activity_updates_its_crm_row(acme: Acme) -> None:
    message = acme.log("e-1", DataItem.MESSAGE, subject="First", body="First draft")
    note = acme.log("e-2", DataItem.NOTE, subject="Note", body="Before")
    assert (await acme.drain())["delivered"] == 2

    edit_activity(acme.store, acme.id, acme.ana, message, subject="Second", body="Edited text", expected_version=1)
    edit_activity(acme.store, acme.id, acme.ana, note, subject="Note", body="After", expected_version=1)
    assert (await acme.drain())["delivered"] == 2

    row = await acme.row("sbr_messages", message, "subject,sbr_body")
    assert (row["subject"], row["sbr_body"]) == ("Second", "Edited text")
    assert (await acme.row("annotations", note, "notetext"))["notetext"] == "After"
    assert list(await acme.pointers(acme.contact)) == [acme.crm_id(message)], "one row, updated"
    assert get_activity(acme.store, acme.id, message).delivery.delivered_version == 2


async def test_an_edit_of_an_activity_whose_person_was_deleted_since_updates_its_crm_row_where_it_was_written(
    acme: Acme,
) -> None:
    """Matching can never tie a deleted person again: an edit of their delivered activity updates the CRM row on the
    record it was written on, instead of waiting for a match forever (found by QA)."""
    message = acme.log("g-1", DataItem.MESSAGE, subject="First", body="First draft")
    assert (await acme.drain())["delivered"] == 1
    delete_person(acme.store, acme.id, acme.person, actor="admin@acme.test")
    with acme.store(acme.id, read_only=True) as uow:
        assert uow.matches.links_to([acme.person]) == []

    edit_activity(acme.store, acme.id, acme.ana, message, subject="Second", body="Edited", expected_version=1)
    summary = await acme.drain()

    assert (summary["delivered"], summary["waiting_for_match"]) == (1, 0)
    row = await acme.row("sbr_messages", message, "subject,sbr_body,_regardingobjectid_value")
    assert (row["subject"], row["sbr_body"], row["_regardingobjectid_value"]) == ("Second", "Edited", acme.contact)
    delivery = get_activity(acme.store, acme.id, message).delivery
    assert (delivery.state, delivery.delivered_version) == (DeliveryState.DELIVERED, 2)


async def test_a_record_dynamics_refuses_is_parked_with_its_code_and_message_and_the_rest_is_delivered(
    acme: Acme,
) -> None:
    good = acme.log("r-1", DataItem.INMAIL)
    email = f"gone.{acme.tag}@contoso.com"
    gone_person = acme.add_person(
        Person(external_id="p3", first_name="Gonzalo", last_name=f"Ruiz{acme.tag}", emails=(email,))
    )
    gone_contact = await acme.contact_for("Gonzalo", f"Ruiz{acme.tag}", email)
    await acme.sync_and_match()
    await acme.connector.writer.delete("contact", gone_contact)  # deleted in the CRM after the workspace matched it
    refused = acme.log("r-2", DataItem.INMAIL, person=gone_person)

    summary = await acme.drain()

    assert (summary["delivered"], summary["parked"], summary["writes"]) == (1, 1, 1)
    assert acme.state(good) == (DeliveryState.DELIVERED, None)
    delivery = get_activity(acme.store, acme.id, refused).delivery
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == (DeliveryState.PARKED, 1, None)
    assert delivery.error_code == "0x80040217"
    assert delivery.error_message is not None
    assert gone_contact in delivery.error_message
    assert (await acme.drain())["claimed"] == 0, "a parked activity waits for a retry by hand"


async def test_a_seller_disabled_in_dynamics_since_the_last_import_waits_for_the_seat_and_goes_once_enabled_again(
    acme: Acme,
) -> None:
    """Dynamics refuses to act as a CRM user disabled after the workspace last read its users (0x80040225): the
    activities wait for the seat, saying so, instead of being parked; the import that sees the user enabled again
    puts them back in the queue, and they are delivered as the seller."""
    inmail = acme.log("d-1", DataItem.INMAIL)  # a bulk (UpsertMultiple) request
    note = acme.log("d-2", DataItem.NOTE)  # a $batch part
    await acme.connector.writer.update("systemuser", acme.ana_crm, {"isdisabled": True})

    summary = await acme.drain()

    assert (summary["waiting_for_seat"], summary["parked"], summary["delivered"]) == (2, 0, 0)
    assert summary["errors"] == {"0x80040225": 2}
    for activity in (inmail, note):
        assert acme.state(activity) == (DeliveryState.WAITING_FOR_SEAT, SeatHold.CRM_USER_DISABLED)
    reason = delivery_reason(get_activity(acme.store, acme.id, note).delivery)
    assert reason.read(lambda message: message) == "Waiting: the seller's CRM user is disabled"
    assert (await acme.drain())["claimed"] == 0, "held until the CRM users are read again"

    await acme.connector.writer.update("systemuser", acme.ana_crm, {"isdisabled": False})
    await acme.sync_and_match()  # the import reads the enabled user and puts the seat's activities back in the queue
    assert acme.state(inmail) == (DeliveryState.QUEUED, None)

    assert (await acme.drain())["delivered"] == 2
    assert (await acme.row("sbr_inmails", inmail))["_createdby_value"] == acme.ana_crm
    assert (await acme.row("annotations", note, "_ownerid_value"))["_ownerid_value"] == acme.ana_crm


async def test_a_crm_that_is_down_leaves_the_batch_failing_with_a_backoff_then_it_is_delivered(acme: Acme) -> None:
    activity = acme.log("t-1", DataItem.NOTE)
    assert has_due(acme.store, acme.id, now=utc_now())
    faults = acme.crm.sandbox.services.faults
    faults.configure(FaultConfig(unavailable_rate=1.0))
    try:
        before = datetime.now(UTC)
        summary = await acme.drain()
    finally:
        faults.configure(FaultConfig())

    assert (summary["failing"], summary["delivered"]) == (1, 0)
    delivery = get_activity(acme.store, acme.id, activity).delivery
    assert (delivery.state, delivery.attempts, delivery.error_code) == (DeliveryState.FAILING, 1, "0x80040216")
    assert delivery.next_attempt_at is not None
    assert delivery.next_attempt_at >= before + timedelta(seconds=30)
    assert (await acme.drain())["claimed"] == 0, "not before its next attempt"
    assert not has_due(acme.store, acme.id, now=utc_now()), "the runner and the sweep leave it until then"

    later = delivery.next_attempt_at + timedelta(seconds=1)
    assert has_due(acme.store, acme.id, now=later)
    summary = await drain_organization(
        acme.store,
        acme.sessions,  # type: ignore[arg-type]
        acme.id,
        clock=lambda: later,
    )
    assert summary.delivered == 1
    delivered = get_activity(acme.store, acme.id, activity).delivery
    assert (delivered.state, delivered.attempts, delivered.error_code) == (DeliveryState.DELIVERED, 0, None)


async def test_a_drain_dynamics_throttles_says_so_in_the_status_until_a_minute_after_the_wait_it_asked_for(
    acme: Acme,
) -> None:
    """Dynamics answers 429 with ``Retry-After: 30``: the drain records until when it throttles, and the status
    says, in English and in Spanish, that writeback tries again then and that nothing is to be done; a minute
    after that time it says nothing any more."""
    activity = acme.log("r-1", DataItem.NOTE)
    assert writeback_status(acme.store, acme.id, clock=utc_now).throttled_until is None, "never throttled"
    faults = acme.crm.sandbox.services.faults
    faults.configure(FaultConfig(throttle_rate=1.0, throttle_retry_after_s=30))
    try:
        before = utc_now()
        summary = await acme.drain()
    finally:
        faults.configure(FaultConfig())

    assert (summary["failing"], summary["delivered"]) == (1, 0)
    assert get_activity(acme.store, acme.id, activity).delivery.state is DeliveryState.FAILING
    until = writeback_status(acme.store, acme.id, clock=utc_now).throttled_until
    assert until is not None
    assert before + timedelta(seconds=29) <= until <= utc_now() + timedelta(seconds=30)
    when = until.strftime("%H:%M:%S UTC")
    assert writeback_throttled_message(until, "en") == (
        f"Dynamics is throttling requests: writeback tries again at {when}. Nothing to do: it goes on by itself."
    )
    assert writeback_throttled_message(until, "es") == (
        f"Dynamics está limitando las solicitudes: la reescritura vuelve a intentarlo a las {when}. "
        "No hace falta hacer nada: continúa sola."
    )
    assert writeback_status(acme.store, acme.id, clock=lambda: until + timedelta(seconds=60)).throttled_until == until
    assert writeback_status(acme.store, acme.id, clock=lambda: until + timedelta(seconds=61)).throttled_until is None


async def test_writeback_turned_off_before_the_drain_keeps_the_activity_in_the_workspace(acme: Acme) -> None:
    activity = acme.log("o-1", DataItem.INMAIL)
    await set_writeback_settings(
        acme.store,
        acme.sessions,  # type: ignore[arg-type]
        acme.id,
        WritebackSettings(enabled=True, items=frozenset({DataItem.NOTE})),
        actor="admin@acme.test",
    )

    summary = await acme.drain()

    assert (summary["not_written_back"], summary["writes"]) == (1, 0)
    assert acme.state(activity) == (DeliveryState.NOT_WRITTEN_BACK, None)


def test_the_embedded_runner_delivers_what_was_logged_in_its_round(acme: Acme) -> None:
    activity = acme.log("x-1", DataItem.NOTE)
    runner = EmbeddedRunner(
        acme.store,
        acme.sessions,
        acme.store.connected_organization_ids,
        clock=utc_now,
        writeback_sessions=acme.sessions,  # type: ignore[arg-type]
    )

    runner.run_once()

    assert acme.state(activity) == (DeliveryState.DELIVERED, None)


async def test_a_batch_gathers_several_claims_into_one_write(acme: Acme) -> None:
    count = CLAIM_CHUNK + 500
    with acme.store(acme.id) as uow:
        for number in range(count):
            uow.activities.add(
                acme.ana, acme.draft(f"b-{number}", DataItem.INMAIL), state=DeliveryState.QUEUED, hold=None
            )
        uow.commit()

    summary = await acme.drain()

    assert (summary["claimed"], summary["delivered"], summary["writes"]) == (count, count, 1)
    page = await acme.connector.client.get_json(
        "sbr_inmails", params={"$select": "activityid", "$filter": f"_regardingobjectid_value eq {acme.contact}"}
    )
    assert len(page["value"]) == count


async def test_a_company_and_a_person_tied_to_no_contact_regard_the_companys_account(acme: Acme) -> None:
    name, website = f"Fabrikam {acme.tag.upper()}", f"https://fabrikam{acme.tag}.com"
    account = str(uuid.uuid4())
    await acme.connector.writer.create(
        "account", {"name": name, "websiteurl": f"fabrikam{acme.tag}.com"}, record_id=account
    )
    with acme.store(acme.id) as uow:
        uow.companies.upsert_many(
            [Company(external_id="k1", name=name, website=website, domain=f"fabrikam{acme.tag}.com")]
        )
        company = uow.companies.get_by_external_id("k1")
        assert company is not None
        uow.people.upsert_many(
            [Person(external_id="p4", first_name="Quentin", last_name=f"Vale{acme.tag}", company_id=company.id)]
        )
        quentin = uow.people.get_by_external_id("p4")
        uow.commit()
    assert quentin is not None
    assert company.id is not None
    await acme.sync_and_match()
    on_company = ActivityDraft(
        client_id="k-1",
        item=DataItem.INMAIL,
        person_id=None,
        company_id=company.id,
        subject="Partnership",
        body="Hello Fabrikam",
        direction=Direction.OUTGOING,
        occurred_at=WHEN,
    )
    for_company, _ = log_activity(acme.store, acme.id, acme.ana, on_company, clock=utc_now)
    for_quentin = acme.log("k-2", DataItem.CALL, person=quentin.id)

    assert (await acme.drain())["delivered"] == 2

    assert (await acme.row("sbr_inmails", for_company.id))["_regardingobjectid_value"] == account
    assert (await acme.row("phonecalls", for_quentin))["_regardingobjectid_value"] == account
    assert set(await acme.pointers(account)) == {acme.crm_id(for_company.id), acme.crm_id(for_quentin)}


async def test_two_drains_at_once_share_the_work_and_write_each_activity_once(acme: Acme) -> None:
    count = 1200
    with acme.store(acme.id) as uow:
        for number in range(count):
            item = DataItem.MESSAGE if number % 2 else DataItem.INMAIL
            uow.activities.add(acme.ana, acme.draft(f"t-{number}", item), state=DeliveryState.QUEUED, hold=None)
        uow.commit()

    def drain() -> Any:
        return drain_organization(
            acme.store,
            acme.sessions,  # type: ignore[arg-type]
            acme.id,
            clock=utc_now,
            batch_size=200,
        )

    first, second = await asyncio.gather(drain(), drain())

    assert first.delivered + second.delivered == count
    assert first.claimed + second.claimed == count, "no batch was taken twice"
    written = 0
    for entity_set in ("sbr_inmails", "sbr_messages"):
        page = await acme.connector.client.get_json(
            entity_set, params={"$select": "activityid", "$filter": f"_regardingobjectid_value eq {acme.contact}"}
        )
        written += len(page["value"])
    assert written == count


async def test_participants_matched_to_a_contact_are_parties_and_one_without_a_match_is_left_out(acme: Acme) -> None:
    email = f"sam.{acme.tag}@fabrikam.com"
    sam = acme.add_person(Person(external_id="p2", first_name="Samuel", last_name=f"Ortiz{acme.tag}", emails=(email,)))
    prospect = acme.add_person(Person(external_id="p9", first_name="Priya", last_name=f"Nair{acme.tag}"))
    sams_contact = await acme.contact_for("Samuel", f"Ortiz{acme.tag}", email)
    await acme.sync_and_match()  # ties Samuel; Priya is a prospect the CRM does not hold
    ids = []
    for client_id, item, direction in (
        ("m-1", DataItem.INMAIL, Direction.OUTGOING),
        ("m-2", DataItem.CALL, Direction.INCOMING),
    ):
        draft = acme.draft(client_id, item, direction=direction)
        activity, _ = log_activity(
            acme.store, acme.id, acme.ana, replace(draft, participants=(sam, prospect)), clock=utc_now
        )
        ids.append(activity.id)
    inmail, call = ids

    summary = await acme.drain()

    assert (summary["delivered"], summary["waiting_for_match"]) == (2, 0), "not held for Priya"

    async def parties(activity_id: uuid.UUID) -> list[tuple[int, str]]:
        page = await acme.connector.client.get_json(
            "activityparties",
            params={
                "$select": "participationtypemask,_partyid_value",
                "$filter": f"_activityid_value eq {acme.crm_id(activity_id)}",
            },
        )
        return sorted((row["participationtypemask"], row["_partyid_value"]) for row in page["value"])

    assert await parties(inmail) == sorted([(1, acme.ana_crm), (2, acme.contact), (2, sams_contact)])
    assert await parties(call) == sorted([(1, acme.contact), (1, sams_contact), (2, acme.ana_crm)])  # received
    edit_activity(acme.store, acme.id, acme.ana, inmail, subject="Edited", body="Edited", expected_version=1)
    assert (await acme.drain())["delivered"] == 1
    assert await parties(inmail) == sorted([(1, acme.ana_crm), (2, acme.contact), (2, sams_contact)]), "not doubled"


class DrainerDiedError(Exception):
    """The drainer dying after a batch's write reached the CRM, before its outcomes were recorded."""


class Overlapping:
    """The connector's activity writer, passed through, that makes the drain show its pipeline: the first batch's
    write does not return before the second batch's has started; the second batch is written only once the first's
    outcomes are recorded (both bounded: a drain without the pipeline fails instead of waiting forever), and then
    the drainer dies before recording it."""

    def __init__(self, acme: Acme, first: list[uuid.UUID]) -> None:
        self._acme = acme
        self._first = first
        self._second_started = asyncio.Event()
        self.calls = 0
        self.first_recorded_while_second_under_way = False

    async def write_activities(self, records: Sequence[ActivityRecord]) -> WriteReport:
        self.calls += 1
        writer = self._acme.connector.activities
        if self.calls == 1:
            await asyncio.wait_for(self._second_started.wait(), timeout=60)
            return await writer.write_activities(records)
        self._second_started.set()
        for _ in range(1200):
            states = [self._acme.state(activity)[0] for activity in self._first]
            if states == [DeliveryState.DELIVERED] * len(self._first):
                self.first_recorded_while_second_under_way = True
                break
            await asyncio.sleep(0.05)
        await writer.write_activities(records)
        raise DrainerDiedError


class OverlappingSession:
    def __init__(self, writer: Overlapping) -> None:
        self.activities = writer

    async def close(self) -> None:
        pass

    def usage(self) -> RequestUsage:
        return RequestUsage()


async def test_a_batch_is_recorded_while_the_next_is_written_and_dying_between_them_loses_nothing_nor_writes_twice(
    acme: Acme,
) -> None:
    first = [acme.log(f"q-{number}", DataItem.INMAIL) for number in range(2)]
    second = [acme.log(f"q-{number}", DataItem.MESSAGE) for number in range(2, 4)]
    writer = Overlapping(acme, first)

    with pytest.raises(DrainerDiedError):
        await drain_organization(
            acme.store, lambda _: OverlappingSession(writer), acme.id, clock=utc_now, batch_size=len(first)
        )

    assert writer.calls == 2
    assert writer.first_recorded_while_second_under_way
    assert [acme.state(activity)[0] for activity in second] == [DeliveryState.QUEUED] * 2, "leased, not recorded"

    async def rows() -> dict[str, list[str]]:
        found = {}
        for entity_set in ("sbr_inmails", "sbr_messages"):
            page = await acme.connector.client.get_json(
                entity_set,
                params={"$select": "sbr_externalid", "$filter": f"_regardingobjectid_value eq {acme.contact}"},
            )
            found[entity_set] = sorted(row["sbr_externalid"] for row in page["value"])
        return found

    expected = {
        "sbr_inmails": sorted(str(activity) for activity in first),
        "sbr_messages": sorted(str(activity) for activity in second),
    }
    assert await rows() == expected, "both batches reached the CRM"
    assert (await acme.drain())["claimed"] == 0, "the second batch is leased to the drain that died"

    later = utc_now() + DEFAULT_LEASE + timedelta(seconds=1)
    summary = await drain_organization(
        acme.store,
        acme.sessions,  # type: ignore[arg-type]
        acme.id,
        clock=lambda: later,
    )

    assert (summary.claimed, summary.delivered) == (2, 2), "only the batch that was not recorded"
    assert await rows() == expected, "written again on the same rows: no twins"
    assert {acme.state(activity)[0] for activity in first + second} == {DeliveryState.DELIVERED}


async def test_the_crm_apps_tables_removed_leave_their_activities_waiting_for_the_app_until_a_reinstall_delivers_them(
    acme: Acme,
) -> None:
    """A CRM administrator deletes the app's tables (their rows go with them): the InMail and messages wait for
    the app, failing with ``crm_app_missing`` (not parked; the app checked again 30 s later) and saying to reinstall it,
    while notes still go; installing the app again puts them back in the queue with what its new tables lost, and
    one drain writes each of them, on the same ids."""
    written_before = acme.log("g-1", DataItem.INMAIL)
    assert (await acme.drain())["delivered"] == 1
    message = acme.log("g-2", DataItem.MESSAGE)
    note = acme.log("g-3", DataItem.NOTE)
    await acme.connector.metadata.table("sbr_message")  # cached: the write meets the 404 of the entity set itself
    for table in ("sbr_inmail", "sbr_message"):
        await acme.connector.client.delete(f"EntityDefinitions(LogicalName='{table}')")
    mid_drain = await acme.connector.activities.write_activities(
        [
            ActivityRecord(
                id=str(uuid.uuid4()),
                table="sbr_message",
                owner_id=acme.ana_crm,
                regarding=LookupValue(acme.contact, "contact"),
                subject="mid-drain",
                body="…",
                occurred_at=WHEN,
                outgoing=True,
                conversation_id=None,
                external_id=str(uuid.uuid4()),
            )
        ]
    )
    assert [type(failure.error) for failure in mid_drain.failures] == [CrmTableMissingError]

    before = datetime.now(UTC)
    summary = await acme.drain()

    assert (summary["delivered"], summary["failing"], summary["parked"]) == (1, 1, 0)
    assert summary["errors"] == {"crm_app_missing": 1}
    assert acme.state(note) == (DeliveryState.DELIVERED, None)
    delivery = get_activity(acme.store, acme.id, message).delivery
    assert (delivery.state, delivery.error_code) == (DeliveryState.FAILING, "crm_app_missing")
    assert delivery.next_attempt_at is not None
    assert delivery.next_attempt_at >= before + APP_CHECK_FIRST
    assert delivery_reason(delivery).message == CRM_APP_MISSING_REASON
    status = writeback_status(acme.store, acme.id)
    assert status.crm_app_missing
    assert translate(CRM_APP_MISSING_STATUS, "es") != CRM_APP_MISSING_STATUS
    assert (await acme.drain())["claimed"] == 0, "no retry before its next attempt"

    await install_crm_app(acme.store, acme.sessions, slug="acme")  # type: ignore[arg-type]

    assert acme.state(message) == (DeliveryState.QUEUED, None)
    assert acme.state(written_before) == (DeliveryState.QUEUED, None), "its row went with the removed table"
    assert acme.state(note) == (DeliveryState.DELIVERED, None)
    assert (await acme.drain())["delivered"] == 2
    assert (await acme.row("sbr_messages", message))["_createdby_value"] == acme.ana_crm
    assert (await acme.row("sbr_inmails", written_before))["_createdby_value"] == acme.ana_crm
    assert not writeback_status(acme.store, acme.id).crm_app_missing


async def remove_app_tables(acme: Acme) -> None:
    """A CRM administrator deletes the app's tables (their rows go with them), through the Web API."""
    await acme.connector.metadata.table("sbr_message")  # cached: the write meets the 404 of the entity set itself
    for table in ("sbr_inmail", "sbr_message"):
        await acme.connector.client.delete(f"EntityDefinitions(LogicalName='{table}')")


async def reinstall_in_dynamics(acme: Acme) -> None:
    """A CRM administrator creates the app's tables again in Dynamics (a solution imported there): the Web API's
    metadata operations on the sandbox, straight; no salesbridge service runs and the store is not touched."""
    missing = missing_items(await acme.connector.app.observe(CRM_APP), CRM_APP)
    await acme.connector.app.create(CRM_APP, [item for item in missing if item.installable])


async def external_ids(acme: Acme, entity_set: str) -> list[str]:
    """The ``sbr_externalid`` of every row of an app table (one per activity written: a second row of the same
    activity would carry it again)."""
    page = await acme.connector.client.get_json(entity_set, params={"$select": "sbr_externalid"})
    return sorted(row["sbr_externalid"] for row in page["value"])


async def test_the_app_reinstalled_in_dynamics_delivers_the_waiting_activities_at_the_next_check_once_each(
    acme: Acme,
) -> None:
    """Fault 14 with the app reinstalled in Dynamics, not through salesbridge (nobody presses anything in
    salesbridge, nothing requeues): the activities that met the tables gone wait, and the drain checks the app's
    tables (metadata reads, no write) 30 s, then 1, 2, 4 minutes apart; the first check after the reinstall, run by the
    embedded runner's round as the scheduler runs it, writes each waiting activity once, and the one written before
    the removal again (its row went with the table), on the same ids. The clock is injected and moved by hand."""
    written_before = acme.log("d-0", DataItem.INMAIL)
    assert (await acme.drain())["delivered"] == 1
    await remove_app_tables(acme)
    waiting = [acme.log("d-1", DataItem.MESSAGE), acme.log("d-2", DataItem.MESSAGE), acme.log("d-3", DataItem.INMAIL)]
    clock = FakeClock(utc_now() + timedelta(minutes=1))  # after every stamp the store's own clock puts

    async def drain() -> DrainSummary:
        return await drain_organization(acme.store, acme.sessions, acme.id, clock=clock)  # type: ignore[arg-type]

    met = await drain()
    assert (met.failing, met.errors, met.app_checks) == (3, {"crm_app_missing": 3}, 1), "checked once at its end"
    started = clock()
    checks_at = []
    for wait in (timedelta(seconds=30), timedelta(minutes=1), timedelta(minutes=2)):
        assert not has_due(acme.store, acme.id, now=clock() + wait - timedelta(seconds=1)), "no check before it"
        clock.advance(wait)
        assert has_due(acme.store, acme.id, now=clock())
        checked = await drain()
        assert (checked.app_checks, checked.claimed, checked.writes) == (1, 0, 0), "a metadata read, no write"
        checks_at.append(clock() - started)
    assert checks_at == [timedelta(seconds=30), timedelta(minutes=1, seconds=30), timedelta(minutes=3, seconds=30)]
    assert writeback_status(acme.store, acme.id).crm_app_missing

    await reinstall_in_dynamics(acme)
    assert {acme.state(activity)[0] for activity in waiting} == {DeliveryState.FAILING}, "nothing requeued them"
    assert not has_due(acme.store, acme.id, now=clock() + timedelta(minutes=4) - timedelta(seconds=1))
    clock.advance(timedelta(minutes=4))
    runner = EmbeddedRunner(
        acme.store,
        acme.sessions,
        acme.store.connected_organization_ids,
        clock=clock,
        writeback_sessions=acme.sessions,  # type: ignore[arg-type]
    )
    await asyncio.to_thread(runner.run_once)  # a round of its thread: it runs event loops of its own

    assert {acme.state(activity) for activity in [*waiting, written_before]} == {(DeliveryState.DELIVERED, None)}
    assert not writeback_status(acme.store, acme.id).crm_app_missing
    assert await external_ids(acme, "sbr_messages") == sorted(str(activity) for activity in waiting[:2])
    assert await external_ids(acme, "sbr_inmails") == sorted(str(a) for a in (written_before, waiting[2]))
    assert (await acme.row("sbr_inmails", waiting[2]))["_createdby_value"] == acme.ana_crm
    assert not has_due(acme.store, acme.id, now=clock() + timedelta(hours=1)), "nothing left to write again"


async def test_an_app_gone_for_days_is_checked_every_five_minutes_and_not_while_dynamics_throttles(
    acme: Acme,
) -> None:
    """The checks' backoff stops at 5 minutes (two metadata reads each while the app is gone), and a check due while
    Dynamics throttles the drain (its ``Retry-After`` not over) waits until then without asking."""
    await remove_app_tables(acme)
    activity = acme.log("w-1", DataItem.MESSAGE)
    clock = FakeClock(utc_now() + timedelta(minutes=1))
    assert (await drain_organization(acme.store, acme.sessions, acme.id, clock=clock)).errors  # type: ignore[arg-type]
    waits = []
    for _ in range(7):
        due = get_activity(acme.store, acme.id, activity).delivery.next_attempt_at
        assert due is not None
        waits.append(due - clock())
        clock.now = due
        checked = await drain_organization(acme.store, acme.sessions, acme.id, clock=clock)  # type: ignore[arg-type]
        assert (checked.app_checks, checked.writes) == (1, 0)
    assert waits == [timedelta(seconds=seconds) for seconds in (30, 60, 120, 240, 300, 300, 300)]

    due = get_activity(acme.store, acme.id, activity).delivery.next_attempt_at
    assert due is not None
    throttled = due + timedelta(seconds=20)
    with acme.store(acme.id) as uow:
        uow.activities.note_throttled(until=throttled)
        uow.commit()
    clock.now = due
    waited = await drain_organization(acme.store, acme.sessions, acme.id, clock=clock)  # type: ignore[arg-type]
    assert (waited.app_checks, waited.claimed) == (0, 0)
    assert get_activity(acme.store, acme.id, activity).delivery.next_attempt_at == throttled
    clock.now = throttled
    assert (await drain_organization(acme.store, acme.sessions, acme.id, clock=clock)).app_checks == 1  # type: ignore[arg-type]


async def test_activities_waiting_for_the_app_after_writeback_was_turned_off_are_kept_without_checking_it(
    acme: Acme,
) -> None:
    """Writeback turned off while activities wait for the app: their next attempt sets them aside in the workspace
    (``not_written_back``, as any activity of an item not written back) instead of checking the app every 5 minutes
    for activities nobody will write."""
    await remove_app_tables(acme)
    activity = acme.log("f-1", DataItem.MESSAGE)
    clock = FakeClock(utc_now() + timedelta(minutes=1))
    assert (await drain_organization(acme.store, acme.sessions, acme.id, clock=clock)).errors  # type: ignore[arg-type]
    await set_writeback_settings(
        acme.store,
        acme.sessions,  # type: ignore[arg-type]
        acme.id,
        WritebackSettings(enabled=True, items=frozenset({DataItem.NOTE})),
        actor="admin@acme.test",
    )
    clock.advance(APP_CHECK_FIRST)

    summary = await drain_organization(acme.store, acme.sessions, acme.id, clock=clock)  # type: ignore[arg-type]

    assert (summary.app_checks, summary.not_written_back, summary.writes) == (0, 1, 0)
    assert acme.state(activity) == (DeliveryState.NOT_WRITTEN_BACK, None)
    assert not writeback_status(acme.store, acme.id).crm_app_missing


class ReinstalledMidWrite:
    """The connector's activity writer, passed through, with the CRM app's tables removed as the first write starts
    and the app installed again through salesbridge (as the status tells the administrator) before that write's
    outcome is back: the write in flight meets the tables gone (or, ``half_installed``, the install under way: its
    tables created, not yet their columns), and the install's requeue cannot see its activity yet (it is leased,
    its failure not recorded)."""

    def __init__(self, acme: Acme, *, half_installed: bool = False) -> None:
        self._acme = acme
        self._half_installed = half_installed
        self.calls = 0

    async def write_activities(self, records: Sequence[ActivityRecord]) -> WriteReport:
        self.calls += 1
        writer = self._acme.connector.activities
        if self.calls > 1:
            return await writer.write_activities(records)
        for table in ("sbr_inmail", "sbr_message"):
            await self._acme.connector.client.delete(f"EntityDefinitions(LogicalName='{table}')")
        if self._half_installed:
            missing = missing_items(await self._acme.connector.app.observe(CRM_APP), CRM_APP)
            await self._acme.connector.app.create(CRM_APP, [i for i in missing if i.kind is MissingKind.TABLE])
        report = await writer.write_activities(records)
        await install_crm_app(self._acme.store, self._acme.sessions, slug="acme")  # type: ignore[arg-type]
        return report


class ReinstalledMidWriteSession:
    def __init__(self, writer: ReinstalledMidWrite, connector: DynamicsConnector) -> None:
        self.activities = writer
        self.app = connector.app

    async def close(self) -> None:
        pass

    def usage(self) -> RequestUsage:
        return RequestUsage()


@pytest.mark.parametrize("half_installed", [False, True], ids=["tables_gone", "columns_not_yet"])
async def test_an_activity_whose_write_met_the_app_removed_goes_as_soon_as_the_drain_sees_the_app_reinstalled(
    acme: Acme, half_installed: bool
) -> None:
    """Fault 14 with the reinstall during the write: the drain records the failure (``crm_app_missing``, next
    attempt in 15 minutes), then sees the app whole again and writes the activity in the same drain, its clock
    stopped: delivered right after the reinstall, not after the 15 minutes (it used to wait them). Written while
    the install had created the tables but not their columns, Dynamics refuses the record's columns: that is the
    app missing too, not the record's fault (it used to be parked, waiting for a retry by hand)."""
    message = acme.log("r-1", DataItem.MESSAGE)
    await acme.connector.metadata.table("sbr_message")  # cached: the write meets the 404 of the entity set itself
    writer = ReinstalledMidWrite(acme, half_installed=half_installed)
    stopped = utc_now() + timedelta(minutes=1)  # after every stamp the store's own clock puts

    summary = await drain_organization(
        acme.store, lambda _: ReinstalledMidWriteSession(writer, acme.connector), acme.id, clock=lambda: stopped
    )

    assert summary.errors == {"crm_app_missing": 1}, "the write in flight met the tables gone"
    assert (writer.calls, summary.failing, summary.delivered) == (2, 1, 1)
    delivery = get_activity(acme.store, acme.id, message).delivery
    assert (delivery.state, delivery.error_code, delivery.attempts) == (DeliveryState.DELIVERED, None, 0)
    assert delivery.delivered_at == stopped
    assert (await acme.row("sbr_messages", message))["_createdby_value"] == acme.ana_crm
    assert not writeback_status(acme.store, acme.id).crm_app_missing
