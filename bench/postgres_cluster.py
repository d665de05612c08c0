"""A throwaway PostgreSQL cluster for benchmarks, started as the integration tests' ``postgres_cluster`` fixture
starts one: the machine's server binaries (``pg_config --bindir``, else ``/usr/lib/postgresql/*/bin``), ``initdb``
into a fresh temporary folder, ``pg_ctl start`` listening on 127.0.0.1 at a free port, trust authentication,
``fsync=off``; under root the cluster runs as ``nobody`` (initdb refuses root). Stopped and deleted on exit. The
fixture finds the binaries, drops root and picks its port with the functions here.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

UNPRIVILEGED_USER = "nobody"


@dataclass(frozen=True)
class BenchCluster:
    """A running cluster; ``postgres`` connects without a password over 127.0.0.1:``port``."""

    port: int
    data_dir: Path

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` (psycopg 3)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        """One statement in the ``postgres`` database, outside a transaction (CREATE/DROP DATABASE)."""
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(sql.encode())  # benchmark DDL with generated names

    def postmaster_pid(self) -> int:
        """The server's main process (first line of ``postmaster.pid``)."""
        return int((self.data_dir / "postmaster.pid").read_text().split()[0])


def server_bindir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` are.

    Raises:
        RuntimeError: no PostgreSQL server binaries on this machine.
    """
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if found.returncode == 0:
            candidates.append(Path(found.stdout.strip()))
    candidates.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found via `pg_config --bindir` or in "
        "/usr/lib/postgresql/*/bin. Install them (Debian: apt-get install postgresql)."
    )


def as_unprivileged() -> list[str]:
    """The command prefix that drops root to :data:`UNPRIVILEGED_USER` (initdb refuses root); empty when not root.

    Raises:
        RuntimeError: running as root without runuser or setpriv.
    """
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is not None:
        return [runuser, "-u", UNPRIVILEGED_USER, "--"]
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        return [setpriv, f"--reuid={UNPRIVILEGED_USER}", f"--regid={UNPRIVILEGED_USER}", "--init-groups", "--"]
    raise RuntimeError(
        "Running as root, and neither runuser nor setpriv is available to start PostgreSQL unprivileged."
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def throwaway_cluster(max_connections: int = 200) -> Iterator[BenchCluster]:
    """A cluster running while the block runs.

    Raises:
        RuntimeError: the binaries are missing, or initdb or pg_ctl failed.
    """
    bindir = server_bindir()
    prefix = as_unprivileged()
    root = Path(tempfile.mkdtemp(prefix="salesbridge-bench-pg-"))
    if prefix:
        account = pwd.getpwnam(UNPRIVILEGED_USER)
        os.chown(root, account.pw_uid, account.pw_gid)
    data = root / "data"
    port = free_port()
    initdb = [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c full_page_writes=off "
        f"-c max_connections={max_connections}"
    )
    pg_ctl = [*prefix, str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        for command in (
            [*initdb, "--no-sync"],
            [*pg_ctl, "-l", str(root / "server.log"), "-w", "-o", options, "start"],
        ):
            done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
            if done.returncode != 0:
                raise RuntimeError(f"{command[len(prefix)]} failed: {done.stdout}{done.stderr}")
        yield BenchCluster(port=port, data_dir=data)
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], capture_output=True, check=False, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
