"""Benchmark: which async HTTP client the Dynamics connector should use, measured side by side.

Serves the sandbox in its own process and sends the same Web API request (``WhoAmI``, a small JSON
answer, like most connector calls) N times at a given concurrency with aiohttp and with httpx's async
client, alternating rounds so that machine noise hits both alike. Reports requests/s and the ratio.

Run: ``.venv/bin/python -m bench.http_clients [--requests 2000] [--concurrency 20]``.
Results: ``bench/results/http_clients.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson

from bench.sandbox_paging import start_sandbox, stop

RESULTS = Path(__file__).parent / "results" / "http_clients.json"


def token_for(info: dict[str, str], context: ssl.SSLContext) -> str:
    with httpx.Client(verify=context) as client:
        form = {
            "grant_type": "client_credentials",
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
            "scope": f"{info['org_url']}/.default",
        }
        return str(client.post(f"{info['authority']}/oauth2/v2.0/token", data=form).json()["access_token"])


async def run_aiohttp(
    url: str, headers: dict[str, str], context: ssl.SSLContext, total: int, concurrency: int
) -> float:
    connector = aiohttp.TCPConnector(limit=concurrency, ssl=context)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            async with session.get(url, headers=headers) as response:
                orjson.loads(await response.read())

        return await _drive(one, total, concurrency)


async def run_httpx(url: str, headers: dict[str, str], context: ssl.SSLContext, total: int, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(verify=context, limits=limits) as client:

        async def one() -> None:
            response = await client.get(url, headers=headers)
            orjson.loads(response.content)

        return await _drive(one, total, concurrency)


async def _drive(one: Callable[[], Awaitable[None]], total: int, concurrency: int) -> float:
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {"aiohttp": [], "httpx": []}
    with tempfile.TemporaryDirectory() as tmp:
        state_dir = Path(tmp) / "state"
        state_dir.mkdir()
        process, info, _ = start_sandbox(state_dir, Path(tmp) / "org.db", 1, tls=True)
        try:
            context = ssl.create_default_context(cafile=info["ca_bundle"])
            headers = {"Authorization": f"Bearer {token_for(info, context)}", "Accept": "application/json"}
            url = info["api_url"] + "WhoAmI"
            for _ in range(args.rounds):
                seconds["aiohttp"].append(
                    asyncio.run(run_aiohttp(url, headers, context, args.requests, args.concurrency))
                )
                seconds["httpx"].append(asyncio.run(run_httpx(url, headers, context, args.requests, args.concurrency)))
        finally:
            stop(process)
    rates = {name: args.requests / min(values) for name, values in seconds.items()}
    result: dict[str, Any] = {
        "benchmark": "http_clients",
        "requests": args.requests,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "best_requests_per_s": {name: round(rate) for name, rate in rates.items()},
        "aiohttp_over_httpx": round(rates["aiohttp"] / rates["httpx"], 2),
    }
    for name, rate in rates.items():
        print(f"{name:8} {rate:8,.0f} req/s (best of {args.rounds})")
    print(f"aiohttp / httpx = {result['aiohttp_over_httpx']}x at concurrency {args.concurrency}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
