"""The async rule on the console's pages (SQLite and PostgreSQL): CRM Settings — the page, a pipeline save, a
refused one — and assigning seats, all async routes, do their store work on worker threads, never on the event
loop; no page starts an event loop of its own."""

from __future__ import annotations

from tests.integration.off_loop import OffLoopStore
from tests.integration.web.conftest import Browser
from tests.integration.web.test_async_boundary import admin, watched

__all__ = ["admin", "watched"]  # the fixtures, shared with the API's tests


def test_crm_settings_and_its_pipeline_form_use_the_store_off_the_event_loop(
    admin: Browser, watched: OffLoopStore
) -> None:
    watched.on_loop.clear()

    page = admin.client.get("/settings/crm")
    saved = admin.client.post(
        "/settings/crm/pipeline",
        data={
            **admin.csrf_data(),
            "stage": "salesstage:1",
            "won_value_column": "actualvalue",
            "auto_save": "yes",
            "sync_interval_minutes": "30",
        },
    )
    refused = admin.client.post(
        "/settings/crm/pipeline",
        data={
            **admin.csrf_data(),
            "stage": "salesstage:9",
            "won_value_column": "actualvalue",
            "auto_save": "yes",
            "sync_interval_minutes": "30",
        },
    )

    assert (page.status_code, saved.status_code, refused.status_code) == (200, 200, 422)
    assert 'data-testid="pipeline-settings"' in page.text
    assert watched.on_loop == []


def test_assigning_seats_uses_the_store_off_the_event_loop(admin: Browser, watched: OffLoopStore) -> None:
    watched.on_loop.clear()

    refused = admin.client.post("/seats/assign-from-crm", data=admin.csrf_data())  # nobody chosen
    imported = admin.client.post("/seats/import-crm-users", data=admin.csrf_data())  # not connected

    assert (refused.status_code, imported.status_code) == (422, 422)
    assert watched.on_loop == []
