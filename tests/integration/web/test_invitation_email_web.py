"""Invitations by email from "Assign seats from CRM" (SQLite and PostgreSQL), through a real SMTP server: each
invitee gets the link the page shows once, in their language; the page marks the invitations that went out, and
an SMTP server that cannot be reached leaves the assignment and its links as they were."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator

import pytest
from tests.integration.web.conftest import ACME_ADMIN, BASE_URL, Browser, Console, Person
from tests.integration.web.test_seats_web import acme_crm_users
from tests.smtp_server import SmtpServer, smtp_server

from salesbridge.mail import SmtpMailer
from salesbridge.services.seats import SeatService
from salesbridge.web.app import create_app

__all__ = ["acme_crm_users"]  # the fixture, shared with the seats tests

OpenBrowser = Callable[[Person | None], Browser]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def smtp_port(smtp: SmtpServer) -> int:
    """The SMTP server's port (a test of a server that cannot be reached overrides it)."""
    return smtp.port


@pytest.fixture
def console(console: Console, smtp: SmtpServer, smtp_port: int) -> Console:
    """The console whose seat service emails invitations through ``smtp``."""
    mailer = SmtpMailer(host=smtp.host, port=smtp_port, tls="none", sender="invitations@salesbridge.test")
    seats = SeatService(console.store, clock=console.clock, mailer=mailer, console_url=BASE_URL)
    services = dataclasses.replace(console.services, seats=seats)
    app = create_app(services, public_base_url=BASE_URL, allowed_hosts=["127.0.0.1"])
    return dataclasses.replace(console, app=app, services=services)


def _assign(admin: Browser, count: int) -> str:
    page = admin.client.get("/seats/assign-from-crm").text
    chosen = re.findall(r'name="crm_user_id" value="([0-9a-f-]+)"', page)[:count]
    done = admin.client.post("/seats/assign-from-crm", data={**admin.csrf_data(), "crm_user_id": chosen})
    assert done.status_code == 201, done.text
    return done.text


@pytest.mark.usefixtures("acme_crm_users")
def test_each_invitee_gets_the_link_the_page_shows(browser: OpenBrowser, smtp: SmtpServer) -> None:
    shown = _assign(browser(ACME_ADMIN), 2)
    links = re.findall(r'<code class="secret">(https://console\.test/invitations/[^<]+)</code>', shown)
    assert len(links) == 2
    assert shown.count('data-testid="invitation-emailed"') == 2
    received = smtp.handler.wait(2)
    assert sorted(message.rcpt_tos[0] for message in received) == ["person1@acme.test", "person2@acme.test"]
    for message in received:
        assert message.message["Subject"] == "You're invited to Acme Corp on salesbridge"
        assert "Ada Admin gave you a seat in the salesbridge workspace of Acme Corp." in message.text
    assert {link for message in received for link in links if link in message.text} == set(links)


@pytest.mark.usefixtures("acme_crm_users")
@pytest.mark.parametrize("smtp_port", [1], ids=["unreachable"])
def test_an_smtp_server_that_cannot_be_reached_leaves_the_links_to_copy(browser: OpenBrowser, smtp: SmtpServer) -> None:
    shown = _assign(browser(ACME_ADMIN), 1)
    assert len(re.findall(r'<code class="secret">https://console\.test/invitations/', shown)) == 1
    assert 'data-testid="invitation-emailed"' not in shown
    assert smtp.received == []


@pytest.mark.usefixtures("acme_crm_users")
def test_the_api_says_which_invitations_were_emailed(browser: OpenBrowser, smtp: SmtpServer) -> None:
    admin = browser(ACME_ADMIN)
    offered = admin.client.get("/api/v1/orgs/acme/crm/users").json()
    assigned = admin.client.post(
        "/api/v1/orgs/acme/seats/assign-from-crm",
        json={"crm_user_ids": [offered[0]["id"]]},
        headers=admin.csrf_headers(),
    )
    assert assigned.status_code == 201, assigned.text
    (invitation,) = assigned.json()
    assert invitation["emailed"] is True
    (message,) = smtp.handler.wait(1)
    assert invitation["invitation_url"] in message.text
