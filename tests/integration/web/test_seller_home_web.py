"""A seller's home (SQLite and PostgreSQL): their lists with their sizes; what changed in the CRM for their
records since their previous visit (new owner, job change -> "Out of date", stage moved), not others' records nor
another organization's; their activity waiting for a CRM match and their recent activity with its delivery in
words."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

from tests.integration.web.conftest import ACME_ADMIN, ACME_GUEST, ACME_SELLER, Browser, Console, Person
from tests.integration.web.test_crm_details_web import _sync_off
from tests.integration.web.test_people_web import seed_people
from tests.integration.web.test_writeback_web import _delivered_note, _log

from salesbridge.domain.crm_changes import ChangeKind, NoticedChange
from salesbridge.domain.sync_runs import RecordRow
from salesbridge.domain.writeback import DataItem, DeliveryState
from salesbridge.services.crm_users import rematch_seats
from salesbridge.store.workspace import CrmUserValues

OpenBrowser = Callable[[Person | None], Browser]

CONTACT, OTHER_CONTACT, ACCOUNT, OPPORTUNITY = (
    "c0000000-0000-0000-0000-000000000001",
    "c0000000-0000-0000-0000-0000000000ff",
    "a0000000-0000-0000-0000-000000000001",
    "0f000000-0000-0000-0000-000000000001",
)
ANA, BEA = "5a000000-0000-0000-0000-00000000000a", "5a000000-0000-0000-0000-00000000000b"


def _seed_crm(console: Console) -> uuid.UUID:
    """Imported records of acme (two CRM users, an account, two contacts, an opportunity of the account) and the
    seller's list "Q1 targets" holding the first contact and the account. Returns acme's id."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        uow.crm_records.upsert_many(
            "systemuser",
            [RecordRow(ANA, "Ana Owner", None, None, 0, {}), RecordRow(BEA, "Bea Owner", None, None, 0, {})],
            generation=1,
        )
        uow.crm_records.upsert_many("account", [RecordRow(ACCOUNT, "Fabrikam", ANA, None, 0, {})], generation=1)
        uow.crm_records.upsert_many(
            "contact",
            [
                RecordRow(CONTACT, "Carla Contact", BEA, ACCOUNT, 0, {}),
                RecordRow(OTHER_CONTACT, "Otto Other", BEA, None, 0, {}),
            ],
            generation=1,
        )
        uow.crm_records.upsert_many(
            "opportunity", [RecordRow(OPPORTUNITY, "Fabrikam renewal", ANA, ACCOUNT, 0, {})], generation=1
        )
        seller = uow.users.find_by_email(ACME_SELLER.email)
        assert seller is not None
        targets = uow.lists.create_manual(seller.id, "Q1 targets")
        uow.lists.add_item(targets.id, "contact", CONTACT)
        uow.lists.add_item(targets.id, "account", ACCOUNT)
        uow.commit()
    return organization_id


def _import_notices(console: Console, organization_id: uuid.UUID, changes: list[NoticedChange]) -> None:
    with console.store(organization_id) as uow:
        uow.crm_record_changes.add_many(changes, at=console.clock())
        uow.commit()


def _shown(page: str, testid: str) -> int:
    return page.count(f'data-testid="{testid}"')


def test_the_home_tells_what_changed_for_my_records_since_my_last_visit(console: Console, browser: OpenBrowser) -> None:
    organization_id = _seed_crm(console)
    seller = browser(ACME_SELLER)  # Spanish
    first = seller.client.get("/")
    assert first.status_code == 200
    assert 'data-testid="home-no-changes"' in first.text
    assert "Q1 targets" in first.text
    assert "2 registros" in first.text, "the list with its size, in Spanish"

    console.clock.advance(timedelta(hours=2))
    _import_notices(
        console,
        organization_id,
        [
            NoticedChange("contact", CONTACT, ChangeKind.OWNER, BEA, ANA, ANA, ACCOUNT),
            NoticedChange("contact", CONTACT, ChangeKind.JOB, "Buyer", "Head of Buying", ANA, ACCOUNT),
            NoticedChange("opportunity", OPPORTUNITY, ChangeKind.STAGE, "1-Qualify", "2-Develop", ANA, ACCOUNT),
            NoticedChange("contact", OTHER_CONTACT, ChangeKind.OWNER, ANA, BEA, BEA, None),  # not the seller's
        ],
    )
    globex = console.store.organization_id("globex")
    assert globex is not None
    _import_notices(console, globex, [NoticedChange("contact", CONTACT, ChangeKind.JOB, "a", "b", None, None)])
    console.clock.advance(timedelta(hours=1))

    page = seller.client.get("/").text
    assert _shown(page, "home-change") == 3
    assert "Otto Other" not in page
    assert "Nuevo propietario" in page
    assert "Bea Owner → Ana Owner" in page, "owners by name"
    assert "Cambio de empleo" in page
    assert _shown(page, "home-change-out-of-date") == 1
    assert "Head of Buying" in page
    assert "Fabrikam" in page
    assert "1-Qualify → 2-Develop" in page, "the opportunity of an account in my list"

    console.clock.advance(timedelta(minutes=10))
    again = seller.client.get("/").text
    assert _shown(again, "home-change") == 3, "a reload within the visit still shows them"

    console.clock.advance(timedelta(hours=2))
    later = seller.client.get("/").text
    assert _shown(later, "home-change") == 0
    assert 'data-testid="home-no-changes"' in later


