"""Every JSON route of ``/api/v1`` fuzzed from the app's own OpenAPI document with schemathesis (issue 16, "Hostile
input"): the real app on a real store (SQLite and PostgreSQL), called as acme's administrator and as its seller
(each with an API token of their own), path and body ids sometimes pointing at rows that exist (a list, a person,
a company, an imported contact, a seat, a spare API token), so the fuzz reaches past "not found".

Every answer must be no 500, a status the document names for the operation, with the content type and the JSON
schema it documents; and neither a refused change (4xx) nor a read may commit a write to any table of the store
(seen at the driver: no half-written change). The audit log, whose rows record refusals on purpose, and a token's
"last used" stamp are left out.

Bounded and deterministic (``derandomize``, no example database): a few examples per operation (half as many for
the seller), GETs first and DELETEs last so that deleting the seeded rows comes after the operations that use them.
About 20 s of CPU for both stores (the wall time grows with the machine's load: 95 s at a load average of 13 on
2 cores); worth it: it covers 61 operations by two roles, valid and invalid bodies, which no hand-written test does.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Connection, Engine, event
from tests.integration.conftest import PostgresCluster
from tests.integration.matching_seed import COMPANIES_CSV, PEOPLE_CSV, seed_crm
from tests.integration.web.conftest import ACME_ADMIN, ACME_SELLER, BASE_URL, FakeClock, sign_in
from tests.integration.web.conftest import console as build_console

from salesbridge.domain.csv_rows import read_company_csv, read_people_csv
from salesbridge.services.lists import add_to_list, create_list
from salesbridge.services.people_load import load_companies, load_people
from salesbridge.store import create_engine_for, create_session_factory, migrate
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.web.app import create_app

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = {"sqlite": 6, "postgresql": 4}
"""Valid examples per operation and role: enough to send each route empty, long, odd and control-character values;
operations taking a body get half as many invalid ones (wrong types, missing fields, oversized lists) besides."""
UNSAFE = {"post", "put", "patch", "delete"}
ORDER = {"get": 0, "post": 1, "put": 1, "patch": 1, "delete": 2}
MAY_WRITE = {"audit_entries", "api_tokens"}
"""Tables a refused request may write on purpose: the audit of a refusal, a token's "last used" stamp."""


@dataclass
class Fuzzed:
    """The app served to schemathesis, the store under it, and ids of seeded rows."""

    app: FastAPI
    engine: Engine
    writes: CommittedWrites
    tokens: dict[str, str]
    known: dict[str, str] = field(default_factory=dict)


def _store_url(kind: str, tmp: Path, cluster: Callable[[], PostgresCluster]) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'store.db'}"
    postgres = cluster()
    name = f"fuzz_{uuid.uuid4().hex[:12]}"
    postgres.execute_autocommit(f'CREATE DATABASE "{name}"')
    return postgres.url(name)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """acme and globex (tests/integration/web/conftest.py's console) with CRM records, people, companies and a
    list, served as ``testserver`` (schemathesis's ASGI client's host)."""
    url = _store_url(
        request.param, tmp_path_factory.mktemp("fuzz"), lambda: request.getfixturevalue("postgres_cluster")
    )
    migrate(url)
    engine = create_engine_for(url)
    console = build_console.__wrapped__(  # type: ignore[attr-defined]
        create_session_factory(engine), CredentialCipher(generate_key()), FakeClock()
    )
    app = create_app(console.services, public_base_url=BASE_URL, allowed_hosts=["testserver"])
    store = console.store
    organization_id = store.organization_id("acme")
    assert organization_id is not None
    seed_crm(store, organization_id)
    load_people(store, "acme", read_people_csv(PEOPLE_CSV), actor=ACME_ADMIN.email)
    load_companies(store, "acme", read_company_csv(COMPANIES_CSV), actor=ACME_ADMIN.email)
    tokens: dict[str, str] = {}
    known: dict[str, str] = {}
    with TestClient(app, base_url=BASE_URL) as client:
        for person in (ACME_ADMIN, ACME_SELLER, ACME_ADMIN):
            client.cookies.clear()
            csrf = sign_in(client, person)
            created = client.post("/api/v1/me/tokens", json={"name": "fuzz"}, headers={"X-CSRF-Token": csrf})
            assert created.status_code == 201, created.text
            if person.email in tokens:  # the administrator's second token: one the fuzz may revoke
                known["token_id"] = created.json()["api_token"]["id"]
            else:
                tokens[person.email] = created.json()["token"]
        bearer = {"Authorization": f"Bearer {tokens[ACME_ADMIN.email]}"}
        person_id = client.get("/api/v1/orgs/acme/people/by-external-id/p1", headers=bearer).json()["id"]
        company_id = client.get("/api/v1/orgs/acme/companies/by-external-id/k1", headers=bearer).json()["id"]
        seat_id = next(
            seat["id"]
            for seat in client.get("/api/v1/orgs/acme/seats", headers=bearer).json()["seats"]
            if seat["email"] == ACME_SELLER.email
        )
    listed = create_list(store, "acme", ACME_SELLER.email, name="Fuzzed", actor=ACME_SELLER.email)
    add_to_list(store, "acme", ACME_SELLER.email, listed.id, table="contact", crm_id="c-bob", actor=ACME_SELLER.email)
    known |= {
        "person_id": person_id,
        "company_id": company_id,
        "seat_id": seat_id,
        "list_id": str(listed.id),
        "external_id": "p1",
        "table": "contact",
        "crm_id": "c-bob",
    }
    yield Fuzzed(app, engine, CommittedWrites(engine), tokens, known)
    engine.dispose()


