"""Reports (``/admin/reports``, administrators): written-back activity per seller, data item and week; the match
rate over the last matching runs; influenced pipeline and won revenue; seat usage (what each counts:
:mod:`salesbridge.domain.reports`). Each is a chart (:mod:`salesbridge.web.charts`) and the same numbers as a
table, in the reader's language; ``/admin/reports/<report>.csv`` downloads each, every cell neutralised for
spreadsheets."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from functools import partial
from typing import Any, Final

from babel.dates import format_date, format_datetime
from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from salesbridge.domain.writeback import DataItem
from salesbridge.errors import RowNotFoundError
from salesbridge.i18n import N_, translate
from salesbridge.services.accounts import Principal
from salesbridge.services.reports import Reports, read_reports
from salesbridge.web.chart_cache import ChartCache, ChartKey
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


# Each chart is drawn once per organization, set of numbers and language, then reused (a chart is a pure function
# of what it draws; pygal took about a tenth of the page's time on every load): the console's chart cache
# (:mod:`salesbridge.web.chart_cache`, bounded by bytes) is keyed by the organization and exactly what is drawn,
# the few numbers of each chart rather than the report's rows (a key holding every seller's rows would outweigh its
# chart).
WrittenBackDrawn = tuple[tuple[date, ...], tuple[tuple[str, tuple[float, ...]], ...]]
MatchRateDrawn = tuple[tuple[datetime, ...], tuple[tuple[str, tuple[float | None, ...]], ...]]


def written_back_drawn(reports: Reports) -> WrittenBackDrawn:
    """What the written-back chart draws: the weeks, and per data item with deliveries its count in each week."""
    counts: dict[tuple[str, date], int] = {}
    for row in reports.written_back:
        counts[row.item, row.week] = counts.get((row.item, row.week), 0) + row.count
    items = [item.value for item in DataItem if any(key[0] == item.value for key in counts)]
    return reports.weeks, tuple(
        (item, tuple(float(counts.get((item, week), 0)) for week in reports.weeks)) for item in items
    )


def _draw_written_back(drawn: WrittenBackDrawn, locale: str) -> Markup:
    weeks, counts = drawn
    return bar_chart(
        title=translate("Activity written back to the CRM, per week", locale),
        x_labels=[format_date(week, format="d MMM", locale=locale) for week in weeks],
        series=[Series(_item(item, locale), values) for item, values in counts],
        value_formatter=number_formatter(locale),
        description=translate("The same numbers are in the table below the chart.", locale),
        stacked=True,
    )


def match_rate_drawn(reports: Reports) -> MatchRateDrawn:
    """What the match-rate chart draws: the runs' moments, and per CRM table its rate at each (None: not taken)."""
    moments = tuple(sorted({snapshot.taken_at for snapshot in reports.match_rates}))
    by_key = {(snapshot.taken_at, snapshot.table): snapshot.rate for snapshot in reports.match_rates}
    return moments, tuple((table, tuple(by_key.get((moment, table)) for moment in moments)) for table in TABLE_LABELS)


def _draw_match_rate(drawn: MatchRateDrawn, locale: str) -> Markup:
    moments, rates = drawn
    return line_chart(
        title=translate("Match rate after each matching run", locale),
        x_labels=[_moment(moment, locale) for moment in moments],
        series=[Series(translate(TABLE_LABELS[table], locale), values) for table, values in rates],
        value_formatter=percent_formatter(locale),
        description=translate("The same numbers are in the table below the chart.", locale),
    )


def _draw_influence(drawn: tuple[float, float, str | None], locale: str) -> Markup:
    pipeline_value, won_value, currency = drawn
    return bar_chart(
        title=translate("Influenced pipeline and won revenue (base currency)", locale),
        x_labels=[translate("Influenced pipeline", locale), translate("Won revenue", locale)],
        series=[Series(translate("Base currency", locale), (pipeline_value, won_value))],
        value_formatter=currency_formatter(locale, currency) if currency else number_formatter(locale),
        description=translate("The same numbers are in the table below the chart.", locale),
    )


def _draw_seats(drawn: tuple[int, int, int], locale: str) -> Markup:
    return bar_chart(
        title=translate("Seat usage in the last 30 days", locale),
        x_labels=[
            translate("Seats", locale),
            translate("With CRM sync", locale),
            translate("With CRM sync and activity", locale),
        ],
        series=[Series(translate("Seats", locale), tuple(float(count) for count in drawn))],
        value_formatter=number_formatter(locale),
        description=translate("The same numbers are in the table below the chart.", locale),
    )


def report_charts(reports: Reports, principal: Principal, charts: ChartCache) -> dict[str, Markup | None]:
    """The page's charts for ``principal``'s organization in their language, from ``charts`` when drawn before
    (for this organization: :class:`~salesbridge.web.chart_cache.ChartKey`), else drawn and kept there: delivered
    activities per week (one stacked series per data item), the share of records tied per matching run (one line
    per CRM table), influenced pipeline and won revenue (base currency), seats with CRM sync and in use. None for a
    report with nothing to draw yet (the page's table says so)."""
    organization, locale = principal.organization_id, principal.locale

    def chart(name: str, drawn: Any, draw: Callable[[Any, str], Markup]) -> Markup:
        return charts.chart(ChartKey(organization, name, locale, drawn), partial(draw, drawn, locale))

    influence = reports.influence
    seats = (len(reports.seats), reports.seats_with_crm_sync, reports.seats_in_use)
    return {
        "written_back": (
            chart("written-back", written_back_drawn(reports), _draw_written_back) if reports.written_back else None
        ),
        "match_rate": chart("match-rate", match_rate_drawn(reports), _draw_match_rate) if reports.match_rates else None,
        "influence": chart(
            "influence", (influence.pipeline_value, influence.won_value, reports.currency), _draw_influence
        ),
        "seats": chart("seats", seats, _draw_seats) if reports.seats else None,
    }


@router.get("/admin/reports")
def reports_page(request: Request, principal: AdminPrincipal, services: Services) -> Response:
    """Every report of the administrator's organization: a chart and a table each."""
    locale = principal.locale
    reports = read_reports(services.store, principal.organization_slug, clock=services.clock)
    context = {
        "reports": reports,
        "table_rows": TABLE_ROWS,
        "charts": report_charts(reports, principal, services.report_charts),
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
