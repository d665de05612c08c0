"""Counting a search's people and companies on SQLite reads migration 0028's covering index of their search text
(not every wide row in another index's order), and finds exactly whom the search finds: every word, any case, any
accent; on PostgreSQL (no such index) the same people are found."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from salesbridge.domain.people import Company, Person
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.uow import UnitOfWorkFactory


def test_search_counts_read_the_search_text_index_and_find_the_same_people(
    session_factory: sessionmaker[Session], cipher: CredentialCipher
) -> None:
    store = UnitOfWorkFactory(session_factory, cipher=cipher)
    acme, globex = uuid.uuid4(), uuid.uuid4()
    with store(acme) as uow:
        uow.organization.create(slug="acme", name="Acme", seats_purchased=1)
        uow.people.upsert_many(
            [
                Person("p1", "Ana Smith", company_name="Müller GmbH", city="Málaga"),
                Person("p2", "Bob SMITHERS", headline="Buyer"),
                Person("p3", "Carla Núñez", company_name="Smithfield"),
                Person("p4", "David Jones"),
            ]
        )
        uow.companies.upsert_many([Company("c1", "Smith & Sons", city="León"), Company("c2", "Contoso")])
        uow.commit()
    with store(globex) as uow:
        uow.organization.create(slug="globex", name="Globex", seats_purchased=1)
        uow.people.upsert_many([Person("g1", "Gina Smith")])
        uow.commit()

    with store(acme, read_only=True) as uow:
        assert [person.external_id for person in uow.people.search("smith")] == ["p1", "p2", "p3"]
        assert uow.people.count("smith") == 3
        assert uow.people.count("SMITH malaga muller") == 1
        assert uow.people.count("núñez") == 1
        assert uow.companies.count("smith leon") == 1
        assert uow.people.count("nobody") == 0

    with session_factory() as session:
        if session.get_bind().dialect.name == "sqlite":
            for table in ("people", "companies"):
                plan = session.execute(
                    text(
                        f"EXPLAIN QUERY PLAN SELECT count(*) FROM {table} "
                        "WHERE organization_id = :org AND search_text LIKE '%smith%'"
                    ),
                    {"org": acme.hex},
                ).all()
                assert f"COVERING INDEX ix_{table}_organization_id_search_text" in " ".join(str(row) for row in plan)
