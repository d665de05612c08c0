"""The opportunities' named records (``crm_opportunity_records``, migration 0032) and report facts
(``crm_opportunity_facts``, migration 0035) on SQLite and PostgreSQL: they stay exactly what
:func:`salesbridge.domain.reports.named_records` and :func:`~salesbridge.domain.reports.report_facts` say of the
stored opportunities through an upsert, a deletion, a full read's sweep and the purge, and the migrations fill them
for opportunities imported before them. What the reports read through them is checked in
``services/test_reports.py``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session, sessionmaker

from salesbridge.domain.reports import named_records, report_facts
from salesbridge.domain.sync_runs import RecordRow
from salesbridge.services.connecting import create_organization
from salesbridge.store.database import create_engine_for, migrate
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.tables import CrmOpportunityFacts, CrmOpportunityRecord, CrmRecord
from salesbridge.store.uow import UnitOfWorkFactory

Named = set[tuple[str, str, str]]
ACCOUNT, CONTACT, LEAD = "A0000000-0000-0000-0000-00000000000A", "c0000000-0000-0000-0000-00000000000c", "lead-1"


def _lookup(table: str, crm_id: str) -> dict[str, str]:
    return {"id": crm_id, "table": table}


VALUED_FACTS: dict[str, Any] = {
    "statecode": 1,
    "stepname": "3-Propose",
    "createdon": "2026-11-02T10:00:00Z",
    "actualclosedate": "2026-11-20",
    "actualvalue": 900.5,
    "budgetamount_base": 12,
    "exchangerate": 1.5,
}
"""The report's columns of the valued opportunity below: its facts are these, without its lookup, flag or text."""

SHAPES: dict[str, dict[str, Any]] = {
    "o-all": {
        "parentaccountid": _lookup("account", ACCOUNT),
        "customerid": _lookup("account", "other-account"),
        "parentcontactid": _lookup("contact", CONTACT.upper()),
        "originatingleadid": _lookup("lead", LEAD),
    },
    "o-customer-account": {"customerid": _lookup("account", ACCOUNT)},
    "o-customer-contact": {"customerid": _lookup("contact", CONTACT), "parentcontactid": _lookup("contact", CONTACT)},
    "o-empty": {"parentaccountid": _lookup("account", ""), "customerid": "not a lookup", "name": "Nothing named"},
    "o-too-long": {"parentcontactid": _lookup("contact", "x" * 37), "originatingleadid": _lookup("lead", LEAD)},
    "o-valued": {
        "parentaccountid": _lookup("account", ACCOUNT),
        **VALUED_FACTS,
        "isrevenuesystemcalculated": True,
        "description": "Long text the report never reads",
    },
}
"""Opportunities naming their records every way the rule knows (upper case, a customer of either kind, the same
contact twice, empty and malformed lookups, an id longer than any record's)."""


@pytest.fixture
def store(session_factory: sessionmaker[Session], cipher: CredentialCipher) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(session_factory, cipher=cipher)


def _row(crm_id: str, data: dict[str, Any]) -> RecordRow:
    return RecordRow(crm_id, crm_id, None, None, 0, data)


def _expected(opportunities: dict[str, dict[str, Any]]) -> Named:
    return {
        (crm_id, table, record_id) for crm_id, data in opportunities.items() for table, record_id in named_records(data)
    }


Facts = dict[str, tuple[str | None, dict[str, Any]]]


def _expected_facts(opportunities: dict[str, dict[str, Any]]) -> Facts:
    return {crm_id: (crm_id, report_facts(data)) for crm_id, data in opportunities.items()}


def _stored_facts(engine: Engine, organization_id: uuid.UUID) -> Facts:
    facts = CrmOpportunityFacts
    with engine.connect() as connection:
        rows = connection.execute(
            select(facts.opportunity_id, facts.name, facts.facts).where(facts.organization_id == organization_id)
        )
        return {row[0]: (row[1], row[2]) for row in rows}


def _stored(engine: Engine, organization_id: uuid.UUID) -> Named:
    named = CrmOpportunityRecord
    with engine.connect() as connection:
        rows = connection.execute(
            select(named.opportunity_id, named.record_table, named.record_id).where(
                named.organization_id == organization_id
            )
        )
        return {(row[0], row[1], row[2]) for row in rows}


