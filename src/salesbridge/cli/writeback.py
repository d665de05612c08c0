"""``salesbridge writeback``: activity writeback's settings, status, retry, backfill, and a drain run now."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from salesbridge.cli.invocation import DbUrlOption, JsonOption, LangOption, OrgOption, workspace
from salesbridge.cli.rendering import console, errors_reported
from salesbridge.domain.writeback import ALL_ITEMS, DataItem, DeliveryState, WritebackSettings, parse_items
from salesbridge.errors import InvalidInputError
from salesbridge.i18n import N_, translate
from salesbridge.services.activities import delivery_reason, hold_reason
from salesbridge.services.organizations import require_organization
from salesbridge.services.writeback import (
    backfill,
    retry_activities,
    set_writeback_settings,
    writeback_settings,
    writeback_status,
)
from salesbridge.web.localized import (
    writeback_app_missing_message,
    writeback_status_json,
    writeback_throttled_message,
)

if TYPE_CHECKING:
    from salesbridge.services.writeback import WritebackStatus

app = typer.Typer(help="Activity writeback to Dynamics 365: settings, status, retry, backfill.", no_args_is_help=True)
settings_app = typer.Typer(help="Whether writeback is on, and which data items it writes.", no_args_is_help=True)
app.add_typer(settings_app, name="settings")

_BAD_DATE = N_("Give the date as year-month-day (2026-01-31), or a time with its UTC offset.")
_NOTHING_TO_SET = N_("Nothing to change: give --enable, --disable or --items.")

_STATE_LABELS = {
    DeliveryState.DELIVERED: N_("Delivered"),
    DeliveryState.QUEUED: N_("Queued"),
    DeliveryState.WAITING_FOR_MATCH: N_("Waiting for a CRM match"),
    DeliveryState.WAITING_FOR_SEAT: N_("Waiting for the seller's seat"),
    DeliveryState.NOT_WRITTEN_BACK: N_("Kept in the workspace"),
    DeliveryState.FAILING: N_("Failing"),
    DeliveryState.PARKED: N_("Parked"),
}
_DRAIN_LABELS = {
    "claimed": N_("Taken from the queue"),
    "delivered": N_("Delivered"),
    "failing": N_("Failing"),
    "parked": N_("Parked"),
    "waiting_for_match": N_("Waiting for a CRM match"),
    "waiting_for_seat": N_("Waiting for the seller's seat"),
    "not_written_back": N_("Kept in the workspace"),
    "writes": N_("Write requests"),
}
_ITEM_LABELS = {
    DataItem.INMAIL: N_("InMail"),
    DataItem.MESSAGE: N_("Messages"),
    DataItem.NOTE: N_("Notes"),
    DataItem.CALL: N_("Call logs"),
}


def _settings_json(settings: WritebackSettings) -> dict[str, Any]:
    items: str | list[str] = "all" if settings.all_items else sorted(item.value for item in settings.items)
    return {"enabled": settings.enabled, "items": items}


def _print_settings(settings: WritebackSettings, lang: str) -> None:
    table = Table(show_header=False, box=None)
    table.add_row(
        translate("Enable syncing workspace data back to your CRM?", lang),
        translate("Yes", lang) if settings.enabled else translate("No", lang),
    )
    items = (
        translate("Sync back all data items", lang)
        if settings.all_items
        else ", ".join(translate(_ITEM_LABELS[item], lang) for item in sorted(settings.items))
    )
    table.add_row(translate("Data items", lang), items)
    console.print(table)


@settings_app.command("show")
def settings_show(
    ctx: typer.Context,
    org: OrgOption,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Show whether writeback is on and which data items it writes."""
    with errors_reported(lang):
        services = workspace(ctx, db_url)
        settings = writeback_settings(services.store, require_organization(services.store, org))
    if as_json:
        typer.echo(json.dumps(_settings_json(settings), indent=2))
        return
    _print_settings(settings, lang)


