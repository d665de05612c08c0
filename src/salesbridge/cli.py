"""The ``salesbridge`` command line: thin — parse, call, render."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

app = typer.Typer(
    help="salesbridge: the bridge between a sales workspace and Microsoft Dynamics 365.", no_args_is_help=True
)
sandbox_app = typer.Typer(
    help="The sandbox: a local Dynamics 365 (Dataverse Web API v9.2) server.", no_args_is_help=True
)
app.add_typer(sandbox_app, name="sandbox")
console = Console()


@sandbox_app.command("serve")
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
    from salesbridge.sandbox.faults import FaultConfig
    from salesbridge.sandbox.runtime import build_sandbox
    from salesbridge.sandbox.seed import parse_seed
    from salesbridge.sandbox.server import serve_forever, write_state_file
    from salesbridge.sandbox.state import SandboxConfig
    from salesbridge.sandbox.tls import create_tls_material

    try:
        spec = parse_seed(seed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--seed") from None
    faults = FaultConfig(
        seed=fault_seed,
        throttle_rate=fault_throttle_rate,
        unavailable_rate=fault_unavailable_rate,
        reset_rate=fault_reset_rate,
        latency_ms=fault_latency_ms,
    )
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
        sandbox = build_sandbox(
            db_path=str(db) if db else None,
            seed=spec,
            config=SandboxConfig(change_tracking_expiry_days=change_tracking_days),
            faults=faults,
            progress=lambda rows: progress.update(task, completed=rows),
        )
    console.print(f"[dim]Organization ready in {time.perf_counter() - started:.1f} s.[/dim]")
    material = create_tls_material(state_dir) if tls else None

    def on_ready(base_url: str) -> None:
        info = sandbox.connection_info(base_url, str(material.ca_bundle) if material else None)
        path = write_state_file(state_dir, info)
        console.print(f"[bold green]Sandbox ready[/bold green] — Dynamics 365 Web API at {info['api_url']}")
        typer.echo(json.dumps(info, indent=2))
        console.print(f"[dim]Written to {path}. Stop with Ctrl+C.[/dim]")

    serve_forever(sandbox.app, host=host, port=port, tls=material, on_ready=on_ready)


@app.command("demo")
def demo(
    state_dir: Annotated[Path, typer.Option(help="Where sandbox.json and TLS files are written.")] = Path(".sandbox"),
    port: Annotated[int, typer.Option(help="Port of the sandbox; 0 picks a free one.")] = 0,
) -> None:
    """The main job on the embedded default: the sandbox over TLS with the demo org."""
    sandbox_serve(host="127.0.0.1", port=port, tls=True, db=None, seed="demo", state_dir=state_dir)


def main() -> None:
    """Console entry point."""
    app()
