"""`salesbridge demo` (what `make demo` runs) as a user runs it: a real process starts the sandbox and the console,
prints credentials, and the printed administrator signs in and finds seats assigned from the sandbox's users."""

from __future__ import annotations

import json
import re
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_demo_serves_a_connected_console_with_seats_from_the_crm(tmp_path: Path) -> None:
    port = free_port()
    output = tmp_path / "stdout.txt"
    with output.open("wb") as stdout:
        process = subprocess.Popen(
            [sys.executable, "-m", "salesbridge", "demo", "--state-dir", str(tmp_path / "state"),
             "--console-port", str(port)],
            stdout=stdout,
            stderr=subprocess.STDOUT,
            env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 90
            text = ""
            while "Password:" not in text or "Stop with Ctrl+C" not in text:
                assert process.poll() is None, output.read_text()
                assert time.monotonic() < deadline, text
                time.sleep(0.2)
                text = output.read_text()
            assert "Connected to Microsoft Dynamics" in text, "the demo prints the connection status"
            loaded = re.search(r"Workspace loaded — (\d+) people, (\d+) companies", text)
            assert loaded is not None, text
            with sqlite3.connect(tmp_path / "state" / "demo-workspace.db") as workspace_db:
                people = workspace_db.execute("SELECT count(*) FROM people").fetchone()[0]
                companies = workspace_db.execute("SELECT count(*) FROM companies").fetchone()[0]
                links = workspace_db.execute("SELECT count(*) FROM match_links").fetchone()[0]
            assert (people, companies) == (int(loaded.group(1)), int(loaded.group(2)))
            assert people > 200, "the demo organization holds the workspace's people"
            assert companies > 50, "and its companies"
            assert links > 200, "matched with the CRM"
            admin = re.search(r"Admin:\s+(\S+)", text)
            password = re.search(r"Password:\s+(\S+)", text)
            assert admin is not None
            assert password is not None
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                for _ in range(100):
                    try:
                        page = client.get("/sign-in")
                        break
                    except httpx.TransportError:
                        time.sleep(0.1)
                token = CSRF_FIELD.search(page.text)
                assert token is not None
                signed_in = client.post(
                    "/sign-in",
                    data={
                        "workspace": "demo",
                        "email": admin.group(1),
                        "password": password.group(1),
                        "csrf_token": token.group(1),
                    },
                )
                assert signed_in.status_code in (200, 303), signed_in.text
                seats = client.get("/seats")
                assert seats.status_code == 200
                assert seats.text.count('data-testid="in-crm-badge"') == 6, "the admin and five seats from the CRM"
                settings = client.get("/settings/crm")
                assert "Conectado a Microsoft Dynamics" in settings.text, "the demo admin reads the console in Spanish"
                assert client.get("/sign-in", headers={"Host": "evil.example"}).status_code == 400
            assert f"export SALESBRIDGE_PUBLIC_BASE_URL=http://127.0.0.1:{port}" in text, (
                "invitation links the CLI prints"
            )
            _the_cli_finds_the_demo_with_the_printed_environment(text, tmp_path)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _the_cli_finds_the_demo_with_the_printed_environment(text: str, tmp_path: Path) -> None:
    """From another folder, the printed export lines point the CLI at the demo's store and key (it decrypts the
    stored secret to read the CRM); demo.env does too, even over another key in the environment."""
    exports = [line.strip() for line in text.splitlines() if line.strip().startswith("export SALESBRIDGE_")]
    assert {line.split("=", 1)[0] for line in exports} >= {
        "export SALESBRIDGE_DATABASE_URL",
        "export SALESBRIDGE_CREDENTIAL_KEY_FILE",
    }
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    salesbridge = f"{shlex.quote(sys.executable)} -m salesbridge"
    environment = {"PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    settings = subprocess.run(
        ["bash", "-c", "; ".join([*exports, f"{salesbridge} crm settings show --org demo --json"])],
        cwd=elsewhere, env=environment, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert settings.returncode == 0, settings.stdout + settings.stderr
    assert json.loads(settings.stdout)["choices"]["from_crm"] is True, "the stored secret decrypted, the CRM read"
    demo_env = shlex.quote(str(tmp_path / "state" / "demo.env"))
    status = subprocess.run(
        ["bash", "-c", f"source {demo_env}; {salesbridge} crm status --org demo --json"],
        cwd=elsewhere, env={**environment, "SALESBRIDGE_CREDENTIAL_KEY": "a-key-from-elsewhere"},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert status.returncode == 0, status.stdout + status.stderr
    assert json.loads(status.stdout)["state"] == "connected"
    assert list(elsewhere.iterdir()) == [], "nothing created in the current folder"
