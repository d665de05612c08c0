"""The CRM connection's state through the API, as CRM Settings and ``salesbridge crm status --json`` give it (SQLite
and PostgreSQL): after each of the admin guide's four connection errors, the state and the error in the caller's
language, the missing privileges or objects on a second line, the same text on the page and, field for field, the
CLI's JSON (the CA bundle the connection trusts included)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import SecretStr
from tests.integration.web.conftest import ACME_ADMIN, Browser, Console, Person
from typer.testing import CliRunner

from salesbridge.cli import app as cli_app
from salesbridge.services.preflight import ConnectOutcome, MissingPrivilege, OutcomeKind, last_error_text
from salesbridge.store.secrets import generate_key

OpenBrowser = Callable[[Person | None], Browser]

FOUR_ERRORS = {
    "connection_error": (
        ConnectOutcome(OutcomeKind.CONNECTION_ERROR),
        "Error de conexión con el CRM. Vuelve a intentarlo más tarde.",
    ),
    "api_error": (
        ConnectOutcome(OutcomeKind.API_ERROR),
        "Se ha producido un error con la API del CRM. Vuelve a intentarlo más tarde.",
    ),
    "insufficient_privileges": (
        ConnectOutcome(
            OutcomeKind.INSUFFICIENT_PRIVILEGES,
            missing_privileges=(MissingPrivilege("prvReadLead", "Global", "Basic"),),
        ),
        "Tu cuenta de CRM no tiene suficientes privilegios de acceso. Consulta a tu administrador de CRM.\n"
        "prvReadLead (Global, held: Basic)",
    ),
    "missing_objects": (
        ConnectOutcome(OutcomeKind.MISSING_OBJECTS, missing_objects=("lead.emailaddress1", "opportunity")),
        "No se han podido leer los objetos de CRM exigidos por tu empresa.\nlead.emailaddress1; opportunity",
    ),
}


def _cli_crm_status(database_url: str) -> dict[str, Any]:
    """``salesbridge crm status --org acme --json --lang es`` on the console's own database (it reads no secret:
    any key opens it)."""
    runner = CliRunner(
        env={"SALESBRIDGE_DATABASE_URL": database_url, "SALESBRIDGE_CREDENTIAL_KEY": generate_key().get_secret_value()}
    )
    result = runner.invoke(cli_app, ["crm", "status", "--org", "acme", "--json", "--lang", "es"])
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = json.loads(result.output)
    return body


@pytest.mark.parametrize("error", sorted(FOUR_ERRORS))
def test_each_of_the_four_connection_errors_reads_the_same_in_the_api_the_page_and_the_cli(
    console: Console, browser: OpenBrowser, migrated_url: str, error: str
) -> None:
    outcome, spanish = FOUR_ERRORS[error]
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    with console.store(organization_id) as uow:
        uow.crm_connection.save_credentials(
            org_url="https://acme.crm.dynamics.com",
            tenant_id="t",
            client_id="c",
            client_secret=SecretStr("s"),
            ca_bundle_name="contoso-proxy",
        )
        uow.crm_connection.mark_failed(error=last_error_text(outcome))
        uow.commit()
    admin = browser(ACME_ADMIN)
    assert admin.client.put("/api/v1/me/locale", json={"locale": "es"}, headers=admin.csrf_headers()).is_success

    status = admin.client.get("/api/v1/orgs/acme/crm/connection").json()

    assert (status["state"], status["state_label"], status["last_error"]) == ("failed", "Error de conexión", spanish)
    assert status["last_error_code"] == error  # for programs, whatever the caller's language
    assert status["ca_bundle_name"] == "contoso-proxy", "the page's chosen CA bundle"
    page = re.search(r'data-testid="crm-last-error">(.*?)</dd>', admin.client.get("/settings/crm").text, re.S)
    assert page is not None
    assert html.unescape(page.group(1)) == spanish
    assert _cli_crm_status(migrated_url) == status
