"""Benchmark: what a ``salesbridge sync run`` costs beyond process start when little or nothing changed in Dynamics.

Starts ``salesbridge sandbox serve --seed scale:N --tls`` in its own process (N contacts, N/10 accounts, N/20 leads
and opportunities, 8 CRM users), prepares a SQLite workspace connected to it the way the demo does (an admin and
five sellers seated from the CRM, "sync CRM for all seats" on, so six sellers' auto-saved lists are kept), and runs
the first import (a full read). Then, ``--rounds`` times:

1. **start**: ``python -m salesbridge --help`` and ``python -m salesbridge sync status``, wall time: the process
   start every command pays, bare and with the workspace opened (imports, store, organization, a few reads).
2. **nothing changed**: ``python -m salesbridge sync run`` (wall time), then the same run in a worker process timed
   from inside (after its imports, the store opened and the organization found), deriving incrementally, then
   once more forcing the full recompute of lists and seats (what every run did before: the comparison the
   property tests make).
3. **``--changes`` changes** (default 1,000 contacts' job titles through ``UpsertMultiple``, as ``bench.crm_import``
   changes them; ``--mix lists`` changes opportunities' stages and owners and accounts' owners too, so that
   sellers' lists change): made anew before each of the three runs of step 2.

Every run of every round is reported; "beyond start" is the in-process time of a worker (process start excluded by
construction; its CPU time beside it, which a busy machine disturbs less), and for the CLI runs the wall time minus
the round's ``sync status``. Results: ``bench/results/change_cost.json``.

Run: ``.venv/bin/python -m bench.change_cost [--rows 1000000] [--changes 1000] [--rounds 3] [--mix contacts|lists]``.
``bench.scaleout`` calls :func:`measure` (the results as a dict) or :func:`main`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "change_cost.json"
SLUG = "demo"
GOALS = {"nothing_changed_beyond_start_s": 0.5, "changes_beyond_start_s": 1.0}


# ------------------------------------------------------------------------------------------------ worker


def measure_sync(*, full_recompute: bool) -> dict[str, Any]:
    """One ``sync run`` of the workspace the environment points at, timed from inside this process.

    What every command of the CLI pays before its work is process start: the imports, opening the workspace's
    store and finding the organization (``start_s``). Beyond it (``beyond_start_s``) is what ``sync run`` does on
    top: queue the run, import (token, metadata, one empty or small delta page per table), derive, commit.
    ``full_recompute`` derives lists and seats from every imported row, as every run did before.
    """
    started = time.perf_counter()
    from salesbridge import bootstrap
    from salesbridge.services.import_run import run_pending_import
    from salesbridge.services.sync import request_sync
    from salesbridge.settings import Settings

    loaded = time.perf_counter()
    services = bootstrap.open_workspace(Settings())
    organization_id = services.store.organization_id(SLUG)
    assert organization_id is not None
    opened = time.perf_counter()
    opened_cpu = time.process_time()
    request_sync(services.store, slug=SLUG, actor="bench")
    with bootstrap.fewer_collections():
        outcome = asyncio.run(
            run_pending_import(
                services.store,
                services.crm_sessions,
                organization_id,
                clock=services.clock,
                lease=services.import_lease,
                full_recompute=full_recompute,
            )
        )
    finished = time.perf_counter()
    cpu = time.process_time() - opened_cpu
    if outcome is None or not outcome.succeeded or outcome.report is None:
        raise RuntimeError(f"the sync failed: {outcome.error if outcome else 'another import runs'}")
    with services.store(organization_id, read_only=True) as uow:
        audit = uow.audit.recent(limit=1, action="crm.imported")
    services.close()
    return {
        "imports_s": round(loaded - started, 3),
        "start_s": round(opened - started, 3),
        "beyond_start_s": round(finished - opened, 3),
        "beyond_start_cpu_s": round(cpu, 3),
        "rows_imported": outcome.report.rows_imported,
        "rows_deleted": outcome.report.rows_deleted,
        "derived": {k: v for k, v in (audit[0].details if audit else {}).items() if k.startswith(("list", "derived"))},
    }


# ------------------------------------------------------------------------------------------ orchestration


def _run(command: Sequence[str], env: dict[str, str]) -> tuple[float, str]:
    """Run ``command``; its wall time and stdout."""
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:5])} failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
    return seconds, completed.stdout


def _worker(env: dict[str, str], out: Path, *, full_recompute: bool) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.change_cost", "--worker", "--result", str(out)]
    wall, _ = _run([*command, *(("--full-recompute",) if full_recompute else ())], env)
    result: dict[str, Any] = json.loads(out.read_text())
    return {**result, "wall_s": round(wall, 3)}


def _cli_sync(env: dict[str, str], start_s: float) -> dict[str, Any]:
    wall, _ = _run([sys.executable, "-m", "salesbridge", "sync", "run", "--org", SLUG], env)
    return {"wall_s": round(wall, 3), "beyond_start_s": round(wall - start_s, 3)}


def _prepare_workspace(info: dict[str, str], work: Path) -> dict[str, str]:
    """A SQLite workspace connected to the sandbox with six seated sellers whose CRM sync is on; the environment
    that points the CLI at it."""
    from pydantic import SecretStr

    from salesbridge import bootstrap
    from salesbridge.domain.workspace import CaBundle, CrmCredentials

    settings = bootstrap.demo_settings(work)
    ca_pem = Path(info["ca_bundle"]).read_text(encoding="ascii")
    bundles = work / bootstrap.DEMO_CA_BUNDLES
    bundles.mkdir(parents=True, exist_ok=True)
    (bundles / "sandbox.pem").write_text(ca_pem, encoding="ascii")
    services = bootstrap.fresh_demo_workspace(settings)
    credentials = CrmCredentials(
        org_url=info["org_url"],
        client_id=info["client_id"],
        client_secret=SecretStr(info["client_secret"]),
        ca_bundle=CaBundle(ca_pem, name="sandbox"),
    )
    workspace = asyncio.run(bootstrap.prepare_demo_workspace(services.store, credentials, slug=SLUG))
    services.seats.set_sync_all_seats(SLUG, enabled=True, actor=workspace.admin_email)
    services.close()
    env = {key: value for key, value in os.environ.items() if not key.startswith("SALESBRIDGE_")}
    for line in bootstrap.demo_exports(settings):
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0]
    return env


async def change_records(info: dict[str, str], count: int, mix: str, rng: random.Random) -> dict[str, Any]:
    """Change ``count`` records in the sandbox through the Web API (``UpsertMultiple`` on existing ids): contacts'
    job titles; with ``mix`` ``lists``, a tenth of the changes move opportunities' stages and owners and accounts'
    owners (what sellers' lists follow)."""
    from bench.crm_import import connection_of
    from salesbridge.crm.dynamics import DynamicsConnector, RetryPolicy
    from salesbridge.crm.ports import LookupValue, NewRecord, RecordQuery

    async def some(connector: DynamicsConnector, table: str, wanted: int, columns: tuple[str, ...]) -> list[str]:
        ids: list[str] = []
        query = RecordQuery(table=table, columns=columns, page_size=5000)
        async for page in connector.reader.query(query):
            ids.extend(record.id for record in page.records)
            if len(ids) >= wanted * 20:
                break
        return rng.sample(ids, min(wanted, len(ids)))

    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    written: dict[str, int] = {}
    started = time.perf_counter()
    async with DynamicsConnector.connect(connection_of(info), retry_policy=RetryPolicy(max_attempts=3)) as connector:
        plan: dict[str, list[NewRecord]] = {}
        other = count // 10 if mix == "lists" else 0
        contacts = await some(connector, "contact", count - other, ("fullname",))
        plan["contact"] = [NewRecord(id=i, values={"jobtitle": f"Changed by the benchmark {stamp}"}) for i in contacts]
        if other:
            users = await some(connector, "systemuser", 8, ("fullname",))
            owner = [LookupValue(table="systemuser", id=user) for user in users]
            opportunities = await some(connector, "opportunity", other * 3 // 4, ("name",))
            plan["opportunity"] = [
                NewRecord(
                    id=i,
                    values={"salesstage": rng.randrange(4)}
                    if n % 2
                    else {"ownerid": rng.choice(owner), "salesstage": rng.randrange(4)},
                )
                for n, i in enumerate(opportunities)
            ]
            accounts = await some(connector, "account", other - len(opportunities), ("name",))
            plan["account"] = [NewRecord(id=i, values={"ownerid": rng.choice(owner)}) for i in accounts]
        for table, records in plan.items():
            report = await connector.writer.upsert_many(table, records)
            if not report.is_complete:
                raise RuntimeError(f"changing {table} failed: {report.failures[0].error}")
            written[table] = len(report.written)
    return {"changed": written, "seconds": round(time.perf_counter() - started, 2)}


def measure(
    rows: int = 1_000_000, changes: int = 1000, rounds: int = 3, mix: str = "contacts", seed: int = 12
) -> dict[str, Any]:
    """Seed, prepare and measure (see the module's docstring); the results as a JSON-ready dict."""
    from bench.crm_import import machine
    from bench.sandbox_paging import start_sandbox, stop

    rng = random.Random(seed)
    results: dict[str, Any] = {
        "benchmark": "change_cost",
        "date": datetime.now(UTC).date().isoformat(),
        "rows": rows,
        "changes": changes,
        "mix": mix,
        "machine": machine(),
        "goals": GOALS,
        "rounds": [],
    }
    with tempfile.TemporaryDirectory(prefix="change-cost-bench-") as name:
        tmp = Path(name)
        state_dir = tmp / "sandbox"
        state_dir.mkdir()
        print(f"seeding the sandbox with scale:{rows} …", flush=True)
        process, info, ready_s = start_sandbox(state_dir, tmp / "crm.db", rows, tls=True)
        results["sandbox_ready_s"] = round(ready_s, 1)
        try:
            env = _prepare_workspace(info, tmp / "workspace")
            print("first import (a full read) …", flush=True)
            results["first_import_wall_s"] = round(_cli_sync(env, 0.0)["wall_s"], 1)
            out = tmp / "worker.json"
            for number in range(1, rounds + 1):
                print(f"round {number} …", flush=True)
                help_s, _ = _run([sys.executable, "-m", "salesbridge", "--help"], env)
                start_s, _ = _run([sys.executable, "-m", "salesbridge", "sync", "status", "--org", SLUG], env)
                result: dict[str, Any] = {"round": number, "help_s": round(help_s, 3), "start_s": round(start_s, 3)}
                result["nothing_changed"] = {
                    "cli": _cli_sync(env, start_s),
                    "incremental": _worker(env, out, full_recompute=False),
                    "full_recompute": _worker(env, out, full_recompute=True),
                }
                changed: dict[str, Any] = {}
                for run in ("cli", "incremental", "full_recompute"):
                    made = asyncio.run(change_records(info, changes, mix, rng))
                    if run == "cli":
                        changed[run] = {**_cli_sync(env, start_s), "made": made}
                    else:
                        changed[run] = {**_worker(env, out, full_recompute=run == "full_recompute"), "made": made}
                result["changes"] = changed
                results["rounds"].append(result)
                print(json.dumps(result), flush=True)
        finally:
            stop(process)
    results["summary"] = summary(results["rounds"])
    return results


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of every measured figure over the rounds, and whether the goals were met."""

    def median(values: list[float]) -> float:
        ordered = sorted(values)
        middle = len(ordered) // 2
        return round(ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2, 3)

    figures = {
        "help_s": median([r["help_s"] for r in rounds]),
        "start_s": median([r["start_s"] for r in rounds]),
        **{
            f"{case}_{run}_beyond_start_s": median([r[case][run]["beyond_start_s"] for r in rounds])
            for case in ("nothing_changed", "changes")
            for run in ("cli", "incremental", "full_recompute")
        },
        **{
            f"{case}_{run}_beyond_start_cpu_s": median([r[case][run]["beyond_start_cpu_s"] for r in rounds])
            for case in ("nothing_changed", "changes")
            for run in ("incremental", "full_recompute")
        },
    }
    figures["goals_met"] = (
        figures["nothing_changed_incremental_beyond_start_s"] <= GOALS["nothing_changed_beyond_start_s"]
        and figures["changes_incremental_beyond_start_s"] <= GOALS["changes_beyond_start_s"]
    )
    return figures


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    """The command line (see the module's docstring); the results, or None in a worker process."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="Contacts in the sandbox (scale:N).")
    parser.add_argument("--changes", type=int, default=1000, help="Records changed before each changed run.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mix", choices=("contacts", "lists"), default="contacts", help="What the changes change.")
    parser.add_argument("--out", type=Path, default=RESULTS, help="Where to write the JSON results.")
    # Internal: one measured sync in its own process.
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--full-recompute", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.result.write_text(json.dumps(measure_sync(full_recompute=args.full_recompute)))
        return None
    if args.changes > args.rows or args.rounds < 1:
        parser.error("--changes cannot exceed --rows, and --rounds must be at least 1")
    results = measure(args.rows, args.changes, args.rounds, args.mix)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["summary"], indent=2))
    print(f"written to {args.out}")
    return results


if __name__ == "__main__":
    main()
