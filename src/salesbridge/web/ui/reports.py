"""Reports (``/admin/reports``, administrators): written-back activity per seller, data item and week; the match
rate over the last matching runs; influenced pipeline and won revenue; seat usage (what each counts:
:mod:`salesbridge.domain.reports`). Each is a chart (:mod:`salesbridge.web.charts`) and the same numbers as a
table, in the reader's language; ``/admin/reports/<report>.csv`` downloads each, every cell neutralised for
spreadsheets."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from functools import lru_cache, partial
from typing import Any, Final

from babel.dates import format_date, format_datetime
from fastapi import APIRouter, Request
from fastapi.responses import Response

from salesbridge.domain.reports import MatchRateSnapshot
from salesbridge.domain.writeback import DataItem
from salesbridge.errors import RowNotFoundError
from salesbridge.i18n import N_, translate
from salesbridge.services.reports import Reports, WrittenBackRow, read_reports
from salesbridge.web.charts import (
    Series,
    bar_chart,
    currency_formatter,
    line_chart,
    number_formatter,
    percent_formatter,
)
from salesbridge.web.localized import CRM_TABLE_NAMES
from salesbridge.web.security import AdminPrincipal, Services
from salesbridge.web.spreadsheet_csv import MEDIA_TYPE, spreadsheet_csv_bytes
from salesbridge.web.templating import render
from salesbridge.web.ui.writeback import ITEM_LABELS

router = APIRouter(include_in_schema=False)

TABLE_LABELS: Final = {table: CRM_TABLE_NAMES[table] for table in ("account", "contact", "lead")}
"""The CRM tables of the match rate, in words (message ids)."""

REPORTS: Final = ("written-back", "match-rate", "influence", "seats")
"""The reports, by the name of their CSV file."""
TABLE_ROWS: Final = 100
"""The longest tables (influenced opportunities, written-back activity) show this many rows on the page, the
largest opportunities and the latest weeks; the CSV files have every row (the page stays quick to load and read)."""


def _item(item: str, locale: str) -> str:
    try:
        return translate(ITEM_LABELS[DataItem(item)], locale)
    except ValueError:
        return item


def _table(table: str, locale: str) -> str:
    return translate(TABLE_LABELS[table], locale) if table in TABLE_LABELS else table


def _week(week: date, locale: str) -> str:
    return format_date(week, format="medium", locale=locale)


def _moment(moment: datetime, locale: str) -> str:
    return format_datetime(moment, format="short", locale=locale, tzinfo=moment.tzinfo)


# Each chart is drawn once per set of numbers and language, then reused (a chart is a pure function of them; pygal
# took about a tenth of the page's time on every load): the caches below are keyed by exactly what is drawn.
_CHARTS: Final = 64
"""Charts of each kind kept drawn (a few organizations' pages in both languages)."""


def written_back_chart(reports: Reports, locale: str) -> Any:
    """Delivered activities per week, one stacked series per data item."""
    return _written_back_chart(reports.written_back, reports.weeks, locale)


@lru_cache(maxsize=_CHARTS)
def _written_back_chart(written_back: tuple[WrittenBackRow, ...], weeks: tuple[date, ...], locale: str) -> Any:
    items = [item for item in DataItem if any(row.item == item.value for row in written_back)]
    series = [
        Series(
            _item(item.value, locale),
            tuple(
                float(sum(row.count for row in written_back if row.item == item.value and row.week == week))
                for week in weeks
            ),
        )
        for item in items
    ]
    return bar_chart(
        title=translate("Activity written back to the CRM, per week", locale),
        x_labels=[format_date(week, format="d MMM", locale=locale) for week in weeks],
        series=series,
        value_formatter=number_formatter(locale),
        description=translate("The same numbers are in the table below the chart.", locale),
        stacked=True,
    )


def match_rate_chart(reports: Reports, locale: str) -> Any:
    """The share of records tied per matching run, one line per CRM table."""
    return _match_rate_chart(reports.match_rates, locale)


@lru_cache(maxsize=_CHARTS)
def _match_rate_chart(match_rates: tuple[MatchRateSnapshot, ...], locale: str) -> Any:
    moments = sorted({snapshot.taken_at for snapshot in match_rates})
    by_key = {(snapshot.taken_at, snapshot.table): snapshot.rate for snapshot in match_rates}
    series = [
        Series(translate(label, locale), tuple(by_key.get((moment, table)) for moment in moments))
        for table, label in TABLE_LABELS.items()
    ]
    return line_chart(
        title=translate("Match rate after each matching run", locale),
        x_labels=[_moment(moment, locale) for moment in moments],
        series=series,
        value_formatter=percent_formatter(locale),
        description=translate("The same numbers are in the table below the chart.", locale),
    )


def influence_chart(reports: Reports, locale: str) -> Any:
    """Influenced pipeline and won revenue, in the base currency."""
    influence = reports.influence
    return _influence_chart(influence.pipeline_value, influence.won_value, reports.currency, locale)


@lru_cache(maxsize=_CHARTS)
def _influence_chart(pipeline_value: float, won_value: float, currency: str | None, locale: str) -> Any:
    return bar_chart(
        title=translate("Influenced pipeline and won revenue (base currency)", locale),
        x_labels=[translate("Influenced pipeline", locale), translate("Won revenue", locale)],
        series=[Series(translate("Base currency", locale), (pipeline_value, won_value))],
        value_formatter=currency_formatter(locale, currency) if currency else number_formatter(locale),
        description=translate("The same numbers are in the table below the chart.", locale),
    )


def seats_chart(reports: Reports, locale: str) -> Any:
    """Seats, seats with CRM sync, and those in use in the period."""
    return _seats_chart(len(reports.seats), reports.seats_with_crm_sync, reports.seats_in_use, locale)


@lru_cache(maxsize=_CHARTS)
def _seats_chart(seats: int, with_crm_sync: int, in_use: int, locale: str) -> Any:
    return bar_chart(
        title=translate("Seat usage in the last 30 days", locale),
        x_labels=[
            translate("Seats", locale),
            translate("With CRM sync", locale),
            translate("With CRM sync and activity", locale),
        ],
        series=[
            Series(
                translate("Seats", locale),
                (float(seats), float(with_crm_sync), float(in_use)),
            )
        ],
        value_formatter=number_formatter(locale),
        description=translate("The same numbers are in the table below the chart.", locale),
    )


@router.get("/admin/reports")
def reports_page(request: Request, principal: AdminPrincipal, services: Services) -> Response:
    """Every report of the administrator's organization: a chart and a table each."""
    locale = principal.locale
    reports = read_reports(services.store, principal.organization_slug, clock=services.clock)
    context = {
        "reports": reports,
        "table_rows": TABLE_ROWS,
        "charts": {
            "written_back": written_back_chart(reports, locale) if reports.written_back else None,
            "match_rate": match_rate_chart(reports, locale) if reports.match_rates else None,
            "influence": influence_chart(reports, locale),
            "seats": seats_chart(reports, locale) if reports.seats else None,
        },
        "item_name": partial(_item, locale=locale),
        "table_name": partial(_table, locale=locale),
        "week_text": partial(_week, locale=locale),
        "moment_text": partial(_moment, locale=locale),
        "value_header": value_header(reports.currency, locale),
    }
    return render(request, "reports.html", context, principal=principal)


VALUE_HEADER: Final = N_("Value (base currency)")
"""The influence table's value column while the base currency is not known (before the first import reads it)."""


def value_header(currency: str | None, locale: str) -> str:
    """The influence table's value column in ``locale``, on the page and in the CSV file: "Value (EUR)" with the
    organization's base currency's code, else :data:`VALUE_HEADER`."""
    if currency:
        return translate(N_("Value ({currency})"), locale).format(currency=currency)
    return translate(VALUE_HEADER, locale)


@router.get("/admin/reports/{report}.csv")
def report_csv(report: str, principal: AdminPrincipal, services: Services) -> Response:
    """One report as CSV for a spreadsheet (:mod:`salesbridge.web.spreadsheet_csv`: UTF-8 with a byte order mark,
    headers in the reader's language, every cell neutralised), values as machines read them (ISO dates, plain
    numbers).

    Raises:
        RowNotFoundError: no such report (404).
    """
    if report not in REPORTS:
        raise RowNotFoundError(N_("There is no such report."))
    locale = principal.locale
    reports = read_reports(services.store, principal.organization_slug, clock=services.clock)
    header, rows = _CSV[report](reports, locale)
    names = [
        value_header(reports.currency, locale) if name == VALUE_HEADER else translate(name, locale) for name in header
    ]
    day = reports.generated_at.date().isoformat()
    return Response(
        spreadsheet_csv_bytes(names, rows, locale=None),  # the header in the reader's language already
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{report}-{day}.csv"', "Cache-Control": "no-store"},
    )


Rows = tuple[Sequence[str], Iterable[Sequence[object]]]


def _written_back_rows(reports: Reports, locale: str) -> Rows:
    return (
        (N_("Week"), N_("Seller"), N_("Type"), N_("Activities written back")),
        ((row.week.isoformat(), row.seller, _item(row.item, locale), row.count) for row in reports.written_back),
    )


def _match_rate_rows(reports: Reports, locale: str) -> Rows:
    return (
        (N_("Matching run"), N_("CRM table"), N_("Records"), N_("Matched"), N_("In review"), N_("Match rate")),
        (
            (
                snapshot.taken_at.isoformat(),
                _table(snapshot.table, locale),
                snapshot.total,
                snapshot.matched,
                snapshot.review,
                f"{snapshot.rate:.4f}",
            )
            for snapshot in reports.match_rates
        ),
    )


def _influence_rows(reports: Reports, locale: str) -> Rows:
    return (
        (
            N_("Opportunity"),
            N_("CRM id"),
            N_("Counts in"),
            VALUE_HEADER,
            N_("Currency"),
            N_("Created or won"),
            N_("First activity"),
        ),
        (
            (
                item.name or "",
                item.crm_id,
                translate(N_("Won revenue") if item.won else N_("Influenced pipeline"), locale),
                f"{item.value:.2f}",
                reports.currency or "",
                item.moment.isoformat(),
                item.first_activity_at.isoformat(),
            )
            for item in reports.influence.opportunities
        ),
    )


def _seat_rows(reports: Reports, locale: str) -> Rows:
    yes, no = translate(N_("Yes"), locale), translate(N_("No"), locale)
    return (
        (N_("Seat holder"), N_("Email"), N_("CRM sync"), N_("Activities in the last 30 days"), N_("Last activity")),
        (
            (
                seat.display_name,
                seat.email,
                yes if seat.crm_sync else no,
                seat.recent_activities,
                seat.last_activity_at.isoformat() if seat.last_activity_at else "",
            )
            for seat in reports.seats
        ),
    )


_CSV: Final[dict[str, Callable[[Reports, str], Rows]]] = {
    "written-back": _written_back_rows,
    "match-rate": _match_rate_rows,
    "influence": _influence_rows,
    "seats": _seat_rows,
}
