"""Database URLs: PostgreSQL is pinned to psycopg 3; other backends are refused; the package exports its API."""

from __future__ import annotations

import pytest

import salesbridge.store
from salesbridge.errors import ConfigError
from salesbridge.store.database import MIGRATIONS_DIR, alembic_config, normalise_url


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://app@db/sales", "postgresql+psycopg"),
        ("postgres://app@db/sales", "postgresql+psycopg"),
        ("postgresql+psycopg://app@db/sales", "postgresql+psycopg"),
        ("sqlite:///salesbridge.db", "sqlite"),
    ],
)
def test_urls_are_normalised(given: str, driver: str) -> None:
    assert normalise_url(given).drivername == driver


@pytest.mark.parametrize("given", ["mysql://app@db/sales", "postgresql+psycopg2://app@db/sales", "not a url"])
def test_other_backends_are_refused(given: str) -> None:
    with pytest.raises(ConfigError):
        normalise_url(given)


def test_the_alembic_config_needs_no_ini_file_and_keeps_percent_signs() -> None:
    config = alembic_config("postgresql://app:p%40ss@db/sales")
    assert config.config_file_name is None
    assert config.get_main_option("script_location") == str(MIGRATIONS_DIR)
    assert config.get_main_option("sqlalchemy.url") == "postgresql+psycopg://app:p%40ss@db/sales"
    assert (MIGRATIONS_DIR / "env.py").is_file()


def test_the_package_exports_its_public_names() -> None:
    for name in salesbridge.store.__all__:
        assert hasattr(salesbridge.store, name), name
