"""Records turned, once, into compact comparable features (issue 13, section 2).

Each record is normalised once into a ``PersonFeatures`` / ``CompanyFeatures`` (``__slots__``, strings shared
between records): the per-value normalisers are cached on distinct values (``caches.run_cache``: an ``lru_cache``
emptied when a matching run ends), so a million records with a few hundred thousand distinct first names, surnames,
companies, titles and cities cost one normalisation per distinct value. Unique values (e-mails, phones, profile
URLs) go through bounded caches.

Phones take a fast path: a number written in international form ("+34 600 11 22 33", "0034…") becomes "+" and its
digits (an extension and a "(0)" trunk prefix dropped); a national number goes through ``phonenumbers`` with the
default region (cached). E-mails, domains and profile URLs use ``identifiers``; names ``names``/``text``;
company names ``companies.normalize_company_name``.
"""

from __future__ import annotations

import re
from functools import cache

from babel import Locale
from nameparser import HumanName

from salesbridge.matching.caches import run_cache
from salesbridge.matching.companies import normalize_company_name
from salesbridge.matching.identifiers import (
    FREE_MAIL_DOMAINS,
    company_domain,
    normalize_email,
    normalize_phone,
    normalize_profile_url,
)
from salesbridge.matching.records import CompanyRecord, PersonRecord
from salesbridge.matching.text import fold

__all__ = ["CompanyFeatures", "PersonFeatures", "company_features", "person_features"]

_BIG = 1 << 18
_UNIQUE = 1 << 14

_EXTENSION = re.compile(r"(?:ext\.?|extension|x|#)\s*\d+\s*$", re.IGNORECASE)
_NON_DIGIT = re.compile(r"\D+")
_DATE_ISO = re.compile(r"^(\d{4})-?(\d{1,2})-?(\d{1,2})$")
_DATE_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")

# Country names folded → ISO code, for the few spellings CRM exports use most; anything else is compared folded.
_COUNTRIES = {
    "spain": "es", "espana": "es", "esp": "es", "united kingdom": "gb", "uk": "gb", "great britain": "gb",
    "england": "gb", "gbr": "gb", "united states": "us", "united states of america": "us", "usa": "us",
    "estados unidos": "us", "france": "fr", "francia": "fr", "germany": "de", "alemania": "de",
    "deutschland": "de", "italy": "it", "italia": "it", "portugal": "pt", "mexico": "mx", "ireland": "ie",
    "netherlands": "nl", "holland": "nl", "paises bajos": "nl", "australia": "au", "canada": "ca",
    "reino unido": "gb", "argentina": "ar", "chile": "cl", "colombia": "co", "peru": "pe", "brazil": "br",
    "brasil": "br",
}  # fmt: skip
# Australian/US state names as codes (FEBRL's "state" is an Australian state); folded names otherwise.
_REGIONS = {
    "new south wales": "nsw", "victoria": "vic", "queensland": "qld", "western australia": "wa",
    "south australia": "sa", "tasmania": "tas", "australian capital territory": "act", "northern territory": "nt",
}  # fmt: skip


@run_cache(maxsize=_BIG)
def fold_word(value: str) -> str:
    """``text.fold`` cached on distinct values (names, cities, titles, regions)."""
    return fold(value)


_SPACED_FORM = re.compile(r"(?:\s[a-z]){2,3}$")


@run_cache(maxsize=_BIG)
def company_key(value: str) -> str:
    """``normalize_company_name`` cached on distinct names ("" for a blank), without a trailing legal form spelled
    in spaced letters that the legal-form tables miss ("Philips Electronics N. V." → "philips electronics")."""
    if not value.strip():
        return ""
    key = normalize_company_name(value)
    trimmed = _SPACED_FORM.sub("", key)
    return trimmed if any(len(word) >= 3 for word in trimmed.split()) else key


@run_cache(maxsize=_BIG)
def _split_full_name(value: str) -> tuple[str, str]:
    human = HumanName(value)
    first, last = fold(human.first), fold(human.last)
    if not last and not first:
        words = fold(value).split()
        return (words[0], " ".join(words[1:])) if words else ("", "")
    return first, last


# Plain addresses at a company domain are already in normal form once lower-cased: the common case skips the full
# normaliser (free-mail providers, masks, "mailto:", brackets and anything unusual still go through it).
_PLAIN_EMAIL = re.compile(r"^[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})$")
_PLAIN_PROFILE = re.compile(
    r"^(?:https?://)?(?:(?:www|[a-z]{2})\.)?linkedin\.com/(in|company|school|showcase)/([a-z0-9_-]+)/?$"
)


