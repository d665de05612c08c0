"""``salesbridge crm``: the organization's connection to Microsoft Dynamics 365 (connect, status, disconnect); its
settings are in :mod:`salesbridge.cli.crm_settings`."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr
from rich.table import Table

from salesbridge.cli import crm_app, crm_settings
from salesbridge.cli.invocation import DbUrlOption, JsonOption, LangOption, workspace
from salesbridge.cli.rendering import console, errors_reported, failure
from salesbridge.domain.workspace import CrmCredentials
from salesbridge.i18n import N_, translate
from salesbridge.services.connecting import chosen_ca_bundle, connect_crm
from salesbridge.services.crm_status import crm_status
from salesbridge.services.disconnect import disconnect_crm, disconnect_preview
from salesbridge.services.preflight import OutcomeKind
from salesbridge.web.localized import (
    connect_message,
    connection_outcome_json,
    crm_last_error,
    crm_state,
    crm_status_json,
    disconnect_json,
    disconnect_lines,
    disconnect_message,
    kept_connection_notice,
    queued_import_line,
)

app = typer.Typer(help="The organization's connection to Microsoft Dynamics 365.", no_args_is_help=True)
app.add_typer(crm_settings.app, name="settings")
app.add_typer(crm_app.app, name="app")


@app.command("connect")
def crm_connect(
    ctx: typer.Context,
    org: Annotated[str, typer.Option(help="The organization to connect.")],
    url: Annotated[str, typer.Option(help="The Dynamics organization URL, https://<org>.crm.dynamics.com.")],
    client_id: Annotated[str, typer.Option(help="The application (client) id.")],
    client_secret_file: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, readable=True, help="File holding the client secret.")
    ],
    tenant_id: Annotated[
        str | None,
        typer.Option(help="The Entra tenant (directory) id; found from the organization URL when omitted."),
    ] = None,
    ca_bundle: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="PEM file of CAs to trust instead of the system's (uploaded)."),
    ] = None,
    ca_bundle_name: Annotated[
        str | None,
        typer.Option(help="A CA bundle of SALESBRIDGE_CRM_CA_BUNDLE_DIR, by name, to trust instead of the system's."),
    ] = None,
    authority: Annotated[
        str | None,
        typer.Option(help="Identity authority (Microsoft Entra ID); found from the organization URL when omitted."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the outcome as JSON (as POST …/crm/connection answers it).")
    ] = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Check the address (Dynamics 365's, or SALESBRIDGE_CRM_ALLOWED_HOSTS), find the tenant, check the CRM
    (sign-in, privileges, tables, columns, change tracking), then store the connection and queue the first import;
    a failure leaves a working connection as it was. With --json, the outcome (its stable code, the sentence, what
    is missing) and the connection's status after it, as the API gives them. Exit code 0 when connected, 1 on any
    other outcome, 2 on bad usage."""
    secret = client_secret_file.read_text(encoding="utf-8").strip()
    if not secret:
        raise typer.BadParameter("the file is empty", param_hint="--client-secret-file")
    with errors_reported(lang):
        services = workspace(ctx, db_url)
        credentials = CrmCredentials(
            org_url=url,
            tenant_id=tenant_id,
            client_id=client_id,
            client_secret=SecretStr(secret),
            ca_bundle=chosen_ca_bundle(
                services.crm_targets,
                name=ca_bundle_name,
                pem=ca_bundle.read_text(encoding="ascii", errors="replace") if ca_bundle else None,
            ),
            authority=authority,
        )
        outcome = asyncio.run(
            connect_crm(
                services.store, services.crm_sessions, slug=org, credentials=credentials, targets=services.crm_targets
            )
        )
        if as_json:
            typer.echo(
                json.dumps(connection_outcome_json(outcome, crm_status(services.store, slug=org), lang), indent=2)
            )
            raise typer.Exit(0 if outcome.is_connected else 1)
    if outcome.is_connected:
        console.print("[bold green]" + translate("Connected to Microsoft Dynamics", lang) + "[/]", highlight=False)
        console.print(connect_message(outcome, lang), highlight=False)
        return
    console.print(f"[bold red]{connect_message(outcome, lang)}[/bold red]", highlight=False)
    if outcome.missing_privileges or outcome.kind is OutcomeKind.INSUFFICIENT_PRIVILEGES:
        console.print(translate("Missing privileges", lang) + ":", highlight=False)
    elif outcome.missing_objects:
        console.print(translate("Missing tables, columns or settings", lang) + ":", highlight=False)
    for line in outcome.details():
        console.print(f"  • {line}", highlight=False, markup=False)
    if outcome.kept_connection:
        console.print(kept_connection_notice(lang), highlight=False)
    if outcome.reason:
        console.print(translate("Details", lang) + f": {outcome.reason}", highlight=False, markup=False)
    raise typer.Exit(1)


@app.command("status")
def crm_status_command(
    ctx: typer.Context,
    org: Annotated[str, typer.Option(help="The organization.")],
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Show the connection's state, organization URL, CRM user, connected since, last error and queued imports."""
    with errors_reported(lang):
        status = crm_status(workspace(ctx, db_url).store, slug=org)
    if as_json:
        typer.echo(json.dumps(crm_status_json(status, lang), indent=2))
        return
    table = Table(show_header=False, box=None)
    table.add_row(translate("State", lang), crm_state(status, lang))
    table.add_row(translate("Org URL", lang), status.org_url or "—")
    crm_user = f"{status.crm_user_name} ({status.crm_user_id})" if status.crm_user_name else status.crm_user_id
    table.add_row(translate("CRM user", lang), crm_user or "—")
    connected_since = status.connected_since.isoformat() if status.connected_since else "—"
    table.add_row(translate("Connected since", lang), connected_since)
    table.add_row(translate("Last error", lang), crm_last_error(status, lang) or "—")
    for queued in status.queued_imports:
        table.add_row(translate("Import", lang), queued_import_line(queued.requested_at, queued.reason, lang))
    console.print(table)


_CONFIRM_IN_A_TERMINAL = N_("Nothing was changed: confirm in a terminal, or add --yes.")


@app.command("disconnect")
def crm_disconnect(
    ctx: typer.Context,
    org: Annotated[str, typer.Option(help="The organization to disconnect.")],
    purge: Annotated[
        bool, typer.Option("--purge", help="Yes, clean up all previously imported CRM data (users and seats stay).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Disconnect CRM sync: cancel queued and running imports and delete the stored credentials; with --purge,
    also delete all previously imported CRM data. Says what will be deleted (with counts) and asks first unless
    --yes; without a terminal to ask in, says it and refuses unless --yes. Idempotent. Exit code 0 when
    disconnected, 1 when declined, refused or on error."""
    with errors_reported(lang):
        store = workspace(ctx, db_url).store
        if not yes:
            preview = disconnect_preview(store, slug=org)
            for line in disconnect_lines(preview, purge=purge, locale=lang):
                console.print(line, highlight=False, markup=False)
            if not sys.stdin.isatty():  # nobody to ask: a script must say --yes
                raise failure(translate(_CONFIRM_IN_A_TERMINAL, lang))
            if not typer.confirm(translate("Disconnect CRM sync?", lang), default=False):
                raise failure(translate("Nothing was changed.", lang))
        outcome = disconnect_crm(store, slug=org, purge=purge, actor="cli")
    if as_json:
        typer.echo(json.dumps(disconnect_json(outcome, lang), indent=2))
        return
    console.print(disconnect_message(outcome, lang), highlight=False, markup=False)
