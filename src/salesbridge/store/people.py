"""Repositories of the workspace's own people and companies (:mod:`salesbridge.domain.people`).

A bulk upsert reads the stored rows of the external ids it is given (in chunks), then inserts the new ones and
updates the changed ones with one multi-row statement each (Core executemany: no ORM objects, nothing stale in the
session), all in the caller's transaction: 10,000 rows cost a few statements, and nothing is half-written when the
caller rolls back. Search compares the casefolded words of the query with ``search_text``, computed in Python when a
row is stored, so SQLite and PostgreSQL find the same rows (SQL's ``lower`` differs between them beyond ASCII).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, Final, Generic, TypeVar

from sqlalchemy import RowMapping, Table, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from salesbridge.domain.people import (
    UNKNOWN_COMPANY_MESSAGE,
    Company,
    Person,
    UpsertCounts,
    keeping_stored,
    search_words,
)
from salesbridge.errors import ConcurrentWriteError, InvalidInputError
from salesbridge.store.repositories import _ScopedRepository
from salesbridge.store.tables import Base

_CHUNK: Final = 500
"""External ids per ``IN (...)`` read: well under every backend's limit on bound parameters."""

_Value = TypeVar("_Value", Person, Company)


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _person_columns(person: Person) -> dict[str, Any]:
    return {
        "external_id": person.external_id,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "full_name": person.full_name,
        "headline": person.headline,
        "company_id": person.company_id,
        "company_name": person.company_name,
        "company_external_id": person.company_external_id,
        "past_companies": list(person.past_companies),
        "city": person.city,
        "region": person.region,
        "country": person.country,
        "emails": list(person.emails),
        "phones": list(person.phones),
        "profile_url": person.profile_url,
        "source": person.source,
        "sort_name": person.sort_name(),
        "search_text": person.search_text(),
    }


