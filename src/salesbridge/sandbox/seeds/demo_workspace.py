"""The demo workspace: people and companies that overlap a CRM the way real data does, and the truth of which is
which (issue 13 §1, "Demo data").

From a CRM's accounts, contacts and leads (any seed's: rows of Dataverse columns, lookups as ids or as
``{"id": …, "table": …}`` mappings as the workspace stores them) :func:`generate_workspace` makes:

- **people** for most CRM people — a contact, the lead it came from and a contact entered twice are one person —
  with what a prospecting tool shows instead of what the CRM holds: nicknames (Bob for Robert, Paco for Francisco),
  accents dropped or added, a shortened double surname, a typo, the company's name without (or with another) legal
  form, a title worded differently, the country in English, work emails missing, masked or personal, the account's
  switchboard as phone, a canonical profile URL; some people changed jobs (the workspace shows their new company
  and title: "Out of date"); namesakes at other companies; people with no CRM record at all;
- **companies** for most accounts, with their name, website, phone, industry and size as a company page shows
  them, plus companies the CRM does not know;
- the **truth**: which workspace person or company is which CRM record(s) (:class:`TruthLink`), for tests and the
  matching benchmark. A CRM record without a truth row has no counterpart in the workspace.

Deterministic and size-independent: each CRM record's variations are drawn from a generator seeded with ``seed``
and the record's id, so the same CRM gives the same workspace whatever its size or row order, and a record's
counterpart does not change when others are added. Work is linear in the number of rows. Rows are plain strings
ready for the people and companies CSV import (:data:`PEOPLE_COLUMNS`, :data:`COMPANY_COLUMNS`).

Run ``python -m salesbridge.sandbox.seeds.demo_workspace OUT_DIR [--crm demo|scale:N] [--seed N]`` to write
``people.csv``, ``companies.csv`` and ``truth.csv`` for a sandbox seed.
"""

from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import random
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from salesbridge.sandbox.catalogue.builders import INDUSTRIES
from salesbridge.sandbox.organization.state import SandboxState
from salesbridge.sandbox.seeds.demo_sales import PROFILE_URL_COLUMN
from salesbridge.sandbox.seeds.vocabulary import (
    COUNTRIES,
    NAMES,
    NICKNAMES,
    SECTORS,
    STEMS,
    TITLES,
    ascii_slug,
    without_accents,
)

PEOPLE_COLUMNS: Final = (
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "job_title",
    "company_name",
    "linkedin_url",
    "street",
    "city",
    "postcode",
    "region",
    "country",
    "company_external_id",
)
"""The people CSV's columns (those ``salesbridge people import`` reads; ``email`` and ``phone`` may hold several
values separated by ``;``; ``company_external_id`` is the ``id`` of the person's current company in the companies
CSV, for about :data:`EMPLOYER_ID_SHARE` of the people whose company is one of them)."""
COMPANY_COLUMNS: Final = (
    "id",
    "name",
    "website",
    "phone",
    "industry",
    "employee_count",
    "street",
    "city",
    "postcode",
    "region",
    "country",
    "linkedin_url",
)
"""The companies CSV's columns (those ``salesbridge companies import`` reads)."""
TRUTH_COLUMNS: Final = ("kind", "workspace_id", "table", "crm_id", "variations")
"""The truth CSV's columns: one row per CRM record that has a counterpart in the workspace."""

PERSON_SHARE: Final = 0.85
"""About this share of CRM people (and of accounts) are in the workspace."""
UNKNOWN_PEOPLE_SHARE: Final = 0.3
"""People with no CRM record, as a share of the people that have one."""
UNKNOWN_COMPANY_SHARE: Final = 0.25
"""Companies the CRM does not know, as a share of those it does."""
EMPLOYER_ID_SHARE: Final = 0.6
"""About this share of the people whose current company is a company of the workspace carry its id
(``company_external_id``): a prospecting tool knows a person's employer as a company page when the person's
profile links to one; the others name their company in plain text only (``company_name``). Drawn from a generator
of its own, so the rest of the workspace is the same with or without it."""

