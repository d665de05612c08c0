"""The pure parts of the connect use case: privilege depths, the error-to-outcome mapping and the catalogue."""

from __future__ import annotations

from typing import get_args

import pytest

from salesbridge.crm.ports import PrivilegeDepth, PrivilegeGrant
from salesbridge.domain.crm_requirements import REQUIRED_TABLES, RequiredTable, depth_suffices
from salesbridge.errors import (
    AuthError,
    SignInRejectedError,
    TokenRefreshError,
    TokenRejectedError,
    UnexpectedResponseError,
)
from salesbridge.i18n import translate, translations
from salesbridge.services.preflight import (
    OUTCOME_MESSAGES,
    ConnectOutcome,
    MissingPrivilege,
    OutcomeKind,
    last_error_text,
    missing_privileges,
    outcome_for_error,
    read_last_error,
)
from salesbridge.web.api.crm import ConnectionErrorCode
from salesbridge.web.localized import connect_message, localized_last_error


def _grant(name: str, depth: PrivilegeDepth) -> PrivilegeGrant:
    return PrivilegeGrant(name=name, depth=depth, privilege_id="0")


def test_every_required_table_needs_organization_wide_read() -> None:
    grants = [_grant(table.read_privilege, PrivilegeDepth.GLOBAL) for table in REQUIRED_TABLES]

    assert missing_privileges(grants) == ()
    assert {table.read_privilege for table in REQUIRED_TABLES} >= {"prvReadUser", "prvReadActivity"}


def test_a_narrower_depth_is_reported_with_what_is_held() -> None:
    tables = (RequiredTable("lead", ("leadid",), "prvReadLead"), RequiredTable("x", ("xid",), "prvReadX", False))

    grants = [_grant("prvReadLead", PrivilegeDepth.DEEP), _grant("prvReadX", PrivilegeDepth.BASIC)]

    missing = missing_privileges(grants, tables)

    assert missing == (MissingPrivilege("prvReadLead", "Global", "Deep"),)
    assert str(missing[0]) == "prvReadLead (Global, held: Deep)"


def test_depths_are_ordered() -> None:
    assert depth_suffices("Global", "Basic")
    assert not depth_suffices("Local", "Global")


@pytest.mark.parametrize(
    ("error", "kind", "credential"),
    [
        (SignInRejectedError("[AADSTS7000222] …", credential="the client secret (it has expired: create a new one)"),
         "sign_in_rejected", "client secret (it has expired: create a new one)"),
        (SignInRejectedError("rejected"), "sign_in_rejected", "tenant id, client id and client secret"),
        (AuthError("rejected, no status"), "sign_in_rejected", "tenant id, client id and client secret"),
        (TokenRejectedError("refused", status=401), "sign_in_rejected", "tenant id, client id and client secret"),
        (AuthError("Access denied", status=403), "insufficient_privileges", None),
        (TokenRefreshError("identity provider down"), "connection_error", None),
        (UnexpectedResponseError("not JSON"), "api_error", None),
    ],
)  # fmt: skip
def test_errors_become_outcomes(error: AuthError, kind: str, credential: str | None) -> None:
    outcome = outcome_for_error(error)

    assert outcome.kind is OutcomeKind(kind)
    assert outcome.credential_to_check == (f"the {credential}" if credential else None)


def test_the_catalogue_is_gettext_like() -> None:
    assert translations("es_ES").gettext("Connected to Microsoft Dynamics") == "Conectado a Microsoft Dynamics"
    assert translate("No such message", "es") == "No such message"
    assert translations("fr").gettext("Connected to Microsoft Dynamics") == "Connected to Microsoft Dynamics"


@pytest.mark.parametrize("locale", ["en", "es"])
def test_a_stored_last_error_reads_in_the_admins_language(locale: str) -> None:
    outcome = outcome_for_error(
        SignInRejectedError("x", credential="the client secret (it has expired: create a new one)")
    )
    privileges = ConnectOutcome(
        OutcomeKind.INSUFFICIENT_PRIVILEGES, missing_privileges=(MissingPrivilege("prvReadLead", "Global"),)
    )

    assert localized_last_error(outcome.english_message, locale) == connect_message(outcome, locale)
    assert localized_last_error(privileges.english_message + "\nprvReadLead (Global)", locale) == (
        connect_message(privileges, locale) + "\nprvReadLead (Global)"
    )
    assert localized_last_error("something older", locale) == "something older"


FAILED_OUTCOMES = [
    ConnectOutcome(OutcomeKind.CONNECTION_ERROR),
    ConnectOutcome(OutcomeKind.API_ERROR),
    ConnectOutcome(
        OutcomeKind.INSUFFICIENT_PRIVILEGES, missing_privileges=(MissingPrivilege("prvReadLead", "Global"),)
    ),
    ConnectOutcome(OutcomeKind.MISSING_OBJECTS, missing_objects=("lead.emailaddress1", "opportunity")),
    outcome_for_error(SignInRejectedError("x", credential="the client secret (it has expired: create a new one)")),
    ConnectOutcome(OutcomeKind.TENANT_MISMATCH, discovered_tenant_id="4a0e6f6d-tenant"),
]


@pytest.mark.parametrize("outcome", FAILED_OUTCOMES, ids=lambda outcome: outcome.kind.value)
def test_a_stored_last_error_gives_back_the_code_of_its_outcome(outcome: ConnectOutcome) -> None:
    stored = read_last_error(last_error_text(outcome))

    assert stored is not None
    assert stored.kind is outcome.kind
    assert stored.fields == {name: label.text for name, label in outcome.message_fields.items()}
    assert stored.details == ("; ".join(outcome.details()) or None)


def test_every_failed_outcome_has_its_code_in_the_api_schema() -> None:
    failed = {outcome.kind.value for outcome in FAILED_OUTCOMES}
    assert failed == {kind.value for kind in OutcomeKind} - {"connected"}
    assert set(get_args(ConnectionErrorCode)) == failed
    assert read_last_error("something older") is None
    assert read_last_error(OUTCOME_MESSAGES[OutcomeKind.CONNECTED]) is None, "success is no error"
