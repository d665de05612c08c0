"""The People and Companies pages in a real browser, against the demo workspace (connected to the demo sandbox over
TLS and imported once) with people and companies loaded from what its CRM holds and matched: a seller searches
people and companies, pages through them and opens a person and a company; sees the badges, opens a person the
scorer tied to the wrong CRM contact, reads why, and ties the contact to the right person; Sync now (an import and
the re-matching after it) keeps the correction. In English and in Spanish, on a 390 px wide phone without sideways
scrolling."""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from tests.e2e.conftest import SyncedConsole, demo_page_in, screenshot, sign_in_demo

from salesbridge.domain.people import Company, Person
from salesbridge.services.matching import run_matching
from salesbridge.store.uow import UnitOfWorkFactory, utc_now

PHONE = {"width": 390, "height": 844}
STRANGERS = 30
"""People with no CRM record at all (enough for a second page of people)."""

TEXTS = {
    "en": {
        "people": "People",
        "companies": "Companies",
        "count": re.compile(r"^\d+ people$"),
        "page": "Page 2 of",
        "in_crm": "In CRM",
        "not_in_crm": "Not in CRM",
        "email_same": "Email: same",
        "linked": "Match changed",
        "set_by": "Set by",
        "out_of_date": "Out of date",
    },
    "es": {
        "people": "Personas",
        "companies": "Empresas",
        "count": re.compile(r"^\d+ personas$"),
        "page": "Página 2 de",
        "in_crm": "En el CRM",
        "not_in_crm": "No está en el CRM",
        "email_same": "Correo electrónico: igual",
        "linked": "Coincidencia cambiada",
        "set_by": "Establecida por",
        "out_of_date": "Desactualizado",
    },
}


@dataclass(frozen=True)
class LoadedWorkspace:
    """What :func:`load_workspace_from_crm` loaded: a person per CRM contact it loaded (by contact id; every
    :data:`UNKNOWN_EVERY`-th contact has none) and a company per CRM account (by account id), plus
    :data:`STRANGERS` people nobody's CRM knows and the impostors."""

    person_of_contact: Mapping[str, uuid.UUID]
    company_of_account: Mapping[str, uuid.UUID]
    contacts: Mapping[str, Mapping[str, Any]]
    impostor_of_contact: Mapping[str, uuid.UUID]


def _text(data: Mapping[str, Any], column: str) -> str | None:
    value = data.get(column)
    return value if isinstance(value, str) and value.strip() else None


UNKNOWN_EVERY = 10
"""One CRM contact in this many has no person in the workspace."""
IMPOSTORS = 2
"""Contacts (the first ones with a name, a title and an email) that get a wrong match: an impostor (same name,
title, company and email, another city) is what the scorer ties, while the person they really are goes by their
married name (:data:`MARRIED_NAME`) and no email, which no scorer can know: a seller corrects it."""
MARRIED_NAME = "Lindqvist"


