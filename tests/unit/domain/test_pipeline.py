"""The pipeline rule, the won value and auto-save's choices."""

from __future__ import annotations

from typing import Any

import pytest

from salesbridge.domain.pipeline import (
    AutoSaveChoices,
    PipelineRule,
    RecordFacts,
    SavedItem,
    SaveReason,
    auto_saved_items,
    step_number,
    won_value,
    won_value_columns,
)

OWNER = "00000000-0000-0000-0000-0000000000aa"
OTHER = "00000000-0000-0000-0000-0000000000bb"


def ref(table: str, crm_id: str) -> dict[str, str]:
    return {"id": crm_id, "table": table}


def opportunity(crm_id: str, *, owner: str = OWNER, state: int = 0, stage: int | None = 2, **data: Any) -> RecordFacts:
    values: dict[str, Any] = {"statecode": state, "salesstage": stage, **data}
    parent = (values.get("parentaccountid") or values.get("customerid") or {}).get("id")
    return RecordFacts("opportunity", crm_id, owner, parent, values)


def record(
    table: str, crm_id: str, *, owner: str | None = None, parent: str | None = None, state: int = 0
) -> RecordFacts:
    return RecordFacts(table, crm_id, owner, parent, {"statecode": state})


def connection(crm_id: str, opportunity_id: str, contact_id: str, *, state: int = 0) -> RecordFacts:
    data = {
        "statecode": state,
        "record1id": ref("opportunity", opportunity_id),
        "record2id": ref("contact", contact_id),
    }
    return RecordFacts("connection", crm_id, OWNER, opportunity_id, data)


class TestPipelineRule:
    def test_choice_threshold_compares_option_values(self) -> None:
        rule = PipelineRule("salesstage", "2")
        assert not rule.includes({"statecode": 0, "salesstage": 1})
        assert rule.includes({"statecode": 0, "salesstage": 2})
        assert rule.includes({"statecode": 0, "salesstage": 3})

    def test_won_and_lost_are_not_in_the_pipeline(self) -> None:
        rule = PipelineRule("salesstage", "0")
        assert not rule.includes({"statecode": 1, "salesstage": 3})
        assert not rule.includes({"statecode": 2, "salesstage": 3})

    def test_no_stage_value_is_not_past_a_threshold(self) -> None:
        rule = PipelineRule("salesstagecode", "1")
        assert not rule.includes({"statecode": 0})
        assert not rule.includes({"statecode": 0, "salesstagecode": None})

    def test_no_threshold_means_every_open_opportunity(self) -> None:
        rule = PipelineRule("salesstage", None)
        assert rule.includes({"statecode": 0})
        assert not rule.includes({"statecode": 1})

    def test_step_names_compare_by_leading_number(self) -> None:
        rule = PipelineRule("stepname", "3-Propose")
        assert rule.includes({"statecode": 0, "stepname": "3-Propose"})
        assert rule.includes({"statecode": 0, "stepname": "4-Close"})
        assert not rule.includes({"statecode": 0, "stepname": "2-Develop"})
        assert not rule.includes({"statecode": 0, "stepname": ""})
        assert step_number(" 12 - Sign") == 12
        assert step_number("Sign") is None

    def test_step_names_without_numbers_compare_by_text(self) -> None:
        rule = PipelineRule("stepname", "Negotiate")
        assert rule.includes({"statecode": 0, "stepname": "negotiate"})
        assert not rule.includes({"statecode": 0, "stepname": "3-Negotiate"})
        assert not rule.includes({"statecode": 0, "stepname": "Qualify"})

    def test_unknown_source_is_refused(self) -> None:
        with pytest.raises(ValueError, match="unknown stage source"):
            PipelineRule("probability", "2")


class TestWonValue:
    def test_transaction_and_base_currency(self) -> None:
        data = {"actualvalue": 120.5, "actualvalue_base": 100, "estimatedvalue": True}
        assert won_value(data, "actualvalue") == 120.5
        assert won_value(data, "actualvalue", base_currency=True) == 100.0
        assert won_value(data, "estimatedvalue") is None
        assert won_value(data, "budgetamount") is None

    def test_columns_to_import(self) -> None:
        assert won_value_columns("actualvalue", False) == ("actualvalue",)
        assert won_value_columns("new_won", True) == ("new_won", "new_won_base")


ALL_RULES = AutoSaveChoices(True, True, True, True)


def test_accounts_and_people_of_pipeline_opportunities() -> None:
    records = [
        opportunity(
            "o1",
            parentaccountid=ref("account", "a1"),
            customerid=ref("contact", "c1"),
            parentcontactid=ref("contact", "c2"),
            originatingleadid=ref("lead", "l1"),
        ),
        opportunity("o2", parentaccountid=None, customerid=ref("account", "a2")),
        record("account", "a1", owner=OTHER),
        record("account", "a2", owner=OTHER),
        record("contact", "c1"),
        record("contact", "c2"),
        record("contact", "c3"),
        record("lead", "l1"),
        connection("x1", "o1", "c3"),
    ]
    selection = auto_saved_items(OWNER, AutoSaveChoices(), PipelineRule("salesstage", "1"), records)
    reason = SaveReason.ACCOUNTS_OF_OPEN_OPPORTUNITIES
    assert selection.accounts == {SavedItem("account", "a1", reason), SavedItem("account", "a2", reason)}
    people = SaveReason.LEADS_OF_OPEN_OPPORTUNITIES
    assert selection.leads_and_contacts == {
        SavedItem("contact", "c1", people),
        SavedItem("contact", "c2", people),
        SavedItem("contact", "c3", people),
        SavedItem("lead", "l1", people),
    }


