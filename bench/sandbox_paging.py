"""Benchmark: how fast the sandbox serves a million contacts, and how long seeding them takes.

Starts ``salesbridge sandbox serve --seed scale:N`` in its own process (so client and server do not share
an interpreter), then pages through every contact at 5,000 rows per page over loopback with aiohttp +
orjson, following ``@odata.nextLink`` as a Dataverse client must. Reports rows/s for a typical sync
``$select`` and for full rows, over plain HTTP and over TLS, and the seed time.

Run: ``.venv/bin/python -m bench.sandbox_paging [--contacts N]``. Results: ``bench/results/sandbox_paging.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

SELECT = "fullname,firstname,lastname,emailaddress1,jobtitle,telephone1,_parentcustomerid_value,statecode,modifiedon"
RESULTS = Path(__file__).parent / "results" / "sandbox_paging.json"


def start_sandbox(
    state_dir: Path, db: Path, contacts: int, *, tls: bool
) -> tuple[subprocess.Popen[bytes], dict[str, str], float]:
    """Start a sandbox process; returns it, its sandbox.json and the seconds until it was ready."""
    command = [
        sys.executable,
        "-m",
        "salesbridge",
        "sandbox",
        "serve",
        "--seed",
        f"scale:{contacts}",
        "--db",
        str(db),
        "--state-dir",
        str(state_dir),
        "--tls" if tls else "--no-tls",
    ]
    info_path = state_dir / "sandbox.json"
    info_path.unlink(missing_ok=True)
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while not info_path.exists():
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited: {process.stderr.read().decode() if process.stderr else ''}")
        time.sleep(0.2)
    return process, json.loads(info_path.read_text()), time.perf_counter() - started


async def page_all(info: dict[str, str], select: str | None, page_size: int) -> tuple[int, float, int]:
    """Read every contact; returns (rows, seconds, pages)."""
    ssl_context: ssl.SSLContext | bool = False
    if info.get("ca_bundle"):
        ssl_context = ssl.create_default_context(cafile=info["ca_bundle"])
    async with aiohttp.ClientSession(json_serialize=lambda o: orjson.dumps(o).decode()) as session:
        form = {
            "grant_type": "client_credentials",
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
            "scope": f"{info['org_url']}/.default",
        }
        async with session.post(f"{info['authority']}/oauth2/v2.0/token", data=form, ssl=ssl_context) as response:
            token = (await response.json())["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
            "Prefer": f"odata.maxpagesize={page_size}",
        }
        url: str | None = info["api_url"] + "contacts" + (f"?$select={select}" if select else "")
        rows = pages = 0
        started = time.perf_counter()
        while url:
            async with session.get(url, headers=headers, ssl=ssl_context) as response:
                if response.status != 200:
                    raise RuntimeError(f"{response.status}: {await response.text()}")
                payload: dict[str, Any] = orjson.loads(await response.read())
            rows += len(payload["value"])
            pages += 1
            url = payload.get("@odata.nextLink")
        return rows, time.perf_counter() - started, pages


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=RESULTS, help="Where to write the JSON results.")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "benchmark": "sandbox_paging",
        "contacts": args.contacts,
        "page_size": args.page_size,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "runs": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "scale.db"
        for tls in (False, True):
            state_dir = Path(tmp) / ("tls" if tls else "plain")
            state_dir.mkdir()
            process, info, ready_s = start_sandbox(state_dir, db, args.contacts, tls=tls)
            if not tls:
                results["seed_seconds"] = round(ready_s, 1)
                print(f"seed scale:{args.contacts}: sandbox ready in {ready_s:.1f} s")
            try:
                for label, select in (("sync $select (9 columns)", SELECT), ("full rows", None)):
                    rows, seconds, pages = asyncio.run(page_all(info, select, args.page_size))
                    run = {
                        "transport": "https" if tls else "http",
                        "query": label,
                        "rows": rows,
                        "pages": pages,
                        "seconds": round(seconds, 2),
                        "rows_per_s": round(rows / seconds),
                    }
                    results["runs"].append(run)
                    rate = run["rows_per_s"]
                    print(f"{run['transport']:5} {label:26} {rows:>9,} rows {seconds:7.2f} s {rate:>8,} rows/s")
                    assert rows == args.contacts, f"expected {args.contacts} rows, read {rows}"
            finally:
                stop(process)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
