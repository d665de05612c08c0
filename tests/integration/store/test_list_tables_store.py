"""A list's records sorted, filtered and paged by the store (``uow.list_tables``), on SQLite and PostgreSQL: every
sort in both directions orders the rows as the list's page ordered them in Python before (names without case, a
missing name or owner after the present ones, ties broken by name then CRM id then table, all reversed when
descending); the badge and owner filters; pages that add up to the whole list with the total counted; the Lists
page's previews (size, first items, people and companies, unmatched count); another organization's list has no
rows; a walk by keyset (``items_after``) by table then CRM id gives each item once, whatever its record is
renamed to meanwhile."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.web.test_crm_details_web import tie

from salesbridge.domain.lists import (
    ListItemKey,
    ListRowKey,
    ListSort,
    ListTablePage,
    ListTableQuery,
    ListTableRow,
    RowBadge,
)
from salesbridge.domain.match_links import LinkBand, TargetKind
from salesbridge.domain.people import Company, Person
from salesbridge.domain.sync_runs import RecordRow
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.uow import UnitOfWorkFactory

ANA, TEAM, GONE = "5a000000-0000-0000-0000-0000000000aa", "7e000000-0000-0000-0000-0000000000bb", "dead"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    """A clock one second later on each call (so items are added one after another)."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


# (table, crm_id, name, owner): None name, and "absent" (no imported record at all); the same name in two cases;
# a name past "z" by code point; owners a user, a team, one not imported, none.
RECORDS: tuple[tuple[str, str, str | None, str | None], ...] = (
    ("contact", "c1", "bob Stone", ANA),
    ("contact", "c2", "Ana Ruiz", TEAM),
    ("contact", "c3", "ana ruiz", ANA),
    ("contact", "c4", None, ANA),
    ("contact", "c5", "Álvaro Díaz", GONE),
    ("lead", "c1", "Bob Stone", None),
    ("account", "a1", "Contoso", TEAM),
    ("account", "a2", "zeta", ANA),
)
ABSENT = ("lead", "l9")


@pytest.fixture
def seeded(session_factory: sessionmaker[Session], cipher: CredentialCipher) -> tuple[UnitOfWorkFactory, Any]:
    """Acme's list of the records above (c1, c3 tied to people, c3 out of date; a1 tied to a company; the rest not
    matched), added in that order one second apart, and Globex; (store, ids)."""
    store = UnitOfWorkFactory(session_factory, cipher=cipher, clock=Clock())
    acme, globex = uuid.uuid4(), uuid.uuid4()
    with store(acme) as uow:
        uow.organization.create(slug="acme", name="Acme", seats_purchased=2)
        seller = uow.users.add(email="seller@acme.test", display_name="Sam")
        uow.crm_records.upsert_many("systemuser", [RecordRow(ANA, "Ana Owner", None, None, 0, {})], generation=1)
        uow.crm_records.upsert_many("team", [RecordRow(TEAM, "Sales team", None, None, 0, {})], generation=1)
        for table in ("contact", "lead", "account"):
            uow.crm_records.upsert_many(
                table,
                [RecordRow(i, n, o, None, 0, {}) for t, i, n, o in RECORDS if t == table],
                generation=1,
            )
        uow.people.upsert_many(
            [
                Person(external_id="p-zoe", first_name="zoe", last_name="Ng"),
                Person(external_id="p-al", first_name="Al", last_name="Bo", headline="Buyer", company_name="Contoso"),
            ]
        )
        uow.companies.upsert_many([Company(external_id="k-1", name="Contoso Ltd", city="Madrid")])
        people = uow.people.ids_by_external_ids(["p-zoe", "p-al"])
        company = uow.companies.get_by_external_id("k-1")
        assert company is not None
        uow.matches.put(
            [
                tie("contact", "c1", TargetKind.PERSON, people["p-zoe"]),
                tie("contact", "c3", TargetKind.PERSON, people["p-al"], stale=True),
                tie("account", "a1", TargetKind.COMPANY, company.id),
                replace(tie("contact", "c2", TargetKind.PERSON, people["p-al"]), band=LinkBand.REVIEW),
            ]
        )
        saved = uow.lists.create_manual(seller.id, "Q1")
        empty = uow.lists.create_manual(seller.id, "Empty")
        for table, crm_id, _, _ in RECORDS:
            uow.lists.add_item(saved.id, table, crm_id)
        uow.lists.add_item(saved.id, *ABSENT)
        uow.commit()
    with store(globex) as uow:
        uow.organization.create(slug="globex", name="Globex", seats_purchased=1)
        uow.commit()
    return store, {"acme": acme, "globex": globex, "list": saved.id, "empty": empty.id, "people": people}


