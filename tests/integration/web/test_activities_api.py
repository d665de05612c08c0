"""The activities and writeback API on SQLite and PostgreSQL: a seller's bearer token logs activities as that
seller (a retried request makes one), edits only its own (an administrator any), stale edits get 409; writeback's
settings, status, retry and backfill are for administrators; another organization's administrator finds none of
our activities (404) and changes none."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from tests.integration.web.conftest import ACME_ADMIN, ACME_SELLER, BASE_URL, GLOBEX_ADMIN, Browser, Console, Person
from typer.testing import CliRunner

from salesbridge.cli import app as cli_app
from salesbridge.domain.writeback import CRM_APP_MISSING_CODE, DeliveryState, FailureOutcome, Regarding, SeatHold
from salesbridge.store.secrets import generate_key

OpenBrowser = Callable[[Person | None], Browser]
ORGS = "/api/v1/orgs/acme"


def _token(browser: Browser) -> dict[str, str]:
    created = browser.client.post("/api/v1/me/tokens", json={"name": "phone"}, headers=browser.csrf_headers())
    assert created.status_code == 201, created.text
    return {"Authorization": "Bearer " + created.json()["token"]}


@pytest.fixture
def person_id(browser: OpenBrowser) -> str:
    admin = browser(ACME_ADMIN)
    people = {"people": [{"external_id": "p1", "first_name": "Pat", "last_name": "Lee"}]}
    assert admin.client.post(f"{ORGS}/people", json=people, headers=admin.csrf_headers()).status_code == 200
    found: str = admin.client.get(f"{ORGS}/people/by-external-id/p1").json()["id"]
    return found


def _note(person_id: str, client_id: str = "phone-1", **extra: Any) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "type": "note",
        "person_id": person_id,
        "body": "Met at the fair.\nWants a demo.",
        "occurred_at": "2026-12-01T10:00:00+01:00",
        **extra,
    }


def _api(console: Console, headers: dict[str, str]) -> TestClient:
    client = TestClient(console.app, base_url=BASE_URL, headers=headers)
    client.__enter__()
    return client


def test_a_sellers_token_logs_an_activity_once_and_reads_it_back(
    console: Console, browser: OpenBrowser, person_id: str
) -> None:
    phone = _api(console, _token(browser(ACME_SELLER)))
    try:
        first = phone.post(f"{ORGS}/activities", json=_note(person_id))
        again = phone.post(f"{ORGS}/activities", json=_note(person_id))
        assert (first.status_code, again.status_code) == (201, 200)
        activity = first.json()
        assert again.json() == activity
        assert activity["type"] == "note"
        assert activity["occurred_at"] == "2026-12-01T09:00:00+00:00"
        assert activity["subject"] is None
        assert activity["delivery"]["state"] == "not_written_back"
        # The seller reads Spanish: the reason is in their language.
        assert activity["delivery"]["reason"].startswith("Se queda en el espacio de trabajo")
        me = phone.get("/api/v1/me").json()
        assert activity["author_user_id"] == me["user_id"]

        listed = phone.get(f"{ORGS}/activities", params={"person_id": person_id, "state": "not_written_back"})
        assert [item["id"] for item in listed.json()["items"]] == [activity["id"]]
        assert phone.get(f"{ORGS}/activities", params={"state": "delivered"}).json()["items"] == []
        assert phone.get(f"{ORGS}/activities/{activity['id']}").json() == activity

        assert phone.post(f"{ORGS}/activities", json=_note(str(uuid.uuid4()), "x")).status_code == 404
        refused = phone.post(f"{ORGS}/activities", json=_note(person_id, "y", body=" "))
        assert refused.status_code == 422
        naive = phone.post(f"{ORGS}/activities", json=_note(person_id, "z", occurred_at="2026-12-01T10:00:00"))
        assert naive.status_code == 422
        both = phone.post(f"{ORGS}/activities", json=_note(person_id, "w", company_id=str(uuid.uuid4())))
        assert both.status_code == 422
        reused = phone.post(f"{ORGS}/activities", json=_note(person_id, type="call"))  # phone-1 was a note
        assert reused.status_code == 409
        assert reused.json()["detail"].startswith("Este identificador de actividad ya se usó")
    finally:
        phone.__exit__(None, None, None)


def test_a_seller_edits_only_their_own_activities_and_an_administrator_any(
    console: Console, browser: OpenBrowser, person_id: str
) -> None:
    admin, seller = browser(ACME_ADMIN), browser(ACME_SELLER)
    by_admin = admin.client.post(f"{ORGS}/activities", json=_note(person_id, "a"), headers=admin.csrf_headers())
    assert by_admin.status_code == 201
    phone = _api(console, _token(seller))
    try:
        mine = phone.post(f"{ORGS}/activities", json=_note(person_id, "s")).json()
        forbidden = phone.patch(f"{ORGS}/activities/{by_admin.json()['id']}", json={"body": "Changed by Sofía"})
        assert forbidden.status_code == 403
        edited = phone.patch(
            f"{ORGS}/activities/{mine['id']}", json={"subject": "Demo", "body": "Booked", "expected_version": 1}
        )
        assert edited.status_code == 200
        assert (edited.json()["version"], edited.json()["subject"]) == (2, "Demo")
        stale = phone.patch(f"{ORGS}/activities/{mine['id']}", json={"body": "Late", "expected_version": 1})
        assert stale.status_code == 409
        assert "versión 2" in stale.json()["detail"]
    finally:
        phone.__exit__(None, None, None)
    fixed = admin.client.patch(
        f"{ORGS}/activities/{mine['id']}", json={"body": "Fixed by the admin"}, headers=admin.csrf_headers()
    )
    assert (fixed.status_code, fixed.json()["version"]) == (200, 3)
    assert fixed.json()["subject"] == "Demo", "a subject left out is kept"
    cleared = admin.client.patch(
        f"{ORGS}/activities/{mine['id']}", json={"subject": None, "body": "No subject"}, headers=admin.csrf_headers()
    )
    assert cleared.json()["subject"] is None
    assert admin.client.patch(f"{ORGS}/activities/{mine['id']}", json={"body": "no CSRF"}).status_code == 403


def test_writeback_administration_is_for_administrators(browser: OpenBrowser, person_id: str) -> None:
    seller = browser(ACME_SELLER)
    headers = seller.csrf_headers()
    assert seller.client.get(f"{ORGS}/writeback/settings").status_code == 403
    assert seller.client.put(f"{ORGS}/writeback/settings", json={"enabled": False}, headers=headers).status_code == 403
    assert seller.client.get(f"{ORGS}/writeback/status").status_code == 403
    assert seller.client.post(f"{ORGS}/writeback/retry", json={}, headers=headers).status_code == 403
    since = {"since": "2026-01-01"}
    assert seller.client.post(f"{ORGS}/writeback/backfill", json=since, headers=headers).status_code == 403


def test_administrators_set_writeback_and_backfill_what_was_kept(
    console: Console, browser: OpenBrowser, person_id: str
) -> None:
    admin = browser(ACME_ADMIN)
    a, headers = admin.client, admin.csrf_headers()
    assert a.get(f"{ORGS}/writeback/settings").json() == {"enabled": False, "items": "all"}
    kept = a.post(f"{ORGS}/activities", json=_note(person_id), headers=headers).json()
    assert a.post(f"{ORGS}/writeback/backfill", json={"since": "2026-01-01"}, headers=headers).status_code == 422

    refused = a.put(f"{ORGS}/writeback/settings", json={"enabled": True}, headers=headers)
    assert refused.status_code == 422  # not connected: no app to install yet
    chosen = a.put(f"{ORGS}/writeback/settings", json={"enabled": False, "items": ["note", "inmail"]}, headers=headers)
    assert chosen.json() == {"enabled": False, "items": ["inmail", "note"]}
    bad = a.put(f"{ORGS}/writeback/settings", json={"enabled": False, "items": ["fax"]}, headers=headers)
    assert bad.status_code == 422

    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:  # as if the app were installed and writeback turned on
        uow.writeback_settings.set(uow.writeback_settings.get().__class__(enabled=True), actor="test")
        uow.commit()
    queued = a.post(f"{ORGS}/writeback/backfill", json={"since": "2026-12-01T00:00:00Z"}, headers=headers)
    assert queued.json() == {"queued": 1}
    assert a.get(f"{ORGS}/activities/{kept['id']}").json()["delivery"]["state"] == "queued"
    with console.store(organization_id) as uow:  # delivered, then its row deleted in Dynamics
        uow.activities.mark_delivered({uuid.UUID(kept["id"]): (1, Regarding("contact", "c1"))}, now=console.clock())
        uow.commit()
    again = {"since": "2026-12-01", "include_delivered": True}
    assert a.post(f"{ORGS}/writeback/backfill", json=again, headers=headers).json() == {"queued": 1}
    assert a.get(f"{ORGS}/activities/{kept['id']}").json()["delivery"]["state"] == "queued"


def test_status_and_retry_show_and_requeue_dynamics_failures(
    console: Console, browser: OpenBrowser, person_id: str
) -> None:
    admin = browser(ACME_ADMIN)
    a, headers = admin.client, admin.csrf_headers()
    logged = a.post(f"{ORGS}/activities", json=_note(person_id), headers=headers).json()
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        parked = FailureOutcome(DeliveryState.PARKED, None)
        uow.activities.mark_failed(
            uuid.UUID(logged["id"]), outcome=parked, error_code="0x80040265", error_message="Subject too long."
        )
        uow.commit()

    status = a.get(f"{ORGS}/writeback/status").json()

    assert status["totals"]["parked"] == 1
    assert status["by_type"]["note"]["parked"] == 1
    assert [(s["name"], s["states"]["parked"]) for s in status["by_seller"]] == [("Ada Admin", 1)]
    (problem,) = status["problems"]
    assert (problem["error_code"], problem["error_message"]) == ("0x80040265", "Subject too long.")
    assert problem["reason"] == "Not delivered (retry it once fixed): Subject too long."
    assert a.post(f"{ORGS}/writeback/retry", json={"activity_ids": [logged["id"]]}, headers=headers).json() == {
        "retried": 1
    }
    assert a.get(f"{ORGS}/activities/{logged['id']}").json()["delivery"]["state"] == "queued"


def test_writeback_status_says_while_dynamics_throttles_the_drain_in_the_callers_language_and_null_otherwise(
    console: Console, browser: OpenBrowser
) -> None:
    """What a drain records while Dynamics throttles it (see ``test_writeback_drain``): the API's status gives until
    when and the sentence the console and ``salesbridge writeback status`` show, by the injected clock, until a
    minute after Dynamics' wait; null before and after."""
    admin = browser(ACME_ADMIN)
    status = admin.client.get(f"{ORGS}/writeback/status").json()
    assert (status["throttled_until"], status["throttled_message"]) == (None, None), "never throttled"
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    until = console.clock() + timedelta(seconds=30)
    with console.store(organization_id) as uow:
        uow.activities.note_throttled(until=until)
        uow.commit()

    status = admin.client.get(f"{ORGS}/writeback/status").json()
    assert status["throttled_until"] == until.isoformat()
    assert status["throttled_message"] == (
        "Dynamics is throttling requests: writeback tries again at 09:00:30 UTC. Nothing to do: it goes on by itself."
    )
    assert admin.client.put("/api/v1/me/locale", json={"locale": "es"}, headers=admin.csrf_headers()).is_success
    assert admin.client.get(f"{ORGS}/writeback/status").json()["throttled_message"] == (
        "Dynamics está limitando las solicitudes: la reescritura vuelve a intentarlo a las 09:00:30 UTC. No hace "
        "falta hacer nada: continúa sola."
    )
    console.clock.advance(timedelta(seconds=91))
    status = admin.client.get(f"{ORGS}/writeback/status").json()
    assert (status["throttled_until"], status["throttled_message"]) == (None, None), "a minute after the wait"


