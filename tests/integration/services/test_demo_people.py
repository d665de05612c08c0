"""The demo's workspace people and companies (what ``make demo`` loads after the first import), against the demo
sandbox over TLS on SQLite and PostgreSQL: the demo organization maps the CRM's profile-URL column, holds people
and companies overlapping its CRM, and ends matched — the ties agreeing with the generator's truth."""

from __future__ import annotations

import uuid

from tests.integration.services.conftest import SANDBOX_TARGETS, RunningSandbox

from salesbridge.bootstrap import load_demo_people, prepare_demo_workspace
from salesbridge.bootstrap_demo import demo_writeback
from salesbridge.domain.workspace import SeatState
from salesbridge.domain.writeback import DataItem, DeliveryState, SeatHold, crm_activity_id
from salesbridge.sandbox.seeds.demo_workspace import TruthLink, crm_rows_of_sandbox, generate_workspace
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.matching import badges_of_people, link_of_crm_record, match_report
from salesbridge.services.ports import CrmSessionFactory, UnitOfWork
from salesbridge.services.reports import read_reports
from salesbridge.store.uow import UnitOfWorkFactory, utc_now


async def test_the_demo_organization_holds_people_and_companies_matched_with_its_crm(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, demo: RunningSandbox
) -> None:
    await prepare_demo_workspace(store, demo.credentials(), targets=SANDBOX_TARGETS)
    organization_id = store.organization_id("demo")
    assert organization_id is not None
    imported = await run_pending_import(store, sessions, organization_id, clock=utc_now)
    assert imported is not None
    assert imported.succeeded

    loaded = load_demo_people(store, demo.sandbox)

    expected = generate_workspace(crm_rows_of_sandbox(demo.sandbox.services.state))
    assert (loaded.people.loaded, loaded.companies.loaded) == (len(expected.people), len(expected.companies))
    assert loaded.people.refused == loaded.companies.refused == 0
    with store(organization_id, read_only=True) as uow:
        settings = uow.crm_settings.get()
        counts = (uow.people.count(), uow.companies.count())
        report = {table.table: table for table in match_report(uow).tables}
        contact_url = next(
            record.data.get("new_linkedinurl") for record in uow.crm_records.records("contact") if record.data
        )
        tied = _tied_pairs(uow, expected.truth)
        moved = [
            person.id
            for link in expected.truth
            if "job_change" in link.variations
            and (person := uow.people.get_by_external_id(link.workspace_id)) is not None
            and person.id is not None
        ]
        badges = badges_of_people(uow, moved)
    assert settings.profile_url_columns == dict.fromkeys(("contact", "lead", "account"), "new_linkedinurl")
    assert contact_url is None or "linkedin.com" in contact_url, "the first import read the mapped column"
    assert counts == (len(expected.people), len(expected.companies))
    assert report["contact"].matched > 0
    assert report["account"].matched > 0
    true_pairs = expected.pairs("person") | expected.pairs("company")
    found = tied & true_pairs
    assert len(found) > 0.8 * len(true_pairs), "the demo ends matched"
    assert len(found) >= 0.95 * len(tied), "ties agree with the generator's truth"
    assert moved, "the generator moved some people to another company"
    out_of_date = [person for person, badge in badges.items() if badge.in_crm and badge.out_of_date]
    assert len(out_of_date) >= 0.8 * len(set(moved)), "a job change the CRM has not heard of shows Out of date"

    again = load_demo_people(store, demo.sandbox)
    assert (again.people.inserted, again.people.updated) == (0, 0), "loading again changes nothing"


def _tied_pairs(uow: UnitOfWork, truth: list[TruthLink]) -> set[tuple[str, str]]:
    """``(crm_id, workspace external id)`` of every CRM record of ``truth``'s tables tied to a person or company."""
    pairs: set[tuple[str, str]] = set()
    for link in truth:
        view = link_of_crm_record(uow, link.table, link.crm_id)
        if view is None or view.target_id is None or not view.is_tie:
            continue
        target = _external_id(uow, view.target_id, link.kind)
        if target is not None:
            pairs.add((link.crm_id, target))
    return pairs


def _external_id(uow: UnitOfWork, target_id: uuid.UUID, kind: str) -> str | None:
    found = uow.companies.get(target_id) if kind == "company" else uow.people.get(target_id)
    return found.external_id if found is not None else None