def _python_order(rows: list[ListTableRow], sort: ListSort, descending: bool) -> list[ListTableRow]:
    """The order the list's page computed in Python before the store did (services.list_view, run 2)."""

    def text(value: str | None) -> tuple[bool, str]:
        return (value is None, (value or "").casefold())

    keys: dict[ListSort, Callable[[ListTableRow], Any]] = {
        ListSort.NAME: lambda row: (text(row.name), row.crm_id),
        ListSort.TYPE: lambda row: (row.crm_table, text(row.name), row.crm_id),
        ListSort.OWNER: lambda row: (text(row.owner_name), text(row.name), row.crm_id),
        ListSort.ADDED: lambda row: (row.added_at, text(row.name), row.crm_id),
    }
    by_table = sorted(rows, key=lambda row: (row.crm_table, row.crm_id))  # the items' order, then a stable sort
    return sorted(by_table, key=keys[sort], reverse=descending)


def _keys(rows: list[ListTableRow]) -> list[tuple[str, str]]:
    return [(row.crm_table, row.crm_id) for row in rows]


@pytest.mark.parametrize("descending", [False, True])
def test_every_sort_orders_as_the_page_did_in_python(seeded: tuple[UnitOfWorkFactory, Any], descending: bool) -> None:
    store, ids = seeded
    with store(ids["acme"], read_only=True) as uow:
        for sort in ListSort:
            page = uow.list_tables.rows(ids["list"], ListTableQuery(sort=sort, descending=descending), limit=None)
            rows = page.rows
            assert page.total == 9
            assert _keys(rows) == _keys(_python_order(rows, sort, descending)), sort
        by_name = uow.list_tables.rows(ids["list"], ListTableQuery(descending=descending), limit=None).rows
        by_owner = uow.list_tables.rows(
            ids["list"], ListTableQuery(sort=ListSort.OWNER, descending=descending), limit=None
        ).rows

    ascending_names = [
        ("contact", "c2"),  # Ana Ruiz ┐ the same name without case: by CRM id
        ("contact", "c3"),  # ana ruiz ┘
        ("contact", "c1"),  # bob Stone ┐ the same name and id: by table (either way)
        ("lead", "c1"),  # Bob Stone  ┘
        ("account", "a1"),  # Contoso
        ("account", "a2"),  # zeta
        ("contact", "c5"),  # Álvaro: past "z" by code point
        ("contact", "c4"),  # no name ┐ missing names last
        ("lead", "l9"),  # no record  ┘
    ]
    if descending:
        expected = [*ascending_names[::-1]]
        expected[5:7] = [("contact", "c1"), ("lead", "c1")]  # same name and id: still by table
        assert _keys(by_name) == expected
    else:
        assert _keys(by_name) == ascending_names
    named = {(row.crm_table, row.crm_id): (row.name, row.owner_id, row.owner_name) for row in by_owner}
    assert named[("contact", "c2")] == ("Ana Ruiz", TEAM, "Sales team"), "a team owns it"
    assert named[("contact", "c5")] == ("Álvaro Díaz", GONE, None), "an owner not imported has no name"
    assert named[ABSENT] == (None, None, None)
    owner_names = [row.owner_name for row in by_owner]
    assert owner_names[:5] == ([None] * 3 + ["Sales team"] * 2 if descending else ["Ana Owner"] * 4 + ["Sales team"])


