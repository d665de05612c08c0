"""`salesbridge demo` (what `make demo` runs) as a user runs it: a real process starts the sandbox and the console,
prints credentials, and the printed administrator signs in and finds seats assigned from the sandbox's users; the
sellers' activities it logged are in the sandbox as the seller (the printed Web API query shows them) or wait,
saying why."""

from __future__ import annotations

import json
import re
import shlex
import signal
import socket
import sqlite3
import ssl
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
            # No SMTP server configured: the invitation emails the demo would send are printed instead.
            assert text.count("email not sent (no SMTP server configured: SALESBRIDGE_SMTP_HOST)") == 5, text
            assert "Subject: You're invited to Contoso (demo) on salesbridge" in text
            assert f"http://127.0.0.1:{port}/invitations/" in text
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
                # The seventh seat, the second seller's, has its CRM sync off: no In CRM badge.
                assert seats.text.count('data-testid="in-crm-badge"') == 6, "the admin and five seats from the CRM"
                assert client.get("/admin/writeback").status_code == 200, "the printed Writeback page"
                settings = client.get("/settings/crm")
                assert "Conectado a Microsoft Dynamics" in settings.text, "the demo admin reads the console in Spanish"
                assert client.get("/sign-in", headers={"Host": "evil.example"}).status_code == 400
            assert f"export SALESBRIDGE_PUBLIC_BASE_URL=http://127.0.0.1:{port}" in text, (
                "invitation links the CLI prints"
            )
            _the_cli_finds_the_demo_with_the_printed_environment(text, tmp_path)
            _the_sellers_activities_are_written_back_or_wait_saying_why(text, tmp_path)
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


def _the_sellers_activities_are_written_back_or_wait_saying_why(text: str, tmp_path: Path) -> None:
    """The demo prints where its sellers' activities stand; the store agrees, and the printed Web API query (with a
    token for sandbox.json's application) lists the seller's InMail, message and call on the contact, owned and
    created by the seller's CRM user on behalf of the application user."""
    seller = re.search(r"Seller:\s+(\S+)", text)
    held_seller = re.search(r"Seller 2:\s+(\S+)\s+\(CRM sync off\)", text)
    assert seller is not None
    assert held_seller is not None, text
    assert re.search(
        r"Written to your CRM: 5 — InMail, InMail, message, call, note by " + re.escape(seller[1]), text
    ), text
    assert re.search(r"Waiting for a CRM match: 1 — note by " + re.escape(seller[1]), text), text
    assert re.search(
        r"Waiting: CRM sync is off for the seller's seat: 1 — InMail by " + re.escape(held_seller[1]), text
    )
    with sqlite3.connect(tmp_path / "state" / "demo-workspace.db") as workspace_db:
        states = workspace_db.execute(
            "SELECT users.email, activities.item, activities.state, activities.hold FROM activities "
            "JOIN users ON users.id = activities.author_user_id ORDER BY activities.state, activities.item"
        ).fetchall()
    assert sorted(states) == sorted(
        [
            *((seller[1], item, "delivered", None) for item in ("call", "inmail", "inmail", "message", "note")),
            (seller[1], "note", "waiting_for_match", None),
            (held_seller[1], "inmail", "waiting_for_seat", "crm_sync_off"),
        ]
    )
    query = re.search(r"GET (https://\S+/activitypointers\S+)", text)
    assert query is not None, text
    info = json.loads((tmp_path / "state" / "sandbox.json").read_text(encoding="utf-8"))
    with httpx.Client(verify=ssl.create_default_context(cafile=info["ca_bundle"]), timeout=10) as crm:
        token = crm.post(
            f"{info['authority']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": info["client_id"],
                "client_secret": info["client_secret"],
                "scope": f"{info['org_url']}/.default",
            },
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        application_user = crm.get(info["api_url"] + "WhoAmI", headers=headers).json()["UserId"]
        users = crm.get(
            info["api_url"] + "systemusers",
            params={"$select": "systemuserid", "$filter": f"internalemailaddress eq '{seller[1]}'"},
            headers=headers,
        ).json()["value"]
        rows = crm.get(query[1], headers=headers).json()["value"]
    status = subprocess.run(
        ["bash", "-c", f"source {shlex.quote(str(tmp_path / 'state' / 'demo.env'))}; "
         f"{shlex.quote(sys.executable)} -m salesbridge writeback status --org demo --json"],
        env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert status.returncode == 0, status.stdout + status.stderr
    counted = json.loads(status.stdout)
    assert (counted["totals"]["delivered"], counted["waiting"]) == (5, {"waiting_for_match": 1, "crm_sync_off": 1})
    seller_crm = users[0]["systemuserid"]
    assert sorted(row["activitytypecode"] for row in rows) == ["phonecall", "sbr_inmail", "sbr_inmail", "sbr_message"]
    for row in rows:
        assert (row["_ownerid_value"], row["_createdby_value"]) == (seller_crm, seller_crm), row
        assert row["_createdonbehalfby_value"] == application_user
