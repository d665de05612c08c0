"""The SMTP adapter against a real SMTP server (aiosmtpd on 127.0.0.1): STARTTLS and TLS with a throwaway CA,
sign-in, and every refusal turned into MailDeliveryError with nothing sent; messages in the recipient's language,
plain text and HTML."""

from __future__ import annotations

import io
import ssl
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from tests.smtp_server import smtp_server

from salesbridge.domain.mail import MailKind, OutgoingMail
from salesbridge.errors import MailDeliveryError
from salesbridge.mail import PrintingMailer, SmtpMailer

SENDER = "Salesbridge <alerts@salesbridge.test>"
PASSWORD = "s3cret-smtp-password"
LINK = "https://console.example.com/invitations/abc123"


def _invitation(locale: str) -> OutgoingMail:
    return OutgoingMail(
        to="vera@acme.test",
        locale=locale,
        kind=MailKind.INVITATION,
        values={
            "organization": "Acme <Corp>",
            "inviter": "Ada Admin",
            "link": LINK,
            "expires_at": datetime(2026, 12, 20, 9, 30, tzinfo=UTC).isoformat(),
        },
    )


def test_invitation_in_spanish_over_starttls_with_sign_in() -> None:
    with smtp_server(tls="starttls", login=("mailer", PASSWORD)) as server:
        mailer = SmtpMailer(
            host=server.host,
            port=server.port,
            tls="starttls",
            sender=SENDER,
            username="mailer",
            password=SecretStr(PASSWORD),
            ssl_context=server.client_context,
        )
        mailer.send(_invitation("es"))
        (received,) = server.handler.wait(1)
    assert server.handler.secure == [True]
    assert received.rcpt_tos == ["vera@acme.test"]
    assert received.message["From"] == SENDER
    assert received.message["Subject"] == "Te han invitado a Acme <Corp> en salesbridge"
    assert received.message["Content-Language"] == "es"
    assert "Ada Admin te ha dado una licencia" in received.text
    assert LINK in received.text
    assert "20 dic 2026" in received.text
    assert f'<a href="{LINK}">Aceptar la invitación</a>' in received.html
    assert "Acme &lt;Corp&gt;" in received.html  # values are escaped in HTML


def test_alert_in_english_over_tls_from_the_first_byte() -> None:
    alert = OutgoingMail(
        to="ada@acme.test",
        locale="en",
        kind=MailKind.SYNC_FAILING,
        values={
            "organization": "Acme",
            "since": "2026-12-06T08:00:00+00:00",
            "detail": "The sign-in to Microsoft Entra ID was rejected.",
            "link": "https://console.example.com/settings/crm",
            "account_link": "https://console.example.com/account",
        },
    )
    with smtp_server(tls="tls") as server:
        SmtpMailer(
            host=server.host, port=server.port, tls="tls", sender=SENDER, ssl_context=server.client_context
        ).send(alert)
        (received,) = server.handler.wait(1)
    assert server.handler.secure == [True]
    assert received.message["Subject"] == "Alert: the CRM sync of Acme has been failing for more than an hour"
    assert "Last error: The sign-in to Microsoft Entra ID was rejected." in received.text
    assert "https://console.example.com/account" in received.text


def test_a_certificate_from_an_unknown_authority_is_refused_and_nothing_is_sent() -> None:
    with smtp_server(tls="starttls") as server:
        mailer = SmtpMailer(
            host=server.host, port=server.port, tls="starttls", sender=SENDER, ssl_context=ssl.create_default_context()
        )
        with pytest.raises(MailDeliveryError, match="SSLCertVerificationError"):
            mailer.send(_invitation("en"))
        assert server.received == []


def test_starttls_is_required_when_chosen_never_falling_back_to_plain_text() -> None:
    with smtp_server(tls="none") as server:
        mailer = SmtpMailer(
            host=server.host, port=server.port, tls="starttls", sender=SENDER, ssl_context=server.client_context
        )
        with pytest.raises(MailDeliveryError, match="STARTTLS"):
            mailer.send(_invitation("en"))
        assert server.received == []


def test_a_refused_sign_in_is_reported_without_the_password() -> None:
    with smtp_server(tls="starttls", login=("mailer", PASSWORD)) as server:
        mailer = SmtpMailer(
            host=server.host,
            port=server.port,
            tls="starttls",
            sender=SENDER,
            username="mailer",
            password=SecretStr("wrong-" + PASSWORD),
            ssl_context=server.client_context,
        )
        with pytest.raises(MailDeliveryError) as refused:
            mailer.send(_invitation("en"))
        assert server.received == []
    assert "535" in str(refused.value)
    assert PASSWORD not in str(refused.value)


def test_an_unreachable_server_is_a_delivery_error() -> None:
    with smtp_server() as server:
        port = server.port
    mailer = SmtpMailer(host="127.0.0.1", port=port, tls="none", sender=SENDER, timeout_s=5)
    with pytest.raises(MailDeliveryError, match="ConnectionRefusedError"):
        mailer.send(_invitation("en"))


def test_without_smtp_the_message_is_printed_in_the_recipients_language() -> None:
    printed = io.StringIO()
    PrintingMailer(printed).send(_invitation("es"))
    text = printed.getvalue()
    assert "email not sent (no SMTP server configured: SALESBRIDGE_SMTP_HOST)" in text
    assert "To: vera@acme.test" in text
    assert "Subject: Te han invitado a Acme <Corp> en salesbridge" in text
    assert LINK in text


def test_a_name_with_a_line_break_cannot_add_a_header() -> None:
    sneaky = OutgoingMail(
        to="vera@acme.test",
        locale="en",
        kind=MailKind.INVITATION,
        values={
            "organization": "Acme\r\nBcc: everyone@evil.test",
            "inviter": "Ada",
            "link": LINK,
            "expires_at": datetime(2026, 12, 20, tzinfo=UTC).isoformat(),
        },
    )
    with smtp_server() as server:
        SmtpMailer(host=server.host, port=server.port, tls="none", sender=SENDER).send(sneaky)
        (received,) = server.handler.wait(1)
    assert received.rcpt_tos == ["vera@acme.test"]
    assert received.message["Bcc"] is None
    assert received.message["Subject"] == "You're invited to Acme Bcc: everyone@evil.test on salesbridge"