def email_key(value: str) -> str | None:
    """``identifiers.normalize_email``, with a fast path for plain addresses at a company domain."""
    text = value.strip().lower()
    plain = _PLAIN_EMAIL.match(text)
    if plain and plain.group(1) not in FREE_MAIL_DOMAINS and len(text) <= 254:
        return text
    return normalize_email(value)


@run_cache(maxsize=_BIG)
def domain_of(value: str) -> str | None:
    """The registrable company domain of a website, host or e-mail domain; ``None`` for free mail (cached)."""
    return company_domain(value)


def profile_key(value: str) -> str | None:
    """``identifiers.normalize_profile_url``, with a fast path for a plain "https://www.linkedin.com/in/slug"."""
    text = value.strip().lower()
    plain = _PLAIN_PROFILE.match(text)
    if plain:
        return f"linkedin.com/{plain.group(1)}/{plain.group(2)}"
    return normalize_profile_url(value)


@run_cache(maxsize=_UNIQUE)
def phone_key(value: str, default_region: str | None) -> str | None:
    """E.164 for a phone number; the fast path for international numbers, ``phonenumbers`` for national ones."""
    text = _EXTENSION.sub("", value.strip())
    if not text:
        return None
    text = text.replace("(0)", "")
    digits = _NON_DIGIT.sub("", text)
    if text.startswith("+") or text.startswith("00"):
        if text.startswith("00"):
            digits = digits[2:]
        return "+" + digits if 8 <= len(digits) <= 15 else None
    if not default_region:
        return None
    return normalize_phone(text, default_region)


# CLDR's country names in the languages CRM exports are written in ("Suecia", "Schweden", "Suède" → "se"), from
# the Babel data that ships in its wheel; the hand-written spellings above win.
_CLDR_LANGUAGES = ("en", "es", "de", "fr", "it", "pt", "nl", "ca")


@cache
def _cldr_countries() -> dict[str, str]:
    names: dict[str, str] = {}
    for language in _CLDR_LANGUAGES:
        for code, name in Locale(language).territories.items():
            if len(code) == 2 and code.isalpha():
                names.setdefault(fold(name), code.lower())
    return names


@run_cache(maxsize=_BIG)
def _country(value: str) -> str:
    folded = fold(value)
    if folded in _COUNTRIES:
        return _COUNTRIES[folded]
    if len(folded) == 2:
        return folded  # an ISO code already
    return _cldr_countries().get(folded, folded)


@run_cache(maxsize=_BIG)
def _region(value: str) -> str:
    folded = fold(value)
    return _REGIONS.get(folded, folded)


@run_cache(maxsize=_BIG)
def _postcode(value: str) -> str:
    return "".join(value.split()).lower()


@run_cache(maxsize=_UNIQUE)
def _street(value: str) -> str:
    return fold(value)


@run_cache(maxsize=_BIG)
def birth_key(value: str) -> str:
    """ "YYYYMMDD" for "YYYY-MM-DD", "YYYYMMDD", "YYYY-M-D" or "DD/MM/YYYY"; "" when unreadable (kept as written)."""
    text = value.strip()
    match = _DATE_ISO.match(text)
    if match:
        year, month, day = match.groups()
    else:
        match = _DATE_DMY.match(text)
        if not match:
            return ""
        day, month, year = match.groups()
    return f"{year}{int(month):02d}{int(day):02d}"


def _opt(value: str | None, normaliser: object) -> str:
    if not value:
        return ""
    return normaliser(value)  # type: ignore[operator,no-any-return]


