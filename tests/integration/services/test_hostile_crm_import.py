"""CRM data a real organization holds, imported from the sandbox over TLS into SQLite and PostgreSQL (issue 16,
"Hostile input"): names with control characters, 4,000-character texts, option-set values the metadata does not
list, lookups to rows deleted since, malformed and out-of-range dates, and one id read again on a later page (a
team modified while the import pages through its table by ``modifiedon``). The import succeeds with every
row it can keep; a row the store refuses (PostgreSQL keeps no NUL in text) is reported on Sync health by table and
id while the rest of its page is stored. What the console derives from the imported rows (auto-saved lists, the
reports) reads them without failing.

The hostile rows are written straight into the sandbox's storage (as Dynamics holds rows written by years of
integrations that skipped its validation); its Web API serves them like any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from tests.integration.services.conftest import SANDBOX_TARGETS, RunningSandbox, _serve

from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.organization.foundation import ROOT_BUSINESS_UNIT_ID, RowWriter
from salesbridge.services.connecting import connect_crm, create_organization
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.ports import CrmSessionFactory
from salesbridge.services.sync_health import sync_health
from salesbridge.store.uow import UnitOfWorkFactory, utc_now

CONTROL = "Ctl\x01\x07\x1b[31mRed\x1b[0m\u202eevil\u200b\x7f\x85Name\r\nLine"
LONG = "L" * 4000
NUL = "Nul\x00Name"
PAGE = 3
"""Rows per page: the teams span several pages."""


class HostileRows:
    """The ids of the rows written into the sandbox."""

    def __init__(self) -> None:
        self.accounts: dict[str, str] = {}
        self.contacts: dict[str, str] = {}
        self.opportunities: list[str] = []
        self.teams: list[str] = []


def _seed(running: RunningSandbox) -> HostileRows:
    state = running.sandbox.services.state
    writer = RowWriter(state)
    ids = HostileRows()
    then = datetime(2026, 1, 5, tzinfo=UTC)
    with state.storage.transaction():
        ids.accounts["control"] = writer.insert("account", {"name": CONTROL, "description": CONTROL})
        ids.accounts["long"] = writer.insert("account", {"name": LONG, "description": LONG, "websiteurl": LONG})
        ids.accounts["unknown option"] = writer.insert("account", {"name": "Odd Industry", "industrycode": 987654})
        ids.accounts["nul"] = writer.insert("account", {"name": NUL})
        gone = writer.insert("account", {"name": "Deleted since"})
        parent = {"parentcustomerid": gone, "parentcustomerid__type": "account"}
        ids.contacts["dangling"] = writer.insert("contact", {"firstname": "Dan", "lastname": "Gling", **parent})
        ids.contacts["bad date"] = writer.insert(
            "contact", {"firstname": "Bad", "lastname": "Date", "birthdate": "31/02/2026"}
        )
        ids.contacts["year 1"] = writer.insert(
            "contact", {"firstname": "Year", "lastname": "One", "birthdate": "0001-01-01T00:00:00Z"}
        )
        ids.contacts["unknown option"] = writer.insert(
            "contact",
            {"firstname": "Odd", "lastname": "Method", "preferredcontactmethodcode": -7, "statuscode": 424242},
        )
        ids.contacts["control"] = writer.insert("contact", {"firstname": CONTROL, "lastname": LONG})
        for number, close in enumerate(("2026-02-30", "not a date", "9999-12-31T23:59:59Z")):
            values = {
                "name": f"Deal {number} {CONTROL}",
                "customerid": gone,
                "customerid__type": "account",
                "estimatedclosedate": close,
                "actualclosedate": "yesterday",
                "salesstagecode": 31337,
                "estimatedvalue": 1e300 if number == 0 else -5,
            }
            ids.opportunities.append(writer.insert("opportunity", values))
        for number in range(3 * PAGE):
            values = {"name": f"Team {number} {CONTROL}", "businessunitid": ROOT_BUSINESS_UNIT_ID}
            ids.teams.append(writer.insert("team", values, when=then + timedelta(minutes=number)))
        state.storage.delete("account", "accountid", gone)
    return ids


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningSandbox, HostileRows]]:
    """A sandbox holding the hostile rows."""
    for running in _serve(build_sandbox(), tmp_path_factory.mktemp("tls")):
        yield running, _seed(running)


async def test_hostile_rows_import_with_the_rest_and_each_refused_one_is_reported_by_table_and_id(
    store: UnitOfWorkFactory,
    sessions: CrmSessionFactory,
    hostile: tuple[RunningSandbox, HostileRows],
    migrated_url: str,
) -> None:
    running, ids = hostile
    organization_id = create_organization(store, slug="acme", seats=5)
    assert (
        await connect_crm(store, sessions, slug="acme", credentials=running.credentials(), targets=SANDBOX_TARGETS)
    ).is_connected
    # Change tracking turned off on team since (connecting requires it): the import reads it by modifiedon.
    team = running.sandbox.services.state.catalogue.entity("team")
    team.change_tracking_enabled = False
    storage = running.sandbox.services.state.storage
    first_team = ids.teams[0]
    modified_again: list[str] = []

    def modify_a_read_team(table: str, _stored: int) -> None:
        # After the first page of teams, its first row changes in Dynamics: the modifiedon cursor reads it again on
        # a later page of the same run.
        if table == "team" and not modified_again:
            with storage.transaction():
                storage.update("team", "teamid", first_team, {"modifiedon": "2026-01-06T00:00:00Z", "name": "Renamed"})
            modified_again.append(first_team)

    try:
        outcome = await run_pending_import(
            store, sessions, organization_id, clock=utc_now, progress=modify_a_read_team, page_size=PAGE
        )
    finally:
        team.change_tracking_enabled = True

    assert outcome is not None
    assert outcome.succeeded, outcome
    assert modified_again, "a team was modified while its table was read"
    refused = {(error.table, error.crm_id) for error in sync_health(store, organization_id).import_errors}
    expected_refused = {("account", ids.accounts["nul"].lower())} if migrated_url.startswith("postgresql") else set()
    assert refused == expected_refused
    with store(organization_id, read_only=True) as uow:
        for key, crm_id in ids.accounts.items():
            kept = uow.crm_records.get("account", crm_id.lower())
            assert (kept is not None) == (("account", crm_id.lower()) not in refused), key
        for key, crm_id in ids.contacts.items():
            assert uow.crm_records.get("contact", crm_id.lower()) is not None, key
        for crm_id in ids.opportunities:
            assert uow.crm_records.get("opportunity", crm_id.lower()) is not None
        teams = {record.crm_id for record in uow.crm_records.records("team", limit=1000)}
        renamed = uow.crm_records.get("team", first_team.lower())
        control = uow.crm_records.get("account", ids.accounts["control"].lower())
        long = uow.crm_records.get("account", ids.accounts["long"].lower())
    assert renamed is not None
    assert renamed.data["name"] == "Renamed"
    assert {crm_id.lower() for crm_id in ids.teams} <= teams
    assert control is not None
    assert control.data["name"] == CONTROL, "kept as Dynamics holds it; the console escapes it when shown"
    assert long is not None
    assert long.data["name"] == LONG, "kept whole (the name the lists sort and search by: its first 400 characters)"
