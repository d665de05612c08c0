"""A matching run leaves none of the engine's caches of values behind (SQLite and PostgreSQL): full or incremental,
committed or failed. Before, a console that matched after each import kept them for its whole life (several hundred
MiB once filled by a large organization's run; docs/performance.md § Matching)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, text
from tests.integration.services.test_matching import COMPANIES_CSV, PEOPLE_CSV, principal

from salesbridge.domain.csv_rows import read_company_csv, read_people_csv
from salesbridge.domain.sync_runs import RecordRow
from salesbridge.matching.caches import registered_caches
from salesbridge.services.connecting import create_organization
from salesbridge.services.matching import CorrectionAction, correct_match, evaluate, run_matching
from salesbridge.services.people_load import load_companies, load_people
from salesbridge.store import create_session_factory
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.tables import MatchRateSnapshotRow
from salesbridge.store.uow import UnitOfWorkFactory, utc_now

CONTOSO, FABRIKAM = str(uuid.UUID(int=0xA1)), str(uuid.UUID(int=0xA2))
BOB, ANA, ZED = (str(uuid.UUID(int=0xC1)), str(uuid.UUID(int=0xC2)), str(uuid.UUID(int=0xC3)))


def _contact(crm_id: str, first: str, last: str, title: str, account: str | None, email: str | None) -> RecordRow:
    data: dict[str, object] = {"firstname": first, "lastname": last, "jobtitle": title}
    if email:
        data["emailaddress1"] = email
    if account:
        data["parentcustomerid"] = {"id": account, "table": "account"}
    return RecordRow(crm_id, f"{first} {last}", None, account, 0, data)


@pytest.fixture
def store(engine: Engine) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))


@pytest.fixture
def acme(store: UnitOfWorkFactory) -> uuid.UUID:
    """acme with two accounts and three contacts imported, two companies and three people loaded."""
    organization_id = create_organization(store, slug="acme", seats=5)
    with store(organization_id) as uow:
        uow.crm_records.upsert_many(
            "account",
            [
                RecordRow(CONTOSO, "CONTOSO LTD", None, None, 0, {"name": "CONTOSO LTD", "websiteurl": "contoso.com"}),
                RecordRow(FABRIKAM, "Fabrikam", None, None, 0, {"name": "Fabrikam", "websiteurl": "fabrikam.com"}),
            ],
            generation=1,
        )
        uow.crm_records.upsert_many(
            "contact",
            [
                _contact(BOB, "Bob", "Smith", "Head of Sales", CONTOSO, "bob.smith@contoso.com"),
                _contact(ANA, "Ana", "Garcia", "CTO", FABRIKAM, "ana.garcia@fabrikam.com"),
                _contact(ZED, "Zed", "Quux", "Buyer", None, None),
            ],
            generation=1,
        )
        uow.commit()
    load_companies(store, "acme", read_company_csv(COMPANIES_CSV), actor="admin@acme.test")
    load_people(store, "acme", read_people_csv(PEOPLE_CSV), actor="admin@acme.test")
    return organization_id


def _held() -> dict[str, int]:
    """The registered caches holding entries now, by name, with their entry counts."""
    return {
        cached.__wrapped__.__qualname__: cached.cache_info().currsize
        for cached in registered_caches()
        if cached.cache_info().currsize
    }


def test_full_and_incremental_runs_leave_no_cache_behind(store: UnitOfWorkFactory, acme: uuid.UUID) -> None:
    full = run_matching(store, acme, full=True, clock=utc_now)

    assert (full.companies.matched, full.people.matched) == (2, 2), "the run compared records"
    assert _held() == {}

    with store(acme) as uow:
        uow.crm_records.upsert_many(
            "contact", [_contact(ANA, "Ana", "Garcia", "Chief Technology Officer", FABRIKAM, None)], generation=1
        )
        uow.commit()
    incremental = run_matching(store, acme, clock=utc_now)

    assert not incremental.full
    assert incremental.people.compared_pairs > 0, "the changed contact was decided again"
    assert _held() == {}


def test_a_failed_run_leaves_no_cache_behind(store: UnitOfWorkFactory, engine: Engine, acme: uuid.UUID) -> None:
    """The run fails at its end, after every record was decided: the table of the reports' match rates is gone."""
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {MatchRateSnapshotRow.__tablename__}"))

    with pytest.raises(Exception, match="match_rate_snapshots"):
        run_matching(store, acme, full=True, clock=utc_now)

    assert _held() == {}


def test_an_evaluation_leaves_no_cache_behind(store: UnitOfWorkFactory, acme: uuid.UUID) -> None:
    """The console's evaluation (``GET …/matching/evaluation``) decides every labelled record again with the engine."""
    run_matching(store, acme, full=True, clock=utc_now)
    correct_match(
        store, acme, actor=principal(store, acme), table="contact", crm_id=BOB, action=CorrectionAction.CONFIRM
    )

    with store(acme, read_only=True) as uow:
        found = evaluate(uow)

    assert (found.labelled, found.true_positives) == (1, 1), "the engine decided Bob again"
    assert _held() == {}
