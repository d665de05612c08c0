"""A real SMTP server for the email tests: aiosmtpd on 127.0.0.1, recording every message it accepts.

It can offer STARTTLS or speak TLS from the first byte with a throwaway CA's certificate (``trustme``), and ask for
a sign-in (AUTH PLAIN/LOGIN with one user), as a mail provider does.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    """A message the server accepted: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        """The plain-text body."""
        body = self.message.get_body(preferencelist=("plain",))
        assert body is not None
        return str(body.get_content())

    @property
    def html(self) -> str:
        """The HTML body."""
        body = self.message.get_body(preferencelist=("html",))
        assert body is not None
        return str(body.get_content())


@dataclass
class RecordingHandler:
    """aiosmtpd's handler: keeps what it accepted; ``arrived`` is set at each message."""

    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    secure: list[bool] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), parsed))
        # STARTTLS and TLS from the first byte alike: the connection under the session is encrypted.
        self.secure.append(server.transport is not None and server.transport.get_extra_info("ssl_object") is not None)
        self.arrived.set()
        return "250 Message accepted for delivery"

    def wait(self, count: int = 1, timeout_s: float = 10.0) -> list[Received]:
        """The messages once at least ``count`` arrived (fails after ``timeout_s``: a bound, not a timing)."""
        deadline = threading.Event()
        for _ in range(int(timeout_s * 20)):
            if len(self.received) >= count:
                return list(self.received)
            deadline.wait(0.05)
        raise AssertionError(f"{len(self.received)} of {count} messages arrived")


@dataclass(frozen=True)
class SmtpServer:
    """A running server: where it listens, what it received, and the client TLS settings trusting its CA."""

    host: str
    port: int
    handler: RecordingHandler
    client_context: ssl.SSLContext

    @property
    def received(self) -> list[Received]:
        """What it accepted so far."""
        return self.handler.received


class _Authenticator:
    def __init__(self, login: str, password: str) -> None:
        self._login = login.encode()
        self._password = password.encode()

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == self._login and data.password == self._password
        return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(*, tls: str = "none", login: tuple[str, str] | None = None) -> Iterator[SmtpServer]:
    """An SMTP server on 127.0.0.1 while the block runs. ``tls``: ``none`` (plain, no STARTTLS offered),
    ``starttls`` (STARTTLS offered and required before mail and sign-in) or ``tls`` (TLS from the first byte).
    ``login``: the one user and password it accepts (a sign-in is then required)."""
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    handler = RecordingHandler()
    options: dict[str, Any] = {}
    if tls == "starttls":
        options.update(tls_context=server_context, require_starttls=True)
    if login is not None:
        options.update(authenticator=_Authenticator(*login), auth_required=True, auth_require_tls=tls != "none")
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=_free_port(),
        ssl_context=server_context if tls == "tls" else None,
        server_hostname="127.0.0.1",
        **options,
    )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, handler, client_context)
    finally:
        controller.stop()