Kind = Literal["person", "company"]


@dataclass(frozen=True)
class CrmRows:
    """A CRM's records as rows of Dataverse columns (what :func:`generate_workspace` reads).

    Columns read: account ``accountid``, ``name``, ``websiteurl``, ``telephone1``, ``industrycode``,
    ``numberofemployees``, ``address1_*``, ``new_linkedinurl``; contact and lead ``firstname``, ``lastname``,
    ``emailaddress1``, ``emailaddress2``, ``telephone1``, ``mobilephone``, ``jobtitle``, ``address1_*``,
    ``new_linkedinurl``, contact ``parentcustomerid``, lead ``companyname``, ``parentaccountid`` and
    ``parentcontactid``. Missing columns are fine.
    """

    accounts: Sequence[Mapping[str, Any]]
    contacts: Sequence[Mapping[str, Any]]
    leads: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class TruthLink:
    """A CRM record and the workspace person or company that is it.

    Attributes:
        variations: What the workspace shows differently (``nickname``, ``accents_dropped``, ``job_change``,
            ``masked_email``, ``legal_form`` …), for reading a benchmark's misses.
    """

    kind: Kind
    workspace_id: str
    table: str
    crm_id: str
    variations: tuple[str, ...] = ()

    def as_row(self) -> dict[str, str]:
        """The truth CSV's row."""
        return {
            "kind": self.kind,
            "workspace_id": self.workspace_id,
            "table": self.table,
            "crm_id": self.crm_id,
            "variations": ";".join(self.variations),
        }


@dataclass(frozen=True)
class DemoWorkspace:
    """Generated people and companies (CSV-ready rows of text) and the truth tying them to CRM records."""

    people: list[dict[str, str]]
    companies: list[dict[str, str]]
    truth: list[TruthLink]

    def pairs(self, kind: Kind) -> set[tuple[str, str]]:
        """The true ``(crm_id, workspace_id)`` pairs of people (``person``: contacts and leads) or of companies
        (``company``: accounts)."""
        return {(link.crm_id, link.workspace_id) for link in self.truth if link.kind == kind}


@dataclass(frozen=True)
class WorkspaceFiles:
    """Where :func:`write_workspace_csvs` wrote the files."""

    people: Path
    companies: Path
    truth: Path


# --------------------------------------------------------------------------------------------------------------
# Reading rows


