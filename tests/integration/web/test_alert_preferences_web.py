"""An administrator's email alerts on the Account page (SQLite and PostgreSQL): all on until turned off, saved
and audited, in the reader's language; other users neither see nor change them."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.integration.web.conftest import ACME_ADMIN, ACME_SELLER, Browser, Console, Person

from salesbridge.domain.alerts import AlertKind
from salesbridge.services.notifications import alert_preferences

OpenBrowser = Callable[[Person | None], Browser]


def _checked(html: str) -> set[str]:
    return set(re.findall(r'name="alert" type="checkbox" value="([a-z_]+)" checked', html))


def test_an_administrator_chooses_the_alerts_emailed_to_them(console: Console, browser: OpenBrowser) -> None:
    admin = browser(ACME_ADMIN)
    page = admin.client.get("/account")
    assert 'data-testid="alerts-section"' in page.text
    assert _checked(page.text) == {kind.value for kind in AlertKind}  # all on by default
    assert "Writeback failures piling up" in page.text

    saved = admin.client.post(
        "/account/alerts",
        data={**admin.csrf_data(), "alert": ["sync_failing", "no_such_alert"]},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    after = admin.client.get(saved.headers["location"])
    assert _checked(after.text) == {"sync_failing"}
    assert "Your alert choices were saved." in after.text
    principal = console.accounts.principal_of("acme", ACME_ADMIN.email)
    assert alert_preferences(console.store, principal) == {
        AlertKind.SYNC_FAILING: True,
        AlertKind.WRITEBACK_FAILING: False,
        AlertKind.CRM_APP_MISSING: False,
    }
    audit = admin.client.get("/admin/audit", params={"action": "alert.preferences_changed"}).text
    assert "Email alerts chosen" in audit
    assert "<dt>Alerts</dt><dd>CRM sync failing for more than an hour</dd>" in audit  # by name, not code
    admin.client.post("/account/alerts", data={**admin.csrf_data(), "alert": ["sync_failing"]})
    again = admin.client.get("/admin/audit", params={"action": "alert.preferences_changed"}).text
    assert again.count('data-testid="audit-row"') == 1  # the same choice again changes nothing

    admin.client.post("/account/locale", data={**admin.csrf_data(), "locale": "es"})
    spanish = admin.client.get("/account").text
    assert "Alertas por correo" in spanish
    assert "Se acumulan errores de reescritura" in spanish


def test_users_who_are_not_administrators_get_no_alerts(console: Console, browser: OpenBrowser) -> None:
    seller = browser(ACME_SELLER)
    assert 'data-testid="alerts-section"' not in seller.client.get("/account").text
    refused = seller.client.post("/account/alerts", data={**seller.csrf_data(), "alert": ["sync_failing"]})
    assert refused.status_code == 403
