"""Many requests at once on the real console (uvicorn over HTTPS, in a thread) while an import runs against the
sandbox, on SQLite and PostgreSQL: 16 people signing in at once and bearer-token calls from 32 threads (200 at
least), with zero errors. On SQLite a transaction that began with a plain ``BEGIN``, read, and then wrote after another
connection had committed failed at once with "database is locked" (issue 10, item 1)."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.exc import SQLAlchemyError
from tests.integration.services.conftest import SANDBOX_TARGETS, RunningSandbox, _serve
from tests.integration.web.conftest import ACME_ADMIN, PASSWORD, Console, csrf_of

from salesbridge.bootstrap import dynamics_session
from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.seeds.seeding import parse_seed
from salesbridge.sandbox.server.serving import serve_in_thread
from salesbridge.sandbox.server.tls import create_tls_material
from salesbridge.services.connecting import connect_crm
from salesbridge.services.import_run import run_pending_import
from salesbridge.services.sync import RunOutcome

SIGN_IN_THREADS = 16
BEARER_THREADS = 32
BEARER_CALLS = 200
MAX_CALLS_PER_THREAD = 40
"""Threads keep calling while the import runs, up to this many calls each (the test's running time stays bounded)."""


@pytest.fixture(scope="module")
def scale_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """A sandbox with 1,000 contacts (and their accounts, leads and opportunities): an import of about fifty pages
    of 25 rows, which commits pages all through the requests (they keep coming until it ends) without making the
    test wait for thousands more rows."""
    yield from _serve(build_sandbox(seed=parse_seed("scale:1000")), tmp_path_factory.mktemp("tls"))


class Tally:
    """Responses and errors, from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sign_ins = 0
        self.bearer_calls = 0
        self.errors: list[str] = []

    def sign_in(self, response: httpx.Response) -> None:
        """Count a sign-in answer; anything but the redirect to the console is an error."""
        with self._lock:
            self.sign_ins += 1
            if response.status_code != 303:
                self.errors.append(f"sign-in {response.status_code}: {response.text[:200]}")

    def bearer_call(self, response: httpx.Response) -> None:
        """Count an API answer; anything but 200 is an error."""
        with self._lock:
            self.bearer_calls += 1
            if response.status_code != 200:
                self.errors.append(f"{response.request.url.path} {response.status_code}: {response.text[:200]}")

    def failure(self, error: BaseException) -> None:
        """Record a request that did not get an answer."""
        with self._lock:
            self.errors.append(repr(error))


def test_sign_ins_and_bearer_calls_at_once_during_an_import_all_succeed(
    console: Console, scale_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    store = console.store
    organization_id = store.organization_id("acme")
    assert organization_id is not None
    connected = asyncio.run(
        connect_crm(
            store,
            dynamics_session,
            slug="acme",
            credentials=scale_sandbox.credentials(),
            targets=SANDBOX_TARGETS,
            actor=ACME_ADMIN.email,
        )
    )
    assert connected.is_connected
    people = [f"person{index}@acme.test" for index in range(SIGN_IN_THREADS)]
    for email in people:
        console.accounts.create_user(
            "acme",
            email=email,
            display_name=email,
            password=SecretStr(PASSWORD),
            is_admin=False,
            with_seat=False,
            actor="test",
        )
    _view, token = console.accounts.create_api_token(console.accounts.principal_of("acme", ACME_ADMIN.email), "load")
    bearer = {"Authorization": f"Bearer {token.get_secret_value()}"}

    first_page = threading.Event()
    requests_started = threading.Event()
    import_done = threading.Event()
    outcomes: list[RunOutcome | SQLAlchemyError | None] = []

    def hold_after_the_first_page(_table: str, _rows: int) -> None:
        # The requests start while the import is under way (and it then keeps committing pages among them).
        if not first_page.is_set():
            first_page.set()
            requests_started.wait(60)

    def run_import() -> None:
        try:
            outcomes.append(
                asyncio.run(
                    run_pending_import(
                        store,
                        dynamics_session,
                        organization_id,
                        clock=console.clock,
                        progress=hold_after_the_first_page,
                        page_size=25,
                    )
                )
            )
        except SQLAlchemyError as error:  # reported by the assertion below (anything else fails the thread)
            outcomes.append(error)
        finally:
            import_done.set()

    material = create_tls_material(tmp_path / "console-tls")
    tally = Tally()
    start_together = threading.Barrier(SIGN_IN_THREADS + BEARER_THREADS)

    with serve_in_thread(console.app, tls=material) as server:
        verify = ssl.create_default_context(cafile=str(material.ca_bundle))

        def client(**options: object) -> httpx.Client:
            return httpx.Client(base_url=server.base_url, verify=verify, timeout=60, **options)  # type: ignore[arg-type]

        def sign_in_once(http: httpx.Client, email: str, *, together: bool) -> None:
            form = http.get("/sign-in")
            data = {
                "workspace": "acme",
                "email": email,
                "password": PASSWORD,
                "csrf_token": csrf_of(form.text),
            }
            if together:
                start_together.wait(60)
                requests_started.set()
            tally.sign_in(http.post("/sign-in", data=data, follow_redirects=False))

        def sign_ins(email: str) -> None:
            try:
                with client() as http:
                    sign_in_once(http, email, together=True)
                while not import_done.is_set() and tally.sign_ins < SIGN_IN_THREADS * MAX_CALLS_PER_THREAD // 4:
                    with client() as http:
                        sign_in_once(http, email, together=False)
            except (httpx.HTTPError, AssertionError) as error:
                tally.failure(error)

        def bearer_calls(index: int) -> None:
            try:
                with client(headers=bearer) as http:
                    start_together.wait(60)
                    for call in range(MAX_CALLS_PER_THREAD):
                        if call * BEARER_THREADS >= BEARER_CALLS and import_done.is_set():
                            break
                        path = "/api/v1/me" if (index + call) % 2 else "/api/v1/orgs/acme/crm/sync"
                        tally.bearer_call(http.get(path))
            except (httpx.HTTPError, AssertionError) as error:
                tally.failure(error)

        importer = threading.Thread(target=run_import, daemon=True)
        importer.start()
        assert first_page.wait(60), "the import stored its first page"
        threads = [threading.Thread(target=sign_ins, args=(email,), daemon=True) for email in people]
        threads += [
            threading.Thread(target=bearer_calls, args=(index,), daemon=True) for index in range(BEARER_THREADS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        importer.join(120)

    assert tally.errors == []
    assert tally.sign_ins >= SIGN_IN_THREADS
    assert tally.bearer_calls >= BEARER_CALLS
    assert len(outcomes) == 1
    outcome = outcomes[0]
    assert isinstance(outcome, RunOutcome), outcome
    assert outcome.succeeded, outcome.error
