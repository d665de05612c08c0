"""Sign-in throttling, the cap on concurrent password hashing, and the password rule, through the real console
on SQLite and PostgreSQL, with the injected clock moving the throttling windows."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from tests.integration.web.conftest import (
    ACME_ADMIN,
    ACME_GUEST,
    ACME_SELLER,
    BASE_URL,
    PASSWORD,
    Browser,
    Console,
    Person,
    csrf_of,
    fast_hasher,
    invite,
)

from salesbridge.bootstrap import dynamics_session
from salesbridge.crm.dynamics.endpoints import DynamicsTargets
from salesbridge.errors import InvalidInputError
from salesbridge.sandbox.server.serving import serve_in_thread
from salesbridge.services.accounts import AccountService
from salesbridge.services.crm_settings import CrmSettingsService
from salesbridge.services.seats import SeatService
from salesbridge.services.sign_in_guard import MAX_CONCURRENT_HASHING, MAX_WAITING_FOR_HASHING, PasswordHashingGate
from salesbridge.store.database import create_engine_for, create_session_factory
from salesbridge.store.secrets import CredentialCipher
from salesbridge.store.tables import SignInFailure
from salesbridge.store.uow import UnitOfWorkFactory
from salesbridge.web.app import ConsoleServices, create_app

OFFICE = "198.51.100.7"
ELSEWHERE = "203.0.113.9"
THROTTLED_EN = "Too many failed sign-ins. Try again in 15 min (after 09:15 UTC)."

Clients = Callable[..., TestClient]


@pytest.fixture
def client_at(console: Console) -> Iterator[Clients]:
    """Opens anonymous clients of the console, each from the address given (``client_at(address, app=…)``)."""
    opened: list[TestClient] = []

    def open_client(address: str = OFFICE, *, app: object = None) -> TestClient:
        client = TestClient(app or console.app, base_url=BASE_URL, client=(address, 50000))  # type: ignore[arg-type]
        client.__enter__()
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.__exit__(None, None, None)


def _attempt(client: TestClient, person: Person, password: str, *, workspace: str | None = None) -> int:
    form = client.get("/sign-in")
    data = {
        "workspace": workspace or person.org,
        "email": person.email,
        "password": password,
        "csrf_token": csrf_of(form.text),
    }
    return client.post("/sign-in", data=data, follow_redirects=False).status_code


def test_wrong_passwords_lock_the_account_even_for_the_right_one_until_the_window_passes(
    console: Console, client_at: Clients
) -> None:
    client = client_at()
    assert [_attempt(client, ACME_ADMIN, f"guess number {n}!") for n in range(5)] == [400] * 5

    form = client.get("/sign-in")
    data = {**_form(ACME_ADMIN, PASSWORD), "csrf_token": csrf_of(form.text)}
    refused = client.post("/sign-in", data=data, follow_redirects=False)

    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "900"
    assert THROTTLED_EN in refused.text
    assert "session" not in "".join(client.cookies.keys())
    # Another address changes nothing: the account itself is locked.
    assert _attempt(client_at(ELSEWHERE), ACME_ADMIN, PASSWORD) == 429
    console.clock.advance(timedelta(minutes=14, seconds=59))
    assert _attempt(client, ACME_ADMIN, PASSWORD) == 429
    console.clock.advance(timedelta(seconds=1))
    assert _attempt(client, ACME_ADMIN, PASSWORD) == 303


def test_the_throttle_message_is_translated(console: Console, client_at: Clients) -> None:
    client = client_at()
    for n in range(5):
        _attempt(client, ACME_SELLER, f"guess number {n}!")
    form = client.get("/sign-in?lang=es")
    data = {**_form(ACME_SELLER, PASSWORD), "csrf_token": csrf_of(form.text), "lang": "es"}

    refused = client.post("/sign-in", data=data, follow_redirects=False)

    assert refused.status_code == 429
    assert "Demasiados intentos fallidos de inicio de sesión. Vuelve a intentarlo dentro de 15 min" in refused.text
    assert '<html lang="es">' in refused.text


@pytest.mark.parametrize(
    ("workspace", "email"),
    [("acme", "nobody@acme.test"), ("nowhere", ACME_ADMIN.email)],
    ids=["unknown-email", "unknown-workspace"],
)
def test_unknown_accounts_are_throttled_like_real_ones(
    console: Console, client_at: Clients, workspace: str, email: str
) -> None:
    client = client_at()
    person = Person(workspace, email)

    answers = [_attempt(client, person, f"guess number {n}!") for n in range(6)]

    assert answers == [400] * 5 + [429]


def test_a_correct_sign_in_clears_the_accounts_failures(console: Console, client_at: Clients) -> None:
    client = client_at()
    assert [_attempt(client, ACME_ADMIN, f"typo number {n}!") for n in range(4)] == [400] * 4
    assert _attempt(client, ACME_ADMIN, PASSWORD) == 303

    assert [_attempt(client_at(), ACME_ADMIN, f"typo again {n}!") for n in range(5)] == [400] * 5
    assert _attempt(client_at(), ACME_ADMIN, PASSWORD) == 429


def test_an_address_is_slowed_only_by_its_own_failures_never_by_an_office_signing_in(
    console: Console, client_at: Clients
) -> None:
    people = [ACME_ADMIN, ACME_SELLER, ACME_GUEST]
    # A whole office behind one address signs in all morning, with a few typos among the successes.
    office = [_attempt(client_at(OFFICE), people[n % 3], PASSWORD) for n in range(90)]
    typos = [_attempt(client_at(OFFICE), people[n % 3], "fat fingers again") for n in range(9)]
    assert set(office) == {303}
    assert set(typos) == {400}

    # Then someone there sprays one password over many accounts: the address fails 50 times in the window …
    spray = [_attempt(client_at(OFFICE), Person("acme", f"user{n}@acme.test"), "Spring2026!") for n in range(41)]
    assert set(spray) == {400}

    # … and only now is everyone at that address asked to wait; other addresses are not.
    assert _attempt(client_at(OFFICE), ACME_GUEST, PASSWORD) == 429
    assert _attempt(client_at(ELSEWHERE), ACME_GUEST, PASSWORD) == 303
    console.clock.advance(timedelta(minutes=15))
    assert _attempt(client_at(OFFICE), ACME_GUEST, PASSWORD) == 303


def test_failures_are_shared_by_every_console_process_on_the_store(
    console: Console, client_at: Clients, migrated_url: str, cipher: CredentialCipher
) -> None:
    # A second console process: its own engine, store and services on the same database.
    engine = create_engine_for(migrated_url)
    try:
        store = UnitOfWorkFactory(create_session_factory(engine), cipher=cipher, clock=console.clock)
        other_process = _app(store, AccountService(store, clock=console.clock, hasher=fast_hasher()), console)
        for n in range(5):
            assert _attempt(client_at(), ACME_ADMIN, f"guess number {n}!") == 400

        assert _attempt(client_at(app=other_process), ACME_ADMIN, PASSWORD) == 429
    finally:
        engine.dispose()


def test_the_failure_that_locks_an_account_is_audited_once(console: Console, client_at: Clients) -> None:
    for n in range(5):
        assert _attempt(client_at(), ACME_ADMIN, f"guess number {n}!") == 400
    assert _attempt(client_at(), ACME_ADMIN, PASSWORD) == 429

    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id, read_only=True) as uow:
        locked = uow.audit.recent(action="user.sign_in_locked")
    assert [entry.actor for entry in locked] == ["sign-in"]
    assert locked[0].details["locked_until"] == (console.clock() + timedelta(minutes=15)).isoformat()
    admin = client_at(ELSEWHERE)
    console.clock.advance(timedelta(minutes=15))
    assert _attempt(admin, ACME_ADMIN, PASSWORD) == 303
    assert "Sign-in locked after repeated failures" in admin.get("/admin/audit").text


def test_parallel_guessers_of_one_account_get_exactly_the_limit(console: Console, client_at: Clients) -> None:
    clients = [client_at(f"192.0.2.{n}") for n in range(20)]
    forms = [csrf_of(client.get("/sign-in").text) for client in clients]

    def guess(n: int) -> int:
        data = {**_form(ACME_ADMIN, f"parallel guess {n}!"), "csrf_token": forms[n]}
        return clients[n].post("/sign-in", data=data, follow_redirects=False).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = sorted(pool.map(guess, range(20)))

    assert answers == [400] * 5 + [429] * 15
    with console.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(SignInFailure)) == 5 + 5  # account + addresses


class _BlockingHasher(PasswordHasher):
    """Real argon2 whose first verification waits until the test lets it go: a slow hash, held open."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.entered = threading.Event()
        self.release = threading.Event()
        self._first = True

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        if self._first:
            self._first = False
            self.entered.set()
            self.release.wait()
        return super().verify(hash, password)


