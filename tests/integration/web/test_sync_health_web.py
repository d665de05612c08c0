"""The administrators' Sync health page (SQLite and PostgreSQL): each table's rows and last error, a skipped import
record and a parked activity with Dynamics' code and message, Retry of the activity (queued again), the history of
runs with their requests and 429s as a chart and a table; sellers are refused."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from tests.integration.web.conftest import ACME_ADMIN, ACME_SELLER, Browser, Console, Person
from tests.integration.web.test_people_web import seed_people
from tests.integration.web.test_writeback_web import _log, _states

from salesbridge.domain.sync_runs import RecordRow, RunCounts, SyncMode
from salesbridge.domain.writeback import DataItem, DeliveryState

OpenBrowser = Callable[[Person | None], Browser]
ORGS = "/api/v1/orgs/acme"


def _seed_sync(console: Console) -> None:
    """A contact table of 1,234 rows failing since its last run, a skipped account record, and a finished run."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        state = uow.sync_states.get_or_create("contact", mode=SyncMode.CHANGE_TRACKING)
        uow.sync_states.save(replace(state, row_count=1234))
        uow.sync_states.record_failure("contact", error="Dynamics is unavailable (503)")
        uow.import_record_errors.record(
            "account", "8d1f0c2e-0000-4000-8000-000000000001", code="0x80040216", message="An unexpected error"
        )
        uow.import_runs.enqueue(reason="sync now")
        run = uow.import_runs.claim(lease=timedelta(minutes=5))
        assert run is not None
        uow.import_runs.finish(
            run.id, counts=RunCounts(rows_imported=40, rows_deleted=2, requests_made=17, throttled=3)
        )
        uow.commit()


def _seed_health(console: Console) -> uuid.UUID:
    """:func:`_seed_sync`, and a seller's note parked with Dynamics' error; the note's id."""
    ids = seed_people(console)
    parked = _log(
        console,
        ids["p-robert"],
        item=DataItem.NOTE,
        state=DeliveryState.QUEUED,
        error=("0x80040220", "Principal user is missing prvCreateNote privilege"),
    )
    _seed_sync(console)
    return parked


def test_sync_health_shows_tables_errors_and_runs_and_retries_a_writeback_error(
    console: Console, browser: OpenBrowser
) -> None:
    parked = _seed_health(console)
    admin = browser(ACME_ADMIN)
    assert 'href="/settings/crm/health"' in admin.client.get("/settings/crm").text
    page = admin.client.get("/settings/crm/health")
    assert page.status_code == 200
    contact = re.search(r'data-table="contact">(.*?)</tr>', page.text, re.S)
    assert contact is not None
    assert ">1,234<" in contact.group(1)
    assert "Dynamics is unavailable (503)" in contact.group(1)
    skipped = re.search(r'data-testid="import-error" data-table="account"(.*?)</tr>', page.text, re.S)
    assert skipped is not None
    assert "<code>0x80040216</code> An unexpected error" in skipped.group(1)
    failing = re.search(rf'data-activity-id="{parked}" data-state="parked">(.*?)</tr>', page.text, re.S)
    assert failing is not None
    assert "<code>0x80040220</code> Principal user is missing prvCreateNote privilege" in failing.group(1)
    run = re.search(r'data-testid="run-row"(.*?)</tr>', page.text, re.S)
    assert run is not None
    assert 'data-testid="run-rows">42<' in run.group(1)
    assert 'data-testid="run-requests">17<' in run.group(1)
    assert 'data-testid="run-throttled">3<' in run.group(1)
    assert "<svg" in page.text
    assert page.text.count('data-testid="runs-chart"') == 2, "requests and 429s, and durations"

    retried = admin.client.post(
        "/settings/crm/health/retry-writeback",
        data={**admin.csrf_data(), "activity_id": str(parked)},
        follow_redirects=False,
    )
    assert retried.status_code == 303
    assert retried.headers["location"] == "/settings/crm/health?notice=writeback-retried&count=1#writeback-errors"
    assert _states(console)["A note"] is DeliveryState.QUEUED
    assert 'data-testid="no-writeback-errors"' in admin.client.get("/settings/crm/health").text


def test_sellers_cannot_see_or_retry_sync_health(console: Console, browser: OpenBrowser) -> None:
    seller = browser(ACME_SELLER)
    assert seller.client.get("/settings/crm/health").status_code in (403, 404)
    refused = seller.client.post(
        "/settings/crm/health/retry-writeback", data=seller.csrf_data(), follow_redirects=False
    )
    assert refused.status_code in (403, 404)