CRM_APP_MISSING_EN = (
    "Writeback of InMail and messages is paused: the CRM app is missing in Dynamics 365 (its tables were removed). "
    "Reinstall it (CRM Settings, Get it now; or salesbridge crm app install): the waiting activities are then "
    "delivered by themselves, none is lost."
)
CRM_APP_MISSING_ES = (
    "El envío de InMail y mensajes al CRM está en pausa: falta la aplicación del CRM en Dynamics 365 (se eliminaron "
    "sus tablas). Vuelva a instalarla (Configuración del CRM, Descargar; o salesbridge crm app install): las "
    "actividades pendientes se enviarán solas y no se perderá ninguna."
)


def _cli_writeback_status(database_url: str, lang: str) -> dict[str, Any]:
    """``salesbridge writeback status --org acme --json --lang LANG`` on the console's own database (no
    credentials are stored: any key opens it)."""
    runner = CliRunner(
        env={"SALESBRIDGE_DATABASE_URL": database_url, "SALESBRIDGE_CREDENTIAL_KEY": generate_key().get_secret_value()}
    )
    result = runner.invoke(cli_app, ["writeback", "status", "--org", "acme", "--json", "--lang", lang])
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = json.loads(result.output)
    body["by_type"] = body.pop("by_item")  # the API's name
    return body


