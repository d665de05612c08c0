"""``salesbridge seats``: who holds one, their CRM sync, and assigning them from the CRM."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from salesbridge import bootstrap
from salesbridge.cli.invocation import DbUrlOption, JsonOption, LangOption, OrgOption, settings, workspace
from salesbridge.cli.rendering import add_email_column, console, errors_reported, failure
from salesbridge.i18n import N_, translate
from salesbridge.web.localized import seat_json, seat_match, seat_overview_json

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from salesbridge.services.seats import CrmUserView, SeatOverview

SeatHolderOption = Annotated[str, typer.Option("--email", help="The seat holder's email.")]

app = typer.Typer(help="Seats: who holds one, their CRM sync, and assigning them from the CRM.", no_args_is_help=True)


def seats_table(overview: SeatOverview, lang: str) -> Table:
    """The seats as a table in ``lang``: every email shown whole, however narrow the terminal."""
    table = Table()
    add_email_column(table, translate(N_("Email"), lang), (seat.email for seat in overview.seats))
    for header in (N_("Name"), N_("Seat"), N_("CRM sync"), N_("CRM user"), N_("In CRM")):
        table.add_column(translate(header, lang))
    for seat in overview.seats:
        label, reason, fix = seat_match(seat, lang)
        crm_user = seat.crm_user.full_name if seat.crm_user and seat.match.is_matched else label
        if reason:
            crm_user += f"\n{reason} {fix}"
        table.add_row(
            seat.email,
            seat.display_name,
            translate("Invited", lang) if seat.state.value == "invited" else translate("Active", lang),
            translate("On", lang) if seat.crm_sync_active else translate("Off", lang),
            crm_user,
            translate("In CRM", lang) if seat.in_crm else "",
        )
    return table


def crm_users_table(users: Sequence[CrmUserView]) -> Table:
    """CRM users by name and email, every email shown whole."""
    table = Table()
    table.add_column("Name")
    add_email_column(table, "Email", (user.email or "" for user in users))
    for user in users:
        table.add_row(user.full_name, user.email or "")
    return table


def _print_seats(overview: SeatOverview, lang: str) -> None:
    console.print(
        translate("{assigned} of {purchased} seats assigned; {left} left.", lang).format(
            assigned=overview.seats_assigned, purchased=overview.seats_purchased, left=overview.seats_left
        ),
        highlight=False,
    )
    automatic = translate("Yes", lang) if overview.sync_all_seats else translate("No", lang)
    console.print(translate("Sync CRM for all seats automatically", lang) + f": {automatic}", highlight=False)
    console.print(seats_table(overview, lang))


@app.command("list")
def seats_list(
    ctx: typer.Context,
    org: OrgOption,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """List the seats with their CRM sync, CRM user match (or why not, and how to fix it) and "In CRM" badge."""
    with errors_reported(lang):
        overview = workspace(ctx, db_url).seats.overview(org)
    if as_json:
        typer.echo(json.dumps(seat_overview_json(overview, lang), indent=2))
        return
    _print_seats(overview, lang)


def _seat_sync_switch(*, enabled: bool) -> Callable[..., None]:
    """The ``seats enable`` or ``seats disable`` command: one seat's CRM sync switched on or off."""

    def switch(
        ctx: typer.Context,
        org: OrgOption,
        email: SeatHolderOption,
        as_json: JsonOption = False,
        lang: LangOption = "en",
        db_url: DbUrlOption = None,
    ) -> None:
        with errors_reported(lang):
            service = workspace(ctx, db_url).seats
            seat = next((seat for seat in service.overview(org).seats if seat.email.lower() == email.lower()), None)
            if seat is None:
                raise failure(f"No seat is held by {email}.")
            changed = service.set_seat_crm_sync(org, seat.id, enabled=enabled, actor="cli")
        if as_json:
            typer.echo(json.dumps(seat_json(changed, lang), indent=2))
            return
        console.print(f"CRM sync {'enabled' if enabled else 'disabled'} for {changed.email}.", highlight=False)

    action = "Enable" if enabled else "Disable"
    switch.__doc__ = f"{action} CRM sync for one seat (when automatic sync for all seats is off)."
    return switch


app.command("enable")(_seat_sync_switch(enabled=True))
app.command("disable")(_seat_sync_switch(enabled=False))


@app.command("sync-all")
def seats_sync_all(
    ctx: typer.Context,
    org: OrgOption,
    enabled: Annotated[bool, typer.Option("--on/--off", help="Sync CRM for all seats automatically.")],
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Turn "Sync CRM for all seats automatically" on or off."""
    with errors_reported(lang):
        overview = workspace(ctx, db_url).seats.set_sync_all_seats(org, enabled=enabled, actor="cli")
    if as_json:
        typer.echo(json.dumps(seat_overview_json(overview, lang), indent=2))
        return
    _print_seats(overview, lang)


@app.command("import-crm-users")
def seats_import_crm_users(
    ctx: typer.Context,
    org: OrgOption,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Import the CRM's users now (connecting imports them too) and match every seat again."""
    with errors_reported(lang):
        services = workspace(ctx, db_url)
        result = asyncio.run(services.seats.refresh_crm_users(org, services.crm_sessions, actor="cli"))
    console.print(
        f"{result.total} CRM users ({result.assignable} can be given a seat): "
        f"{result.added} added, {result.updated} updated, {result.removed} removed.",
        highlight=False,
    )


@app.command("assign-from-crm")
def seats_assign_from_crm(
    ctx: typer.Context,
    org: OrgOption,
    email: Annotated[
        list[str] | None, typer.Option(help="A CRM user's email to give a seat to; repeat for several.")
    ] = None,
    select_all: Annotated[bool, typer.Option("--all", help="Every CRM user who can be given a seat.")] = False,
    console_url: Annotated[
        str | None,
        typer.Option(
            help="Base URL of the console, for the invitation links; SALESBRIDGE_PUBLIC_BASE_URL when omitted."
        ),
    ] = None,
    as_json: JsonOption = False,
    lang: LangOption = "en",
    db_url: DbUrlOption = None,
) -> None:
    """Without --email or --all: list the active CRM users holding no seat. With them: assign seats and print
    each invitation link (shown once). Never more seats than the contract has left."""
    with errors_reported(lang):
        service = workspace(ctx, db_url).seats
        offered = service.assignable_crm_users(org)
        if not email and not select_all:
            if as_json:
                typer.echo(json.dumps([user.to_json() for user in offered], indent=2))
                return
            console.print(crm_users_table(offered))
            return
        by_email = {(user.email or "").lower(): user for user in offered}
        unknown = [address for address in email or () if address.lower() not in by_email]
        if unknown:
            raise failure("Not CRM users who can be given a seat: " + ", ".join(unknown))
        chosen = offered if select_all else [by_email[address.lower()] for address in email or ()]
        invitations = service.assign_from_crm(org, [user.id for user in chosen], actor="cli")
    base_url = console_url.rstrip("/") if console_url else bootstrap.public_base_url(settings(ctx))
    links = [
        {
            "email": invitation.email,
            "seat_id": str(invitation.seat_id),
            "invitation_url": base_url + invitation.path,
        }
        for invitation in invitations
    ]
    if as_json:
        typer.echo(json.dumps(links, indent=2))
        return
    for link in links:
        console.print(f"{link['email']}: {link['invitation_url']}", highlight=False, markup=False)