def _person_value(row: RowMapping) -> Person:
    return Person(
        external_id=row["external_id"],
        full_name=row["full_name"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        headline=row["headline"],
        company_id=row["company_id"],
        company_name=row["company_name"],
        company_external_id=row["company_external_id"],
        past_companies=tuple(row["past_companies"]),
        city=row["city"],
        region=row["region"],
        country=row["country"],
        emails=tuple(row["emails"]),
        phones=tuple(row["phones"]),
        profile_url=row["profile_url"],
        source=row["source"],
        id=row["id"],
        updated_at=row["updated_at"],
    )


def _company_columns(company: Company) -> dict[str, Any]:
    return {
        "external_id": company.external_id,
        "name": company.name,
        "website": company.website,
        "domain": company.domain,
        "industry": company.industry,
        "employee_count": company.employee_count,
        "city": company.city,
        "region": company.region,
        "country": company.country,
        "phone": company.phone,
        "profile_url": company.profile_url,
        "sort_name": company.sort_name(),
        "search_text": company.search_text(),
    }


def _company_value(row: RowMapping) -> Company:
    return Company(
        **{name: row[name] for name in ("external_id", "name", "website", "domain", "industry", "employee_count")},
        **{name: row[name] for name in ("city", "region", "country", "phone", "profile_url", "id", "updated_at")},
    )


class _ProfileRepository(_ScopedRepository, Generic[_Value]):
    """What people and companies share: upsert by external id, reads scoped to the organization, search."""

    _table: Table
    _columns: Callable[[_Value], dict[str, Any]]
    _value: Callable[[RowMapping], _Value]

    def _scope(self) -> ColumnElement[bool]:
        return self._table.c.organization_id == self._organization_id

    def _check(self, values: Sequence[_Value]) -> None:
        """Hook: raise before anything is written when a value refers to what the organization lacks."""

    def upsert_many(self, values: list[_Value], *, kept: Mapping[str, Collection[str]] | None = None) -> UpsertCounts:
        """Insert the new external ids, update the changed, count the unchanged (see the port). Does not commit.

        Raises:
            ConcurrentWriteError: another transaction inserted one of the new external ids after they were read
                (PostgreSQL; SQLite serialises writers); the caller rolls back and tries again.
        """
        latest = {value.external_id: value for value in values}  # the last value of a repeated external id wins
        if not latest:
            return UpsertCounts()
        self._check(list(latest.values()))
        table = self._table
        stored: dict[str, _Value] = {}
        for chunk in _chunks(list(latest)):
            rows = self._session.execute(select(table).where(self._scope(), table.c.external_id.in_(chunk)))
            for row in rows.mappings():
                stored[row["external_id"]] = type(self)._value(row)
        now = self._clock()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        unchanged = 0
        for external_id, given in latest.items():
            previous = stored.get(external_id)
            value = keeping_stored(previous, given, kept.get(external_id, ())) if previous and kept else given
            if previous is None:
                inserts.append(
                    {
                        **type(self)._columns(value),
                        "id": uuid.uuid4(),
                        "organization_id": self._organization_id,
                        "updated_at": now,
                    }
                )
            elif previous == value:  # id and updated_at take no part in equality
                unchanged += 1
            else:
                updates.append({**type(self)._columns(value), "row_id": previous.id, "updated_at": now})
        if inserts:
            try:
                self._session.execute(insert(table), inserts)
            except IntegrityError as exc:
                # Only the unique external id can clash: another load inserted one of these after our read.
                raise ConcurrentWriteError("Another load wrote the same external ids at the same moment.") from exc
        if updates:
            # external_id is the key these rows were found by: it is not rewritten.
            names = [name for name in updates[0] if name not in ("row_id", "external_id")]
            statement = (
                update(table)
                .where(and_(table.c.id == bindparam("row_id"), self._scope()))
                .values({name: bindparam(name) for name in names})
            )
            self._session.execute(statement, [{k: v for k, v in row.items() if k != "external_id"} for row in updates])
        return UpsertCounts(inserted=len(inserts), updated=len(updates), unchanged=unchanged)

    def get(self, value_id: uuid.UUID) -> _Value | None:
        """The value with id ``value_id`` in the organization, or None."""
        row = self._session.execute(select(self._table).where(self._scope(), self._table.c.id == value_id)).first()
        return None if row is None else type(self)._value(row._mapping)

    def get_by_external_id(self, external_id: str) -> _Value | None:
        """The value with ``external_id`` in the organization, or None."""
        statement = select(self._table).where(self._scope(), self._table.c.external_id == external_id)
        row = self._session.execute(statement).first()
        return None if row is None else type(self)._value(row._mapping)

    def ids_by_external_ids(self, external_ids: Collection[str]) -> dict[str, uuid.UUID]:
        """The ids of the organization's values among ``external_ids``, by external id (chunked reads)."""
        table = self._table
        found: dict[str, uuid.UUID] = {}
        for chunk in _chunks(sorted(set(external_ids))):
            statement = select(table.c.external_id, table.c.id).where(self._scope(), table.c.external_id.in_(chunk))
            found.update({row.external_id: row.id for row in self._session.execute(statement)})
        return found

    def _matching(self, query: str) -> list[ColumnElement[bool]]:
        return [self._scope()] + [
            self._table.c.search_text.contains(word, autoescape=True) for word in search_words(query)
        ]

    def search(self, query: str = "", *, limit: int = 50, offset: int = 0) -> list[_Value]:
        """The values matching every word of ``query``, by sort name then id, from ``offset``, at most ``limit``."""
        statement = (
            select(self._table)
            .where(*self._matching(query))
            .order_by(self._table.c.sort_name, self._table.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [type(self)._value(row) for row in self._session.execute(statement).mappings()]

    def count(self, query: str = "") -> int:
        """How many values :meth:`search` finds for ``query``."""
        return self._session.scalar(select(func.count()).select_from(self._table).where(*self._matching(query))) or 0

    def delete(self, value_id: uuid.UUID) -> bool:
        """Delete the value ``value_id`` of the organization; False when there is none (see the port)."""
        statement = delete(self._table).where(self._scope(), self._table.c.id == value_id)
        return bool(self._session.execute(statement).rowcount)  # type: ignore[attr-defined]


class PersonRepository(_ProfileRepository[Person]):
    """The organization's people (:class:`salesbridge.services.ports.PersonRepository`)."""

    _table = Base.metadata.tables["people"]
    _columns = staticmethod(_person_columns)
    _value = staticmethod(_person_value)

    def _check(self, values: Sequence[Person]) -> None:
        """Raises InvalidInputError (field ``company_id``) when a person's company is not the organization's."""
        wanted = {person.company_id for person in values if person.company_id is not None}
        if not wanted:
            return
        companies = Base.metadata.tables["companies"]
        found: set[uuid.UUID] = set()
        for chunk in _chunks([str(company_id) for company_id in wanted]):
            ids = [uuid.UUID(company_id) for company_id in chunk]
            statement = select(companies.c.id).where(
                companies.c.organization_id == self._organization_id, companies.c.id.in_(ids)
            )
            found.update(self._session.scalars(statement))
        if wanted - found:
            raise InvalidInputError(UNKNOWN_COMPANY_MESSAGE, field="company_id")

    def tie_to_companies(self, external_ids: Collection[str]) -> int:
        """Tie the people whose employer's external id is among ``external_ids`` to its company (see the port): one
        ``UPDATE`` per chunk, found by the index of ``company_external_id`` (migration 0036)."""
        people, companies = self._table, Base.metadata.tables["companies"]
        company = (
            select(companies.c.id)
            .where(
                companies.c.organization_id == self._organization_id,
                companies.c.external_id == people.c.company_external_id,
            )
            .scalar_subquery()
        )
        tied = 0
        for chunk in _chunks(sorted(set(external_ids))):
            statement = (
                update(people)
                .where(
                    self._scope(),
                    people.c.company_external_id.in_(chunk),
                    company.is_not(None),
                    or_(people.c.company_id.is_(None), people.c.company_id != company),
                )
                .values(company_id=company, updated_at=self._clock())
            )
            tied += self._session.execute(statement).rowcount  # type: ignore[attr-defined]
        return tied


class CompanyRepository(_ProfileRepository[Company]):
    """The organization's companies (:class:`salesbridge.services.ports.CompanyRepository`)."""

    _table = Base.metadata.tables["companies"]
    _columns = staticmethod(_company_columns)
    _value = staticmethod(_company_value)

    def delete(self, value_id: uuid.UUID) -> bool:
        """Delete the company; its people first let go of it, stamped as changed (see the port)."""
        people = Base.metadata.tables["people"]
        self._session.execute(
            update(people)
            .where(people.c.organization_id == self._organization_id, people.c.company_id == value_id)
            .values(company_id=None, updated_at=self._clock())
        )
        return super().delete(value_id)
