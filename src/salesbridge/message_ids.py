"""Message ids of the translation catalogue, without the catalogue: :func:`N_`, :class:`Label`, and the languages
the product speaks.

Use cases and the domain name what a person reads by its message id (the English source text) and leave the
translation to the edges (the console, the API and the CLI, through :mod:`salesbridge.i18n`). This module imports
no catalogue and no library, so a module that only marks message ids need not import :mod:`salesbridge.i18n`
(services that must stay free of translation import this one; an import-linter contract checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["DEFAULT_LOCALE", "N_", "SUPPORTED_LOCALES", "Label"]

DEFAULT_LOCALE: Final = "en"
"""The source language of every message id; it needs no catalogue."""
SUPPORTED_LOCALES: Final = ("en", "es")
"""The languages the product speaks (a language is checked against these without loading a catalogue)."""


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark for extraction only"
    """Mark ``message`` for extraction without translating it; translate it where it is shown."""
    return message


@dataclass(frozen=True)
class Label:
    """Words shown to a person: either a message id of the catalogue (``is_message_id``, marked with :func:`N_`),
    translated where shown, or text that came from elsewhere (a CRM's own label), shown as it came.

    ``text`` is the message id (English) or the text itself.
    """

    text: str
    is_message_id: bool = False

    def read(self, translate: Callable[[str], str]) -> str:
        """The label as shown: ``translate`` (a message id into the reader's language) applied to a message id;
        other text as it is."""
        return translate(self.text) if self.is_message_id else self.text
