"""Email in the browser, English and Spanish, desktop and phone: an administrator chooses their alerts on the
Account page; when syncs keep failing (the sandbox answers 503 to everything; the clock is injected and moved past
the hour) the alert email arrives at a real SMTP server (aiosmtpd) started by the test, in the administrator's
language, and the audit log shows it, filtered by action and date, and exports it as CSV. The demo workspace's
invitations arrive there too."""

from __future__ import annotations

import csv
import dataclasses
import io
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from pydantic import SecretStr
from tests.e2e.conftest import run_async, screenshot, sign_in_to
from tests.smtp_server import SmtpServer, smtp_server

from salesbridge.bootstrap import console_services, dynamics_session, prepare_demo_workspace
from salesbridge.crm.dynamics.endpoints import DynamicsTargets, EndpointPolicy
from salesbridge.domain.workspace import CaBundle, CrmCredentials, ImportState
from salesbridge.jobs.runner import EmbeddedRunner
from salesbridge.mail import SmtpMailer
from salesbridge.sandbox.assembly import Sandbox, build_sandbox
from salesbridge.sandbox.seeds.seeding import parse_seed
from salesbridge.sandbox.server.faults import FaultConfig
from salesbridge.sandbox.server.serving import RunningServer, serve_in_thread
from salesbridge.sandbox.server.tls import create_tls_material
from salesbridge.services.import_run import run_pending_import
from salesbridge.store import create_engine_for, create_session_factory, migrate
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory
from salesbridge.web.app import create_app

PHONE = {"width": 390, "height": 844}