def test_the_home_lists_my_activity_waiting_for_a_match_and_my_recent_activity_in_words(
    console: Console, browser: OpenBrowser
) -> None:
    ids = seed_people(console)
    _log(console, ids["p-robert"], item=DataItem.CALL, state=DeliveryState.WAITING_FOR_MATCH)
    _delivered_note(console, ids["p-robert"])

    page = browser(ACME_SELLER).client.get("/").text

    assert _shown(page, "home-waiting-activity") == 1
    assert _shown(page, "home-recent-activity") == 1
    assert 'data-state="delivered"' in page
    assert f'href="/people/{ids["p-robert"]}#activities"' in page
    guest = browser(ACME_GUEST).client.get("/").text
    assert 'data-testid="home-changes"' not in guest, "no seat: no seller's home"


def test_a_persons_timeline_shows_teammates_activity_by_name_and_mine_as_mine(
    console: Console, browser: OpenBrowser
) -> None:
    ids = seed_people(console)
    _log(console, ids["p-robert"], item=DataItem.NOTE, state=DeliveryState.QUEUED, author=ACME_ADMIN.email)
    _delivered_note(console, ids["p-robert"])

    page = browser(ACME_SELLER).client.get(f"/people/{ids['p-robert']}").text

    assert page.count('data-testid="activity"') == 2
    assert 'data-testid="activity-author">· registrado por Ada Admin<' in page
    assert "· registrado por ti<" in page


def test_the_homes_activity_says_who_it_is_about(console: Console, browser: OpenBrowser) -> None:
    """ "Note: Met at the fair" tells a busy seller nothing without the person's name."""
    ids = seed_people(console)
    _log(console, ids["p-paco"], item=DataItem.CALL, state=DeliveryState.WAITING_FOR_MATCH)
    _delivered_note(console, ids["p-robert"])

    page = browser(ACME_SELLER).client.get("/").text

    assert _shown(page, "home-activity-subject") == 2
    assert '<span class="muted" data-testid="home-activity-subject">· Paco Pérez</span>' in page
    assert '<span class="muted" data-testid="home-activity-subject">· Robert Smith</span>' in page


def test_with_crm_sync_off_the_records_i_own_in_the_crm_are_not_followed(
    console: Console, browser: OpenBrowser
) -> None:
    """The home says so when a seat's CRM sync is off; a change to a record the seller owns (not in their lists)
    must not show up under it."""
    organization_id = _seed_crm(console)
    with console.store(organization_id) as uow:
        uow.crm_users.replace_all([CrmUserValues(BEA, "Bea Owner", ACME_SELLER.email, None, False, False, 0)])
        rematch_seats(uow)
        uow.commit()
    owned = [NoticedChange("contact", OTHER_CONTACT, ChangeKind.JOB, "Buyer", "CFO", BEA, None)]
    seller = browser(ACME_SELLER)
    seller.client.get("/")  # the visit the changes are counted from
    console.clock.advance(timedelta(hours=2))
    _import_notices(console, organization_id, owned)
    console.clock.advance(timedelta(hours=1))
    assert "Otto Other" in seller.client.get("/").text, "sync on: the record I own is followed"

    _sync_off(console, ACME_SELLER.email)
    console.clock.advance(timedelta(hours=2))
    _import_notices(console, organization_id, owned)
    console.clock.advance(timedelta(hours=1))
    page = seller.client.get("/").text
    assert "Otto Other" not in page
    assert 'data-testid="home-no-changes"' in page
