"""Script payloads in CRM and workspace data never run in the console (issue 16, "Hostile input"): a CRM contact,
account and lead, a person and a company loaded from CSV, an activity, a list and a skipped import record's error,
each named with ``<script>``, ``<img onerror>`` and ``<svg onload>`` payloads, shown on every page that shows such
data (home, people, companies, the match page, the review queue, lists, Sync health, the audit log) in Chromium.
On each page: no dialog opened, no payload's side effect (``window.__pwned``), no element the payload would have
made (an ``img[onerror]``, an inline ``script``, an ``svg``), and the payload shown as text, escaped. Then every
form with a text field on those pages is sent with 100 kB of payload in each (set past ``maxlength``, as a script
would): a page answers (the console's "too large" page), never a 500 or JSON, and nothing runs. One browser
context for all of it (about 10 s)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime

from playwright.sync_api import Browser, ConsoleMessage, Dialog
from tests.e2e.conftest import LiveConsole, sign_in_to

from salesbridge.domain.csv_rows import read_company_csv, read_people_csv
from salesbridge.domain.match_links import LinkBand, LinkOrigin, MatchLink, TargetKind
from salesbridge.domain.writeback import ActivityDraft, DataItem, DeliveryState, Direction
from salesbridge.services.lists import add_to_list, create_list
from salesbridge.services.people_load import load_companies, load_people
from salesbridge.store.imports import RecordRow

ADMIN = "admin@acme.test"
PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2;alert(2)">"\'><svg onload=alert(3)>'
"""Markup a hostile CRM or CSV value carries; shown escaped, it is just text."""
BIG = (PAYLOAD * 1000)[:100_000]
"""100 kB of payload: what every text field of every form on those pages is sent."""
TEXT_FIELDS = "input[type=text], input[type=search], input[type=email], input[type=url], input:not([type]), textarea"
CONTACT = "c-hostile"
ACCOUNT = "a-hostile"


def _csv(header: list[str], row: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerow(row)
    return out.getvalue().encode()


def _seed(console: LiveConsole) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """The hostile rows; returns the person's, the company's and the list's ids."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    account = {"name": PAYLOAD, "websiteurl": PAYLOAD, "statecode": 0}
    contact = {
        "firstname": PAYLOAD,
        "lastname": "Hostile",
        "fullname": f"{PAYLOAD} Hostile",
        "jobtitle": PAYLOAD,
        "emailaddress1": "hostile@example.org",
        "parentcustomerid": {"id": ACCOUNT, "table": "account"},
        "statecode": 0,
    }
    lead = {"firstname": PAYLOAD, "lastname": "Lead", "fullname": f"{PAYLOAD} Lead", "statecode": 0}
    with console.store(organization_id) as uow:
        uow.crm_records.upsert_many("account", [RecordRow(ACCOUNT, PAYLOAD, None, None, 0, account)], generation=1)
        uow.crm_records.upsert_many(
            "contact", [RecordRow(CONTACT, contact["fullname"], None, ACCOUNT, 0, contact)], generation=1
        )
        uow.crm_records.upsert_many(
            "lead", [RecordRow("l-hostile", lead["fullname"], None, None, 0, lead)], generation=1
        )
        uow.import_record_errors.record("contact", "c-refused", code=PAYLOAD, message=PAYLOAD)
        uow.commit()
    people = _csv(
        ["id", "first_name", "last_name", "email", "job_title", "company_name", "profile_url"],
        ["p-hostile", PAYLOAD, "Hostile", "hostile@example.org", PAYLOAD, PAYLOAD, "javascript:alert(4)"],
    )
    load_people(console.store, "acme", read_people_csv(people), actor=ADMIN)
    load_companies(
        console.store,
        "acme",
        read_company_csv(_csv(["id", "name", "website"], ["k-hostile", PAYLOAD, PAYLOAD])),
        actor=ADMIN,
    )
    with console.store(organization_id) as uow:
        person = uow.people.get_by_external_id("p-hostile")
        company = uow.companies.get_by_external_id("k-hostile")
        assert person is not None
        assert person.id is not None
        assert company is not None
        assert company.id is not None
        link = MatchLink(
            crm_table="contact",
            crm_id=CONTACT,
            target_kind=TargetKind.PERSON,
            target_id=person.id,
            band=LinkBand.REVIEW,
            probability=0.7,
            decision=None,
            origin=LinkOrigin.SCORER,
            decided_by=None,
            decided_at=datetime.now(UTC),
        )
        uow.matches.put([link])
        admin = uow.users.find_by_email(ADMIN)
        assert admin is not None
        draft = ActivityDraft(
            client_id="hostile-note",
            item=DataItem.NOTE,
            person_id=person.id,
            company_id=None,
            subject=PAYLOAD,
            body=PAYLOAD,
            direction=Direction.OUTGOING,
            occurred_at=datetime.now(UTC),
        )
        uow.activities.add(admin.id, draft, state=DeliveryState.WAITING_FOR_MATCH, hold=None)
        uow.commit()
    saved = create_list(console.store, "acme", ADMIN, name=PAYLOAD, actor=ADMIN)
    add_to_list(console.store, "acme", ADMIN, saved.id, table="contact", crm_id=CONTACT, actor=ADMIN)
    return person.id, company.id, saved.id


