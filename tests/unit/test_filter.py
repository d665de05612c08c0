"""Tests of ``$filter``/``$orderby`` parsing and their compilation to SQLite (salesbridge.sandbox.odata.filter).

A small catalogue (account, contact, task, systemuser, team) with Dataverse's real navigation property names
is laid out in an in-memory SQLite database the way the sandbox stores tables, filled with a few rows, and
every filter is compiled and executed: the assertions are on the rows each filter selects. Filter texts
follow Microsoft's examples in ``webapi/query/filter-rows.md`` where there is one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime

import pytest

from salesbridge.sandbox.catalogue.definitions import (
    AttributeDef,
    AttributeType,
    EntityDef,
    RelationshipDef,
    lookup_type_column,
    quote_ident,
)
from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.errors import DataverseError
from salesbridge.sandbox.odata.filter.parser import parse_filter, parse_orderby
from salesbridge.sandbox.odata.filter.sql import compile_filter, compile_orderby
from salesbridge.sandbox.odata.filter.syntax_tree import (
    MAX_CONDITIONS,
    BoolOp,
    Comparison,
    Edm,
    Lambda,
    ListLiteral,
    Literal,
    Not,
    OrderByItem,
    PropertyPath,
    QueryFunction,
    StringFunction,
)

T = AttributeType
NOW = datetime(2025, 3, 6, 10, 0, tzinfo=UTC)

USER_ADMIN = "50000000-0000-0000-0000-000000000001"
USER_DANA = "50000000-0000-0000-0000-000000000002"
TEAM_SALES = "70000000-0000-0000-0000-000000000001"
A1, A2, A3, A4 = (f"a0000000-0000-0000-0000-00000000000{n}" for n in range(1, 5))
C1, C2, C3, C4 = (f"c0000000-0000-0000-0000-00000000000{n}" for n in range(1, 5))
K1, K2, K3, K4 = (f"d0000000-0000-0000-0000-00000000000{n}" for n in range(1, 5))


# --------------------------------------------------------------------------------------------------------
# The catalogue and the database
# --------------------------------------------------------------------------------------------------------


def _entity(logical: str, entity_set: str, primary_id: str, primary_name: str, *attributes: AttributeDef) -> EntityDef:
    entity = EntityDef(logical, entity_set, primary_id, primary_name, object_type_code=1)
    entity.add(
        AttributeDef(primary_id, T.UNIQUEIDENTIFIER, is_primary_id=True),
        AttributeDef(primary_name, T.STRING, is_primary_name=True, max_length=160),
        *attributes,
    )
    return entity


def _relationship(
    schema: str, referencing: str, attribute: str, referenced: str, referencing_nav: str, referenced_nav: str
) -> RelationshipDef:
    return RelationshipDef(
        schema, referencing, attribute, referenced, f"{referenced}id", referencing_nav, referenced_nav
    )


def build_catalogue() -> Catalogue:
    """account, contact, task, systemuser and team, with the relationships' Dataverse navigation names."""
    catalogue = Catalogue()
    catalogue.add_entity(_entity("systemuser", "systemusers", "systemuserid", "fullname"))
    catalogue.add_entity(_entity("team", "teams", "teamid", "name"))
    catalogue.add_entity(
        _entity(
            "account",
            "accounts",
            "accountid",
            "name",
            AttributeDef("accountnumber", T.STRING),
            AttributeDef("description", T.MEMO),
            AttributeDef("numberofemployees", T.INTEGER),
            AttributeDef("revenue", T.MONEY),
            AttributeDef("creditonhold", T.BOOLEAN),
            AttributeDef("industrycode", T.PICKLIST),
            AttributeDef("statecode", T.STATE),
            AttributeDef("createdon", T.DATETIME),
            AttributeDef("primarycontactid", T.LOOKUP, targets=("contact",)),
            AttributeDef("primarycontactidname", T.VIRTUAL),
            AttributeDef("ownerid", T.OWNER, targets=("systemuser", "team")),
        )
    )
    catalogue.add_entity(
        _entity(
            "contact",
            "contacts",
            "contactid",
            "fullname",
            AttributeDef("firstname", T.STRING),
            AttributeDef("lastname", T.STRING),
            AttributeDef("jobtitle", T.STRING),
            AttributeDef("donotemail", T.BOOLEAN),
            AttributeDef("birthdate", T.DATETIME, date_only=True),
            AttributeDef("parentcustomerid", T.CUSTOMER, targets=("account", "contact")),
            AttributeDef("createdby", T.LOOKUP, targets=("systemuser",)),
        )
    )
    catalogue.add_entity(
        _entity(
            "task",
            "tasks",
            "activityid",
            "subject",
            AttributeDef("statecode", T.STATE),
            AttributeDef("regardingobjectid", T.LOOKUP, targets=("account", "contact")),
        )
    )
    for relationship in (
        _relationship(
            "account_primary_contact",
            "account",
            "primarycontactid",
            "contact",
            "primarycontactid",
            "account_primary_contact",
        ),
        _relationship("owner_accounts", "account", "ownerid", "owner", "ownerid", "owner_accounts"),
        _relationship(
            "contact_customer_accounts",
            "contact",
            "parentcustomerid",
            "account",
            "parentcustomerid_account",
            "contact_customer_accounts",
        ),
        _relationship(
            "contact_customer_contacts",
            "contact",
            "parentcustomerid",
            "contact",
            "parentcustomerid_contact",
            "contact_customer_contacts",
        ),
        _relationship(
            "lk_contact_createdby", "contact", "createdby", "systemuser", "createdby", "lk_contact_createdby"
        ),
        _relationship(
            "Account_Tasks", "task", "regardingobjectid", "account", "regardingobjectid_account_task", "Account_Tasks"
        ),
        _relationship(
            "Contact_Tasks", "task", "regardingobjectid", "contact", "regardingobjectid_contact_task", "Contact_Tasks"
        ),
    ):
        catalogue.add_relationship(relationship)
    return catalogue


_INTEGER = {T.INTEGER, T.BIGINT, T.PICKLIST, T.STATE, T.STATUS, T.BOOLEAN}
_REAL = {T.MONEY, T.DECIMAL, T.DOUBLE}


def create_table(conn: sqlite3.Connection, entity: EntityDef) -> None:
    """The sandbox storage layout: a column per stored attribute, ``<lookup>__type`` beside each lookup."""
    columns = []
    for attribute in entity.stored_attributes:
        kind = "INTEGER" if attribute.type in _INTEGER else "REAL" if attribute.type in _REAL else "TEXT COLLATE NOCASE"
        columns.append(f"{quote_ident(attribute.logical_name)} {kind}")
        if attribute.is_lookup:
            columns.append(f"{quote_ident(lookup_type_column(attribute.logical_name))} TEXT COLLATE NOCASE")
    conn.execute(f"CREATE TABLE {quote_ident(entity.logical_name)} ({', '.join(columns)})")


def insert(conn: sqlite3.Connection, table: str, **values: object) -> None:
    """One row; a lookup value is given as ``(table, id)``."""
    row: dict[str, object] = {}
    for name, value in values.items():
        if isinstance(value, tuple):
            row[name], row[lookup_type_column(name)] = value[1], value[0]
        else:
            row[name] = value
    names = ", ".join(quote_ident(name) for name in row)
    conn.execute(
        f"INSERT INTO {quote_ident(table)} ({names}) VALUES ({', '.join('?' for _ in row)})", list(row.values())
    )


