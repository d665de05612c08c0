"""The CRM import in a real browser: an admin sets the pipeline stage and the won-value field, presses "Sync now"
and watches the last sync date change, then disconnects with the purge; a seller sees their auto-saved lists
change after an opportunity of theirs moves to another owner in the CRM. The console runs with its import
runner, against the demo sandbox over TLS."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, Page, expect
from pydantic import SecretStr
from tests.e2e.conftest import screenshot

from salesbridge.bootstrap import console_services, dynamics_session, prepare_demo_workspace
from salesbridge.crm.ports import LookupValue
from salesbridge.jobs.runner import EmbeddedRunner
from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.seeds.seeding import parse_seed
from salesbridge.sandbox.server.serving import serve_in_thread
from salesbridge.sandbox.server.tls import create_tls_material
from salesbridge.services.connect import CrmCredentials, stored_credentials
from salesbridge.services.sync import run_pending_import
from salesbridge.store import create_engine_for, create_session_factory, migrate
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import UnitOfWorkFactory, utc_now
from salesbridge.web.app import create_app

T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on a thread of its own: sync Playwright keeps an event loop running on this one."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


@dataclass(frozen=True)
class SyncedConsole:
    """The console of the demo workspace, imported once, with its runner."""

    base_url: str
    store: UnitOfWorkFactory
    admin_email: str
    seller_email: str
    password: str

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture
def synced_console(tmp_path: Path) -> Iterator[SyncedConsole]:
    sandbox = build_sandbox(seed=parse_seed("demo"))
    material = create_tls_material(tmp_path / "tls")
    url = f"sqlite:///{tmp_path / 'console.db'}"
    migrate(url)
    engine = create_engine_for(url)
    store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))
    with serve_in_thread(sandbox.app, tls=material) as crm_server:
        info = sandbox.connection_info(crm_server.base_url, str(material.ca_bundle))
        credentials = CrmCredentials(
            org_url=info["org_url"],
            tenant_id=info["tenant_id"],
            client_id=info["client_id"],
            client_secret=SecretStr(info["client_secret"]),
            ca_bundle=material.ca_bundle,
            authority=info["authority"],
        )
        workspace = run_async(prepare_demo_workspace(store, credentials))
        organization_id = store.organization_id(workspace.organization)
        assert organization_id is not None
        first = run_async(run_pending_import(store, dynamics_session, organization_id, clock=utc_now))
        assert first is not None
        assert first.succeeded
        runner = EmbeddedRunner(
            store, dynamics_session, store.connected_organization_ids, clock=utc_now, poll_interval_s=0.5
        )
        app = create_app(console_services(store, wake_importer=runner.wake), secure_cookies=False, background=(runner,))
        with serve_in_thread(app) as console_server:
            yield SyncedConsole(
                f"http://127.0.0.1:{console_server.port}",
                store,
                workspace.admin_email,
                workspace.seller_email,
                workspace.password.get_secret_value(),
            )
    engine.dispose()


def sign_in(page: Page, console: SyncedConsole, email: str) -> None:
    page.goto(console.url("/sign-in"))
    page.get_by_test_id("workspace").fill("demo")
    page.get_by_test_id("email").fill(email)
    page.get_by_test_id("password").fill(console.password)
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("home-title")).to_be_visible()


def sync_now_and_wait(page: Page) -> None:
    page.goto(page.url.split("#")[0].split("?")[0])
    last_sync = page.get_by_test_id("last-sync")
    before = last_sync.inner_text()
    page.get_by_test_id("sync-now").click()
    expect(page.get_by_test_id("notice")).to_be_visible()
    expect(page.get_by_test_id("last-sync")).not_to_have_text(before, timeout=30_000)


def move_sellers_opportunity_to_admin(console: SyncedConsole) -> str:
    """Give the seller's only open opportunity to the admin in the CRM; returns the account that should leave
    the seller's "My CRM accounts"."""
    organization_id = console.store.organization_id("demo")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        users = {user.email: user.crm_id for user in uow.crm_users.list_all() if user.email}
        seller, admin = users[console.seller_email], users[console.admin_email]
        open_opportunities = [
            record
            for record in uow.crm_records.records("opportunity")
            if record.owner_id == seller and record.state_code == 0
        ]
        credentials = stored_credentials(uow)
    assert len(open_opportunities) == 1, "the demo's seller has one open opportunity"
    opportunity = open_opportunities[0]
    assert opportunity.parent_id is not None

    async def reassign() -> None:
        session = dynamics_session(credentials)
        try:
            await session.writer.update(
                "opportunity", opportunity.crm_id, {"ownerid": LookupValue(admin, "systemuser")}
            )
        finally:
            await session.close()

    run_async(reassign())
    return opportunity.parent_id


def test_an_admin_tunes_the_pipeline_syncs_and_disconnects_while_a_seller_watches_their_lists(
    chromium: Browser, synced_console: SyncedConsole
) -> None:
    admin = chromium.new_context().new_page()
    seller = chromium.new_context().new_page()
    for page in (admin, seller):
        page.set_default_timeout(15_000)
    sign_in(admin, synced_console, synced_console.admin_email)
    sign_in(seller, synced_console, synced_console.seller_email)

    admin.goto(synced_console.url("/settings/crm"))
    expect(admin.get_by_test_id("crm-state")).to_have_text("Conectado a Microsoft Dynamics")
    expect(admin.get_by_test_id("pipeline-settings")).to_contain_text("¿En qué fase considera tu equipo de ventas")
    admin.get_by_test_id("stage-source").select_option("salesstage")
    admin.get_by_test_id("stage-threshold").select_option("salesstage:0")
    admin.get_by_test_id("won-value-column").select_option("estimatedvalue")
    admin.get_by_test_id("pipeline-save").click()
    expect(admin.get_by_test_id("won-value-column")).to_have_value("estimatedvalue")
    screenshot(admin, "crm-settings-pipeline-es")
    sync_now_and_wait(admin)
    screenshot(admin, "crm-settings-synced-es")

    seller.goto(synced_console.url("/lists"))
    accounts = seller.locator("[data-testid=list][data-list-kind=crm_accounts]")
    leaving = move_sellers_opportunity_to_admin(synced_console)
    expect(accounts.locator(f'[data-testid=list-item][data-crm-id="{leaving}"]')).to_have_count(1)
    screenshot(seller, "seller-lists-before")

    admin.goto(synced_console.url("/settings/crm"))
    sync_now_and_wait(admin)
    seller.reload()
    expect(accounts.locator(f'[data-testid=list-item][data-crm-id="{leaving}"]')).to_have_count(0)
    screenshot(seller, "seller-lists-after")

    admin.goto(synced_console.url("/settings/crm"))
    admin.get_by_test_id("disconnect-purge").check()
    admin.get_by_test_id("disconnect-submit").click()
    expect(admin.get_by_test_id("crm-state")).to_have_text("Sin conexión con el CRM")
    screenshot(admin, "crm-settings-disconnected-es")
    admin.goto(synced_console.url("/seats"))
    expect(admin.get_by_test_id("in-crm-badge")).to_have_count(0)
    seller.reload()
    expect(seller.get_by_test_id("list-item")).to_have_count(0)