def test_writeback_status_says_the_crm_app_is_missing_as_the_cli_does_in_the_callers_language(
    console: Console, browser: OpenBrowser, person_id: str, migrated_url: str
) -> None:
    """An InMail failing with ``crm_app_missing`` (the drain met the app's tables removed from Dynamics, see
    ``test_writeback_drain``): the API's status says so (``crm_app_missing``) and what to do, in the caller's
    language, with the console's sentence; its body is ``salesbridge writeback status --json``'s, field for field
    (``by_item`` named ``by_type``), in English and Spanish; once retried, false and null again."""
    admin = browser(ACME_ADMIN)
    a, headers = admin.client, admin.csrf_headers()
    status = a.get(f"{ORGS}/writeback/status").json()
    assert (status["crm_app_missing"], status["crm_app_missing_message"]) == (False, None), "nothing failing"
    inmail = a.post(f"{ORGS}/activities", json=_note(person_id, type="inmail", subject="Hello"), headers=headers)
    assert inmail.status_code == 201, inmail.text
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        waiting = FailureOutcome(DeliveryState.FAILING, console.clock() + timedelta(minutes=15))
        uow.activities.mark_failed(
            uuid.UUID(inmail.json()["id"]),
            outcome=waiting,
            error_code=CRM_APP_MISSING_CODE,
            error_message="Resource not found for the segment 'sbr_inmails'.",
        )
        uow.commit()

    status = a.get(f"{ORGS}/writeback/status").json()
    assert (status["crm_app_missing"], status["crm_app_missing_message"]) == (True, CRM_APP_MISSING_EN)
    assert _cli_writeback_status(migrated_url, "en") == status
    assert a.put("/api/v1/me/locale", json={"locale": "es"}, headers=headers).is_success
    status = a.get(f"{ORGS}/writeback/status").json()
    assert status["crm_app_missing_message"] == CRM_APP_MISSING_ES
    assert _cli_writeback_status(migrated_url, "es") == status

    assert a.post(f"{ORGS}/writeback/retry", json={}, headers=headers).json() == {"retried": 1}
    status = a.get(f"{ORGS}/writeback/status").json()
    assert (status["crm_app_missing"], status["crm_app_missing_message"]) == (False, None), "queued again"


