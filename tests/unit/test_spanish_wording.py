"""The Spanish catalogue reads as one voice to a sales admin: no two messages run together (a msgstr pasted onto
another, "clientes potencialesNinguna cuenta…"), a seat is a "licencia" everywhere (never a "puesto"), and the
reader is addressed as "tú" (the console's voice), not "usted"."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

import salesbridge

SPANISH_PO = Path(salesbridge.__file__).parent / "locales" / "es" / "LC_MESSAGES" / "messages.po"
BRANDS = ("InMail", "LinkedIn")
"""Words with a capital inside them."""


def _translations() -> list[str]:
    with SPANISH_PO.open("rb") as po_file:
        catalog = read_po(po_file, locale="es")
    texts: list[str] = []
    for message in catalog:
        if message.id:
            texts.extend([message.string] if isinstance(message.string, str) else list(message.string))
    return texts


def test_the_spanish_catalogue_reads_as_one_voice() -> None:
    texts = _translations()
    run_together = [
        text for text in texts if re.search(r"[a-záéíóúñ][A-ZÁÉÍÓÚÑ][a-záéíóúñ]", re.sub("|".join(BRANDS), "", text))
    ]
    assert run_together == []
    assert [text for text in texts if re.search(r"\bpuestos?\b", text)] == []
    assert [text for text in texts if re.search(r"\b(Agréguel\w*|Añádal\w*|vuelva a instalarla)\b", text)] == []
