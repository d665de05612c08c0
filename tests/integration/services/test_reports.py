"""The administrators' reports on SQLite and PostgreSQL: influenced pipeline and won revenue checked against a hand
count of opportunities created in a sandbox over TLS and imported, with activity logged before and after them;
written-back activity per seller, type and week; the match rate a matching run records; seat usage."""

from __future__ import annotations

import ssl
import uuid
from datetime import UTC, datetime, timedelta, timezone

import httpx
from tests.integration.services.conftest import RunningSandbox
from tests.integration.services.test_import_engine import (  # noqa: F401  (fixtures)
    crm,
    engine,
    org,
)

from salesbridge.crm.dynamics import DynamicsConnector
from salesbridge.crm.ports import LookupValue
from salesbridge.domain.match_links import LinkBand, LinkOrigin, MatchLink, TargetKind
from salesbridge.domain.people import Company, Person
from salesbridge.domain.reports import Influence, OpportunityRecord, influenced_opportunities
from salesbridge.domain.sync_runs import RecordRow
from salesbridge.domain.workspace import SeatState
from salesbridge.domain.writeback import ActivityDraft, DataItem, DeliveryState, Direction, Regarding
from salesbridge.services.matching import run_matching
from salesbridge.services.reports import read_reports
from salesbridge.store.uow import UnitOfWorkFactory

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # a Wednesday


def _at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T10:00:00+00:00")


def _tie(
    store: UnitOfWorkFactory, organization_id: uuid.UUID, table: str, crm_id: str, kind: TargetKind, target: uuid.UUID
) -> None:
    with store(organization_id) as uow:
        uow.matches.put(
            [
                MatchLink(
                    crm_table=table,
                    crm_id=crm_id,
                    target_kind=kind,
                    target_id=target,
                    band=LinkBand.MATCH,
                    probability=None,
                    decision=None,
                    origin=LinkOrigin.CORRECTION,
                    decided_by=None,
                    decided_at=NOW,
                )
            ]
        )
        uow.commit()


def _log(
    store: UnitOfWorkFactory,
    organization_id: uuid.UUID,
    author: uuid.UUID,
    occurred_at: datetime,
    *,
    person: uuid.UUID | None = None,
    company: uuid.UUID | None = None,
    item: DataItem = DataItem.NOTE,
    delivered_to: tuple[str, str] | None = None,
) -> uuid.UUID:
    with store(organization_id) as uow:
        draft = ActivityDraft(
            client_id=str(uuid.uuid4()),
            item=item,
            person_id=person,
            company_id=company,
            subject=None,
            body="Talked about the renewal",
            direction=Direction.OUTGOING,
            occurred_at=occurred_at,
        )
        activity, _ = uow.activities.add(author, draft, state=DeliveryState.QUEUED, hold=None)
        if delivered_to is not None:
            uow.activities.mark_delivered({activity.id: (1, Regarding(*delivered_to))}, now=occurred_at)
        uow.commit()
    return activity.id


def _person(store: UnitOfWorkFactory, organization_id: uuid.UUID, external_id: str) -> uuid.UUID:
    with store(organization_id) as uow:
        uow.people.upsert_many([Person(external_id, full_name=external_id.title())])
        person = uow.people.get_by_external_id(external_id)
        uow.commit()
    assert person is not None
    assert person.id is not None
    return person.id


def _company(store: UnitOfWorkFactory, organization_id: uuid.UUID, external_id: str) -> uuid.UUID:
    with store(organization_id) as uow:
        uow.companies.upsert_many([Company(external_id, external_id.title())])
        company = uow.companies.get_by_external_id(external_id)
        uow.commit()
    assert company is not None
    assert company.id is not None
    return company.id