def test_writeback_status_says_why_activities_wait_in_words_as_the_page_and_the_cli_do(
    console: Console, browser: OpenBrowser, person_id: str, migrated_url: str
) -> None:
    """Activities waiting for a CRM match and for a seat whose CRM sync is off: the API's ``waiting_labels`` say
    each reason of ``waiting`` in the caller's language, in the words the Writeback page lists them with, and the
    body is ``salesbridge writeback status --json``'s."""
    admin = browser(ACME_ADMIN)
    a, headers = admin.client, admin.csrf_headers()
    logged = [a.post(f"{ORGS}/activities", json=_note(person_id, f"w-{n}"), headers=headers).json() for n in range(3)]
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        uow.activities.mark_waiting(uuid.UUID(logged[0]["id"]), state=DeliveryState.WAITING_FOR_MATCH, hold=None)
        for activity in logged[1:]:
            uow.activities.mark_waiting(
                uuid.UUID(activity["id"]), state=DeliveryState.WAITING_FOR_SEAT, hold=SeatHold.CRM_SYNC_OFF
            )
        uow.commit()
    assert a.put("/api/v1/me/locale", json={"locale": "es"}, headers=headers).is_success

    status = a.get(f"{ORGS}/writeback/status").json()

    assert status["waiting"] == {"waiting_for_match": 1, "crm_sync_off": 2}
    assert status["waiting_labels"] == {
        "waiting_for_match": "Esperando una coincidencia en el CRM",
        "crm_sync_off": "En espera: la sincronización del CRM está desactivada para la licencia del vendedor",
    }
    page = a.get("/admin/writeback").text
    for key, label in status["waiting_labels"].items():
        assert f"<li>{label}: <strong>{status['waiting'][key]}</strong></li>" in page, label
    assert _cli_writeback_status(migrated_url, "es") == status


