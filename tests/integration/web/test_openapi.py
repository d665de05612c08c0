"""The API's OpenAPI document, from the real app: every operation documents a named schema for its success, the
shared error bodies for the errors it can give, and the JSON the routes really answer (successes and errors,
on SQLite and PostgreSQL) is exactly what the document names for that status."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr, ValidationError
from tests.integration.web.conftest import ACME_ADMIN, ACME_GUEST, ACME_SELLER, Browser, Console, Person

from salesbridge.services.crm_users import rematch_seats
from salesbridge.services.preflight import OutcomeKind
from salesbridge.store.workspace import CrmUserValues
from salesbridge.web.api import (
    account,
    activities,
    crm,
    jobs,
    lists,
    matching,
    organization,
    people,
    schemas,
    seats,
    sync,
    writeback,
)

OpenBrowser = Callable[[Person | None], Browser]
API_PREFIX = "/api/v1/"
UNSAFE = {"post", "put", "patch", "delete"}
ERROR_BODIES = {"ErrorOut", "SeatLimitErrorOut", "CrmErrorOut", "UnprocessableOut"}


def _models() -> dict[str, type[BaseModel]]:
    """The API's pydantic models by class name (OpenAPI names its components after them)."""
    found: dict[str, type[BaseModel]] = {}
    for module in (
        account,
        activities,
        crm,
        jobs,
        lists,
        matching,
        organization,
        people,
        schemas,
        seats,
        sync,
        writeback,
    ):
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__:
                found[name] = value
    return found


MODELS = _models()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path.startswith(API_PREFIX):
                yield path, method, operation


def _refs(schema: dict[str, Any]) -> list[str]:
    """The component names a response schema stands for: a ``$ref``, an array of one, or ``anyOf`` them. A
    schema that is none of these (``{}``, an inline object, an array of dicts) names nothing."""
    if "$ref" in schema:
        return [schema["$ref"].removeprefix("#/components/schemas/")]
    if schema.get("type") == "array":
        return _refs(schema.get("items", {}))
    if "anyOf" in schema:
        names = [name for option in schema["anyOf"] for name in _refs(option)]
        return names if len(names) == len(schema["anyOf"]) else []
    return []


def _json_schema(response: dict[str, Any]) -> dict[str, Any]:
    return dict(response.get("content", {}).get("application/json", {}).get("schema", {}))


@pytest.fixture
def document(browser: OpenBrowser) -> dict[str, Any]:
    """The OpenAPI document the app serves."""
    answer = browser(None).client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def test_every_success_response_names_its_schema(document: dict[str, Any]) -> None:
    operations = list(_operations(document))
    assert len(operations) >= 25, "every API route is in the document"
    for path, method, operation in operations:
        successes = {code: response for code, response in operation["responses"].items() if code.startswith("2")}
        if set(successes) == {"200", "201"}:  # an idempotent create: 201 stored now, 200 stored before; one body
            assert _refs(_json_schema(successes["200"])) == _refs(_json_schema(successes["201"])), (method, path)
            del successes["200"]
        assert len(successes) == 1, (method, path, successes)
        ((code, response),) = successes.items()
        if code == "204":
            assert "content" not in response, (method, path)
            continue
        if set(response.get("content", {})) == {"text/csv"}:  # a file: documented as text, nothing else
            assert response["content"]["text/csv"]["schema"] == {"type": "string"}, (method, path)
            continue
        names = _refs(_json_schema(response))
        assert names, f"{method.upper()} {path} answers {code} with a schema that names no model"
        for name in names:
            component = document["components"]["schemas"][name]
            assert component.get("properties"), (method, path, name)
            assert component.get("additionalProperties") is False, f"{name} must forbid fields it does not describe"


