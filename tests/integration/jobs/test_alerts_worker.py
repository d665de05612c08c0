"""The alerts on procrastinate: a real ``salesbridge worker`` process, configured by ``SALESBRIDGE_SMTP_*`` as an
operator configures it, runs the periodic ``evaluate_alerts`` task and emails the administrators when imports have
been failing for more than an hour (the first failure recorded two hours back, through a store whose clock is set
so), once however many periods pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.jobs.conftest import (
    EVERY_SECOND,
    JobsStore,
    SandboxFactory,
    connect_organization,
    refuse_contacts,
    wait_until,
)
from tests.smtp_server import smtp_server

from salesbridge.domain.jobs import EVALUATE_ALERTS
from salesbridge.services.accounts import AccountService
from salesbridge.store import create_engine_for, create_session_factory
from salesbridge.store.jobs import JobEngine
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.uow import UnitOfWorkFactory


def test_a_worker_emails_the_sync_failing_alert_once(jobs_store: JobsStore, serve_sandbox: SandboxFactory) -> None:
    served = serve_sandbox()
    acme = connect_organization(jobs_store.store, "acme", served)
    refuse_contacts(jobs_store.store, "acme", served)  # every import from now on fails with Dynamics' refusal
    AccountService(jobs_store.store, clock=lambda: datetime.now(UTC)).create_user(
        "acme", email="ada@acme.test", display_name="Ada", password=None, is_admin=True, with_seat=False,
        locale="es", actor="test",
    )  # fmt: skip
    engine = create_engine_for(jobs_store.url)
    two_hours_ago = UnitOfWorkFactory(
        create_session_factory(engine),
        cipher=CredentialCipher(jobs_store.key),
        clock=lambda: datetime.now(UTC) - timedelta(hours=2),
        job_engine=JobEngine.PROCRASTINATE,
    )
    with two_hours_ago(acme) as uow:  # the first failure, two hours ago
        for run in uow.import_runs.queued():
            uow.import_runs.claim(lease=timedelta(minutes=2))
            uow.import_runs.finish(run.id, error="The application user lacks prvReadContact.")
        uow.commit()
    engine.dispose()

    with smtp_server() as server:
        jobs_store.start_worker(
            SALESBRIDGE_JOBS_SCHEDULE_CRON=EVERY_SECOND,
            SALESBRIDGE_SMTP_HOST=server.host,
            SALESBRIDGE_SMTP_PORT=str(server.port),
            SALESBRIDGE_SMTP_TLS="none",
            SALESBRIDGE_SMTP_SENDER="alerts@salesbridge.test",
        )
        wait_until(lambda: len(server.received) >= 1, seconds=60, what="the alert email", logs=jobs_store.logs)
        (alert,) = server.received
        assert alert.rcpt_tos == ["ada@acme.test"]
        assert alert.message["Subject"].startswith("Alerta: la sincronización con el CRM de acme")
        assert "Último error: " in alert.text  # ours, or Dynamics' refusal if the worker's own import failed first
        assert "prvReadContact" in alert.text
        # Several more periods: the episode is not emailed again.
        wait_until(
            lambda: _evaluations(jobs_store) >= 4, seconds=60, what="four more evaluations", logs=jobs_store.logs
        )
        assert len(server.received) == 1


def _evaluations(jobs_store: JobsStore) -> int:
    rows = jobs_store.sql(
        f"SELECT count(*) FROM procrastinate_jobs WHERE task_name = '{EVALUATE_ALERTS}' AND status = 'succeeded'"
    )
    return int(rows[0][0])  # type: ignore[call-overload]
