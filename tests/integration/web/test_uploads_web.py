"""The console's CSV upload (administrators) on SQLite and PostgreSQL: the file is checked at once and kept, its
load runs as a job of the embedded engine (the real runner), the page shows the counts and the refused lines, the
refused lines download as CSV; files that are not CSV, too large or refused whole are refused with nothing kept;
sellers and other organizations are refused."""

from __future__ import annotations

import csv
import io
import re
import socket
import uuid
from collections.abc import Callable
from datetime import timedelta

import httpx
from tests.integration.web.conftest import ACME_ADMIN, ACME_SELLER, GLOBEX_ADMIN, Browser, Console, Person

from salesbridge.bootstrap import dynamics_session
from salesbridge.jobs.runner import EmbeddedRunner
from salesbridge.sandbox.server.serving import serve_in_thread
from salesbridge.services.people import search_people
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.uow import UnitOfWorkFactory
from salesbridge.web.app import create_app
from salesbridge.web.request_limits import UPLOAD_BODY_BYTES

OpenBrowser = Callable[[Person | None], Browser]

PEOPLE_CSV = (
    "Id,First Name,Surname,E-mail,Company,Title\n"
    "p1,Ana,Torres,ana@contoso.es,Contoso,Buyer\n"
    "p2,,,nobody@contoso.es,Contoso,\n"
    'p3,"Bob,Smith,bob@fabrikam.com,Fabrikam,CTO\n'
    'p4,Paco,Jiménez,paco@contoso.es,=HYPERLINK("http://evil"),Director\n'
    "p1,Ana,Again,ana2@contoso.es,Contoso,Buyer\n"
    "p6,Zoe,Ng,zoe@northwind.com,Northwind,CEO\n"
).encode()


def _upload(admin: Browser, content: bytes, *, name: str = "people.csv", kind: str = "people") -> httpx.Response:
    return admin.client.post(
        "/admin/uploads",
        data={"kind": kind, "csrf_token": admin.csrf},
        files={"file": (name, content, "text/csv")},
        follow_redirects=False,
    )


def _run_jobs(console: Console) -> None:
    """One round of the embedded engine's real runner (imports of connected organizations, then uploads)."""
    EmbeddedRunner(
        console.store, dynamics_session, console.store.connected_organization_ids, clock=console.clock
    ).run_once()


def test_an_uploaded_file_is_loaded_by_its_job_and_its_refused_lines_shown_and_downloaded(
    console: Console, browser: OpenBrowser
) -> None:
    admin = browser(ACME_ADMIN)

    answer = _upload(admin, PEOPLE_CSV)

    assert answer.status_code == 303
    location = answer.headers["location"]
    assert re.fullmatch(r"/admin/uploads/[0-9a-f-]{36}", location)
    waiting = admin.client.get(location)
    assert 'data-state="queued"' in waiting.text
    assert '<meta http-equiv="refresh" content="2">' in waiting.text

    _run_jobs(console)
    done = admin.client.get(location).text

    assert 'data-state="succeeded"' in done
    assert 'http-equiv="refresh"' not in done
    assert re.search(r'data-testid="count-inserted">3<', done)  # p1, p4 (formula kept as text), p6
    assert re.search(r'data-testid="count-refused">3<', done)
    problems = re.findall(r'data-testid="upload-problem">([^<]*)<', done)
    assert problems[0] == "Line 3: The line has no name: give a full name, a first name or a last name."
    assert problems[1].startswith("Line 4: ")  # the broken quote
    assert problems[2] == "Line 6: The id p1 is already on line 2; only that line is loaded."
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    names = [person.full_name for person in search_people(console.store, organization_id).items]
    assert names == ["Ana Torres", "Paco Jiménez", "Zoe Ng"]

    download = admin.client.get(location + "/problems.csv")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert download.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert rows[0] == ["Line", "Reason"]
    assert [row[0] for row in rows[1:]] == ["3", "4", "6"]

    listing = admin.client.get("/admin/uploads").text
    assert "people.csv" in listing


