"""Matching on the console (SQLite and PostgreSQL): badges and their filter on People, a person's CRM records and
why they matched, Save to list, Edit match by any seat holder (audited, seen by everyone, out of reach of another
organization, CSRF-checked), the administrators' review queue and match report with its unmatched CSV."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import SecretStr
from tests.integration.web.conftest import ACME_ADMIN, ACME_GUEST, ACME_SELLER, GLOBEX_ADMIN, Browser, Console, Person
from tests.integration.web.test_people_web import seed_people

from salesbridge.domain.lists import ListKind
from salesbridge.domain.match_links import LinkBand, LinkOrigin, MatchLink, TargetKind
from salesbridge.matching import Matcher, PersonRecord
from salesbridge.services.crm_users import rematch_seats
from salesbridge.services.matching import run_matching
from salesbridge.store.imports import RecordRow
from salesbridge.store.workspace import CrmUserValues

OpenBrowser = Callable[[Person | None], Browser]
ORG_URL = "https://acme.crm4.dynamics.com"
OWNER = "33333333-0000-0000-0000-000000000001"
ROBERT_CONTACT = "c0000000-0000-0000-0000-000000000001"
FORMULA_CONTACT = "c0000000-0000-0000-0000-000000000002"
LONELY_LEAD = "10000000-0000-0000-0000-000000000001"
ACCOUNT = "a0000000-0000-0000-0000-000000000001"


def seed_crm(console: Console) -> dict[str, uuid.UUID]:
    """acme connected to :data:`ORG_URL`, its CRM holding Contoso and Robert Smith (the workspace's, same email),
    a contact nobody in the workspace is (with a formula for a name), and a lead; people loaded; matching run."""
    ids = seed_people(console)
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        uow.crm_connection.save_credentials(
            org_url=ORG_URL, tenant_id="tenant", client_id="client", client_secret=SecretStr("s" * 32)
        )
        uow.crm_connection.mark_connected(crm_user_id=OWNER)
        uow.crm_users.replace_all([CrmUserValues(OWNER, "Olga Owner", "olga@acme.test", None, False, False, 0)])
        rematch_seats(uow)
        account = {"name": "CONTOSO", "websiteurl": "https://contoso.com", "address1_city": "Madrid", "statecode": 0}
        uow.crm_records.upsert_many("account", [RecordRow(ACCOUNT, "CONTOSO", OWNER, None, 0, account)], generation=1)
        robert = {
            "firstname": "Robert",
            "lastname": "Smith",
            "fullname": "Robert Smith",
            "emailaddress1": "robert.smith@contoso.com",
            "jobtitle": "Sales Director",
            "parentcustomerid": {"id": ACCOUNT, "table": "account"},
            "address1_city": "Madrid",
            "statecode": 0,
        }
        formula = {"firstname": "=HYPERLINK(1)", "lastname": "Nobody", "fullname": "=HYPERLINK(1) Nobody"}
        uow.crm_records.upsert_many(
            "contact",
            [
                RecordRow(ROBERT_CONTACT, "Robert Smith", OWNER, ACCOUNT, 0, robert),
                RecordRow(FORMULA_CONTACT, "=HYPERLINK(1) Nobody", OWNER, None, 0, formula),
            ],
            generation=1,
        )
        lead = {"firstname": "Lonely", "lastname": "Lead", "fullname": "Lonely Lead", "companyname": "Nowhere"}
        uow.crm_records.upsert_many("lead", [RecordRow(LONELY_LEAD, "Lonely Lead", OWNER, None, 0, lead)], generation=1)
        uow.commit()
    run_matching(console.store, organization_id, full=True, clock=console.clock)
    return ids


def _names(html: str, testid: str = "person-link") -> list[str]:
    return re.findall(rf'data-testid="{testid}">([^<]*)<', html)


def test_a_seller_sees_badges_the_crm_record_and_why_it_matched(console: Console, browser: OpenBrowser) -> None:
    ids = seed_crm(console)
    seller = browser(ACME_SELLER)
    listed = seller.client.get("/people").text
    assert "En el CRM" in listed
    assert "No está en el CRM" in listed
    assert _names(seller.client.get("/people", params={"badge": "in_crm"}).text) == ["Robert Smith"]
    assert _names(seller.client.get("/people", params={"badge": "not_in_crm"}).text) == ["Paco Pérez"]
    assert _names(seller.client.get("/people", params={"badge": "out_of_date"}).text) == []

    page = seller.client.get(f"/people/{ids['p-robert']}").text
    url = f"{ORG_URL}/main.aspx?etn=contact&amp;id={ROBERT_CONTACT}&amp;pagetype=entityrecord"
    assert f'href="{url}"' in page
    assert "Ver en CRM" in page
    assert 'data-testid="crm-record-owner">Olga Owner<' in page
    reasons = re.findall(r'data-testid="match-reason" data-field="(\w+)">([^<]*)<', page)
    assert ("email", "Correo electrónico: igual") in reasons
    company = f"/companies/{ids['contoso']}"
    assert "En el CRM" in seller.client.get(company).text
    in_crm = seller.client.get("/companies", params={"badge": "in_crm"}).text
    assert _names(in_crm, "company-link") == ["Contoso Ltd."]
    assert _names(seller.client.get("/companies", params={"badge": "not_in_crm"}).text, "company-link") == []
    # An unknown badge filters nothing.
    assert _names(seller.client.get("/people", params={"badge": "bogus"}).text) == ["Paco Pérez", "Robert Smith"]


def test_a_job_change_in_the_crm_shows_out_of_date(console: Console, browser: OpenBrowser) -> None:
    ids = seed_crm(console)
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        record = uow.crm_records.records("contact")[0]
        moved = {**record.data, "jobtitle": "Chief Revenue Officer"}
        uow.crm_records.upsert_many(
            "contact", [RecordRow(ROBERT_CONTACT, "Robert Smith", OWNER, ACCOUNT, 0, moved)], generation=2
        )
        uow.commit()
    run_matching(console.store, organization_id, full=True, clock=console.clock)
    seller = browser(ACME_SELLER)
    assert _names(seller.client.get("/people", params={"badge": "out_of_date"}).text) == ["Robert Smith"]
    page = seller.client.get(f"/people/{ids['p-robert']}").text
    assert 'data-testid="badge-out-of-date"' in page
    assert "No coinciden el CRM y el espacio de trabajo en: cargo." in page


def test_save_to_list_puts_the_persons_crm_records_in_the_sellers_own_list(
    console: Console, browser: OpenBrowser
) -> None:
    ids = seed_crm(console)
    seller = browser(ACME_SELLER)
    assert 'data-testid="save-no-lists"' in seller.client.get(f"/people/{ids['p-robert']}").text
    created = seller.client.post("/lists", data={"name": "Madrid", **seller.csrf_data()}, follow_redirects=False)
    assert created.status_code == 303
    own = seller.client.get("/api/v1/me/lists").json()[-1]
    without_token = seller.client.post(f"/people/{ids['p-robert']}/save", data={"list_id": own["id"]})
    assert without_token.status_code == 403
    saved = seller.client.post(
        f"/people/{ids['p-robert']}/save", data={"list_id": own["id"], **seller.csrf_data()}, follow_redirects=False
    )
    assert saved.status_code == 303
    assert "notice=saved" in saved.headers["location"]
    items = seller.client.get("/api/v1/me/lists").json()[-1]["items"]
    assert [(item["table"], item["crm_id"]) for item in items] == [("contact", ROBERT_CONTACT)]
    nothing = seller.client.post(
        f"/people/{ids['p-paco']}/save", data={"list_id": own["id"], **seller.csrf_data()}, follow_redirects=True
    )
    assert "no está vinculada a ninguno" in nothing.text
    # QA item 12: a person tied to no CRM record says so before any click, with no form to fill in vain.
    paco = seller.client.get(f"/people/{ids['p-paco']}").text
    assert 'data-testid="save-untied"' in paco
    assert 'data-testid="save-form"' not in paco
    assert 'data-testid="save-form"' in seller.client.get(f"/people/{ids['p-robert']}").text
    # Another seller's list is not theirs to fill.
    admin = browser(ACME_ADMIN)
    refused = admin.client.post(f"/people/{ids['p-robert']}/save", data={"list_id": own["id"], **admin.csrf_data()})
    assert refused.status_code == 404


def test_any_seat_holder_edits_a_match_everyone_sees_it_and_it_is_audited(
    console: Console, browser: OpenBrowser
) -> None:
    ids = seed_crm(console)
    seller = browser(ACME_SELLER)
    editing = seller.client.get(f"/matches/contact/{ROBERT_CONTACT}", params={"q": "paco"}).text
    assert 'data-testid="edit-match-current"' in editing
    assert f'data-target-id="{ids["p-paco"]}"' in editing
    without_token = seller.client.post(
        f"/matches/contact/{ROBERT_CONTACT}", data={"action": "link", "target_id": str(ids["p-paco"])}
    )
    assert without_token.status_code == 403
    moved = seller.client.post(
        f"/matches/contact/{ROBERT_CONTACT}",
        data={"action": "link", "target_id": str(ids["p-paco"]), **seller.csrf_data()},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    assert moved.headers["location"].startswith(f"/people/{ids['p-paco']}?notice=match-link")

    admin = browser(ACME_ADMIN)
    assert ROBERT_CONTACT in admin.client.get(f"/people/{ids['p-paco']}").text
    assert 'data-testid="crm-records-none"' in admin.client.get(f"/people/{ids['p-robert']}").text
    log = admin.client.get("/admin/audit", params={"action": "match.linked"}).text
    entries = re.findall(r'data-testid="audit-row" data-action="([\w.]+)">\s*<td>.*?</td>\s*<td[^>]*>([^<]*)</td>', log)
    assert entries == [("match.linked", ACME_SELLER.email)]
    # Re-matching keeps the correction.
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    run_matching(console.store, organization_id, full=True, clock=console.clock)
    assert ROBERT_CONTACT in admin.client.get(f"/people/{ids['p-paco']}").text

    unlinked = seller.client.post(
        f"/matches/contact/{ROBERT_CONTACT}", data={"action": "unlink", **seller.csrf_data()}, follow_redirects=False
    )
    assert unlinked.status_code == 303
    assert 'data-testid="crm-records-none"' in admin.client.get(f"/people/{ids['p-paco']}").text
    # A page opened before the unlink confirms what is no longer there: the refusal is explained on the page.
    stale = admin.client.post(
        f"/matches/contact/{ROBERT_CONTACT}",
        data={"action": "confirm", "target_id": str(ids["p-paco"]), **admin.csrf_data()},
    )
    assert stale.status_code == 409
    assert 'data-testid="form-error"' in stale.text
    assert "changed by Sofía Seller meanwhile" in stale.text
    nothing = admin.client.post(f"/matches/contact/{ROBERT_CONTACT}", data={"action": "confirm", **admin.csrf_data()})
    assert nothing.status_code == 422
    assert "nothing to confirm" in nothing.text
    guest = browser(ACME_GUEST)
    assert guest.client.get(f"/matches/contact/{ROBERT_CONTACT}").status_code == 403


def _form_fields(page: str, testid: str) -> dict[str, str]:
    """The hidden fields of the form holding the button ``testid`` on ``page``."""
    form = next(form for form in re.findall(r"<form.*?</form>", page, re.S) if f'data-testid="{testid}"' in form)
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))


def test_a_stale_edit_match_page_neither_confirms_nor_unlinks_someone_elses_new_choice(
    console: Console, browser: OpenBrowser
) -> None:
    """QA item 1: the admin's page shows Robert; the seller ties the contact to Paco meanwhile; the admin's
    Confirm and Unlink (sent as the page has them) change nothing and the page says who changed it."""
    ids = seed_crm(console)
    admin, seller = browser(ACME_ADMIN), browser(ACME_SELLER)
    page = admin.client.get(f"/matches/contact/{ROBERT_CONTACT}").text
    confirm, unlink = _form_fields(page, "edit-match-confirm"), _form_fields(page, "edit-match-unlink")
    assert confirm["expected_target_id"] == unlink["expected_target_id"] == str(ids["p-robert"])
    moved = seller.client.post(
        f"/matches/contact/{ROBERT_CONTACT}",
        data={"action": "link", "target_id": str(ids["p-paco"]), **seller.csrf_data()},
        follow_redirects=False,
    )
    assert moved.status_code == 303

    confirmed = admin.client.post(f"/matches/contact/{ROBERT_CONTACT}", data=confirm)
    unlinked = admin.client.post(f"/matches/contact/{ROBERT_CONTACT}", data=unlink)

    for refused in (confirmed, unlinked):
        assert refused.status_code == 409
        assert "This match was changed by Sofía Seller meanwhile: check it again." in refused.text
        assert f'name="expected_target_id" value="{ids["p-paco"]}"' in refused.text  # the page shows Paco now
    assert ROBERT_CONTACT in admin.client.get(f"/people/{ids['p-paco']}").text
    log = admin.client.get("/admin/audit").text
    assert "match.confirmed" not in log
    assert "match.unlinked" not in log


def test_an_edit_match_address_of_an_unknown_table_is_the_consoles_not_found_page(
    console: Console, browser: OpenBrowser
) -> None:
    """QA item 10: /matches/opportunity/123 answered a browser with raw JSON (422)."""
    seed_crm(console)
    seller = browser(ACME_SELLER)
    shown = seller.client.get("/matches/opportunity/123")
    posted = seller.client.post("/matches/opportunity/123", data={"action": "unlink", **seller.csrf_data()})
    for answer in (shown, posted):
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")


def test_an_administrator_deletes_a_person_and_a_company_from_their_pages(
    console: Console, browser: OpenBrowser
) -> None:
    """QA item 8 on the console: the person's tie goes at once (the Edit match page shows nobody); sellers see no
    button and are refused; another organization gets 404."""
    ids = seed_crm(console)
    admin, seller, other = browser(ACME_ADMIN), browser(ACME_SELLER), browser(GLOBEX_ADMIN)
    robert, contoso = f"/people/{ids['p-robert']}", f"/companies/{ids['contoso']}"
    for tied in (f"contact/{ROBERT_CONTACT}", f"account/{ACCOUNT}"):
        assert 'data-testid="edit-match-current"' in admin.client.get(f"/matches/{tied}").text
    assert 'data-testid="delete-person"' in admin.client.get(robert).text
    assert 'data-testid="delete-person"' not in seller.client.get(robert).text
    assert seller.client.post(f"{robert}/delete", data=seller.csrf_data()).status_code == 403
    assert admin.client.post(f"{robert}/delete").status_code == 403  # no CSRF token
    assert other.client.post(f"{robert}/delete", data=other.csrf_data()).status_code == 404

    deleted = admin.client.post(f"{robert}/delete", data=admin.csrf_data(), follow_redirects=False)
    company = admin.client.post(f"{contoso}/delete", data=admin.csrf_data(), follow_redirects=True)

    assert (deleted.status_code, deleted.headers["location"]) == (303, "/people?notice=deleted")
    assert 'data-testid="notice"' in admin.client.get(deleted.headers["location"]).text
    assert 'data-testid="notice"' in company.text
    assert admin.client.get(robert).status_code == 404
    assert admin.client.get(contoso).status_code == 404
    assert 'data-testid="edit-match-none"' in admin.client.get(f"/matches/contact/{ROBERT_CONTACT}").text
    assert 'data-testid="edit-match-none"' in admin.client.get(f"/matches/account/{ACCOUNT}").text
    log = admin.client.get("/admin/audit").text
    assert 'data-action="person.deleted"' in log
    assert 'data-action="company.deleted"' in log


def test_another_organization_can_neither_see_nor_correct_our_matches(console: Console, browser: OpenBrowser) -> None:
    ids = seed_crm(console)
    other = browser(GLOBEX_ADMIN)
    assert other.client.get(f"/matches/contact/{ROBERT_CONTACT}").status_code == 404
    refused = other.client.post(
        f"/matches/contact/{ROBERT_CONTACT}",
        data={"action": "unlink", **other.csrf_data()},
        follow_redirects=False,
    )
    assert refused.status_code == 404
    assert other.client.get(f"/people/{ids['p-robert']}").status_code == 404
    other.client.post("/lists", data={"name": "Theirs", **other.csrf_data()})
    theirs = other.client.get("/api/v1/me/lists").json()[-1]
    stolen = other.client.post(
        f"/people/{ids['p-robert']}/save", data={"list_id": theirs["id"], **other.csrf_data()}, follow_redirects=False
    )
    assert stolen.status_code == 404
    assert other.client.get("/api/v1/me/lists").json()[-1]["items"] == []
    seller = browser(ACME_SELLER)
    assert ROBERT_CONTACT in seller.client.get(f"/people/{ids['p-robert']}").text
    report = other.client.get("/admin/matching").text
    assert re.findall(r'data-field="matched" data-value="(\d+)"', report) == ["0", "0", "0"]
    assert other.client.get("/admin/matching/unmatched.csv", params={"table": "contact"}).text.count("\n") == 1


def _review_link(console: Console, person_id: uuid.UUID, *, probability: float = 0.5) -> None:
    """The lonely lead proposed for review with Paco (the scorer's decision on that pair)."""
    decision = (
        Matcher.people()
        .score(
            PersonRecord(id=LONELY_LEAD, first_name="Lonely", last_name="Lead", company_name="Nowhere"),
            PersonRecord(id=str(person_id), first_name="Paco", last_name="Pérez", company_name="Fabrikam"),
        )
        .to_dict()
    )
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        uow.matches.put(
            [
                MatchLink(
                    crm_table="lead",
                    crm_id=LONELY_LEAD,
                    target_kind=TargetKind.PERSON,
                    target_id=person_id,
                    band=LinkBand.REVIEW,
                    probability=probability,
                    decision=decision,
                    origin=LinkOrigin.SCORER,
                    decided_by=None,
                    decided_at=datetime(2026, 3, 1, tzinfo=UTC),
                )
            ]
        )
        uow.commit()


def test_a_review_pair_is_never_shown_100_percent_sure(console: Console, browser: OpenBrowser) -> None:
    """QA item 5: a pair at p = 0.996 (below the automatic band) read "100 % sure" in the review queue."""
    ids = seed_crm(console)
    _review_link(console, ids["p-paco"], probability=0.996)
    admin = browser(ACME_ADMIN)

    queue = admin.client.get("/admin/matching/review").text

    assert "99.6 % sure" in queue
    assert "100 % sure" not in queue


def test_only_administrators_work_the_review_queue(console: Console, browser: OpenBrowser) -> None:
    ids = seed_crm(console)
    _review_link(console, ids["p-paco"])
    seller = browser(ACME_SELLER)
    assert seller.client.get("/admin/matching/review").status_code == 403
    assert seller.client.get("/admin/matching").status_code == 403
    refused = seller.client.post(
        "/admin/matching/review",
        data={"table": "lead", "crm_id": LONELY_LEAD, "target_id": str(ids["p-paco"]), "decision": "accept"}
        | seller.csrf_data(),
    )
    assert refused.status_code == 403
    admin = browser(ACME_ADMIN)
    # The candidate's page says a CRM record may be them; administrators get the way to the queue.
    assert 'data-testid="crm-in-review-open"' in admin.client.get(f"/people/{ids['p-paco']}").text
    seller_page = seller.client.get(f"/people/{ids['p-paco']}").text
    assert 'data-testid="crm-in-review"' in seller_page
    assert 'data-testid="crm-in-review-open"' not in seller_page
    companies = admin.client.get("/admin/matching/review", params={"kind": "companies"}).text
    assert 'data-testid="review-empty"' in companies
    queue = admin.client.get("/admin/matching/review").text
    assert f'data-crm-id="{LONELY_LEAD}"' in queue
    assert re.search(r'data-field="name" data-differs="yes"', queue)
    without_token = admin.client.post(
        "/admin/matching/review",
        data={"table": "lead", "crm_id": LONELY_LEAD, "target_id": str(ids["p-paco"]), "decision": "reject"},
    )
    assert without_token.status_code == 403
    rejected = admin.client.post(
        "/admin/matching/review",
        data={"table": "lead", "crm_id": LONELY_LEAD, "target_id": str(ids["p-paco"]), "decision": "reject"}
        | admin.csrf_data(),
    )
    assert rejected.status_code == 200
    assert 'data-testid="review-empty"' in rejected.text
    assert 'data-testid="notice"' in rejected.text
    # A second administrator's page still offered the pair: deciding it again says it was decided already.
    again = admin.client.post(
        "/admin/matching/review",
        data={"table": "lead", "crm_id": LONELY_LEAD, "target_id": str(ids["p-paco"]), "decision": "accept"}
        | admin.csrf_data(),
    )
    assert again.status_code == 200
    assert "This pair no longer waits for review" in again.text


def test_the_match_report_counts_and_the_csv_holds_every_unmatched_record(
    console: Console, browser: OpenBrowser
) -> None:
    seed_crm(console)
    admin = browser(ACME_ADMIN)
    report = admin.client.get("/admin/matching").text
    assert re.findall(r'data-testid="match-report-row" data-table="(\w+)"', report) == ["account", "contact", "lead"]
    matched = re.findall(r'data-field="matched" data-value="(\d+)"', report)
    unmatched = re.findall(r'data-field="unmatched" data-value="(\d+)"', report)
    assert matched == ["1", "1", "0"]  # account, contact, lead
    assert unmatched == ["0", "1", "1"]
    download = admin.client.get("/admin/matching/unmatched.csv", params={"table": "contact"})
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert len(lines) == 2
    cells = lines[1]
    assert FORMULA_CONTACT in cells
    assert not any(cell.startswith("=") for cell in cells)
    assert any(cell.startswith("'=HYPERLINK") for cell in cells)
    assert admin.client.get("/admin/matching/unmatched.csv", params={"table": "opportunity"}).status_code == 404


def test_a_company_shows_its_crm_account_saves_it_and_its_match_can_be_undone(
    console: Console, browser: OpenBrowser
) -> None:
    ids = seed_crm(console)
    seller = browser(ACME_SELLER)
    page = seller.client.get(f"/companies/{ids['contoso']}").text
    assert f'data-crm-id="{ACCOUNT}"' in page
    assert 'data-testid="crm-record-owner">Olga Owner<' in page
    seller.client.post("/lists", data={"name": "Cuentas", **seller.csrf_data()})
    own = seller.client.get("/api/v1/me/lists").json()[-1]
    saved = seller.client.post(
        f"/companies/{ids['contoso']}/save", data={"list_id": own["id"], **seller.csrf_data()}, follow_redirects=False
    )
    assert saved.status_code == 303
    items = seller.client.get("/api/v1/me/lists").json()[-1]["items"]
    assert [(item["table"], item["crm_id"]) for item in items] == [("account", ACCOUNT)]
    picker = seller.client.get(f"/matches/account/{ACCOUNT}", params={"q": "contoso"}).text
    assert "Vincularlo a otra empresa" in picker
    unlinked = seller.client.post(
        f"/matches/account/{ACCOUNT}", data={"action": "unlink", **seller.csrf_data()}, follow_redirects=False
    )
    assert unlinked.headers["location"].startswith(f"/companies/{ids['contoso']}?notice=match-unlink")
    assert "No está en el CRM" in seller.client.get(f"/companies/{ids['contoso']}").text


def test_saving_into_an_auto_saved_list_is_refused_on_the_page(console: Console, browser: OpenBrowser) -> None:
    ids = seed_crm(console)
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        seller = uow.users.find_by_email(ACME_SELLER.email)
        assert seller is not None
        system = uow.lists.system_list(seller.id, ListKind.CRM_LEADS)
        uow.commit()
    client = browser(ACME_SELLER)
    client.client.post("/lists", data={"name": "Mine", **client.csrf_data()})  # so the page offers a form
    refused = client.client.post(
        f"/people/{ids['p-robert']}/save",
        data={"list_id": str(system.id), **client.csrf_data()},
        follow_redirects=False,
    )
    assert refused.status_code == 303
    assert "error=not-saved" in refused.headers["location"]
    page = client.client.get(refused.headers["location"]).text
    assert "No se ha guardado nada" in page


def test_a_seller_ties_a_crm_lead_to_a_person_from_the_persons_page(console: Console, browser: OpenBrowser) -> None:
    ids = seed_crm(console)
    seller = browser(ACME_SELLER)
    page = seller.client.get(f"/people/{ids['p-paco']}", params={"crm_q": "lonely"}).text
    assert re.findall(r'data-testid="tie-result" data-crm-id="([^"]+)"', page) == [LONELY_LEAD]
    # Accounts are companies' records: a person's picker never offers one.
    assert (
        'data-testid="tie-nothing"' in seller.client.get(f"/people/{ids['p-paco']}", params={"crm_q": "contoso"}).text
    )
    tied = seller.client.post(
        f"/matches/lead/{LONELY_LEAD}",
        data={"action": "link", "target_id": str(ids["p-paco"]), **seller.csrf_data()},
        follow_redirects=False,
    )
    assert tied.headers["location"].startswith(f"/people/{ids['p-paco']}?notice=match-link")
    after = seller.client.get(f"/people/{ids['p-paco']}").text
    assert f'data-testid="crm-record" data-table="lead" data-crm-id="{LONELY_LEAD}"' in after
    assert 'data-testid="badge-in-crm"' in after
    company = seller.client.get(f"/companies/{ids['contoso']}", params={"crm_q": "contoso"}).text
    assert re.findall(r'data-testid="tie-result" data-crm-id="([^"]+)"', company) == [ACCOUNT]


def test_two_crm_contacts_of_one_person_show_as_crm_duplicates(console: Console, browser: OpenBrowser) -> None:
    ids = seed_crm(console)
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    twin = "c0000000-0000-0000-0000-000000000009"
    with console.store(organization_id) as uow:
        robert = next(record for record in uow.crm_records.records("contact") if record.crm_id == ROBERT_CONTACT)
        uow.crm_records.upsert_many(
            "contact", [RecordRow(twin, "Rob Smith", OWNER, ACCOUNT, 0, robert.data)], generation=2
        )
        uow.commit()
    seller = browser(ACME_SELLER)
    seller.client.post(
        f"/matches/contact/{twin}", data={"action": "link", "target_id": str(ids["p-robert"]), **seller.csrf_data()}
    )
    page = seller.client.get(f"/people/{ids['p-robert']}").text
    records = re.findall(r'data-testid="crm-record" data-table="contact" data-crm-id="([^"]+)"', page)
    assert sorted(records) == sorted([ROBERT_CONTACT, twin])
    assert page.count('data-testid="crm-duplicate"') == 2
    assert "Duplicado en el CRM" in page
    assert "duplicados en el CRM" in page