def _id(value: Any) -> str | None:
    """A lookup's or key's id in lower case (the sandbox's text, or the workspace's ``{"id", "table"}``)."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return str(value).lower() if value else None


def _text(row: Mapping[str, Any], column: str) -> str:
    value = row.get(column)
    return str(value).strip() if value is not None else ""


def crm_rows_of_sandbox(state: SandboxState) -> CrmRows:
    """The accounts, contacts and leads of a sandbox organization (a table missing from it gives no rows)."""

    def rows(table: str) -> list[dict[str, Any]]:
        if state.catalogue.find_entity(table) is None:
            return []
        columns, values = state.storage.query(f'SELECT * FROM "{table}"')
        return [dict(zip(columns, row, strict=True)) for row in values]

    return CrmRows(accounts=rows("account"), contacts=rows("contact"), leads=rows("lead"))


# --------------------------------------------------------------------------------------------------------------
# Vocabulary of variation

_FORMAL_OF: Final = {nick: formal for formal, nicks in NICKNAMES.items() for nick in nicks}
_ACCENTED: Final = {
    without_accents(name): name
    for males, females, lasts in NAMES.values()
    for name in (*males, *females, *lasts)
    if without_accents(name) != name
} | {"Jose": "José", "Francisco": "Francisco"}
_COUNTRY_IN_ENGLISH: Final = {
    "España": "Spain", "Francia": "France", "Alemania": "Germany", "Reino Unido": "United Kingdom",
    "Irlanda": "Ireland", "Países Bajos": "Netherlands", "Italia": "Italy", "Suecia": "Sweden", "México": "Mexico",
    "Perú": "Peru", "Brasil": "Brazil", "Estados Unidos": "United States", "Canadá": "Canada",
}  # fmt: skip
_LEGAL_FORMS: Final = tuple(sorted({form for country in COUNTRIES.values() for form in country.legal_forms}, key=len))
_LEGAL_SUFFIX: Final = re.compile(
    r"[\s,]+(" + "|".join(re.escape(form) for form in reversed(_LEGAL_FORMS)) + r")$", re.IGNORECASE
)
_LONG_FORMS: Final = {"Ltd": "Limited", "Ltd.": "Limited", "Inc.": "Incorporated", "Corp.": "Corporation"}
_TITLE_WORDING: Final = {
    "Director": "Dir.", "Directora": "Dir.", "Responsable": "Resp.", "Manager": "Mgr", "Coordinator": "Coord.",
    "Jefe": "Head", "Jefa": "Head",
}  # fmt: skip
_ALL_TITLES: Final = tuple(title for titles in TITLES.values() for title in titles)
_FREE_MAIL: Final = ("gmail.com", "hotmail.com", "yahoo.com", "outlook.com")
_SUFFIXES: Final = ("", "ia", "on", "ex", "ara", "is", "o", "um")


def _rng(seed: int, *parts: str) -> random.Random:
    return random.Random(f"workspace:{seed}:{':'.join(parts)}")


def _short_id(prefix: str, seed: int, key: str) -> str:
    return f"{prefix}-{hashlib.sha1(f'{seed}:{key}'.encode()).hexdigest()[:12]}"


def _typo(word: str, rng: random.Random) -> str:
    """Two neighbouring letters swapped inside ``word`` (kept when too short)."""
    if len(word) < 5:
        return word
    at = rng.randrange(1, len(word) - 2)
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


def without_legal_form(name: str) -> str:
    """A company name without its trailing legal form (``Contoso Ltd.`` → ``Contoso``)."""
    return _LEGAL_SUFFIX.sub("", name).strip() or name


def _company_variant(name: str, rng: random.Random, variations: list[str]) -> str:
    """How a company page writes an account's name."""
    roll = rng.random()
    bare = without_legal_form(name)
    if roll < 0.35 and bare != name:
        variations.append("legal_form")
        return bare
    if roll < 0.45:
        variations.append("upper_case")
        return bare.upper()
    if roll < 0.55 and bare != name:
        form = name[len(bare) :].strip(" ,")
        variations.append("legal_form")
        return f"{bare} {_LONG_FORMS.get(form, form.replace('.', ''))}"
    if roll < 0.62 and without_accents(name) != name:
        variations.append("accents_dropped")
        return without_accents(name)
    return name


_PARTICLES: Final = frozenset({"de", "van", "von", "da", "di", "del", "du", "dos", "le", "la"})
"""Particles a surname starts with (Dutch, German, Spanish, Portuguese, Italian, French): never cut off alone."""


def _name_variant(first: str, last: str, rng: random.Random, variations: list[str]) -> tuple[str, str]:
    """How a person's profile shows the CRM's first and last name."""
    nicknames = NICKNAMES.get(first) or NICKNAMES.get(_ACCENTED.get(first, first), ())
    if nicknames and rng.random() < 0.25:
        first = rng.choice(nicknames)
        variations.append("nickname")
    elif first in _FORMAL_OF and rng.random() < 0.5:
        first = _FORMAL_OF[first]  # the CRM kept a nickname, the profile the full name
        variations.append("nickname")
    if " " in last and rng.random() < 0.3:
        head = last.split(" ")[0]
        if head.casefold() not in _PARTICLES:  # "de Vries" is one surname: "Bram de" is nobody's name
            last = head
            variations.append("surname_shortened")
    roll = rng.random()
    if roll < 0.15 and without_accents(f"{first}{last}") != f"{first}{last}":
        first, last = without_accents(first), without_accents(last)
        variations.append("accents_dropped")
    elif roll < 0.85 and (first in _ACCENTED or any(part in _ACCENTED for part in last.split(" "))):
        first = _ACCENTED.get(first, first)
        last = " ".join(_ACCENTED.get(part, part) for part in last.split(" "))
        variations.append("accents_added")
    if rng.random() < 0.05:
        last = _typo(last, rng)
        variations.append("typo")
    return first, last


