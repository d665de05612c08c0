"""The demo seed's sales data: accounts (groups with subsidiaries), contacts, leads, opportunities in every
stage and stakeholder connections.

Records carry what matching compares, as a real CRM does: phones (colleagues at one account often give its
switchboard), addresses, websites, industry, employee counts, a second (often personal) email, and a LinkedIn
profile URL in the custom text column :data:`PROFILE_URL_COLUMN` for about half of them. Like real data entry, a few
Spanish names are typed without their accents, some contacts are entered twice (a nickname, the same email), and a
qualified lead is the same person as the contact it became.
"""

from __future__ import annotations

import math
import random
from datetime import timedelta
from typing import Any

from salesbridge.sandbox.seeds.demo_organization import DemoOrganization
from salesbridge.sandbox.seeds.demo_writer import (
    DEMO_ACCOUNTS,
    DEMO_CONTACTS,
    DEMO_GROUPS,
    DEMO_LEADS,
    DEMO_SUBSIDIARIES,
    Principal,
)
from salesbridge.sandbox.seeds.vocabulary import (
    CITIES,
    COUNTRIES,
    HISTORY_DAYS,
    LEAD_DISQUALIFIED,
    LEAD_OPEN,
    LEAD_QUALIFIED,
    NAMES,
    NICKNAMES,
    NOTE_TEXTS,
    OPP_LOST,
    OPP_OPEN,
    OPP_WON,
    PRODUCTS,
    SECTORS,
    STAGES,
    STEMS,
    STREETS,
    TITLES,
    City,
    ascii_slug,
    company_domain,
    company_name,
    fill_digits,
    in_language,
    sector_word,
    without_accents,
)