def test_another_organizations_administrator_finds_and_changes_none_of_our_activities(
    console: Console, browser: OpenBrowser, person_id: str
) -> None:
    admin, outsider = browser(ACME_ADMIN), browser(GLOBEX_ADMIN)
    ours = admin.client.post(f"{ORGS}/activities", json=_note(person_id), headers=admin.csrf_headers()).json()
    o, headers = outsider.client, outsider.csrf_headers()
    theirs = "/api/v1/orgs/globex"

    assert o.get(f"{ORGS}/activities").status_code == 404
    assert o.get(f"{ORGS}/activities/{ours['id']}").status_code == 404
    assert o.get(f"{theirs}/activities/{ours['id']}").status_code == 404
    assert o.patch(f"{theirs}/activities/{ours['id']}", json={"body": "x"}, headers=headers).status_code == 404
    assert o.get(f"{ORGS}/writeback/status").status_code == 404
    assert o.get(f"{theirs}/activities", params={"person_id": person_id}).json()["items"] == []
    assert o.post(f"{theirs}/activities", json=_note(person_id), headers=headers).status_code == 404  # our person
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        uow.activities.mark_failed(
            uuid.UUID(ours["id"]), outcome=FailureOutcome(DeliveryState.PARKED, None), error_code="E", error_message="x"
        )
        uow.commit()
    retried = o.post(f"{theirs}/writeback/retry", json={"activity_ids": [ours["id"]]}, headers=headers)
    assert retried.json() == {"retried": 0}
    assert admin.client.get(f"{ORGS}/activities/{ours['id']}").json()["delivery"]["state"] == "parked"
    assert admin.client.get(f"{ORGS}/activities/{ours['id']}").json()["body"] == ours["body"]


