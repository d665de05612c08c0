"""The People and Companies pages in a real browser, against the demo workspace (connected to the demo sandbox over
TLS and imported once) with people and companies loaded from what its CRM holds: a seller searches people and
companies, pages through them and opens a person and a company, in English and in Spanish, on a 390 px wide phone
without sideways scrolling."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from tests.e2e.conftest import SyncedConsole, screenshot, sign_in_demo

from salesbridge.domain.people import Company, Person
from salesbridge.store.uow import UnitOfWorkFactory

PHONE = {"width": 390, "height": 844}
STRANGERS = 30
"""People with no CRM record at all (enough for a second page of people)."""

TEXTS = {
    "en": {"people": "People", "companies": "Companies", "count": re.compile(r"^\d+ people$"), "page": "Page 2 of"},
    "es": {
        "people": "Personas",
        "companies": "Empresas",
        "count": re.compile(r"^\d+ personas$"),
        "page": "Página 2 de",
    },
}


@dataclass(frozen=True)
class LoadedWorkspace:
    """What :func:`load_workspace_from_crm` loaded: a person per CRM contact (by contact id) and a company per
    CRM account (by account id), plus :data:`STRANGERS` people nobody's CRM knows."""

    person_of_contact: Mapping[str, uuid.UUID]
    company_of_account: Mapping[str, uuid.UUID]
    contacts: Mapping[str, Mapping[str, Any]]


def _text(data: Mapping[str, Any], column: str) -> str | None:
    value = data.get(column)
    return value if isinstance(value, str) and value.strip() else None


def load_workspace_from_crm(store: UnitOfWorkFactory) -> LoadedWorkspace:
    """Load the demo workspace's people and companies as a prospecting tool would know them: each imported
    account as a company, each imported contact as a person at their account's company (same name, email and
    title), and strangers."""
    organization_id = store.organization_id("demo")
    assert organization_id is not None
    with store(organization_id) as uow:
        accounts = uow.crm_records.records("account")
        contacts = uow.crm_records.records("contact")
        uow.companies.upsert_many(
            [
                Company(
                    f"crm-{account.crm_id}",
                    account.name or account.crm_id,
                    website=_text(account.data, "websiteurl"),
                    industry="Software",
                    city=_text(account.data, "address1_city"),
                    country=_text(account.data, "address1_country"),
                )
                for account in accounts
            ]
        )
        companies = {
            account.crm_id: found.id
            for account in accounts
            if (found := uow.companies.get_by_external_id(f"crm-{account.crm_id}")) is not None and found.id
        }
        names = {account.crm_id: account.name for account in accounts}
        people = [
            Person(
                f"crm-{contact.crm_id}",
                first_name=_text(contact.data, "firstname"),
                last_name=_text(contact.data, "lastname") or contact.name or contact.crm_id,
                headline=_text(contact.data, "jobtitle"),
                company_id=companies.get(contact.parent_id or ""),
                company_name=names.get(contact.parent_id or ""),
                emails=tuple(email for email in (_text(contact.data, "emailaddress1"),) if email),
                city=_text(contact.data, "address1_city"),
            )
            for contact in contacts
        ]
        strangers = [
            Person(f"stranger-{n:02}", first_name="Zoe", last_name=f"Stranger {n:02}", company_name="Nowhere Inc")
            for n in range(STRANGERS)
        ]
        uow.people.upsert_many([*people, *strangers])
        by_external = {p.external_id: p.id for p in uow.people.search("", limit=10_000) if p.id is not None}
        uow.commit()
    return LoadedWorkspace(
        {contact.crm_id: by_external[f"crm-{contact.crm_id}"] for contact in contacts},
        companies,
        {contact.crm_id: contact.data for contact in contacts},
    )


@pytest.fixture(scope="module")
def demo(shared_synced_console: SyncedConsole) -> tuple[SyncedConsole, LoadedWorkspace]:
    """The module's demo console with its people and companies loaded once."""
    return shared_synced_console, load_workspace_from_crm(shared_synced_console.store)


def seller_in(chromium: Browser, console: SyncedConsole, lang: str) -> Page:
    """The demo's seller signed in on a phone, reading ``lang``."""
    page = chromium.new_context(viewport=PHONE).new_page()  # type: ignore[arg-type]
    page.set_default_timeout(15_000)
    sign_in_demo(page, console, console.seller_email)
    page.goto(console.url("/account"))
    page.get_by_test_id("locale-select").select_option(lang)
    page.get_by_test_id("locale-save").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)
    return page


def fits_the_phone(page: Page) -> bool:
    """No sideways scrolling at :data:`PHONE` width."""
    return bool(page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"])


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_seller_searches_pages_and_opens_people_and_companies_on_a_phone(
    chromium: Browser, demo: tuple[SyncedConsole, LoadedWorkspace], lang: str
) -> None:
    console, loaded = demo
    texts = TEXTS[lang]
    seller = seller_in(chromium, console, lang)
    seller.get_by_test_id("nav-people").click()
    expect(seller.locator("h1")).to_have_text(texts["people"])
    expect(seller.get_by_test_id("people-count")).to_have_text(texts["count"])
    expect(seller.get_by_test_id("person-row")).to_have_count(25)
    seller.get_by_test_id("people-next").click()
    expect(seller.get_by_test_id("people-page")).to_contain_text(texts["page"])
    assert fits_the_phone(seller)
    screenshot(seller, f"people-page-2-phone-{lang}")

    contact_id, data = next((i, d) for i, d in loaded.contacts.items() if _text(d, "jobtitle") and _text(d, "lastname"))
    last_name = _text(data, "lastname") or ""
    seller.get_by_test_id("people-q").fill(last_name.upper())
    seller.get_by_test_id("people-search-submit").click()
    row = seller.locator(f"[data-testid=person-row][data-person-id='{loaded.person_of_contact[contact_id]}']")
    expect(row).to_be_visible()
    row.get_by_test_id("person-link").click()
    expect(seller.get_by_test_id("person-name")).to_contain_text(last_name)
    expect(seller.get_by_test_id("person-headline")).to_have_text(_text(data, "jobtitle") or "")
    assert fits_the_phone(seller)
    screenshot(seller, f"person-phone-{lang}")

    company = seller.get_by_test_id("person-company").locator("a")
    company_name = company.inner_text()
    company.click()
    expect(seller.get_by_test_id("company-name")).to_have_text(company_name)
    assert fits_the_phone(seller)
    seller.get_by_test_id("nav-companies").click()
    expect(seller.locator("h1")).to_have_text(texts["companies"])
    seller.get_by_test_id("companies-q").fill(company_name)
    seller.get_by_test_id("companies-search-submit").click()
    expect(seller.get_by_test_id("company-link").filter(has_text=company_name).first).to_be_visible()
    assert fits_the_phone(seller)
    screenshot(seller, f"companies-phone-{lang}")