class DemoSales(DemoOrganization):
    """Adds the sales records to :class:`DemoOrganization`."""

    def plan_accounts(self) -> None:
        rng = self.rng
        combos = [(stem, sector) for stem in STEMS for sector in SECTORS]
        rng.shuffle(combos)
        used_stems: set[str] = set()
        names: set[str] = set()
        groups: list[dict[str, Any]] = []
        for index in range(DEMO_ACCOUNTS):
            if DEMO_GROUPS <= index < DEMO_GROUPS + DEMO_SUBSIDIARIES:
                parent = groups[(index - DEMO_GROUPS) % DEMO_GROUPS]
                stem, sector = parent["_stem"], parent["_sector"]
                city = rng.choice([c for c in CITIES if c.name != parent["address1_city"]])
            else:
                stem, sector = next((s, x) for s, x in combos if s not in used_stems)
                used_stems.add(stem)
                city = rng.choice(CITIES)
                parent = None
            country = COUNTRIES[city.country]
            name = company_name(stem, sector, country, rng.choice(country.legal_forms))
            if index < DEMO_GROUPS:
                name = f"Grupo {stem}" if country.lang in ("es", "pt") else f"{stem} Group"
            while name in names:  # a subsidiary in the same country as a sibling
                name = f"{name} ({city.name})"
            names.add(name)
            domain = company_domain(stem, sector, country)
            if parent is not None:
                domain = f"{ascii_slug(stem)}-{city.country.lower()}.{country.tld}"
            size = rng.random()
            if index < DEMO_GROUPS or size > 0.85:
                employees = rng.randint(2_000, 40_000)
            elif size > 0.45:
                employees = rng.randint(200, 1_999)
            else:
                employees = rng.randint(12, 199)
            revenue = float(round(employees * rng.uniform(80_000, 260_000), -4))
            owner = self.owner_for(country.americas)
            if self.team is not None and index < 4:
                owner = self.team
            elif self.disabled is not None and index in (20, 33):
                owner = self.disabled
            actor = self.acting_user(owner)
            created = self.past(HISTORY_DAYS, 30)
            modified = self.modified_after(created)
            inactive = index in (41, 52)
            account = {
                "accountid": self.new_id(),
                "name": name,
                "accountnumber": f"CUS-{10001 + index}",
                "industrycode": sector[3],
                "customertypecode": rng.choice((3, 3, 3, 3, 8, 8, 5, 9)),
                "accountcategorycode": 1 if employees >= 2_000 else 2,
                "ownershipcode": 1 if employees >= 5_000 else rng.choice((2, 2, 3, 4)),
                "paymenttermscode": rng.choice((1, 1, 2, 3, 4)),
                "numberofemployees": employees,
                "revenue": revenue,
                "revenue_base": revenue,
                "websiteurl": f"https://www.{domain}",
                "emailaddress1": f"{'info' if country.lang != 'es' else 'contacto'}@{domain}",
                "telephone1": self.phone(city),
                "description": f"{in_language(country.lang, _SECTOR_BLURB)} {sector_word(sector, country).lower()}.",
                "tickersymbol": ascii_slug(stem)[:4].upper() if employees >= 5_000 else None,
                "statecode": 1 if inactive else 0,
                "statuscode": 2 if inactive else 1,
                **self.address(city),
                **self.owned(owner, creator=actor.id),
                **self.stamps(created, modified),
                "_stem": stem,
                "_sector": sector,
                "_city": city,
                "_domain": domain,
                "_owner": owner,
                "_created": created,
                "_lang": country.lang,
            }
            if parent is not None:
                account["parentaccountid"] = parent["accountid"]
                account["parentaccountid__type"] = "account"
                account["_created"] = created = max(created, parent["_created"])
                account.update(self.stamps(created, max(modified, created)))
            if index < DEMO_GROUPS:
                groups.append(account)
            if self.extras.random() < PROFILE_URL_SHARE:
                slug = ascii_slug(name.split(" (")[0]) if parent is None else f"{ascii_slug(stem)}-{city.country}"
                account[PROFILE_URL_COLUMN] = f"https://www.linkedin.com/company/{slug.lower()}"
            self.accounts.append(account)

    def plan_contacts(self) -> None:
        rng = self.rng
        per_account = [2] * len(self.accounts)
        weights = [math.log10(a["numberofemployees"]) for a in self.accounts]
        for _ in range(DEMO_CONTACTS - sum(per_account)):
            per_account[rng.choices(range(len(self.accounts)), weights)[0]] += 1
        for account, count in zip(self.accounts, per_account, strict=True):
            city: City = account["_city"]
            lang = COUNTRIES[city.country].lang
            males, females, lasts = NAMES[lang]
            titles = TITLES.get(lang, TITLES["en"])
            emails: set[str] = set()
            mine: list[dict[str, Any]] = []
            for _ in range(count):
                female = rng.random() < 0.5
                first = rng.choice(females if female else males)
                if lang == "es" and not female and self.extras.random() < 0.1:
                    first = self.extras.choice(("Francisco", "José"))  # the names most shortened (Paco, Pepe)
                last = rng.choice(lasts)
                if lang == "es" and rng.random() < 0.5:
                    last = f"{last} {rng.choice(lasts)}"
                local = f"{ascii_slug(first)}.{ascii_slug(last.split(' ')[0])}"
                email, n = f"{local}@{account['_domain']}", 2
                while email in emails:
                    email, n = f"{local}{n}@{account['_domain']}", n + 1
                emails.add(email)
                owner: Principal = (
                    account["_owner"] if rng.random() < 0.9 else self.owner_for(COUNTRIES[city.country].americas)
                )
                created = self.between(account["_created"], self.now - timedelta(days=7))
                inactive = rng.random() < 0.05
                contact = {
                    "contactid": self.new_id(),
                    "firstname": first,
                    "lastname": last,
                    "fullname": f"{first} {last}",
                    "yomifullname": f"{first} {last}",
                    "jobtitle": rng.choice(titles),
                    "gendercode": 2 if female else 1,
                    "emailaddress1": email,
                    "telephone1": self.phone(city),
                    "mobilephone": f"{city.phone.split(' ')[0]} 6{rng.randint(10_000_000, 99_999_999)}",
                    "parentcustomerid": account["accountid"],
                    "parentcustomerid__type": "account",
                    "accountid": account["accountid"],
                    "accountid__type": "account",
                    "preferredcontactmethodcode": rng.choice((1, 1, 2, 3)),
                    "address1_city": city.name,
                    "address1_country": COUNTRIES[city.country].name,
                    "statecode": 1 if inactive else 0,
                    "statuscode": 2 if inactive else 1,
                    **self.owned(owner, creator=self.acting_user(owner).id),
                    **self.stamps(created, self.modified_after(created)),
                    "_created": created,
                    "_account": account,
                    "_owner": owner,
                }
                self.contact_extras(contact, account)
                mine.append(contact)
                self.contacts.append(contact)
            if len(mine) >= 3 and self.extras.random() < DUPLICATE_SHARE:
                entered_twice(mine[-1], mine[0], self.extras)
            self.contacts_of[account["accountid"]] = mine
            active = [c for c in mine if c["statecode"] == 0] or mine
            account["primarycontactid"] = active[0]["contactid"]
            account["primarycontactid__type"] = "contact"

    def plan_leads(self) -> None:
        rng = self.rng
        states = (
            [(LEAD_OPEN, 1)] * 12
            + [(LEAD_OPEN, 2)] * 10
            + [(LEAD_QUALIFIED, 3)] * 14
            + [(LEAD_DISQUALIFIED, s) for s in (4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7)]
        )
        rng.shuffle(states)
        used_stems = {a["_stem"] for a in self.accounts}
        free_stems = [s for s in STEMS if s not in used_stems] or list(STEMS)
        for state, status in states[:DEMO_LEADS]:
            linked = state == LEAD_QUALIFIED or rng.random() < 0.3
            account = rng.choice(self.accounts) if linked else None
            if account is not None:
                city = account["_city"]
                company = account["name"]
                domain = account["_domain"]
            else:
                city = rng.choice(CITIES)
                stem, sector = rng.choice(free_stems), rng.choice(SECTORS)
                country = COUNTRIES[city.country]
                company = company_name(stem, sector, country, rng.choice(country.legal_forms))
                domain = company_domain(stem, sector, country)
            country = COUNTRIES[city.country]
            males, females, lasts = NAMES[country.lang]
            first = rng.choice(males + females)
            last = rng.choice(lasts)
            product = rng.choice(PRODUCTS)
            owner = self.owner_for(country.americas)
            created = self.past(HISTORY_DAYS - 60, 3)
            lead: dict[str, Any] = {
                "leadid": self.new_id(),
                "subject": f"{in_language(country.lang, _LEAD_PREFIX)} {in_language(country.lang, product).lower()}",
                "firstname": first,
                "lastname": last,
                "fullname": f"{first} {last}",
                "companyname": company,
                "jobtitle": rng.choice(TITLES.get(country.lang, TITLES["en"])),
                "emailaddress1": f"{ascii_slug(first)}.{ascii_slug(last)}@{domain}",
                "telephone1": self.phone(city),
                "websiteurl": f"https://www.{domain}",
                "address1_city": city.name,
                "address1_country": country.name,
                "industrycode": rng.choice(SECTORS)[3],
                "leadsourcecode": rng.randint(1, 10),
                "leadqualitycode": rng.choice((1, 2, 2, 3)),
                "purchasetimeframe": rng.randint(0, 4),
                "budgetstatus": rng.randint(0, 3),
                "numberofemployees": rng.choice((15, 40, 120, 350, 800, 2500)),
                "estimatedamount": float(rng.randrange(5_000, 150_000, 500)),
                "statecode": state,
                "statuscode": status,
                **self.owned(owner),
                "_created": created,
                "_owner": owner,
                "_account": account,
                "_lang": country.lang,
            }
            lead["estimatedamount_base"] = lead["estimatedamount"]
            if account is not None:
                lead["parentaccountid"] = account["accountid"]
                lead["parentaccountid__type"] = "account"
                lead["customerid"] = account["accountid"]
                lead["customerid__type"] = "account"
                if state == LEAD_QUALIFIED:
                    contact = self.contacts_of[account["accountid"]][0]
                    lead["parentcontactid"] = contact["contactid"]
                    lead["parentcontactid__type"] = "contact"
            if state == LEAD_QUALIFIED:
                lead["qualificationcomments"] = in_language(country.lang, _QUALIFIED_NOTE)
            self.lead_extras(lead, account, city)
            if state == LEAD_DISQUALIFIED:
                closed = self.between(created, min(self.now, created + timedelta(days=90)))
                lead.update(self.stamps(created, closed))
            else:
                lead.update(self.stamps(created, self.modified_after(created)))
            self.leads.append(lead)

    def contact_extras(self, contact: dict[str, Any], account: dict[str, Any]) -> None:
        """The columns matching compares, drawn from ``self.extras``: the account's switchboard and office address
        for most, a second email for some, a profile URL for about half; a few names typed without accents."""
        extras = self.extras
        if extras.random() < SWITCHBOARD_SHARE:
            contact["telephone1"] = account["telephone1"]
        if extras.random() < 0.85:
            for column in ("address1_line1", "address1_postalcode", "address1_stateorprovince"):
                contact[column] = account[column]
        if extras.random() < 0.2:
            contact["emailaddress2"] = personal_email(contact["firstname"], contact["lastname"], extras)
        if extras.random() < PROFILE_URL_SHARE:
            contact[PROFILE_URL_COLUMN] = profile_url(contact["firstname"], contact["lastname"], extras)
        if extras.random() < 0.12:
            typed_without_accents(contact)

    def lead_extras(self, lead: dict[str, Any], account: dict[str, Any] | None, city: City) -> None:
        """As :meth:`contact_extras` for a lead; a qualified lead is the person of the contact it became."""
        extras = self.extras
        if "parentcontactid" in lead:
            siblings = self.contacts_of[lead["parentaccountid"]]
            contact = next(c for c in siblings if c["contactid"] == lead["parentcontactid"])
            for column in ("firstname", "lastname", "fullname", "emailaddress1", "jobtitle"):
                lead[column] = contact[column]
        if account is not None:
            if extras.random() < 0.4:
                lead["telephone1"] = account["telephone1"]
            for column in ("address1_line1", "address1_postalcode", "address1_stateorprovince"):
                lead[column] = account[column]
        else:
            streets, pattern = STREETS[COUNTRIES[city.country].lang]
            lead["address1_line1"] = pattern.format(street=extras.choice(streets), number=extras.randint(1, 240))
            lead["address1_postalcode"] = fill_digits(extras, city.postal)
            lead["address1_stateorprovince"] = city.province
        if extras.random() < 0.5:
            lead["mobilephone"] = f"{city.phone.split(' ')[0]} 6{extras.randint(10_000_000, 99_999_999)}"
        if extras.random() < 0.15:
            lead["emailaddress2"] = personal_email(lead["firstname"], lead["lastname"], extras)
        if extras.random() < PROFILE_URL_SHARE:
            lead[PROFILE_URL_COLUMN] = profile_url(lead["firstname"], lead["lastname"], extras)

    def plan_opportunities(self) -> None:
        rng = self.rng
        profiles: list[tuple[int, int, int]] = []  # (statecode, statuscode, salesstage)
        for stage in range(4):
            profiles += [(OPP_OPEN, 1, stage)] * 10 + [(OPP_OPEN, 2, stage)] * 2
        profiles += [(OPP_WON, 3, 3)] * 18
        profiles += [(OPP_LOST, 4, s) for s in (0, 1, 1, 2, 3)] + [
            (OPP_LOST, 5, s) for s in (1, 2, 2, 2, 3, 3, 3, 1, 2)
        ]
        rng.shuffle(profiles)
        qualified = [lead for lead in self.leads if lead["statecode"] == LEAD_QUALIFIED]
        for index, (state, status, stage) in enumerate(profiles):
            lead = qualified[index] if index < len(qualified) else None
            account = lead["_account"] if lead is not None else rng.choice(self.accounts)
            lang = account["_lang"]
            contacts = self.contacts_of[account["accountid"]]
            contact = contacts[0] if lead is not None else rng.choice(contacts)
            owner: Principal = lead["_owner"] if lead is not None else account["_owner"]
            if owner.type == "systemuser" and owner is self.disabled:
                owner = self.owner_for(owner.americas)
            product = rng.choice(PRODUCTS)
            seats = rng.choice((10, 25, 50, 75, 100, 150, 250, 500))
            unit = "usuarios" if lang == "es" else "users"
            estimated = float(round(seats * rng.uniform(300, 1_400), -2))
            if state == OPP_OPEN:
                earliest = self.now - timedelta(days=330)
            else:
                earliest = self.now - timedelta(days=HISTORY_DAYS - 20)
            earliest = max(earliest, account["_created"])
            if lead is not None:
                earliest = max(earliest, lead["_created"])
            created = self.between(earliest, self.now - timedelta(days=5))
            stage_value, step, probabilities = STAGES[stage]
            opportunity: dict[str, Any] = {
                "opportunityid": self.new_id(),
                "name": f"{in_language(lang, product)} ({seats} {unit})",
                "customerid": account["accountid"],
                "customerid__type": "account",
                "parentaccountid": account["accountid"],
                "parentaccountid__type": "account",
                "parentcontactid": contact["contactid"],
                "parentcontactid__type": "contact",
                "estimatedvalue": estimated,
                "estimatedvalue_base": estimated,
                "isrevenuesystemcalculated": 0,
                "salesstage": stage_value,
                "salesstagecode": 1,
                "stepname": step,
                "statecode": state,
                "statuscode": status,
                "opportunityratingcode": 1 if stage >= 2 else rng.choice((2, 3)),
                "purchasetimeframe": rng.randint(0, 4),
                "purchaseprocess": rng.randint(0, 2),
                "budgetstatus": min(3, stage + rng.randint(0, 1)),
                "need": rng.randint(0, 2),
                "timeline": rng.randint(0, 4),
                "description": in_language(lang, rng.choice(NOTE_TEXTS)),
                "customerneed": in_language(lang, _NEED_TEXT),
                **self.owned(owner, creator=self.acting_user(owner).id),
                "_created": created,
                "_owner": owner,
                "_contact": contact,
                "_lang": lang,
            }
            if lead is not None:
                opportunity["originatingleadid"] = lead["leadid"]
                opportunity["originatingleadid__type"] = "lead"
                lead["qualifyingopportunityid"] = opportunity["opportunityid"]
                lead["qualifyingopportunityid__type"] = "opportunity"
                lead.update(self.stamps(lead["_created"], created))
            if state == OPP_OPEN:
                opportunity["closeprobability"] = rng.choice(probabilities)
                opportunity["actualvalue"] = None
                opportunity["actualvalue_base"] = None
                close_date = (self.now + timedelta(days=rng.randint(-10, 180))).date()
                opportunity["estimatedclosedate"] = close_date.isoformat()
                opportunity.update(self.stamps(created, self.modified_after(created)))
            else:
                closed = self.between(
                    min(created + timedelta(days=7), self.now), min(self.now, created + timedelta(days=240))
                )
                won = state == OPP_WON
                actual = estimated if won else 0.0
                opportunity["closeprobability"] = 100 if won else 0
                opportunity["actualvalue"] = actual
                opportunity["actualvalue_base"] = actual
                opportunity["actualclosedate"] = closed.date().isoformat()
                planned = closed.date() + timedelta(days=rng.randint(-20, 20))
                opportunity["estimatedclosedate"] = planned.isoformat()
                opportunity.update(self.stamps(created, closed))
            self.opportunities.append(opportunity)

    def connections(self) -> None:
        if not self.stakeholder_roles:
            return
        rng = self.rng
        for opportunity in self.opportunities:
            if rng.random() < 0.35:
                continue
            contacts = self.contacts_of[opportunity["parentaccountid"]]
            chosen = rng.sample(contacts, k=min(len(contacts), rng.randint(1, 3)))
            owner: Principal = opportunity["_owner"]
            for contact in chosen:
                role = rng.choice(self.stakeholder_roles)
                created = self.between(opportunity["_created"], self.now)
                master_id, reciprocal_id = self.new_id(), self.new_id()
                common = {
                    **self.owned(owner, creator=self.acting_user(owner).id),
                    **self.stamps(created, created),
                    "statecode": 0,
                    "statuscode": 1,
                }
                # Dataverse stores a connection twice: as created (ismaster) and its reciprocal.
                self.put(
                    "connection",
                    {
                        "connectionid": master_id,
                        "name": contact["fullname"],
                        "record1id": opportunity["opportunityid"],
                        "record1id__type": "opportunity",
                        "record2id": contact["contactid"],
                        "record2id__type": "contact",
                        "record2roleid": role,
                        "record2roleid__type": "connectionrole",
                        "relatedconnectionid": reciprocal_id,
                        "relatedconnectionid__type": "connection",
                        "ismaster": 1,
                        **common,
                    },
                )
                self.put(
                    "connection",
                    {
                        "connectionid": reciprocal_id,
                        "name": opportunity["name"],
                        "record1id": contact["contactid"],
                        "record1id__type": "contact",
                        "record1roleid": role,
                        "record1roleid__type": "connectionrole",
                        "record2id": opportunity["opportunityid"],
                        "record2id__type": "opportunity",
                        "relatedconnectionid": master_id,
                        "relatedconnectionid__type": "connection",
                        "ismaster": 0,
                        **common,
                    },
                )


