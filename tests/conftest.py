"""Fixtures shared by every suite: throwaway TLS material and real uvicorn servers on 127.0.0.1 threads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
from starlette.types import ASGIApp

from salesbridge.sandbox.server.serving import RunningServer, serve_in_thread
from salesbridge.sandbox.server.tls import TlsMaterial, create_tls_material


class ServeApp(Protocol):
    """Starts an ASGI app on a free 127.0.0.1 port; the fixture stops it after the test."""

    def __call__(self, app: ASGIApp, *, tls: TlsMaterial | None = None) -> RunningServer: ...


@pytest.fixture
def tls_material(tmp_path: Path) -> TlsMaterial:
    """A fresh local CA and a server certificate for 127.0.0.1 and localhost, written under ``tmp_path``."""
    return create_tls_material(tmp_path / "tls")


@pytest.fixture
def serve_app() -> Iterator[ServeApp]:
    """Serve apps with uvicorn on background threads (HTTPS when given TLS material); all stop at teardown."""
    started: list[RunningServer] = []

    def serve(app: ASGIApp, *, tls: TlsMaterial | None = None) -> RunningServer:
        server = serve_in_thread(app, host="127.0.0.1", port=0, tls=tls)
        started.append(server)
        return server

    yield serve
    for server in reversed(started):
        server.stop()