def test_script_payloads_in_crm_and_workspace_data_are_shown_as_text_and_never_run(
    chromium: Browser, live_console: LiveConsole
) -> None:
    person_id, company_id, list_id = _seed(live_console)
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    dialogs: list[str] = []
    errors: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(f"{page.url}: {dialog.message}")
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if "pwned" in message.text or (message.type == "error" and "Content Security Policy" in message.text):
            errors.append(f"{page.url}: {message.text}")

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    sign_in_to(page, live_console.base_url, "acme", ADMIN, live_console.password)
    paths = (
        "/",
        "/people?q=Hostile",
        f"/people/{person_id}",
        "/companies",
        f"/companies/{company_id}",
        f"/matches/contact/{CONTACT}",
        "/admin/matching/review",
        "/lists",
        f"/lists/{list_id}",
        "/settings/crm/health",
        "/admin/audit",
    )
    problems: dict[str, str] = {}
    sent_forms: list[str] = []
    for path in paths:
        response = page.goto(live_console.url(path))
        assert response is not None
        if response.status != 200:
            problems[path] = f"status {response.status}"
            continue
        if page.evaluate("typeof window.__pwned") != "undefined":
            problems[path] = "a payload ran"
        made = page.locator("img[onerror], svg[onload], script:not([src])").count()
        if made:
            problems[path] = f"{made} elements made from a payload"
        if PAYLOAD[:33] not in page.locator("body").inner_text():
            problems[path] = "the payload is not shown as text"
        if page.locator("a[href^='javascript:' i]").count():
            problems[path] = "a javascript: link (the person's profile URL)"
    for path in paths:
        page.goto(live_console.url(path))
        forms = page.locator(f"form:has({TEXT_FIELDS})").count()
        for index in range(forms):
            if index:
                page.goto(live_console.url(path))
            form = page.locator(f"form:has({TEXT_FIELDS})").nth(index)
            # Set as a script would (past any maxlength), then sent as the browser sends the form.
            form.evaluate(
                """(form, [text, fields]) => {
                    for (const field of form.querySelectorAll(fields)) {
                        field.value = text;
                    }
                    form.noValidate = true;
                }""",
                [BIG, TEXT_FIELDS],
            )
            with page.expect_navigation() as sent:
                form.evaluate("form => form.requestSubmit()")
            answer = sent.value
            label = f"{path} form {index}"
            if answer is None or answer.status >= 500 or "json" in (answer.headers.get("content-type") or ""):
                problems[label] = f"answered {answer.status if answer else None} {answer and answer.headers}"
            elif page.evaluate("typeof window.__pwned") != "undefined":
                problems[label] = "a payload ran"
            else:
                sent_forms.append(f"{label}: {answer.status}")
    context.close()

    assert problems == {}
    assert len(sent_forms) >= 5, sent_forms
    assert dialogs == []
    assert errors == [], "the payloads were neither run nor even tried (CSP would have refused an inline script)"
