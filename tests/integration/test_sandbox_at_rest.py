"""The sandbox's database file at rest (``--db``): owner-only files, no client secret in clear, restarts.

docs/security.md: "Client secrets are kept only as hashes"; the database and its ``-wal``/``-shm`` files are
readable by their owner only.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from salesbridge.sandbox.assembly import Sandbox, build_sandbox
from salesbridge.sandbox.identity.tokens import TokenRequestError
from salesbridge.sandbox.organization.foundation import build_foundation, create_state

BASE_URL = "https://sandbox.test"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _file_bytes(db: Path) -> bytes:
    return b"".join(path.read_bytes() for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if path.exists())


def _close(sandbox: Sandbox) -> None:
    sandbox.services.state.storage.close()


@pytest.fixture
def permissive_umask() -> object:
    """The usual umask (022), under which a file created without a mode would be world-readable."""
    previous = os.umask(0o022)
    yield None
    os.umask(previous)


@pytest.mark.usefixtures("permissive_umask")
def test_the_database_and_its_wal_files_are_created_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "org.db"
    sandbox = build_sandbox(db_path=str(db))
    try:
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            assert path.exists(), path
            assert _mode(path) == 0o600, path
    finally:
        _close(sandbox)


@pytest.mark.usefixtures("permissive_umask")
def test_an_existing_world_readable_database_is_made_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "org.db"
    _close(build_sandbox(db_path=str(db)))
    db.chmod(0o644)
    sandbox = build_sandbox(db_path=str(db))
    try:
        assert _mode(db) == 0o600
        assert _mode(Path(f"{db}-wal")) == 0o600
    finally:
        _close(sandbox)


def test_the_database_keeps_no_client_secret_in_clear(tmp_path: Path) -> None:
    db = tmp_path / "org.db"
    sandbox = build_sandbox(db_path=str(db))
    secret = sandbox.application.client_secret.encode()
    assert secret not in _file_bytes(db)
    _close(sandbox)
    assert secret not in _file_bytes(db)


def _token(sandbox: Sandbox, secret: str) -> str:
    issued = sandbox.services.issuer.issue(sandbox.application.client_id, secret, f"{BASE_URL}/.default")
    return str(issued["access_token"])


def test_a_restart_hands_out_a_new_secret_and_the_earlier_one_stays_valid(tmp_path: Path) -> None:
    db = tmp_path / "org.db"
    first = build_sandbox(db_path=str(db))
    earlier_secret = first.application.client_secret
    _close(first)
    second = build_sandbox(db_path=str(db))
    try:
        assert second.application.client_id == first.application.client_id
        assert second.application.client_secret != earlier_secret
        with TestClient(second.app, base_url=BASE_URL) as client:
            for secret in (earlier_secret, second.application.client_secret):
                who = client.get(
                    f"{BASE_URL}/api/data/v9.2/WhoAmI", headers={"Authorization": f"Bearer {_token(second, secret)}"}
                )
                assert who.status_code == 200, who.text
        with pytest.raises(TokenRequestError) as wrong:
            _token(second, earlier_secret + "0")
        assert wrong.value.code == 7000215
    finally:
        _close(second)


def test_a_clear_secret_left_by_an_older_sandbox_becomes_a_hash(tmp_path: Path) -> None:
    db = tmp_path / "org.db"
    state = create_state(str(db))
    registration = build_foundation(state)
    legacy_secret = "0123456789abcdef" * 4
    with state.storage.transaction():  # what sandboxes before hashing kept: id|secret|object id|user id
        state.storage.set_meta(
            "application_user",
            "|".join((registration.client_id, legacy_secret, registration.object_id, registration.systemuser_id)),
        )
    state.storage.close()
    assert legacy_secret.encode() in _file_bytes(db)

    sandbox = build_sandbox(db_path=str(db))
    assert _token(sandbox, legacy_secret)
    _close(sandbox)
    assert legacy_secret.encode() not in _file_bytes(db)
