"""``--seed scale:N``: N contacts plus proportional accounts (N/10), leads (N/20) and opportunities (N/20), as
precomputed tuples through :meth:`Storage.insert_many` in chunks of :data:`SCALE_CHUNK_ROWS` rows, all inside one
transaction: a seed is applied completely or not at all."""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, NamedTuple

from salesbridge.sandbox.odata.values import format_timestamp
from salesbridge.sandbox.organization.foundation import (
    ROOT_BUSINESS_UNIT_ID,
    SALESPERSON_ROLE_ID,
    RowWriter,
    build_foundation,
)
from salesbridge.sandbox.organization.state import SandboxState
from salesbridge.sandbox.seeds.ledger import SeedSummary, already_applied, remember
from salesbridge.sandbox.seeds.vocabulary import (
    CITIES,
    COUNTRIES,
    HISTORY_DAYS,
    NAMES,
    PRODUCTS,
    SECTORS,
    STAGES,
    STEMS,
    TITLES,
    USER_DOMAIN,
    ascii_slug,
    defaults,
)

#: Rows per ``executemany`` call of the scale seed.
SCALE_CHUNK_ROWS = 20_000


# --- scale ---------------------------------------------------------------------------------------------


class _Clock(NamedTuple):
    """Precomputed text pieces for fast timestamps: past days, future days and times of day."""

    days: list[str]  # 'YYYY-MM-DDT' for each of the HISTORY_DAYS days before today, oldest first
    times: list[str]  # 'HH:MM:SSZ' for every second of a day
    future: list[str]  # 'YYYY-MM-DD' for the next 180 days


def _clock(now: datetime) -> _Clock:
    today = now.astimezone(UTC).date()
    days = [(today - timedelta(days=HISTORY_DAYS - i)).isoformat() + "T" for i in range(HISTORY_DAYS)]
    times = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z" for s in range(86_400)]
    future = [(today + timedelta(days=i)).isoformat() for i in range(1, 181)]
    return _Clock(days, times, future)


#: Days between creation and last modification (0 = same day), drawn uniformly.
_MODIFIED_AFTER = (0, 0, 0, 0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377)


class _Table:
    """Column order of one bulk table: the varying columns a builder fills, then constants.

    Columns the catalogue does not have are projected away (a no-op when all are present).
    """

    def __init__(self, state: SandboxState, name: str, varying: Sequence[str], constants: dict[str, Any]) -> None:
        present = set(state.storage.columns(name))
        merged = {**defaults(state, name), **constants}
        self.name = name
        const_names = [c for c in merged if c in present and c not in varying]
        self.constants = tuple(merged[c] for c in const_names)
        all_names = [*varying, *const_names]
        keep = [i for i, c in enumerate(all_names) if c in present]
        self.columns = [all_names[i] for i in keep]
        self.project: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None
        if len(keep) != len(all_names):
            getter = itemgetter(*keep)
            self.project = (lambda row: tuple(getter(row))) if len(keep) > 1 else (lambda row: (getter(row),))


