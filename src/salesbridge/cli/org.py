"""``salesbridge org``: organizations of the workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from salesbridge.cli.invocation import DbUrlOption, workspace
from salesbridge.cli.rendering import console, errors_reported
from salesbridge.services.connecting import checked_new_organization, create_organization

app = typer.Typer(help="Organizations of the workspace.", no_args_is_help=True)


@app.command("create")
def org_create(
    ctx: typer.Context,
    slug: Annotated[
        str,
        typer.Argument(
            metavar="ORG", help="The organization's short name (its slug): lowercase letters, digits and hyphens."
        ),
    ],
    name: Annotated[str | None, typer.Option(help="Display name; the slug when omitted.")] = None,
    seats: Annotated[int, typer.Option(min=0, help="Seats purchased in the contract.")] = 0,
    db_url: DbUrlOption = None,
) -> None:
    """Create an organization (and the store, when there is none yet). Idempotent: an existing one is left
    unchanged."""
    with errors_reported():
        try:
            checked_new_organization(slug=slug, name=name, seats=seats)  # before the store is created
            create_organization(workspace(ctx, db_url, create=True).store, slug=slug, name=name, seats=seats)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    console.print(f"Organization [bold]{slug}[/bold] is ready.", highlight=False)