def load_workspace_from_crm(store: UnitOfWorkFactory) -> LoadedWorkspace:
    """Load the demo workspace's people and companies as a prospecting tool would know them: each imported
    account as a company, each imported contact as a person at their account's company (same name, email and
    title), strangers, and :data:`IMPOSTORS` impostors; then match the workspace with the CRM."""
    organization_id = store.organization_id("demo")
    assert organization_id is not None
    with store(organization_id) as uow:
        accounts = uow.crm_records.records("account")
        # Every tenth contact is nobody the workspace knows (it stays unmatched, as real CRMs have such records).
        contacts = [
            c for n, c in enumerate(uow.crm_records.records("contact")) if n % UNKNOWN_EVERY != UNKNOWN_EVERY - 1
        ]
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
        fooled = [
            contact.crm_id
            for contact in contacts
            if _text(contact.data, "jobtitle")
            and _text(contact.data, "emailaddress1")
            and _text(contact.data, "lastname")
        ][:IMPOSTORS]
        impostors = []
        for index, person in enumerate(people):
            crm_id = person.external_id.removeprefix("crm-")
            if crm_id in fooled:
                impostors.append(dataclasses.replace(person, external_id=f"impostor-{crm_id}", city="Reykjavik"))
                people[index] = dataclasses.replace(person, last_name=MARRIED_NAME, full_name="", emails=())
        strangers = [
            Person(f"stranger-{n:02}", first_name="Zoe", last_name=f"Stranger {n:02}", company_name="Nowhere Inc")
            for n in range(STRANGERS)
        ]
        uow.people.upsert_many([*people, *impostors, *strangers])
        by_external = {p.external_id: p.id for p in uow.people.search("", limit=10_000) if p.id is not None}
        uow.commit()
    run_matching(store, organization_id, full=True, clock=utc_now)
    return LoadedWorkspace(
        {contact.crm_id: by_external[f"crm-{contact.crm_id}"] for contact in contacts},
        companies,
        {contact.crm_id: contact.data for contact in contacts},
        {crm_id: by_external[f"impostor-{crm_id}"] for crm_id in fooled},
    )


@pytest.fixture(scope="module")
def demo(shared_synced_console: SyncedConsole) -> tuple[SyncedConsole, LoadedWorkspace]:
    """The module's demo console with its people and companies loaded once."""
    return shared_synced_console, load_workspace_from_crm(shared_synced_console.store)


def seller_in(chromium: Browser, console: SyncedConsole, lang: str) -> Page:
    """The demo's seller signed in on a phone, reading ``lang``."""
    return demo_page_in(chromium, console, console.seller_email, lang, PHONE)


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

    contact_id, data = next(
        (i, d)
        for i, d in loaded.contacts.items()
        if _text(d, "jobtitle") and _text(d, "lastname") and i not in loaded.impostor_of_contact
    )
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


def _last_match_run(store: UnitOfWorkFactory) -> Any:
    organization_id = store.organization_id("demo")
    assert organization_id is not None
    with store(organization_id, read_only=True) as uow:
        return uow.matches.state().last_run_at


def _change_in_the_crm(console: SyncedConsole, contact_id: str, **values: str) -> None:
    """Change a contact in the sandbox's storage as a write through its Web API would (a new row version, so
    change tracking hands it to the next import)."""
    storage = console.sandbox.services.state.storage
    with storage.transaction():
        changed = storage.update(
            "contact", "contactid", contact_id, {**values, "versionnumber": storage.next_version()}
        )
    assert changed == 1


