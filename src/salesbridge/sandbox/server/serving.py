"""Serving an ASGI app (the sandbox) with uvicorn: in a background thread for tests, or in the foreground for
the CLI, over plain HTTP or TLS.

The listening socket is bound before uvicorn starts, so port 0 resolves to a real free port that is known
(:attr:`RunningServer.port`) before any client needs it. uvicorn runs with httptools, without websockets or an
access log, and without touching the process's logging configuration (its loggers propagate to the root
logger; only warnings and errors are emitted).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Literal

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from salesbridge.sandbox.server.tls import TlsMaterial, write_file_atomically

STATE_FILE_NAME = "sandbox.json"
KEEP_ALIVE_S = 5
"""How long the sandbox keeps an idle keep-alive connection open before closing it (uvicorn's default, stated):
clients must drop idle connections sooner (:data:`salesbridge.crm.dynamics.client.IDLE_CONNECTION_S`)."""

_POLL_S = 0.01


class _HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, except that shutting down drops an idle connection at once.

    uvicorn ends idle keep-alive connections with ``transport.close()``. Over TLS that waits for the client's
    ``close_notify``, which a client holding the connection idle in its pool never sends, so a graceful stop
    would hang for the whole grace period and leave the transport open. Connections with a request in flight
    are unaffected: they finish their response first.
    """

    def shutdown(self) -> None:
        super().shutdown()
        if self.transport.is_closing():
            self.transport.abort()


class _Server(uvicorn.Server):
    """uvicorn's server, except that connections still open after the grace period are aborted, not leaked."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets=sockets)
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if isinstance(transport, asyncio.Transport):
                transport.abort()


class ServerStartError(RuntimeError):
    """The server did not start accepting connections (bind failure, bad TLS files, timeout)."""


class RunningServer:
    """One uvicorn server on a background thread. Use :func:`serve_in_thread` (or :meth:`start`) to start it.

    A context manager: leaving the ``with`` block stops it.

    Args:
        app: The ASGI application.
        host: Address to bind; loopback (``127.0.0.1``) by default.
        port: Port to bind; 0 picks a free one.
        tls: Certificate material to serve HTTPS with; plain HTTP when ``None``.
        lifespan: uvicorn's lifespan mode (``auto`` runs the app's startup/shutdown handlers if it has any).
        graceful_timeout_s: How long :meth:`stop` lets requests in flight finish before cancelling them.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: TlsMaterial | None = None,
        lifespan: Literal["auto", "on", "off"] = "auto",
        graceful_timeout_s: float = 5.0,
    ) -> None:
        self._app = app
        self._host = host
        self._requested_port = port
        self._tls = tls
        self._lifespan = lifespan
        self._graceful_timeout_s = graceful_timeout_s
        self._port: int | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def host(self) -> str:
        """The bound address."""
        return self._host

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was asked for).

        Raises:
            RuntimeError: The server was never started.
        """
        if self._port is None:
            raise RuntimeError("The server has not been started.")
        return self._port

    @property
    def scheme(self) -> str:
        """``https`` with TLS material, else ``http``."""
        return "https" if self._tls is not None else "http"

    @property
    def base_url(self) -> str:
        """``scheme://host:port`` without a trailing slash; a wildcard bind address is shown as loopback."""
        return f"{self.scheme}://{_url_host(self._host)}:{self.port}"

    @property
    def tls(self) -> TlsMaterial | None:
        """The TLS material served, if any."""
        return self._tls

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, *, timeout_s: float = 10.0) -> RunningServer:
        """Bind, start uvicorn on a daemon thread, and return once it accepts connections.

        Args:
            timeout_s: How long to wait for the server to come up.

        Returns:
            ``self``.

        Raises:
            OSError: The address could not be bound (e.g. the port is taken).
            ServerStartError: uvicorn failed to start (bad TLS files, …) or did not come up in time.
            RuntimeError: Already started.
        """
        if self._thread is not None:
            raise RuntimeError("The server has already been started.")
        listener = _bind(self._host, self._requested_port)
        self._port = int(listener.getsockname()[1])
        config = uvicorn.Config(
            self._app,
            host=self._host,
            port=self._port,
            http=_HttpProtocol,
            ws="none",
            lifespan=self._lifespan,
            access_log=False,
            log_config=None,
            log_level="warning",
            server_header=False,
            timeout_keep_alive=KEEP_ALIVE_S,
            timeout_graceful_shutdown=max(1, round(self._graceful_timeout_s)),
            ssl_certfile=str(self._tls.cert_chain) if self._tls else None,
            ssl_keyfile=str(self._tls.private_key) if self._tls else None,
        )
        server = _Server(config)
        self._server = server

        def run() -> None:
            try:
                server.run(sockets=[listener])
            except BaseException as failure:  # noqa: BLE001 - reported to the owning thread, not lost
                self._failure = failure
            finally:
                listener.close()

        self._thread = threading.Thread(target=run, name=f"sandbox-server-{self._port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not self._thread.is_alive():
                raise ServerStartError(f"The server on port {self._port} failed to start.") from self._failure
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(f"The server on port {self._port} did not start within {timeout_s} s.")
            time.sleep(_POLL_S)
        return self

    def stop(self, *, timeout_s: float = 10.0) -> None:
        """Stop gracefully: stop accepting, let requests in flight finish, close connections, join the thread.

        Idempotent. If the thread has not ended within ``timeout_s`` the server is told to exit at once.

        Args:
            timeout_s: How long to wait for the graceful shutdown.

        Raises:
            RuntimeError: The server had crashed while running (the crash is the cause).
        """
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout_s)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout_s)
        failure, self._failure = self._failure, None
        if failure is not None and not (isinstance(failure, SystemExit) and not failure.code):
            raise RuntimeError(f"The server on port {self._port} failed while running.") from failure

    def __enter__(self) -> RunningServer:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def serve_in_thread(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: TlsMaterial | None = None,
    lifespan: Literal["auto", "on", "off"] = "auto",
    timeout_s: float = 10.0,
) -> RunningServer:
    """Start ``app`` on a background thread and return once it accepts connections.

    Args:
        app: The ASGI application.
        host: Address to bind (loopback by default).
        port: Port; 0 picks a free one (read it from :attr:`RunningServer.port`).
        tls: Serve HTTPS with this material; plain HTTP when ``None``.
        lifespan: uvicorn's lifespan mode.
        timeout_s: How long to wait for the server to come up.

    Returns:
        The running server; stop it with :meth:`RunningServer.stop` or use it as a context manager.

    Raises:
        OSError: The address could not be bound.
        ServerStartError: The server did not start.
    """
    return RunningServer(app, host=host, port=port, tls=tls, lifespan=lifespan).start(timeout_s=timeout_s)


