"""When a failed delivery is tried again: 30 s after the first transient failure by default, doubling, parked
after the last attempt; ``SALESBRIDGE_WRITEBACK_FIRST_RETRY_SECONDS`` sets the first wait for every drain the
process runs (``writeback drain``, the workers', the embedded runner's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from tests.conftest import MigratedSqlite

from salesbridge import bootstrap
from salesbridge.domain.writeback import MAX_ATTEMPTS, DeliveryState, after_failure
from salesbridge.settings import Settings
from salesbridge.store.secrets import generate_key

NOW = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)


def test_a_transient_failure_waits_30_s_then_doubles_and_the_last_attempt_parks() -> None:
    waits = [after_failure(attempts=n, transient=True, now=NOW).next_attempt_at for n in (1, 2, 3)]
    assert waits == [NOW + timedelta(seconds=30), NOW + timedelta(seconds=60), NOW + timedelta(seconds=120)]
    parked = after_failure(attempts=MAX_ATTEMPTS, transient=True, now=NOW)
    assert (parked.state, parked.next_attempt_at) == (DeliveryState.PARKED, None)
    assert after_failure(attempts=1, transient=False, now=NOW).state is DeliveryState.PARKED


def test_a_shorter_first_retry_shortens_every_wait_and_parks_after_as_many_attempts() -> None:
    first = timedelta(seconds=2)
    waits = [after_failure(attempts=n, transient=True, now=NOW, first_retry=first).next_attempt_at for n in (1, 2, 3)]
    assert waits == [NOW + timedelta(seconds=2), NOW + timedelta(seconds=4), NOW + timedelta(seconds=8)]
    assert after_failure(attempts=MAX_ATTEMPTS - 1, transient=True, now=NOW, first_retry=first).state is (
        DeliveryState.FAILING
    )
    assert after_failure(attempts=MAX_ATTEMPTS, transient=True, now=NOW, first_retry=first).state is (
        DeliveryState.PARKED
    )


@pytest.mark.parametrize(("configured", "expected"), [(None, 30), (2, 2)])
def test_the_setting_reaches_the_cli_drain_and_the_job_engines(
    tmp_path: Path, migrated_sqlite: MigratedSqlite, configured: int | None, expected: int
) -> None:
    url = migrated_sqlite(tmp_path / "store.db")
    values = {} if configured is None else {"writeback_first_retry_seconds": configured}
    settings = Settings(database_url=url, credential_key=SecretStr(generate_key().get_secret_value()), **values)
    workspace = bootstrap.open_workspace(settings)
    try:
        assert workspace.writeback_first_retry == timedelta(seconds=expected)  # `salesbridge writeback drain`
        context = bootstrap.task_context(workspace.store, settings)  # the procrastinate workers' drains
        assert context.writeback_first_retry == timedelta(seconds=expected)
    finally:
        workspace.close()