def _title_variant(title: str, rng: random.Random, variations: list[str]) -> str:
    roll = rng.random()
    if roll < 0.12:
        variations.append("no_title")
        return ""
    if roll < 0.3:
        words = [_TITLE_WORDING.get(word, word) for word in title.split(" ")]
        if words != title.split(" "):
            variations.append("title_wording")
            return " ".join(words)
    return title


def _website_variant(url: str, rng: random.Random) -> str:
    host = re.sub(r"^https?://(www\.)?", "", url).rstrip("/")
    return rng.choice((f"https://www.{host}", f"http://{host}/", host, f"www.{host}", f"https://{host}/about"))


def _profile_slug(url: str) -> str | None:
    """The ``in/<slug>`` or ``company/<slug>`` part of a LinkedIn URL as people paste it."""
    found = re.search(r"linkedin\.com/((?:in|company)/[^/?#]+)", url, re.IGNORECASE)
    return found.group(1).lower() if found else None


def _place(row: Mapping[str, Any], rng: random.Random, *, street_share: float) -> dict[str, str]:
    country = _text(row, "address1_country")
    if country and rng.random() < 0.5:
        country = _COUNTRY_IN_ENGLISH.get(country, country)
    with_street = rng.random() < street_share
    return {
        "street": _text(row, "address1_line1") if with_street else "",
        "postcode": _text(row, "address1_postalcode") if with_street else "",
        "city": _text(row, "address1_city"),
        "region": _text(row, "address1_stateorprovince") if rng.random() < 0.6 else "",
        "country": country,
    }


def _phone_variant(phone: str, rng: random.Random) -> str:
    return phone.replace(" ", "") if rng.random() < 0.5 else phone


# --------------------------------------------------------------------------------------------------------------
# People: one identity per CRM person (a contact, the lead it came from, a contact entered twice)


@dataclass
class _Identity:
    records: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)  # (table, row), contacts first

    @property
    def key(self) -> str:
        table, row = self.records[0]
        return f"{table}:{_id(row.get(f'{table}id'))}"


@functools.lru_cache(maxsize=1 << 16)
def _folded(text: str) -> str:
    return without_accents(text).casefold().strip()


def _given_key(first: str) -> str:
    """The formal given name of ``first`` (nicknames folded), to find a person entered twice."""
    return _folded(_FORMAL_OF.get(first, first))


def _identities(crm: CrmRows) -> list[_Identity]:
    """The CRM's people: contacts of one account with the same last name and given name (nicknames folded) or
    the same email are one; a lead joins the contact it names (``parentcontactid``) or whose email it gives."""
    identities: list[_Identity] = []
    by_name: dict[tuple[str | None, str, str], _Identity] = {}
    by_email: dict[str, _Identity] = {}
    by_contact: dict[str, _Identity] = {}
    contacts = sorted(crm.contacts, key=lambda row: _id(row.get("contactid")) or "")
    for row in contacts:
        first, last = _text(row, "firstname"), _text(row, "lastname")
        email = _text(row, "emailaddress1").casefold()
        name_key = (_id(row.get("parentcustomerid")), _given_key(first), _folded(last))
        identity = by_name.get(name_key) if last else None
        if identity is None and email:
            identity = by_email.get(email)
        if identity is None:
            identity = _Identity()
            identities.append(identity)
        identity.records.append(("contact", row))
        if last:
            by_name.setdefault(name_key, identity)
        if email:
            by_email.setdefault(email, identity)
        contact_id = _id(row.get("contactid"))
        if contact_id:
            by_contact[contact_id] = identity
    for row in sorted(crm.leads, key=lambda row: _id(row.get("leadid")) or ""):
        email = _text(row, "emailaddress1").casefold()
        contact = by_contact.get(_id(row.get("parentcontactid")) or "")
        same_person = contact is not None and _folded(_text(row, "lastname")) == _folded(
            _text(contact.records[0][1], "lastname")
        )
        identity = contact if same_person else by_email.get(email) if email else None
        if identity is None:
            identity = _Identity()
            identities.append(identity)
        identity.records.append(("lead", row))
    return identities


