"""The command line's one error-rendering path, and tables that never cut an email short."""

from __future__ import annotations

import io
import uuid

import pytest
import typer
from rich.console import Console

from salesbridge.cli.rendering import EXIT_FAILURE, error_exit, error_message, errors_reported
from salesbridge.cli.seats import crm_users_table, seats_table
from salesbridge.domain.seat_matching import MatchOutcome
from salesbridge.errors import ConfigError, DifferentCrmOrganizationError, InvalidInputError, SeatLimitError
from salesbridge.services.seats import CrmUserView, SeatOverview, SeatView
from salesbridge.store.tables import SeatState

LONG_EMAIL = "maria.del.carmen.fernandez-villanueva@ventas.contoso-iberia.example.com"


def _console(width: int = 80) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=width, color_system=None), out


def test_a_translatable_error_is_shown_in_the_chosen_language() -> None:
    error = SeatLimitError("You asked for {requested} seats, but only {left} seats are left.", left=3, requested=5)

    assert error_message(error, "en") == "You asked for 5 seats, but only 3 seats are left."
    assert error_message(DifferentCrmOrganizationError("https://a.crm.dynamics.com"), "es").startswith(
        "Esta organización"
    )


def test_an_error_without_a_translation_keeps_its_english_message() -> None:
    assert error_message(ConfigError("No salesbridge store at sqlite:///x.db."), "es") == (
        "No salesbridge store at sqlite:///x.db."
    )


def test_errors_reported_prints_the_message_literally_and_exits_1() -> None:
    console, out = _console()

    with pytest.raises(typer.Exit) as raised, errors_reported("en", out=console):
        raise ConfigError("Cannot read [bold]key[/bold] file.")

    assert raised.value.exit_code == EXIT_FAILURE
    assert out.getvalue() == "Cannot read [bold]key[/bold] file.\n", "markup in a message is not interpreted"


def test_errors_reported_lets_other_exceptions_through() -> None:
    console, out = _console()

    with pytest.raises(KeyError), errors_reported("en", out=console):
        raise KeyError("not ours")

    assert out.getvalue() == ""


def test_a_bad_value_is_a_usage_error_naming_its_option() -> None:
    error = InvalidInputError("Enter a valid email address.", field="display_name")

    with pytest.raises(typer.BadParameter) as raised:
        error_exit(error, "en")

    assert raised.value.param_hint == "--display-name"
    assert raised.value.exit_code == 2


def _seat(email: str, match: MatchOutcome) -> SeatView:
    return SeatView(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        email=email,
        display_name="María del Carmen Fernández Villanueva",
        is_admin=False,
        state=SeatState.INVITED,
        crm_sync_enabled=True,
        crm_sync_active=True,
        match=match,
        crm_user=None,
        in_crm=False,
    )


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_seats_table_shows_whole_emails_at_80_columns(lang: str) -> None:
    overview = SeatOverview(
        organization="acme",
        seats_purchased=5,
        seats_assigned=2,
        sync_all_seats=True,
        crm_connected=True,
        crm_users_imported_at=None,
        seats=(_seat(LONG_EMAIL, MatchOutcome.NO_CRM_USER), _seat("ana@contoso.example", MatchOutcome.NOT_IMPORTED)),
    )
    console, out = _console(80)

    console.print(seats_table(overview, lang))

    shown = out.getvalue()
    assert LONG_EMAIL in shown
    assert "ana@contoso.example" in shown
    assert max(len(line) for line in shown.splitlines()) <= 80


def test_the_crm_users_table_shows_whole_emails_at_80_columns() -> None:
    user = CrmUserView(
        id=uuid.uuid4(),
        crm_id=str(uuid.uuid4()),
        full_name="María del Carmen Fernández Villanueva de la Sierra Morena",
        email=LONG_EMAIL,
        is_disabled=False,
        is_application=False,
        is_assignable=True,
    )
    console, out = _console(80)

    console.print(crm_users_table([user]))

    assert LONG_EMAIL in out.getvalue()