@settings_app.command("set")
def settings_set(
    ctx: typer.Context,
    org: OrgOption,
    enable: Annotated[
        bool | None,
        typer.Option("--enable/--disable", help="Turn writeback on (the CRM-side app must be installed) or off."),
    ] = None,
    items: Annotated[
        str | None, typer.Option(help="all, or some of inmail,message,note,call (comma-separated).")
    ] = None,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Change the writeback settings; what is not given stays. Turning writeback on asks Dynamics whether the
    CRM-side app is installed first (``salesbridge crm app install``). An item turned on applies to activity
    logged from then on: ``writeback backfill`` delivers earlier activity."""
    with errors_reported(lang):
        if enable is None and items is None:
            raise InvalidInputError(_NOTHING_TO_SET, field="items")
        services = workspace(ctx, db_url)
        organization_id = require_organization(services.store, org)
        current = writeback_settings(services.store, organization_id)
        chosen = current.items
        if items is not None:
            chosen = ALL_ITEMS if items.strip().lower() == "all" else parse_items(items.split(","))
        wanted = WritebackSettings(enabled=current.enabled if enable is None else enable, items=chosen)
        saved = asyncio.run(
            set_writeback_settings(services.store, services.crm_app_sessions, organization_id, wanted, actor="cli")
        )
    if as_json:
        typer.echo(json.dumps(_settings_json(saved), indent=2))
        return
    _print_settings(saved, lang)


def _print_status(status: WritebackStatus, lang: str) -> None:
    _print_settings(status.settings, lang)
    app_missing = writeback_app_missing_message(status.crm_app_missing, lang)
    if app_missing:
        console.print(app_missing, style="bold red", highlight=False, markup=False)
    throttled = writeback_throttled_message(status.throttled_until, lang)
    if throttled:
        console.print(throttled, style="bold yellow", highlight=False, markup=False)
    shown = [state for state in _STATE_LABELS if status.totals[state]]
    if not shown:
        console.print(translate("Nobody has logged an activity yet.", lang), highlight=False)
        return
    by_item = Table(title=translate("By type", lang))
    by_item.add_column(translate("Type", lang))
    for state in shown:
        by_item.add_column(translate(_STATE_LABELS[state], lang), justify="right")
    for item, counts in status.by_item.items():
        by_item.add_row(translate(_ITEM_LABELS[item], lang), *(str(counts[state]) for state in shown))
    by_item.add_row(translate("Total", lang), *(str(status.totals[state]) for state in shown))
    console.print(by_item)
    by_seller = Table(title=translate("By seller", lang))
    by_seller.add_column(translate("Seller", lang))
    for state in shown:
        by_seller.add_column(translate(_STATE_LABELS[state], lang), justify="right")
    for seller in status.by_seller:
        name = seller.name or str(seller.user_id)
        by_seller.add_row(name, *(str(seller.states[state]) for state in shown))
    console.print(by_seller)
    if status.waiting:
        console.print(translate("Waiting", lang) + ":", highlight=False)
        for seller in status.by_seller:
            for hold, count in seller.holds.items():
                reason = hold_reason(hold).read(lambda message: translate(message, lang))
                console.print(f"  • {seller.name or seller.user_id}: {reason} ({count})", highlight=False, markup=False)
        matches = status.waiting.get(DeliveryState.WAITING_FOR_MATCH.value, 0)
        if matches:
            label = translate("Waiting for a CRM match", lang)
            console.print(f"  • {label} ({matches})", highlight=False, markup=False)
    if status.problems:
        problems = Table(title=translate("Failing and parked", lang))
        # The id whole, on one line: it is what `writeback retry --activity` takes.
        problems.add_column(translate(N_("Activity"), lang), no_wrap=True, min_width=36)
        for header in (N_("Type"), N_("Seller"), N_("Error")):
            problems.add_column(translate(header, lang))
        for problem in status.problems:
            activity = problem.activity
            problems.add_row(
                str(activity.id),
                translate(_ITEM_LABELS[activity.item], lang),
                problem.author_name or str(activity.author_user_id),
                delivery_reason(activity.delivery).read(lambda message: translate(message, lang)),
            )
        console.print(problems)


@app.command("status")
def status_command(
    ctx: typer.Context,
    org: OrgOption,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Show where writeback stands: activities delivered, queued, waiting (for a CRM match, for the seller's
    seat: why), failing (Dynamics' error) and parked, per type and per seller."""
    with errors_reported(lang):
        services = workspace(ctx, db_url)
        status = writeback_status(services.store, require_organization(services.store, org), clock=services.clock)
    if as_json:
        typer.echo(json.dumps(writeback_status_json(status, lang), indent=2))
        return
    _print_status(status, lang)


@app.command("retry")
def retry_command(
    ctx: typer.Context,
    org: OrgOption,
    activity: Annotated[
        list[uuid.UUID] | None, typer.Option("--activity", help="An activity's id (repeat); default: all of them.")
    ] = None,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Put failing and parked activities back in the queue (attempts reset) and queue the drain."""
    with errors_reported(lang):
        services = workspace(ctx, db_url)
        retried = retry_activities(services.store, require_organization(services.store, org), activity or ())
    message = translate("Activities queued again for your CRM: {count}.", lang).format(count=retried)
    console.print(message, highlight=False)


def _since(text: str) -> datetime:
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(_BAD_DATE, field="since") from None
    if moment.tzinfo is None:
        raise InvalidInputError(_BAD_DATE, field="since")
    return moment


@app.command("backfill")
def backfill_command(
    ctx: typer.Context,
    org: OrgOption,
    since: Annotated[str, typer.Option(help="YYYY-MM-DD (from its start, UTC), or a time with its UTC offset.")],
    include_delivered: Annotated[
        bool,
        typer.Option(
            "--include-delivered",
            help="Write the delivered ones again too (their rows were deleted in Dynamics, e.g. the CRM-side app "
            "removed and installed again); rows still there are rewritten in place, never doubled.",
        ),
    ] = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Deliver earlier activity: what was logged since ``--since`` and kept in the workspace, of the data items
    writeback writes now, goes to the queue and the drain is queued."""
    with errors_reported(lang):
        moment = _since(since)
        services = workspace(ctx, db_url)
        queued = backfill(
            services.store, require_organization(services.store, org), since=moment, include_delivered=include_delivered
        )
    console.print(
        translate("Earlier activities queued for your CRM: {count}.", lang).format(count=queued), highlight=False
    )


@app.command("drain")
def drain_command(
    ctx: typer.Context,
    org: OrgOption,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Activities claimed and written at a time (default: the drainer's, 10,000); a smaller batch is "
            "recorded sooner after its claim.",
        ),
    ] = None,
) -> None:
    """Deliver the organization's due activities now, in this process, until none is due (safe beside the job
    workers: entries are leased)."""
    from salesbridge.sync.writeback import drain_organization

    with errors_reported(lang):
        services = workspace(ctx, db_url)
        organization_id = require_organization(services.store, org)
        summary = asyncio.run(
            drain_organization(
                services.store,
                services.writeback_sessions,
                organization_id,
                clock=services.clock,
                lease=services.writeback_lease,
                first_retry=services.writeback_first_retry,
                **({"batch_size": batch_size} if batch_size is not None else {}),
            )
        )
    result = summary.to_dict()
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    if not summary.connected:
        console.print(translate("Connect to the CRM first, on the CRM Settings page.", lang), highlight=False)
        return
    table = Table(show_header=False, box=None)
    for name, label in _DRAIN_LABELS.items():
        table.add_row(translate(label, lang), str(result[name]))
    console.print(table)
    for code, count in result["errors"].items():
        console.print(f"  • {code}: {count}", highlight=False, markup=False)
