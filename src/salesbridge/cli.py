"""The ``salesbridge`` command line: thin — parse, call, render."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from salesbridge.errors import SalesbridgeError

if TYPE_CHECKING:
    from salesbridge.services.connect import StoreAccess
    from salesbridge.services.crm_settings import CrmSettingsService, CrmSettingsView
    from salesbridge.services.seats import SeatOverview, SeatService
    from salesbridge.services.sync import RunOutcome

app = typer.Typer(
    help="salesbridge: the bridge between a sales workspace and Microsoft Dynamics 365.", no_args_is_help=True
)
sandbox_app = typer.Typer(
    help="The sandbox: a local Dynamics 365 (Dataverse Web API v9.2) server.", no_args_is_help=True
)
app.add_typer(sandbox_app, name="sandbox")
org_app = typer.Typer(help="Organizations of the workspace.", no_args_is_help=True)
app.add_typer(org_app, name="org")
crm_app = typer.Typer(help="The organization's connection to Microsoft Dynamics 365.", no_args_is_help=True)
app.add_typer(crm_app, name="crm")
user_app = typer.Typer(help="Users of an organization.", no_args_is_help=True)
app.add_typer(user_app, name="user")
token_app = typer.Typer(help="API tokens of users.", no_args_is_help=True)
app.add_typer(token_app, name="token")
sync_app = typer.Typer(help="Importing the CRM into the workspace: run now, and the status.", no_args_is_help=True)
app.add_typer(sync_app, name="sync")
seats_app = typer.Typer(
    help="Seats: who holds one, their CRM sync, and assigning them from the CRM.", no_args_is_help=True
)
app.add_typer(seats_app, name="seats")
lists_app = typer.Typer(help="Saved lists, including the two lists auto-save keeps.", no_args_is_help=True)
app.add_typer(lists_app, name="lists")
crm_settings_app = typer.Typer(
    help="CRM settings: pipeline stage, won value, auto-save, sync interval.", no_args_is_help=True
)
crm_app.add_typer(crm_settings_app, name="settings")
console = Console()

DbUrlOption = Annotated[
    str | None, typer.Option("--db-url", help="Store URL; SALESBRIDGE_DATABASE_URL (settings) when omitted.")
]


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
    state_dir: Annotated[Path, typer.Option(help="Where sandbox.json, TLS files and the demo store go.")] = Path(
        ".sandbox"
    ),
    port: Annotated[int, typer.Option(help="Port of the sandbox; 0 picks a free one.")] = 0,
    console_port: Annotated[int, typer.Option(help="Port of the console.")] = 8000,
) -> None:
    """The main job on the embedded default: the sandbox (Dynamics 365 over TLS, demo org), a fresh SQLite
    workspace connected to it with seats assigned from its users, and the console on 127.0.0.1."""
    import uvicorn
    from rich.panel import Panel

    from salesbridge.bootstrap import (
        console_services,
        import_runner,
        open_store,
        prepare_demo_workspace,
    )
    from salesbridge.sandbox.runtime import build_sandbox
    from salesbridge.sandbox.seed import parse_seed
    from salesbridge.sandbox.server import serve_in_thread, write_state_file
    from salesbridge.sandbox.tls import create_tls_material
    from salesbridge.services.connect import CrmCredentials, crm_status
    from salesbridge.settings import Settings
    from salesbridge.web.app import create_app

    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    with console.status("Seeding the sandbox's demo organization…"):
        sandbox = build_sandbox(seed=parse_seed("demo"))
    material = create_tls_material(state_dir)
    with serve_in_thread(sandbox.app, port=port, tls=material) as server:
        info = sandbox.connection_info(server.base_url, str(material.ca_bundle))
        write_state_file(state_dir, info)
        console.print(f"[bold green]Sandbox ready[/bold green] — Dynamics 365 Web API at {info['api_url']}")
        store_file = state_dir / "demo-workspace.db"
        store_file.unlink(missing_ok=True)  # the sandbox is new on every run, so is the workspace
        settings = Settings(credential_key_file=state_dir / "credential.key")
        store = open_store(settings, f"sqlite:///{store_file}")
        crm = CrmCredentials(
            org_url=info["org_url"],
            tenant_id=info["tenant_id"],
            client_id=info["client_id"],
            client_secret=SecretStr(info["client_secret"]),
            ca_bundle=material.ca_bundle,
            authority=info["authority"],
        )
        with console.status("Connecting the demo workspace and assigning seats from the CRM…"):
            try:
                workspace = asyncio.run(prepare_demo_workspace(store, crm))
            except SalesbridgeError as exc:
                raise _fail(str(exc)) from None
        organization_id = store.organization_id(workspace.organization)
        assert organization_id is not None
        status = crm_status(store, slug=workspace.organization)
        console.print(
            f"[bold green]{status.state_label()}[/] — {status.org_url} as {status.crm_user_name or status.crm_user_id}",
            highlight=False,
        )
        console.print("First import of the CRM:", highlight=False)
        outcome = _import_with_progress(store, organization_id, timedelta(seconds=settings.import_lease_seconds))
        if outcome is None or not outcome.succeeded:
            raise _fail(f"The first import failed: {outcome.error if outcome else 'another import is running'}")
        console_url = f"http://127.0.0.1:{console_port}/"
        console.print(
            Panel.fit(
                f"Console:   {console_url}\n"
                f"Workspace: {workspace.organization}\n"
                f"Admin:     {workspace.admin_email}\n"
                f"Seller:    {workspace.seller_email}\n"
                f"Password:  {workspace.password.get_secret_value()}   (both; generated for this run)\n"
                f"Invited:   {', '.join(workspace.invited)}",
                title="salesbridge demo",
            ),
            highlight=False,
        )
        console.print("[dim]Stop with Ctrl+C.[/dim]")
        runner = import_runner(store, settings)
        services = console_services(store, wake_importer=runner.wake)
        app_ = create_app(services, secure_cookies=False, background=(runner,))
        uvicorn.run(app_, host="127.0.0.1", port=console_port, log_level="warning")


def _store(db_url: str | None) -> StoreAccess:
    from salesbridge.bootstrap import open_store
    from salesbridge.settings import Settings

    return open_store(Settings(), db_url)


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[bold red]{message}[/bold red]", highlight=False)
    return typer.Exit(code)


@org_app.command("create")
def org_create(
    slug: Annotated[str, typer.Argument(metavar="ORG", help="The organization's short name (its slug).")],
    name: Annotated[str | None, typer.Option(help="Display name; the slug when omitted.")] = None,
    seats: Annotated[int, typer.Option(min=0, help="Seats purchased in the contract.")] = 0,
    db_url: DbUrlOption = None,
) -> None:
    """Create an organization. Idempotent: an existing one is left unchanged."""
    from salesbridge.services.connect import create_organization

    try:
        create_organization(_store(db_url), slug=slug, name=name, seats=seats)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    except SalesbridgeError as exc:
        raise _fail(str(exc)) from None
    console.print(f"Organization [bold]{slug}[/bold] is ready.", highlight=False)


@crm_app.command("connect")
def crm_connect(
    org: Annotated[str, typer.Option(help="The organization to connect.")],
    url: Annotated[str, typer.Option(help="The Dynamics organization URL, https://<org>.crm.dynamics.com.")],
    tenant_id: Annotated[str, typer.Option(help="The Entra tenant (directory) id.")],
    client_id: Annotated[str, typer.Option(help="The application (client) id.")],
    client_secret_file: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, readable=True, help="File holding the client secret.")
    ],
    ca_bundle: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="PEM of CAs to trust instead of the system's.")
    ] = None,
    authority: Annotated[
        str | None,
        typer.Option(
            help="Identity authority; https://login.microsoftonline.com/<tenant> when omitted. "
            "For the local sandbox: <org url>/<tenant>."
        ),
    ] = None,
    lang: Annotated[str, typer.Option(help="Language of the messages: en | es.")] = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Check the CRM (sign-in, privileges, tables, columns, change tracking), then store the connection and
    queue the first import. Exit code 0 when connected, 1 on any other outcome, 2 on bad usage."""
    from salesbridge.i18n import SUPPORTED_LOCALES, translate
    from salesbridge.services.connect import (
        CrmCredentials,
        DifferentCrmOrganizationError,
        OutcomeKind,
        connect_crm,
    )

    if lang not in SUPPORTED_LOCALES:
        raise typer.BadParameter(f"use one of {', '.join(SUPPORTED_LOCALES)}", param_hint="--lang")
    if urlsplit(url).scheme != "https" or not urlsplit(url).netloc:
        raise typer.BadParameter("the organization URL must be https://…", param_hint="--url")
    secret = client_secret_file.read_text(encoding="utf-8").strip()
    if not secret:
        raise typer.BadParameter("the file is empty", param_hint="--client-secret-file")
    credentials = CrmCredentials(
        org_url=url.rstrip("/"),
        tenant_id=tenant_id,
        client_id=client_id,
        client_secret=SecretStr(secret),
        ca_bundle=ca_bundle.resolve() if ca_bundle else None,
        authority=authority,
    )
    from salesbridge.bootstrap import dynamics_session

    try:
        outcome = asyncio.run(connect_crm(_store(db_url), dynamics_session, slug=org, credentials=credentials))
    except DifferentCrmOrganizationError as exc:
        raise _fail(exc.localized(lang)) from None
    except SalesbridgeError as exc:
        raise _fail(str(exc)) from None
    if outcome.is_connected:
        console.print("[bold green]" + translate("Connected to Microsoft Dynamics", lang) + "[/]", highlight=False)
        console.print(outcome.message(lang), highlight=False)
        return
    console.print(f"[bold red]{outcome.message(lang)}[/bold red]", highlight=False)
    if outcome.missing_privileges or outcome.kind is OutcomeKind.INSUFFICIENT_PRIVILEGES:
        console.print(translate("Missing privileges", lang) + ":", highlight=False)
    elif outcome.missing_objects:
        console.print(translate("Missing tables, columns or settings", lang) + ":", highlight=False)
    for line in outcome.details():
        console.print(f"  • {line}", highlight=False, markup=False)
    if outcome.reason:
        console.print(translate("Details", lang) + f": {outcome.reason}", highlight=False, markup=False)
    raise typer.Exit(1)


