"""The first incremental matching run after an upgrade re-decides only what changed (SQLite and PostgreSQL).

The store is built at revision 0032, the head before migration 0033 brought "shared people"
(``CompanyRecord.people_refs``), with accounts, their contacts, companies and people, then upgraded to head. The
fingerprints that engine kept for accounts and companies were its ``CompanyRecord``'s repr, which had no
``people_refs``: the test writes them the way it did (this module's :class:`CompanyRecord`, its fields as they were),
after a full run of today's engine, whose links and keys are otherwise the same (no migration since 0032 touches
the matching tables). An import's full re-read then rewrites every account, two of them changed; the next
incremental run re-decides those two. Before the fix it re-decided every account: each looked changed once.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, insert, update

from salesbridge import matching
from salesbridge.domain.sync_runs import RecordRow
from salesbridge.services.matching import FINGERPRINT_PREFIX, run_matching
from salesbridge.store import create_session_factory
from salesbridge.store.database import create_engine_for, migrate
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.tables import CompanyRow, CrmRecord, MatchKeyRow, Organization, PersonRow
from salesbridge.store.uow import UnitOfWorkFactory, utc_now

ACCOUNTS = 12
CHANGED = (3, 7)  # the accounts whose data the re-read brings changed


@dataclass(frozen=True, slots=True)
class CompanyRecord:
    """``salesbridge.matching.records.CompanyRecord`` as it was at revision 0032 (commit 91f2b13); its name is part
    of the fingerprint (the dataclass repr)."""

    id: str
    name: str | None = None
    website: str | None = None
    phone: str | None = None
    industry: str | None = None
    employee_count: int | None = None
    street: str | None = None
    city: str | None = None
    postcode: str | None = None
    region: str | None = None
    country: str | None = None
    profile_url: str | None = None
    email_domains: tuple[str, ...] = ()


def _fingerprint(record: object) -> str:
    """How that engine, and this one, fingerprint a record (services.matching._fingerprint)."""
    return FINGERPRINT_PREFIX + hashlib.sha256(repr(record).encode()).hexdigest()[:32]


def _account_id(at: int) -> str:
    return str(uuid.UUID(int=0xA000 + at))


def _account_data(at: int) -> dict[str, object]:
    return {"name": f"Company {at} Ltd", "websiteurl": f"company{at}.com", "address1_city": "Madrid"}


def _account_values(at: int) -> dict[str, str]:
    """The account's values as matching reads them (name, website, city), as keyword arguments of a record."""
    return {"id": _account_id(at), "name": f"Company {at} Ltd", "website": f"company{at}.com", "city": "Madrid"}


def _company_values(company_id: uuid.UUID, at: int) -> dict[str, str]:
    return {"id": str(company_id), "name": f"Company {at}", "website": f"https://company{at}.com", "city": "Madrid"}


def _build_at_0032(engine: Engine, organization_id: uuid.UUID) -> dict[int, uuid.UUID]:
    """Accounts with one contact each, and their companies and people, written at revision 0032 the way the
    import and the loads of that release stored them; the companies' ids by account number."""
    long_ago = utc_now() - timedelta(days=10)
    companies = {at: uuid.uuid4() for at in range(ACCOUNTS)}
    records = []
    for at in range(ACCOUNTS):
        contact = {
            "firstname": f"Person{at}",
            "lastname": "Smith",
            "emailaddress1": f"p{at}@company{at}.com",
            "parentcustomerid": {"id": _account_id(at), "table": "account"},
        }
        for table, crm_id, name, data in (
            ("account", _account_id(at), f"Company {at} Ltd", _account_data(at)),
            ("contact", str(uuid.UUID(int=0xC000 + at)), f"Person{at} Smith", contact),
        ):
            records.append(
                {
                    "organization_id": organization_id,
                    "table_name": table,
                    "crm_id": crm_id,
                    "name": name,
                    "owner_id": None,
                    "parent_id": _account_id(at) if table == "contact" else None,
                    "state_code": 0,
                    "data": data,
                    "generation": 1,
                    "imported_at": long_ago + timedelta(hours=at),
                }
            )
    with engine.begin() as connection:
        connection.execute(
            insert(Organization),
            [{"id": organization_id, "slug": "acme", "name": "Acme", "seats_purchased": 5, "created_at": long_ago}],
        )
        connection.execute(insert(CrmRecord), records)
        connection.execute(
            insert(CompanyRow),
            [
                {
                    "organization_id": organization_id,
                    "external_id": f"k{at}",
                    "domain": f"company{at}.com",
                    "industry": None,
                    "employee_count": None,
                    "region": None,
                    "country": None,
                    "phone": None,
                    "profile_url": None,
                    "sort_name": f"company {at}",
                    "search_text": f"company {at} madrid",
                    "updated_at": long_ago + timedelta(hours=at),
                    **_company_values(company_id, at),
                    "id": company_id,
                }
                for at, company_id in companies.items()
            ],
        )
        # No company_external_id: the column came with migration 0033.
        connection.execute(
            insert(PersonRow),
            [
                {
                    "id": uuid.uuid4(),
                    "organization_id": organization_id,
                    "external_id": f"p{at}",
                    "first_name": f"Person{at}",
                    "last_name": "Smith",
                    "full_name": f"Person{at} Smith",
                    "headline": None,
                    "company_id": None,
                    "company_name": f"Company {at}",
                    "past_companies": [],
                    "city": None,
                    "region": None,
                    "country": None,
                    "emails": [f"p{at}@company{at}.com"],
                    "phones": [],
                    "profile_url": None,
                    "source": "csv",
                    "sort_name": f"smith person{at}",
                    "search_text": f"person{at} smith company {at}",
                    "updated_at": long_ago + timedelta(hours=at),
                }
                for at in range(ACCOUNTS)
            ],
        )
    return companies


