"""The workspace's people and companies as a seat holder browses them (the console): a page of a search at a time
by page number, each person or company with its badges (In CRM, Out of date, View in CRM), optionally only those
with one badge; one person or company with the CRM records tied to it and why; and the CRM record whose match a
seat holder edits, with the people or companies to tie it to instead. Reads only; every read is scoped to the
reader's organization (another organization's person is "not found", never "forbidden")."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final, Generic, TypeVar

from salesbridge.domain.match_links import TARGET_KINDS, Badge, LinkBand, TargetKind
from salesbridge.domain.people import Company, Person
from salesbridge.errors import InvalidRequestError, RowNotFoundError
from salesbridge.message_ids import N_
from salesbridge.services.lists import RecordMatch, find_records
from salesbridge.services.matching import (
    Badges,
    MatchLinkView,
    badges_of_companies,
    badges_of_people,
    link_of_crm_record,
    links_of_company,
    links_of_person,
)
from salesbridge.services.organizations import require_organization
from salesbridge.services.ports import CompanyRepository, PersonRepository, StoreAccess, UnitOfWork

PAGE_SIZE: Final = 25
PICKER_SIZE: Final = 10
"""People or companies offered at a time when a seat holder ties a CRM record to another one."""
MAX_QUERY_LENGTH: Final = 200
"""A longer search is cut to this many characters (a search box, not a document)."""
NO_BADGES: Final = Badges(in_crm=False, out_of_date=False, crm_urls=(), in_review=False)
UNKNOWN_TABLE: Final = N_("Only CRM accounts, contacts and leads are matched.")

_Found = TypeVar("_Found", Person, Company)


@dataclass(frozen=True)
class FoundPage(Generic[_Found]):
    """One page of a search of people or companies, in their listing order (name, then id).

    Attributes:
        items: This page's people or companies.
        badges: The badges of each of them, by id.
        page: Its number, from 1 (a page past the last shows the last one).
        pages: How many pages the search has; at least 1.
        total: How many people or companies the search finds.
        query: The search, as used (trimmed and cut to :data:`MAX_QUERY_LENGTH`).
        badge: The badge the search keeps only the holders of, if any.
    """

    items: tuple[_Found, ...]
    badges: Mapping[uuid.UUID, Badges]
    page: int
    pages: int
    total: int
    query: str
    badge: Badge | None = None

    def badges_of(self, item: _Found) -> Badges:
        """The badges of ``item`` (none when matching never saw it)."""
        return self.badges.get(item.id, NO_BADGES) if item.id else NO_BADGES


def _query(text: str) -> str:
    return text.strip()[:MAX_QUERY_LENGTH]


def _found_page(
    uow: UnitOfWork, kind: TargetKind, query: str, page: int, badge: Badge | None, page_size: int
) -> FoundPage[Any]:
    """A page of people (``kind`` person) or companies, as :func:`people_page` describes it."""
    matches = uow.matches
    count: Callable[[str], int]
    search: Callable[..., list[Any]]
    count_badge: Callable[..., int]
    with_badge: Callable[..., list[Any]]
    badges_of: Callable[[UnitOfWork, list[uuid.UUID]], dict[uuid.UUID, Badges]]
    if kind is TargetKind.PERSON:
        repository: PersonRepository | CompanyRepository = uow.people
        count_badge, with_badge = matches.count_people_with_badge, matches.people_with_badge
        badges_of = badges_of_people
    else:
        repository = uow.companies
        count_badge, with_badge = matches.count_companies_with_badge, matches.companies_with_badge
        badges_of = badges_of_companies
    if badge is None:
        count, search = repository.count, repository.search
    else:
        count, search = partial(count_badge, badge), partial(with_badge, badge)
    total = count(query)
    pages = max(1, math.ceil(total / page_size))
    current = min(max(page, 1), pages)
    items = search(query, limit=page_size, offset=(current - 1) * page_size)
    badges = badges_of(uow, [item.id for item in items if item.id])
    return FoundPage(tuple(items), badges, current, pages, total, query, badge)


def people_page(
    store: StoreAccess,
    slug: str,
    *,
    query: str = "",
    page: int = 1,
    badge: Badge | None = None,
    page_size: int = PAGE_SIZE,
) -> FoundPage[Person]:
    """Page ``page`` of the people of ``slug`` whose name, company (current or past), title or place holds every
    word of ``query`` (any case; empty: everyone), only those with ``badge`` when given, with their badges. Reads
    only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
    """
    with store(require_organization(store, slug), read_only=True) as uow:
        return _found_page(uow, TargetKind.PERSON, _query(query), page, badge, page_size)


def companies_page(
    store: StoreAccess,
    slug: str,
    *,
    query: str = "",
    page: int = 1,
    badge: Badge | None = None,
    page_size: int = PAGE_SIZE,
) -> FoundPage[Company]:
    """Page ``page`` of the companies of ``slug`` whose name, domain, industry or place holds every word of
    ``query``, only those with ``badge`` when given, with their badges (as :func:`people_page`). Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
    """
    with store(require_organization(store, slug), read_only=True) as uow:
        return _found_page(uow, TargetKind.COMPANY, _query(query), page, badge, page_size)


@dataclass(frozen=True)
class TiedRecords:
    """What matching holds about one person or company: its badges, the CRM records tied to it (a contact and a
    lead, or CRM duplicates), and the CRM records waiting for an administrator's review with it as candidate."""

    badges: Badges
    tied: tuple[MatchLinkView, ...]
    in_review: tuple[MatchLinkView, ...]

    @classmethod
    def of(cls, badges: Badges, links: list[MatchLinkView]) -> TiedRecords:
        """Sorted out of ``links`` (any band)."""
        return cls(
            badges,
            tuple(link for link in links if link.is_tie),
            tuple(link for link in links if link.band is LinkBand.REVIEW),
        )