@crm_app.command("status")
def crm_status_command(
    org: Annotated[str, typer.Option(help="The organization.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    lang: Annotated[str, typer.Option(help="Language of the labels: en | es.")] = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Show the connection's state, organization URL, CRM user, connected since, last error and queued imports."""
    from rich.table import Table

    from salesbridge.i18n import SUPPORTED_LOCALES
    from salesbridge.services.connect import crm_status

    if lang not in SUPPORTED_LOCALES:
        raise typer.BadParameter(f"use one of {', '.join(SUPPORTED_LOCALES)}", param_hint="--lang")
    try:
        status = crm_status(_store(db_url), slug=org)
    except SalesbridgeError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(status.to_json(lang), indent=2))
        return
    table = Table(show_header=False, box=None)
    table.add_row("State", status.state_label(lang))
    table.add_row("Org URL", status.org_url or "—")
    crm_user = f"{status.crm_user_name} ({status.crm_user_id})" if status.crm_user_name else status.crm_user_id
    table.add_row("CRM user", crm_user or "—")
    table.add_row("Connected since", status.connected_since.isoformat() if status.connected_since else "—")
    table.add_row("Last error", status.last_error or "—")
    for queued in status.queued_imports:
        table.add_row("Import", f"{queued.state} since {queued.requested_at.isoformat()} ({queued.reason})")
    console.print(table)


@crm_app.command("disconnect")
def crm_disconnect(
    org: Annotated[str, typer.Option(help="The organization to disconnect.")],
    purge: Annotated[
        bool, typer.Option("--purge", help="Yes, clean up all previously imported CRM data (users and seats stay).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
    lang: Annotated[str, typer.Option(help="Language of the messages: en | es.")] = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Disconnect CRM sync: cancel queued and running imports and delete the stored credentials; with --purge,
    also delete all previously imported CRM data. Says what will be deleted and asks first unless --yes.
    Idempotent. Exit code 0 when disconnected, 1 when declined or on error."""
    from salesbridge.i18n import SUPPORTED_LOCALES, translate
    from salesbridge.services.disconnect import disconnect_crm, disconnect_preview

    if lang not in SUPPORTED_LOCALES:
        raise typer.BadParameter(f"use one of {', '.join(SUPPORTED_LOCALES)}", param_hint="--lang")
    store = _store(db_url)
    try:
        if not yes:
            preview = disconnect_preview(store, slug=org)
            for line in preview.describe(purge=purge, locale=lang):
                console.print(line, highlight=False, markup=False)
            if not typer.confirm(translate("Disconnect CRM sync?", lang), default=False):
                raise _fail(translate("Nothing was changed.", lang))
        outcome = disconnect_crm(store, slug=org, purge=purge, actor="cli")
    except SalesbridgeError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(outcome.to_json(lang), indent=2))
        return
    console.print(outcome.message(lang), highlight=False, markup=False)


LangOption = Annotated[str, typer.Option(help="Language of the messages: en | es.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _checked_lang(lang: str) -> str:
    from salesbridge.i18n import SUPPORTED_LOCALES

    if lang not in SUPPORTED_LOCALES:
        raise typer.BadParameter(f"use one of {', '.join(SUPPORTED_LOCALES)}", param_hint="--lang")
    return lang


def _error_text(error: SalesbridgeError, lang: str) -> str:
    from salesbridge.errors import InvalidRequestError

    return error.localized(lang) if isinstance(error, InvalidRequestError) else str(error)


def _seat_service(db_url: str | None) -> SeatService:
    from datetime import UTC, datetime

    from salesbridge.services.seats import SeatService

    return SeatService(_store(db_url), clock=lambda: datetime.now(UTC))


def _print_seats(overview: SeatOverview, lang: str) -> None:
    from rich.table import Table

    from salesbridge.i18n import N_, translate

    console.print(
        translate("{assigned} of {purchased} seats assigned; {left} left.", lang).format(
            assigned=overview.seats_assigned, purchased=overview.seats_purchased, left=overview.seats_left
        ),
        highlight=False,
    )
    automatic = translate("Yes", lang) if overview.sync_all_seats else translate("No", lang)
    console.print(translate("Sync CRM for all seats automatically", lang) + f": {automatic}", highlight=False)
    table = Table()
    for header in (N_("Email"), N_("Name"), N_("Seat"), N_("CRM sync"), N_("CRM user"), N_("In CRM")):
        table.add_column(translate(header, lang))
    for seat in overview.seats:
        crm_user = seat.crm_user.full_name if seat.crm_user and seat.match.is_matched else seat.match_label(lang)
        if seat.match_reason(lang):
            crm_user += f"\n{seat.match_reason(lang)} {seat.match_fix(lang)}"
        table.add_row(
            seat.email,
            seat.display_name,
            translate("Invited", lang) if seat.state.value == "invited" else translate("Active", lang),
            translate("On", lang) if seat.crm_sync_active else translate("Off", lang),
            crm_user,
            translate("In CRM", lang) if seat.in_crm else "",
        )
    console.print(table)


@seats_app.command("list")
def seats_list(
    org: Annotated[str, typer.Option(help="The organization.")],
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """List the seats with their CRM sync, CRM user match (or why not, and how to fix it) and "In CRM" badge."""
    lang = _checked_lang(lang)
    try:
        overview = _seat_service(db_url).overview(org)
    except SalesbridgeError as exc:
        raise _fail(_error_text(exc, lang)) from None
    if as_json:
        typer.echo(json.dumps(overview.to_json(lang), indent=2))
        return
    _print_seats(overview, lang)


def _switch_seat_sync(org: str, email: str, *, enabled: bool, as_json: bool, lang: str, db_url: str | None) -> None:
    lang = _checked_lang(lang)
    service = _seat_service(db_url)
    try:
        seat = next((seat for seat in service.overview(org).seats if seat.email.lower() == email.lower()), None)
        if seat is None:
            raise _fail(f"No seat is held by {email}.")
        changed = service.set_seat_crm_sync(org, seat.id, enabled=enabled, actor="cli")
    except SalesbridgeError as exc:
        raise _fail(_error_text(exc, lang)) from None
    if as_json:
        typer.echo(json.dumps(changed.to_json(lang), indent=2))
        return
    state = "enabled" if enabled else "disabled"
    console.print(f"CRM sync {state} for {changed.email}.", highlight=False)


@seats_app.command("enable")
def seats_enable(
    org: Annotated[str, typer.Option(help="The organization.")],
    email: Annotated[str, typer.Option(help="The seat holder's email.")],
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Enable CRM sync for one seat (when automatic sync for all seats is off)."""
    _switch_seat_sync(org, email, enabled=True, as_json=as_json, lang=lang, db_url=db_url)


@seats_app.command("disable")
def seats_disable(
    org: Annotated[str, typer.Option(help="The organization.")],
    email: Annotated[str, typer.Option(help="The seat holder's email.")],
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Disable CRM sync for one seat (when automatic sync for all seats is off)."""
    _switch_seat_sync(org, email, enabled=False, as_json=as_json, lang=lang, db_url=db_url)


@seats_app.command("sync-all")
def seats_sync_all(
    org: Annotated[str, typer.Option(help="The organization.")],
    enabled: Annotated[bool, typer.Option("--on/--off", help="Sync CRM for all seats automatically.")],
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Turn "Sync CRM for all seats automatically" on or off."""
    lang = _checked_lang(lang)
    try:
        overview = _seat_service(db_url).set_sync_all_seats(org, enabled=enabled, actor="cli")
    except SalesbridgeError as exc:
        raise _fail(_error_text(exc, lang)) from None
    if as_json:
        typer.echo(json.dumps(overview.to_json(lang), indent=2))
        return
    _print_seats(overview, lang)


@seats_app.command("import-crm-users")
def seats_import_crm_users(
    org: Annotated[str, typer.Option(help="The organization.")],
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Import the CRM's users now (connecting imports them too) and match every seat again."""
    from salesbridge.bootstrap import dynamics_session

    lang = _checked_lang(lang)
    try:
        result = asyncio.run(_seat_service(db_url).refresh_crm_users(org, dynamics_session, actor="cli"))
    except SalesbridgeError as exc:
        raise _fail(_error_text(exc, lang)) from None
    console.print(
        f"{result.total} CRM users ({result.assignable} can be given a seat): "
        f"{result.added} added, {result.updated} updated, {result.removed} removed.",
        highlight=False,
    )


@seats_app.command("assign-from-crm")
def seats_assign_from_crm(
    org: Annotated[str, typer.Option(help="The organization.")],
    email: Annotated[
        list[str] | None, typer.Option(help="A CRM user's email to give a seat to; repeat for several.")
    ] = None,
    select_all: Annotated[bool, typer.Option("--all", help="Every CRM user who can be given a seat.")] = False,
    console_url: Annotated[
        str, typer.Option(help="Base URL of the console, for the invitation links.")
    ] = "http://127.0.0.1:8000",
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Without --email or --all: list the active CRM users holding no seat. With them: assign seats and print
    each invitation link (shown once). Never more seats than the contract has left."""
    from rich.table import Table

    lang = _checked_lang(lang)
    service = _seat_service(db_url)
    try:
        offered = service.assignable_crm_users(org)
        if not email and not select_all:
            if as_json:
                typer.echo(json.dumps([user.to_json() for user in offered], indent=2))
                return
            table = Table()
            table.add_column("Name")
            table.add_column("Email")
            for user in offered:
                table.add_row(user.full_name, user.email or "")
            console.print(table)
            return
        by_email = {(user.email or "").lower(): user for user in offered}
        unknown = [address for address in email or () if address.lower() not in by_email]
        if unknown:
            raise _fail("Not CRM users who can be given a seat: " + ", ".join(unknown))
        chosen = offered if select_all else [by_email[address.lower()] for address in email or ()]
        invitations = service.assign_from_crm(org, [user.id for user in chosen], actor="cli")
    except SalesbridgeError as exc:
        raise _fail(_error_text(exc, lang)) from None
    links = [
        {
            "email": invitation.email,
            "seat_id": str(invitation.seat_id),
            "invitation_url": console_url.rstrip("/") + invitation.path,
        }
        for invitation in invitations
    ]
    if as_json:
        typer.echo(json.dumps(links, indent=2))
        return
    for link in links:
        console.print(f"{link['email']}: {link['invitation_url']}", highlight=False, markup=False)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to bind; plain HTTP is allowed on loopback only.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db_url: Annotated[
        str | None, typer.Option("--db", "--db-url", help="Store URL; SALESBRIDGE_DATABASE_URL when omitted.")
    ] = None,
    certfile: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="TLS certificate (PEM): serve HTTPS.")
    ] = None,
    keyfile: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="TLS private key (PEM).")] = None,
) -> None:
    """Serve the web console (pages at /, JSON API at /api/v1). HTTPS with --certfile/--keyfile; without them
    plain HTTP on the loopback interface only, with non-Secure cookies."""
    import ipaddress

    import uvicorn

    from salesbridge.bootstrap import build_console
    from salesbridge.settings import Settings

    if (certfile is None) != (keyfile is None):
        raise typer.BadParameter("give both --certfile and --keyfile, or neither")
    tls = certfile is not None
    if not tls:
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise typer.BadParameter("without a certificate the console listens on loopback only", param_hint="--host")
    try:
        console_app = build_console(Settings(), db_url, secure_cookies=tls)
    except SalesbridgeError as exc:
        raise _fail(str(exc)) from None
    scheme = "https" if tls else "http"
    console.print(f"[bold green]Console[/bold green] at {scheme}://{host}:{port}/ — stop with Ctrl+C.", highlight=False)
    uvicorn.run(
        console_app,
        host=host,
        port=port,
        ssl_certfile=str(certfile) if certfile else None,
        ssl_keyfile=str(keyfile) if keyfile else None,
        log_level="warning",
        access_log=False,
    )


def _read_password(password_file: Path | None, password_stdin: bool) -> SecretStr | None:
    import sys

    if password_file is not None and password_stdin:
        raise typer.BadParameter("give --password-file or --password-stdin, not both")
    if password_file is not None:
        return SecretStr(password_file.read_text(encoding="utf-8").rstrip("\r\n"))
    if password_stdin:
        return SecretStr(sys.stdin.readline().rstrip("\r\n"))
    return None


@user_app.command("create")
def user_create(
    org: Annotated[str, typer.Option(help="The organization (slug).")],
    email: Annotated[str, typer.Option(help="The user's email; unique in the organization.")],
    name: Annotated[str, typer.Option(help="The user's display name.")],
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an administrator.")] = False,
    seat: Annotated[bool, typer.Option("--seat", help="Give the user an active seat.")] = False,
    password_file: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, readable=True, help="File holding the password.")
    ] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    locale: Annotated[str, typer.Option(help="Console language: en | es.")] = "en",
    as_json: Annotated[bool, typer.Option("--json", help="Print the new user as JSON.")] = False,
    db_url: DbUrlOption = None,
) -> None:
    """Add a user (without a password they can only use API tokens until invited). Not idempotent."""
    from salesbridge.services.accounts import AccountService, InvalidInputError
    from salesbridge.store.uow import utc_now

    password = _read_password(password_file, password_stdin)
    try:
        principal = AccountService(_store(db_url), clock=utc_now).create_user(
            org,
            email=email,
            display_name=name,
            password=password,
            is_admin=admin,
            with_seat=seat,
            locale=locale,
            actor="cli",
        )
    except InvalidInputError as exc:
        raise typer.BadParameter(str(exc), param_hint=f"--{exc.field.replace('_', '-')}") from None
    except SalesbridgeError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        view = {
            "organization": principal.organization_slug,
            "user_id": str(principal.user_id),
            "email": principal.email,
            "is_admin": principal.is_admin,
            "has_seat": principal.has_seat,
            "locale": principal.locale,
        }
        typer.echo(json.dumps(view, indent=2))
        return
    console.print(f"User [bold]{principal.email}[/bold] added to {principal.organization_slug}.", highlight=False)


@token_app.command("create")
def token_create(
    org: Annotated[str, typer.Option(help="The organization (slug).")],
    email: Annotated[str, typer.Option(help="The user the token acts for.")],
    name: Annotated[str, typer.Option(help="What the token is for.")],
    db_url: DbUrlOption = None,
) -> None:
    """Create an API token for a user and print it once (on stdout, alone on its line)."""
    from salesbridge.services.accounts import AccountService
    from salesbridge.store.uow import utc_now

    try:
        accounts = AccountService(_store(db_url), clock=utc_now)
        view, secret = accounts.create_api_token(accounts.principal_of(org, email), name)
    except SalesbridgeError as exc:
        raise _fail(str(exc)) from None
    console.print(f"Token [bold]{view.name}[/bold] ({view.prefix}…) created; it is shown only now:", highlight=False)
    typer.echo(secret.get_secret_value())


def _import_with_progress(store: StoreAccess, organization_id: uuid.UUID, lease: timedelta) -> RunOutcome | None:
    """Run the organization's queued import here, with a progress bar per table."""
    from datetime import UTC, datetime

    from salesbridge.bootstrap import dynamics_session
    from salesbridge.services.sync import run_pending_import

    with Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def on_page(table: str, rows: int) -> None:
            if table not in tasks:
                tasks[table] = progress.add_task(table, total=None)
            progress.update(tasks[table], completed=rows)

        return asyncio.run(
            run_pending_import(
                store,
                dynamics_session,
                organization_id,
                clock=lambda: datetime.now(UTC),
                progress=on_page,
                lease=lease,
            )
        )


@sync_app.command("run")
def sync_run(
    org: Annotated[str, typer.Option(help="The organization.")],
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Import the CRM now (the first run reads everything, later runs only what changed), with a progress bar per
    table. Exit code 0 when the import succeeded, 1 otherwise."""
    from salesbridge.services.sync import request_sync
    from salesbridge.settings import Settings

    lang = _checked_lang(lang)
    store = _store(db_url)
    lease = timedelta(seconds=Settings().import_lease_seconds)
    try:
        run_id = request_sync(store, slug=org, actor="cli")
    except SalesbridgeError as exc:
        raise _fail(_error_text(exc, lang)) from None
    organization_id = store.organization_id(org)
    assert organization_id is not None  # request_sync found it
    outcome = _import_with_progress(store, organization_id, lease)
    if outcome is None:
        raise _fail("Another import of this organization is running; try again when it ends.")
    if not outcome.succeeded:
        raise _fail(f"The import failed: {outcome.error}")
    report = outcome.report
    assert report is not None
    console.print(
        f"[bold green]Imported[/] {report.rows_imported:,} rows, deleted {report.rows_deleted:,} (run {run_id}).",
        highlight=False,
    )


@sync_app.command("status")
def sync_status_command(
    org: Annotated[str, typer.Option(help="The organization.")],
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """The last sync date, the running or queued import, failures since when, and each table's import."""
    from datetime import UTC, datetime

    from rich.table import Table

    from salesbridge.services.sync import sync_status

    lang = _checked_lang(lang)
    try:
        status = sync_status(_store(db_url), slug=org, clock=lambda: datetime.now(UTC))
    except SalesbridgeError as exc:
        raise _fail(_error_text(exc, lang)) from None
    if as_json:
        typer.echo(json.dumps(status.to_json(lang), indent=2))
        return
    last = status.last_sync_at.strftime("%Y-%m-%d %H:%M UTC") if status.last_sync_at else "—"
    console.print(f"Last sync: {last}", highlight=False)
    if status.running_since:
        console.print(f"Import running since {status.running_since:%H:%M:%S} UTC", highlight=False)
    if status.failing:
        console.print(f"[bold red]{status.failure_message(lang)}[/]", highlight=False)
    table = Table()
    for header in ("Table", "Mode", "Last success", "Rows", "Imported", "Deleted", "Failures"):
        table.add_column(header)
    for row in status.tables:
        table.add_row(
            row.table,
            row.mode,
            row.last_success_at.strftime("%Y-%m-%d %H:%M") if row.last_success_at else "—",
            f"{row.row_count:,}",
            f"{row.rows_imported:,}",
            f"{row.rows_deleted:,}",
            str(row.consecutive_failures) if row.consecutive_failures else "",
        )
    console.print(table)


@lists_app.command("show")
def lists_show(
    org: Annotated[str, typer.Option(help="The organization.")],
    user: Annotated[str, typer.Option(help="The user's email.")],
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Show a user's lists with their records ("My CRM accounts", "My CRM leads and contacts", then their own)."""
    from rich.table import Table

    from salesbridge.i18n import N_, translate
    from salesbridge.services.lists import show_lists

    lang = _checked_lang(lang)
    try:
        views = show_lists(_store(db_url), org, user)
    except SalesbridgeError as exc:
        raise _fail(_error_text(exc, lang)) from None
    if as_json:
        typer.echo(json.dumps([view.to_json(lang) for view in views], indent=2))
        return
    for view in views:
        table = Table(title=f"{view.display_name(lang)} ({len(view.items)})", title_justify="left")
        for header in (N_("Name"), N_("Table"), N_("CRM id"), N_("Why")):
            table.add_column(translate(header, lang))
        for item in view.items:
            table.add_row(item.name or "—", item.table, item.crm_id, item.reason_label(lang) or "")
        console.print(table)


def _print_crm_settings(settings: CrmSettingsView, lang: str) -> None:
    from rich.table import Table

    from salesbridge.i18n import translate

    table = Table(show_header=False, box=None)
    stage = settings.stage_label or settings.stage_threshold or translate("Every open opportunity", lang)
    table.add_row(translate("Stage source", lang), f"{settings.stage_source_label(lang)} ({settings.stage_source})")
    table.add_row(translate("Pipeline starts at", lang), stage)
    currency = translate("base currency", lang) if settings.won_value_base_currency else ""
    table.add_row(translate("Won value column", lang), f"{settings.won_value_column} {currency}".strip())
    table.add_row(
        translate("Auto-save", lang), translate("On", lang) if settings.auto_save_enabled else translate("Off", lang)
    )
    table.add_row(translate("Sync interval (minutes)", lang), str(settings.sync_interval_minutes))
    console.print(table)


def _crm_settings_service(db_url: str | None) -> CrmSettingsService:
    from salesbridge.bootstrap import dynamics_session
    from salesbridge.services.crm_settings import CrmSettingsService

    return CrmSettingsService(_store(db_url), dynamics_session)


@crm_settings_app.command("show")
def crm_settings_show(
    org: Annotated[str, typer.Option(help="The organization.")],
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Show the pipeline stage, won-value column, auto-save and sync interval, with the values each may take."""
    from salesbridge.services.crm_settings import with_stage_label

    lang = _checked_lang(lang)
    service = _crm_settings_service(db_url)
    try:
        choices = asyncio.run(service.choices(org, lang))
        settings = with_stage_label(service.settings(org), choices)
    except SalesbridgeError as exc:
        raise _fail(_error_text(exc, lang)) from None
    if as_json:
        typer.echo(json.dumps({**settings.to_json(lang), "choices": choices.to_json()}, indent=2))
        return
    _print_crm_settings(settings, lang)


@crm_settings_app.command("set")
def crm_settings_set(
    org: Annotated[str, typer.Option(help="The organization.")],
    stage_source: Annotated[
        str | None, typer.Option(help="Where the stage is read: salesstage | salesstagecode | stepname.")
    ] = None,
    stage: Annotated[
        str | None,
        typer.Option(
            help="First stage inside the pipeline: option value or label, or step name; 'all' for every "
            "open opportunity."
        ),
    ] = None,
    won_value_column: Annotated[str | None, typer.Option(help="Money column of opportunity.")] = None,
    base_currency: Annotated[
        bool | None, typer.Option("--base-currency/--no-base-currency", help="Use the base-currency value.")
    ] = None,
    auto_save: Annotated[
        bool | None, typer.Option("--auto-save/--no-auto-save", help="Save CRM accounts and leads automatically.")
    ] = None,
    sync_interval: Annotated[int | None, typer.Option(help="Minutes between imports (5-1440).")] = None,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Change CRM settings; values are checked against the CRM. A pipeline change recomputes the lists."""
    from salesbridge.services.crm_settings import SettingsChange

    lang = _checked_lang(lang)
    service = _crm_settings_service(db_url)
    clear = stage is not None and stage.strip().lower() == "all"
    change = SettingsChange(
        stage_source=stage_source,
        stage_threshold=None if clear else stage,
        clear_stage=clear,
        won_value_column=won_value_column,
        won_value_base_currency=base_currency,
        auto_save_enabled=auto_save,
        sync_interval_minutes=sync_interval,
    )
    try:
        saved = asyncio.run(service.update(org, change, actor="cli", locale=lang))
    except SalesbridgeError as exc:
        raise _fail(_error_text(exc, lang)) from None
    if as_json:
        lists = saved.lists
        body = {**saved.settings.to_json(lang), "lists": lists.__dict__ if lists else None}
        typer.echo(json.dumps(body, indent=2))
        return
    _print_crm_settings(saved.settings, lang)
    if saved.lists is not None:
        console.print(f"Lists recomputed: {saved.lists.added} added, {saved.lists.removed} removed.", highlight=False)


def main() -> None:
    """Console entry point."""
    app()
