"""Benchmark: organizations synced per minute with 1, 2 and 3 procrastinate workers on PostgreSQL, and the same
workload on the embedded runner beside them.

The workload: ``--organizations`` workspace organizations, each connected to a Dynamics organization of its own
holding ``--contacts`` contacts (with the scale seed's accounts, leads and opportunities beside them), each
waiting for its first import. One sandbox process per Dynamics organization (``salesbridge sandbox serve --seed
scale:N --tls``, the seeded file copied for each): every workspace then has its own organization URL, so its own
request budget, as real tenants do; they share this machine's two cores with the workers and PostgreSQL.

Every request to the Web API waits ``--latency-ms`` in the sandbox (``PUT /_sandbox/faults``), set after the
organizations are connected so that setting up is quick: a real Dynamics takes its time per page
(``docs/performance.md`` says which value and why).

Configurations, each on a fresh copy of the prepared store (SQLite: a copy of the file; PostgreSQL: ``CREATE
DATABASE … TEMPLATE``), the clock running from the launch of its processes until the last organization's import
has finished (``finished_at`` of its run, so how often the bench looks does not count; process start counts):

- ``embedded-sqlite`` and ``embedded-postgresql``: one ``salesbridge serve`` process whose embedded runner
  imports the organizations one after another (``SALESBRIDGE_JOBS=embedded``);
- ``workers-K`` for each K of ``--workers`` (default ``1,2,3,3x4``): K ``salesbridge worker`` processes
  (``SALESBRIDGE_JOBS=procrastinate``), each running ``--concurrency`` jobs at once (``KxC``: C each), on a
  throwaway PostgreSQL cluster the bench starts.

Configurations alternate over ``--rounds`` (the order reversed every other round) so that a noisy moment of a
shared machine falls on all of them; every round is kept; the median counts. A calibration run (the embedded
runner with no added latency) gives what an import costs without waiting on Dynamics. CPU seconds of the job
processes, the sandboxes and PostgreSQL, and the machine's busy share, are recorded for each run: they say what
bounds it.

``--change-cost`` also runs :func:`bench.change_cost.measure` (a no-change and a 1,000-change ``sync run`` at
``--change-cost-rows`` contacts, 1M by default; slow) and keeps its results beside these.

Run: ``.venv/bin/python -m bench.scaleout [--organizations 12] [--contacts 20000] [--latency-ms 500]
[--workers 1,2,3,3x4] [--rounds 2] [--skip-embedded-postgresql] [--change-cost]``.
Results: ``bench/results/scaleout.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from bench.crm_import import machine
from bench.postgres_cluster import BenchCluster, free_port, throwaway_cluster
from bench.sandbox_paging import start_sandbox, stop

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "scaleout.json"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
EMBEDDED = "embedded"


# ------------------------------------------------------------------------------------------------- the CRMs


@dataclass(frozen=True)
class Crm:
    """One sandbox process: a Dynamics organization of its own."""

    process: subprocess.Popen[bytes]
    info: dict[str, str]

    def put_faults(self, values: dict[str, Any]) -> None:
        """Change the sandbox's fault settings (its admin endpoint, over its TLS)."""
        context = ssl.create_default_context(cafile=self.info["ca_bundle"])
        request = urllib.request.Request(
            f"{self.info['base_url']}/_sandbox/faults",
            data=json.dumps(values).encode(),
            method="PUT",
            headers={"X-Sandbox-Admin-Token": self.info["admin_token"], "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            response.read()

    def cpu_seconds(self) -> float:
        """CPU the sandbox process has used so far."""
        return process_cpu_seconds(self.process.pid)


def start_crms(tmp: Path, count: int, contacts: int) -> list[Crm]:
    """``count`` sandbox processes, each serving a copy of one seeded organization (the first seeds it)."""
    seeded = tmp / "crm-0.db"
    first_dir = tmp / "crm-0"
    first_dir.mkdir()
    process, info, _ = start_sandbox(first_dir, seeded, contacts, tls=True)
    crms = [Crm(process, info)]

    def start(number: int) -> Crm:
        state_dir = tmp / f"crm-{number}"
        state_dir.mkdir()
        copy = tmp / f"crm-{number}.db"
        shutil.copyfile(seeded, copy)  # the seed ledger in the copy says the seed is applied: it starts at once
        started, started_info, _ = start_sandbox(state_dir, copy, contacts, tls=True)
        return Crm(started, started_info)

    with ThreadPoolExecutor(max_workers=4) as pool:
        crms.extend(pool.map(start, range(1, count)))
    return crms


# ------------------------------------------------------------------------------------------- measuring CPU


def process_cpu_seconds(pid: int, *, with_reaped_children: bool = False) -> float:
    """User + system CPU of ``pid`` so far (and of its children it has waited for, when asked); 0 once gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # After the ")" closing the command: state is fields[0]; utime, stime, cutime, cstime are fields 11 to 14.
    ticks = int(fields[11]) + int(fields[12])
    if with_reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def postgres_cpu_seconds(cluster: BenchCluster | None) -> float:
    """CPU of the whole PostgreSQL server so far: the postmaster, the backends it has reaped, and those alive."""
    if cluster is None:
        return 0.0
    postmaster = cluster.postmaster_pid()
    total = process_cpu_seconds(postmaster, with_reaped_children=True)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if parent == postmaster:
            total += process_cpu_seconds(int(entry.name))
    return total


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot (``/proc/stat``; idle and iowait are not busy)."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# ----------------------------------------------------------------------------------------------- the store


@dataclass(frozen=True)
class Template:
    """A prepared store: every organization connected and waiting for its first import."""

    backend: str
    """``sqlite`` or ``postgresql``."""
    jobs: str
    """``embedded`` or ``procrastinate``: the job backend that queued the first imports."""
    location: str
    """The SQLite file, or the PostgreSQL template database's name."""
    setup_seconds: float


def settings_environment(url: str, key: str, jobs: str) -> dict[str, str]:
    """The environment pointing salesbridge's processes at ``url`` with the bench's credential key."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("SALESBRIDGE_") or key == "PATH"
    }
    environment.update(
        {
            "SALESBRIDGE_DATABASE_URL": url,
            "SALESBRIDGE_CREDENTIAL_KEY": key,
            "SALESBRIDGE_JOBS": jobs,
            "SALESBRIDGE_CRM_ALLOWED_HOSTS": "127.0.0.1",
        }
    )
    return environment


def prepare(url: str, crms: Sequence[Crm], organizations: int, key: str, jobs: str) -> float:
    """Create ``organizations`` organizations on the empty store at ``url`` and connect each to its CRM (round
    robin over ``crms``), in a process of its own run with ``SALESBRIDGE_JOBS=jobs`` (connecting queues the first
    import through that backend). Seconds taken."""
    started = time.perf_counter()
    plan = [{"slug": f"org-{number:03d}", "info": crms[number % len(crms)].info} for number in range(organizations)]
    command = [sys.executable, "-m", "bench.scaleout", "--prepare-store", json.dumps(plan)]
    done = subprocess.run(
        command, env=settings_environment(url, key, jobs), cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"preparing {url} failed:\n{done.stderr[-4000:]}")
    return round(time.perf_counter() - started, 2)


def prepare_store(plan: list[dict[str, Any]]) -> None:
    """(In the preparing process.) Organizations created and connected, as the plan says."""
    from salesbridge import bootstrap
    from salesbridge.crm.dynamics.endpoints import DynamicsTargets, EndpointPolicy
    from salesbridge.domain.workspace import CaBundle, CrmCredentials
    from salesbridge.services.connecting import connect_crm, create_organization

    settings = bootstrap.load_settings()
    workspace = bootstrap.open_workspace(settings, create=True)
    targets = DynamicsTargets(EndpointPolicy(["127.0.0.1"]))

    async def connect_all() -> None:
        for entry in plan:
            info = entry["info"]
            create_organization(workspace.store, slug=entry["slug"], seats=10, actor="bench")
            credentials = CrmCredentials(
                org_url=info["org_url"],
                client_id=info["client_id"],
                client_secret=SecretStr(info["client_secret"]),
                ca_bundle=CaBundle(Path(info["ca_bundle"]).read_text(encoding="ascii")),
            )
            outcome = await connect_crm(
                workspace.store,
                workspace.crm_sessions,
                slug=entry["slug"],
                credentials=credentials,
                targets=targets,
                actor="bench",
            )
            if not outcome.is_connected:
                raise RuntimeError(f"{entry['slug']} did not connect: {outcome.message()} {outcome.reason or ''}")

    try:
        asyncio.run(connect_all())
    finally:
        workspace.close()


@contextmanager
def fresh_copy(template: Template, tmp: Path, cluster: BenchCluster | None, name: str) -> Iterator[str]:
    """A copy of the prepared store for one run (its URL), dropped afterwards."""
    if template.backend == "sqlite":
        copy = tmp / f"{name}.db"
        shutil.copyfile(template.location, copy)
        try:
            yield f"sqlite:///{copy}"
        finally:
            copy.unlink(missing_ok=True)
        return
    assert cluster is not None
    cluster.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template.location}"')
    try:
        yield cluster.url(name)
    finally:
        cluster.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Progress:
    """How far the first imports have got, from the store's import runs."""

    succeeded: int = 0
    failed: int = 0
    first_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    durations_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def read_progress(engine: sa.Engine) -> Progress:
    """The organizations whose import has succeeded, the failed runs, and when runs started and finished."""
    query = sa.text("SELECT organization_id, state, started_at, finished_at, error FROM import_requests")
    progress = Progress()
    succeeded: set[Any] = set()
    with engine.connect() as connection:
        for organization_id, state, started_at, finished_at, error in connection.execute(query):
            started_at, finished_at = aware(started_at), aware(finished_at)
            if started_at and (progress.first_started_at is None or started_at < progress.first_started_at):
                progress.first_started_at = started_at
            if str(state).lower() == "succeeded" and finished_at is not None:
                succeeded.add(organization_id)
                if started_at is not None:
                    progress.durations_s.append((finished_at - started_at).total_seconds())
                if progress.last_finished_at is None or finished_at > progress.last_finished_at:
                    progress.last_finished_at = finished_at
            elif str(state).lower() == "failed":
                progress.failed += 1
                progress.errors.append(str(error))
    progress.succeeded = len(succeeded)
    return progress


def aware(value: Any) -> datetime | None:
    """A stored time as timezone-aware UTC (SQLite gives it back naive)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- processes


def workers_of(configuration: str, concurrency: int) -> tuple[int, int]:
    """(worker processes, jobs each runs at once) of ``workers-K`` (``--concurrency`` each) or ``workers-KxC``."""
    count, _, own = configuration.removeprefix("workers-").partition("x")
    return int(count), int(own) if own else concurrency


def job_processes(configuration: str, concurrency: int) -> list[list[str]]:
    """The commands a configuration runs: one console with its embedded runner, or K workers."""
    salesbridge = [sys.executable, "-m", "salesbridge"]
    if configuration.startswith(EMBEDDED):
        return [[*salesbridge, "serve", "--port", str(free_port())]]
    count, each = workers_of(configuration, concurrency)
    return [[*salesbridge, "worker", "--concurrency", str(each)] for _ in range(count)]


def stop_job_processes(processes: Sequence[subprocess.Popen[bytes]], timeout_s: float = 30.0) -> float:
    """Stop the job processes (SIGINT; SIGKILL for one still running ``timeout_s`` later); the CPU seconds they
    used in all (those that had already ended on their own count nothing: their usage was reaped unseen)."""
    for process in processes:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + timeout_s
    cpu = 0.0
    for process in processes:
        while process.returncode is None:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                process.returncode = os.waitstatus_to_exitcode(status)
                cpu += usage.ru_utime + usage.ru_stime
            elif time.monotonic() > deadline:
                process.kill()
            else:
                time.sleep(0.1)
    return cpu


# ------------------------------------------------------------------------------------------------ one run


@dataclass(frozen=True)
class RunSetting:
    """What every run shares."""

    organizations: int
    concurrency: int
    key: str
    timeout_s: float
    tmp: Path
    cluster: BenchCluster | None
    crms: Sequence[Crm]


def run_configuration(configuration: str, template: Template, setting: RunSetting, name: str) -> dict[str, Any]:
    """Run ``configuration`` on a fresh copy of ``template`` until every organization's first import succeeded."""
    with fresh_copy(template, setting.tmp, setting.cluster, name) as url:
        engine = sa.create_engine(url)
        environment = settings_environment(url, setting.key, template.jobs)
        commands = job_processes(configuration, setting.concurrency)
        crm_before = sum(crm.cpu_seconds() for crm in setting.crms)
        postgres_before = postgres_cpu_seconds(setting.cluster)
        busy_before = machine_busy_ticks()
        launched_at = datetime.now(UTC)
        launched = time.monotonic()
        logs = [setting.tmp / f"{name}-{number}.log" for number in range(len(commands))]
        processes = [
            subprocess.Popen(command, env=environment, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
            for command, log in zip(commands, logs, strict=True)
        ]
        try:
            progress = read_progress(engine)
            while progress.succeeded < setting.organizations and time.monotonic() - launched < setting.timeout_s:
                if any(os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) for p in processes):
                    break  # one ended by itself (crashed): its log says why
                time.sleep(0.25)
                progress = read_progress(engine)
        finally:
            busy_after = machine_busy_ticks()
            crm_cpu = sum(crm.cpu_seconds() for crm in setting.crms) - crm_before
            postgres_cpu = postgres_cpu_seconds(setting.cluster) - postgres_before
            job_cpu = stop_job_processes(processes)
            crashed = [
                log.read_text(errors="replace")[-2000:]
                for process, log in zip(processes, logs, strict=True)
                if process.returncode not in (0, -signal.SIGINT, 130)
            ]
            engine.dispose()
    complete = progress.succeeded == setting.organizations and progress.last_finished_at is not None
    wall = (progress.last_finished_at - launched_at).total_seconds() if complete and progress.last_finished_at else None
    busy_ticks, total_ticks = busy_after[0] - busy_before[0], busy_after[1] - busy_before[1]
    durations = sorted(progress.durations_s)
    return {
        "configuration": configuration,
        "store": template.backend,
        "jobs": template.jobs,
        "processes": len(processes),
        "concurrency": 1 if configuration.startswith(EMBEDDED) else workers_of(configuration, setting.concurrency)[1],
        "organizations_synced": progress.succeeded,
        "failed_runs": progress.failed,
        "errors": sorted(set(progress.errors))[:5],
        "complete": complete,
        "wall_seconds": round(wall, 2) if wall else None,
        "first_import_started_after_s": round((progress.first_started_at - launched_at).total_seconds(), 2)
        if progress.first_started_at
        else None,
        "organizations_per_minute": round(setting.organizations / wall * 60, 1) if wall else None,
        "import_seconds": {
            "median": round(statistics.median(durations), 2) if durations else None,
            "min": round(durations[0], 2) if durations else None,
            "max": round(durations[-1], 2) if durations else None,
        },
        "cpu_seconds": {
            "job_processes": round(job_cpu, 1),
            "sandboxes": round(crm_cpu, 1),
            "postgresql": round(postgres_cpu, 1),
        },
        "machine_busy_share": round(busy_ticks / total_ticks, 2) if total_ticks else None,
        "crashed": crashed,
    }


# ------------------------------------------------------------------------------------------- orchestration


def configurations(args: argparse.Namespace) -> list[str]:
    """The configurations of a round, embedded first."""
    names = [f"{EMBEDDED}-sqlite"]
    if not args.skip_embedded_postgresql:
        names.append(f"{EMBEDDED}-postgresql")
    names.extend(f"workers-{count}" for count in args.workers)
    return names


def template_of(configuration: str) -> tuple[str, str]:
    """(store backend, job backend) of a configuration."""
    if configuration == f"{EMBEDDED}-sqlite":
        return "sqlite", "embedded"
    if configuration == f"{EMBEDDED}-postgresql":
        return "postgresql", "embedded"
    return "postgresql", "procrastinate"


def make_template(
    backend: str, jobs: str, tmp: Path, cluster: BenchCluster | None, crms: Sequence[Crm], args: argparse.Namespace
) -> Template:
    """Prepare one store every run of its configurations copies."""
    if backend == "sqlite":
        path = tmp / f"template-{jobs}.db"
        seconds = prepare(f"sqlite:///{path}", crms, args.organizations, args.key, jobs)
        return Template(backend, jobs, str(path), seconds)
    assert cluster is not None
    name = f"template_{jobs}"
    cluster.execute(f'CREATE DATABASE "{name}"')
    seconds = prepare(cluster.url(name), crms, args.organizations, args.key, jobs)
    return Template(backend, jobs, name, seconds)


def summarise(runs: list[dict[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """Per configuration: the median orgs/minute over its complete rounds, and every round's figure."""
    summary: dict[str, Any] = {}
    for name in names:
        mine = [run for run in runs if run["configuration"] == name]
        rates = [run["organizations_per_minute"] for run in mine if run["complete"]]
        summary[name] = {
            "organizations_per_minute": round(statistics.median(rates), 1) if rates else None,
            "rounds": [run["organizations_per_minute"] for run in mine],
            "median_import_seconds": round(
                statistics.median([run["import_seconds"]["median"] or 0.0 for run in mine] or [0.0]), 2
            ),
        }
    return summary


def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    console = Console()
    names = configurations(args)
    results: dict[str, Any] = {
        "benchmark": "scaleout",
        "date": datetime.now(UTC).date().isoformat(),
        "organizations": args.organizations,
        "contacts_per_organization": args.contacts,
        "latency_ms_per_request": args.latency_ms,
        "worker_concurrency": args.concurrency,
        "sandbox_processes": args.organizations if args.sandboxes == 0 else args.sandboxes,
        "configurations": names,
        "machine": machine(),
        "load_average_at_start": [round(load, 1) for load in os.getloadavg()],
    }
    needs_postgresql = any(template_of(name)[0] == "postgresql" for name in names)
    with tempfile.TemporaryDirectory(prefix="scaleout-bench-") as directory, ExitStack() as stack:
        tmp = Path(directory)
        cluster = stack.enter_context(throwaway_cluster()) if needs_postgresql else None
        sandboxes = results["sandbox_processes"]
        console.print(f"starting {sandboxes} sandbox(es), scale:{args.contacts} each …")
        started = time.perf_counter()
        crms = start_crms(tmp, sandboxes, args.contacts)
        stack.callback(lambda: [stop(crm.process) for crm in crms])
        results["sandboxes_ready_seconds"] = round(time.perf_counter() - started, 1)

        templates: dict[tuple[str, str], Template] = {}
        for name in names:
            wanted = template_of(name)
            if wanted not in templates:
                console.print(f"preparing a {wanted[0]} store for {wanted[1]} ({args.organizations} organizations) …")
                templates[wanted] = make_template(*wanted, tmp, cluster, crms, args)
        results["setup_seconds"] = {f"{store}/{jobs}": t.setup_seconds for (store, jobs), t in templates.items()}

        setting = RunSetting(args.organizations, args.concurrency, args.key, args.timeout, tmp, cluster, crms)
        sqlite_embedded = templates[("sqlite", "embedded")]
        console.print("calibration: the embedded runner with no added latency …")
        results["calibration_no_latency"] = run_configuration(f"{EMBEDDED}-sqlite", sqlite_embedded, setting, "cal")

        for crm in crms:
            crm.put_faults({"latency_ms": args.latency_ms})
        runs: list[dict[str, Any]] = []
        for round_number in range(1, args.rounds + 1):
            order = names if round_number % 2 else list(reversed(names))
            for name in order:
                console.print(f"round {round_number}: {name} …")
                run = run_configuration(name, templates[template_of(name)], setting, f"r{round_number}_{name}")
                run["round"] = round_number
                runs.append(run)
                console.print(
                    f"  {run['organizations_synced']}/{args.organizations} synced, "
                    f"{run['organizations_per_minute']} orgs/min, machine busy {run['machine_busy_share']}"
                )
        results["runs"] = runs
        results["summary"] = summarise(runs, names)
        results["load_average_at_end"] = [round(load, 1) for load in os.getloadavg()]
    if args.change_cost:
        console.print(f"change cost: bench.change_cost at {args.change_cost_rows:,} contacts …")
        results["change_cost"] = change_cost(args.change_cost_rows)
    results["problems"] = [
        f"{run['configuration']} (round {run['round']}): {run['organizations_synced']} of {args.organizations} "
        f"synced, {run['failed_runs']} failed runs {run['errors']} {run['crashed']}"
        for run in results["runs"]
        if not run["complete"]
    ]
    return results


def change_cost(rows: int) -> dict[str, Any]:
    """``bench.change_cost``'s measurement (a no-change and a changed ``sync run`` at ``rows`` contacts)."""
    from bench.change_cost import measure

    return measure(rows=rows)


def render(results: dict[str, Any]) -> None:
    table = Table(
        title=f"{results['organizations']} organizations, {results['contacts_per_organization']:,} contacts, "
        f"{results['latency_ms_per_request']:g} ms per CRM request"
    )
    for column in ("configuration", "orgs/min (median)", "rounds", "import s (median)", "CPU s jobs/CRM/PG", "busy"):
        table.add_column(column, justify="left" if column == "configuration" else "right")
    for name, summary in results["summary"].items():
        last = [run for run in results["runs"] if run["configuration"] == name][-1]
        cpu = last["cpu_seconds"]
        table.add_row(
            name,
            str(summary["organizations_per_minute"]),
            ", ".join(str(rate) for rate in summary["rounds"]),
            str(summary["median_import_seconds"]),
            f"{cpu['job_processes']}/{cpu['sandboxes']}/{cpu['postgresql']}",
            str(last["machine_busy_share"]),
        )
    console = Console(width=160)
    console.print(table)
    calibration = results["calibration_no_latency"]
    console.print(
        f"without added latency (embedded, SQLite): {calibration['organizations_per_minute']} orgs/min, "
        f"import {calibration['import_seconds']['median']} s median"
    )
    for problem in results["problems"]:
        console.print(f"[red]problem:[/red] {problem}")


def worker_counts(text: str) -> list[str]:
    """``1,2,3,3x4`` → the worker configurations (K processes, or K processes running C jobs at once)."""
    counts = [part.strip() for part in text.split(",") if part.strip()]
    for part in counts:
        numbers = part.split("x")
        if len(numbers) > 2 or not all(number.isdigit() and int(number) >= 1 for number in numbers):
            raise argparse.ArgumentTypeError(f"{part!r}: a worker count K, or KxC (C jobs at once in each)")
    return counts


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--organizations", type=int, default=12)
    parser.add_argument("--contacts", type=int, default=20_000, help="Contacts of each Dynamics organization.")
    parser.add_argument("--latency-ms", type=float, default=500.0, help="Added to every Web API request.")
    parser.add_argument(
        "--workers",
        type=worker_counts,
        default=worker_counts("1,2,3,3x4"),
        help="Worker configurations: K processes (--concurrency jobs each), or KxC (C jobs each).",
    )
    parser.add_argument("--concurrency", type=int, default=1, help="Jobs each worker runs at once.")
    parser.add_argument("--sandboxes", type=int, default=0, help="Sandbox processes (0: one per organization).")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=900.0, help="Seconds a run may take before it is stopped.")
    parser.add_argument(
        "--skip-embedded-postgresql", action="store_true", help="Not the embedded runner on PostgreSQL."
    )
    parser.add_argument("--change-cost", action="store_true", help="Also run bench.change_cost (slow at 1M contacts).")
    parser.add_argument("--change-cost-rows", type=int, default=1_000_000, help="Contacts of the change-cost run.")
    parser.add_argument("--out", type=Path, default=RESULTS, help="Where to write the JSON results.")
    parser.add_argument("--prepare-store", help=argparse.SUPPRESS)  # internal: the preparing process
    args = parser.parse_args(argv)
    if args.prepare_store:
        prepare_store(json.loads(args.prepare_store))
        return
    if args.organizations < 1 or args.rounds < 1:
        parser.error("--organizations and --rounds must be at least 1")
    from salesbridge.store.secrets import generate_key

    args.key = generate_key().get_secret_value()
    results = orchestrate(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    render(results)
    print(f"written to {args.out}")
    if results["problems"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
