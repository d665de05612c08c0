"""What the reports count (salesbridge.domain.reports): weeks, CRM dates, base-currency values, and which
opportunities count as influenced pipeline or won revenue."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from salesbridge.domain.pipeline import PipelineRule
from salesbridge.domain.reports import (
    OpportunityRecord,
    Touch,
    base_currency_value,
    crm_moment,
    influenced_opportunities,
    match_rate,
    named_records,
    report_facts,
    touched_records,
    week_start,
)

ALPINE = "aaaaaaaa-0000-4000-8000-000000000001"
ANA = "aaaaaaaa-0000-4000-8000-000000000002"
LEAD = "aaaaaaaa-0000-4000-8000-000000000003"
EVERY_OPEN = PipelineRule(stage_source="salesstagecode")


def _at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T10:00:00+00:00")


def _opportunity(crm_id: str, **data: Any) -> OpportunityRecord:
    return OpportunityRecord(crm_id=crm_id, name=crm_id, data={"statecode": 0, **data})


def _account(crm_id: str = ALPINE) -> dict[str, Any]:
    return {"id": crm_id, "table": "account"}


def test_a_week_starts_on_monday_utc() -> None:
    assert week_start(datetime(2026, 11, 29, 23, 59, tzinfo=UTC)) == date(2026, 11, 23)
    assert week_start(datetime(2026, 11, 30, 0, 0, tzinfo=UTC)) == date(2026, 11, 30)


def test_match_rate_of_an_empty_table_is_zero() -> None:
    assert match_rate(0, 0) == 0.0
    assert match_rate(8, 6) == 0.75


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-02", datetime(2026, 11, 2, tzinfo=UTC)),
        ("2026-11-02T10:30:00Z", datetime(2026, 11, 2, 10, 30, tzinfo=UTC)),
        ("2026-11-02T10:30:00+01:00", datetime(2026, 11, 2, 9, 30, tzinfo=UTC)),
        ("", None),
        ("soon", None),
        (None, None),
    ],
)
def test_crm_dates_are_read_as_utc_instants(value: Any, expected: datetime | None) -> None:
    assert crm_moment(value) == expected


def test_a_base_currency_value_prefers_the_base_twin_then_the_exchange_rate() -> None:
    assert base_currency_value({"actualvalue": 200.0, "actualvalue_base": 180.0}, "actualvalue") == 180.0
    assert base_currency_value({"actualvalue": 200.0, "exchangerate": 2.0}, "actualvalue") == 100.0
    assert base_currency_value({"actualvalue": 200}, "actualvalue") == 200.0
    assert base_currency_value({"actualvalue": None}, "actualvalue") is None
    assert base_currency_value({"actualvalue": True}, "actualvalue") is None


def test_activity_before_creation_influences_pipeline_and_after_it_does_not() -> None:
    touches = [Touch("contact", ANA, ALPINE, _at("2026-11-05"))]
    before = _opportunity("o-after", parentaccountid=_account(), createdon="2026-11-10T00:00:00Z", estimatedvalue=10.0)
    after = _opportunity("o-before", parentaccountid=_account(), createdon="2026-11-01T00:00:00Z", estimatedvalue=99.0)

    found = influenced_opportunities([before, after], touches, rule=EVERY_OPEN, won_value_column="actualvalue")

    assert [item.crm_id for item in found.opportunities] == ["o-after"]
    assert (found.pipeline_count, found.pipeline_value, found.won_count, found.won_value) == (1, 10.0, 0, 0.0)


def test_a_won_opportunity_counts_activity_up_to_the_end_of_its_close_day_valued_by_the_won_value_column() -> None:
    touches = [Touch("account", ALPINE, None, datetime(2026, 11, 20, 23, 0, tzinfo=UTC))]
    same_day = _opportunity(
        "o-won", statecode=1, parentaccountid=_account(), actualclosedate="2026-11-20", budgetamount=500.0
    )
    day_before = _opportunity(
        "o-early", statecode=1, parentaccountid=_account(), actualclosedate="2026-11-19", budgetamount=70.0
    )

    found = influenced_opportunities([same_day, day_before], touches, rule=EVERY_OPEN, won_value_column="budgetamount")

    assert [(item.crm_id, item.won, item.value) for item in found.opportunities] == [("o-won", True, 500.0)]
    assert (found.won_count, found.won_value) == (1, 500.0)


def test_the_opportunitys_named_people_count_and_unrelated_activity_does_not() -> None:
    touches = [
        Touch("lead", LEAD, None, _at("2026-11-01")),
        Touch(
            "contact", "bbbbbbbb-0000-4000-8000-000000000009", "bbbbbbbb-0000-4000-8000-000000000001", _at("2026-11-01")
        ),
    ]
    by_lead = _opportunity(
        "o-lead", originatingleadid={"id": LEAD, "table": "lead"}, createdon="2026-11-10", estimatedvalue=5.0
    )
    elsewhere = _opportunity("o-other", parentaccountid=_account(), createdon="2026-11-10", estimatedvalue=6.0)

    found = influenced_opportunities([by_lead, elsewhere], touches, rule=EVERY_OPEN, won_value_column="actualvalue")

    assert [item.crm_id for item in found.opportunities] == ["o-lead"]


def test_closed_lost_and_below_threshold_opportunities_are_not_pipeline_and_undated_ones_are_counted_apart() -> None:
    touches = [Touch("account", ALPINE, None, _at("2026-11-01"))]
    rule = PipelineRule(stage_source="salesstagecode", threshold="2")
    early_stage = _opportunity(
        "o-stage1", parentaccountid=_account(), salesstagecode=1, createdon="2026-11-10", estimatedvalue=1.0
    )
    lost = _opportunity("o-lost", statecode=2, parentaccountid=_account(), createdon="2026-11-10", estimatedvalue=2.0)
    undated = _opportunity("o-undated", parentaccountid=_account(), salesstagecode=3, estimatedvalue=3.0)
    unvalued = _opportunity("o-unvalued", parentaccountid=_account(), salesstagecode=3, createdon="2026-11-10")

    found = influenced_opportunities(
        [early_stage, lost, undated, unvalued], touches, rule=rule, won_value_column="actualvalue"
    )

    assert found.opportunities == ()
    assert found.unvalued == 2


def test_the_records_to_read_are_those_touched_and_the_accounts_of_touched_people() -> None:
    touches = [Touch("contact", ANA.upper(), ALPINE, _at("2026-11-01")), Touch("lead", LEAD, None, _at("2026-11-01"))]

    assert touched_records(touches) == {("contact", ANA), ("account", ALPINE), ("lead", LEAD)}


def test_an_opportunity_names_its_account_contacts_and_lead_in_lower_case_each_once() -> None:
    data = {
        "parentaccountid": {"id": "A-1", "table": "account"},
        "customerid": {"id": "C-1", "table": "contact"},
        "parentcontactid": {"id": "c-1", "table": "contact"},
        "originatingleadid": {"id": "L-1", "table": "lead"},
    }
    assert named_records(data) == (("account", "a-1"), ("contact", "c-1"), ("lead", "l-1"))
    assert named_records({"customerid": {"id": "A-2", "table": "account"}}) == (("account", "a-2"),)
    assert named_records({"parentaccountid": {"id": ""}, "customerid": "A-3", "originatingleadid": None}) == ()
    assert named_records({"parentcontactid": {"id": "x" * 37, "table": "contact"}}) == (), "longer than any record id"


def test_the_report_facts_and_named_records_judge_as_the_whole_row_does() -> None:
    bea = "bbbbbbbb-0000-4000-8000-000000000002"
    touches = [
        Touch("contact", ANA, ALPINE, _at("2026-11-05")),
        Touch("lead", LEAD, None, _at("2026-11-12")),
        Touch("contact", bea, None, datetime(2026, 11, 20, 23, 0, tzinfo=UTC)),
    ]
    rows = {
        "by-account": {
            "parentaccountid": _account(ALPINE.upper()),
            "salesstagecode": 2,
            "createdon": "2026-11-10",
            "estimatedvalue": 10,
        },
        "by-customer": {
            "salesstagecode": 4,
            "customerid": _account(),
            "createdon": "2026-11-10T00:00:00Z",
            "estimatedvalue_base": 7.5,
        },
        "text-state": {
            "statecode": "0",
            "parentcontactid": {"id": ANA, "table": "contact"},
            "salesstagecode": "3",
            "createdon": "2026-11-06",
            "estimatedvalue": 20.0,
            "exchangerate": 4.0,
        },
        "below-stage": {
            "parentaccountid": _account(),
            "salesstagecode": 1,
            "createdon": "2026-11-10",
            "estimatedvalue": 1.0,
        },
        "won-same-day": {
            "statecode": 1,
            "customerid": {"id": bea, "table": "contact"},
            "actualclosedate": "2026-11-20",
            "budgetamount": 40.0,
            "budgetamount_base": 30.0,
        },
        "won-before": {
            "statecode": 1,
            "originatingleadid": {"id": LEAD, "table": "lead"},
            "actualclosedate": "2026-11-12T09:00:00Z",
            "budgetamount": 5.0,
        },
        "won-by-lead": {
            "statecode": 1.0,
            "originatingleadid": {"id": LEAD, "table": "lead"},
            "actualclosedate": "2026-11-30",
            "budgetamount": 6,
            "description": "a long text",
        },
        "flag-value": {
            "salesstagecode": 2,
            "parentaccountid": _account(),
            "createdon": "2026-11-10",
            "estimatedvalue": True,
        },
        "undated": {"parentaccountid": _account(), "salesstagecode": 2, "estimatedvalue": 3.0},
        "lost": {"statecode": 2, "parentaccountid": _account(), "createdon": "2026-11-10", "estimatedvalue": 9.0},
    }
    rule = PipelineRule(stage_source="salesstagecode", threshold="2")

    def judged(narrow: bool) -> Any:
        opportunities = [
            OpportunityRecord(crm_id, crm_id, report_facts(data), named=named_records(data))
            if narrow
            else OpportunityRecord(crm_id, crm_id, data)
            for crm_id, data in rows.items()
        ]
        return influenced_opportunities(opportunities, touches, rule=rule, won_value_column="budgetamount")

    rows = {crm_id: {"statecode": 0, **data} for crm_id, data in rows.items()}  # open unless said otherwise
    whole = judged(narrow=False)
    assert judged(narrow=True) == whole
    assert {item.crm_id for item in whole.opportunities} == {
        "by-account",
        "by-customer",
        "text-state",
        "won-same-day",
        "won-by-lead",
    }
    assert (whole.unvalued, whole.pipeline_value, whole.won_value) == (2, 22.5, 36.0)
    assert report_facts(rows["won-by-lead"]) == {"statecode": 1.0, "actualclosedate": "2026-11-30", "budgetamount": 6}
