"""CRM client secrets are encrypted at rest and never shown by a connection row, nor logged."""

from __future__ import annotations

import logging
import uuid

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from salesbridge.errors import UndecryptableSecretError
from salesbridge.store.database import create_engine_for, create_session_factory
from salesbridge.store.secrets import CredentialCipher, generate_key
from salesbridge.store.uow import SqlAlchemyUnitOfWork

SECRET = "Sup3r-s3cret~value"
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def _save_connection(migrated_url: str, cipher: CredentialCipher) -> uuid.UUID:
    organization_id = uuid.uuid4()
    engine = create_engine_for(migrated_url)
    try:
        with SqlAlchemyUnitOfWork(create_session_factory(engine), organization_id, cipher=cipher) as uow:
            uow.organization.create(slug=f"org-{organization_id.hex[:8]}", name="Org", seats_purchased=1)
            uow.crm_connection.save_credentials(
                org_url="https://org.crm.dynamics.com",
                tenant_id="tenant",
                client_id="client",
                client_secret=SecretStr(SECRET),
                ca_bundle_pem=CA_PEM,
                ca_bundle_name="corporate",
            )
            uow.commit()
    finally:
        engine.dispose()
    return organization_id


def test_the_secret_round_trips_and_is_stored_encrypted(migrated_url: str, cipher: CredentialCipher) -> None:
    organization_id = _save_connection(migrated_url, cipher)
    engine = create_engine_for(migrated_url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT client_secret_encrypted FROM crm_connections")).scalar_one()
        with SqlAlchemyUnitOfWork(create_session_factory(engine), organization_id, cipher=cipher) as uow:
            secret = uow.crm_connection.client_secret()
            row = uow.crm_connection.get()
    finally:
        engine.dispose()
    assert SECRET.encode() not in bytes(stored)
    assert isinstance(secret, SecretStr)
    assert secret.get_secret_value() == SECRET
    assert (row.ca_bundle_pem, row.ca_bundle_name) == (CA_PEM, "corporate")


def test_a_different_key_cannot_read_the_secret(migrated_url: str, cipher: CredentialCipher) -> None:
    organization_id = _save_connection(migrated_url, cipher)
    engine = create_engine_for(migrated_url)
    try:
        other = CredentialCipher(generate_key())
        with (
            SqlAlchemyUnitOfWork(create_session_factory(engine), organization_id, cipher=other) as uow,
            pytest.raises(UndecryptableSecretError) as raised,
        ):
            uow.crm_connection.client_secret()
    finally:
        engine.dispose()
    assert SECRET not in str(raised.value)


def test_the_secret_never_appears_in_repr_str_or_logs(
    migrated_url: str, cipher: CredentialCipher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # SQL statements with their parameters
    organization_id = _save_connection(migrated_url, cipher)
    engine = create_engine_for(migrated_url)
    try:
        with SqlAlchemyUnitOfWork(create_session_factory(engine), organization_id, cipher=cipher) as uow:
            row = uow.crm_connection.get()
            secret = uow.crm_connection.client_secret()
            logging.getLogger("salesbridge.test").info("connection %s %r secret %s", row, row, secret)
            rendered = [repr(row), str(row), repr(secret), str(secret), repr(cipher)]
    finally:
        engine.dispose()

    assert any(record.name.startswith("sqlalchemy.engine") for record in caplog.records)
    for text_shown in [*rendered, caplog.text]:
        assert SECRET not in text_shown
    assert "client_secret" not in repr(row)  # the connection as the store returns it holds no secret at all
