"""The rules of saved lists, on the in-memory store: what auto-save keeps in a seller's two lists (and when it keeps
nothing), a seller's own lists (create, fill only with imported records, rename, delete) and every refusal. (The
same use cases against SQLite and PostgreSQL: tests/integration/services/test_lists.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from tests.fakes.store import FakeClock, FakeStore

from salesbridge.crm.ports import CrmRecord
from salesbridge.domain.lists import ListKind
from salesbridge.domain.pipeline import StageSource
from salesbridge.domain.workspace import SeatState
from salesbridge.errors import InvalidRequestError, RowNotFoundError, UnknownOrganizationError
from salesbridge.services.crm_users import refresh_crm_users_from_import, rematch_seats
from salesbridge.services.lists import (
    MAX_LIST_NAME,
    AutoSaveRulesView,
    add_to_list,
    create_list,
    delete_list,
    find_records,
    my_rules,
    recompute_auto_saved_lists,
    remove_from_list,
    rename_list,
    save_my_rules,
    show_lists,
)

ANA_CRM = "00000000-0000-0000-0000-0000000000a1"
ANA = "ana@acme.test"
BEN = "ben@acme.test"
ACCOUNTS = "My CRM accounts"
LEADS = "My CRM leads and contacts"


def ref(table: str, crm_id: str) -> dict[str, str]:
    return {"id": crm_id, "table": table}


def put(store: FakeStore, organization_id: uuid.UUID, table: str, crm_id: str, **data: Any) -> None:
    """An imported CRM record (active unless ``statecode`` says otherwise)."""
    store.tables(organization_id).crm_records[(table, crm_id)] = {"statecode": 0, **data}


@pytest.fixture
def store() -> FakeStore:
    return FakeStore(clock=FakeClock())


@pytest.fixture
def acme(store: FakeStore) -> uuid.UUID:
    """Ana (matched to the CRM user ANA_CRM) owns an opportunity at stage 2 on Contoso, naming Carla; she also owns
    Fabrikam, where Lena is a lead. Ben has a seat and no CRM user."""
    acme = store.add_organization("acme")
    with store(acme) as uow:
        refresh_crm_users_from_import(
            uow, [CrmRecord("systemuser", ANA_CRM, {"fullname": "Ana", "internalemailaddress": ANA})]
        )
        for email in (ANA, BEN):
            user = uow.users.add(email=email, display_name=email.split("@")[0].title())
            uow.seats.add(user_id=user.id, state=SeatState.ACTIVE, assigned_by="test")
        rematch_seats(uow)
        uow.commit()
    owner = ref("systemuser", ANA_CRM)
    put(store, acme, "account", "a1", name="Contoso", ownerid=ref("systemuser", "someone-else"))
    put(store, acme, "account", "a2", name="Fabrikam", ownerid=owner)
    put(store, acme, "contact", "c1", fullname="Carla", parentcustomerid=ref("account", "a1"))
    put(store, acme, "lead", "l1", fullname="Lena", parentaccountid=ref("account", "a2"))
    put(
        store,
        acme,
        "opportunity",
        "o1",
        name="Deal",
        ownerid=owner,
        salesstage=2,
        parentaccountid=ref("account", "a1"),
        parentcontactid=ref("contact", "c1"),
    )
    return acme


def items(store: FakeStore, email: str) -> dict[str, set[str]]:
    return {view.name: {item.crm_id for item in view.items} for view in show_lists(store, "acme", email)}


def own_list(store: FakeStore, name: str = "Madrid trip", email: str = ANA) -> uuid.UUID:
    return create_list(store, "acme", email, name=name, actor=email).id


# ------------------------------------------------------------------------------------------------- auto-save


def test_auto_save_keeps_the_accounts_and_people_of_a_sellers_open_opportunities(
    store: FakeStore, acme: uuid.UUID
) -> None:
    result = recompute_auto_saved_lists(store, acme)

    assert (result.added, result.removed) == (2, 0)
    assert items(store, ANA) == {ACCOUNTS: {"a1"}, LEADS: {"c1"}}
    views = show_lists(store, "acme", ANA)
    assert [view.kind for view in views] == [ListKind.CRM_ACCOUNTS, ListKind.CRM_LEADS]
    # Message ids, translated by the console and the CLI.
    assert [view.name for view in views] == [ACCOUNTS, LEADS]
    assert views[0].items[0].name == "Contoso"
    assert views[0].items[0].reason_label == "Account of an open opportunity of yours"
    assert recompute_auto_saved_lists(store, acme).added == 0  # idempotent


def test_a_won_opportunity_leaves_the_lists_and_a_seller_without_a_crm_user_gets_none(
    store: FakeStore, acme: uuid.UUID
) -> None:
    recompute_auto_saved_lists(store, acme)
    put(store, acme, "opportunity", "o1", name="Deal", ownerid=ref("systemuser", ANA_CRM), salesstage=2, statecode=1)

    assert recompute_auto_saved_lists(store, acme).removed == 2
    assert items(store, ANA) == {ACCOUNTS: set(), LEADS: set()}
    assert items(store, BEN) == {ACCOUNTS: set(), LEADS: set()}


def test_a_sellers_own_rules_add_what_they_own_and_are_audited_once(store: FakeStore, acme: uuid.UUID) -> None:
    assert my_rules(store, "acme", ANA) == AutoSaveRulesView(True, False, True, False)  # the defaults
    rules = AutoSaveRulesView(True, True, True, True)

    save_my_rules(store, "acme", ANA, rules, actor=ANA)
    save_my_rules(store, "acme", ANA, rules, actor=ANA)  # the same again: nothing changes

    assert my_rules(store, "acme", ANA) == rules
    assert items(store, ANA) == {ACCOUNTS: {"a1", "a2"}, LEADS: {"c1", "l1"}}
    assert store.audit_actions(acme) == ["lists.rules_changed"]


def test_with_auto_save_off_the_lists_keep_what_they_hold(store: FakeStore, acme: uuid.UUID) -> None:
    recompute_auto_saved_lists(store, acme)
    with store(acme) as uow:
        current = uow.crm_settings.get()
        uow.crm_settings.save(
            stage_source=StageSource.SALES_STAGE,
            stage_threshold=None,
            won_value_column=current.won_value_column,
            won_value_base_currency=False,
            auto_save_enabled=False,
            sync_interval_minutes=15,
        )
        uow.commit()
    put(store, acme, "opportunity", "o1", name="Deal", ownerid=ref("systemuser", ANA_CRM), statecode=1)

    assert recompute_auto_saved_lists(store, acme).removed == 0
    assert items(store, ANA) == {ACCOUNTS: {"a1"}, LEADS: {"c1"}}


def test_showing_lists_reads_only(store: FakeStore, acme: uuid.UUID) -> None:
    writing = store.writing_units_opened

    show_lists(store, "acme", ANA)  # the system lists are shown (empty) before auto-save made them
    my_rules(store, "acme", ANA)
    find_records(store, "acme", "fab")

    assert store.writing_units_opened == writing


# ------------------------------------------------------------------------------------------------ own lists


def test_an_own_list_is_created_filled_with_imported_records_renamed_and_deleted(
    store: FakeStore, acme: uuid.UUID
) -> None:
    created = create_list(store, "acme", ANA, name="  Madrid trip ", actor=ANA)
    assert (created.name, created.kind, created.items) == ("Madrid trip", ListKind.MANUAL, ())

    [match] = find_records(store, "acme", "FABR")
    assert (match.table, match.crm_id, match.name) == ("account", "a2", "Fabrikam")
    assert add_to_list(store, "acme", ANA, created.id, table="account", crm_id="A2", actor=ANA)
    assert not add_to_list(store, "acme", ANA, created.id, table="account", crm_id="a2", actor=ANA)  # already in
    assert add_to_list(store, "acme", ANA, created.id, table="lead", crm_id="l1", actor=ANA)
    assert remove_from_list(store, "acme", ANA, created.id, table="lead", crm_id="l1", actor=ANA)
    assert not remove_from_list(store, "acme", ANA, created.id, table="lead", crm_id="l1", actor=ANA)

    renamed = rename_list(store, "acme", ANA, created.id, name="Madrid 2027", actor=ANA)
    rename_list(store, "acme", ANA, created.id, name="Madrid 2027 ", actor=ANA)  # unchanged: not audited
    assert renamed.name == "Madrid 2027"
    assert [(item.table, item.crm_id, item.name, item.reason_label) for item in renamed.items] == [
        ("account", "a2", "Fabrikam", None)
    ]
    recompute_auto_saved_lists(store, acme)  # auto-save never touches it
    assert items(store, ANA)["Madrid 2027"] == {"a2"}

    delete_list(store, "acme", ANA, created.id, actor=ANA)

    assert "Madrid 2027" not in items(store, ANA)
    assert store.audit_actions(acme) == [
        "list.created",
        "list.item_added",
        "list.item_added",
        "list.item_removed",
        "list.renamed",
        "list.deleted",
    ]
    assert store.tables(acme).audit[-1].details["items"] == 1


def test_only_imported_accounts_contacts_and_leads_go_into_an_own_list(store: FakeStore, acme: uuid.UUID) -> None:
    list_id = own_list(store)

    for table, crm_id in (("account", "a9"), ("opportunity", "o1"), ("contact", "a1")):
        with pytest.raises(InvalidRequestError, match="No imported CRM account, contact or lead"):
            add_to_list(store, "acme", ANA, list_id, table=table, crm_id=crm_id, actor=ANA)

    assert items(store, ANA)["Madrid trip"] == set()
    assert store.audit_actions(acme) == ["list.created"]


@pytest.mark.parametrize("name", ["", "   ", "x" * (MAX_LIST_NAME + 1)])
def test_a_list_name_must_have_1_to_200_characters(store: FakeStore, acme: uuid.UUID, name: str) -> None:
    list_id = own_list(store)
    opened = store.units_opened

    with pytest.raises(InvalidRequestError) as refused:
        create_list(store, "acme", ANA, name=name, actor=ANA)
    with pytest.raises(InvalidRequestError):
        rename_list(store, "acme", ANA, list_id, name=name, actor=ANA)

    assert refused.value.localized("es") == "Ponle a la lista un nombre de 1 a 200 caracteres."
    assert store.units_opened == opened  # refused before the store is asked
    assert create_list(store, "acme", ANA, name="x" * MAX_LIST_NAME, actor=ANA).name == "x" * MAX_LIST_NAME


def test_auto_saved_lists_cannot_be_changed_by_hand(store: FakeStore, acme: uuid.UUID) -> None:
    recompute_auto_saved_lists(store, acme)
    system = show_lists(store, "acme", ANA)[0].id
    changes: list[Callable[[], object]] = [
        lambda: add_to_list(store, "acme", ANA, system, table="account", crm_id="a2", actor=ANA),
        lambda: remove_from_list(store, "acme", ANA, system, table="account", crm_id="a1", actor=ANA),
        lambda: rename_list(store, "acme", ANA, system, name="Mine", actor=ANA),
        lambda: delete_list(store, "acme", ANA, system, actor=ANA),
    ]

    for change in changes:
        with pytest.raises(InvalidRequestError, match="Auto-save keeps this list"):
            change()

    assert items(store, ANA) == {ACCOUNTS: {"a1"}, LEADS: {"c1"}}
    assert store.audit_actions(acme) == []


def test_another_persons_list_is_not_found(store: FakeStore, acme: uuid.UUID) -> None:
    anas = own_list(store)

    with pytest.raises(RowNotFoundError):
        rename_list(store, "acme", BEN, anas, name="Mine", actor=BEN)
    with pytest.raises(RowNotFoundError):
        delete_list(store, "acme", BEN, anas, actor=BEN)
    with pytest.raises(RowNotFoundError):
        delete_list(store, "acme", ANA, uuid.uuid4(), actor=ANA)
    with pytest.raises(RowNotFoundError):
        show_lists(store, "acme", "nobody@acme.test")
    with pytest.raises(UnknownOrganizationError):
        show_lists(store, "globex", ANA)

    assert items(store, ANA)["Madrid trip"] == set()


def test_searching_needs_two_characters_and_asks_nothing_before(store: FakeStore, acme: uuid.UUID) -> None:
    opened = store.units_opened

    assert find_records(store, "acme", " f ") == []

    assert store.units_opened == opened
    assert [match.name for match in find_records(store, "acme", "a")] == []
    assert [(match.table, match.name) for match in find_records(store, "acme", "LEN")] == [("lead", "Lena")]
