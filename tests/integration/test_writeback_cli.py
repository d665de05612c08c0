"""``salesbridge writeback settings|status|retry|backfill|drain`` end to end: the real CLI on SQLite and
PostgreSQL, in English and Spanish."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from salesbridge.bootstrap import Workspace, open_workspace
from salesbridge.cli import app
from salesbridge.domain.people import Person
from salesbridge.domain.writeback import (
    ActivityDraft,
    DataItem,
    DeliveryState,
    Direction,
    FailureOutcome,
    Regarding,
    WritebackSettings,
)
from salesbridge.services.activities import list_activities, log_activity
from salesbridge.settings import Settings
from salesbridge.store.uow import utc_now


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "credential.key"


@pytest.fixture
def cli(database_url: str, key_file: Path) -> CliRunner:
    runner = CliRunner(
        env={
            "SALESBRIDGE_DATABASE_URL": database_url,
            "SALESBRIDGE_CREDENTIAL_KEY": None,
            "SALESBRIDGE_CREDENTIAL_KEY_FILE": str(key_file),
            "COLUMNS": "300",
        }
    )
    created = runner.invoke(app, ["org", "create", "acme"])
    assert created.exit_code == 0, created.output
    return runner


@pytest.fixture
def workspace(cli: CliRunner, database_url: str, key_file: Path) -> Iterator[Workspace]:
    opened = open_workspace(Settings(database_url=database_url, credential_key_file=key_file))
    yield opened
    opened.close()


def _acme(workspace: Workspace) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """acme's id, a seller's and a person's."""
    organization_id = workspace.store.organization_id("acme")
    assert organization_id is not None
    with workspace.store(organization_id) as uow:
        seller = uow.users.add(email="ana@acme.test", display_name="Ana Seller").id
        uow.people.upsert_many([Person(external_id="p1", first_name="Pat", last_name="Lee")])
        person = uow.people.get_by_external_id("p1")
        uow.commit()
    assert person is not None
    assert person.id is not None
    return organization_id, seller, person.id


def _log(
    workspace: Workspace, ids: tuple[uuid.UUID, uuid.UUID, uuid.UUID], client_id: str, item: DataItem
) -> uuid.UUID:
    organization_id, seller, person = ids
    draft = ActivityDraft(
        client_id=client_id,
        item=item,
        person_id=person,
        company_id=None,
        subject=None,
        body="Spoke about pricing",
        direction=Direction.OUTGOING,
        occurred_at=datetime(2026, 6, 1, 12, 0, tzinfo=UTC),
    )
    return log_activity(workspace.store, organization_id, seller, draft, clock=utc_now)[0].id