def test_the_longest_text_an_activity_holds_is_accepted_even_escaped_and_a_longer_one_refused(
    browser: OpenBrowser, person_id: str
) -> None:
    admin = browser(ACME_ADMIN)
    # 100,000 UTF-16 code units, as Dataverse counts a column's length (an emoji is two), sent as JSON escapes:
    # 12 bytes a character, 600 kB in all.
    longest = "😀" * 50_000
    logged = admin.client.post(
        f"{ORGS}/activities", json=_note(person_id, "long", body=longest), headers=admin.csrf_headers()
    )
    assert logged.status_code == 201, logged.text[:200]
    assert len(logged.json()["body"]) == 50_000
    edited = admin.client.patch(
        f"{ORGS}/activities/{logged.json()['id']}", json={"body": longest[:-1] + "!"}, headers=admin.csrf_headers()
    )
    assert edited.status_code == 200
    longer = admin.client.post(
        f"{ORGS}/activities", json=_note(person_id, "longer", body=longest + "!"), headers=admin.csrf_headers()
    )
    assert longer.status_code == 422


def test_times_dataverse_cannot_hold_and_calls_longer_than_its_description_are_refused_not_failed(
    browser: OpenBrowser, person_id: str
) -> None:
    """Found by QA: 0001-01-01T00:00:00+01:00 answered 500 (the UTC conversion overflowed); a call of more than
    2,000 characters was accepted, then parked by Dynamics."""
    admin = browser(ACME_ADMIN)

    def log(client_id: str, **extra: Any) -> Any:
        return admin.client.post(
            f"{ORGS}/activities", json=_note(person_id, client_id, **extra), headers=admin.csrf_headers()
        )

    for n, moment in enumerate(["0001-01-01T00:00:00+01:00", "1752-12-31T23:59:59Z", "9999-12-31T23:59:59-01:00"]):
        refused = log(f"t{n}", occurred_at=moment)
        assert refused.status_code == 422, refused.text
        assert "1753" in refused.json()["detail"]
    assert log("t-ok", occurred_at="1753-01-01T00:00:00Z").status_code == 201
    call = log("call", type="call", body="y" * 2001)
    assert call.status_code == 422
    assert "2000" in call.json()["detail"]
    assert log("call-ok", type="call", body="y" * 2000).status_code == 201


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite serialises the two edits whole
def test_an_edit_of_the_body_alone_does_not_undo_a_subject_edited_meanwhile(
    console: Console, browser: OpenBrowser, person_id: str
) -> None:
    """Found by QA: PATCH without a subject read the stored subject before its transaction; an edit of the subject
    committed in between was undone by writing the old subject back."""
    admin, seller = browser(ACME_ADMIN), browser(ACME_SELLER)
    phone = _api(console, _token(seller))
    try:
        logged = phone.post(f"{ORGS}/activities", json=_note(person_id, "race", subject="Old")).json()
        organization_id = console.store.organization_id("acme")
        assert organization_id is not None
        with console.store(organization_id) as uow:  # the admin's edit, holding the row until it commits
            uow.activities.edit(uuid.UUID(logged["id"]), subject="New", body="Admin's text", expected_version=1)
            with ThreadPoolExecutor(max_workers=1) as pool:
                body_only = pool.submit(phone.patch, f"{ORGS}/activities/{logged['id']}", json={"body": "Seller's"})
                _wait_for_a_blocked_backend(console)
                uow.commit()
                answer = body_only.result()
    finally:
        phone.__exit__(None, None, None)
    assert answer.status_code == 200, answer.text
    after = admin.client.get(f"{ORGS}/activities/{logged['id']}").json()
    assert (after["subject"], after["body"], after["version"]) == ("New", "Seller's", 3)


def _wait_for_a_blocked_backend(console: Console) -> None:
    """Until another connection waits for a row lock (the PATCH's edit waiting for the admin's)."""
    engine = console.session_factory.kw["bind"]
    while True:
        with engine.connect() as connection:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            ).scalar_one()
        if waiting:
            return
        time.sleep(0.01)


