"""Server-rendered pages: Jinja2 with autoescaping and gettext (``{% trans %}``, ``_()``) in the page's language.

The language of a page is the signed-in user's; for anonymous pages a ``?lang=`` choice, else the browser's
``Accept-Language``. One environment per supported language, each with its translations installed (new-style
gettext: ``_("Hello %(name)s", name=…)``), so concurrent requests in different languages never share state.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import copy
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache, lru_cache, partial
from pathlib import Path
from typing import Any, Final

from babel import Locale
from babel.dates import format_date as babel_date
from babel.dates import format_time as babel_time
from babel.numbers import NumberPattern, format_decimal
from babel.numbers import format_currency as babel_currency
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from salesbridge.i18n import SUPPORTED_LOCALES, normalize_locale, translate, translations
from salesbridge.services.accounts import Principal
from salesbridge.services.sync import sync_failure
from salesbridge.web.context import console_config, console_services
from salesbridge.web.localized import CRM_TABLE_NAMES, certainty_percent, crm_table, sync_failure_message
from salesbridge.web.security import csrf_cookie_name, request_auth

TEMPLATES_DIR: Final = Path(__file__).parent / "templates"


@cache
def environment(locale: str) -> Environment:
    """The Jinja2 environment of ``locale`` (a supported language), translations installed."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals["supported_locales"] = SUPPORTED_LOCALES
    env.globals["certainty"] = partial(certainty_percent, locale=locale)
    env.globals["crm_table_names"] = {table: translate(name, locale) for table, name in CRM_TABLE_NAMES.items()}
    env.filters["crm_table"] = partial(crm_table, locale=locale)  # `t | crm_table(plural=False)`: a record's type
    env.filters["format_date"] = partial(date_text, locale=locale)
    env.filters["format_datetime"] = partial(datetime_text, locale=locale)
    env.filters["format_number"] = partial(number_text, locale=locale)
    env.filters["format_percent"] = partial(percent_text, locale=locale)
    env.filters["format_currency"] = partial(currency_text, locale=locale)
    return env


Number = int | float | Decimal
NOTHING: Final = "—"
"""What a filter shows for a missing value (None)."""


