"""Alerts by email on SQLite and PostgreSQL, through a real SMTP server (aiosmtpd): an episode is emailed once to
the administrators who chose the alert, in their language, and again only after it ended and a new one started;
its end once ("resolved", to the same administrators); an email that could not be sent is tried again next round.
The clock is injected."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.services.conftest import SANDBOX_TARGETS, RunningSandbox, _dynamics_session, _serve
from tests.smtp_server import SmtpServer, smtp_server

from salesbridge.domain.alerts import AlertKind
from salesbridge.domain.crm_app import CRM_APP, missing_items
from salesbridge.domain.people import Person
from salesbridge.domain.writeback import (
    CRM_APP_MISSING_CODE,
    ActivityDraft,
    DataItem,
    DeliveryState,
    Direction,
    Regarding,
    WritebackSettings,
    after_table_missing,
)
from salesbridge.mail import SmtpMailer
from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.services.accounts import AccountService
from salesbridge.services.connecting import connect_crm, create_organization
from salesbridge.services.crm_app import install_crm_app
from salesbridge.services.notifications import AlertRound, evaluate_alerts, set_alert_preferences
from salesbridge.services.ports import CrmAppSessionFactory
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.uow import UnitOfWorkFactory

CONSOLE = "https://console.acme.test"
START = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


class Clock:
    """The injected clock: moved by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Acme:
    """``acme`` with three administrators (Ada: English; Ana: Spanish; Otto: English, who turned the sync alert
    off) and a seller."""

    def __init__(self, store: UnitOfWorkFactory, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.id = create_organization(store, slug="acme", name="Acme Corp", seats=5)
        accounts = AccountService(store, clock=clock)
        for email, name, admin, locale in (
            ("ada@acme.test", "Ada", True, "en"),
            ("ana@acme.test", "Ana", True, "es"),
            ("otto@acme.test", "Otto", True, "en"),
            ("sol@acme.test", "Sol", False, "en"),
        ):
            accounts.create_user(
                "acme",
                email=email,
                display_name=name,
                password=None,
                is_admin=admin,
                with_seat=False,
                locale=locale,
                actor="test",
            )
        otto = accounts.principal_of("acme", "otto@acme.test")
        set_alert_preferences(store, otto, [AlertKind.WRITEBACK_FAILING, AlertKind.CRM_APP_MISSING])
        with store(self.id) as uow:
            self.seller = uow.users.find_by_email("sol@acme.test").id  # type: ignore[union-attr]
            uow.people.upsert_many([Person(external_id="p1", first_name="Pat", last_name="Lee")])
            person = uow.people.get_by_external_id("p1")
            assert person is not None
            assert person.id is not None
            self.person = person.id
            uow.commit()

    def import_run(self, *, error: str | None) -> None:
        """An import that ran now and failed with ``error`` (succeeded when None)."""
        with self.store(self.id) as uow:
            uow.import_runs.enqueue(reason="scheduled")
            run = uow.import_runs.claim(lease=timedelta(minutes=2))
            assert run is not None
            uow.import_runs.finish(run.id, error=error)
            uow.commit()

    def parked_activities(self, count: int) -> list[uuid.UUID]:
        """``count`` activities of the seller that gave up reaching the CRM."""
        ids = []
        with self.store(self.id) as uow:
            for _ in range(count):
                draft = ActivityDraft(
                    client_id=uuid.uuid4().hex,
                    item=DataItem.NOTE,
                    person_id=self.person,
                    company_id=None,
                    subject=None,
                    body="Call back",
                    direction=Direction.OUTGOING,
                    occurred_at=START,
                )
                activity, _created = uow.activities.add(self.seller, draft, state=DeliveryState.PARKED, hold=None)
                ids.append(activity.id)
            uow.commit()
        return ids

    def requeue(self, activity_ids: list[uuid.UUID]) -> None:
        """An administrator retried these: queued again."""
        with self.store(self.id) as uow:
            for activity_id in activity_ids:
                uow.activities.mark_waiting(activity_id, state=DeliveryState.QUEUED, hold=None)
            uow.commit()

    def evaluate(self, server: SmtpServer, *, port: int | None = None) -> AlertRound:
        mailer = SmtpMailer(host=server.host, port=port or server.port, tls="none", sender="alerts@salesbridge.test")
        return asyncio.run(evaluate_alerts(self.store, self.id, mailer=mailer, clock=self.clock, console_url=CONSOLE))

    def audited_alerts(self) -> list[dict[str, object]]:
        with self.store(self.id, read_only=True) as uow:
            return [dict(entry.details) for entry in uow.audit.recent(limit=100, action="alert.sent")]


def _acme(session_factory: sessionmaker[Session], cipher: CredentialCipher) -> Acme:
    clock = Clock()
    return Acme(UnitOfWorkFactory(session_factory, cipher=cipher, clock=clock), clock)


def test_sync_failing_for_more_than_an_hour_is_emailed_once_per_episode(
    session_factory: sessionmaker[Session], cipher: CredentialCipher
) -> None:
    acme = _acme(session_factory, cipher)
    with smtp_server() as server:
        acme.import_run(error="The sign-in to Microsoft Entra ID was rejected.")
        acme.clock.advance(timedelta(minutes=30))
        acme.import_run(error="The sign-in to Microsoft Entra ID was rejected.")
        assert acme.evaluate(server).emailed == {}  # failing for 30 minutes: not yet

        acme.clock.advance(timedelta(minutes=31))
        done = acme.evaluate(server)
        assert done.emailed == {AlertKind.SYNC_FAILING: ("ada@acme.test", "ana@acme.test")}
        by_recipient = {message.rcpt_tos[0]: message for message in server.handler.wait(2)}
        assert set(by_recipient) == {"ada@acme.test", "ana@acme.test"}  # Otto turned it off; Sol is no admin
        english, spanish = by_recipient["ada@acme.test"], by_recipient["ana@acme.test"]
        assert english.message["Subject"] == ("Alert: the CRM sync of Acme Corp has been failing for more than an hour")
        assert "failing since Dec 6, 2026, 8:00:00\u202fAM UTC" in english.text
        assert "Last error: The sign-in to Microsoft Entra ID was rejected." in english.text
        assert f"{CONSOLE}/settings/crm" in english.text
        assert spanish.message["Subject"].startswith("Alerta: la sincronización con el CRM de Acme Corp")
        assert f'<a href="{CONSOLE}/account">{CONSOLE}/account</a>' in spanish.html

        for _ in range(3):  # still failing: the same episode, not emailed again
            acme.clock.advance(timedelta(minutes=20))
            acme.import_run(error="Still rejected.")
            assert acme.evaluate(server).emailed == {}
        assert len(server.received) == 2

        acme.import_run(error=None)  # recovery ends the episode: "resolved", once, to whom got the alert
        recovered = acme.evaluate(server)
        assert AlertKind.SYNC_FAILING not in recovered.active
        assert recovered.resolved == {AlertKind.SYNC_FAILING: ("ada@acme.test", "ana@acme.test")}
        assert recovered.emailed == {}
        resolved = {message.rcpt_tos[0]: message for message in server.handler.wait(4)[2:]}
        assert set(resolved) == {"ada@acme.test", "ana@acme.test"}
        assert resolved["ada@acme.test"].message["Subject"] == "Resolved: the CRM sync of Acme Corp works again"
        assert "failing since Dec 6, 2026, 8:00:00\u202fAM UTC, succeeded again on" in resolved["ada@acme.test"].text
        assert resolved["ana@acme.test"].message["Subject"] == (
            "Resuelto: la sincronización con el CRM de Acme Corp vuelve a funcionar"
        )
        acme.clock.advance(timedelta(minutes=5))
        assert acme.evaluate(server).resolved == {}  # the same end: not emailed again
        acme.import_run(error="Dynamics is unavailable.")
        acme.clock.advance(timedelta(minutes=61))
        again = acme.evaluate(server)  # a new episode: emailed again
        assert again.emailed == {AlertKind.SYNC_FAILING: ("ada@acme.test", "ana@acme.test")}
        latest = [m for m in server.handler.wait(6)[4:] if m.rcpt_tos == ["ana@acme.test"]]
        assert "Último error: Dynamics is unavailable." in latest[0].text
        assert len(server.received) == 6
    assert [entry["alert"] for entry in acme.audited_alerts()] == ["sync_failing", "sync_failing"]
    with acme.store(acme.id, read_only=True) as uow:
        told = [entry.details for entry in uow.audit.recent(limit=10, action="alert.resolved_sent")]
    assert told == [{"alert": "sync_failing", "recipients": ["ada@acme.test", "ana@acme.test"]}]


def test_a_resolved_email_is_sent_once_the_smtp_server_answers_to_whom_still_chose_the_alert(
    session_factory: sessionmaker[Session], cipher: CredentialCipher
) -> None:
    acme = _acme(session_factory, cipher)
    with smtp_server() as down:
        closed_port = down.port
    with smtp_server() as server:
        never_told = acme.parked_activities(10)
        assert acme.evaluate(server, port=closed_port).emailed == {}  # the alert could not go out
        acme.requeue(never_told)
        assert acme.evaluate(server).resolved == {}  # nobody was alerted: nothing to resolve
        assert server.received == []

        parked = acme.parked_activities(10)
        assert acme.evaluate(server).emailed == {
            AlertKind.WRITEBACK_FAILING: ("ada@acme.test", "ana@acme.test", "otto@acme.test")
        }
        ana = AccountService(acme.store, clock=acme.clock).principal_of("acme", "ana@acme.test")
        set_alert_preferences(acme.store, ana, [AlertKind.SYNC_FAILING])  # Ana no longer wants this alert
        acme.requeue(parked)  # the episode ends
        ended = acme.evaluate(server, port=closed_port)  # the SMTP server is unreachable: tried again next round
        assert AlertKind.WRITEBACK_FAILING not in ended.active
        assert ended.resolved == {}
        acme.clock.advance(timedelta(minutes=1))
        assert acme.evaluate(server).resolved == {AlertKind.WRITEBACK_FAILING: ("ada@acme.test", "otto@acme.test")}
        acme.clock.advance(timedelta(minutes=1))
        assert acme.evaluate(server).resolved == {}
        resolved = server.handler.wait(5)[3:]
        assert sorted(message.rcpt_tos[0] for message in resolved) == ["ada@acme.test", "otto@acme.test"]
        assert resolved[0].message["Subject"] == "Resolved: activities of Acme Corp are reaching the CRM again"
        assert f"{CONSOLE}/admin/writeback" in resolved[0].text
        assert len(server.received) == 5


def test_an_alert_that_could_not_be_sent_is_sent_next_round(
    session_factory: sessionmaker[Session], cipher: CredentialCipher
) -> None:
    acme = _acme(session_factory, cipher)
    with smtp_server() as down:
        closed_port = down.port
    with smtp_server() as server:
        acme.import_run(error="Rejected.")
        acme.clock.advance(timedelta(hours=2))
        assert acme.evaluate(server, port=closed_port).emailed == {}  # the SMTP server is unreachable
        assert acme.audited_alerts() == []
        acme.clock.advance(timedelta(minutes=1))
        assert acme.evaluate(server).emailed == {AlertKind.SYNC_FAILING: ("ada@acme.test", "ana@acme.test")}
        acme.clock.advance(timedelta(minutes=1))
        assert acme.evaluate(server).emailed == {}
        assert len(server.handler.wait(2)) == 2


def test_writeback_failures_piling_up_start_at_ten_and_end_below_five(
    session_factory: sessionmaker[Session], cipher: CredentialCipher
) -> None:
    acme = _acme(session_factory, cipher)
    with smtp_server() as server:
        parked = acme.parked_activities(9)
        assert acme.evaluate(server).emailed == {}  # 9: below the threshold
        parked += acme.parked_activities(1)
        done = acme.evaluate(server)
        assert done.emailed == {AlertKind.WRITEBACK_FAILING: ("ada@acme.test", "ana@acme.test", "otto@acme.test")}
        english = next(m for m in server.handler.wait(3) if m.rcpt_tos == ["ada@acme.test"])
        assert "10 activities are failing or parked instead of reaching your CRM" in english.text
        assert f"{CONSOLE}/admin/writeback" in english.text

        acme.requeue(parked[:5])  # 5 left: the episode goes on, nothing more is sent
        assert AlertKind.WRITEBACK_FAILING in acme.evaluate(server).active
        fresh = acme.parked_activities(5)  # 10 again, same episode
        assert acme.evaluate(server).emailed == {}
        acme.requeue(parked[5:])  # 5 left (the new ones): still on
        assert AlertKind.WRITEBACK_FAILING in acme.evaluate(server).active
        with acme.store(acme.id, read_only=True) as uow:
            assert uow.alerts.states()[AlertKind.WRITEBACK_FAILING].notified_at == START
        acme.requeue(fresh[:1])  # 4 left: the episode ends (resolved); 10 again is a new one, emailed again
        assert AlertKind.WRITEBACK_FAILING not in acme.evaluate(server).active
        acme.parked_activities(6)
        assert acme.evaluate(server).emailed == {
            AlertKind.WRITEBACK_FAILING: ("ada@acme.test", "ana@acme.test", "otto@acme.test")
        }
        assert len(server.handler.wait(9)) == 9


# ------------------------------------------------------------------------------- the CRM-side app (a real sandbox)


@pytest.fixture
def fresh(tmp_path: Path, sandbox_signing_key: rsa.RSAPrivateKey) -> Iterator[RunningSandbox]:
    """A sandbox of its own, without the CRM-side app (installing changes its definitions)."""
    yield from _serve(build_sandbox(signing_key=sandbox_signing_key), tmp_path)


async def test_the_crm_app_missing_while_writeback_is_on_is_emailed_once_and_ends_once_installed(
    store: UnitOfWorkFactory, fresh: RunningSandbox
) -> None:
    clock = Clock()
    acme = Acme(store, clock)
    app_sessions = cast(CrmAppSessionFactory, _dynamics_session)
    outcome = await connect_crm(
        store, _dynamics_session, slug="acme", credentials=fresh.credentials(), targets=SANDBOX_TARGETS
    )
    assert outcome.is_connected
    # Writeback was turned on while the app was installed, and the app was removed in Dynamics since: the console
    # refuses to turn writeback on without the app, so the store is set as that history left it.
    with store(acme.id) as uow:
        uow.writeback_settings.set(WritebackSettings(enabled=True), actor="admin@acme.test")
        uow.commit()

    def evaluate(server: SmtpServer) -> AlertRound:
        mailer = SmtpMailer(host=server.host, port=server.port, tls="none", sender="alerts@salesbridge.test")
        return asyncio.run(
            evaluate_alerts(store, acme.id, mailer=mailer, clock=clock, console_url=CONSOLE, app_sessions=app_sessions)
        )

    with smtp_server() as server:
        done = await asyncio.to_thread(evaluate, server)
        assert done.emailed == {AlertKind.CRM_APP_MISSING: ("ada@acme.test", "ana@acme.test", "otto@acme.test")}
        spanish = next(m for m in server.handler.wait(3) if m.rcpt_tos == ["ana@acme.test"])
        assert spanish.message["Subject"] == "Alerta: falta la aplicación del CRM de Acme Corp"
        assert "no está completa (No instalada)" in spanish.text
        clock.advance(timedelta(minutes=20))
        assert (await asyncio.to_thread(evaluate, server)).emailed == {}  # the same episode

        await install_crm_app(store, app_sessions, slug="acme")
        clock.advance(timedelta(minutes=5))  # checked at most every 15 minutes: not yet seen
        assert AlertKind.CRM_APP_MISSING in (await asyncio.to_thread(evaluate, server)).active
        clock.advance(timedelta(minutes=15))
        over = await asyncio.to_thread(evaluate, server)
        assert AlertKind.CRM_APP_MISSING not in over.active
        assert over.resolved == {AlertKind.CRM_APP_MISSING: ("ada@acme.test", "ana@acme.test", "otto@acme.test")}
        resolved = next(m for m in server.handler.wait(6)[3:] if m.rcpt_tos == ["ana@acme.test"])
        assert resolved.message["Subject"].startswith("Resuelto: ")
        assert len(server.received) == 6


async def test_the_alerts_check_finding_the_app_reinstalled_in_dynamics_puts_its_waiting_activities_back_in_the_queue(
    store: UnitOfWorkFactory, fresh: RunningSandbox
) -> None:
    """The app's tables created again in Dynamics itself (no install through salesbridge): the alerts' check of the
    app, finding it whole, puts the activities that waited for its tables back in the queue, and the message
    delivered before them (its row went with the removed table) too, to be written again on its own id."""
    clock = Clock()
    acme = Acme(store, clock)
    outcome = await connect_crm(
        store, _dynamics_session, slug="acme", credentials=fresh.credentials(), targets=SANDBOX_TARGETS
    )
    assert outcome.is_connected
    with store(acme.id) as uow:
        uow.writeback_settings.set(WritebackSettings(enabled=True), actor="admin@acme.test")
        added = [
            uow.activities.add(acme.seller, _draft(acme, item), state=DeliveryState.QUEUED, hold=None)[0].id
            for item in (DataItem.MESSAGE, DataItem.MESSAGE, DataItem.NOTE)
        ]
        waiting, delivered, note = added
        uow.activities.mark_failed(
            waiting, outcome=after_table_missing(now=START), error_code=CRM_APP_MISSING_CODE, error_message="gone"
        )
        uow.activities.mark_delivered({delivered: (1, Regarding("contact", "c1"))}, now=START)
        uow.activities.mark_delivered({note: (1, Regarding("contact", "c1"))}, now=START)
        uow.commit()
    connector = _dynamics_session(fresh.connected_credentials())
    try:
        missing = missing_items(await connector.app.observe(CRM_APP), CRM_APP)
        await connector.app.create(CRM_APP, [item for item in missing if item.installable])
    finally:
        await connector.close()

    with smtp_server() as server:
        mailer = SmtpMailer(host=server.host, port=server.port, tls="none", sender="alerts@salesbridge.test")
        done = await evaluate_alerts(
            store,
            acme.id,
            mailer=mailer,
            clock=clock,
            console_url=CONSOLE,
            app_sessions=cast(CrmAppSessionFactory, _dynamics_session),
        )

    assert AlertKind.CRM_APP_MISSING not in done.active
    with store(acme.id, read_only=True) as uow:
        states = {activity_id: uow.activities.get(activity_id).delivery.state for activity_id in added}
        assert not uow.activities.failing_with(CRM_APP_MISSING_CODE)
    assert states == {waiting: DeliveryState.QUEUED, delivered: DeliveryState.QUEUED, note: DeliveryState.DELIVERED}


def _draft(acme: Acme, item: DataItem) -> ActivityDraft:
    return ActivityDraft(
        client_id=uuid.uuid4().hex,
        item=item,
        person_id=acme.person,
        company_id=None,
        subject=None,
        body="Following up",
        direction=Direction.OUTGOING,
        occurred_at=START,
    )
