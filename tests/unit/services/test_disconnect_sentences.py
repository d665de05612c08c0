"""The disconnect preview, worded at the edge, counts what it will delete in whole sentences: one record, two
records, in English and in Spanish (the catalogue's plural forms)."""

from __future__ import annotations

import pytest

from salesbridge.services.disconnect import DisconnectPreview
from salesbridge.sync.purge import PurgeReport
from salesbridge.web.localized import disconnect_lines


def _purge_sentence(count: int, locale: str) -> str:
    preview = DisconnectPreview(
        organization="acme",
        org_url="https://acme.crm.dynamics.com",
        connected=True,
        active_imports=0,
        purge=PurgeReport(
            crm_records=count,
            table_sync_states=count,
            crm_users=count,
            import_requests=count,
            system_list_items=count,
            system_lists=count,
        ),
    )
    return disconnect_lines(preview, purge=True, locale=locale)[1]


@pytest.mark.parametrize(
    ("count", "locale", "counted"),
    [
        (
            1,
            "en",
            "1 CRM record, 1 CRM user, 1 table checkpoint, 1 import run, and 1 auto-saved list with 1 item.",
        ),
        (
            2,
            "en",
            "2 CRM records, 2 CRM users, 2 table checkpoints, 2 import runs, and 2 auto-saved lists with 2 items.",
        ),
        (
            1,
            "es",
            "1 registro del CRM, 1 usuario del CRM, 1 punto de control de tabla, 1 importación y "
            "1 lista guardada automáticamente con 1 elemento.",
        ),
        (
            2,
            "es",
            "2 registros del CRM, 2 usuarios del CRM, 2 puntos de control de tablas, 2 importaciones y "
            "2 listas guardadas automáticamente con 2 elementos.",
        ),
    ],
)
def test_the_purge_sentence_agrees_with_each_count(count: int, locale: str, counted: str) -> None:
    assert counted in _purge_sentence(count, locale)
