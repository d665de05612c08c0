"""The mailer of a deployment without an SMTP server (``SALESBRIDGE_SMTP_HOST`` unset), and of the demo: each
message is printed, as it would have been sent, instead of sent."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from salesbridge.domain.mail import OutgoingMail
from salesbridge.mail.messages import compose

NOT_SENT_SENDER = "salesbridge <salesbridge@localhost>"
"""The From address shown on printed messages when no sender is configured."""


class PrintingMailer:
    """Prints each message (its headers and plain-text body) to ``stream`` (standard error when None) instead of
    sending it. Never raises :class:`~salesbridge.errors.MailDeliveryError`. Thread-safe: messages are never
    interleaved.

    The printed text holds what the message holds, invitation links included (secrets until accepted): a
    deployment that must not write them to its log configures SMTP.
    """

    def __init__(self, stream: TextIO | None = None, *, sender: str | None = None) -> None:
        self._stream = stream
        self._sender = sender or NOT_SENT_SENDER
        self._lock = threading.Lock()

    @property
    def sends(self) -> bool:
        """False: messages are printed, not sent."""
        return False

    def send(self, mail: OutgoingMail) -> None:
        """Print ``mail`` as it would be sent."""
        message = compose(mail, sender=self._sender)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        printed = (
            "---- email not sent (no SMTP server configured: SALESBRIDGE_SMTP_HOST) ----\n"
            f"From: {message['From']}\nTo: {message['To']}\nSubject: {message['Subject']}\n\n{text.rstrip()}\n"
            "---- end of email ----\n"
        )
        stream = self._stream or sys.stderr
        with self._lock:
            stream.write(printed)
            stream.flush()
