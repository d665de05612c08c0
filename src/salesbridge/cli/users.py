"""``salesbridge user``: users of an organization."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

from salesbridge.cli.invocation import DbUrlOption, workspace
from salesbridge.cli.rendering import console, errors_reported

app = typer.Typer(help="Users of an organization.", no_args_is_help=True)


def _read_password(password_file: Path | None, password_stdin: bool) -> SecretStr | None:
    if password_file is not None and password_stdin:
        raise typer.BadParameter("give --password-file or --password-stdin, not both")
    if password_file is not None:
        return SecretStr(password_file.read_text(encoding="utf-8").rstrip("\r\n"))
    if password_stdin:
        return SecretStr(sys.stdin.readline().rstrip("\r\n"))
    return None


@app.command("create")
def user_create(
    ctx: typer.Context,
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
    password = _read_password(password_file, password_stdin)
    with errors_reported():
        principal = workspace(ctx, db_url).accounts.create_user(
            org,
            email=email,
            display_name=name,
            password=password,
            is_admin=admin,
            with_seat=seat,
            locale=locale,
            actor="cli",
        )
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
