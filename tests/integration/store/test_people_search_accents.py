"""Searches ignore accents as they ignore case, on SQLite and PostgreSQL: a seller typing "munoz malaga" finds
"Alejandro Muñoz" in "Málaga", typing the accents finds names stored without them, and the same holds for imported
CRM records searched by name. (Found by QA on the demo: "malaga" found nobody while "Málaga" found 13 people, and
"álvarez" found no CRM contact at all on SQLite.)"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session, sessionmaker

from salesbridge.domain.match_links import Badge
from salesbridge.domain.people import Company, Person
from salesbridge.domain.sync_runs import RecordRow
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.uow import UnitOfWorkFactory


def test_people_and_companies_are_found_with_or_without_accents(
    session_factory: sessionmaker[Session], cipher: CredentialCipher
) -> None:
    store = UnitOfWorkFactory(session_factory, cipher=cipher)
    acme = uuid.uuid4()
    with store(acme) as uow:
        uow.organization.create(slug="acme", name="Acme", seats_purchased=1)
        uow.people.upsert_many(
            [
                Person(
                    "p1", "Alejandro Muñoz", headline="Director Comercial", company_name="Cantábrico", city="Málaga"
                ),
                Person("p2", "Jose Garcia", company_name="Nortena", city="Sevilla"),
                Person("p3", "Zoë Ørsted", city="København"),
                Person("p4", "김민준", city="서울"),
            ]
        )
        uow.companies.upsert_many([Company("c1", "Norteña Alimentación S.A.C.", city="Lima", industry="Alimentación")])
        uow.commit()

    def names(found: list[Person]) -> list[str]:
        return [person.full_name for person in found]

    with store(acme, read_only=True) as uow:
        assert names(uow.people.search("munoz malaga")) == ["Alejandro Muñoz"]
        assert names(uow.people.search("MUÑOZ cantabrico")) == ["Alejandro Muñoz"]
        assert names(uow.people.search("José García")) == ["Jose Garcia"]
        assert names(uow.people.search("zoe")) == ["Zoë Ørsted"]
        assert names(uow.people.search("서울")) == ["김민준"]
        assert uow.people.count("comercial malaga") == 1
        assert [company.name for company in uow.companies.search("nortena alimentacion")] == [
            "Norteña Alimentación S.A.C."
        ]
        assert uow.companies.count("NORTEÑA lima") == 1
        # The People page's badge filter searches the same way.
        assert names(uow.matches.people_with_badge(Badge.NOT_IN_CRM, "malaga")) == ["Alejandro Muñoz"]
        assert uow.matches.count_people_with_badge(Badge.NOT_IN_CRM, "sevilla garcía") == 1


def test_imported_crm_records_are_found_by_name_with_or_without_accents_and_in_any_case(
    session_factory: sessionmaker[Session], cipher: CredentialCipher
) -> None:
    """Lists' "Add records" and a person's "Tie a CRM contact or lead" search imported records by name. On SQLite,
    lower() knows only ASCII letters, so "álvarez" found nobody called "Álvarez" (QA, on the demo)."""
    store = UnitOfWorkFactory(session_factory, cipher=cipher)
    acme = uuid.uuid4()

    def contact(crm_id: str, name: str) -> RecordRow:
        return RecordRow(crm_id, name, None, None, 0, {"fullname": name, "statecode": 0})

    with store(acme) as uow:
        uow.organization.create(slug="acme", name="Acme", seats_purchased=1)
        names = [
            "Cristina Morales Álvarez",
            "Isabel Martín González",
            "Hugo Martin",
            "Łukasz Wałęsa",
            "Jose\u0301 Ruiz",
        ]
        uow.crm_records.upsert_many("contact", [contact(f"c{n}", name) for n, name in enumerate(names)], generation=1)
        uow.crm_records.upsert_many("account", [contact("a1", "ÉLITE ÓPTICA S.L.")], generation=1)
        uow.commit()

    def found(text: str) -> list[str]:
        with store(acme, read_only=True) as uow:
            return [name for _, _, name in uow.crm_record_queries.search(("account", "contact"), text)]

    assert found("álvarez") == ["Cristina Morales Álvarez"]
    assert found("ALVAREZ") == ["Cristina Morales Álvarez"]
    assert found("martin") == ["Hugo Martin", "Isabel Martín González"]
    assert found("Martín") == ["Hugo Martin", "Isabel Martín González"]
    assert found("lukasz walesa") == ["Łukasz Wałęsa"]
    assert found("josé") == ["Jose\u0301 Ruiz"]
    assert found("élite óptica") == ["ÉLITE ÓPTICA S.L."]
    assert found("100%") == []
