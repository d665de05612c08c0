"""``salesbridge sandbox``: the local Dynamics 365 (Dataverse Web API v9.2) server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from salesbridge import bootstrap
from salesbridge.cli.rendering import console

app = typer.Typer(help="The sandbox: a local Dynamics 365 (Dataverse Web API v9.2) server.", no_args_is_help=True)


@app.command("serve")
def sandbox_serve(
    host: Annotated[str, typer.Option(help="Address to bind (loopback only by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 0,
    tls: Annotated[bool, typer.Option("--tls/--no-tls", help="Serve HTTPS with a throwaway local CA.")] = False,
    db: Annotated[Path | None, typer.Option(help="SQLite file to keep the org in (default: in memory).")] = None,
    seed: Annotated[str, typer.Option(help="demo | none | scale:N")] = "demo",
    state_dir: Annotated[Path, typer.Option(help="Where sandbox.json (and TLS files) are written.")] = Path(".sandbox"),
    fault_seed: Annotated[int, typer.Option(help="Seed of the fault generator.")] = 0,
    fault_throttle_rate: Annotated[float, typer.Option(help="Share of requests answered 429.")] = 0.0,
    fault_unavailable_rate: Annotated[float, typer.Option(help="Share of requests answered 503.")] = 0.0,
    fault_reset_rate: Annotated[float, typer.Option(help="Share of responses cut mid-body.")] = 0.0,
    fault_latency_ms: Annotated[float, typer.Option(help="Latency added to every request.")] = 0.0,
    change_tracking_days: Annotated[int, typer.Option(help="Days a change-tracking token stays valid.")] = 7,
) -> None:
    """Start the sandbox and write STATE_DIR/sandbox.json once it accepts connections."""
    try:
        spec = bootstrap.sandbox_seed(seed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--seed") from None
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"Seeding ({seed})", total=None)
        sandbox = bootstrap.local_sandbox(
            seed=spec,
            db_path=db,
            change_tracking_days=change_tracking_days,
            fault_seed=fault_seed,
            throttle_rate=fault_throttle_rate,
            unavailable_rate=fault_unavailable_rate,
            reset_rate=fault_reset_rate,
            latency_ms=fault_latency_ms,
            progress=lambda rows: progress.update(task, completed=rows),
        )
    console.print(f"[dim]Organization ready in {time.perf_counter() - started:.1f} s.[/dim]")

    def on_ready(info: dict[str, str], path: Path) -> None:
        console.print(f"[bold green]Sandbox ready[/bold green] — Dynamics 365 Web API at {info['api_url']}")
        typer.echo(json.dumps(info, indent=2))
        console.print(f"[dim]Written to {path}. Stop with Ctrl+C.[/dim]")

    # Kept in a file, a restarted sandbox keeps its certificate too: connected workspaces trust its ca.pem.
    keep_tls = db is not None
    bootstrap.serve_sandbox(
        sandbox, state_dir=state_dir, host=host, port=port, tls=tls, keep_tls=keep_tls, on_ready=on_ready
    )