def test_the_badge_and_owner_filters_keep_their_rows(seeded: tuple[UnitOfWorkFactory, Any]) -> None:
    store, ids = seeded

    def kept(**query: Any) -> list[tuple[str, str]]:
        with store(ids["acme"], read_only=True) as uow:
            page = uow.list_tables.rows(ids["list"], ListTableQuery(**query), limit=None)
            rows = page.rows
            assert page.total == len(rows) == uow.list_tables.count(ids["list"], ListTableQuery(**query))
            assert sorted(uow.list_tables.keys(ids["list"], ListTableQuery(**query))) == sorted(_keys(rows))
            return _keys(rows)

    assert kept(badge=RowBadge.MATCHED) == [("contact", "c3"), ("contact", "c1"), ("account", "a1")]
    assert kept(badge=RowBadge.OUT_OF_DATE) == [("contact", "c3")]
    assert kept(badge=RowBadge.UNMATCHED) == [
        ("contact", "c2"),  # in review only: not tied
        ("lead", "c1"),
        ("account", "a2"),
        ("contact", "c5"),
        ("contact", "c4"),
        ABSENT,
    ]
    assert kept(owner=TEAM) == [("contact", "c2"), ("account", "a1")]
    assert kept(owner=ANA, badge=RowBadge.MATCHED, sort=ListSort.ADDED, descending=True) == [
        ("contact", "c3"),
        ("contact", "c1"),
    ]
    with store(ids["acme"], read_only=True) as uow:
        page = uow.list_tables.rows(ids["list"], ListTableQuery(badge=RowBadge.MATCHED), limit=None)
        assert {(row.crm_id, row.badge, row.target_kind) for row in page.rows} == {
            ("a1", RowBadge.MATCHED, "company"),
            ("c3", RowBadge.OUT_OF_DATE, "person"),
            ("c1", RowBadge.MATCHED, "person"),
        }
        owners = [(ANA, "Ana Owner"), (TEAM, "Sales team"), (GONE, None)]
        assert sorted(page.owners) == owners, "every record's owner, whatever the filters keep"
        assert sorted(uow.list_tables.owners(ids["list"])) == owners
        last = page.rows[-1]
        past_key = ListRowKey(crm_table=last.crm_table, crm_id=last.crm_id, name=last.name)
        past = uow.list_tables.rows(ids["list"], ListTableQuery(badge=RowBadge.MATCHED), limit=5, after=past_key)
        assert (past.rows, past.total, sorted(past.owners)) == ([], 3, owners), "a page past the end"


def _key(row: ListTableRow) -> ListRowKey:
    return ListRowKey(
        crm_table=row.crm_table, crm_id=row.crm_id, name=row.name, owner_name=row.owner_name, added_at=row.added_at
    )


@pytest.mark.parametrize("descending", [False, True])
def test_pages_cut_by_keyset_add_up_to_the_list_both_ways(
    seeded: tuple[UnitOfWorkFactory, Any], descending: bool
) -> None:
    """Every sort, each direction: walking forward after each page's last row, then back before each page's first,
    gives the whole list in order, each page knowing how many rows sort before it; the same name in two cases,
    the same id in two tables, a missing name and a record not imported are each one place."""
    store, ids = seeded
    with store(ids["acme"], read_only=True) as uow:
        for sort in ListSort:
            query = ListTableQuery(sort=sort, descending=descending)
            whole = uow.list_tables.rows(ids["list"], query, limit=None).rows
            forward = [uow.list_tables.rows(ids["list"], query, limit=4)]
            while forward[-1].rows:
                forward.append(uow.list_tables.rows(ids["list"], query, limit=4, after=_key(forward[-1].rows[-1])))
            backward = [forward[-2]]
            while backward[-1].offset > 0:
                backward.append(uow.list_tables.rows(ids["list"], query, limit=4, before=_key(backward[-1].rows[0])))

            assert [len(page.rows) for page in forward] == [4, 4, 1, 0], sort
            assert [page.offset for page in forward[:-1]] == [0, 4, 8], sort
            assert [page.total for page in forward] == [9, 9, 9, 9], sort
            assert _keys([row for page in forward for row in page.rows]) == _keys(whole), sort
            assert [page.offset for page in backward] == [8, 4, 0], sort
            assert _keys([row for page in backward[::-1] for row in page.rows]) == _keys(whole), sort