class CommittedWrites:
    """The tables each committed transaction on ``engine`` wrote (INSERT, UPDATE, DELETE), seen at the driver: a
    rolled-back transaction's writes are forgotten."""

    WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE)

    def __init__(self, engine: Engine) -> None:
        self.tables: list[str] = []
        self._pending: dict[int, list[str]] = {}
        event.listen(engine, "before_cursor_execute", self._executed)
        event.listen(engine, "commit", self._committed)
        event.listen(engine, "rollback", self._rolled_back)

    def _executed(self, connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        written = self.WRITE.match(statement)
        if written:
            self._pending.setdefault(id(connection), []).append(written.group(1).lower())

    def _committed(self, connection: Connection) -> None:
        self.tables.extend(self._pending.pop(id(connection), []))

    def _rolled_back(self, connection: Connection) -> None:
        self._pending.pop(id(connection), None)

    def take(self) -> set[str]:
        """The tables written since the last call, but :data:`MAY_WRITE`."""
        taken, self.tables = set(self.tables) - MAY_WRITE, []
        return taken


def _with_known_ids(case: Any, known: dict[str, str]) -> None:
    """Point the case's path parameters and top-level body fields named like a seeded row's id at that row."""
    for name in list(case.path_parameters or {}):
        if name in known:
            case.path_parameters[name] = known[name]
    if isinstance(case.body, dict):
        for name in list(case.body):
            if name in known:
                case.body[name] = known[name]


def _fuzz(
    fuzzed: Fuzzed, operation: Any, mode: GenerationMode, examples: int, auth: dict[str, str], problems: list[str]
) -> None:
    """Call ``operation`` with ``examples`` cases generated in ``mode``; add every failed check to ``problems``."""
    label = f"{operation.method.upper()} {operation.path}"
    unsafe = operation.method in UNSAFE
    fixed = {"org": "acme"} if "{org}" in operation.path else None

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode, path_parameters=fixed, headers=auth), known=st.booleans())
    def call(case: Any, known: bool) -> None:
        if known:
            _with_known_ids(case, fuzzed.known)
        fuzzed.writes.take()
        response = case.call()
        written = fuzzed.writes.take()
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as failed:  # noqa: BLE001 - every failure is collected, then reported together
            problems.append(f"{label} → {response.status_code}: {str(failed)[:2000]}")
            return
        if written and (response.status_code >= 400 or not unsafe):
            problems.append(
                f"{label} → {response.status_code} yet wrote {sorted(written)}: {case.as_curl_command()[:2000]}"
            )

    call()


def test_every_api_operation_answers_within_its_schema_and_refusals_change_nothing(
    fuzzed: Fuzzed, request: pytest.FixtureRequest
) -> None:
    examples = EXAMPLES[request.node.callspec.params["fuzzed"]]
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzzed.app)
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()), key=lambda operation: ORDER[operation.method]
    )
    assert len(operations) > 50, "the document lists the API"
    problems: list[str] = []

    # The seller first (fewer examples: most of what it is refused is refused before any value is read), so that
    # the administrator's DELETEs come last.
    for person, share in ((ACME_SELLER, 2), (ACME_ADMIN, 1)):
        auth = {"Authorization": f"Bearer {fuzzed.tokens[person.email]}"}
        for operation in operations:
            _fuzz(fuzzed, operation, GenerationMode.POSITIVE, examples // share, auth, problems)
            if "requestBody" in operation.definition.raw:
                _fuzz(fuzzed, operation, GenerationMode.NEGATIVE, examples // (2 * share), auth, problems)

    assert not problems, "\n\n".join(problems[:20])


def test_a_body_over_the_bound_gets_the_413_its_operation_documents(fuzzed: Fuzzed) -> None:
    """Found by the fuzz: 1,200 crm_user_ids (over the 64 KiB bound) got a 413 the document did not name."""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzzed.app)
    operation = schema["/api/v1/orgs/{org}/seats/assign-from-crm"]["POST"]
    case = operation.Case(
        path_parameters={"org": "acme"},
        headers={"Authorization": f"Bearer {fuzzed.tokens[ACME_ADMIN.email]}"},
        body={"crm_user_ids": [str(uuid.uuid4()) for _ in range(2000)]},
        media_type="application/json",
    )

    response = case.call()

    assert response.status_code == 413
    case.validate_response(response, checks=CHECKS)
    document = fuzzed.app.openapi()
    for item in document["paths"].values():
        for operation_document in item.values():
            if "requestBody" in operation_document:
                assert "413" in operation_document["responses"]
