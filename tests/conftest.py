"""Fixtures shared by every suite: throwaway TLS material, real uvicorn servers on 127.0.0.1 threads, and migrated
SQLite stores copied from one migrated once in the session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.types import ASGIApp

from salesbridge.sandbox.server.serving import RunningServer, serve_in_thread
from salesbridge.sandbox.server.tls import TlsMaterial, create_tls_material
from salesbridge.store.database import migrate


def pytest_configure(config: pytest.Config) -> None:
    """Forget an inherited terminal size before any test module imports the command line: its console fixes its
    width at import from ``COLUMNS`` when that is set (pytest-xdist's workers start with ``COLUMNS=80``), and the
    CLI tests then wrap at 80 columns whatever width their ``CliRunner`` asks for."""
    del config
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)


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


MigratedSqlite = Callable[[Path], str]
"""Puts a migrated SQLite store at the given path (which must not exist yet) and returns its URL."""


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every migration applied, migrated once in the session: tests copy it rather than run some
    thirty migrations each (the migrations themselves run from an empty database in
    ``integration/store/test_store_migrations.py``)."""
    template = tmp_path_factory.mktemp("migrated-sqlite-template") / "store.db"
    migrate(f"sqlite:///{template}")
    # The migration's engine is disposed, so its last connection folded the write-ahead log into the file.
    assert not template.with_name("store.db-wal").exists()
    return template


@pytest.fixture(scope="session")
def migrated_sqlite(migrated_sqlite_template: Path) -> MigratedSqlite:
    """A migrated SQLite store at a path of the test's choosing: ``url = migrated_sqlite(tmp_path / "store.db")``
    is ``migrate(url)`` in a few milliseconds."""

    def copy_to(path: Path) -> str:
        assert not path.exists(), f"{path} exists already"
        shutil.copyfile(migrated_sqlite_template, path)
        return f"sqlite:///{path}"

    return copy_to


@pytest.fixture(scope="session")
def sandbox_signing_key() -> rsa.RSAPrivateKey:
    """One RSA key to sign the access tokens of the sandboxes a session builds (``build_sandbox(signing_key=…)``):
    generating a 2048-bit key is most of an empty sandbox's build time. Tests of the issuer itself, or that need
    two sandboxes refusing each other's tokens, build without it."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)
