"""In a real browser, against the demo workspace (connected to the demo sandbox over TLS): the Spanish-speaking
administrator maps the CRM's LinkedIn profile URL column per table on CRM Settings (only the CRM's text columns are
offered); the English-speaking seller's auto-saved lists hold the people tied to their CRM records, count the
records not matched yet, and show one as soon as it is matched."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Browser, expect
from tests.e2e.conftest import SyncedConsole, screenshot, sign_in_demo

from salesbridge.domain.csv_rows import read_company_csv, read_people_csv
from salesbridge.domain.lists import ListKind
from salesbridge.sandbox.seeds.demo_workspace import (
    COMPANY_COLUMNS,
    PEOPLE_COLUMNS,
    CrmRows,
    crm_rows_of_sandbox,
    csv_bytes,
    generate_workspace,
)
from salesbridge.services.lists import ListView, show_lists
from salesbridge.services.matching import run_matching
from salesbridge.services.people_load import load_companies, load_people
from salesbridge.store.uow import utc_now
from salesbridge.web.localized import unmatched_label


def _sellers_list_contacts(console: SyncedConsole, organization_id: uuid.UUID) -> list[str]:
    with console.store(organization_id, read_only=True) as uow:
        seller = uow.users.find_by_email(console.seller_email)
        assert seller is not None
        leads = next(saved for saved in uow.lists.lists_of(seller.id) if saved.kind is ListKind.CRM_LEADS)
        return sorted(item.crm_id for item in uow.lists.items(leads.id) if item.crm_table == "contact")


def _load(console: SyncedConsole, people: list[dict[str, str]], companies: list[dict[str, str]]) -> None:
    load_companies(console.store, "demo", read_company_csv(csv_bytes(COMPANY_COLUMNS, companies)), actor="test")
    load_people(console.store, "demo", read_people_csv(csv_bytes(PEOPLE_COLUMNS, people)), actor="test")
    organization_id = console.store.organization_id("demo")
    assert organization_id is not None
    run_matching(console.store, organization_id, clock=utc_now)


def test_the_admin_maps_profile_url_columns_and_the_sellers_lists_hold_their_people(
    chromium: Browser, synced_console: SyncedConsole
) -> None:
    admin = chromium.new_context().new_page()
    admin.set_default_timeout(15_000)
    sign_in_demo(admin, synced_console, synced_console.admin_email)
    admin.goto(synced_console.url("/settings/crm"))
    section = admin.get_by_test_id("profile-url-settings")
    expect(section).to_contain_text("Columnas de URL de perfil de LinkedIn")
    expect(admin.get_by_test_id("profile-url-contact")).to_have_value("new_linkedinurl")  # the demo maps it
    expect(admin.get_by_test_id("profile-url-lead").locator("option[value=parentaccountid]")).to_have_count(0)
    admin.get_by_test_id("profile-url-lead").select_option("")
    admin.get_by_test_id("profile-url-account").select_option("websiteurl")
    admin.get_by_test_id("profile-url-save").click()
    expect(admin.get_by_test_id("notice")).to_be_visible()
    expect(admin.get_by_test_id("profile-url-lead")).to_have_value("")
    expect(admin.get_by_test_id("profile-url-account")).to_have_value("websiteurl")
    expect(admin.get_by_test_id("profile-url-lead").locator("option:checked")).to_have_text("Ninguna")
    screenshot(admin, "crm-settings-profile-url-columns-es")

    organization_id = synced_console.store.organization_id("demo")
    assert organization_id is not None
    crm = crm_rows_of_sandbox(synced_console.sandbox.services.state)
    workspace = generate_workspace(crm)
    in_workspace = {link.crm_id for link in workspace.truth}
    contacts = [crm_id for crm_id in _sellers_list_contacts(synced_console, organization_id) if crm_id in in_workspace]
    assert contacts, "the demo's seller has contacts in their auto-saved list, with a person each"
    later = {link.workspace_id for link in workspace.truth if link.crm_id == contacts[0]}
    [held_back] = [row for row in workspace.people if row["id"] in later]
    # The account's other people stay out too: with none of them loaded, nobody else shares its switchboard.
    colleagues = {link.workspace_id for link in workspace.truth if link.crm_id in _colleagues(crm, contacts[0])}
    _load(synced_console, [row for row in workspace.people if row["id"] not in colleagues], workspace.companies)

    seller = chromium.new_context().new_page()
    seller.set_default_timeout(15_000)
    sign_in_demo(seller, synced_console, synced_console.seller_email)
    seller.goto(synced_console.url("/lists"))
    leads = seller.locator("[data-testid=list][data-list-kind=crm_leads]")
    view = _leads_view(synced_console)
    expect(leads.get_by_test_id("list-person")).to_have_count(len(view.people))
    assert view.unmatched >= 1, "the record whose person is not loaded yet is counted"
    expect(leads.get_by_test_id("list-unmatched")).to_have_text(unmatched_label(view.unmatched, "en"))
    name = f"{held_back['first_name']} {held_back['last_name']}"
    expect(leads.get_by_test_id("list-person").filter(has_text=name)).to_have_count(0)
    screenshot(seller, "seller-lists-people-en")

    _load(synced_console, [held_back], [])
    seller.reload()

    expect(leads.get_by_test_id("list-person").filter(has_text=name)).to_have_count(1)
    after = _leads_view(synced_console)
    assert after.unmatched < view.unmatched
    expect(leads.get_by_test_id("list-person")).to_have_count(len(after.people))
    leads.get_by_test_id("list-person").get_by_role("link", name=name).click()
    expect(seller).to_have_url(re.compile(r"/people/[0-9a-f-]{36}$"))


def _colleagues(crm: CrmRows, contact_id: str) -> set[str]:
    """The CRM contacts of the account of ``contact_id``, itself included."""
    account = next(row["parentcustomerid"] for row in crm.contacts if row["contactid"] == contact_id)
    return {row["contactid"] for row in crm.contacts if row["parentcustomerid"] == account}


def _leads_view(console: SyncedConsole) -> ListView:
    views = show_lists(console.store, "demo", console.seller_email)
    return next(view for view in views if view.kind is ListKind.CRM_LEADS)
