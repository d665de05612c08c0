"""The CRM import benchmark runs end to end on a small org without Airbyte (numbers are not asserted, only counts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from tests.integration.bench_run import run_bench


def test_import_benchmark_runs_every_step(tmp_path: Path, postgres_cluster: Any) -> None:
    out = tmp_path / "crm_import.json"
    postgres_cluster.execute_autocommit("CREATE DATABASE bench_smoke")
    result = run_bench(
        "bench.crm_import",
        *("--rows", "2000", "--changes", "50", "--page-size", "500", "--skip-airbyte"),
        *("--postgresql-url", postgres_cluster.url("bench_smoke")),
        *("--sqlite-memory-mib", "64,0"),
        out=out,
        timeout=300,
    )
    assert result["problems"] == []
    assert result["ceiling"]["rows"] == 2000
    assert result["ceiling"]["pages"] == 4
    assert result["full_import"]["rows_imported"] == 2000
    assert result["full_import"]["full_read"] is True
    assert result["full_import_postgresql"]["rows_imported"] == 2000
    assert [mark["rows"] for mark in result["full_import"]["rss_at_quarters"]] == [500, 1000, 1500, 2000]
    assert result["changes_made"]["changed"] == 50
    assert result["lookup"]["accounts"] > 0
    assert result["lookup"]["contacts_found"] >= result["lookup"]["accounts"]
    assert len(result["rounds"]["ceiling_rows_per_s"]) == len(result["rounds"]["full_import_rows_per_s"]) == 2
    assert len(result["rounds"]["full_import_postgresql_rows_per_s"]) == 2, "PostgreSQL imports in every round"
    sqlite_imports = result["sqlite_memory_rounds"]
    assert [(part["round"], part["sqlite_memory_mib"]) for part in sqlite_imports] == [(1, 64), (1, 0), (2, 0), (2, 64)]
    assert [part["sqlite_soft_heap_limit_mib"] for part in sqlite_imports] == [64, 0, 0, 64], "the limit in force"
    assert [part["rows_imported"] for part in sqlite_imports] == [2000] * 4
    assert result["full_import"]["sqlite_memory_mib"] == result["incremental"]["sqlite_memory_mib"] == 64
    dsn = f"host=127.0.0.1 port={postgres_cluster.port} user=postgres dbname=postgres"
    with psycopg.connect(dsn) as connection:
        names = [row[0] for row in connection.execute("SELECT datname FROM pg_database")]
    assert [name for name in names if name.startswith("bench_smoke_round")] == [], "each round's database dropped"
    assert result["incremental"]["rows_imported"] == 50
    assert result["incremental"]["full_read"] is False
    assert len(result["incremental"]["rss_at_quarters"]) == 4
    assert result["ratios"]["import_over_ceiling"] > 0
    assert result["ratios"]["import_over_airbyte"] is None
    assert "airbyte" not in result