def test_the_named_records_follow_upserts_deletions_the_sweep_and_the_purge(
    store: UnitOfWorkFactory, engine: Engine
) -> None:
    acme, other = create_organization(store, slug="acme", seats=1), create_organization(store, slug="other", seats=1)
    with store(other) as uow:  # another organization's opportunity: never touched by acme's writes
        uow.crm_records.upsert_many("opportunity", [_row("o-all", SHAPES["o-all"])], generation=1, new=True)
        uow.commit()
    with store(acme) as uow:
        rows = [_row(crm_id, data) for crm_id, data in SHAPES.items()]
        uow.crm_records.upsert_many("opportunity", rows, generation=1, new=True)
        uow.crm_records.upsert_many(
            "contact", [_row("c-1", {"parentcustomerid": _lookup("account", ACCOUNT)})], generation=1
        )
        uow.commit()
    assert _stored(engine, acme) == _expected(SHAPES)
    assert _stored_facts(engine, acme) == _expected_facts(SHAPES)
    assert _stored_facts(engine, acme)["o-valued"][1] == VALUED_FACTS, "the rule's columns and numbers, nothing else"
    assert ("o-all", "account", ACCOUNT.lower()) in _stored(engine, acme), "ids in lower case"
    assert not any(record_id == "other-account" for _, _, record_id in _stored(engine, acme)), "parent account first"

    # An upsert replaces what the opportunity named (a later page of the same run, generation 2: a full read).
    changed = {"parentcontactid": _lookup("contact", "c-2")}
    with store(acme) as uow:
        uow.crm_records.upsert_many("opportunity", [_row("o-all", changed)], generation=2)
        uow.commit()
    now = {**SHAPES, "o-all": changed}
    assert _stored(engine, acme) == _expected(now)
    assert _stored_facts(engine, acme) == _expected_facts(now)

    # A deletion (a tombstone) removes them.
    with store(acme) as uow:
        assert uow.crm_records.delete_ids("opportunity", ["o-customer-account"]) == 1
        uow.commit()
    del now["o-customer-account"]
    assert _stored(engine, acme) == _expected(now)
    assert _stored_facts(engine, acme) == _expected_facts(now)

    # The full read of generation 2 saw only o-all: its sweep removes the others' named records too.
    with store(acme) as uow:
        assert uow.crm_records.sweep_older_generations("opportunity", 2, after=None, limit=100)[1] is None
        uow.commit()
    assert _stored(engine, acme) == _expected({"o-all": changed})
    assert _stored(engine, other) == _expected({"o-all": SHAPES["o-all"]})
    assert _stored_facts(engine, acme) == _expected_facts({"o-all": changed})

    # The purge on disconnect deletes them with the records.
    with store(acme) as uow:
        uow.imported_data.delete_crm_records()
        uow.commit()
    assert _stored(engine, acme) == set()
    assert _stored(engine, other) == _expected({"o-all": SHAPES["o-all"]})
    assert _stored_facts(engine, acme) == {}
    assert _stored_facts(engine, other) == _expected_facts({"o-all": SHAPES["o-all"]})


def test_the_migration_fills_them_for_opportunities_imported_before_it(database_url: str) -> None:
    migrate(database_url, revision="0031")
    engine = create_engine_for(database_url)
    organization_id = uuid.uuid4()
    at = datetime(2026, 12, 1, tzinfo=UTC)
    rows = [("opportunity", crm_id, data) for crm_id, data in SHAPES.items()]
    rows.append(("contact", "c-1", {"parentcustomerid": _lookup("account", ACCOUNT)}))
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(CrmRecord),
                [
                    {
                        "organization_id": organization_id,
                        "table_name": table,
                        "crm_id": crm_id,
                        "name": crm_id,
                        "owner_id": None,
                        "parent_id": None,
                        "state_code": 0,
                        "data": orjson.loads(orjson.dumps(data)),
                        "generation": 1,
                        "imported_at": at,
                    }
                    for table, crm_id, data in rows
                ],
            )
        migrate(database_url)

        assert _stored(engine, organization_id) == _expected(SHAPES)
        assert _stored_facts(engine, organization_id) == _expected_facts(SHAPES)
    finally:
        engine.dispose()
