"""Server-rendered pages: Jinja2 with autoescaping and gettext (``{% trans %}``, ``_()``) in the page's language.

The language of a page is the signed-in user's; for anonymous pages a ``?lang=`` choice, else the browser's
``Accept-Language``. One environment per supported language, each with its translations installed (new-style
gettext: ``_("Hello %(name)s", name=…)``), so concurrent requests in different languages never share state.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache, partial
from pathlib import Path
from typing import Any, Final

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from salesbridge.i18n import SUPPORTED_LOCALES, normalize_locale, translate, translations
from salesbridge.services.accounts import Principal
from salesbridge.services.sync import sync_failure
from salesbridge.web.context import console_config, console_services
from salesbridge.web.localized import certainty_percent, sync_failure_message
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
    return env


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
