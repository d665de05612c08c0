"""The demo's workspace people and companies (what ``make demo`` loads after the first import), against the demo
sandbox over TLS on SQLite and PostgreSQL: the demo organization maps the CRM's profile-URL column, holds people
and companies overlapping its CRM, and ends matched — the ties agreeing with the generator's truth."""

from __future__ import annotations

import uuid

from tests.integration.services.conftest import SANDBOX_TARGETS, RunningSandbox

from salesbridge.bootstrap import load_demo_people, prepare_demo_workspace
from salesbridge.sandbox.seeds.demo_workspace import TruthLink, crm_rows_of_sandbox, generate_workspace
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.matching import badges_of_people, link_of_crm_record, match_report
from salesbridge.services.ports import CrmSessionFactory, UnitOfWork
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
