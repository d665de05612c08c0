"""The workspace's people and companies as a seat holder browses them (the console): a page of a search at a time
by page number, and one person or company by id, on the reads of :mod:`salesbridge.services.people`. Reads only;
every read is scoped to the reader's organization (another organization's person is "not found", never
"forbidden")."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from salesbridge.domain.people import Company, Person
from salesbridge.errors import RowNotFoundError
from salesbridge.services.organizations import require_organization
from salesbridge.services.people import Page, company_by_id, person_by_id, search_companies, search_people
from salesbridge.services.ports import StoreAccess

PAGE_SIZE: Final = 25
MAX_QUERY_LENGTH: Final = 200
"""A longer search is cut to this many characters (a search box, not a document)."""

_Found = TypeVar("_Found", Person, Company)


@dataclass(frozen=True)
class FoundPage(Generic[_Found]):
    """One page of a search of people or companies, in their listing order (name, then id).

    Attributes:
        items: This page's people or companies.
        page: Its number, from 1 (a page past the last shows the last one).
        pages: How many pages the search has; at least 1.
        total: How many people or companies the search finds.
        query: The search, as used (trimmed and cut to :data:`MAX_QUERY_LENGTH`).
    """

    items: tuple[_Found, ...]
    page: int
    pages: int
    total: int
    query: str


def _query(text: str) -> str:
    return text.strip()[:MAX_QUERY_LENGTH]


def _paged(
    search: Callable[..., Page[_Found]], store: StoreAccess, slug: str, query: str, page: int, page_size: int
) -> FoundPage[_Found]:
    wanted = _query(query)
    organization_id = require_organization(store, slug)
    wanted_page = max(page, 1)
    found = search(store, organization_id, wanted, limit=page_size, offset=(wanted_page - 1) * page_size)
    pages = max(1, math.ceil(found.total / page_size))
    if wanted_page > pages:  # past the last page (or the search shrank meanwhile): the last page
        wanted_page = pages
        found = search(store, organization_id, wanted, limit=page_size, offset=(pages - 1) * page_size)
    return FoundPage(tuple(found.items), wanted_page, pages, found.total, wanted)


def people_page(
    store: StoreAccess, slug: str, *, query: str = "", page: int = 1, page_size: int = PAGE_SIZE
) -> FoundPage[Person]:
    """Page ``page`` of the people of ``slug`` whose name, company (current or past), title or place holds every
    word of ``query`` (any case; empty: everyone). Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
    """
    return _paged(search_people, store, slug, query, page, page_size)


def companies_page(
    store: StoreAccess, slug: str, *, query: str = "", page: int = 1, page_size: int = PAGE_SIZE
) -> FoundPage[Company]:
    """Page ``page`` of the companies of ``slug`` whose name, domain, industry or place holds every word of
    ``query`` (as :func:`people_page`). Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
    """
    return _paged(search_companies, store, slug, query, page, page_size)


@dataclass(frozen=True)
class PersonProfile:
    """A person and, when known, the workspace company they work at."""

    person: Person
    company: Company | None


def person_profile(store: StoreAccess, slug: str, person_id: uuid.UUID) -> PersonProfile:
    """The person ``person_id`` of ``slug`` and their company. Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no such person in it (another organization's included).
    """
    organization_id = require_organization(store, slug)
    person = person_by_id(store, organization_id, person_id)
    company = None
    if person.company_id is not None:
        with suppress(RowNotFoundError):  # the company was removed since: the person shows its name
            company = company_by_id(store, organization_id, person.company_id)
    return PersonProfile(person, company)


def company_profile(store: StoreAccess, slug: str, company_id: uuid.UUID) -> Company:
    """The company ``company_id`` of ``slug``. Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no such company in it (another organization's included).
    """
    return company_by_id(store, require_organization(store, slug), company_id)