def _sync_now_and_wait_for_rematching(chromium: Browser, console: SyncedConsole) -> None:
    """An administrator presses Sync now; returns once the import it queued has run and matching ran after it."""
    before = _last_match_run(console.store)
    admin = chromium.new_context().new_page()
    admin.set_default_timeout(15_000)
    sign_in_demo(admin, console, console.admin_email)
    admin.goto(console.url("/settings/crm"))
    admin.get_by_test_id("sync-now").click()
    expect(admin.get_by_test_id("notice")).to_be_visible()
    # The runner imports, then runs the matching the import asked for: wait for that run (a deadline, not a
    # measured duration: the assertion is about what the page shows afterwards).
    deadline = time.monotonic() + 60
    while _last_match_run(console.store) == before:
        assert time.monotonic() < deadline, "no re-matching after Sync now"
        time.sleep(0.2)
    admin.context.close()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_seller_sees_badges_corrects_a_wrong_match_and_sync_now_keeps_it(
    chromium: Browser, demo: tuple[SyncedConsole, LoadedWorkspace], lang: str
) -> None:
    console, loaded = demo
    texts = TEXTS[lang]
    contact_id = sorted(loaded.impostor_of_contact)[0 if lang == "en" else 1]
    impostor, right = loaded.impostor_of_contact[contact_id], loaded.person_of_contact[contact_id]
    data = loaded.contacts[contact_id]
    name = f"{_text(data, 'firstname') or ''} {_text(data, 'lastname') or ''}".strip()
    seller = seller_in(chromium, console, lang)

    # The badges, and the filter by badge.
    seller.get_by_test_id("nav-people").click()
    seller.get_by_test_id("people-badge").select_option("not_in_crm")
    seller.get_by_test_id("people-search-submit").click()
    expect(seller.get_by_test_id("badge-not-in-crm").first).to_have_text(texts["not_in_crm"])
    expect(seller.get_by_test_id("badge-in-crm")).to_have_count(0)
    seller.get_by_test_id("people-badge").select_option("in_crm")
    seller.get_by_test_id("people-q").fill(name)
    seller.get_by_test_id("people-search-submit").click()
    wrong_row = seller.locator(f"[data-testid=person-row][data-person-id='{impostor}']")
    expect(wrong_row.get_by_test_id("badge-in-crm")).to_have_text(texts["in_crm"])
    expect(wrong_row.get_by_test_id("badge-view-in-crm")).to_have_attribute("href", re.compile(re.escape(contact_id)))
    expect(seller.locator(f"[data-testid=person-row][data-person-id='{right}']")).to_have_count(0)
    assert fits_the_phone(seller)
    screenshot(seller, f"people-badges-phone-{lang}")

    # The wrong match: the impostor holds the contact; why it matched says so.
    wrong_row.get_by_test_id("person-link").click()
    record = seller.locator(f"[data-testid=crm-record][data-crm-id='{contact_id}']")
    expect(record).to_be_visible()
    expect(record.get_by_test_id("view-in-crm")).to_have_attribute(
        "href", re.compile(r"/main\.aspx\?etn=contact&id=" + re.escape(contact_id))
    )
    record.get_by_test_id("match-why").locator("summary").click()
    expect(record.get_by_test_id("match-reason").filter(has_text=texts["email_same"])).to_have_count(1)
    assert fits_the_phone(seller)
    screenshot(seller, f"person-wrong-match-phone-{lang}")

    # Edit match: find the right person (by their married name) and tie the contact to them.
    record.get_by_test_id("edit-match").click()
    seller.get_by_test_id("edit-match-q").fill(f"{_text(data, 'firstname') or ''} {MARRIED_NAME}")
    seller.get_by_test_id("edit-match-search").click()
    assert fits_the_phone(seller)
    screenshot(seller, f"edit-match-phone-{lang}")
    seller.locator(f"[data-testid=edit-match-candidate][data-target-id='{right}']").get_by_test_id(
        "edit-match-link"
    ).click()
    expect(seller.get_by_test_id("notice")).to_contain_text(texts["linked"])
    expect(seller).to_have_url(re.compile(f"/people/{right}"))
    expect(seller.locator(f"[data-testid=crm-record][data-crm-id='{contact_id}']")).to_be_visible()

    # The contact changes jobs in the CRM; Sync now imports it and matches it again: the correction wins, and the
    # person is now out of date (the CRM and the workspace disagree on the title).
    _change_in_the_crm(console, contact_id, jobtitle="Chief Revenue Officer")
    _sync_now_and_wait_for_rematching(chromium, console)
    seller.reload()
    record = seller.locator(f"[data-testid=crm-record][data-crm-id='{contact_id}']")
    expect(record).to_be_visible()
    expect(seller.get_by_test_id("match-origin")).to_contain_text(texts["set_by"])
    expect(record.get_by_test_id("crm-record-out-of-date")).to_have_text(texts["out_of_date"])
    expect(seller.get_by_test_id("badges").first.get_by_test_id("badge-out-of-date")).to_be_visible()
    screenshot(seller, f"person-out-of-date-phone-{lang}")
    seller.goto(console.url(f"/people/{impostor}"))
    expect(seller.get_by_test_id("crm-records-none")).to_be_visible()
    expect(seller.get_by_test_id("badge-not-in-crm")).to_have_text(texts["not_in_crm"])
    screenshot(seller, f"person-corrected-phone-{lang}")
