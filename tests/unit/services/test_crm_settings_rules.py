"""The rules of CRM settings, on the in-memory store and a CRM answering from memory: choosing where the pipeline
starts, the won value's column, the sync interval, what is offered when the CRM cannot be asked, and what a save
audits and recomputes. (The same use cases against SQLite and PostgreSQL: tests/integration/services/test_lists.py;
against the sandbox: tests/e2e/test_crm_sync.py.)"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from tests.fakes.store import FakeClock, FakeStore

from salesbridge.crm.ports import ColumnInfo, OptionInfo
from salesbridge.domain.pipeline import StageSource
from salesbridge.domain.workspace import CrmCredentials
from salesbridge.errors import CrmError, InvalidRequestError, StageNotOfferedError, UnknownOrganizationError
from salesbridge.message_ids import Label
from salesbridge.services.crm_settings import (
    CrmReadProblem,
    CrmSettingsService,
    SettingsChange,
    SettingsChoices,
    standard_choices,
    won_value_columns_to_import,
)
from salesbridge.web.localized import label_reader, label_text

ADMIN = "admin@acme.test"


class Metadata:
    """Opportunity's columns and sales stages as a CRM with a custom stage and a custom money column has them."""

    def __init__(self, *, fails: bool = False) -> None:
        self.fails = fails

    async def columns(self, table: str) -> list[ColumnInfo]:
        if self.fails:
            raise CrmError("The CRM is down.", status=503)
        return [
            ColumnInfo("salesstage", "Picklist", "Sales Stage"),
            ColumnInfo("actualvalue", "Money", "Actual Revenue"),
            ColumnInfo("actualvalue_base", "Money", "Actual Revenue (Base)"),
            ColumnInfo("new_wonamount", "Money", "Won amount"),
            ColumnInfo("name", "String", "Topic"),
        ]

    async def options(self, table: str, column: str) -> list[OptionInfo]:
        return [OptionInfo(0, "Qualify"), OptionInfo(1, "Develop"), OptionInfo(7, "Negotiate")]


class Session:
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class Sessions:
    """Opens sessions on ``metadata`` and remembers them."""

    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata
        self.opened: list[Session] = []

    def __call__(self, credentials: CrmCredentials) -> Any:
        session = Session(self.metadata)
        self.opened.append(session)
        return session


@pytest.fixture
def store() -> FakeStore:
    return FakeStore(clock=FakeClock())


@pytest.fixture
def acme(store: FakeStore) -> uuid.UUID:
    return store.add_organization("acme")


def service(store: FakeStore, metadata: Metadata | None = None) -> CrmSettingsService:
    return CrmSettingsService(store, Sessions(metadata or Metadata()))


STANDARD = standard_choices(("1-Qualify", "3-Propose"))


def test_the_defaults_hold_until_an_administrator_saves(store: FakeStore, acme: uuid.UUID) -> None:
    settings = service(store).settings("acme", choices=STANDARD)

    assert (settings.stage_source, settings.stage_threshold, settings.won_value_column) == (
        StageSource.SALES_STAGE,
        None,
        "actualvalue",
    )
    assert (settings.auto_save_enabled, settings.sync_interval_minutes, settings.is_saved) == (True, 15, False)
    assert settings.stage_source_label == "Sales stage"  # a message id: the console and the CLI translate it
    assert store.writing_units_opened == 1  # creating the organization; reading opened none


def test_the_pipeline_stage_is_chosen_by_value_or_label_audited_and_recomputes_the_lists(
    store: FakeStore, acme: uuid.UUID
) -> None:
    settings = service(store)

    saved = settings.apply("acme", SettingsChange(stage_threshold="propose"), STANDARD, actor=ADMIN)
    again = settings.apply("acme", SettingsChange(stage_threshold="2"), STANDARD, actor=ADMIN)

    assert (saved.settings.stage_threshold, saved.settings.stage_label, saved.settings.is_saved) == (
        "2",
        Label("Propose", is_message_id=True),  # a message id: the console, the API and the CLI translate it
        True,
    )
    assert saved.lists is not None  # the pipeline changed: the lists were recomputed
    assert again.lists is None
    assert store.audit_actions(acme) == ["crm.settings_changed"]  # the same value again records nothing
    assert store.tables(acme).audit[0].details == {"stage_threshold": {"from": None, "to": "2"}}


def test_another_stage_source_drops_a_threshold_that_means_nothing_there(store: FakeStore, acme: uuid.UUID) -> None:
    settings = service(store)
    settings.apply("acme", SettingsChange(stage_threshold="2"), STANDARD, actor=ADMIN)

    code = settings.apply("acme", SettingsChange(stage_source="salesstagecode"), STANDARD, actor=ADMIN)
    step = settings.apply(
        "acme", SettingsChange(stage_source="stepname", stage_threshold="3-propose"), STANDARD, actor=ADMIN
    )
    every = settings.apply("acme", SettingsChange(clear_stage=True), STANDARD, actor=ADMIN)

    assert (code.settings.stage_source, code.settings.stage_threshold) == (StageSource.PROCESS_CODE, None)
    assert (step.settings.stage_source, step.settings.stage_threshold) == (StageSource.PROCESS_STEP, "3-Propose")
    assert every.settings.stage_threshold is None