async def test_influenced_pipeline_and_won_revenue_match_a_hand_count_of_sandbox_opportunities(
    store: UnitOfWorkFactory,
    org: uuid.UUID,  # noqa: F811
    crm: DynamicsConnector,  # noqa: F811
    fresh_demo: RunningSandbox,
) -> None:
    ids = {name: str(uuid.uuid4()) for name in ("alpine", "borealis", "cirrus", "ana", "bruno")}
    for name in ("alpine", "borealis", "cirrus"):
        await crm.writer.create("account", {"name": f"{name.title()} Corp"}, record_id=ids[name])
    await crm.writer.create(
        "contact",
        {"firstname": "Ana", "lastname": "Alpine", "parentcustomerid": LookupValue(ids["alpine"], "account")},
        record_id=ids["ana"],
    )
    await crm.writer.create(
        "contact",
        {"firstname": "Bruno", "lastname": "Borealis", "parentcustomerid": LookupValue(ids["borealis"], "account")},
        record_id=ids["bruno"],
    )

    async def opportunity(name: str, account: str, created: str, value: float, won_on: str | None = None) -> str:
        crm_id = str(uuid.uuid4())
        await crm.writer.create(
            "opportunity",
            {
                "name": name,
                "parentaccountid": LookupValue(ids[account], "account"),
                "customerid": LookupValue(ids[account], "account"),
                "estimatedvalue": value,
                "overriddencreatedon": f"{created}T09:00:00Z",
            },
            record_id=crm_id,
        )
        if won_on is not None:
            await crm.writer.update(
                "opportunity",
                crm_id,
                {"statecode": 1, "statuscode": 3, "actualvalue": value, "actualclosedate": won_on},
            )
        return crm_id

    # Hand count. Activity: a note with Ana (Alpine's contact) on 1 Nov; a call with Borealis (the company) on 20 Nov.
    alpine_open = await opportunity("Alpine expansion", "alpine", "2026-11-10", 1000.0)  # created after 1 Nov: in
    borealis_open = await opportunity("Borealis pilot", "borealis", "2026-11-10", 500.0)  # created before 20 Nov: out
    borealis_won = await opportunity("Borealis renewal", "borealis", "2026-11-10", 2000.0, won_on="2026-11-25")  # in
    await opportunity("Alpine early deal", "alpine", "2026-10-01", 300.0, won_on="2026-10-15")  # won before 1 Nov: out
    await opportunity("Cirrus deal", "cirrus", "2026-11-10", 700.0, won_on="2026-11-25")  # no activity at all: out
    won_same_day = await opportunity("Borealis add-on", "borealis", "2026-11-01", 50.0, won_on="2026-11-20")  # in

    await engine(store, org, crm).run()

    with store(org) as uow:
        seller = uow.users.add(email="sofia@acme.test", display_name="Sofía")
        uow.commit()
    ana = _person(store, org, "ana-alpine")
    borealis = _company(store, org, "borealis")
    _tie(store, org, "contact", ids["ana"], TargetKind.PERSON, ana)
    _tie(store, org, "account", ids["borealis"], TargetKind.COMPANY, borealis)
    _log(store, org, seller.id, _at("2026-11-01"), person=ana)
    _log(store, org, seller.id, _at("2026-11-20"), company=borealis, item=DataItem.CALL)

    reports = read_reports(store, "acme", clock=lambda: NOW)
    with store(org, read_only=True) as uow:  # the sandbox keeps overriddencreatedon as createdon, as Dataverse
        created = {record.crm_id: record.data.get("createdon") for record in uow.crm_records.records("opportunity")}
    assert created[alpine_open] == "2026-11-10T09:00:00Z"

    influence = reports.influence
    assert {(item.crm_id, item.won, item.value) for item in influence.opportunities} == {
        (alpine_open, False, 1000.0),
        (borealis_won, True, 2000.0),
        (won_same_day, True, 50.0),
    }
    assert (influence.pipeline_count, influence.pipeline_value) == (1, 1000.0)
    assert (influence.won_count, influence.won_value) == (2, 2050.0)
    assert borealis_open not in {item.crm_id for item in influence.opportunities}
    first = {item.crm_id: item.first_activity_at for item in influence.opportunities}
    assert first[alpine_open] == _at("2026-11-01")

    # The import keeps what each opportunity names (migration 0032) as the CRM changes: the renewal moves to Cirrus
    # (no activity) and the Alpine expansion is deleted (a delta), then the add-on vanishes unseen and a full read
    # (the delta token expired) sweeps it away.
    cirrus = LookupValue(ids["cirrus"], "account")
    await crm.writer.update("opportunity", borealis_won, {"parentaccountid": cirrus, "customerid": cirrus})
    await crm.writer.delete("opportunity", alpine_open)
    await engine(store, org, crm, tables=("opportunity",)).run()
    after_delta = read_reports(store, "acme", clock=lambda: NOW).influence
    assert {item.crm_id for item in after_delta.opportunities} == {won_same_day}
    await crm.writer.delete("opportunity", won_same_day)
    admin = {"X-Sandbox-Admin-Token": fresh_demo.sandbox.services.admin_token}
    with httpx.Client(verify=ssl.create_default_context(cafile=str(fresh_demo.ca_bundle))) as client:
        shifted = client.post(f"{fresh_demo.org_url}/_sandbox/shift-clock", json={"days": 120}, headers=admin)
    assert shifted.status_code < 300, shifted.text
    swept = await engine(store, org, crm, tables=("opportunity",)).run()
    assert swept.tables[0].full_read
    assert read_reports(store, "acme", clock=lambda: NOW).influence.opportunities == ()
    with store(org, read_only=True) as uow:
        assert uow.reports.opportunities({("account", ids["borealis"]), ("account", ids["alpine"])}) != []
        assert {o.crm_id for o in uow.reports.opportunities({("account", ids["cirrus"])})} >= {borealis_won}


