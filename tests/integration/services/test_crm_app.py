"""The CRM-side app against a fresh sandbox over TLS, on SQLite and PostgreSQL: install then status, installing
twice changes nothing, an older install is upgraded by exactly what it lacks, missing privileges refuse by name
with nothing created, definitions survive a restart of a sandbox kept in a file, and an InMail row regarding a
contact is written and found again by its alternate key."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.integration.services.conftest import (
    SANDBOX_TARGETS,
    RunningSandbox,
    _dynamics_session,
    _serve,
    connected_cli,
)

from salesbridge.crm.dynamics import DynamicsConnector
from salesbridge.crm.ports import LookupValue
from salesbridge.domain.crm_app import CRM_APP, AppState, CrmApp, MissingItem, MissingKind, app_table, missing_items
from salesbridge.errors import CrmAppBlockedError, CrmAppPrivilegesError, CrmError, InvalidRequestError
from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.catalogue.standard_tables import build_standard_catalogue
from salesbridge.sandbox.organization.foundation import SYSTEM_ADMINISTRATOR_ROLE_ID
from salesbridge.sandbox.organization.security import Depth
from salesbridge.sandbox.server.faults import FaultConfig
from salesbridge.services.connecting import connect_crm, create_organization
from salesbridge.services.crm_app import crm_app_status, install_crm_app
from salesbridge.services.ports import CrmAppSessionFactory
from salesbridge.store.uow import UnitOfWorkFactory

APP_TABLES = ("sbr_inmail", "sbr_message")


@pytest.fixture
def fresh(tmp_path: Path, sandbox_signing_key: rsa.RSAPrivateKey) -> Iterator[RunningSandbox]:
    """A sandbox of its own per test (installing changes its definitions)."""
    yield from _serve(build_sandbox(signing_key=sandbox_signing_key), tmp_path)


@pytest.fixture
def app_sessions() -> CrmAppSessionFactory:
    """The real Dynamics connector, one attempt per call."""
    return cast(CrmAppSessionFactory, _dynamics_session)


async def _connected(store: UnitOfWorkFactory, sandbox: RunningSandbox) -> str:
    create_organization(store, slug="acme", name="Acme", seats=3)
    outcome = await connect_crm(
        store, _dynamics_session, slug="acme", credentials=sandbox.credentials(), targets=SANDBOX_TARGETS
    )
    assert outcome.is_connected, outcome
    return "acme"


def _connector(sandbox: RunningSandbox) -> DynamicsConnector:
    return cast(DynamicsConnector, _dynamics_session(sandbox.connected_credentials()))


async def _definitions(sandbox: RunningSandbox) -> dict[str, Any]:
    """Every definition of the app's tables with its MetadataId: what a second install must not change."""
    async with _connector(sandbox) as crm:
        snapshot: dict[str, Any] = {}
        for name in APP_TABLES:
            path = f"EntityDefinitions(LogicalName='{name}')"
            table = await crm.client.get_json(path, params={"$select": "LogicalName,Description"})
            columns = await crm.client.get_json(f"{path}/Attributes", params={"$select": "LogicalName"})
            keys = await crm.client.get_json(f"{path}/Keys", params={"$select": "LogicalName,KeyAttributes"})
            snapshot[name] = {
                "table": (table["MetadataId"], table["Description"]["UserLocalizedLabel"]["Label"]),
                "columns": sorted((c["LogicalName"], c["MetadataId"]) for c in columns["value"]),
                "keys": sorted((k["LogicalName"], k["MetadataId"], tuple(k["KeyAttributes"])) for k in keys["value"]),
            }
        return snapshot


def _audit(store: UnitOfWorkFactory, slug: str) -> list[tuple[str, dict[str, Any]]]:
    organization_id = store.organization_id(slug)
    assert organization_id is not None
    with store(organization_id) as uow:
        return [(entry.action, dict(entry.details)) for entry in uow.audit.recent(limit=50)]