def test_password_hashing_is_capped_and_the_excess_is_told_to_try_again(console: Console, client_at: Clients) -> None:
    hasher = _BlockingHasher()
    accounts = AccountService(
        console.store, clock=console.clock, hasher=hasher, hashing=PasswordHashingGate(1, wait_s=0.01)
    )
    app = _app(console.store, accounts, console)
    first, second = client_at(app=app), client_at(ELSEWHERE, app=app)
    form = {**_form(ACME_ADMIN, PASSWORD), "csrf_token": csrf_of(first.get("/sign-in").text)}
    other = {**_form(ACME_SELLER, PASSWORD), "csrf_token": csrf_of(second.get("/sign-in").text)}
    with ThreadPoolExecutor(max_workers=1) as pool:
        holding = pool.submit(first.post, "/sign-in", data=form, follow_redirects=False)
        assert hasher.entered.wait(timeout=30)

        busy = second.post("/sign-in", data=other, follow_redirects=False)

        hasher.release.set()
        assert holding.result(timeout=30).status_code == 303
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert "Too many people are signing in right now. Try again in a few seconds." in busy.text
    # The refused attempt was not counted (and the admin's success cleared its own).
    with console.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(SignInFailure)) == 0
    assert _attempt(second, ACME_SELLER, PASSWORD) == 303


