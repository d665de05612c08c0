"""Matching's administration pages in a real browser, against the demo workspace (connected to the demo sandbox over
TLS, imported once, its people and companies loaded and matched): an administrator opens the match report from the
navigation, reads the counts, downloads the unmatched contacts as CSV (every unmatched contact is in the file),
works the review queue (candidate pairs side by side, differences highlighted: accept one, reject another), in
English and in Spanish, on a phone; a seller reaches neither page."""

from __future__ import annotations

import csv
import re
import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, Page, expect
from tests.e2e.conftest import SyncedConsole, demo_page_in, screenshot, sign_in_demo
from tests.e2e.test_people_pages import PHONE, LoadedWorkspace, fits_the_phone, load_workspace_from_crm

from salesbridge.domain.match_links import LinkBand, LinkOrigin, MatchLink, TargetKind
from salesbridge.matching import Matcher, PersonRecord
from salesbridge.services.matching import matched_targets
from salesbridge.store.uow import UnitOfWorkFactory

TEXTS = {
    "en": {
        "nav": "Matching",
        "heading": "Match report",
        "queue": "Review queue",
        "crm_id": "CRM id",
        "accepted": "Accepted: the CRM record is tied.",
        "rejected": "Rejected: this pair will not be proposed again.",
    },
    "es": {
        "nav": "Coincidencias",
        "heading": "Informe de coincidencias",
        "queue": "Cola de revisión",
        "crm_id": "Id. del CRM",
        "accepted": "Aceptada: el registro del CRM queda vinculado.",
        "rejected": "Rechazada: esta pareja no se volverá a proponer.",
    },
}


@pytest.fixture(scope="module")
def demo(shared_synced_console: SyncedConsole) -> tuple[SyncedConsole, LoadedWorkspace]:
    """The module's demo console with its people and companies loaded and matched once."""
    return shared_synced_console, load_workspace_from_crm(shared_synced_console.store)


def _organization(store: UnitOfWorkFactory) -> uuid.UUID:
    organization_id = store.organization_id("demo")
    assert organization_id is not None
    return organization_id


def propose_for_review(store: UnitOfWorkFactory, pairs: int) -> list[tuple[str, uuid.UUID]]:
    """``pairs`` CRM leads matching left unmatched, each proposed for review with a stranger of the workspace
    (the scorer's own decision on that pair); returns (lead id, person id)."""
    organization_id = _organization(store)
    with store(organization_id) as uow:
        leads = [lead for lead in uow.crm_records.records("lead") if lead.name]
        tied = matched_targets(uow, "lead", [lead.crm_id for lead in leads])
        waiting = {link.crm_id for link in uow.matches.review(("lead",), limit=10_000)}
        # Not a lead rejected in review before (the other language's run): rejecting asks for a matching run that
        # decides that lead again, and it would replace a pair proposed here while the page is being read.
        rejected = uow.matches.rejections("lead", [lead.crm_id for lead in leads])
        free = [
            lead
            for lead in leads
            if lead.crm_id not in tied and lead.crm_id not in waiting and lead.crm_id not in rejected
        ][:pairs]
        strangers = [p for p in uow.people.search("stranger", limit=100) if p.id is not None]
        proposed: list[tuple[str, uuid.UUID]] = []
        links = []
        for lead, stranger in zip(free, strangers[-pairs:], strict=True):
            assert stranger.id is not None
            decision = Matcher.people().score(
                PersonRecord(
                    id=lead.crm_id,
                    full_name=lead.name,
                    emails=tuple(e for e in (lead.data.get("emailaddress1"),) if isinstance(e, str)),
                    company_name=lead.data.get("companyname")
                    if isinstance(lead.data.get("companyname"), str)
                    else None,
                ),
                PersonRecord(id=str(stranger.id), full_name=stranger.full_name, company_name=stranger.company_name),
            )
            links.append(
                MatchLink(
                    crm_table="lead",
                    crm_id=lead.crm_id,
                    target_kind=TargetKind.PERSON,
                    target_id=stranger.id,
                    band=LinkBand.REVIEW,
                    # Above every pair the scorer left in review (the queue lists the surest first, 20 a page): both
                    # are on the queue's first page however many pairs the demo's own matching put there.
                    probability=1.0,
                    decision=decision.to_dict(),
                    origin=LinkOrigin.SCORER,
                    decided_by=None,
                    decided_at=datetime.now(UTC),
                )
            )
            proposed.append((lead.crm_id, stranger.id))
        uow.matches.put(links)
        uow.commit()
    return proposed