async def test_a_fresh_crm_reports_missing_then_installed(
    store: UnitOfWorkFactory, fresh: RunningSandbox, app_sessions: CrmAppSessionFactory
) -> None:
    slug = await _connected(store, fresh)
    before = await crm_app_status(store, app_sessions, slug=slug)
    assert before.state is AppState.MISSING
    assert MissingItem(MissingKind.TABLE, "sbr_inmail") in before.missing
    assert before.installed_version is None

    done = await install_crm_app(store, app_sessions, slug=slug, actor="admin@acme.example")

    assert {str(item) for item in done.created} >= {"sbr_inmail", "sbr_message", "sbr_inmail.sbr_externalid"}
    after = await crm_app_status(store, app_sessions, slug=slug)
    assert (after.state, after.missing, after.installed_version) == (AppState.INSTALLED, (), CRM_APP.version)
    assert after.missing_privileges == ()
    async with _connector(fresh) as crm:
        kinds = {c.logical_name: c.type for c in await crm.metadata.columns("sbr_inmail")}
        table = await crm.metadata.table("sbr_message")
    assert {name: kinds[name] for name in ("sbr_body", "sbr_direction", "sbr_senton", "sbr_sellerid")} == {
        "sbr_body": "Memo",
        "sbr_direction": "Boolean",
        "sbr_senton": "DateTime",
        "sbr_sellerid": "Lookup",
    }
    assert (table.entity_set_name, table.is_activity, table.primary_name_column) == ("sbr_messages", True, "subject")
    installed = [details for action, details in _audit(store, slug) if action == "crm.app_installed"]
    assert len(installed) == 1
    assert "sbr_inmail" in installed[0]["created"]


async def test_installing_twice_changes_nothing(
    store: UnitOfWorkFactory, fresh: RunningSandbox, app_sessions: CrmAppSessionFactory
) -> None:
    slug = await _connected(store, fresh)
    await install_crm_app(store, app_sessions, slug=slug)
    first = await _definitions(fresh)

    again = await install_crm_app(store, app_sessions, slug=slug)

    assert again.created == ()
    assert again.status.state is AppState.INSTALLED
    assert await _definitions(fresh) == first


async def test_an_outdated_install_is_upgraded_with_only_what_it_lacks(
    store: UnitOfWorkFactory, fresh: RunningSandbox, app_sessions: CrmAppSessionFactory
) -> None:
    slug = await _connected(store, fresh)
    inmail = app_table("sbr_inmail")
    older = dataclasses.replace(
        inmail, columns=tuple(c for c in inmail.columns if c.logical_name != "sbr_conversationid")
    )
    older_app: CrmApp = dataclasses.replace(CRM_APP, tables=tuple(older if t is inmail else t for t in CRM_APP.tables))
    await install_crm_app(store, app_sessions, slug=slug, app=older_app)
    before = await _definitions(fresh)
    status = await crm_app_status(store, app_sessions, slug=slug)
    assert status.state is AppState.OUTDATED
    assert status.missing == (MissingItem(MissingKind.COLUMN, "sbr_inmail", "sbr_conversationid"),)

    done = await install_crm_app(store, app_sessions, slug=slug)

    assert done.created == (MissingItem(MissingKind.COLUMN, "sbr_inmail", "sbr_conversationid"),)
    assert done.status.state is AppState.INSTALLED
    after = await _definitions(fresh)
    assert after["sbr_message"] == before["sbr_message"]
    added = set(after["sbr_inmail"]["columns"]) - set(before["sbr_inmail"]["columns"])
    assert [name for name, _ in added] == ["sbr_conversationid"]
    assert set(before["sbr_inmail"]["columns"]) <= set(after["sbr_inmail"]["columns"])
    assert after["sbr_inmail"]["keys"] == before["sbr_inmail"]["keys"]


async def test_missing_privileges_are_named_and_nothing_is_created(
    store: UnitOfWorkFactory, fresh: RunningSandbox, app_sessions: CrmAppSessionFactory
) -> None:
    slug = await _connected(store, fresh)
    state = fresh.sandbox.services.state
    with state.storage.transaction():
        state.security.revoke(
            SYSTEM_ADMINISTRATOR_ROLE_ID, ["prvCreateEntity", "prvCreateAttribute", "prvActOnBehalfOfAnotherUser"]
        )

    with pytest.raises(CrmAppPrivilegesError) as refused:
        await install_crm_app(store, app_sessions, slug=slug)

    assert refused.value.missing == ("prvCreateEntity", "prvCreateAttribute", "prvActOnBehalfOfAnotherUser")
    assert "prvActOnBehalfOfAnotherUser" in str(refused.value)
    status = await crm_app_status(store, app_sessions, slug=slug)
    assert status.state is AppState.MISSING
    assert status.missing_privileges == ("prvActOnBehalfOfAnotherUser",)
    failed = [details for action, details in _audit(store, slug) if action == "crm.app_install_failed"]
    assert failed[0]["missing_privileges"] == list(refused.value.missing)