PROFILE_URL_COLUMN = "new_linkedinurl"
"""The demo organization's custom text column holding a LinkedIn profile URL, on contact, lead and account."""
PROFILE_URL_SHARE = 0.5
"""About this share of accounts, contacts and leads have a profile URL."""
SWITCHBOARD_SHARE = 0.6
"""About this share of contacts give their account's main number as their business phone."""
DUPLICATE_SHARE = 0.15
"""About this share of accounts with three contacts or more have one contact entered twice."""
_FREE_MAIL = ("gmail.com", "hotmail.com", "yahoo.com", "outlook.com")


def personal_email(first: str, last: str, rng: random.Random) -> str:
    """A free-mail address a person might give besides their work email."""
    local = f"{ascii_slug(first)}{rng.choice(('.', '_', ''))}{ascii_slug(last.split(' ')[0])}"
    return f"{local}{rng.randint(1, 99) if rng.random() < 0.5 else ''}@{rng.choice(_FREE_MAIL)}"


def profile_url(first: str, last: str, rng: random.Random) -> str:
    """A LinkedIn profile URL as people paste it (country subdomains, trailing slashes and tracking queries
    included): matching normalises them."""
    slug = f"{ascii_slug(first)}-{ascii_slug(last.split(' ')[0])}-{rng.randrange(16**6):06x}"
    host = rng.choice(
        ("https://www.linkedin.com", "https://www.linkedin.com", "https://es.linkedin.com", "linkedin.com")
    )
    tail = rng.choice(("", "", "/", "?originalSubdomain=es"))
    return f"{host}/in/{slug}{tail}"


