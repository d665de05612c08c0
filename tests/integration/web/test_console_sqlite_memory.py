"""The console's own process keeps less of a SQLite store in memory than an import does (issue 16, the soak):
``SALESBRIDGE_CONSOLE_SQLITE_MEMORY_MIB`` (8 MiB) when each import runs in a process of its own, which keeps
``SALESBRIDGE_SQLITE_MEMORY_MIB`` (64 MiB); with imports in the console's process, the import's limit. Read back
from SQLite itself (``PRAGMA soft_heap_limit``: the process's limit, whichever connection asks) after the console
has served a sign-in attempt, which reads the store."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from salesbridge.bootstrap import build_console, console_sqlite_memory_mib, work_horse_request
from salesbridge.settings import Settings
from salesbridge.store.secrets import generate_key

MIB = 2**20


def _process_limit() -> int:
    with sqlite3.connect(":memory:") as connection:
        return int(connection.execute("PRAGMA soft_heap_limit").fetchone()[0])


@pytest.fixture(autouse=True)
def no_limit_left_behind() -> Iterator[None]:
    """The limit is the process's: leave none for the tests that follow."""
    yield
    with sqlite3.connect(":memory:") as connection:
        connection.execute("PRAGMA soft_heap_limit=0")


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}", credential_key=generate_key(), **overrides)


def _attempt_sign_in(settings: Settings, *, run_imports: bool) -> None:
    """A failed sign-in on the console ``build_console`` serves: it reads the store (and counts the failure)."""
    app = build_console(settings, secure_cookies=False, run_imports=run_imports)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        form = client.get("/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None, form.text[:500]
        answer = client.post(
            "/sign-in",
            data={"workspace": "acme", "email": "nobody@acme.test", "password": "wrong", "csrf_token": token[1]},
            follow_redirects=False,
        )
        assert answer.status_code in (400, 401), answer.text[:500]


@pytest.mark.parametrize("run_imports", [True, False])
def test_with_imports_in_their_own_processes_the_console_keeps_its_own_smaller_limit(
    tmp_path: Path, run_imports: bool
) -> None:
    settings = _settings(tmp_path)
    assert settings.import_process == "child"
    _attempt_sign_in(settings, run_imports=run_imports)
    assert _process_limit() == settings.console_sqlite_memory_mib * MIB == 8 * MIB
    # What an import's process is started with: the import's limit, not the console's.
    carried = Settings.model_validate(work_horse_request(settings)["settings"])
    assert carried.sqlite_memory_mib == 64


def test_with_imports_in_the_consoles_process_it_keeps_the_imports_limit(tmp_path: Path) -> None:
    settings = _settings(tmp_path, import_process="thread")
    _attempt_sign_in(settings, run_imports=True)
    assert _process_limit() == settings.sqlite_memory_mib * MIB == 64 * MIB


def test_a_console_that_runs_no_imports_keeps_its_own_limit_even_in_thread_mode(tmp_path: Path) -> None:
    settings = _settings(tmp_path, import_process="thread", console_sqlite_memory_mib=12)
    assert console_sqlite_memory_mib(settings, run_imports=False) == 12
    _attempt_sign_in(settings, run_imports=False)
    assert _process_limit() == 12 * MIB


def test_the_console_limit_is_refused_below_zero(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="console_sqlite_memory_mib"):
        _settings(tmp_path, console_sqlite_memory_mib=-1)
