"""Auto-save after an import follows what the import changed, on the in-memory store: the incremental recompute
leaves exactly the lists the full recompute makes (random changes, many seeds), and an import that changed nothing
lists read (nothing, a job title) recomputes no list. (The same property on SQLite and PostgreSQL:
tests/integration/services/test_list_changes.py.)"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

import pytest
from tests.auto_save_changes import CRM_USERS, AutoSaveScenario, check_incremental_equals_full, lists_of, ref
from tests.fakes.store import FakeClock, FakeStore
from tests.unit.services.test_import_runs import ANA_CRM_ID, SYSTEMUSERS, FakeDynamics, acme, run

from salesbridge.domain.lists import ListKind
from salesbridge.domain.sync_runs import (
    CHANGE_LIMIT,
    ImportChanges,
    ImportReport,
    RecordChange,
    RecordState,
    SyncMode,
    TableReport,
)
from salesbridge.errors import TransientError
from salesbridge.services.lists import ListRecompute, recompute_changed_in, recompute_in, touched_owners

__all__ = ["acme"]  # the fixture, shared with the import runs' tests


@pytest.fixture
def scenario(store: FakeStore, request: pytest.FixtureRequest) -> AutoSaveScenario:
    seed = getattr(request, "param", 1)
    made = AutoSaveScenario(store, store.add_organization("acme"), random.Random(seed))
    made.set_up()
    return made


@pytest.mark.parametrize("seed", range(12))
def test_after_random_changes_the_incremental_recompute_equals_the_full_one(store: FakeStore, seed: int) -> None:
    scenario = AutoSaveScenario(store, store.add_organization("acme"), random.Random(seed))
    scenario.set_up()

    changed, unchanged = check_incremental_equals_full(scenario, imports=25)

    assert changed, "the seed changed some list"
    assert unchanged, "the seed left the lists alone sometimes"


def test_an_import_that_changed_nothing_recomputes_no_list(store: FakeStore, scenario: AutoSaveScenario) -> None:
    with store(scenario.org) as uow:
        before = lists_of(uow)
    assert any(before.values())
    # Were any list computed again, it would come out empty: no record is left to choose from.
    store.tables(scenario.org).crm_records.clear()

    with store(scenario.org) as uow:
        result = recompute_changed_in(uow, ImportChanges(everything=False))
        uow.commit()
        assert lists_of(uow) == before
    assert (result.added, result.removed) == (0, 0)


def test_a_job_title_changed_recomputes_no_list(store: FakeStore, scenario: AutoSaveScenario) -> None:
    with store(scenario.org) as uow:
        before = lists_of(uow)
    contact = next(crm_id for table, crm_id in scenario.records if table == "contact")
    state = RecordState(None, "a01", 0)
    store.tables(scenario.org).crm_records.clear()

    with store(scenario.org) as uow:
        changes = ImportChanges(everything=False, tables={"contact": (RecordChange(contact, state, state),)})
        assert touched_owners(uow, changes) == set()
        recompute_changed_in(uow, changes)
        assert lists_of(uow) == before


def test_an_opportunity_given_away_touches_its_old_owner_and_its_new_one(
    store: FakeStore, scenario: AutoSaveScenario
) -> None:
    old, new = CRM_USERS[0], CRM_USERS[4]
    change = RecordChange("o01", RecordState(old, "a01", 0), RecordState(new, "a01", 0))
    with store(scenario.org) as uow:
        assert touched_owners(uow, ImportChanges(everything=False, tables={"opportunity": (change,)})) == {old, new}


def test_a_new_contact_touches_the_owners_of_the_opportunities_naming_it(store: FakeStore) -> None:
    scenario = AutoSaveScenario(store, store.add_organization("acme"), random.Random(3))
    scenario.set_up()
    tables = store.tables(scenario.org)
    tables.crm_records[("opportunity", "o99")] = {
        "statecode": 0,
        "ownerid": ref("systemuser", CRM_USERS[2]),
        "originatingleadid": ref("lead", "l77"),
    }
    tables.crm_records[("lead", "l77")] = {"statecode": 0, "fullname": "New"}
    created = RecordChange("l77", None, RecordState(None, None, 0))

    with store(scenario.org) as uow:
        assert CRM_USERS[2] in touched_owners(uow, ImportChanges(everything=False, tables={"lead": (created,)}))


def test_a_report_says_everything_after_a_full_read_a_resync_or_too_many_changes() -> None:
    change = RecordChange("c1", None, RecordState(None, None, 0))
    small = ImportReport([TableReport("contact", SyncMode.CHANGE_TRACKING, changes=[change])])
    assert small.changes == ImportChanges(everything=False, tables={"contact": (change,)})
    assert ImportReport([TableReport("contact", SyncMode.CHANGE_TRACKING, full_read=True)]).changes.everything
    assert ImportReport([TableReport("contact", SyncMode.CHANGE_TRACKING, resynced=True)]).changes.everything
    report = TableReport("contact", SyncMode.CHANGE_TRACKING)
    report.note_changes([change] * CHANGE_LIMIT)
    assert not ImportReport([report]).changes.everything
    report.note_changes([change])
    assert ImportReport([report]).changes.everything
    assert report.changes == []  # past the limit, nothing more is kept
    assert ImportReport().changes.is_empty


# --------------------------------------------------------------------------- through an import (the CRM faked)

BEN_CRM_ID = "00000000-0000-0000-0000-0000000000b2"


@pytest.fixture
def crm() -> FakeDynamics:
    """Ana (seated) owns the open opportunity o1 on the account a1; Ben is a CRM user without a seat."""
    dynamics = FakeDynamics()
    owner = ref("systemuser", ANA_CRM_ID)
    dynamics.rows = {
        "systemuser": [*SYSTEMUSERS, (BEN_CRM_ID, {"fullname": "Ben", "internalemailaddress": "ben@acme.test"})],
        "account": [("a1", {"name": "Contoso", "statecode": 0, "ownerid": ref("systemuser", BEN_CRM_ID)})],
        "opportunity": [
            ("o1", {"name": "Deal", "statecode": 0, "ownerid": owner, "parentaccountid": ref("account", "a1")})
        ],
    }
    return dynamics


def ana_accounts(store: FakeStore, organization_id: uuid.UUID) -> set[str]:
    with store(organization_id, read_only=True) as uow:
        return {
            crm_id
            for (_user, kind), items in lists_of(uow).items()
            if kind is ListKind.CRM_ACCOUNTS
            for _t, crm_id, _r in items
        }


async def test_an_opportunity_given_away_in_the_crm_leaves_its_old_owners_list_after_the_next_import(
    store: FakeStore, acme: uuid.UUID, clock: FakeClock, crm: FakeDynamics
) -> None:
    assert await run(store, crm, acme, clock) == (True, None)
    assert ana_accounts(store, acme) == {"a1"}
    moved = {**dict(crm.rows["opportunity"])["o1"], "ownerid": ref("systemuser", BEN_CRM_ID)}
    crm.changes = {"opportunity": ([("o1", moved)], [])}

    assert await run(store, crm, acme, clock) == (True, None)

    assert ana_accounts(store, acme) == set()
    with store(acme) as uow:
        assert recompute_in(uow) == ListRecompute(added=0, removed=0)


async def test_after_a_failed_run_the_next_one_derives_from_every_row(
    store: FakeStore, acme: uuid.UUID, clock: FakeClock, crm: FakeDynamics
) -> None:
    await run(store, crm, acme, clock)
    moved = {**dict(crm.rows["opportunity"])["o1"], "ownerid": ref("systemuser", BEN_CRM_ID)}
    crm.changes = {"opportunity": ([("o1", moved)], [])}

    def unavailable(table: str) -> None:
        if table == "connection":  # after the opportunities' page committed
            raise TransientError("the CRM is unavailable")

    crm.on_read = unavailable
    assert await run(store, crm, acme, clock) == (False, "the CRM is unavailable")
    assert ana_accounts(store, acme) == {"a1"}, "the failed run derived nothing"
    crm.on_read = lambda table: None
    crm.changes = {}
    clock.advance(timedelta(minutes=1))

    assert await run(store, crm, acme, clock) == (True, None)

    assert ana_accounts(store, acme) == set(), "the change the failed run committed is followed now"