@dataclass
class _Companies:
    """The workspace's companies and what people need of them."""

    names_by_account: dict[str, str] = field(default_factory=dict)  # account id -> its CRM name
    ids_by_account: dict[str, str] = field(default_factory=dict)  # account id -> its workspace company's id
    crm_names: set[str] = field(default_factory=set)  # folded names and bare names of every account
    unknown: list[dict[str, str]] = field(default_factory=list)  # companies with no CRM record
    rows: list[dict[str, str]] = field(default_factory=list)


def _companies(crm: CrmRows, seed: int, truth: list[TruthLink]) -> _Companies:
    companies = _Companies()
    for account in crm.accounts:
        name = _text(account, "name")
        account_id = _id(account.get("accountid"))
        if account_id and name:
            companies.names_by_account[account_id] = name
            companies.crm_names.update({_folded(name), _folded(without_legal_form(name))})
    for account in sorted(crm.accounts, key=lambda row: _id(row.get("accountid")) or ""):
        account_id, name = _id(account.get("accountid")), _text(account, "name")
        if not account_id or not name:
            continue
        rng = _rng(seed, "account", account_id)
        if rng.random() >= PERSON_SHARE:
            continue
        variations: list[str] = []
        row = _company_row(_short_id("wc", seed, f"account:{account_id}"), account, rng, variations)
        companies.rows.append(row)
        companies.ids_by_account[account_id] = row["id"]
        truth.append(TruthLink("company", row["id"], "account", account_id, tuple(variations)))
    wanted = max(3, round(len(companies.rows) * UNKNOWN_COMPANY_SHARE))
    for name, country in _unknown_company_names(companies.crm_names, seed, wanted):
        rng = _rng(seed, "unknown-company", name)
        domain = f"{ascii_slug(name)}.{country.tld}"
        companies.unknown.append(
            {
                "id": _short_id("wc", seed, f"unknown:{name}"),
                "name": f"{name} {rng.choice(country.legal_forms)}" if rng.random() < 0.5 else name,
                "website": f"https://www.{domain}",
                "phone": "",
                "industry": rng.choice(INDUSTRIES)[0],
                "employee_count": str(rng.choice((8, 35, 120, 450, 1800, 9000))),
                "street": "",
                "city": "",
                "postcode": "",
                "region": "",
                "country": country.name if rng.random() < 0.5 else _COUNTRY_IN_ENGLISH.get(country.name, country.name),
                "linkedin_url": f"https://www.linkedin.com/company/{ascii_slug(name)}",
            }
        )
    companies.rows.extend(companies.unknown)
    return companies


