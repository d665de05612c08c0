"""One list as a table (SQLite and PostgreSQL): sorted by name, owner or type; filtered by badge and by CRM owner;
chosen rows saved to another list at once; exported to CSV with every row and formula cells neutralised; another
user's list is not found."""

from __future__ import annotations

import csv
import html
import io
import re
import uuid
from collections.abc import Callable

import pytest
from tests.integration.web.conftest import ACME_ADMIN, ACME_SELLER, GLOBEX_ADMIN, Browser, Console, Person
from tests.integration.web.test_crm_details_web import tie
from tests.integration.web.test_people_web import seed_people

from salesbridge.domain.match_links import TargetKind
from salesbridge.domain.sync_runs import RecordRow

OpenBrowser = Callable[[Person | None], Browser]

ANA, BEA = "5a000000-0000-0000-0000-00000000000a", "5a000000-0000-0000-0000-00000000000b"
ROBERT, PACO, LEAD, ACCOUNT = (f"c0000000-0000-0000-0000-00000000000{n}" for n in (1, 2, 3, 4))
FORMULA = '=HYPERLINK("http://evil.test","x")'


def _seed(console: Console) -> tuple[uuid.UUID, uuid.UUID]:
    """The seller's list "Q1" (Robert Smith's contact, owned by Bea; Paco's contact, out of date, owned by Ana; an
    unmatched lead named like a formula, owned by Ana; the Contoso account, owned by Bea) and their empty list
    "Later". Returns both lists' ids."""
    ids = seed_people(console)
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        uow.crm_records.upsert_many(
            "systemuser",
            [RecordRow(ANA, "Ana Owner", None, None, 0, {}), RecordRow(BEA, "Bea Owner", None, None, 0, {})],
            generation=1,
        )
        uow.crm_records.upsert_many("account", [RecordRow(ACCOUNT, "Contoso", BEA, None, 0, {})], generation=1)
        uow.crm_records.upsert_many(
            "contact",
            [RecordRow(ROBERT, "Robert Smith", BEA, None, 0, {}), RecordRow(PACO, "Paco Pérez", ANA, None, 0, {})],
            generation=1,
        )
        uow.crm_records.upsert_many("lead", [RecordRow(LEAD, FORMULA, ANA, None, 0, {})], generation=1)
        uow.matches.put(
            [
                tie("contact", ROBERT, TargetKind.PERSON, ids["p-robert"]),
                tie("contact", PACO, TargetKind.PERSON, ids["p-paco"], stale=True),
                tie("account", ACCOUNT, TargetKind.COMPANY, ids["contoso"]),
            ]
        )
        seller = uow.users.find_by_email(ACME_SELLER.email)
        assert seller is not None
        q1 = uow.lists.create_manual(seller.id, "Q1")
        later = uow.lists.create_manual(seller.id, "Later")
        for table, crm_id in (("contact", ROBERT), ("contact", PACO), ("lead", LEAD), ("account", ACCOUNT)):
            uow.lists.add_item(q1.id, table, crm_id)
        uow.commit()
    return q1.id, later.id


def _link(page: str, rel: str) -> str:
    """The href of the page's ``rel`` link (next, prev), unescaped."""
    found = re.search(rf'href="([^"]+)" rel="{rel}"', page)
    assert found is not None, f"no {rel} link"
    return html.unescape(found.group(1))


def _names(page: str) -> list[str]:
    return [
        chunk.split("</td>")[0].split(">")[-1]
        if "<a " not in chunk.split("</td>")[0]
        else chunk.split("</a>")[0].split(">")[-1]
        for chunk in page.split('data-testid="list-row-name">')[1:]
    ]


def _long_list(console: Console) -> tuple[uuid.UUID, uuid.UUID]:
    """:func:`_seed`'s lists, "Q1" with 120 leads more, "Extra 000" to "Extra 119" (124 rows: two pages)."""
    q1, later = _seed(console)
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    extra = [RecordRow(f"e{index:03}", f"Extra {index:03}", ANA, None, 0, {}) for index in range(120)]
    with console.store(organization_id) as uow:
        uow.crm_records.upsert_many("lead", extra, generation=1)
        for record in extra:
            uow.lists.add_item(q1, "lead", record.crm_id)
        uow.commit()
    return q1, later


