"""``salesbridge lists``: saved lists, including the two lists auto-save keeps."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from salesbridge.cli.invocation import DbUrlOption, JsonOption, LangOption, OrgOption, workspace
from salesbridge.cli.rendering import console, errors_reported
from salesbridge.i18n import N_, translate
from salesbridge.services.lists import show_lists
from salesbridge.web.localized import list_json, unmatched_label

app = typer.Typer(help="Saved lists, including the two lists auto-save keeps.", no_args_is_help=True)


@app.command("show")
def lists_show(
    ctx: typer.Context,
    org: OrgOption,
    user: Annotated[str, typer.Option(help="The user's email.")],
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Show a user's lists with their records ("My CRM accounts", "My CRM leads and contacts", then their own)."""
    with errors_reported(lang):
        views = show_lists(workspace(ctx, db_url).store, org, user)
    if as_json:
        typer.echo(json.dumps([list_json(view, lang) for view in views], indent=2))
        return
    for view in views:
        name = translate(view.name, lang) if view.is_system else view.name
        table = Table(title=f"{name} ({len(view.items)})", title_justify="left")
        for header in (N_("Name"), N_("Table"), N_("CRM id"), N_("Why")):
            table.add_column(translate(header, lang))
        for item in view.items:
            reason = translate(item.reason_label, lang) if item.reason_label else ""
            table.add_row(item.name or "—", item.table, item.crm_id, reason)
        console.print(table)
        held = [*view.people, *view.companies]
        if held:
            console.print(", ".join(target.name for target in held), highlight=False, markup=False)
        if view.unmatched:
            console.print(unmatched_label(view.unmatched, lang), highlight=False)