class PersonFeatures:
    """A person record's comparable values (folded strings, "" when absent; tuples for multi-valued fields)."""

    __slots__ = (
        "birth",
        "city",
        "company",
        "company_ref",
        "country",
        "domains",
        "emails",
        "first",
        "last",
        "past",
        "phones",
        "postcode",
        "profile",
        "record",
        "region",
        "street",
        "title",
    )
    record: PersonRecord
    first: str
    last: str
    emails: tuple[str, ...]
    domains: tuple[str, ...]
    phones: tuple[str, ...]
    title: str
    company: str
    company_ref: str
    past: tuple[str, ...]
    profile: str
    street: str
    city: str
    postcode: str
    region: str
    country: str
    birth: str

    def __init__(self, record: PersonRecord, default_region: str | None) -> None:
        self.record = record
        first = fold_word(record.first_name) if record.first_name else ""
        last = fold_word(record.last_name) if record.last_name else ""
        if not first and not last and record.full_name:
            first, last = _split_full_name(record.full_name)
        self.first = first
        self.last = last
        # The common shapes (no e-mail or one, no phone or one) avoid building lists.
        raw_emails = record.emails
        website = record.company_website
        if not raw_emails and not website:
            self.emails = self.domains = ()
        elif len(raw_emails) == 1 and not website:
            email = email_key(raw_emails[0]) if raw_emails[0] else None
            self.emails = (email,) if email else ()
            domain = domain_of(email.rpartition("@")[2]) if email else None
            self.domains = (domain,) if domain else ()
        else:
            emails: list[str] = []
            domains: list[str] = []
            for raw in raw_emails:
                email = email_key(raw) if raw else None
                if email and email not in emails:
                    emails.append(email)
                    domain = domain_of(email.rpartition("@")[2])
                    if domain and domain not in domains:
                        domains.append(domain)
            if website:
                domain = domain_of(website)
                if domain and domain not in domains:
                    domains.append(domain)
            self.emails = tuple(emails)
            self.domains = tuple(domains)
        raw_phones = record.phones
        if not raw_phones:
            self.phones = ()
        elif len(raw_phones) == 1:
            phone = phone_key(raw_phones[0], default_region) if raw_phones[0] else None
            self.phones = (phone,) if phone else ()
        else:
            phones: list[str] = []
            for raw in raw_phones:
                phone = phone_key(raw, default_region) if raw else None
                if phone and phone not in phones:
                    phones.append(phone)
            self.phones = tuple(phones)
        title, company, past, profile = record.job_title, record.company_name, record.past_companies, record.profile_url
        self.title = fold_word(title) if title else ""
        self.company = company_key(company) if company else ""
        self.company_ref = record.company_ref or ""
        self.past = tuple(key for key in map(company_key, past) if key) if past else ()
        self.profile = (profile_key(profile) or "") if profile else ""
        street, city, postcode, region, country, birth = (
            record.street,
            record.city,
            record.postcode,
            record.region,
            record.country,
            record.birth_date,
        )
        self.street = _street(street) if street else ""
        self.city = fold_word(city) if city else ""
        self.postcode = _postcode(postcode) if postcode else ""
        self.region = _region(region) if region else ""
        self.country = _country(country) if country else ""
        self.birth = birth_key(birth) if birth else ""


class CompanyFeatures:
    """A company record's comparable values."""

    __slots__ = (
        "city",
        "country",
        "domains",
        "industry",
        "name",
        "people",
        "phones",
        "postcode",
        "profile",
        "record",
        "region",
        "size",
        "street",
    )

    record: CompanyRecord
    name: str
    domains: tuple[str, ...]
    phones: tuple[str, ...]
    industry: str
    size: int
    profile: str
    street: str
    city: str
    postcode: str
    region: str
    country: str
    people: tuple[str, ...]

    def __init__(self, record: CompanyRecord, default_region: str | None) -> None:
        self.record = record
        self.people = record.people_refs
        self.name = company_key(record.name) if record.name else ""
        domains: list[str] = []
        for raw in (record.website, *record.email_domains):
            domain = domain_of(raw) if raw else None
            if domain and domain not in domains:
                domains.append(domain)
        self.domains = tuple(domains)
        phone = phone_key(record.phone, default_region) if record.phone else None
        self.phones = (phone,) if phone else ()
        self.industry = _opt(record.industry, fold_word)
        self.size = record.employee_count if record.employee_count and record.employee_count > 0 else 0
        self.profile = (profile_key(record.profile_url) or "") if record.profile_url else ""
        self.street = _opt(record.street, _street)
        self.city = _opt(record.city, fold_word)
        self.postcode = _opt(record.postcode, _postcode)
        self.region = _opt(record.region, _region)
        self.country = _opt(record.country, _country)


def person_features(record: PersonRecord, default_region: str | None = None) -> PersonFeatures:
    """The features of one person record."""
    return PersonFeatures(record, default_region)


def company_features(record: CompanyRecord, default_region: str | None = None) -> CompanyFeatures:
    """The features of one company record."""
    return CompanyFeatures(record, default_region)