def _company_row(
    company_id: str, account: Mapping[str, Any], rng: random.Random, variations: list[str]
) -> dict[str, str]:
    website = _text(account, "websiteurl")
    phone = _text(account, "telephone1")
    code = account.get("industrycode")
    employees = account.get("numberofemployees")
    url = _text(account, PROFILE_URL_COLUMN)
    slug = _profile_slug(url) if url else None
    if slug is None and rng.random() < 0.7:
        slug = f"company/{ascii_slug(without_legal_form(_text(account, 'name')))}"
    elif slug is not None and rng.random() < 0.1:
        slug = None
    count = ""
    if isinstance(employees, int) and rng.random() < 0.8:
        count = str(max(1, round(employees * rng.uniform(0.85, 1.15))))
    return {
        "id": company_id,
        "name": _company_variant(_text(account, "name"), rng, variations),
        "website": _website_variant(website, rng) if website and rng.random() < 0.85 else "",
        "phone": _phone_variant(phone, rng) if phone and rng.random() < 0.5 else "",
        "industry": INDUSTRIES[code - 1][0] if isinstance(code, int) and 0 < code <= len(INDUSTRIES) else "",
        "employee_count": count,
        **_place(account, rng, street_share=0.3),
        "linkedin_url": f"https://www.linkedin.com/{slug}" if slug else "",
    }


def _unknown_company_names(crm_names: set[str], seed: int, wanted: int) -> Iterator[tuple[str, Any]]:
    """``wanted`` company names no account has, with a country each (as many as asked, whatever the size)."""
    rng = _rng(seed, "unknown-companies")
    countries = sorted(COUNTRIES.values())
    seen: set[str] = set()
    made = attempt = 0
    while made < wanted:
        attempt += 1
        stem = rng.choice(STEMS) + rng.choice(_SUFFIXES)
        sector = rng.choice(SECTORS)[2]
        name = f"{stem} {sector}" if attempt < 20 * wanted else f"{stem} {sector} {attempt}"
        if _folded(name) in crm_names or name in seen:
            continue
        seen.add(name)
        made += 1
        yield name, rng.choice(countries)


def generate_workspace(
    crm: CrmRows, *, seed: int = 13, unknown_people_share: float = UNKNOWN_PEOPLE_SHARE
) -> DemoWorkspace:
    """People and companies overlapping ``crm`` the way real data does, and the truth (see the module's doc).
    Deterministic: the same rows and ``seed`` give the same workspace (row order does not matter)."""
    truth: list[TruthLink] = []
    companies = _companies(crm, seed, truth)
    people: list[dict[str, str]] = []
    crm_person_names: set[tuple[str, str]] = set()
    for identity in _identities(crm):
        _table, row = identity.records[0]
        crm_person_names.add((_given_key(_text(row, "firstname")), _folded(_text(row, "lastname"))))
        rng = _rng(seed, identity.key)
        if rng.random() >= PERSON_SHARE or not (_text(row, "firstname") or _text(row, "lastname")):
            continue
        variations: list[str] = []
        person = _person_row(_short_id("wp", seed, identity.key), identity, companies, rng, variations)
        _employer_id(person, _rng(seed, "employer", identity.key))
        people.append(person)
        for record_table, record in identity.records:
            crm_id = _id(record.get(f"{record_table}id"))
            if crm_id:
                truth.append(TruthLink("person", person["id"], record_table, crm_id, tuple(variations)))
        if rng.random() < 0.04 and companies.unknown:
            namesake = _namesake(person, identity.key, companies, seed)
            _employer_id(namesake, _rng(seed, "employer", f"namesake:{identity.key}"))
            people.append(namesake)
    people.extend(_unknown_people(crm_person_names, companies, seed, round(len(people) * unknown_people_share)))
    return DemoWorkspace(people=people, companies=companies.rows, truth=truth)