class MovableClock:
    """The injected clock of the store, the runner and the alerts: real time plus what the test added."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta


@dataclass(frozen=True)
class AlertingConsole:
    """The demo workspace served with its runner, emailing through ``smtp``; ``clock`` drives store and runner."""

    base_url: str
    store: UnitOfWorkFactory
    sandbox: Sandbox
    smtp: SmtpServer
    clock: MovableClock
    runner: EmbeddedRunner
    admin_email: str
    password: str
    organization_id: object


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def alerting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertingConsole]:
    tmp_path: Path = tmp_path_factory.mktemp("alerting")
    clock = MovableClock()
    sandbox = build_sandbox(seed=parse_seed("demo"))
    material = create_tls_material(tmp_path / "tls")
    url = f"sqlite:///{tmp_path / 'console.db'}"
    migrate(url)
    engine = create_engine_for(url)
    store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()), clock=clock)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    with smtp_server(tls="starttls") as smtp, RunningServer(sandbox.app, tls=material, graceful_timeout_s=1.0) as crm:
        mailer = SmtpMailer(
            host=smtp.host,
            port=smtp.port,
            tls="starttls",
            sender="alerts@salesbridge.test",
            ssl_context=smtp.client_context,
        )
        info = sandbox.connection_info(crm.base_url, str(material.ca_bundle))
        credentials = CrmCredentials(
            org_url=info["org_url"],
            client_id=info["client_id"],
            client_secret=SecretStr(info["client_secret"]),
            ca_bundle=CaBundle(material.ca_bundle.read_text(encoding="ascii"), name="sandbox"),
        )
        workspace = run_async(prepare_demo_workspace(store, credentials, mailer=mailer, console_url=base_url))
        organization_id = store.organization_id(workspace.organization)
        assert organization_id is not None
        first = run_async(run_pending_import(store, dynamics_session, organization_id, clock=clock))
        assert first is not None
        assert first.succeeded
        runner = EmbeddedRunner(
            store,
            dynamics_session,
            store.connected_organization_ids,
            clock=clock,
            poll_interval_s=0.5,
            mailer=mailer,
            console_url=base_url,
        )
        targets = DynamicsTargets(EndpointPolicy(["127.0.0.1"]))
        services = dataclasses.replace(
            console_services(store, wake_importer=runner.wake, targets=targets, mailer=mailer, console_url=base_url),
            crm_wait_s=1.0,
            clock=clock,
        )
        app = create_app(services, secure_cookies=False, background=(runner,))
        with serve_in_thread(app, port=port):
            yield AlertingConsole(
                base_url,
                store,
                sandbox,
                smtp,
                clock,
                runner,
                workspace.admin_email,
                workspace.password.get_secret_value(),
                organization_id,
            )
    engine.dispose()


def _page(chromium: Browser, *, phone: bool = False) -> Page:
    context = chromium.new_context(viewport=PHONE if phone else None, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def _failed_runs(console: AlertingConsole) -> int:
    with console.store(console.organization_id, read_only=True) as uow:  # type: ignore[arg-type]
        return sum(run.state is ImportState.FAILED for run in uow.import_runs.recent(limit=50))


def test_invitations_were_emailed_to_the_invited_in_their_language(alerting: AlertingConsole) -> None:
    invitations = [m for m in alerting.smtp.handler.wait(5) if "salesbridge" in m.message["Subject"]]
    assert len(invitations) == 5
    invitation = invitations[0]
    assert invitation.message["Subject"] == "You're invited to Contoso (demo) on salesbridge"
    assert f"{alerting.base_url}/invitations/" in invitation.text
    assert alerting.smtp.handler.secure[:5] == [True] * 5


def test_an_alert_email_arrives_when_syncs_keep_failing_in_spanish(
    alerting: AlertingConsole, chromium: Browser
) -> None:
    page = _page(chromium)
    sign_in_to(page, alerting.base_url, "demo", alerting.admin_email, alerting.password)
    page.goto(alerting.base_url + "/account")
    expect(page.get_by_role("heading", name="Alertas por correo")).to_be_visible()
    for kind in ("sync_failing", "writeback_failing", "crm_app_missing"):
        expect(page.get_by_test_id(f"alert-{kind}")).to_be_checked()  # every alert is on by default
    page.get_by_test_id("alert-writeback_failing").uncheck()
    page.get_by_test_id("alerts-save").click()
    expect(page.get_by_test_id("alerts-saved")).to_have_text("Se han guardado tus alertas.")
    expect(page.get_by_test_id("alert-writeback_failing")).not_to_be_checked()
    expect(page.get_by_test_id("alert-sync_failing")).to_be_checked()
    screenshot(page, "account-alerts-es-desktop")

    before = len(alerting.smtp.received)
    alerting.sandbox.services.faults.configure(FaultConfig(unavailable_rate=1.0))
    try:
        page.goto(alerting.base_url + "/settings/crm")
        page.get_by_test_id("sync-now").click()
        expect(page.get_by_test_id("notice")).to_be_visible()
        _wait_for(lambda: _failed_runs(alerting) >= 1, "the import failed")
        alerting.clock.advance(timedelta(minutes=40))
        assert len(alerting.smtp.received) == before  # failing for 40 minutes: no alert yet
        page.get_by_test_id("sync-now").click()
        _wait_for(lambda: _failed_runs(alerting) >= 2, "the second import failed")
        alerting.clock.advance(timedelta(minutes=25))  # more than an hour since the first failure
        alerting.runner.wake()
        (alert,) = alerting.smtp.handler.wait(before + 1)[before:]
    finally:
        alerting.sandbox.services.faults.configure(FaultConfig())
    assert alert.rcpt_tos == [alerting.admin_email]
    assert alert.message["Subject"] == (
        "Alerta: la sincronización con el CRM de Contoso (demo) lleva más de una hora fallando"
    )
    assert f"{alerting.base_url}/settings/crm" in alert.text

    page.goto(alerting.base_url + "/admin/audit")
    page.get_by_test_id("audit-filter-action").select_option(label="Alerta enviada por correo")
    today = alerting.clock().date().isoformat()
    page.get_by_test_id("audit-filter-since").fill(today)
    page.get_by_test_id("audit-filter-until").fill(today)
    page.get_by_test_id("audit-filter-submit").click()
    expect(page.get_by_test_id("audit-row")).to_have_count(1)
    expect(page.get_by_test_id("audit-details")).to_contain_text(alerting.admin_email)
    screenshot(page, "audit-es-desktop")
    with page.expect_download() as download:
        page.get_by_test_id("audit-export").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert rows[0] == ["Cuándo (UTC)", "Quién", "Acción", "Qué", "Detalles"]
    assert [row[2] for row in rows[1:]] == ["alert.sent"]
    page.context.close()


def test_account_alerts_and_audit_filters_in_english_on_a_phone(alerting: AlertingConsole, chromium: Browser) -> None:
    page = _page(chromium, phone=True)
    sign_in_to(page, alerting.base_url, "demo", alerting.admin_email, alerting.password)
    page.goto(alerting.base_url + "/account")
    page.get_by_test_id("locale-select").select_option("en")
    page.get_by_test_id("locale-save").click()
    expect(page.get_by_role("heading", name="Email alerts")).to_be_visible()
    expect(page.get_by_text("Writeback failures piling up")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "account-alerts-en-phone")
    # Choosing the alerts here is recorded at the test's clock, which the Spanish test moved an hour on: the entry
    # it recorded may fall on the day before (from 23:00 UTC), so the day filtered on is this entry's.
    writeback_failing = page.get_by_test_id("alert-writeback_failing")
    writeback_failing.set_checked(not writeback_failing.is_checked())
    page.get_by_test_id("alerts-save").click()
    expect(page.get_by_test_id("alerts-saved")).to_have_text("Your alert choices were saved.")
    day = alerting.clock().date()
    with alerting.store(alerting.organization_id, read_only=True) as uow:  # type: ignore[arg-type]
        chosen = uow.audit.count(action="alert.preferences_changed", since=datetime.combine(day, time(), UTC))
    assert chosen >= 1
    page.goto(alerting.base_url + "/admin/audit?since=not-a-day")
    expect(page.get_by_test_id("form-error")).to_have_text("Enter dates as year-month-day, for example 2026-12-31.")
    page.get_by_test_id("audit-filter-since").fill(day.isoformat())
    page.get_by_test_id("audit-filter-action").select_option(label="Email alerts chosen")
    page.get_by_test_id("audit-filter-submit").click()
    expect(page.get_by_test_id("audit-row")).to_have_count(chosen)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "audit-en-phone")
    page.context.close()


def _wait_for(condition, what: str, timeout_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    """Poll ``condition`` (a bound, not a timing: it fails only if ``what`` never happens)."""
    done = threading.Event()
    for _ in range(int(timeout_s * 10)):
        if condition():
            return
        done.wait(0.1)
    raise AssertionError(f"waited in vain: {what}")