class _ScaleBuilder:
    """Writes the scale seed as tuples in fixed column order, chunk by chunk."""

    def __init__(self, state: SandboxState, contacts: int, seed: int, progress: Callable[[int], None] | None) -> None:
        self.state = state
        # A stream of its own, so a demo and a scale seed with the same number never share ids.
        self.rng = random.Random(seed * 1_000_003 + 0x5CA1E)
        self.n_contacts = contacts
        self.n_accounts = -(-contacts // 10)
        self.n_leads = -(-contacts // 20)
        self.n_opportunities = -(-contacts // 20)
        self.progress = progress
        self.counts: Counter[str] = Counter()
        self.written = 0
        self.clock = _clock(state.now())
        self.users: list[str] = []
        self.currency = state.config.base_currency_id
        # Per-account facts the later tables need.
        self.account_ids: list[str] = []
        self.account_names: list[str] = []
        self.account_domains: list[str] = []
        self.account_cities: list[int] = []
        self.account_owners: list[str] = []
        self.account_first_contact: list[int] = []
        self.contact_ids: list[str] = []

    def uuids(self, count: int) -> list[str]:
        bits = self.rng.getrandbits
        return [str(uuid.UUID(int=bits(128), version=4)) for _ in range(count)]

    def stamps(self, count: int) -> list[tuple[str, str]]:
        """(createdon, modifiedon) pairs: created any time in the last two years, modified later."""
        rng = self.rng
        days, times = self.clock.days, self.clock.times
        last = len(days) - 1
        d1 = rng.choices(range(len(days)), k=count)
        s1 = rng.choices(range(86_400), k=count)
        lag = rng.choices(_MODIFIED_AFTER, k=count)
        s2 = rng.choices(range(86_400), k=count)
        result = []
        for a, sa, g, sb in zip(d1, s1, lag, s2, strict=True):
            b = a + g
            if b > last:
                b = last
            if b == a and sb < sa:
                sb = sa
            result.append((days[a] + times[sa], days[b] + times[sb]))
        return result

    def emit(self, table: _Table, rows: list[tuple[Any, ...]]) -> None:
        if table.project is not None:
            rows = [table.project(r) for r in rows]
        self.state.storage.insert_many(table.name, table.columns, rows)
        self.counts[table.name] += len(rows)
        self.written += len(rows)
        if self.progress is not None:
            self.progress(self.written)

    def chunks(self, total: int) -> Iterator[tuple[int, int]]:
        for start in range(0, total, SCALE_CHUNK_ROWS):
            yield start, min(total, start + SCALE_CHUNK_ROWS)

    def system(self) -> dict[str, Any]:
        return {
            "owningbusinessunit": ROOT_BUSINESS_UNIT_ID,
            "owningbusinessunit__type": "businessunit",
            "ownerid__type": "systemuser",
            "owninguser__type": "systemuser",
            "createdby__type": "systemuser",
            "modifiedby__type": "systemuser",
        }

    def build(self) -> None:
        self.make_users()
        self.make_accounts()
        self.make_contacts()
        self.make_leads_and_opportunities()

    def make_users(self) -> None:
        writer = RowWriter(self.state)
        rng = self.rng
        created = format_timestamp(self.state.now() - timedelta(days=HISTORY_DAYS + 10))
        seen: set[str] = set()
        for _ in range(8):
            lang = rng.choice(("es", "es", "es", "en", "pt"))
            males, females, lasts = NAMES[lang]
            first, last = rng.choice(males + females), rng.choice(lasts)
            local = f"{ascii_slug(first)}.{ascii_slug(last)}"
            email, n = f"{local}@{USER_DOMAIN}", 2
            while email in seen:
                email, n = f"{local}{n}@{USER_DOMAIN}", n + 1
            seen.add(email)
            user_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            row = {
                "systemuserid": user_id,
                "firstname": first,
                "lastname": last,
                "fullname": f"{first} {last}",
                "internalemailaddress": email,
                "domainname": email,
                "azureactivedirectoryobjectid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "accessmode": 0,
                "isdisabled": 0,
                "islicensed": 1,
                "isintegrationuser": 0,
                "setupuser": 0,
                "title": "Account Executive",
                "businessunitid": ROOT_BUSINESS_UNIT_ID,
                "businessunitid__type": "businessunit",
                "createdon": created,
                "modifiedon": created,
            }
            columns = set(self.state.storage.columns("systemuser"))
            writer.insert("systemuser", {k: v for k, v in row.items() if k in columns})
            self.state.security.assign_role(user_id, SALESPERSON_ROLE_ID)
            self.users.append(user_id)
        self.counts["systemuser"] += len(self.users)
        self.written += len(self.users)

    def make_accounts(self) -> None:
        rng = self.rng
        next_version = self.state.storage.next_version
        table = _Table(
            self.state,
            "account",
            (
                "accountid", "name", "accountnumber", "telephone1", "emailaddress1", "websiteurl", "industrycode",
                "address1_city", "address1_stateorprovince", "address1_country", "numberofemployees", "revenue",
                "revenue_base", "customertypecode", "parentaccountid", "parentaccountid__type", "ownerid",
                "owninguser", "createdby", "modifiedby", "createdon", "modifiedon", "versionnumber",
            ),
            {
                **self.system(),
                "statecode": 0,
                "statuscode": 1,
                "transactioncurrencyid": self.currency,
                "transactioncurrencyid__type": "transactioncurrency",
                "exchangerate": 1.0,
            },
        )  # fmt: skip
        # Name parts per (stem, sector, city) are cheap to draw; precompute per-city text.
        cities = [(c.name, c.province, COUNTRIES[c.country].name, COUNTRIES[c.country], c.phone) for c in CITIES]
        customer_types = (3, 3, 3, 3, 8, 8, 5, 9)
        users = self.users
        for start, end in self.chunks(self.n_accounts):
            count = end - start
            ids = self.uuids(count)
            stamps = self.stamps(count)
            stems = rng.choices(STEMS, k=count)
            sectors = rng.choices(SECTORS, k=count)
            city_index = rng.choices(range(len(cities)), k=count)
            owners = rng.choices(users, k=count)
            rows = []
            for i in range(count):
                number = start + i
                city_name, province, country_name, country, phone = cities[city_index[i]]
                stem, sector = stems[i], sectors[i]
                word = sector[0] if country.lang == "es" else sector[1] if country.lang == "pt" else sector[2]
                legal = country.legal_forms[number % len(country.legal_forms)]
                domain = f"{ascii_slug(stem)}{number}.{country.tld}"
                employees = 10 + int(rng.random() ** 3 * 20_000)
                revenue = float(employees * 150_000)
                parent = None
                if number > 100 and rng.random() < 0.02:
                    parent = self.account_ids[rng.randrange(number - 100)]
                owner = owners[i]
                created, modified = stamps[i]
                name = f"{stem} {word} {legal}"
                rows.append(
                    (
                        ids[i], name, f"ACC-{number + 1:08d}", f"{phone} {1_000_000 + number % 9_000_000}",
                        f"info@{domain}", f"https://www.{domain}", sector[3], city_name, province, country_name,
                        employees, revenue, revenue, customer_types[number % 8], parent,
                        "account" if parent else None, owner, owner, owner, owner, created, modified,
                        next_version(), *table.constants,
                    )
                )  # fmt: skip
                self.account_ids.append(ids[i])
                self.account_names.append(name)
                self.account_domains.append(domain)
                self.account_cities.append(city_index[i])
                self.account_owners.append(owner)
            self.emit(table, rows)
        self.account_first_contact = [-1] * self.n_accounts

    def make_contacts(self) -> None:
        rng = self.rng
        next_version = self.state.storage.next_version
        table = _Table(
            self.state,
            "contact",
            (
                "contactid", "firstname", "lastname", "fullname", "yomifullname", "emailaddress1", "jobtitle",
                "telephone1", "parentcustomerid", "accountid", "address1_city", "address1_country", "ownerid",
                "owninguser", "createdby", "modifiedby", "createdon", "modifiedon", "versionnumber",
            ),
            {
                **self.system(),
                "parentcustomerid__type": "account",
                "accountid__type": "account",
                "statecode": 0,
                "statuscode": 1,
            },
        )  # fmt: skip
        # Names per city (its language), with their e-mail slugs precomputed.
        pools: list[tuple[list[tuple[str, str]], list[tuple[str, str]], tuple[str, ...]]] = []
        for city in CITIES:
            lang = COUNTRIES[city.country].lang
            given_m, given_f, family = NAMES[lang]
            given = [(f, ascii_slug(f)) for f in (*given_m, *given_f)]
            family_pairs = [(ln, ascii_slug(ln)) for ln in family]
            pools.append((given, family_pairs, TITLES.get(lang, TITLES["en"])))
        city_text = [(c.name, COUNTRIES[c.country].name, c.phone) for c in CITIES]
        first_contact = self.account_first_contact
        domains = self.account_domains
        for start, end in self.chunks(self.n_contacts):
            count = end - start
            ids = self.uuids(count)
            stamps = self.stamps(count)
            accounts = rng.choices(range(self.n_accounts), k=count)
            picks = [rng.random() for _ in range(count * 3)]
            rows = []
            for i in range(count):
                account = accounts[i]
                city_at = self.account_cities[account]
                firsts, lasts, titles = pools[city_at]
                first, first_slug = firsts[int(picks[3 * i] * len(firsts))]
                last, last_slug = lasts[int(picks[3 * i + 1] * len(lasts))]
                title = titles[int(picks[3 * i + 2] * len(titles))]
                city_name, country_name, phone = city_text[city_at]
                owner = self.account_owners[account]
                created, modified = stamps[i]
                fullname = f"{first} {last}"
                account_id = self.account_ids[account]
                if first_contact[account] < 0:
                    first_contact[account] = start + i
                rows.append(
                    (
                        ids[i], first, last, fullname, fullname, f"{first_slug}.{last_slug}@{domains[account]}", title,
                        f"{phone} {2_000_000 + (start + i) % 7_000_000}", account_id, account_id, city_name,
                        country_name, owner, owner, owner, owner, created, modified, next_version(), *table.constants,
                    )
                )  # fmt: skip
            self.contact_ids.extend(ids)
            self.emit(table, rows)

    def make_leads_and_opportunities(self) -> None:
        rng = self.rng
        next_version = self.state.storage.next_version
        opportunity_ids = self.uuids(self.n_opportunities)
        # Lead profiles: (statecode, statuscode); qualified leads each became one opportunity.
        lead_profiles = [(0, 1)] * 5 + [(0, 2)] * 3 + [(1, 3)] * 2 + [(2, 4), (2, 5), (2, 6), (2, 7)]
        leads = _Table(
            self.state,
            "lead",
            (
                "leadid", "subject", "firstname", "lastname", "fullname", "companyname", "emailaddress1",
                "telephone1", "industrycode", "leadsourcecode", "leadqualitycode", "statecode", "statuscode",
                "parentaccountid", "parentaccountid__type", "customerid", "customerid__type",
                "qualifyingopportunityid", "qualifyingopportunityid__type", "ownerid", "owninguser", "createdby",
                "modifiedby", "createdon", "modifiedon", "versionnumber",
            ),
            self.system(),
        )  # fmt: skip
        originating: dict[int, str] = {}  # opportunity index -> lead id
        names = NAMES["es"][0] + NAMES["es"][1] + NAMES["en"][0] + NAMES["en"][1]
        lasts = NAMES["es"][2] + NAMES["en"][2]
        qualified_count = 0
        for start, end in self.chunks(self.n_leads):
            count = end - start
            ids = self.uuids(count)
            stamps = self.stamps(count)
            profiles = rng.choices(lead_profiles, k=count)
            accounts = rng.choices(range(self.n_accounts), k=count)
            firsts = rng.choices(names, k=count)
            last_names = rng.choices(lasts, k=count)
            products = rng.choices(PRODUCTS, k=count)
            rows = []
            for i in range(count):
                state, status = profiles[i]
                account = accounts[i]
                linked = state == 1 or (i % 3 == 0)
                account_id = self.account_ids[account] if linked else None
                opportunity = None
                if state == 1 and qualified_count < self.n_opportunities:
                    opportunity = opportunity_ids[qualified_count]
                    originating[qualified_count] = ids[i]
                    qualified_count += 1
                first, last = firsts[i], last_names[i]
                owner = self.account_owners[account]
                created, modified = stamps[i]
                domain = self.account_domains[account]
                rows.append(
                    (
                        ids[i], f"Interés en {products[i][0].lower()}", first, last, f"{first} {last}",
                        self.account_names[account], f"{ascii_slug(first)}.{ascii_slug(last)}@{domain}",
                        f"+34 91 {3_000_000 + (start + i) % 6_000_000}", (start + i) % 33 + 1, (start + i) % 10 + 1,
                        (start + i) % 3 + 1, state, status, account_id, "account" if account_id else None, account_id,
                        "account" if account_id else None, opportunity, "opportunity" if opportunity else None,
                        owner, owner, owner, owner, created, modified, next_version(), *leads.constants,
                    )
                )  # fmt: skip
            self.emit(leads, rows)
        # Opportunities: (statecode, statuscode, salesstage) profiles.
        opp_profiles = [(0, 1, s) for s in (0, 0, 1, 1, 2, 2, 3, 3)] + [(0, 2, 1)] + [(1, 3, 3)] * 4
        opp_profiles += [(2, 4, 1), (2, 5, 2), (2, 5, 3)]
        opportunities = _Table(
            self.state,
            "opportunity",
            (
                "opportunityid", "name", "customerid", "parentaccountid", "parentcontactid",
                "parentcontactid__type", "originatingleadid", "originatingleadid__type", "estimatedvalue",
                "estimatedvalue_base", "actualvalue", "actualvalue_base", "statecode", "statuscode", "salesstage",
                "stepname", "closeprobability", "estimatedclosedate", "actualclosedate", "ownerid", "owninguser",
                "createdby", "modifiedby", "createdon", "modifiedon", "versionnumber",
            ),
            {
                **self.system(),
                "customerid__type": "account",
                "parentaccountid__type": "account",
                "salesstagecode": 1,
                "isrevenuesystemcalculated": 0,
                "transactioncurrencyid": self.currency,
                "transactioncurrencyid__type": "transactioncurrency",
                "exchangerate": 1.0,
            },
        )  # fmt: skip
        future = self.clock.future
        for start, end in self.chunks(self.n_opportunities):
            count = end - start
            stamps = self.stamps(count)
            opp_picks = rng.choices(opp_profiles, k=count)
            accounts = rng.choices(range(self.n_accounts), k=count)
            products = rng.choices(PRODUCTS, k=count)
            seats = rng.choices((10, 25, 50, 100, 250), k=count)
            rows = []
            for i in range(count):
                number = start + i
                state, status, stage = opp_picks[i]
                account = accounts[i]
                contact_index = self.account_first_contact[account]
                contact = self.contact_ids[contact_index] if contact_index >= 0 else None
                lead = originating.get(number)
                estimated = float(seats[i] * 600)
                stage_value, step, probabilities = STAGES[stage]
                created, modified = stamps[i]
                if state == 0:
                    probability = probabilities[number % len(probabilities)]
                    actual = None
                    estimated_close = future[number % len(future)]
                    actual_close = None
                else:
                    probability = 100 if state == 1 else 0
                    actual = estimated if state == 1 else 0.0
                    estimated_close = actual_close = modified[:10]
                owner = self.account_owners[account]
                account_id = self.account_ids[account]
                rows.append(
                    (
                        opportunity_ids[number], f"{products[i][0]} ({seats[i]} usuarios)", account_id, account_id,
                        contact, "contact" if contact else None, lead, "lead" if lead else None, estimated,
                        estimated, actual, actual, state, status, stage_value, step, probability, estimated_close,
                        actual_close, owner, owner, owner, owner, created, modified, next_version(),
                        *opportunities.constants,
                    )
                )  # fmt: skip
            self.emit(opportunities, rows)


def seed_scale(
    state: SandboxState,
    contacts: int,
    *,
    seed: int = 7,
    progress: Callable[[int], None] | None = None,
) -> SeedSummary:
    """Seed ``contacts`` contacts plus ⌈N/10⌉ accounts, ⌈N/20⌉ leads, ⌈N/20⌉ opportunities and a few users.

    The foundation is built first if missing. Rows are built as tuples in a fixed column order and
    inserted :data:`SCALE_CHUNK_ROWS` at a time, all inside one transaction; ``progress`` receives the
    cumulative number of rows after each chunk. Idempotent: a seed with the same N and ``seed`` that was
    applied before is not applied again.

    Raises:
        ValueError: when ``contacts`` is below 1.
    """
    if contacts < 1:
        raise ValueError("seed_scale needs at least one contact")
    started = time.perf_counter()
    build_foundation(state)
    token = f"scale:{contacts}:{seed}"
    if already_applied(state, token):
        return SeedSummary(kind="scale", already_seeded=True, elapsed_seconds=time.perf_counter() - started)
    with state.storage.transaction():
        builder = _ScaleBuilder(state, contacts, seed, progress)
        builder.build()
        remember(state, token)
    counts = dict(sorted(builder.counts.items()))
    return SeedSummary(kind="scale", counts=counts, elapsed_seconds=time.perf_counter() - started)