def test_connection_errors_are_documented_with_their_codes(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    status = schemas["CrmStatusOut"]
    (code,) = [option for option in status["properties"]["last_error_code"]["anyOf"] if option.get("enum")]
    failed = [kind.value for kind in OutcomeKind if kind is not OutcomeKind.CONNECTED]
    assert code["enum"] == failed
    assert {"last_error", "last_error_code"} <= set(status["required"]), "the sentence stays, the code beside it"
    assert schemas["ConnectionOutcomeOut"]["properties"]["outcome"]["$ref"].endswith("/OutcomeKind")
    assert schemas["OutcomeKind"]["enum"] == ["connected", *failed]


def test_every_error_a_route_can_give_is_documented_with_the_error_body(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]
    assert "HTTPValidationError" not in components, "every 422 is documented with the shared body"
    for path, method, operation in _operations(document):
        errors = {code: response for code, response in operation["responses"].items() if code[0] in "45"}
        expected = {"401"}
        if method in UNSAFE:
            expected.add("403")  # a session's request without its CSRF token
        if "/orgs/{org}" in path:
            expected |= {"403", "404"}
        if operation.get("parameters") or "requestBody" in operation:
            expected.add("422")
        assert expected <= errors.keys(), f"{method.upper()} {path} documents {sorted(errors)}, not {sorted(expected)}"
        for code, response in errors.items():
            names = _refs(_json_schema(response))
            assert names, (method, path, code)
            assert set(names) & ERROR_BODIES, (method, path, code, names)
            for name in set(names) & ERROR_BODIES:
                assert "detail" in components[name]["required"], name
    seat_limit = document["paths"]["/api/v1/orgs/{org}/seats/assign-from-crm"]["post"]["responses"]["409"]
    assert _refs(_json_schema(seat_limit)) == ["SeatLimitErrorOut"]
    crm_failure = document["paths"]["/api/v1/orgs/{org}/crm/users/import"]["post"]["responses"]["502"]
    assert _refs(_json_schema(crm_failure)) == ["CrmErrorOut"]


class _Checked:
    """Checks each answer against the model the document names for its path, method and status."""

    def __init__(self, document: dict[str, Any]) -> None:
        self._document = document
        self._templates = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path) for path in document["paths"]
        ]
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(self, answer: Any, status: int) -> Any:
        request = answer.request
        assert answer.status_code == status, (request.method, request.url.path, answer.text)
        path = next(template for pattern, template in self._templates if pattern.match(request.url.path))
        responses = self._document["paths"][path][request.method.lower()]["responses"]
        assert str(status) in responses, f"{request.method} {path} answered {status}, which it does not document"
        self.seen.add((request.method, path, status))
        if status == 204:
            assert answer.content == b""
            return None
        if "text/csv" in responses[str(status)].get("content", {}):
            assert answer.headers["content-type"].startswith("text/csv"), (request.method, path)
            return answer.content
        body = answer.json()
        schema = _json_schema(responses[str(status)])
        names = _refs(schema)
        items = body if schema.get("type") == "array" else [body]
        for item in items:
            assert any(self._matches(name, item) for name in names), (request.method, path, status, names, item)
        return body

    @staticmethod
    def _matches(name: str, item: Any) -> bool:
        """``item`` is exactly what model ``name`` describes: no field missing, added or changed."""
        model = MODELS[name.removesuffix("-Output")]
        try:
            return model.model_validate(item).model_dump(mode="json", exclude_unset=True) == item
        except ValidationError:
            return False


def _seed_crm_users(console: Console) -> None:
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    people = [
        CrmUserValues(str(uuid.uuid5(uuid.NAMESPACE_URL, email)), name, email, None, False, False, 0)
        for name, email in [("Sofía Seller", ACME_SELLER.email), *((f"P{n}", f"p{n}@acme.test") for n in range(5))]
    ]
    with console.store(organization_id) as uow:
        uow.crm_users.replace_all(people)
        rematch_seats(uow)
        uow.commit()