def _run(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(app, ["writeback", *args])


def test_settings_are_shown_and_changed_and_turning_on_needs_a_connected_crm(cli: CliRunner) -> None:
    shown = _run(cli, "settings", "show", "--org", "acme", "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == {"enabled": False, "items": "all"}

    chosen = _run(cli, "settings", "set", "--org", "acme", "--items", "note, InMail", "--json")
    assert chosen.exit_code == 0, chosen.output
    assert json.loads(chosen.output) == {"enabled": False, "items": ["inmail", "note"]}

    refused = _run(cli, "settings", "set", "--org", "acme", "--enable", "--lang", "es")
    assert refused.exit_code != 0
    assert "Conecta primero el CRM" in refused.output
    nothing = _run(cli, "settings", "set", "--org", "acme")
    assert nothing.exit_code != 0
    assert "--enable" in nothing.output
    unknown = _run(cli, "settings", "set", "--org", "acme", "--items", "fax")
    assert unknown.exit_code != 0
    assert "fax" in unknown.output
    assert _run(cli, "settings", "show", "--org", "nobody").exit_code != 0

    text = _run(cli, "settings", "show", "--org", "acme", "--lang", "es")
    assert "No" in text.output
    assert "InMail, Notas" in text.output


def test_status_backfill_retry_and_drain(cli: CliRunner, workspace: Workspace) -> None:
    ids = _acme(workspace)
    organization_id = ids[0]
    note = _log(workspace, ids, "n", DataItem.NOTE)
    _log(workspace, ids, "c", DataItem.CALL)
    assert json.loads(_run(cli, "status", "--org", "acme", "--json").output)["totals"]["not_written_back"] == 2

    off = _run(cli, "backfill", "--org", "acme", "--since", "2026-01-01")
    assert off.exit_code != 0
    assert "enable it first" in off.output
    assert _run(cli, "backfill", "--org", "acme", "--since", "last week").exit_code != 0
    with workspace.store(organization_id) as uow:  # as if the CRM app were installed and writeback turned on
        uow.writeback_settings.set(WritebackSettings(enabled=True, items=frozenset({DataItem.NOTE})), actor="t")
        uow.commit()
    queued = _run(cli, "backfill", "--org", "acme", "--since", "2026-06-01T13:00:00+02:00")
    assert queued.exit_code == 0, queued.output
    assert "1." in queued.output
    states = {a.id: a.delivery.state for a in list_activities(workspace.store, organization_id)}
    assert states[note] is DeliveryState.QUEUED

    with workspace.store(organization_id) as uow:
        parked = FailureOutcome(DeliveryState.PARKED, None)
        uow.activities.mark_failed(note, outcome=parked, error_code="0x80040217", error_message="Contact missing.")
        uow.commit()
    status = _run(cli, "status", "--org", "acme", "--lang", "es")
    assert status.exit_code == 0, status.output
    assert "Ana Seller" in status.output
    assert "Contact missing." in status.output
    as_json = json.loads(_run(cli, "status", "--org", "acme", "--json").output)
    assert as_json["problems"][0]["error_code"] == "0x80040217"
    assert as_json["by_seller"][0]["name"] == "Ana Seller"

    retried = _run(cli, "retry", "--org", "acme", "--activity", str(note))
    assert retried.exit_code == 0, retried.output
    assert "1." in retried.output
    assert _run(cli, "retry", "--org", "acme", "--activity", "not-an-id").exit_code != 0

    drained = _run(cli, "drain", "--org", "acme", "--json")  # not connected: nothing is taken
    assert drained.exit_code == 0, drained.output
    assert json.loads(drained.output)["connected"] is False
    assert list_activities(workspace.store, organization_id, states=[DeliveryState.QUEUED])[0].id == note


def test_status_on_a_narrow_terminal_shows_a_parked_activitys_id_whole(
    cli: CliRunner, workspace: Workspace, database_url: str, key_file: Path
) -> None:
    """Found by QA: an 80-column terminal cut the id ("99631500-ef5e-470b-ba07…"), which retry --activity needs."""
    ids = _acme(workspace)
    note = _log(workspace, ids, "n", DataItem.NOTE)
    with workspace.store(ids[0]) as uow:
        parked = FailureOutcome(DeliveryState.PARKED, None)
        uow.activities.mark_failed(note, outcome=parked, error_code="0x80044331", error_message="Too long " * 20)
        uow.commit()
    narrow = CliRunner(
        env={
            "SALESBRIDGE_DATABASE_URL": database_url,
            "SALESBRIDGE_CREDENTIAL_KEY": None,
            "SALESBRIDGE_CREDENTIAL_KEY_FILE": str(key_file),
            "COLUMNS": "80",
        }
    )
    status = narrow.invoke(app, ["writeback", "status", "--org", "acme"])
    assert status.exit_code == 0, status.output
    assert max(len(line) for line in status.output.splitlines()) <= 80
    assert str(note) in status.output


def test_backfill_include_delivered_writes_delivered_activity_again(cli: CliRunner, workspace: Workspace) -> None:
    ids = _acme(workspace)
    note = _log(workspace, ids, "n", DataItem.NOTE)
    with workspace.store(ids[0]) as uow:
        uow.writeback_settings.set(WritebackSettings(enabled=True), actor="t")
        uow.activities.mark_delivered({note: (1, Regarding("contact", str(uuid.uuid4())))}, now=utc_now())
        uow.commit()
    assert "0." in _run(cli, "backfill", "--org", "acme", "--since", "2026-01-01").output
    again = _run(cli, "backfill", "--org", "acme", "--since", "2026-01-01", "--include-delivered")
    assert again.exit_code == 0, again.output
    assert "1." in again.output
    (queued,) = list_activities(workspace.store, ids[0], states=[DeliveryState.QUEUED])
    assert queued.id == note
