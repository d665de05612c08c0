"""The rules of matching's service on the in-memory store: runs requested with their job, review decisions
(a rejected pair never comes back), who may edit a match, CRM duplicates, the scorer's evaluation against
corrections, and the audit log's names. (End to end on SQLite, PostgreSQL and the sandbox:
tests/integration/services/test_matching.py.)"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
from tests.fakes.store import FakeClock, FakeStore

from salesbridge.domain.csv_rows import read_people_csv
from salesbridge.domain.jobs import MATCH_ORGANIZATION, JobState, match_queueing_lock, organization_lock
from salesbridge.domain.match_links import LinkBand, LinkOrigin
from salesbridge.domain.people import Company, Person
from salesbridge.domain.sync_runs import RecordRow
from salesbridge.errors import (
    AdministratorRequiredError,
    InvalidRequestError,
    MatchNotFoundError,
    SeatRequiredError,
)
from salesbridge.services.account_rules import Principal
from salesbridge.services.matching import (
    correct_match,
    count_review,
    decide_review,
    evaluate,
    link_of_crm_record,
    links_of_person,
    request_matching,
    review_queue,
    run_matching,
    run_requested_matching,
)
from salesbridge.services.people import upsert_companies, upsert_people
from salesbridge.services.people_load import load_people
from salesbridge.web.ui.admin import ACTION_NAMES, DETAIL_NAMES, HIDDEN_DETAILS


def contact(crm_id: str, **values: Any) -> RecordRow:
    name = f"{values.get('firstname', '')} {values.get('lastname', '')}".strip()
    return RecordRow(crm_id, name, None, None, 0, {"fullname": name, **values})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> FakeStore:
    return FakeStore(clock=clock)


def seed(store: FakeStore, people: list[Person], contacts: list[RecordRow]) -> uuid.UUID:
    acme = store.organization_id("acme") or store.add_organization("acme")
    with store(acme) as uow:
        uow.people.upsert_many(people)
        uow.crm_records.upsert_many("contact", contacts, generation=1)
        uow.commit()
    return acme


def principal(organization_id: uuid.UUID, *, admin: bool = False, seat: bool = True) -> Principal:
    return Principal(
        organization_id=organization_id,
        organization_slug="acme",
        user_id=uuid.uuid4(),
        email="sam@acme.test",
        display_name="Sam",
        is_admin=admin,
        has_seat=seat,
        locale="en",
    )


def person(store: FakeStore, organization_id: uuid.UUID, external_id: str) -> uuid.UUID:
    with store(organization_id, read_only=True) as uow:
        found = uow.people.get_by_external_id(external_id)
    assert found is not None
    assert found.id is not None
    return found.id


def test_a_requested_run_defers_one_job_under_the_organizations_lock(store: FakeStore, clock: FakeClock) -> None:
    acme = store.add_organization("acme")
    for _ in range(2):
        with store(acme) as uow:
            request_matching(uow, reason="import", clock=clock)
            uow.commit()

    with store(acme, read_only=True) as uow:
        jobs = uow.jobs.list(states=[JobState.QUEUED])
        assert uow.matches.state().requested_at == clock()
    (job,) = jobs
    assert (job.task, job.reason) == (MATCH_ORGANIZATION, "import")
    row = store.tables(acme).jobs[job.id]
    assert (row.lock, row.queueing_lock) == (organization_lock(acme), match_queueing_lock(acme))
    assert run_requested_matching(store, acme, clock=clock) is not None
    assert run_requested_matching(store, acme, clock=clock) is None, "the run cleared the request"


def test_a_people_load_requests_matching_when_it_changed_something(store: FakeStore) -> None:
    acme = store.add_organization("acme")
    people = b"id,first_name,last_name\np1,Ana,Lopez\n"
    load_people(store, "acme", read_people_csv(people), actor="cli")
    run_requested_matching(store, acme, clock=store.clock)
    load_people(store, "acme", read_people_csv(people), actor="cli")

    with store(acme, read_only=True) as uow:
        assert uow.matches.state().requested_at is None, "an unchanged load asks for nothing"
        assert [job.task for job in uow.jobs.list()] == [MATCH_ORGANIZATION]


def test_an_api_upsert_requests_matching_when_it_changed_something(store: FakeStore) -> None:
    acme = store.add_organization("acme")
    rows = [{"external_id": "p1", "first_name": "Ana", "last_name": "López"}]
    upsert_people(store, acme, rows, actor="api")
    run_requested_matching(store, acme, clock=store.clock)
    upsert_people(store, acme, rows, actor="api")
    upsert_companies(store, acme, [{"external_id": "k1", "name": "Contoso"}], actor="api")

    with store(acme, read_only=True) as uow:
        assert uow.matches.state().requested_at is not None, "the new company asked for a run"
        assert [job.reason for job in uow.jobs.list()] == ["people.upserted"], "one waits: the first"


def test_a_pair_rejected_in_review_is_never_proposed_again_and_an_accepted_one_is_kept(
    store: FakeStore, clock: FakeClock
) -> None:
    robert = Person("p1", first_name="Robert", last_name="Smith", city="Madrid", headline="Engineer")
    others = [Person(f"x{index}", f"Person {index}") for index in range(999)]
    acme = seed(store, [robert, *others], [])
    run_matching(store, acme, clock=clock)
    # Incremental: each new contact is scored against its candidates with the prior of a thousand people (a name
    # and a city are not enough to link automatically).
    seed(
        store,
        [],
        [
            contact("c1", firstname="Robert", lastname="Smith", jobtitle="Sales", address1_city="Madrid"),
            contact("c2", firstname="Robert", lastname="Smith", address1_city="Madrid"),
        ],
    )
    run_matching(store, acme, clock=clock)
    with store(acme, read_only=True) as uow:
        queue = review_queue(uow, kind="people")
        assert count_review(uow, kind="people") == len(queue) == 2
    robert = person(store, acme, "p1")
    assert {(item.crm_id, item.target.id) for item in queue} == {("c1", robert), ("c2", robert)}
    assert all(item.fields for item in queue)
    assert any(field.differs for item in queue for field in item.fields)

    admin = principal(acme, admin=True)
    with pytest.raises(AdministratorRequiredError):
        decide_review(store, acme, actor=principal(acme), table="contact", crm_id="c1", target_id=robert, accept=False)
    assert decide_review(store, acme, actor=admin, table="contact", crm_id="c1", target_id=robert, accept=False) is None
    accepted = decide_review(store, acme, actor=admin, table="contact", crm_id="c2", target_id=robert, accept=True)
    with pytest.raises(MatchNotFoundError):
        decide_review(store, acme, actor=admin, table="contact", crm_id="c1", target_id=robert, accept=True)
    incremental = run_matching(store, acme, clock=clock)
    full = run_matching(store, acme, full=True, clock=clock)

    assert accepted is not None
    assert (accepted.band, accepted.origin) == (LinkBand.MATCH, LinkOrigin.CORRECTION)
    assert incremental.people.crm_changed == 1, "the rejected record is decided again"
    assert full.people.corrections_kept == 1
    with store(acme, read_only=True) as uow:
        assert link_of_crm_record(uow, "contact", "c1") is None
        kept = link_of_crm_record(uow, "contact", "c2")
        assert review_queue(uow, kind="people") == []
    assert kept is not None
    assert (kept.target_id, kept.origin) == (robert, LinkOrigin.CORRECTION)
    assert store.audit_actions(acme).count("match.review_rejected") == 1
    assert store.audit_actions(acme).count("match.review_accepted") == 1


def test_edits_of_a_match_need_a_seat_a_known_record_and_target_and_a_known_action(
    store: FakeStore, clock: FakeClock
) -> None:
    acme = seed(store, [Person("p1", "Ana López")], [contact("c1", firstname="Zed", lastname="Quux")])
    ana = person(store, acme, "p1")
    seller = principal(acme)

    with pytest.raises(SeatRequiredError):
        correct_match(store, acme, actor=principal(acme, seat=False), table="contact", crm_id="c1", action="unlink")
    with pytest.raises(InvalidRequestError):
        correct_match(store, acme, actor=seller, table="opportunity", crm_id="c1", action="unlink")
    with pytest.raises(InvalidRequestError):
        correct_match(store, acme, actor=seller, table="contact", crm_id="c1", action="merge")
    with pytest.raises(InvalidRequestError):
        correct_match(store, acme, actor=seller, table="contact", crm_id="c1", action="link")
    with pytest.raises(InvalidRequestError):
        correct_match(store, acme, actor=seller, table="contact", crm_id="c1", action="confirm")
    with pytest.raises(MatchNotFoundError):
        correct_match(store, acme, actor=seller, table="contact", crm_id="c9", action="unlink")
    with pytest.raises(MatchNotFoundError):
        correct_match(store, acme, actor=seller, table="contact", crm_id="c1", action="link", target_id=uuid.uuid4())
    admin_without_seat = principal(acme, admin=True, seat=False)
    linked = correct_match(
        store, acme, actor=admin_without_seat, table="contact", crm_id="c1", action="link", target_id=ana, clock=clock
    )
    confirmed = correct_match(store, acme, actor=seller, table="contact", crm_id="c1", action="confirm", clock=clock)

    assert (linked.target_id, confirmed.target_id, confirmed.band) == (ana, ana, LinkBand.MATCH)
    assert store.audit_actions(acme) == ["match.linked", "match.confirmed"]


def test_a_person_holding_two_crm_records_of_a_table_shows_them_as_duplicates(
    store: FakeStore, clock: FakeClock
) -> None:
    acme = seed(
        store,
        [Person("p1", first_name="Ana", last_name="López", emails=("ana@contoso.com",))],
        [
            contact("c1", firstname="Ana", lastname="López", emailaddress1="ana@contoso.com"),
            contact("c2", firstname="Ana", lastname="Lopez", emailaddress1="ana@contoso.com"),
        ],
    )
    run_matching(store, acme, clock=clock)

    with store(acme, read_only=True) as uow:
        links = links_of_person(uow, person(store, acme, "p1"))
    assert [(link.crm_id, link.is_tie, link.duplicate) for link in links] == [("c1", True, True), ("c2", True, True)]


def test_the_scorer_is_evaluated_against_corrections(store: FakeStore, clock: FakeClock) -> None:
    acme = seed(
        store,
        [
            Person("p1", first_name="Ana", last_name="López", emails=("ana@contoso.com",)),
            Person("p2", first_name="Bob", last_name="Smith", emails=("bob@fabrikam.com",)),
        ],
        [
            contact("c1", firstname="Ana", lastname="López", emailaddress1="ana@contoso.com"),
            contact("c2", firstname="Bob", lastname="Smith", emailaddress1="bob@fabrikam.com"),
        ],
    )
    run_matching(store, acme, clock=clock)
    seller = principal(acme)
    correct_match(store, acme, actor=seller, table="contact", crm_id="c1", action="confirm")
    correct_match(
        store, acme, actor=seller, table="contact", crm_id="c2", action="link", target_id=person(store, acme, "p1")
    )

    with store(acme, read_only=True) as uow:
        result = evaluate(uow)
    assert (result.labelled, result.true_positives, result.false_positives, result.false_negatives) == (2, 1, 1, 1)
    assert (result.precision, result.recall) == (0.5, 0.5)
    assert result.f1 == pytest.approx(0.5)


def test_every_match_action_is_named_and_its_details_labelled_or_hidden(store: FakeStore, clock: FakeClock) -> None:
    acme = seed(store, [Person("p1", "Ana López")], [contact("c1", firstname="Ana", lastname="López")])
    ana = person(store, acme, "p1")
    seller = principal(acme)
    correct_match(store, acme, actor=seller, table="contact", crm_id="c1", action="link", target_id=ana)
    correct_match(store, acme, actor=seller, table="contact", crm_id="c1", action="confirm")
    correct_match(store, acme, actor=seller, table="contact", crm_id="c1", action="unlink")
    with store(acme) as uow:
        link = uow.matches.get("contact", "c1")
        assert link is not None
        uow.matches.put([replace(link, band=LinkBand.REVIEW, target_id=ana, origin=LinkOrigin.SCORER)])
        uow.commit()
    admin = principal(acme, admin=True)
    decide_review(store, acme, actor=admin, table="contact", crm_id="c1", target_id=ana, accept=True)
    with store(acme) as uow:
        link = uow.matches.get("contact", "c1")
        assert link is not None
        uow.matches.put([replace(link, band=LinkBand.REVIEW, origin=LinkOrigin.SCORER)])
        uow.commit()
    decide_review(store, acme, actor=admin, table="contact", crm_id="c1", target_id=ana, accept=False)

    with store(acme, read_only=True) as uow:
        entries = uow.audit.recent(limit=10)
    assert {entry.action for entry in entries} == {
        "match.linked",
        "match.confirmed",
        "match.unlinked",
        "match.review_accepted",
        "match.review_rejected",
    }
    for entry in entries:
        assert entry.action in ACTION_NAMES
        assert set(entry.details) <= set(DETAIL_NAMES) | HIDDEN_DETAILS


def test_editing_an_accounts_match_decides_its_contacts_again(store: FakeStore, clock: FakeClock) -> None:
    account = {"id": "a1", "table": "account"}
    acme = seed(
        store,
        [Person("p1", first_name="Ana", last_name="López", emails=("ana@contoso.com",), company_name="Contoso")],
        [contact("c1", firstname="Ana", lastname="López", emailaddress1="ana@contoso.com", parentcustomerid=account)],
    )
    with store(acme) as uow:
        uow.companies.upsert_many([Company("k1", "Contoso", website="https://contoso.com")])
        uow.crm_records.upsert_many(
            "account",
            [RecordRow("a1", "Contoso", None, None, 0, {"name": "Contoso", "websiteurl": "contoso.com"})],
            generation=1,
        )
        uow.commit()
    first = run_matching(store, acme, clock=clock)
    correct_match(store, acme, actor=principal(acme), table="account", crm_id="a1", action="unlink", clock=clock)
    after = run_requested_matching(store, acme, clock=clock)

    assert first.companies.matched == 1
    assert after is not None, "the edit asked for a run"
    assert (after.companies.crm_changed, after.people.crm_changed) == (0, 1)


def test_the_jobs_page_names_the_matching_job_and_every_reason_it_is_queued_for() -> None:
    from salesbridge.services import matching
    from salesbridge.web.job_descriptions import REASONS, TASK_NAMES

    loads = {f"{kind}.{how}" for kind in ("people", "companies") for how in ("imported", "upserted")}
    assert MATCH_ORGANIZATION in TASK_NAMES
    assert {matching.IMPORT_REASON, matching.CORRECTED_REASON, matching.REVIEW_REJECTED_REASON} | loads <= set(REASONS)


def test_a_profile_url_in_the_column_the_admin_mapped_is_compared(store: FakeStore, clock: FakeClock) -> None:
    others = [Person(f"x{index}", f"Person {index}") for index in range(999)]
    acme = seed(
        store,
        [Person("p1", first_name="Ana", last_name="Lopez", profile_url="linkedin.com/in/ana-lopez-42"), *others],
        [],
    )
    run_matching(store, acme, clock=clock)
    url = {"new_linkedin": "https://www.linkedin.com/in/ana-lopez-42/?trk=x"}
    seed(store, [], [contact("c1", firstname="Ana", lastname="López", **url)])
    unmapped = run_matching(store, acme, clock=clock)
    with store(acme) as uow:
        settings = uow.crm_settings.get()
        uow.crm_settings.save(
            stage_source=settings.stage_source,
            stage_threshold=settings.stage_threshold,
            won_value_column=settings.won_value_column,
            won_value_base_currency=settings.won_value_base_currency,
            auto_save_enabled=settings.auto_save_enabled,
            sync_interval_minutes=settings.sync_interval_minutes,
            profile_url_columns={"contact": "new_linkedin"},
        )
        uow.commit()
    mapped = run_matching(store, acme, full=True, clock=clock)

    assert (unmapped.people.matched, unmapped.people.review) == (0, 0), "a shared name alone is no match"
    assert mapped.people.matched + mapped.people.review == 1
    with store(acme, read_only=True) as uow:
        link = link_of_crm_record(uow, "contact", "c1")
    assert link is not None
    assert link.target_id == person(store, acme, "p1")
    assert any(reason.field == "profile_url" and reason.level == "exact" for reason in link.reasons)