def test_a_field_the_api_does_not_know_is_refused_naming_it_not_ignored(
    console: Console, browser: OpenBrowser, person_id: str
) -> None:
    phone = _api(console, _token(browser(ACME_SELLER)))
    try:
        unknown = phone.post(f"{ORGS}/activities", json=_note(person_id, attendees=["someone"]))
        assert unknown.status_code == 422
        [problem] = unknown.json()["detail"]
        assert (problem["type"], problem["loc"]) == ("extra_forbidden", ["body", "attendees"])
        assert phone.get(f"{ORGS}/activities").json()["items"] == [], "nothing stored"
        logged = phone.post(f"{ORGS}/activities", json=_note(person_id)).json()
        edit = phone.patch(f"{ORGS}/activities/{logged['id']}", json={"body": "Booked", "bdy": "typo"})
        assert edit.status_code == 422
        assert [problem["loc"] for problem in edit.json()["detail"]] == [["body", "bdy"]]
        assert phone.get(f"{ORGS}/activities/{logged['id']}").json()["version"] == 1
    finally:
        phone.__exit__(None, None, None)


def test_participants_are_stored_and_returned_and_only_the_organizations_people_once_each(
    console: Console, browser: OpenBrowser, person_id: str
) -> None:
    admin, outsider = browser(ACME_ADMIN), browser(GLOBEX_ADMIN)
    more = {"people": [{"external_id": f"q{n}", "first_name": "Quinn", "last_name": f"N{n}"} for n in (1, 2)]}
    assert admin.client.post(f"{ORGS}/people", json=more, headers=admin.csrf_headers()).status_code == 200
    q1, q2 = (admin.client.get(f"{ORGS}/people/by-external-id/q{n}").json()["id"] for n in (1, 2))
    theirs = {"people": [{"external_id": "g1", "first_name": "Gil", "last_name": "Globex"}]}
    globex = "/api/v1/orgs/globex"
    assert outsider.client.post(f"{globex}/people", json=theirs, headers=outsider.csrf_headers()).status_code == 200
    globex_person = outsider.client.get(f"{globex}/people/by-external-id/g1").json()["id"]
    phone = _api(console, _token(browser(ACME_SELLER)))
    try:
        logged = phone.post(f"{ORGS}/activities", json=_note(person_id, participants=[q2, q1]))
        assert logged.status_code == 201, logged.text
        assert logged.json()["participants"] == [q2, q1]
        assert phone.get(f"{ORGS}/activities/{logged.json()['id']}").json()["participants"] == [q2, q1]
        again = phone.post(f"{ORGS}/activities", json=_note(person_id, participants=[q2, q1]))
        assert (again.status_code, again.json()["id"]) == (200, logged.json()["id"])
        other = phone.post(f"{ORGS}/activities", json=_note(person_id, participants=[q2]))
        assert other.status_code == 409, "another activity under the same client id, not its participants ignored"
        plain = phone.post(f"{ORGS}/activities", json=_note(person_id, "plain")).json()
        assert plain["participants"] == []

        unknown = str(uuid.uuid4())
        for client_id, participants, said in (
            ("u", [q1, unknown], unknown),
            ("g", [globex_person], globex_person),  # another organization's person: as unknown
            ("d", [q1, q1], q1),
            ("p", [person_id], person_id),
        ):
            refused = phone.post(f"{ORGS}/activities", json=_note(person_id, client_id, participants=participants))
            assert refused.status_code == 422, (client_id, refused.text)
            assert said in refused.json()["detail"]
            assert refused.json()["detail"].startswith("El participante"), "in the seller's Spanish"
        too_many = phone.post(
            f"{ORGS}/activities", json=_note(person_id, "many", participants=[str(uuid.uuid4()) for _ in range(51)])
        )
        assert too_many.status_code == 422
        assert "50" in too_many.json()["detail"]
        assert {item["client_id"] for item in phone.get(f"{ORGS}/activities").json()["items"]} == {"phone-1", "plain"}
    finally:
        phone.__exit__(None, None, None)
