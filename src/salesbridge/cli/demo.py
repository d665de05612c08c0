"""``salesbridge demo``: the sandbox, a workspace connected to it, and the console, in one command."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel

from salesbridge import bootstrap, bootstrap_demo
from salesbridge.cli.rendering import console, errors_reported, failure
from salesbridge.cli.sync import import_with_progress
from salesbridge.services.crm_status import crm_status
from salesbridge.web.localized import crm_state


def demo(
    state_dir: Annotated[Path, typer.Option(help="Where sandbox.json, TLS files and the demo store go.")] = Path(
        ".sandbox"
    ),
    port: Annotated[int, typer.Option(help="Port of the sandbox; 0 picks a free one.")] = 0,
    console_port: Annotated[int, typer.Option(help="Port of the console.")] = 8000,
) -> None:
    """The main job on the embedded default: the sandbox (Dynamics 365 over TLS, demo org), a fresh SQLite
    workspace connected to it with seats assigned from its users, and the console on 127.0.0.1. Prints the
    environment that points the CLI at the demo's workspace (also written to STATE_DIR/demo.env)."""
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    with console.status("Seeding the sandbox's demo organization…"):
        sandbox = bootstrap.local_sandbox(seed=bootstrap.sandbox_seed("demo"))
    with bootstrap.serving_demo_sandbox(sandbox, state_dir=state_dir, port=port) as crm:
        console.print(f"[bold green]Sandbox ready[/bold green] — Dynamics 365 Web API at {crm.api_url}")
        settings = bootstrap.demo_settings(state_dir, console_port=console_port)
        with console.status("Connecting the demo workspace and assigning seats from the CRM…"), errors_reported():
            services = bootstrap.fresh_demo_workspace(settings)
            # No SMTP server in the demo: the invitations it would email are printed (bootstrap.mailer).
            workspace = asyncio.run(
                bootstrap.prepare_demo_workspace(
                    services.store,
                    crm.credentials,
                    mailer=bootstrap.mailer(settings),
                    console_url=bootstrap.public_base_url(settings),
                )
            )
            status = crm_status(services.store, slug=workspace.organization)
        organization_id = services.store.organization_id(workspace.organization)
        assert organization_id is not None
        acting_as = status.crm_user_name or status.crm_user_id
        console.print(f"[bold green]{crm_state(status, 'en')}[/] — {status.org_url} as {acting_as}", highlight=False)
        console.print("First import of the CRM:", highlight=False)
        outcome = import_with_progress(services, organization_id)
        if outcome is None or not outcome.succeeded:
            raise failure(f"The first import failed: {outcome.error if outcome else 'another import is running'}")
        with console.status("Loading the workspace's people and companies and matching them with the CRM…"):
            loaded = bootstrap.load_demo_people(services.store, sandbox, slug=workspace.organization)
        matched = loaded.matching
        console.print(
            f"[bold green]Workspace loaded[/bold green] — {loaded.people.loaded} people, "
            f"{loaded.companies.loaded} companies; matched with the CRM: "
            f"{matched.people.matched + matched.companies.matched} records tied, "
            f"{matched.people.review + matched.companies.review} to review",
            highlight=False,
        )
        console_url = bootstrap.public_base_url(settings) + "/"
        with (
            console.status("Installing the CRM-side app, logging sellers' activities, writing them back…"),
            errors_reported(),
        ):
            written = asyncio.run(bootstrap_demo.demo_writeback(services.store, workspace))
        _print_writeback(written, console_url, crm.api_url)
        environment = bootstrap.write_demo_environment(settings, state_dir)
        console.print(
            Panel.fit(
                f"Console:   {console_url}\n"
                f"Workspace: {workspace.organization}\n"
                f"Admin:     {workspace.admin_email}\n"
                f"Seller:    {workspace.seller_email}\n"
                f"Seller 2:  {written.held_seller_email}   (CRM sync off)\n"
                f"Password:  {workspace.password.get_secret_value()}   (all three; generated for this run)\n"
                f"Invited:   {', '.join(workspace.invited)}",
                title="salesbridge demo",
            ),
            highlight=False,
        )
        console.print("The CLI on this workspace, from another terminal (or: source " + str(environment) + "):")
        for line in bootstrap.demo_exports(settings):
            console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
        console.print("[dim]Stop with Ctrl+C.[/dim]")
        # The console as `salesbridge serve` builds it, on a store of its own (the console's SQLite memory limit,
        # not the first import's): the workspace's connections are closed first.
        services.close()
        app_ = bootstrap.build_console(settings, secure_cookies=False)
        # The console's import runner imports in this process: the collector runs less often for its lifetime.
        with bootstrap.fewer_collections():
            bootstrap.serve_console(app_, host="127.0.0.1", port=console_port)


_ITEM_NAMES = {"inmail": "InMail"}


def _print_writeback(written: bootstrap_demo.DemoWriteback, console_url: str, api_url: str) -> None:
    """What the demo's writeback did, and where to see it: the console's Writeback page and the CRM's timeline."""
    created = f" ({len(written.app_created)} definitions created)" if written.app_created else ""
    console.print(
        f"[bold green]Activity writeback[/bold green] — CRM-side app installed{created}, writeback on for all data "
        f"items; the sellers' activities, after one drain:",
        highlight=False,
    )
    for reason, logged in written.by_reason().items():
        who: dict[tuple[str, str], list[str]] = {}
        for entry in logged:
            item = entry.activity.item.value
            who.setdefault((entry.author_email, entry.person_name), []).append(_ITEM_NAMES.get(item, item))
        what = "; ".join(f"{', '.join(items)} by {author} on {person}" for (author, person), items in who.items())
        console.print(f"  {reason}: {len(logged)} — {what}", highlight=False, markup=False)
    console.print(f"  See them on the Writeback page: {console_url}admin/writeback", highlight=False, markup=False)
    console.print(
        f"  and on {written.person_name}'s contact in the CRM (Web API; a token as README's 'Pointing a client at "
        f"it' says):\n    GET {bootstrap_demo.activities_query(api_url, written.contact_id)}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
