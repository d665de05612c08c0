"""Writeback through the procrastinate engine on PostgreSQL, with real ``python -m salesbridge worker`` processes and
the sandbox over TLS: logging an activity defers the organization's drain in its own transaction (under the
writeback lock, one waiting however many are logged) and a worker delivers it; an activity left queued without a
job (its job cancelled) is picked up by the periodic sweep."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from tests.integration.jobs.conftest import EVERY_SECOND, JobsStore, SandboxFactory, connect_organization, wait_until
from tests.integration.services.test_writeback_drain import add_seller

from salesbridge.bootstrap import dynamics_session
from salesbridge.domain.jobs import SCHEDULE_DUE_WRITEBACK, WRITE_BACK_ORGANIZATION, JobState, writeback_lock
from salesbridge.domain.people import Person
from salesbridge.domain.workspace import SeatState
from salesbridge.domain.writeback import ActivityDraft, DataItem, DeliveryState, Direction, WritebackSettings
from salesbridge.services.activities import get_activity, log_activity
from salesbridge.services.crm_app import install_crm_app
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.jobs import cancel_job, organization_jobs
from salesbridge.services.matching import run_matching
from salesbridge.services.ports import StoreAccess
from salesbridge.services.writeback import set_writeback_settings
from salesbridge.store.uow import utc_now

WHEN = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


class Seller:
    """Organization ``acme`` connected to a sandbox with the app installed and writeback on; Ana's seat is matched
    to a Salesperson of the CRM and person ``p1`` to a contact."""

    def __init__(self, jobs_store: JobsStore, serve_sandbox: SandboxFactory) -> None:
        self.store: StoreAccess = jobs_store.store
        served = serve_sandbox(contacts=1)
        self.id = connect_organization(self.store, "acme", served)
        self.contact = str(uuid.uuid4())
        email = "ana@acme.test"
        add_seller(served.sandbox, "Ana", email)
        with self.store(self.id) as uow:
            self.ana = uow.users.add(email=email, display_name="Ana Seller").id
            uow.seats.add(user_id=self.ana, state=SeatState.ACTIVE, assigned_by="admin@acme.test")
            uow.people.upsert_many(
                [Person(external_id="p1", first_name="Patricia", last_name="Lee", emails=("pat@contoso.com",))]
            )
            person = uow.people.get_by_external_id("p1")
            uow.commit()
        assert person is not None
        assert person.id is not None
        self.person = person.id
        asyncio.run(self._prepare())
        run_matching(self.store, self.id, clock=utc_now)

    async def _prepare(self) -> None:
        await install_crm_app(self.store, dynamics_session, slug="acme")
        with self.store(self.id, read_only=True) as uow:
            credentials = uow.crm_connection.credentials()
        connector = dynamics_session(credentials)
        try:
            await connector.writer.create(
                "contact",
                {"firstname": "Patricia", "lastname": "Lee", "emailaddress1": "pat@contoso.com"},
                record_id=self.contact,
            )
        finally:
            await connector.close()
        outcome = await run_pending_import(self.store, dynamics_session, self.id, clock=utc_now)  # connect queued it
        assert outcome is not None
        assert outcome.succeeded, outcome.error
        await set_writeback_settings(
            self.store, dynamics_session, self.id, WritebackSettings(enabled=True), actor="admin@acme.test"
        )

    def log(self, client_id: str) -> uuid.UUID:
        draft = ActivityDraft(
            client_id=client_id,
            item=DataItem.NOTE,
            person_id=self.person,
            company_id=None,
            subject="Met at the fair",
            body="Talked about the renewal",
            direction=Direction.OUTGOING,
            occurred_at=WHEN,
        )
        activity, _ = log_activity(self.store, self.id, self.ana, draft, clock=utc_now)
        return activity.id

    def delivered(self, activity_id: uuid.UUID) -> bool:
        return get_activity(self.store, self.id, activity_id).delivery.state is DeliveryState.DELIVERED

    def drain_jobs(self) -> list[str]:
        return [job.id for job in organization_jobs(self.store, slug="acme") if job.task == WRITE_BACK_ORGANIZATION]


def test_logging_defers_one_drain_under_the_writeback_lock_and_a_worker_delivers(
    jobs_store: JobsStore, serve_sandbox: SandboxFactory
) -> None:
    acme = Seller(jobs_store, serve_sandbox)

    first, second = acme.log("n-1"), acme.log("n-2")

    [job_id] = acme.drain_jobs()
    lock = writeback_lock(acme.id)
    assert jobs_store.sql(
        f"SELECT lock, queueing_lock, queue_name, args->>'reason' FROM procrastinate_jobs WHERE id = {job_id}"
    ) == [(lock, lock, "writeback", "activity.logged")]
    jobs_store.start_worker()
    wait_until(
        lambda: acme.delivered(first) and acme.delivered(second),
        seconds=60,
        what="both activities delivered",
        logs=jobs_store.logs,
    )
    wait_until(
        lambda: jobs_store.sql(f"SELECT status::text FROM procrastinate_jobs WHERE id = {job_id}") == [("succeeded",)],
        seconds=30,
        what="the drain job marked succeeded",
        logs=jobs_store.logs,
    )


def test_an_activity_queued_without_a_job_is_delivered_by_the_periodic_sweep(
    jobs_store: JobsStore, serve_sandbox: SandboxFactory
) -> None:
    acme = Seller(jobs_store, serve_sandbox)
    activity = acme.log("n-1")
    [job_id] = acme.drain_jobs()
    cancel_job(jobs_store.store, job_id, actor="operator")
    assert [job.state for job in organization_jobs(acme.store, slug="acme") if job.id == job_id] == [JobState.CANCELLED]

    jobs_store.start_worker(SALESBRIDGE_JOBS_SCHEDULE_CRON=EVERY_SECOND)

    wait_until(lambda: acme.delivered(activity), seconds=60, what="the activity delivered", logs=jobs_store.logs)
    swept = jobs_store.sql(
        f"SELECT count(*) FROM procrastinate_jobs WHERE task_name = '{WRITE_BACK_ORGANIZATION}' "
        "AND args->>'reason' = 'writeback.scheduled'"
    )
    assert swept[0][0] >= 1
    assert jobs_store.sql(f"SELECT count(*) FROM procrastinate_jobs WHERE task_name = '{SCHEDULE_DUE_WRITEBACK}'")[0][0]