def test_retrying_skipped_records_without_a_crm_connection_says_to_connect_first(
    console: Console, browser: OpenBrowser
) -> None:
    _seed_sync(console)
    admin = browser(ACME_ADMIN)
    refused = admin.client.post("/settings/crm/health/retry-import", data=admin.csrf_data(), follow_redirects=False)
    assert refused.status_code == 422
    assert 'data-testid="form-error"' in refused.text
    assert "Connect to the CRM first" in refused.text
    assert 'data-testid="import-error" data-table="account"' in refused.text, "the skipped record is still listed"


def test_a_skipped_record_the_store_knows_is_shown_by_its_name_escaped(console: Console, browser: OpenBrowser) -> None:
    """A record that imported once and then failed: the administrator reads its name (CRM data: escaped)."""
    _seed_sync(console)
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    account = "8d1f0c2e-0000-4000-8000-000000000001"
    with console.store(organization_id) as uow:
        uow.crm_records.upsert_many("account", [RecordRow(account, "<b>Fabrikam</b>", None, None, 0, {})], generation=1)
        uow.commit()
    page = browser(ACME_ADMIN).client.get("/settings/crm/health").text
    assert f'<span data-testid="import-error-name">&lt;b&gt;Fabrikam&lt;/b&gt;</span><br><code>{account}</code>' in page


def test_the_api_gives_what_the_sync_health_page_shows_in_the_callers_language(
    console: Console, browser: OpenBrowser
) -> None:
    """``GET …/crm/sync/health``: each table (named in the caller's language) with its rows, last change and last
    error, the skipped record with Dynamics' code and message, the parked activity with its reason in the caller's
    language, the finished run's rows, requests and 429s; the table as the sync status gives it; administrators
    only."""
    parked = _seed_health(console)
    admin = browser(ACME_ADMIN)
    assert browser(ACME_SELLER).client.get(f"{ORGS}/crm/sync/health").status_code == 403

    health = admin.client.get(f"{ORGS}/crm/sync/health").json()

    (contact,) = health["tables"]
    assert (contact["table"], contact["row_count"], contact["last_error"]) == (
        "contact",
        1234,
        "Dynamics is unavailable (503)",
    )
    assert contact["table_label"] == "Contacts", "as the page names it"
    assert contact["failing_since"] is not None
    assert contact["updated_at"] == console.clock().isoformat(), "the page's last change"
    assert admin.client.get(f"{ORGS}/crm/sync").json()["tables"] == [contact], "as the sync status gives it"
    (skipped,) = health["import_errors"]
    assert (skipped["table"], skipped["crm_id"], skipped["name"]) == (
        "account",
        "8d1f0c2e-0000-4000-8000-000000000001",
        None,
    )
    assert (skipped["code"], skipped["message"], skipped["attempts"]) == ("0x80040216", "An unexpected error", 1)
    assert health["import_error_count"] == 1
    (failing,) = health["writeback_errors"]
    assert (failing["activity_id"], failing["state"], failing["error_code"]) == (str(parked), "parked", "0x80040220")
    assert failing["reason"] == "Not delivered (retry it once fixed): Principal user is missing prvCreateNote privilege"
    assert health["writeback_error_count"] == 1
    assert (health["crm_app_missing"], health["crm_app_missing_message"]) == (False, None)
    assert (health["writeback_throttled_until"], health["writeback_throttled_message"]) == (None, None)
    (run,) = health["runs"]
    assert (run["succeeded"], run["rows"], run["rows_imported"], run["rows_deleted"]) == (True, 42, 40, 2)
    assert (run["requests_made"], run["throttled"], run["error"]) == (17, 3, None)

    assert admin.client.put("/api/v1/me/locale", json={"locale": "es"}, headers=admin.csrf_headers()).is_success
    health = admin.client.get(f"{ORGS}/crm/sync/health").json()
    assert [table["table_label"] for table in health["tables"]] == ["Contactos"]
    assert [table["table_label"] for table in admin.client.get(f"{ORGS}/crm/sync").json()["tables"]] == ["Contactos"]
    (failing,) = health["writeback_errors"]
    assert failing["reason"] == (
        "No entregada (reinténtalo cuando esté resuelto): Principal user is missing prvCreateNote privilege"
    )
