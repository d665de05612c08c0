"""``salesbridge serve``: the web console."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from salesbridge import bootstrap, diagnostics
from salesbridge.cli.invocation import settings
from salesbridge.cli.rendering import console, errors_reported


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind; plain HTTP is allowed on loopback only.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db_url: Annotated[
        str | None, typer.Option("--db", "--db-url", help="Store URL; SALESBRIDGE_DATABASE_URL when omitted.")
    ] = None,
    certfile: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="TLS certificate (PEM): serve HTTPS.")
    ] = None,
    keyfile: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="TLS private key (PEM).")] = None,
    no_worker: Annotated[
        bool,
        typer.Option(
            "--no-worker",
            help="Serve the console only: run no background jobs in this process (`salesbridge worker` runs them).",
        ),
    ] = False,
) -> None:
    """Serve the web console (pages at /, JSON API at /api/v1). HTTPS with --certfile/--keyfile; without them
    plain HTTP on the loopback interface only, with non-Secure cookies. Links the console gives out start with
    SALESBRIDGE_PUBLIC_BASE_URL, else the address it listens on."""
    if (certfile is None) != (keyfile is None):
        raise typer.BadParameter("give both --certfile and --keyfile, or neither")
    tls = certfile is not None
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not tls and not loopback:
        raise typer.BadParameter("without a certificate the console listens on loopback only", param_hint="--host")
    if not loopback and settings(ctx).public_base_url is None:
        # Its links and the one Host it answers come from that address: the bound one (0.0.0.0…) is nobody's.
        raise typer.BadParameter(
            "set SALESBRIDGE_PUBLIC_BASE_URL to the address people use to reach the console, "
            "e.g. https://console.example.com",
            param_hint="--host",
        )
    bootstrap.fewer_malloc_arenas()  # before the server's and the runner's threads start
    scheme = "https" if tls else "http"
    listening = f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"
    with errors_reported():
        console_app = bootstrap.build_console(
            settings(ctx), db_url, secure_cookies=tls, serving_at=listening, run_imports=not no_worker
        )
    console.print(f"[bold green]Console[/bold green] at {scheme}://{host}:{port}/ — stop with Ctrl+C.", highlight=False)
    # The console's import runner imports in this process: the collector runs less often for its lifetime.
    options = settings(ctx)
    trace = diagnostics.allocation_trace(
        options.tracemalloc_file, options.tracemalloc_every_seconds, options.tracemalloc_frames
    )
    with bootstrap.fewer_collections(), bootstrap.free_memory_released(options.free_memory_every_seconds), trace:
        bootstrap.serve_console(console_app, host=host, port=port, certfile=certfile, keyfile=keyfile)