def test_the_page_speaks_spanish_to_a_spanish_administrator(console: Console, browser: OpenBrowser) -> None:
    admin = browser(ACME_ADMIN)
    admin.client.put("/api/v1/me/locale", json={"locale": "es"}, headers=admin.csrf_headers())
    location = _upload(admin, PEOPLE_CSV).headers["location"]
    _run_jobs(console)

    page = admin.client.get(location).text
    download = admin.client.get(location + "/problems.csv").content.decode("utf-8-sig")

    assert "Líneas rechazadas" in page
    assert "Línea 3: " in page
    assert download.startswith("Línea,Motivo")


def test_an_upload_waits_in_the_store_and_is_loaded_after_a_restart(
    console: Console, browser: OpenBrowser, cipher: CredentialCipher
) -> None:
    admin = browser(ACME_ADMIN)
    location = _upload(admin, PEOPLE_CSV, name="companies.csv", kind="companies").headers["location"]

    # A new process: a store of its own on the same database, its own runner.
    restarted = UnitOfWorkFactory(console.session_factory, cipher=cipher, clock=console.clock)
    EmbeddedRunner(restarted, dynamics_session, restarted.connected_organization_ids, clock=console.clock).run_once()

    page = admin.client.get(location).text
    assert 'data-state="succeeded"' in page
    assert re.search(r'data-testid="count-inserted">\d+<', page)


def test_a_load_whose_process_died_is_shown_failed_after_a_while_and_the_page_stops_refreshing(
    console: Console, browser: OpenBrowser
) -> None:
    admin = browser(ACME_ADMIN)
    location = _upload(admin, PEOPLE_CSV).headers["location"]
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:  # a process took it, then died (a restart, a killed worker)
        assert uow.uploads.start(uuid.UUID(location.rsplit("/", 1)[1]))
        uow.commit()

    console.clock.advance(timedelta(minutes=14))
    running = admin.client.get(location).text
    console.clock.advance(timedelta(minutes=1))
    stalled = admin.client.get(location).text

    assert 'data-state="running"' in running
    assert 'http-equiv="refresh"' in running
    assert 'data-state="failed"' in stalled
    assert 'http-equiv="refresh"' not in stalled
    assert "the process running it ended" in stalled
    assert "Failed" in admin.client.get("/admin/uploads").text


def test_files_that_are_not_csv_or_are_refused_whole_are_refused_and_nothing_is_kept(
    console: Console, browser: OpenBrowser
) -> None:
    admin = browser(ACME_ADMIN)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40

    spreadsheet = _upload(admin, b"id,name\n1,Ana\n", name="people.xlsx")
    image = _upload(admin, png, name="people.csv")
    no_id = _upload(admin, b"name,email\nAna,ana@contoso.es\n")
    empty = _upload(admin, b"")
    no_file = admin.client.post("/admin/uploads", data={"kind": "people", "csrf_token": admin.csrf})

    assert [answer.status_code for answer in (spreadsheet, image, no_id, empty, no_file)] == [422] * 5
    assert "Choose a CSV file" in spreadsheet.text
    assert "is not text in UTF-8 or Latin-1" in image.text
    assert "The file has no id column" in no_id.text
    assert "Choose the CSV file to upload." in no_file.text
    assert 'data-testid="upload-row"' not in admin.client.get("/admin/uploads").text


def test_a_body_over_the_upload_bound_is_refused_before_it_is_read(console: Console) -> None:
    with (
        serve_in_thread(create_app(console.services, secure_cookies=False)) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock,
    ):
        sock.sendall(
            f"POST /admin/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            f"Content-Length: {UPLOAD_BODY_BYTES + 1}\r\n\r\n".encode()
        )
        status = sock.recv(65536).split(b"\r\n", 1)[0]
    assert b" 413 " in status


def test_sellers_and_other_organizations_are_refused(browser: OpenBrowser) -> None:
    admin, seller, outsider = browser(ACME_ADMIN), browser(ACME_SELLER), browser(GLOBEX_ADMIN)
    location = _upload(admin, PEOPLE_CSV).headers["location"]

    assert seller.client.get("/admin/uploads").status_code == 403
    assert _upload(seller, PEOPLE_CSV).status_code == 403
    assert seller.client.get(location).status_code == 403
    assert outsider.client.get(location).status_code == 404
    assert outsider.client.get(location + "/problems.csv").status_code == 404
    assert "people.csv" not in outsider.client.get("/admin/uploads").text