def serve_forever(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: TlsMaterial | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, then shut down gracefully and return (for the CLI).

    Args:
        host: Address to bind (loopback by default).
        port: Port; 0 picks a free one.
        tls: Serve HTTPS with this material; plain HTTP when ``None``.
        on_ready: Called once with the base URL (``scheme://host:port``) as soon as the server accepts
            connections, on the calling thread.

    Raises:
        OSError: The address could not be bound.
        ServerStartError: The server did not start.
        RuntimeError: The server crashed while running.

    Signals are only handled when called on the main thread; from another thread the function serves until
    the server stops by itself.
    """
    stop = threading.Event()
    with _stop_on_signals(stop), serve_in_thread(app, host=host, port=port, tls=tls) as server:
        if on_ready is not None:
            on_ready(server.base_url)
        while server.running and not stop.wait(0.2):
            pass


def write_state_file(directory: Path, info: Mapping[str, str]) -> Path:
    """Write ``directory/sandbox.json`` atomically with mode 0600 (it holds a client secret).

    Readers polling for the file see either nothing (or a previous version) or the complete JSON object.

    Args:
        directory: Where to write; created if missing.
        info: The connection facts (see the README's table).

    Returns:
        The path written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / STATE_FILE_NAME
    write_file_atomically(path, (json.dumps(dict(info), indent=2) + "\n").encode("utf-8"), mode=0o600)
    return path


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop.set()

    handled = (signal.SIGINT, signal.SIGTERM)
    previous: dict[signal.Signals, Any] = {sig: signal.signal(sig, handle) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if _is_ipv6(host) else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except BaseException:
        listener.close()
        raise
    return listener


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):  # a wildcard bind is reached on loopback
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if _is_ipv6(host) else host