def _fingerprints_as_before_0033(engine: Engine, organization_id: uuid.UUID, companies: dict[int, uuid.UUID]) -> None:
    """Put back the account and company fingerprints the engine before migration 0033 kept."""
    pairs = [
        ("account", _account_id(at), matching.CompanyRecord(**_account_values(at)), _account_values(at))
        for at in companies
    ] + [
        (
            "company",
            str(company_id),
            matching.CompanyRecord(**_company_values(company_id, at)),
            _company_values(company_id, at),
        )
        for at, company_id in companies.items()
    ]
    with engine.begin() as connection:
        for side, ref, record, values in pairs:
            now = _fingerprint(record)
            before = _fingerprint(CompanyRecord(**values))
            assert before != now
            changed = connection.execute(
                update(MatchKeyRow)
                .where(
                    MatchKeyRow.organization_id == organization_id,
                    MatchKeyRow.side == side,
                    MatchKeyRow.ref == ref,
                    MatchKeyRow.key == now,
                )
                .values(key=before)
            )
            # The record as this test builds it is the one matching fingerprinted (its values are the same).
            assert changed.rowcount == 1, (side, ref)


def test_the_first_incremental_run_after_an_upgrade_re_decides_only_the_changed_accounts(database_url: str) -> None:
    migrate(database_url, revision="0032")
    engine = create_engine_for(database_url)
    organization_id = uuid.uuid4()
    try:
        companies = _build_at_0032(engine, organization_id)
        migrate(database_url)
        store = UnitOfWorkFactory(create_session_factory(engine), cipher=CredentialCipher(generate_key()))
        first = run_matching(store, organization_id, full=True, clock=utc_now)
        assert (first.companies.matched, first.people.matched) == (ACCOUNTS, ACCOUNTS)
        _fingerprints_as_before_0033(engine, organization_id, companies)

        # An import's full re-read (a resync, or the periodic full scan) writes every account again.
        rows = []
        for at in range(ACCOUNTS):
            data = _account_data(at) | ({"telephone1": f"+34 910 000 00{at}"} if at in CHANGED else {})
            rows.append(RecordRow(_account_id(at), f"Company {at} Ltd", None, None, 0, data))
        with store(organization_id) as uow:
            uow.crm_records.upsert_many("account", rows, generation=2)
            uow.commit()
        summary = run_matching(store, organization_id, clock=utc_now)

        assert summary.full is False
        assert summary.companies.crm_changed == len(CHANGED)  # was ACCOUNTS
        assert summary.companies.matched == len(CHANGED)  # a phone more keeps the tie
        assert summary.companies.workspace_changed == 0
        assert summary.people.crm_changed == 0
        again = run_matching(store, organization_id, clock=utc_now)
        assert (again.companies.crm_changed, again.people.crm_changed) == (0, 0)
    finally:
        engine.dispose()
