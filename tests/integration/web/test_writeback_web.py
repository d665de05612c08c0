"""Activity writeback in the console (SQLite and PostgreSQL): "Log a note / call / message" on a person's and a
company's page (a form sent twice logs one activity; a refused form is shown again with its reason; another
organization's person is not found; who may log), and each activity's delivery state in words; the administrators'
Writeback page (counts per type and seller, why activities wait, Dynamics' error of a parked one and Retry,
Backfill since a date)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from tests.integration.web.conftest import ACME_ADMIN, ACME_GUEST, ACME_SELLER, GLOBEX_ADMIN, Browser, Console, Person
from tests.integration.web.test_people_web import seed_people

from salesbridge.domain.writeback import (
    ALL_ITEMS,
    MAX_BODY_LENGTH,
    MAX_CALL_BODY_LENGTH,
    MAX_SUBJECT_LENGTH,
    ActivityDraft,
    DataItem,
    DeliveryState,
    Direction,
    FailureOutcome,
    Regarding,
    WritebackSettings,
)

OpenBrowser = Callable[[Person | None], Browser]


def _client_id(page: str, item: str) -> str:
    found = re.search(rf'value="([^"]+)" data-testid="log-{item}-client-id"', page)
    assert found is not None, f"no Log a {item} form"
    return found.group(1)


def _activities(console: Console, org: str = "acme") -> list[tuple[DataItem, str, Direction, DeliveryState]]:
    organization_id = console.store.organization_id(org)
    assert organization_id is not None
    with console.store(organization_id, read_only=True) as uow:
        return [(a.item, a.body, a.direction, a.delivery.state) for a in uow.activities.search(limit=100)]


def test_a_seller_logs_a_note_on_a_person_once_even_when_the_form_is_sent_twice(
    console: Console, browser: OpenBrowser
) -> None:
    ids = seed_people(console)
    seller = browser(ACME_SELLER)
    page = seller.client.get(f"/people/{ids['p-robert']}")
    assert page.status_code == 200
    assert 'data-testid="activities-empty"' in page.text
    form = {
        **seller.csrf_data(),
        "item": "note",
        "client_id": _client_id(page.text, "note"),
        "subject": "",
        "body": "Met at the fair.\nWants a demo in March.",
    }
    for _ in range(2):  # a double click, or the browser sending the form again
        sent = seller.client.post(f"/people/{ids['p-robert']}/activities", data=form, follow_redirects=False)
        assert sent.status_code == 303
        assert sent.headers["location"] == f"/people/{ids['p-robert']}?notice=activity-logged#activities"
    assert _activities(console) == [
        (DataItem.NOTE, "Met at the fair.\nWants a demo in March.", Direction.OUTGOING, DeliveryState.NOT_WRITTEN_BACK)
    ]
    shown = seller.client.get(f"/people/{ids['p-robert']}?notice=activity-logged").text
    assert shown.count('data-testid="activity"') == 1
    assert 'data-testid="activity-title">Met at the fair.<' in shown
    # Writeback is off: the note stays in the workspace, and the page says why.
    assert 'data-state="not_written_back"' in shown
    assert 'data-testid="activity-reason"' in shown
    # A new form: its client id is new, so the next note is another activity.
    assert _client_id(shown, "note") != form["client_id"]


def test_a_call_and_a_message_on_a_company_keep_their_direction(console: Console, browser: OpenBrowser) -> None:
    ids = seed_people(console)
    admin = browser(ACME_ADMIN)
    page = admin.client.get(f"/companies/{ids['contoso']}").text
    for item, direction in (("call", "incoming"), ("message", "outgoing")):
        sent = admin.client.post(
            f"/companies/{ids['contoso']}/activities",
            data={
                **admin.csrf_data(),
                "item": item,
                "client_id": _client_id(page, item),
                "subject": f"The {item}",
                "body": f"About the {item}.",
                "direction": direction,
            },
            follow_redirects=False,
        )
        assert sent.status_code == 303
    assert sorted((item, direction) for item, _body, direction, _state in _activities(console)) == [
        (DataItem.CALL, Direction.INCOMING),
        (DataItem.MESSAGE, Direction.OUTGOING),
    ]
    shown = admin.client.get(f"/companies/{ids['contoso']}").text
    assert shown.count('data-testid="activity"') == 2
    assert "Kept in the workspace" in shown


def test_a_refused_form_is_shown_again_with_its_reason_and_nothing_is_logged(
    console: Console, browser: OpenBrowser
) -> None:
    ids = seed_people(console)
    admin = browser(ACME_ADMIN)
    page = admin.client.get(f"/people/{ids['p-robert']}").text
    client_id = _client_id(page, "call")
    refused = admin.client.post(
        f"/people/{ids['p-robert']}/activities",
        data={**admin.csrf_data(), "item": "call", "client_id": client_id, "subject": "Kept", "body": "   "},
    )
    assert refused.status_code == 422
    assert 'data-testid="activity-error"' in refused.text
    assert "The text of the activity is required." in refused.text
    # The same form again, open, with what was typed and the same client id.
    assert 'data-testid="log-call" open' in refused.text
    assert _client_id(refused.text, "call") == client_id
    assert 'value="Kept"' in refused.text
    unknown = admin.client.post(
        f"/people/{ids['p-robert']}/activities",
        data={**admin.csrf_data(), "item": "inmail", "client_id": "x-1", "body": "Hello"},
    )
    assert unknown.status_code == 422
    assert "Choose a note, a call or a message." in unknown.text
    assert _activities(console) == []


def test_only_seat_holders_log_and_never_on_another_organizations_people(
    console: Console, browser: OpenBrowser
) -> None:
    ids = seed_people(console)
    form = {"item": "note", "client_id": str(uuid.uuid4()), "body": "Hello"}
    guest = browser(ACME_GUEST)
    assert (
        guest.client.post(f"/people/{ids['p-robert']}/activities", data={**guest.csrf_data(), **form}).status_code
        == 403
    )
    other = browser(GLOBEX_ADMIN)
    target = f"/people/{ids['p-robert']}/activities"
    assert other.client.post(target, data={**other.csrf_data(), **form}).status_code == 404
    assert (
        other.client.post(f"/companies/{ids['contoso']}/activities", data={**other.csrf_data(), **form}).status_code
        == 404
    )
    seller = browser(ACME_SELLER)
    assert seller.client.post(target, data=form).status_code == 403  # no CSRF token
    assert _activities(console) == []
    assert _activities(console, "globex") == []


def _log(
    console: Console,
    person_id: uuid.UUID,
    *,
    item: DataItem,
    state: DeliveryState,
    author: str = ACME_SELLER.email,
    occurred_at: datetime | None = None,
    error: tuple[str, str] | None = None,
) -> uuid.UUID:
    """Store an activity of ``author`` in ``state`` (parked with Dynamics' ``error`` when given)."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        user = uow.users.find_by_email(author)
        assert user is not None
        draft = ActivityDraft(
            client_id=str(uuid.uuid4()),
            item=item,
            person_id=person_id,
            company_id=None,
            subject=None,
            body=f"A {item.value}",
            direction=Direction.OUTGOING,
            occurred_at=occurred_at or console.clock(),
        )
        activity, _ = uow.activities.add(user.id, draft, state=state, hold=None)
        if error is not None:
            uow.activities.mark_failed(
                activity.id,
                outcome=FailureOutcome(DeliveryState.PARKED, None),
                error_code=error[0],
                error_message=error[1],
            )
        uow.commit()
    return activity.id


def _delivered_note(console: Console, person_id: uuid.UUID) -> uuid.UUID:
    """A note of the seller on ``person_id``, delivered now (version 1 written to a CRM contact)."""
    delivered = _log(console, person_id, item=DataItem.NOTE, state=DeliveryState.QUEUED)
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        uow.activities.mark_delivered({delivered: (1, Regarding("contact", str(uuid.uuid4())))}, now=console.clock())
        uow.commit()
    return delivered


def _states(console: Console) -> dict[str, DeliveryState]:
    return {body: state for _item, body, _direction, state in _activities(console)}


def test_the_writeback_page_counts_per_type_and_seller_and_retries_a_parked_activity(
    console: Console, browser: OpenBrowser
) -> None:
    ids = seed_people(console)
    robert = ids["p-robert"]
    parked = _log(
        console,
        robert,
        item=DataItem.INMAIL,
        state=DeliveryState.QUEUED,
        error=("0x80040220", "Principal user is missing prvCreateActivity privilege"),
    )
    _log(console, robert, item=DataItem.NOTE, state=DeliveryState.WAITING_FOR_MATCH)
    _log(console, robert, item=DataItem.NOTE, state=DeliveryState.NOT_WRITTEN_BACK, author=ACME_ADMIN.email)
    admin = browser(ACME_ADMIN)
    page = admin.client.get("/admin/writeback")
    assert page.status_code == 200
    assert 'data-testid="home-writeback"' in admin.client.get("/").text
    note_row = re.search(r'data-item="note">(.*?)</tr>', page.text, re.S)
    assert note_row is not None
    assert re.search(r'data-state="waiting_for_match">1<', note_row.group(1))
    assert re.search(r'data-state="not_written_back">1<', note_row.group(1))
    assert "Sofía Seller" in page.text
    assert "Ada Admin" in page.text
    assert "Waiting for a CRM match: <strong>1</strong>" in page.text
    problem = re.search(rf'data-activity-id="{parked}" data-state="parked">(.*?)</tr>', page.text, re.S)
    assert problem is not None
    assert "<code>0x80040220</code> Principal user is missing prvCreateActivity privilege" in problem.group(1)

    retried = admin.client.post(
        "/admin/writeback/retry", data={**admin.csrf_data(), "activity_id": str(parked)}, follow_redirects=False
    )
    assert retried.status_code == 303
    assert retried.headers["location"] == "/admin/writeback?notice=retried&count=1"
    assert _states(console)["A inmail"] is DeliveryState.QUEUED
    assert 'data-testid="writeback-no-problems"' in admin.client.get("/admin/writeback").text


def test_the_writeback_page_says_dynamics_throttles_the_drain_and_when_it_tries_again_in_english_and_spanish(
    console: Console, browser: OpenBrowser
) -> None:
    """What a drain records while Dynamics throttles it (see ``test_writeback_drain``) shows on the Writeback page
    in the administrator's language, until a minute after Dynamics' wait."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    admin = browser(ACME_ADMIN)
    assert 'data-testid="writeback-throttled"' not in admin.client.get("/admin/writeback").text, "never throttled"
    until = console.clock() + timedelta(seconds=30)
    with console.store(organization_id) as uow:
        uow.activities.note_throttled(until=until)
        uow.commit()

    english = admin.client.get("/admin/writeback").text
    assert (
        "Dynamics is throttling requests: writeback tries again at 09:00:30 UTC. Nothing to do: it goes on by itself."
    ) in english
    assert "Dynamics is throttling requests: writeback tries again at 09:00:30 UTC" in (
        admin.client.get("/settings/crm/health").text
    ), "Sync health says it too"
    assert admin.client.put("/api/v1/me/locale", json={"locale": "es"}, headers=admin.csrf_headers()).is_success
    assert (
        "Dynamics está limitando las solicitudes: la reescritura vuelve a intentarlo a las 09:00:30 UTC. No hace "
        "falta hacer nada: continúa sola."
    ) in admin.client.get("/admin/writeback").text
    console.clock.advance(timedelta(seconds=91))
    assert 'data-testid="writeback-throttled"' not in admin.client.get("/admin/writeback").text, "a minute after"


def test_backfill_is_refused_while_writeback_is_off_then_queues_what_stayed_since_the_date(
    console: Console, browser: OpenBrowser
) -> None:
    ids = seed_people(console)
    robert = ids["p-robert"]
    now = console.clock()
    _log(console, robert, item=DataItem.NOTE, state=DeliveryState.NOT_WRITTEN_BACK, occurred_at=now)
    _log(
        console,
        robert,
        item=DataItem.CALL,
        state=DeliveryState.NOT_WRITTEN_BACK,
        occurred_at=now - timedelta(days=40),
    )
    admin = browser(ACME_ADMIN)
    since = (now - timedelta(days=7)).date().isoformat()
    refused = admin.client.post("/admin/writeback/backfill", data={**admin.csrf_data(), "since": since})
    assert refused.status_code == 422
    assert "Writeback is off: enable it first" in refused.text
    unreadable = admin.client.post("/admin/writeback/backfill", data={**admin.csrf_data(), "since": "last week"})
    assert unreadable.status_code == 422
    assert "year-month-day" in unreadable.text

    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        uow.writeback_settings.set(WritebackSettings(enabled=True, items=ALL_ITEMS), actor="test")
        uow.commit()
    done = admin.client.post(
        "/admin/writeback/backfill", data={**admin.csrf_data(), "since": since}, follow_redirects=False
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/admin/writeback?notice=backfill&count=1"
    assert _states(console) == {"A note": DeliveryState.QUEUED, "A call": DeliveryState.NOT_WRITTEN_BACK}


def test_only_administrators_see_the_writeback_page(console: Console, browser: OpenBrowser) -> None:
    seller = browser(ACME_SELLER)
    assert seller.client.get("/admin/writeback").status_code == 403
    assert seller.client.post("/admin/writeback/retry", data=seller.csrf_data()).status_code == 403
    assert 'data-testid="home-writeback"' not in seller.client.get("/").text


def test_the_author_edits_an_activity_a_stale_form_is_refused_and_others_cannot(
    console: Console, browser: OpenBrowser
) -> None:
    ids = seed_people(console)
    robert = ids["p-robert"]
    delivered = _delivered_note(console, robert)
    seller = browser(ACME_SELLER)
    page = seller.client.get(f"/people/{robert}").text
    assert f'action="/people/{robert}/activities/{delivered}"' in page
    edit = {**seller.csrf_data(), "subject": "Fair", "body": "Met at the fair, again.", "expected_version": "1"}
    done = seller.client.post(f"/people/{robert}/activities/{delivered}", data=edit, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == f"/people/{robert}?notice=activity-edited#activities"
    # Delivered before: queued again, so that its CRM row is updated.
    assert _states(console) == {"Met at the fair, again.": DeliveryState.QUEUED}

    stale = seller.client.post(f"/people/{robert}/activities/{delivered}", data={**edit, "body": "Older view"})
    assert stale.status_code == 422
    assert re.search(r'data-testid="edit-activity" open', stale.text)
    assert "versión 2" in stale.text  # the seller reads Spanish: changed meanwhile, now at version 2
    # Another seat holder who is not an administrator edits nothing of it, and sees no Edit form.
    other = _log(console, robert, item=DataItem.CALL, state=DeliveryState.NOT_WRITTEN_BACK, author=ACME_ADMIN.email)
    assert f"/activities/{other}" not in seller.client.get(f"/people/{robert}").text
    refused = seller.client.post(
        f"/people/{robert}/activities/{other}", data={**seller.csrf_data(), "body": "Mine now", "expected_version": "1"}
    )
    assert refused.status_code == 422
    # Not the activity of this page's person or company: not found.
    assert seller.client.post(f"/companies/{ids['contoso']}/activities/{delivered}", data=edit).status_code == 404
    assert "Mine now" not in _states(console)


def _textarea_maxlength(page: str, testid: str) -> list[int]:
    return [int(n) for n in re.findall(rf'<textarea[^>]*maxlength="(\d+)"[^>]*data-testid="{testid}"', page)]


def test_the_call_forms_carry_the_call_limit_so_the_browser_stops_the_seller_first(
    console: Console, browser: OpenBrowser
) -> None:
    ids = seed_people(console)
    robert = ids["p-robert"]
    call = _log(console, robert, item=DataItem.CALL, state=DeliveryState.NOT_WRITTEN_BACK)
    note = _log(console, robert, item=DataItem.NOTE, state=DeliveryState.NOT_WRITTEN_BACK)
    seller = browser(ACME_SELLER)
    page = seller.client.get(f"/people/{robert}").text
    # The "Log a call" form and the Edit form of a call: the limit the server refuses beyond (domain/writeback.py).
    assert _textarea_maxlength(page, "log-call-body") == [MAX_CALL_BODY_LENGTH]
    assert _textarea_maxlength(page, "log-note-body") == [MAX_BODY_LENGTH]
    assert _textarea_maxlength(page, "log-message-body") == [MAX_BODY_LENGTH]
    edits = dict(re.findall(r'<textarea id="edit-([0-9a-f-]+)-body"[^>]*maxlength="(\d+)"', page))
    assert edits == {str(call): str(MAX_CALL_BODY_LENGTH), str(note): str(MAX_BODY_LENGTH)}
    subjects = re.findall(r'maxlength="(\d+)"[^>]*data-testid="(?:log-\w+|edit-activity)-subject"', page)
    assert subjects == [str(MAX_SUBJECT_LENGTH)] * 5  # three "Log a …" forms and two Edit forms
    # Past the limit (a form sent by something other than a browser): the server still refuses, saying the limit.
    refused = seller.client.post(
        f"/people/{robert}/activities",
        data={
            **seller.csrf_data(),
            "item": "call",
            "client_id": _client_id(page, "call"),
            "body": "x" * (MAX_CALL_BODY_LENGTH + 1),
        },
    )
    assert refused.status_code == 422
    assert _textarea_maxlength(refused.text, "log-call-body") == [MAX_CALL_BODY_LENGTH]


def test_backfill_writes_delivered_activity_again_only_when_asked(console: Console, browser: OpenBrowser) -> None:
    ids = seed_people(console)
    robert = ids["p-robert"]
    now = console.clock()
    _delivered_note(console, robert)
    _log(console, robert, item=DataItem.CALL, state=DeliveryState.NOT_WRITTEN_BACK, occurred_at=now)
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        uow.writeback_settings.set(WritebackSettings(enabled=True, items=ALL_ITEMS), actor="test")
        uow.commit()
    admin = browser(ACME_ADMIN)
    page = admin.client.get("/admin/writeback").text
    assert 'name="include_delivered" value="yes" data-testid="writeback-include-delivered"' in page
    assert "Also write delivered activity again" in page
    assert "removed and installed again" in page
    since = (now - timedelta(days=1)).date().isoformat()
    plain = admin.client.post(
        "/admin/writeback/backfill", data={**admin.csrf_data(), "since": since}, follow_redirects=False
    )
    assert plain.headers["location"] == "/admin/writeback?notice=backfill&count=1"
    assert _states(console) == {"A note": DeliveryState.DELIVERED, "A call": DeliveryState.QUEUED}
    again = admin.client.post(
        "/admin/writeback/backfill",
        data={**admin.csrf_data(), "since": since, "include_delivered": "yes"},
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert again.headers["location"] == "/admin/writeback?notice=backfill&count=1"
    assert _states(console) == {"A note": DeliveryState.QUEUED, "A call": DeliveryState.QUEUED}
    with console.store(organization_id, read_only=True) as uow:
        audited = [entry.details for entry in uow.audit.recent(action="writeback.backfill")]
    assert {"include_delivered": True, "queued": 1, "since": f"{since}T00:00:00+00:00"} in audited

    assert admin.client.put("/api/v1/me/locale", json={"locale": "es"}, headers=admin.csrf_headers()).status_code == 200
    spanish = admin.client.get("/admin/writeback").text
    assert "Volver a escribir también la actividad ya entregada" in spanish
    assert "volver a instalar la aplicación del CRM" in spanish


def _shown_ids(page: str) -> list[str]:
    return re.findall(r'data-testid="activity" data-activity-id="([0-9a-f-]+)"', page)


def test_a_person_with_many_activities_shows_the_newest_20_then_older_pages(
    console: Console, browser: OpenBrowser
) -> None:
    ids = seed_people(console)
    robert, now = ids["p-robert"], console.clock()
    newest_first = [
        str(
            _log(
                console,
                robert,
                item=DataItem.NOTE,
                state=DeliveryState.NOT_WRITTEN_BACK,
                occurred_at=now - timedelta(minutes=n),
            )
        )
        for n in range(45)
    ]
    seller = browser(ACME_SELLER)  # reads Spanish
    first = seller.client.get(f"/people/{robert}").text
    assert _shown_ids(first) == newest_first[:20]
    assert 'href="?activities_page=1#activities"' in first
    assert "Actividades anteriores" in first
    assert 'data-testid="activities-newer"' not in first
    second = seller.client.get(f"/people/{robert}?activities_page=1").text
    assert _shown_ids(second) == newest_first[20:40]
    assert 'href="?activities_page=0#activities"' in second
    assert "Actividades más recientes" in second
    assert 'href="?activities_page=2#activities"' in second
    last = seller.client.get(f"/people/{robert}?activities_page=2").text
    assert _shown_ids(last) == newest_first[40:]
    assert 'data-testid="activities-older"' not in last
    # The "Log a …" forms stay on every page.
    assert 'data-testid="log-note-form"' in last
    # Past the end: none, and the way back; a page that is not a number is the newest.
    beyond = seller.client.get(f"/people/{robert}?activities_page=9").text
    assert _shown_ids(beyond) == []
    assert "No hay actividades anteriores." in beyond
    assert 'data-testid="activities-newer"' in beyond
    assert _shown_ids(seller.client.get(f"/people/{robert}?activities_page=-3").text) == newest_first[:20]
    assert _shown_ids(seller.client.get(f"/people/{robert}?activities_page=x").text) == newest_first[:20]
    huge = seller.client.get(f"/people/{robert}?activities_page=99999999999999999999")
    assert huge.status_code == 200
    assert _shown_ids(huge.text) == []
    # Twenty or fewer: no paging at all.
    assert 'data-testid="activity-pages"' not in seller.client.get(f"/companies/{ids['contoso']}").text
