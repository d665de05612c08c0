"""Change tracking: full set with a delta link, deltas with tombstones, refusals, expiry
(use-change-tracking-synchronize-data-external-systems.md)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.conformance.conftest import API, WebApi

from salesbridge.sandbox.assembly import Sandbox

TRACK = {"Prefer": "odata.track-changes"}


def read_all(api: WebApi, url: str, prefer: str = "odata.track-changes") -> tuple[list[dict[str, object]], str]:
    rows: list[dict[str, object]] = []
    headers = {"Prefer": prefer}
    while True:
        body = api.get(url, headers=headers).json()
        rows.extend(body["value"])
        if "@odata.nextLink" in body:
            assert "@odata.deltaLink" not in body
            url = body["@odata.nextLink"]
            continue
        return rows, body["@odata.deltaLink"]


def test_initial_request_returns_the_full_set_and_a_delta_link(api: WebApi) -> None:
    for name in ("Monte Orton", "Fabrikam", "Contoso"):
        api.create("accounts", {"name": name})
    response = api.get("accounts?$select=name,accountnumber", headers=TRACK)
    assert response.status_code == 200
    assert "odata.track-changes" in response.headers["Preference-Applied"]
    body = response.json()
    assert {row["name"] for row in body["value"]} == {"Monte Orton", "Fabrikam", "Contoso"}
    link = body["@odata.deltaLink"]
    assert link.startswith(f"{API}accounts?$select=name,accountnumber&$deltatoken=")
    token = parse_qs(urlsplit(link).query)["$deltatoken"][0]
    version, _, stamp = token.partition("!")
    assert version.isdigit()
    assert len(stamp) == len("08/22/2017 08:10:44")


def test_the_delta_link_is_only_on_the_last_page(api: WebApi) -> None:
    for index in range(5):
        api.create("accounts", {"name": f"A{index}"})
    rows, link = read_all(api, "accounts?$select=name", prefer="odata.track-changes,odata.maxpagesize=2")
    assert len(rows) == 5
    assert "$deltatoken=" in link


def test_delta_returns_changes_then_tombstones(api: WebApi) -> None:
    keep = api.create("accounts", {"name": "Keep"})
    change = api.create("accounts", {"name": "Change"})
    doomed = api.create("accounts", {"name": "Doomed"})
    _, link = read_all(api, "accounts?$select=name")
    api.patch(f"accounts({change})", json={"name": "Changed"}, headers={"If-Match": "*"})
    added = api.create("accounts", {"name": "Added"})
    api.delete(f"accounts({doomed})")
    body = api.get(link, headers=TRACK).json()
    assert body["@odata.context"].endswith("/$delta")
    values = body["value"]
    assert [row.get("name") for row in values[:2]] == ["Changed", "Added"]
    assert values[2] == {
        "@odata.context": f"{API}$metadata#accounts/$deletedEntity",
        "id": doomed,
        "reason": "deleted",
    }
    assert keep not in {row.get("accountid") for row in values}
    assert added in {row.get("accountid") for row in values}
    assert "@odata.deltaLink" in body


def test_a_record_created_and_deleted_between_syncs_is_reported_deleted(api: WebApi) -> None:
    _, link = read_all(api, "accounts?$select=name")
    ephemeral = api.create("accounts", {"name": "Ephemeral"})
    api.delete(f"accounts({ephemeral})")
    values = api.get(link, headers=TRACK).json()["value"]
    assert values == [
        {"@odata.context": f"{API}$metadata#accounts/$deletedEntity", "id": ephemeral, "reason": "deleted"}
    ]


def test_no_changes_gives_an_empty_value_and_a_new_link(api: WebApi) -> None:
    api.create("accounts", {"name": "Only"})
    _, link = read_all(api, "accounts?$select=name")
    body = api.get(link, headers=TRACK).json()
    assert body["value"] == []
    assert "$deltatoken=" in body["@odata.deltaLink"]


@pytest.mark.parametrize("option", ["$filter=name eq 'x'", "$orderby=name", "$expand=primarycontactid", "$top=5"])
def test_query_options_refused_with_change_tracking(api: WebApi, option: str) -> None:
    response = api.get(f"accounts?$select=name&{option}", headers=TRACK)
    assert response.status_code == 400
    name = option.split("=", 1)[0]
    assert (
        response.json()["error"]["message"]
        == f'The "{name}" query parameter isn\'t supported when Change Tracking is enabled.'
    )


def test_a_table_without_change_tracking_is_refused(api: WebApi) -> None:
    response = api.get("roles?$select=name", headers=TRACK)
    assert response.status_code == 400


def test_an_expired_token_asks_for_a_full_sync(api: WebApi, sandbox: Sandbox) -> None:
    api.create("accounts", {"name": "Old"})
    _, link = read_all(api, "accounts?$select=name")
    sandbox.services.state.clock_offset += timedelta(days=sandbox.services.state.config.change_tracking_expiry_days + 1)
    response = api.get(link, headers=TRACK)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "0x80044352",
        "message": "Version stamp associated with the client has expired. Please perform a full sync.",
    }


def test_deltas_page_when_there_are_many_changes(api: WebApi) -> None:
    _, link = read_all(api, "accounts?$select=name")
    created = [api.create("accounts", {"name": f"N{index}"}) for index in range(5)]
    for record in created[:2]:
        api.delete(f"accounts({record})")
    rows, next_link = read_all(api, link, prefer="odata.track-changes,odata.maxpagesize=2")
    assert sorted(r["id"] for r in rows if "id" in r) == sorted(created[:2])
    assert {r["accountid"] for r in rows if "accountid" in r} == set(created[2:])
    assert "$deltatoken=" in next_link
