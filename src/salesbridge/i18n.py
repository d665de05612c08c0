"""Translated messages: English source text, Spanish from a gettext catalogue managed with Babel.

Message ids are the English text itself (standard gettext), so English needs no catalogue. The Spanish catalogue
is ``locales/es/LC_MESSAGES/messages.po``; it is compiled in memory at first use (no ``.mo`` file is kept in the
repository) and cached per locale. Messages may contain ``{name}`` fields, filled by the caller with
:meth:`str.format` *after* translation::

    translate("The sign-in to Microsoft Entra ID was rejected: check {credential}.", "es").format(credential=...)

Module-level constants are marked with :func:`N_` so that ``make messages`` extracts them, and translated where
they are shown. Adding a string: write it in English inside ``translate(...)``/``N_(...)`` (or ``_()``/
``{% trans %}`` in a template), run ``make messages``, then fill its ``msgstr`` in the Spanish ``messages.po``.
"""

from __future__ import annotations

import gettext
import re
from functools import cache
from importlib import resources
from io import BytesIO
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

# Defined without the catalogue, so that the services and the domain need not import this module.
from salesbridge.message_ids import DEFAULT_LOCALE, N_, SUPPORTED_LOCALES

__all__ = [
    "DEFAULT_LOCALE",
    "N_",
    "SUPPORTED_LOCALES",
    "count_text",
    "decimal_text",
    "normalize_locale",
    "translate",
    "translations",
]


_DOMAIN: Final = "messages"
_LANGUAGE = re.compile(r"[A-Za-z]+")


def normalize_locale(value: str | None) -> str:
    """The supported language best matching ``value``; :data:`DEFAULT_LOCALE` when none does.

    ``value`` is a locale (``es``, ``es-ES``, ``es_ES.UTF-8``) or an ``Accept-Language`` header
    (``fr-FR,es;q=0.9,en;q=0.8`` → ``es``): languages are taken by decreasing ``q``, then in order of appearance.
    """
    if not value:
        return DEFAULT_LOCALE
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(value.split(",")):
        tag, *parameters = item.split(";")
        quality = 1.0
        for parameter in parameters:
            name, _, number = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(number)
                except ValueError:
                    quality = 0.0
        language = _LANGUAGE.match(tag.strip())
        if language and language.group().lower() in SUPPORTED_LOCALES and quality > 0:
            ranked.append((-quality, position, language.group().lower()))
    return min(ranked)[2] if ranked else DEFAULT_LOCALE


def translations(locale: str) -> gettext.NullTranslations:
    """The translations of ``locale`` (``es``, ``es-ES``, ``es_ES`` all mean Spanish; unknown means English).

    The result has the :class:`gettext.NullTranslations` methods (``gettext``, ``ngettext``, ``pgettext``…);
    a message missing from the catalogue comes back in English. Compiled once per language, then shared.
    """
    return _compiled(normalize_locale(locale))


def translate(message: str, locale: str = DEFAULT_LOCALE) -> str:
    """``message`` (English source text) in ``locale``; ``message`` itself when not translated."""
    return translations(locale).gettext(message)


def ngettext(singular: str, plural: str, count: int, locale: str = DEFAULT_LOCALE) -> str:
    """The form of ``singular``/``plural`` (English source texts) that ``count`` takes in ``locale`` (Spanish has
    its own rule, in its catalogue's header); not formatted: the caller fills ``{count}``. Extracted by ``make
    messages`` under this name (gettext's own keyword)."""
    return translations(locale).ngettext(singular, plural, count)


def decimal_text(value: float, digits: int, locale: str = DEFAULT_LOCALE) -> str:
    """``value`` with ``digits`` decimals (at least one) as ``locale`` writes it: ``0.875`` in English, ``0,875``
    in Spanish."""
    return format_decimal(value, format="0." + "0" * max(digits, 1), locale=normalize_locale(locale))


def count_text(value: int, locale: str = DEFAULT_LOCALE) -> str:
    """A whole number grouped as ``locale`` groups it: ``12,345`` in English, ``12.345`` in Spanish."""
    return format_decimal(value, locale=normalize_locale(locale))


@cache
def _compiled(language: str) -> gettext.NullTranslations:
    """The catalogue of a supported ``language``, its fuzzy and untranslated entries left out."""
    if language == DEFAULT_LOCALE:
        return gettext.NullTranslations()
    source = resources.files(__package__ or "salesbridge") / "locales" / language / "LC_MESSAGES" / f"{_DOMAIN}.po"
    with source.open("rb") as po_file:
        catalog = read_po(po_file, locale=language, domain=_DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=_DOMAIN)