def test_any_step_name_may_be_chosen_before_opportunities_are_imported(store: FakeStore, acme: uuid.UUID) -> None:
    saved = service(store).apply(
        "acme",
        SettingsChange(stage_source="stepname", stage_threshold=" 2-Develop "),
        standard_choices(()),
        actor=ADMIN,
    )

    assert saved.settings.stage_threshold == "2-Develop"


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        (SettingsChange(stage_source="probability"), "The stage source must be one of"),
        (SettingsChange(stage_threshold="9"), "9 is not a stage of salesstage. Choose one of: Qualify (0)"),
        (SettingsChange(stage_threshold=" "), "Choose the stage at which an opportunity enters your pipeline."),
        (SettingsChange(stage_source="stepname", stage_threshold="2-Develop"), "Choose one of: 1-Qualify"),
        (SettingsChange(won_value_column="name"), "name is not a money column of opportunity"),
        (SettingsChange(won_value_column="actualvalue_base"), "Choose one of: actualvalue, budgetamount"),
        (SettingsChange(sync_interval_minutes=4), "between 5 and 1440 minutes"),
        (SettingsChange(sync_interval_minutes=1441), "between 5 and 1440 minutes"),
    ],
)
def test_a_value_not_offered_is_refused_and_nothing_is_saved(
    store: FakeStore, acme: uuid.UUID, change: SettingsChange, refusal: str
) -> None:
    settings = service(store)

    with pytest.raises(InvalidRequestError, match=re.escape(refusal)):
        settings.apply("acme", change, STANDARD, actor=ADMIN)

    assert not settings.settings("acme").is_saved
    assert store.audit_actions(acme) == []


def test_a_stage_is_typed_by_its_label_as_the_reader_reads_it_and_refused_with_the_labels_they_read(
    store: FakeStore, acme: uuid.UUID
) -> None:
    settings = service(store)

    with pytest.raises(StageNotOfferedError) as english:
        settings.apply("acme", SettingsChange(stage_threshold="Proponer"), STANDARD, actor=ADMIN)
    with pytest.raises(StageNotOfferedError) as spanish:
        settings.apply(
            "acme", SettingsChange(stage_threshold="Propose"), STANDARD, actor=ADMIN, reads=label_reader("es")
        )
    saved = settings.apply(
        "acme", SettingsChange(stage_threshold=" proponer "), STANDARD, actor=ADMIN, reads=label_reader("es")
    )

    assert str(english.value) == (
        "Proponer is not a stage of salesstage. Choose one of: Qualify (0), Develop (1), Propose (2), Close (3)."
    )
    assert spanish.value.localized("es").startswith("Propose")  # the typed text, as typed
    assert spanish.value.localized("es").endswith(": Calificar (0), Desarrollar (1), Proponer (2), Cerrar (3).")
    assert spanish.value.offered[2] == (Label("Propose", is_message_id=True), "2")
    assert saved.settings.stage_threshold == "2"
    assert saved.settings.stage_label is not None
    assert label_text(saved.settings.stage_label, "es") == "Proponer"


def test_the_won_value_column_is_a_money_column_of_the_crm_in_any_case(store: FakeStore, acme: uuid.UUID) -> None:
    saved = service(store).apply(
        "acme",
        SettingsChange(won_value_column=" EstimatedValue ", won_value_base_currency=True, sync_interval_minutes=60),
        STANDARD,
        actor=ADMIN,
    )

    assert (saved.settings.won_value_column, saved.settings.sync_interval_minutes) == ("estimatedvalue", 60)
    assert won_value_columns_to_import(saved.settings) == ("estimatedvalue", "estimatedvalue_base")
    assert saved.lists is None  # not a pipeline change
    with store(acme) as uow:  # what the next import reads
        assert uow.crm_settings.import_settings().won_value_column == "estimatedvalue"


async def test_a_connected_organization_is_offered_its_crms_own_stages_and_money_columns(
    store: FakeStore, acme: uuid.UUID
) -> None:
    store.connect(acme)
    store.tables(acme).crm_records[("opportunity", "o1")] = {"name": "Deal", "stepname": "2-Develop"}
    sessions = Sessions(Metadata())
    settings = CrmSettingsService(store, sessions)

    choices = await settings.choices("acme")
    saved = await settings.update(
        "acme", SettingsChange(stage_threshold="Negotiate"), actor=ADMIN, reads=label_reader("es")
    )
    typed = await settings.update(
        "acme", SettingsChange(stage_threshold="desarrollar"), actor=ADMIN, reads=label_reader("es")
    )

    assert choices.from_crm
    assert choices.problem is None
    assert [(c.value, c.label) for c in choices.stages[StageSource.SALES_STAGE]] == [
        ("0", Label("Qualify", is_message_id=True)),  # a standard label: a message id, shown in the reader's language
        ("1", Label("Develop", is_message_id=True)),
        ("7", Label("Negotiate")),  # the CRM's own, as it is
    ]
    assert [label_text(c.label, "es") for c in choices.stages[StageSource.SALES_STAGE]] == [
        "Calificar",
        "Desarrollar",
        "Negotiate",
    ]
    assert typed.settings.stage_threshold == "1"
    assert [c.value for c in choices.stages[StageSource.PROCESS_STEP]] == ["2-Develop"]
    assert [c.value for c in choices.money_columns] == ["actualvalue", "new_wonamount"]
    assert saved.settings.stage_threshold == "7"
    assert all(session.closed for session in sessions.opened)


async def test_the_standard_choices_are_offered_when_the_crm_fails_or_is_not_connected(
    store: FakeStore, acme: uuid.UUID
) -> None:
    not_connected = await service(store).choices("acme")
    store.connect(acme)
    failing = await service(store, Metadata(fails=True)).choices("acme")

    assert (not_connected.from_crm, not_connected.problem) == (False, None)
    assert (failing.from_crm, failing.problem) == (False, CrmReadProblem.FAILED)
    assert isinstance(failing, SettingsChoices)
    assert [c.value for c in failing.money_columns] == ["actualvalue", "estimatedvalue", "budgetamount"]


def test_an_unknown_organization_is_refused(store: FakeStore) -> None:
    with pytest.raises(UnknownOrganizationError):
        service(store).settings("globex")
