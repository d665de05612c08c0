"""The workspace's own people and companies (prospect profiles), as loaded by the organization (CSV, API).

Both are identified within their organization by ``external_id`` (the id the source gave them): loading the same
external id again updates the stored one. Values check themselves when built: text follows the free-text rule of
:mod:`salesbridge.domain.text_rules` (no control characters) and the length limits below, surrounding spaces are
removed and an empty optional text becomes None. A refused value raises :class:`InvalidInputError` naming the
``field`` (and its ``limit``), so a loader can report each bad row with its reason.

``id`` and ``updated_at`` are the store's: None on values not stored yet, filled on the values the store returns.
Pure: no I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final, TypeVar

from salesbridge.domain.search_folding import fold_for_search
from salesbridge.domain.text_rules import checked_free_text
from salesbridge.errors import InvalidInputError
from salesbridge.message_ids import N_

MAX_EXTERNAL_ID_LENGTH: Final = 255
MAX_NAME_PART_LENGTH: Final = 200
MAX_FULL_NAME_LENGTH: Final = 300
MAX_COMPANY_NAME_LENGTH: Final = 300
MAX_HEADLINE_LENGTH: Final = 500
MAX_PLACE_LENGTH: Final = 200
MAX_INDUSTRY_LENGTH: Final = 200
MAX_URL_LENGTH: Final = 2048
MAX_DOMAIN_LENGTH: Final = 255
MAX_EMAIL_LENGTH: Final = 320
MAX_PHONE_LENGTH: Final = 64
MAX_SOURCE_LENGTH: Final = 64
MAX_LIST_ENTRIES: Final = 50
"""Most emails, phones or past companies one person carries."""

TOO_LONG_MESSAGE: Final = N_("This value is too long: at most {limit} characters.")
REQUIRED_MESSAGE: Final = N_("This value is required.")
TOO_MANY_MESSAGE: Final = N_("Too many values: at most {limit}.")
NEGATIVE_COUNT_MESSAGE: Final = N_("Enter a number of employees of 0 or more.")
UNKNOWN_COMPANY_MESSAGE: Final = N_("This company is not in the workspace.")


def _optional_text(value: str | None, *, field: str, limit: int) -> str | None:
    if value is None:
        return None
    cleaned = checked_free_text(value, field=field)
    if len(cleaned) > limit:
        raise InvalidInputError(TOO_LONG_MESSAGE, field=field, limit=limit)
    return cleaned or None


def _required_text(value: str, *, field: str, limit: int) -> str:
    cleaned = _optional_text(value, field=field, limit=limit)
    if cleaned is None:
        raise InvalidInputError(REQUIRED_MESSAGE, field=field)
    return cleaned


def _text_list(values: tuple[str, ...], *, field: str, limit: int) -> tuple[str, ...]:
    """The non-empty values, cleaned, in order, without repeats."""
    cleaned: list[str] = []
    for value in values:
        text = _optional_text(value, field=field, limit=limit)
        if text is not None and text not in cleaned:
            cleaned.append(text)
    if len(cleaned) > MAX_LIST_ENTRIES:
        raise InvalidInputError(TOO_MANY_MESSAGE, field=field, limit=MAX_LIST_ENTRIES)
    return tuple(cleaned)


@dataclass(frozen=True)
class Person:
    """A person of the workspace.

    ``full_name`` defaults to first and last name joined when not given; one of them is required.
    ``company_id`` is the workspace company the person works at when known; ``company_name`` the name of the
    current company as given (kept alongside ``company_id``: it is searched and shown); ``company_external_id``
    the external id of that company as the source named it (a CSV column, the API, the demo generator), kept even
    while the workspace holds no company with it (companies loaded after their people). Matching's "shared people"
    reads the employer from ``company_id``, else from ``company_external_id``.

    Raises:
        InvalidInputError: a field breaks its rule (``field`` names it: ``external_id``, ``full_name``, ...).
    """

    external_id: str
    full_name: str = ""
    first_name: str | None = None
    last_name: str | None = None
    headline: str | None = None
    company_id: uuid.UUID | None = None
    company_name: str | None = None
    company_external_id: str | None = None
    past_companies: tuple[str, ...] = ()
    city: str | None = None
    region: str | None = None
    country: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    profile_url: str | None = None
    source: str | None = None
    id: uuid.UUID | None = field(default=None, compare=False)
    updated_at: datetime | None = field(default=None, compare=False)
    """``id`` and ``updated_at`` take no part in equality: a value equal to the stored one changes nothing."""

    def __post_init__(self) -> None:
        # Frozen: the cleaned values replace the given ones once, here, so every Person holds checked text.
        set_field = object.__setattr__
        set_field(
            self, "external_id", _required_text(self.external_id, field="external_id", limit=MAX_EXTERNAL_ID_LENGTH)
        )
        first = _optional_text(self.first_name, field="first_name", limit=MAX_NAME_PART_LENGTH)
        last = _optional_text(self.last_name, field="last_name", limit=MAX_NAME_PART_LENGTH)
        set_field(self, "first_name", first)
        set_field(self, "last_name", last)
        full = self.full_name or " ".join(part for part in (first, last) if part)
        set_field(self, "full_name", _required_text(full, field="full_name", limit=MAX_FULL_NAME_LENGTH))
        set_field(self, "headline", _optional_text(self.headline, field="headline", limit=MAX_HEADLINE_LENGTH))
        set_field(
            self, "company_name", _optional_text(self.company_name, field="company_name", limit=MAX_COMPANY_NAME_LENGTH)
        )
        set_field(
            self,
            "company_external_id",
            _optional_text(self.company_external_id, field="company_external_id", limit=MAX_EXTERNAL_ID_LENGTH),
        )
        set_field(
            self,
            "past_companies",
            _text_list(tuple(self.past_companies), field="past_companies", limit=MAX_COMPANY_NAME_LENGTH),
        )
        for place in ("city", "region", "country"):
            set_field(self, place, _optional_text(getattr(self, place), field=place, limit=MAX_PLACE_LENGTH))
        set_field(self, "emails", _text_list(tuple(self.emails), field="emails", limit=MAX_EMAIL_LENGTH))
        set_field(self, "phones", _text_list(tuple(self.phones), field="phones", limit=MAX_PHONE_LENGTH))
        set_field(self, "profile_url", _optional_text(self.profile_url, field="profile_url", limit=MAX_URL_LENGTH))
        set_field(self, "source", _optional_text(self.source, field="source", limit=MAX_SOURCE_LENGTH))

    def search_text(self) -> str:
        """What a search looks in (name, company, title, place), lower-cased and without accents, a line each."""
        return _search_text(
            self.full_name, self.company_name, self.headline, *self.past_companies, self.city, self.region, self.country
        )

    def sort_name(self) -> str:
        """The key people are listed by (their full name, casefolded)."""
        return self.full_name.casefold()[:MAX_FULL_NAME_LENGTH]


@dataclass(frozen=True)
class Company:
    """A company of the workspace.

    ``domain`` is the registrable domain of ``website`` (``contoso.com`` for ``https://www.contoso.com/about``),
    filled by the caller.

    Raises:
        InvalidInputError: a field breaks its rule (``field`` names it: ``external_id``, ``name``, ...).
    """

    external_id: str
    name: str
    website: str | None = None
    domain: str | None = None
    industry: str | None = None
    employee_count: int | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    phone: str | None = None
    profile_url: str | None = None
    id: uuid.UUID | None = field(default=None, compare=False)
    updated_at: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        set_field = object.__setattr__
        set_field(
            self, "external_id", _required_text(self.external_id, field="external_id", limit=MAX_EXTERNAL_ID_LENGTH)
        )
        set_field(self, "name", _required_text(self.name, field="name", limit=MAX_COMPANY_NAME_LENGTH))
        set_field(self, "website", _optional_text(self.website, field="website", limit=MAX_URL_LENGTH))
        domain = _optional_text(self.domain, field="domain", limit=MAX_DOMAIN_LENGTH)
        set_field(self, "domain", domain.lower() if domain else None)
        set_field(self, "industry", _optional_text(self.industry, field="industry", limit=MAX_INDUSTRY_LENGTH))
        if self.employee_count is not None and self.employee_count < 0:
            raise InvalidInputError(NEGATIVE_COUNT_MESSAGE, field="employee_count")
        for place in ("city", "region", "country"):
            set_field(self, place, _optional_text(getattr(self, place), field=place, limit=MAX_PLACE_LENGTH))
        set_field(self, "phone", _optional_text(self.phone, field="phone", limit=MAX_PHONE_LENGTH))
        set_field(self, "profile_url", _optional_text(self.profile_url, field="profile_url", limit=MAX_URL_LENGTH))

    def search_text(self) -> str:
        """What a search looks in (name, domain, industry, place), lower-cased and without accents, a line each."""
        return _search_text(self.name, self.domain, self.industry, self.city, self.region, self.country)

    def sort_name(self) -> str:
        """The key companies are listed by (their name, casefolded)."""
        return self.name.casefold()[:MAX_COMPANY_NAME_LENGTH]


@dataclass(frozen=True)
class UpsertCounts:
    """What a bulk upsert did: rows ``inserted``, ``updated`` (some field changed) and ``unchanged``."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def _search_text(*parts: str | None) -> str:
    # A line break between fields: a search word (no whitespace) never matches across two of them.
    return "\n".join(fold_for_search(part) for part in parts if part)


def search_words(query: str) -> tuple[str, ...]:
    """The words of a search, folded as search texts are (case and accents ignored): a record matches when its
    search text contains every one, so "malaga" and "MÁLAGA" both find "Málaga"."""
    return tuple(dict.fromkeys(fold_for_search(query).split()))


PERSON_LOADED_FIELDS: Final = frozenset(
    {
        "full_name",
        "first_name",
        "last_name",
        "headline",
        "company_id",
        "company_name",
        "company_external_id",
        "past_companies",
        "city",
        "region",
        "country",
        "emails",
        "phones",
        "profile_url",
    }
)
"""A person's fields a load may carry (or leave out, keeping the stored values: :func:`keeping_stored`)."""

COMPANY_LOADED_FIELDS: Final = frozenset(
    {"name", "website", "domain", "industry", "employee_count", "city", "region", "country", "phone", "profile_url"}
)
"""A company's fields a load may carry (or leave out)."""

_NAMES: Final = frozenset({"full_name", "first_name", "last_name"})

_Loaded = TypeVar("_Loaded", Person, Company)


def keeping_stored(stored: _Loaded, given: _Loaded, kept: Collection[str]) -> _Loaded:
    """``given`` with the fields named in ``kept`` — those its load did not carry (a file without an email column,
    a JSON object without ``emails``) — taken from ``stored``: a load changes what it carries and nothing else. A
    person's full name is kept when no name was carried, else made again from the first and last name (kept or
    carried) unless the full name itself was carried. A company's domain goes with its website.

    Raises:
        InvalidInputError: the merged value breaks a rule (as building it does).
    """
    fields = set(kept) & (PERSON_LOADED_FIELDS if isinstance(given, Person) else COMPANY_LOADED_FIELDS)
    if not fields:
        return given
    values: dict[str, object] = {name: getattr(stored, name) for name in fields}
    if isinstance(given, Person) and "full_name" in fields and not fields >= _NAMES:
        values["full_name"] = ""  # made again from the first and last name
    if isinstance(stored, Company) and "website" in fields:
        values["domain"] = stored.domain
    return replace(given, **values)  # type: ignore[arg-type]
