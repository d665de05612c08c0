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


def test_crm_tables_are_named_as_dynamics_365_names_them_in_spanish() -> None:
    """A lead is a "cliente potencial" (Dynamics 365 Sales' Spanish word), never a "posible cliente" nor a "lead";
    accounts, contacts and opportunities are "cuentas", "contactos" and "oportunidades"."""
    texts = [text for text in _translations() if "--table" not in text]  # an option's values stay as typed
    other_words = r"\b(posibles? clientes?|leads?|prospectos?|oportunidades? de venta|contactos? comerciales?)\b"
    assert [text for text in texts if re.search(other_words, text, re.IGNORECASE)] == []