async def test_the_demo_writes_its_sellers_activities_back_and_says_why_the_others_wait(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, demo: RunningSandbox
) -> None:
    """What ``make demo`` does after matching (:func:`demo_writeback`): the app installed, writeback on, the
    seller's InMails, message, call and note on the contact of the person they concern, owned and created by the
    seller's CRM user, the first InMail older than the open opportunities of the contact's account (influenced
    pipeline on Reports); a note on a person the CRM lacks waits for a match, an InMail by a seller whose seat's CRM
    sync is off waits saying so. Running it again changes nothing."""
    workspace = await prepare_demo_workspace(store, demo.credentials(), targets=SANDBOX_TARGETS)
    organization_id = store.organization_id("demo")
    assert organization_id is not None
    imported = await run_pending_import(store, sessions, organization_id, clock=utc_now)
    assert imported is not None
    assert imported.succeeded
    load_demo_people(store, demo.sandbox)

    written = await demo_writeback(store, workspace, sessions=sessions)  # type: ignore[arg-type]

    # The held seller's InMail waits from its capture on: the drain never claims it.
    assert (written.drain.delivered, written.drain.waiting_for_match, written.drain.waiting_for_seat) == (5, 1, 0)
    assert {reason: len(logged) for reason, logged in written.by_reason().items()} == {
        "Written to your CRM": 5,
        "Waiting for a CRM match": 1,
        "Waiting: CRM sync is off for the seller's seat": 1,
    }
    assert written.waiting() == {"Waiting for a CRM match": 1, "Waiting: CRM sync is off for the seller's seat": 1}
    with store(organization_id, read_only=True) as uow:
        crm_user_of = {user.id: user.crm_id.lower() for user in uow.crm_users.list_all()}
        seats = {user.email: seat for seat, user in uow.seats.list_with_users()}
        sync_all = uow.organization.get().crm_sync_all_seats
    seller_crm = crm_user_of[seats[workspace.seller_email].crm_user_id]  # type: ignore[index]
    held_seat = seats[written.held_seller_email]
    assert (sync_all, held_seat.state, held_seat.crm_sync_enabled) == (False, SeatState.ACTIVE, False)
    assert seats[workspace.seller_email].crm_sync_enabled, "the seller's own switch stays on"
    storage = demo.sandbox.services.state.storage
    application_user = demo.sandbox.application.systemuser_id
    delivered = [entry for entry in written.activities if entry.activity.delivery.state is DeliveryState.DELIVERED]
    assert sorted(entry.activity.item for entry in delivered) == sorted([*DataItem, DataItem.INMAIL])
    influence = read_reports(store, "demo", clock=utc_now).influence
    assert influence.pipeline_count >= 1, "the first InMail precedes an open opportunity of the contact's account"
    for entry in delivered:
        table = entry.activity.delivery.crm_table
        key = "annotationid" if table == "annotation" else "activityid"
        row = storage.get(table, key, crm_activity_id(organization_id, entry.activity.id))
        assert row is not None, f"the {entry.activity.item} is not in the sandbox"
        assert (row["ownerid"], row["createdby"]) == (seller_crm, seller_crm), table
        assert row["createdonbehalfby"] == application_user
        assert row["objectid" if table == "annotation" else "regardingobjectid"] == written.contact_id
        assert entry.author_email == workspace.seller_email
    waiting = {
        entry.activity.delivery.state: (entry.author_email, entry.activity.delivery.hold)
        for entry in written.activities
        if entry.activity.delivery.state is not DeliveryState.DELIVERED
    }
    assert waiting == {
        DeliveryState.WAITING_FOR_MATCH: (workspace.seller_email, None),
        DeliveryState.WAITING_FOR_SEAT: (written.held_seller_email, SeatHold.CRM_SYNC_OFF),
    }
    for entry in written.activities:
        if entry.activity.delivery.state is not DeliveryState.DELIVERED:
            row = storage.get(entry.activity.delivery.crm_table, "activityid", entry.activity.delivery.crm_id)
            assert row is None, "a waiting activity is not in the CRM"

    again = await demo_writeback(store, workspace, sessions=sessions)  # type: ignore[arg-type]

    assert again.app_created == ()
    assert again.held_seller_email == written.held_seller_email
    assert [entry.activity.id for entry in again.activities] == [entry.activity.id for entry in written.activities]
    assert (again.drain.claimed, again.delivered) == (0, 5)
    with store(organization_id, read_only=True) as uow:
        assert uow.seats.count() == len(seats) == 7, "the admin, two sellers and four invited"
