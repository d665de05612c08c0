"""A name with no space to break at (198 characters, allowed) never makes a page wider than the window: the
home (an activity and who it is about), the person's page, the People list, the review queue's "A ↔ B" heading and
the lists holding them, at 1280 px and on a 390 px phone, in English and in Spanish (found by QA: the person page's
heading made it 3286 px wide; the home's activity links 3994 px)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, expect
from tests.e2e.conftest import LiveConsole, choose_language, screenshot, sign_in_to
from tests.integration.matching_seed import seed_crm

from salesbridge.domain.csv_rows import read_people_csv
from salesbridge.domain.match_links import LinkBand, LinkOrigin, MatchLink, TargetKind
from salesbridge.domain.writeback import ActivityDraft, DataItem, DeliveryState, Direction
from salesbridge.services.lists import add_to_list, create_list
from salesbridge.services.people_load import load_people
from salesbridge.store.imports import RecordRow

LONG = "Maximiliano" * 18
LONG_CONTACT = "c-long"
VIEWPORTS = ({"width": 1280, "height": 900}, {"width": 390, "height": 844})
ADMIN = "admin@acme.test"


def _seed(console: LiveConsole) -> uuid.UUID:
    """acme's CRM (and a contact named :data:`LONG`), a person named :data:`LONG` tied to a ghost contact and
    proposed for review with the long-named contact, and a list of the admin's holding both contacts."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    seed_crm(console.store, organization_id)
    load_people(
        console.store, "acme", read_people_csv(f"id,first_name,last_name\nlong,{LONG},Ruiz\n".encode()), actor=ADMIN
    )
    data = {"firstname": LONG, "lastname": "Long", "fullname": f"{LONG} Long", "statecode": 0}
    with console.store(organization_id) as uow:
        uow.crm_records.upsert_many(
            "contact", [RecordRow(LONG_CONTACT, data["fullname"], None, None, 0, data)], generation=1
        )
        person = uow.people.get_by_external_id("long")
        assert person is not None
        assert person.id is not None
        links = [
            MatchLink(
                crm_table="contact",
                crm_id=crm_id,
                target_kind=TargetKind.PERSON,
                target_id=person.id,
                band=band,
                probability=0.7,
                decision=None,
                origin=LinkOrigin.SCORER,
                decided_by=None,
                decided_at=datetime.now(UTC),
            )
            for crm_id, band in (("c-ghost-00", LinkBand.MATCH), (LONG_CONTACT, LinkBand.REVIEW))
        ]
        uow.matches.put(links)
        uow.commit()
    with console.store(organization_id) as uow:  # the home names who the admin's activity is about
        admin = uow.users.find_by_email(ADMIN)
        assert admin is not None
        draft = ActivityDraft(
            client_id="long-note",
            item=DataItem.NOTE,
            person_id=person.id,
            company_id=None,
            subject=LONG,
            body="Met at the fair",
            direction=Direction.OUTGOING,
            occurred_at=datetime.now(UTC),
        )
        uow.activities.add(admin.id, draft, state=DeliveryState.WAITING_FOR_MATCH, hold=None)
        uow.commit()
    saved = create_list(console.store, "acme", ADMIN, name="Fair", actor=ADMIN)
    for crm_id in ("c-ghost-00", LONG_CONTACT):
        add_to_list(console.store, "acme", ADMIN, saved.id, table="contact", crm_id=crm_id, actor=ADMIN)
    return person.id


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_long_unbroken_name_wraps_on_every_page_that_shows_it(
    chromium: Browser, live_console: LiveConsole, lang: str
) -> None:
    person_id = _seed(live_console)
    paths = (
        "/",
        f"/people/{person_id}",
        f"/people?q={LONG[:11]}",
        "/admin/matching/review",
        "/lists",
        f"/matches/contact/{LONG_CONTACT}",
    )
    too_wide = {}
    for viewport in VIEWPORTS:
        page = chromium.new_context(viewport=viewport, locale=lang).new_page()  # type: ignore[arg-type]
        sign_in_to(page, live_console.base_url, "acme", ADMIN, live_console.password)
        choose_language(page, live_console.url("/account"), lang)
        for path in paths:
            page.goto(live_console.url(path))
            expect(page.get_by_text(LONG[:22], exact=False).first).to_be_visible()
            width = page.evaluate("document.scrollingElement.scrollWidth")
            if width > viewport["width"]:
                too_wide[(viewport["width"], path)] = width
        screenshot(page, f"long-name-{lang}-{viewport['width']}")
        page.context.close()
    assert too_wide == {}
