"""Dates, times, numbers, percentages and money in the reader's language: the template filters each page language's
Jinja2 environment has (``format_date``, ``format_datetime``, ``format_number``, ``format_percent``,
``format_currency``), rendered through that environment as pages use them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from salesbridge.web.templating import environment

MOMENT = datetime(2026, 12, 6, 14, 5, 9, tzinfo=UTC)
NNBSP = "\u202f"  # CLDR's narrow no-break space before AM/PM
NBSP = "\xa0"  # and the no-break space before Spanish's % and currency


def _render(lang: str, source: str, **values: Any) -> str:
    return environment(lang).from_string(source).render(**values)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", f"Dec 6, 2026 | Dec 6, 2026, 2:05{NNBSP}PM UTC | Dec 6, 2026, 2:05:09{NNBSP}PM UTC"),
        ("es", "6 dic 2026 | 6 dic 2026, 14:05 UTC | 6 dic 2026, 14:05:09 UTC"),
    ],
)
def test_dates_and_times_read_as_the_language_writes_them(lang: str, expected: str) -> None:
    source = "{{ at | format_date }} | {{ at | format_datetime }} | {{ at | format_datetime(seconds=True) }}"

    assert _render(lang, source, at=MOMENT) == expected


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("en", f"Dec 7, 2026, 4:30{NNBSP}AM UTC | Jan 31, 2027"), ("es", "7 dic 2026, 4:30 UTC | 31 ene 2027")],
)
def test_times_are_shown_in_utc_whatever_zone_they_carry(lang: str, expected: str) -> None:
    """23:30 at UTC-5 is 04:30 UTC the next day: the console says UTC, so it shows that day and hour."""
    evening_in_new_york = datetime(2026, 12, 6, 23, 30, tzinfo=timezone(timedelta(hours=-5)))

    assert (
        _render(
            lang, "{{ at | format_datetime }} | {{ day | format_date }}", at=evening_in_new_york, day=date(2027, 1, 31)
        )
        == expected
    )


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "1,234,567 | 12,345.678 | 12,345.7 | 3.00 | 88% | 87.5%"),
        ("es", f"1.234.567 | 12.345,678 | 12.345,7 | 3,00 | 88{NBSP}% | 87,5{NBSP}%"),
    ],
)
def test_numbers_and_percentages_use_the_languages_separators(lang: str, expected: str) -> None:
    source = (
        "{{ 1234567 | format_number }} | {{ 12345.678 | format_number }} | {{ 12345.678 | format_number(1) }} | "
        "{{ 3 | format_number(2) }} | {{ 0.875 | format_percent }} | {{ 0.8754 | format_percent(1) }}"
    )

    assert _render(lang, source) == expected


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "€1,234,567.50 | $1,234,567.50 | ¥1,500"),
        ("es", f"1.234.567,50{NBSP}€ | 1.234.567,50{NBSP}US$ | 1.500{NBSP}JPY"),
    ],
)
def test_money_is_shown_in_its_currency_with_its_own_decimals(lang: str, expected: str) -> None:
    source = (
        '{{ won | format_currency("EUR") }} | {{ won | format_currency("USD") }} | {{ 1500 | format_currency("JPY") }}'
    )

    assert _render(lang, source, won=Decimal("1234567.5")) == expected


@pytest.mark.parametrize(("lang", "expected"), [("en", "1,234.50"), ("es", "1.234,50")])
def test_an_amount_whose_currency_is_not_known_yet_is_a_plain_number_with_two_decimals(
    lang: str, expected: str
) -> None:
    # Before the first import has read the CRM's currencies (organization.basecurrencyid): no symbol to show.
    assert _render(lang, "{{ 1234.5 | format_currency(none) }}") == expected


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_missing_value_shows_a_dash(lang: str) -> None:
    source = (
        "{{ none | format_date }}{{ none | format_datetime }}{{ none | format_number }}{{ none | format_percent }}"
        '{{ none | format_currency("EUR") }}'
    )

    assert _render(lang, source) == "—" * 5