def untied_contact_ids(store: UnitOfWorkFactory) -> tuple[set[str], set[str]]:
    """The imported contacts no person is tied to, as the store holds them, and those of them in review."""
    with store(_organization(store), read_only=True) as uow:
        contacts = [contact.crm_id for contact in uow.crm_records.records("contact")]
        tied = matched_targets(uow, "contact", contacts)
        review = {link.crm_id for link in uow.matches.review(("contact",), limit=100_000)}
    return set(contacts) - set(tied), review


def admin_in(chromium: Browser, console: SyncedConsole, lang: str) -> Page:
    """The demo's administrator signed in on a phone, reading ``lang``."""
    return demo_page_in(chromium, console, console.admin_email, lang, PHONE)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_an_admin_reads_the_report_downloads_the_unmatched_and_works_the_review_queue(
    chromium: Browser, demo: tuple[SyncedConsole, LoadedWorkspace], lang: str
) -> None:
    console, _loaded = demo
    texts = TEXTS[lang]
    (accepted_lead, accepted_person), (rejected_lead, rejected_person) = propose_for_review(console.store, 2)
    admin = admin_in(chromium, console, lang)

    admin.get_by_test_id("nav-matching").click()
    expect(admin.locator("h1")).to_have_text(texts["heading"])
    rows = admin.get_by_test_id("match-report-row")
    expect(rows).to_have_count(3)
    contacts = admin.locator("[data-testid=match-report-row][data-table=contact]")
    untied, in_review = untied_contact_ids(console.store)
    expect(contacts.locator("[data-field=unmatched]")).to_have_attribute("data-value", str(len(untied - in_review)))
    expect(contacts.locator("[data-field=review]")).to_have_attribute("data-value", str(len(in_review)))
    assert int(contacts.locator("[data-field=matched]").get_attribute("data-value") or 0) > 0
    assert fits_the_phone(admin)
    screenshot(admin, f"match-report-phone-{lang}")

    with admin.expect_download() as download:
        contacts.get_by_test_id("download-unmatched").click()
    path = download.value.path()
    with path.open(encoding="utf-8-sig", newline="") as file:
        lines = list(csv.DictReader(file))
    # Every contact no person is tied to, those waiting in review included, once each; columns named in the
    # administrator's language.
    assert {line[texts["crm_id"]] for line in lines} == untied
    assert len(lines) == len(untied)

    admin.get_by_test_id("open-review").click()
    expect(admin.locator("h1")).to_have_text(texts["queue"])
    accepted = admin.locator(f"[data-testid=review-item][data-crm-id='{accepted_lead}']")
    expect(accepted).to_be_visible()
    expect(accepted.locator("[data-testid=review-field][data-field=name]")).to_have_attribute("data-differs", "yes")
    expect(accepted.locator("[data-testid=review-field][data-differs=yes] td.differs").first).to_be_visible()
    assert fits_the_phone(admin)
    screenshot(admin, f"review-queue-phone-{lang}")
    accepted.get_by_test_id("review-accept").click()
    expect(admin.get_by_test_id("notice")).to_have_text(texts["accepted"])
    expect(admin.locator(f"[data-testid=review-item][data-crm-id='{accepted_lead}']")).to_have_count(0)
    admin.locator(f"[data-testid=review-item][data-crm-id='{rejected_lead}']").get_by_test_id("review-reject").click()
    expect(admin.get_by_test_id("notice")).to_have_text(texts["rejected"])
    expect(admin.locator(f"[data-testid=review-item][data-crm-id='{rejected_lead}']")).to_have_count(0)

    # The accepted lead is now the person's CRM record; the rejected one is not.
    admin.goto(console.url(f"/people/{accepted_person}"))
    expect(admin.locator(f"[data-testid=crm-record][data-crm-id='{accepted_lead}']")).to_be_visible()
    admin.goto(console.url(f"/people/{rejected_person}"))
    expect(admin.locator(f"[data-testid=crm-record][data-crm-id='{rejected_lead}']")).to_have_count(0)


def test_a_seller_reaches_neither_the_report_nor_the_review_queue(
    chromium: Browser, demo: tuple[SyncedConsole, LoadedWorkspace]
) -> None:
    console, _loaded = demo
    seller = chromium.new_context().new_page()
    seller.set_default_timeout(15_000)
    sign_in_demo(seller, console, console.seller_email)
    expect(seller.get_by_test_id("nav-matching")).to_have_count(0)
    for path in ("/admin/matching", "/admin/matching/review", "/admin/matching/unmatched.csv?table=contact"):
        response = seller.request.get(console.url(path))
        assert response.status == 403, path
    assert re.search("salesbridge", seller.title())
