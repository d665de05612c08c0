"""``salesbridge token``: API tokens of users."""

from __future__ import annotations

from typing import Annotated

import typer

from salesbridge.cli.invocation import DbUrlOption, workspace
from salesbridge.cli.rendering import console, errors_reported
from salesbridge.services.accounts import API_TOKEN_LIFETIME_CHOICES_DAYS, API_TOKEN_LIFETIME_DAYS

app = typer.Typer(help="API tokens of users.", no_args_is_help=True)


@app.command("create")
def token_create(
    ctx: typer.Context,
    org: Annotated[str, typer.Option(help="The organization (slug).")],
    email: Annotated[str, typer.Option(help="The user the token acts for.")],
    name: Annotated[str, typer.Option(help="What the token is for.")],
    expires_days: Annotated[
        int,
        typer.Option(help="Days until the token expires (1 to 365).", min=1, max=API_TOKEN_LIFETIME_CHOICES_DAYS[-1]),
    ] = API_TOKEN_LIFETIME_DAYS,
    db_url: DbUrlOption = None,
) -> None:
    """Create an API token for a user, expiring in ``--expires-days``, and print it once (on stdout, alone on its
    line)."""
    with errors_reported():
        accounts = workspace(ctx, db_url).accounts
        principal = accounts.principal_of(org, email)
        view, secret = accounts.create_api_token(principal, name, expires_in_days=expires_days)
    console.print(
        f"Token [bold]{view.name}[/bold] ({view.prefix}…) created, expires {view.expires_at:%Y-%m-%d %H:%M} UTC; "
        "it is shown only now:",
        highlight=False,
    )
    typer.echo(secret.get_secret_value())
