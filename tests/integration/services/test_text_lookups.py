"""Lookups by text no store can hold (issue 10, item 10): PostgreSQL refuses a NUL in a query, so a slug or an
email holding one failed with a database error; now such text names nobody, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from salesbridge.errors import InvalidInputError, RowNotFoundError, UnknownOrganizationError
from salesbridge.services.accounts import AccountService
from salesbridge.services.connecting import create_organization
from salesbridge.services.lists import create_list
from salesbridge.services.organizations import require_organization
from salesbridge.store.uow import UnitOfWorkFactory, utc_now


def test_a_slug_or_email_holding_nul_names_nobody(store: UnitOfWorkFactory) -> None:
    create_organization(store, slug="acme", seats=2)
    accounts = AccountService(store, clock=utc_now)
    accounts.create_user(
        "acme",
        email="ana@acme.test",
        display_name="Ana",
        password=SecretStr("tulip harbour violin seventeen"),
        is_admin=True,
        with_seat=True,
        actor="test",
    )

    with pytest.raises(UnknownOrganizationError):
        require_organization(store, "ac\x00me")
    with pytest.raises(RowNotFoundError):
        accounts.principal_of("acme", "ana\x00@acme.test")
    with pytest.raises(RowNotFoundError):
        create_list(store, "acme", "ana\x00@acme.test", name="Q3", actor="test")
    with pytest.raises(InvalidInputError):
        create_organization(store, slug="globex\x00")
    assert accounts.principal_of("acme", "ana@acme.test").email == "ana@acme.test"
