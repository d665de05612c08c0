"""Request size bounds on the real console served by uvicorn (issue 10, item 5): eight anonymous 100 MB JSON bodies
took the console from 145 MB to 1.58 GB before it answered 401, and an 8 MB header was accepted.

The app is wrapped, outside, in :class:`ReceivedBytes`, which counts the body bytes the server hands to the console:
a refused body must stop being read at its bound, not be buffered whole."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tests.integration.web.conftest import ACME_ADMIN, Console, sign_in

from salesbridge.bootstrap import console_server_config
from salesbridge.sandbox.server.serving import RunningServer, serve_in_thread
from salesbridge.web.app import create_app
from salesbridge.web.request_limits import CONNECT_BODY_BYTES, DEFAULT_BODY_BYTES, MAX_HEADER_BYTES

HUNDRED_MB = 100 * 1024 * 1024
CHUNK = 64 * 1024


class ReceivedBytes:
    """Counts the request body bytes the server delivers to ``app`` (an ASGI wrapper, outermost)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._lock = threading.Lock()
        self.total = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counting() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                with self._lock:
                    self.total += len(message.get("body", b""))
            return message

        await self._app(scope, counting, send)


@pytest.fixture
def served(console: Console) -> Iterator[tuple[RunningServer, ReceivedBytes]]:
    """The console on 127.0.0.1 over plain HTTP (so non-Secure cookies), its received body bytes counted."""
    counter = ReceivedBytes(create_app(console.services, secure_cookies=False))
    with serve_in_thread(counter) as server:
        yield server, counter


def _status_line(sock: socket.socket) -> bytes:
    response = b""
    while b"\r\n" not in response:
        data = sock.recv(65536)
        if not data:
            break
        response += data
    return response.split(b"\r\n", 1)[0]


def _stream_chunked(port: int, path: str, total: int) -> tuple[bytes, int]:
    """POST ``total`` bytes of JSON-looking body, chunked (no Content-Length), stopping early once the server has
    answered; the status line and the bytes sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        sent = 0
        chunk = f"{CHUNK:x}\r\n".encode() + b"[" * CHUNK + b"\r\n"
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:  # answered: nothing more to send
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += CHUNK
        else:
            sock.sendall(b"0\r\n\r\n")
        return _status_line(sock), sent


def test_a_streamed_100_mb_body_is_refused_at_its_bound(served: tuple[RunningServer, ReceivedBytes]) -> None:
    server, counter = served
    status, _sent = _stream_chunked(server.port, "/api/v1/me/lists", HUNDRED_MB)
    assert b" 413 " in status
    # The console stopped reading at the bound (plus what the server had already read ahead), not at 100 MB.
    assert counter.total < DEFAULT_BODY_BYTES + 1024 * 1024


def test_a_declared_oversized_body_is_refused_before_it_is_read(
    served: tuple[RunningServer, ReceivedBytes],
) -> None:
    server, counter = served
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        # Headers only: the answer comes without a byte of the announced 100 MB body being sent.
        sock.sendall(
            f"POST /sign-in HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {HUNDRED_MB}\r\n\r\n".encode()
        )
        assert b" 413 " in _status_line(sock)
    assert counter.total == 0


def test_connect_accepts_a_pasted_ca_bundle_larger_than_the_default_bound(
    served: tuple[RunningServer, ReceivedBytes],
) -> None:
    server, _counter = served
    body = b'{"ca_bundle_pem": "' + b"A" * (DEFAULT_BODY_BYTES * 3) + b'"}'
    assert len(body) < CONNECT_BODY_BYTES
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        connect = http.post(
            "/api/v1/orgs/acme/crm/connection", content=body, headers={"content-type": "application/json"}
        )
        other = http.post(
            "/api/v1/me/lists", content=body, headers={"content-type": "application/json", "accept-language": "es"}
        )
    assert connect.status_code == 401  # read whole, then refused for want of a token, not for its size
    assert other.status_code == 413
    assert other.json() == {"detail": "La solicitud es demasiado grande."}  # nobody signed in: the browser's language
    assert other.headers["x-content-type-options"] == "nosniff"


def test_an_oversized_header_is_refused_with_431(served: tuple[RunningServer, ReceivedBytes]) -> None:
    server, _counter = served
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        refused = http.get("/healthz", headers={"X-Filler": "a" * (MAX_HEADER_BYTES + 1)})
        fine = http.get("/healthz", headers={"X-Filler": "a" * 1000})
    assert refused.status_code == 431
    assert refused.headers["content-security-policy"].startswith("default-src 'self'")
    assert fine.status_code == 200


def test_normal_forms_still_work(served: tuple[RunningServer, ReceivedBytes]) -> None:
    server, _counter = served
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        csrf = sign_in(http, ACME_ADMIN)  # type: ignore[arg-type]  # the same calls as a TestClient's
        created = http.post("/account/tokens", data={"name": "laptop", "csrf_token": csrf}, follow_redirects=False)
    assert created.status_code < 400, created.text[:300]


def test_serve_bounds_headers_in_the_http_parser(console: Console) -> None:
    """``salesbridge serve``'s uvicorn configuration: a header still arriving past the bound is refused by the
    parser (400) without waiting for its end; a normal request is answered."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = console_server_config(console.app, host="127.0.0.1", port=port)
    config.lifespan = "off"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "the server did not start"
            thread.join(0.01)
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            # An unfinished header (no end of line) past the bound: the parser gives up on it at once.
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: " + b"a" * (MAX_HEADER_BYTES + 4096))
            assert b" 400 " in _status_line(sock)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            assert http.get("/healthz").status_code == 200
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()