@pytest.mark.parametrize(
    "changed",
    [
        opportunity("o1", state=1, parentaccountid=ref("account", "a1"), parentcontactid=ref("contact", "c1")),
        opportunity("o1", state=2, parentaccountid=ref("account", "a1"), parentcontactid=ref("contact", "c1")),
        opportunity("o1", stage=0, parentaccountid=ref("account", "a1"), parentcontactid=ref("contact", "c1")),
        opportunity("o1", owner=OTHER, parentaccountid=ref("account", "a1"), parentcontactid=ref("contact", "c1")),
    ],
    ids=["won", "lost", "stage moved back", "owner changed"],
)
def test_opportunities_leaving_the_pipeline_take_their_records_along(changed: RecordFacts) -> None:
    others = [record("account", "a1"), record("contact", "c1"), connection("x1", "o1", "c1")]
    selection = auto_saved_items(OWNER, AutoSaveChoices(), PipelineRule("salesstage", "1"), [changed, *others])
    assert selection.accounts == frozenset()
    assert selection.leads_and_contacts == frozenset()


def test_inactive_or_missing_records_are_not_saved() -> None:
    records = [
        opportunity(
            "o1",
            parentaccountid=ref("account", "a1"),
            parentcontactid=ref("contact", "c1"),
            originatingleadid=ref("lead", "l-missing"),
        ),
        record("account", "a1", state=1),
        record("contact", "c1", state=1),
        record("contact", "c2"),
        connection("x1", "o1", "c2", state=1),
    ]
    selection = auto_saved_items(OWNER, ALL_RULES, PipelineRule("salesstage", None), records)
    assert selection.accounts == frozenset()
    assert selection.leads_and_contacts == frozenset()


def test_ownership_rules() -> None:
    records = [
        record("account", "a1", owner=OWNER),
        record("account", "a2", owner=OWNER, state=1),
        record("account", "a3", owner=OTHER),
        record("contact", "c1", parent="a1"),
        record("contact", "c2", parent="a2"),
        record("contact", "c3", parent="a3"),
        record("lead", "l1", parent="a1"),
        record("lead", "l2", parent="a1", state=1),
    ]
    off = auto_saved_items(OWNER, AutoSaveChoices(), PipelineRule("salesstage", None), records)
    assert off.accounts == frozenset()
    assert off.leads_and_contacts == frozenset()
    on = auto_saved_items(OWNER, ALL_RULES, PipelineRule("salesstage", None), records)
    assert on.accounts == {SavedItem("account", "a1", SaveReason.ACCOUNTS_OWNED)}
    assert on.leads_and_contacts == {
        SavedItem("contact", "c1", SaveReason.LEADS_OF_OWNED_ACCOUNTS),
        SavedItem("lead", "l1", SaveReason.LEADS_OF_OWNED_ACCOUNTS),
    }


def test_opportunity_rule_is_the_reason_when_both_apply() -> None:
    records = [
        opportunity("o1", parentaccountid=ref("account", "a1"), parentcontactid=ref("contact", "c1")),
        record("account", "a1", owner=OWNER),
        record("contact", "c1", parent="a1"),
    ]
    selection = auto_saved_items(OWNER, ALL_RULES, PipelineRule("salesstage", None), records)
    assert selection.accounts == {SavedItem("account", "a1", SaveReason.ACCOUNTS_OF_OPEN_OPPORTUNITIES)}
    assert selection.leads_and_contacts == {SavedItem("contact", "c1", SaveReason.LEADS_OF_OPEN_OPPORTUNITIES)}


def test_rules_switched_off_save_nothing_from_opportunities() -> None:
    records = [
        opportunity("o1", parentaccountid=ref("account", "a1"), parentcontactid=ref("contact", "c1")),
        record("account", "a1"),
        record("contact", "c1"),
    ]
    choices = AutoSaveChoices(False, False, False, False)
    selection = auto_saved_items(OWNER, choices, PipelineRule("salesstage", None), records)
    assert selection.accounts == frozenset()
    assert selection.leads_and_contacts == frozenset()


def test_owner_ids_compare_ignoring_case() -> None:
    records = [opportunity("o1", owner=OWNER.upper(), parentaccountid=ref("account", "A1")), record("account", "a1")]
    selection = auto_saved_items(OWNER, AutoSaveChoices(), PipelineRule("salesstage", None), records)
    assert {item.crm_id for item in selection.accounts} == {"a1"}
