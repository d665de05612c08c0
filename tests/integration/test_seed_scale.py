"""The scale seed on a database file: it persists, is not applied twice, and the Web API serves its rows."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.organization.foundation import create_state
from salesbridge.sandbox.seeds.ledger import SEED_META_KEY
from salesbridge.sandbox.seeds.scale import seed_scale
from salesbridge.sandbox.seeds.seeding import parse_seed

BASE_URL = "https://sandbox.test"
API = f"{BASE_URL}/api/data/v9.2/"


def test_scale_seed_persists_and_is_applied_once(tmp_path: Path) -> None:
    path = str(tmp_path / "org.db")
    state = create_state(path)
    summary = seed_scale(state, 30_000)
    assert summary.counts["contact"] == 30_000
    version = state.storage.current_version
    state.storage.close()

    reopened = create_state(path)
    assert reopened.storage.get_meta(SEED_META_KEY) == "scale:30000:7"
    assert reopened.storage.current_version == version
    assert reopened.storage.scalar("SELECT MAX(versionnumber) FROM contact") <= version
    again = seed_scale(reopened, 30_000)
    assert again.already_seeded
    assert reopened.storage.scalar("SELECT COUNT(*) FROM contact") == 30_000
    reopened.storage.close()


def test_scale_seed_is_served_by_the_web_api(tmp_path: Path) -> None:
    sandbox = build_sandbox(db_path=str(tmp_path / "org.db"), seed=parse_seed("scale:4000"))
    issued = sandbox.services.issuer.issue(
        sandbox.application.client_id, sandbox.application.client_secret, f"{BASE_URL}/.default"
    )
    headers = {
        "Authorization": f"Bearer {issued['access_token']}",
        "Accept": "application/json",
        "Prefer": 'odata.include-annotations="*"',
    }
    with TestClient(sandbox.app, base_url=BASE_URL) as client:
        response = client.get(
            API + "contacts?$select=fullname,emailaddress1,_parentcustomerid_value&$top=5", headers=headers
        )
        assert response.status_code == 200, response.text
        contacts = response.json()["value"]
        assert len(contacts) == 5
        for contact in contacts:
            assert contact["fullname"]
            assert "@" in contact["emailaddress1"]
            assert contact["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
            assert contact["_parentcustomerid_value@OData.Community.Display.V1.FormattedValue"]

        won = client.get(
            API + "opportunities?$select=name,statuscode,stepname,actualvalue&$filter=statecode eq 1&$top=3",
            headers=headers,
        )
        assert won.status_code == 200, won.text
        for opportunity in won.json()["value"]:
            assert opportunity["statuscode"] == 3
            assert opportunity["stepname"] == "4-Close"
            assert opportunity["actualvalue"] > 0
