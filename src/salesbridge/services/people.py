"""The workspace's people and companies as the API loads and reads them: bulk upserts of rows given as values
(up to :data:`MAX_ROWS_PER_REQUEST` per call), single reads, and a paged search.

Contract of a bulk upsert (docs/admin.md, "People and companies API"):

- The rules are the domain's (:class:`~salesbridge.domain.people.Person`, :class:`~salesbridge.domain.people.Company`),
  as for a CSV load (:mod:`salesbridge.services.people_load`): a row the domain refuses is left out as a
  :class:`RowProblem` (its index in the request, the field, the reason as a message id) while the good rows load.
  A row repeating an external id given by an earlier row is refused too (the first one wins, as in a CSV file).
- Nothing half-written: the good rows are written in one transaction. When the store refuses them, nothing is
  written and the error is raised.
- Idempotent by external id: the same request again counts every row unchanged.
- More than :data:`MAX_ROWS_PER_REQUEST` rows: :class:`InvalidRequestError`, nothing read or written.
- One audit entry per call (``people.upserted`` / ``companies.upserted``) with the counts, also when nothing loaded.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from salesbridge.domain.csv_rows import CsvKind
from salesbridge.domain.match_links import TargetKind
from salesbridge.domain.people import (
    COMPANY_LOADED_FIELDS,
    PERSON_LOADED_FIELDS,
    REQUIRED_MESSAGE,
    Company,
    Person,
    UpsertCounts,
)
from salesbridge.errors import InvalidInputError, InvalidRequestError, RowNotFoundError
from salesbridge.message_ids import N_
from salesbridge.services.matching import forget_target, request_matching
from salesbridge.services.ports import StoreAccess, UnitOfWork

__all__ = [
    "API_SOURCE",
    "MAX_ROWS_PER_REQUEST",
    "Page",
    "RowProblem",
    "UpsertReport",
    "company_by_external_id",
    "company_by_id",
    "delete_company",
    "delete_person",
    "person_by_external_id",
    "person_by_id",
    "search_companies",
    "search_people",
    "upsert_companies",
    "upsert_companies_tying_people",
    "upsert_people",
]

MAX_ROWS_PER_REQUEST: Final = 10_000
"""Most people or companies one bulk upsert takes."""

API_SOURCE: Final = "api"
"""The ``source`` of a person loaded through the API without one of its own."""

TOO_MANY_ROWS: Final = N_(
    "At most {limit} rows per request; this one has {count}. Split it into several requests: nothing was loaded."
)
REPEATED_EXTERNAL_ID: Final = N_(
    "The external id {external_id} is already given at index {first_index}; only that row is loaded."
)
UNKNOWN_COMPANY: Final = N_("No company of the workspace has the external id {external_id}: load it first.")
NO_PERSON_NAME: Final = N_("A person needs a name: give a first name, a last name or a full name.")
PERSON_NOT_FOUND: Final = "No such person in this organization."
COMPANY_NOT_FOUND: Final = "No such company in this organization."

ValueT = TypeVar("ValueT", Person, Company)
ItemT = TypeVar("ItemT")


@dataclass(frozen=True)
class RowProblem:
    """Why a row of a bulk upsert was left out.

    Attributes:
        index: The row's position in the request (0-based).
        field: The field refused (the domain's name: ``first_name``, ``employee_count``…), or None for the row.
        message: English message id with ``{name}`` fields; translate it at the edge.
        fields: The fields' values.
    """

    index: int
    field: str | None
    message: str
    fields: Mapping[str, object] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class UpsertReport:
    """What a bulk upsert did: rows ``inserted``, ``updated``, ``unchanged``, and each row refused, by index."""

    kind: CsvKind
    received: int
    inserted: int
    updated: int
    unchanged: int
    problems: tuple[RowProblem, ...]

    @property
    def loaded(self) -> int:
        """Rows written or already as given."""
        return self.inserted + self.updated + self.unchanged


@dataclass(frozen=True)
class Page(Generic[ItemT]):
    """One page of a search: the ``items`` from ``offset`` (at most ``limit``) and how many match in all."""

    items: list[ItemT]
    total: int
    limit: int
    offset: int


def upsert_people(
    store: StoreAccess, organization_id: uuid.UUID, rows: Sequence[Mapping[str, Any]], *, actor: str
) -> UpsertReport:
    """Insert or update the people ``rows`` (each the keyword arguments of a
    :class:`~salesbridge.domain.people.Person`; ``source`` defaults to :data:`API_SOURCE`), idempotent by external id
    (see the module's contract). A row may name its company by ``company_external_id`` (a company of the
    organization, loaded before): it becomes the person's ``company_id``; an external id the organization has no
    company for leaves that row out.

    Raises:
        InvalidRequestError: more than :data:`MAX_ROWS_PER_REQUEST` rows (nothing written).
        InvalidInputError: the store refused the rows as a whole (nothing written).
    """
    _check_count(rows)
    wanted = {str(row["company_external_id"]) for row in rows if row.get("company_external_id")}
    companies: dict[str, uuid.UUID] = {}
    if wanted:
        with store(organization_id, read_only=True) as uow:
            companies = uow.companies.ids_by_external_ids(wanted)

    def build(row: Mapping[str, Any]) -> Person:
        fields = {"source": API_SOURCE, **row}
        company = fields.pop("company_external_id", None)
        if company:
            if company not in companies:
                raise InvalidInputError(UNKNOWN_COMPANY, field="company_external_id", external_id=company)
            fields["company_id"] = companies[company]
            fields["company_external_id"] = company
        return Person(**fields)

    return _upsert(
        store,
        organization_id,
        rows,
        kind=CsvKind.PEOPLE,
        build=build,
        upsert=lambda uow, people: uow.people.upsert_many(people, kept=_kept(rows, PERSON_LOADED_FIELDS)),
        actor=actor,
    )


def upsert_companies(
    store: StoreAccess, organization_id: uuid.UUID, rows: Sequence[Mapping[str, Any]], *, actor: str
) -> UpsertReport:
    """As :func:`upsert_people`, for companies (each row the keyword arguments of a
    :class:`~salesbridge.domain.people.Company` without ``domain``: it is the registrable domain of ``website``,
    as for a CSV load)."""
    return _upsert(
        store,
        organization_id,
        rows,
        kind=CsvKind.COMPANIES,
        build=_company,
        upsert=lambda uow, companies: upsert_companies_tying_people(
            uow, companies, kept=_kept(rows, COMPANY_LOADED_FIELDS), reason="companies.upserted"
        ),
        actor=actor,
    )


def upsert_companies_tying_people(
    uow: UnitOfWork, companies: list[Company], *, kept: Mapping[str, Collection[str]], reason: str
) -> UpsertCounts:
    """Upsert ``companies`` (:meth:`CompanyRepository.upsert_many`) and, in the same transaction, tie to each the
    people loaded before it whose ``company_external_id`` names it (a people file loaded before the companies
    file): a person is tied to their employer whichever of the two files came first. Matching is requested when
    people were tied though no company changed (people a version before this one left untied, their companies
    loaded again unchanged); otherwise the load's end requests it for the companies written."""
    counts = uow.companies.upsert_many(companies, kept=kept)
    tied = uow.people.tie_to_companies([company.external_id for company in companies])
    if tied and not (counts.inserted or counts.updated):
        request_matching(uow, reason=reason)
    return counts


# A row's key → the stored fields it carries.
_CARRIED: Final[Mapping[str, tuple[str, ...]]] = {
    "company_external_id": ("company_id", "company_external_id"),
    "website": ("website", "domain"),
}


def _kept(rows: Sequence[Mapping[str, Any]], fields: frozenset[str]) -> dict[str, frozenset[str]]:
    """By external id, the fields a row leaves out: a stored person or company keeps them (send a field empty to
    empty it). A repeated external id is refused anyway: the first row's keys count."""
    kept: dict[str, frozenset[str]] = {}
    for row in rows:
        carried = {name for key in row for name in _CARRIED.get(key, (key,))}
        kept.setdefault(str(row.get("external_id", "")).strip(), fields - carried)
    return kept


def _check_count(rows: Sequence[object]) -> None:
    if len(rows) > MAX_ROWS_PER_REQUEST:
        raise InvalidRequestError(TOO_MANY_ROWS, limit=MAX_ROWS_PER_REQUEST, count=len(rows))


def _company(row: Mapping[str, Any]) -> Company:
    # Imported here: the public-suffix list loads on first use, and only a company load needs it.
    from salesbridge.matching.identifiers import company_domain

    website = row.get("website")
    website = website.strip() if isinstance(website, str) and website.strip() else None
    return Company(**{**row, "website": website, "domain": company_domain(website) if website else None})


def _upsert(
    store: StoreAccess,
    organization_id: uuid.UUID,
    rows: Sequence[Mapping[str, Any]],
    *,
    kind: CsvKind,
    build: Callable[[Mapping[str, Any]], ValueT],
    upsert: Callable[[UnitOfWork, list[ValueT]], UpsertCounts],
    actor: str,
) -> UpsertReport:
    _check_count(rows)
    values: list[ValueT] = []
    problems: list[RowProblem] = []
    first_index: dict[str, int] = {}
    for index, row in enumerate(rows):
        try:
            value = build(row)
        except InvalidInputError as refused:
            nameless = refused.field == "full_name" and refused.message_id == REQUIRED_MESSAGE
            message = NO_PERSON_NAME if nameless else refused.message_id
            problems.append(RowProblem(index, refused.field, message, refused.fields))
            continue
        earlier = first_index.setdefault(value.external_id, index)
        if earlier != index:
            problems.append(
                RowProblem(
                    index,
                    "external_id",
                    REPEATED_EXTERNAL_ID,
                    {"external_id": value.external_id, "first_index": earlier},
                )
            )
            continue
        values.append(value)
    with store(organization_id) as uow:
        counts = upsert(uow, values) if values else UpsertCounts()
        uow.audit.record(
            actor=actor,
            action=f"{kind.value}.upserted",
            details={
                "rows": len(rows),
                "inserted": counts.inserted,
                "updated": counts.updated,
                "unchanged": counts.unchanged,
                "refused": len(problems),
            },
        )
        if counts.inserted or counts.updated:
            request_matching(uow, reason=f"{kind.value}.upserted")
        uow.commit()
    return UpsertReport(
        kind=kind,
        received=len(rows),
        inserted=counts.inserted,
        updated=counts.updated,
        unchanged=counts.unchanged,
        problems=tuple(problems),
    )


FoundT = TypeVar("FoundT")


def _read_one(
    store: StoreAccess, organization_id: uuid.UUID, read: Callable[[UnitOfWork], FoundT | None], missing: str
) -> FoundT:
    with store(organization_id, read_only=True) as uow:
        found = read(uow)
    if found is None:
        raise RowNotFoundError(missing)
    return found


def person_by_id(store: StoreAccess, organization_id: uuid.UUID, person_id: uuid.UUID) -> Person:
    """The organization's person ``person_id``. Reads only.

    Raises:
        RowNotFoundError: no such person in the organization (another organization's included).
    """
    return _read_one(store, organization_id, lambda uow: uow.people.get(person_id), PERSON_NOT_FOUND)


def person_by_external_id(store: StoreAccess, organization_id: uuid.UUID, external_id: str) -> Person:
    """The organization's person with ``external_id``; otherwise as :func:`person_by_id`."""
    return _read_one(store, organization_id, lambda uow: uow.people.get_by_external_id(external_id), PERSON_NOT_FOUND)


def company_by_id(store: StoreAccess, organization_id: uuid.UUID, company_id: uuid.UUID) -> Company:
    """The organization's company ``company_id``; otherwise as :func:`person_by_id`."""
    return _read_one(store, organization_id, lambda uow: uow.companies.get(company_id), COMPANY_NOT_FOUND)


def company_by_external_id(store: StoreAccess, organization_id: uuid.UUID, external_id: str) -> Company:
    """The organization's company with ``external_id``; otherwise as :func:`person_by_id`."""
    return _read_one(
        store, organization_id, lambda uow: uow.companies.get_by_external_id(external_id), COMPANY_NOT_FOUND
    )


def search_people(
    store: StoreAccess, organization_id: uuid.UUID, query: str = "", *, limit: int = 50, offset: int = 0
) -> Page[Person]:
    """The people matching every word of ``query`` (name, company, title, place; empty: everyone), by name, from
    ``offset``, at most ``limit``, and how many match in all. Reads only."""
    with store(organization_id, read_only=True) as uow:
        items = uow.people.search(query, limit=limit, offset=offset)
        total = uow.people.count(query)
    return Page(items, total, limit, offset)


def search_companies(
    store: StoreAccess, organization_id: uuid.UUID, query: str = "", *, limit: int = 50, offset: int = 0
) -> Page[Company]:
    """As :func:`search_people`, for companies (name, domain, industry, place)."""
    with store(organization_id, read_only=True) as uow:
        items = uow.companies.search(query, limit=limit, offset=offset)
        total = uow.companies.count(query)
    return Page(items, total, limit, offset)


PERSON_DELETED: Final = "person.deleted"
"""The audit action of a deleted person (also the reason of the match run it requests)."""
COMPANY_DELETED: Final = "company.deleted"
"""The audit action of a deleted company (also the reason of the match run it requests)."""


def delete_person(store: StoreAccess, organization_id: uuid.UUID, person_id: uuid.UUID, *, actor: str) -> Person:
    """Delete the organization's person ``person_id`` (a wrong load, an erasure request) in one transaction: the
    person, their match links (corrections included: a correction wins only until one of its records is deleted),
    rejected pairs and keys; the CRM records they held are matched again by the next run (requested). Audited
    ``person.deleted`` (external id, links removed; no name: an erasure keeps none). Administrators only: the
    caller checks. The person as it was.

    Raises:
        RowNotFoundError: no such person in the organization (another organization's included).
    """
    found = _delete(store, organization_id, person_id, TargetKind.PERSON, actor=actor)
    assert isinstance(found, Person)
    return found


def delete_company(store: StoreAccess, organization_id: uuid.UUID, company_id: uuid.UUID, *, actor: str) -> Company:
    """As :func:`delete_person`, for a company (audited ``company.deleted``); its people keep the company's name
    but no longer point at it, and its accounts' contacts and leads are matched again too."""
    found = _delete(store, organization_id, company_id, TargetKind.COMPANY, actor=actor)
    assert isinstance(found, Company)
    return found


def _delete(
    store: StoreAccess, organization_id: uuid.UUID, value_id: uuid.UUID, kind: TargetKind, *, actor: str
) -> Person | Company:
    person = kind is TargetKind.PERSON
    action = PERSON_DELETED if person else COMPANY_DELETED
    with store(organization_id) as uow:
        repository = uow.people if person else uow.companies
        found: Person | Company | None = repository.get(value_id)
        if found is None:
            raise RowNotFoundError(PERSON_NOT_FOUND if person else COMPANY_NOT_FOUND)
        links = forget_target(uow, kind, value_id, reason=action)
        repository.delete(value_id)
        uow.audit.record(actor=actor, action=action, details={"external_id": found.external_id, "links_removed": links})
        uow.commit()
    return found
