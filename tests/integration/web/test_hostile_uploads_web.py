"""Hostile CSV uploads through the console, loaded by the real job runner, on SQLite and PostgreSQL (issue 16,
"Hostile input"): NUL bytes and other control characters inside cells (PostgreSQL keeps no NUL in text), a UTF-8
byte order mark, Latin-1, broken quoting, a cell over the limit and formula cells. Every good line is loaded and
each bad one is named by its line; a UTF-16 file is refused whole with a sentence saying how to save it."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.integration.web.conftest import ACME_ADMIN, Browser, Console, Person
from tests.integration.web.test_uploads_web import _run_jobs, _upload

from salesbridge.domain.csv_rows import MAX_CELL_CHARS
from salesbridge.services.people import search_people

OpenBrowser = Callable[[Person | None], Browser]

HOSTILE_PEOPLE = b"".join(
    [
        "\ufeffid,first_name,last_name,email,job_title,company_name\n".encode(),
        b"h1,Ana,Torres,ana@contoso.es,Buyer,Contoso\n",
        b"h2,Nul,Byte,nul@contoso.es,Head\x00of Sales,Contoso\n",  # a NUL in a job title
        b"h3,Bel\x07l,Ring,bell@contoso.es,CTO,Contoso\n",  # a control character in a name
        b'h4,"Broken,Quote,broken@contoso.es,CEO,Contoso\n',
        b"h5,Huge,Cell,huge@contoso.es," + b"x" * (MAX_CELL_CHARS + 1) + b",Contoso\n",
        "h6,Fórmula,Cell,formula@contoso.es,\"=cmd|' /C calc'!A0\",Contoso\n".encode(),
        b"h7,Zoe,Ng,zoe@northwind.com,\x1b[31mRed,Northwind\n",
        b"h8,Last,Good,last@contoso.es,Buyer,Contoso\n",
    ]
)


def test_a_hostile_file_loads_every_good_line_and_names_each_bad_one(console: Console, browser: OpenBrowser) -> None:
    admin = browser(ACME_ADMIN)

    answer = _upload(admin, HOSTILE_PEOPLE)
    assert answer.status_code == 303, answer.text
    _run_jobs(console)
    done = admin.client.get(answer.headers["location"]).text

    assert 'data-state="succeeded"' in done, done
    problems = re.findall(r'data-testid="upload-problem">([^<]*)<', done)
    refused_lines = sorted(int(problem.split(":")[0].removeprefix("Line ")) for problem in problems)
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id, read_only=True) as uow:
        loaded = {
            external_id for external_id in (f"h{n}" for n in range(1, 9)) if uow.people.get_by_external_id(external_id)
        }
    # Line numbers count the header as line 1: h2 is on line 3.
    assert {f"h{line - 1}" for line in refused_lines} == {"h2", "h3", "h4", "h5", "h7"}, problems
    assert loaded == {"h1", "h6", "h8"}, "every good line is loaded (a formula is kept as text)"
    assert "NUL" in problems[0]
    assert "control characters" in problems[1]
    names = {person.full_name for person in search_people(console.store, organization_id).items}
    assert "Fórmula Cell" in names


def test_a_utf16_file_is_refused_whole_saying_how_to_save_it(console: Console, browser: OpenBrowser) -> None:
    admin = browser(ACME_ADMIN)
    text = "id,first_name,last_name\nu1,Ana,Torres\n"

    for content in (text.encode("utf-16"), text.encode("utf-16-le"), text.encode("utf-32")):
        refused = _upload(admin, content)
        assert refused.status_code == 422
        assert "Save it as CSV UTF-8" in refused.text
    assert 'data-testid="upload-row"' not in admin.client.get("/admin/uploads").text
