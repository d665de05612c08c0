"""The CRM import in a real browser: an admin sets the pipeline stage and the won-value field, presses "Sync now"
and watches the last sync date change, then disconnects with the purge; a seller sees their auto-saved lists
change after an opportunity of theirs moves to another owner in the CRM. The console runs with its import
runner, against the demo sandbox over TLS."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect
from tests.e2e.conftest import SyncedConsole, run_async, screenshot, sign_in_demo

from salesbridge.bootstrap import dynamics_session
from salesbridge.crm.ports import LookupValue
from salesbridge.services.connecting import stored_credentials


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
    sign_in_demo(admin, synced_console, synced_console.admin_email)
    sign_in_demo(seller, synced_console, synced_console.seller_email)

    admin.goto(synced_console.url("/settings/crm"))
    expect(admin.get_by_test_id("crm-state")).to_have_text("Conectado a Microsoft Dynamics")
    expect(admin.get_by_test_id("pipeline-settings")).to_contain_text("¿En qué fase considera tu equipo de ventas")
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
    expect(admin.get_by_test_id("disconnect-preview")).to_contain_text("registros del CRM")
    screenshot(admin, "crm-settings-disconnect-confirm-es")
    admin.goto(synced_console.url("/seats"))
    expect(admin.get_by_test_id("in-crm-badge")).not_to_have_count(0)  # nothing deleted before confirming
    admin.go_back()
    admin.get_by_test_id("disconnect-confirm").click()
    expect(admin.get_by_test_id("crm-state")).to_have_text("Sin conexión con el CRM")
    screenshot(admin, "crm-settings-disconnected-es")
    admin.goto(synced_console.url("/seats"))
    expect(admin.get_by_test_id("in-crm-badge")).to_have_count(0)
    seller.reload()
    expect(seller.get_by_test_id("list-item")).to_have_count(0)
