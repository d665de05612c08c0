"""Matching end to end on SQLite and PostgreSQL, against a real sandbox over TLS: an import and a people load end
matched; corrections survive "Sync now" and re-matching; a contact deleted in the CRM unlinks; a job change in the
CRM shows "Out of date"; an incremental run compares only what changed; two runs at once never double-link; another
organization reads and corrects nothing of ours."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.integration.services.conftest import SANDBOX_TARGETS, RunningSandbox, _serve

from salesbridge.crm.dynamics import DynamicsConnector
from salesbridge.crm.ports import LookupValue
from salesbridge.domain.csv_rows import read_company_csv, read_people_csv
from salesbridge.domain.match_links import LinkBand, LinkOrigin
from salesbridge.domain.workspace import SeatState
from salesbridge.errors import MatchNotFoundError
from salesbridge.jobs.runner import EmbeddedRunner
from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.services.account_rules import Principal
from salesbridge.services.connecting import connect_crm, create_organization
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.matching import (
    badges_of_people,
    correct_match,
    link_of_crm_record,
    links_of_person,
    match_report,
    run_matching,
    run_requested_matching,
    unmatched_rows,
)
from salesbridge.services.people_load import load_companies, load_people
from salesbridge.services.ports import CrmSessionFactory
from salesbridge.services.sync import request_sync
from salesbridge.store.uow import UnitOfWorkFactory, utc_now

COMPANIES_CSV = b"id,name,website\nk1,Contoso,https://contoso.com\nk2,Fabrikam Inc.,https://www.fabrikam.com\n"
PEOPLE_CSV = (
    "id,first_name,last_name,email,job_title,company_name,city\n"
    "p1,Robert,Smith,bob.smith@contoso.com,Head of Sales,Contoso,Madrid\n"
    "p2,Ana,García,ana.garcia@fabrikam.com,CTO,Fabrikam,Sevilla\n"
    "p3,Carla,Díaz,carla@example.org,Engineer,Northwind,Lisboa\n"
).encode()


@dataclass
class Crm:
    """The CRM side of a test: the connector and the ids of what it wrote."""

    connector: DynamicsConnector
    contoso: str
    fabrikam: str
    bob: str
    ana: str
    ghost: str  # a contact nobody in the workspace is


@pytest.fixture
def empty_sandbox(
    tmp_path_factory: pytest.TempPathFactory, sandbox_signing_key: rsa.RSAPrivateKey
) -> Iterator[RunningSandbox]:
    yield from _serve(build_sandbox(signing_key=sandbox_signing_key), tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def crm(empty_sandbox: RunningSandbox, sessions: CrmSessionFactory) -> AsyncIterator[Crm]:
    session = sessions(empty_sandbox.connected_credentials())
    assert isinstance(session, DynamicsConnector)
    ids = [str(uuid.uuid4()) for _ in range(5)]
    writer = session.writer
    await writer.create("account", {"name": "CONTOSO LTD", "websiteurl": "contoso.com"}, record_id=ids[0])
    await writer.create("account", {"name": "Fabrikam", "websiteurl": "fabrikam.com"}, record_id=ids[1])
    contoso, fabrikam = LookupValue(ids[0], "account"), LookupValue(ids[1], "account")
    await writer.create(
        "contact",
        {
            "firstname": "Bob",
            "lastname": "Smith",
            "emailaddress1": "bob.smith@contoso.com",
            "jobtitle": "Head of Sales",
            "parentcustomerid": contoso,
        },
        record_id=ids[2],
    )
    await writer.create(
        "contact",
        {
            "firstname": "Ana",
            "lastname": "Garcia",
            "emailaddress1": "ana.garcia@fabrikam.com",
            "jobtitle": "CTO",
            "parentcustomerid": fabrikam,
        },
        record_id=ids[3],
    )
    await writer.create("contact", {"firstname": "Zed", "lastname": "Quux", "jobtitle": "Buyer"}, record_id=ids[4])
    yield Crm(session, *ids)
    await session.close()


@pytest.fixture
async def acme(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, empty_sandbox: RunningSandbox, crm: Crm
) -> uuid.UUID:
    """Organization acme connected to the sandbox, its CRM imported, its people and companies loaded, and the
    matching they requested run."""
    organization_id = create_organization(store, slug="acme", seats=5)
    outcome = await connect_crm(
        store, sessions, slug="acme", credentials=empty_sandbox.credentials(), targets=SANDBOX_TARGETS
    )
    assert outcome.is_connected
    await sync(store, sessions, organization_id)
    load_companies(store, "acme", read_company_csv(COMPANIES_CSV), actor="admin@acme.test")
    load_people(store, "acme", read_people_csv(PEOPLE_CSV), actor="admin@acme.test")
    summary = run_requested_matching(store, organization_id, clock=utc_now)
    assert summary is not None, "the import and the loads asked for a run"
    return organization_id


async def sync(store: UnitOfWorkFactory, sessions: CrmSessionFactory, organization_id: uuid.UUID) -> None:
    request_sync(store, slug=store.slug_of(organization_id) or "", actor="admin@acme.test")
    outcome = await run_pending_import(store, sessions, organization_id, clock=utc_now)
    assert outcome is not None
    assert outcome.succeeded, outcome.error


def person_id(store: UnitOfWorkFactory, organization_id: uuid.UUID, external_id: str) -> uuid.UUID:
    with store(organization_id, read_only=True) as uow:
        person = uow.people.get_by_external_id(external_id)
    assert person is not None
    assert person.id is not None
    return person.id


def principal(store: UnitOfWorkFactory, organization_id: uuid.UUID, *, slug: str = "acme") -> Principal:
    """A seller of the organization holding a seat (a real user: corrections name who made them)."""
    email = f"seller-{uuid.uuid4().hex[:6]}@{slug}.test"
    with store(organization_id) as uow:
        user = uow.users.add(email=email, display_name="Sam Seller")
        uow.seats.add(user_id=user.id, state=SeatState.ACTIVE, assigned_by="admin")
        uow.commit()
    return Principal(
        organization_id=organization_id,
        organization_slug=slug,
        user_id=user.id,
        email=email,
        display_name="Sam Seller",
        is_admin=False,
        has_seat=True,
        locale="en",
    )


async def test_an_import_and_a_people_load_end_matched(
    store: UnitOfWorkFactory, acme: uuid.UUID, crm: Crm, empty_sandbox: RunningSandbox
) -> None:
    bob = person_id(store, acme, "p1")
    with store(acme, read_only=True) as uow:
        links = links_of_person(uow, bob)
        account = link_of_crm_record(uow, "account", crm.contoso)
        badges = badges_of_people(uow, [bob, person_id(store, acme, "p3")])
        report = {table.table: table for table in match_report(uow).tables}
        unmatched = list(unmatched_rows(uow, "contact"))
        contoso = uow.companies.get_by_external_id("k1")
    assert [(link.table, link.crm_id, link.band) for link in links] == [("contact", crm.bob, LinkBand.MATCH)]
    link = links[0]
    assert link.record is not None
    assert (link.record.name, link.record.email, link.record.company_name) == (
        "Bob Smith",
        "bob.smith@contoso.com",
        "CONTOSO LTD",
    )
    assert link.record.owner_name, "the owner's name comes from the imported CRM users"
    expected_url = f"{empty_sandbox.org_url}/main.aspx?etn=contact&id={crm.bob}&pagetype=entityrecord"
    assert link.record.url == expected_url
    assert {reason.field for reason in link.reasons} >= {"email", "name"}
    assert link.stale_fields == ()
    assert account is not None
    assert contoso is not None
    assert (account.band, account.target_id) == (LinkBand.MATCH, contoso.id)
    assert badges[bob].in_crm
    assert badges[bob].crm_urls == (expected_url,)
    assert not badges[person_id(store, acme, "p3")].in_crm
    assert (report["contact"].total, report["contact"].matched, report["contact"].unmatched) == (3, 2, 1)
    assert report["account"].matched == 2
    assert [row["crm_id"] for row in unmatched] == [crm.ghost]


async def test_a_correction_survives_sync_now_and_rematching(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, acme: uuid.UUID, crm: Crm
) -> None:
    carla = person_id(store, acme, "p3")
    seller = principal(store, acme)
    corrected = correct_match(
        store, acme, actor=seller, table="contact", crm_id=crm.ghost, action="link", target_id=carla
    )
    unlinked = correct_match(store, acme, actor=seller, table="contact", crm_id=crm.ana, action="unlink")
    assert (corrected.origin, corrected.target_id, corrected.band) == (LinkOrigin.CORRECTION, carla, LinkBand.MATCH)
    assert corrected.decided_by == "Sam Seller"
    assert (unlinked.target_id, unlinked.band) == (None, LinkBand.NO_MATCH)

    await crm.connector.writer.update("contact", crm.ghost, {"jobtitle": "Chief Buyer"})
    await sync(store, sessions, acme)
    incremental = run_requested_matching(store, acme, clock=utc_now)
    full = run_matching(store, acme, full=True, clock=utc_now)

    assert incremental is not None
    assert incremental.people.corrections_kept == 1, "the changed contact is corrected: the scorer leaves it"
    assert full.people.corrections_kept == 2
    with store(acme, read_only=True) as uow:
        ghost = link_of_crm_record(uow, "contact", crm.ghost)
        ana = link_of_crm_record(uow, "contact", crm.ana)
        actions = [entry.action for entry in uow.audit.recent(limit=20)]
    assert ghost is not None
    assert ana is not None
    assert (ghost.target_id, ghost.origin) == (carla, LinkOrigin.CORRECTION)
    assert ghost.record is not None
    assert ghost.record.job_title == "Chief Buyer"
    assert (ana.target_id, ana.band) == (None, LinkBand.NO_MATCH)
    assert (actions.count("match.linked"), actions.count("match.unlinked")) == (1, 1)


async def test_a_contact_deleted_in_the_crm_unlinks(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, acme: uuid.UUID, crm: Crm
) -> None:
    bob = person_id(store, acme, "p1")
    await crm.connector.writer.delete("contact", crm.bob)
    await sync(store, sessions, acme)
    summary = run_requested_matching(store, acme, clock=utc_now)

    assert summary is not None
    assert summary.people.unlinked == 1
    with store(acme, read_only=True) as uow:
        assert links_of_person(uow, bob) == []
        assert link_of_crm_record(uow, "contact", crm.bob) is None
        assert not badges_of_people(uow, [bob])[bob].in_crm


async def test_a_job_change_in_the_crm_shows_out_of_date(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, acme: uuid.UUID, crm: Crm
) -> None:
    bob = person_id(store, acme, "p1")
    await crm.connector.writer.update("contact", crm.bob, {"jobtitle": "Chief Financial Officer"})
    await sync(store, sessions, acme)
    run_requested_matching(store, acme, clock=utc_now)

    with store(acme, read_only=True) as uow:
        badges = badges_of_people(uow, [bob])[bob]
        (link,) = links_of_person(uow, bob)
    assert badges.in_crm
    assert badges.out_of_date
    assert "title" in link.stale_fields


async def test_an_incremental_run_compares_only_what_changed(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, acme: uuid.UUID, crm: Crm
) -> None:
    nothing = run_matching(store, acme, clock=utc_now)
    await crm.connector.writer.update("contact", crm.ana, {"lastname": "García"})
    await sync(store, sessions, acme)
    one = run_requested_matching(store, acme, clock=utc_now)
    full = run_matching(store, acme, full=True, clock=utc_now)

    assert (nothing.full, nothing.compared_pairs, nothing.people.crm_changed) == (False, 0, 0)
    assert one is not None
    assert (one.full, one.companies.crm_changed, one.people.crm_changed) == (False, 0, 1)
    assert one.people.compared_pairs == 1, "Ana's contact meets Ana only"
    assert one.people.matched == 1
    assert full.people.crm_changed == 3
    assert full.compared_pairs > one.compared_pairs


async def test_two_runs_at_once_do_not_double_link(store: UnitOfWorkFactory, acme: uuid.UUID, crm: Crm) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_matching(store, acme, full=True, clock=utc_now)
        except BaseException as error:  # noqa: BLE001 - collected and asserted on
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with store(acme, read_only=True) as uow:
        report = {table.table: table for table in match_report(uow).tables}
        ties = [link for link in uow.matches.links("contact", [crm.bob, crm.ana, crm.ghost]).values() if link.is_tie]
    assert report["contact"].matched == 2
    assert sorted(link.crm_id for link in ties) == sorted([crm.bob, crm.ana])


async def test_another_organization_neither_reads_nor_corrects_our_links(
    store: UnitOfWorkFactory, acme: uuid.UUID, crm: Crm
) -> None:
    globex = create_organization(store, slug="globex", seats=5)
    bob = person_id(store, acme, "p1")
    intruder = principal(store, globex, slug="globex")
    intruder_admin = replace(intruder, is_admin=True)

    with pytest.raises(MatchNotFoundError):
        correct_match(store, acme, actor=intruder_admin, table="contact", crm_id=crm.bob, action="unlink")
    with pytest.raises(MatchNotFoundError):
        correct_match(store, globex, actor=intruder, table="contact", crm_id=crm.bob, action="link", target_id=bob)
    with store(globex, read_only=True) as uow:
        assert links_of_person(uow, bob) == []
        assert link_of_crm_record(uow, "contact", crm.bob) is None
        assert not badges_of_people(uow, [bob])[bob].in_crm
    with store(acme, read_only=True) as uow:
        link = link_of_crm_record(uow, "contact", crm.bob)
    assert link is not None
    assert (link.target_id, link.origin) == (bob, LinkOrigin.SCORER)


async def test_the_embedded_runner_matches_after_the_import_that_asked_for_it(
    store: UnitOfWorkFactory, sessions: CrmSessionFactory, acme: uuid.UUID, crm: Crm
) -> None:
    bob = person_id(store, acme, "p1")
    await crm.connector.writer.update("contact", crm.bob, {"jobtitle": "Chief Financial Officer"})
    request_sync(store, slug="acme", actor="admin@acme.test")
    runner = EmbeddedRunner(store, sessions, store.connected_organization_ids, clock=utc_now)

    outcomes = await asyncio.to_thread(runner.run_once)

    assert [outcome.succeeded for outcome in outcomes] == [True]
    with store(acme, read_only=True) as uow:
        assert uow.matches.state().requested_at is None, "the runner ran the matching the import asked for"
        assert badges_of_people(uow, [bob])[bob].out_of_date
