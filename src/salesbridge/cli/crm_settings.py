"""``salesbridge crm settings``: pipeline stage, won value, auto-save, sync interval, profile-URL columns."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from salesbridge.cli.invocation import DbUrlOption, JsonOption, LangOption, OrgOption, workspace
from salesbridge.cli.rendering import console, errors_reported
from salesbridge.domain.pipeline import PROFILE_URL_TABLES
from salesbridge.i18n import translate
from salesbridge.services.crm_settings import SettingsChange, with_stage_label
from salesbridge.web.localized import choices_json, label_reader, label_text, settings_json

if TYPE_CHECKING:
    from salesbridge.services.crm_settings import CrmSettingsView

app = typer.Typer(
    help="CRM settings: pipeline stage, won value, auto-save, sync interval, profile-URL columns.", no_args_is_help=True
)


def _print_crm_settings(settings: CrmSettingsView, lang: str) -> None:
    table = Table(show_header=False, box=None)
    label = label_text(settings.stage_label, lang) if settings.stage_label else None
    stage = label or settings.stage_threshold or translate("Every open opportunity", lang)
    table.add_row(
        translate("Stage source", lang), f"{translate(settings.stage_source_label, lang)} ({settings.stage_source})"
    )
    table.add_row(translate("Pipeline starts at", lang), stage)
    currency = translate("base currency", lang) if settings.won_value_base_currency else ""
    table.add_row(translate("Won value column", lang), f"{settings.won_value_column} {currency}".strip())
    table.add_row(
        translate("Auto-save", lang), translate("On", lang) if settings.auto_save_enabled else translate("Off", lang)
    )
    table.add_row(translate("Sync interval (minutes)", lang), str(settings.sync_interval_minutes))
    for crm_table in PROFILE_URL_TABLES:
        column = settings.profile_url_columns.get(crm_table) or translate("None", lang)
        table.add_row(translate("LinkedIn profile URL column of {table}", lang).format(table=crm_table), column)
    console.print(table)


def _profile_url_columns(pairs: list[str] | None, lang: str) -> dict[str, str] | None:
    """``TABLE=COLUMN`` options as a mapping (``TABLE=`` clears the table's column)."""
    if not pairs:
        return None
    mapped: dict[str, str] = {}
    for pair in pairs:
        table, separator, column = pair.partition("=")
        if not separator:
            raise typer.BadParameter(
                translate("Write TABLE=COLUMN, for example contact=new_linkedinurl (TABLE= clears it).", lang),
                param_hint="--profile-url-column",
            )
        mapped[table.strip().lower()] = column.strip()
    return mapped


@app.command("show")
def crm_settings_show(
    ctx: typer.Context,
    org: OrgOption,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Show the pipeline stage, won-value column, auto-save and sync interval, with the values each may take."""
    with errors_reported(lang):
        service = workspace(ctx, db_url).crm_settings
        choices = asyncio.run(service.choices(org))
        settings = with_stage_label(service.settings(org), choices)
    if as_json:
        typer.echo(json.dumps({**settings_json(settings, lang), "choices": choices_json(choices, lang)}, indent=2))
        return
    _print_crm_settings(settings, lang)


@app.command("set")
def crm_settings_set(
    ctx: typer.Context,
    org: OrgOption,
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
    profile_url_column: Annotated[
        list[str] | None,
        typer.Option(
            help="TABLE=COLUMN: the text column of contact, lead or account holding a LinkedIn profile URL "
            "(TABLE= clears it). Repeat for each table."
        ),
    ] = None,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Change CRM settings; values are checked against the CRM. A pipeline change recomputes the lists."""
    clear = stage is not None and stage.strip().lower() == "all"
    change = SettingsChange(
        stage_source=stage_source,
        stage_threshold=None if clear else stage,
        clear_stage=clear,
        won_value_column=won_value_column,
        won_value_base_currency=base_currency,
        auto_save_enabled=auto_save,
        sync_interval_minutes=sync_interval,
        profile_url_columns=_profile_url_columns(profile_url_column, lang),
    )
    with errors_reported(lang):
        saved = asyncio.run(
            workspace(ctx, db_url).crm_settings.update(org, change, actor="cli", reads=label_reader(lang))
        )
    if as_json:
        lists = saved.lists
        body = {**settings_json(saved.settings, lang), "lists": lists.__dict__ if lists else None}
        typer.echo(json.dumps(body, indent=2))
        return
    _print_crm_settings(saved.settings, lang)
    if saved.lists is not None:
        console.print(f"Lists recomputed: {saved.lists.added} added, {saved.lists.removed} removed.", highlight=False)
