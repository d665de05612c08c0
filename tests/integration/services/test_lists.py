"""Auto-saved lists and CRM settings on a real store (SQLite and PostgreSQL), with ``crm_records`` filled directly."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from salesbridge.crm.ports import ColumnInfo, OptionInfo, TableInfo
from salesbridge.errors import InvalidRequestError
from salesbridge.message_ids import Label
from salesbridge.services.connecting import create_organization
from salesbridge.services.crm_settings import (
    CrmSettingsService,
    SettingsChange,
    crm_choices,
    standard_choices,
    won_value_columns_to_import,
)
from salesbridge.services.crm_users import rematch_seats
from salesbridge.services.lists import (
    AutoSaveRulesView,
    add_to_list,
    create_list,
    recompute_auto_saved_lists,
    save_my_rules,
    show_lists,
)
from salesbridge.store.imports import RecordRow
from salesbridge.store.tables import SeatState
from salesbridge.store.uow import UnitOfWorkFactory
from salesbridge.store.workspace import CrmUserValues
from salesbridge.web.localized import label_reader, label_text

ANA = "11111111-0000-0000-0000-000000000001"
BEN = "11111111-0000-0000-0000-000000000002"


def ref(table: str, crm_id: str) -> dict[str, str]:
    return {"id": crm_id, "table": table}


def row(
    table: str,
    crm_id: str,
    *,
    name: str,
    owner: str | None = None,
    parent: str | None = None,
    state: int = 0,
    **data: Any,
) -> RecordRow:
    return RecordRow(crm_id, name, owner, parent, state, {"statecode": state, **data})


def opp(
    crm_id: str, *, owner: str = ANA, state: int = 0, stage: int = 2, account: str = "a1", contact: str | None = "c1"
) -> RecordRow:
    data: dict[str, Any] = {
        "ownerid": ref("systemuser", owner),
        "salesstage": stage,
        "parentaccountid": ref("account", account),
        "customerid": ref("account", account),
    }
    if contact:
        data["parentcontactid"] = ref("contact", contact)
    return row("opportunity", crm_id, name=f"Deal {crm_id}", owner=owner, parent=account, state=state, **data)


class Org:
    def __init__(self, store: UnitOfWorkFactory, slug: str) -> None:
        self.store = store
        self.slug = slug
        self.id = create_organization(store, slug=slug, name=slug.title(), seats=5)

    def seat(self, email: str) -> uuid.UUID:
        with self.store(self.id) as uow:
            user = uow.users.add(email=email, display_name=email.split("@")[0])
            uow.seats.add(user_id=user.id, state=SeatState.ACTIVE, assigned_by="test")
            uow.commit()
            return user.id

    def crm_users(self, *users: tuple[str, str]) -> None:
        with self.store(self.id) as uow:
            uow.crm_users.replace_all(
                CrmUserValues(crm_id, email, email, None, False, False, 0) for crm_id, email in users
            )
            rematch_seats(uow)
            uow.commit()

    def records(self, table: str, *rows: RecordRow) -> None:
        with self.store(self.id) as uow:
            uow.crm_records.upsert_many(table, list(rows), generation=1)
            uow.commit()

    def items(self, email: str) -> dict[str, set[str]]:
        return {view.name: {item.crm_id for item in view.items} for view in show_lists(self.store, self.slug, email)}


@pytest.fixture
def acme(store: UnitOfWorkFactory) -> Org:
    org = Org(store, "acme")
    org.seat("ana@acme.test")
    org.seat("ben@acme.test")
    org.crm_users((ANA, "ana@acme.test"), (BEN, "ben@acme.test"))
    org.records(
        "account",
        row("account", "a1", name="Contoso", owner=BEN),
        row("account", "a2", name="Fabrikam", owner=ANA),
        row("account", "a3", name="Old Co", owner=ANA, state=1),
    )
    org.records(
        "contact",
        row("contact", "c1", name="Carla", parent="a1"),
        row("contact", "c2", name="Stake Holder", parent="a1"),
        row("contact", "c3", name="Fabrikam Person", parent="a2"),
    )
    org.records("lead", row("lead", "l1", name="Lead at Fabrikam", parent="a2"))
    org.records("opportunity", opp("o1"))
    org.records(
        "connection",
        row(
            "connection",
            "x1",
            name=None,
            parent="o1",
            record1id=ref("opportunity", "o1"),
            record2id=ref("contact", "c2"),
        ),
    )
    return org


ACCOUNTS = "My CRM accounts"
LEADS = "My CRM leads and contacts"


def test_lists_are_computed_and_follow_changes(acme: Org) -> None:
    result = recompute_auto_saved_lists(acme.store, acme.id)
    assert (result.added, result.removed) == (3, 0)
    assert acme.items("ana@acme.test") == {ACCOUNTS: {"a1"}, LEADS: {"c1", "c2"}}
    assert acme.items("ben@acme.test") == {ACCOUNTS: set(), LEADS: set()}
    again = recompute_auto_saved_lists(acme.store, acme.id)
    assert (again.added, again.removed) == (0, 0)

    acme.records("opportunity", opp("o1", state=1))  # won
    assert recompute_auto_saved_lists(acme.store, acme.id).removed == 3
    assert acme.items("ana@acme.test") == {ACCOUNTS: set(), LEADS: set()}

    acme.records("opportunity", opp("o1"))
    recompute_auto_saved_lists(acme.store, acme.id)
    acme.records("opportunity", opp("o1", state=2))  # lost
    recompute_auto_saved_lists(acme.store, acme.id)
    assert acme.items("ana@acme.test") == {ACCOUNTS: set(), LEADS: set()}

    acme.records("opportunity", opp("o1", owner=BEN))  # owner changed
    recompute_auto_saved_lists(acme.store, acme.id)
    assert acme.items("ana@acme.test") == {ACCOUNTS: set(), LEADS: set()}
    assert acme.items("ben@acme.test") == {ACCOUNTS: {"a1"}, LEADS: {"c1", "c2"}}


def test_stage_moved_back_leaves_the_pipeline(acme: Org) -> None:
    service = CrmSettingsService(acme.store, sessions=_no_crm)
    choices = standard_choices(())
    saved = service.apply("acme", SettingsChange(stage_threshold="2"), choices, actor="admin@acme.test")
    assert saved.lists is not None
    assert saved.lists.added == 3
    assert saved.settings.stage_label == Label("Propose", is_message_id=True)
    acme.records("opportunity", opp("o1", stage=1))
    recompute_auto_saved_lists(acme.store, acme.id)
    assert acme.items("ana@acme.test") == {ACCOUNTS: set(), LEADS: set()}


def test_own_rules_add_owned_accounts_and_their_people(acme: Org) -> None:
    rules = AutoSaveRulesView(True, True, True, True)
    save_my_rules(acme.store, "acme", "ana@acme.test", rules, actor="ana@acme.test")
    assert acme.items("ana@acme.test") == {ACCOUNTS: {"a1", "a2"}, LEADS: {"c1", "c2", "c3", "l1"}}
    views = show_lists(acme.store, "acme", "ana@acme.test")
    names = {item.crm_id: item.name for view in views for item in view.items}
    assert names["a2"] == "Fabrikam"
    assert names["l1"] == "Lead at Fabrikam"


def test_each_owner_gets_exactly_their_records_when_tables_are_read_once(acme: Org) -> None:
    # Ana owns more accounts than one IN list of ids holds, each with a contact; Ben keeps the default rules.
    # Each table is read once for both, and nothing crosses from one to the other.
    many = [f"a-{index:04d}" for index in range(1_200)]
    acme.records("account", *(row("account", account, name=account, owner=ANA) for account in many))
    acme.records("contact", *(row("contact", f"c-{a}", name=a, parent=a) for a in many))
    acme.records("opportunity", opp("o2", owner=BEN, account="a2", contact="c3"))
    rules = AutoSaveRulesView(False, True, False, True)
    save_my_rules(acme.store, "acme", "ana@acme.test", rules, actor="ana@acme.test")
    ana = acme.items("ana@acme.test")
    assert ana[ACCOUNTS] == {"a2", *many}
    assert ana[LEADS] == {"c3", "l1", *(f"c-{a}" for a in many)}
    assert acme.items("ben@acme.test") == {ACCOUNTS: {"a2"}, LEADS: {"c3"}}


def test_manual_lists_are_untouched(acme: Org) -> None:
    manual = create_list(acme.store, "acme", "ana@acme.test", name="Hand picked", actor="ana@acme.test")
    add_to_list(acme.store, "acme", "ana@acme.test", manual.id, table="account", crm_id="a1", actor="ana")
    add_to_list(acme.store, "acme", "ana@acme.test", manual.id, table="contact", crm_id="c3", actor="ana")
    with pytest.raises(InvalidRequestError):  # only imported records go into a list
        add_to_list(acme.store, "acme", "ana@acme.test", manual.id, table="contact", crm_id="c9", actor="ana")
    recompute_auto_saved_lists(acme.store, acme.id)
    acme.records("opportunity", opp("o1", state=1))
    recompute_auto_saved_lists(acme.store, acme.id)
    assert acme.items("ana@acme.test")["Hand picked"] == {"a1", "c3"}
    with pytest.raises(InvalidRequestError):
        create_list(acme.store, "acme", "ana@acme.test", name="  ", actor="ana")


def test_users_without_sync_or_match_get_nothing(acme: Org) -> None:
    recompute_auto_saved_lists(acme.store, acme.id)
    with acme.store(acme.id) as uow:
        uow.organization.set_crm_sync_all_seats(False)
        ana = uow.users.find_by_email("ana@acme.test")
        assert ana is not None
        seat = uow.seats.find_by_user(ana.id)
        assert seat is not None
        uow.seats.set_crm_sync(seat.id, False)
        uow.commit()
    assert recompute_auto_saved_lists(acme.store, acme.id).removed == 3
    assert acme.items("ana@acme.test") == {ACCOUNTS: set(), LEADS: set()}
    # A seat holder matching no CRM user.
    acme.seat("carol@acme.test")
    acme.records("opportunity", opp("o2", owner="11111111-0000-0000-0000-0000000000cc"))
    recompute_auto_saved_lists(acme.store, acme.id)
    assert acme.items("carol@acme.test") == {ACCOUNTS: set(), LEADS: set()}


def test_auto_save_off_freezes_the_lists(acme: Org) -> None:
    service = CrmSettingsService(acme.store, sessions=_no_crm)
    choices = standard_choices(())
    recompute_auto_saved_lists(acme.store, acme.id)
    service.apply("acme", SettingsChange(auto_save_enabled=False), choices, actor="admin")
    acme.records("opportunity", opp("o1", state=1))
    assert recompute_auto_saved_lists(acme.store, acme.id).removed == 0
    saved = service.apply("acme", SettingsChange(auto_save_enabled=True), choices, actor="admin")
    assert saved.lists is not None
    assert saved.lists.removed == 3


def test_organizations_are_isolated(acme: Org, store: UnitOfWorkFactory) -> None:
    globex = Org(store, "globex")
    globex.seat("ana@globex.test")
    globex.crm_users((ANA, "ana@globex.test"))  # the same CRM ids in another organization's CRM
    recompute_auto_saved_lists(acme.store, acme.id)
    recompute_auto_saved_lists(store, globex.id)
    assert globex.items("ana@globex.test") == {ACCOUNTS: set(), LEADS: set()}
    globex.records("account", row("account", "a1", name="Globex A1", owner=ANA))
    globex.records("opportunity", opp("o1", contact=None))
    recompute_auto_saved_lists(store, globex.id)
    assert globex.items("ana@globex.test") == {ACCOUNTS: {"a1"}, LEADS: set()}
    assert acme.items("ana@acme.test") == {ACCOUNTS: {"a1"}, LEADS: {"c1", "c2"}}
    names = {i.name for v in show_lists(store, "globex", "ana@globex.test") for i in v.items}
    assert names == {"Globex A1"}


def test_settings_validation_errors_are_clear(acme: Org) -> None:
    service = CrmSettingsService(acme.store, sessions=_no_crm)
    choices = standard_choices(("1-Qualify", "3-Propose"))
    cases = [
        (SettingsChange(stage_source="probability"), "The stage source must be one of"),
        (SettingsChange(stage_threshold="9"), "9 is not a stage of salesstage. Choose one of: Qualify (0)"),
        (SettingsChange(stage_source="stepname", stage_threshold="2-Develop"), "Choose one of: 1-Qualify"),
        (SettingsChange(won_value_column="name"), "name is not a money column of opportunity"),
        (SettingsChange(sync_interval_minutes=4), "between 5 and 1440 minutes"),
        (SettingsChange(sync_interval_minutes=1441), "between 5 and 1440 minutes"),
    ]
    for change, text in cases:
        with pytest.raises(InvalidRequestError) as caught:
            service.apply("acme", change, choices, actor="admin", reads=label_reader("es"))
        assert text in str(caught.value)
        if change.stage_threshold == "9":  # the offered labels in the reader's language
            assert "9 no es una fase de salesstage. Elige una de estas: Calificar (0)" in caught.value.localized("es")
    assert not service.settings("acme").is_saved
    saved = service.apply(
        "acme",
        SettingsChange(
            stage_threshold="Proponer",
            won_value_column="estimatedvalue",
            won_value_base_currency=True,
            sync_interval_minutes=60,
        ),
        choices,
        actor="admin",
        reads=label_reader("es"),
    )
    assert saved.settings.stage_threshold == "2"
    assert won_value_columns_to_import(saved.settings) == ("estimatedvalue", "estimatedvalue_base")
    step = service.apply(
        "acme", SettingsChange(stage_source="stepname", stage_threshold="3-propose"), choices, actor="admin"
    )
    assert step.settings.stage_threshold == "3-Propose"
    with acme.store(acme.id) as uow:
        changes = [entry.details for entry in uow.audit.recent() if entry.action == "crm.settings_changed"]
    assert changes[0] == {
        "stage_source": {"from": "salesstage", "to": "stepname"},
        "stage_threshold": {"from": "2", "to": "3-Propose"},
    }
    assert len(changes) == 2


async def test_choices_from_crm_metadata() -> None:
    class Metadata:
        async def table(self, table: str) -> TableInfo:
            raise NotImplementedError

        async def tables(self) -> list[TableInfo]:
            return []

        async def columns(self, table: str) -> list[ColumnInfo]:
            return [
                ColumnInfo("salesstage", "Picklist", "Sales Stage"),
                ColumnInfo("actualvalue", "Money", "Actual Revenue"),
                ColumnInfo("actualvalue_base", "Money", "Actual Revenue (Base)"),
                ColumnInfo("new_wonamount", "Money", "Won amount"),
                ColumnInfo("name", "String", "Topic"),
            ]

        async def options(self, table: str, column: str) -> list[OptionInfo]:
            return [OptionInfo(0, "Qualify"), OptionInfo(1, "Develop"), OptionInfo(5, "Custom stage")]

        async def lookups(self, table: str) -> list[Any]:
            return []

    choices = await crm_choices(Metadata(), ("1-Qualify",))
    labels = [label_text(c.label, "es") for c in choices.stages["salesstage"]]  # type: ignore[index]
    assert labels == ["Calificar", "Desarrollar", "Custom stage"]
    assert [c.value for c in choices.money_columns] == ["actualvalue", "new_wonamount"]
    assert choices.from_crm


def _no_crm(credentials: object) -> Any:
    raise AssertionError("the CRM is not asked in these tests")