def fill(conn: sqlite3.Connection) -> None:
    """Four accounts, four contacts, four tasks, two users and a team."""
    insert(conn, "systemuser", systemuserid=USER_ADMIN, fullname="System Administrator")
    insert(conn, "systemuser", systemuserid=USER_DANA, fullname="Dana Seller")
    insert(conn, "team", teamid=TEAM_SALES, name="Sales Team")
    insert(
        conn,
        "account",
        accountid=A1,
        name="Contoso Ltd",
        accountnumber="C-100",
        description="50% off [promo]",
        numberofemployees=50,
        revenue=100000.0,
        creditonhold=0,
        industrycode=1,
        statecode=0,
        createdon="2025-01-10T09:00:00Z",
        primarycontactid=("contact", C1),
        ownerid=("systemuser", USER_ADMIN),
    )
    insert(
        conn,
        "account",
        accountid=A2,
        name="Fabrikam, Inc.",
        accountnumber="F-200",
        description="500 units",
        numberofemployees=2000,
        revenue=5000000.0,
        creditonhold=1,
        industrycode=2,
        statecode=0,
        createdon="2025-03-01T23:30:00Z",
        primarycontactid=("contact", C2),
        ownerid=("team", TEAM_SALES),
    )
    insert(
        conn,
        "account",
        accountid=A3,
        name="Litware O'Brian",
        creditonhold=0,
        industrycode=2,
        statecode=1,
        createdon="2024-12-31T23:59:59Z",
        ownerid=("systemuser", USER_DANA),
    )
    insert(
        conn,
        "account",
        accountid=A4,
        name="adventure works",
        numberofemployees=5,
        revenue=20000.0,
        creditonhold=0,
        industrycode=3,
        statecode=0,
        createdon="2025-03-05T12:00:00Z",
        primarycontactid=("contact", C3),
        ownerid=("systemuser", USER_ADMIN),
    )
    insert(
        conn,
        "contact",
        contactid=C1,
        fullname="Susanna Stubberod",
        firstname="Susanna",
        lastname="Stubberod",
        jobtitle="Buyer",
        donotemail=0,
        birthdate="1980-05-17",
        parentcustomerid=("account", A1),
        createdby=("systemuser", USER_ADMIN),
    )
    insert(
        conn,
        "contact",
        contactid=C2,
        fullname="Yvonne McKay",
        firstname="Yvonne",
        lastname="McKay",
        jobtitle="CEO",
        donotemail=1,
        birthdate="1990-01-01",
        parentcustomerid=("account", A2),
        createdby=("systemuser", USER_DANA),
    )
    insert(
        conn,
        "contact",
        contactid=C3,
        fullname="Nancy Nancy",
        firstname="Nancy",
        lastname="nancy",
        jobtitle="Buyer",
        donotemail=0,
        parentcustomerid=("contact", C1),
        createdby=("systemuser", USER_ADMIN),
    )
    insert(conn, "contact", contactid=C4, fullname="Rene Valdes", firstname="Rene", lastname="Valdes", donotemail=0)
    insert(conn, "task", activityid=K1, subject="Call back", statecode=1, regardingobjectid=("account", A1))
    insert(conn, "task", activityid=K2, subject="Send proposal", statecode=0, regardingobjectid=("account", A1))
    insert(conn, "task", activityid=K3, subject="Follow up", statecode=1, regardingobjectid=("account", A2))
    insert(conn, "task", activityid=K4, subject="Intro call", statecode=1, regardingobjectid=("contact", C1))


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return build_catalogue()


@pytest.fixture(scope="module")
def db(catalogue: Catalogue) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    for entity in catalogue.entities.values():
        create_table(conn, entity)
    fill(conn)
    yield conn
    conn.close()


def run_filter(
    db: sqlite3.Connection,
    catalogue: Catalogue,
    table: str,
    text: str,
    aliases: Mapping[str, str] | None = None,
) -> list[str]:
    """The primary names of the rows ``text`` selects from ``table``, sorted case-insensitively."""
    entity = catalogue.entity(table)
    sql, params = compile_filter(parse_filter(text, aliases), entity, catalogue, alias="t", now=NOW)
    rows = db.execute(
        f"SELECT t.{quote_ident(entity.primary_name)} FROM {quote_ident(table)} AS t WHERE {sql}", params
    ).fetchall()
    return sorted((str(row[0]) for row in rows), key=str.lower)


CONTOSO, FABRIKAM, LITWARE, ADVENTURE = "Contoso Ltd", "Fabrikam, Inc.", "Litware O'Brian", "adventure works"
SUSANNA, YVONNE, NANCY, RENE = "Susanna Stubberod", "Yvonne McKay", "Nancy Nancy", "Rene Valdes"


def accounts(*names: str) -> list[str]:
    return sorted(names, key=str.lower)


# --------------------------------------------------------------------------------------------------------
# Rows selected
# --------------------------------------------------------------------------------------------------------