def _person_row(
    person_id: str, identity: _Identity, companies: _Companies, rng: random.Random, variations: list[str]
) -> dict[str, str]:
    table, row = identity.records[0]
    first, last = _name_variant(_text(row, "firstname"), _text(row, "lastname"), rng, variations)
    account_id = _id(row.get("parentcustomerid") if table == "contact" else row.get("parentaccountid"))
    company = companies.names_by_account.get(account_id or "") or _text(row, "companyname")
    employer = companies.ids_by_account.get(account_id or "", "") if company else ""
    title = _text(row, "jobtitle")
    if company and rng.random() < 0.07:  # a job change the CRM has not heard of
        new = companies.unknown[rng.randrange(len(companies.unknown))] if companies.unknown else None
        company = new["name"] if new else f"{company} Holdings"
        employer = new["id"] if new else ""
        title = rng.choice([other for other in _ALL_TITLES if other != title] or list(_ALL_TITLES))
        variations.append("job_change")
    elif company:
        company = _company_variant(company, rng, variations)
    title = _title_variant(title, rng, variations) if title else ""
    return {
        "id": person_id,
        "first_name": first,
        "last_name": last,
        "email": _email(identity, rng, variations),
        "phone": _phone(identity, rng, variations),
        "job_title": title,
        "company_name": company,
        "linkedin_url": _person_url(identity, first, last, rng, variations),
        **_place(row, rng, street_share=0.1),
        "company_external_id": employer,
    }


def _employer_id(person: dict[str, str], rng: random.Random) -> None:
    """Keep the person's employer id (the workspace company it works at) for about :data:`EMPLOYER_ID_SHARE` of
    the people that have one, as a prospecting tool knows it; blank it for the rest."""
    if person["company_external_id"] and rng.random() >= EMPLOYER_ID_SHARE:
        person["company_external_id"] = ""


def _email(identity: _Identity, rng: random.Random, variations: list[str]) -> str:
    work = next((_text(row, "emailaddress1") for _table, row in identity.records if _text(row, "emailaddress1")), "")
    personal = next((_text(row, "emailaddress2") for _t, row in identity.records if _text(row, "emailaddress2")), "")
    roll = rng.random()
    if work and roll < 0.45:
        return f"{work};{personal}" if personal and rng.random() < 0.3 else work
    if personal and roll < 0.6:
        variations.append("personal_email")
        return personal
    if work and roll < 0.72:
        local, _, domain = work.partition("@")
        variations.append("masked_email")
        return f"{local[:1]}{'*' * max(3, len(local) - 1)}@{domain}"
    variations.append("no_email")
    return ""


def _phone(identity: _Identity, rng: random.Random, variations: list[str]) -> str:
    _table, row = identity.records[0]
    mobile, business = _text(row, "mobilephone"), _text(row, "telephone1")
    roll = rng.random()
    if mobile and roll < 0.3:
        return _phone_variant(mobile, rng)
    if business and roll < 0.5:
        variations.append("business_phone")  # often the account's switchboard, shared by colleagues
        return _phone_variant(business, rng)
    return ""


def _person_url(identity: _Identity, first: str, last: str, rng: random.Random, variations: list[str]) -> str:
    for _table, row in identity.records:
        url = _text(row, PROFILE_URL_COLUMN)
        slug = _profile_slug(url) if url else None
        if slug:
            if rng.random() < 0.9:
                return f"https://www.linkedin.com/{slug}"
            variations.append("no_profile_url")
            return ""
    if rng.random() < 0.8:
        return f"https://www.linkedin.com/in/{ascii_slug(first)}-{ascii_slug(last)}-{rng.randrange(16**6):06x}"
    return ""


def _namesake(person: dict[str, str], key: str, companies: _Companies, seed: int) -> dict[str, str]:
    """Someone with the same name at a company the CRM does not know, elsewhere: no CRM record."""
    rng = _rng(seed, "namesake", key)
    company = companies.unknown[rng.randrange(len(companies.unknown))]
    first, last = person["first_name"], person["last_name"]
    return {
        **dict.fromkeys(PEOPLE_COLUMNS, ""),
        "id": _short_id("wp", seed, f"namesake:{key}"),
        "first_name": first,
        "last_name": last,
        "job_title": rng.choice(_ALL_TITLES),
        "company_name": company["name"],
        "linkedin_url": f"https://www.linkedin.com/in/{ascii_slug(first)}-{ascii_slug(last)}-{rng.randrange(16**6):06x}",
        "country": company["country"],
        "company_external_id": company["id"],
    }