def test_the_lists_page_previews_read_the_first_items_people_and_companies(
    seeded: tuple[UnitOfWorkFactory, Any],
) -> None:
    store, ids = seeded
    with store(ids["acme"], read_only=True) as uow:
        previews = uow.list_tables.previews([ids["list"], ids["empty"]], limit=3)
        everything = uow.list_tables.previews([ids["list"]], limit=50)[ids["list"]]

    preview = previews[ids["list"]]
    assert ids["empty"] not in previews, "an empty list has no preview"
    assert preview.size == 9
    assert preview.unmatched == 6, "c2 (in review), lead c1, a2, c5, c4 and the lead not imported"
    assert [(item.crm_table, item.crm_id) for item in preview.items] == [
        ("contact", "c4"),
        ("lead", "l9"),
        ("contact", "c2"),
    ]
    assert [preview.names[(item.crm_table, item.crm_id)] for item in preview.items] == [None, None, "Ana Ruiz"]
    assert [(person.name, person.detail) for person in preview.people] == [
        ("Al Bo", "Buyer · Contoso"),
        ("zoe Ng", None),
    ]
    assert [(company.name, company.detail) for company in preview.companies] == [("Contoso Ltd", "Madrid")]
    assert [everything.names[(item.crm_table, item.crm_id)] for item in everything.items][3:] == [
        "ana ruiz",
        "bob Stone",
        "Bob Stone",
        "Contoso",
        "zeta",
        "Álvaro Díaz",
    ]


@pytest.mark.parametrize("limit", [1, 2, 4])
def test_items_after_a_key_walk_the_list_by_table_then_id(seeded: tuple[UnitOfWorkFactory, Any], limit: int) -> None:
    """The same id in two tables, a record not imported: a walk of any page size gives every item once, by table
    then id, each with its name, and the previews in walk order start it."""
    store, ids = seeded
    walked: list[tuple[str, str]] = []
    names: list[str | None] = []
    after: ListItemKey | None = None
    with store(ids["acme"], read_only=True) as uow:
        everything = uow.list_tables.previews([ids["list"]], limit=50, walk_order=True)[ids["list"]]
        start = uow.list_tables.previews([ids["list"]], limit=limit, walk_order=True)[ids["list"]]
        while page := uow.list_tables.items_after(ids["list"], after, limit=limit):
            walked += [(item.crm_table, item.crm_id) for item, _ in page]
            names += [name for _, name in page]
            last, _ = page[-1]
            after = ListItemKey(last.crm_table, last.crm_id)
        # The people and companies of some items: only those these items are tied to, by name.
        people = uow.list_tables.targets_of_items(ids["list"], TargetKind.PERSON, [("contact", "c3"), ("lead", "c1")])
        records = uow.list_tables.tied_records(
            ids["list"], [ids["people"]["p-al"], ids["people"]["p-zoe"]], keys=[("contact", "c3")]
        )
        none = uow.list_tables.targets_of_items(ids["list"], TargetKind.COMPANY, [])
    assert walked == sorted([(table, crm_id) for table, crm_id, _, _ in RECORDS] + [ABSENT])
    assert names == [{(t, i): n for t, i, n, _ in RECORDS}.get(key) for key in walked]
    assert [(item.crm_table, item.crm_id) for item in everything.items] == walked
    assert [(item.crm_table, item.crm_id) for item in start.items] == walked[:limit]
    assert [person.name for person in people] == ["Al Bo"]
    assert records == {ids["people"]["p-al"]: [("contact", "c3")]}
    assert none == ()
    with store(ids["globex"], read_only=True) as uow:
        assert uow.list_tables.items_after(ids["list"], None, limit=50) == []