ACCOUNT_CASES = [
    # Strings: case-insensitive, quotes doubled, wildcards honoured.
    pytest.param("name eq 'contoso ltd'", accounts(CONTOSO), id="eq-string-case-insensitive"),
    pytest.param("name eq 'Litware O''Brian'", accounts(LITWARE), id="eq-string-doubled-quote"),
    pytest.param("name ne 'Contoso Ltd'", accounts(FABRIKAM, LITWARE, ADVENTURE), id="ne-string"),
    pytest.param("name gt 'D'", accounts(FABRIKAM, LITWARE), id="gt-string-nocase"),
    pytest.param("contains(name,'inc')", accounts(FABRIKAM), id="contains"),
    pytest.param("startswith(name,'ADV')", accounts(ADVENTURE), id="startswith"),
    pytest.param("endswith(name,'LTD')", accounts(CONTOSO), id="endswith"),
    pytest.param("startswith(name,'_abrikam')", accounts(FABRIKAM), id="wildcard-underscore"),
    pytest.param("contains(accountnumber,'C_1')", accounts(CONTOSO), id="wildcard-underscore-inside"),
    pytest.param("contains(description,'50%')", accounts(CONTOSO, FABRIKAM), id="wildcard-percent"),
    pytest.param("contains(description,'50[%]')", accounts(CONTOSO), id="escaped-percent-by-set"),
    pytest.param("contains(description,'[[]promo]')", accounts(CONTOSO), id="escaped-bracket-by-set"),
    pytest.param("contains(name,'[fc]o')", accounts(CONTOSO), id="wildcard-character-set"),
    pytest.param("startswith(name,'[^c]')", accounts(FABRIKAM, LITWARE, ADVENTURE), id="wildcard-negated-set"),
    pytest.param("startswith(name,'[a-c]')", accounts(CONTOSO, ADVENTURE), id="wildcard-range"),
    pytest.param("not contains(name,'o')", accounts(FABRIKAM), id="not-contains"),
    # Numbers, money, choices, booleans.
    pytest.param("numberofemployees gt 40", accounts(CONTOSO, FABRIKAM), id="gt-int"),
    pytest.param("numberofemployees ne 50", accounts(FABRIKAM, ADVENTURE), id="ne-excludes-null"),
    pytest.param("numberofemployees le 5.5", accounts(ADVENTURE), id="int-vs-decimal-literal"),
    pytest.param("revenue ge 100000", accounts(CONTOSO, FABRIKAM), id="ge-money"),
    pytest.param("revenue lt 1e5", accounts(ADVENTURE), id="double-literal-exponent"),
    pytest.param("revenue eq 20000.00M", accounts(ADVENTURE), id="decimal-literal-m-suffix"),
    pytest.param("revenue eq 20000d", accounts(ADVENTURE), id="double-literal-d-suffix"),
    pytest.param("revenue gt -1", accounts(CONTOSO, FABRIKAM, ADVENTURE), id="negative-literal"),
    pytest.param("industrycode eq 1", accounts(CONTOSO), id="picklist"),
    pytest.param("creditonhold eq true", accounts(FABRIKAM), id="boolean-true"),
    pytest.param("creditonhold ne true", accounts(CONTOSO, LITWARE, ADVENTURE), id="boolean-ne"),
    pytest.param("100000 le revenue", accounts(CONTOSO, FABRIKAM), id="literal-on-the-left"),
    # null.
    pytest.param("numberofemployees eq null", accounts(LITWARE), id="eq-null"),
    pytest.param("revenue ne null", accounts(CONTOSO, FABRIKAM, ADVENTURE), id="ne-null"),
    pytest.param("_primarycontactid_value eq null", accounts(LITWARE), id="lookup-eq-null"),
    pytest.param("revenue gt null", [], id="gt-null-matches-nothing"),
    # GUIDs and lookups.
    pytest.param(f"accountid eq {A2.upper()}", accounts(FABRIKAM), id="guid-literal-uppercase"),
    pytest.param(f"_primarycontactid_value eq {C1}", accounts(CONTOSO), id="lookup-value"),
    pytest.param(f"_ownerid_value eq {TEAM_SALES}", accounts(FABRIKAM), id="owner-lookup-value"),
    pytest.param(f"_ownerid_value ne {USER_ADMIN}", accounts(FABRIKAM, LITWARE), id="owner-lookup-ne"),
    # Date and time.
    pytest.param("createdon eq 2025-01-10T09:00:00Z", accounts(CONTOSO), id="datetime-eq"),
    pytest.param("createdon gt 2025-01-10T10:00:00+01:00", accounts(FABRIKAM, ADVENTURE), id="datetime-offset"),
    pytest.param("createdon ge 2025-03-02T01:00:00+02:00", accounts(FABRIKAM, ADVENTURE), id="datetime-offset-day"),
    pytest.param("createdon ge 2025-03-01T23:30:00.999Z", accounts(FABRIKAM, ADVENTURE), id="datetime-fraction"),
    pytest.param("createdon lt 2025-01-01", accounts(LITWARE), id="date-literal-on-datetime"),
    # Logic and precedence.
    pytest.param(
        "name eq 'Contoso Ltd' or name eq 'adventure works' and creditonhold eq true",
        accounts(CONTOSO),
        id="and-binds-tighter-than-or",
    ),
    pytest.param(
        "(name eq 'Contoso Ltd' or name eq 'adventure works') and creditonhold eq false",
        accounts(CONTOSO, ADVENTURE),
        id="parentheses",
    ),
    pytest.param("not (statecode eq 1) and not contains(name,'inc')", accounts(CONTOSO, ADVENTURE), id="not-and"),
    pytest.param("not (numberofemployees eq 50)", accounts(FABRIKAM, ADVENTURE), id="not-excludes-null"),
    pytest.param("numberofemployees lt revenue", accounts(CONTOSO, FABRIKAM, ADVENTURE), id="column-comparison"),
    # Single-valued navigation (lookups).
    pytest.param("primarycontactid/fullname eq 'Susanna Stubberod'", accounts(CONTOSO), id="nav-lookup"),
    pytest.param(
        "primarycontactid/createdby/fullname eq 'System Administrator'",
        accounts(CONTOSO, ADVENTURE),
        id="nav-two-levels",
    ),
    pytest.param("contains(primarycontactid/jobtitle,'buy')", accounts(CONTOSO, ADVENTURE), id="nav-in-function"),
    pytest.param("primarycontactid/birthdate eq null", accounts(ADVENTURE), id="nav-null-excludes-empty-lookup"),
    pytest.param("ownerid/fullname eq 'Dana Seller'", accounts(LITWARE), id="nav-owner-systemuser"),
    pytest.param("ownerid/name eq 'Sales Team'", accounts(FABRIKAM), id="nav-owner-team"),
    # Lambdas on collection-valued navigation properties.
    pytest.param("Account_Tasks/any()", accounts(CONTOSO, FABRIKAM), id="any-without-predicate"),
    pytest.param("not Account_Tasks/any()", accounts(LITWARE, ADVENTURE), id="not-any"),
    pytest.param("Account_Tasks/any(t:t/statecode eq 0)", accounts(CONTOSO), id="any"),
    pytest.param("Account_Tasks/all(t:t/statecode eq 1)", accounts(FABRIKAM), id="all-needs-related-rows"),
    pytest.param("Account_Tasks/any(t:contains(t/subject,'call'))", accounts(CONTOSO), id="any-function"),
    pytest.param(
        "Account_Tasks/any(t:t/statecode eq 1 and numberofemployees gt 100)",
        accounts(FABRIKAM),
        id="any-refers-to-outer-row",
    ),
    pytest.param(
        "contact_customer_accounts/any(c:c/jobtitle eq 'Buyer' and c/Contact_Tasks/any(k:k/statecode eq 1))",
        accounts(CONTOSO),
        id="nested-lambdas",
    ),
    pytest.param(
        "(contact_customer_accounts/any(c:c/jobtitle eq 'CEO')) and endswith(name,'Inc.')",
        accounts(FABRIKAM),
        id="lambda-and-function",
    ),
    # Dataverse query functions.
    pytest.param(
        'Microsoft.Dynamics.CRM.In(PropertyName=\'name\',PropertyValues=["Contoso Ltd","fabrikam, inc."])',
        accounts(CONTOSO, FABRIKAM),
        id="In",
    ),
    pytest.param(
        "Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['Contoso Ltd','nobody'])",
        accounts(CONTOSO),
        id="In-single-quoted-array",
    ),
    pytest.param(
        'Microsoft.Dynamics.CRM.NotIn(PropertyName=\'numberofemployees\',PropertyValues=["50","5"])',
        accounts(FABRIKAM),
        id="NotIn-excludes-null",
    ),
    pytest.param(
        'Microsoft.Dynamics.CRM.Between(PropertyName=\'numberofemployees\',PropertyValues=["5","2000"])',
        accounts(CONTOSO, FABRIKAM, ADVENTURE),
        id="Between",
    ),
    pytest.param(
        'Microsoft.Dynamics.CRM.NotBetween(PropertyName=\'numberofemployees\',PropertyValues=["5","100"])',
        accounts(FABRIKAM),
        id="NotBetween",
    ),
    pytest.param(
        f"Microsoft.Dynamics.CRM.In(PropertyName='_primarycontactid_value',PropertyValues=[\"{C1.upper()}\"])",
        accounts(CONTOSO),
        id="In-lookup-value",
    ),
    pytest.param(
        f"Microsoft.Dynamics.CRM.In(PropertyName='primarycontactid',PropertyValues=[\"{C2}\"])",
        accounts(FABRIKAM),
        id="In-lookup-logical-name",
    ),
    pytest.param(
        "Microsoft.Dynamics.CRM.In(PropertyName='creditonhold',PropertyValues=[\"true\"])",
        accounts(FABRIKAM),
        id="In-boolean",
    ),
    pytest.param("Microsoft.Dynamics.CRM.Null(PropertyName='revenue')", accounts(LITWARE), id="Null"),
    pytest.param(
        "Microsoft.Dynamics.CRM.NotNull(PropertyName='revenue')",
        accounts(CONTOSO, FABRIKAM, ADVENTURE),
        id="NotNull",
    ),
    pytest.param(
        "Microsoft.Dynamics.CRM.On(PropertyName='createdon',PropertyValue='2025-03-01')", accounts(FABRIKAM), id="On"
    ),
    pytest.param(
        "Microsoft.Dynamics.CRM.On(PropertyName='createdon',PropertyValue=2025-03-01T23:30:00+02:00)",
        accounts(FABRIKAM),
        id="On-datetime-literal-is-taken-in-utc",
    ),
    pytest.param(
        "Microsoft.Dynamics.CRM.OnOrAfter(PropertyName='createdon',PropertyValue=2025-03-01)",
        accounts(FABRIKAM, ADVENTURE),
        id="OnOrAfter",
    ),
    pytest.param(
        "Microsoft.Dynamics.CRM.OnOrBefore(PropertyName='createdon',PropertyValue='2025-01-10')",
        accounts(CONTOSO, LITWARE),
        id="OnOrBefore",
    ),
    pytest.param(
        "Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=7)",
        accounts(FABRIKAM, ADVENTURE),
        id="LastXDays",
    ),
    pytest.param(
        "Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue='7')",
        accounts(FABRIKAM, ADVENTURE),
        id="LastXDays-quoted-count",
    ),
    pytest.param(
        "Microsoft.Dynamics.CRM.LastXHours(PropertyName='createdon',PropertyValue=24)",
        accounts(ADVENTURE),
        id="LastXHours",
    ),
    pytest.param(
        "Microsoft.Dynamics.CRM.LastXMonths(PropertyName='createdon',PropertyValue=2)",
        accounts(CONTOSO, FABRIKAM, ADVENTURE),
        id="LastXMonths",
    ),
    pytest.param(
        "Microsoft.Dynamics.CRM.OlderThanXDays(PropertyName='createdon',PropertyValue=30)",
        accounts(CONTOSO, LITWARE),
        id="OlderThanXDays",
    ),
    pytest.param(
        "Microsoft.Dynamics.CRM.NextXDays(PropertyName='createdon',PropertyValue=30)", [], id="NextXDays-none"
    ),
    pytest.param("Microsoft.Dynamics.CRM.Yesterday(PropertyName='createdon')", accounts(ADVENTURE), id="Yesterday"),
    pytest.param("Microsoft.Dynamics.CRM.Today(PropertyName='createdon')", [], id="Today-none"),
    pytest.param("Microsoft.Dynamics.CRM.ThisWeek(PropertyName='createdon')", accounts(ADVENTURE), id="ThisWeek"),
    pytest.param("Microsoft.Dynamics.CRM.LastWeek(PropertyName='createdon')", accounts(FABRIKAM), id="LastWeek"),
    pytest.param(
        "Microsoft.Dynamics.CRM.ThisMonth(PropertyName='createdon')", accounts(FABRIKAM, ADVENTURE), id="ThisMonth"
    ),
    pytest.param("Microsoft.Dynamics.CRM.LastMonth(PropertyName='createdon')", [], id="LastMonth-none"),
    pytest.param(
        "Microsoft.Dynamics.CRM.ThisYear(PropertyName='createdon')",
        accounts(CONTOSO, FABRIKAM, ADVENTURE),
        id="ThisYear",
    ),
    pytest.param("Microsoft.Dynamics.CRM.LastYear(PropertyName='createdon')", accounts(LITWARE), id="LastYear"),
    pytest.param(
        "Microsoft.Dynamics.CRM.Last7Days(PropertyName='createdon') and creditonhold eq false",
        accounts(ADVENTURE),
        id="query-function-and-comparison",
    ),
]


