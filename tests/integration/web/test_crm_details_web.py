"""A person's and a company's page show their CRM records' key fields (owner, account, open opportunities with
stage and value) to seats with CRM sync on, and not to a seat with it off (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import SecretStr
from tests.integration.web.conftest import ACME_ADMIN, ACME_SELLER, Browser, Console, Person
from tests.integration.web.test_people_web import seed_people

from salesbridge.domain.currencies import CrmCurrencies
from salesbridge.domain.match_links import STALE_TITLE, LinkBand, LinkOrigin, MatchLink, TargetKind
from salesbridge.domain.sync_runs import RecordRow

OpenBrowser = Callable[[Person | None], Browser]

ANA, ACCOUNT, CONTACT = (
    "5a000000-0000-0000-0000-00000000000a",
    "a0000000-0000-0000-0000-000000000001",
    "c0000000-0000-0000-0000-000000000001",
)
OPEN_BIG, OPEN_SMALL, WON, EUR_DEAL = (f"0f000000-0000-0000-0000-00000000000{n}" for n in (1, 2, 3, 4))


def tie(table: str, crm_id: str, kind: TargetKind, target: uuid.UUID, *, stale: bool = False) -> MatchLink:
    """A scorer's tie of a CRM record to a person or company (``stale``: out of date on the title)."""
    return MatchLink(
        crm_table=table,
        crm_id=crm_id,
        target_kind=kind,
        target_id=target,
        band=LinkBand.MATCH,
        probability=0.99,
        decision=None,
        origin=LinkOrigin.SCORER,
        decided_by=None,
        decided_at=datetime(2026, 3, 1, tzinfo=UTC),
        stale_fields=(STALE_TITLE,) if stale else (),
    )


def _seed(console: Console) -> dict[str, uuid.UUID]:
    """Robert Smith tied to a contact of the account Contoso (tied to the company), owned by Ana Owner; the
    account has two open opportunities and a won one."""
    ids = seed_people(console)
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None

    def opportunity(crm_id: str, name: str, state: int, stage: str, value: float) -> RecordRow:
        data = {"name": name, "statecode": state, "stepname": stage, "estimatedvalue_base": value}
        return RecordRow(crm_id, name, ANA, ACCOUNT, state, data)

    with console.store(organization_id) as uow:
        uow.crm_records.upsert_many("systemuser", [RecordRow(ANA, "Ana Owner", None, None, 0, {})], generation=1)
        uow.crm_records.upsert_many("account", [RecordRow(ACCOUNT, "Contoso CRM", ANA, None, 0, {})], generation=1)
        uow.crm_records.upsert_many(
            "contact", [RecordRow(CONTACT, "Robert Smith", ANA, ACCOUNT, 0, {"fullname": "Robert Smith"})], generation=1
        )
        uow.crm_records.upsert_many(
            "opportunity",
            [
                opportunity(OPEN_SMALL, "Contoso pilot", 0, "1-Qualify", 1200.0),
                opportunity(OPEN_BIG, "Contoso rollout", 0, "3-Propose", 250000.0),
                opportunity(WON, "Contoso 2025", 1, "4-Close", 90000.0),
            ],
            generation=1,
        )
        uow.matches.put(
            [
                tie("contact", CONTACT, TargetKind.PERSON, ids["p-robert"]),
                tie("account", ACCOUNT, TargetKind.COMPANY, ids["contoso"]),
            ]
        )
        uow.commit()
    return ids


def _sync_off(console: Console, email: str) -> None:
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        user = uow.users.find_by_email(email)
        assert user is not None
        seat = uow.seats.find_by_user(user.id)
        assert seat is not None
        uow.organization.set_crm_sync_all_seats(False)  # else every seat syncs, whatever its own switch
        uow.seats.set_crm_sync(seat.id, False)
        uow.commit()


