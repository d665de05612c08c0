"""``salesbridge crm app``: the CRM-side app writeback needs in Dynamics 365 (install, status)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from salesbridge.cli.invocation import DbUrlOption, JsonOption, LangOption, OrgOption, workspace
from salesbridge.cli.rendering import console, errors_reported
from salesbridge.i18n import translate
from salesbridge.services.crm_app import crm_app_status, install_crm_app
from salesbridge.web.localized import crm_app_status_json

if TYPE_CHECKING:
    from salesbridge.services.crm_app import CrmAppStatus

app = typer.Typer(help="The CRM-side app writeback needs in Dynamics 365.", no_args_is_help=True)


def _print_status(status: CrmAppStatus, lang: str) -> None:
    table = Table(show_header=False, box=None)
    table.add_row(translate("State", lang), translate(status.state_label, lang))
    table.add_row(translate("Version", lang), str(status.version))
    installed = status.installed_version
    table.add_row(translate("Installed version", lang), str(installed) if installed is not None else "—")
    console.print(table)
    if status.missing:
        console.print(translate("Missing", lang) + ":", highlight=False)
        for item in status.missing:
            console.print(f"  • {item}", highlight=False, markup=False)
    if status.missing_privileges:
        console.print(translate("Missing privileges", lang) + ":", highlight=False)
        for name in status.missing_privileges:
            console.print(f"  • {name}", highlight=False, markup=False)


@app.command("install")
def crm_app_install(
    ctx: typer.Context,
    org: OrgOption,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Create in Dynamics 365 what writeback needs and the CRM lacks (the InMail and message activity tables,
    their columns and keys); check the standard tables and the application user's privileges first, and create
    nothing when they fall short. Installing again changes nothing; nothing is ever deleted."""
    with errors_reported(lang):
        services = workspace(ctx, db_url)
        done = asyncio.run(install_crm_app(services.store, services.crm_app_sessions, slug=org))
    if as_json:
        created = [str(item) for item in done.created]
        typer.echo(json.dumps({"created": created, "status": crm_app_status_json(done.status, lang)}, indent=2))
        return
    if done.created:
        console.print(translate("Created", lang) + ":", highlight=False)
        for item in done.created:
            console.print(f"  • {item}", highlight=False, markup=False)
    else:
        console.print(translate("Nothing to create: the app was already installed.", lang), highlight=False)
    _print_status(done.status, lang)


@app.command("status")
def crm_app_status_command(
    ctx: typer.Context,
    org: OrgOption,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Show whether the app is installed, outdated or missing in Dynamics 365, what is missing, and the
    privileges the application user lacks to write back."""
    with errors_reported(lang):
        services = workspace(ctx, db_url)
        status = asyncio.run(crm_app_status(services.store, services.crm_app_sessions, slug=org))
    if as_json:
        typer.echo(json.dumps(crm_app_status_json(status, lang), indent=2))
        return
    _print_status(status, lang)