def test_written_back_activity_match_rate_and_seat_usage(store: UnitOfWorkFactory, org: uuid.UUID) -> None:  # noqa: F811
    with store(org) as uow:
        sofia = uow.users.add(email="sofia@acme.test", display_name="Sofía")
        bob = uow.users.add(email="bob@acme.test", display_name="Bob")
        idle = uow.users.add(email="idle@acme.test", display_name="Idle")
        uow.seats.add(user_id=sofia.id, state=SeatState.ACTIVE, assigned_by="admin@acme.test")
        uow.seats.add(user_id=bob.id, state=SeatState.ACTIVE, assigned_by="admin@acme.test", crm_sync_enabled=False)
        uow.seats.add(user_id=idle.id, state=SeatState.ACTIVE, assigned_by="admin@acme.test")
        uow.organization.set_crm_sync_all_seats(False)
        uow.commit()
    person = _person(store, org, "robert")
    contact = ("contact", str(uuid.uuid4()))
    monday = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    _log(store, org, sofia.id, monday, person=person, delivered_to=contact)
    _log(store, org, sofia.id, monday + timedelta(days=1), person=person, delivered_to=contact)
    _log(
        store,
        org,
        sofia.id,
        monday - timedelta(hours=8, minutes=1),
        person=person,
        item=DataItem.CALL,
        delivered_to=contact,
    )
    # Monday 00:30 in UTC+2 is Sunday 22:30 UTC: the week before, whatever the database session's time zone.
    east = datetime(2026, 11, 30, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    _log(store, org, sofia.id, east, person=person, item=DataItem.CALL, delivered_to=contact)
    _log(store, org, bob.id, monday, person=person)  # not delivered: not written back, yet activity of the period
    _log(store, org, sofia.id, NOW - timedelta(weeks=13), person=person, delivered_to=contact)  # before the 12 weeks

    run_matching(store, org, clock=lambda: NOW - timedelta(hours=1))
    run_matching(store, org, clock=lambda: NOW)
    reports = read_reports(store, "acme", clock=lambda: NOW)

    assert [(row.seller, row.item, row.week.isoformat(), row.count) for row in reports.written_back] == [
        ("Sofía", "call", "2026-11-23", 2),
        ("Sofía", "note", "2026-11-30", 2),
    ]
    assert len(reports.weeks) == 12
    assert reports.weeks[-1].isoformat() == "2026-11-30"
    assert [(s.taken_at, s.table, s.total) for s in reports.match_rates] == [
        (NOW - timedelta(hours=1), "account", 0),
        (NOW - timedelta(hours=1), "contact", 0),
        (NOW - timedelta(hours=1), "lead", 0),
        (NOW, "account", 0),
        (NOW, "contact", 0),
        (NOW, "lead", 0),
    ]
    seats = {seat.email: seat for seat in reports.seats}
    assert (seats["sofia@acme.test"].crm_sync, seats["sofia@acme.test"].recent_activities) == (True, 4)
    assert seats["sofia@acme.test"].last_activity_at == monday + timedelta(days=1)
    assert (seats["bob@acme.test"].crm_sync, seats["bob@acme.test"].in_use) == (False, False)
    assert (seats["idle@acme.test"].crm_sync, seats["idle@acme.test"].in_use) == (True, False)
    assert (reports.seats_with_crm_sync, reports.seats_in_use) == (2, 1)


def test_only_opportunities_naming_or_belonging_to_a_touched_record_are_read(
    store: UnitOfWorkFactory,
    org: uuid.UUID,  # noqa: F811
) -> None:
    contact, lead, account, other = (str(uuid.uuid4()) for _ in range(4))

    def row(name: str, parent: str | None, **lookups: tuple[str, str]) -> RecordRow:
        data = {"name": name, **{column: {"id": crm_id, "table": table} for column, (table, crm_id) in lookups.items()}}
        return RecordRow(str(uuid.uuid4()), name, None, parent, 0, data)

    rows = [
        row("by contact", other, parentaccountid=("account", other), parentcontactid=("contact", contact.upper())),
        row("by lead", None, originatingleadid=("lead", lead)),
        row("by account", account, parentaccountid=("account", account)),
        row("by contact customer", contact, customerid=("contact", contact)),
        row("elsewhere", other, parentaccountid=("account", other)),
    ]
    with store(org) as uow:
        uow.crm_records.upsert_many("opportunity", rows, generation=1, new=True)
        uow.commit()

    with store(org, read_only=True) as uow:
        found = uow.reports.opportunities({("contact", contact), ("lead", lead), ("account", account)})
        nothing = uow.reports.opportunities(set())

    assert sorted(opportunity.name or "" for opportunity in found) == [
        "by account",
        "by contact",
        "by contact customer",
        "by lead",
    ]
    assert nothing == []


def _whole_row_influence(store: UnitOfWorkFactory, organization_id: uuid.UUID, opportunity_ids: list[str]) -> Influence:
    """The rule applied to the opportunities' whole imported rows (their lookups, every column): what the report's
    narrow read (named records and report facts) must give."""
    with store(organization_id, read_only=True) as uow:
        settings = uow.crm_settings.get()
        rows = uow.crm_records.stored_states("opportunity", opportunity_ids)
        return influenced_opportunities(
            [OpportunityRecord(crm_id, f"Deal {crm_id}", state.data) for crm_id, state in rows.items()],
            uow.reports.touches(),
            rule=settings.pipeline_rule,
            won_value_column=settings.won_value_column,
        )


def test_the_report_stays_right_after_new_activity_a_win_a_re_import_and_the_purge(
    store: UnitOfWorkFactory,
    org: uuid.UUID,  # noqa: F811
) -> None:
    account, contact, other_contact = "a0000000-0000-4000-8000-00000000000a", str(uuid.uuid4()), str(uuid.uuid4())
    with store(org) as uow:
        sofia = uow.users.add(email="sofia@acme.test", display_name="Sofía").id
        uow.commit()

    def opportunity(crm_id: str, state: int = 0, **data: object) -> RecordRow:
        return RecordRow(crm_id, f"Deal {crm_id}", None, None, state, {"statecode": state, **data})

    def account_deal(created: str, value: float) -> dict[str, object]:
        return {
            "parentaccountid": {"id": account.upper(), "table": "account"},
            "createdon": created,
            "estimatedvalue": value,
        }

    rows = [
        opportunity("o-created-10", **account_deal("2026-11-10T09:00:00Z", 100.0)),
        opportunity(
            "o-created-05",
            parentcontactid={"id": contact, "table": "contact"},
            createdon="2026-11-05",
            estimatedvalue=30.0,
        ),
        opportunity(
            "o-won-20",
            1,
            customerid={"id": contact, "table": "contact"},
            actualclosedate="2026-11-20",
            actualvalue=50.0,
        ),
        opportunity(
            "o-other-won",
            1,
            parentcontactid={"id": other_contact, "table": "contact"},
            actualclosedate="2026-11-20",
            actualvalue=9.0,
            exchangerate=3.0,
        ),
    ]
    ids = [row.crm_id for row in rows]
    with store(org) as uow:
        uow.crm_records.upsert_many("opportunity", rows, generation=1, new=True)
        uow.crm_records.upsert_many(
            "contact",
            [
                RecordRow(crm_id, crm_id, None, account, 0, {"parentcustomerid": {"id": account, "table": "account"}})
                for crm_id in (contact, other_contact)
            ],
            generation=1,
        )
        uow.commit()
    ana, bea = _person(store, org, "ana"), _person(store, org, "bea")
    _tie(store, org, "contact", contact, TargetKind.PERSON, ana)
    _tie(store, org, "contact", other_contact, TargetKind.PERSON, bea)

    def influence() -> set[tuple[str, bool, float, datetime]]:
        found = read_reports(store, "acme", clock=lambda: NOW).influence
        assert found == _whole_row_influence(store, org, ids)
        return {(item.crm_id, item.won, item.value, item.first_activity_at) for item in found.opportunities}

    # Ana's note on 8 Nov: before the account's deal was created (her contact's account) and before the win.
    _log(store, org, sofia, _at("2026-11-08"), person=ana)
    assert influence() == {
        ("o-created-10", False, 100.0, _at("2026-11-08")),
        ("o-won-20", True, 50.0, _at("2026-11-08")),
    }

    # A new activity before the creation of the deal of 5 Nov brings it in, and moves the first activity earlier.
    _log(store, org, sofia, _at("2026-11-03"), person=ana)
    assert influence() == {
        ("o-created-10", False, 100.0, _at("2026-11-03")),
        ("o-created-05", False, 30.0, _at("2026-11-03")),
        ("o-won-20", True, 50.0, _at("2026-11-03")),
    }

    # Bea's activity comes after her deal was won (20 Nov, the whole day): it stays out...
    _log(store, org, sofia, datetime(2026, 11, 21, 0, 1, tzinfo=UTC), person=bea)
    assert "o-other-won" not in {crm_id for crm_id, *_ in influence()}
    # ... until a re-import moves the close date after it (valued through the exchange rate, 9 / 3).
    moved = opportunity(
        "o-other-won",
        1,
        parentcontactid={"id": other_contact, "table": "contact"},
        actualclosedate="2026-11-21",
        actualvalue=9.0,
        exchangerate=3.0,
    )
    # The deal of 10 Nov is won on 1 Dec at 70: it leaves the pipeline for the won revenue.
    won = opportunity(
        "o-created-10", 1, **account_deal("2026-11-10T09:00:00Z", 100.0), actualclosedate="2026-12-01", actualvalue=70.0
    )
    with store(org) as uow:
        uow.crm_records.upsert_many("opportunity", [moved, won], generation=1)
        uow.commit()
    assert influence() == {
        ("o-created-10", True, 70.0, _at("2026-11-03")),
        ("o-created-05", False, 30.0, _at("2026-11-03")),
        ("o-won-20", True, 50.0, _at("2026-11-03")),
        ("o-other-won", True, 3.0, datetime(2026, 11, 21, 0, 1, tzinfo=UTC)),
    }

    # The purge on disconnect: nothing is influenced any more, though the activities stay.
    with store(org) as uow:
        uow.imported_data.delete_crm_records()
        uow.commit()
    assert influence() == set()
    assert read_reports(store, "acme", clock=lambda: NOW).influence.unvalued == 0


def test_two_matching_runs_ending_at_the_same_instant_keep_one_snapshot(
    store: UnitOfWorkFactory,
    org: uuid.UUID,  # noqa: F811
) -> None:
    """A second run finishing at the same instant (two workers, a coarse clock) must not fail on the snapshot's key:
    the later run's counts replace the instant's."""
    run_matching(store, org, clock=lambda: NOW)
    run_matching(store, org, clock=lambda: NOW)

    reports = read_reports(store, "acme", clock=lambda: NOW)
    assert [(s.taken_at, s.table) for s in reports.match_rates] == [
        (NOW, "account"),
        (NOW, "contact"),
        (NOW, "lead"),
    ]