def _unknown_people(
    crm_names: set[tuple[str, str]], companies: _Companies, seed: int, wanted: int
) -> Iterator[dict[str, str]]:
    """``wanted`` people with no CRM record, at companies the CRM does not know, with names no CRM person has."""
    if not companies.unknown:
        return
    rng = _rng(seed, "unknown-people")
    languages = sorted(NAMES)
    made = attempt = 0
    while made < wanted and attempt < 50 * wanted + 100:
        attempt += 1
        males, females, lasts = NAMES[rng.choice(languages)]
        first, last = rng.choice(males + females), rng.choice(lasts)
        if attempt > 2 * made + 200:
            last = f"{last}-{rng.choice(lasts)}"  # a bigger CRM uses up the simple names
        if (_given_key(first), _folded(last)) in crm_names:
            continue
        crm_names.add((_given_key(first), _folded(last)))
        made += 1
        company = companies.unknown[rng.randrange(len(companies.unknown))]
        yield {
            **dict.fromkeys(PEOPLE_COLUMNS, ""),
            "id": _short_id("wp", seed, f"unknown:{made}"),
            "first_name": first,
            "last_name": last,
            "email": f"{ascii_slug(first)}.{ascii_slug(last)}@{company['website'].removeprefix('https://www.')}"
            if rng.random() < 0.4
            else "",
            "job_title": rng.choice(_ALL_TITLES),
            "company_name": company["name"],
            "linkedin_url": f"https://www.linkedin.com/in/{ascii_slug(first)}-{ascii_slug(last)}-{made:06x}",
            "country": company["country"],
            "company_external_id": company["id"]
            if _rng(seed, "employer", f"unknown:{made}").random() < EMPLOYER_ID_SHARE
            else "",
        }


# --------------------------------------------------------------------------------------------------------------
# Files


def _write(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def write_workspace_csvs(workspace: DemoWorkspace, folder: Path) -> WorkspaceFiles:
    """Write ``people.csv``, ``companies.csv`` (as the CSV import reads them) and ``truth.csv`` into ``folder``
    (created if missing); UTF-8, one header line each."""
    folder.mkdir(parents=True, exist_ok=True)
    files = WorkspaceFiles(folder / "people.csv", folder / "companies.csv", folder / "truth.csv")
    _write(files.people, PEOPLE_COLUMNS, workspace.people)
    _write(files.companies, COMPANY_COLUMNS, workspace.companies)
    _write(files.truth, TRUTH_COLUMNS, (link.as_row() for link in workspace.truth))
    return files


def csv_bytes(columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> bytes:
    """``rows`` as a UTF-8 CSV file's bytes (for loading without a file)."""
    import io

    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m salesbridge.sandbox.seeds.demo_workspace OUT_DIR [--crm demo|scale:N] [--seed N]``."""
    from salesbridge.sandbox.organization.foundation import build_foundation, create_state
    from salesbridge.sandbox.seeds.seeding import apply_seed, parse_seed

    parser = argparse.ArgumentParser(description="Write a demo workspace overlapping a sandbox seed's CRM.")
    parser.add_argument("out", type=Path, help="Folder for people.csv, companies.csv and truth.csv.")
    parser.add_argument("--crm", default="demo", help="The sandbox seed the CRM comes from (demo, scale:N).")
    parser.add_argument("--seed", type=int, default=13, help="The workspace generator's seed.")
    options = parser.parse_args(argv)
    state = create_state(None)
    build_foundation(state)
    apply_seed(state, parse_seed(options.crm))
    workspace = generate_workspace(crm_rows_of_sandbox(state), seed=options.seed)
    files = write_workspace_csvs(workspace, options.out)
    print(f"{len(workspace.people)} people, {len(workspace.companies)} companies, {len(workspace.truth)} truth rows")
    print(f"{files.people}\n{files.companies}\n{files.truth}")


if __name__ == "__main__":
    main()
