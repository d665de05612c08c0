"""`salesbridge sandbox serve` as a user runs it: a real process, TLS, sandbox.json, a client, Ctrl+C."""

from __future__ import annotations

import json
import signal
import ssl
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx


def test_serve_writes_sandbox_json_and_answers_over_tls(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    stderr_file = (tmp_path / "stderr.txt").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "salesbridge",
            "sandbox",
            "serve",
            "--tls",
            "--seed",
            "none",
            "--state-dir",
            str(state_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=stderr_file,
    )
    info_path = state_dir / "sandbox.json"
    try:
        deadline = time.monotonic() + 60
        while not info_path.exists():
            assert process.poll() is None, (tmp_path / "stderr.txt").read_text()
            assert time.monotonic() < deadline, "the sandbox did not become ready"
            time.sleep(0.1)
        assert stat.S_IMODE(info_path.stat().st_mode) == 0o600
        info = json.loads(info_path.read_text())
        assert info["api_url"].startswith("https://127.0.0.1:")
        assert info["api_url"].endswith("/api/data/v9.2/")
        assert info["authority"] == f"{info['base_url']}/{info['tenant_id']}"
        assert Path(info["ca_bundle"]).is_absolute()
        with httpx.Client(verify=ssl.create_default_context(cafile=info["ca_bundle"])) as client:
            token = client.post(
                f"{info['authority']}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": info["client_id"],
                    "client_secret": info["client_secret"],
                    "scope": f"{info['org_url']}/.default",
                },
            ).json()["access_token"]
            who = client.get(f"{info['api_url']}WhoAmI", headers={"Authorization": f"Bearer {token}"})
        assert who.status_code == 200
        assert who.json()["UserId"]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        stderr_file.close()
    assert process.returncode == 0


_SERVE = (sys.executable, "-m", "salesbridge", "sandbox", "serve", "--tls", "--seed", "none")


def _serve(state_dir: Path, db: Path, stderr_path: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """Start ``sandbox serve --db`` and wait for a fresh sandbox.json."""
    info_path = state_dir / "sandbox.json"
    info_path.unlink(missing_ok=True)
    with stderr_path.open("ab") as stderr_file:
        process = subprocess.Popen(
            [*_SERVE, "--state-dir", str(state_dir), "--db", str(db)],
            stdout=subprocess.DEVNULL,
            stderr=stderr_file,
        )
    deadline = time.monotonic() + 60
    while not info_path.exists():
        assert process.poll() is None, stderr_path.read_text()
        assert time.monotonic() < deadline, "the sandbox did not become ready"
        time.sleep(0.1)
    return process, json.loads(info_path.read_text())


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 0


def _who_am_i(info: dict[str, str], secret: str) -> int:
    with httpx.Client(verify=ssl.create_default_context(cafile=info["ca_bundle"])) as client:
        token = client.post(
            f"{info['authority']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": info["client_id"],
                "client_secret": secret,
                "scope": f"{info['org_url']}/.default",
            },
        ).json()["access_token"]
        return client.get(f"{info['api_url']}WhoAmI", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_restarted_sandbox_on_a_file_keeps_earlier_secrets_and_keeps_none_in_clear(tmp_path: Path) -> None:
    state_dir, db, stderr_path = tmp_path / "state", tmp_path / "org.db", tmp_path / "stderr.txt"
    process, first = _serve(state_dir, db, stderr_path)
    _stop(process)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert first["client_secret"].encode() not in db.read_bytes()

    process, second = _serve(state_dir, db, stderr_path)
    try:
        assert second["client_id"] == first["client_id"]
        assert second["client_secret"] != first["client_secret"]
        assert _who_am_i(second, first["client_secret"]) == 200
        assert _who_am_i(second, second["client_secret"]) == 200
    finally:
        _stop(process)


def test_a_bad_seed_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "salesbridge", "sandbox", "serve", "--seed", "lots", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--seed" in result.stderr