def _plan_nodes(node: dict[str, Any], under: tuple[str, ...] = ()) -> list[tuple[dict[str, Any], tuple[str, ...]]]:
    """Each node of a JSON plan with the node types above it."""
    found = [(node, under)]
    for child in node.get("Plans", []):
        found += _plan_nodes(child, (*under, str(node["Node Type"])))
    return found


def test_the_unmatched_count_probes_each_records_tie_by_its_key(
    seeded: tuple[UnitOfWorkFactory, Any], engine: Engine
) -> None:
    """Counted right: another organization's tie of the same record, a correction's "no match" (no target) and a
    record of a table matching leaves alone (an opportunity) change nothing. On PostgreSQL, before any ANALYZE (the
    store as an import leaves it), the count reads ``match_links`` only in a per-record subquery conditioned on
    the record's id, never in a join: a join's plan is the planner's guess, and without statistics it guessed a
    nested loop that read every tie of the organization for each record (320-900 ms for 5,000 records)."""
    store, ids = seeded
    with store(ids["globex"]) as uow:
        uow.matches.put(
            [
                tie("contact", "c2", TargetKind.PERSON, uuid.uuid4()),
                tie("account", "a2", TargetKind.COMPANY, uuid.uuid4()),
            ]
        )
        uow.commit()
    with store(ids["acme"]) as uow:
        no_match = replace(
            tie("account", "a2", TargetKind.COMPANY, uuid.uuid4()), band=LinkBand.NO_MATCH, target_id=None
        )
        uow.matches.put([no_match])
        assert uow.lists.add_item(ids["list"], "opportunity", "o1")
        uow.commit()
    statements: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if "match_links" in statement:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        with store(ids["acme"], read_only=True) as uow:
            unmatched = uow.list_tables.unmatched(ids["list"])
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert unmatched == 6, "c2 (in review; Globex's tie is not Acme's), lead c1, a2 (no match), c5, c4, lead l9"
    assert len(statements) == 1
    # Whichever index the planner takes for the probe, its condition reaches the record (migration 0040): an index
    # led by the organization and table but without the CRM id read every tie of the table per record.
    for index in inspect(engine).get_indexes("match_links"):
        if index["column_names"][:2] == ["organization_id", "crm_table"]:
            assert "crm_id" in index["column_names"], index
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as connection:
        never = connection.exec_driver_sql(
            "SELECT count(*) FROM pg_class WHERE relname IN ('list_items', 'match_links') AND reltuples < 0"
        )
        assert never.scalar() == 2, "measured before any ANALYZE"
        statement, parameters = statements[0]
        plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON, VERBOSE) " + statement, parameters).scalar()
    document = json.loads(plan) if isinstance(plan, str) else plan
    reads = [
        (node, under) for node, under in _plan_nodes(document[0]["Plan"]) if node.get("Relation Name") == "match_links"
    ]
    assert reads, document
    for node, under in reads:
        assert not any("Join" in kind or kind == "Nested Loop" for kind in under), document
        assert node.get("Parent Relationship") == "SubPlan", document
        conditions = f"{node.get('Index Cond', '')} {node.get('Filter', '')}"
        assert re.search(r"crm_id\)::text = \(\w+\.crm_id\)", conditions), document