def test_beyond_the_waiting_limit_sign_ins_are_refused_at_once_holding_no_thread(
    console: Console, client_at: Clients
) -> None:
    hasher = _BlockingHasher()
    gate = PasswordHashingGate(1, wait_s=3600, max_waiting=1)
    app = _app(console.store, AccountService(console.store, clock=console.clock, hasher=hasher, hashing=gate), console)
    people = [(ACME_ADMIN, OFFICE), (ACME_SELLER, ELSEWHERE), (ACME_GUEST, "192.0.2.50")]
    clients = [client_at(address, app=app) for _person, address in people]
    forms = [
        {**_form(person, PASSWORD), "csrf_token": csrf_of(client.get("/sign-in").text)}
        for (person, _address), client in zip(people, clients, strict=True)
    ]

    def post(n: int) -> int:
        return clients[n].post("/sign-in", data=forms[n], follow_redirects=False).status_code

    with ThreadPoolExecutor(max_workers=3) as pool:
        try:
            holding = pool.submit(post, 0)
            assert hasher.entered.wait(timeout=30)
            waiting = pool.submit(post, 1)
            for _ in range(3000):
                if gate.waiting:
                    break
                time.sleep(0.01)
            assert gate.waiting == 1

            # The slot is taken and one caller waits for it: the next is answered at once, not queued.
            refused = pool.submit(post, 2).result(timeout=30)
        finally:
            hasher.release.set()
        assert (holding.result(timeout=30), waiting.result(timeout=30)) == (303, 303)
    assert refused == 503


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("aaaaaaaaaaaa", 'it repeats characters or words (like "aaaa" or "abcabc")'),
        ("password1234", "it is one of the passwords people use most"),
        ("asdfghjkl;lkj", 'it follows the keyboard (like "qwerty")'),
        ("abcdefghijklmn", 'it is a sequence (like "abcd" or "9876")'),
        ("newbie123456", "it contains your name, email or workspace"),
    ],
)
def test_common_and_trivial_passwords_are_refused(console: Console, password: str, why: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        console.accounts.create_user(
            "acme",
            email="newbie@acme.test",
            display_name="New Bie",
            password=SecretStr(password),
            is_admin=False,
            with_seat=False,
            actor="test",
        )

    assert caught.value.field == "password"
    assert str(caught.value).startswith(f"This password is too easy to guess: {why}")
    assert caught.value.localized("es").startswith("Esta contraseña es demasiado fácil de adivinar")


def test_an_invitation_refuses_a_trivial_password_in_the_users_language(
    console: Console, browser: Callable[[Person | None], Browser]
) -> None:
    token = invite(console, "ines@acme.test")
    client = browser(None).client
    form = client.get(f"/invitations/{token}?lang=es")
    weak = "aaaaaaaaaaaa"
    data = {"csrf_token": csrf_of(form.text), "display_name": "Inés", "password": weak, "password_confirmation": weak}

    refused = client.post(f"/invitations/{token}?lang=es", data=data, follow_redirects=False)

    assert refused.status_code == 400
    assert "Esta contraseña es demasiado fácil de adivinar" in refused.text
    good = "tulip harbour violin seventeen"
    data |= {"password": good, "password_confirmation": good}
    assert client.post(f"/invitations/{token}", data=data, follow_redirects=False).status_code == 303


def _app(store: UnitOfWorkFactory, accounts: AccountService, console: Console) -> FastAPI:
    """A console app on ``store`` with these account use cases."""
    services = ConsoleServices(
        accounts=accounts,
        store=store,
        clock=console.clock,
        seats=SeatService(store, clock=console.clock),
        crm_sessions=dynamics_session,
        crm_settings=CrmSettingsService(store, dynamics_session),
        crm_targets=DynamicsTargets(),
    )
    return create_app(services, public_base_url=BASE_URL)


def _form(person: Person, password: str) -> dict[str, str]:
    return {"workspace": person.org, "email": person.email, "password": password}


OFFICE_BURST = 2 * MAX_CONCURRENT_HASHING + MAX_WAITING_FOR_HASHING
"""People of one office signing in at the same moment, against the production password hashing: a whole round of
checks more than the hashing gate's slots and waiting places together, which the gate alone would refuse at once."""


class _ProductionHasherHashingOnce(PasswordHasher):
    """argon2 at its production cost, hashing each password once: the office's accounts share one password, and
    setting them up is not what is measured (a production hash per account took about half of the test's time).
    Every sign-in still verifies a production-cost hash."""

    def __init__(self) -> None:
        super().__init__()
        self._hashes: dict[str | bytes, str] = {}

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        if salt is not None:
            return super().hash(password, salt=salt)
        if password not in self._hashes:
            self._hashes[password] = super().hash(password)
        return self._hashes[password]


def test_an_office_signing_in_at_once_is_queued_not_refused(console: Console) -> None:
    """An office (:data:`OFFICE_BURST` people) presses "Sign in" at the same moment, with argon2 at its production
    cost: password checks wait their turn on the event loop instead of being refused once the service's few waiting
    places are taken."""
    accounts = AccountService(console.store, clock=console.clock, hasher=_ProductionHasherHashingOnce())
    people = [f"office{index}@acme.test" for index in range(OFFICE_BURST)]
    for email in people:
        accounts.create_user(
            "acme",
            email=email,
            display_name=email,
            password=SecretStr(PASSWORD),
            is_admin=False,
            with_seat=False,
            actor="test",
        )
    services = ConsoleServices(
        accounts=accounts,
        store=console.store,
        clock=console.clock,
        seats=SeatService(console.store, clock=console.clock),
        crm_sessions=dynamics_session,
        crm_settings=CrmSettingsService(console.store, dynamics_session),
        crm_targets=DynamicsTargets(),
    )
    together = threading.Barrier(OFFICE_BURST)
    answers: list[int] = []
    failures: list[BaseException] = []

    def sign_in(email: str) -> None:
        try:
            with httpx.Client(base_url=server.base_url, timeout=120) as http:
                form = {**_form(Person("acme", email), PASSWORD), "csrf_token": csrf_of(http.get("/sign-in").text)}
                together.wait(60)
                answers.append(http.post("/sign-in", data=form, follow_redirects=False).status_code)
        except (httpx.HTTPError, threading.BrokenBarrierError) as error:
            failures.append(error)

    with serve_in_thread(create_app(services, secure_cookies=False)) as server:
        threads = [threading.Thread(target=sign_in, args=(email,), daemon=True) for email in people]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)

    assert failures == []
    assert sorted(answers) == [303] * OFFICE_BURST