def typed_without_accents(record: dict[str, Any]) -> None:
    """The names as typed on a keyboard without accents (``Lucía Núñez`` → ``Lucia Nunez``)."""
    for column in ("firstname", "lastname", "fullname", "yomifullname"):
        if isinstance(record.get(column), str):
            record[column] = without_accents(record[column])


def entered_twice(duplicate: dict[str, Any], original: dict[str, Any], rng: random.Random) -> None:
    """Make ``duplicate`` the same person as ``original`` entered again: by nickname or the same name, the same
    job, the same email or none."""
    first = original["firstname"]
    nicknames = NICKNAMES.get(first) or NICKNAMES.get(without_accents(first), ())
    if nicknames and rng.random() < 0.6:
        first = rng.choice(nicknames)
    duplicate.update(
        firstname=first,
        lastname=original["lastname"],
        fullname=f"{first} {original['lastname']}",
        yomifullname=f"{first} {original['lastname']}",
        jobtitle=original["jobtitle"],
        gendercode=original["gendercode"],
        emailaddress1=original["emailaddress1"] if rng.random() < 0.6 else None,
    )


_SECTOR_BLURB = ("Cliente del sector", "Customer in")
_LEAD_PREFIX = ("Interés en", "Interested in")
_QUALIFIED_NOTE = (
    "Presupuesto confirmado y decisor identificado.",
    "Budget confirmed and decision maker identified.",
)
_NEED_TEXT = (
    "Unificar la gestión comercial y la previsión de ventas.",
    "Unify sales management and forecasting.",
)