def _rename(console: Console, crm_id: str, name: str) -> None:
    """A CRM import renames the lead ``crm_id``."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        uow.crm_records.upsert_many("lead", [RecordRow(crm_id, name, ANA, None, 0, {})], generation=2)
        uow.commit()


def test_a_list_sorts_and_filters_by_badge_and_owner(console: Console, browser: OpenBrowser) -> None:
    q1, _later = _seed(console)
    seller = browser(ACME_SELLER)

    by_name = seller.client.get(f"/lists/{q1}").text
    by_owner_desc = seller.client.get(f"/lists/{q1}?sort=owner&order=desc").text
    out_of_date = seller.client.get(f"/lists/{q1}?badge=out_of_date").text
    unmatched = seller.client.get(f"/lists/{q1}?badge=unmatched").text
    matched_of_bea = seller.client.get(f"/lists/{q1}?badge=matched&owner={BEA}").text

    assert _names(by_name) == [FORMULA.replace('"', "&#34;"), "Contoso", "Paco Pérez", "Robert Smith"]
    assert _names(by_owner_desc)[:2] == ["Robert Smith", "Contoso"], "Bea's first (descending), by name"
    assert _names(out_of_date) == ["Paco Pérez"]
    assert "Desactualizado" in out_of_date, "Spanish"
    assert unmatched.count('data-testid="list-table-row"') == 1
    assert _names(matched_of_bea) == ["Contoso", "Robert Smith"]


def test_chosen_rows_are_saved_to_another_list_at_once(console: Console, browser: OpenBrowser) -> None:
    q1, later = _seed(console)
    seller = browser(ACME_SELLER)

    saved = seller.client.post(
        f"/lists/{q1}/save",
        data={**seller.csrf_data(), "target_id": str(later), "rows": [f"contact:{ROBERT}", f"account:{ACCOUNT}"]},
        follow_redirects=False,
    )

    assert saved.status_code == 303
    assert saved.headers["location"] == f"/lists/{q1}?notice=saved&count=2"
    assert _names(seller.client.get(f"/lists/{later}").text) == ["Contoso", "Robert Smith"]
    refused = seller.client.post(
        f"/lists/{q1}/save", data={**seller.csrf_data(), "target_id": str(later)}, follow_redirects=False
    )
    assert refused.headers["location"] == f"/lists/{q1}?error=none-chosen"


def test_the_csv_export_has_every_row_with_formula_cells_neutralised(console: Console, browser: OpenBrowser) -> None:
    q1, _later = _seed(console)
    seller = browser(ACME_SELLER)

    response = seller.client.get(f"/lists/{q1}/export.csv?sort=name")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Nombre", "Tipo", "Propietario", "Estado", "Id. del CRM", "Añadidos"]
    assert [row[0] for row in rows[1:]] == ["'" + FORMULA, "Contoso", "Paco Pérez", "Robert Smith"]
    assert rows[3][2:4] == ["Ana Owner", "Desactualizado"]


def test_another_users_list_is_not_found(console: Console, browser: OpenBrowser) -> None:
    q1, later = _seed(console)
    admin = browser(ACME_ADMIN)

    assert admin.client.get(f"/lists/{q1}").status_code == 404
    assert admin.client.get(f"/lists/{q1}/export.csv").status_code == 404
    saved = admin.client.post(
        f"/lists/{q1}/save", data={**admin.csrf_data(), "target_id": str(later), "rows": [f"contact:{ROBERT}"]}
    )
    assert saved.status_code == 404


def test_a_long_list_pages_and_saves_every_filtered_row_on_every_page(console: Console, browser: OpenBrowser) -> None:
    q1, later = _long_list(console)
    seller = browser(ACME_SELLER)

    first = seller.client.get(f"/lists/{q1}?badge=unmatched").text
    second = seller.client.get(_link(first, "next")).text
    back = seller.client.get(_link(second, "prev")).text

    assert _names(first)[:2] == [FORMULA.replace('"', "&#34;"), "Extra 000"]
    assert first.count('data-testid="list-table-row"') == 100
    assert "Registros 1 a 100 de 121" in first
    assert _link(first, "next").startswith(f"/lists/{q1}?sort=name&order=asc&badge=unmatched&after=")
    assert 'data-testid="list-page-previous"' not in first
    assert _names(second) == [f"Extra {index:03}" for index in range(99, 120)]
    assert "Registros 101 a 121 de 121" in second
    assert 'data-testid="list-page-next"' not in second
    assert _names(back) == _names(first)
    assert 'data-testid="list-page-restarted"' not in back, "back to the start is no restart"
    exported = seller.client.get(f"/lists/{q1}/export.csv?badge=unmatched").content.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(exported)))) == 1 + 121, "the export has every page's rows"
    saved = seller.client.post(
        f"/lists/{q1}/save",
        data={**seller.csrf_data(), "target_id": str(later), "every": "on", "badge": "unmatched"},
        follow_redirects=False,
    )
    assert saved.headers["location"] == f"/lists/{q1}?notice=saved&count=121"
    assert "121 registros" in seller.client.get(f"/lists/{later}").text


def test_another_organizations_user_does_not_find_the_list(console: Console, browser: OpenBrowser) -> None:
    q1, _later = _seed(console)
    outsider = browser(GLOBEX_ADMIN)

    assert outsider.client.get(f"/lists/{q1}").status_code == 404
    assert outsider.client.get(f"/lists/{q1}?after=x").status_code == 404
    assert outsider.client.get(f"/lists/{q1}/export.csv").status_code == 404
    every = {**outsider.csrf_data(), "target_id": str(q1), "every": "on"}
    assert outsider.client.post(f"/lists/{q1}/save", data=every).status_code == 404


@pytest.mark.parametrize(
    ("renamed", "new_name"),
    [("e005", "Zz moved past the edge"), ("e110", "Aa moved before the edge")],
    ids=["from-page-1-to-page-2", "from-page-2-to-page-1"],
)
def test_a_row_renamed_between_two_pages_moves_no_other_row_across_the_edge(
    console: Console, browser: OpenBrowser, renamed: str, new_name: str
) -> None:
    """Page 1 by name, then the CRM renames one of its rows so that it sorts past the page's edge (or one of page
    2's so that it sorts before it), then page 2 by the page's link: every row that did not change is shown
    exactly once. Counted by rows, page 2 started one row later (skipping "Extra 098") or one row earlier
    (showing "Extra 097" again)."""
    q1, _later = _long_list(console)
    seller = browser(ACME_SELLER)
    unchanged = {FORMULA.replace('"', "&#34;"), "Contoso", "Paco Pérez", "Robert Smith"}
    unchanged |= {f"Extra {index:03}" for index in range(120)} - {f"Extra {renamed[1:]}"}

    first = seller.client.get(f"/lists/{q1}").text
    _rename(console, renamed, new_name)
    second = seller.client.get(_link(first, "next")).text

    shown = [name for name in _names(first) + _names(second) if name in unchanged]
    assert sorted(shown) == sorted(unchanged), "no unchanged row repeated, none skipped"
    assert _names(first)[-1] == "Extra 097"
    assert _names(second)[0] == "Extra 098", "page 2 starts right after page 1's last row"
    assert (new_name in _names(second)) is new_name.startswith("Zz"), "the renamed row is shown where it sorts now"
    back = seller.client.get(_link(second, "prev")).text
    assert _names(back)[-1] == "Extra 097", "page 2's previous page ends right before its first row"
    assert not set(_names(back)) & set(_names(second))


def test_a_cursor_that_does_not_fit_shows_the_first_page(console: Console, browser: OpenBrowser) -> None:
    """A made-up cursor, one of another sort, an old page number's link: the first page, said so; never an error."""
    q1, _later = _long_list(console)
    seller = browser(ACME_SELLER)
    by_name = seller.client.get(f"/lists/{q1}").text
    cursor = _link(by_name, "next").rsplit("after=", 1)[1]

    for query in (
        "after=not-a-cursor",
        "before=%FF%FE",
        "after=" + "A" * 9_000,
        f"sort=owner&after={cursor}",
        f"order=desc&before={cursor}",
        "after=WyJyb3ciLDEsMiwzLDQsNSw2LDcsOF0",  # the right shape, made-up values
    ):
        page = seller.client.get(f"/lists/{q1}?{query}")
        assert page.status_code == 200, query
        assert 'data-testid="list-page-restarted"' in page.text, query
        assert "Ese enlace de página ya no corresponde a la lista" in page.text, "Spanish"
        assert page.text.count('data-testid="list-table-row"') == 100, query
    assert 'data-testid="list-page-restarted"' not in by_name
    assert seller.client.get(f"/lists/{q1}?page=2").text == by_name, "an old page number: the first page"


@pytest.mark.parametrize("sort", ["type", "owner", "added"])
def test_every_sort_pages_through_every_row_once_by_its_links(
    console: Console, browser: OpenBrowser, sort: str
) -> None:
    """Sorted by type, owner (a team's, a user's, none) or date added, descending: Next page then Previous page
    walk the list as the export orders it (the cursor carries the owner's name, or the time added, as sorted)."""
    q1, _later = _long_list(console)
    seller = browser(ACME_SELLER)
    query = f"sort={sort}&order=desc"
    exported = seller.client.get(f"/lists/{q1}/export.csv?{query}").content.decode("utf-8-sig")
    every = [row[0] for row in csv.reader(io.StringIO(exported))][1:]

    first = seller.client.get(f"/lists/{q1}?{query}").text
    second = seller.client.get(_link(first, "next")).text
    back = seller.client.get(_link(second, "prev")).text

    assert len(every) == 124
    assert [html.unescape(name) for name in _names(first) + _names(second)] == [
        name.removeprefix("'") for name in every
    ]
    assert _names(back) == _names(first)
