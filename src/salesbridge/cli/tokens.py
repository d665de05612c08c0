"""``salesbridge token``: API tokens of users."""

from __future__ import annotations

from typing import Annotated

import typer

from salesbridge.cli.invocation import DbUrlOption, workspace
from salesbridge.cli.rendering import console, errors_reported

app = typer.Typer(help="API tokens of users.", no_args_is_help=True)


@app.command("create")
def token_create(
    ctx: typer.Context,
    org: Annotated[str, typer.Option(help="The organization (slug).")],
    email: Annotated[str, typer.Option(help="The user the token acts for.")],
    name: Annotated[str, typer.Option(help="What the token is for.")],
    db_url: DbUrlOption = None,
) -> None:
    """Create an API token for a user and print it once (on stdout, alone on its line)."""
    with errors_reported():
        accounts = workspace(ctx, db_url).accounts
        view, secret = accounts.create_api_token(accounts.principal_of(org, email), name)
    console.print(f"Token [bold]{view.name}[/bold] ({view.prefix}…) created; it is shown only now:", highlight=False)
    typer.echo(secret.get_secret_value())
