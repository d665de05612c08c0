"""What one invocation of the command line shares: its settings, read once, and the options every command takes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from salesbridge.bootstrap import load_settings, open_workspace
from salesbridge.i18n import SUPPORTED_LOCALES

if TYPE_CHECKING:
    from salesbridge.bootstrap import Workspace
    from salesbridge.settings import Settings

_SETTINGS_KEY = "salesbridge.settings"


def settings(ctx: typer.Context) -> Settings:
    """The settings of the invocation running ``ctx``: read from the environment on first use, then the same
    object.

    Raises:
        ConfigError: as :func:`salesbridge.bootstrap.load_settings`.
    """
    meta = ctx.meta  # shared by every context of the invocation
    if _SETTINGS_KEY not in meta:
        meta[_SETTINGS_KEY] = load_settings()
    found: Settings = meta[_SETTINGS_KEY]
    return found


def workspace(ctx: typer.Context, db_url: str | None, *, create: bool = False) -> Workspace:
    """The use cases on the store at ``db_url`` (or the settings'). Only ``org create`` passes ``create``: every
    other command works on an organization, so a missing store is a wrong URL (or key file), never a reason to
    create a database and a credential key silently.

    Raises:
        ConfigError: as :func:`salesbridge.bootstrap.open_workspace` (no store at the URL names the URL).
    """
    opened = open_workspace(settings(ctx), db_url, create=create)
    ctx.call_on_close(opened.close)  # a CLI run inside a longer-lived process must not leak connections
    return opened


def _checked_lang(value: str) -> str:
    if value not in SUPPORTED_LOCALES:
        raise typer.BadParameter(f"use one of {', '.join(SUPPORTED_LOCALES)}")
    return value


DbUrlOption = Annotated[
    str | None, typer.Option("--db-url", help="Store URL; SALESBRIDGE_DATABASE_URL (settings) when omitted.")
]
LangOption = Annotated[str, typer.Option(help="Language of the messages: en | es.", callback=_checked_lang)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
OrgOption = Annotated[str, typer.Option(help="The organization.")]