async def test_an_inmail_regarding_a_contact_is_written_and_found_by_its_external_id(
    store: UnitOfWorkFactory, fresh: RunningSandbox, app_sessions: CrmAppSessionFactory
) -> None:
    slug = await _connected(store, fresh)
    await install_crm_app(store, app_sessions, slug=slug)
    async with _connector(fresh) as crm:
        caller = await crm.metadata.who_am_i()
        contact = "6f1b7a2e-0c1d-4e5f-9a8b-1c2d3e4f5a60"
        await crm.writer.create("contact", {"lastname": "Lee"}, record_id=contact)
        inmail = "0a9b8c7d-6e5f-4a3b-8c1d-2e3f4a5b6c70"
        await crm.writer.create(
            "sbr_inmail",
            {
                "subject": "Quick question",
                "sbr_body": "Hello " * 500,
                "sbr_direction": True,
                "sbr_senton": "2026-12-01T09:30:00Z",
                "sbr_conversationid": "conv-1",
                "sbr_externalid": "sb-act-1",
                "regardingobjectid": LookupValue(contact, "contact"),
                "sbr_sellerid": LookupValue(caller.user_id, "systemuser"),
            },
            record_id=inmail,
        )

        row = await crm.client.get_json(
            "sbr_inmails(sbr_externalid='sb-act-1')",
            params={"$select": "activityid,subject,_regardingobjectid_value,_sbr_sellerid_value,sbr_direction"},
        )
        pointers = await crm.client.get_json(
            "activitypointers", params={"$select": "activityid,activitytypecode", "$filter": f"activityid eq {inmail}"}
        )
    assert (row["activityid"], row["_regardingobjectid_value"], row["_sbr_sellerid_value"]) == (
        inmail,
        contact,
        caller.user_id,
    )
    assert row["sbr_direction"] is True
    assert [p["activitytypecode"] for p in pointers["value"]] == ["sbr_inmail"]


async def test_installed_definitions_survive_a_restart_of_a_sandbox_kept_in_a_file(tmp_path: Path) -> None:
    db = str(tmp_path / "org.db")
    first = build_sandbox(db_path=db)
    for running in _serve(first, tmp_path / "first"):
        async with _connector(running) as crm:
            observed = await crm.app.observe(CRM_APP)
            await crm.app.create(CRM_APP, missing_items(observed))
    first.services.state.storage.close()

    second = build_sandbox(db_path=db)
    for running in _serve(second, tmp_path / "second"):
        async with _connector(running) as crm:
            observed = await crm.app.observe(CRM_APP)
    second.services.state.storage.close()
    assert missing_items(observed) == ()
    assert observed.tables["sbr_inmail"].is_activity
    assert "sbr_inmail_externalidkey" in observed.tables["sbr_inmail"].keys


async def test_a_regarded_table_without_activities_blocks_the_install_and_nothing_is_created(
    store: UnitOfWorkFactory, tmp_path: Path, app_sessions: CrmAppSessionFactory
) -> None:
    catalogue = build_standard_catalogue()
    catalogue.entity("lead").has_activities = False
    for sandbox in _serve(build_sandbox(catalogue=catalogue), tmp_path):
        slug = await _connected(store, sandbox)

        with pytest.raises(CrmAppBlockedError) as refused:
            await install_crm_app(store, app_sessions, slug=slug)

        assert refused.value.items == ("lead: activities not enabled",)
        status = await crm_app_status(store, app_sessions, slug=slug)
        assert status.state is AppState.MISSING
        assert MissingItem(MissingKind.ACTIVITIES, "lead") in status.missing


