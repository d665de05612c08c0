"""The store's errors sit in the tree where their callers act on them."""

from __future__ import annotations

from salesbridge import errors
from salesbridge.errors import (
    ConfigError,
    CredentialKeyError,
    RowNotFoundError,
    SalesbridgeError,
    StoreError,
    UndecryptableSecretError,
    UniqueConstraintError,
)


def test_store_errors_have_their_parents() -> None:
    expected_parents = {
        CredentialKeyError: ConfigError,
        StoreError: SalesbridgeError,
        RowNotFoundError: StoreError,
        UniqueConstraintError: StoreError,
        UndecryptableSecretError: StoreError,
    }
    for error_class, parent in expected_parents.items():
        assert error_class.__bases__ == (parent,), error_class


def test_store_errors_are_drawn_in_the_tree() -> None:
    drawn = errors.__doc__ or ""
    for name in ("CredentialKeyError", "StoreError", "RowNotFoundError", "UniqueConstraintError"):
        assert name in drawn


def test_a_unique_constraint_error_names_its_field() -> None:
    error = UniqueConstraintError("taken", field="email")
    assert (error.field, str(error)) == ("email", "taken")