def test_seats_with_crm_sync_see_owner_account_and_open_opportunities_largest_first(
    console: Console, browser: OpenBrowser
) -> None:
    ids = _seed(console)
    admin = browser(ACME_ADMIN)

    person = admin.client.get(f"/people/{ids['p-robert']}").text
    company = admin.client.get(f"/companies/{ids['contoso']}").text

    for page in (person, company):
        assert 'data-testid="crm-details"' in page
        assert page.count('data-testid="crm-detail-opportunity"') == 2, "open ones only"
        assert page.index("Contoso rollout") < page.index("Contoso pilot"), "largest first"
        assert "250,000" in page
        assert "3-Propose" in page
        assert "Contoso 2025" not in page
    assert 'data-testid="crm-detail-owner">Ana Owner<' in person
    assert 'data-testid="crm-detail-account">Contoso CRM<' in person
    assert 'data-testid="log-note"' in person, "Log a note stays in place"


def test_a_seat_without_crm_sync_does_not_see_the_crm_details(console: Console, browser: OpenBrowser) -> None:
    ids = _seed(console)
    _sync_off(console, ACME_SELLER.email)
    seller = browser(ACME_SELLER)

    person = seller.client.get(f"/people/{ids['p-robert']}").text
    company = seller.client.get(f"/companies/{ids['contoso']}").text

    for page in (person, company):
        assert 'data-testid="crm-details"' not in page
        assert "Contoso rollout" not in page
    assert 'data-testid="log-note"' in person


def test_the_in_the_crm_card_of_tied_records_is_shown_only_to_seats_with_crm_sync_on(
    console: Console, browser: OpenBrowser
) -> None:
    """The older card (each tied record with its owner, Edit match) follows the seat's CRM sync as the CRM details
    do: the owner is one of the CRM's key fields."""
    ids = _seed(console)
    seller = browser(ACME_SELLER)
    pages = (f"/people/{ids['p-robert']}", f"/companies/{ids['contoso']}")

    synced = [seller.client.get(page).text for page in pages]
    _sync_off(console, ACME_SELLER.email)
    not_synced = [seller.client.get(page).text for page in pages]

    for page in synced:
        assert 'data-testid="crm-records"' in page
        assert 'data-testid="crm-record-owner">' in page
    for page in not_synced:
        assert 'data-testid="crm-records"' not in page
        assert 'data-testid="crm-record-owner"' not in page
        assert "Ana Owner" not in page
        assert 'data-testid="log-note"' in page


USD, EUR = "0c000000-0000-0000-0000-0000000000d1", "0c000000-0000-0000-0000-0000000000e1"


def give_currencies(console: Console, base: str, codes: dict[str, str]) -> None:
    """What an import reads of the CRM's currencies (the organization's base, each currency's ISO code)."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        uow.crm_connection.save_credentials(
            org_url="https://acme.crm.dynamics.com", tenant_id="t", client_id="c", client_secret=SecretStr("s")
        )
        uow.crm_connection.save_currencies(CrmCurrencies(base, codes))
        uow.commit()


def test_opportunity_values_show_their_currency_as_the_readers_language_writes_it(
    console: Console, browser: OpenBrowser
) -> None:
    ids = _seed(console)
    give_currencies(console, USD, {USD: "USD", EUR: "EUR"})
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        # No base twin: the opportunity's own value, in its own currency.
        data = {
            "name": "Contoso Madrid",
            "statecode": 0,
            "stepname": "2-Develop",
            "estimatedvalue": 5000.0,
            "transactioncurrencyid": {"id": EUR, "table": "transactioncurrency"},
        }
        uow.crm_records.upsert_many(
            "opportunity", [RecordRow(EUR_DEAL, "Contoso Madrid", ANA, ACCOUNT, 0, data)], generation=1
        )
        uow.commit()

    english = browser(ACME_ADMIN).client.get(f"/companies/{ids['contoso']}").text
    spanish = browser(ACME_SELLER).client.get(f"/companies/{ids['contoso']}").text

    for text in ("$250,000.00", "$1,200.00", "€5,000.00"):
        assert f">{text}<" in english, text
    for text in ("250.000,00\xa0US$", "1.200,00\xa0US$", "5.000,00\xa0€"):
        assert f">{text}<" in spanish, text