@dataclass(frozen=True)
class PersonProfile:
    """A person, the workspace company they work at (when known) and what matching holds about them."""

    person: Person
    company: Company | None
    crm: TiedRecords


@dataclass(frozen=True)
class CompanyProfile:
    """A company and what matching holds about it."""

    company: Company
    crm: TiedRecords


def _person(uow: UnitOfWork, person_id: uuid.UUID) -> Person:
    person = uow.people.get(person_id)
    if person is None:
        raise RowNotFoundError("No such person in this organization.")
    return person


def _company(uow: UnitOfWork, company_id: uuid.UUID) -> Company:
    company = uow.companies.get(company_id)
    if company is None:
        raise RowNotFoundError("No such company in this organization.")
    return company


def person_profile(store: StoreAccess, slug: str, person_id: uuid.UUID) -> PersonProfile:
    """The person ``person_id`` of ``slug``, their company, badges and CRM records. Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no such person in it (another organization's included).
    """
    with store(require_organization(store, slug), read_only=True) as uow:
        person = _person(uow, person_id)
        company = uow.companies.get(person.company_id) if person.company_id else None
        badges = badges_of_people(uow, [person_id]).get(person_id, NO_BADGES)
        return PersonProfile(person, company, TiedRecords.of(badges, links_of_person(uow, person_id)))


def company_profile(store: StoreAccess, slug: str, company_id: uuid.UUID) -> CompanyProfile:
    """The company ``company_id`` of ``slug``, its badges and CRM records. Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no such company in it (another organization's included).
    """
    with store(require_organization(store, slug), read_only=True) as uow:
        company = _company(uow, company_id)
        badges = badges_of_companies(uow, [company_id]).get(company_id, NO_BADGES)
        return CompanyProfile(company, TiedRecords.of(badges, links_of_company(uow, company_id)))


@dataclass(frozen=True)
class MatchEditing:
    """A CRM record whose match a seat holder edits: what matching decided about it (None: nothing yet), the
    person or company it is tied to, and the people or companies found by ``query`` to tie it to instead."""

    table: str
    crm_id: str
    target_kind: TargetKind
    link: MatchLinkView | None
    current: Person | Company | None
    query: str
    candidates: tuple[Person | Company, ...] = field(default=())


def match_editing(store: StoreAccess, slug: str, table: str, crm_id: str, *, query: str = "") -> MatchEditing:
    """The CRM record ``table``/``crm_id`` of ``slug`` as :class:`MatchEditing` shows it, with up to
    :data:`PICKER_SIZE` people (contacts, leads) or companies (accounts) found by ``query`` (none when empty).
    Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        InvalidRequestError: ``table`` is not a matched CRM table.
        RowNotFoundError: no such imported CRM record in the organization.
    """
    kind = TARGET_KINDS.get(table)
    if kind is None:
        raise InvalidRequestError(UNKNOWN_TABLE)
    wanted = _query(query)
    with store(require_organization(store, slug), read_only=True) as uow:
        if not uow.crm_record_queries.by_ids(table, [crm_id], data=False):
            raise RowNotFoundError("No such CRM record in this organization.")
        link = link_of_crm_record(uow, table, crm_id)
        repository = uow.people if kind is TargetKind.PERSON else uow.companies
        current = repository.get(link.target_id) if link is not None and link.target_id else None
        candidates: tuple[Person | Company, ...] = tuple(repository.search(wanted, limit=PICKER_SIZE)) if wanted else ()
        return MatchEditing(table, crm_id, kind, link, current, wanted, candidates)


TIE_PICKER_SIZE: Final = 10


def records_to_tie(store: StoreAccess, slug: str, kind: TargetKind, text: str) -> list[RecordMatch]:
    """Up to :data:`TIE_PICKER_SIZE` imported CRM records that tie to ``kind`` (contacts and leads for a person,
    accounts for a company) whose name holds ``text`` (two characters at least; none otherwise), by name: what a
    seat holder picks to tie to a person or company by hand (Edit match from the person's or company's side).
    Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
    """
    found = find_records(store, slug, text, limit=5 * TIE_PICKER_SIZE)
    return [record for record in found if TARGET_KINDS.get(record.table) is kind][:TIE_PICKER_SIZE]