def test_another_organizations_list_has_no_rows_and_no_preview(seeded: tuple[UnitOfWorkFactory, Any]) -> None:
    store, ids = seeded
    with store(ids["globex"], read_only=True) as uow:
        assert uow.list_tables.rows(ids["list"], ListTableQuery(), limit=None) == ListTablePage(
            rows=[], total=0, owners=[]
        )
        assert uow.list_tables.keys(ids["list"], ListTableQuery()) == []
        assert uow.list_tables.owners(ids["list"]) == []
        assert uow.list_tables.previews([ids["list"]], limit=50) == {}


def test_a_record_renamed_by_an_import_is_seen_at_once_by_the_table_and_the_previews(
    seeded: tuple[UnitOfWorkFactory, Any],
) -> None:
    """Nothing is kept between reads: after an import renames a record, the next read of the table, the Lists
    page's preview by name and its first page in walk order show the new name in its new place."""
    store, ids = seeded

    def read() -> tuple[list[tuple[str | None, str]], list[str | None], list[str | None]]:
        with store(ids["acme"], read_only=True) as uow:
            table = uow.list_tables.rows(ids["list"], ListTableQuery(), limit=3)
            by_name = uow.list_tables.previews([ids["list"]], limit=3)[ids["list"]]
            walk = uow.list_tables.previews([ids["list"]], limit=2, walk_order=True)[ids["list"]]
        return (
            [(row.name, row.crm_id) for row in table.rows],
            [by_name.names[(item.crm_table, item.crm_id)] for item in by_name.items],
            [walk.names[(item.crm_table, item.crm_id)] for item in walk.items],
        )

    before = read()
    with store(ids["acme"]) as uow:
        uow.crm_records.upsert_many("account", [RecordRow("a1", "Aardvark Inc", TEAM, None, 0, {})], generation=2)
        uow.commit()
    after = read()

    assert before == (
        [("Ana Ruiz", "c2"), ("ana ruiz", "c3"), ("bob Stone", "c1")],
        [None, None, "Ana Ruiz"],
        ["Contoso", "zeta"],
    )
    assert after == (
        [("Aardvark Inc", "a1"), ("Ana Ruiz", "c2"), ("ana ruiz", "c3")],
        [None, None, "Aardvark Inc"],
        ["Aardvark Inc", "zeta"],
    )


def test_on_postgresql_each_items_record_and_link_is_read_by_its_key(
    seeded: tuple[UnitOfWorkFactory, Any], engine: Engine
) -> None:
    """The table's page and the Lists page's start by name read ``crm_records`` and ``match_links`` only in a
    per-item probe under a LIMIT (a LATERAL read), never as one side of a join: joined, with statistics, PostgreSQL
    hashed every imported record of the organization to name the list's (116,000 records read for a list of 5,000,
    30-90 ms a page, ``bench/list_table_reads.py``). SQLite reads them by primary key either way."""
    store, ids = seeded
    statements: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        with store(ids["acme"], read_only=True) as uow:
            assert len(uow.list_tables.rows(ids["list"], ListTableQuery(badge=RowBadge.MATCHED), limit=2).rows) == 2
            table_statement = statements[-1]
            uow.list_tables.previews([ids["list"]], limit=3)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    if engine.dialect.name != "postgresql":
        return
    first_items = next(found for found in statements if "first" in found[0] and "ORDER BY" in found[0])
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")
        for statement, parameters in (table_statement, first_items):
            plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
            document = json.loads(plan) if isinstance(plan, str) else plan
            nodes = _plan_nodes(document[0]["Plan"])
            # The owners' names are read per distinct owner (a user's record, else a team's): not per item.
            probes = [
                under
                for node, under in nodes
                if node.get("Relation Name") in ("crm_records", "match_links")
                and node.get("Alias") not in ("owner_user", "owner_team")
            ]
            assert probes, document
            for under in probes:
                assert under[-1] == "Limit", document
                assert "Hash" not in under, document
