"""The administrators' Sync health page (``/settings/crm/health``, linked from CRM Settings; template
``sync_health.html``): each imported table's rows, last change and last error; the records the import skipped and
the activities writeback could not deliver, with Dynamics' error code and message, Retry one or Retry all; the
history of import runs (duration, rows, requests, 429s met) as a chart and the same numbers as a table.

Dates and numbers are written as the reader's locale writes them (Babel). The store is read on a worker thread;
retrying skipped records awaits Dynamics on the event loop.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Final

from babel.dates import format_datetime
from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from salesbridge.errors import InvalidRequestError
from salesbridge.i18n import translate
from salesbridge.services.accounts import Principal
from salesbridge.services.sync_health import (
    RunLine,
    SyncHealth,
    retry_import_errors,
    retry_writeback_errors,
    sync_health,
)
from salesbridge.web.charts import Series, bar_chart, line_chart, number_formatter
from salesbridge.web.context import ConsoleServices
from salesbridge.web.localized import writeback_app_missing_message, writeback_throttled_message
from salesbridge.web.security import AdminPrincipal, Services
from salesbridge.web.templating import render
from salesbridge.web.ui.writeback import problem_rows

router = APIRouter(include_in_schema=False)

PAGE: Final = "/settings/crm/health"


def when(value: datetime | None, *, locale: str) -> str:
    """A moment as ``locale`` writes it (medium date and short time, UTC); a dash for none."""
    if value is None:
        return "—"
    return format_datetime(value, format="medium", tzinfo=value.tzinfo, locale=locale) + " UTC"


def number(value: float | None, digits: int = 0, *, locale: str) -> str:
    """A number as ``locale`` writes it; a dash for none."""
    if value is None:
        return "—"
    return str(number_formatter(locale, digits)(value))


def runs_charts(runs: list[RunLine], locale: str) -> list[Any]:
    """The history of runs as charts, by when each ended: requests and 429s met per run (bars), and each run's
    duration (a line)."""
    labels = [format_datetime(line.run.finished_at, format="short", locale=locale) for line in runs]
    durations = line_chart(
        title=translate("Duration of each import run (s)", locale),
        x_labels=labels,
        series=[Series(translate("Duration (s)", locale), tuple(line.duration_s for line in runs))],
        value_formatter=number_formatter(locale, 1),
        description=translate("The same numbers are in the table below the chart.", locale),
    )
    return [_requests_chart(labels, runs, locale), durations]


def _requests_chart(labels: list[str], runs: list[RunLine], locale: str) -> Any:
    return bar_chart(
        title=translate("Requests per import run", locale),
        x_labels=labels,
        series=[
            Series(translate("Requests", locale), tuple(line.run.requests_made for line in runs)),
            Series(translate("Throttled (429)", locale), tuple(line.run.throttled for line in runs)),
        ],
        value_formatter=number_formatter(locale),
        description=translate("The same numbers are in the table below the chart.", locale),
    )


def _render(
    request: Request, principal: Principal, services: ConsoleServices, error: str | None, status_code: int = 200
) -> Response:
    locale = principal.locale
    health: SyncHealth = sync_health(services.store, principal.organization_id, clock=services.clock)
    context = {
        "health": health,
        "writeback_errors": problem_rows(health.writeback_errors, locale),
        "crm_app_missing": writeback_app_missing_message(health.crm_app_missing, locale),
        "writeback_throttled": writeback_throttled_message(health.writeback_throttled_until, locale),
        "charts": runs_charts(health.runs, locale) if health.runs else [],
        "when": partial(when, locale=locale),
        "number": partial(number, locale=locale),
        "error": error,
        "notice": request.query_params.get("notice"),
        "count": request.query_params.get("count", ""),
        "gone": request.query_params.get("gone", ""),
        "failed": request.query_params.get("failed", ""),
    }
    return render(request, "sync_health.html", context, principal=principal, status_code=status_code)


@router.get(PAGE)
async def sync_health_page(request: Request, principal: AdminPrincipal, services: Services) -> Response:
    """Where the organization's sync stands (see the module)."""
    return await run_in_threadpool(_render, request, principal, services, None)


@router.post(PAGE + "/retry-writeback")
async def retry_writeback(
    principal: AdminPrincipal,
    services: Services,
    activity_id: Annotated[uuid.UUID | None, Form()] = None,
) -> Response:
    """Put a failing or parked activity (``activity_id``), else all of them, back in the writeback queue
    (audited); back to the page saying how many."""
    ids = (activity_id,) if activity_id is not None else ()
    retried = await run_in_threadpool(
        retry_writeback_errors, services.store, principal.organization_id, ids, actor=principal.email
    )
    return RedirectResponse(f"{PAGE}?notice=writeback-retried&count={retried}#writeback-errors", status_code=303)


@router.post(PAGE + "/retry-import")
async def retry_import(
    request: Request,
    principal: AdminPrincipal,
    services: Services,
    table: Annotated[str, Form(max_length=64)] = "",
    crm_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Read a skipped record (``table`` and ``crm_id``), else every one, from Dynamics again and store it
    (audited); back to the page saying how many were stored, gone and failed again."""
    records = ((table, crm_id.lower()),) if table and crm_id else ()
    try:
        outcome = await retry_import_errors(
            services.store, services.crm_sessions, principal.organization_id, records, actor=principal.email
        )
    except InvalidRequestError as refused:
        refusal = refused.localized(principal.locale)
        return await run_in_threadpool(_render, request, principal, services, refusal, 422)
    query = f"notice=import-retried&count={outcome.stored}&gone={outcome.gone}&failed={outcome.failed}"
    return RedirectResponse(f"{PAGE}?{query}#import-errors", status_code=303)
