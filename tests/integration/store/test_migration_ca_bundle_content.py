"""Migration 0007 on SQLite and PostgreSQL: a connection's CA bundle path becomes the bundle's content (when the file
holds certificates), and the path column is gone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from salesbridge.store.database import create_engine_for, migrate

PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"


def _connection_with_path(engine: sa.Engine, path: str | None) -> uuid.UUID:
    organization_id, connection_id = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    organizations = sa.table(
        "organizations",
        sa.column("id", sa.Uuid()),
        sa.column("slug", sa.String()),
        sa.column("name", sa.String()),
        sa.column("seats_purchased", sa.Integer()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    connections = sa.table(
        "crm_connections",
        sa.column("id", sa.Uuid()),
        sa.column("organization_id", sa.Uuid()),
        sa.column("org_url", sa.String()),
        sa.column("tenant_id", sa.String()),
        sa.column("client_id", sa.String()),
        sa.column("client_secret_encrypted", sa.LargeBinary()),
        sa.column("ca_bundle_path", sa.String()),
        sa.column("state", sa.String()),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    with engine.begin() as connection:
        connection.execute(
            organizations.insert().values(
                id=organization_id, slug=f"org-{organization_id.hex[:8]}", name="Org", seats_purchased=1, created_at=now
            )
        )
        connection.execute(
            connections.insert().values(
                id=connection_id,
                organization_id=organization_id,
                org_url="https://contoso.crm.dynamics.com",
                tenant_id="tenant",
                client_id="client",
                client_secret_encrypted=b"encrypted",
                ca_bundle_path=path,
                state="connected",
                updated_at=now,
            )
        )
    return connection_id


def test_bundle_files_become_content_and_the_path_column_goes(database_url: str, tmp_path: Path) -> None:
    bundle = tmp_path / "corporate-ca.pem"
    bundle.write_text(PEM, encoding="ascii")
    not_pem = tmp_path / "id_rsa"
    not_pem.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n", encoding="ascii")
    migrate(database_url, revision="0006")
    engine = create_engine_for(database_url)
    try:
        readable = _connection_with_path(engine, str(bundle))
        missing = _connection_with_path(engine, str(tmp_path / "gone.pem"))
        key = _connection_with_path(engine, str(not_pem))
        system = _connection_with_path(engine, None)

        migrate(database_url)

        with engine.connect() as connection:
            rows = dict(connection.execute(sa.text("SELECT id, ca_bundle_pem FROM crm_connections")).all())
        columns = {column["name"] for column in sa.inspect(engine).get_columns("crm_connections")}
    finally:
        engine.dispose()
    by_id = {uuid.UUID(str(row_id)): pem for row_id, pem in rows.items()}
    assert by_id == {readable: PEM, missing: None, key: None, system: None}
    assert "ca_bundle_path" not in columns
    assert {"ca_bundle_pem", "ca_bundle_name"} <= columns