def _utc(value: datetime) -> datetime:
    """``value`` in UTC (the store's times are timezone-aware UTC; a naive one is taken as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _with_decimals(pattern: NumberPattern, digits: int) -> NumberPattern:
    """``pattern`` (a locale's own, its spacing and grouping kept) showing exactly ``digits`` decimals."""
    fixed = copy(pattern)
    fixed.frac_prec = (digits, digits)
    return fixed


def date_text(value: date | None, *, locale: str) -> str:
    """``value`` (a date, or a datetime's UTC day) as ``locale`` writes a date: ``Dec 6, 2026`` in English,
    ``6 dic 2026`` in Spanish. Template filter ``format_date``."""
    if value is None:
        return NOTHING
    day = _utc(value).date() if isinstance(value, datetime) else value
    return _day_text(day, locale)


_FORMATTED: Final = 8_192
"""Values of each kind kept formatted. Babel takes 30-140 µs a value and a page formats up to hundreds, mostly the
same ones on every load (the reports' 100 largest opportunities: a fifth of the page's time); the functions are
pure, so each value is formatted once per language (``typed``: ``1`` and ``1.0`` are kept apart). Bounded by count,
least recently used out first: an entry (key and text) is 250-300 bytes, so at most ~2 MiB a cache and ~6.5 MiB for
the three (measured full: dates 2.0, numbers 2.1, amounts 2.4 MiB)."""


@lru_cache(maxsize=_FORMATTED, typed=True)
def _day_text(day: date, locale: str) -> str:
    return babel_date(day, "medium", locale=locale)


def datetime_text(value: datetime | None, *, locale: str, seconds: bool = False) -> str:
    """``value`` in UTC as ``locale`` writes a date and time, the zone said: ``Dec 6, 2026, 2:05 PM UTC`` in
    English, ``6 dic 2026, 14:05 UTC`` in Spanish (``seconds`` adds them). Template filter ``format_datetime``.

    The console shows every time in UTC (users have no time zone setting), hence the zone's name."""
    if value is None:
        return NOTHING
    moment = _utc(value)
    day = babel_date(moment, "medium", locale=locale)
    time = babel_time(moment, "medium" if seconds else "short", tzinfo=UTC, locale=locale)
    return str(Locale.parse(locale).datetime_formats["medium"]).format(time, day) + " UTC"


def number_text(value: Number | None, digits: int | None = None, *, locale: str) -> str:
    """``value`` with ``locale``'s separators: ``12,345.5`` in English, ``12.345,5`` in Spanish; ``digits``
    fixes the decimals shown (else as many as it has, up to three). Template filter ``format_number``."""
    if value is None:
        return NOTHING
    return _number_text(value, digits, locale)


@lru_cache(maxsize=_FORMATTED, typed=True)
def _number_text(value: Number, digits: int | None, locale: str) -> str:
    if digits is None:
        return format_decimal(value, locale=locale)
    return str(_with_decimals(Locale.parse(locale).decimal_formats[None], digits).apply(value, locale))


def percent_text(value: Number | None, digits: int = 0, *, locale: str) -> str:
    """``value`` (a fraction: 0.875) as ``locale`` writes a percentage: ``88%`` in English, ``88 %`` in Spanish
    (``digits`` decimals). Template filter ``format_percent``."""
    if value is None:
        return NOTHING
    return str(_with_decimals(Locale.parse(locale).percent_formats[None], digits).apply(value, locale))


def currency_text(value: Number | None, currency: str | None, *, locale: str) -> str:
    """``value`` in ``currency`` (an ISO 4217 code, such as the organization's base currency) as ``locale``
    writes money: ``€1,234.50`` in English, ``1.234,50 €`` in Spanish; the currency's own decimals. Template
    filter ``format_currency``: ``{{ amount | format_currency("EUR") }}``. An unknown currency (None: the CRM's
    currencies are read by the first import) gives the amount alone with two decimals (``1,234.50``)."""
    if value is None:
        return NOTHING
    if not currency:
        return number_text(value, 2, locale=locale)
    return _currency_text(value, currency, locale)


@lru_cache(maxsize=_FORMATTED, typed=True)
def _currency_text(value: Number, currency: str, locale: str) -> str:
    return babel_currency(value, currency, locale=locale)


def page_locale(request: Request, principal: Principal | None) -> str:
    """The language of the page answering ``request``: the principal's, else ``?lang=``, else
    ``Accept-Language``; English when none is supported."""
    if principal is not None:
        return normalize_locale(principal.locale)
    chosen = request.query_params.get("lang")
    if chosen in SUPPORTED_LOCALES:
        return chosen
    return normalize_locale(request.headers.get("accept-language"))


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    principal: Principal | None,
    status_code: int = 200,
    locale: str | None = None,
) -> HTMLResponse:
    """Render ``template`` with ``context`` plus ``request``, ``principal``, ``lang`` (the page language),
    ``csrf_token`` (to put in every form) and ``current_path``.

    Anonymous pages get a double-submit CSRF cookie when the browser has none yet. Pages are never cached
    (they may show one-time secrets and carry CSRF tokens).

    Args:
        locale: Overrides the page language (a form that carries its own ``lang``).
    """
    lang = normalize_locale(locale) if locale else page_locale(request, principal)
    auth = request_auth(request)
    csrf_token = auth.csrf_token if auth is not None else ""
    values = {
        **(context or {}),
        "request": request,
        "principal": principal,
        "lang": lang,
        "csrf_token": csrf_token,
        "current_path": request.url.path,
        "sync_alert": _sync_alert(request, principal, lang),
    }
    html = environment(lang).get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
    if auth is not None and auth.set_csrf_cookie:
        secure = console_config(request).secure_cookies
        response.set_cookie(
            csrf_cookie_name(secure), auth.csrf_token, httponly=True, secure=secure, samesite="lax", path="/"
        )
    return response


def _sync_alert(request: Request, principal: Principal | None, lang: str) -> str | None:
    """For administrators: why CRM sync keeps failing and since when (shown on every page), else None."""
    if principal is None or not principal.is_admin:
        return None
    failure = sync_failure(console_services(request).store, slug=principal.organization_slug)
    return sync_failure_message(failure.since, failure.reason, lang) if failure else None


def message(text: str, locale: str, **fields: Any) -> str:
    """``text`` (an English message id) translated into ``locale`` and formatted with ``fields``."""
    return translate(text, locale).format(**fields)
