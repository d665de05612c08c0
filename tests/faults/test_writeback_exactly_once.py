"""Exactly once under faults: the drainer, a real ``salesbridge writeback drain`` process on a SQLite or PostgreSQL
store, is killed with ``kill -9`` in the middle of a delivery while the sandbox (its own process, TLS, kept in a
file) answers 30 % of the Web API requests with 429 (Retry-After), 503 or a connection cut in the middle of the body;
drains started afterwards deliver the rest, and in the end every activity — InMail, message, note and call — exists
in the sandbox exactly once (counted by id, and by ``sbr_externalid`` on the app's tables) with its two parties (not
doubled by a redelivery), none is lost, and the store says every one delivered."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench.writeback import (
    BATCHED_ITEMS,
    BULK_ITEMS,
    Crm,
    bench_environment,
    check_written,
    open_store,
    prepare_workspace,
    seed_activities,
    start_crm,
)

from salesbridge.domain.writeback import ITEM_TABLES, DataItem, DeliveryState, crm_activity_id

ACTIVITIES = 3200
"""Each item logged by each of the 8 sellers alike (storing them is a good part of the test's time: 3,200 prove what
6,400 did)."""
BATCH = 800
"""The drains' batch (``--batch-size``): four batches, which the drain overlaps (a batch is claimed and written while
the one before it is recorded)."""
FAULTS = {"seed": 11, "throttle_rate": 0.1, "throttle_retry_after_s": 1, "unavailable_rate": 0.1, "reset_rate": 0.1}
"""30 % of the requests: 429 with Retry-After, 503, a response cut in the middle of its body (after the write is
done: the client cannot know it was)."""
LATENCY_MS = 40
"""Added to every request while the first drain runs, so that its writes take long enough to be interrupted."""
LEASE_SECONDS = 3
FIRST_RETRY_SECONDS = 1
"""What the faults made fail is tried again after 1 s, 2 s, … instead of 30 s, 60 s, …: the restarts wait out the
same backoff, in seconds rather than minutes."""


def drain_process(environment: dict[str, str], output: Path) -> subprocess.Popen[bytes]:
    with output.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "salesbridge", "writeback", "drain", "--org", "bench", "--batch-size", str(BATCH)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=environment,
        )


def written_rows(crm: Crm, expected: dict[str, set[str]]) -> int:
    """How many of the expected CRM rows the sandbox holds now."""
    total = 0
    for table, ids in expected.items():
        column = "annotationid" if table == "annotation" else "activityid"
        total += sum(1 for (value,) in crm.query(f'SELECT "{column}" FROM "{table}"') if str(value).lower() in ids)
    return total


def test_kill_9_mid_delivery_under_30_percent_faults_then_restarts_write_each_activity_exactly_once(
    tmp_path: Path, database_url: str
) -> None:
    crm = start_crm(tmp_path / "crm", tmp_path / "crm.db", contacts=2000)
    try:
        workspace = prepare_workspace(database_url, crm, people=1000)  # SQLite, and PostgreSQL (SKIP LOCKED claims)
        store, engine = open_store(workspace)
        items = (*BULK_ITEMS, *BATCHED_ITEMS)
        activities = seed_activities(store, workspace, items=items, count=ACTIVITIES, tag="faults")
        assert Counter(item for _, item in activities) == dict.fromkeys(items, ACTIVITIES // 4)
        expected: dict[str, set[str]] = {}
        for activity_id, item in activities:
            table = ITEM_TABLES[DataItem(item)]
            expected.setdefault(table, set()).add(crm_activity_id(workspace.organization_id, activity_id))

        def delivered() -> int:
            with store(workspace.organization_id, read_only=True) as uow:
                return sum(c.count for c in uow.activities.status() if c.state is DeliveryState.DELIVERED)

        def next_attempt_in() -> float:
            """Seconds until the earliest failing activity is due again (0 when none waits)."""
            with store(workspace.organization_id, read_only=True) as uow:
                failing = uow.activities.search(states=(DeliveryState.FAILING,), limit=ACTIVITIES)
            due = [a.delivery.next_attempt_at for a in failing if a.delivery.next_attempt_at is not None]
            return max(0.0, (min(due) - datetime.now(UTC)).total_seconds()) if due else 0.0

        environment = {
            **bench_environment(workspace.url, workspace.key),
            "SALESBRIDGE_WRITEBACK_LEASE_SECONDS": str(LEASE_SECONDS),
            "SALESBRIDGE_WRITEBACK_FIRST_RETRY_SECONDS": str(FIRST_RETRY_SECONDS),
        }
        output = tmp_path / "drain.txt"
        crm.put_faults({**FAULTS, "latency_ms": LATENCY_MS})

        first = drain_process(environment, output)
        deadline = time.monotonic() + 300
        # Killed while a write is under way after a batch was recorded, i.e. inside the pipeline (the next batches
        # claimed and written while one is recorded): rows are in the CRM that the store has not yet recorded as
        # delivered (a drainer that repeated them blindly would make twins).
        while not written_rows(crm, expected) > delivered() > 0:
            assert first.poll() is None, output.read_text()
            assert time.monotonic() < deadline, "the drain never got to writing"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
        in_crm, recorded = written_rows(crm, expected), delivered()
        assert recorded < in_crm < ACTIVITIES, (recorded, in_crm)

        # Restarts, faults still on: the killed drain's leases run out, then drains deliver everything, waiting out
        # the backoff of what the faults made fail.
        crm.put_faults({**FAULTS, "latency_ms": 0})
        restarts = 0
        while delivered() < ACTIVITIES:
            assert time.monotonic() < deadline, output.read_text()[-4000:]
            time.sleep(max(LEASE_SECONDS, next_attempt_in()))
            restarts += 1
            assert drain_process(environment, output).wait(timeout=300) == 0, output.read_text()[-4000:]

        with store(workspace.organization_id, read_only=True) as uow:
            states = Counter(c.state for c in uow.activities.status() for _ in range(c.count))
        assert states == {DeliveryState.DELIVERED: ACTIVITIES}
        checks = check_written(crm, workspace, activities)
        assert checks == {
            table: {"expected": ACTIVITIES // 4, "found": ACTIVITIES // 4, "external_ids_twice": 0}
            for table in expected
        }
        for table in ("sbr_inmail", "sbr_message"):
            external = crm.query(f'SELECT sbr_externalid FROM "{table}"')
            assert len(external) == len({value for (value,) in external}) == ACTIVITIES // 4, table
            assert {uuid.UUID(value) for (value,) in external} <= {a for a, _ in activities}
        # Redelivered activities keep one sender and one recipient each: their parties are not doubled either.
        with_parties = expected["sbr_inmail"] | expected["sbr_message"] | expected["phonecall"]
        parties = Counter(
            str(activity).lower()
            for activity, mask in crm.query('SELECT activityid, participationtypemask FROM "activityparty"')
            if str(activity).lower() in with_parties and mask in (1, 2)
        )
        assert set(parties.values()) == {2}
        assert len(parties) == len(with_parties)
        assert restarts >= 1
        assert "Retrying POST" in output.read_text(), "the faults reached the drains, which retried"
        engine.dispose()
    finally:
        crm.stop()
