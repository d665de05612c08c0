"""A paged read of 100,000 rows over HTTPS while 30 % of the Web API requests fail — 429 with Retry-After, 503, or
a connection reset in the middle of the body — returns every row exactly once, and the connector's counters show
the retries and the throttles it went through."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import SecretStr

from salesbridge.crm.dynamics import ClientCredentials, DynamicsConnection, DynamicsConnector, RetryPolicy
from salesbridge.crm.ports import RecordQuery
from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.seeds.seeding import parse_seed
from salesbridge.sandbox.server.faults import FaultConfig
from salesbridge.sandbox.server.serving import serve_in_thread
from salesbridge.sandbox.server.tls import create_tls_material

ROWS = 100_000
FAULTS = FaultConfig(seed=7, throttle_rate=0.1, throttle_retry_after_s=0, unavailable_rate=0.1, reset_rate=0.1)


def test_every_row_arrives_exactly_once_through_30_percent_faults(tmp_path: Path) -> None:
    sandbox = build_sandbox(seed=parse_seed(f"scale:{ROWS}"), faults=FAULTS)
    material = create_tls_material(tmp_path)
    with serve_in_thread(sandbox.app, tls=material) as server:
        info = sandbox.connection_info(server.base_url, str(material.ca_bundle))
        connection = DynamicsConnection(
            org_url=info["org_url"],
            credentials=ClientCredentials(
                tenant_id=info["tenant_id"],
                client_id=info["client_id"],
                client_secret=SecretStr(info["client_secret"]),
            ),
            authority=info["authority"],
            validate_authority=False,
            instance_discovery=False,
            ca_bundle=material.ca_bundle,
        )
        policy = RetryPolicy(max_attempts=12, base_backoff_s=0.01, max_backoff_s=0.05)

        async def read() -> tuple[list[str], DynamicsConnector]:
            async with DynamicsConnector.connect(connection, retry_policy=policy) as connector:
                ids: list[str] = []
                query = RecordQuery(table="contact", columns=("fullname",), page_size=5000)
                async for page in connector.reader.query(query):
                    ids.extend(record.id for record in page.records)
                return ids, connector

        ids, connector = asyncio.run(read())
        expected = sandbox.services.state.storage.scalar('SELECT count(*) FROM "contact"')

    assert expected >= ROWS
    assert len(ids) == expected
    assert len(set(ids)) == len(ids), "no row twice"
    counters = connector.client.counters
    assert counters.retries > 0
    assert counters.throttles > 0
    assert counters.failures == 0
    assert counters.requests > counters.retries