def test_the_command_line_installs_and_reports_in_english_and_refuses_in_spanish(
    tmp_path: Path, fresh: RunningSandbox
) -> None:
    from salesbridge.cli import app

    runner = connected_cli(tmp_path, fresh, seats=2)
    before = runner.invoke(app, ["crm", "app", "status", "--org", "acme", "--json"])
    assert before.exit_code == 0, before.output
    assert json.loads(before.output)["state"] == "missing"

    state = fresh.sandbox.services.state
    with state.storage.transaction():
        state.security.revoke(SYSTEM_ADMINISTRATOR_ROLE_ID, ["prvActOnBehalfOfAnotherUser"])
    refused = runner.invoke(app, ["crm", "app", "install", "--org", "acme", "--lang", "es"])
    assert refused.exit_code != 0
    assert "le faltan estos privilegios: prvActOnBehalfOfAnotherUser" in refused.output

    with state.storage.transaction():
        state.security.grant(SYSTEM_ADMINISTRATOR_ROLE_ID, {"prvActOnBehalfOfAnotherUser": Depth.GLOBAL})
    installed = runner.invoke(app, ["crm", "app", "install", "--org", "acme"])
    assert installed.exit_code == 0, installed.output
    assert "sbr_inmail.sbr_externalid" in installed.output
    status = runner.invoke(app, ["crm", "app", "status", "--org", "acme", "--lang", "es"])
    assert status.exit_code == 0, status.output
    assert "Instalada" in status.output
    again = runner.invoke(app, ["crm", "app", "install", "--org", "acme"])
    assert "Nothing to create: the app was already installed." in again.output


async def test_an_install_cut_short_by_failures_is_finished_by_the_next_one_without_duplicates(
    store: UnitOfWorkFactory, fresh: RunningSandbox, app_sessions: CrmAppSessionFactory
) -> None:
    slug = await _connected(store, fresh)
    fresh.sandbox.services.faults.configure(FaultConfig(seed=11, unavailable_rate=0.1))
    failures, finished = 0, False
    for _ in range(60):
        try:
            await install_crm_app(store, app_sessions, slug=slug)
        except CrmError:
            failures += 1
        else:
            finished = True
            break
    fresh.sandbox.services.faults.configure(FaultConfig())

    assert finished
    assert failures > 0, "no attempt was cut short: choose another seed"
    definitions = await _definitions(fresh)
    for table in CRM_APP.tables:
        columns = [name for name, _ in definitions[table.logical_name]["columns"]]
        assert len(columns) == len(set(columns))
        assert {c.logical_name for c in table.columns} <= set(columns)
        assert [key for key, _, _ in definitions[table.logical_name]["keys"]] == [k.logical_name for k in table.keys]
    status = await crm_app_status(store, app_sessions, slug=slug)
    assert status.state is AppState.INSTALLED
    failed = [action for action, _ in _audit(store, slug) if action == "crm.app_install_failed"]
    assert len(failed) == failures


async def test_an_organization_without_a_crm_connection_is_told_to_connect_first(
    store: UnitOfWorkFactory, app_sessions: CrmAppSessionFactory
) -> None:
    create_organization(store, slug="lonely", name="Lonely", seats=1)

    for call in (crm_app_status, install_crm_app):
        with pytest.raises(InvalidRequestError) as refused:
            await call(store, app_sessions, slug="lonely")
        assert refused.value.message_id == "Connect to the CRM first, on the CRM Settings page."
    assert [action for action, _ in _audit(store, "lonely") if action.startswith("crm.app")] == []


async def test_rows_repeating_an_external_id_leave_the_key_failed_reported_and_the_rows_kept(
    store: UnitOfWorkFactory, fresh: RunningSandbox, app_sessions: CrmAppSessionFactory
) -> None:
    slug = await _connected(store, fresh)
    keyless: CrmApp = dataclasses.replace(
        CRM_APP, tables=tuple(dataclasses.replace(t, keys=()) for t in CRM_APP.tables)
    )
    await install_crm_app(store, app_sessions, slug=slug, app=keyless)
    async with _connector(fresh) as crm:
        for record_id in ("1b6f0a52-4c3d-4e2f-8a1b-0c9d8e7f6a51", "1b6f0a52-4c3d-4e2f-8a1b-0c9d8e7f6a52"):
            await crm.writer.create("sbr_inmail", {"subject": "Twice", "sbr_externalid": "sb-dup"}, record_id=record_id)

    done = await install_crm_app(store, app_sessions, slug=slug)

    failed = MissingItem(MissingKind.KEY_NOT_ACTIVE, "sbr_inmail", "sbr_inmail_externalidkey", "Failed")
    assert MissingItem(MissingKind.KEY, "sbr_inmail", "sbr_inmail_externalidkey") in done.created
    assert done.status.state is AppState.OUTDATED
    assert done.status.missing == (failed,)
    again = await install_crm_app(store, app_sessions, slug=slug)
    assert again.created == ()
    assert again.status.missing == (failed,)
    async with _connector(fresh) as crm:
        rows = await crm.client.get_json("sbr_inmails", params={"$select": "sbr_externalid"})
    assert [row["sbr_externalid"] for row in rows["value"]] == ["sb-dup", "sb-dup"]
