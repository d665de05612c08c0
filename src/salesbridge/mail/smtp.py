"""Sending email through an SMTP server (``SALESBRIDGE_SMTP_*``), with the standard library's :mod:`smtplib`.

One connection per message: invitations and alerts are few, and a fresh connection never finds a server that
dropped an idle one. The password is sent only over TLS unless the operator chose ``none`` (plain text).
"""

from __future__ import annotations

import smtplib
import ssl
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from salesbridge.domain.mail import OutgoingMail
from salesbridge.errors import MailDeliveryError
from salesbridge.mail.messages import compose

TlsMode = Literal["none", "starttls", "tls"]


class SmtpMailer:
    """Sends each message through the SMTP server at ``host``:``port``.

    Args:
        tls: ``starttls`` (connect in plain text, then upgrade: refused if the server does not offer it, never sent
            in plain text), ``tls`` (TLS from the first byte) or ``none``.
        sender: The From address.
        username / password: Signed in with when ``username`` is given.
        ca_file: A PEM bundle of CAs trusted for the server's certificate besides the system's.
        ssl_context: The TLS settings to use instead (tests pass one trusting a throwaway CA).
        timeout_s: How long each step may wait for the server.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        tls: TlsMode,
        sender: str,
        username: str | None = None,
        password: SecretStr | None = None,
        ca_file: Path | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self._host = host
        self._port = port
        self._tls: TlsMode = tls
        self._sender = sender
        self._username = username
        self._password = password
        self._timeout_s = timeout_s
        self._context = ssl_context or ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    @property
    def sends(self) -> bool:
        """True: messages go to the SMTP server."""
        return True

    def send(self, mail: OutgoingMail) -> None:
        """Send ``mail`` in its recipient's language.

        Raises:
            MailDeliveryError: the server could not be reached, its certificate was not trusted, it offers no
                STARTTLS (with ``starttls``), or it refused the sign-in, the sender or the recipient.
        """
        message = compose(mail, sender=self._sender)
        try:
            with self._connect() as smtp:
                if self._tls == "starttls":
                    smtp.starttls(context=self._context)
                if self._username:
                    password = self._password.get_secret_value() if self._password else ""
                    smtp.login(self._username, password)
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailDeliveryError(
                f"Sending email through {self._host}:{self._port} ({self._tls}) failed: {_reason(exc)}"
            ) from None

    def _connect(self) -> smtplib.SMTP:
        if self._tls == "tls":
            return smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout_s, context=self._context)
        return smtplib.SMTP(self._host, self._port, timeout=self._timeout_s)


def _reason(exc: BaseException) -> str:
    """What failed, in words: the server's reply for a refusal (never the password, which no reply holds)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        return f"the server answered {exc.smtp_code} {reply}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "the server refused the recipient " + ", ".join(exc.recipients)
    return f"{type(exc).__name__}: {exc}"
