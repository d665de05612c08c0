"""Which changes of an imported record a seller's home tells of (domain.crm_changes)."""

from __future__ import annotations

from salesbridge.domain.crm_changes import ChangeKind, noticed_changes
from salesbridge.domain.sync_runs import RecordChange, RecordState

OPEN, WON, LOST = 0, 1, 2


def _opportunity(owner: str, state: int, stage: str) -> RecordState:
    return RecordState(owner, "acc-1", state, {"stepname": stage})


def test_a_new_record_a_deleted_one_and_an_unchanged_one_are_not_noticed() -> None:
    same = _opportunity("u1", OPEN, "1-Qualify")
    changes = [RecordChange("o1", None, same), RecordChange("o2", same, None), RecordChange("o3", same, same)]

    assert noticed_changes("opportunity", changes) == []


def test_an_opportunity_moved_a_stage_got_an_owner_and_was_won_or_lost() -> None:
    before = _opportunity("u1", OPEN, "1-Qualify")
    changes = [
        RecordChange("moved", before, _opportunity("u2", OPEN, "2-Develop")),
        RecordChange("won", before, _opportunity("u1", WON, "3-Close")),
        RecordChange("lost", before, _opportunity("u1", LOST, "1-Qualify")),
    ]

    noticed = [
        (change.crm_id, change.kind, change.before, change.after) for change in noticed_changes("opportunity", changes)
    ]

    assert noticed == [
        ("moved", ChangeKind.OWNER, "u1", "u2"),
        ("moved", ChangeKind.STAGE, "1-Qualify", "2-Develop"),
        ("won", ChangeKind.WON, "1-Qualify", "3-Close"),
        ("lost", ChangeKind.LOST, "1-Qualify", "1-Qualify"),
    ]


def test_a_contact_changing_title_or_account_is_a_job_change_an_email_is_not() -> None:
    before = RecordState("u1", "acc-1", 0, {"jobtitle": "Buyer", "emailaddress1": "a@x.test"})
    changes = [
        RecordChange("title", before, RecordState("u1", "acc-1", 0, {"jobtitle": "Head of Buying"})),
        RecordChange("account", before, RecordState("u1", "acc-2", 0, {"jobtitle": "Buyer"})),
        RecordChange("email", before, RecordState("u1", "acc-1", 0, {"jobtitle": "Buyer", "emailaddress1": "b@x"})),
    ]

    noticed = noticed_changes("contact", changes)

    assert [(change.crm_id, change.kind, change.parent_id) for change in noticed] == [
        ("title", ChangeKind.JOB, "acc-1"),
        ("account", ChangeKind.JOB, "acc-2"),
    ]