@pytest.mark.parametrize(("text", "expected"), ACCOUNT_CASES)
def test_account_filter_selects(db: sqlite3.Connection, catalogue: Catalogue, text: str, expected: list[str]) -> None:
    assert run_filter(db, catalogue, "account", text) == expected


CONTACT_CASES = [
    pytest.param("firstname eq lastname", [NANCY], id="column-comparison-case-insensitive"),
    pytest.param("jobtitle eq null", [RENE], id="eq-null"),
    pytest.param("donotemail eq false", [NANCY, RENE, SUSANNA], id="boolean-false"),
    pytest.param(f"_parentcustomerid_value eq {A1}", [SUSANNA], id="customer-lookup-value"),
    pytest.param("parentcustomerid_account/name eq 'Contoso Ltd'", [SUSANNA], id="polymorphic-nav-account"),
    pytest.param("parentcustomerid_contact/fullname eq 'Susanna Stubberod'", [NANCY], id="polymorphic-nav-contact"),
    pytest.param("parentcustomerid_account/numberofemployees gt 100", [YVONNE], id="nav-number"),
    pytest.param("birthdate eq 1980-05-17", [SUSANNA], id="date-only-eq-date"),
    pytest.param("birthdate ge 1985-01-01", [YVONNE], id="date-only-ge"),
    pytest.param("birthdate lt 1985-01-01T00:00:00Z", [SUSANNA], id="date-only-vs-datetime-literal"),
    pytest.param("birthdate eq 1990-01-01T18:00:00-08:00", [YVONNE], id="date-only-takes-literal-date"),
    pytest.param(
        "Microsoft.Dynamics.CRM.On(PropertyName='birthdate',PropertyValue='1990-01-01')", [YVONNE], id="On-date-only"
    ),
    pytest.param(
        'Microsoft.Dynamics.CRM.Between(PropertyName=\'birthdate\',PropertyValues=["1979-01-01","1985-12-31"])',
        [SUSANNA],
        id="Between-date-only",
    ),
    pytest.param(
        "Microsoft.Dynamics.CRM.OnOrBefore(PropertyName='birthdate',PropertyValue='1990-01-01')",
        [SUSANNA, YVONNE],
        id="OnOrBefore-date-only",
    ),
    pytest.param("Contact_Tasks/any(k:contains(k/subject,'intro'))", [SUSANNA], id="any-on-polymorphic-regarding"),
    pytest.param(
        "Contact_Tasks/any(k:Microsoft.Dynamics.CRM.In(PropertyName='subject',PropertyValues=[\"Intro call\"]))",
        [SUSANNA],
        id="query-function-inside-lambda",
    ),
    pytest.param(
        "Microsoft.Dynamics.CRM.In(PropertyName='parentcustomerid',PropertyValues=[\"" + A2 + '"])',
        [YVONNE],
        id="In-customer-logical-name",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CONTACT_CASES)
def test_contact_filter_selects(db: sqlite3.Connection, catalogue: Catalogue, text: str, expected: list[str]) -> None:
    assert run_filter(db, catalogue, "contact", text) == expected


TASK_CASES = [
    pytest.param("regardingobjectid_account_task/name eq 'Fabrikam, Inc.'", ["Follow up"], id="regarding-nav-account"),
    pytest.param("regardingobjectid_contact_task/jobtitle eq 'Buyer'", ["Intro call"], id="regarding-nav-contact"),
    pytest.param("_regardingobjectid_value eq null", [], id="lookup-eq-null-none"),
]


@pytest.mark.parametrize(("text", "expected"), TASK_CASES)
def test_task_filter_selects(db: sqlite3.Connection, catalogue: Catalogue, text: str, expected: list[str]) -> None:
    assert run_filter(db, catalogue, "task", text) == expected


ALIAS_CASES = [
    pytest.param("@p1 ne @p3", {"@p1": "revenue"}, accounts(CONTOSO, FABRIKAM, ADVENTURE), id="docs-alias-example"),
    pytest.param("name eq @p1", {"@p1": "'Contoso Ltd'"}, accounts(CONTOSO), id="alias-literal"),
    pytest.param("name eq @p9", {}, [], id="unassigned-alias-is-null"),
    pytest.param("@p1", {"@p1": "creditonhold eq true"}, accounts(FABRIKAM), id="alias-whole-expression"),
    pytest.param(
        "Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)",
        {"@p1": "'name'", "@p2": '["OBrian","Litware O\'Brian"]'},
        accounts(LITWARE),
        id="docs-In-with-aliases",
    ),
    pytest.param(
        "Microsoft.Dynamics.CRM.Between(PropertyName=@p1,PropertyValues=@p2)",
        {"@p1": "'numberofemployees'", "@p2": "['5','50']"},
        accounts(CONTOSO, ADVENTURE),
        id="docs-Between-with-aliases",
    ),
]


@pytest.mark.parametrize(("text", "aliases", "expected"), ALIAS_CASES)
def test_parameter_aliases(
    db: sqlite3.Connection, catalogue: Catalogue, text: str, aliases: dict[str, str], expected: list[str]
) -> None:
    assert run_filter(db, catalogue, "account", text, aliases) == expected


def test_subquery_aliases_never_clash_with_the_callers(catalogue: Catalogue) -> None:
    sql, _ = compile_filter(
        parse_filter("primarycontactid/fullname eq 'x' and Account_Tasks/any(t:t/subject eq 'y')"),
        catalogue.entity("account"),
        catalogue,
        alias="c",
        now=NOW,
    )
    assert 'c."primarycontactid" IN (SELECT c_1."contactid"' in sql
    assert 'FROM "task" AS c_2 WHERE c_2."regardingobjectid" = c."accountid"' in sql


def test_parameters_are_bound_not_inlined(catalogue: Catalogue) -> None:
    sql, params = compile_filter(
        parse_filter("name eq 'x''); DROP TABLE account; --' and creditonhold eq true"),
        catalogue.entity("account"),
        catalogue,
        alias="t",
        now=NOW,
    )
    assert "DROP" not in sql
    assert params == ["x'); DROP TABLE account; --", 1]


def test_naive_now_is_taken_as_utc(db: sqlite3.Connection, catalogue: Catalogue) -> None:
    entity = catalogue.entity("account")
    expr = parse_filter("Microsoft.Dynamics.CRM.Yesterday(PropertyName='createdon')")
    sql, params = compile_filter(expr, entity, catalogue, alias="t", now=NOW.replace(tzinfo=None))
    assert db.execute(f'SELECT t.name FROM "account" AS t WHERE {sql}', params).fetchall() == [(ADVENTURE,)]


def test_exactly_500_conditions_are_allowed(db: sqlite3.Connection, catalogue: Catalogue) -> None:
    text = " or ".join(f"numberofemployees eq {n}" for n in range(MAX_CONDITIONS))
    assert run_filter(db, catalogue, "account", text) == accounts(CONTOSO, ADVENTURE)


# --------------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------------


def _compile_error(catalogue: Catalogue, table: str, text: str) -> DataverseError:
    with pytest.raises(DataverseError) as caught:
        compile_filter(parse_filter(text), catalogue.entity(table), catalogue, alias="t", now=NOW)
    return caught.value


COMPILE_ERRORS = [
    pytest.param(
        "account",
        "foo eq 1",
        "Could not find a property named 'foo' on type 'Microsoft.Dynamics.CRM.account'.",
        id="unknown-property",
    ),
    pytest.param(
        "account",
        "Name eq 'x'",
        "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.account'.",
        id="property-names-are-case-sensitive",
    ),
    pytest.param(
        "contact",
        f"parentcustomerid eq {A1}",
        "Could not find a property named 'parentcustomerid' on type 'Microsoft.Dynamics.CRM.contact'.",
        id="lookup-logical-name",
    ),
    pytest.param(
        "account",
        "_name_value eq null",
        "Could not find a property named '_name_value' on type 'Microsoft.Dynamics.CRM.account'.",
        id="value-suffix-on-non-lookup",
    ),
    pytest.param(
        "account",
        "primarycontactidname eq 'x'",
        "Could not find a property named 'primarycontactidname' on type 'Microsoft.Dynamics.CRM.account'.",
        id="virtual-column",
    ),
    pytest.param(
        "account",
        f"primarycontactid eq {C1}",
        "The navigation property 'primarycontactid' can't be compared with a value; compare the lookup property "
        "'_primarycontactid_value' instead",
        id="navigation-property-as-value",
    ),
    pytest.param(
        "account",
        "name eq 5",
        "A binary operator with incompatible types was detected. Found operand types 'Edm.String' and "
        "'Edm.Int32' for operator kind 'Equal'.",
        id="string-vs-int",
    ),
    pytest.param(
        "account",
        "numberofemployees gt '5'",
        "Found operand types 'Edm.Int32' and 'Edm.String' for operator kind 'GreaterThan'.",
        id="int-vs-string",
    ),
    pytest.param(
        "account",
        "'5' le numberofemployees",
        "Found operand types 'Edm.String' and 'Edm.Int32' for operator kind 'LessThanOrEqual'.",
        id="literal-first-keeps-operand-order",
    ),
    pytest.param(
        "account",
        f"accountid eq '{A1}'",
        "Found operand types 'Edm.Guid' and 'Edm.String' for operator kind 'Equal'.",
        id="quoted-guid",
    ),
    pytest.param(
        "account",
        "creditonhold eq 1",
        "Found operand types 'Edm.Boolean' and 'Edm.Int32' for operator kind 'Equal'.",
        id="boolean-vs-int",
    ),
    pytest.param(
        "account",
        "createdon ge '2025-01-01'",
        "Found operand types 'Edm.DateTimeOffset' and 'Edm.String' for operator kind 'GreaterThanOrEqual'.",
        id="quoted-date",
    ),
    pytest.param(
        "account",
        "revenue ne 2025-01-01",
        "Found operand types 'Edm.Decimal' and 'Edm.Date' for operator kind 'NotEqual'.",
        id="money-vs-date",
    ),
    pytest.param(
        "account",
        "name eq numberofemployees",
        "Found operand types 'Edm.String' and 'Edm.Int32' for operator kind 'Equal'.",
        id="column-comparison-types",
    ),
    pytest.param(
        "account",
        "primarycontactid/fullname eq name",
        "Column comparison is only supported between columns of the same row",
        id="column-comparison-across-tables",
    ),
    pytest.param(
        "account",
        "1 eq 1",
        "comparing two literals isn't supported",
        id="two-literals",
    ),
    pytest.param(
        "account",
        "contains(numberofemployees,'5')",
        "No function signature for the function with name 'contains' matches the specified arguments.",
        id="contains-on-number",
    ),
    pytest.param(
        "account",
        "Account_Tasks/subject eq 'x'",
        "The parent value for a property access of a property 'subject' is not a single value.",
        id="property-of-collection",
    ),
    pytest.param(
        "account",
        "Account_Tasks eq null",
        "The collection-valued navigation property 'Account_Tasks' is not a single value",
        id="collection-as-value",
    ),
    pytest.param(
        "account",
        "primarycontactid/any(c:c/fullname eq 'x')",
        "needs a collection-valued navigation property; 'primarycontactid' is single-valued",
        id="lambda-on-single-valued",
    ),
    pytest.param(
        "task",
        "regardingobjectid_account_task/Account_Tasks/any(t:t/statecode eq 0)",
        "nested in a lookup ('regardingobjectid_account_task/Account_Tasks') aren't supported",
        id="lambda-nested-in-lookup",
    ),
    pytest.param(
        "account",
        "nosuchnav/name eq 'x'",
        "Could not find a property named 'nosuchnav' on type 'Microsoft.Dynamics.CRM.account'.",
        id="unknown-navigation-property",
    ),
    pytest.param(
        "account",
        "nosuch/any(x:x/name eq 'x')",
        "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.account'.",
        id="unknown-collection",
    ),
    pytest.param(
        "account",
        "primarycontactid/nosuch eq 'x'",
        "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.contact'.",
        id="unknown-property-of-related-table",
    ),
    pytest.param(
        "account",
        "ownerid/nosuch eq 'x'",
        "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.owner'.",
        id="unknown-property-of-owner",
    ),
    pytest.param(
        "account",
        "Account_Tasks/any(t:t/nosuch eq 1)",
        "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.task'.",
        id="unknown-property-in-lambda",
    ),
    pytest.param(
        "account",
        "Microsoft.Dynamics.CRM.Foo(PropertyName='name')",
        "An unknown function with name 'Microsoft.Dynamics.CRM.Foo' was found.",
        id="unknown-query-function",
    ),
    pytest.param(
        "account",
        "Microsoft.Dynamics.CRM.LastXFiscalYears(PropertyName='createdon',PropertyValue=2)",
        "The query function 'Microsoft.Dynamics.CRM.LastXFiscalYears' isn't supported by the sandbox.",
        id="unsupported-query-function",
    ),
    pytest.param(
        "account",
        "Microsoft.Dynamics.CRM.InFiscalPeriod(PropertyName='createdon',PropertyValue=5)",
        "The fiscal period 5 given to 'Microsoft.Dynamics.CRM.InFiscalPeriod' doesn't exist; the fiscal year has 4.",
        id="fiscal-period-out-of-range",
    ),
    pytest.param(
        "account",
        "Microsoft.Dynamics.CRM.InFiscalPeriodAndYear(PropertyName='createdon',PropertyValue1=1,PropertyValue2=0)",
        "The fiscal year 0 given to 'Microsoft.Dynamics.CRM.InFiscalPeriodAndYear' isn't a valid year.",
        id="fiscal-year-out-of-range",
    ),
    pytest.param(
        "task",
        "Microsoft.Dynamics.CRM.Under(PropertyName='activityid',PropertyValue='00000000-0000-0000-0000-000000000001')",
        "The table 'task' has no hierarchical relationship for 'Microsoft.Dynamics.CRM.Under'.",
        id="hierarchy-without-a-hierarchical-relationship",
    ),
    pytest.param(
        "account",
        "Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid')",
        "The query function 'Microsoft.Dynamics.CRM.EqualUserId' isn't supported by the sandbox here.",
        id="caller-function-without-a-caller",
    ),
    pytest.param(
        "account",
        "Microsoft.Dynamics.CRM.In(PropertyName='name')",
        "The function 'Microsoft.Dynamics.CRM.In' requires the parameter 'PropertyValues'.",
        id="missing-parameter",
    ),
    pytest.param(
        "account",
        "Microsoft.Dynamics.CRM.Today(PropertyName='createdon',PropertyValue=1)",
        "The parameter 'PropertyValue' is not valid for the function 'Microsoft.Dynamics.CRM.Today'.",
        id="unexpected-parameter",
    ),
    pytest.param(
        "account",
        "Microsoft.Dynamics.CRM.In(PropertyName='nosuch',PropertyValues=[\"a\"])",
        "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.account'.",
        id="query-function-unknown-property",
    ),
    pytest.param(
        "account",
        'Microsoft.Dynamics.CRM.In(PropertyName=name,PropertyValues=["a"])',
        "a parameter value expected",
        id="query-function-unquoted-property-name",
    ),
    pytest.param(
        "account",
        'Microsoft.Dynamics.CRM.In(PropertyName=5,PropertyValues=["a"])',
        "The parameter 'PropertyName' of 'Microsoft.Dynamics.CRM.In' must be a property name in quotes.",
        id="query-function-numeric-property-name",
    ),
    pytest.param(
        "account",
        "Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues='a')",
        "The parameter 'PropertyValues' of 'Microsoft.Dynamics.CRM.In' must be an array",
        id="In-without-array",
    ),
    pytest.param(
        "account",
        "Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=[])",
        "needs at least one value",
        id="In-empty-array",
    ),
    pytest.param(
        "account",
        'Microsoft.Dynamics.CRM.Between(PropertyName=\'numberofemployees\',PropertyValues=["1","2","3"])',
        "needs exactly two values",
        id="Between-three-values",
    ),
    pytest.param(
        "account",
        "Microsoft.Dynamics.CRM.In(PropertyName='numberofemployees',PropertyValues=[\"many\"])",
        "The value 'many' given to 'Microsoft.Dynamics.CRM.In' isn't a valid Edm.Int32 for 'numberofemployees'.",
        id="In-bad-number",
    ),
    pytest.param(
        "account",
        "Microsoft.Dynamics.CRM.In(PropertyName='accountid',PropertyValues=[\"not-a-guid\"])",
        "isn't a valid Edm.Guid for 'accountid'",
        id="In-bad-guid",
    ),
    pytest.param(
        "account",
        "Microsoft.Dynamics.CRM.LastXDays(PropertyName='name',PropertyValue=7)",
        "needs a date and time column; 'name' is Edm.String.",
        id="date-function-on-string",
    ),
    pytest.param(
        "account",
        "Microsoft.Dynamics.CRM.On(PropertyName='createdon',PropertyValue='soon')",
        "The value 'soon' given to 'Microsoft.Dynamics.CRM.On' isn't a valid date.",
        id="On-bad-date",
    ),
    pytest.param(
        "account",
        "Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue='week')",
        "The parameter 'PropertyValue' of 'Microsoft.Dynamics.CRM.LastXDays' must be a whole number.",
        id="LastXDays-bad-count",
    ),
    pytest.param(
        "contact",
        "Microsoft.Dynamics.CRM.LastXHours(PropertyName='birthdate',PropertyValue=5)",
        "can't be used with the date-only column 'birthdate'",
        id="time-function-on-date-only",
    ),
    pytest.param(
        "account",
        "Microsoft.Dynamics.CRM.Null(PropertyName=@p1)",
        "must be a property name in quotes",
        id="query-function-null-property-name",
    ),
]


@pytest.mark.parametrize(("table", "text", "message"), COMPILE_ERRORS)
def test_compile_errors(catalogue: Catalogue, table: str, text: str, message: str) -> None:
    error = _compile_error(catalogue, table, text)
    assert (error.status, error.code) == (400, "0x80060888")
    assert message in error.message


def test_more_than_500_conditions_is_refused(catalogue: Catalogue) -> None:
    text = " or ".join(f"numberofemployees eq {n}" for n in range(MAX_CONDITIONS + 1))
    error = _compile_error(catalogue, "account", text)
    assert (error.status, error.code, error.message) == (
        400,
        "0x8004430C",
        "Number of conditions in query exceeded maximum limit.",
    )


def test_navigation_and_lambdas_count_as_conditions(catalogue: Catalogue) -> None:
    text = " or ".join(["primarycontactid/fullname eq 'x'"] * 250 + ["Account_Tasks/any()"])
    error = _compile_error(catalogue, "account", text)
    assert error.code == "0x8004430C"


SYNTAX_ERRORS = [
    pytest.param(
        "lastname eq 'O'Bryan'",
        "There is an unterminated literal at position 21 in 'lastname eq 'O'Bryan''.",
        id="docs-unterminated-literal",
    ),
    pytest.param(
        "name eq 'x' foo",
        "Syntax error: ')' or operator expected at position 12 in 'name eq 'x' foo' (found 'foo').",
        id="trailing-token",
    ),
    pytest.param("", "Expression expected at position 0 in ''.", id="empty"),
    pytest.param(
        "name eq",
        "Syntax error: expression expected at position 7 in 'name eq' (found the end of the expression).",
        id="missing-operand",
    ),
    pytest.param(
        "name eq 'x' and",
        "Syntax error: expression expected at position 15 in 'name eq 'x' and' (found the end of the expression).",
        id="dangling-and",
    ),
    pytest.param(
        "(name eq 'x'",
        "Syntax error: ')' or operator expected at position 12 in '(name eq 'x'' (found the end of the expression).",
        id="unclosed-parenthesis",
    ),
    pytest.param(
        "name eq 'x')",
        "Syntax error: ')' or operator expected at position 11 in 'name eq 'x')' (found ')').",
        id="extra-parenthesis",
    ),
    pytest.param(
        "name # 1",
        "Syntax error: character '#' is not valid at position 5 in 'name # 1'.",
        id="invalid-character",
    ),
    pytest.param(
        "name EQ 'x'",
        "Syntax error: ')' or operator expected at position 5 in 'name EQ 'x'' (found 'EQ').",
        id="operators-are-case-sensitive",
    ),
    pytest.param(
        "name eq 'a' eq 'b'",
        "Syntax error: 'and', 'or' or ')' expected at position 12 in 'name eq 'a' eq 'b'' (found 'eq').",
        id="chained-comparison",
    ),
    pytest.param(
        "not name eq 'x'",
        "The 'not' operator at position 0 must be followed by a Boolean expression",
        id="not-binds-tighter-than-eq",
    ),
    pytest.param(
        "donotemail",
        "The $filter expression must be a Boolean expression such as a comparison, a function call or a lambda, "
        "but the property 'donotemail' was found",
        id="bare-property",
    ),
    pytest.param("true", "but a literal was found", id="bare-literal"),
    pytest.param("name eq 'x' and revenue", "The operand of 'and' must be a Boolean expression", id="and-operand"),
    pytest.param("revenue or name eq 'x'", "The operand of 'or' must be a Boolean expression", id="or-operand"),
    pytest.param(
        "(name eq 'x') eq true",
        "The operands of 'eq' at position 14 must be properties or literals",
        id="comparison-of-boolean-expression",
    ),
    pytest.param(
        "revenue add 5 gt 3",
        "The arithmetic operator 'add' at position 8 isn't supported",
        id="arithmetic",
    ),
    pytest.param(
        "tolower(name) eq 'x'",
        "The function 'tolower' at position 0 isn't supported in 'tolower(name) eq 'x''. String comparisons are "
        "already case-insensitive.",
        id="tolower",
    ),
    pytest.param("year(createdon) eq 2025", "The function 'year' at position 0 isn't supported", id="year"),
    pytest.param(
        "substringof('x',name)",
        "An unknown function with name 'substringof' was found.",
        id="unknown-function",
    ),
    pytest.param(
        "contains(name)",
        "No function signature for the function with name 'contains' matches the specified arguments.",
        id="contains-one-argument",
    ),
    pytest.param(
        "contains(name,5)",
        "No function signature for the function with name 'contains' matches the specified arguments.",
        id="contains-number",
    ),
    pytest.param(
        "contains('x',name)",
        "The first argument of 'contains' at position 0 must be a property",
        id="contains-literal-first",
    ),
    pytest.param(
        "contains(name,jobtitle)",
        "The second argument of 'contains' at position 0 must be a string literal",
        id="contains-property-second",
    ),
    pytest.param(
        "Account_Tasks/all()",
        "a lambda variable and predicate expected for 'all'",
        id="all-without-predicate",
    ),
    pytest.param(
        "Account_Tasks/any(t:t/subject)",
        "The predicate of a lambda must be a Boolean expression",
        id="lambda-predicate-not-boolean",
    ),
    pytest.param(
        "Account_Tasks/any(t:t eq 'x')",
        "The lambda variable 't' at position 20 must be followed by a property",
        id="bare-lambda-variable",
    ),
    pytest.param(
        "Account_Tasks/any(t:t/Contact_Tasks/any(t:t/subject eq 'x'))",
        "the lambda variable 't' is already in use",
        id="lambda-variable-reused",
    ),
    pytest.param(
        "Account_Tasks/any(t t/subject eq 'x')",
        "':' expected at position 20",
        id="lambda-missing-colon",
    ),
    pytest.param(
        "Microsoft.Dynamics.CRM.In(PropertyName='a',PropertyName='b')",
        "the parameter 'PropertyName' is given twice",
        id="query-function-duplicate-parameter",
    ),
    pytest.param(
        'Microsoft.Dynamics.CRM.In(PropertyName=\'name\',PropertyValues=["a" "b"])',
        "',' or ']' expected in the array",
        id="array-missing-comma",
    ),
    pytest.param(
        "Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=[\"a\",])",
        "a quoted value expected in the array",
        id="array-trailing-comma",
    ),
    pytest.param(
        "Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=[\"a)",
        "There is an unterminated literal",
        id="array-unterminated-string",
    ),
    pytest.param("createdon eq 2025-02-30", "Unrecognized literal '2025-02-30' at position 13", id="impossible-date"),
    pytest.param("revenue eq 1.5L", "Unrecognized literal '1.5L'", id="long-suffix-on-decimal"),
    pytest.param("name eq @p1", "The parameter alias '@p1' refers to itself.", id="self-referencing-alias"),
    pytest.param("(" * 101 + "name eq 'x'" + ")" * 101, "nested too deeply", id="too-deep"),
]


@pytest.mark.parametrize(("text", "message"), SYNTAX_ERRORS)
def test_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(DataverseError) as caught:
        parse_filter(text, {"@p1": "@p1"})
    assert (caught.value.status, caught.value.code) == (400, "0x80060888")
    assert message in caught.value.message


def test_aliases_can_be_refused() -> None:
    with pytest.raises(DataverseError) as caught:
        parse_filter("name eq @p1", {"@p1": "'x'"}, allow_aliases=False)
    assert "Parameter aliases can't be used here (found '@p1' at position 8" in caught.value.message


# --------------------------------------------------------------------------------------------------------
# The AST
# --------------------------------------------------------------------------------------------------------


def _path(*segments: str, variable: str | None = None) -> PropertyPath:
    return PropertyPath(segments, variable)


def _string(value: str) -> Literal:
    return Literal(value, Edm.STRING)


AST_CASES = [
    pytest.param(
        "a eq 1 or b eq 2 and not (c eq 3)",
        BoolOp(
            "or",
            (
                Comparison("eq", _path("a"), Literal(1, Edm.INT32)),
                BoolOp(
                    "and",
                    (
                        Comparison("eq", _path("b"), Literal(2, Edm.INT32)),
                        Not(Comparison("eq", _path("c"), Literal(3, Edm.INT32))),
                    ),
                ),
            ),
        ),
        id="precedence",
    ),
    pytest.param(
        "a eq 1 and b eq 2 and c eq 3",
        BoolOp(
            "and",
            tuple(Comparison("eq", _path(name), Literal(n, Edm.INT32)) for n, name in enumerate("abc", start=1)),
        ),
        id="chains-are-flattened",
    ),
    pytest.param(
        "primarycontactid/createdby/fullname ne null",
        Comparison("ne", _path("primarycontactid", "createdby", "fullname"), Literal(None, None)),
        id="path",
    ),
    pytest.param(
        "x eq 3000000000 or x eq 2.5 or x eq 2.5d or x eq 2f or x eq 7L",
        BoolOp(
            "or",
            (
                Comparison("eq", _path("x"), Literal(3000000000, Edm.INT64)),
                Comparison("eq", _path("x"), Literal(2.5, Edm.DECIMAL)),
                Comparison("eq", _path("x"), Literal(2.5, Edm.DOUBLE)),
                Comparison("eq", _path("x"), Literal(2.0, Edm.SINGLE)),
                Comparison("eq", _path("x"), Literal(7, Edm.INT64)),
            ),
        ),
        id="number-types",
    ),
    pytest.param(
        "x ge 2025-01-01T10:00:00-05:00 and y eq 2025-01-01",
        BoolOp(
            "and",
            (
                Comparison("ge", _path("x"), Literal(datetime(2025, 1, 1, 15, 0, tzinfo=UTC), Edm.DATETIMEOFFSET)),
                Comparison("eq", _path("y"), Literal(date(2025, 1, 1), Edm.DATE)),
            ),
        ),
        id="temporal-literals",
    ),
    pytest.param(
        "x eq 2025-01-01T10:00:00",
        Comparison("eq", _path("x"), Literal(datetime(2025, 1, 1, 10, 0, tzinfo=UTC), Edm.DATETIMEOFFSET)),
        id="datetime-without-offset-is-utc",
    ),
    pytest.param(
        "accountid eq ABCDEF01-0000-0000-0000-00000000000A",
        Comparison("eq", _path("accountid"), Literal("abcdef01-0000-0000-0000-00000000000a", Edm.GUID)),
        id="guid-lowercased",
    ),
    pytest.param(
        "not endswith(name,'Inc.')",
        Not(StringFunction("endswith", _path("name"), _string("Inc."))),
        id="not-function",
    ),
    pytest.param(
        "Account_Emails/any(e:contains(e/subject,'sometext') and e/statecode eq 0)",
        Lambda(
            "any",
            _path("Account_Emails"),
            "e",
            BoolOp(
                "and",
                (
                    StringFunction("contains", _path("subject", variable="e"), _string("sometext")),
                    Comparison("eq", _path("statecode", variable="e"), Literal(0, Edm.INT32)),
                ),
            ),
        ),
        id="docs-lambda",
    ),
    pytest.param(
        'Microsoft.Dynamics.CRM.Between(PropertyName=\'numberofemployees\',PropertyValues=["5","2000"])',
        QueryFunction(
            "Between",
            (
                ("PropertyName", _string("numberofemployees")),
                ("PropertyValues", ListLiteral((_string("5"), _string("2000")))),
            ),
        ),
        id="docs-query-function",
    ),
]


@pytest.mark.parametrize(("text", "expected"), AST_CASES)
def test_parse_tree(text: str, expected: object) -> None:
    assert parse_filter(text) == expected


def test_an_enumeration_member_is_a_literal_of_its_own_kind() -> None:
    """Metadata queries compare enumerations (``OwnershipType eq Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'``);
    the one parser reads them for both APIs, and no column of a data table is an enumeration."""
    assert parse_filter("OwnershipType eq Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'") == Comparison(
        "eq", _path("OwnershipType"), Literal("UserOwned", Edm.ENUM)
    )
    error = _compile_error(build_catalogue(), "account", "name eq Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'")
    assert error.status == 400
    assert "incompatible types" in error.message


# --------------------------------------------------------------------------------------------------------
# $orderby
# --------------------------------------------------------------------------------------------------------

ORDERBY_CASES = [
    pytest.param("name", [ADVENTURE, CONTOSO, FABRIKAM, LITWARE], id="text-case-insensitive"),
    pytest.param("name desc", [LITWARE, FABRIKAM, CONTOSO, ADVENTURE], id="desc"),
    pytest.param("revenue desc", [FABRIKAM, CONTOSO, ADVENTURE, LITWARE], id="nulls-last-descending"),
    pytest.param("revenue asc", [LITWARE, ADVENTURE, CONTOSO, FABRIKAM], id="nulls-first-ascending"),
    pytest.param("creditonhold desc,name", [FABRIKAM, ADVENTURE, CONTOSO, LITWARE], id="two-keys"),
    pytest.param("_ownerid_value,name desc", [CONTOSO, ADVENTURE, LITWARE, FABRIKAM], id="lookup-value"),
]


@pytest.mark.parametrize(("text", "expected"), ORDERBY_CASES)
def test_orderby(db: sqlite3.Connection, catalogue: Catalogue, text: str, expected: list[str]) -> None:
    order = compile_orderby(parse_orderby(text), catalogue.entity("account"), alias="t")
    rows = db.execute(f'SELECT t.name FROM "account" AS t ORDER BY {order}').fetchall()
    assert [row[0] for row in rows] == expected


def test_orderby_sql_and_aliases(catalogue: Catalogue) -> None:
    items = parse_orderby("@p1 asc,@p2 desc", {"@p1": "revenue", "@p2": "name"})
    assert items == [OrderByItem("revenue"), OrderByItem("name", descending=True)]
    assert compile_orderby(items, catalogue.entity("account"), alias="c") == 'c."revenue" ASC, c."name" DESC'


ORDERBY_ERRORS = [
    pytest.param(
        "nosuch", "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.account'.", id="unknown"
    ),
    pytest.param(
        "primarycontactid",
        "Could not find a property named 'primarycontactid' on type 'Microsoft.Dynamics.CRM.account'.",
        id="lookup-logical-name",
    ),
    pytest.param(
        "primarycontactid/fullname",
        "Ordering by a property of a related table ('primarycontactid/fullname') isn't supported",
        id="navigation-path",
    ),
]


@pytest.mark.parametrize(("text", "message"), ORDERBY_ERRORS)
def test_orderby_compile_errors(catalogue: Catalogue, text: str, message: str) -> None:
    with pytest.raises(DataverseError) as caught:
        compile_orderby(parse_orderby(text), catalogue.entity("account"), alias="t")
    assert (caught.value.status, caught.value.code) == (400, "0x80060888")
    assert message in caught.value.message


ORDERBY_SYNTAX_ERRORS = [
    pytest.param("", {}, "The $orderby query option is empty.", id="empty"),
    pytest.param("name ASC", {}, "',' or the end of $orderby expected at position 5", id="direction-case-sensitive"),
    pytest.param("name asc desc", {}, "',' or the end of $orderby expected at position 9", id="two-directions"),
    pytest.param("name,", {}, "property name expected at position 5", id="trailing-comma"),
    pytest.param("@p1", {}, "The parameter alias '@p1' used in $orderby has no value.", id="unassigned-alias"),
    pytest.param("@p1", {"@p1": "name eq 'x'"}, "a property path expected", id="alias-not-a-path"),
]


@pytest.mark.parametrize(("text", "aliases", "message"), ORDERBY_SYNTAX_ERRORS)
def test_orderby_syntax_errors(text: str, aliases: dict[str, str], message: str) -> None:
    with pytest.raises(DataverseError) as caught:
        parse_orderby(text, aliases)
    assert caught.value.status == 400
    assert message in caught.value.message