def _seed_connection(console: Console) -> None:
    """A connection to acme's Dynamics, as a successful connect stores it (no CRM is reached by the calls made)."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        uow.crm_connection.save_credentials(
            org_url="https://acme.crm.dynamics.com", tenant_id="t", client_id="c", client_secret=SecretStr("s")
        )
        uow.crm_connection.mark_connected(crm_user_id=str(uuid.uuid5(uuid.NAMESPACE_URL, ACME_SELLER.email)))
        uow.commit()


def test_the_routes_answer_exactly_what_the_document_names(
    console: Console, browser: OpenBrowser, document: dict[str, Any]
) -> None:
    _seed_crm_users(console)
    check = _Checked(document)
    admin, seller, guest, nobody = browser(ACME_ADMIN), browser(ACME_SELLER), browser(ACME_GUEST), browser(None)
    a, s = admin.client, seller.client
    headers, seller_headers = admin.csrf_headers(), seller.csrf_headers()
    orgs = "/api/v1/orgs/acme"

    # The account.
    check(a.get("/api/v1/me"), 200)
    created = check(a.post("/api/v1/me/tokens", json={"name": "ci"}, headers=headers), 201)
    check(a.get("/api/v1/me/tokens"), 200)
    check(a.put("/api/v1/me/locale", json={"locale": "es"}, headers=headers), 200)
    check(a.put("/api/v1/me/locale", json={"locale": "fr"}, headers=headers), 422)
    check(a.delete(f"/api/v1/me/tokens/{created['api_token']['id']}", headers=headers), 204)
    check(a.delete(f"/api/v1/me/tokens/{uuid.uuid4()}", headers=headers), 404)
    check(nobody.client.get("/api/v1/me"), 401)
    bearer = {"Authorization": "Bearer " + created["token"]}
    check(nobody.client.get("/api/v1/me", headers=bearer), 401)  # revoked
    check(a.put("/api/v1/me/locale", json={"locale": "en"}), 403)  # no CSRF token

    # The organization, its seats and CRM users.
    check(a.get(f"{orgs}/users"), 200)
    check(a.get(f"{orgs}/audit", params={"limit": 5}), 200)
    check(a.get(f"{orgs}/audit", params={"limit": 0}), 422)
    check(guest.client.get(f"{orgs}/users"), 403)
    check(a.get("/api/v1/orgs/globex/users"), 404)
    overview = check(a.get(f"{orgs}/seats"), 200)
    assert any(seat["crm_user"] for seat in overview["seats"]), "a matched seat shows its CRM user"
    seat_id = overview["seats"][0]["id"]
    check(a.put(f"{orgs}/seats/{seat_id}/crm-sync", json={"enabled": False}, headers=headers), 422)  # all on
    check(a.put(f"{orgs}/crm/settings/sync-all-seats", json={"sync_all_seats": False}, headers=headers), 200)
    check(a.put(f"{orgs}/seats/{seat_id}/crm-sync", json={"enabled": False}, headers=headers), 200)
    check(a.put(f"{orgs}/seats/{seat_id}/email", json={"email": "not an email"}, headers=headers), 422)
    check(a.put(f"{orgs}/seats/{uuid.uuid4()}/crm-sync", json={"enabled": True}, headers=headers), 404)
    check(a.get(f"{orgs}/crm/users", params={"assignable": False}), 200)
    offered = check(a.get(f"{orgs}/crm/users"), 200)
    ids = [user["id"] for user in offered]
    check(a.post(f"{orgs}/seats/assign-from-crm", json={"crm_user_ids": ids}, headers=headers), 409)
    check(a.post(f"{orgs}/seats/assign-from-crm", json={"crm_user_ids": ids[:1]}, headers=headers), 201)
    check(a.post(f"{orgs}/crm/users/import", headers=headers), 422)  # not connected

    # The CRM connection, its settings and the import.
    check(a.get(f"{orgs}/crm/ca-bundles"), 200)
    check(a.get(f"{orgs}/crm/connection"), 200)
    check(a.post(f"{orgs}/crm/connection", json={"org_url": "https://x"}, headers=headers), 422)
    refused = {"org_url": "https://evil.example", "client_id": "c", "client_secret": "s"}
    check(a.post(f"{orgs}/crm/connection", json=refused, headers=headers), 422)
    check(a.get(f"{orgs}/crm/settings"), 200)
    check(a.put(f"{orgs}/crm/settings", json={"sync_interval_minutes": 1}, headers=headers), 422)
    check(a.put(f"{orgs}/crm/settings", json={"auto_save_enabled": True}, headers=headers), 200)
    check(a.post(f"{orgs}/crm/sync", headers=headers), 422)  # not connected
    check(a.get(f"{orgs}/crm/app"), 422)  # not connected
    check(a.post(f"{orgs}/crm/app/install", headers=headers), 422)  # not connected
    check(a.post(f"{orgs}/crm/sync/import-errors/retry", json={}, headers=headers), 422)  # not connected
    check(a.post(f"{orgs}/crm/sync/import-errors/retry", json={"records": [{"table": ""}]}, headers=headers), 422)
    _seed_connection(console)
    assert check(a.get(f"{orgs}/crm/connection"), 200)["crm_user_name"] == "Sofía Seller"
    other = {"org_url": "https://other.crm.dynamics.com", "client_id": "c", "client_secret": "s"}
    check(a.post(f"{orgs}/crm/connection", json=other, headers=headers), 409)  # acme's Dynamics is connected
    check(a.post(f"{orgs}/crm/sync", headers=headers), 202)
    assert check(a.get(f"{orgs}/crm/sync"), 200)["queued"] is True
    check(a.get(f"{orgs}/crm/sync/health"), 200)
    # The background jobs (the queued import is one).
    (queued,) = check(a.get(f"{orgs}/jobs", params={"state": "queued"}), 200)["jobs"]
    check(a.get(f"{orgs}/jobs", params={"limit": 0}), 422)
    check(a.post(f"{orgs}/jobs/{queued['id']}/cancel", headers=headers), 200)
    check(a.post(f"{orgs}/jobs/{queued['id']}/cancel", headers=headers), 422)  # already ended
    check(a.post(f"{orgs}/jobs/{queued['id']}/retry", headers=headers), 200)
    check(a.post(f"{orgs}/jobs/{uuid.uuid4()}/retry", headers=headers), 404)
    check(a.delete(f"{orgs}/crm/connection", params={"purge": True}, headers=headers), 200)

    # A seller's lists.
    check(s.get("/api/v1/me/lists"), 200)
    own = check(s.post("/api/v1/me/lists", json={"name": "Key accounts"}, headers=seller_headers), 201)
    check(s.post("/api/v1/me/lists", json={"name": " "}, headers=seller_headers), 422)
    check(s.patch(f"/api/v1/me/lists/{own['id']}", json={"name": "Top"}, headers=seller_headers), 200)
    item = {"table": "account", "crm_id": str(uuid.uuid4())}
    check(s.post(f"/api/v1/me/lists/{uuid.uuid4()}/items", json=item, headers=seller_headers), 404)
    check(s.delete(f"/api/v1/me/lists/{own['id']}/items/account/{uuid.uuid4()}", headers=seller_headers), 200)
    check(s.get(f"/api/v1/me/lists/{own['id']}/items", params={"limit": 10}), 200)
    check(s.get(f"/api/v1/me/lists/{own['id']}/items", params={"cursor": "not a cursor"}), 422)
    check(s.get(f"/api/v1/me/lists/{uuid.uuid4()}/items"), 404)
    check(s.get("/api/v1/me/records", params={"q": "Contoso"}), 200)
    check(s.delete(f"/api/v1/me/lists/{own['id']}", headers=seller_headers), 204)
    check(guest.client.get("/api/v1/me/lists"), 403)

    # The workspace's people and companies.
    people = [{"external_id": "p1", "first_name": "Ana"}, {"external_id": "p2"}]
    check(a.post(f"{orgs}/people", json={"people": people}, headers=headers), 200)
    check(a.post(f"{orgs}/people", json={"people": [{"first_name": "no id"}]}, headers=headers), 422)
    check(s.post(f"{orgs}/people", json={"people": people}, headers=seller_headers), 403)
    check(
        a.post(f"{orgs}/companies", json={"companies": [{"external_id": "c1", "name": "Contoso"}]}, headers=headers),
        200,
    )
    found = check(s.get(f"{orgs}/people", params={"q": "ana"}), 200)
    check(s.get(f"{orgs}/people/{found['items'][0]['id']}"), 200)
    check(s.get(f"{orgs}/people/{uuid.uuid4()}"), 404)
    check(s.get(f"{orgs}/people/by-external-id/p1"), 200)
    check(s.get(f"{orgs}/people", params={"limit": 0}), 422)
    companies = check(s.get(f"{orgs}/companies"), 200)
    check(s.get(f"{orgs}/companies/{companies['items'][0]['id']}"), 200)
    check(s.get(f"{orgs}/companies/by-external-id/c9"), 404)

    # Matching.
    check(a.get(f"{orgs}/matching/report"), 200)
    check(a.get(f"{orgs}/matching/evaluation"), 200)
    check(a.get(f"{orgs}/matching/review", params={"kind": "companies"}), 200)
    check(a.get(f"{orgs}/matching/review", params={"kind": "things"}), 422)
    pair = {"table": "contact", "crm_id": "c1", "target_id": found["items"][0]["id"]}
    check(a.post(f"{orgs}/matching/review/accept", json=pair, headers=headers), 404)
    check(a.post(f"{orgs}/matching/review/reject", json=pair, headers=headers), 404)
    check(s.get(f"{orgs}/matching/links/contact/c1"), 404)
    edit = {"action": "link", "target_id": found["items"][0]["id"]}
    check(s.put(f"{orgs}/matching/links/contact/c1", json=edit, headers=seller_headers), 404)
    check(s.get(f"{orgs}/people/{found['items'][0]['id']}/links"), 200)
    check(s.get(f"{orgs}/companies/{companies['items'][0]['id']}/links"), 200)
    check(s.get(f"{orgs}/companies/{uuid.uuid4()}/links"), 404)
    check(a.get(f"{orgs}/matching/unmatched", params={"table": "lead"}), 200)
    check(s.delete(f"{orgs}/people/{found['items'][0]['id']}", headers=seller_headers), 403)
    check(a.delete(f"{orgs}/people/{found['items'][0]['id']}", headers=headers), 204)
    check(a.delete(f"{orgs}/people/{uuid.uuid4()}", headers=headers), 404)
    check(a.delete(f"{orgs}/companies/{companies['items'][0]['id']}", headers=headers), 204)

    # Activities and their writeback.
    check(a.post(f"{orgs}/people", json={"people": [{"external_id": "p3", "full_name": "Pat"}]}, headers=headers), 200)
    pat = check(s.get(f"{orgs}/people/by-external-id/p3"), 200)
    note = {"client_id": "c-1", "type": "note", "person_id": pat["id"], "body": "Called"}
    note["occurred_at"] = "2026-12-01T10:00:00+00:00"
    logged = check(s.post(f"{orgs}/activities", json=note, headers=seller_headers), 201)
    check(s.post(f"{orgs}/activities", json=note, headers=seller_headers), 200)
    check(
        s.post(
            f"{orgs}/activities",
            json={**note, "client_id": "c-2", "person_id": str(uuid.uuid4())},
            headers=seller_headers,
        ),
        404,
    )
    check(s.post(f"{orgs}/activities", json={**note, "client_id": " "}, headers=seller_headers), 422)
    check(s.get(f"{orgs}/activities", params={"state": "not_written_back"}), 200)
    check(s.get(f"{orgs}/activities", params={"state": "lost"}), 422)
    check(s.get(f"{orgs}/activities/{logged['id']}"), 200)
    check(s.get(f"{orgs}/activities/{uuid.uuid4()}"), 404)
    edit = {"body": "Called back", "expected_version": 1}
    check(s.patch(f"{orgs}/activities/{logged['id']}", json=edit, headers=seller_headers), 200)
    check(s.patch(f"{orgs}/activities/{logged['id']}", json=edit, headers=seller_headers), 409)
    check(s.patch(f"{orgs}/activities/{uuid.uuid4()}", json=edit, headers=seller_headers), 404)
    check(a.get(f"{orgs}/writeback/settings"), 200)
    check(s.get(f"{orgs}/writeback/settings"), 403)
    check(a.put(f"{orgs}/writeback/settings", json={"enabled": False, "items": ["note"]}, headers=headers), 200)
    check(a.put(f"{orgs}/writeback/settings", json={"enabled": True}, headers=headers), 422)  # no app to check
    check(a.get(f"{orgs}/writeback/status"), 200)
    check(a.post(f"{orgs}/writeback/retry", json={}, headers=headers), 200)
    check(a.post(f"{orgs}/writeback/backfill", json={"since": "2026-01-01"}, headers=headers), 422)  # off
    check(a.post(f"{orgs}/writeback/backfill", json={"since": "yesterday"}, headers=headers), 422)

    answered = {(method, path) for method, path, _ in check.seen}
    documented = {(method.upper(), path) for path, method, _ in _operations(document)}
    assert documented - answered == set(), "every operation was called"
